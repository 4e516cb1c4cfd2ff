// The host side of CUDA: device + primary context, memory, streams, events, modules/kernels with a
// reusable argument block, launch (cuLaunchKernelEx, with PDL on request), tensor maps, graphs.

import koffi from 'koffi';
import type { DeviceInfo } from '../backend.js';
import { CudaError, CudaUnavailableError, PtxJitError, UnsupportedDeviceError, UnsupportedDriverError } from '../errors.js';
import { call, check, errorName, getDriver, outF32, outI32, outU64, outU64b } from './driver.js';

/** CUDA version the shipped cubins were built with (nvcc 13.0): the driver must support at least this. */
export const CUBIN_CUDA_VERSION = 13000;

// CUdevice_attribute values (cuda.h)
const ATTR = {
  smCount: 16,
  ccMajor: 75,
  ccMinor: 76,
  l2Bytes: 38,
  maxSharedOptin: 97,
} as const;

export type Ptr = bigint;

export type { DeviceInfo };

function attribute(attr: number, dev: number): number {
  call('cuDeviceGetAttribute', outI32, attr, dev);
  return outI32[0];
}

/** One GPU with its primary context made current on the main thread. */
export class CudaDevice {
  private static devices = new Map<number, CudaDevice>();
  readonly info: DeviceInfo;
  /** Whether kernels can be launched as thread-block clusters (CU_DEVICE_ATTRIBUTE_CLUSTER_LAUNCH). */
  readonly clusterLaunch: boolean;
  private ctx: Ptr;

  private constructor(ordinal: number) {
    const d = getDriver();
    const rc = d.cuInit(0);
    if (rc !== 0) {
      const reason = rc === 100 ? 'no CUDA-capable device is detected' : rc === 999 ? 'the driver failed to initialise' : `cuInit returned ${rc}`;
      throw new CudaUnavailableError(reason);
    }
    call('cuDriverGetVersion', outI32);
    const driverVersion = outI32[0];
    if (driverVersion < CUBIN_CUDA_VERSION) throw new UnsupportedDriverError(driverVersion, CUBIN_CUDA_VERSION);
    call('cuDeviceGetCount', outI32);
    const count = outI32[0];
    if (count === 0) throw new CudaUnavailableError('no CUDA-capable device is detected');
    if (ordinal < 0 || ordinal >= count) throw new RangeError(`device: expected an ordinal in [0, ${count}), got ${ordinal}`);
    call('cuDeviceGet', outI32, ordinal);
    const dev = outI32[0];
    const nameBuf = new Uint8Array(256);
    call('cuDeviceGetName', nameBuf, 256, dev);
    const name = new TextDecoder().decode(nameBuf.subarray(0, nameBuf.indexOf(0)));
    call('cuDeviceTotalMem_v2', outU64, dev);
    this.info = {
      ordinal,
      name,
      computeCapability: { major: attribute(ATTR.ccMajor, dev), minor: attribute(ATTR.ccMinor, dev) },
      smCount: attribute(ATTR.smCount, dev),
      maxSharedMemoryPerBlockOptin: attribute(ATTR.maxSharedOptin, dev),
      l2CacheBytes: attribute(ATTR.l2Bytes, dev),
      totalMemoryBytes: Number(outU64[0]),
      driverVersion,
    };
    this.clusterLaunch = attribute(CU_DEVICE_ATTRIBUTE_CLUSTER_LAUNCH, dev) !== 0;
    call('cuDevicePrimaryCtxRetain', outU64, dev);
    this.ctx = outU64[0];
    call('cuCtxSetCurrent', this.ctx);
  }

  /** The device (default: FLASH_MLA_DEVICE or 0), initialised once. */
  static get(ordinal = Number(process.env.FLASH_MLA_DEVICE ?? 0)): CudaDevice {
    let dev = CudaDevice.devices.get(ordinal);
    if (!dev) {
      dev = new CudaDevice(ordinal);
      CudaDevice.devices.set(ordinal, dev);
    }
    call('cuCtxSetCurrent', dev.ctx);
    return dev;
  }

