// GPU tests of issue 10's paths (FP8 cache writes and dense decode, sparse decode, h_kv > 1 and d_qk 512) against
// the cpu oracle: FP8 bytes bit for bit, decodes under FlashMLA's tolerances. Skipped without a GPU. On a GPU each
// test follows CUDA_FEATURES (src/cuda/features.ts): while a feature is off it checks that the cuda backend refuses
// it with UnsupportedFeatureError and nothing was written, then reports itself skipped; once the kernel lands and
// the flag is switched on, the same test compares the kernel with the oracle. Every flag is on today (h_kv > 1 and
// d_qk 512 since they passed on an H200 on 2026-12-01; their full grid is test/dense-layouts-gpu.test.ts). Every output buffer starts as NaN, and
// every cache slot that no attended token lives in holds NaN, so a row left unwritten or a slot read by mistake fails.

import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import {
  Tensor, PagedKvCache, UnsupportedFeatureError, appendKv, appendKvPaged, captureGraph, dequantizeKvFp8, flashMlaWithKvcache, getBackend, getMlaMetadata,
} from '../src/index.js';
import { CUDA_FEATURES } from '../src/cuda/features.js';
import { freshSeed, gpuSkipReason, randomHalfBits, rng } from './util/problem.js';
import {
  FLASHMLA_TOL, checkDenseRows, denseTensors, flashMlaClose, makeDenseProblem, makeSparseProblem, nanPaddedFp8Cache, nanPaddedQ, nanPaddedSparseCache, sparseTensors, type DenseSpec, type SparseSpec,
} from './util/layouts.js';
import { SPLIT_ROW_SHAPES, checkSplitRowAccuracy } from './util/split-accuracy.js';
import { SMALL_SPARSE_CASES, SMALL_SPARSE_HEAD_GROUP_CASES, SMALL_SPARSE_R32_CASES, SPARSE_HOPPER_CASES, runSparseHopperCase, type SparseHopperCase } from './util/sparse-hopper.js';

const skip = await gpuSkipReason();

const isUnsupported = (e: unknown) => e instanceof UnsupportedFeatureError && e.backend === 'cuda';

/** While `on` is false: `attempt` must throw UnsupportedFeatureError; then the test reports itself skipped. */
function whenSupported(t: TestContext, on: boolean, flag: string, attempt: () => void): boolean {
  if (on) return true;
  assert.throws(attempt, isUnsupported);
  t.skip(`not on cuda yet (CUDA_FEATURES.${flag} = false, issue 10); refused with UnsupportedFeatureError as it should`);
  return false;
}

function toCuda<T extends Record<string, Tensor | null>>(ts: T): T {
  return Object.fromEntries(Object.entries(ts).map(([k, v]) => [k, v ? v.to('cuda') : null])) as T;
}

/** Outputs on cuda filled with NaN: a row the kernels do not write cannot pass. */
function nanOutputs(b: number, sQ: number, hQ: number, dtype: 'bf16' | 'fp16'): { out: Tensor; lse: Tensor } {
  return { out: Tensor.full([b, sQ, hQ, 512], NaN, { dtype, backend: 'cuda' }), lse: Tensor.full([b, hQ, sQ], NaN, { dtype: 'fp32', backend: 'cuda' }) };
}

function checkRows(name: string, got: { out: Tensor; lse: Tensor }, want: { out: Tensor; lse: Tensor }, outTol: { abs: number; rel: number; cos: number }, seed: number): void {
  const o = flashMlaClose(`${name} out`, got.out.toFloat32(), want.out.toFloat32(), outTol);
  assert.equal(o, null, `${o} (seed ${seed}; rerun with FLASH_MLA_SEED=${seed})`);
  const l = flashMlaClose(`${name} lse`, got.lse.toFloat32(), want.lse.toFloat32(), FLASHMLA_TOL.lse);
  assert.equal(l, null, `${l} (seed ${seed})`);
}

/** Dense decode of the same problem on cpu (the oracle) and cuda. */
function denseCase(t: TestContext, spec: Omit<DenseSpec, 'seed'>, seed: number, causal: boolean): void {
  const p = makeDenseProblem({ ...spec, seed });
  const cpu = denseTensors(p);
  const hKv = p.spec.hKv;
  const rows = (spec.sQ * spec.hQ) / hKv;
  const gpu = toCuda(cpu);
  const mdC = getMlaMetadata(gpu.cacheSeqlens, rows, hKv);
  const mdH = getMlaMetadata(cpu.cacheSeqlens, rows, hKv, { smCount: mdC.tileSchedulerMetadata.shape[0] * hKv * Math.ceil(rows / 64) });
  const outs = nanOutputs(spec.b, spec.sQ, spec.hQ, spec.dtype);
  const opts = { causal, isFp8KvCache: spec.fp8 };
  const run = () => flashMlaWithKvcache(gpu.q, gpu.kCache, gpu.blockTable, gpu.cacheSeqlens, 512, mdC.tileSchedulerMetadata, mdC.numSplits, { ...opts, ...outs });
  const flag = spec.fp8 ? 'fp8KvCache' : hKv > 1 ? 'gqa' : 'headDim512';
  const on = spec.fp8 ? CUDA_FEATURES.fp8KvCache : (hKv === 1 || CUDA_FEATURES.gqa) && (spec.d === 576 || CUDA_FEATURES.headDim512);
  if (!whenSupported(t, on, flag, run)) return;
  const want = flashMlaWithKvcache(cpu.q, cpu.kCache, cpu.blockTable, cpu.cacheSeqlens, 512, mdH.tileSchedulerMetadata, mdH.numSplits, opts);
  checkRows(`dense ${JSON.stringify(spec)}`, run(), want, FLASHMLA_TOL.denseOut, seed);
}

/** 16-bit rows with what the quantizer must get right: NaN, ±inf, subnormals, zero tiles, the largest values. */
function specialRows(dtype: 'bf16' | 'fp16', T: number, r: () => number): Uint16Array {
  const bits = randomHalfBits(dtype, T * 576, r, { scale: 4 });
  const nan = dtype === 'bf16' ? 0x7fc0 : 0x7e00;
  const inf = dtype === 'bf16' ? 0x7f80 : 0x7c00;
  const maxFinite = dtype === 'bf16' ? 0x7f7f : 0x7bff;
  for (let t = 0; t < T; t++) {
    const row = bits.subarray(t * 576, t * 576 + 512);
    const tile = (j: number) => row.subarray(128 * j, 128 * j + 128);
    switch (t % 7) {
      case 0: tile(t % 4)[17] = nan; break;
      case 1: tile(1)[3] = inf | 0x8000; break;
      case 2: tile(2).forEach((_, c, a) => (a[c] = ((r() * 0x7f) | 0) | (c & 1 ? 0x8000 : 0))); break; // subnormals and ±0
      case 3: tile(0).fill(0); tile(3).fill(0x8000); break;
      case 4: tile(1)[0] = maxFinite; tile(1)[1] = maxFinite | 0x8000; break;
      case 5: row.forEach((_, c, a) => (a[c] = ((r() * 0x10000) | 0) & 0xffff)); break; // any pattern
      default: break;
    }
  }
  return bits;
}

