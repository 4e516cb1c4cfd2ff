// A small strided tensor on the cpu (a typed array) or on the GPU (device memory).
// Host data goes in and out as Float32Array (float types, converted with round-to-nearest-even; fp8e4m3
// saturates at ±448) or Int32Array (int32); 16-bit types can also be written/read as raw bit patterns
// (Uint16Array), fp8e4m3 as raw codes (Uint8Array). Integer dtypes take integers of their range only.

import { totalmem } from 'node:os';
import { DisposedError } from './errors.js';
import { fmtBytes, fmtValue } from './util/fmt-value.js';
import { disposeQuietly } from './util/dispose.js';
import {
  type DType, DTYPES, dtypeBytes, decodeFp8e4m3, decodeHalf, encodeFp8e4m3, encodeHalf, float32ToFp8e4m3Bits, isFloat16Type, toHalfBits,
} from './dtype.js';
import { getBackend, type DeviceMemory, type DeviceStorage, type HostRead, type Ptr } from './backend.js';

export type BackendName = 'cpu' | 'cuda';
export type HostData = Float32Array | Float64Array | Int32Array | Uint16Array | Uint8Array | readonly number[];
export type RawArray = Uint16Array | Float32Array | Int32Array | Uint8Array;

/** The device storage of a backend whose tensors are not in host memory (reached only through the backend interface). */
function deviceMemory(backend: BackendName): DeviceMemory {
  const memory = getBackend(backend).memory;
  if (!memory) throw new TypeError(`backend '${backend}' keeps tensors in host memory`);
  return memory;
}

export interface TensorOptions {
  dtype?: DType;
  backend?: BackendName;
}

function checkShape(shape: unknown, what = 'shape'): asserts shape is readonly number[] {
  if (!Array.isArray(shape)) throw new TypeError(`${what}: expected an array of non-negative integers, got ${fmtValue(shape)}`);
  shape.forEach((d: unknown, i) => {
    if (typeof d !== 'number') throw new TypeError(`${what}[${i}]: expected a non-negative integer, got ${fmtValue(d)}`);
    if (!Number.isSafeInteger(d) || d < 0) throw new RangeError(`${what}[${i}]: expected a non-negative integer, got ${fmtValue(d)}`);
  });
}

function checkStrides(shape: readonly number[], strides: unknown): asserts strides is readonly number[] {
  if (!Array.isArray(strides)) throw new TypeError(`strides: expected an array of ${shape.length} non-negative integers, got ${fmtValue(strides)}`);
  if (strides.length !== shape.length) throw new RangeError(`strides: expected ${shape.length} entries, got ${strides.length}`);
  strides.forEach((x: unknown, i) => {
    if (typeof x !== 'number') throw new TypeError(`strides[${i}]: expected a non-negative integer, got ${fmtValue(x)}`);
    if (!Number.isSafeInteger(x) || x < 0) throw new RangeError(`strides[${i}]: expected a non-negative integer, got ${fmtValue(x)}`);
  });
}

function checkDtype(dtype: unknown): asserts dtype is DType {
  if (!DTYPES.includes(dtype as DType)) throw new TypeError(`dtype: expected one of ${DTYPES.join(', ')}, got ${fmtValue(dtype)}`);
}

/** Host data is a plain array (of numbers: checked per element on encoding) or a typed array of numbers. */
function checkHostData(data: unknown): asserts data is HostData {
  const ok = Array.isArray(data) || (ArrayBuffer.isView(data) && !(data instanceof DataView) && !(data instanceof BigInt64Array) && !(data instanceof BigUint64Array));
  if (!ok) throw new TypeError(`data: expected an array of numbers or a typed array, got ${fmtValue(data)}`);
}

/** Physical memory of this machine (read once: allocations are checked against it, and it does not change). */
export const HOST_MEMORY_BYTES = totalmem();

/**
 * Bytes of a tensor of this shape and dtype; a RangeError naming both when no allocation could hold it
 * (the element count past 2^53, or more bytes than this machine has: asking would only fail later, or
 * succeed lazily and get the process killed on first touch).
 */
function checkedBytes(shape: readonly number[], dtype: DType, backend: BackendName): number {
  const numel = numelOf(shape);
  const bytes = numel * dtypeBytes(dtype);
  const what = `shape: ${fmtShape(shape)} ${dtype}`;
  if (!Number.isSafeInteger(bytes)) {
    const exact = shape.reduce((acc, d) => acc * BigInt(d), 1n); // numel itself is rounded past 2^53
    throw new RangeError(`${what} has ${exact} elements, more than a tensor can address (2^53 − 1 bytes)`);
  }
  if (backend === 'cpu' && bytes > HOST_MEMORY_BYTES) {
    throw new RangeError(`${what} needs ${fmtBytes(bytes)} of host memory, more than this machine has (${fmtBytes(HOST_MEMORY_BYTES)})`);
  }
  return bytes;
}

