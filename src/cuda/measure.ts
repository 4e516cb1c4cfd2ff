// The cuda backend's device measurements (backend.ts DeviceMeasure), for the tools: the bench's event timer with
// its L2 flush, the copies behind its memory ceiling, the tensor-core probe behind its compute ceiling, the device
// and driver it records, and the kernel report of `flash-mla info`. The bench and the CLI reach them through
// getDeviceMeasure('cuda'); the library never uses them.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { registerDeviceMeasure, type CopyTiming, type DeviceMeasure, type DeviceTimer, type DeviceTraits } from '../backend.js';
import { getCudaContext, kernelDir, kernelSelection, loadKernel } from './context.js';
import { call, outI32 } from './driver.js';
import { chooseBinary, describeSelection, KERNEL_BUILDS, selectKernels, selectOptionsFromEnv, smallRowUnrunnable, SMALL_ROW_HOPPER_KERNEL, type KernelSelection } from './kernels.js';
import { allocDeviceBuffer, deviceBlockCache } from './block-cache.js';
import { CudaEvent, type DeviceBuffer, type Kernel, copyDtoD, memset } from './runtime.js';
import { disposeQuietly } from '../util/dispose.js';

const MiB = 1 << 20;

// CUdevice_attribute (cuda.h)
const CU_DEVICE_ATTRIBUTE_CLOCK_RATE = 13;

const tick = () => new Promise<void>((r) => setImmediate(r));

type Owned = { dispose(): void };

/**
 * Run `fn`, which passes what it allocates through `keep`; then free all of it — quietly when `fn` throws, so that
 * a failure half-way leaves nothing allocated and the error thrown is the one naming the call that failed.
 */
function freeingAfter<T>(fn: (keep: <D extends Owned>(x: D) => D) => T): T {
  const made: Owned[] = [];
  let result: T;
  try {
    result = fn((x) => (made.push(x), x));
  } catch (e) {
    disposeQuietly(...made);
    throw e;
  }
  for (const x of made) x.dispose();
  return result;
}

/** The event timer's L2 flush buffer: max(2 × L2, 256 MiB), so that nothing of the previous run stays in L2. */
function l2FlushBytes(l2CacheBytes: number): number {
  return Math.max(2 * l2CacheBytes, 256 * MiB);
}

/**
 * The time (ms, between CUDA events around it: the GPU's work and any gaps between) the event timer's warm-up lasts at
 * least when it warms up at all — triton.testing.do_bench's default warm-up. A count alone was too short for the
 * shortest rows: a ~20 µs decode's 10 warm-up runs (with their L2 flushes) are ~1 ms of GPU work, and a GPU that had
 * idled while the host built the problem then ran the timed runs at a lower clock (H200: the b 2 sparse rows 2–3×
 * slow in one process of several, perf log sessions 25–28).
 */
export const MIN_WARMUP_MS = 25;
/** Warm-up runs at most, whatever the events say (a device whose events do not advance). */
const MAX_WARMUP_RUNS = 10_000;

/**
 * kernels/code_evict.cu: four warps per CTA (one per SM sub-partition: each has its own first-level instruction cache)
 * and two CTAs per SM in the grid (the usual placement is one per SM; the second covers SMs a placement doubles up).
 */
const CODE_EVICT_THREADS = 128;
const CODE_EVICT_CTAS_PER_SM = 2;
/** What --cold-code adds to the timer's flush, for the result's header. */
const CODE_EVICT_NOTE =
  "; then 256 KB of other code run by four warps per CTA, two CTAs per SM (kernels/code_evict.cu, --cold-code): each run starts with its code in no SM's instruction cache and not in L2, as in a model, where other kernels run between two attention calls";

/** kernels/code_evict.cu's cubin for this device (sm_80 or sm_90 SASS; UnsupportedDeviceError where neither runs). */
function loadCodeEvict(): Kernel {
  const choice = chooseBinary(KERNEL_BUILDS.code_evict, getCudaContext().device.info);
  return loadKernel('code_evict', choice.form === 'cubin' ? [choice.arch!] : [], 'code_evict', ['f32', 'ptr']);
}

export interface EventTimerOptions {
  /** Before every run, after the L2 flush, evict the decode's code from every SM's instruction caches (kernels/code_evict.cu). */
  coldCode?: boolean;
}

/**
 * CUDA events around each call on the library's stream. Before every run (warm-up and timed) a memset of a
 * scratch buffer of max(2 × L2, 256 MiB) evicts whatever the previous run left in L2. The flush is outside the
 * event pair. A few extra flushes are queued before the timed loop so the GPU always has queued work while
 * the host enqueues the next run: the events time the GPU, never the host's launch overhead. The warm-up is the
 * runs asked for and, when there are any, more until it has lasted `minWarmupMs` by CUDA events around it.
 */