  /** True when a device can be opened; never throws. */
  static available(): boolean {
    try {
      CudaDevice.get();
      return true;
    } catch {
      return false;
    }
  }

  /** The primary context's handle (a CUcontext): the context every allocation and launch of the library is in. */
  get context(): Ptr {
    return this.ctx;
  }

  get isHopper(): boolean {
    return this.info.computeCapability.major === 9 && this.info.computeCapability.minor === 0;
  }

  memInfo(): { free: number; total: number } {
    call('cuMemGetInfo_v2', outU64, outU64b);
    return { free: Number(outU64[0]), total: Number(outU64b[0]) };
  }
}

// ---------------------------------------------------------------------------------------------- memory

/** Device memory. Freed by dispose(); a finalizer is deliberately not used to order GPU frees. */
export class DeviceBuffer {
  /** The first addresses of the library's live allocations (tensor blocks, cached or in use, workspaces, scratch). */
  private static readonly live = new Set<Ptr>();
  private freed = false;
  private constructor(readonly ptr: Ptr, readonly bytes: number) {}
  static alloc(bytes: number): DeviceBuffer {
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`bytes: expected a non-negative integer, got ${bytes}`);
    call('cuMemAlloc_v2', outU64, Math.max(bytes, 1));
    DeviceBuffer.live.add(outU64[0]);
    return new DeviceBuffer(outU64[0], bytes);
  }
  /** Whether `base` is the first address of a live allocation of the library (Tensor.fromDevicePointer refuses those). */
  static isLibraryAllocation(base: Ptr): boolean {
    return DeviceBuffer.live.has(base);
  }
  get disposed(): boolean {
    return this.freed;
  }
  dispose(): void {
    if (this.freed) return;
    this.freed = true;
    DeviceBuffer.live.delete(this.ptr);
    call('cuMemFree_v2', this.ptr);
  }
}

const CUDA_ERROR_INVALID_VALUE = 1;
const CUDA_ERROR_NOT_FOUND = 500;
const CU_POINTER_ATTRIBUTE_CONTEXT = 1;
const CU_POINTER_ATTRIBUTE_MEMORY_TYPE = 2;
const CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL = 9;
/** CUmemorytype of device memory (host memory is 1, unified 4). */
export const CU_MEMORYTYPE_DEVICE = 2;

/** A pointer attribute of `ptr` (its low 64 bits), or null where the driver has none for it (CUDA_ERROR_INVALID_VALUE). */
function pointerAttribute(ptr: Ptr, attribute: number): bigint | null {
  outU64[0] = 0n; // (4-byte attributes fill the low half)
  const rc = getDriver().cuPointerGetAttribute(outU64, attribute, ptr);
  if (rc === CUDA_ERROR_INVALID_VALUE) return null;
  check('cuPointerGetAttribute', rc);
  return outU64[0];
}

/** What the driver says about the allocation holding `ptr` (deviceAllocationOf). */
export interface AllocationInfo {
  /** Its first address and size (cuMemGetAddressRange: a cuMemAlloc / cudaMalloc block, a pool block, a mapping). */
  base: Ptr;
  bytes: bigint;
  /** The context it was made in; 0n where the driver names none (memory pools, virtual-memory mappings). */
  context: Ptr;
  /** CUmemorytype: CU_MEMORYTYPE_DEVICE, or host memory (1); null if the driver does not say. */
  memoryType: number | null;
  /** The device it lives on; null if the driver does not say. */
  deviceOrdinal: number | null;
}

