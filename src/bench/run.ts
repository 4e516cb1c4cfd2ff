// The benchmark runner: for each config, build a fresh random problem (shuffled block table, NaN in unused
// slots), compute the tile-scheduler metadata once (outside the timed region, like FlashMLA's anchor), time
// the decode (decode + combine) with a Timer and, in a second loop after it, the same with the
// metadata kernel inside the timed region (the fixed cost a decoding step pays, like FlashMLA's
// `flashmla_with_metadata` anchor), check a sample of rows
// against a float64 oracle, derive TFLOPS, GB/s and the fraction of the roofline from ceilings measured in the
// same run, and compare with the peers' times of the references (src/bench/compare.ts).
//
// Over an FP8 cache (config.kv) the decode reads the cache's 656-byte rows (isFp8KvCache); a sparse config
// (config.topk) decodes over drawn indices (no block table, no seqlens) with metadata of its shape only, computed
// once: it has no +md timing. A config the backend refuses (UnsupportedFeatureError: the cuda backend, until its
// FP8 and sparse kernels land) is not run: the result lists it under `skipped` with the refusal's message.
//
//   const res = await runBench({ backend: 'cuda', configs: selectConfigs(undefined, 'sweep').configs });
//
// Timers: cpu — performance.now() around each call; cuda — the backend's event timer (getDeviceMeasure('cuda'),
// src/cuda/measure.ts: a CudaEvent pair around each call on the library's stream, with an L2 flush (memset of
// max(2 × L2, 256 MiB)) enqueued before every timed run, outside the pair, as triton.testing.do_bench does in
// FlashMLA's benchmark: K comes from HBM, not L2). The device is reached only through the backend interface.

import { cpus, arch, platform, totalmem } from 'node:os';
import { existsSync, readFileSync } from 'node:fs';
import { Tensor, getMlaMetadata, flashMlaWithKvcache, getBackend, cudaAvailable, UnsupportedFeatureError, type MlaMetadata } from '../index.js';
import { getDeviceMeasure, type DecodeFeatures, type DeviceMeasure, type DeviceTimer, type MlaBackend } from '../backend.js';
import { FP8_BYTES_PER_TOKEN, HEAD_DIM_K, HEAD_DIM_V, METADATA_ROW_INTS, PAGE_BLOCK_SIZE } from '../mla/constants.js';
import { isPackedSchedule } from '../mla/schedule.js';
import { readInt32s } from '../tensor.js';
import { fmtValue } from '../util/fmt-value.js';
import { disposeQuietly } from '../util/dispose.js';
import { type BenchConfig, configLabel, referenceCardFor, shippedReference, type ReferenceSeries } from './configs.js';
import { configBytes, configFlops, gbps, intensity, kvBytesPerToken, median, roofline, summarize, tflops } from './metrics.js';
import {
  type BenchProblem, checkSamples, isSparseProblem, makeBenchProblem, makeSparseBenchProblem, MAX_INT32, MAX_TYPED_ARRAY_LENGTH, pickSamples, problemFootprint,
  type SparseBenchProblem,
} from './problem.js';
import { PeerIndex, summarizeRatios } from './compare.js';
import { BENCH_SCHEMA, fmtBytes, fmtNum, type BenchResult, type BenchRow, type Ceiling, type DeviceRecord, type SkippedRun } from './report.js';
import { partialAttention } from '../cpu/mla.js';

// ---------------------------------------------------------------------------------------------- timers

/** A timer of the runs: the cpu one below, or a device backend's event timer (DeviceMeasure.eventTimer). */
export type Timer = DeviceTimer;

const tick = () => new Promise<void>((r) => setImmediate(r));

/** Wall clock around each call (the cpu backend is synchronous). */
export class CpuTimer implements Timer {
  readonly description = 'performance.now() around each call (the cpu backend is synchronous, one thread)';
  readonly l2Flush = 'none (cpu backend; the small sweep\'s caches fit in CPU caches, which is not what this run measures)';
  async time(fn: () => void, iters: number, warmup: number): Promise<number[]> {
    return (await this.timeEach([fn], iters, warmup))[0];
  }
  async timeEach(fns: readonly (() => void)[], iters: number, warmup: number): Promise<number[][]> {
    for (let i = 0; i < warmup; i++) for (const fn of fns) fn();
    const times = fns.map(() => [] as number[]);
    for (let i = 0; i < iters; i++) {
      fns.forEach((fn, f) => {
        const t0 = performance.now();
        fn();
        times[f].push(performance.now() - t0);
      });
      await tick();
    }
    return times;
  }
  dispose(): void {}
}

const MiB = 1 << 20;
const GiB = 1 << 30;

// ---------------------------------------------------------------------------------------------- ceilings

/** A device's copy bandwidth (bytes read + written) from `reps` timed device-to-device copies: their median. */
export function measureCopyBandwidthDevice(measure: DeviceMeasure, bytes = GiB, reps = 10): Ceiling {
  const t = measure.timeCopies(bytes, reps);
  const samples = t.ms.map((ms) => gbps(2 * t.bytes, ms));
  return {
    value: median(samples),
    source: 'measured',
    method: `${t.copy}, bytes read + written, median of ${reps} (${t.clock})`,
    samples: samples.map((x) => Math.round(x)),
  };
}

