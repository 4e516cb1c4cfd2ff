// The small interface every backend implements, and the registry that picks one.

import type { Tensor, BackendName } from './tensor.js';

/** A device address, in bytes. */
export type Ptr = bigint;

/** Memory a backend allocated outside the JS heap (device memory); freed by dispose(), never by a finalizer. */
export interface DeviceStorage {
  readonly ptr: Ptr;
  readonly bytes: number;
  readonly disposed: boolean;
  dispose(): void;
}

/**
 * Storage of a backend whose tensors live in device memory (cuda). The cpu backend keeps tensors in host
 * memory (an ArrayBuffer, see tensor.ts) and has none. Copies and fills are queued on the backend's stream
 * in call order, so they are ordered with its kernels.
 */
export interface DeviceMemory {
  /** Uninitialised storage of `bytes` bytes (throws the backend's typed error when there is no device). */
  alloc(bytes: number): DeviceStorage;
  /** Wait for all queued work, then copy dst.byteLength bytes from `src` into dst. */
  readToHost(dst: Uint8Array, src: Ptr): void;
  /** Queue a copy of src's bytes to `dst`. */
  writeFromHost(dst: Ptr, src: ArrayBufferView): void;
  /** Queue a device-to-device copy of `bytes` bytes. */
  copy(dst: Ptr, src: Ptr, bytes: number): void;
  /** Queue setting `count` elements of `width` bytes each to the bit pattern `bits`. */
  fill(dst: Ptr, bits: number, count: number, width: 1 | 2 | 4): void;
  /** Wait for all queued work. */
  synchronize(): void;
  /** The device's free and total memory in bytes (all processes' allocations count), e.g. to watch for leaks. */
  info(): { free: number; total: number };
}

/** Everything a decode needs, already validated; outputs are allocated by the caller. */
export interface MlaDecodeArgs {
  q: Tensor;
  kCache: Tensor;
  /** Dense decode: [b, maxBlocksPerSeq] int32. null for sparse decode (indices address the cache directly). */
  blockTable: Tensor | null;
  /** Dense decode: [b] int32. null for sparse decode. */
  cacheSeqlens: Tensor | null;
  tileSchedulerMetadata: Tensor;
  numSplits: Tensor;
  out: Tensor;
  lse: Tensor;
  softmaxScale: number;
  causal: boolean;
  /** Decode kernel to use (cuda backend); undefined = the best one for the device. */
  kernel?: string;
  /** kCache holds the FP8 layout: uint8 [numPages, pageSize, 1, 656] (see src/kvcache/fp8.ts). */
  isFp8KvCache: boolean;
  /** Sparse decode: int32 [b, s_q, topk], token slot page · pageSize + row; < 0 or past the cache = none. */
  indices: Tensor | null;
  /** Sparse decode: int32 [b], only the first topkLength[i] indices of request i count. */
  topkLength: Tensor | null;
  /** Sparse decode: fp32 [h_q]; out ← out / (1 + exp(sink − lse)), lse unchanged. */
  attnSink: Tensor | null;
}

/** What a decode asks of a backend, from shapes alone (checked before anything is allocated or read back). */
export interface DecodeFeatures {
  dtype: 'bf16' | 'fp16';
  /** Query heads and KV heads (h_q a multiple of h_kv). */
  hQ: number;
  hKv: number;
  /** d_qk: 576 or 512. */
  headDim: number;
  /** Tokens per page of kCache. */
  pageSize: number;
  /** FP8 cache (isFp8KvCache). */
  fp8: boolean;
  /** Sparse decode (indices given); topk = indices.shape[2]. */
  sparse: boolean;
  topk: number;
  topkLength: boolean;
  attnSink: boolean;
  /** The decode kernel asked for (`kernel` option, one of decodeKernels()); undefined: the backend's choice. */
  kernel?: string;
}

/**
 * A paged write of token rows cKv ‖ kPe into kCache (arguments already validated, T = cKv.shape[0] ≥ 1):
 * bf16/fp16 [numBlocks, 64, 1, 576] copied bit for bit, or uint8 [numPages, pageSize, 1, 656] (FP8, quantized).
 */
export interface AppendKvArgs {
  kCache: Tensor;
  cKv: Tensor;
  kPe: Tensor;
  /** Slot per token (page · pageSize + row; < 0 or past the cache skipped) ... */
  slotMapping: Tensor | null;
  /** ... or slots from a block table: token t = i · n + j → position cacheSeqlens[i] − n + j of request i. */
  paged: { blockTable: Tensor; cacheSeqlens: Tensor; tokensPerSeq: number } | null;
}

/**
 * How a kernel uses a tensor, for the layout rules of a backend (checkLayout): read in vectors (cuda: 16-byte
 * vectors and TMA, so 16-byte aligned strides and start), indexed with 32-bit strides (cuda's append kernel),
 * written in vectors (cuda: a 16-byte aligned start).
 */
export type LayoutUse = 'vectorLoad' | 'int32Strides' | 'vectorStore';

/** Layouts of a KV cache: 16-bit rows of 576 channels, or the 656-byte FP8 rows. */
export type KvFormat = 'bf16' | 'fp16' | 'fp8';

export interface MlaBackend {
  readonly name: BackendName;
  /** Device storage of this backend's tensors; null where tensors live in host memory (cpu). */
  readonly memory: DeviceMemory | null;
  /** SMs the scheduler partitions work for. */
  smCount(): number;
  /** Fill metadata [numSmParts, 8] and numSplits [b + 1] from cacheSeqlens (all on this backend). */
  mlaMetadata(cacheSeqlens: Tensor, tileSchedulerMetadata: Tensor, numSplits: Tensor): void;
  /**
   * Throw UnsupportedFeatureError (naming the argument) for a decode this backend cannot run; called after the
   * shape checks, before any output is allocated or any value read back.
   */
  checkDecode(f: DecodeFeatures): void;
  mlaDecode(args: MlaDecodeArgs): void;
  /**
   * Throw RangeError, naming `name`, when this backend's kernels cannot use t's layout that way (called after
   * the shape checks, before anything is allocated, read back or launched). cpu: any layout.
   */
  checkLayout(name: string, t: Tensor, use: LayoutUse): void;
  /** Throw UnsupportedFeatureError, naming `argument`, when this backend cannot hold a cache of this format. */
  checkKvFormat(format: KvFormat, argument: string): void;
  /** Paged write of token rows into a cache (bf16/fp16, or quantizing into an FP8 cache). */
  appendKv(args: AppendKvArgs): void;
  /** Decode kernels this backend offers (first = default). */
  decodeKernels(): string[];
}

const backends = new Map<BackendName, () => MlaBackend>();
const instances = new Map<BackendName, MlaBackend>();

export function registerBackend(name: BackendName, factory: () => MlaBackend): void {
  backends.set(name, factory);
}

export function getBackend(name: BackendName): MlaBackend {
  let b = instances.get(name);
  if (!b) {
    const f = backends.get(name);
    if (!f) throw new TypeError(`backend: expected one of ${[...backends.keys()].join(', ')}, got '${name}'`);
    b = f();
    instances.set(name, b);
  }
  return b;
}
