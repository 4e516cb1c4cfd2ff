// The tools' device measurements (src/cuda/measure.ts, reached through getDeviceMeasure('cuda')) without a GPU: the
// fake libcuda.so.1 of test/util/fake-cuda.c has a device clock that copies, fills and kernels advance and that
// events record, so what the bench times can be checked to the clock tick — the event timer times each call and
// nothing else (the L2 flush stays outside its events), the copy bandwidth comes out at the fake's copy rate, the
// tensor-core probe's rate is its flops over the fake's kernel time — and the driver calls each makes are counted.
// Then the CLI on the fake device: `flash-mla info`, and `flash-mla bench` on cuda end to end (a sparse config: its
// metadata is written from the host, so the value checks pass although the fake computes nothing; the outputs are
// not checked).
//
// This file is also the child: with FLASH_MLA_FAKE_SCENARIO set it runs that scenario against the fake and prints
// a JSON line.

import { it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CudaError, getBackend, releaseCachedDeviceMemory } from '../src/index.js';
import { getDeviceMeasure, type DeviceMeasure } from '../src/backend.js';
import { checkConfigsFit, devicePeak, machineMemoryLimits, measureCopyBandwidthDevice, runBench } from '../src/bench/run.js';
import { sweepConfigs } from '../src/bench/configs.js';
import { validateBenchResult, type BenchResult } from '../src/bench/report.js';
import { fakeCudaEnv, fakeCudaScenarios, runNode, type FakeCudaControl, type FakeCudaScenario } from './util/fake-cuda.js';
const MiB = 1 << 20;
const UNKNOWN = 'CUDA_ERROR_UNKNOWN'; // not sticky

/** The fake's clock: a copy of n bytes takes 2n / rate (read and written), a fill of n bytes n / rate. */
const copyMs = (bytes: number, gbps: number) => (2 * bytes) / (gbps * 1e6);
const fillMs = (bytes: number, gbps: number) => bytes / (gbps * 1e6);

/** a ≈ b to float32 precision (the driver returns elapsed times as float). */
function close(a: number, b: number, what: string): void {
  assert.ok(Math.abs(a - b) <= 1e-6 * Math.abs(b), `${what}: ${a}, expected ${b}`);
}

const measure = (): DeviceMeasure => getDeviceMeasure('cuda')!;

type Counted = Record<string, number>;
const COUNTED = [
  'cuMemAlloc_v2', 'cuMemFree_v2', 'cuMemsetD32Async', 'cuMemcpyDtoDAsync_v2', 'cuEventCreate', 'cuEventRecord', 'cuEventSynchronize', 'cuEventElapsedTime_v2',
  'cuEventDestroy_v2', 'cuStreamSynchronize', 'cuLaunchKernelEx', 'cuModuleLoadData', 'cuInit',
];

/** What `fn` returns, and the driver calls it makes (those of COUNTED it makes at least once). */
async function callsOf<T>(f: FakeCudaControl, fn: () => T | Promise<T>): Promise<[T, Counted]> {
  const before = COUNTED.map((c) => f.calls(c));
  const result = await fn();
  return [result, Object.fromEntries(COUNTED.map((c, i) => [c, f.calls(c) - before[i]]).filter(([, n]) => n !== 0))];
}

/** Nothing left behind: the live allocations back at `base`, no event alive, the context not poisoned. */
function clean(f: FakeCudaControl, base: number, what: string): void {
  releaseCachedDeviceMemory(); // (blocks of disposed tensors, kept by the library's cache: src/cuda/block-cache.ts)
  assert.equal(f.stat('allocs'), base, `${what}: ${f.stat('allocs') - base} device allocation(s) left behind`);
  assert.equal(f.stat('events'), 0, `${what}: events left alive`);
  assert.equal(f.stat('sticky'), 0, `${what}: the fake GPU faulted: ${f.log()}`);
}

/** `fn` throws the CudaError of driver call `call`. */
async function expectCuda(fn: () => unknown, call: string, codeName: string, what: string): Promise<void> {
  let err: unknown = null;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof CudaError, `${what}: expected a CudaError (${codeName} from ${call}), got ${(err as Error | null)?.stack ?? 'nothing'}`);
  assert.deepEqual([err.call, err.codeName], [call, codeName], `${what}: ${err.message}`);
}