/** Dense bf16 tensor-core flop per clock per SM by compute capability (spec sheets), for the last-resort estimate. */
const TENSOR_FLOP_PER_CLK_SM: Record<string, number> = { '8.0': 2048, '8.6': 1024, '8.7': 1024, '8.9': 1024, '9.0': 4096, '10.0': 8192 };

export interface PeakOptions {
  peakTflops?: number;
  measureMatmulPeak?: () => number | Promise<number>;
  measureMatmulPeakMethod?: string;
}

/**
 * A device's compute ceiling, first that applies: --peak-tflops (user) · the measureMatmulPeak hook (measured) ·
 * the device's tensor-core probe (measured; cuda: the wgmma probe of kernels/tc_peak.cu on Hopper) · the
 * bf16 8192³ matmul measured on the same card model in the shipped anchors (reference: the higher of its runs, so
 * the fraction of the roofline is not overstated) · SMs × boost clock × dense bf16 flop/clk/SM (spec).
 */
export async function devicePeak(measure: DeviceMeasure, opts: PeakOptions): Promise<Ceiling> {
  if (opts.peakTflops !== undefined) return { value: opts.peakTflops, source: 'user', method: '--peak-tflops' };
  if (opts.measureMatmulPeak) {
    const v = await opts.measureMatmulPeak();
    return { value: v, source: 'measured', method: opts.measureMatmulPeakMethod ?? 'tensor-core matmul probe on this device (measureMatmulPeak)' };
  }
  const probed = measure.tensorCorePeakTflops(7);
  if (probed !== null) {
    return { value: probed, source: 'measured', method: 'bf16 wgmma m64n128k16 from shared memory on every SM, random operands (kernels/tc_peak.cu), median of 7' };
  }
  const info = measure.device();
  const card = referenceCardFor(info.name);
  const ref = card ? shippedReference(card) : null;
  const runs = ref?.ceilings.bf16_matmul_8192_TFLOPS;
  if (ref && runs && runs.length) {
    return {
      value: Math.max(...runs),
      source: 'reference',
      method:
        `bf16 8192×8192×8192 matmul (torch) measured on another ${ref.device} for the shipped anchors (${runs.join(', ')} TFLOPS; the highest is used), ` +
        'NOT measured on this machine — pass --peak-tflops to use your own',
    };
  }
  const cc = `${info.computeCapability.major}.${info.computeCapability.minor}`;
  const perClk = TENSOR_FLOP_PER_CLK_SM[cc];
  if (perClk) {
    const clockKHz = measure.clockRateKHz();
    const v = (info.smCount * clockKHz * 1e3 * perClk) / 1e12;
    return { value: v, source: 'spec', method: `${info.smCount} SMs × ${clockKHz / 1e3} MHz × ${perClk} dense bf16 flop/clk/SM (sm_${cc.replace('.', '')} spec) — theoretical, not measured` };
  }
  return { value: null, source: 'none', method: `no peak known for compute capability ${cc}: the roofline uses the memory ceiling alone (pass --peak-tflops)` };
}

/** Host memory copy rate (bytes read + written) of TypedArray.set, median of 5. */
export function measureCopyBandwidthCpu(bytes = 128 * MiB): Ceiling {
  const a = new Float64Array(bytes / 8).fill(1);
  const b = new Float64Array(bytes / 8);
  b.set(a);
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    b.set(a);
    samples.push(gbps(2 * bytes, performance.now() - t0));
  }
  return { value: median(samples), source: 'measured', method: `TypedArray.set of ${bytes / MiB} MiB on the host, bytes read + written, median of 5`, samples: samples.map((x) => Math.round(x * 10) / 10) };
}

let peakSink = 0; // written by measureCpuPeak so the timed loop has an observable result

/**
 * Rate of the cpu backend's inner loop: partialAttention (src/cpu/mla.ts), the function the cpu decode runs for
 * every query row and work item, over 128 tokens, float64, one core. Best of `reps` repetitions of ~20 ms each:
 * a JIT tier-up, a GC pause or another process can only make a repetition slower, so the fastest one is the
 * ceiling. (A median of 5 short runs of a separate dot-product loop varied 2× between runs and put the decode at
 * 122–153 % of its roofline.) Still only indicative: the decode also reads and converts K, schedules and
 * combines, and a CPU's clock moves with load and temperature — the cpu roofline is for orientation.
 */
export function measureCpuPeak(reps = 9): Ceiling {
  const tokens = 128;
  const q = new Float64Array(HEAD_DIM_K).map((_, i) => Math.sin(i));
  const k = new Float64Array(tokens * HEAD_DIM_K).map((_, i) => Math.cos(i) * 0.05);
  const flopPerCall = tokens * (HEAD_DIM_K + HEAD_DIM_V) * 2; // FlashMLA's count for one row over `tokens` keys
  const scale = 1 / Math.sqrt(HEAD_DIM_K);
  let sink = 0;
  const run = (calls: number) => {
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) sink += partialAttention(q, k, tokens, scale).lse;
    return performance.now() - t0;
  };
  run(50); // warm-up: optimised code before anything is timed
  const perCallMs = Math.max(run(10) / 10, 1e-4);
  const calls = Math.max(10, Math.ceil(20 / perCallMs)); // ~20 ms per repetition: long against timer resolution
  const samples: number[] = [];
  for (let r = 0; r < reps; r++) samples.push(tflops(flopPerCall * calls, run(calls)));
  peakSink = sink; // keep the loop's result alive
  return {
    value: Math.max(...samples),
    source: 'measured',
    method: `the cpu decode's inner loop (partialAttention over ${tokens} tokens, float64, one core), best of ${reps} repetitions of ${calls} calls — indicative only`,
    samples,
  };
}

