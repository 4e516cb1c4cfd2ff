// The decode kernels' own source run without a GPU: the fake driver built with the kernel emulator (test/util/emu/:
// kernels/*.cu compiled for the host, a CTA's threads as fibers, mma.sync / ldmatrix / shuffles / barriers emulated,
// shared-memory and global reads bounds-checked) executes the metadata, decode and combine launches of the public API
// on the cuda backend, and the outputs are compared with the cpu oracle under FlashMLA's tolerances. Every launch
// also runs under the emulator's shared-memory race detector (test/util/emu/emu_race.h: happens-before with vector
// clocks per warp, joined at bar.sync / bar.arrive / mbarriers; cp.async in flight until its thread's wait, TMA loads
// known only through their mbarrier): two accesses of different warps that no synchronisation orders, one a write,
// fail the launch naming both. 'race-detector' shows it on tiny kernels (test/util/emu/emu_selftest.cpp).
//
// What it shows and what it does not: the kernels' indexing, tiling, masking, softmax and epilogue — with the launch
// shapes and parameters src/cuda/ computes — give the oracle's answer, and their shared-memory accesses are ordered by
// their barriers in the executions run here (the race detector needs no particular interleaving: what orders two
// accesses is the synchronisation each thread went through, the same in every interleaving of a kernel whose control
// flow does not depend on timing); it does not show that the real tensor cores, cp.async pipelining or timing behave
// (threads run one after another, copies land at once). The scenarios 'hopper' and 'proven-kernels' run kernels that
// have already passed the GPU suite on an H200 ('hopper' on sm_90; 'generic', 'generic-small'): if those failed here,
// the emulator would be at fault, not the kernels. 'hopper' also checks the emulated TMA, mbarriers and wgmma
// (descriptors, swizzle, fragment layouts) under three timings of the asynchronous work, with the emulator's wgmma
// check (a shared write under a wgmma not known to be complete) and deadlock report on. The layout kernel
// (mla_decode_generic_layout.cu) passed its GPU tests on an H200 too (2026-12-01). 'hopper-fp8' runs the Hopper
// kernel's FP8-cache entry (mla_decode_sm90_fp8_bf16, not yet run on a GPU: here the emulator checks the kernel, which
// 'hopper' vouches for): against the oracle (bit for bit against 'hopper' over the dequantised cache until session 33,
// when the entry took the sparse entries' seesaw), under the same three timings. 'hopper-sparse' runs its sparse entry (mla_decode_sm90_fp8_sparse_bf16, not yet run on a GPU) against
// the oracle only (test/util/sparse-hopper.ts), under the same three timings. 'portable-fp8' runs the portable FP8-cache
// kernel (mla_decode_fp8.cu, which passed the GPU suite on an H200; emulated since session 42, when its tile math moved
// onto mla_generic_rowgroup.cuh) on dense and sparse cases against the oracle. The full GPU test files run the same way
// (slower):
//   npm run build && node dist/test/util/run-emulated.js dist/test/dense-layouts-gpu.test.js
//
// Each scenario runs in its own child process (the fake is loaded at start-up), like test/fault-injection.test.ts;
// this file is also the child when FLASH_MLA_EMULATION_SCENARIO is set.

import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateBenchResult, type BenchResult } from '../src/bench/report.js';
import { runBench } from '../src/bench/run.js';
import { CudaError, PagedKvCache, Tensor, UnsupportedFeatureError, captureGraph, flashMlaWithKvcache, getBackend, getMlaMetadata, numSmPartsFor, scheduleTiles, type MlaMetadata, type TileSchedule } from '../src/index.js';
import { forceCombineShape } from '../src/cuda/mla.js';
import { getCudaContext, loadKernel, portableArchs } from '../src/cuda/context.js';
import { combineGrid } from '../src/cuda/combine-shape.js';
import { MLA_CONFIG } from '../src/cuda/config.js';
import { MLA_DECODE_PARAMS_LAYOUT, combineStageBytes, encodeMlaDecodeParams, type MlaDecodeParamsValues } from '../src/cuda/params.js';
import { fromHalfBits, toHalfBits } from '../src/dtype.js';
import { compare } from '../src/check/compare.js';
import { bindEmulator, bindFakeCuda, buildFakeCuda, fakeCudaEnv, fakeCudaSkipReason, runNode, type FakeCuda } from './util/fake-cuda.js';
import { checkDenseRows, denseTensors, makeDenseProblem, nanPaddedFp8Cache, nanPaddedQ, nanPaddedViews, type DenseSpec } from './util/layouts.js';
import { freshSeed, rng } from './util/problem.js';
import { foreignAlloc, type ForeignBuffer } from './util/foreign-memory.js';
import { metadataEvenSplitSets, metadataGoldenSets, metadataPackSets, metadataTightSets } from './util/metadata-sets.js';
import { PACK_PIECE_COST_BLOCKS, isPackedSchedule, packMaxRequests, requestAt } from '../src/mla/schedule.js';
import { SMALL_SPARSE_CASES, SMALL_SPARSE_HEAD_GROUP_CASES, SMALL_SPARSE_R32_CASES, SPARSE_HOPPER_CASES, runSparseHopperCase, type SparseHopperCase } from './util/sparse-hopper.js';

const SCENARIO_VAR = 'FLASH_MLA_EMULATION_SCENARIO';

/**
 * One dense decode on the emulated GPU (NaN-padded views, NaN outputs) against the cpu oracle; returns a note.
 * `split`: some request must be split over SM parts (the combine runs).
 */
function decodeCase(spec: Omit<DenseSpec, 'seed'>, seed: number, causal: boolean, opts: { kernel?: string; split?: boolean; smCount?: number; qRowsOneStride?: boolean; schedule?: (metadata: Int32Array) => string } = {}): string {
  const { kernel } = opts;
  const p = makeDenseProblem({ ...spec, seed });
  const cpu = denseTensors(p);
  const gpu = { ...nanPaddedViews(p, 'cuda', { qRowsOneStride: opts.qRowsOneStride }), blockTable: cpu.blockTable.to('cuda'), cacheSeqlens: cpu.cacheSeqlens.to('cuda') };
  const { hKv } = p.spec;
  const rows = (spec.sQ * spec.hQ) / hKv;
  // the emulated metadata kernel (checked against the cpu scheduler by the API); `smCount`: as if the device had that many
  const md = getMlaMetadata(gpu.cacheSeqlens, rows, hKv, opts.smCount ? { smCount: opts.smCount } : {});
  const parts = md.tileSchedulerMetadata.shape[0];
  const mdH = getMlaMetadata(cpu.cacheSeqlens, rows, hKv, { smCount: parts * hKv * Math.ceil(rows / 64) });
  const outs = { out: Tensor.full([spec.b, spec.sQ, spec.hQ, 512], NaN, { dtype: spec.dtype, backend: 'cuda' }), lse: Tensor.full([spec.b, spec.hQ, spec.sQ], NaN, { dtype: 'fp32', backend: 'cuda' }) };
  const got = flashMlaWithKvcache(gpu.q, gpu.kCache, gpu.blockTable, gpu.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, { causal, kernel, ...outs });
  const want = flashMlaWithKvcache(cpu.q, cpu.kCache, cpu.blockTable, cpu.cacheSeqlens, 512, mdH.tileSchedulerMetadata, mdH.numSplits, { causal });
  const label = `b ${spec.b}, s_q ${spec.sQ}, h_q ${spec.hQ}, h_kv ${hKv}, d ${spec.d}, ${spec.dtype}, causal ${causal}, seqlens [${spec.seqlens}]${kernel ? `, kernel ${kernel}` : ''}`;
  checkDenseRows(label, got, want, seed);
  const splits = md.numSplits.toInt32();
  const most = Math.max(...Array.from({ length: spec.b }, (_, i) => splits[i + 1] - splits[i]));
  if (opts.split) assert.ok(most > 1, `${label}: expected a request split over SM parts, the schedule has none (${parts} parts)`);
  const schedule = opts.schedule ? `; ${opts.schedule(md.tileSchedulerMetadata.toInt32())}` : '';
  return `${label}: matches the oracle (${parts} SM parts, up to ${most} splits per request${schedule})`;
}

/**
 * The emulated metadata kernel (through getMlaMetadata) against scheduleTiles, bit for bit, on every batch at every
 * rows-per-KV-head count (132 SMs: its parts); `each` then sees the batch, the cpu schedule and the device's tensors.
 * Returns the number of batches compared.
 */
function metadataMatchesScheduler(
  sets: number[][],
  rowsPerKv: number[],
  seed: number,
  each: (c: { lens: number[]; rows: number; parts: number; e: TileSchedule; sl: Tensor; md: MlaMetadata }) => void,
): number {
  let runs = 0;
  for (const lens of sets) {
    for (const rows of rowsPerKv) {
      const parts = numSmPartsFor(getBackend('cuda').smCount(), rows, 1);
      const sl = Tensor.from(Int32Array.from(lens), [lens.length], { dtype: 'int32', backend: 'cuda' });
      const md = getMlaMetadata(sl, rows, 1);
      const e = scheduleTiles(lens, parts);
      const where = `b ${lens.length}, ${rows} rows, ${parts} parts, seed ${seed}`;
      assert.deepEqual(md.tileSchedulerMetadata.toInt32(), e.metadata, where);
      assert.deepEqual(md.numSplits.toInt32(), e.numSplits, where);
      each({ lens, rows, parts, e, sl, md });
      for (const x of [sl, md.tileSchedulerMetadata, md.numSplits]) x.dispose();
      runs++;
    }
  }
  return runs;
}

interface Scenario {
  title: string;
  env: Record<string, string>;
  run(seed: number): string[] | Promise<string[]>;
}

/**
 * The layout kernel against the oracle: h_kv ∈ {1, 2, 8, 3} × s_q 1–3, causal or not, NaN-padded views, every case
 * with a request split over SM parts (32 SMs: 4–32 parts, a 400-token request takes two). One scenario per head dim.
 */
function layoutScenarios(): Record<string, Scenario> {
  const cases: Record<number, [Omit<DenseSpec, 'seed'>, boolean][]> = {
    576: [
      [{ b: 2, sQ: 1, hQ: 4, hKv: 2, d: 576, seqlens: [400, 64], dtype: 'fp16', fp8: false }, false],
      [{ b: 2, sQ: 1, hQ: 64, hKv: 8, d: 576, seqlens: [400, 1], dtype: 'bf16', fp8: false }, false],
      [{ b: 3, sQ: 2, hQ: 9, hKv: 3, d: 576, seqlens: [1, 400, 40], dtype: 'bf16', fp8: false }, true],
    ],
    512: [
      [{ b: 3, sQ: 2, hQ: 16, hKv: 1, d: 512, seqlens: [400, 0, 65], dtype: 'bf16', fp8: false }, true],
      [{ b: 2, sQ: 3, hQ: 32, hKv: 2, d: 512, seqlens: [2, 400], dtype: 'bf16', fp8: false }, true],
      [{ b: 1, sQ: 2, hQ: 16, hKv: 8, d: 512, seqlens: [400], dtype: 'fp16', fp8: false }, true],
      [{ b: 2, sQ: 3, hQ: 9, hKv: 3, d: 512, seqlens: [400, 3], dtype: 'bf16', fp8: false }, true],
      [{ b: 1, sQ: 1, hQ: 128, hKv: 2, d: 512, seqlens: [400], dtype: 'bf16', fp8: false }, false],
    ],
  };
  return Object.fromEntries(
    Object.entries(cases).map(([d, list]) => [
      `layouts-d${d}`,
      {
        title: `d_qk ${d}: h_kv ${[...new Set(list.map(([c]) => c.hKv))].join('/')}, s_q 1–3, causal or not, split requests, NaN-padded views: the oracle`,
        env: { FAKE_CUDA_SMS: '32' },
        run: (seed: number) => list.map(([spec, causal], k) => decodeCase(spec, seed + k, causal, { split: true })),
      } satisfies Scenario,
    ]),
  );
}

/** Dense decodes over the FP8 cache for the portable kernel: b, s_q, h_q, seqlens (some request split), q's dtype. */
const PORTABLE_FP8_DENSE: [Omit<DenseSpec, 'seed'>, boolean][] = [
  [{ b: 3, sQ: 2, hQ: 16, hKv: 1, d: 576, seqlens: [400, 1, 130], dtype: 'bf16', fp8: true }, true],
  [{ b: 2, sQ: 1, hQ: 64, hKv: 1, d: 576, seqlens: [700, 63], dtype: 'fp16', fp8: true }, false],
  [{ b: 2, sQ: 2, hQ: 40, hKv: 1, d: 576, seqlens: [65, 450], dtype: 'bf16', fp8: true }, true],
];

/** One dense FP8-cache decode with kernel 'generic' (mla_decode_fp8.cu) on padded NaN-filled views against the oracle. */
function portableFp8DenseCase(spec: Omit<DenseSpec, 'seed'>, seed: number, causal: boolean): string {
  const p = makeDenseProblem({ ...spec, seed });
  const cpu = denseTensors(p);
  const gpu = { q: nanPaddedQ(p, 'cuda'), kCache: nanPaddedFp8Cache(p, 'cuda'), blockTable: cpu.blockTable.to('cuda'), cacheSeqlens: cpu.cacheSeqlens.to('cuda') };
  const rows = spec.sQ * spec.hQ;
  const md = getMlaMetadata(gpu.cacheSeqlens, rows, 1);
  const parts = md.tileSchedulerMetadata.shape[0];
  const mdH = getMlaMetadata(cpu.cacheSeqlens, rows, 1, { smCount: parts * Math.ceil(rows / 64) });
  const outs = { out: Tensor.full([spec.b, spec.sQ, spec.hQ, 512], NaN, { dtype: spec.dtype, backend: 'cuda' }), lse: Tensor.full([spec.b, spec.hQ, spec.sQ], NaN, { dtype: 'fp32', backend: 'cuda' }) };
  const entry = `mla_decode_fp8_dense_${spec.dtype}`;
  const before = bindFakeCuda().stat(`emulated:${entry}`);
  const got = flashMlaWithKvcache(gpu.q, gpu.kCache, gpu.blockTable, gpu.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, { causal, isFp8KvCache: true, kernel: 'generic', ...outs });
  assert.ok(bindFakeCuda().stat(`emulated:${entry}`) > before, `kernel 'generic' did not run ${entry}`);
  const want = flashMlaWithKvcache(cpu.q, cpu.kCache, cpu.blockTable, cpu.cacheSeqlens, 512, mdH.tileSchedulerMetadata, mdH.numSplits, { causal, isFp8KvCache: true });
  const label = `FP8, b ${spec.b}, s_q ${spec.sQ}, h_q ${spec.hQ}, ${spec.dtype} q, causal ${causal}, seqlens [${spec.seqlens}], kernel generic`;
  checkDenseRows(label, got, want, seed);
  const splits = md.numSplits.toInt32();
  const most = Math.max(...Array.from({ length: spec.b }, (_, i) => splits[i + 1] - splits[i]));
  assert.ok(most > 1, `${label}: expected a request split over SM parts, the schedule has none (${parts} parts)`);
  for (const t of [gpu.q, gpu.kCache, gpu.blockTable, gpu.cacheSeqlens, md.tileSchedulerMetadata, md.numSplits, outs.out, outs.lse]) t.dispose();
  return `${label}: matches the oracle (${parts} SM parts, up to ${most} splits per request)`;
}

/** The device that selects 'hopper': sm_90 with Hopper's opt-in shared memory. 4 SMs: SM parts hold several items. */
// (the fourth scheduler rule off: the cases' item transitions and split requests are laid out for the walk's payload;
// the rule's schedules are checked by 'metadata-tight')
const HOPPER_ENV = { FAKE_CUDA_CC: '9.0', FAKE_CUDA_SMEM_OPTIN: '232448', FAKE_CUDA_SMS: '4', FAKE_CUDA_NAME: 'Fake H200 (kernel emulator)', FLASH_MLA_EXPERIMENT_TIGHT_PAYLOAD: '0' };

/**
 * The work items of each SM part (metadata rows: begin_req, begin_token, end_req, end_token) as block counts in
 * walking order — what the Hopper kernel's item loop and its next-item prefetch see (before a causal clip).
 */
function partItems(metadata: ArrayLike<number>, seqlens: number[]): number[][] {
  const parts: number[][] = [];
  for (let p = 0; p * 8 < metadata.length; p++) {
    const [br, bt, er, et] = Array.from({ length: 4 }, (_, i) => metadata[p * 8 + i]);
    const items: number[] = [];
    for (let r = br; r < seqlens.length && r <= er; r++) {
      const start = r === br ? bt : 0, end = r === er ? et : seqlens[r];
      items.push(end > start ? Math.ceil(end / 64) - start / 64 : 0);
    }
    parts.push(items);
  }
  return parts;
}

type HopperCase = { spec: Omit<DenseSpec, 'seed'>; causal: boolean; split?: boolean };

/**
 * 'hopper' against the oracle (4 SMs: 4 SM parts at h_q 16, 2 at two m-blocks). The first two batches walk several
 * short items per part, 0–5 blocks with the last one partial, and between them every pair (this item's blocks: 0, 1,
 * 2, 3, even ≥ 4, odd ≥ 5) × (the next item's: 0, 1, ≥ 2) — the item ends the epilogue prefetch and the K buffers'
 * parity meet (asserted below); one request split over two parts. The rest: a long request split over
 * parts with causal s_q 2, full last blocks, two m-blocks (h_q 128; h_q 64 × s_q 2 causal, where the m-blocks'
 * causal borders differ, one on a block edge), bf16 and fp16. NaN in every unused cache slot and padding.
 * Values of magnitude 0.5 (the default is 0.25): peakier softmax rows, so a misplaced P or V element shows.
 */
const HOPPER_CASES: HopperCase[] = [
  { spec: { b: 14, sQ: 1, hQ: 16, hKv: 1, d: 576, seqlens: [142, 43, 0, 264, 283, 245, 0, 44, 47, 14, 214, 143, 68, 127], dtype: 'bf16', fp8: false, scale: 0.5 }, causal: false },
  { spec: { b: 14, sQ: 1, hQ: 16, hKv: 1, d: 576, seqlens: [293, 27, 295, 231, 249, 5, 255, 170, 0, 37, 79, 240, 130, 0], dtype: 'fp16', fp8: false, scale: 0.5 }, causal: false, split: true },
  { spec: { b: 3, sQ: 2, hQ: 16, hKv: 1, d: 576, seqlens: [700, 64, 130], dtype: 'bf16', fp8: false, scale: 0.5 }, causal: true, split: true },
  { spec: { b: 4, sQ: 1, hQ: 128, hKv: 1, d: 576, seqlens: [200, 64, 3, 256], dtype: 'fp16', fp8: false, scale: 0.5 }, causal: false },
  { spec: { b: 3, sQ: 2, hQ: 64, hKv: 1, d: 576, seqlens: [129, 66, 2], dtype: 'bf16', fp8: false, scale: 0.5 }, causal: true },
  // a part's first item without blocks (the first item's Q and blocks are issued before the item loop): parts that
  // start on seqlen-0 requests, and (h_q 64 × s_q 2, causal) m-block 0's first item clipped to no block while m-block 1's has one
  { spec: { b: 7, sQ: 1, hQ: 16, hKv: 1, d: 576, seqlens: [0, 130, 0, 70, 250, 0, 64], dtype: 'bf16', fp8: false, scale: 0.5 }, causal: false },
  { spec: { b: 2, sQ: 2, hQ: 64, hKv: 1, d: 576, seqlens: [1, 200], dtype: 'bf16', fp8: false, scale: 0.5 }, causal: true },
];