function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

export function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

function numelOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Elements spanned from element [0,…] to the last element (+1) of a strided layout; 0 when it has no element. */
function spanOf(shape: readonly number[], strides: readonly number[]): number {
  if (numelOf(shape) === 0) return 0;
  return shape.reduce((acc, d, i) => acc + (d - 1) * strides[i], 0) + 1;
}

function rawArrayFor(dtype: DType, buf: ArrayBuffer, offset = 0, length?: number): RawArray {
  switch (dtype) {
    case 'bf16':
    case 'fp16':
      return new Uint16Array(buf, offset * 2, length);
    case 'fp32':
      return new Float32Array(buf, offset * 4, length);
    case 'int32':
      return new Int32Array(buf, offset * 4, length);
    case 'uint8':
    case 'fp8e4m3':
      return new Uint8Array(buf, offset, length);
  }
}

const INTEGER_RANGES = { int32: [-(2 ** 31), 2 ** 31 - 1], uint8: [0, 255] } as const;

function checkNumber(v: unknown, what: string): asserts v is number {
  if (typeof v !== 'number') throw new TypeError(`${what}: expected a number, got ${fmtValue(v)}`);
}

/** Integer dtypes hold integers of their range and nothing else: a value that would be truncated or wrapped is refused. */
function checkIntegerValue(dtype: 'int32' | 'uint8', v: number, what: string): void {
  const [lo, hi] = INTEGER_RANGES[dtype];
  if (!Number.isInteger(v) || v < lo || v > hi) {
    throw new RangeError(`${what}: expected ${dtype === 'int32' ? 'an int32' : 'a uint8'} (an integer in [${lo}, ${hi}]), got ${fmtValue(v)}`);
  }
}

/** Host data → raw contiguous array of `dtype`. */
function encodeHost(dtype: DType, data: HostData, count: number): RawArray {
  if (data.length !== count) throw new RangeError(`data: expected ${count} elements for this shape, got ${data.length}`);
  if (Array.isArray(data)) {
    // a typed array holds numbers by construction; a plain array may hold anything, and a typed-array
    // conversion would turn '2' into 2, null into 0 and undefined into NaN without a word
    for (let i = 0; i < count; i++) checkNumber(data[i], `data[${i}]`);
  }
  if (isFloat16Type(dtype)) return data instanceof Uint16Array ? data.slice() : encodeHalf(dtype, data);
  if (dtype === 'fp8e4m3') return data instanceof Uint8Array ? data.slice() : encodeFp8e4m3(data);
  if (dtype === 'fp32') return Float32Array.from(data as ArrayLike<number>);
  const sameType = dtype === 'int32' ? data instanceof Int32Array : data instanceof Uint8Array;
  if (!sameType) for (let i = 0; i < count; i++) checkIntegerValue(dtype, data[i], `data[${i}]`);
  return dtype === 'int32' ? Int32Array.from(data as ArrayLike<number>) : Uint8Array.from(data as ArrayLike<number>);
}

/** A cuda tensor's read: the bytes its elements span (`dst`, from `src`), and the row-major raw array made of them. */
interface DeviceRead extends HostRead {
  finish(): RawArray;
}

/** Tensor's deviceRead for this module's readInt32s (set by the class's static block; not public API). */
let deviceReadOf: (t: Tensor) => DeviceRead | null;

export class Tensor {
  static {
    deviceReadOf = (t) => t.deviceRead();
  }

  readonly shape: readonly number[];
  /** Strides in elements. */
  readonly strides: readonly number[];
  readonly dtype: DType;
  readonly backend: BackendName;
  /** Offset of element [0,…] into the storage, in elements. */
  readonly offset: number;
  private host: ArrayBuffer | null;
  private device: DeviceStorage | null;
  /** The tensor owning the storage when this one is a view (a view dies with its owner). */
  private readonly root: Tensor | null;

  private constructor(init: {
    shape: readonly number[];
    strides: readonly number[];
    dtype: DType;
    backend: BackendName;
    offset: number;
    host: ArrayBuffer | null;
    device: DeviceStorage | null;
    root: Tensor | null;
  }) {
    this.shape = Object.freeze([...init.shape]);
    this.strides = Object.freeze([...init.strides]);
    this.dtype = init.dtype;
    this.backend = init.backend;
    this.offset = init.offset;
    this.host = init.host;
    this.device = init.device;
    this.root = init.root;
  }

