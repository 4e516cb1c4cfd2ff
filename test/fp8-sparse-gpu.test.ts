// GPU tests of issue 10's paths (FP8 cache writes and dense decode, sparse decode, h_kv > 1 and d_qk 512) against
// the cpu oracle under FlashMLA's tolerances. Skipped without a GPU. On a GPU each test follows CUDA_FEATURES
// (src/cuda/features.ts): while a feature is off it checks that the cuda backend refuses it with
// UnsupportedFeatureError and nothing was written, then reports itself skipped; once the kernel lands and the flag
// is switched on, the same test compares the kernel with the oracle — nothing else to edit.

import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import {
  Tensor, PagedKvCache, UnsupportedFeatureError, appendKv, appendKvPaged, flashMlaWithKvcache, getMlaMetadata,
} from '../src/index.js';
import { CUDA_FEATURES } from '../src/cuda/features.js';
import { freshSeed, gpuSkipReason, randomHalfBits, rng } from './util/problem.js';
import { FLASHMLA_TOL, denseTensors, flashMlaClose, makeDenseProblem, makeSparseProblem, sparseTensors, type DenseSpec, type SparseSpec } from './util/layouts.js';

const skip = await gpuSkipReason();

const isUnsupported = (e: unknown) => e instanceof UnsupportedFeatureError && e.backend === 'cuda';

/** While `on` is false: `attempt` must throw UnsupportedFeatureError; then the test reports itself skipped. */
function whenSupported(t: TestContext, on: boolean, flag: string, attempt: () => void): boolean {
  if (on) return true;
  assert.throws(attempt, isUnsupported);
  t.skip(`not implemented on cuda yet (CUDA_FEATURES.${flag} = false, issue 10); refused with UnsupportedFeatureError as it should`);
  return false;
}

function toCuda<T extends Record<string, Tensor | null>>(ts: T): T {
  return Object.fromEntries(Object.entries(ts).map(([k, v]) => [k, v ? v.to('cuda') : null])) as T;
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
  const opts = { causal, isFp8KvCache: spec.fp8 };
  const run = () => flashMlaWithKvcache(gpu.q, gpu.kCache, gpu.blockTable, gpu.cacheSeqlens, 512, mdC.tileSchedulerMetadata, mdC.numSplits, opts);
  const flag = spec.fp8 ? 'fp8KvCache' : hKv > 1 ? 'gqa' : 'headDim512';
  const on = spec.fp8 ? CUDA_FEATURES.fp8KvCache : (hKv === 1 || CUDA_FEATURES.gqa) && (spec.d === 576 || CUDA_FEATURES.headDim512);
  if (!whenSupported(t, on, flag, run)) return;
  const want = flashMlaWithKvcache(cpu.q, cpu.kCache, cpu.blockTable, cpu.cacheSeqlens, 512, mdH.tileSchedulerMetadata, mdH.numSplits, opts);
  checkRows(`dense ${JSON.stringify(spec)}`, run(), want, FLASHMLA_TOL.denseOut, seed);
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
});