describe('cuda: FP8 KV cache writes (bit-identical to the cpu quantizer)', { skip }, () => {
  test('appendKv / appendKvPaged into a padded-stride FP8 cache, PagedKvCache({ kvFormat: fp8 })', (t) => {
    const seed = freshSeed();
    const r = rng(seed);
    const T = 300;
    const rows = Tensor.from(randomHalfBits('bf16', T * 576, r, { scale: 4 }), [T, 576], { dtype: 'bf16' });
    const cKv = rows.view([T, 512], [576, 1]);
    const kPe = rows.view([T, 64], [576, 1], 512);
    const slots = Tensor.from(Int32Array.from({ length: T }, (_, i) => (i % 17 === 3 ? -1 : (i * 37) % (8 * 64))), [T]);
    const stride = 65 * 656;
    const host = Tensor.zeros([8 * stride], { dtype: 'uint8' });
    const dev = Tensor.zeros([8 * stride], { dtype: 'uint8', backend: 'cuda' });
    const view = (x: Tensor) => x.view([8, 64, 1, 656], [stride, 656, 656, 1]);
    const gc = toCuda({ cKv: rows }).cKv!;
    const attempt = () => appendKv(view(dev), slots.to('cuda'), gc.view([T, 512], [576, 1]), gc.view([T, 64], [576, 1], 512));
    if (!whenSupported(t, CUDA_FEATURES.fp8KvCache, 'fp8KvCache', attempt)) {
      assert.ok((dev.toRaw() as Uint8Array).every((x) => x === 0), 'a refused append wrote into the cache');
      assert.throws(() => new PagedKvCache({ numBlocks: 4, backend: 'cuda', kvFormat: 'fp8' }), isUnsupported);
      return;
    }
    attempt(); // (whenSupported runs it only to check a refusal)
    appendKv(view(host), slots, cKv, kPe);
    assert.deepEqual(dev.toRaw(), host.toRaw(), `appendKv bytes differ (seed ${seed})`);
    const lens = Tensor.from(new Int32Array([100, 64, 3]), [3]);
    const table = Tensor.from(new Int32Array([7, 2, 0, 5, 1, 6]), [3, 2]);
    const rows6 = Tensor.from(randomHalfBits('bf16', 6 * 576, r), [6, 576], { dtype: 'bf16' });
    appendKvPaged(view(host), table, lens, rows6.view([6, 512], [576, 1]), rows6.view([6, 64], [576, 1], 512));
    const g6 = rows6.to('cuda');
    appendKvPaged(view(dev), table.to('cuda'), lens.to('cuda'), g6.view([6, 512], [576, 1]), g6.view([6, 64], [576, 1], 512));
    assert.deepEqual(dev.toRaw(), host.toRaw(), `appendKvPaged bytes differ (seed ${seed})`);
  });

  for (const dtype of ['bf16', 'fp16'] as const) {
    test(`${dtype} rows with NaN, ±inf, subnormals, zero tiles and the largest values; 61-token pages; slots past the cache skipped`, () => {
      const seed = freshSeed();
      const r = rng(seed);
      const pages = 12;
      const pageSize = 61;
      const capacity = pages * pageSize;
      const T = capacity + 40;
      const stride = (pageSize + 3) * 656; // padded pages
      const bits = specialRows(dtype, T, r);
      // every slot once (shuffled), then padding (−1, −7) and slots past the cache (the kernel must skip them; the
      // cpu, which refuses them, gets −1 there)
      const order = Array.from({ length: capacity }, (_, i) => i);
      for (let i = capacity - 1; i > 0; i--) {
        const j = Math.floor(r() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
      const slotValues = Int32Array.from({ length: T }, (_, i) => (i < capacity ? order[i] : [-1, capacity, capacity + 100, -7, 2 ** 31 - 1][i % 5]));
      const host = Tensor.full([pages * stride], 0xab, { dtype: 'uint8' });
      const dev = host.to('cuda');
      const view = (x: Tensor) => x.view([pages, pageSize, 1, 656], [stride, 656, 656, 1]);
      const src = Tensor.from(bits, [T, 576], { dtype });
      appendKv(view(host), Tensor.from(slotValues.map((x) => (x >= capacity ? -1 : x)), [T]), src.view([T, 512], [576, 1]), src.view([T, 64], [576, 1], 512));
      const g = src.to('cuda');
      const devSlots = Tensor.from(slotValues, [T], { backend: 'cuda' });
      appendKv(view(dev), devSlots, g.view([T, 512], [576, 1]), g.view([T, 64], [576, 1], 512), { checkValues: false });
      const got = dev.toRaw() as Uint8Array;
      const want = host.toRaw() as Uint8Array;
      const bad = got.findIndex((x, i) => x !== want[i]);
      if (bad >= 0) {
        const page = Math.floor(bad / stride);
        const byte = bad % stride;
        assert.fail(`byte ${bad} (page ${page}, token ${Math.floor(byte / 656)}, byte ${byte % 656} of its row) = ${got[bad]}, cpu ${want[bad]} (seed ${seed})`);
      }
      assert.ok(want.some((x) => x === 0x7f), 'the rows produced NaN codes');
      assert.equal(got[pages * stride - 1], 0xab, 'the padding after the last page was not written');
    });
  }

  test('PagedKvCache({ kvFormat: fp8 }) on cuda: appends, a fork with copy-on-write, two layers — same bytes as on cpu', () => {
    const seed = freshSeed();
    const r = rng(seed);
    const make = (backend: 'cpu' | 'cuda') => new PagedKvCache({ numBlocks: 16, backend, kvFormat: 'fp8', numLayers: 2, dtype: 'fp16', maxBatch: 4 });
    const caches = [make('cpu'), make('cuda')];
    const steps: number[][] = [[0, 0, 0, 1], [0, 1, 1, 1, 1], [2, 0], [2, 2, 1]]; // sequence index per token; 2 = a fork of 0
    const rowsPerStep = steps.map((ids) => [0, 1].map(() => Tensor.from(specialRows('fp16', ids.length, r), [ids.length, 576], { dtype: 'fp16' })));
    for (const cache of caches) {
      const seqs = [cache.addSequence(), cache.addSequence()];
      steps.forEach((ids, k) => {
        if (k === 2) seqs.push(cache.fork(seqs[0]));
        const layers = rowsPerStep[k].map((x) => (cache.backend === 'cuda' ? x.to('cuda') : x));
        cache.append(ids.map((i) => seqs[i]), layers.map((x) => x.view([ids.length, 512], [576, 1])), layers.map((x) => x.view([ids.length, 64], [576, 1], 512)));
      });
    }
    for (const l of [0, 1]) assert.deepEqual(caches[1].kCache(l).toRaw(), caches[0].kCache(l).toRaw(), `layer ${l}: bytes differ (seed ${seed})`);
    for (const c of caches) c.dispose();
  });
});

describe('cuda: dense decode over the FP8 cache, h_kv > 1, d_qk 512 (vs the cpu oracle, FlashMLA tolerances)', { skip }, () => {
  const seed = freshSeed();
  const cases: [string, Omit<DenseSpec, 'seed'>, boolean][] = [
    ['FP8, h_q 128, s_q 2, causal', { b: 4, sQ: 2, hQ: 128, hKv: 1, d: 576, seqlens: [0, 1, 700, 4096], dtype: 'bf16', fp8: true }, true],
    ['FP8, h_q 16, s_q 1, fp16', { b: 8, sQ: 1, hQ: 16, hKv: 1, d: 576, seqlens: [63, 64, 65, 2000, 1, 0, 129, 5000], dtype: 'fp16', fp8: true }, false],
    ['FP8, h_q 3, s_q 4, causal', { b: 3, sQ: 4, hQ: 3, hKv: 1, d: 576, seqlens: [3, 300, 9000], dtype: 'bf16', fp8: true }, true],
    ['FP8, h_q 1, s_q 1, one long request (split over every SM part)', { b: 1, sQ: 1, hQ: 1, hKv: 1, d: 576, seqlens: [20000], dtype: 'bf16', fp8: true }, false],
    ['FP8, h_q 64, s_q 3, not causal, fp16', { b: 5, sQ: 3, hQ: 64, hKv: 1, d: 576, seqlens: [2, 64, 128, 1000, 3000], dtype: 'fp16', fp8: true }, false],
    ['FP8, h_q 16, s_q 5, causal, seqlens below s_q', { b: 4, sQ: 5, hQ: 16, hKv: 1, d: 576, seqlens: [1, 4, 5, 6], dtype: 'bf16', fp8: true }, true],
    ['h_kv 2, h_q 128', { b: 3, sQ: 2, hQ: 128, hKv: 2, d: 576, seqlens: [140, 4096, 20], dtype: 'bf16', fp8: false }, true],
    ['h_kv 8, h_q 64', { b: 2, sQ: 1, hQ: 64, hKv: 8, d: 576, seqlens: [1000, 0], dtype: 'fp16', fp8: false }, false],
    ['h_kv 3, h_q 9', { b: 6, sQ: 2, hQ: 9, hKv: 3, d: 576, seqlens: [20, 140, 4096, 0, 1, 65], dtype: 'bf16', fp8: false }, true],
    ['d_qk 512, h_q 128', { b: 2, sQ: 2, hQ: 128, hKv: 1, d: 512, seqlens: [4096, 140], dtype: 'bf16', fp8: false }, true],
    ['d_qk 512, h_kv 2, h_q 126', { b: 2, sQ: 1, hQ: 126, hKv: 2, d: 512, seqlens: [20, 3000], dtype: 'bf16', fp8: false }, false],
  ];
  cases.forEach(([label, spec, causal], k) => test(label, (t) => denseCase(t, spec, seed + k, causal)));

  test('FP8 decode of a PagedKvCache written on cuda (appends, fork) = the cpu decode of the cpu cache', (t) => {
    if (!whenSupported(t, CUDA_FEATURES.fp8KvCache, 'fp8KvCache', () => new PagedKvCache({ numBlocks: 4, backend: 'cuda', kvFormat: 'fp8' }))) return;
    const s = freshSeed();
    const sQ = 2, hQ = 32;
    const results = (['cpu', 'cuda'] as const).map((backend) => {
      const rr = rng(s); // the same rows on both backends
      const cache = new PagedKvCache({ numBlocks: 64, backend, kvFormat: 'fp8', maxBatch: 4, fill: NaN });
      const a = cache.addSequence();
      const b = cache.addSequence();
      const rows = (n: number) => Tensor.from(randomHalfBits('bf16', n * 576, rr, { scale: 0.5 }), [n, 576], { dtype: 'bf16', backend });
      const r1 = rows(900);
      cache.append([...Array(500).fill(a), ...Array(400).fill(b)], r1.view([900, 512], [576, 1]), r1.view([900, 64], [576, 1], 512));
      const c = cache.fork(a);
      const r2 = rows(70);
      cache.append(Array(70).fill(c), r2.view([70, 512], [576, 1]), r2.view([70, 64], [576, 1], 512));
      const ids = [a, b, c];
      const q = Tensor.from(randomHalfBits('bf16', 3 * sQ * hQ * 576, rr, { scale: 0.5 }), [3, sQ, hQ, 576], { dtype: 'bf16', backend });
      const md = getMlaMetadata(cache.cacheSeqlens(ids), sQ * hQ, 1, { smCount: 132 });
      return flashMlaWithKvcache(q, cache.kCache(0), cache.blockTable(ids), cache.cacheSeqlens(ids), 512, md.tileSchedulerMetadata, md.numSplits, { causal: true, isFp8KvCache: true });
    });
    checkRows('PagedKvCache fp8', results[1], results[0], FLASHMLA_TOL.denseOut, s);
  });

  test("FP8 dense decode on 'generic' = the 'generic' kernel over dequantizeKvFp8(kCache) as a bf16 cache, bit for bit", (t) => {
    // the FP8 kernel is the generic kernel's arithmetic on a K tile dequantised exactly into bf16: same schedule, same
    // tiles, same mma/softmax code, so the outputs must agree to the bit, not just within a tolerance
    const p = makeDenseProblem({ b: 5, sQ: 2, hQ: 64, hKv: 1, d: 576, seqlens: [1, 64, 333, 2500, 7000], dtype: 'bf16', fp8: true, seed: seed + 77 });
    const cpu = denseTensors(p);
    const gpu = toCuda(cpu);
    const bf16Cache = dequantizeKvFp8(cpu.kCache).to('cuda');
    const md = getMlaMetadata(gpu.cacheSeqlens, 2 * 64, 1);
    const fp8 = () => flashMlaWithKvcache(gpu.q, gpu.kCache, gpu.blockTable, gpu.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, { causal: true, isFp8KvCache: true, kernel: 'generic' });
    if (!whenSupported(t, CUDA_FEATURES.fp8KvCache, 'fp8KvCache', fp8)) return;
    if (!getBackend('cuda').decodeKernels().includes('generic')) return void t.skip("the 'generic' kernel does not run on this GPU");
    const ref = flashMlaWithKvcache(gpu.q, bf16Cache, gpu.blockTable, gpu.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, { causal: true, kernel: 'generic' });
    const got = fp8();
    assert.deepEqual(got.out.toRaw(), ref.out.toRaw(), 'out differs from the generic kernel over the dequantised cache');
    assert.deepEqual(got.lse.toRaw(), ref.lse.toRaw(), 'lse differs from the generic kernel over the dequantised cache');
  });

  test("an FP8 decode runs on the kernels decodeKernels() names for it (h_q 16, s_q 1: 'hopper-small' first where it runs, then 'hopper', then 'generic'), the same answer on each; 'generic-small' and 'hopper' for fp16 q are refused (typed)", (t) => {
    const p = makeDenseProblem({ b: 2, sQ: 1, hQ: 16, hKv: 1, d: 576, seqlens: [100, 7], dtype: 'bf16', fp8: true, seed });
    const gpu = toCuda(denseTensors(p));
    const md = getMlaMetadata(gpu.cacheSeqlens, 16, 1);
    const dec = (kernel?: string, q = gpu.q) => flashMlaWithKvcache(q, gpu.kCache, gpu.blockTable, gpu.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, { isFp8KvCache: true, kernel });
    if (!whenSupported(t, CUDA_FEATURES.fp8KvCache, 'fp8KvCache', () => dec())) return;
    const kernels = getBackend('cuda').decodeKernels({ fp8: true, sparse: false, hQ: 16, sQ: 1, hKv: 1, headDim: 576, dtype: 'bf16', pageSize: 64 });
    assert.equal(kernels[kernels.length - 1], 'generic');
    assert.deepEqual(dec().out.toRaw(), dec(kernels[0]).out.toRaw(), 'the default is not the first kernel decodeKernels() names');
    const outs = kernels.map((k) => dec(k).out.toFloat32());
    for (let i = 1; i < outs.length; i++) {
      const o = flashMlaClose(`'${kernels[i]}' vs '${kernels[0]}'`, outs[i], outs[0], FLASHMLA_TOL.denseOut);
      assert.equal(o, null, `${o} (seed ${seed})`);
    }
    const refusedKernel = (e: unknown) => isUnsupported(e) && (e as UnsupportedFeatureError).argument === 'kernel';
    assert.throws(() => dec('generic-small'), refusedKernel, 'generic-small');
    const q16 = Tensor.from(p.qBits, [2, 1, 16, 576], { dtype: 'fp16', backend: 'cuda' });
    assert.throws(() => dec('hopper', q16), refusedKernel, "'hopper' with fp16 q");
    dec(undefined, q16); // on 'generic'
    t.diagnostic(`kernels for a dense FP8 decode with bf16 q here: ${kernels.join(', ')}`);
  });
});

// NaN-padded views (rows 672 B apart, a spare NaN token per page), NaN in every unused slot; split requests, seqlens
// off the block edges, causal s_q up to 4, one and two m-blocks, many short items per SM part
const HOPPER_FP8_GPU_CASES: [string, Omit<DenseSpec, 'seed'>, boolean][] = [
    ['h_q 128, s_q 2, causal, long and short requests', { b: 4, sQ: 2, hQ: 128, hKv: 1, d: 576, seqlens: [0, 1, 700, 4096], dtype: 'bf16', fp8: true }, true],
    ['h_q 16, s_q 1, seqlens around the block edges', { b: 8, sQ: 1, hQ: 16, hKv: 1, d: 576, seqlens: [63, 64, 65, 2000, 1, 0, 129, 5000], dtype: 'bf16', fp8: true }, false],
    ['h_q 64, s_q 2, causal (two m-blocks with different causal borders)', { b: 3, sQ: 2, hQ: 64, hKv: 1, d: 576, seqlens: [129, 66, 2], dtype: 'bf16', fp8: true }, true],
    ['h_q 1, s_q 1, one long request (split over every SM part)', { b: 1, sQ: 1, hQ: 1, hKv: 1, d: 576, seqlens: [20000], dtype: 'bf16', fp8: true }, false],
    ['h_q 3, s_q 4, causal', { b: 3, sQ: 4, hQ: 3, hKv: 1, d: 576, seqlens: [3, 300, 9000], dtype: 'bf16', fp8: true }, true],
    ['h_q 16, many short requests (several items per SM part)', { b: 40, sQ: 1, hQ: 16, hKv: 1, d: 576, seqlens: Array.from({ length: 40 }, (_, i) => (i * 37) % 300), dtype: 'bf16', fp8: true }, false],
    // 17–32 rows ('hopper-small''s 32-row FP8 entry)
    ['h_q 32, s_q 1, seqlens around the block edges', { b: 8, sQ: 1, hQ: 32, hKv: 1, d: 576, seqlens: [63, 64, 65, 2000, 1, 0, 129, 5000], dtype: 'bf16', fp8: true }, false],
    ['h_q 16, s_q 2, causal, one long request and short ones', { b: 5, sQ: 2, hQ: 16, hKv: 1, d: 576, seqlens: [20000, 3, 64, 300, 1], dtype: 'bf16', fp8: true }, true],
    ['h_q 5, s_q 5, causal (25 rows), many short requests', { b: 40, sQ: 5, hQ: 5, hKv: 1, d: 576, seqlens: Array.from({ length: 40 }, (_, i) => 5 + ((i * 37) % 300)), dtype: 'bf16', fp8: true }, true],
];

/**
 * A dense FP8 decode on `kernel` ('hopper', or 'hopper-small' on the cases of ≤ 32 rows) against the oracle, and the
 * cases again with K magnitudes spread per block, token and group (scales and group maxima that change between
 * blocks). Neither kernel's FP8 entry is its bf16 entry's math: 'hopper-small''s is the f16 datapath (sums grouped by
 * scale group, Q rounded to f16); 'hopper''s runs the sparse entries' seesaw, P0 published against block j's own max
 * (bit for bit the bf16 entry over dequantizeKvFp8(kCache) until session 33). So on the plain cases 'hopper' is also
 * checked against its bf16 entry over dequantizeKvFp8(kCache) under the same tolerances. On the K-spread cases V is up
 * to 2^3 larger and P in bf16 (FlashMLA's numerics, both 'hopper' entries) misses FlashMLA's absolute tolerance of the
 * oracle by up to 3× on a few elements (the bf16 entry over the dequantised cache gives the very same worst values:
 * H200 and the kernel emulator, session 33), and the two 'hopper' entries differ from each other by as much (H200,
 * session 34: 1 case in 3 runs); there 'hopper' is checked against the oracle with the absolute tolerance scaled by
 * V's magnitude (checkDenseRows' vMagnitude), while the f16 P of 'hopper-small' meets the unscaled one.
 */
function hopperFp8GpuTests(kernel: 'hopper' | 'hopper-small', seed: number, offered: () => boolean): void {
  const f16 = kernel === 'hopper-small';
  const base = HOPPER_FP8_GPU_CASES.filter(([, spec]) => kernel === 'hopper' || spec.sQ * spec.hQ <= 32);
  const cases = [...base, ...base.map(([l, spec, c]): (typeof base)[number] => [`${l}, K spread 2^±3`, { ...spec, kSpread: 3 }, c])];
  cases.forEach(([label, spec, causal], k) =>
    test(`${label}: ${f16 ? 'the oracle (the f16 datapath)' : spec.kSpread ? "the oracle (out's absolute tolerance × 2^3)" : `the oracle and '${kernel}' over dequantizeKvFp8(kCache)`}`, (t) => {
      if (!offered()) return void t.skip(`the ${kernel} FP8 kernel does not run on this GPU (decodeKernels for a dense FP8 decode has no '${kernel}')`);
      const s = seed + k;
      const p = makeDenseProblem({ ...spec, seed: s, scale: 0.5 });
      const cpu = denseTensors(p);
      const gpu = { q: nanPaddedQ(p, 'cuda'), kCache: nanPaddedFp8Cache(p, 'cuda'), blockTable: cpu.blockTable.to('cuda'), cacheSeqlens: cpu.cacheSeqlens.to('cuda') };
      const rows = spec.sQ * spec.hQ;
      const md = getMlaMetadata(gpu.cacheSeqlens, rows, 1);
      const mdH = getMlaMetadata(cpu.cacheSeqlens, rows, 1, { smCount: md.tileSchedulerMetadata.shape[0] * Math.ceil(rows / 64) });
      const got = flashMlaWithKvcache(gpu.q, gpu.kCache, gpu.blockTable, gpu.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, { causal, isFp8KvCache: true, kernel, ...nanOutputs(spec.b, spec.sQ, spec.hQ, 'bf16') });
      const want = flashMlaWithKvcache(cpu.q, cpu.kCache, cpu.blockTable, cpu.cacheSeqlens, 512, mdH.tileSchedulerMetadata, mdH.numSplits, { causal, isFp8KvCache: true });
      checkDenseRows(`${kernel} FP8 ${label}`, got, want, s, f16 ? 1 : 2 ** (spec.kSpread ?? 0));
      const splits = md.numSplits.toInt32();
      t.diagnostic(`${md.tileSchedulerMetadata.shape[0]} SM parts, requests split: ${splits[spec.b] - spec.b}`);
      if (f16 || spec.kSpread) return;
      const bf16 = flashMlaWithKvcache(gpu.q, dequantizeKvFp8(cpu.kCache).to('cuda'), gpu.blockTable, gpu.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, { causal, kernel, ...nanOutputs(spec.b, spec.sQ, spec.hQ, 'bf16') });
      checkDenseRows(`${kernel} FP8 ${label} against '${kernel}' over dequantizeKvFp8(kCache)`, got, bf16, s);
    }),
  );
}

describe("cuda: the Hopper FP8 kernel (dense FP8 decode with bf16 q, kernel 'hopper'), where this GPU offers it", { skip }, () => {
  const seed = freshSeed();
  const offered = () => getBackend('cuda').decodeKernels({ fp8: true, sparse: false, hQ: 16, hKv: 1, headDim: 576, dtype: 'bf16', pageSize: 64 }).includes('hopper');
  hopperFp8GpuTests('hopper', seed, offered);
  // one row over every SM part: the split partials keep fp32 partials' accuracy (test/util/split-accuracy.ts)
  for (const shape of SPLIT_ROW_SHAPES.filter((s) => s.spec.fp8)) {
    test(`${shape.label}, split over every SM part: the split partials' accuracy`, (t) => {
      if (!offered()) return void t.skip('the Hopper FP8 kernel does not run on this GPU');
      t.diagnostic(checkSplitRowAccuracy(shape, seed + 200));
    });
  }
  test('a captured graph replays the Hopper FP8 decode with new q = eager', (t) => {
    if (!offered()) return void t.skip('the Hopper FP8 kernel does not run on this GPU');
    const p = makeDenseProblem({ b: 3, sQ: 2, hQ: 32, hKv: 1, d: 576, seqlens: [500, 64, 3000], dtype: 'bf16', fp8: true, seed: seed + 100 });
    const gpu = toCuda(denseTensors(p));
    const md = getMlaMetadata(gpu.cacheSeqlens, 64, 1);
    const outs = nanOutputs(3, 2, 32, 'bf16');
    const opts = { causal: true, isFp8KvCache: true, kernel: 'hopper' };
    const step = captureGraph(() => void flashMlaWithKvcache(gpu.q, gpu.kCache, gpu.blockTable, gpu.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, { ...opts, ...outs }));
    for (const k of [1, 2]) {
      gpu.q.write(randomHalfBits('bf16', 3 * 2 * 32 * 576, rng(seed + k)));
      step.replay();
      step.synchronize();
      const e = flashMlaWithKvcache(gpu.q, gpu.kCache, gpu.blockTable, gpu.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, opts);
      assert.deepEqual(outs.out.toRaw(), e.out.toRaw(), `graph out differs from eager (replay ${k})`);
      assert.deepEqual(outs.lse.toRaw(), e.lse.toRaw(), `graph lse differs from eager (replay ${k})`);
    }
    step.dispose();
  });
});

describe("cuda: the small-row Hopper kernel over the FP8 cache (dense FP8 decode with bf16 q, h_q · s_q ≤ 32, kernel 'hopper-small', the default there), where this GPU offers it", { skip }, () => {
  const seed = freshSeed();
  const offered = () => getBackend('cuda').decodeKernels({ fp8: true, sparse: false, hQ: 16, hKv: 1, headDim: 576, dtype: 'bf16', pageSize: 64 }).includes('hopper-small');
  hopperFp8GpuTests('hopper-small', seed, offered);
});

/** The sparse grid of the issue; every case: −1 and out-of-range indices, NaN in every slot no counted index names. */
function sparseCases(): [string, Omit<SparseSpec, 'seed'>][] {
  const cases: [string, Omit<SparseSpec, 'seed'>][] = [
    ['h_q 128, topk 2048, s_q 2, b 4', { b: 4, sQ: 2, hQ: 128, topk: 2048, pageSize: 64, numPages: 600, dtype: 'bf16' }],
    ['h_q 64, topk 576, page size 61, topkLength, sinks', { b: 6, sQ: 1, hQ: 64, topk: 576, pageSize: 61, numPages: 200, dtype: 'bf16', topkLength: true, sink: true }],
    ['h_q 16, topk 2048, page size 2', { b: 3, sQ: 2, hQ: 16, topk: 2048, pageSize: 2, numPages: 5000, dtype: 'bf16' }],
    ['h_q 3, topk 64, all-invalid rows', { b: 3, sQ: 3, hQ: 3, topk: 64, pageSize: 64, numPages: 4, dtype: 'bf16', allInvalid: [[0, 0], [2, 2]] }],
    ['h_q 1, topk 100 (not a multiple of 64), duplicates', { b: 2, sQ: 1, hQ: 1, topk: 100, pageSize: 16, numPages: 20, dtype: 'bf16', duplicates: true }],
    ['h_q 128, topk 64, mostly invalid, sinks ±inf', { b: 2, sQ: 2, hQ: 128, topk: 64, pageSize: 64, numPages: 4, dtype: 'bf16', invalidFraction: 0.8, sink: true }],
    ['h_q 16, topk 1, fp16, topkLength', { b: 5, sQ: 3, hQ: 16, topk: 1, pageSize: 64, numPages: 2, dtype: 'fp16', topkLength: true, invalidFraction: 0.3 }],
    ['h_q 100 (two head blocks, the second partial), topk 300, s_q 2, sinks', { b: 2, sQ: 2, hQ: 100, topk: 300, pageSize: 32, numPages: 40, dtype: 'bf16', sink: true, topkLength: true }],
  ];
  // the grid: h_q × topk, each with topkLength (request 0: 0, request 1: topk, request 2: random), sinks (some ±inf)
  // and an all-invalid row; b 3 and s_q 2 keep the float64 oracle to seconds
  for (const hQ of [1, 3, 16, 64, 128]) {
    for (const topk of [64, 576, 2048]) {
      cases.push([
        `grid: h_q ${hQ}, topk ${topk}, topkLength, sinks, an all-invalid row`,
        { b: 3, sQ: 2, hQ, topk, pageSize: 64, numPages: Math.ceil((3 * topk) / 64) + 8, dtype: hQ === 16 ? 'fp16' : 'bf16', topkLength: true, sink: true, allInvalid: [[2, 1]] },
      ]);
    }
  }
  return cases;
}

/**
 * Strided indices (a wider buffer, dimensions 0 and 1 permuted in memory) and q / cache views, against the oracle;
 * then a captured graph replayed with other indices naming the same tokens (each row's counted part reversed: other
 * tiles, other split boundaries), = eager. `views` makes q and the cache views on cuda; `label` prefixes the checks.
 */
function sparseStridedReplay(t: TestContext, s: number, spec: Omit<SparseSpec, 'seed'>, kernel: string, label: string,
                             views: (p: ReturnType<typeof makeSparseProblem>, cpu: ReturnType<typeof sparseTensors>) => { q: Tensor; kCache: Tensor }): void {
  const p = makeSparseProblem({ ...spec, seed: s });
  const cpu = sparseTensors(p);
  const { b, sQ, hQ, topk } = spec;
  const reversed = p.indices.slice();
  for (let i = 0; i < b; i++) for (let q = 0; q < sQ; q++) reversed.subarray((i * sQ + q) * topk, (i * sQ + q) * topk + p.topkLength![i]).reverse();
  const wideIdx = (ix: Int32Array) => {
    const buf = new Int32Array(sQ * b * (topk + 8)).fill(-1);
    for (let i = 0; i < b; i++) for (let q = 0; q < sQ; q++) buf.set(ix.subarray((i * sQ + q) * topk, (i * sQ + q + 1) * topk), (q * b + i) * (topk + 8));
    return buf;
  };
  const idxStorage = Tensor.from(wideIdx(p.indices), [sQ * b * (topk + 8)], { dtype: 'int32', backend: 'cuda' });
  const indices = idxStorage.view([b, sQ, topk], [topk + 8, b * (topk + 8), 1]);
  const { q, kCache } = views(p, cpu);
  const topkLength = cpu.topkLength!.to('cuda');
  const attnSink = cpu.attnSink!.to('cuda');
  const md = getMlaMetadata(null, sQ * hQ, 1, { topk, batchSize: b, backend: 'cuda' });
  const opts = { isFp8KvCache: true, indices, topkLength, attnSink, kernel };
  const eager = () => flashMlaWithKvcache(q, kCache, null, null, 512, md.tileSchedulerMetadata, md.numSplits, opts);
  if (!whenSupported(t, CUDA_FEATURES.sparse, 'sparse', eager)) return;
  const mdH = getMlaMetadata(null, sQ * hQ, 1, { topk, batchSize: b, smCount: md.tileSchedulerMetadata.shape[0] * Math.ceil((sQ * hQ) / 64) });
  const oracle = (ix: Int32Array) =>
    flashMlaWithKvcache(cpu.q, cpu.kCache, null, null, 512, mdH.tileSchedulerMetadata, mdH.numSplits, {
      isFp8KvCache: true, indices: Tensor.from(ix, [b, sQ, topk]), topkLength: cpu.topkLength, attnSink: cpu.attnSink,
    });
  checkRows(`${label}strided views`, eager(), oracle(p.indices), FLASHMLA_TOL.sparseOut, s);
  const outs = nanOutputs(b, sQ, hQ, 'bf16');
  const step = captureGraph(() => void flashMlaWithKvcache(q, kCache, null, null, 512, md.tileSchedulerMetadata, md.numSplits, { ...opts, ...outs }));
  for (const ix of [reversed, p.indices]) {
    idxStorage.write(wideIdx(ix));
    outs.out.fill(NaN);
    step.replay();
    step.synchronize();
    checkRows(`${label}graph replay`, outs, oracle(ix), FLASHMLA_TOL.sparseOut, s);
    const e = eager();
    assert.deepEqual(outs.out.toRaw(), e.out.toRaw(), `graph out differs from eager (seed ${s})`);
    assert.deepEqual(outs.lse.toFloat32(), e.lse.toFloat32(), `graph lse differs from eager (seed ${s})`);
  }
  step.dispose();
}

describe("cuda: sparse decode on the portable kernel ('generic'; vs the cpu oracle, FlashMLA tolerances)", { skip }, () => {
  const seed = freshSeed();
  const splitCases = { split: 0, whole: 0 };
  sparseCases().forEach(([label, spec], k) =>
    test(label, (t) => {
      const s = seed + k;
      const p = makeSparseProblem({ ...spec, seed: s });
      const cpu = sparseTensors(p);
      const storage = Tensor.from(p.kBytes, [p.kBytes.length], { dtype: 'uint8', backend: 'cuda' });
      const gpu = { ...toCuda({ q: cpu.q, indices: cpu.indices, topkLength: cpu.topkLength, attnSink: cpu.attnSink }), kCache: storage.view(cpu.kCache.shape, cpu.kCache.strides) };
      const rows = spec.sQ * spec.hQ;
      const mdC = getMlaMetadata(null, rows, 1, { topk: spec.topk, batchSize: spec.b, backend: 'cuda' });
      const mdH = getMlaMetadata(null, rows, 1, { topk: spec.topk, batchSize: spec.b, smCount: mdC.tileSchedulerMetadata.shape[0] * Math.ceil(rows / 64) });
      const softmaxScale = 576 ** -0.55;
      const outs = nanOutputs(spec.b, spec.sQ, spec.hQ, spec.dtype);
      // 'generic' named: h_q 64 and 128 with bf16 q run on 'hopper' by default where it runs (its own section below)
      const run = () =>
        flashMlaWithKvcache(gpu.q!, gpu.kCache, null, null, 512, mdC.tileSchedulerMetadata, mdC.numSplits, {
          isFp8KvCache: true, indices: gpu.indices, topkLength: gpu.topkLength, attnSink: gpu.attnSink, softmaxScale, kernel: 'generic', ...outs,
        });
      if (!whenSupported(t, CUDA_FEATURES.sparse && CUDA_FEATURES.fp8KvCache, 'sparse', run)) return;
      const want = flashMlaWithKvcache(cpu.q, cpu.kCache, null, null, 512, mdH.tileSchedulerMetadata, mdH.numSplits, {
        isFp8KvCache: true, indices: cpu.indices, topkLength: cpu.topkLength, attnSink: cpu.attnSink, softmaxScale,
      });
      const got = run();
      checkRows(`sparse ${label}`, got, want, FLASHMLA_TOL.sparseOut, s);
      // what the case exercised: requests split over SM parts (the combine, with its sink) or whole (the decode's epilogue)
      const splits = mdH.numSplits.toInt32();
      const split = splits[spec.b] > spec.b;
      splitCases[split ? 'split' : 'whole']++;
      const lse = want.lse.toFloat32();
      t.diagnostic(`${split ? 'split' : 'unsplit'} requests; ${lse.filter((x) => x === Infinity).length} of ${lse.length} rows attend nothing`);
      if (spec.allInvalid || spec.topkLength) assert.ok(lse.some((x) => x === Infinity), 'the case has rows that attend nothing');
    }),
  );
  test('the grid ran both the split (combine) and the unsplit (decode epilogue) paths', (t) => {
    if (!CUDA_FEATURES.sparse) return void t.skip('sparse decode is refused on cuda (CUDA_FEATURES.sparse = false)');
    assert.ok(splitCases.split > 3 && splitCases.whole > 3, JSON.stringify(splitCases));
  });

  test('strided indices and q views; a captured graph replays the sparse decode with new indices = eager', (t) => {
    const spec: Omit<SparseSpec, 'seed'> = { b: 3, sQ: 2, hQ: 24, topk: 640, pageSize: 64, numPages: 80, dtype: 'bf16', topkLength: true, sink: true };
    sparseStridedReplay(t, seed + 1000, spec, 'generic', '', (p, cpu) => {
      // q with a padded head per query token (zeros); the cache as one flat buffer viewed with its strides
      const { b, sQ, hQ } = spec;
      const qStorage = Tensor.zeros([b * sQ * (hQ + 1) * 576], { dtype: 'bf16', backend: 'cuda' });
      const qPadded = new Uint16Array(b * sQ * (hQ + 1) * 576);
      for (let r = 0; r < b * sQ; r++) qPadded.set(p.qBits.subarray(r * hQ * 576, (r + 1) * hQ * 576), r * (hQ + 1) * 576);
      qStorage.write(qPadded);
      return {
        q: qStorage.view([b, sQ, hQ, 576], [sQ * (hQ + 1) * 576, (hQ + 1) * 576, 576, 1]),
        kCache: Tensor.from(p.kBytes, [p.kBytes.length], { dtype: 'uint8', backend: 'cuda' }).view(cpu.kCache.shape, cpu.kCache.strides),
      };
    });
  });
});

/**
 * One test per sparse case against the oracle on `kernel`, then one that the cases ran both the split (combine) and
 * the unsplit (decode epilogue) paths more than `minEachPath` times each. Skipped where `offered()` is false.
 */
function sparseOracleTests(o: { cases: SparseHopperCase[]; seed: number; kernel: string; offered: () => boolean; skipWhy: string; minEachPath: number }): void {
  const paths = { split: 0, whole: 0 };
  o.cases.forEach((c, k) =>
    test(`${c.label}: the oracle`, (t) => {
      if (!o.offered()) return void t.skip(o.skipWhy);
      const r = runSparseHopperCase(c, o.seed + k, o.kernel);
      paths[r.split ? 'split' : 'whole']++;
      t.diagnostic(r.note);
    }),
  );
  test('the cases ran both the split (combine) and the unsplit (decode epilogue) paths', (t) => {
    if (!o.offered()) return void t.skip(o.skipWhy);
    assert.ok(paths.split > o.minEachPath && paths.whole > o.minEachPath, JSON.stringify(paths));
  });
}

describe("cuda: the Hopper sparse FP8 kernel (sparse decode with bf16 q, any h_q, kernel 'hopper'), where this GPU offers it", { skip }, () => {
  const seed = freshSeed();
  const SPARSE_H128 = { fp8: true, sparse: true, hQ: 128, hKv: 1, headDim: 576, dtype: 'bf16', pageSize: 64 } as const;
  const offered = () => getBackend('cuda').decodeKernels(SPARSE_H128).includes('hopper');
  const noHopper = "the Hopper sparse FP8 kernel does not run on this GPU (decodeKernels for a sparse h_q 128 decode has no 'hopper')";
  // the emulator's cases (test/util/sparse-hopper.ts), then larger ones: FlashMLA's topk 2048 (requests split over
  // every SM part), h_q 192 (three head blocks), h_q 1 and 3 (one real head or three per m-block), and the grid
  // h_q {16, 64, 128} × topk {64, 300, 576, 2048} × page size
  const cases: SparseHopperCase[] = [
    ...SPARSE_HOPPER_CASES,
    {
      label: "h_q 128, topk 2048, s_q 2, FlashMLA's shape, split",
      spec: { b: 2, sQ: 2, hQ: 128, topk: 2048, pageSize: 64, numPages: 300, dtype: 'bf16', topkLength: true, sink: true },
      split: true,
    },
    {
      label: 'h_q 192, topk 300, 2-token pages, padded view',
      spec: { b: 3, sQ: 2, hQ: 192, topk: 300, pageSize: 2, numPages: 1000, dtype: 'bf16', duplicates: true, sink: true, allInvalid: [[1, 1]] },
      padded: true,
    },
    {
      label: 'h_q 1, s_q 3, topk 2048, 64-token pages, split',
      spec: { b: 2, sQ: 3, hQ: 1, topk: 2048, pageSize: 64, numPages: 200, dtype: 'bf16', topkLength: true, sink: true },
      split: true,
    },
    {
      label: 'h_q 3, s_q 4, topk 576, 2-token pages, duplicates, padded view',
      spec: { b: 2, sQ: 4, hQ: 3, topk: 576, pageSize: 2, numPages: 1200, dtype: 'bf16', duplicates: true, sink: true, allInvalid: [[0, 3]] },
      padded: true,
    },
  ];
  for (const hQ of [16, 64, 128]) {
    for (const [topk, pageSize] of [[64, 64], [300, 61], [576, 2], [2048, 64]]) {
      cases.push({
        label: `grid: h_q ${hQ}, topk ${topk}, ${pageSize}-token pages, topkLength, sinks, an all-invalid row`,
        spec: { b: 3, sQ: 2, hQ, topk, pageSize, numPages: Math.ceil((3 * topk) / pageSize) + 8, dtype: 'bf16', topkLength: true, sink: true, allInvalid: [[2, 1]] },
        padded: topk !== 2048,
      });
    }
  }
  sparseOracleTests({ cases, seed, kernel: 'hopper', offered, skipWhy: noHopper, minEachPath: 2 });

  test("such a decode runs on 'hopper' by default at h_q 64 ('hopper-small' at h_q 32), 'generic' gives the same answer within the tolerances; fp16 q refuses 'hopper' (typed)", (t) => {
    if (!offered()) return void t.skip(noHopper);
    const spec: Omit<SparseSpec, 'seed'> = { b: 3, sQ: 2, hQ: 64, topk: 640, pageSize: 64, numPages: 40, dtype: 'bf16', topkLength: true, sink: true };
    const p = makeSparseProblem({ ...spec, seed: seed + 500 });
    const cpu = sparseTensors(p);
    const gpu = { ...toCuda({ q: cpu.q, indices: cpu.indices, topkLength: cpu.topkLength, attnSink: cpu.attnSink }), kCache: Tensor.from(p.kBytes, [p.kBytes.length], { dtype: 'uint8', backend: 'cuda' }).view(cpu.kCache.shape, cpu.kCache.strides) };
    const md = getMlaMetadata(null, 128, 1, { topk: 640, batchSize: 3, backend: 'cuda' });
    const dec = (kernel?: string, q = gpu.q!) =>
      flashMlaWithKvcache(q, gpu.kCache, null, null, 512, md.tileSchedulerMetadata, md.numSplits, { isFp8KvCache: true, indices: gpu.indices, topkLength: gpu.topkLength, attnSink: gpu.attnSink, kernel });
    assert.deepEqual(getBackend('cuda').decodeKernels({ ...SPARSE_H128, hQ: 64 }), ['hopper', 'generic']);
    // h_q 17–32: the kernels of an h_q 16 decode (the small-row kernel's sparse entry first where it runs: two 16-head
    // CTAs per query token)
    assert.deepEqual(getBackend('cuda').decodeKernels({ ...SPARSE_H128, hQ: 32 }), getBackend('cuda').decodeKernels({ ...SPARSE_H128, hQ: 16 }));
    const byDefault = dec();
    const hopper = dec('hopper');
    assert.deepEqual(byDefault.out.toRaw(), hopper.out.toRaw(), "the default is not 'hopper'");
    assert.deepEqual(byDefault.lse.toRaw(), hopper.lse.toRaw(), "the default is not 'hopper'");
    checkRows("'generic' vs 'hopper'", dec('generic'), hopper, FLASHMLA_TOL.sparseOut, seed + 500);
    const refusedKernel = (e: unknown) => isUnsupported(e) && (e as UnsupportedFeatureError).argument === 'kernel';
    const q16 = Tensor.from(p.qBits, [3, 2, 64, 576], { dtype: 'fp16', backend: 'cuda' });
    assert.throws(() => dec('hopper', q16), refusedKernel, "'hopper' with fp16 q");
    // h_q 32 (a view of the first 32 heads): 'hopper' against 'generic' and against the default ('hopper-small' where
    // it runs)
    const q32 = gpu.q!.view([3, 2, 32, 576], [2 * 64 * 576, 64 * 576, 576, 1]);
    const md32 = getMlaMetadata(null, 64, 1, { topk: 640, batchSize: 3, backend: 'cuda' });
    const dec32 = (kernel?: string) =>
      flashMlaWithKvcache(q32, gpu.kCache, null, null, 512, md32.tileSchedulerMetadata, md32.numSplits, { isFp8KvCache: true, indices: gpu.indices, topkLength: gpu.topkLength, kernel });
    const h32 = dec32('hopper');
    checkRows("h_q 32: 'generic' vs 'hopper'", dec32('generic'), h32, FLASHMLA_TOL.sparseOut, seed + 500);
    checkRows("h_q 32: the default vs 'hopper'", dec32(), h32, FLASHMLA_TOL.sparseOut, seed + 500);
  });

  test('h_q 128 and 256: the paired entry (2-CTA clusters sharing each block\'s gather) gives the single-CTA entry\'s outputs bit for bit', (t) => {
    if (!offered()) return void t.skip(noHopper);
    for (const [i, hQ] of [128, 256].entries()) {
      const spec: Omit<SparseSpec, 'seed'> = { b: 3, sQ: 2, hQ, topk: 1000, pageSize: 64, numPages: 60, dtype: 'bf16', topkLength: true, sink: true, allInvalid: [[2, 1]] };
      const p = makeSparseProblem({ ...spec, seed: seed + 1500 + i });
      const cpu = sparseTensors(p);
      const gpu = { ...toCuda({ q: cpu.q, indices: cpu.indices, topkLength: cpu.topkLength, attnSink: cpu.attnSink }), kCache: Tensor.from(p.kBytes, [p.kBytes.length], { dtype: 'uint8', backend: 'cuda' }).view(cpu.kCache.shape, cpu.kCache.strides) };
      const md = getMlaMetadata(null, 2 * hQ, 1, { topk: 1000, batchSize: 3, backend: 'cuda' });
      const dec = () =>
        flashMlaWithKvcache(gpu.q!, gpu.kCache, null, null, 512, md.tileSchedulerMetadata, md.numSplits, { isFp8KvCache: true, indices: gpu.indices, topkLength: gpu.topkLength, attnSink: gpu.attnSink, kernel: 'hopper' });
      const saved = process.env.FLASH_MLA_EXPERIMENT_SPARSE_PAIR;
      let single;
      try {
        process.env.FLASH_MLA_EXPERIMENT_SPARSE_PAIR = '0';
        single = dec();
      } finally {
        if (saved === undefined) delete process.env.FLASH_MLA_EXPERIMENT_SPARSE_PAIR;
        else process.env.FLASH_MLA_EXPERIMENT_SPARSE_PAIR = saved;
      }
      const paired = dec();
      assert.deepEqual(paired.out.toRaw(), single.out.toRaw(), `h_q ${hQ}: out differs between the paired and the single-CTA entry (seed ${seed + 1500 + i})`);
      assert.deepEqual(paired.lse.toRaw(), single.lse.toRaw(), `h_q ${hQ}: lse differs between the paired and the single-CTA entry (seed ${seed + 1500 + i})`);
      checkRows(`h_q ${hQ}: 'generic' vs paired 'hopper'`, flashMlaWithKvcache(gpu.q!, gpu.kCache, null, null, 512, md.tileSchedulerMetadata, md.numSplits, { isFp8KvCache: true, indices: gpu.indices, topkLength: gpu.topkLength, attnSink: gpu.attnSink, kernel: 'generic' }), paired, FLASHMLA_TOL.sparseOut, seed + 1500 + i);
    }
  });

  test('strided indices and q views; a captured graph replays the Hopper sparse decode with new indices = eager', (t) => {
    if (!offered()) return void t.skip(noHopper);
    const spec: Omit<SparseSpec, 'seed'> = { b: 3, sQ: 2, hQ: 64, topk: 640, pageSize: 61, numPages: 80, dtype: 'bf16', topkLength: true, sink: true };
    sparseStridedReplay(t, seed + 1000, spec, 'hopper', 'hopper ', (p) => ({
      q: nanPaddedQ({ spec: { ...spec, d: 576 }, qBits: p.qBits }, 'cuda'),
      kCache: nanPaddedSparseCache(p, 'cuda'),
    }));
  });
});

const SPARSE_H16 = { fp8: true, sparse: true, hQ: 16, hKv: 1, headDim: 576, dtype: 'bf16', pageSize: 64 } as const;
const smallSparseOffered = () => getBackend('cuda').decodeKernels(SPARSE_H16).includes('hopper-small');
const noSmallSparse = "the small-row kernel does not run on this GPU (decodeKernels for a sparse h_q 16 decode has no 'hopper-small')";
// hopper-small's sparse cases: the emulator's (test/util/sparse-hopper.ts SMALL_SPARSE_CASES and, h_q 17–32,
// SMALL_SPARSE_HEAD_GROUP_CASES), FlashMLA's topk 2048 at h_q 32, then at h_q 16 (the bench's shape: sinks, invalid
// indices, requests split over SM parts) and at h_q 1; then all of them again with K magnitudes spread 2^±3 per slot
// and group (its split of the scales out of the codes: the gathered tokens' scales and the blocks' group reference
// scales vary)
const SMALL_SPARSE_BASE_CASES: SparseHopperCase[] = [
  ...SMALL_SPARSE_CASES,
  // (h_q 17–32: the head-group cases, and SMALL_SPARSE_CASES at h_q 32 / 17 / 24 — under FLASH_MLA_EXPERIMENT_SPARSE_R32=1
  // all of these run on the 32-column entry)
  ...SMALL_SPARSE_R32_CASES,
  {
    label: "h_q 32, s_q 2, topk 2048, FlashMLA's shape, sinks, invalid indices, split (two 16-head CTAs per token)",
    spec: { b: 2, sQ: 2, hQ: 32, topk: 2048, pageSize: 64, numPages: 300, dtype: 'bf16', topkLength: true, sink: true, invalidFraction: 0.2, scale: 0.5 },
    split: true,
  },
  {
    label: "h_q 16, s_q 2, topk 2048, FlashMLA's shape, sinks, invalid indices, split",
    spec: { b: 2, sQ: 2, hQ: 16, topk: 2048, pageSize: 64, numPages: 300, dtype: 'bf16', topkLength: true, sink: true, invalidFraction: 0.2, scale: 0.5 },
    split: true,
  },
  {
    label: 'h_q 16, s_q 2, topk 2048, 61-token pages, sinks, duplicates, padded view',
    spec: { b: 3, sQ: 2, hQ: 16, topk: 2048, pageSize: 61, numPages: 420, dtype: 'bf16', sink: true, duplicates: true, invalidFraction: 0.1, allInvalid: [[2, 1]] },
    padded: true,
  },
  {
    label: 'h_q 1, s_q 3, topk 2048, 64-token pages, split',
    spec: { b: 2, sQ: 3, hQ: 1, topk: 2048, pageSize: 64, numPages: 200, dtype: 'bf16', topkLength: true, sink: true },
    split: true,
  },
];
const SMALL_SPARSE_GPU_CASES: SparseHopperCase[] = [
  ...SMALL_SPARSE_BASE_CASES,
  ...SMALL_SPARSE_BASE_CASES.map((c) => ({ ...c, label: `${c.label}, K spread 2^±3`, spec: { ...c.spec, kSpread: 3 } })),
  // a batch whose requests are split a few ways each (b 36 over ~132 SM parts; h_q 20: on the 32-column entry by
  // default there, src/cuda/fp8-decode.ts sparseR32 — as two head groups, the second with 4 heads, under
  // FLASH_MLA_EXPERIMENT_SPARSE_R32=0)
  {
    label: 'h_q 20, s_q 2, b 36, topk 2048, 64-token pages, topkLength, sinks, invalid indices, requests split a few ways',
    spec: { b: 36, sQ: 2, hQ: 20, topk: 2048, pageSize: 64, numPages: 2320, dtype: 'bf16', topkLength: true, sink: true, invalidFraction: 0.1, scale: 0.5 },
    split: true,
  },
];

describe("cuda: the small-row kernel's sparse FP8 entry (sparse decode with bf16 q, h_q ≤ 32, kernel 'hopper-small', the default there), where this GPU offers it", { skip }, () => {
  const seed = freshSeed();
  const offered = smallSparseOffered, noSmall = noSmallSparse;
  const cases = SMALL_SPARSE_GPU_CASES;
  sparseOracleTests({ cases, seed, kernel: 'hopper-small', offered, skipWhy: noSmall, minEachPath: 1 });
  test("the default for h_q ≤ 32 (offered last under a FLASH_MLA_DECODE_KERNEL narrowing); h_q 33 has no 'hopper-small'", (t) => {
    if (!offered()) return void t.skip(noSmall);
    const kernels = getBackend('cuda').decodeKernels(SPARSE_H16);
    if (process.env.FLASH_MLA_DECODE_KERNEL === undefined) assert.deepEqual(kernels, ['hopper-small', 'hopper', 'generic']);
    else assert.equal(kernels[kernels.length - 1], 'hopper-small', kernels.join(', '));
    for (const hQ of [1, 3, 17, 32]) assert.equal(getBackend('cuda').decodeKernels({ ...SPARSE_H16, hQ })[0], kernels[0], `h_q ${hQ}`);
    assert.deepEqual(getBackend('cuda').decodeKernels({ ...SPARSE_H16, hQ: 33 }), ['hopper', 'generic']);
  });
});
