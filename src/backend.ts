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

/** A device-to-host read: dst.byteLength bytes from device address `src`. */
export interface HostRead {
  dst: Uint8Array;
  src: Ptr;
}

/**
 * Storage of a backend whose tensors live in device memory (cuda). The cpu backend keeps tensors in host
 * memory (an ArrayBuffer, see tensor.ts) and has none. Copies and fills are queued on the backend's stream
 * in call order, so they are ordered with its kernels.
 */
export interface DeviceMemory {
  /** Uninitialised storage of `bytes` bytes (throws the backend's typed error when there is no device). */
  alloc(bytes: number): DeviceStorage;
  /**
   * Storage over `bytes` bytes at device address `ptr` that someone else allocated (checked to lie inside one of the
   * device's allocations); its dispose() frees nothing.
   */
  wrap(ptr: unknown, bytes: number): DeviceStorage;
  /**
   * Copy each read's dst.byteLength bytes from its `src` into its dst, after all work queued before: one wait for all
   * of them (readInt32s in tensor.ts reads up to four small tensors per checked decode call).
   */
  readToHost(reads: readonly HostRead[]): void;
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
  /** Return the blocks disposed tensors left in the backend's cache to the driver (cuda: block-cache.ts); the bytes. */
  releaseCache(): number;
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
  /**
   * The metadata may hold a packed request order (getMlaMetadata's packOrder; true when unknown): 'hopper' then runs its
   * entries that read the order table (src/mla/schedule.ts requestAt), else those that take positions as requests.
   */
  packedOrder: boolean;
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
  /** Query tokens per request (s_q), when known: the small-row Hopper kernel takes h_q · s_q ≤ 32 rows over either cache (the default up to 16 rows over the 16-bit cache, 32 over the FP8 cache). */
  sQ?: number;
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
  /**
   * Fill metadata [numSmParts, 8] and numSplits [b + 1] from cacheSeqlens (all on this backend): scheduleTiles' schedule
   * with the fifth rule's split-item cost `packCost` (0: the batch order).
   */
  mlaMetadata(cacheSeqlens: Tensor, tileSchedulerMetadata: Tensor, numSplits: Tensor, packCost: number): void;
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
  /**
   * Decode kernels this backend offers (first = default); given a decode's layout, the names that can run that one
   * (cuda: an FP8, sparse, h_kv > 1 or d_qk 512 decode runs on its own kernel of the 'generic' family, whatever
   * FLASH_MLA_DECODE_KERNEL narrows the dense default to; a dense FP8 decode with bf16 q over 64-token pages, and a
   * sparse one with bf16 q, also, and by default, on 'hopper' where that kernel runs; a dense decode with bf16 q, h_kv 1,
   * d_qk 576, 64-token pages and h_q · s_q ≤ 32 (FP8 cache: ≤ 16) — s_q given — by default on 'hopper-small' where it runs).
   */
  decodeKernels(decode?: Pick<DecodeFeatures, 'fp8' | 'sparse' | 'hQ' | 'hKv' | 'headDim' | 'dtype' | 'pageSize' | 'sQ'>): string[];
}

// ---------------------------------------------------------------------------------------------- measuring a device

/** What the choice of kernel binaries depends on (a device, or one assumed by `flash-mla info --assume`). */
export interface DeviceTraits {
  name: string;
  computeCapability: { major: number; minor: number };
  maxSharedMemoryPerBlockOptin: number;
}

/** A backend's device, as its driver describes it. */
export interface DeviceInfo extends DeviceTraits {
  ordinal: number;
  smCount: number;
  l2CacheBytes: number;
  totalMemoryBytes: number;
  /** The newest CUDA version the driver supports, as cuDriverGetVersion gives it (13000 = 13.0). */
  driverVersion: number;
}