/**
 * The allocation that holds `ptr`, or null when the driver knows none there (CUDA_ERROR_NOT_FOUND /
 * CUDA_ERROR_INVALID_VALUE). Other errors (a sticky fault) throw. (cuMemGetAddressRange answers for virtual-memory
 * mappings with the mapped range; the RANGE_START_ADDR / RANGE_SIZE attributes would give the whole reservation,
 * unmapped pages included, so they are not asked.)
 */
export function deviceAllocationOf(ptr: Ptr): AllocationInfo | null {
  const rc = getDriver().cuMemGetAddressRange_v2(outU64, outU64b, ptr);
  if (rc === CUDA_ERROR_NOT_FOUND || rc === CUDA_ERROR_INVALID_VALUE) return null;
  check('cuMemGetAddressRange_v2', rc);
  const base = outU64[0], bytes = outU64b[0];
  const type = pointerAttribute(ptr, CU_POINTER_ATTRIBUTE_MEMORY_TYPE);
  const ordinal = pointerAttribute(ptr, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL);
  return {
    base,
    bytes,
    context: pointerAttribute(ptr, CU_POINTER_ATTRIBUTE_CONTEXT) ?? 0n,
    memoryType: type === null ? null : Number(BigInt.asUintN(32, type)),
    deviceOrdinal: ordinal === null ? null : Number(BigInt.asIntN(32, ordinal)),
  };
}

export function copyHtoD(dst: Ptr, src: ArrayBufferView, stream?: Stream): void {
  if (src.byteLength === 0) return;
  if (stream) call('cuMemcpyHtoDAsync_v2', dst, src, src.byteLength, stream.handle);
  else call('cuMemcpyHtoD_v2', dst, src, src.byteLength);
}

export function copyDtoH(dst: ArrayBufferView, src: Ptr, stream?: Stream): void {
  if (dst.byteLength === 0) return;
  if (stream) call('cuMemcpyDtoHAsync_v2', dst, src, dst.byteLength, stream.handle);
  else call('cuMemcpyDtoH_v2', dst, src, dst.byteLength);
}

/** Queue a copy of `bytes` bytes from device memory into page-locked host memory at `dst` (a PinnedHostBuffer's). */
export function copyDtoPinned(dst: Ptr, src: Ptr, bytes: number, stream: Stream): void {
  if (bytes === 0) return;
  call('cuMemcpyDtoHAsync_v2', dst, src, bytes, stream.handle);
}

/**
 * Page-locked host memory (cuMemAllocHost): a device-to-host copy into it is queued on the stream like a kernel, so
 * several small reads cost one wait instead of a wait and a staged copy each. Freed by dispose().
 */
export class PinnedHostBuffer {
  private freed = false;
  /** The memory as bytes (a view over the page-locked allocation: valid until dispose). */
  readonly bytesView: Uint8Array;
  private constructor(readonly ptr: Ptr, readonly bytes: number) {
    this.bytesView = new Uint8Array(koffi.view(ptr, bytes));
  }
  static alloc(bytes: number): PinnedHostBuffer {
    if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new RangeError(`bytes: expected a positive integer, got ${bytes}`);
    call('cuMemAllocHost_v2', outU64, bytes);
    return new PinnedHostBuffer(outU64[0], bytes);
  }
  dispose(): void {
    if (this.freed) return;
    this.freed = true;
    call('cuMemFreeHost', this.ptr);
  }
}

export function copyDtoD(dst: Ptr, src: Ptr, bytes: number, stream?: Stream): void {
  if (bytes === 0) return;
  if (stream) call('cuMemcpyDtoDAsync_v2', dst, src, bytes, stream.handle);
  else call('cuMemcpyDtoD_v2', dst, src, bytes);
}

/** Fill `count` 32-bit words (or 16-bit / 8-bit when `width` says so) with `value`'s bit pattern. */
export function memset(dst: Ptr, value: number, count: number, width: 1 | 2 | 4, stream: Stream): void {
  if (count === 0) return;
  const fn = width === 4 ? 'cuMemsetD32Async' : width === 2 ? 'cuMemsetD16Async' : 'cuMemsetD8Async';
  call(fn, dst, value >>> 0, count, stream.handle);
}