// ---------------------------------------------------------------------------------------------- runner

export type BenchProgress =
  | { phase: 'ceilings'; message: string }
  /** How long the timed part will take, estimated from the compute ceiling (cpu backend only). */
  | { phase: 'estimate'; seconds: number; message: string }
  | { phase: 'config'; index: number; total: number; config: BenchConfig; kernel?: string; step: 'generating' | 'uploading' | 'timing' | 'checking' }
  | { phase: 'row'; index: number; total: number; row: BenchRow }
  /** A config (or one kernel of it) the backend refuses: not run, listed in the result's `skipped`. */
  | { phase: 'skip'; index: number; total: number; skipped: SkippedRun };

export interface BenchOptions extends PeakOptions {
  backend: 'cpu' | 'cuda';
  configs: BenchConfig[];
  /** What `configs` is (recorded in the result), e.g. `sweep (all 32)`. */
  configsSource?: string;
  /** Decode kernels to compare (cuda: names from decodeKernels(); default: the backend's first). */
  kernels?: string[];
  /** Timed runs per config (default cuda 100, cpu 3). */
  iters?: number;
  /** Untimed runs before, besides one value-checked call (default cuda 10, cpu 0). */
  warmup?: number;
  /** Base seed (default random); config i uses seed + i·7919. */
  seed?: number;
  /** Rows checked per config and kernel (default 8; 0 skips the check). */
  checkSamples?: number;
  /** Dense configs: metadata with getMlaMetadata's packOrder (default: getMlaMetadata's default — off unless FLASH_MLA_EXPERIMENT_PACK). */
  packOrder?: boolean;
  /**
   * Dense configs on a device: where the schedule is made. 'device' (default): getMlaMetadata of the device lengths, a
   * metadata kernel per call. 'host': getMlaMetadata of a host copy of the lengths for the device (scheduleTiles on the
   * host, written by one host→device copy into one allocation; what PagedKvCache.metadata does) — `+md ms` then times
   * that copy with the decode, and each row's `mdHostUs` is the host's time per metadata call. The cpu backend makes it
   * on the host either way.
   */
  metadata?: 'device' | 'host';
  /**
   * GPU runs: before every run (after the L2 flush) other code runs on every SM (kernels/code_evict.cu), so each run
   * starts with the decode's code cold, as in a model where other kernels run between attention calls. Default false:
   * warm code, as the peers' benchmarks time it. The cpu backend refuses it, and so does a GPU with no binary of
   * code_evict (sm_80–sm_90 only: before any measurement). Ignored with `timer` (the result says what the timer did).
   */
  coldCode?: boolean;
  /**
   * Reference measurements: the first series' matching config goes into each row (`reference`), and the
   * peers' (series with a `peer` id: the shipped anchors) into its `peers`.
   */
  references?: ReferenceSeries[];
  /** Memory a config may need (default: this machine's; see checkConfigsFit). */
  memoryLimits?: MemoryLimits;
  /** Replace the backend's timer (tests, other clocks). */
  timer?: Timer;
  /** Replace the bandwidth ceiling (tests: skip the measurement). */
  bandwidth?: Ceiling;
  /** Replace the compute ceiling. */
  peak?: Ceiling;
  onProgress?: (p: BenchProgress) => void;
}

export function packageVersion(): string {
  for (const rel of ['../../../package.json', '../../package.json']) {
    const u = new URL(rel, import.meta.url);
    if (existsSync(u)) return (JSON.parse(readFileSync(u, 'utf8')) as { version: string }).version;
  }
  return '0.0.0';
}

export function fmtDriverVersion(v: number): string {
  return `${Math.floor(v / 1000)}.${(v % 1000) / 10}`;
}

function hostRecord(): BenchResult['host'] {
  const c = cpus();
  return { node: process.version, platform: platform(), arch: arch(), cpuModel: c[0]?.model?.trim() ?? 'unknown', cpus: c.length };
}

function deviceRecord(measure: DeviceMeasure | null): DeviceRecord {
  if (!measure) {
    const h = hostRecord();
    return { kind: 'cpu', name: `${h.cpuModel} (${h.cpus} cores; cpu backend: TypeScript, float64, one thread)`, driverVersion: null, nvidiaDriver: null, computeCapability: null, smCount: null, memoryBytes: null, l2CacheBytes: null };
  }
  const i = measure.device();
  return {
    kind: 'gpu',
    name: i.name,
    driverVersion: fmtDriverVersion(i.driverVersion),
    nvidiaDriver: measure.driverRelease(),
    computeCapability: `${i.computeCapability.major}.${i.computeCapability.minor}`,
    smCount: i.smCount,
    memoryBytes: i.totalMemoryBytes,
    l2CacheBytes: i.l2CacheBytes,
  };
}

