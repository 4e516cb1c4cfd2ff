// Dense decode on the cpu backend beyond FlashMLA 9edee0c's layout: h_kv ≥ 1 (query heads grouped per KV head),
// d_qk = 512 (V = the whole row), and the FP8 cache (block table, causal, s_q > 1) — each against the float64
// reference of test/util/layouts.ts (its own bit decoding and dequantizer), with NaN in every unused cache slot,
// shuffled pages and garbage block-table entries past each request.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, dequantizeKvFp8, flashMlaWithKvcache, getMlaMetadata } from '../src/index.js';
import { compare, seededTest as seededTestIn, testSeed } from './util/problem.js';
import { denseReference, denseTensors, makeDenseProblem, type DenseSpec } from './util/layouts.js';

const seededTest = (name: string, fn: (seed: number) => void) => seededTestIn('dense-layouts', name, fn);

interface RunOpts {
  causal?: boolean;
  smCount?: number;
  softmaxScale?: number;
}

/** Decode on cpu, compare with the reference (to the final rounding), check lonely rows; returns out bits and lse. */
function runAndCheck(spec: Omit<DenseSpec, 'seed'>, seed: number, o: RunOpts = {}): { outBits: Uint16Array; lse: Float32Array; maxSplits: number } {
  const ctx = `b ${spec.b}, s_q ${spec.sQ}, h_q ${spec.hQ}, h_kv ${spec.hKv}, d ${spec.d}, ${spec.fp8 ? 'FP8' : spec.dtype} cache (q ${spec.dtype}), seqlens [${spec.seqlens}], causal ${o.causal ?? false}, smCount ${o.smCount ?? 'default'}, problem seed ${seed}`;
  const p = makeDenseProblem({ ...spec, seed });
  const t = denseTensors(p);
  const hKv = p.spec.hKv;
  const md = getMlaMetadata(t.cacheSeqlens, (spec.sQ * spec.hQ) / hKv, hKv, o.smCount ? { smCount: o.smCount } : {});
  const causal = o.causal ?? false;
  const r = flashMlaWithKvcache(t.q, t.kCache, t.blockTable, t.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, {
    causal, softmaxScale: o.softmaxScale, isFp8KvCache: spec.fp8,
    out: Tensor.full([spec.b, spec.sQ, spec.hQ, 512], NaN, { dtype: spec.dtype }),
    lse: Tensor.full([spec.b, spec.hQ, spec.sQ], NaN, { dtype: 'fp32' }),
  });
  const ref = denseReference(p, causal, o.softmaxScale);
  const out = r.out.toFloat32();
  const lse = r.lse.toFloat32();
  const co = compare(`out (${ctx})`, out, ref.out, spec.dtype, { seed: testSeed(), absTol: 1e-9 });
  assert.ok(co.ok, co.message);
  const cl = compare(`lse (${ctx})`, lse, ref.lse, 'fp32', { seed: testSeed(), absTol: 1e-5 });
  assert.ok(cl.ok, cl.message);
  const outBits = r.out.toRaw() as Uint16Array;
  for (let k = 0; k < lse.length; k++) {
    if (lse[k] !== Infinity) continue;
    const [i, h, s] = [Math.floor(k / (spec.hQ * spec.sQ)), Math.floor(k / spec.sQ) % spec.hQ, k % spec.sQ];
    const base = ((i * spec.sQ + s) * spec.hQ + h) * 512;
    assert.ok(outBits.subarray(base, base + 512).every((x) => x === 0), `out[${i}][${s}][${h}] of a row that sees no key is not +0 (${ctx})`);
  }
  const splits = md.numSplits.toInt32();
  const maxSplits = Math.max(...Array.from({ length: spec.b }, (_, i) => splits[i + 1] - splits[i]));
  return { outBits, lse, maxSplits };
}