// ---------------------------------------------------------------------------------------------- streams, events

export class Stream {
  private constructor(readonly handle: Ptr) {}
  /** A non-blocking stream (capturable; never the legacy stream). */
  static create(): Stream {
    call('cuStreamCreate', outU64, 1);
    return new Stream(outU64[0]);
  }
  synchronize(): void {
    call('cuStreamSynchronize', this.handle);
  }
  /** Later work on this stream waits for `event`'s last record (no host wait). */
  waitEvent(event: CudaEvent): void {
    streamWaitEvent(this.handle, event);
  }
  dispose(): void {
    call('cuStreamDestroy_v2', this.handle);
  }
}

/** Later work on the stream `stream` (a handle, the library's or another's) waits for `event`'s last record. */
export function streamWaitEvent(stream: Ptr, event: CudaEvent): void {
  call('cuStreamWaitEvent', stream, event.handle, 0);
}

const CU_EVENT_DISABLE_TIMING = 0x2;

export class CudaEvent {
  private constructor(readonly handle: Ptr) {}
  /** A timing event (flags 0: CU_EVENT_DEFAULT). */
  static create(): CudaEvent {
    call('cuEventCreate', outU64, 0);
    return new CudaEvent(outU64[0]);
  }
  /** An event for ordering streams only (CU_EVENT_DISABLE_TIMING: cheaper to record and wait on). */
  static createForOrdering(): CudaEvent {
    call('cuEventCreate', outU64, CU_EVENT_DISABLE_TIMING);
    return new CudaEvent(outU64[0]);
  }
  record(stream: Stream): void {
    this.recordOnHandle(stream.handle);
  }
  /** Record on a stream known only by its handle (one the library did not create). */
  recordOnHandle(stream: Ptr): void {
    call('cuEventRecord', this.handle, stream);
  }
  synchronize(): void {
    call('cuEventSynchronize', this.handle);
  }
  /** Milliseconds from `start` to this event (both recorded and complete). */
  elapsedSince(start: CudaEvent): number {
    call('cuEventElapsedTime_v2', outF32, start.handle, this.handle);
    return outF32[0];
  }
  dispose(): void {
    call('cuEventDestroy_v2', this.handle);
  }
}

// ---------------------------------------------------------------------------------------------- modules, kernels

// CUjit_option values (cuda.h)
const CU_JIT_WALL_TIME = 2;
const CU_JIT_INFO_LOG_BUFFER = 3;
const CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES = 4;
const CU_JIT_ERROR_LOG_BUFFER = 5;
const CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6;
const CU_JIT_LOG_VERBOSE = 12;
const JIT_LOG_BYTES = 64 * 1024;