export interface ProblemTensors {
  q: Tensor;
  /** bf16/fp16 [numBlocks, 64, 1, 576], or uint8 [numBlocks, 64, 1, 656] (FP8 cache, sparse problems). */
  kCache: Tensor;
  /** Dense problems. */
  blockTable: Tensor | null;
  cacheSeqlens: Tensor | null;
  /** Sparse problems: int32 [b, s_q, topk]. */
  indices: Tensor | null;
  dispose(): void;
}

/** A problem's tensors on `backend` (dispose() frees them); also for the dev scripts (scripts/clock-drift.mjs). */
export function uploadProblem(p: BenchProblem | SparseBenchProblem, backend: 'cpu' | 'cuda'): ProblemTensors {
  const { memory } = getBackend(backend);
  const { b, s_q: sQ, h_q: hQ } = p.config;
  const dtype = p.dtype;
  const qShape = [b, sQ, hQ, HEAD_DIM_K];
  const fp8Cache = isSparseProblem(p) ? p.kBytes : p.kBytes ?? null;
  const kShape = [p.numBlocks, PAGE_BLOCK_SIZE, 1, fp8Cache ? FP8_BYTES_PER_TOKEN : HEAD_DIM_K];
  const kDtype = fp8Cache ? 'uint8' : dtype;
  const kHost = fp8Cache ?? (p as BenchProblem).kBits;
  const made: Tensor[] = [];
  const keep = <T extends Tensor>(t: T): T => (made.push(t), t);
  try {
    let q: Tensor;
    let kCache: Tensor;
    if (memory) {
      // device storage: straight from the host arrays (Tensor.from would copy a 1.2 GB cache once more on the host)
      q = keep(Tensor.empty(qShape, { dtype, backend }));
      kCache = keep(Tensor.empty(kShape, { dtype: kDtype, backend }));
      memory.writeFromHost(q.ptr, p.qBits);
      memory.writeFromHost(kCache.ptr, kHost);
    } else {
      q = keep(Tensor.from(p.qBits, qShape, { dtype, backend }));
      kCache = keep(Tensor.from(kHost, kShape, { dtype: kDtype, backend }));
    }
    const sparse = isSparseProblem(p);
    const blockTable = sparse ? null : keep(Tensor.from(p.table, [b, p.maxBlocksPerSeq], { dtype: 'int32', backend }));
    const cacheSeqlens = sparse ? null : keep(Tensor.from(p.seqlens, [b], { dtype: 'int32', backend }));
    const indices = sparse ? keep(Tensor.from(p.indices, [b, sQ, p.topk], { dtype: 'int32', backend })) : null;
    return {
      q,
      kCache,
      blockTable,
      cacheSeqlens,
      indices,
      dispose() {
        for (const t of made) t.dispose();
      },
    };
  } catch (e) {
    for (const t of made) t.dispose(); // out of device memory half-way: what was made must not leak
    throw e;
  }
}

/** The schedule a dense config's timed runs use, read from their metadata once (outside any timing). */
function scheduleOf(md: MlaMetadata, b: number): NonNullable<BenchRow['schedule']> {
  const [splits, metadata] = readInt32s([md.numSplits, md.tileSchedulerMetadata]) as Int32Array[];
  return { parts: md.tileSchedulerMetadata.shape[0], pieces: splits[b], packed: isPackedSchedule(metadata) };
}

/**
 * The kernel names `--kernel` may give for these configs: the backend's decode kernels, and those only some configs'
 * decodes offer (one such as 'hopper-small', which takes only some shapes; the configs it cannot take are skipped with the reason).
 */
export function benchKernels(be: MlaBackend, configs: readonly BenchConfig[]): string[] {
  // by layout, not by s_q: a kernel that takes some s_q of a config's layout is named here, and a config whose rows it
  // cannot take is skipped with the backend's reason
  return [...new Set([...be.decodeKernels(), ...configs.flatMap((c) => be.decodeKernels({ ...configFeatures(c), sQ: undefined }))])];
}

/** What a config asks of a backend (DecodeFeatures), from its shape alone. */
export function configFeatures(c: BenchConfig): DecodeFeatures {
  const sparse = c.topk !== undefined;
  return {
    dtype: c.dtype, hQ: c.h_q, sQ: c.s_q, hKv: 1, headDim: HEAD_DIM_K, pageSize: PAGE_BLOCK_SIZE, fp8: sparse || c.kv === 'fp8', sparse, topk: c.topk ?? 0,
    topkLength: false, attnSink: false,
  };
}

/** The backend's refusal of a config (its UnsupportedFeatureError), or null when it runs it; other errors are thrown. */
export function refusalOf(be: MlaBackend, c: BenchConfig): UnsupportedFeatureError | null {
  try {
    be.checkDecode(configFeatures(c));
    return null;
  } catch (e) {
    if (e instanceof UnsupportedFeatureError) return e;
    throw e;
  }
}

export interface MemoryLimits {
  /** Host memory (bytes). */
  hostBytes: number;
  /** Where the host limit comes from, in words. */
  hostSource: string;
  /** Device memory free for the problem (bytes; cuda backend). */
  deviceBytes?: number;
  deviceSource?: string;
  /** SMs the split partials are sized for. */
  smCount?: number;
}