describe('cuda: dense decode over the FP8 cache, h_kv > 1, d_qk 512 (vs the cpu oracle, FlashMLA tolerances)', { skip }, () => {
  const seed = freshSeed();
  const cases: [string, Omit<DenseSpec, 'seed'>, boolean][] = [
    ['FP8, h_q 128, s_q 2, causal', { b: 4, sQ: 2, hQ: 128, hKv: 1, d: 576, seqlens: [0, 1, 700, 4096], dtype: 'bf16', fp8: true }, true],
    ['FP8, h_q 16, s_q 1, fp16', { b: 8, sQ: 1, hQ: 16, hKv: 1, d: 576, seqlens: [63, 64, 65, 2000, 1, 0, 129, 5000], dtype: 'fp16', fp8: true }, false],
    ['FP8, h_q 3, s_q 4, causal', { b: 3, sQ: 4, hQ: 3, hKv: 1, d: 576, seqlens: [3, 300, 9000], dtype: 'bf16', fp8: true }, true],
    ['h_kv 2, h_q 128', { b: 3, sQ: 2, hQ: 128, hKv: 2, d: 576, seqlens: [140, 4096, 20], dtype: 'bf16', fp8: false }, true],
    ['h_kv 8, h_q 64', { b: 2, sQ: 1, hQ: 64, hKv: 8, d: 576, seqlens: [1000, 0], dtype: 'fp16', fp8: false }, false],
    ['h_kv 3, h_q 9', { b: 6, sQ: 2, hQ: 9, hKv: 3, d: 576, seqlens: [20, 140, 4096, 0, 1, 65], dtype: 'bf16', fp8: false }, true],
    ['d_qk 512, h_q 128', { b: 2, sQ: 2, hQ: 128, hKv: 1, d: 512, seqlens: [4096, 140], dtype: 'bf16', fp8: false }, true],
    ['d_qk 512, h_kv 2, h_q 126', { b: 2, sQ: 1, hQ: 126, hKv: 2, d: 512, seqlens: [20, 3000], dtype: 'bf16', fp8: false }, false],
  ];
  cases.forEach(([label, spec, causal], k) => test(label, (t) => denseCase(t, spec, seed + k, causal)));
});

describe('cuda: sparse decode (vs the cpu oracle, FlashMLA tolerances)', { skip }, () => {
  const seed = freshSeed();
  const cases: [string, Omit<SparseSpec, 'seed'>][] = [
    ['h_q 128, topk 2048, s_q 2, b 4', { b: 4, sQ: 2, hQ: 128, topk: 2048, pageSize: 64, numPages: 600, dtype: 'bf16' }],
    ['h_q 64, topk 576, page size 61, topkLength, sinks', { b: 6, sQ: 1, hQ: 64, topk: 576, pageSize: 61, numPages: 200, dtype: 'bf16', topkLength: true, sink: true }],
    ['h_q 16, topk 2048, page size 2', { b: 3, sQ: 2, hQ: 16, topk: 2048, pageSize: 2, numPages: 5000, dtype: 'bf16' }],
    ['h_q 3, topk 64, all-invalid rows', { b: 3, sQ: 3, hQ: 3, topk: 64, pageSize: 64, numPages: 4, dtype: 'bf16', allInvalid: [[0, 0], [2, 2]] }],
    ['h_q 1, topk 100 (not a multiple of 64), duplicates', { b: 2, sQ: 1, hQ: 1, topk: 100, pageSize: 16, numPages: 20, dtype: 'bf16', duplicates: true }],
    ['h_q 128, topk 64, mostly invalid, sinks ±inf', { b: 2, sQ: 2, hQ: 128, topk: 64, pageSize: 64, numPages: 4, dtype: 'bf16', invalidFraction: 0.8, sink: true }],
  ];
  cases.forEach(([label, spec], k) =>
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
      const run = () =>
        flashMlaWithKvcache(gpu.q!, gpu.kCache, null, null, 512, mdC.tileSchedulerMetadata, mdC.numSplits, {
          isFp8KvCache: true, indices: gpu.indices, topkLength: gpu.topkLength, attnSink: gpu.attnSink, softmaxScale,
        });
      if (!whenSupported(t, CUDA_FEATURES.sparse && CUDA_FEATURES.fp8KvCache, 'sparse', run)) return;
      const want = flashMlaWithKvcache(cpu.q, cpu.kCache, null, null, 512, mdH.tileSchedulerMetadata, mdH.numSplits, {
        isFp8KvCache: true, indices: cpu.indices, topkLength: cpu.topkLength, attnSink: cpu.attnSink, softmaxScale,
      });
      checkRows(`sparse ${label}`, run(), want, FLASHMLA_TOL.sparseOut, s);
    }),
  );
});