export class Module {
  private functions = new Map<string, Ptr>();
  /** PTX modules: the driver JIT's wall time (ms) and informational log (per function: registers, spills). */
  jitMs?: number;
  jitLog?: string;
  private constructor(readonly handle: Ptr, readonly label: string) {}
  static load(image: Uint8Array, label: string): Module {
    call('cuModuleLoadData', outU64, image);
    return new Module(outU64[0], label);
  }
  /**
   * Compile PTX text with the driver's JIT for the current context's device and load it. The JIT's error and
   * info logs are captured (CU_JIT_ERROR_LOG_BUFFER / CU_JIT_INFO_LOG_BUFFER, verbose); a failure throws
   * PtxJitError carrying the error log. Nothing is written to disk by this library (the driver's own JIT cache
   * follows CUDA_CACHE_DISABLE / CUDA_CACHE_PATH).
   */
  static loadPtx(ptx: Uint8Array | string, label: string): Module {
    const text = typeof ptx === 'string' ? new TextEncoder().encode(ptx) : ptx;
    const image = new Uint8Array(text.byteLength + 1); // the driver reads PTX as a NUL-terminated string
    image.set(text);
    const errBuf: Ptr = koffi.alloc('uint8_t', JIT_LOG_BYTES);
    const infoBuf: Ptr = koffi.alloc('uint8_t', JIT_LOG_BYTES);
    try {
      new Uint8Array(koffi.view(errBuf, 1))[0] = 0;
      new Uint8Array(koffi.view(infoBuf, 1))[0] = 0;
      const options = new Int32Array([
        CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES, CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES, CU_JIT_LOG_VERBOSE, CU_JIT_WALL_TIME,
      ]);
      // void *optionValues[]: pointers, sizes and flags cast to pointer width; the sizes and the wall time come back in place.
      const values = new BigUint64Array([errBuf, BigInt(JIT_LOG_BYTES), infoBuf, BigInt(JIT_LOG_BYTES), 1n, 0n]);
      const module = new BigUint64Array(1);
      const rc = getDriver().cuModuleLoadDataEx(module, image, options.length, options, values);
      const readLog = (buf: Ptr, filled: bigint) => {
        const n = Math.min(Number(filled & 0xffffffffn), JIT_LOG_BYTES);
        const bytes = new Uint8Array(koffi.view(buf, JIT_LOG_BYTES).slice(0, n));
        const end = bytes.indexOf(0);
        return new TextDecoder().decode(end >= 0 ? bytes.subarray(0, end) : bytes);
      };
      const errLog = readLog(errBuf, values[1]);
      const infoLog = readLog(infoBuf, values[3]);
      if (rc !== 0) {
        const [name, msg] = errorName(rc).split('\u0000');
        throw new PtxJitError(label, rc, name, msg, errLog, infoLog);
      }
      const m = new Module(module[0], label);
      m.jitMs = new Float32Array(values.buffer, 5 * 8, 1)[0];
      m.jitLog = infoLog;
      return m;
    } finally {
      koffi.free(errBuf);
      koffi.free(infoBuf);
    }
  }
  getFunction(name: string): Ptr {
    let f = this.functions.get(name);
    if (f === undefined) {
      call('cuModuleGetFunction', outU64, this.handle, name);
      f = outU64[0];
      this.functions.set(name, f);
    }
    return f;
  }
}

export type ArgKind = 'ptr' | 'i32' | 'u32' | 'f32' | 'bytes';
export type ArgValue = bigint | number | Uint8Array;

export interface LaunchOptions {
  grid: [number, number, number];
  block: [number, number, number];
  sharedMemBytes?: number;
  stream: Stream;
  /** Programmatic dependent launch: may start before the previous kernel in the stream ends. */
  pdl?: boolean;
  /** Thread-block cluster shape (sm_90 and later; the grid a multiple of it); none: no clusters. */
  cluster?: [number, number, number];
}

const CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;
const CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION = 6;
const CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION = 4;
const CU_DEVICE_ATTRIBUTE_CLUSTER_LAUNCH = 120;
const MAX_LAUNCH_ATTRS = 2;
const LAUNCH_CONFIG_BYTES = 56;
const LAUNCH_ATTR_BYTES = 72;

/**
 * A kernel function with its argument block built once: offsets and sizes come from
 * cuFuncGetParamInfo, a native block holds the values and a native void*[] points into it.
 * A launch rewrites the values in place and passes the same pointers.
 */
export class Kernel {
  readonly func: Ptr;
  private readonly offsets: number[] = [];
  private readonly sizes: number[] = [];
  private readonly argBlock: DataView;
  private readonly argBytes: Uint8Array;
  private readonly argPtrs: Ptr;
  private readonly config: DataView;
  private readonly configPtr: Ptr;
  private maxDynamicShared = 48 * 1024;
  private readonly activeClusters = new Map<string, number>();  // clustersFit: the driver's answer per launch shape