describe('dense decode, h_kv ≥ 1 (GQA grouping) and d_qk 576 / 512', () => {
  seededTest('h_q ∈ {1, 3, 16, 64, 128} × h_kv ∈ {1, 2, 8} (h_q a multiple), both head dims, s_q 1–3, causal, bf16 and fp16', (seed) => {
    const cases: [number, number][] = [
      [1, 1], [3, 1], [16, 1], [2, 2], [16, 2], [64, 2], [128, 2], [8, 8], [16, 8], [64, 8], [128, 8],
    ];
    let k = 0;
    for (const [hQ, hKv] of cases) {
      for (const d of [576, 512]) {
        const sQ = 1 + (k % 3);
        const seqlens = hQ >= 64 ? [65, 0, 130] : [0, 1, 63, 64, 65, 200];
        runAndCheck({ b: seqlens.length, sQ, hQ, hKv, d, seqlens, dtype: k % 2 ? 'fp16' : 'bf16', fp8: false }, seed + k, { causal: k % 4 < 2, smCount: [132, 20, 7][k % 3] });
        k++;
      }
    }
  });

  seededTest('split requests are combined the same with h_kv > 1 (many SM parts, long request)', (seed) => {
    const r = runAndCheck({ b: 2, sQ: 2, hQ: 16, hKv: 4, d: 512, seqlens: [900, 70], dtype: 'bf16', fp8: false }, seed, { causal: true, smCount: 400 });
    assert.ok(r.maxSplits > 1, 'expected a split request');
  });

  seededTest('each KV head group decodes like an h_kv = 1 problem of its own heads (bit for bit)', (seed) => {
    const spec = { b: 3, sQ: 2, hQ: 12, hKv: 3, d: 576, seqlens: [150, 0, 64], dtype: 'bf16' as const, fp8: false, seed };
    const p = makeDenseProblem(spec);
    const t = denseTensors(p);
    const hpk = 4;
    const md = getMlaMetadata(t.cacheSeqlens, (2 * 12) / 3, 3, { smCount: 96 });
    const full = flashMlaWithKvcache(t.q, t.kCache, t.blockTable, t.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, { causal: true });
    const fullBits = full.out.toRaw() as Uint16Array;
    const fullLse = full.lse.toFloat32();
    for (let kh = 0; kh < 3; kh++) {
      const q = t.q.view([3, 2, hpk, 576], [2 * 12 * 576, 12 * 576, 576, 1], kh * hpk * 576);
      const kCache = t.kCache.view([p.numBlocks, 64, 1, 576], [64 * 3 * 576, 3 * 576, 576, 1], kh * 576);
      const m1 = getMlaMetadata(t.cacheSeqlens, 2 * hpk, 1, { smCount: 32 }); // same number of SM parts: same schedule
      assert.equal(m1.tileSchedulerMetadata.shape[0], md.tileSchedulerMetadata.shape[0]);
      const one = flashMlaWithKvcache(q, kCache, t.blockTable, t.cacheSeqlens, 512, m1.tileSchedulerMetadata, m1.numSplits, { causal: true });
      const bits = one.out.toRaw() as Uint16Array;
      const lse = one.lse.toFloat32();
      for (let i = 0; i < 3; i++) for (let s = 0; s < 2; s++) for (let g = 0; g < hpk; g++) {
        const h = kh * hpk + g;
        const a = fullBits.subarray(((i * 2 + s) * 12 + h) * 512, ((i * 2 + s) * 12 + h + 1) * 512);
        const b = bits.subarray(((i * 2 + s) * hpk + g) * 512, ((i * 2 + s) * hpk + g + 1) * 512);
        assert.deepEqual(a, b, `request ${i}, token ${s}, head ${h} (KV head ${kh}) differs from its h_kv = 1 decode (seed ${seed})`);
        assert.equal(fullLse[(i * 12 + h) * 2 + s], lse[(i * hpk + g) * 2 + s]);
      }
    }
  });

  seededTest('d_qk 512: the default softmax scale is 1/√512', (seed) => {
    const spec = { b: 1, sQ: 1, hQ: 4, hKv: 1, d: 512, seqlens: [100], dtype: 'bf16' as const, fp8: false };
    const a = runAndCheck(spec, seed);
    const b = runAndCheck(spec, seed, { softmaxScale: 1 / Math.sqrt(512) });
    assert.deepEqual(a.outBits, b.outBits);
    const c = runAndCheck(spec, seed, { softmaxScale: 1 / Math.sqrt(576) });
    assert.notDeepEqual(a.lse, c.lse);
  });
});