  /** Uninitialised tensor (cuda) / zero-filled (cpu). */
  static empty(shape: readonly number[], opts: TensorOptions = {}): Tensor {
    checkShape(shape);
    const dtype = opts.dtype ?? 'fp32';
    checkDtype(dtype);
    const backend = opts.backend ?? 'cpu';
    if (backend !== 'cpu' && backend !== 'cuda') throw new TypeError(`backend: expected 'cpu' or 'cuda', got ${fmtValue(backend)}`);
    const bytes = checkedBytes(shape, dtype, backend);
    const base = { shape, strides: contiguousStrides(shape), dtype, backend, offset: 0, root: null };
    if (backend === 'cpu') {
      let host: ArrayBuffer;
      try {
        host = new ArrayBuffer(bytes);
      } catch (e) {
        throw new RangeError(`shape: ${fmtShape(shape)} ${dtype} needs ${fmtBytes(bytes)} of host memory, and the allocation failed (${(e as Error).message})`, { cause: e });
      }
      return new Tensor({ ...base, host, device: null });
    }
    const memory = deviceMemory(backend);
    let device: DeviceStorage;
    try {
      device = memory.alloc(bytes);
    } catch (e) {
      // keep the driver's error (its class and code); say what was asked for
      if (e instanceof Error) e.message = `shape: ${fmtShape(shape)} ${dtype} needs ${fmtBytes(bytes)} of device memory: ${e.message}`;
      throw e;
    }
    return new Tensor({ ...base, host: null, device });
  }

  static zeros(shape: readonly number[], opts: TensorOptions = {}): Tensor {
    const t = Tensor.empty(shape, opts);
    try {
      if (t.backend === 'cuda') t.fill(0);
    } catch (e) {
      disposeQuietly(t); // a failed fill must not leak device memory
      throw e;
    }
    return t;
  }

  /** Every element set to `value` (NaN allowed: poisoning outputs and unused cache slots). */
  static full(shape: readonly number[], value: number, opts: TensorOptions = {}): Tensor {
    const t = Tensor.empty(shape, opts);
    try {
      return t.fill(value);
    } catch (e) {
      disposeQuietly(t); // a refused value or a failed fill must not leak device memory
      throw e;
    }
  }

  /**
   * From host data in row-major order. Float32Array/Float64Array/number[] are converted to `dtype`
   * (round to nearest even); a Uint16Array for bf16/fp16 is taken as raw bit patterns.
   */
  static from(data: HostData, shape: readonly number[], opts: TensorOptions = {}): Tensor {
    checkHostData(data);
    checkShape(shape);
    const dtype = opts.dtype ?? (data instanceof Int32Array ? 'int32' : 'fp32');
    checkDtype(dtype);
    const raw = encodeHost(dtype, data, numelOf(shape));
    const t = Tensor.empty(shape, { dtype, backend: opts.backend });
    try {
      return t.writeRaw(raw);
    } catch (e) {
      disposeQuietly(t); // a failed copy must not leak device memory
      throw e;
    }
  }

  /**
   * A cuda tensor over device memory flash-mla did not allocate — another library's buffer, a cudaMalloc result,
   * activations your own kernels write — without a copy. `strides` are in elements (default: contiguous). The
   * elements must lie inside one device allocation of the device's primary context (the CUDA runtime's) and start
   * 16-byte aligned: checked with the driver, a RangeError otherwise. The memory stays its owner's: dispose() frees
   * nothing, and the owner keeps it alive while the tensor, its views or a graph captured with them are used. Order
   * the owner's kernels with the library's through `cudaStream()` or `waitForStream` / `makeStreamWait`.
   */
  static fromDevicePointer(ptr: bigint, shape: readonly number[], opts: { dtype: DType; strides?: readonly number[] }): Tensor {
    checkShape(shape);
    if (typeof opts !== 'object' || opts === null) throw new TypeError(`opts: expected { dtype, strides? }, got ${fmtValue(opts)}`);
    checkDtype(opts.dtype);
    const dtype = opts.dtype;
    const strides = opts.strides ?? contiguousStrides(shape);
    checkStrides(shape, strides);
    const bytes = spanOf(shape, strides) * dtypeBytes(dtype);
    if (!Number.isSafeInteger(bytes)) throw new RangeError(`shape: ${fmtShape(shape)} with strides ${fmtShape(strides)} spans more than 2^53 − 1 bytes`);
    const device = deviceMemory('cuda').wrap(ptr, bytes);
    return new Tensor({ shape, strides, dtype, backend: 'cuda', offset: 0, host: null, device, root: null });
  }