export class CudaEventTimer implements DeviceTimer {
  readonly description: string;
  readonly l2Flush: string;
  readonly coldCode: boolean;
  private readonly flushBuf: DeviceBuffer;
  private readonly flushWords: number;
  /** --cold-code: kernels/code_evict.cu and its (never written) sink. */
  private readonly evict: { kernel: Kernel; sink: DeviceBuffer; grid: number } | null = null;
  private events: Array<[CudaEvent, CudaEvent]> = [];
  private warmupEvents: [CudaEvent, CudaEvent] | null = null;

  constructor(
    l2CacheBytes: number,
    private readonly minWarmupMs = MIN_WARMUP_MS,
    opts: EventTimerOptions = {},
  ) {
    this.coldCode = opts.coldCode === true;
    // (the kernel first: a device without its binary is refused before anything is allocated)
    const kernel = this.coldCode ? loadCodeEvict() : null;
    const bytes = l2FlushBytes(l2CacheBytes);
    this.flushWords = Math.ceil(bytes / 4);
    this.flushBuf = allocDeviceBuffer(this.flushWords * 4);
    if (kernel) {
      try {
        this.evict = { kernel, sink: allocDeviceBuffer(CODE_EVICT_THREADS * 4), grid: CODE_EVICT_CTAS_PER_SM * getCudaContext().device.info.smCount };
      } catch (e) {
        disposeQuietly(this.flushBuf); // (the allocation's error is the one to report)
        throw e;
      }
    }
    this.description = `CUDA events around each call, on the library stream; warm-up of at least ${minWarmupMs} ms, timed by CUDA events`;
    this.l2Flush =
      `memset of a ${Math.round((this.flushWords * 4) / MiB)} MiB scratch buffer (max(2 × L2, 256 MiB)) before every run, outside the timed events (as triton.testing.do_bench in FlashMLA's benchmark)` +
      (this.coldCode ? CODE_EVICT_NOTE : '');
  }

  private flush(): void {
    const { stream } = getCudaContext();
    memset(this.flushBuf.ptr, 0, this.flushWords, 4, stream);
    if (this.evict) this.evict.kernel.launch({ grid: [this.evict.grid, 1, 1], block: [CODE_EVICT_THREADS, 1, 1], stream }, 1.5, this.evict.sink.ptr);
  }

  async time(fn: () => void, iters: number, warmup: number): Promise<number[]> {
    return (await this.timeEach([fn], iters, warmup))[0];
  }

  async timeEach(fns: readonly (() => void)[], iters: number, warmup: number): Promise<number[][]> {
    const { stream } = getCudaContext();
    const n = fns.length * iters;
    while (this.events.length < n) {
      const start = CudaEvent.create();
      try {
        this.events.push([start, CudaEvent.create()]);
      } catch (e) {
        disposeQuietly(start); // the pair's end could not be made: dispose() only frees whole pairs
        throw e;
      }
    }
    // (a warm-up run is a round of all of them, each after its own flush)
    await this.warmUp(() => fns.forEach((fn, f) => (f > 0 && this.flush(), fn())), warmup);
    for (let i = 0; i < 4; i++) this.flush(); // head start for the GPU
    for (let i = 0; i < n; i++) {
      const [start, end] = this.events[i];
      this.flush();
      start.record(stream);
      fns[i % fns.length]();
      end.record(stream);
    }
    if (n > 0) this.events[n - 1][1].synchronize();
    await tick();
    return fns.map((_, f) => this.events.slice(0, n).filter((_, i) => i % fns.length === f).map(([s, e]) => e.elapsedSince(s)));
  }

  /** `warmup` runs, then (if any) more in batches sized from the time per run so far, until minWarmupMs have passed. */
  private async warmUp(fn: () => void, warmup: number): Promise<void> {
    const { stream } = getCudaContext();
    if (warmup === 0 || this.minWarmupMs <= 0) {
      for (let i = 0; i < warmup; i++) {
        this.flush();
        fn();
      }
      stream.synchronize();
      return;
    }
    if (this.warmupEvents === null) {
      const start = CudaEvent.create();
      try {
        this.warmupEvents = [start, CudaEvent.create()];
      } catch (e) {
        disposeQuietly(start);
        throw e;
      }
    }
    const [start, end] = this.warmupEvents;
    start.record(stream);
    let runs = 0;
    for (let batch = warmup; batch > 0; ) {
      for (let i = 0; i < batch; i++) {
        this.flush();
        fn();
      }
      runs += batch;
      end.record(stream);
      end.synchronize();
      const ms = end.elapsedSince(start);
      if (ms >= this.minWarmupMs || runs >= MAX_WARMUP_RUNS) break;
      // the runs the rest needs at the pace so far (a device still raising its clock needs fewer: checked again)
      const perRun = ms / runs;
      batch = Math.min(MAX_WARMUP_RUNS - runs, perRun > 0 ? Math.ceil((this.minWarmupMs - ms) / perRun) : runs);
      await tick();
    }
    stream.synchronize();
  }