describe('dense decode over the FP8 cache', () => {
  seededTest('h_q ∈ {1, 3, 16, 64, 128}, s_q 1–4, causal, seqlens 0, 1, page edges, splits; bf16 and fp16 q/RoPE', (seed) => {
    const cases: [number, number, number[], number | undefined][] = [
      [1, 1, [0, 1, 63, 64, 65, 300], undefined],
      [3, 2, [700, 0, 65], 33],
      [16, 4, [5, 129, 64], 7],
      [64, 2, [1, 250], undefined],
      [128, 1, [190, 64], 132],
    ];
    let k = 0;
    for (const [hQ, sQ, seqlens, smCount] of cases) {
      for (const dtype of ['bf16', 'fp16'] as const) {
        runAndCheck({ b: seqlens.length, sQ, hQ, hKv: 1, d: 576, seqlens, dtype, fp8: true }, seed + k++, { causal: sQ > 1 && k % 2 === 0, smCount });
      }
    }
  });

  seededTest('decoding the FP8 cache = decoding its dequantization as a bf16 cache, bit for bit', (seed) => {
    const spec = { b: 3, sQ: 2, hQ: 16, hKv: 1, d: 576, seqlens: [400, 0, 77], dtype: 'bf16' as const, fp8: true, seed };
    const p = makeDenseProblem(spec);
    const t = denseTensors(p);
    const deq = dequantizeKvFp8(t.kCache);
    assert.deepEqual(deq.shape, [p.numBlocks, 64, 1, 576]);
    const md = getMlaMetadata(t.cacheSeqlens, 32, 1, { smCount: 60 });
    for (const causal of [false, true]) {
      const a = flashMlaWithKvcache(t.q, t.kCache, t.blockTable, t.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, { causal, isFp8KvCache: true });
      const b = flashMlaWithKvcache(t.q, deq, t.blockTable, t.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, { causal });
      assert.deepEqual(a.out.toRaw(), b.out.toRaw(), `out differs (causal ${causal}, seed ${seed})`);
      assert.deepEqual(a.lse.toFloat32(), b.lse.toFloat32(), `lse differs (causal ${causal}, seed ${seed})`);
    }
  });

  seededTest('an FP8 cache with a padded page stride (FlashMLA pads one token per page) reads the same', (seed) => {
    const spec = { b: 2, sQ: 1, hQ: 8, hKv: 1, d: 576, seqlens: [130, 64], dtype: 'bf16' as const, fp8: true, seed };
    const p = makeDenseProblem(spec);
    const t = denseTensors(p);
    const stride = 65 * 656 + 16;
    const padded = Tensor.from(new Uint8Array(p.numBlocks * stride).fill(0xff), [p.numBlocks * stride], { dtype: 'uint8' });
    const raw = padded.data as Uint8Array;
    for (let blk = 0; blk < p.numBlocks; blk++) raw.set(p.kBytes!.subarray(blk * 64 * 656, (blk + 1) * 64 * 656), blk * stride);
    const kCache = padded.view([p.numBlocks, 64, 1, 656], [stride, 656, 656, 1]);
    const md = getMlaMetadata(t.cacheSeqlens, 8, 1);
    const a = flashMlaWithKvcache(t.q, kCache, t.blockTable, t.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, { isFp8KvCache: true });
    const b = flashMlaWithKvcache(t.q, t.kCache, t.blockTable, t.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, { isFp8KvCache: true });
    assert.deepEqual(a.out.toRaw(), b.out.toRaw());
    assert.ok(a.lse.toFloat32().every(Number.isFinite));
  });
});
