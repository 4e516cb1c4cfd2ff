// Sparse top-k decode (DeepSeek-V3.2 DSA) on the cpu backend against the float64 reference of
// test/util/layouts.ts, on a grid like FlashMLA's: h_q ∈ {1, 3, 16, 64, 128} (any h_q here, FlashMLA takes
// 64/128), topk ∈ {64, 576, 2048} (any topk ≥ 1), page sizes 64, 61 and 2, s_q 1–3, −1 / other negative /
// out-of-range indices, all-invalid rows, topkLength (0 and full included), sinks of ±inf, duplicates; every
// cache row that no counted index names is NaN, and pages are padded by a spare token.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, flashMlaWithKvcache, getMlaMetadata, sparseScheduleTiles, numSmPartsFor } from '../src/index.js';
import { compare, seededTest as seededTestIn, testSeed } from './util/problem.js';
import { makeSparseProblem, sparseReference, sparseTensors, type SparseSpec } from './util/layouts.js';

const seededTest = (name: string, fn: (seed: number) => void) => seededTestIn('sparse-decode', name, fn);

interface RunOpts {
  smCount?: number;
  softmaxScale?: number;
  /** Compare only these heads (big cases). */
  heads?: number[];
}

interface RunResult {
  outBits: Uint16Array;
  out: Float32Array;
  lse: Float32Array;
  maxSplits: number;
}

function runAndCheck(spec: Omit<SparseSpec, 'seed'>, seed: number, o: RunOpts = {}): RunResult {
  const ctx =
    `b ${spec.b}, s_q ${spec.sQ}, h_q ${spec.hQ}, topk ${spec.topk}, page size ${spec.pageSize}, ${spec.numPages} pages, ${spec.dtype}, ` +
    `topkLength ${spec.topkLength ?? false}, sink ${spec.sink ?? false}, smCount ${o.smCount ?? 'default'}, problem seed ${seed}`;
  const p = makeSparseProblem({ ...spec, seed });
  const t = sparseTensors(p);
  const { b, sQ, hQ, topk } = spec;
  const md = getMlaMetadata(null, sQ * hQ, 1, { topk, batchSize: b, ...(o.smCount ? { smCount: o.smCount } : {}) });
  const softmaxScale = o.softmaxScale ?? 576 ** -0.55; // FlashMLA's sparse tests use a non-default scale
  const r = flashMlaWithKvcache(t.q, t.kCache, null, null, 512, md.tileSchedulerMetadata, md.numSplits, {
    isFp8KvCache: true, indices: t.indices, topkLength: t.topkLength, attnSink: t.attnSink, softmaxScale,
    out: Tensor.full([b, sQ, hQ, 512], NaN, { dtype: spec.dtype }),
    lse: Tensor.full([b, hQ, sQ], NaN, { dtype: 'fp32' }),
  });
  assert.deepEqual(r.lse.shape, [b, hQ, sQ]);
  const out = r.out.toFloat32();
  const lse = r.lse.toFloat32();
  const outBits = r.out.toRaw() as Uint16Array;
  const ref = sparseReference(p, softmaxScale, o.heads);
  const gotOut = new Float64Array(ref.out.length);
  const gotLse = new Float64Array(ref.lse.length);
  ref.rows.forEach(({ i, s, h }, k) => {
    gotOut.set(out.subarray(((i * sQ + s) * hQ + h) * 512, ((i * sQ + s) * hQ + h + 1) * 512), k * 512);
    gotLse[k] = lse[(i * hQ + h) * sQ + s];
    if (ref.lse[k] === Infinity) {
      const base = ((i * sQ + s) * hQ + h) * 512;
      const bad = outBits.subarray(base, base + 512).findIndex((x) => x !== 0);
      assert.equal(bad, -1, `out[${i}][${s}][${h}][${bad}] of a row with no valid index is ${out[base + bad]}, expected +0 (${ctx}, seed ${testSeed()})`);
    }
  });
  const co = compare(`out (${ctx})`, gotOut, ref.out, spec.dtype, { seed: testSeed(), absTol: 1e-9 });
  assert.ok(co.ok, co.message);
  const cl = compare(`lse (${ctx})`, gotLse, ref.lse, 'fp32', { seed: testSeed(), absTol: 1e-5 });
  assert.ok(cl.ok, cl.message);
  assert.ok(!out.some(Number.isNaN) && !lse.some(Number.isNaN), `NaN in the output (${ctx}, seed ${testSeed()})`);
  const splits = md.numSplits.toInt32();
  return { outBits, out, lse, maxSplits: Math.max(...Array.from({ length: b }, (_, i) => splits[i + 1] - splits[i])) };
}