/** (this item's blocks, the next item's) as classed above, over every part of `metadata`. */
function itemTransitions(metadata: ArrayLike<number>, seqlens: number[]): Set<string> {
  const kind = (n: number) => (n <= 3 ? String(n) : n % 2 ? 'odd≥5' : 'even≥4');
  const seen = new Set<string>();
  for (const items of partItems(metadata, seqlens)) items.forEach((n, i) => seen.add(`${kind(n)}→${Math.min(items[i + 1] ?? 0, 2)}`));
  return seen;
}
const ALL_TRANSITIONS = ['0', '1', '2', '3', 'even≥4', 'odd≥5'].flatMap((n) => [0, 1, 2].map((m) => `${n}→${m}`));

/**
 * When the emulator lets asynchronous work happen (emu.cpp): everything at issue; wgmma products at the covering
 * wait with the highest thread running first (an operand overwritten or a buffer refilled before the wgmma reading
 * it completed, an accumulator read early); TMA tiles landing only when nothing else can run (a read that did not
 * wait on its mbarrier, a CTA exiting with loads in flight).
 */
const TIMINGS = {
  issue: { note: 'TMA and wgmma complete at issue', env: {} },
  'late wgmma': { note: 'wgmma computed at its wait, threads in reverse order', env: { FAKE_CUDA_EMU_WGMMA: 'wait', FAKE_CUDA_EMU_ORDER: 'reverse' } },
  'late TMA': { note: 'TMA tiles land only when no thread can run', env: { FAKE_CUDA_EMU_TMA: 'late' } },
} as const;

function hopperScenario(timing: keyof typeof TIMINGS): Scenario {
  const entry = 'mla_decode_sm90_';
  return {
    title: `the Hopper kernel ('hopper', the default on sm_90; passed the GPU suite on an H200, so this checks the TMA/mbarrier/wgmma emulation) against the oracle: many short items per SM part, a split request, causal s_q 2, two m-blocks, bf16/fp16 (${TIMINGS[timing].note})`,
    env: { ...HOPPER_ENV, ...TIMINGS[timing].env },
    run(seed) {
      assert.equal(getBackend('cuda').decodeKernels()[0], 'hopper', "the emulated sm_90 device must select 'hopper' by default");
      const seen = new Set<string>();
      // named: the bf16 cases of ≤ 32 rows would run on 'hopper-small' by default (s_q is known at the launch)
      const notes = HOPPER_CASES.map(({ spec, causal, split }, k) =>
        decodeCase(spec, seed + k, causal, {
          kernel: 'hopper',
          split,
          // odd cases: q's folded rows one stride apart (no spare head between tokens), even ones padded
          qRowsOneStride: k % 2 === 1,
          schedule: (md) => {
            if (!causal) for (const t of itemTransitions(md, spec.seqlens)) seen.add(t);
            return `items per part (blocks): ${partItems(md, spec.seqlens).map((p) => p.join(',')).join(' | ')}`;
          },
        }),
      );
      const missing = ALL_TRANSITIONS.filter((t) => !seen.has(t));
      assert.deepEqual(missing, [], 'item transitions (blocks → next item\'s blocks) the cases no longer exercise');
      // the emulator ran the kernel (not some other decode): both entries of each dtype — the memory-bound one (first
      // loads staggered) for one m-block (≤ 64 rows), the other for more
      const f = bindFakeCuda();
      const names = ['bf16', 'fp16'].flatMap((dt) => [`${entry}${dt}`, `${entry}membound_${dt}`]);
      const runs = names.map((name) => f.stat(`emulated:${name}`));
      names.forEach((name, i) => {
        const dt = name.endsWith('fp16') ? 'fp16' : 'bf16', membound = name.includes('membound');
        const wanted = HOPPER_CASES.some((c) => c.spec.dtype === dt && c.spec.sQ * c.spec.hQ <= 64 === membound);
        assert.ok(runs[i] > 0 || !wanted, `${name} never ran`);
      });
      // its split partials are 16-bit rows, merged by the p16 combine (and never by an fp32 one)
      assert.ok(combineRuns(f, 'p16_') > 0, 'no p16 combine ran (the cases have split requests)');
      assert.equal(combineRuns(f), 0, "an fp32 combine ran after 'hopper'");
      notes.push(`emulated launches: ${names.map((n, i) => `${n} ×${runs[i]}`).join(', ')}, p16 combines ×${combineRuns(f, 'p16_')}`);
      return notes;
    },
  };
}

/**
 * The Hopper FP8 kernel (mla_decode_sm90_fp8_bf16: the bf16 kernel's math warpgroups, and a producer warpgroup that
 * TMA-loads each K block's raw e4m3 bytes and bf16 RoPE columns and dequantises them into the K buffers): bf16 q only.
 * The two batches of many short items per SM part (every item transition, as for 'hopper': the producer walks the
 * same items and blocks), a split request with causal s_q 2 and seqlens off the block edge, two m-blocks (h_q 128; h_q
 * 64 × s_q 2 causal). Every cache through a padded view (rows 672 B apart, a spare NaN row per page, 48 B into its
 * buffer) whose every unused byte is 0xff (NaN codes, NaN scales, NaN RoPE), q through a NaN-padded view.
 */
const HOPPER_FP8_CASES: HopperCase[] = [
  { ...HOPPER_CASES[0], spec: { ...HOPPER_CASES[0].spec, fp8: true } },
  { ...HOPPER_CASES[1], spec: { ...HOPPER_CASES[1].spec, dtype: 'bf16', fp8: true } },
  { ...HOPPER_CASES[2], spec: { ...HOPPER_CASES[2].spec, fp8: true } },
  { ...HOPPER_CASES[3], spec: { ...HOPPER_CASES[3].spec, dtype: 'bf16', fp8: true } },
  { ...HOPPER_CASES[4], spec: { ...HOPPER_CASES[4].spec, fp8: true } },
  // K magnitudes spread 2^±3 per block, token and group: scales that change between blocks, under the seesaw's P0
  // published against block j's own max (no longer the bf16 entry's math, session 33); against the oracle with out's
  // absolute tolerance scaled by V's magnitude (hopperFp8Case)
  { ...HOPPER_CASES[2], spec: { ...HOPPER_CASES[2].spec, fp8: true, kSpread: 3 } },
];

/**
 * One dense FP8 decode on the emulated H200 through the Hopper FP8 kernel (the default there; or, with `small`, the
 * 'hopper-small' kernel's FP8 entry) against the oracle. (Until session 33 the Hopper FP8 kernel was also bit for bit
 * its bf16 entry over dequantizeKvFp8(kCache); since then its math warpgroups run the sparse entries' seesaw, P0
 * published against block j's own max, which rounds P differently.)
 */
