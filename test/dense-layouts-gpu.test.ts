// GPU tests of the dense layouts FlashMLA added after 9edee0c, on the cuda backend: h_kv ∈ {1, 2, 8, 3} KV heads
// (query heads grouped per KV head as in GQA) and d_qk ∈ {576, 512}, bf16/fp16, s_q 1–3, causal or not, against the
// cpu oracle under FlashMLA's tolerances (FLASHMLA_TOL, as the other GPU tests). Skipped without a GPU.
//
// The cuda kernel for these layouts is kernels/mla_decode_generic_layout.cu; this file passed on an H200 on 2026-12-01
// (with test/fp8-sparse-gpu.test.ts: 64 of 64), and the layouts are on by default since (src/cuda/features.ts). On a GPU:
//   npm run build && FLASH_MLA_REQUIRE_GPU=1 node --test --test-concurrency=1 dist/test/dense-layouts-gpu.test.js
//
// What makes a wrong kernel fail: every output starts as NaN (a row left unwritten fails); the cache the kernel reads
// is a view into a larger buffer whose other KV heads, channels past d_qk, spare token per page, unused pages and
// tails past each request are NaN (a slot read by mistake poisons the row); q is a view with NaN heads and channels
// between its rows; block-table entries past each request are garbage; requests are split over SM parts (the
// combine), in four cases one request over every SM part of this GPU; and two tests compare bit for bit with decodes that share the arithmetic but not the row
// mapping (each KV head's group as an h_kv = 1 problem on the 'generic' kernel).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, UnsupportedFeatureError, captureGraph, flashMlaWithKvcache, getBackend, getMlaMetadata, numSmPartsFor, type MlaMetadata } from '../src/index.js';
import { CUDA_FEATURES } from '../src/cuda/features.js';
import { forceCombineShape } from '../src/cuda/mla.js';
import { freshSeed, gpuSkipReason } from './util/problem.js';
import { checkDenseRows, denseTensors, makeDenseProblem, nanPaddedViews, type DenseSpec } from './util/layouts.js';

const skip = await gpuSkipReason();

const isUnsupported = (e: unknown) => e instanceof UnsupportedFeatureError && e.backend === 'cuda';

/** Outputs on cuda filled with NaN: a row the kernels do not write cannot pass. */
function nanOutputs(b: number, sQ: number, hQ: number, dtype: 'bf16' | 'fp16'): { out: Tensor; lse: Tensor } {
  return { out: Tensor.full([b, sQ, hQ, 512], NaN, { dtype, backend: 'cuda' }), lse: Tensor.full([b, hQ, sQ], NaN, { dtype: 'fp32', backend: 'cuda' }) };
}

interface Case {
  label: string;
  spec: Omit<DenseSpec, 'seed'>;
  causal: boolean;
  /**
   * One request (b = 1) split over every SM part of this GPU: its length is set from the number of parts P to
   * 6P − 5 blocks, so that the schedule's payload is 11 blocks (6 of tokens + the 5 of a split's overhead) and the
   * request fills parts 0 … P − 1 (the last with one block).
   */
  overEveryPart?: boolean;
}