  constructor(module: Module, readonly name: string, readonly signature: readonly ArgKind[]) {
    this.func = module.getFunction(name);
    let total = 0;
    for (let i = 0; i < signature.length; i++) {
      call('cuFuncGetParamInfo', this.func, i, outU64, outU64b);
      this.offsets.push(Number(outU64[0]));
      this.sizes.push(Number(outU64b[0]));
      total = Math.max(total, Number(outU64[0]) + Number(outU64b[0]));
    }
    const blockPtr: Ptr = koffi.alloc('uint8_t', Math.max(total, 8));
    this.argBytes = new Uint8Array(koffi.view(blockPtr, Math.max(total, 8)));
    this.argBlock = new DataView(this.argBytes.buffer);
    this.argPtrs = koffi.alloc('uint64_t', Math.max(signature.length, 1));
    const table = new BigUint64Array(koffi.view(this.argPtrs, 8 * Math.max(signature.length, 1)));
    for (let i = 0; i < signature.length; i++) table[i] = blockPtr + BigInt(this.offsets[i]);
    // launch config followed by its attributes (PDL, cluster shape), counted in only when a launch asks for them
    this.configPtr = koffi.alloc('uint8_t', LAUNCH_CONFIG_BYTES + MAX_LAUNCH_ATTRS * LAUNCH_ATTR_BYTES);
    this.config = new DataView(koffi.view(this.configPtr, LAUNCH_CONFIG_BYTES + MAX_LAUNCH_ATTRS * LAUNCH_ATTR_BYTES));
    this.config.setBigUint64(40, this.configPtr + BigInt(LAUNCH_CONFIG_BYTES), true);
    this.config.setUint32(LAUNCH_CONFIG_BYTES, CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION, true);
  }

  /** Parameter sizes as the cubin declares them (used by the params-layout test). */
  get paramSizes(): readonly number[] {
    return this.sizes;
  }

  setMaxDynamicSharedMemory(bytes: number): void {
    if (bytes <= this.maxDynamicShared) return;  // raised once per function: not a driver call per launch
    call('cuFuncSetAttribute', this.func, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes);
    this.maxDynamicShared = bytes;
  }

  launch(opts: LaunchOptions, ...args: ArgValue[]): void {
    if (args.length !== this.signature.length) {
      throw new TypeError(`${this.name}: expected ${this.signature.length} kernel arguments, got ${args.length}`);
    }
    for (let i = 0; i < args.length; i++) {
      const off = this.offsets[i];
      const v = args[i];
      switch (this.signature[i]) {
        case 'ptr':
          this.argBlock.setBigUint64(off, v as bigint, true);
          break;
        case 'i32':
          this.argBlock.setInt32(off, v as number, true);
          break;
        case 'u32':
          this.argBlock.setUint32(off, v as number, true);
          break;
        case 'f32':
          this.argBlock.setFloat32(off, v as number, true);
          break;
        case 'bytes': {
          const b = v as Uint8Array;
          if (b.byteLength !== this.sizes[i]) {
            throw new TypeError(`${this.name}: argument ${i} expected ${this.sizes[i]} bytes, got ${b.byteLength}`);
          }
          this.argBytes.set(b, off);
          break;
        }
      }
    }
    this.writeConfig(opts);
    call('cuLaunchKernelEx', this.configPtr, this.func, this.argPtrs, 0n);
  }

  /**
   * How many clusters of `opts.cluster`'s shape (with this block and shared memory) can be resident at once
   * (cuOccupancyMaxActiveClusters): a grid of more clusters than this runs in several waves.
   */
  maxActiveClusters(opts: LaunchOptions): number {
    this.writeConfig(opts);
    call('cuOccupancyMaxActiveClusters', outI32, this.func, this.configPtr);
    return outI32[0];
  }