function hopperFp8Case({ spec, causal, split }: HopperCase, seed: number, schedule: (metadata: Int32Array) => string, small = false, contiguous = false): string {
  const p = makeDenseProblem({ ...spec, seed });
  const cpu = denseTensors(p);
  // (contiguous: the cache as a plain [numBlocks, 64, 1, 656] tensor, rows end to end — the layout every writer makes)
  const gpu = { q: nanPaddedQ(p, 'cuda'), kCache: contiguous ? cpu.kCache.to('cuda') : nanPaddedFp8Cache(p, 'cuda'), blockTable: cpu.blockTable.to('cuda'), cacheSeqlens: cpu.cacheSeqlens.to('cuda') };
  const rows = spec.sQ * spec.hQ;
  const be = getBackend('cuda');
  const layout = { fp8: true, sparse: false, hQ: spec.hQ, hKv: 1, headDim: 576, dtype: 'bf16', pageSize: 64 } as const;
  assert.equal(be.decodeKernels(layout)[0], 'hopper', "without s_q, the emulated sm_90 device offers 'hopper' first for dense FP8 decodes");
  const byDefault = rows <= 32 ? 'hopper-small' : 'hopper';
  assert.equal(be.decodeKernels({ ...layout, sQ: spec.sQ })[0], byDefault, `a dense FP8 decode of ${rows} rows runs on '${byDefault}' by default`);
  const md = getMlaMetadata(gpu.cacheSeqlens, rows, 1);
  const parts = md.tileSchedulerMetadata.shape[0];
  const mdH = getMlaMetadata(cpu.cacheSeqlens, rows, 1, { smCount: parts * Math.ceil(rows / 64) });
  const nanOuts = () => ({ out: Tensor.full([spec.b, spec.sQ, spec.hQ, 512], NaN, { dtype: 'bf16', backend: 'cuda' }), lse: Tensor.full([spec.b, spec.hQ, spec.sQ], NaN, { dtype: 'fp32', backend: 'cuda' }) });
  const f = bindFakeCuda();
  // (17–32 rows: the gather entry, since session 29)
  const r32 = 'mla_decode_sm90_small_fp8_g32_bf16';
  // ('hopper': a packed schedule on the table-reading twin of its FP8 entry)
  const packed = isPackedSchedule(md.tileSchedulerMetadata.toInt32());
  const entry = small ? (rows > 16 ? r32 : 'mla_decode_sm90_small_fp8_bf16') : packed ? 'mla_decode_sm90_fp8_packed_bf16' : 'mla_decode_sm90_fp8_bf16';
  const kernel = small ? 'hopper-small' : 'hopper';
  const before = f.stat(`emulated:${entry}`);
  // the kernel named (small-row FP8 decodes of ≤ 32 rows run on 'hopper-small' by default, asserted above)
  const got = flashMlaWithKvcache(gpu.q, gpu.kCache, gpu.blockTable, gpu.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, { causal, isFp8KvCache: true, kernel, ...nanOuts() });
  assert.ok(f.stat(`emulated:${entry}`) > before, `the FP8 decode${small ? " with kernel 'hopper-small'" : ''} did not run ${entry}`);
  const want = flashMlaWithKvcache(cpu.q, cpu.kCache, cpu.blockTable, cpu.cacheSeqlens, 512, mdH.tileSchedulerMetadata, mdH.numSplits, { causal, isFp8KvCache: true });
  const label = `FP8, b ${spec.b}, s_q ${spec.sQ}, h_q ${spec.hQ}, causal ${causal}, seqlens [${spec.seqlens}]${spec.kSpread ? `, K spread 2^±${spec.kSpread}` : ''}${small ? ', kernel hopper-small' : ''}${contiguous ? ', contiguous cache' : ''}`;
  // 'hopper' on K-spread cases: out's absolute tolerance scaled by V's magnitude (2^3) — with P in bf16 (FlashMLA's
  // numerics) both 'hopper' entries miss FlashMLA's unscaled one on a few elements there (sessions 33–34, as the GPU
  // test file says)
  const vMagnitude = small ? 1 : 2 ** (spec.kSpread ?? 0);
  checkDenseRows(label, got, want, seed, vMagnitude);
  const splits = md.numSplits.toInt32();
  const most = Math.max(...Array.from({ length: spec.b }, (_, i) => splits[i + 1] - splits[i]));
  if (split) assert.ok(most > 1, `${label}: expected a request split over SM parts, the schedule has none (${parts} parts)`);
  return `${label}: matches the oracle${vMagnitude > 1 ? ` (out's absolute tolerance × ${vMagnitude})` : ''} (${parts} SM parts, up to ${most} splits per request; ${schedule(md.tileSchedulerMetadata.toInt32())})`;
}

function hopperFp8Scenario(timing: keyof typeof TIMINGS): Scenario {
  const entry = 'mla_decode_sm90_fp8_bf16';
  return {
    title: `the Hopper FP8 kernel (${entry}, 'hopper': the default for dense FP8 decodes with bf16 q and more than 32 rows on sm_90) against the oracle: many short items per SM part, a split request, causal s_q 2, two m-blocks, padded NaN-filled cache views (${TIMINGS[timing].note})`,
    env: { ...HOPPER_ENV, ...TIMINGS[timing].env },
    run(seed) {
      const seen = new Set<string>();
      const notes = HOPPER_FP8_CASES.map((c, k) =>
        hopperFp8Case(c, seed + k, (md) => {
          if (!c.causal) for (const t of itemTransitions(md, c.spec.seqlens)) seen.add(t);
          return `items per part (blocks): ${partItems(md, c.spec.seqlens).map((p) => p.join(',')).join(' | ')}`;
        }),
      );
      const missing = ALL_TRANSITIONS.filter((t) => !seen.has(t));
      assert.deepEqual(missing, [], 'item transitions (blocks → next item\'s blocks) the cases no longer exercise');
      // its split partials are 16-bit rows, as the bf16 entries' (since session 47), merged by the p16 combine only
      const f = bindFakeCuda();
      assert.ok(combineRuns(f, 'p16_') > 0, 'no p16 combine ran (the cases have split requests)');
      assert.equal(combineRuns(f), 0, "an fp32 combine ran after the 'hopper' FP8 entry");
      notes.push(`emulated launches: ${entry} ×${f.stat(`emulated:${entry}`)}, p16 combines ×${combineRuns(f, 'p16_')}`);
      return notes;
    },
  };
}

/**
 * The sparse cases on `kernel` against the oracle (case k with seed + k), each launching `entry`; together they must
 * run both the split (combine) and the unsplit (decode epilogue) paths. Their notes.
 */
function sparseCasesOn(cases: readonly SparseHopperCase[], seed: number, kernel: 'hopper' | 'hopper-small' | 'generic', entryOf: string | ((c: SparseHopperCase) => string)): string[] {
  const f = bindFakeCuda();
  const paths = { split: 0, whole: 0 };
  const notes = cases.map((c, k) => {
    const entry = typeof entryOf === 'string' ? entryOf : entryOf(c);
    const before = f.stat(`emulated:${entry}`);
    const r = runSparseHopperCase(c, seed + k, kernel);
    assert.ok(f.stat(`emulated:${entry}`) > before, `${c.label}: kernel '${kernel}' did not run ${entry}`);
    paths[r.split ? 'split' : 'whole']++;
    return r.note;
  });
  assert.ok(paths.split > 0 && paths.whole > 0, `the cases must run the split and the unsplit paths: ${JSON.stringify(paths)}`);
  return notes;
}

/**
 * The Hopper sparse FP8 kernel (mla_decode_sm90_fp8_sparse_bf16: sparse decode, bf16 q, any h_q; the default for
 * those on sm_90) against the oracle only — the portable sparse kernel accumulates in another order ('portable-fp8'
 * runs it on these cases, and one with fp16 q, separately) — on the cases of test/util/sparse-hopper.ts (h_q 64 and 128, 16 and 100 padded, s_q 1 and 2, topk 64 / 300 / 576,
 * pages of 64, 61 and 2 tokens, −1 and out-of-range indices, duplicates, all-invalid rows, topkLength 0 / topk /
 * random, sinks with ±inf, NaN in every slot no counted index names, split requests, padded cache views).
 */
function hopperSparseScenario(timing: keyof typeof TIMINGS): Scenario {
  const entry = 'mla_decode_sm90_fp8_sparse_bf16';
  // a token's m-blocks in pairs (ceil(h_q / 64) even: h_q 100 and 128 here) run as 2-CTA clusters on the paired entry
  const pairEntry = 'mla_decode_sm90_fp8_sparse_pair_bf16';
  const entryOf = (c: SparseHopperCase) => (Math.ceil(c.spec.hQ / 64) % 2 === 0 ? pairEntry : entry);
  return {
    title: `the Hopper sparse FP8 kernel (${entry}, the default for sparse decodes with bf16 q and h_q > 32 on sm_90, 'hopper' on request; ${pairEntry}, 2-CTA clusters, for ceil(h_q / 64) even) against the oracle: h_q 64/128 and 16/100 (padded m-blocks), s_q 1/2, topk 64/300/576, pages of 64/61/2 tokens, invalid and duplicate indices, topkLength, ±inf sinks, split requests, padded NaN-filled cache views (${TIMINGS[timing].note})`,
    env: { ...HOPPER_ENV, ...TIMINGS[timing].env },
    run(seed) {
      const be = getBackend('cuda');
      for (const hQ of [16, 32, 33, 64, 100, 128]) {
        // (h_q ≤ 32: the small-row kernel's sparse entry first, the default)
        const want = hQ <= 32 ? ['hopper-small', 'hopper', 'generic'] : ['hopper', 'generic'];
        assert.deepEqual(be.decodeKernels({ fp8: true, sparse: true, hQ, hKv: 1, headDim: 576, dtype: 'bf16', pageSize: 61 }), want, `the emulated sm_90 device's kernels for sparse h_q ${hQ} decodes`);
      }
      const f = bindFakeCuda();
      const notes = sparseCasesOn(SPARSE_HOPPER_CASES, seed, 'hopper', entryOf);
      assert.ok(f.stat(`emulated:${entry}`) > 0 && f.stat(`emulated:${pairEntry}`) > 0, 'the cases must run both the single-CTA and the paired entry');
      notes.push(`emulated launches: ${entry} ×${f.stat(`emulated:${entry}`)}, ${pairEntry} ×${f.stat(`emulated:${pairEntry}`)}, mla_combine_sink_bf16 ×${f.stat('emulated:mla_combine_sink_bf16')}`);
      return notes;
    },
  };
}

/**
 * The small-row kernel's sparse entry (mla_decode_sm90_small_fp8_sparse_bf16, `kernel: 'hopper-small'`, the default for
 * sparse decodes with bf16 q and h_q ≤ 32: 1.41–1.67× 'hopper' on an H200 at h_q 16, docs/perf-log.md session 8, and
 * 1.24–1.60× at h_q 32 as two 16-head CTAs per token, session 28; the f16 datapath since session 9, the register-A
 * datapath over whole-row stages since session 25) against the oracle on the cases of test/util/sparse-hopper.ts
 * SMALL_SPARSE_CASES, and again with K magnitudes (so the gathered tokens' scales and the blocks' group maxima) spread
 * 2^±3; then its head-group cases (h_q 32 and 20: SMALL_SPARSE_HEAD_GROUP_CASES) and its refusal of h_q > 32.
 */
function smallSparseScenario(timing: keyof typeof TIMINGS): Scenario {
  const entry = 'mla_decode_sm90_small_fp8_sparse_bf16';
  const cases = [...SMALL_SPARSE_CASES, ...SMALL_SPARSE_CASES.map((c) => ({ ...c, label: `${c.label}, K spread 2^±3`, spec: { ...c.spec, kSpread: 3 } }))];
  return {
    title: `the small-row kernel's sparse FP8 entry (${entry}, 'hopper-small', the default for h_q ≤ 32; the register-A datapath) against the oracle: h_q 16/3/1, s_q 1/2, topk 64/300/576/130, pages of 64/61/16 tokens, invalid and duplicate indices, topkLength, ±inf sinks, split requests, padded NaN-filled cache views, many items per SM part, and again with K spread 2^±3; h_q 32/20 as two 16-head CTAs per token; refusal of h_q 33 (${TIMINGS[timing].note})`,
    // (h_q 17–32 as head groups whatever the batch: the 32-column entry has its own scenario)
    env: { ...HOPPER_ENV, ...TIMINGS[timing].env, FLASH_MLA_EXPERIMENT_SPARSE_R32: '0' },
    run(seed) {
      const be = getBackend('cuda');
      for (const hQ of [1, 3, 16, 17, 32]) {
        assert.deepEqual(be.decodeKernels({ fp8: true, sparse: true, hQ, hKv: 1, headDim: 576, dtype: 'bf16', pageSize: 61, sQ: 2 }), ['hopper-small', 'hopper', 'generic'], `sparse h_q ${hQ}: 'hopper-small' first`);
      }
      assert.deepEqual(be.decodeKernels({ fp8: true, sparse: true, hQ: 33, hKv: 1, headDim: 576, dtype: 'bf16', pageSize: 61, sQ: 1 }), ['hopper', 'generic'], "sparse h_q 33: no 'hopper-small'");
      const f = bindFakeCuda();
      const notes = sparseCasesOn(cases, seed, 'hopper-small', entry);
      // h_q 17–32: two CTAs of 16 heads per query token
      notes.push(...sparseCasesOn(SMALL_SPARSE_HEAD_GROUP_CASES, seed, 'hopper-small', entry));
      assert.throws(
        () => runSparseHopperCase({ label: 'h_q 33', spec: { b: 1, sQ: 1, hQ: 33, topk: 64, pageSize: 64, numPages: 2, dtype: 'bf16', scale: 0.5 } }, seed, 'hopper-small'),
        (e: unknown) => e instanceof UnsupportedFeatureError && /h_q = 33/.test(e.message),
        "sparse h_q 33 with kernel 'hopper-small' is refused",
      );
      notes.push(`emulated launches: ${entry} ×${f.stat(`emulated:${entry}`)}, mla_combine_sink_bf16 ×${f.stat('emulated:mla_combine_sink_bf16')}`);
      return notes;
    },
  };
}

/**
 * The small-row kernel's 32-column sparse entry (mla_decode_sm90_small_fp8_sparse_r32_bf16,
 * kernels/mla_sm90_small_sparse_r32.cuh; the default for sparse h_q 17–32 when the batch has work enough for it,
 * src/cuda/fp8-decode.ts sparseR32 — forced here with FLASH_MLA_EXPERIMENT_SPARSE_R32=1) against the oracle on the small
 * sparse cases with h_q 32, 17 and 24 (SMALL_SPARSE_R32_CASES), and again with K spread 2^±3 (the tokens' group ratios
 * in S's and V's fragments, the pair's reference scale).
 */
function smallSparseR32Scenario(timing: keyof typeof TIMINGS): Scenario {
  const entry = 'mla_decode_sm90_small_fp8_sparse_r32_bf16';
  const cases = [...SMALL_SPARSE_R32_CASES, ...SMALL_SPARSE_R32_CASES.map((c) => ({ ...c, label: `${c.label}, K spread 2^±3`, spec: { ...c.spec, kSpread: 3 } }))];
  return {
    title: `the small-row kernel's 32-column sparse entry (${entry}; forced: FLASH_MLA_EXPERIMENT_SPARSE_R32=1) against the oracle: h_q 32/17/24, s_q 1/2, topk 64/300/576/130, pages of 64/61/16 tokens, invalid and duplicate indices, topkLength, ±inf sinks, split requests, padded NaN-filled cache views, many items per SM part, and again with K spread 2^±3 (${TIMINGS[timing].note})`,
    env: { ...HOPPER_ENV, ...TIMINGS[timing].env, FLASH_MLA_EXPERIMENT_SPARSE_R32: '1' },
    run(seed) {
      const f = bindFakeCuda();
      const notes = sparseCasesOn(cases, seed, 'hopper-small', entry);
      notes.push(`emulated launches: ${entry} ×${f.stat(`emulated:${entry}`)}, mla_combine_sink_bf16 ×${f.stat('emulated:mla_combine_sink_bf16')}`);
      return notes;
    },
  };
}

/**
 * The small-row Hopper kernel (kernels/mla_decode_sm90_small.cu, `kernel: 'hopper-small'`; levels 1–3 of
 * docs/perf-log.md's session-7 plan ran on an H200, the 32-row entry not yet) against the oracle: h_q 16 × s_q 1,
 * h_q 8 × s_q 2 causal, h_q 3 × s_q 5 causal (15 rows: a padding column), h_q 1; seqlens on and around block edges
 * (0, 1, 63, 64, 65, 128), several items per SM part, requests split over parts; NaN-padded views. The cases of
 * 17–32 rows run the 32-row entry (mla_decode_sm90_small_r32_bf16): h_q 16 × s_q 2 causal, h_q 32 × s_q 1, h_q 5 ×
 * s_q 5 causal (25 rows: seven padding columns). Every case over the FP8 cache too (≤ 16 rows
 * mla_decode_sm90_small_fp8_bf16, 17–32 mla_decode_sm90_small_fp8_g32_bf16: blocks split for S, channels for P·V; padded
 * NaN-filled cache views as 'hopper-fp8'), and again with K
 * magnitudes spread 2^±3 per block, token and group (`kSpread`: scales and group maxima that change between blocks, so
 * the reference-scale rescaling is exercised) — against the oracle (its sparse entry: 'hopper-small sparse'). Then its
 * refusals: more than 32 rows (either cache), fp16 q.
 */
const SMALL_ROW_CASES: (HopperCase & { smCount?: number })[] = [
  { spec: { b: 7, sQ: 1, hQ: 16, hKv: 1, d: 576, seqlens: [142, 63, 0, 264, 64, 1, 65], dtype: 'bf16', fp8: false, scale: 0.5 }, causal: false },
  { spec: { b: 3, sQ: 2, hQ: 8, hKv: 1, d: 576, seqlens: [700, 64, 130], dtype: 'bf16', fp8: false, scale: 0.5 }, causal: true, split: true },
  { spec: { b: 2, sQ: 5, hQ: 3, hKv: 1, d: 576, seqlens: [2, 600], dtype: 'bf16', fp8: false, scale: 0.5 }, causal: true, split: true },
  { spec: { b: 4, sQ: 1, hQ: 1, hKv: 1, d: 576, seqlens: [65, 128, 3, 500], dtype: 'bf16', fp8: false, scale: 0.5 }, causal: false, split: true },
  // b · 2 < SM parts: the combine kernel merges (the 16-row cases above fold it into the decode)
  { spec: { b: 2, sQ: 1, hQ: 16, hKv: 1, d: 576, seqlens: [900, 130], dtype: 'bf16', fp8: false, scale: 0.5 }, causal: false, split: true, smCount: 12 },
  // 17–32 rows: the 32-row entry (16-bit cache only; the combine kernel merges its splits)
  { spec: { b: 3, sQ: 2, hQ: 16, hKv: 1, d: 576, seqlens: [700, 64, 130], dtype: 'bf16', fp8: false, scale: 0.5 }, causal: true, split: true },
  { spec: { b: 7, sQ: 1, hQ: 32, hKv: 1, d: 576, seqlens: [142, 63, 0, 264, 64, 1, 65], dtype: 'bf16', fp8: false, scale: 0.5 }, causal: false },
  { spec: { b: 2, sQ: 5, hQ: 5, hKv: 1, d: 576, seqlens: [2, 600], dtype: 'bf16', fp8: false, scale: 0.5 }, causal: true, split: true },
  { spec: { b: 4, sQ: 1, hQ: 32, hKv: 1, d: 576, seqlens: [65, 128, 3, 500], dtype: 'bf16', fp8: false, scale: 0.5 }, causal: false, split: true },
  { spec: { b: 2, sQ: 2, hQ: 16, hKv: 1, d: 576, seqlens: [900, 127], dtype: 'bf16', fp8: false, scale: 0.5 }, causal: true, split: true, smCount: 12 },
];
/** The small-row kernel's entry for a bf16 decode of `rows` folded rows per request. */
const smallRowEntry = (rows: number) => (rows > 16 ? 'mla_decode_sm90_small_r32_bf16' : 'mla_decode_sm90_small_bf16');

/** Launches of any combine entry point of a kind (mla_combine_<kind>w*_c*_{bf16,fp16}: '' fp32 partials, 'p16_' 16-bit) the emulator ran so far. */
function combineRuns(f: ReturnType<typeof bindFakeCuda>, kind: '' | 'p16_' = ''): number {
  let n = 0;
  for (const w of [1, 2, 4, 8]) for (const c of [1, 2, 4]) for (const dt of ['bf16', 'fp16']) n += Math.max(0, f.stat(`emulated:mla_combine_${kind}w${w}_c${c}_${dt}`));
  return n;
}

function smallRowScenario(timing: keyof typeof TIMINGS): Scenario {
  const entry = 'mla_decode_sm90_small_bf16', r32 = 'mla_decode_sm90_small_r32_bf16', fp8Entry = 'mla_decode_sm90_small_fp8_bf16', fp8R32 = 'mla_decode_sm90_small_fp8_g32_bf16';
  return {
    title: `the small-row Hopper kernel (${entry}, ${r32} and the FP8 entries; 'hopper-small') against the oracle: h_q·s_q 16/16/15/1 and 32/32/25, causal s_q 2 and 5, seqlens around block edges, split requests, folded and kernel combine; FP8 (16 and 32 rows) over padded NaN-filled cache views, also with K spread 2^±3; refusals of > 32 rows (either cache) and fp16 q (17–32 FP8 rows on the gather entry; ${TIMINGS[timing].note})`,
    env: { ...HOPPER_ENV, ...TIMINGS[timing].env },
    run(seed) {
      const be = getBackend('cuda');
      const dense = { fp8: false, sparse: false, hQ: 16, hKv: 1, headDim: 576, dtype: 'bf16' as const, pageSize: 64 };
      assert.equal(be.decodeKernels(dense)[0], 'hopper', "without s_q, 'hopper' is offered first for a bf16 h_q 16 decode");
      assert.ok(be.decodeKernels(dense).includes('hopper-small'), "'hopper-small' must be offered for a bf16 h_q 16 decode");
      assert.equal(be.decodeKernels({ ...dense, sQ: 1 })[0], 'hopper-small', "'hopper-small' is the default for h_q · s_q = 16 rows");
      // over the 16-bit cache 'hopper' is the default for 17–32 rows, the 32-row entry offered (features.ts
      // smallRowDefaultMaxRows); over the FP8 cache the small-row kernel stays first up to 32 rows
      assert.equal(be.decodeKernels({ ...dense, sQ: 2 })[0], 'hopper', "h_q · s_q = 16 · 2 = 32 rows (16-bit cache): 'hopper' first");
      assert.ok(be.decodeKernels({ ...dense, sQ: 2 }).includes('hopper-small'), "'hopper-small' must be offered for 32 rows");
      assert.equal(be.decodeKernels({ ...dense, hQ: 32, sQ: 1 })[0], 'hopper', "h_q · s_q = 32 · 1 rows (16-bit cache): 'hopper' first");
      assert.equal(be.decodeKernels({ ...dense, fp8: true, hQ: 32, sQ: 1 })[0], 'hopper-small', "h_q · s_q = 32 · 1 rows (FP8 cache): 'hopper-small' first");
      assert.equal(be.decodeKernels({ ...dense, hQ: 11, sQ: 3 })[0], 'hopper', "h_q · s_q = 33 rows: 'hopper' first");
      assert.equal(be.decodeKernels({ ...dense, hQ: 32 })[0], 'hopper', "without s_q, 'hopper' is offered first for a bf16 h_q 32 decode");
      assert.ok(be.decodeKernels({ ...dense, hQ: 32 }).includes('hopper-small'), "'hopper-small' must be offered for a bf16 h_q 32 decode");
      assert.ok(!be.decodeKernels({ ...dense, hQ: 11, sQ: 3 }).includes('hopper-small'), "'hopper-small' is not offered for 33 rows");
      assert.ok(!be.decodeKernels({ ...dense, hQ: 33 }).includes('hopper-small'), "'hopper-small' is not offered for h_q 33");
      assert.ok(!be.decodeKernels().includes('hopper-small'), "'hopper-small' is not in the device's shape-less kernel list");
      {
        // no kernel named: a 16-row decode runs the 16-row entry, 32- and 48-row ones 'hopper' (its memory-bound entry)
        const f0 = bindFakeCuda();
        const byDefault: [Omit<DenseSpec, 'seed'>, string][] = [
          [{ b: 2, sQ: 1, hQ: 16, hKv: 1, d: 576, seqlens: [70, 3], dtype: 'bf16', fp8: false }, entry],
          [{ b: 2, sQ: 2, hQ: 16, hKv: 1, d: 576, seqlens: [70, 3], dtype: 'bf16', fp8: false }, 'mla_decode_sm90_membound_bf16'],
          [{ b: 2, sQ: 3, hQ: 16, hKv: 1, d: 576, seqlens: [70, 3], dtype: 'bf16', fp8: false }, 'mla_decode_sm90_membound_bf16'],
        ];
        for (const [spec, name] of byDefault) {
          const before = f0.stat(`emulated:${name}`);
          decodeCase(spec, seed, spec.sQ > 1, {});
          assert.equal(f0.stat(`emulated:${name}`), before + 1, `a bf16 h_q 16 s_q ${spec.sQ} decode without a kernel name did not run ${name}`);
        }
      }
      const f = bindFakeCuda();
      const notes = SMALL_ROW_CASES.map(({ spec, causal, split, smCount }, k) => {
        const entry = smallRowEntry(spec.sQ * spec.hQ);
        const before = f.stat(`emulated:${entry}`), combinesBefore = combineRuns(f);
        const note = decodeCase(spec, seed + k, causal, { kernel: 'hopper-small', split, smCount, schedule: (md) => `items per part (blocks): ${partItems(md, spec.seqlens).map((p) => p.join(',')).join(' | ')}` });
        assert.ok(f.stat(`emulated:${entry}`) > before, `kernel 'hopper-small' did not run ${entry}`);
        // the combine is folded into the decode when b · 2 ≥ SM parts and ≤ 16 rows (src/cuda/mla.ts), launched otherwise
        const folded = spec.b * 2 >= (smCount ?? 4) && spec.sQ * spec.hQ <= 16;
        assert.equal(combineRuns(f) - combinesBefore, folded ? 0 : 1, `${folded ? 'folded' : 'unfolded'} combine: combine kernel launches`);
        return `${note}; combine ${folded ? 'folded into the decode' : 'kernel'}`;
      });
      const fp8 = { ...dense, fp8: true };
      assert.deepEqual(be.decodeKernels(fp8), ['hopper', 'generic', 'hopper-small'], "'hopper-small' must be offered, last, for a dense FP8 h_q 16 decode with bf16 q");
      assert.deepEqual(be.decodeKernels({ ...fp8, sQ: 2 }), ['hopper-small', 'hopper', 'generic'], "'hopper-small' is the default for a dense FP8 decode of 32 rows (its 32-row FP8 entry)");
      assert.equal(be.decodeKernels({ ...fp8, hQ: 32, sQ: 1 })[0], 'hopper-small', "'hopper-small' is the default for a dense FP8 h_q 32 s_q 1 decode");
      assert.ok(!be.decodeKernels({ ...fp8, hQ: 11, sQ: 3 }).includes('hopper-small'), "'hopper-small' is not offered for a dense FP8 decode of 33 rows");
      assert.deepEqual(be.decodeKernels({ ...fp8, sparse: true }), ['hopper-small', 'hopper', 'generic'], "'hopper-small' takes a sparse h_q 16 decode, the default (its sparse entry: 'hopper-small sparse')");
      // the FP8 cases, then the same with K magnitudes (so the scales) spread 2^±3 per token and group
      const fp8Cases = SMALL_ROW_CASES;
      [...fp8Cases, ...fp8Cases.map((c) => ({ ...c, spec: { ...c.spec, kSpread: 3 } }))].forEach((c, k) =>
        notes.push(hopperFp8Case({ ...c, spec: { ...c.spec, fp8: true } }, seed + 100 + k, (md) => `items per part (blocks): ${partItems(md, c.spec.seqlens).map((p) => p.join(',')).join(' | ')}`, true)),
      );
      // the 17–32-row cases again over a contiguous cache (rows 656 B apart, the gather entry's stage pitch)
      fp8Cases.filter((c) => c.spec.sQ * c.spec.hQ > 16).forEach((c, k) =>
        notes.push(hopperFp8Case({ ...c, spec: { ...c.spec, fp8: true } }, seed + 200 + k, (md) => `items per part (blocks): ${partItems(md, c.spec.seqlens).map((p) => p.join(',')).join(' | ')}`, true, true)),
      );
      // refusals, typed and naming the argument, before anything runs
      const refusals: [Omit<DenseSpec, 'seed'>, RegExp][] = [
        [{ b: 1, sQ: 3, hQ: 11, hKv: 1, d: 576, seqlens: [70], dtype: 'bf16', fp8: false }, /kernel: h_q · s_q = 11 · 3 = 33 rows \(at most 32 rows\) with decode kernel 'hopper-small'/],
        [{ b: 1, sQ: 1, hQ: 33, hKv: 1, d: 576, seqlens: [70], dtype: 'bf16', fp8: false }, /kernel: h_q = 33 \(more than 32 rows\) with decode kernel 'hopper-small'/],
        [{ b: 1, sQ: 3, hQ: 11, hKv: 1, d: 576, seqlens: [70], dtype: 'bf16', fp8: true }, /kernel: h_q · s_q = 11 · 3 = 33 rows over the FP8 KV cache \(at most 32 rows\) with decode kernel 'hopper-small'/],
        [{ b: 1, sQ: 1, hQ: 33, hKv: 1, d: 576, seqlens: [70], dtype: 'bf16', fp8: true }, /kernel: h_q = 33 \(more than 32 rows\) over the FP8 KV cache with decode kernel 'hopper-small'/],
        [{ b: 1, sQ: 1, hQ: 16, hKv: 1, d: 576, seqlens: [70], dtype: 'fp16', fp8: false }, /kernel: fp16 q with decode kernel 'hopper-small'/],
      ];
      const launches = () => [entry, r32, fp8Entry, fp8R32].map((e) => f.stat(`emulated:${e}`));
      for (const [spec, what] of refusals) {
        const p = makeDenseProblem({ ...spec, seed });
        const cpu = denseTensors(p);
        const gpu = { q: cpu.q.to('cuda'), kCache: cpu.kCache.to('cuda'), blockTable: cpu.blockTable.to('cuda'), cacheSeqlens: cpu.cacheSeqlens.to('cuda') };
        const md = getMlaMetadata(gpu.cacheSeqlens, spec.sQ * spec.hQ, 1);
        const before = launches();
        assert.throws(
          () => flashMlaWithKvcache(gpu.q, gpu.kCache, gpu.blockTable, gpu.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, { kernel: 'hopper-small', isFp8KvCache: spec.fp8 }),
          (e: Error) => e.name === 'UnsupportedFeatureError' && (e as UnsupportedFeatureError).argument === 'kernel' && what.test(e.message),
        );
        assert.deepEqual(launches(), before, 'a refused decode ran the kernel');
      }
      notes.push(`refused: 33 rows, h_q 33 (either cache), fp16 q; emulated launches: ${entry} ×${f.stat(`emulated:${entry}`)}, ${r32} ×${f.stat(`emulated:${r32}`)}, ${fp8Entry} ×${f.stat(`emulated:${fp8Entry}`)}, ${fp8R32} ×${f.stat(`emulated:${fp8R32}`)}`);
      return notes;
    },
  };
}

/**
 * FLASH_MLA_EMULATION=full adds what `npm test` leaves out to stay under two minutes on two cores: the planted-bug
 * checks of the emulator itself (three more emulator builds).
 */
const FULL = process.env.FLASH_MLA_EMULATION === 'full';

const scenarios: Record<string, Scenario> = {
  ...Object.fromEntries((Object.keys(TIMINGS) as (keyof typeof TIMINGS)[]).map((timing) => [`hopper${timing === 'issue' ? '' : `, ${timing}`}`, hopperScenario(timing)])),
  ...Object.fromEntries((Object.keys(TIMINGS) as (keyof typeof TIMINGS)[]).map((timing) => [`hopper-fp8${timing === 'issue' ? '' : `, ${timing}`}`, hopperFp8Scenario(timing)])),
  ...Object.fromEntries((Object.keys(TIMINGS) as (keyof typeof TIMINGS)[]).map((timing) => [`hopper-sparse${timing === 'issue' ? '' : `, ${timing}`}`, hopperSparseScenario(timing)])),
  ...Object.fromEntries((Object.keys(TIMINGS) as (keyof typeof TIMINGS)[]).map((timing) => [`hopper-small${timing === 'issue' ? '' : `, ${timing}`}`, smallRowScenario(timing)])),
  ...Object.fromEntries((Object.keys(TIMINGS) as (keyof typeof TIMINGS)[]).map((timing) => [`hopper-small sparse${timing === 'issue' ? '' : `, ${timing}`}`, smallSparseScenario(timing)])),
  ...Object.fromEntries((Object.keys(TIMINGS) as (keyof typeof TIMINGS)[]).map((timing) => [`hopper-small sparse r32${timing === 'issue' ? '' : `, ${timing}`}`, smallSparseR32Scenario(timing)])),

  'proven-kernels': {
    title: "the kernels that passed the GPU suite on an H200 ('generic', 'generic-small'; h_kv 1, d_qk 576) match the oracle here too",
    env: { FAKE_CUDA_SMS: '32' },
    run(seed) {
      const notes: string[] = [];
      for (const kernel of ['generic', 'generic-small']) {
        notes.push(decodeCase({ b: 3, sQ: 2, hQ: 16, hKv: 1, d: 576, seqlens: [400, 1, 64], dtype: 'bf16', fp8: false }, seed, true, { kernel, split: true }));
      }
      notes.push(decodeCase({ b: 2, sQ: 1, hQ: 64, hKv: 1, d: 576, seqlens: [130, 5], dtype: 'fp16', fp8: false }, seed + 1, false, { kernel: 'generic' }));
      return notes;
    },
  },

  'portable-fp8': {
    title: "the portable FP8-cache kernel (mla_decode_fp8.cu, 'generic'; passed the GPU suite on an H200): dense decodes (bf16 and fp16 q, causal s_q 2 and not, split requests, padded NaN-filled cache views), the Hopper sparse cases and one of them with fp16 q, against the oracle",
    env: { FAKE_CUDA_SMS: '32' },
    run(seed) {
      const f = bindFakeCuda();
      const notes = PORTABLE_FP8_DENSE.map(([spec, causal], k) => portableFp8DenseCase(spec, seed + k, causal));
      // (fp16 q: sparse decodes with it run on 'generic' only)
      const fp16: SparseHopperCase = { ...SPARSE_HOPPER_CASES[0], label: `${SPARSE_HOPPER_CASES[0].label}, fp16 q`, spec: { ...SPARSE_HOPPER_CASES[0].spec, dtype: 'fp16' } };
      notes.push(...sparseCasesOn([...SPARSE_HOPPER_CASES, fp16], seed + 100, 'generic', (c) => `mla_decode_fp8_sparse_${c.spec.dtype}`));
      for (const e of ['mla_decode_fp8_dense_bf16', 'mla_decode_fp8_dense_fp16', 'mla_decode_fp8_sparse_bf16', 'mla_decode_fp8_sparse_fp16']) assert.ok(f.stat(`emulated:${e}`) > 0, `${e} did not run`);
      return notes;
    },
  },

  ...layoutScenarios(),

  'foreign memory': {
    title: "a decode over another library's memory (each input copied into a cuMemAlloc of its own and wrapped by Tensor.fromDevicePointer: q and the cache as NaN-padded strided views, block table, seqlens, metadata, out, lse) gives bit for bit the owned tensors' result, on 'hopper-small' and 'hopper' (a split request, the combine)",
    env: HOPPER_ENV,
    run(seed) {
      const notes: string[] = [];
      for (const [k, spec] of ([
        { b: 2, sQ: 1, hQ: 16, hKv: 1, d: 576, seqlens: [700, 70], dtype: 'bf16', fp8: false },
        { b: 2, sQ: 2, hQ: 64, hKv: 1, d: 576, seqlens: [900, 130], dtype: 'bf16', fp8: false },
      ] satisfies Omit<DenseSpec, 'seed'>[]).entries()) {
        const p = makeDenseProblem({ ...spec, seed: seed + k });
        const cpu = denseTensors(p);
        const own = { ...nanPaddedViews(p, 'cuda'), blockTable: cpu.blockTable.to('cuda'), cacheSeqlens: cpu.cacheSeqlens.to('cuda') };
        const md = getMlaMetadata(own.cacheSeqlens, spec.sQ * spec.hQ, 1);
        const outs = () => ({ out: Tensor.full([spec.b, spec.sQ, spec.hQ, 512], NaN, { dtype: spec.dtype, backend: 'cuda' }), lse: Tensor.full([spec.b, spec.hQ, spec.sQ], NaN, { dtype: 'fp32', backend: 'cuda' }) });
        // another library's memory: each tensor copied into a cuMemAlloc of its own (q and the cache with their padded
        // strides: the copy keeps the padding bytes), then wrapped
        const mems: ForeignBuffer[] = [];
        const theirs = (t: Tensor) => {
          const span = t.shape.reduce((acc, d, i) => acc + (d - 1) * t.strides[i], 0) + 1;
          const elem = t.dtype === 'fp32' || t.dtype === 'int32' ? 4 : 2;
          const m = foreignAlloc(span * elem);
          mems.push(m);
          const w = Tensor.fromDevicePointer(m.ptr, [span], { dtype: t.dtype });
          w.copyFrom(t.view([span], [1], t.offset));
          w.dispose();
          return Tensor.fromDevicePointer(m.ptr, t.shape, { dtype: t.dtype, strides: t.strides });
        };
        const ownOut = outs(), theirOut = outs();
        const want = flashMlaWithKvcache(own.q, own.kCache, own.blockTable, own.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, { causal: true, ...ownOut });
        const w = { q: theirs(own.q), kCache: theirs(own.kCache), blockTable: theirs(own.blockTable), cacheSeqlens: theirs(own.cacheSeqlens), md: theirs(md.tileSchedulerMetadata), splits: theirs(md.numSplits), out: theirs(theirOut.out), lse: theirs(theirOut.lse) };
        const got = flashMlaWithKvcache(w.q, w.kCache, w.blockTable, w.cacheSeqlens, 512, w.md, w.splits, { causal: true, out: w.out, lse: w.lse });
        const label = `b ${spec.b}, s_q ${spec.sQ}, h_q ${spec.hQ}, seqlens [${spec.seqlens}] (seed ${seed + k})`;
        assert.equal(got.out, w.out);
        assert.deepEqual(got.out.toRaw(), want.out.toRaw(), `${label}: out`);
        assert.deepEqual(got.lse.toRaw(), want.lse.toRaw(), `${label}: lse`);
        assert.ok(!Number.isNaN(got.lse.toFloat32()[0]), `${label}: lse not written`);
        const splits = md.numSplits.toInt32();
        notes.push(`${label}: bit for bit, up to ${Math.max(splits[1] - splits[0], splits[2] - splits[1])} splits per request`);
        for (const t of [...Object.values(w), ...Object.values(own), ...Object.values(ownOut), ...Object.values(theirOut), md.tileSchedulerMetadata, md.numSplits]) t.dispose();
        for (const m of mems) m.free();
      }
      const f = bindFakeCuda();
      for (const e of ['mla_decode_sm90_small_bf16', 'mla_decode_sm90_bf16']) assert.ok(f.stat(`emulated:${e}`) >= 2, `${e} did not run for both`);
      return notes;
    },
  },

  'combine-walks': {
    title: "the combine kernel alone on synthetic split partials under every launch shape (W warps per row × C column chunks), over fp32 partials and over the scaled fp16 rows 'hopper' writes (the mla_combine_p16_* entries, bf16 and fp16 outputs; factors per 256-column half from 2^−54 to 2^15, and to 2^113 with a bf16 output; and 'lone halves': one split 100 below its row's max LSE whose halves' weights × factors are 0 and 2^13): requests of 1–70 splits — past a warp's first batch (C = 2: 8 splits, C = 4: a 16-split stage) and its first 32 — with empty splits and an all-empty row, against the float64 merge; rows of unsplit requests left alone",
    env: { FAKE_CUDA_SMS: '8', FAKE_CUDA_SMEM_OPTIN: '232448' },
    run(seed) {
      const r = rng(seed);
      const sQ = 2, hQ = 4, qRows = sQ * hQ;
      const counts = [70, 1, 2, 17, 9, 33, 40, 5];
      const b = counts.length;
      const first = [0];
      for (const n of counts) first.push(first[first.length - 1] + n);
      const total = first[b];
      // partial values an fp16 holds exactly (bf16 ones, none below fp16's normal range)
      const oAccum = Float32Array.from({ length: total * qRows * 512 }, () => {
        const v = fromHalfBits('bf16', toHalfBits('bf16', 2 * r() - 1));
        return Math.abs(v) < 2 ** -14 ? 0 : v;
      });
      // split LSEs (log2 units) spread over 2^±12; some splits empty (−inf), and request 4's row 3 has no key at all
      const lseAccum = Float32Array.from({ length: total * qRows }, () => (r() < 0.1 ? -Infinity : 24 * r() - 12));
      for (let j = 0; j < counts[4]; j++) lseAccum[(first[4] + j) * qRows + 3] = -Infinity;
      // an empty split's partial row is NaN here: weight 0 must keep it out (0 · NaN would not)
      for (let k = 0; k < total * qRows; k++) if (lseAccum[k] === -Infinity) oAccum.fill(NaN, k * 512, (k + 1) * 512);
      // the 16-bit partial rows 'hopper' writes (PARTIAL16_ROW_ELEMS): those values in fp16, then the factors of the
      // two 256-column halves (powers of two: the decode's smallest, 2^−54, and 2^15 one in ten each, else 2^−20 …
      // 2^14 — outputs an fp16 holds; NaN for an empty split) — the partial is value × its half's factor
      const rowElems = MLA_CONFIG.PARTIAL16_ROW_ELEMS;
      // (`wide`: for a bf16 output only, the decode's whole range, 2^−54 … 2^113)
      const drawFactors = (wide: boolean) =>
        Float32Array.from({ length: total * qRows * 2 }, () => {
          const u = r();
          return 2 ** (u < 0.1 ? -54 : u < 0.2 ? (wide ? 113 : 15) : Math.floor(35 * r()) - 20);
        });
      const rowsWith = (f: Float32Array) => {
        const rows16 = new Uint16Array(total * qRows * rowElems);
        const rows16f = new Float32Array(rows16.buffer);
        for (let k = 0; k < total * qRows; k++) {
          for (let c = 0; c < 512; c++) rows16[k * rowElems + c] = toHalfBits('fp16', oAccum[k * 512 + c]);
          const empty = lseAccum[k] === -Infinity;
          rows16f[(k * rowElems + 512) / 2] = empty ? NaN : f[2 * k];
          rows16f[(k * rowElems + 512) / 2 + 1] = empty ? NaN : f[2 * k + 1];
        }
        return rows16;
      };
      const factors = drawFactors(false), wideFactors = drawFactors(true);
      // 'lone halves' (16-bit partials, bf16 out): in ~3 of 10 split rows one split sits 100 below its row's max LSE,
      // with factors 2^−54 and 2^113 on its two halves (which one at random): weight × factor is 0 for one half
      // (2^−154, below fp32's subnormals) and 2^13 for the other — the combine must skip the one half's loads and
      // keep the other's (C = 1 reads both halves with their own weights: mla_combine.cu sub_weight). The other splits'
      // factors are at most 1 here, so the lone half's 2^13 dominates its columns.
      const lseLone = Float32Array.from(lseAccum), loneFactors = factors.map((f) => Math.min(f, 1));
      let lone = 0;
      for (let i = 0; i < b; i++) {
        if (counts[i] < 2) continue;
        for (let row = 0; row < qRows; row++) {
          if (r() >= 0.3) continue;
          const l = Array.from({ length: counts[i] }, (_, j) => lseAccum[(first[i] + j) * qRows + row]);
          const m = Math.max(...l);
          if (m === -Infinity) continue;
          const j = l.indexOf(m) === 0 ? 1 : 0; // a split that is not the (first) max
          const k = (first[i] + j) * qRows + row;
          if (lseAccum[k] === -Infinity) continue; // (its partial row is NaN: stays empty)
          lseLone[k] = m - 100;
          const hi = r() < 0.5 ? 0 : 1;
          loneFactors[2 * k + hi] = 2 ** 113;
          loneFactors[2 * k + 1 - hi] = 2 ** -54;
          lone++;
        }
      }
      assert.ok(lone >= 4, `combine-walks: only ${lone} lone-half rows drawn`);
      // the float64 merge (kernels/mla_combine.cu's header) of partials `value(k, c)` (k: split row) with split LSEs
      // `lses`; rows of one-split requests stay NaN (the decode wrote them)
      const merge = (value: (k: number, c: number) => number, lses: Float32Array = lseAccum) => {
        const refOut = new Float64Array(b * qRows * 512).fill(NaN);
        const refLse = new Float64Array(b * qRows).fill(NaN);
        for (let i = 0; i < b; i++) {
          if (counts[i] < 2) continue;
          for (let row = 0; row < qRows; row++) {
            const l = Array.from({ length: counts[i] }, (_, j) => lses[(first[i] + j) * qRows + row]);
            const m = Math.max(...l);
            const s = Math.floor(row / hQ), h = row % hQ;
            const at = (i * qRows + row) * 512;
            if (m === -Infinity) {
              refOut.fill(0, at, at + 512);
              refLse[(i * hQ + h) * sQ + s] = Infinity;
              continue;
            }
            const g = Math.log2(l.reduce((acc, x) => acc + 2 ** (x - m), 0)) + m;
            for (let c = 0; c < 512; c++) {
              let v = 0;
              for (let j = 0; j < counts[i]; j++) if (l[j] !== -Infinity) v += 2 ** (l[j] - g) * value((first[i] + j) * qRows + row, c);
              refOut[at + c] = v;
            }
            refLse[(i * hQ + h) * sQ + s] = g * Math.LN2;
          }
        }
        return { refOut, refLse };
      };
      const ref32 = merge((k, c) => oAccum[k * 512 + c]);
      const ref16 = merge((k, c) => oAccum[k * 512 + c] * factors[2 * k + (c < 256 ? 0 : 1)]);
      const ref16wide = merge((k, c) => oAccum[k * 512 + c] * wideFactors[2 * k + (c < 256 ? 0 : 1)]);
      const ref16lone = merge((k, c) => oAccum[k * 512 + c] * loneFactors[2 * k + (c < 256 ? 0 : 1)], lseLone);
      const { device, stream } = getCudaContext();
      const numSplits = Tensor.from(Int32Array.from(first), [b + 1], { dtype: 'int32', backend: 'cuda' });
      const oAcc = Tensor.from(oAccum, [oAccum.length], { dtype: 'fp32', backend: 'cuda' });
      const rows16 = rowsWith(factors), rows16wide = rowsWith(wideFactors), rows16lone = rowsWith(loneFactors);
      const oAcc16 = Tensor.from(rows16, [rows16.length], { dtype: 'fp16', backend: 'cuda' });
      const oAcc16wide = Tensor.from(rows16wide, [rows16wide.length], { dtype: 'fp16', backend: 'cuda' });
      const oAcc16lone = Tensor.from(rows16lone, [rows16lone.length], { dtype: 'fp16', backend: 'cuda' });
      const lseAcc = Tensor.from(lseAccum, [lseAccum.length], { dtype: 'fp32', backend: 'cuda' });
      const lseAccLone = Tensor.from(lseLone, [lseLone.length], { dtype: 'fp32', backend: 'cuda' });
      // the params the combine does not read (the decode's inputs, strides, scales): zero (pointers: null)
      const noDecode = Object.fromEntries(Object.entries(MLA_DECODE_PARAMS_LAYOUT).map(([k, off]) => [k, off < MLA_DECODE_PARAMS_LAYOUT.q_batch_stride ? 0n : 0])) as MlaDecodeParamsValues;
      const shapes: string[] = [];
      // fp32 partials with a bf16 output; 16-bit partials with either output dtype
      const kinds = [
        { p16: false, dt: 'bf16', wide: false, lone: false },
        { p16: true, dt: 'bf16', wide: false, lone: false },
        { p16: true, dt: 'fp16', wide: false, lone: false },
        { p16: true, dt: 'bf16', wide: true, lone: false },
        { p16: true, dt: 'bf16', wide: true, lone: true },
      ] as const;
      for (const { p16, dt, wide, lone } of kinds) for (const warpsPerRow of [1, 2, 4, 8] as const) for (const chunks of [1, 2, 4] as const) {
        const name = `${p16 ? `16-bit partials${lone ? ' (lone halves)' : wide ? ' (factors to 2^113)' : ''}, ${dt} out, ` : ''}W ${warpsPerRow} C ${chunks}`;
        const { refOut, refLse } = p16 ? (lone ? ref16lone : wide ? ref16wide : ref16) : ref32;
        const out = Tensor.full([b, sQ, hQ, 512], NaN, { dtype: dt, backend: 'cuda' });
        const lse = Tensor.full([b, hQ, sQ], NaN, { dtype: 'fp32', backend: 'cuda' });
        const params = encodeMlaDecodeParams({
          ...noDecode,
          num_splits: numSplits.ptr, out: out.ptr, lse: lse.ptr, o_accum: p16 ? (lone ? oAcc16lone : wide ? oAcc16wide : oAcc16).ptr : oAcc.ptr,
          lse_accum: (lone ? lseAccLone : lseAcc).ptr,
          b, s_q: sQ, h_q: hQ, q_rows: qRows,
        });
        const k = loadKernel('mla_combine', portableArchs(device), `mla_combine_${p16 ? 'p16_' : ''}w${warpsPerRow}_c${chunks}_${dt}`, ['bytes']);
        const sharedMemBytes = combineStageBytes(chunks); // C = 4's stage, as the backend gives it
        k.launch({ grid: combineGrid(b, qRows, { warpsPerRow, chunks }), block: [MLA_CONFIG.COMBINE_THREADS, 1, 1], stream, pdl: false, sharedMemBytes }, params);
        const co = compare(`${name} out`, out.toFloat32(), refOut, dt, { seed });
        const cl = compare(`${name} lse`, lse.toFloat32(), refLse, 'fp32', { seed, absTol: 1e-4 });
        assert.ok(co.ok, co.message);
        assert.ok(cl.ok, cl.message);
        out.dispose();
        lse.dispose();
        shapes.push(`${p16 ? `${dt}${lone ? '(lone)' : wide ? '(2^113)' : ''}:` : ''}W${warpsPerRow}C${chunks}`);
      }
      for (const t of [numSplits, oAcc, oAcc16, oAcc16wide, oAcc16lone, lseAcc, lseAccLone]) t.dispose();
      return [`${shapes.length} launch shapes (${shapes.join(' ')}) = the float64 merge: splits per request [${counts}], ${qRows} rows each; ${lone} lone-half rows`];
    },
  },

  'group-bits': {
    title: "each KV head's group decodes bit for bit like its own h_kv = 1 problem (d_qk 576 on 'generic', 512 on the layout kernel)",
    env: { FAKE_CUDA_SMS: '24' },
    run(seed) {
      const notes: string[] = [];
      const hQ = 12, hKv = 3, sQ = 2, hpk = 4, b = 2;
      forceCombineShape({ warpsPerRow: 1, chunks: 1 });
      for (const d of [576, 512]) {
        const p = makeDenseProblem({ b, sQ, hQ, hKv, d, seqlens: [400, 33], dtype: 'bf16', fp8: false, seed: seed + d });
        const cpu = denseTensors(p);
        const gpu = { q: cpu.q.to('cuda'), kCache: cpu.kCache.to('cuda'), blockTable: cpu.blockTable.to('cuda'), cacheSeqlens: cpu.cacheSeqlens.to('cuda') };
        const md = getMlaMetadata(gpu.cacheSeqlens, sQ * hpk, hKv);
        const parts = md.tileSchedulerMetadata.shape[0];
        const whole = flashMlaWithKvcache(gpu.q, gpu.kCache, gpu.blockTable, gpu.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, { causal: true });
        const wholeBits = whole.out.toRaw() as Uint16Array;
        const m1 = getMlaMetadata(gpu.cacheSeqlens, sQ * hpk, 1, { smCount: parts });
        for (let kh = 0; kh < hKv; kh++) {
          const q = gpu.q.view([b, sQ, hpk, d], [sQ * hQ * d, hQ * d, d, 1], kh * hpk * d);
          const kCache = gpu.kCache.view([p.numBlocks, 64, 1, d], [64 * hKv * d, hKv * d, d, 1], kh * d);
          const one = flashMlaWithKvcache(q, kCache, gpu.blockTable, gpu.cacheSeqlens, 512, m1.tileSchedulerMetadata, m1.numSplits, { causal: true, kernel: d === 576 ? 'generic' : undefined });
          const bits = one.out.toRaw() as Uint16Array;
          for (let i = 0; i < b; i++) for (let s = 0; s < sQ; s++) for (let g = 0; g < hpk; g++) {
            const h = kh * hpk + g;
            assert.deepEqual(bits.subarray(((i * sQ + s) * hpk + g) * 512, ((i * sQ + s) * hpk + g + 1) * 512), wholeBits.subarray(((i * sQ + s) * hQ + h) * 512, ((i * sQ + s) * hQ + h + 1) * 512), `d ${d}, request ${i}, token ${s}, head ${h}`);
          }
        }
        notes.push(`d_qk ${d}: h_kv 3 decode = three h_kv 1 decodes, bit for bit (${parts} SM parts, requests split ${Array.from(md.numSplits.toInt32()).join(',')})`);
      }
      return notes;
    },
  },

  'metadata-even': {
    title: 'the metadata kernel = the cpu scheduler with the even-split rule (on by default: EVEN_SPLIT_MIN_SPLITS = 2), bit for bit, where it fires and next to it',
    env: { FAKE_CUDA_SMS: '132', FLASH_MLA_EXPERIMENT_EVEN_SPLIT: '2' },
    run(seed) {
      let fired = 0;
      const runs = metadataMatchesScheduler(metadataEvenSplitSets(rng(seed)), [1, 128, 1024], seed, ({ lens, parts, e }) => {
        // the rule's own effect, the fourth rule off in both (with it on the tight payload often finds the same payload)
        const walk = scheduleTiles(lens, parts, undefined, true, 0, 0);
        const even = scheduleTiles(lens, parts, undefined, true, undefined, 0);
        if (walk.metadata.some((x, i) => x !== even.metadata[i])) fired++;
      });
      assert.ok(fired >= 4, `the even-split rule changed only ${fired} of ${runs} schedules: the sets no longer exercise it`);
      return [`${runs} batches (test/util/metadata-sets.ts metadataEvenSplitSets) = scheduleTiles with the rule on, bit for bit; the rule changed ${fired} of them`];
    },
  },

  'metadata-tight': {
    title: 'the metadata kernel = the cpu scheduler with the tight payload (on by default: TIGHT_PAYLOAD_STEPS = 5), bit for bit, through each of its paths',
    env: { FAKE_CUDA_SMS: '132' },
    run(seed) {
      let fired = 0;
      let serial = 0;
      const runs = metadataMatchesScheduler(metadataTightSets(rng(seed)), [1, 128, 1024], seed, ({ lens, parts, e }) => {
        const walk = scheduleTiles(lens, parts, undefined, true, undefined, 0);  // the same batch with the rule off
        if (walk.metadata.some((x, i) => x !== e.metadata[i])) {
          fired++;
          if (lens.length + parts <= 32) serial++;
        }
      });
      assert.ok(fired >= 8 && serial >= 2, `the tight payload changed only ${fired} of ${runs} schedules (${serial} serial walks): the sets no longer exercise it`);
      return [`${runs} batches (test/util/metadata-sets.ts metadataTightSets) = scheduleTiles, bit for bit; the rule changed ${fired} of them (${serial} on the serial walk)`];
    },
  },

  'metadata-pack': {
    title: 'the metadata kernel = the cpu scheduler with the packed order (the fifth rule, FLASH_MLA_EXPERIMENT_PACK=3), bit for bit, where it packs, where it weighs and keeps the batch order, and past its bounds',
    env: { FAKE_CUDA_SMS: '132', FLASH_MLA_EXPERIMENT_PACK: String(PACK_PIECE_COST_BLOCKS) },
    run(seed) {
      let packed = 0;
      let kept = 0;
      const runs = metadataMatchesScheduler(metadataPackSets(rng(seed)), [1, 16, 17, 64, 128, 256], seed, ({ lens, rows, parts, e }) => {
        if (isPackedSchedule(e.metadata)) packed++;
        else if (lens.length <= packMaxRequests(parts) && new Set(lens.map((x) => Math.ceil(x / 64))).size > 1) kept++;
      });
      assert.ok(packed >= 40 && kept >= 6, `the packed order fired on ${packed} and was weighed and not taken on ${kept} of ${runs} batches: the sets no longer exercise both`);
      return [`${runs} batches (test/util/metadata-sets.ts metadataPackSets) = scheduleTiles, bit for bit; ${packed} packed, ${kept} eligible ones kept in batch order`];
    },
  },

  'packed-order': {
    title: "every dense decode kernel on packed schedules (the fifth rule on: positions read through the order table) against the oracle: 'hopper' (bf16 64 rows, fp16 128 rows), 'hopper-small' (16 and 32 rows), 'generic', 'generic-small', the layout kernel (h_kv 2), FP8 on 'hopper', on 'hopper-small' (16 rows; 32: the gather entry) and on 'generic'",
    env: { ...HOPPER_ENV, FLASH_MLA_EXPERIMENT_PACK: String(PACK_PIECE_COST_BLOCKS) },
    run(seed) {
      const notes: string[] = [];
      const packedNote = (md: Int32Array) => {
        assert.notEqual(md[5], 0, 'the case must be packed (its schedule is in batch order)');
        assert.ok(Array.from({ length: 3 }, (_, i) => requestAt(md, i)).some((x, i) => x !== i), 'the packed order must not start as the batch order');
        return `order ${Array.from({ length: md.length / 8 * 3 }, (_, i) => i).filter((i) => md[8 * Math.floor(i / 3) + 5 + (i % 3)] !== 0).map((i) => requestAt(md, i)).join(',')}`;
      };
      // (each packed with a request split over parts: FAKE_CUDA_SMS 4 gives 4 parts up to 64 rows, 2 at 128 rows or h_kv 2)
      const cases: [Omit<DenseSpec, 'seed'>, boolean, string][] = [
        [{ b: 8, sQ: 1, hQ: 64, hKv: 1, d: 576, seqlens: [159, 140, 132, 257, 837, 8, 801, 124], dtype: 'bf16', fp8: false }, false, 'hopper'],
        [{ b: 5, sQ: 2, hQ: 64, hKv: 1, d: 576, seqlens: [468, 824, 629, 678, 621], dtype: 'fp16', fp8: false }, true, 'hopper'],
        [{ b: 4, sQ: 2, hQ: 16, hKv: 1, d: 576, seqlens: [738, 228, 23, 149], dtype: 'bf16', fp8: false }, true, 'hopper-small'],
        [{ b: 5, sQ: 1, hQ: 16, hKv: 1, d: 576, seqlens: [24, 39, 592, 56, 776], dtype: 'bf16', fp8: false }, false, 'hopper-small'],
        [{ b: 4, sQ: 1, hQ: 64, hKv: 1, d: 576, seqlens: [775, 10, 641, 541], dtype: 'fp16', fp8: false }, false, 'generic'],
        [{ b: 5, sQ: 2, hQ: 16, hKv: 1, d: 576, seqlens: [24, 39, 592, 56, 776], dtype: 'bf16', fp8: false }, true, 'generic-small'],
        [{ b: 3, sQ: 1, hQ: 64, hKv: 2, d: 576, seqlens: [812, 591, 835], dtype: 'bf16', fp8: false }, false, ''],
      ];
      const f = bindFakeCuda();
      const packedEntries = ['mla_decode_sm90_packed_membound_bf16', 'mla_decode_sm90_packed_fp16'];
      const before = packedEntries.map((e) => f.stat(`emulated:${e}`));
      for (const [k, [spec, causal, kernel]] of cases.entries()) notes.push(decodeCase(spec, seed + k, causal, { kernel: kernel || undefined, split: true, schedule: packedNote }));
      // 'hopper' on a packed schedule: its table-reading entries (the others take positions as requests)
      packedEntries.forEach((e, i) => assert.ok(f.stat(`emulated:${e}`) > before[i], `${e} did not run`));
      const fp8: HopperCase[] = [
        { spec: { b: 5, sQ: 1, hQ: 64, hKv: 1, d: 576, seqlens: [61, 620, 391, 876, 20], dtype: 'bf16', fp8: true }, causal: false, split: true },
        { spec: { b: 4, sQ: 2, hQ: 16, hKv: 1, d: 576, seqlens: [738, 228, 23, 149], dtype: 'bf16', fp8: true }, causal: true, split: true },
      ];
      // ('hopper''s FP8 entry has a table-reading twin too: the batch-order one compiles without the table, session 60)
      const fp8Entries = ['mla_decode_sm90_fp8_packed_bf16', 'mla_decode_sm90_fp8_bf16'];
      const fp8Before = fp8Entries.map((e) => f.stat(`emulated:${e}`));
      notes.push(hopperFp8Case(fp8[0], seed + 10, packedNote));
      const [fp8Packed, fp8Plain] = fp8Entries.map((e, i) => f.stat(`emulated:${e}`) - fp8Before[i]);
      assert.ok(fp8Packed > 0 && fp8Plain === 0, `a packed FP8 schedule on 'hopper': ${fp8Packed} launches of ${fp8Entries[0]}, ${fp8Plain} of ${fp8Entries[1]}`);
      notes.push(hopperFp8Case(fp8[1], seed + 11, packedNote, true));
      notes.push(hopperFp8Case({ ...fp8[1], spec: { ...fp8[1].spec, sQ: 1 }, causal: false }, seed + 13, packedNote, true));  // (16 rows: the dense FP8 entry)
      notes.push(portableFp8DenseCase({ ...fp8[0].spec, dtype: 'fp16' }, seed + 12, false));
      return notes;
    },
  },

  'host-metadata': {
    title: "metadata made on the host for the device (getMlaMetadata of cpu seqlens with { backend: 'cuda' }, PagedKvCache.metadata): the metadata kernel's schedule bit for bit with no launch, a packed one runs 'hopper''s table-reading entry against the oracle, the cache's buffers stay put, a capture refuses it",
    env: { ...HOPPER_ENV, FAKE_CUDA_SMS: '8' },
    run(seed) {
      const f = bindFakeCuda();
      const r = rng(seed);
      const notes: string[] = [];
      // 1. host = device kernel, bit for bit, and no metadata launch for the host's
      let compared = 0;
      for (const lens of metadataGoldenSets(r).filter((l) => l.length <= 300).slice(0, 12)) {
        for (const rows of [16, 64, 128]) {
          const cpuLens = Tensor.from(Int32Array.from(lens), [lens.length], { dtype: 'int32', backend: 'cpu' });
          const before = f.stat('ran:mla_metadata');
          const dev = getMlaMetadata(cpuLens.to('cuda'), rows, 1);
          const launches = f.stat('ran:mla_metadata');
          assert.ok(launches > before, 'the device schedule did not count its metadata launch: the no-launch check below would prove nothing');
          const host = getMlaMetadata(cpuLens, rows, 1, { backend: 'cuda' });
          assert.equal(f.stat('ran:mla_metadata'), launches, 'the host schedule launched the metadata kernel');
          assert.equal(host.tileSchedulerMetadata.backend, 'cuda');
          const where = `b ${lens.length}, ${rows} rows, seed ${seed}`;
          assert.deepEqual(host.tileSchedulerMetadata.toInt32(), dev.tileSchedulerMetadata.toInt32(), where);
          assert.deepEqual(host.numSplits.toInt32(), dev.numSplits.toInt32(), where);
          for (const t of [cpuLens, dev.tileSchedulerMetadata, dev.numSplits, host.tileSchedulerMetadata, host.numSplits]) t.dispose();
          compared++;
        }
      }
      notes.push(`${compared} batches: the host's schedule = the metadata kernel's, bit for bit, none launched for it`);
      // 2. a packed host schedule: 'hopper''s table-reading entry, against the oracle (the decode's value check on)
      const spec = { b: 8, sQ: 1, hQ: 64, hKv: 1, d: 576, seqlens: [159, 140, 132, 257, 837, 8, 801, 124], dtype: 'bf16' as const, fp8: false };
      const p = makeDenseProblem({ ...spec, seed });
      const cpu = denseTensors(p);
      const gpu = { ...nanPaddedViews(p, 'cuda'), blockTable: cpu.blockTable.to('cuda'), cacheSeqlens: cpu.cacheSeqlens.to('cuda') };
      const md = getMlaMetadata(cpu.cacheSeqlens, 64, 1, { backend: 'cuda', packOrder: true });
      const mdAll = md.tileSchedulerMetadata.toInt32();
      assert.ok(isPackedSchedule(mdAll), `b 8 over ${mdAll.length / 8} parts with packOrder: expected a packed schedule`);
      const entry = 'mla_decode_sm90_packed_membound_bf16';
      const ran = f.stat(`emulated:${entry}`);
      const got = flashMlaWithKvcache(gpu.q, gpu.kCache, gpu.blockTable, gpu.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, { causal: false });
      assert.ok(f.stat(`emulated:${entry}`) > ran, `${entry} did not run on a packed host schedule`);
      const mdH = getMlaMetadata(cpu.cacheSeqlens, 64, 1);
      const want = flashMlaWithKvcache(cpu.q, cpu.kCache, cpu.blockTable, cpu.cacheSeqlens, 512, mdH.tileSchedulerMetadata, mdH.numSplits, { causal: false });
      checkDenseRows(`host-made packed schedule, seqlens [${spec.seqlens}]`, got, want, seed);
      notes.push(`a packed host schedule (order ${Array.from({ length: 3 }, (_, i) => requestAt(mdAll, i)).join(',')}…) ran ${entry}: matches the oracle`);
      // 2b. a graph of the decode alone, captured over a batch-order schedule (equal lengths: nothing to pack) and
      // replayed after the host wrote a packed one into the same buffers: the captured entry must read the order table
      {
        const equal = new Int32Array(spec.b).fill(8);
        gpu.cacheSeqlens.write(equal);
        const mdG = getMlaMetadata(Tensor.from(equal, [spec.b], { dtype: 'int32', backend: 'cpu' }), 64, 1, { backend: 'cuda', packOrder: true });
        assert.ok(!isPackedSchedule(mdG.tileSchedulerMetadata.toInt32()), 'equal lengths: expected a batch-order schedule at capture');
        const outs = { out: Tensor.full([spec.b, 1, spec.hQ, 512], NaN, { dtype: 'bf16', backend: 'cuda' }), lse: Tensor.full([spec.b, spec.hQ, 1], NaN, { dtype: 'fp32', backend: 'cuda' }) };
        const step = captureGraph(() => {
          flashMlaWithKvcache(gpu.q, gpu.kCache, gpu.blockTable, gpu.cacheSeqlens, 512, mdG.tileSchedulerMetadata, mdG.numSplits, { causal: false, ...outs });
        });
        gpu.cacheSeqlens.write(Int32Array.from(spec.seqlens));
        getMlaMetadata(cpu.cacheSeqlens, 64, 1, { out: mdG, packOrder: true });
        assert.ok(isPackedSchedule(mdG.tileSchedulerMetadata.toInt32()), 'the replayed schedule must be packed');
        step.replay();
        checkDenseRows(`graph captured over a batch-order schedule, replayed over a packed one, seqlens [${spec.seqlens}]`, outs, want, seed);
        step.dispose();
        notes.push('a decode graph captured over a batch-order host schedule and replayed over a packed one: matches the oracle');
      }
      // 2c. captured over metadata made without packOrder (the batch-order entry): a packed schedule into those buffers
      // is refused while the graph lives, allowed after
      {
        const equal = new Int32Array(spec.b).fill(8);
        gpu.cacheSeqlens.write(equal);
        const eqLens = Tensor.from(equal, [spec.b], { dtype: 'int32', backend: 'cpu' });
        const mdB = getMlaMetadata(eqLens, 64, 1, { backend: 'cuda' });
        const outs = { out: Tensor.empty([spec.b, 1, spec.hQ, 512], { dtype: 'bf16', backend: 'cuda' }), lse: Tensor.empty([spec.b, spec.hQ, 1], { dtype: 'fp32', backend: 'cuda' }) };
        const plainEntry = 'mla_decode_sm90_membound_bf16';
        const plainRan = f.stat(`emulated:${plainEntry}`);
        const step = captureGraph(() => {
          flashMlaWithKvcache(gpu.q, gpu.kCache, gpu.blockTable, gpu.cacheSeqlens, 512, mdB.tileSchedulerMetadata, mdB.numSplits, { causal: false, ...outs });
        });
        step.replay();
        assert.ok(f.stat(`emulated:${plainEntry}`) > plainRan, `the graph captured without packOrder should run ${plainEntry}`);
        assert.throws(() => getMlaMetadata(cpu.cacheSeqlens, 64, 1, { out: mdB, packOrder: true }), { name: 'RangeError', message: /^packOrder: expected false for this out\.tileSchedulerMetadata: a live CUDA graph/ });
        getMlaMetadata(cpu.cacheSeqlens, 64, 1, { out: mdB });  // (batch order: allowed)
        step.dispose();
        getMlaMetadata(cpu.cacheSeqlens, 64, 1, { out: mdB, packOrder: true });
        assert.ok(isPackedSchedule(mdB.tileSchedulerMetadata.toInt32()), 'after the graph: the packed schedule is written');
        // an eager decode over a host schedule made with packOrder that did not pack: the batch-order entry
        const mdE = getMlaMetadata(eqLens, 64, 1, { backend: 'cuda', packOrder: true });
        const before = f.stat(`emulated:${plainEntry}`);
        flashMlaWithKvcache(gpu.q, gpu.kCache, gpu.blockTable, gpu.cacheSeqlens, 512, mdE.tileSchedulerMetadata, mdE.numSplits, { causal: false, ...outs });
        assert.ok(f.stat(`emulated:${plainEntry}`) > before, `an unpacked host schedule (packOrder asked) should run ${plainEntry} eagerly`);
        gpu.cacheSeqlens.write(Int32Array.from(spec.seqlens));
        notes.push('captured without packOrder: a packed schedule into its metadata refused while the graph lives, written after; an unpacked host schedule runs the batch-order entry');
      }
      // 3. PagedKvCache.metadata: the same values as getMlaMetadata over its cacheSeqlens (packOrder on: the cache's
      // default for 5 requests; lengths the rule packs over these 4 parts at every step below), the same buffers every step
      const cache = new PagedKvCache({ numBlocks: 48, backend: 'cuda', maxBatch: 8 });
      try {
        const ids = Array.from({ length: 5 }, () => cache.addSequence());
        const rows = (n: number) => Tensor.from(Float32Array.from({ length: n * 512 }, () => r() - 0.5), [n, 512], { dtype: 'bf16', backend: 'cuda' });
        const pe = (n: number) => Tensor.from(Float32Array.from({ length: n * 64 }, () => r() - 0.5), [n, 64], { dtype: 'bf16', backend: 'cuda' });
        const tokens = ids.flatMap((id, i) => Array([143, 331, 525, 468, 231][i]).fill(id));
        cache.append(tokens, rows(tokens.length), pe(tokens.length));
        const first = cache.metadata(ids, 128);
        const addr = [first.tileSchedulerMetadata.ptr, first.numSplits.ptr];
        for (let step = 0; step < 3; step++) {
          const dev = getMlaMetadata(cache.cacheSeqlens(ids), 128, 1, { packOrder: true });
          const launches = f.stat('ran:mla_metadata');
          const md = cache.metadata(ids, 128);
          assert.equal(f.stat('ran:mla_metadata'), launches, 'PagedKvCache.metadata launched the metadata kernel');
          assert.deepEqual([md.tileSchedulerMetadata.ptr, md.numSplits.ptr], addr, 'the cache\'s metadata moved between steps');
          assert.notEqual(dev.tileSchedulerMetadata.toInt32()[5], 0, 'these lengths no longer pack: the comparison cannot tell the orders apart');
          assert.deepEqual(md.tileSchedulerMetadata.toInt32(), dev.tileSchedulerMetadata.toInt32(), `step ${step}, seed ${seed}`);
          assert.deepEqual(md.numSplits.toInt32(), dev.numSplits.toInt32(), `step ${step}, seed ${seed}`);
          dev.tileSchedulerMetadata.dispose();
          dev.numSplits.dispose();
          cache.reserve(ids);
        }
        assert.throws(() => captureGraph(() => cache.metadata(ids, 128)), /^Error: metadata: the cache would write host data to the device while a CUDA graph is being captured; call reserve\(\)\/append\(\)\/blockTable\(\)\/cacheSeqlens\(\)\/metadata\(\) before captureGraph/);
        const lens = Tensor.from(Int32Array.from([5, 70]), [2], { dtype: 'int32', backend: 'cpu' });
        const out = getMlaMetadata(lens, 16, 1, { backend: 'cuda' });
        assert.throws(() => captureGraph(() => getMlaMetadata(lens, 16, 1, { out })), /before captureGraph/);
        // refused inside a capture before anything is allocated
        const allocs = f.calls('cuMemAlloc_v2');
        assert.throws(() => captureGraph(() => getMlaMetadata(lens, 16, 1, { backend: 'cuda' })), /is written from the host; call it before captureGraph/);
        assert.equal(f.calls('cuMemAlloc_v2'), allocs, 'the host path allocated inside the capture before refusing');
        // device lengths make metadata on the device only: the error names the argument that asks for another place
        const devLens = lens.to('cuda');
        const other = "(the backend of cacheSeqlens; metadata for another backend is made from cacheSeqlens on 'cpu')";
        assert.throws(() => getMlaMetadata(devLens, 16, 1, { backend: 'cpu' }), { name: 'TypeError', message: `backend: expected 'cuda' ${other} or nothing, got the string 'cpu'` });
        const cpuOut = { tileSchedulerMetadata: Tensor.empty(out.tileSchedulerMetadata.shape, { dtype: 'int32' }), numSplits: Tensor.empty([3], { dtype: 'int32' }) };
        assert.throws(() => getMlaMetadata(devLens, 16, 1, { out: cpuOut, backend: 'cuda' }), { name: 'TypeError', message: `out.tileSchedulerMetadata: expected a tensor on 'cuda' ${other}, got 'cpu'` });
        notes.push(`PagedKvCache.metadata over 3 steps (lengths [${ids.map((id) => cache.seqLen(id))}]): the metadata kernel's values, at the same addresses, no launch; refused inside a capture`);
      } finally {
        cache.dispose();
      }
      return notes;
    },
  },

  'bench-entries': {
    title: "the bench's plain runs keep their metadata's record while its +md runs recompute the metadata unread: an equal-length batch with packOrder on runs 'hopper''s batch-order entry in every plain run",
    env: HOPPER_ENV,
    async run() {
      const f = bindFakeCuda();
      const entries = ['mla_decode_sm90_membound_bf16', 'mla_decode_sm90_packed_membound_bf16'];
      const before = entries.map((e) => f.stat(`emulated:${e}`));
      const config = { id: 'equal', b: 4, s: 128, h_q: 64, s_q: 1, varlen: false, causal: true, dtype: 'bf16' as const, seqlens: [128, 128, 128, 128] };
      const res = await runBench({ backend: 'cuda', configs: [config], iters: 2, warmup: 0, seed: 1, checkSamples: 0, packOrder: true,
        bandwidth: { value: 1, source: 'user', method: 'test' }, peak: { value: 1, source: 'user', method: 'test' } });
      const [plain, packed] = entries.map((e, i) => f.stat(`emulated:${e}`) - before[i]);
      assert.equal(res.rows.length, 1);
      // (the +md runs: their metadata recomputed without reading the seqlens may be packed, so the table-reading entry)
      assert.ok(plain >= 3 && plain === packed + 1, `plain-run launches of ${entries[0]}: ${plain}, of ${entries[1]}: ${packed} (1 checked + the plain runs, + the +md runs)`);
      return [`${plain} launches of the batch-order entry (the checked run and every plain run), ${packed} of the table-reading one (the +md runs)`];
    },
  },

  'bench-host-metadata': {
    title: "bench --metadata host: the dense rows' schedules made on the host (no metadata kernel in any run), packed where asked, checked against the oracle; mdHostUs per row and settings.metadata in a valid result",
    env: { ...HOPPER_ENV, FAKE_CUDA_SMS: '8' },
    async run(seed) {
      const f = bindFakeCuda();
      const config = { id: 'var8', b: 8, s: 400, h_q: 64, s_q: 1, varlen: true, causal: true, dtype: 'bf16' as const, seqlens: [159, 140, 132, 257, 837, 8, 801, 124] };
      const opts = { backend: 'cuda' as const, configs: [config], iters: 2, warmup: 0, seed, checkSamples: 4,
        bandwidth: { value: 1, source: 'user' as const, method: 'test' }, peak: { value: 1, source: 'user' as const, method: 'test' } };
      const runs = f.stat('ran:mla_metadata');
      const res = await runBench({ ...opts, metadata: 'host', packOrder: true });
      assert.equal(f.stat('ran:mla_metadata'), runs, 'a --metadata host run launched the metadata kernel');
      const [row] = res.rows;
      assert.equal(res.settings.metadata, 'host');
      assert.ok(row.check?.ok, `check: ${row.check?.message}`);
      assert.ok(row.schedule?.packed, `schedule ${JSON.stringify(row.schedule)}: expected the packed order (packOrder on, b 8 of mixed lengths)`);
      assert.ok(row.mdHostUs !== undefined && row.mdHostUs > 0, `mdHostUs ${row.mdHostUs}`);
      assert.ok(row.mdMs !== undefined && row.mdTimesMs?.length === 2);
      assert.deepEqual(validateBenchResult(JSON.parse(JSON.stringify(res))), []);
      // the default: the metadata kernel in the first metadata call and in every +md run, no mdHostUs
      const dev = await runBench(opts);
      assert.ok(f.stat('ran:mla_metadata') >= runs + 2 + 2, 'the device-metadata run did not launch the metadata kernel per +md run');
      assert.equal(dev.settings.metadata, 'device');
      assert.equal(dev.rows[0].mdHostUs, undefined);
      assert.ok(dev.rows[0].check?.ok, `check: ${dev.rows[0].check?.message}`);
      return [`host: 0 metadata launches, ${row.schedule.pieces} pieces packed, mdHostUs ${row.mdHostUs.toFixed(1)} (emulated); device: ${f.stat('ran:mla_metadata') - runs} launches`];
    },
  },

  metadata: {
    title: 'the metadata kernel (mla_metadata) = the cpu scheduler, bit for bit, on batches of 1 … 7000 requests',
    env: { FAKE_CUDA_SMS: '132' },
    run(seed) {
      const runs = metadataMatchesScheduler(metadataGoldenSets(rng(seed)), [1, 16, 128, 1024], seed, ({ lens, rows, parts, e, sl, md }) => {
        if (rows !== 16) return;
        // into a view 4 bytes past a 16-byte boundary: the kernel's rows then take its 4-byte stores
        const store = Tensor.empty([parts * 8 + 1], { dtype: 'int32', backend: 'cuda' });
        const view = store.view([parts, 8], [8, 1], 1);
        getMlaMetadata(sl, rows, 1, { out: { tileSchedulerMetadata: view, numSplits: md.numSplits } });
        assert.deepEqual(view.toInt32(), e.metadata, `b ${lens.length}, ${parts} parts, seed ${seed}, misaligned rows`);
        store.dispose();
      });
      return [`${runs} batches (b 1 … 7000, test/util/metadata-sets.ts) = scheduleTiles, metadata rows and num_splits bit for bit (a quarter of them also into rows 4 bytes off a 16-byte boundary)`];
    },
  },

  'race-detector': {
    title: 'the shared-memory race detector on tiny kernels (test/util/emu/emu_selftest.cpp), both thread orders: a missing __syncthreads, a cp.async read before its wait, a refill not ordered after an ldmatrix read, an mbarrier or named barrier skipped — and their correct versions — and FAKE_CUDA_EMU_RACECHECK=off; stmatrix.x4 round-tripped through ldmatrix.x4',
    env: {},
    run() {
      const launch = bindEmulator();
      // kernel → the report it must end in (a RegExp), or null: it must run clean
      const cases: [string, RegExp | null][] = [
        ['sync_ok', null],
        ['sync_missing', /race \((RAW|WAR)\).*(st\.shared|ld\.shared) by thread \d+ \(warp \d, emu_selftest\.cpp:\d+\).*(ld\.shared|st\.shared) \[0x[0-9a-f]+, \+4\) by thread/],
        ['cp_async_ok', null],
        ['cp_async_no_wait', /race \(RAW\).*cp\.async by thread (\d+) \(warp 0, emu_selftest\.cpp:\d+\) is still in flight.*ld\.shared \[0x[0-9a-f]+, \+16\) by thread \d+ \(warp 1/],
        ['cp_async_own_ok', null],
        ['cp_async_own_no_wait', /race \(RAW\).*cp\.async by thread (\d+) \(warp 0, [^)]*\) is still in flight.*ld\.shared \[0x[0-9a-f]+, \+16\) by thread \1 \(warp 0/],
        ['refill_ok', null],
        ['refill_arrive_before_read', /race \((WAR|RAW)\).*(ldmatrix by thread \d+ \(warp 1.*then cp\.async|cp\.async by thread \d+ \(warp 0.*ldmatrix)/],
        ['mbarrier_ok', null],
        ['mbarrier_no_wait', /race \((WAR|RAW)\).*(st|ld)\.shared.*then (ld|st)\.shared/],
        ['named_ok', null],
        ['named_store_after_arrive', /race \((RAW|WAR)\).*(st|ld)\.shared.*then (ld|st)\.shared/],
        // not a race: stmatrix.x4's emulation, checked by a round trip through ldmatrix.x4 (and a reload from moved rows)
        ['stmatrix_ok', null],
        ['stmatrix_swapped', /stmatrix round trip: lane \d+ fragment \d is 0x[0-9a-f]+, stored 0x[0-9a-f]+/],
      ];
      const notes: string[] = [];
      for (const order of ['forward', 'reverse']) {
        process.env.FAKE_CUDA_EMU_ORDER = order; // read by the emulator at each launch
        for (const [kernel, want] of cases) {
          const r = launch(`emu_selftest_${kernel}`, 64, 1024);
          if (want === null) assert.equal(r.code, 0, `${kernel} (${order} order): ${r.message}`);
          else {
            assert.equal(r.code, -1, `${kernel} (${order} order): no report`);
            assert.match(r.message, want, `${kernel} (${order} order)`);
            if (order === 'forward') notes.push(`${kernel}: ${r.message.replace(/^.*?shared-memory race/, 'race').replace(/: nothing orders the two.*$/, '')}`);
          }
        }
      }
      // the forward order gives the direction the selftest comments promise: the refill is a WAR, as on the GPU
      process.env.FAKE_CUDA_EMU_ORDER = 'forward';
      assert.match(launch('emu_selftest_refill_arrive_before_read', 64, 1024).message, /race \(WAR\) on the word at shared 0x[0-9a-f]+: ldmatrix/);
      process.env.FAKE_CUDA_EMU_RACECHECK = 'off';
      assert.equal(launch('emu_selftest_sync_missing', 64, 1024).code, 0, 'FAKE_CUDA_EMU_RACECHECK=off still reports');
      delete process.env.FAKE_CUDA_EMU_RACECHECK;
      return notes;
    },
  },

  'out-of-bounds': {
    title: 'the emulator faults like a GPU: a block-table entry past the cache (value checks off) → sticky CudaError ILLEGAL_ADDRESS',
    env: { FAKE_CUDA_SMS: '8' },
    run(seed) {
      assert.equal(getBackend('cuda').decodeKernels()[0], 'generic');
      const p = makeDenseProblem({ b: 1, sQ: 1, hQ: 4, hKv: 2, d: 512, seqlens: [100], dtype: 'bf16', fp8: false, seed });
      const cpu = denseTensors(p);
      const table = cpu.blockTable.toInt32();
      table[1] = p.numBlocks + 1000; // the request's second page: far past the cache
      const gpu = { q: cpu.q.to('cuda'), kCache: cpu.kCache.to('cuda'), blockTable: Tensor.from(table, cpu.blockTable.shape, { backend: 'cuda' }), cacheSeqlens: cpu.cacheSeqlens.to('cuda') };
      const md = getMlaMetadata(gpu.cacheSeqlens, 2, 2);
      let err: unknown = null;
      try {
        const r = flashMlaWithKvcache(gpu.q, gpu.kCache, gpu.blockTable, gpu.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, { checkValues: false });
        r.lse.toFloat32(); // a read-back reports the fault
      } catch (e) {
        err = e;
      }
      assert.ok(err instanceof CudaError, `expected a CudaError, got ${err}`);
      assert.equal(err.codeName, 'CUDA_ERROR_ILLEGAL_ADDRESS');
      return [`reported: ${err.message.slice(0, 160)}`];
    },
  },
};

const scenarioName = process.env[SCENARIO_VAR];
if (scenarioName) {
  const s = scenarios[scenarioName];
  if (!s) throw new Error(`${SCENARIO_VAR}: no scenario '${scenarioName}'`);
  try {
    console.log(JSON.stringify({ notes: await s.run(Number(process.env.FLASH_MLA_SEED)) }));
  } catch (e) {
    // the fake's last note says what the emulator saw: the faulting access, or who waits on what in a deadlock
    console.error(`scenario '${scenarioName}' failed (seed ${process.env.FLASH_MLA_SEED}): ${(e as Error).stack ?? e}\nthe fake driver's last note: ${bindFakeCuda().log()}`);
    process.exitCode = 1;
  }
} else {
  const self = fileURLToPath(import.meta.url);
  const limitMs = 180_000;
  const runScenario = async (fake: FakeCuda, name: string, seed: number, env: Record<string, string> = {}) => {
    const r = await runNode(self, [], fakeCudaEnv(fake, { ...scenarios[name].env, ...env, [SCENARIO_VAR]: name, FLASH_MLA_SEED: String(seed) }), limitMs);
    // a wait no thread can end is the emulator's deadlock report (CUDA_ERROR_LAUNCH_TIMEOUT and who waits on
    // what); only a thread looping without ever reaching a barrier or collective runs into this limit
    const why = r.signal === 'SIGTERM' ? `killed after ${limitMs / 1000} s: a kernel that never finishes without waiting on anything?` : `the child died of ${r.signal} (a crash of the emulator or the fake)`;
    assert.notEqual(r.status, null, `${why} (seed ${seed})\n${r.stderr}${r.stdout}`);
    return r;
  };
  describe('the kernels emulated on the host through the fake driver, against the cpu oracle', { skip: fakeCudaSkipReason({ emulate: true }), concurrency: 2 }, () => {
    let fake: FakeCuda;
    before(() => {
      fake = buildFakeCuda({ emulate: true });
    });
    for (const [name, s] of Object.entries(scenarios)) {
      it(`${name}: ${s.title}`, async (t) => {
        const seed = freshSeed();
        const r = await runScenario(fake, name, seed);
        assert.equal(r.status, 0, `${r.stderr}${r.stdout}`);
        const { notes } = JSON.parse(r.stdout.trim().split('\n').pop()!) as { notes: string[] };
        for (const n of notes) t.diagnostic(n);
      });
    }

    it("bench --kv fp8 / --configs sparse-small on the emulated H200: without --kernel the dense FP8 rows of 32 rows and the sparse h_q 16 rows run on 'hopper-small', the sparse h_q 128 rows on 'hopper' (checked against the oracle); --kernel hopper,generic runs both (with vs hopper); --kernel hopper-small runs the configs it takes (checked; bf16 and FP8) and skips the others with the backend's reason", async () => {
      const cli = fileURLToPath(new URL('../src/cli.js', import.meta.url));
      const dir = mkdtempSync(join(tmpdir(), 'flash-mla-emu-bench-'));
      const env = fakeCudaEnv(fake, { ...HOPPER_ENV, NO_COLOR: '1' });
      const bench = async (name: string, ...args: string[]) => {
        const json = join(dir, `${name}.json`);
        const r = await runNode(cli, ['bench', '--backend', 'cuda', '--iters', '1', '--warmup', '0', '--seed', '7', '--reference', 'none', '--json', json, ...args], env, limitMs);
        assert.equal(r.status, 0, `${name}: ${r.stderr}${r.stdout}`);
        const res = JSON.parse(readFileSync(json, 'utf8')) as BenchResult;
        assert.deepEqual(validateBenchResult(res), [], name);
        return res;
      };
      // the default: the first kernel that runs the config (tiny's 32 rows over the FP8 cache: 'hopper-small''s 32-row
      // FP8 entry)
      const byDefault = await bench('default', '--configs', 'tiny', '--kv', 'fp8', '--check-samples', '4');
      assert.deepEqual(byDefault.rows.map((r) => [r.kernel, r.config.kv, r.check?.ok]), [['hopper-small', 'fp8', true]], JSON.stringify(byDefault.rows.map((r) => r.check)));
      const both = await bench('both', '--configs', 'tiny', '--kv', 'fp8', '--kernel', 'hopper,generic', '--check-samples', '4');
      assert.deepEqual(both.rows.map((r) => [r.kernel, r.vsKernel?.kernel, r.check?.ok]), [['hopper', undefined, true], ['generic', 'hopper', true]], JSON.stringify(both.rows.map((r) => r.check)));
      assert.deepEqual(both.skipped ?? [], []);
      // sparse: 'hopper-small' by default for h_q ≤ 32, 'hopper' above (checked: the sparse-small set's b 2, h_q 16 and
      // 128 configs)
      const sparseChecked = await bench('sparse-checked', '--configs', 'sparse-small:0,4', '--check-samples', '4');
      assert.deepEqual(sparseChecked.rows.map((r) => [r.kernel, r.config.h_q, r.check?.ok]), [['hopper-small', 16, true], ['hopper', 128, true]], JSON.stringify(sparseChecked.rows.map((r) => r.check)));
      const sparse = await bench('sparse', '--configs', 'sparse-small:0,4', '--kernel', 'hopper,generic', '--check-samples', '4');
      assert.deepEqual(
        sparse.rows.map((r) => [r.config.h_q, r.kernel, r.vsKernel?.kernel, r.check?.ok]),
        [[16, 'hopper', undefined, true], [16, 'generic', 'hopper', true], [128, 'hopper', undefined, true], [128, 'generic', 'hopper', true]],
        JSON.stringify(sparse.rows.map((r) => r.check)),
      );
      assert.deepEqual(sparse.skipped ?? [], []);
      // a kernel that only some configs' decodes offer: 'hopper-small' (h_q·s_q ≤ 32) runs the small set's h_q 16 s_q 1
      // config (checked) and tiny's 32 rows (its 32-row entries, checked, over either cache)
      // its sparse entry on the sparse-small set's b 2, h_q 16 config, checked, beside 'hopper'
      const smallSparse = await bench('small-row-sparse', '--configs', 'sparse-small:0', '--kernel', 'hopper,hopper-small', '--check-samples', '2');
      assert.deepEqual(smallSparse.rows.map((r) => [r.kernel, r.config.h_q, r.vsKernel?.kernel, r.check?.ok]), [['hopper', 16, undefined, true], ['hopper-small', 16, 'hopper', true]], JSON.stringify(smallSparse.rows.map((r) => r.check)));
      const smallRow = await bench('small-row', '--configs', 'small:0', '--kernel', 'hopper,hopper-small', '--check-samples', '2');
      assert.deepEqual(smallRow.rows.map((r) => [r.kernel, r.vsKernel?.kernel, r.check?.ok]), [['hopper', undefined, true], ['hopper-small', 'hopper', true]], JSON.stringify(smallRow.rows.map((r) => r.check)));
      // and its FP8 entry over the FP8 cache (checked against the oracle)
      const smallRowFp8 = await bench('small-row-fp8', '--configs', 'small:0', '--kv', 'fp8', '--kernel', 'hopper,hopper-small', '--check-samples', '2');
      assert.deepEqual(smallRowFp8.rows.map((r) => [r.kernel, r.config.kv, r.vsKernel?.kernel, r.check?.ok]), [['hopper', 'fp8', undefined, true], ['hopper-small', 'fp8', 'hopper', true]], JSON.stringify(smallRowFp8.rows.map((r) => r.check)));
      const smallRowTiny = await bench('small-row-tiny', '--configs', 'tiny', '--kernel', 'hopper,hopper-small', '--check-samples', '2');
      assert.deepEqual(smallRowTiny.rows.map((r) => [r.kernel, r.config.s_q * r.config.h_q, r.vsKernel?.kernel, r.check?.ok]), [['hopper', 32, undefined, true], ['hopper-small', 32, 'hopper', true]], JSON.stringify(smallRowTiny.rows.map((r) => r.check)));
      assert.deepEqual(smallRowTiny.skipped ?? [], []);
      const smallRowTinyFp8 = await bench('small-row-tiny-fp8', '--configs', 'tiny', '--kv', 'fp8', '--kernel', 'hopper,hopper-small', '--check-samples', '2');
      assert.deepEqual(smallRowTinyFp8.rows.map((r) => [r.kernel, r.config.s_q * r.config.h_q, r.config.kv, r.vsKernel?.kernel, r.check?.ok]), [['hopper', 32, 'fp8', undefined, true], ['hopper-small', 32, 'fp8', 'hopper', true]], JSON.stringify(smallRowTinyFp8.rows.map((r) => r.check)));
      assert.deepEqual(smallRowTinyFp8.skipped ?? [], []);
    });

    // Bugs planted in the emulator's copy of kernels/ (kernels/ itself untouched) fail the scenarios the way the
    // emulator says they would. Hopper: a K1.B refill before the wait that covers P1·V1R as the wgmma race check's
    // report, whatever the timing; S read without waiting for its K block's mbarrier as the race detector's RAW on a
    // TMA load — at issue timing too, where the values cannot show it (with TMA tiles landing late they also would, as
    // wrong values or loads in flight at the CTA's exit); a missing bar.arrive as a deadlock report naming the barrier.
    // generic-small: the __syncthreads before a K stage's refill removed, as the race detector's WAR (or RAW) between
    // an ldmatrix read of the stage and a cp.async of the refill — the pair compute-sanitizer's racecheck names.
    it("planted bugs: Hopper early refill → wgmma race report, no mbarrier wait → RAW on a TMA load, missing bar.arrive → deadlock report; generic-small refill without __syncthreads → ldmatrix / cp.async race", { skip: FULL ? false : 'FLASH_MLA_EMULATION=full runs it (four more emulator builds, ~25 s)' }, async (t) => {
      const sm90 = 'mla_decode_sm90.cu';
      const race = buildFakeCuda({
        emulate: true,
        plant: [[sm90, 'ptx::wgmma_wait<1>();\n            ptx::named_barrier_sync(kWg1Local, kOne);', 'ptx::wgmma_wait<2>();\n            ptx::named_barrier_sync(kWg1Local, kOne);']],
      });
      const noWait = buildFakeCuda({ emulate: true, plant: [['mla_sm90_math.cuh', '    ptx::mbarrier_wait(bars + 8 * slab, parity);\n', '']] });
      const hang = buildFakeCuda({ emulate: true, plant: [[sm90, 'ptx::named_barrier_arrive(kP1Ready, kBoth);', '']] });
      const smallRefill = buildFakeCuda({
        emulate: true,
        plant: [['mla_decode_generic_small.cu', '      ptx::cp_async_wait_all();\n      __syncthreads();  // tile', '      ptx::cp_async_wait_all();\n      // tile']],
      });
      const seed = freshSeed();
      const [raced, noWaitAtIssue, noWaitLate, deadlock, smallRaced] = await Promise.all([
        runScenario(race, 'hopper', seed),
        runScenario(noWait, 'hopper', seed),
        runScenario(noWait, 'hopper, late TMA', seed),
        runScenario(hang, 'hopper', seed),
        runScenario(smallRefill, 'proven-kernels', seed),
      ]);
      const note = (r: { stderr: string }) => /the fake driver's last note: ([^\n]*)/.exec(r.stderr)?.[1].slice(0, 500);
      assert.notEqual(raced.status, 0, 'the early refill went unseen');
      assert.match(raced.stderr, /a TMA load into shared \[0x[0-9a-f]+, \+\d+\) while wgmma #\d+ of warpgroup 1, .* may still run: .*a race on the GPU/, raced.stderr);
      t.diagnostic(`early refill: ${note(raced)}`);
      for (const [r, timing] of [[noWaitAtIssue, 'TMA at issue'], [noWaitLate, 'late TMA']] as const) {
        assert.notEqual(r.status, 0, `${timing}: the missing mbarrier wait went unseen`);
        assert.match(r.stderr, /shared-memory race \(RAW\) .*a TMA load \(cp\.async\.bulk\.tensor\) issued by thread \d+ .*then wgmma \(. operand\)/, `${timing}: ${r.stderr}`);
        t.diagnostic(`no mbarrier wait, ${timing}: ${note(r)}`);
      }
      assert.notEqual(smallRaced.status, 0, 'generic-small: the refill without its __syncthreads went unseen');
      assert.match(smallRaced.stderr, /emulated mla_decode_generic_small_\w+: .*shared-memory race \((WAR|RAW)\) .*(ldmatrix.*then cp\.async|cp\.async.*then ldmatrix)/, smallRaced.stderr);
      t.diagnostic(`generic-small refill without __syncthreads: ${note(smallRaced)}`);
      assert.notEqual(deadlock.status, 0);
      assert.match(deadlock.stderr, /CUDA_ERROR_LAUNCH_TIMEOUT[\s\S]*deadlock: [\s\S]*at bar\.sync 4 \(128 of 256 arrived\)/, deadlock.stderr);
      t.diagnostic(`missing bar.arrive: ${note(deadlock)}`);
    });

    // The combine over 16-bit partials at C = 1 reads both 256-column halves of a split row, each with its own weight
    // (weight × that half's factor): skipping a split's loads by half 0's weight alone (the form before session 47's
    // fix) drops a half whose weight is not 0 when the other's underflowed — only combine-walks' 'lone halves' rows
    // have such splits.
    it("planted bug in the combine: a 16-bit split row's halves loaded by half 0's weight alone → combine-walks' lone-half rows fail against the float64 merge", { skip: FULL ? false : 'FLASH_MLA_EMULATION=full runs it (one more emulator build, ~10 s)' }, async (t) => {
      const oneWeight = buildFakeCuda({
        emulate: true,
        plant: [
          ['mla_combine.cu', 'v[u][s] = sub_weight<C, P>(w[u], s) != 0.f ? batch_load', 'v[u][s] = w[u].x != 0.f ? batch_load'],
          ['mla_combine.cu', 'if (sub_weight<C, P>(w[u], s) == 0.f) b.v[u][s]', 'if (w[u].x == 0.f) b.v[u][s]'],
        ],
      });
      const r = await runScenario(oneWeight, 'combine-walks', freshSeed());
      assert.notEqual(r.status, 0, 'the half skipped by the other half\'s weight went unseen');
      assert.match(r.stderr, /16-bit partials \(lone halves\), bf16 out, W \d C 1 out: cosDiff/, r.stderr);
      t.diagnostic(/16-bit partials \(lone halves\)[^\n]*/.exec(r.stderr)?.[0].slice(0, 200) ?? '');
    });

    // The same for the Hopper FP8 kernel's producer: the raw TMA of group A issued without waiting for the math
    // warpgroups to release it (the wgmma check: a TMA load into a buffer a wgmma may still read), the barrier between
    // reading a row's first raw bytes and writing their dequantised values over them dropped (the race detector: a WAR
    // between producer warps), a math warpgroup's release dropped (a deadlock naming the producer's mbarrier wait), a
    // tile scale mixed up (the oracle).
    it('planted bugs in the FP8 producer: no empty-barrier wait → wgmma race report, no barrier before the in-place dequantisation → WAR, a missing release → deadlock, a wrong scale → the oracle', { skip: FULL ? false : 'FLASH_MLA_EMULATION=full runs it (four more emulator builds, ~25 s)' }, async (t) => {
      const producer = 'mla_sm90_fp8_producer.cuh';
      const builds = {
        noEmpty: buildFakeCuda({ emulate: true, plant: [[producer, '      if (k > 0) ptx::mbarrier_wait(empty, (k - 1) & 1);  // group A', '      // group A']] }),
        noBarrier: buildFakeCuda({
          emulate: true,
          plant: [[producer, 'raw_a0[i] = ptx::ld_shared_v4(row0 + 64 * h + 16 * ((i + t) & 3));\n      ptx::named_barrier_sync(kProducerSync, kProducerThreads);', 'raw_a0[i] = ptx::ld_shared_v4(row0 + 64 * h + 16 * ((i + t) & 3));']],
        }),
        noRelease: buildFakeCuda({ emulate: true, plant: [['mla_decode_sm90.cu', '          if (wg_tid == 0) kb.release(j, kGroupA);\n', '']] }),
        wrongScale: buildFakeCuda({ emulate: true, plant: [[producer, 'raw_a0[i], scale_a0);', 'raw_a0[i], scale_a1);']] }),
      };
      const seed = freshSeed();
      const [noEmpty, noBarrier, noRelease, wrongScale] = await Promise.all(Object.values(builds).map((b) => runScenario(b, 'hopper-fp8', seed)));
      const note = (r: { stderr: string }) => /the fake driver's last note: ([^\n]*)/.exec(r.stderr)?.[1].slice(0, 500);
      for (const r of [noEmpty, noBarrier, noRelease, wrongScale]) assert.notEqual(r.status, 0, r.stderr);
      assert.match(noEmpty.stderr, /a TMA load into shared \[0x[0-9a-f]+, \+16384\) while wgmma #\d+ of warpgroup [01], .* may still run: .*a race on the GPU/, noEmpty.stderr);
      // (the in-place store is in the dequantisation's header, mla_sm90_fp8_dequant.cuh, since it moved out of the producer)
      assert.match(noBarrier.stderr, /shared-memory race \(WAR\) .*ld\.shared by thread \d+ \(warp (8|9|10|11), mla_sm90_fp8_producer\.cuh:\d+\).*then st\.shared .* by thread \d+ \(warp (8|9|10|11), mla_sm90_fp8_(producer|dequant)\.cuh/, noBarrier.stderr);
      assert.match(noRelease.stderr, /CUDA_ERROR_LAUNCH_TIMEOUT[\s\S]*deadlock: [\s\S]*threads 256-383 on mbarrier 0x[0-9a-f]+ parity/, noRelease.stderr);
      assert.match(wrongScale.stderr, /AssertionError.*out\[\d+\]: got .*, reference .*\|err\|/, wrongScale.stderr);
      for (const [what, r] of [['no empty wait', noEmpty], ['no barrier', noBarrier], ['no release', noRelease], ['wrong scale', wrongScale]] as const) t.diagnostic(`${what}: ${note(r) || r.stderr.split('\n')[0].slice(0, 300)}`);
    });

    // The same for the small-row kernel's FP8 entry (the register-A datapath, two raw stages per warpgroup): the wait
    // for a block's raw bytes dropped (the race detector: a RAW between the stage's TMA load and S's ldmatrix — at issue
    // timing too, where the values cannot show it), the wait for its RoPE box in slab 8 dropped (a RAW between that TMA
    // load and S's wgmma), the groups' reference-scale ratio r_g,old / r_g,new taken as 1 (the oracle, on the K-spread
    // cases: the plain ones have the same group maxima in every block), the last block's codes of slots past the end
    // not zeroed (NaN-filled: the oracle), S's A fragments of group b rewritten before group b − 2's wgmmas retired
    // (with wgmma computed at its wait: the oracle).
    it("planted bugs in hopper-small's FP8 entry (the register-A datapath): no wait for the raw stage → RAW on its TMA load, no wait for the RoPE box → RAW on a TMA load before wgmma, no reference-scale rescale → the oracle, no mask of the last block's slots → the oracle (NaN), fragments rewritten before their wgmmas retired → the oracle (late wgmma)", { skip: FULL ? false : 'FLASH_MLA_EMULATION=full runs it (five more emulator builds, ~30 s)' }, async (t) => {
      const small = 'mla_decode_sm90_small.cu', f16 = 'mla_sm90_small_fp8.cuh';
      const builds = {
        noRawWait: buildFakeCuda({ emulate: true, plant: [[small, '        ptx::mbarrier_wait(sBar + 8 * (nblk & 1), (nblk >> 1) & 1);\n', '']] }),
        noRopeWait: buildFakeCuda({ emulate: true, plant: [[f16, '  if constexpr (kRopeTma) ptx::mbarrier_wait(sRope, rope_phase);\n', '']] }),
        noRescale: buildFakeCuda({ emulate: true, plant: [[f16, '    fac[k] = rg[k] * inv;', '    fac[k] = 1.f;']] }),
        noMask: buildFakeCuda({ emulate: true, plant: [[small, '        if (n_valid < PAGE_BLOCK_SIZE) f16r_pv<true>(', '        if (false) f16r_pv<true>(']] }),
        noFragWait: buildFakeCuda({ emulate: true, plant: [[f16, '    if (b >= 2) ptx::wgmma_wait<1>();  // group b − 2 retired: its fragments may be rewritten', '']] }),
      };
      const seed = freshSeed();
      const [noRawWait, noRawWaitLate, noRopeWait, noRescale, noMask, noFragWaitLate] = await Promise.all([
        runScenario(builds.noRawWait, 'hopper-small', seed),
        runScenario(builds.noRawWait, 'hopper-small, late TMA', seed),
        runScenario(builds.noRopeWait, 'hopper-small', seed),
        runScenario(builds.noRescale, 'hopper-small', seed),
        runScenario(builds.noMask, 'hopper-small', seed),
        runScenario(builds.noFragWait, 'hopper-small, late wgmma', seed),
      ]);
      const note = (r: { stderr: string }) => /the fake driver's last note: ([^\n]*)/.exec(r.stderr)?.[1].slice(0, 500);
      for (const r of [noRawWait, noRawWaitLate, noRopeWait, noRescale, noMask, noFragWaitLate]) assert.notEqual(r.status, 0, r.stderr);
      for (const [r, timing] of [[noRawWait, 'at issue'], [noRawWaitLate, 'late TMA']] as const) {
        assert.match(r.stderr, /emulated mla_decode_sm90_small_fp8_bf16: [^\n]*shared-memory race \(RAW\) [^\n]*a TMA load \(cp\.async\.bulk\.tensor\) issued by thread \d+ [^\n]*then ldmatrix [^\n]*mla_sm90_small_fp8\.cuh/, `${timing}: ${r.stderr}`);
      }
      assert.match(noRopeWait.stderr, /emulated mla_decode_sm90_small_fp8_bf16: [^\n]*shared-memory race \(RAW\) [^\n]*a TMA load \(cp\.async\.bulk\.tensor\) issued by thread \d+ [^\n]*then wgmma \(A operand\)/, noRopeWait.stderr);
      assert.match(noRescale.stderr, /AssertionError[^\n]*K spread/, noRescale.stderr);
      for (const r of [noMask, noFragWaitLate]) assert.match(r.stderr, /AssertionError[^\n]*FP8/, r.stderr);
      for (const [what, r] of [['no raw wait', noRawWait], ['the same, late TMA', noRawWaitLate], ['no RoPE wait', noRopeWait], ['no reference-scale rescale', noRescale], ['no mask of the last block', noMask], ['fragments rewritten early, late wgmma', noFragWaitLate]] as const) {
        t.diagnostic(`${what}: ${note(r) || r.stderr.split('\n')[0].slice(0, 300)}`);
      }
    });

    // The same for the Hopper sparse kernel's producer and masking: its wait for the gathered bytes dropped (the race
    // detector: a RAW between a bulk copy and the producer's ld.shared — at issue timing too), its wait for "group A
    // free" dropped (a race with a math warpgroup's wgmma reads), the validity mask not applied on WG0's blocks (the
    // oracle: positions that attend nothing enter the softmax with S = 0), the thread-0 arrival on the gather barrier
    // dropped (a deadlock naming the producer's wait).
    it('planted bugs in the Hopper sparse kernel: no wait for the gathered bytes → RAW on a bulk copy, no group-A wait → a race with wgmma, no validity mask → the oracle, no gather arrival → deadlock', { skip: FULL ? false : 'FLASH_MLA_EMULATION=full runs it (four more emulator builds, ~25 s)' }, async (t) => {
      const producer = 'mla_sm90_fp8_producer.cuh';
      const builds = {
        noRawWait: buildFakeCuda({ emulate: true, plant: [[producer, '      ptx::mbarrier_wait(raw, k & 1);\n      SPARSE_TRACE_P(16 + 8 * tr_blk + 3);\n      // (B) channels 256 + 128h + 16c of row t', '      // (B) channels 256 + 128h + 16c of row t']] }),
        noEmptyA: buildFakeCuda({ emulate: true, plant: [[producer, '      if (k > 0) ptx::mbarrier_wait(empty_a, (k - 1) & 1);  // group A of the block before is consumed', '']] }),
        noMask: buildFakeCuda({ emulate: true, plant: [['mla_decode_sm90.cu', 'mask_and_row_max<true>(s, (first_block + j) * PAGE_BLOCK_SIZE, q4, sl.row_end, mx, valid_mask(sValid));', 'mask_and_row_max(s, (first_block + j) * PAGE_BLOCK_SIZE, q4, sl.row_end, mx);']] }),
        noArrive: buildFakeCuda({ emulate: true, plant: [[producer, '      if (ptid == 0) ptx::mbarrier_arrive(raw);\n      // The codes land in group A only', '      // The codes land in group A only']] }),
      };
      const seed = freshSeed();
      const [noRawWait, noRawWaitLate, noEmptyA, noMask, noArrive] = await Promise.all([
        runScenario(builds.noRawWait, 'hopper-sparse', seed),
        runScenario(builds.noRawWait, 'hopper-sparse, late TMA', seed),
        runScenario(builds.noEmptyA, 'hopper-sparse', seed),
        runScenario(builds.noMask, 'hopper-sparse', seed),
        runScenario(builds.noArrive, 'hopper-sparse', seed),
      ]);
      const note = (r: { stderr: string }) => /the fake driver's last note: ([^\n]*)/.exec(r.stderr)?.[1].slice(0, 500);
      for (const r of [noRawWait, noRawWaitLate, noEmptyA, noMask, noArrive]) assert.notEqual(r.status, 0, r.stderr);
      for (const [r, timing] of [[noRawWait, 'at issue'], [noRawWaitLate, 'late TMA']] as const) {
        assert.match(r.stderr, /shared-memory race \(RAW\) [^\n]*a bulk copy \(cp\.async\.bulk\) issued by thread \d+ \(warp (?:8|9|10|11), mla_sm90_fp8_producer\.cuh[^\n]*then ld\.shared/, `${timing}: ${r.stderr}`);
      }
      assert.match(noEmptyA.stderr, /(?:shared-memory race \((?:WAR|RAW)\)[^\n]*wgmma \(B operand\)|into shared \[0x[0-9a-f]+, \+\d+\) while wgmma #\d+ of warpgroup \d)/, noEmptyA.stderr);
      assert.match(noMask.stderr, /AssertionError.*out\[\d+\]: got .*, reference .*\|err\||AssertionError.*(?:out|lse).*(?:inf\/NaN positions differ|cos diff)/, noMask.stderr);
      assert.match(noArrive.stderr, /CUDA_ERROR_LAUNCH_TIMEOUT[\s\S]*deadlock: [\s\S]*threads 256-383 on mbarrier 0x[0-9a-f]+ parity/, noArrive.stderr);
      for (const [what, r] of [['no wait for the gathered bytes', noRawWait], ['the same, late TMA', noRawWaitLate], ['no group-A wait', noEmptyA], ['no validity mask', noMask], ['no gather arrival', noArrive]] as const) {
        t.diagnostic(`${what}: ${note(r) || r.stderr.split('\n')[0].slice(0, 300)}`);
      }
    });

    // The paired sparse entry (2-CTA clusters): a bulk copy's source is read until the copy lands in the peer, so the
    // race detector must flag (1) the peer-empty wait before the gather dropped — this CTA's raw rows land in halves
    // its previous push of that buffer may still be reading (session 21's race), and (2) slab 8's RoPE half pushed as
    // a bulk copy instead of st.async — warpgroup 0 stores P0 over it (P0 aliases slab 8) while the copy may still
    // read it (session 22's race); both WAR against the copy's read.
    it('planted bugs in the paired sparse entry: no peer-empty wait before the gather → WAR against a push, slab 8 bulk-pushed → WAR between the push and the P0 store', { skip: FULL ? false : 'FLASH_MLA_EMULATION=full runs it (two more emulator builds, ~15 s)' }, async (t) => {
      const producer = 'mla_sm90_fp8_producer.cuh';
      const builds = {
        noPeerEmpty: buildFakeCuda({ emulate: true, plant: [[producer, '      ptx::mbarrier_wait_cluster(sValid + kPairPeerEmpty + 16 * b, (k - 1) & 1);\n', '']] }),
        ropePushed: buildFakeCuda({
          emulate: true,
          plant: [
            [producer, '          ptx::st_async_v4(rope_peer + swizzled(t, 2 * q + i), r2[i], full_peer);\n', ''],
            [producer, '          if (s < SM90_SLABS - 1) ptx::bulk_push(', '          ptx::bulk_push('],
          ],
        }),
      };
      const seed = freshSeed();
      const [noPeerEmpty, ropePushed] = await Promise.all([runScenario(builds.noPeerEmpty, 'hopper-sparse', seed), runScenario(builds.ropePushed, 'hopper-sparse', seed)]);
      const note = (r: { stderr: string }) => /the fake driver's last note: ([^\n]*)/.exec(r.stderr)?.[1].slice(0, 500);
      for (const r of [noPeerEmpty, ropePushed]) assert.notEqual(r.status, 0, r.stderr);
      const againstPush = /emulated mla_decode_sm90_fp8_sparse_pair_bf16: [^\n]*shared-memory race \(WAR\) [^\n]*a bulk copy \(cp\.async\.bulk\) issued by thread \d+ \([^)]*mla_sm90_fp8_producer\.cuh:\d+\) read it as copy #\d+/;
      assert.match(noPeerEmpty.stderr, againstPush, noPeerEmpty.stderr);
      assert.match(ropePushed.stderr, againstPush, ropePushed.stderr);
      assert.match(ropePushed.stderr, /then st\.shared [^\n]*mla_sm90_math\.cuh/, ropePushed.stderr);
      for (const [what, r] of [['no peer-empty wait', noPeerEmpty], ['slab 8 bulk-pushed', ropePushed]] as const) t.diagnostic(`${what}: ${note(r)}`);
    });

    // The same for hopper-small's sparse entry (the register-A datapath over whole-row stages): its wait for the gathered
    // rows dropped (a RAW between the gather warpgroup's writes — a bulk copy of the rows or the st.shared of their
    // validity mask words — and the math warpgroup's reads), the validity mask not applied
    // in S (the oracle: invalid positions enter the softmax with S = 0), the RoPE row's halves swapped in S_rope's
    // fragment loads from the stage (the oracle), the S tokens' scales read from the wrong rows (both from the token 8 rows up
    // for h = 1: the oracle), P·V's codes of invalid positions kept (rows never written hold 0xff, NaN codes: the oracle).
    it("planted bugs in hopper-small's sparse entry: no wait for the gathered rows → RAW on the rows or their mask, no validity mask → the oracle, swapped RoPE halves → the oracle, scales of the wrong tokens → the oracle, no P·V mask → the oracle", { skip: FULL ? false : 'FLASH_MLA_EMULATION=full runs it (five more emulator builds, ~30 s)' }, async (t) => {
      const small = 'mla_decode_sm90_small.cu';
      const builds = {
        noRawWait: buildFakeCuda({ emulate: true, plant: [[small, '        ptx::mbarrier_wait(sBar + 8 * (nblk & 1), (nblk >> 1) & 1);\n      } else if constexpr (kFp8) {', '      } else if constexpr (kFp8) {']] }),
        noMask: buildFakeCuda({ emulate: true, plant: [[small, ' || (kSparse && !((vbits >> (8 * h)) & 1))', '']] }),
        swappedRope: buildFakeCuda({ emulate: true, plant: [['mla_sm90_small_fp8.cuh', 'row + FP8_ROPE_OFFSET + kk * 32 +', 'row + FP8_ROPE_OFFSET + (kk ^ 2) * 32 +']] }),
        wrongScales: buildFakeCuda({ emulate: true, plant: [['mla_sm90_small_fp8.cuh', 'ptx::ld_shared_v4(sFirst + (16 * warp + g + 8 * h) * pitch)', 'ptx::ld_shared_v4(sFirst + (16 * warp + g) * pitch)']] }),
        noPvMask: buildFakeCuda({ emulate: true, plant: [[small, 'if ((vm.x & vm.y & vm.z & vm.w) != 0xffffu)', 'if (false)']] }),
      };
      const seed = freshSeed();
      const [noRawWait, noMask, swappedRope, wrongScales, noPvMask] = await Promise.all([
        runScenario(builds.noRawWait, 'hopper-small sparse', seed),
        runScenario(builds.noMask, 'hopper-small sparse', seed),
        runScenario(builds.swappedRope, 'hopper-small sparse', seed),
        runScenario(builds.wrongScales, 'hopper-small sparse', seed),
        runScenario(builds.noPvMask, 'hopper-small sparse', seed),
      ]);
      const note = (r: { stderr: string }) => /the fake driver's last note: ([^\n]*)/.exec(r.stderr)?.[1].slice(0, 500);
      for (const r of [noRawWait, noMask, swappedRope, wrongScales, noPvMask]) assert.notEqual(r.status, 0, r.stderr);
      const oracle = /AssertionError.*out\[\d+\]: got .*, reference .*\|err\||AssertionError.*(?:out|lse).*(?:inf\/NaN positions differ|cos diff)/;
      // (the first reader of a dropped wait's writes: the mask words' ld.shared, S's ldmatrix of the codes, or the scales'
      // ld.shared; the writer the gather warpgroup's bulk copy or its st.shared of the mask)
      const bulkRaw = /emulated mla_decode_sm90_small_fp8_sparse_bf16: [^\n]*shared-memory race \(RAW\) [^\n]*(?:issued by thread \d+|st\.shared by thread \d+ \(warp (?:8|9|10|11)\b)[^\n]*then (?:ld\.shared|ldmatrix)/;
      assert.match(noRawWait.stderr, bulkRaw, noRawWait.stderr);
      for (const r of [noMask, swappedRope, wrongScales, noPvMask]) assert.match(r.stderr, oracle, r.stderr);
      for (const [what, r] of [['no wait for the gathered rows', noRawWait], ['no validity mask', noMask], ['swapped RoPE halves', swappedRope], ['scales of the wrong tokens', wrongScales], ['no P·V mask', noPvMask]] as const) {
        t.diagnostic(`${what}: ${note(r) || r.stderr.split('\n')[0].slice(0, 300)}`);
      }
    });

    // The 32-column sparse entry (session 29): with V's group ratios left out of P·V's fragments the oracle fails (the
    // quantizer gives each 128-channel group of a token its own scale); with the gather's wait for a stage that both
    // math warpgroups have read dropped, a race or deadlock report.
    it("hopper-small's 32-column sparse entry: no V ratios → the oracle, no stage-free wait → a race or deadlock report", { skip: FULL ? false : 'FLASH_MLA_EMULATION=full runs it (two more emulator builds, ~40 s)' }, async (t) => {
      const r32 = 'mla_sm90_small_sparse_r32.cuh';
      const builds = {
        noVf: buildFakeCuda({ emulate: true, plant: [[r32, 'v[0] = ptx::mul_f16x2(v[0], f[kp][h][0]), v[1] = ptx::mul_f16x2(v[1], f[kp][h][0]);', '']] }),
        noFreeWait: buildFakeCuda({ emulate: true, plant: [[r32, '{ ptx::mbarrier_wait(free_bar(x, st), ph); }', '{}']] }),
      };
      const seed = freshSeed();
      const [noVf, noFreeWait] = await Promise.all([runScenario(builds.noVf, 'hopper-small sparse r32', seed), runScenario(builds.noFreeWait, 'hopper-small sparse r32', seed)]);
      assert.notEqual(noVf.status, 0, noVf.stderr);
      assert.match(noVf.stderr, /AssertionError.*(?:out\[\d+\]: got .*, reference .*\|err\||(?:out|lse).*(?:inf\/NaN positions differ|cos diff))/, noVf.stderr);
      assert.notEqual(noFreeWait.status, 0, noFreeWait.stderr);
      assert.match(noFreeWait.stderr, /emulated mla_decode_sm90_small_fp8_sparse_r32_bf16: [^\n]*(?:shared-memory race|deadlock)/, noFreeWait.stderr);
      for (const [what, r] of [['no V ratios', noVf], ['no stage-free wait', noFreeWait]] as const) {
        t.diagnostic(`${what}: ${/the fake driver's last note: ([^\n]*)/.exec(r.stderr)?.[1].slice(0, 400) || /AssertionError[^\n]*/.exec(r.stderr)?.[0].slice(0, 300) || r.stderr.slice(0, 300)}`);
      }
    });

    // The dense gather entry (session 29, 17–32 rows over the FP8 cache): with each column's causal end dropped from its
    // mask (every column then sees the request's last token), the causal FP8 cases of 'hopper-small' fail the oracle.
    it("hopper-small's dense FP8 gather entry: no per-column causal end → the oracle", { skip: FULL ? false : 'FLASH_MLA_EMULATION=full runs it (one more emulator build, ~30 s)' }, async (t) => {
      const noCausal = buildFakeCuda({ emulate: true, plant: [['mla_sm90_small_sparse_r32.cuh', 'if (!has || tok0 + 8 * h >= rend[i][e] || !((vbits >> (8 * h)) & 1)) x = -INFINITY;', 'if (!has || !((vbits >> (8 * h)) & 1)) x = -INFINITY;']] });
      const r = await runScenario(noCausal, 'hopper-small', freshSeed());
      assert.notEqual(r.status, 0, r.stderr);
      assert.match(r.stderr, /AssertionError.*(?:out\[\d+\]: got .*, reference .*\|err\||(?:out|lse).*(?:inf\/NaN positions differ|cos diff))/, r.stderr);
      t.diagnostic(`no per-column causal end: ${/AssertionError[^\n]*/.exec(r.stderr)?.[0].slice(0, 300) ?? r.stderr.slice(0, 300)}`);
    });

    // The sparse entry's gather warpgroup (session 27): with its wait for a stage to be free dropped, the gather runs
    // ahead: its copies race the math warpgroup's reads of the block before in that stage, or its second arrival on a
    // stage's barrier completes a phase the math warpgroup has not waited for yet, and the emulator reports the deadlock.
    // (The unplanted entry runs in the 'hopper-small sparse' scenario above: the oracle and a clean race detector.)
    it("hopper-small sparse's gather warpgroup: no stage-free wait → a race or deadlock report", { skip: FULL ? false : 'FLASH_MLA_EMULATION=full runs it (one more emulator build, ~20 s)' }, async (t) => {
      const small = 'mla_decode_sm90_small.cu';
      const noFreeWait = buildFakeCuda({ emulate: true, plant: [[small, '{ ptx::mbarrier_wait(side + kSparseOffFree + 16 * x + 8 * st, ph); }', '{}']] });
      const race = await runScenario(noFreeWait, 'hopper-small sparse', freshSeed());
      assert.notEqual(race.status, 0, race.stderr);
      assert.match(race.stderr, /emulated mla_decode_sm90_small_fp8_sparse_bf16: [^\n]*(?:shared-memory race|deadlock)/, race.stderr);
      t.diagnostic(`no stage-free wait: ${/the fake driver's last note: ([^\n]*)/.exec(race.stderr)?.[1].slice(0, 400) ?? race.stderr.split('\n')[0].slice(0, 300)}`);
    });
  });
}