/** This machine's limits: all of its memory (os.totalmem()), and on cuda the device's free memory minus the L2 flush buffer. */
export function machineMemoryLimits(backend: 'cpu' | 'cuda'): MemoryLimits {
  const host: MemoryLimits = { hostBytes: totalmem(), hostSource: 'os.totalmem()' };
  const measure = getDeviceMeasure(backend);
  if (!measure) return host;
  const { memory } = getBackend(backend);
  const flush = measure.l2FlushBytes(); // the timer's scratch buffer
  memory!.releaseCache(); // (what disposed tensors left in the library's cache is free for the configs)
  return { ...host, deviceBytes: memory!.info().free - flush, deviceSource: `free device memory less the ${fmtBytes(flush)} L2 flush buffer`, smCount: measure.device().smCount };
}

/**
 * Refuse configs that cannot run here before anything runs (a RangeError naming the config and the limit): a
 * seqlen beyond int32, a K cache longer than a typed array can be, more host memory than the machine has, more
 * device memory than is free.
 */
export function checkConfigsFit(configs: readonly BenchConfig[], backend: 'cpu' | 'cuda', limits: MemoryLimits = machineMemoryLimits(backend)): void {
  for (const c of configs) {
    const where = `config ${c.id} (${configLabel(c)})`;
    const f = problemFootprint(c, backend, limits.smCount);
    const tokens = c.seqlens.reduce((a, x) => a + x, 0);
    if (f.hostBytes > limits.hostBytes) {
      const perToken = c.kv === 'fp8' || c.topk !== undefined ? `${FP8_BYTES_PER_TOKEN} B (FP8)` : `576 × ${kvBytesPerToken(c) / HEAD_DIM_K} B`;
      throw new RangeError(
        `${where}: needs about ${fmtBytes(f.hostBytes)} of host memory (a K cache of ${tokens} tokens × ${perToken}` +
          `${backend === 'cpu' ? ', held ~3 times by the cpu backend' : ''}), this machine has ${fmtBytes(limits.hostBytes)} (${limits.hostSource})`,
      );
    }
    const tooLong = c.seqlens.find((x) => x > MAX_INT32);
    if (tooLong !== undefined) throw new RangeError(`${where}: seqlen ${tooLong} exceeds the int32 range of cacheSeqlens (≤ ${MAX_INT32})`);
    if (f.kElements > MAX_TYPED_ARRAY_LENGTH) {
      throw new RangeError(`${where}: its K cache (${f.kElements} elements) is longer than a typed array can be in this Node (${MAX_TYPED_ARRAY_LENGTH})`);
    }
    if (limits.deviceBytes !== undefined && f.deviceBytes > limits.deviceBytes) {
      throw new RangeError(`${where}: needs about ${fmtBytes(f.deviceBytes)} of device memory, ${fmtBytes(Math.max(limits.deviceBytes, 0))} is available (${limits.deviceSource ?? 'device'})`);
    }
  }
}

/** Runs of a config per kernel: 1 value-checked + warm-up + timed, the last two twice for dense (ms and +md ms). */
export function runsPerConfig(c: Pick<BenchConfig, 'topk'>, iters: number, warmup: number): number {
  return 1 + (c.topk !== undefined ? 1 : 2) * (warmup + iters);
}

/**
 * Seconds the timed part of a cpu run will take: every run (runsPerConfig) of every config and kernel at the
 * compute ceiling (the cpu decode is compute-bound; the ceiling is its own inner loop's best rate, so this is a
 * lower bound).
 */
export function estimateCpuSeconds(configs: readonly BenchConfig[], kernels: number, iters: number, warmup: number, peakTflops: number): number {
  const flops = configs.reduce((a, c) => a + configFlops(c) * runsPerConfig(c, iters, warmup), 0);
  return (flops * kernels) / (peakTflops * 1e12);
}

/** Host-metadata calls timed one by one on the host (performance.now); their median in µs. */
const HOST_METADATA_CALLS = 41;

/**
 * The host's time per call of `write` (a getMlaMetadata from host lengths: the schedule and its copy's enqueue),
 * median of HOST_METADATA_CALLS calls after one untimed, each timed alone — the GPU is not waited for.
 */
function hostMetadataMicros(write: () => unknown): number {
  write();
  const us: number[] = [];
  for (let i = 0; i < HOST_METADATA_CALLS; i++) {
    const t = performance.now();
    write();
    us.push((performance.now() - t) * 1e3);
  }
  return median(us);
}