  /**
   * Whether launching `opts` as clusters takes no more waves than the same grid without them on `smCount` SMs (one CTA
   * per SM, as the decode kernels): a cluster must fit in one GPC, so a device whose GPCs leave SMs over may hold fewer
   * clusters than SMs / cluster size. The driver is asked once per block, shared memory and cluster shape; a query that
   * fails (not stickily) counts as "no" for this launch and is asked again the next time: it only decides speed.
   */
  clustersFit(opts: LaunchOptions, smCount: number): boolean {
    const c = opts.cluster ?? [1, 1, 1];
    const key = `${opts.block.join(',')}|${opts.sharedMemBytes ?? 0}|${c.join(',')}`;
    let active = this.activeClusters.get(key);
    if (active === undefined) {
      try {
        active = this.maxActiveClusters(opts);
      } catch (e) {
        if (e instanceof CudaError && !e.isSticky) return false;
        throw e;
      }
      this.activeClusters.set(key, active);
    }
    const ctas = opts.grid[0] * opts.grid[1] * opts.grid[2], size = c[0] * c[1] * c[2];
    return active > 0 && Math.ceil(ctas / size / active) <= Math.ceil(ctas / smCount);
  }

  /** The launch config block (grid, block, shared memory, stream, attributes) for `opts`. */
  private writeConfig(opts: LaunchOptions): void {
    const smem = opts.sharedMemBytes ?? 0;
    if (smem > 48 * 1024) this.setMaxDynamicSharedMemory(smem);
    const c = this.config;
    c.setUint32(0, opts.grid[0], true);
    c.setUint32(4, opts.grid[1], true);
    c.setUint32(8, opts.grid[2], true);
    c.setUint32(12, opts.block[0], true);
    c.setUint32(16, opts.block[1], true);
    c.setUint32(20, opts.block[2], true);
    c.setUint32(24, smem, true);
    c.setBigUint64(32, opts.stream.handle, true);
    // attributes: PDL, the cluster shape, or none (each: id, 4 bytes of padding, a 64-byte value)
    let n = 0;
    if (opts.pdl) {
      c.setUint32(LAUNCH_CONFIG_BYTES, CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION, true);
      c.setInt32(LAUNCH_CONFIG_BYTES + 8, 1, true);
      n++;
    }
    if (opts.cluster) {
      const at = LAUNCH_CONFIG_BYTES + n * LAUNCH_ATTR_BYTES;
      c.setUint32(at, CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION, true);
      for (let i = 0; i < 3; i++) c.setUint32(at + 8 + 4 * i, opts.cluster[i], true);
      n++;
    }
    c.setUint32(48, n, true);
  }
}

/** Throw UnsupportedDeviceError unless the device has this compute capability and shared memory. */
export function requireDevice(dev: CudaDevice, kernel: string, need: { ccMajor?: number; ccMinorExact?: number; minCcMajor?: number; sharedBytes?: number }): void {
  const { major, minor } = dev.info.computeCapability;
  if (need.ccMajor !== undefined && (major !== need.ccMajor || (need.ccMinorExact !== undefined && minor !== need.ccMinorExact))) {
    throw new UnsupportedDeviceError(kernel, `compute capability ${major}.${minor} (${dev.info.name})`, `compute capability ${need.ccMajor}.${need.ccMinorExact ?? 0}`);
  }
  if (need.minCcMajor !== undefined && major < need.minCcMajor) {
    throw new UnsupportedDeviceError(kernel, `compute capability ${major}.${minor} (${dev.info.name})`, `compute capability ${need.minCcMajor}.0 or newer`);
  }
  if (need.sharedBytes !== undefined && dev.info.maxSharedMemoryPerBlockOptin < need.sharedBytes) {
    throw new UnsupportedDeviceError(kernel, `${dev.info.maxSharedMemoryPerBlockOptin} B shared memory per block`, `${need.sharedBytes} B`);
  }
}

// ---------------------------------------------------------------------------------------------- tensor maps