  dispose(): void {
    getCudaContext().stream.synchronize();
    for (const [s, e] of this.events) {
      s.dispose();
      e.dispose();
    }
    this.events = [];
    for (const ev of this.warmupEvents ?? []) ev.dispose();
    this.warmupEvents = null;
    try {
      this.flushBuf.dispose();
    } finally {
      this.evict?.sink.dispose(); // (freed whatever the flush buffer's free said)
    }
  }
}

/**
 * `reps` cuMemcpyDtoDAsync copies of `bytes` bytes timed by CUDA events on the library's stream, after a fill of
 * the source and 2 untimed copies. Both buffers must fit in 60 % of the free memory; otherwise each is 30 % of it
 * (at least 64 MiB).
 */
export function timeDeviceCopies(bytes: number, reps: number): CopyTiming {
  const { device, stream } = getCudaContext();
  deviceBlockCache().release(); // (sized from the free memory: what disposed tensors left in the cache counts as free)
  const free = device.memInfo().free;
  let n = bytes;
  if (2 * n > 0.6 * free) n = Math.max(Math.floor((0.3 * free) / MiB) * MiB, 64 * MiB);
  const ms = freeingAfter((keep) => {
    const src = keep(allocDeviceBuffer(n));
    const dst = keep(allocDeviceBuffer(n));
    const ev = Array.from({ length: reps }, () => [keep(CudaEvent.create()), keep(CudaEvent.create())] as const);
    memset(src.ptr, 0x3f803f80, n / 4, 4, stream);
    for (let i = 0; i < 2; i++) copyDtoD(dst.ptr, src.ptr, n, stream);
    for (const [s, e] of ev) {
      s.record(stream);
      copyDtoD(dst.ptr, src.ptr, n, stream);
      e.record(stream);
    }
    stream.synchronize();
    return ev.map(([s, e]) => e.elapsedSince(s));
  });
  return { bytes: n, ms, copy: `cuMemcpyDtoDAsync of ${n / MiB} MiB on this device`, clock: 'CUDA events' };
}

// kernels/tc_peak.cu: back-to-back bf16 wgmma from shared memory on every SM, random operands
const TC_PEAK_WARPGROUPS = 2;
const TC_PEAK_BATCH = 16;
const FLOP_PER_WGMMA = 64 * 128 * 16 * 2;

/** Median dense bf16 TFLOPS of the wgmma probe (kernels/tc_peak.cu) over `reps` runs, or null when the GPU is not sm_90. */
export function measureTensorCorePeak(reps: number): number | null {
  const { device, stream } = getCudaContext();
  if (!device.isHopper) return null;
  const k = loadKernel('tc_peak', ['sm_90a'], 'tc_peak_bf16', ['i32', 'u32', 'ptr']);
  const grid = device.info.smCount;
  return freeingAfter((keep) => {
    const sink = keep(allocDeviceBuffer(grid * TC_PEAK_WARPGROUPS * 128 * 4));
    const start = keep(CudaEvent.create());
    const end = keep(CudaEvent.create());
    const launch = (iters: number) => k.launch({ grid: [grid, 1, 1], block: [TC_PEAK_WARPGROUPS * 128, 1, 1], stream }, iters, 0x1234567 + iters, sink.ptr);
    launch(64); // warm-up (module load, clocks up)
    const iters = 4096; // 4.5 TFLOP on 132 SMs: ~6 ms at ~700 TFLOPS, long against event resolution
    const rates: number[] = [];
    for (let r = 0; r < reps; r++) {
      start.record(stream);
      launch(iters);
      end.record(stream);
      end.synchronize();
      const ms = end.elapsedSince(start);
      rates.push((grid * TC_PEAK_WARPGROUPS * iters * TC_PEAK_BATCH * FLOP_PER_WGMMA) / (ms * 1e-3) / 1e12);
    }
    rates.sort((a, b) => a - b);
    return rates[Math.floor(rates.length / 2)];
  });
}

/** The NVIDIA kernel module's version ("580.159"), Linux only; null when unreadable. */
export function nvidiaDriverVersion(): string | null {
  try {
    return /Kernel Module\s+(?:for \S+\s+)?([\d.]+)/.exec(readFileSync('/proc/driver/nvidia/version', 'utf8'))?.[1] ?? null;
  } catch {
    return null;
  }
}