describe('sparse decode vs the float64 reference', () => {
  seededTest('h_q ∈ {1, 3, 16, 64, 128} × topk ∈ {64, 576, 2048}, page sizes 64 / 61 / 2, s_q 1–3, invalid and out-of-range indices', (seed) => {
    const cases: [number, number, number, number, number, number][] = [
      // hQ, topk, b, sQ, pageSize, numPages
      [1, 64, 3, 2, 64, 4],
      [3, 576, 2, 3, 61, 12],
      [16, 2048, 1, 2, 2, 1100],
      [64, 576, 2, 1, 64, 12],
      [128, 64, 3, 2, 64, 3],
    ];
    let k = 0;
    for (const [hQ, topk, b, sQ, pageSize, numPages] of cases) {
      const r = runAndCheck(
        { b, sQ, hQ, topk, pageSize, numPages, dtype: k % 2 ? 'fp16' : 'bf16', topkLength: k % 2 === 1, sink: k % 3 === 0, invalidFraction: [0.2, 0.5, 0.05][k % 3] },
        seed + k,
        { smCount: [132, 7, 1000][k % 3] },
      );
      if (topk >= 576 && k % 3 !== 1) assert.ok(r.maxSplits > 1, `h_q ${hQ}, topk ${topk}: expected split requests`);
      k++;
    }
  });

  seededTest('FlashMLA-sized row: h_q 128, topk 2048, s_q 2 (16 of the heads compared), split over SM parts', (seed) => {
    const heads = [0, 1, 2, 3, 31, 32, 63, 64, 65, 90, 100, 111, 120, 125, 126, 127];
    const r = runAndCheck({ b: 1, sQ: 2, hQ: 128, topk: 2048, pageSize: 64, numPages: 40, dtype: 'bf16', sink: true, invalidFraction: 0.1 }, seed, { heads });
    assert.ok(r.maxSplits > 1);
  });

  seededTest('rows whose indices are all invalid (−1, other negatives, out of range): out exactly 0, lse +inf, also with sinks', (seed) => {
    for (const sink of [false, true]) {
      const r = runAndCheck(
        { b: 3, sQ: 2, hQ: 4, topk: 128, pageSize: 64, numPages: 3, dtype: 'bf16', sink, allInvalid: [[0, 1], [1, 0], [1, 1]] },
        seed + (sink ? 1 : 0),
        { smCount: 20 },
      );
      for (const [i, s] of [[0, 1], [1, 0], [1, 1]]) for (let h = 0; h < 4; h++) assert.equal(r.lse[(i * 4 + h) * 2 + s], Infinity);
      for (let h = 0; h < 4; h++) assert.ok(Number.isFinite(r.lse[(0 * 4 + h) * 2 + 0]));
    }
  });

  seededTest('topkLength: 0 silences a request whose indices are valid (the rows they name are NaN), full length = no topkLength', (seed) => {
    const spec = { b: 3, sQ: 2, hQ: 3, topk: 192, pageSize: 64, numPages: 8, dtype: 'fp16' as const, topkLength: true };
    const r = runAndCheck(spec, seed);
    // makeSparseProblem gives request 0 topkLength 0 and request 1 topkLength = topk
    for (let h = 0; h < 3; h++) for (let s = 0; s < 2; s++) assert.equal(r.lse[(0 * 3 + h) * 2 + s], Infinity);
    assert.ok(r.outBits.subarray(0, 2 * 3 * 512).every((x) => x === 0));
    // request 1 with its full length gives what no topkLength gives
    const p = makeSparseProblem({ ...spec, seed });
    const t = sparseTensors(p);
    const md = getMlaMetadata(null, 6, 1, { topk: 192, batchSize: 3 });
    const full = flashMlaWithKvcache(t.q, t.kCache, null, null, 512, md.tileSchedulerMetadata, md.numSplits, {
      isFp8KvCache: true, indices: t.indices, topkLength: Tensor.from(new Int32Array([192, 192, 192]), [3]), softmaxScale: 576 ** -0.55,
    });
    const none = flashMlaWithKvcache(t.q, t.kCache, null, null, 512, md.tileSchedulerMetadata, md.numSplits, { isFp8KvCache: true, indices: t.indices, softmaxScale: 576 ** -0.55 });
    const a = full.out.toRaw();
    assert.deepEqual(a.subarray(2 * 3 * 512, 4 * 3 * 512), (none.out.toRaw() as Uint16Array).subarray(2 * 3 * 512, 4 * 3 * 512));
  });

  seededTest('attention sinks: −inf changes nothing, +inf gives 0, finite sinks scale by 1 / (1 + exp(sink − lse)); lse unchanged', (seed) => {
    const spec = { b: 2, sQ: 2, hQ: 5, topk: 256, pageSize: 64, numPages: 10, dtype: 'bf16' as const };
    const p = makeSparseProblem({ ...spec, seed });
    const t = sparseTensors(p);
    const md = getMlaMetadata(null, 10, 1, { topk: 256, batchSize: 2, smCount: 30 });
    const run = (sink: number[] | null) =>
      flashMlaWithKvcache(t.q, t.kCache, null, null, 512, md.tileSchedulerMetadata, md.numSplits, {
        isFp8KvCache: true, indices: t.indices, attnSink: sink ? Tensor.from(sink, [5], { dtype: 'fp32' }) : null,
      });
    const plain = run(null);
    const sunk = run([-Infinity, Infinity, 0, 3.5, -2]);
    const pb = plain.out.toRaw() as Uint16Array;
    const sb = sunk.out.toRaw() as Uint16Array;
    const pf = plain.out.toFloat32();
    const sf = sunk.out.toFloat32();
    const lse = plain.lse.toFloat32();
    assert.deepEqual(sunk.lse.toFloat32(), lse, 'the sink must not change lse');
    for (let i = 0; i < 2; i++) for (let s = 0; s < 2; s++) {
      const row = (h: number) => ((i * 2 + s) * 5 + h) * 512;
      assert.deepEqual(sb.subarray(row(0), row(0) + 512), pb.subarray(row(0), row(0) + 512), 'sink −inf');
      assert.ok(sf.subarray(row(1), row(1) + 512).every((x) => x === 0), 'sink +inf → 0');
      for (const [h, sink] of [[2, 0], [3, 3.5], [4, -2]]) {
        const f = 1 / (1 + Math.exp(sink - lse[(i * 5 + h) * 2 + s]));
        for (let c = 0; c < 512; c++) {
          const want = pf[row(h) + c] * f;
          assert.ok(Math.abs(sf[row(h) + c] - want) <= Math.abs(want) * 2 ** -7 + 1e-30, `head ${h} channel ${c}: ${sf[row(h) + c]} vs ${want} (seed ${seed})`);
        }
      }
    }
  });

  seededTest('a repeated index is attended once per occurrence', (seed) => {
    runAndCheck({ b: 2, sQ: 2, hQ: 4, topk: 100, pageSize: 16, numPages: 20, dtype: 'bf16', duplicates: true }, seed, { smCount: 9 });
  });

  seededTest('topk not a multiple of 64 and topk 1; any h_q (5, 24)', (seed) => {
    runAndCheck({ b: 2, sQ: 1, hQ: 5, topk: 1, pageSize: 64, numPages: 2, dtype: 'bf16', invalidFraction: 0.3 }, seed);
    runAndCheck({ b: 3, sQ: 2, hQ: 24, topk: 100, pageSize: 7, numPages: 30, dtype: 'fp16', topkLength: true, sink: true }, seed + 1, { smCount: 50 });
  });

  seededTest('the result does not depend on the SM count (split or not), to the last bit of the dtype', (seed) => {
    const spec = { b: 2, sQ: 2, hQ: 8, topk: 640, pageSize: 64, numPages: 24, dtype: 'bf16' as const, sink: true, topkLength: true };
    const one = runAndCheck(spec, seed, { smCount: 1 });
    assert.equal(one.maxSplits, 1);
    const many = runAndCheck(spec, seed, { smCount: 500 });
    assert.ok(many.maxSplits > 1);
    const c = compare('split vs unsplit', many.out, one.out, 'bf16', { seed, absTol: 1e-9 });
    assert.ok(c.ok, c.message);
  });
});