/** Two 8 MiB device buffers to time copies between, and the fake's allocation count with them. */
function copyPair(f: FakeCudaControl) {
  const memory = getBackend('cuda').memory!;
  const bytes = 8 * MiB;
  const src = memory.alloc(bytes);
  const dst = memory.alloc(bytes);
  return { memory, bytes, src, dst, base: f.stat('allocs') };
}

// ---------------------------------------------------------------------------------------------- scenarios

const scenarios: Record<string, FakeCudaScenario> = {
  'timer': {
    title: 'event timer: events around each call on the library stream, the 256 MiB L2 flush before every run and outside the events',
    env: { FAKE_CUDA_COPY_GBPS: '2000' },
    async run(f) {
      const { memory, bytes, src, dst, base } = copyPair(f);
      const timer = measure().eventTimer(0); // (the warm-up's minimum device time: below)
      assert.equal(timer.description, 'CUDA events around each call, on the library stream; warm-up of at least 0 ms, timed by CUDA events');
      assert.equal(
        timer.l2Flush,
        "memset of a 256 MiB scratch buffer (max(2 × L2, 256 MiB)) before every run, outside the timed events (as triton.testing.do_bench in FlashMLA's benchmark)",
      );
      assert.equal(f.stat('allocs'), base + 1, 'the flush buffer');
      let runs = 0;
      const copy = () => {
        runs++;
        memory.copy(dst.ptr, src.ptr, bytes);
      };
      const [times, calls] = await callsOf(f, () => timer.time(copy, 3, 2));
      // each timed run is the copy alone: a flush inside the events would add 256 MiB at 2000 GB/s (0.13 ms)
      assert.equal(times.length, 3);
      for (const t of times) close(t, copyMs(bytes, 2000), 'a timed run');
      assert.equal(runs, 5, '2 warm-up + 3 timed runs');
      assert.deepEqual(calls, {
        cuMemsetD32Async: 2 + 4 + 3, // a flush before every run, 4 ahead of the timed loop
        cuMemcpyDtoDAsync_v2: 5,
        cuEventCreate: 6,
        cuEventRecord: 6,
        cuEventSynchronize: 1,
        cuEventElapsedTime_v2: 3,
        cuStreamSynchronize: 1, // after the warm-up
      });
      // the events are kept for the next call
      const [timesAgain, again] = await callsOf(f, () => timer.time(copy, 2, 0));
      assert.equal(timesAgain.length, 2);
      assert.equal(again.cuEventCreate, undefined);
      // a driver error while timing: the CudaError of that call; dispose() still frees everything
      f.arm(`cuEventRecord@2=${UNKNOWN}`);
      await expectCuda(() => timer.time(copy, 3, 0), 'cuEventRecord', UNKNOWN, 'cuEventRecord failing');
      f.arm(`cuEventCreate@2=${UNKNOWN}`); // the end of the 4th pair
      await expectCuda(() => timer.time(copy, 4, 0), 'cuEventCreate', UNKNOWN, 'cuEventCreate failing');
      f.arm('');
      // several functions timed in turn: rounds of one run each (warm-up and timed), each run after its own flush
      const order: string[] = [];
      const small = () => {
        order.push('s');
        memory.copy(dst.ptr, src.ptr, bytes / 4);
      };
      const big = () => {
        order.push('b');
        memory.copy(dst.ptr, src.ptr, bytes);
      };
      const [[bigTimes, smallTimes], eachCalls] = await callsOf(f, () => timer.timeEach([big, small], 3, 2));
      assert.equal(order.join(''), 'bs'.repeat(5), '2 warm-up rounds, then 3 timed rounds');
      assert.equal(bigTimes.length, 3);
      assert.equal(smallTimes.length, 3);
      for (const t of bigTimes) close(t, copyMs(bytes, 2000), 'a timed run of the first');
      for (const t of smallTimes) close(t, copyMs(bytes / 4, 2000), 'a timed run of the second');
      assert.equal(eachCalls.cuMemsetD32Async, 2 * 2 + 4 + 2 * 3, 'a flush before every run, 4 ahead of the timed loop');
      assert.equal(eachCalls.cuEventCreate, 2 * 3, 'three more pairs (six runs timed)');
      timer.dispose();
      // the default timer warms up for at least 25 ms of device time (the fake's: flush + copy per run), in batches
      // sized from the pace so far; no warm-up asked for, none given
      const warm = measure().eventTimer();
      assert.match(warm.description, /warm-up of at least 25 ms, timed by CUDA events$/);
      const perRun = fillMs(256 * MiB, 2000) + copyMs(bytes, 2000);
      runs = 0;
      const [, warmCalls] = await callsOf(f, () => warm.time(copy, 3, 2));
      const warmRuns = runs - 3;
      assert.ok(warmRuns * perRun >= 25 && (warmRuns - 1) * perRun < 25 + perRun, `${warmRuns} warm-up runs of ${perRun.toFixed(4)} ms`);
      assert.equal(warmCalls.cuEventSynchronize, 1 + 2, 'the warm-up checked twice: after the 2 runs asked for, after the batch they sized');
      runs = 0;
      await warm.time(copy, 3, 0);
      assert.equal(runs, 3, 'no warm-up');
      warm.dispose();
      src.dispose();
      dst.dispose();
      clean(f, base - 2, 'the timers disposed');
      return [
        `3 timed runs of an 8 MiB copy: ${times.map((t) => t.toFixed(6)).join(', ')} ms each (the copy at 2000 GB/s), the flushes outside`,
        `the default warm-up: ${warmRuns} runs for 2 asked (≥ 25 ms of device time at ${perRun.toFixed(4)} ms each)`,
      ];
    },
  },

  'cold-code': {
    title: "--cold-code's timer: kernels/code_evict.cu on every SM (four warps per CTA, two CTAs per SM) after each L2 flush, outside the events; the bench's result says so",
    env: { FAKE_CUDA_CC: '9.0', FAKE_CUDA_SMS: '132', FAKE_CUDA_COPY_GBPS: '2000' },
    async run(f) {
      const { memory, bytes, src, dst, base } = copyPair(f);
      const timer = measure().eventTimer(0, { coldCode: true });
      assert.equal(timer.coldCode, true);
      assert.match(timer.l2Flush, /^memset of a 256 MiB scratch buffer .*; then 256 KB of other code run by four warps per CTA, two CTAs per SM \(kernels\/code_evict\.cu, --cold-code\)/);
      assert.equal(f.stat('allocs'), base + 2, 'the flush buffer and the eviction kernel\'s sink');
      const copy = () => memory.copy(dst.ptr, src.ptr, bytes);
      const [times, calls] = await callsOf(f, () => timer.time(copy, 3, 2));
      for (const t of times) close(t, copyMs(bytes, 2000), 'a timed run (the eviction outside the events)');
      assert.equal(f.stat('ran:code_evict'), 2 + 4 + 3, 'after every flush: 2 warm-up, 4 ahead of the timed loop, 3 timed');
      assert.equal(calls.cuMemsetD32Async, 2 + 4 + 3);
      assert.deepEqual([f.stat('ran:code_evict:grid.x'), f.stat('ran:code_evict:block.x')], [264, 128], 'four warps per CTA (one per sub-partition), two CTAs per SM');
      timer.dispose();
      const warm = measure().eventTimer(0);
      assert.equal(warm.coldCode, false, 'warm code by default');
      warm.dispose();
      src.dispose();
      dst.dispose();
      clean(f, base - 2, 'the timers disposed');
      // the bench with coldCode: every run of both loops after an eviction, said in the result (valid), cpu refused
      const config = { id: 't', b: 2, s: 100, h_q: 16, s_q: 1, varlen: false, causal: true, dtype: 'bf16' as const, seqlens: [100, 100] };
      const ceiling = { value: 1, source: 'user' as const, method: 'test' };
      const evictions = f.stat('ran:code_evict');
      const res = await runBench({ backend: 'cuda', configs: [config], iters: 2, warmup: 0, seed: 1, checkSamples: 0, coldCode: true, metadata: 'host', bandwidth: ceiling, peak: ceiling });
      assert.equal(res.settings.coldCode, true);
      assert.match(res.settings.l2Flush, /--cold-code/);
      assert.ok(f.stat('ran:code_evict') - evictions >= 2 * (4 + 2), `evictions in the bench: ${f.stat('ran:code_evict') - evictions}`);
      assert.deepEqual(validateBenchResult(JSON.parse(JSON.stringify(res))), []);
      await assert.rejects(runBench({ backend: 'cpu', configs: [config], iters: 1, coldCode: true, bandwidth: ceiling, peak: ceiling }), {
        name: 'RangeError', message: 'coldCode: expected false on the cpu backend (it has no GPU instruction caches to evict), got true',
      });
      const warmRes = await runBench({ backend: 'cuda', configs: [config], iters: 2, warmup: 0, seed: 1, checkSamples: 0, metadata: 'host', bandwidth: ceiling, peak: ceiling });
      assert.equal(warmRes.settings.coldCode, undefined, 'a warm run says nothing of cold code');
      return [
        `3 timed runs, each after the L2 flush and code_evict (264 CTAs × 128 threads on 132 SMs)`,
        `runBench({ coldCode: true }): settings.coldCode, the flush line names --cold-code, a valid result; the cpu backend refuses it`,
      ];
    },
  },

  'cold-code-unsupported': {
    title: '--cold-code on a GPU with no code_evict binary (sm_100: cubins for sm_80 and sm_90 only, no PTX): UnsupportedDeviceError, nothing allocated, the bench refused before its measurements',
    env: { FAKE_CUDA_CC: '10.0' },
    async run(f) {
      const base = f.stat('allocs');
      assert.throws(() => measure().eventTimer(0, { coldCode: true }), (e: Error) => e.name === 'UnsupportedDeviceError' && /code_evict/.test(e.message), 'eventTimer({ coldCode }) on sm_100');
      assert.equal(f.stat('allocs'), base, 'allocated before the refusal');
      // the bench refuses it before its ceilings' measurements (no copy timed, nothing left allocated)
      const config = { id: 't', b: 2, s: 100, h_q: 16, s_q: 1, varlen: false, causal: true, dtype: 'bf16' as const, seqlens: [100, 100] };
      const copies = f.calls('cuMemcpyDtoDAsync_v2');
      await assert.rejects(runBench({ backend: 'cuda', configs: [config], iters: 1, coldCode: true }), { name: 'UnsupportedDeviceError' });
      assert.equal(f.calls('cuMemcpyDtoDAsync_v2'), copies, 'the copy ceiling was measured before the refusal');
      assert.equal(f.stat('allocs'), base, 'left allocated by the refused bench');
      return ['sm_100: UnsupportedDeviceError naming code_evict, no allocation; the bench refuses it before measuring anything'];
    },
  },

  'copies': {
    title: 'copy bandwidth: timed device-to-device copies give the fake\'s copy rate, bytes read + written; sized to free memory; nothing left on failure',
    env: { FAKE_CUDA_COPY_GBPS: '1500', FAKE_CUDA_MEM_BYTES: String(256 * MiB) },
    async run(f) {
      const m = measure();
      m.device(); // the context
      const base = f.stat('allocs');
      const [c, calls] = await callsOf(f, () => measureCopyBandwidthDevice(m, 16 * MiB, 5));
      assert.equal(c.source, 'measured');
      assert.equal(c.method, 'cuMemcpyDtoDAsync of 16 MiB on this device, bytes read + written, median of 5 (CUDA events)');
      close(c.value!, 1500, 'GB/s');
      assert.deepEqual(c.samples, [1500, 1500, 1500, 1500, 1500]);
      assert.deepEqual(calls, {
        cuMemAlloc_v2: 2,
        cuMemFree_v2: 2,
        cuMemsetD32Async: 1, // the source's contents
        cuMemcpyDtoDAsync_v2: 2 + 5, // 2 untimed
        cuEventCreate: 10,
        cuEventRecord: 10,
        cuEventElapsedTime_v2: 5,
        cuEventDestroy_v2: 10,
        cuStreamSynchronize: 1,
      });
      clean(f, base, 'measured');
      // the default 1 GiB does not fit in 256 MiB: each buffer gets 30 % of the free memory
      const d = measureCopyBandwidthDevice(m);
      assert.equal(d.method, 'cuMemcpyDtoDAsync of 76 MiB on this device, bytes read + written, median of 10 (CUDA events)');
      close(d.value!, 1500, 'GB/s');
      clean(f, base, 'measured with the default size');
      // what the device measured, to the tick
      const t = m.timeCopies(4 * MiB, 3);
      assert.deepEqual([t.bytes, t.copy, t.clock], [4 * MiB, 'cuMemcpyDtoDAsync of 4 MiB on this device', 'CUDA events']);
      for (const ms of t.ms) close(ms, copyMs(4 * MiB, 1500), 'a timed copy');
      // a driver call that fails anywhere: its CudaError, and the buffers and events made so far are freed
      for (const [call, nth] of [['cuMemAlloc_v2', 2], ['cuEventCreate', 3], ['cuMemcpyDtoDAsync_v2', 4], ['cuEventElapsedTime_v2', 1]] as const) {
        f.arm(`${call}@${nth}=${UNKNOWN}`);
        await expectCuda(() => m.timeCopies(4 * MiB, 3), call, UNKNOWN, `${call} #${nth} failing`);
        f.arm('');
        clean(f, base, `${call} #${nth} failing`);
      }
      return [`${c.value} GB/s from 16 MiB copies; the default size cut to 76 MiB on a 256 MiB device`];
    },
  },

  'probe': {
    title: 'tensor-core probe on sm_90: kernels/tc_peak.cu launched 1 + 7 times, its rate the flops over the kernel time',
    env: { FAKE_CUDA_CC: '9.0', FAKE_CUDA_SMEM_OPTIN: '232448', FAKE_CUDA_SMS: '132', FAKE_CUDA_KERNEL_US: '20' },
    async run(f) {
      const m = measure();
      m.device();
      const base = f.stat('allocs');
      // 132 SMs × 2 warpgroups × 4096 iterations × 16 wgmma of m64n128k16 (2 flop per multiply-add), in 20 µs
      const expected = (132 * 2 * 4096 * 16 * (64 * 128 * 16 * 2)) / 20e-6 / 1e12;
      const [tflops, calls] = await callsOf(f, () => m.tensorCorePeakTflops(7));
      close(tflops!, expected, 'TFLOPS');
      assert.deepEqual(calls, {
        cuMemAlloc_v2: 1,
        cuMemFree_v2: 1,
        cuEventCreate: 2,
        cuEventRecord: 14,
        cuEventSynchronize: 7,
        cuEventElapsedTime_v2: 7,
        cuEventDestroy_v2: 2,
        cuLaunchKernelEx: 8, // 1 warm-up
        cuModuleLoadData: 1, // the sm_90a cubin
      });
      clean(f, base, 'probed');
      const peak = await devicePeak(m, {});
      assert.deepEqual(peak, {
        value: peak.value,
        source: 'measured',
        method: 'bf16 wgmma m64n128k16 from shared memory on every SM, random operands (kernels/tc_peak.cu), median of 7',
      });
      close(peak.value!, expected, 'the bench\'s compute ceiling');
      // a launch that fails: its CudaError, nothing left
      f.arm(`cuLaunchKernelEx@3=CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES`);
      await expectCuda(() => m.tensorCorePeakTflops(7), 'cuLaunchKernelEx', 'CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES', 'the 3rd launch failing');
      f.arm('');
      clean(f, base, 'a launch failed');
      for (const nth of [1, 2]) {
        f.arm(`cuEventCreate@${nth}=${UNKNOWN}`);
        await expectCuda(() => m.tensorCorePeakTflops(7), 'cuEventCreate', UNKNOWN, `event ${nth} failing`);
        f.arm('');
        clean(f, base, `event ${nth} failing`);
      }
      return [`${Math.round(expected)} TFLOPS at 20 µs per probe kernel`];
    },
  },

  'device': {
    title: 'device record, clock, flush size, memory limits, the spec-sheet ceiling off Hopper, the kernel report; getting the measurements opens no device',
    env: { FAKE_CUDA_NAME: 'Fake L40-ish', FAKE_CUDA_SMS: '132', FAKE_CUDA_CLOCK_KHZ: '1755000', FAKE_CUDA_L2: String(200 * MiB), FAKE_CUDA_MEM_BYTES: String(1024 * MiB) },
    async run(f) {
      const m = measure();
      assert.equal(getDeviceMeasure('cpu'), null, 'the cpu backend has no device');
      assert.throws(() => getDeviceMeasure('tpu' as never), { name: 'TypeError', message: "backend: expected one of cpu, cuda, got 'tpu'" });
      const assumed = m.kernelReport({ name: 'assumed', computeCapability: { major: 8, minor: 6 }, maxSharedMemoryPerBlockOptin: 101376 });
      assert.equal(assumed[0], 'decode kernels that can run here: generic-small (default)');
      assert.equal(f.calls('cuInit'), 0, 'a device was opened for an assumed one');

      assert.deepEqual(m.device(), {
        ordinal: 0, name: 'Fake L40-ish', computeCapability: { major: 8, minor: 0 }, smCount: 132, maxSharedMemoryPerBlockOptin: 166912,
        l2CacheBytes: 200 * MiB, totalMemoryBytes: 1024 * MiB, driverVersion: 13000,
      });
      assert.equal(m.clockRateKHz(), 1755000);
      const release = m.driverRelease();
      assert.ok(release === null || /^\d+(\.\d+)+$/.test(release), `driverRelease: ${release}`);
      assert.equal(m.l2FlushBytes(), 400 * MiB, 'max(2 × L2, 256 MiB)');
      const limits = machineMemoryLimits('cuda');
      assert.deepEqual([limits.deviceBytes, limits.deviceSource, limits.smCount], [
        getBackend('cuda').memory!.info().free - 400 * MiB, 'free device memory less the 400 MiB L2 flush buffer', 132,
      ]);
      const big = sweepConfigs().find((c) => c.seqlens.every((s) => s === 8192))!;
      assert.throws(() => checkConfigsFit([big], 'cuda'), /device memory, 624 MiB is available \(free device memory less the 400 MiB L2 flush buffer\)$/);
      // no tensor-core probe off sm_90: the compute ceiling from the spec sheet, with the device's clock
      const [probed, calls] = await callsOf(f, () => m.tensorCorePeakTflops(7));
      assert.deepEqual([probed, calls], [null, {}]);
      assert.deepEqual(await devicePeak(m, {}), {
        value: (132 * 1755e6 * 2048) / 1e12,
        source: 'spec',
        method: '132 SMs × 1755 MHz × 2048 dense bf16 flop/clk/SM (sm_80 spec) — theoretical, not measured',
      });
      const report = m.kernelReport();
      assert.equal(report[0], 'decode kernels that can run here: generic (default), generic-small');
      assert.ok(report.some((l) => /^kernel directory: .* \(\d+ cubins, \d+ PTX\)$/.test(l)), report.join('\n'));
      return [`${m.device().name}: ${limits.deviceSource}`];
    },
  },
};