  /** A view over the same storage with other shape/strides/offset (elements), valid while its owner lives. */
  view(shape: readonly number[], strides: readonly number[] = contiguousStrides(shape), offset = this.offset): Tensor {
    this.assertLive();
    checkShape(shape);
    checkStrides(shape, strides);
    if (typeof offset !== 'number') throw new TypeError(`offset: expected a non-negative integer, got ${fmtValue(offset)}`);
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`offset: expected a non-negative integer, got ${fmtValue(offset)}`);
    const storage = (this.host ? this.host.byteLength : this.device!.bytes) / dtypeBytes(this.dtype);
    const last = shape.some((d) => d === 0) ? offset - 1 : offset + shape.reduce((acc, d, i) => acc + (d - 1) * strides[i], 0);
    if (last >= storage) {
      throw new RangeError(`view: shape [${shape.join(', ')}] with strides [${strides.join(', ')}] at offset ${offset} reaches element ${last}, the storage holds ${storage}`);
    }
    return new Tensor({ shape, strides, dtype: this.dtype, backend: this.backend, offset, host: this.host, device: this.device, root: this.root ?? this });
  }

  /** True when both tensors view one storage (one tensor's; fromDevicePointer makes a storage of its own each time), whatever their shapes and offsets. */
  sharesStorageWith(other: Tensor): boolean {
    return (this.root ?? this) === (other.root ?? other);
  }

  get numel(): number {
    return numelOf(this.shape);
  }

  get isContiguous(): boolean {
    const c = contiguousStrides(this.shape);
    return this.shape.every((d, i) => d <= 1 || this.strides[i] === c[i]);
  }

  get disposed(): boolean {
    return (this.host === null && this.device === null) || (this.root?.disposed ?? false);
  }

  assertLive(): void {
    if (this.disposed || (this.device && this.device.disposed)) throw new DisposedError(`tensor [${this.shape}] ${this.dtype}`);
  }

  /** Raw storage of a cpu tensor (from element 0 of the storage; index with offset + Σ i·stride). */
  get data(): RawArray {
    this.assertLive();
    if (!this.host) throw new TypeError(`tensor.data: the tensor is on '${this.backend}', expected 'cpu'`);
    return rawArrayFor(this.dtype, this.host);
  }

  /** Device address of element [0,…] of a cuda tensor. */
  get ptr(): Ptr {
    this.assertLive();
    if (!this.device) throw new TypeError(`tensor.ptr: the tensor is on '${this.backend}', expected 'cuda'`);
    return this.device.ptr + BigInt(this.offset * dtypeBytes(this.dtype));
  }

  /** Contiguous raw copy of the elements in row-major order. */
  toRaw(): RawArray {
    const read = this.deviceRead();
    if (read) {
      deviceMemory(this.backend).readToHost([read]);
      return read.finish();
    }
    return gather(rawArrayFor(this.dtype, this.host!), this.shape, this.strides, this.offset);
  }

  /** For a device tensor, the read that toRaw makes (null for a host tensor): readInt32s queues several at once. */
  private deviceRead(): DeviceRead | null {
    this.assertLive();
    if (this.host) return null;
    const buf = new ArrayBuffer(spanOf(this.shape, this.strides) * dtypeBytes(this.dtype));
    const { dtype, shape, strides, numel } = this;
    const contiguous = this.isContiguous;
    return {
      dst: new Uint8Array(buf),
      src: this.ptr,
      finish: () => (contiguous ? rawArrayFor(dtype, buf, 0, numel) : gather(rawArrayFor(dtype, buf), shape, strides, 0)),
    };
  }

  /** Values as float32 (float types) — int types are converted too. */
  toFloat32(): Float32Array {
    const raw = this.toRaw();
    if (isFloat16Type(this.dtype)) return decodeHalf(this.dtype, raw as Uint16Array);
    if (this.dtype === 'fp8e4m3') return decodeFp8e4m3(raw as Uint8Array);
    return Float32Array.from(raw as ArrayLike<number>);
  }

  toInt32(): Int32Array {
    if (this.dtype !== 'int32') throw new TypeError(`toInt32: tensor dtype is ${this.dtype}, expected int32`);
    return this.toRaw() as Int32Array;
  }

  /** Overwrite the contents (same element count). Used to feed new inputs to a captured graph. */
  write(data: HostData): this {
    checkHostData(data);
    return this.writeRaw(encodeHost(this.dtype, data, this.numel));
  }

  private writeRaw(raw: RawArray): this {
    this.assertLive();
    if (!this.isContiguous) throw new TypeError('write: only contiguous tensors can be written from host data');
    if (this.host) rawArrayFor(this.dtype, this.host, this.offset, this.numel).set(raw as never);
    else deviceMemory(this.backend).writeFromHost(this.ptr, raw);
    return this;
  }

  /** Set every element to `value` (contiguous tensors). */
  fill(value: number): this {
    this.assertLive();
    if (!this.isContiguous) throw new TypeError('fill: only contiguous tensors can be filled');
    checkNumber(value, 'value');
    if (this.dtype === 'int32' || this.dtype === 'uint8') checkIntegerValue(this.dtype, value, 'value');
    const n = this.numel;
    // the element's stored form: bit patterns for the 16- and 8-bit floats, the value itself otherwise
    const stored = isFloat16Type(this.dtype) ? toHalfBits(this.dtype, value) : this.dtype === 'fp8e4m3' ? float32ToFp8e4m3Bits(value) : value;
    if (this.host) {
      rawArrayFor(this.dtype, this.host, this.offset, n).fill(stored);
      return this;
    }
    const memory = deviceMemory(this.backend);
    if (isFloat16Type(this.dtype)) memory.fill(this.ptr, stored, n, 2);
    else if (this.dtype === 'fp32') memory.fill(this.ptr, new Uint32Array(new Float32Array([value]).buffer)[0], n, 4);
    else if (this.dtype === 'int32') memory.fill(this.ptr, value | 0, n, 4);
    else memory.fill(this.ptr, stored, n, 1);
    return this;
  }

  /** Copy to another backend (a new contiguous tensor). */
  to(backend: BackendName): Tensor {
    this.assertLive();
    const t = Tensor.empty(this.shape, { dtype: this.dtype, backend });
    try {
      if (backend === 'cuda' && this.backend === 'cuda' && this.isContiguous) {
        deviceMemory(backend).copy(t.ptr, this.ptr, this.numel * dtypeBytes(this.dtype));
        return t;
      }
      return t.writeRaw(this.toRaw());
    } catch (e) {
      disposeQuietly(t); // a failed copy must not leak device memory
      throw e;
    }
  }

  /** Copy the contents of `src` (same shape and dtype) into this tensor. */
  copyFrom(src: Tensor): this {
    if (src.dtype !== this.dtype || src.shape.join() !== this.shape.join()) {
      throw new TypeError(`copyFrom: expected ${this.dtype} [${this.shape}], got ${src.dtype} [${src.shape}]`);
    }
    if (this.device && src.device && this.isContiguous && src.isContiguous) {
      deviceMemory(this.backend).copy(this.ptr, src.ptr, this.numel * dtypeBytes(this.dtype));
      return this;
    }
    return this.writeRaw(src.toRaw());
  }

  dispose(): void {
    if (!this.root && this.device) this.device.dispose();
    this.host = null;
    this.device = null;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  toString(): string {
    return `Tensor(${this.backend}, ${this.dtype}, [${this.shape.join(', ')}])`;
  }
}