export const TensorMapDataType = { uint8: 0, uint16: 1, uint32: 2, int32: 3, fp16: 6, fp32: 7, bf16: 9 } as const;
export const TensorMapSwizzle = { none: 0, b32: 1, b64: 2, b128: 3 } as const;

export interface TensorMapSpec {
  dataType: number;
  address: Ptr;
  /** Innermost first. */
  dims: number[];
  /** Byte strides of dims 1..rank-1 (multiples of 16). */
  strides: number[];
  box: number[];
  swizzle: number;
  /** 0 none, 1: 64B, 2: 128B, 3: 256B */
  l2Promotion?: number;
}

const tmapScratch = koffi.alloc('uint8_t', 256 + 128) as Ptr;

/** Encode a tiled TMA descriptor; returns its 128 bytes (to pass by value as a kernel argument). */
export function encodeTensorMap(spec: TensorMapSpec): Uint8Array {
  const rank = spec.dims.length;
  if (rank < 1 || rank > 5 || spec.strides.length !== rank - 1 || spec.box.length !== rank) {
    throw new RangeError(`tensor map: rank ${rank} with ${spec.strides.length} strides and ${spec.box.length} box dims`);
  }
  const aligned = (tmapScratch + 127n) & ~127n;
  const dims = new BigUint64Array(spec.dims.map(BigInt));
  const strides = new BigUint64Array(Math.max(rank - 1, 1));
  spec.strides.forEach((s, i) => (strides[i] = BigInt(s)));
  const box = new Uint32Array(spec.box);
  const elem = new Uint32Array(rank).fill(1);
  const rc = getDriver().cuTensorMapEncodeTiled(aligned, spec.dataType, rank, spec.address, dims, strides, box, elem, 0, spec.swizzle, spec.l2Promotion ?? 2, 0);
  if (rc !== 0) {
    const detail = `dataType=${spec.dataType} rank=${rank} address=0x${spec.address.toString(16)} dims=[${spec.dims}] strides=[${spec.strides}] box=[${spec.box}] swizzle=${spec.swizzle}`;
    try {
      check('cuTensorMapEncodeTiled', rc);
    } catch (e) {
      (e as Error).message += ` (${detail})`;
      throw e;
    }
  }
  return new Uint8Array(koffi.view(aligned, 128).slice(0));
}

// ---------------------------------------------------------------------------------------------- graphs

const CU_STREAM_CAPTURE_MODE_RELAXED = 2;

/** An instantiated CUDA graph captured from a stream. */
export class Graph {
  private constructor(private graph: Ptr, private exec: Ptr) {}
  /**
   * Capture everything `fn` launches on `stream`. Relaxed mode: allocations made inside `fn`
   * (outputs that the graph will keep writing) are allowed; they are not stream operations.
   */
  static capture(stream: Stream, fn: () => void): Graph {
    call('cuStreamBeginCapture_v2', stream.handle, CU_STREAM_CAPTURE_MODE_RELAXED);
    try {
      fn();
    } catch (e) {
      outU64[0] = 0n; // end the capture; destroy what it produced (if it produced anything)
      getDriver().cuStreamEndCapture(stream.handle, outU64);
      if (outU64[0] !== 0n) getDriver().cuGraphDestroy(outU64[0]);
      throw e;
    }
    call('cuStreamEndCapture', stream.handle, outU64);
    const graph = outU64[0];
    try {
      call('cuGraphInstantiateWithFlags', outU64, graph, 0n);
    } catch (e) {
      getDriver().cuGraphDestroy(graph);
      throw e;
    }
    return new Graph(graph, outU64[0]);
  }
  launch(stream: Stream): void {
    call('cuGraphLaunch', this.exec, stream.handle);
  }
  dispose(): void {
    if (this.exec) call('cuGraphExecDestroy', this.exec);
    if (this.graph) call('cuGraphDestroy', this.graph);
    this.exec = 0n;
    this.graph = 0n;
  }
}