describe('sparse metadata', () => {
  test('depends on shapes only: every request costs topk; with or without cacheSeqlens', () => {
    for (const [topk, b, rows] of [[2048, 4, 256], [64, 3, 16], [100, 1, 3]]) {
      const md = getMlaMetadata(null, rows, 1, { topk, batchSize: b });
      const parts = numSmPartsFor(132, rows, 1);
      const want = sparseScheduleTiles(b, topk, parts);
      assert.deepEqual(md.tileSchedulerMetadata.shape, [parts, 8]);
      assert.deepEqual(md.tileSchedulerMetadata.toInt32(), want.metadata);
      assert.deepEqual(md.numSplits.toInt32(), want.numSplits);
      const withLens = getMlaMetadata(Tensor.from(new Int32Array(b).fill(5), [b]), rows, 1, { topk });
      assert.deepEqual(withLens.tileSchedulerMetadata.toInt32(), want.metadata);
      const out = { tileSchedulerMetadata: Tensor.full([parts, 8], -1, { dtype: 'int32' }), numSplits: Tensor.full([b + 1], -1, { dtype: 'int32' }) };
      assert.equal(getMlaMetadata(null, rows, 1, { topk, batchSize: b, out }), out);
      assert.deepEqual(out.numSplits.toInt32(), want.numSplits);
    }
  });
});