function gather(src: RawArray, shape: readonly number[], strides: readonly number[], offset: number): RawArray {
  const n = numelOf(shape);
  const out = new (src.constructor as new (n: number) => RawArray)(n);
  const rank = shape.length;
  const idx = new Array<number>(rank).fill(0);
  let pos = offset;
  for (let i = 0; i < n; i++) {
    out[i] = src[pos];
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]++;
      pos += strides[d];
      if (idx[d] < shape[d]) break;
      pos -= idx[d] * strides[d];
      idx[d] = 0;
    }
  }
  return out;
}

/**
 * The values of int32 tensors (null entries stay null), the device tensors' reads queued together with one wait per
 * device backend instead of a wait and a copy each: the decode's value checks read up to four small tensors per call
 * (perf log, sessions 59–60).
 */
export function readInt32s(ts: readonly (Tensor | null)[]): (Int32Array | null)[] {
  const out: (Int32Array | null)[] = [];
  const pending: { i: number; backend: BackendName; read: DeviceRead }[] = [];
  ts.forEach((t, i) => {
    out.push(null);
    if (t === null) return;
    if (t.dtype !== 'int32') throw new TypeError(`readInt32s: tensor dtype is ${t.dtype}, expected int32`);
    const read = deviceReadOf(t);
    if (read) pending.push({ i, backend: t.backend, read });
    else out[i] = t.toRaw() as Int32Array;
  });
  for (const backend of new Set(pending.map((p) => p.backend))) {
    const mine = pending.filter((p) => p.backend === backend);
    deviceMemory(backend).readToHost(mine.map((p) => p.read));
    for (const p of mine) out[p.i] = p.read.finish() as Int32Array;
  }
  return out;
}