const cases: Case[] = [
  // h_kv 1: d_qk 512 (the new kernel) and 576 (FlashMLA 9edee0c's layout: the default kernel, for comparison)
  { label: 'h_kv 1, h_q 16, d 512, s_q 1', spec: { b: 6, sQ: 1, hQ: 16, hKv: 1, d: 512, seqlens: [0, 1, 63, 64, 65, 700], dtype: 'bf16', fp8: false }, causal: false },
  { label: 'h_kv 1, h_q 128, d 512, s_q 2, causal, fp16', spec: { b: 3, sQ: 2, hQ: 128, hKv: 1, d: 512, seqlens: [1, 130, 1500], dtype: 'fp16', fp8: false }, causal: true },
  { label: 'h_kv 1, h_q 3, d 512, s_q 3, causal, one request over every SM part', spec: { b: 1, sQ: 3, hQ: 3, hKv: 1, d: 512, seqlens: [], dtype: 'bf16', fp8: false }, causal: true, overEveryPart: true },
  { label: 'h_kv 1, h_q 16, d 576, s_q 3, causal (the default kernel)', spec: { b: 3, sQ: 3, hQ: 16, hKv: 1, d: 576, seqlens: [2, 300, 64], dtype: 'bf16', fp8: false }, causal: true },
  // h_kv 2
  { label: 'h_kv 2, h_q 2, d 576, s_q 1', spec: { b: 5, sQ: 1, hQ: 2, hKv: 2, d: 576, seqlens: [0, 1, 64, 65, 900], dtype: 'bf16', fp8: false }, causal: false },
  { label: 'h_kv 2, h_q 128, d 576, s_q 2, causal', spec: { b: 3, sQ: 2, hQ: 128, hKv: 2, d: 576, seqlens: [140, 2000, 20], dtype: 'bf16', fp8: false }, causal: true },
  { label: 'h_kv 2, h_q 32, d 512, s_q 3, fp16', spec: { b: 4, sQ: 3, hQ: 32, hKv: 2, d: 512, seqlens: [3, 129, 1000, 64], dtype: 'fp16', fp8: false }, causal: false },
  { label: 'h_kv 2, h_q 16, d 512, s_q 2, causal, one request over every SM part', spec: { b: 1, sQ: 2, hQ: 16, hKv: 2, d: 512, seqlens: [], dtype: 'bf16', fp8: false }, causal: true, overEveryPart: true },
  // h_kv 8
  { label: 'h_kv 8, h_q 8, d 512, s_q 1', spec: { b: 4, sQ: 1, hQ: 8, hKv: 8, d: 512, seqlens: [70, 0, 1, 333], dtype: 'bf16', fp8: false }, causal: false },
  { label: 'h_kv 8, h_q 64, d 576, s_q 1, fp16, one request over every SM part', spec: { b: 1, sQ: 1, hQ: 64, hKv: 8, d: 576, seqlens: [], dtype: 'fp16', fp8: false }, causal: false, overEveryPart: true },
  { label: 'h_kv 8, h_q 64, d 576, s_q 2, causal, a long request beside short ones', spec: { b: 3, sQ: 2, hQ: 64, hKv: 8, d: 576, seqlens: [5, 8000, 64], dtype: 'bf16', fp8: false }, causal: true },
  { label: 'h_kv 8, h_q 128, d 512, s_q 2, causal', spec: { b: 2, sQ: 2, hQ: 128, hKv: 8, d: 512, seqlens: [1000, 2], dtype: 'bf16', fp8: false }, causal: true },
  { label: 'h_kv 8, h_q 128, d 576, s_q 3, causal, seqlens below s_q', spec: { b: 4, sQ: 3, hQ: 128, hKv: 8, d: 576, seqlens: [1, 2, 3, 200], dtype: 'bf16', fp8: false }, causal: true },
  // h_kv 3 (h_q 9: 3 heads per KV head, m-blocks of 3 · s_q rows)
  { label: 'h_kv 3, h_q 9, d 576, s_q 2, causal', spec: { b: 6, sQ: 2, hQ: 9, hKv: 3, d: 576, seqlens: [20, 140, 3000, 0, 1, 65], dtype: 'bf16', fp8: false }, causal: true },
  { label: 'h_kv 3, h_q 9, d 512, s_q 3, causal, fp16, one request over every SM part', spec: { b: 1, sQ: 3, hQ: 9, hKv: 3, d: 512, seqlens: [], dtype: 'fp16', fp8: false }, causal: true, overEveryPart: true },
  { label: 'h_kv 3, h_q 63, d 512, s_q 1', spec: { b: 3, sQ: 1, hQ: 63, hKv: 3, d: 512, seqlens: [500, 64, 7], dtype: 'bf16', fp8: false }, causal: false },
];