/** Times work on a device: each run of a call, from its start to its end, in ms. */
export interface DeviceTimer {
  /** One line for a result: what is timed and how. */
  readonly description: string;
  /** How cached data (and with coldCode, cached code) is kept from helping (goes into a result). */
  readonly l2Flush: string;
  /** Whether every run starts with the decode's code evicted from the SMs' instruction caches (eventTimer's coldCode). */
  readonly coldCode?: boolean;
  /** Run `fn` `warmup` times (a device timer: more, up to its minimum warm-up time), then `iters` timed times; the per-run times in ms. */
  time(fn: () => void, iters: number, warmup: number): Promise<number[]>;
  /**
   * As `time` for several functions taken in turn — warm-up rounds of all of them, then `iters` rounds of one timed run
   * each — so that each sees the same SM clock (a compute-bound decode's runs slow down after ~20 ms of tensor-core
   * load as the GPU lowers its clock at its power limit). But a run can be slowed by the one before it at the same
   * clock (the bench's S1 after a metadata + decode run, perf log s60s), so the bench times its loops one after the
   * other with `time`. Per function, its per-run times in ms.
   */
  timeEach(fns: readonly (() => void)[], iters: number, warmup: number): Promise<number[][]>;
  dispose(): void;
}

/** Device-to-device copies timed on the device (what a memory-bandwidth ceiling is computed from). */
export interface CopyTiming {
  /** Bytes of each copy (each one reads and writes them). */
  bytes: number;
  /** Each timed copy, in ms. */
  ms: number[];
  /** What was copied, e.g. `cuMemcpyDtoDAsync of 307 MiB on this device`. */
  copy: string;
  /** What timed it, e.g. `CUDA events`. */
  clock: string;
}

/**
 * What the tools (the bench, `flash-mla info`) measure and report about a backend's device; the library itself
 * never uses it. Getting it opens no device: a method that needs one opens it (the backend's typed error when there
 * is none). Work it queues goes on the backend's stream, ordered with its kernels and DeviceMemory's copies.
 */
export interface DeviceMeasure {
  /** The device the backend runs on. */
  device(): DeviceInfo;
  /** The installed driver's own version (cuda: the NVIDIA kernel module's, e.g. '580.159'); null when unreadable. */
  driverRelease(): string | null;
  /** The SM clock in kHz (for a compute ceiling from the spec sheet). */
  clockRateKHz(): number;
  /** Device memory the event timer's L2 flush buffer takes, in bytes (what a run must leave free for it). */
  l2FlushBytes(): number;
  /**
   * A timer of work queued on the backend's stream that flushes the L2 cache before every run; a warm-up (when asked
   * for) lasts at least `minWarmupMs` by CUDA events (default: the backend's, 25 ms on cuda; 0: the runs asked for).
   */
  eventTimer(minWarmupMs?: number, opts?: { coldCode?: boolean }): DeviceTimer;
  /** `reps` timed device-to-device copies of `bytes` bytes (fewer bytes when free memory is short), after 2 untimed. */
  timeCopies(bytes: number, reps: number): CopyTiming;
  /** Median dense bf16 TFLOPS of a tensor-core probe over `reps` runs, or null where the device has none. */
  tensorCorePeakTflops(reps: number): number | null;
  /**
   * What `flash-mla info` says about the kernels: which run on this device (or on `assumed`, opening no device),
   * in which binary form and why, and the kernel directory they are loaded from.
   */
  kernelReport(assumed?: DeviceTraits): string[];
}

// ---------------------------------------------------------------------------------------------- registry

const backends = new Map<BackendName, () => MlaBackend>();
const instances = new Map<BackendName, MlaBackend>();
const measures = new Map<BackendName, DeviceMeasure>();

export function registerBackend(name: BackendName, factory: () => MlaBackend): void {
  backends.set(name, factory);
}

/** Register the device measurements of a backend that has a device (registerBackend registers the backend itself). */
export function registerDeviceMeasure(name: BackendName, measure: DeviceMeasure): void {
  measures.set(name, measure);
}

/**
 * The device measurements of backend `name`, for the tools; null for a backend without a device (cpu: the bench
 * times the host itself). Unlike getBackend it opens no device, so that `flash-mla info --assume` runs anywhere.
 */
export function getDeviceMeasure(name: BackendName): DeviceMeasure | null {
  if (!backends.has(name)) throw unknownBackend(name);
  return measures.get(name) ?? null;
}

function unknownBackend(name: BackendName): TypeError {
  return new TypeError(`backend: expected one of ${[...backends.keys()].join(', ')}, got '${name}'`);
}

export function getBackend(name: BackendName): MlaBackend {
  let b = instances.get(name);
  if (!b) {
    const f = backends.get(name);
    if (!f) throw unknownBackend(name);
    b = f();
    instances.set(name, b);
  }
  return b;
}