/** Run the benchmark; see BenchOptions. Rejects on the first failure that stops a config (e.g. a CUDA error). */
export async function runBench(opts: BenchOptions): Promise<BenchResult> {
  const t0 = performance.now();
  const date = new Date().toISOString();
  const { backend } = opts;
  if (opts.configs.length === 0) throw new RangeError('runBench: no configs');
  if (backend === 'cuda' && !cudaAvailable()) throw new Error('runBench: the cuda backend is not available on this machine');
  const be = getBackend(backend);
  const available = be.decodeKernels();
  const offered = benchKernels(be, opts.configs);
  // no --kernel: per config the first of the backend's kernels for that decode that runs it (decodeKernels(decode):
  // on cuda dense FP8 and sparse decode with bf16 q on 'hopper' where it runs, the dense 16-bit ones on the first);
  // with --kernel, exactly those
  const defaultKernel = !(opts.kernels && opts.kernels.length);
  const kernels = defaultKernel ? available.slice(0, 1) : opts.kernels!;
  for (const k of kernels) {
    if (!offered.includes(k)) throw new RangeError(`--kernel: '${k}' is not a decode kernel of the ${backend} backend here (have: ${offered.join(', ') || 'none'})`);
  }
  const iters = opts.iters ?? (backend === 'cuda' ? 100 : 3);
  // the cpu backend's first (value-checked) call is its warm-up
  const warmup = opts.warmup ?? (backend === 'cuda' ? 10 : 0);
  if (!Number.isSafeInteger(iters) || iters < 1) throw new RangeError(`iters: expected an integer ≥ 1, got ${iters}`);
  if (!Number.isSafeInteger(warmup) || warmup < 0) throw new RangeError(`warmup: expected an integer ≥ 0, got ${warmup}`);
  const coldCode = opts.coldCode ?? false;
  if (typeof coldCode !== 'boolean') throw new TypeError(`coldCode: expected a boolean, got ${fmtValue(coldCode)}`);
  if (coldCode && backend === 'cpu') throw new RangeError('coldCode: expected false on the cpu backend (it has no GPU instruction caches to evict), got true');
  const metadataFrom = opts.metadata ?? 'device';
  if (metadataFrom !== 'device' && metadataFrom !== 'host') throw new TypeError(`metadata: expected 'device' or 'host', got ${fmtValue(metadataFrom)}`);
  const seed = (opts.seed ?? Math.floor(Math.random() * 2 ** 31)) >>> 0;
  const nSamples = opts.checkSamples ?? 8;
  const progress = opts.onProgress ?? (() => {});
  // configs the backend refuses are skipped, not run: they need no memory and no time
  const runnable = opts.configs.filter((c) => refusalOf(be, c) === null);
  checkConfigsFit(runnable, backend, opts.memoryLimits);
  // the device's own measurements (cuda); the cpu backend has no device: the host is measured here
  const measure = getDeviceMeasure(backend);
  const device = deviceRecord(measure);

  // --cold-code: its timer first, so a GPU with no binary of code_evict is refused before the ceilings' measurements
  const earlyTimer = coldCode && !opts.timer && measure ? measure.eventTimer(undefined, { coldCode }) : null;
  let bandwidth: Ceiling;
  let peak: Ceiling;
  try {
    progress({ phase: 'ceilings', message: 'measuring the memory ceiling' });
    bandwidth = opts.bandwidth ?? (measure ? measureCopyBandwidthDevice(measure) : measureCopyBandwidthCpu());
    progress({ phase: 'ceilings', message: 'compute ceiling' });
    peak = opts.peak ?? (measure ? await devicePeak(measure, opts) : measureCpuPeak());
    if (bandwidth.value === null) throw new Error('runBench: no bandwidth ceiling');
  } catch (e) {
    disposeQuietly(earlyTimer); // (the measurement's error is the one to report)
    throw e;
  }
  const ceil = { bandwidthGBps: bandwidth.value, peakTflops: peak.value };
  if (backend === 'cpu' && peak.value !== null && runnable.length > 0) {
    const seconds = estimateCpuSeconds(runnable, kernels.length, iters, warmup, peak.value);
    const sparse = runnable.filter((c) => c.topk !== undefined).length;
    const runs =
      sparse === 0
        ? `${runsPerConfig({}, iters, warmup)} runs (1 checked + ${warmup} warm-up + ${iters} timed, for ms and +md ms)`
        : sparse === runnable.length
          ? `${runsPerConfig({ topk: 1 }, iters, warmup)} runs (1 checked + ${warmup} warm-up + ${iters} timed; sparse decode has no +md timing)`
          : `${runsPerConfig({ topk: 1 }, iters, warmup)}–${runsPerConfig({}, iters, warmup)} runs (1 checked + ${warmup} warm-up + ${iters} timed, dense ones also for +md ms)`;
    progress({ phase: 'estimate', seconds, message: `${runnable.length} config(s) × ${kernels.length} kernel(s) × ${runs} at ${fmtNum(peak.value * 1e3)} GFLOP/s` });
  }

  const timer: Timer = opts.timer ?? earlyTimer ?? (measure ? measure.eventTimer() : new CpuTimer());
  const peers = new PeerIndex(opts.references ?? []);
  const rows: BenchRow[] = [];
  const skipped: SkippedRun[] = [];
  const total = opts.configs.length;
  const skip = (ci: number, config: BenchConfig, kernel: string, e: UnsupportedFeatureError) => {
    const { id, ...cfg } = config;
    const entry: SkippedRun = { id, config: cfg, kernel, error: e.name, reason: e.message };
    skipped.push(entry);
    progress({ phase: 'skip', index: ci, total, skipped: entry });
  };
  let kScratch: Uint16Array | undefined; // host K buffer reused across configs
  let bytesScratch: Uint8Array | undefined; // host FP8 cache buffer reused across configs
  try {
    for (let ci = 0; ci < total; ci++) {
      const config = opts.configs[ci];
      // what the backend cannot run is reported, not run: nothing generated, allocated or launched for it
      const refused = refusalOf(be, config);
      if (refused) {
        for (const kernel of kernels) skip(ci, config, kernel, refused);
        continue;
      }
      const sparse = config.topk !== undefined;
      progress({ phase: 'config', index: ci, total, config, step: 'generating' });
      await tick();
      const problemSeed = (seed + ci * 7919) >>> 0;
      let p: BenchProblem | SparseBenchProblem;
      if (sparse) {
        p = makeSparseBenchProblem(config, problemSeed, bytesScratch);
        bytesScratch = new Uint8Array(p.kBytes.buffer);
      } else {
        p = makeBenchProblem(config, problemSeed, kScratch, bytesScratch);
        kScratch = new Uint16Array(p.kBits.buffer);
        if (p.kBytes) bytesScratch = new Uint8Array(p.kBytes.buffer);
      }
      progress({ phase: 'config', index: ci, total, config, step: 'uploading' });
      const t = uploadProblem(p, backend);
      const { b, s_q: sQ, h_q: hQ } = config;
      const owned: Tensor[] = [];
      try {
        const out = Tensor.empty([b, sQ, hQ, HEAD_DIM_V], { dtype: p.dtype, backend });
        owned.push(out);
        const lse = Tensor.empty([b, hQ, sQ], { dtype: 'fp32', backend });
        owned.push(lse);
        // metadata once per config, outside the timed region (FlashMLA's `flashmla` anchor does the same); sparse:
        // of the shape only (every request costs topk tokens), written from the host; dense with --metadata host: from
        // a host copy of the lengths, written to the device (no metadata kernel)
        const hostLens = !sparse && metadataFrom === 'host' && backend !== 'cpu' ? Tensor.from((p as BenchProblem).seqlens, [b], { dtype: 'int32', backend: 'cpu' }) : null;
        if (hostLens) owned.push(hostLens);
        const lensForMd = hostLens ?? t.cacheSeqlens;
        const md: MlaMetadata = sparse
          ? getMlaMetadata(null, sQ * hQ, 1, { topk: config.topk, batchSize: b, backend })
          : getMlaMetadata(lensForMd, sQ * hQ, 1, { packOrder: opts.packOrder, backend });
        owned.push(md.tileSchedulerMetadata, md.numSplits);
        // the +md runs' own metadata buffers: a getMlaMetadata that does not read the seqlens (checkValues false) marks
        // its metadata as possibly packed, and the plain runs must keep md's record (the
        // decode picks 'hopper''s batch-order or table-reading entries from it)
        let mdTimed: MlaMetadata | null = null;
        if (hostLens) {
          // (host lengths: buffers as PagedKvCache.metadata's — one allocation, numSplits right after the rows — so
          // each +md run writes its schedule with one host→device copy, as a server's step does)
          const parts = md.tileSchedulerMetadata.shape[0];
          const both = Tensor.empty([parts * METADATA_ROW_INTS + b + 1], { dtype: 'int32', backend });
          owned.push(both);
          const out = { tileSchedulerMetadata: both.view([parts, METADATA_ROW_INTS], undefined, 0), numSplits: both.view([b + 1], undefined, parts * METADATA_ROW_INTS) };
          mdTimed = getMlaMetadata(lensForMd, sQ * hQ, 1, { packOrder: opts.packOrder, checkValues: false, out });
        } else if (!sparse) {
          mdTimed = getMlaMetadata(lensForMd, sQ * hQ, 1, { packOrder: opts.packOrder, checkValues: false, backend });
          owned.push(mdTimed.tileSchedulerMetadata, mdTimed.numSplits);
        }
        const schedule = sparse ? undefined : scheduleOf(md, b);
        const fp8 = sparse || config.kv === 'fp8';
        let firstKernelMs: number | null = null;
        let firstKernel = '';
        // no --kernel: the backend's kernels for this decode, its default first
        const candidates = defaultKernel ? be.decodeKernels(configFeatures(config)) : kernels;
        let ranOne = false;
        for (const [ki, kernel] of candidates.entries()) {
          if (defaultKernel && ranOne) break;
          const decode = (checkValues: boolean, m: MlaMetadata = md) =>
            flashMlaWithKvcache(t.q, t.kCache, t.blockTable, t.cacheSeqlens, HEAD_DIM_V, m.tileSchedulerMetadata, m.numSplits, {
              causal: sparse ? false : config.causal,
              out,
              lse,
              kernel,
              checkValues,
              isFp8KvCache: fp8,
              indices: t.indices,
            });
          out.fill(NaN); // a kernel that writes nothing must not pass on the previous kernel's output
          try {
            decode(true); // once with the value checks (reads seqlens and block table back)
          } catch (e) {
            // a refusal of this kernel (the backend's check passed the config): reported, the next kernel runs;
            // with no --kernel, a refusal of the kernel itself only passes the config on to the next one
            if (!(e instanceof UnsupportedFeatureError)) throw e;
            if (defaultKernel && e.argument === 'kernel' && ki < candidates.length - 1) continue;
            skip(ci, config, kernel, e);
            continue;
          }
          ranOne = true;
          progress({ phase: 'config', index: ci, total, config, kernel, step: 'timing' });
          await tick();
          // dense: then the same with the metadata kernel inside the timed region (into mdTimed: the same values), in a
          // loop of its own after the plain one. The plain loop comes first and alone, as the peers' do_bench loops
          // ran: taken in turn with +md runs (sessions 59–60), a plain run that followed a +md run was slower at the same
          // SM clock (S1 on an H100: the decode's span 19 → 25 µs; perf log, s60s). The +md loop inherits the clock the
          // plain loop leaves: on long compute-bound rows the GPU's power limit has lowered it by then (sweep#30 on an
          // H100: 1.73 → 1.49 GHz), so there +md ms − ms overstates the metadata's cost.
          const writeMetadata = () => getMlaMetadata(lensForMd!, sQ * hQ, 1, { out: mdTimed!, checkValues: false, packOrder: opts.packOrder });
          const decodeWithMetadata = () => {
            writeMetadata();
            decode(false, mdTimed!);
          };
          const times = await timer.time(() => decode(false), iters, warmup);
          const mdTimes = sparse ? null : await timer.time(decodeWithMetadata, iters, warmup);
          const mdHostUs = hostLens ? hostMetadataMicros(writeMetadata) : undefined;
          let check = null;
          if (nSamples > 0) {
            progress({ phase: 'config', index: ci, total, config, kernel, step: 'checking' });
            await tick();
            check = checkSamples(p, out.toRaw() as Uint16Array, lse.toRaw() as Float32Array, pickSamples(p, nSamples));
          }
          const flops = configFlops(config);
          const bytes = configBytes(config, isSparseProblem(p) ? p.gatheredTokens : undefined);
          const st = summarize(times);
          const ms = st.median;
          const mdMs = mdTimes ? median(mdTimes) : undefined;
          const roof = roofline(flops, bytes, ceil);
          const { id, ...cfg } = config;
          const row: BenchRow = {
            id,
            config: cfg,
            kernel,
            ms,
            timesMs: times,
            ...(mdTimes ? { mdMs, mdTimesMs: mdTimes } : {}),
            ...(mdHostUs !== undefined ? { mdHostUs } : {}),
            minMs: st.min,
            maxMs: st.max,
            iqrRel: st.iqrRel,
            flops,
            bytes,
            intensity: intensity(flops, bytes),
            TFLOPS: tflops(flops, ms),
            GBps: gbps(bytes, ms),
            floorMs: roof.floorMs,
            rooflineFraction: roof.floorMs / ms,
            bound: roof.bound,
            check,
            ...(schedule ? { schedule } : {}),
          };
          if (isSparseProblem(p)) row.sparse = { gatheredTokens: p.gatheredTokens, validIndices: p.validIndices, invalidIndices: p.invalidIndices };
          const reference = peers.reference(config, ms, kernel);
          if (reference) row.reference = reference;
          const peerTimes = peers.compare(config, ms, mdMs);
          if (peerTimes) row.peers = peerTimes;
          if (firstKernelMs === null) {
            firstKernelMs = ms;
            firstKernel = kernel;
          } else row.vsKernel = { kernel: firstKernel, ms: firstKernelMs, speedup: firstKernelMs / ms };
          rows.push(row);
          progress({ phase: 'row', index: ci, total, row });
        }
      } finally {
        if (be.memory) {
          try {
            be.memory.synchronize(); // nothing in flight may still use what is freed next
          } catch {
            // a sticky CUDA error: the original exception is what matters
          }
        }
        for (const x of owned) x.dispose();
        t.dispose();
      }
    }
  } finally {
    if (!opts.timer) timer.dispose();
  }

  const label =
    backend === 'cuda'
      ? `MLA decode, ${total} config(s) (${opts.configsSource ?? 'custom'}), cuda backend on ${device.name}`
      : `cpu backend (TypeScript float64 oracle), ${total} config(s) (${opts.configsSource ?? 'custom'}) — NOT a GPU measurement`;
  return {
    schema: BENCH_SCHEMA,
    tool: { name: 'flash-mla', version: packageVersion() },
    date,
    backend,
    label,
    device,
    host: hostRecord(),
    settings: {
      configs: opts.configsSource ?? `${total} custom config(s)`,
      kernels,
      iters,
      warmup,
      seed,
      timer: timer.description,
      timed:
        'ms: decode + combine, the metadata computed once per config before, outside the timing (as FlashMLA\'s `flashmla` anchor); +md ms (mdMs): metadata + decode + combine, all inside the timing (as `flashmla_with_metadata`), timed in a loop of its own after the ms loop (on long compute-bound rows at the lower clock the power limit leaves by then); ' +
        (metadataFrom === 'host' && backend !== 'cpu'
          ? 'metadata from the host (--metadata host): the schedule made on the host from host lengths and written by one host→device copy (into one allocation, as PagedKvCache.metadata\'s buffers), which +md ms times with the decode (the host\'s own time per call: mdHostUs); '
          : '') +
        'sparse configs (topk): ms only, their metadata depends on the shape alone and is computed once',
      ...(backend !== 'cpu' ? { metadata: metadataFrom } : {}),
      l2Flush: timer.l2Flush,
      ...(timer.coldCode ? { coldCode: true } : {}),
      checkSamples: nSamples,
    },
    ceilings: { bandwidthGBps: bandwidth, peakTflops: peak },
    references: (opts.references ?? []).map((r) => r.name),
    rows,
    skipped,
    // without --kernel each config ran on its own default kernel: one geomean over all of them
    summary: { ratios: defaultKernel && new Set(rows.map((r) => r.kernel)).size > 1 ? summarizeRatios(rows, undefined, 'default') : summarizeRatios(rows, kernels) },
    totalSeconds: (performance.now() - t0) / 1e3,
  };
}