/** Metadata for cuda (its SM count) and the same schedule for the cpu oracle. */
function schedules(cpuSeqlens: Tensor, gpuSeqlens: Tensor, rows: number, hKv: number): { mdC: MlaMetadata; mdH: MlaMetadata } {
  const mdC = getMlaMetadata(gpuSeqlens, rows, hKv);
  const mdH = getMlaMetadata(cpuSeqlens, rows, hKv, { smCount: mdC.tileSchedulerMetadata.shape[0] * hKv * Math.ceil(rows / 64) });
  return { mdC, mdH };
}

describe('cuda: dense decode with h_kv ∈ {1, 2, 8, 3} and d_qk ∈ {576, 512} (vs the cpu oracle, FlashMLA tolerances)', { skip }, () => {
  const seed = freshSeed();

  test('h_kv > 1 and d_qk 512 are on by default (no environment variable needed)', () => {
    assert.equal(CUDA_FEATURES.gqa, true, 'CUDA_FEATURES.gqa');
    assert.equal(CUDA_FEATURES.headDim512, true, 'CUDA_FEATURES.headDim512');
  });

  cases.forEach(({ label, spec: given, causal, overEveryPart }, k) =>
    test(label, (t) => {
      const s = seed + k;
      const rows = (given.sQ * given.hQ) / given.hKv;
      const parts = numSmPartsFor(getBackend('cuda').smCount(), rows, given.hKv);
      const spec = overEveryPart ? { ...given, seqlens: [(6 * parts - 5) * 64 - 7] } : given;
      const p = makeDenseProblem({ ...spec, seed: s });
      const cpu = denseTensors(p);
      const gpu = { ...nanPaddedViews(p, 'cuda'), blockTable: cpu.blockTable.to('cuda'), cacheSeqlens: cpu.cacheSeqlens.to('cuda') };
      const { hKv, d } = p.spec;
      const { mdC, mdH } = schedules(cpu.cacheSeqlens, gpu.cacheSeqlens, rows, hKv);
      const outs = nanOutputs(spec.b, spec.sQ, spec.hQ, spec.dtype);
      const run = () => flashMlaWithKvcache(gpu.q, gpu.kCache, gpu.blockTable, gpu.cacheSeqlens, 512, mdC.tileSchedulerMetadata, mdC.numSplits, { causal, ...outs });
      const got = run();
      const want = flashMlaWithKvcache(cpu.q, cpu.kCache, cpu.blockTable, cpu.cacheSeqlens, 512, mdH.tileSchedulerMetadata, mdH.numSplits, { causal });
      checkDenseRows(label, got, want, s);
      const splits = mdC.numSplits.toInt32();
      assert.equal(mdC.tileSchedulerMetadata.shape[0], parts);
      const most = Math.max(...Array.from({ length: spec.b }, (_, i) => splits[i + 1] - splits[i]));
      t.diagnostic(`${parts} SM parts × ${hKv} KV heads × ${Math.ceil(rows / 64)} m-block(s); the most splits of a request: ${most}`);
      if (overEveryPart) assert.equal(most, parts, `the request (seqlen ${spec.seqlens[0]}) should be split over all ${parts} SM parts`);
    }),
  );

  test("kernel 'generic' is the default for these layouts (same bits); 'hopper' / 'generic-small' are refused naming kernel, nothing written", (t) => {
    const p = makeDenseProblem({ b: 3, sQ: 2, hQ: 16, hKv: 2, d: 512, seqlens: [300, 5, 64], dtype: 'bf16', fp8: false, seed: seed + 100 });
    const cpu = denseTensors(p);
    const gpu = { ...nanPaddedViews(p, 'cuda'), blockTable: cpu.blockTable.to('cuda'), cacheSeqlens: cpu.cacheSeqlens.to('cuda') };
    const md = getMlaMetadata(gpu.cacheSeqlens, 16, 2);
    const dec = (kernel?: string, outs?: { out: Tensor; lse: Tensor }) =>
      flashMlaWithKvcache(gpu.q, gpu.kCache, gpu.blockTable, gpu.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, { causal: true, kernel, ...outs });
    const kernels = getBackend('cuda').decodeKernels();
    if (!kernels.includes('generic')) return void t.skip("the 'generic' kernel is not offered on this GPU (FLASH_MLA_DECODE_KERNEL?)");
    const a = dec();
    const b = dec('generic');
    assert.deepEqual(b.out.toRaw(), a.out.toRaw());
    assert.deepEqual(b.lse.toRaw(), a.lse.toRaw());
    for (const kernel of kernels.filter((x) => x !== 'generic')) {
      const outs = nanOutputs(3, 2, 16, 'bf16');
      assert.throws(() => dec(kernel, outs), (e: unknown) => isUnsupported(e) && (e as UnsupportedFeatureError).argument === 'kernel', kernel);
      assert.ok(outs.out.toFloat32().every(Number.isNaN), `kernel '${kernel}': a refused decode wrote out`);
    }
  });

  // Each KV head's group of query heads, decoded as an h_kv = 1 problem of its own (views of q and of one cache head,
  // the same number of SM parts, the combine's launch shape forced equal), must give the same bits: the same
  // arithmetic per row, only the row mapping differs. d_qk 576: the h_kv = 1 side runs the 'generic' kernel (the
  // mapping FlashMLA 9edee0c used); d_qk 512: the layout kernel itself at h_kv = 1.
  for (const d of [576, 512]) {
    test(`d_qk ${d}, h_kv 3 (h_q 12, s_q 2, causal): each KV head's group = its own h_kv = 1 decode, bit for bit`, (t) => {
      const hQ = 12, hKv = 3, sQ = 2, hpk = 4;
      const p = makeDenseProblem({ b: 3, sQ, hQ, hKv, d, seqlens: [1500, 0, 64], dtype: 'bf16', fp8: false, seed: seed + 200 + d });
      const cpu = denseTensors(p);
      const gpu = { q: cpu.q.to('cuda'), kCache: cpu.kCache.to('cuda'), blockTable: cpu.blockTable.to('cuda'), cacheSeqlens: cpu.cacheSeqlens.to('cuda') };
      const md = getMlaMetadata(gpu.cacheSeqlens, (sQ * hQ) / hKv, hKv);
      const full = () => flashMlaWithKvcache(gpu.q, gpu.kCache, gpu.blockTable, gpu.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, { causal: true });
      if (d === 576 && !getBackend('cuda').decodeKernels().includes('generic')) return void t.skip("the 'generic' kernel is not offered on this GPU");
      const parts = md.tileSchedulerMetadata.shape[0];
      forceCombineShape({ warpsPerRow: 1, chunks: 1 });
      try {
        const whole = full();
        const wholeBits = whole.out.toRaw() as Uint16Array;
        const wholeLse = whole.lse.toFloat32();
        const m1 = getMlaMetadata(gpu.cacheSeqlens, sQ * hpk, 1, { smCount: parts }); // ceil(8 / 64) = 1 m-block: `parts` SM parts
        assert.equal(m1.tileSchedulerMetadata.shape[0], parts);
        for (let kh = 0; kh < hKv; kh++) {
          const q = gpu.q.view([3, sQ, hpk, d], [sQ * hQ * d, hQ * d, d, 1], kh * hpk * d);
          const kCache = gpu.kCache.view([p.numBlocks, 64, 1, d], [64 * hKv * d, hKv * d, d, 1], kh * d);
          const one = flashMlaWithKvcache(q, kCache, gpu.blockTable, gpu.cacheSeqlens, 512, m1.tileSchedulerMetadata, m1.numSplits, { causal: true, kernel: d === 576 ? 'generic' : undefined });
          const bits = one.out.toRaw() as Uint16Array;
          const lse = one.lse.toFloat32();
          for (let i = 0; i < 3; i++) for (let s = 0; s < sQ; s++) for (let g = 0; g < hpk; g++) {
            const h = kh * hpk + g;
            const a = wholeBits.subarray(((i * sQ + s) * hQ + h) * 512, ((i * sQ + s) * hQ + h + 1) * 512);
            const b = bits.subarray(((i * sQ + s) * hpk + g) * 512, ((i * sQ + s) * hpk + g + 1) * 512);
            assert.deepEqual(a, b, `request ${i}, token ${s}, head ${h} (KV head ${kh}) differs from its h_kv = 1 decode (seed ${seed + 200 + d})`);
            assert.equal(wholeLse[(i * hQ + h) * sQ + s], lse[(i * hpk + g) * sQ + s], `lse of request ${i}, token ${s}, head ${h}`);
          }
        }
      } finally {
        forceCombineShape(null);
      }
    });
  }

  test('a captured graph replays the layout decode (h_kv 8, d_qk 512) with new q and seqlens = eager', () => {
    const spec = { b: 4, sQ: 2, hQ: 64, hKv: 8, d: 512, seqlens: [900, 1, 64, 300], dtype: 'bf16' as const, fp8: false };
    const p = makeDenseProblem({ ...spec, seed: seed + 300 });
    const p2 = makeDenseProblem({ ...spec, seed: seed + 301 });
    const cpu = denseTensors(p);
    const gpu = { q: cpu.q.to('cuda'), kCache: cpu.kCache.to('cuda'), blockTable: cpu.blockTable.to('cuda'), cacheSeqlens: cpu.cacheSeqlens.to('cuda') };
    const rows = (spec.sQ * spec.hQ) / spec.hKv;
    const md = getMlaMetadata(gpu.cacheSeqlens, rows, spec.hKv);
    const outs = nanOutputs(spec.b, spec.sQ, spec.hQ, spec.dtype);
    const decode = () => void flashMlaWithKvcache(gpu.q, gpu.kCache, gpu.blockTable, gpu.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, { causal: true, ...outs });
    const step = captureGraph(() => {
      getMlaMetadata(gpu.cacheSeqlens, rows, spec.hKv, { out: md });
      decode();
    });
    try {
      // shorter requests than the cache holds (slots past a request's generated tokens hold NaN, and FlashMLA's
      // contract — which the kernels rely on — is that every slot below seqlen holds a finite value)
      for (const [qBits, lens] of [[p2.qBits, [700, 1, 33, 250]], [p.qBits, spec.seqlens]] as const) {
        gpu.q.write(qBits);
        gpu.cacheSeqlens.write(Int32Array.from(lens));
        outs.out.fill(NaN);
        outs.lse.fill(NaN);
        step.replay();
        step.synchronize();
        const cpuLens = Tensor.from(Int32Array.from(lens), [spec.b]);
        const qCpu = Tensor.from(qBits, [spec.b, spec.sQ, spec.hQ, spec.d], { dtype: spec.dtype });
        const mdH = getMlaMetadata(cpuLens, rows, spec.hKv, { smCount: md.tileSchedulerMetadata.shape[0] * spec.hKv * Math.ceil(rows / 64) });
        const want = flashMlaWithKvcache(qCpu, cpu.kCache, cpu.blockTable, cpuLens, 512, mdH.tileSchedulerMetadata, mdH.numSplits, { causal: true });
        checkDenseRows(`graph replay, seqlens [${lens}]`, outs, want, seed + 300);
        const eager = flashMlaWithKvcache(gpu.q, gpu.kCache, gpu.blockTable, gpu.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, { causal: true });
        assert.deepEqual(outs.out.toRaw(), eager.out.toRaw(), 'graph out differs from eager');
        assert.deepEqual(outs.lse.toRaw(), eager.lse.toRaw(), 'graph lse differs from eager');
      }
    } finally {
      step.dispose();
    }
  });
});