/** Which kernels run the FP8 cache's decodes here (the portable one only where its shared memory fits). */
function fp8Line(sel: KernelSelection): string {
  const portable = sel.layouts.find((l) => l.file === 'mla_decode_fp8')?.runnable ?? false;
  const dense = sel.fp8DecodeKernels.filter((k) => k !== 'generic' || portable);
  const sparse = sel.sparseDecodeKernels.filter((k) => k !== 'generic' || portable);
  const list = (ks: string[]) => (ks.length ? ks.map((k, j) => (j === 0 ? `${k} (default)` : k)).join(', ') : 'none');
  return (
    `FP8-cache decode kernels: dense with bf16 q over 64-token pages: ${list(dense)}; sparse with bf16 q: ${list(sparse)}; ` +
    `sparse with fp16 q: ${list(portable ? ['generic'] : [])}`
  );
}

/** Where the small-row Hopper kernel runs here, and when it is the default (src/cuda/mla.ts decodeKernels). */
function smallRowLine(sel: KernelSelection): string {
  const name = `small-row kernel '${SMALL_ROW_HOPPER_KERNEL.name}'`;
  const why = smallRowUnrunnable(sel);
  if (why !== null) return `${name}: not here (${why})`;
  const off = sel.options.decodeKernel !== undefined ? ' — not now: FLASH_MLA_DECODE_KERNEL narrows the default' : '';
  return `${name}: the default for dense decodes of bf16 q with h_q · s_q ≤ ${SMALL_ROW_HOPPER_KERNEL.rows} (h_kv 1, d_qk 576, 64-token pages; 16-bit and FP8 caches)${off}; on request for up to ${SMALL_ROW_HOPPER_KERNEL.r32Rows} rows over the 16-bit cache`;
}

/** `flash-mla info`'s kernel lines: the selection, with a note on every chosen binary missing from the kernel directory. */
function selectionLines(sel: KernelSelection): string[] {
  const dir = kernelDir();
  const files = existsSync(dir) ? readdirSync(dir) : [];
  const cubins = files.filter((f) => f.endsWith('.cubin')).length;
  const ptx = files.filter((f) => f.endsWith('.ptx')).length;
  const chosen = [
    ...sel.decode.filter((d) => d.runnable).map((d) => d.binary), ...sel.layouts.filter((l) => l.runnable).map((l) => l.binary),
    ...(sel.fp8Hopper.runnable ? [sel.fp8Hopper.binary] : []), ...(sel.fp8SparseHopper.runnable ? [sel.fp8SparseHopper.binary] : []), ...sel.support,
  ].filter((b) => b.artifact !== null);
  const missing = [...new Set(chosen.map((b) => b.artifact!))].filter((a) => !files.includes(a));
  return [
    `decode kernels that can run here: ${sel.decodeKernels.length ? sel.decodeKernels.map((k, j) => (j === 0 ? `${k} (default)` : k)).join(', ') : 'none'}`,
    fp8Line(sel),
    smallRowLine(sel),
    'decode kernels (why):',
    ...describeSelection(sel),
    `kernel directory: ${dir} (${cubins} cubin${cubins === 1 ? '' : 's'}, ${ptx} PTX${cubins + ptx === 0 ? ' — run `npm run build:kernels`' : ''})` +
      (missing.length ? `; missing here: ${missing.join(', ')}` : ''),
    ...(sel.portableForm === 'ptx'
      ? [`PTX is compiled by the driver’s JIT when a kernel is first used (ptxas 13.0 takes < 0.5 s per kernel file on a 2-core VM); flash-mla writes no cache, the driver's own JIT cache ${process.env.CUDA_CACHE_DISABLE === '1' ? 'is off (CUDA_CACHE_DISABLE=1)' : 'applies (CUDA_CACHE_DISABLE=1 turns it off)'}`]
      : []),
  ];
}

export const cudaMeasure: DeviceMeasure = {
  device: () => getCudaContext().device.info,
  driverRelease: nvidiaDriverVersion,
  clockRateKHz() {
    const { info } = getCudaContext().device;
    call('cuDeviceGetAttribute', outI32, CU_DEVICE_ATTRIBUTE_CLOCK_RATE, info.ordinal);
    return outI32[0];
  },
  l2FlushBytes: () => l2FlushBytes(getCudaContext().device.info.l2CacheBytes),
  eventTimer: (minWarmupMs?: number, opts?: EventTimerOptions) => new CudaEventTimer(getCudaContext().device.info.l2CacheBytes, minWarmupMs, opts),
  timeCopies: timeDeviceCopies,
  tensorCorePeakTflops: measureTensorCorePeak,
  kernelReport(assumed?: DeviceTraits) {
    // an assumed device: the same choice under the environment's options, read now (nothing is loaded for it)
    return selectionLines(assumed ? selectKernels(assumed, selectOptionsFromEnv()) : kernelSelection(getCudaContext().device));
  },
};

registerDeviceMeasure('cuda', cudaMeasure);