// ---------------------------------------------------------------------------------------------- runner

const cli = fileURLToPath(new URL('../src/cli.js', import.meta.url));

await fakeCudaScenarios(import.meta.url, 'device measurements through a fake CUDA driver', scenarios, (fake) => {
  it('flash-mla info on the fake device: driver, device, memory, kernels; --assume the same as without a driver', async () => {
    const device = { FAKE_CUDA_CC: '9.0', FAKE_CUDA_SMEM_OPTIN: '232448', FAKE_CUDA_SMS: '132', FAKE_CUDA_NAME: 'Fake H200' };
    const r = await runNode(cli, ['info'], fakeCudaEnv(fake(), device));
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.match(lines[1], /^driver: (\(version unreadable\)|[\d.]+), supports CUDA 13\.0$/);
    assert.deepEqual(lines.slice(2, 6), [
      'device 0: Fake H200',
      '  compute capability 9.0, 132 SMs',
      '  memory 1.0 GiB (1.0 GiB free), L2 40.0 MiB, shared memory per block (opt-in) 227 KiB',
      'decode kernels that can run here: hopper (default), generic, generic-small',
    ]);
    assert.ok(lines.some((l) => l.startsWith(`kernel directory: ${fake().kernelDir} (`)), r.stdout);
    assert.ok(lines.includes('programmatic dependent launch: on'));
    assert.equal(lines[lines.length - 2], 'cpu backend: always available (kernel: reference)');
    // --assume opens no device: the same report with the fake as without any driver
    const noDriver = { ...fakeCudaEnv(fake()), FLASH_MLA_LIBCUDA: '/nonexistent/libcuda.so.1', FLASH_MLA_DISABLE_CUDA: '1' };
    const [withFake, without] = await Promise.all([runNode(cli, ['info', '--assume', '8.6'], fakeCudaEnv(fake(), device)), runNode(cli, ['info', '--assume', '8.6'], noDriver)]);
    assert.equal(withFake.status, 0, withFake.stderr);
    assert.equal(withFake.stdout, without.stdout);
  });

  it('flash-mla bench --backend cuda on the fake device: ceilings, device record, event timings of the decode alone, a valid JSON', async () => {
    const json = join(mkdtempSync(join(tmpdir(), 'flash-mla-measure-')), 'fake.json');
    const env = fakeCudaEnv(fake(), { FAKE_CUDA_CC: '9.0', FAKE_CUDA_SMEM_OPTIN: '232448', FAKE_CUDA_COPY_GBPS: '1500', FAKE_CUDA_KERNEL_US: '10', NO_COLOR: '1' });
    const args = ['bench', '--backend', 'cuda', '--configs', 'sparse-small:0', '--iters', '3', '--warmup', '1', '--check-samples', '0', '--seed', '1', '--json', json];
    const r = await runNode(cli, args, env);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    const res = JSON.parse(readFileSync(json, 'utf8')) as BenchResult;
    assert.deepEqual(validateBenchResult(res), []);
    assert.deepEqual({ ...res.device, nvidiaDriver: null }, {
      kind: 'gpu', name: 'Fake A100 (flash-mla test driver)', driverVersion: '13.0', nvidiaDriver: null, computeCapability: '9.0', smCount: 108,
      memoryBytes: 1024 * MiB, l2CacheBytes: 40 * MiB,
    });
    const { bandwidthGBps: bw, peakTflops: peak } = res.ceilings;
    close(bw.value!, 1500, 'bandwidth ceiling');
    assert.equal(bw.method, 'cuMemcpyDtoDAsync of 307 MiB on this device, bytes read + written, median of 10 (CUDA events)');
    assert.equal(peak.source, 'measured');
    close(peak.value!, (108 * 2 * 4096 * 16 * (64 * 128 * 16 * 2)) / 10e-6 / 1e12, 'compute ceiling (the probe)');
    assert.equal(res.settings.timer, 'CUDA events around each call, on the library stream; warm-up of at least 25 ms, timed by CUDA events');
    assert.match(res.settings.l2Flush, /^memset of a 256 MiB scratch buffer/);
    // sparse decode with bf16 q (h_q 16) runs on the small-row kernel's sparse entry on sm_90
    assert.deepEqual([res.rows.length, res.rows[0].kernel, res.skipped], [1, 'hopper-small', []]);
    // every timed run is whole kernels of 10 µs (the decode's), never the 256 MiB flush (0.18 ms at 1500 GB/s)
    const times = res.rows[0].timesMs;
    assert.equal(times.length, 3);
    const kernels = Math.round(times[0] / 0.01);
    assert.ok(kernels >= 1 && fillMs(256 * MiB, 1500) > times[0], `${times[0]} ms`);
    for (const t of times) close(t, kernels * 0.01, 'a timed decode');
    assert.match(r.stdout, /sparse-small#0 .* hopper-small .* unchecked$/m);
  });
});
