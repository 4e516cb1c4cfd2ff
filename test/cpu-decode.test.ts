// The cpu backend's flashMlaWithKvcache (scheduler → per-split partial softmax → LSE combine) against the
// naive reference of test/util/problem.ts, over varlen batches, s_q, causal, h_q, dtypes, SM counts (so that
// requests are split and combined), NaN-poisoned cache slots and shuffled block tables.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, flashMlaWithKvcache, getMlaMetadata, workItems } from '../src/index.js';
import { makePagedProblem, pagedProblemTensors, referenceAll, compare, rng, type PagedProblemSpec, seededTest as seededTestIn, testSeed } from './util/problem.js';

const seededTest = (name: string, fn: (seed: number) => void) => seededTestIn('cpu-decode', name, fn);

interface RunOpts {
  smCount?: number;
  causal?: boolean;
  softmaxScale?: number;
  /** Pass out/lse preallocated and filled with NaN. */
  poison?: boolean;
}

interface RunResult {
  out: Float32Array;
  outBits: Uint16Array;
  lse: Float32Array;
  numSplits: Int32Array;
  metadata: Int32Array;
  numSmParts: number;
  refLse: Float64Array;
}

/** Decode one random problem on the cpu backend and compare with the naive reference. */
function runAndCheck(spec: Omit<PagedProblemSpec, 'seed'>, seed: number, o: RunOpts = {}): RunResult {
  const dtype = spec.dtype ?? 'bf16';
  const { b, sQ, hQ } = spec;
  const causal = o.causal ?? false;
  const ctx =
    `b ${b}, s_q ${sQ}, h_q ${hQ}, ${dtype}, seqlens [${spec.seqlens.join(', ')}], causal ${causal}, ` +
    `smCount ${o.smCount ?? 'default'}, scale ${o.softmaxScale ?? 'default'}, problem seed ${seed}`;
  try {
    const p = makePagedProblem({ spareBlocks: 3, spareColumns: 2, ...spec, seed });
    const t = pagedProblemTensors(p, 'cpu');
    const md = getMlaMetadata(t.cacheSeqlens, sQ * hQ, 1, o.smCount === undefined ? {} : { smCount: o.smCount });
    const opts: Parameters<typeof flashMlaWithKvcache>[7] = { causal };
    if (o.softmaxScale !== undefined) opts.softmaxScale = o.softmaxScale;
    if (o.poison) {
      opts.out = Tensor.full([b, sQ, hQ, 512], NaN, { dtype });
      opts.lse = Tensor.full([b, hQ, sQ], NaN, { dtype: 'fp32' });
    }
    const r = flashMlaWithKvcache(t.q, t.kCache, t.blockTable, t.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, opts);
    if (o.poison) {
      assert.equal(r.out, opts.out);
      assert.equal(r.lse, opts.lse);
    }
    assert.deepEqual(r.out.shape, [b, sQ, hQ, 512]);
    assert.equal(r.out.dtype, dtype);
    assert.deepEqual(r.lse.shape, [b, hQ, sQ]);
    assert.equal(r.lse.dtype, 'fp32');
    const out = r.out.toFloat32();
    const lse = r.lse.toFloat32();
    const ref = referenceAll(p, causal, o.softmaxScale);
    const co = compare(`out (${ctx})`, out, ref.out, dtype, { seed: testSeed() });
    assert.ok(co.ok, co.message);
    const cl = compare(`lse (${ctx})`, lse, ref.lse, 'fp32', { seed: testSeed(), absTol: 1e-5 });
    assert.ok(cl.ok, cl.message);
    // the cpu backend computes in float64 like the reference: only the final rounding to the dtype may differ
    const strict = compare(`out, strict (${ctx})`, out, ref.out, dtype, { seed: testSeed(), absTol: 1e-9 });
    assert.ok(strict.ok, strict.message);
    // rows that see no key: exactly 0 (bit pattern 0) and +inf
    const outBits = r.out.toRaw() as Uint16Array;
    for (let i = 0; i < b; i++) {
      for (let h = 0; h < hQ; h++) {
        for (let s = 0; s < sQ; s++) {
          const visible = causal ? p.seqlens[i] - (sQ - 1 - s) : p.seqlens[i];
          const li = (i * hQ + h) * sQ + s;
          if (visible > 0) {
            assert.ok(Number.isFinite(lse[li]), `lse[${i}][${h}][${s}] = ${lse[li]} for a row that sees ${visible} keys (${ctx})`);
            continue;
          }
          assert.equal(lse[li], Infinity, `lse[${i}][${h}][${s}] of a row that sees no key (${ctx})`);
          const ob = ((i * sQ + s) * hQ + h) * 512;
          for (let c = 0; c < 512; c++) {
            if (outBits[ob + c] !== 0) assert.fail(`out[${i}][${s}][${h}][${c}] = ${out[ob + c]} (bits ${outBits[ob + c]}) for a row that sees no key; expected +0 (${ctx})`);
          }
        }
      }
    }
    assert.ok(!out.some(Number.isNaN), `NaN in out (${ctx})`);
    return {
      out,
      outBits,
      lse,
      numSplits: md.numSplits.toInt32(),
      metadata: md.tileSchedulerMetadata.toInt32(),
      numSmParts: md.tileSchedulerMetadata.shape[0],
      refLse: ref.lse,
    };
  } catch (e) {
    console.error(`cpu-decode failure: ${ctx}`);
    throw e;
  }
}

const maxSplits = (ns: Int32Array) => Math.max(...Array.from({ length: ns.length - 1 }, (_, i) => ns[i + 1] - ns[i]));

describe('cpu decode vs naive reference', () => {
  seededTest('varlen batch with seqlens 0, 1, 63, 64, 65 and hundreds, s_q = 1, h_q = 16, bf16 and fp16', (seed) => {
    const seqlens = [0, 1, 63, 64, 65, 129, 300, 517];
    for (const dtype of ['bf16', 'fp16'] as const) {
      const r = runAndCheck({ b: seqlens.length, sQ: 1, hQ: 16, seqlens, dtype }, seed);
      assert.ok(maxSplits(r.numSplits) > 1, 'the default 132-SM schedule splits the longer requests');
    }
  });

  seededTest('s_q ∈ {1, 2, 3, 4} × causal on/off, h_q = 3, seqlens shorter than s_q included', (seed) => {
    const seqlens = [0, 1, 2, 3, 5, 64, 65, 190];
    let k = 0;
    for (const sQ of [1, 2, 3, 4]) {
      for (const causal of [false, true]) {
        const dtype = k % 2 === 0 ? 'bf16' : 'fp16';
        runAndCheck({ b: seqlens.length, sQ, hQ: 3, seqlens, dtype }, seed + k++, { causal, smCount: [132, 20, 7][k % 3] });
      }
    }
  });

  seededTest('h_q ∈ {1, 3, 16, 64, 128} (small b and seqlens for large h_q), split and unsplit', (seed) => {
    const cases: [number, number, number[], number | undefined][] = [
      [1, 2, [700, 0, 65], undefined],
      [3, 1, [1000, 64], 33],
      [16, 2, [63, 401], undefined],
      [64, 1, [3, 450], undefined],
      [64, 2, [130, 9], 40],
      [128, 1, [520, 1], undefined],
      [128, 2, [66], 2],
    ];
    let k = 0;
    for (const [hQ, sQ, seqlens, smCount] of cases) {
      const r = runAndCheck({ b: seqlens.length, sQ, hQ, seqlens, dtype: k % 2 ? 'fp16' : 'bf16' }, seed + k, { smCount, causal: sQ > 1 });
      if (Math.max(...seqlens) >= 450 && smCount === undefined) assert.ok(maxSplits(r.numSplits) > 1, `h_q ${hQ}: expected a split`);
      k++;
    }
  });

  seededTest('s_q = 1: causal changes nothing (bit-identical outputs)', (seed) => {
    const spec = { b: 3, sQ: 1, hQ: 5, seqlens: [200, 0, 31] };
    const a = runAndCheck(spec, seed, { causal: false });
    const c = runAndCheck(spec, seed, { causal: true });
    assert.deepEqual(c.outBits, a.outBits);
    assert.deepEqual(c.lse, a.lse);
  });

  seededTest('seqlen 0 → out exactly 0 and lse +inf (alone, in a batch, with s_q > 1, bf16 and fp16)', (seed) => {
    for (const dtype of ['bf16', 'fp16'] as const) {
      const a = runAndCheck({ b: 1, sQ: 1, hQ: 4, seqlens: [0], dtype }, seed, { poison: true });
      assert.ok(a.outBits.every((x) => x === 0));
      assert.ok(a.lse.every((x) => x === Infinity));
      const bt = runAndCheck({ b: 4, sQ: 2, hQ: 4, seqlens: [0, 700, 0, 1], dtype }, seed + 1, { poison: true, causal: true, smCount: 132 });
      // request 0 and 2: all zero, lse +inf; request 3 (seqlen 1, causal, s_q 2): token 0 sees nothing
      for (const i of [0, 2]) {
        assert.ok(bt.outBits.subarray(i * 2 * 4 * 512, (i + 1) * 2 * 4 * 512).every((x) => x === 0));
        assert.ok(bt.lse.subarray(i * 8, (i + 1) * 8).every((x) => x === Infinity));
      }
      for (let h = 0; h < 4; h++) {
        assert.equal(bt.lse[(3 * 4 + h) * 2 + 0], Infinity);
        assert.ok(Number.isFinite(bt.lse[(3 * 4 + h) * 2 + 1]));
      }
    }
  });

  seededTest('custom softmaxScale (small, default-ish, large)', (seed) => {
    let k = 0;
    for (const softmaxScale of [1e-3, 0.3, 4]) {
      runAndCheck({ b: 3, sQ: 2, hQ: 4, seqlens: [0, 150, 333], dtype: k % 2 ? 'fp16' : 'bf16' }, seed + k++, { softmaxScale, causal: true, smCount: 64 });
    }
    // the scale matters: lse(scale) differs from lse(default)
    const p = runAndCheck({ b: 1, sQ: 1, hQ: 2, seqlens: [100] }, seed, { softmaxScale: 1 });
    const d = runAndCheck({ b: 1, sQ: 1, hQ: 2, seqlens: [100] }, seed);
    assert.notDeepEqual(p.lse, d.lse);
  });

  seededTest('preallocated out / lse poisoned with NaN are fully overwritten (split and unsplit rows, lonely rows)', (seed) => {
    runAndCheck({ b: 5, sQ: 3, hQ: 6, seqlens: [0, 1, 64, 641, 2000], dtype: 'fp16' }, seed, { poison: true, causal: true, smCount: 132 });
    runAndCheck({ b: 2, sQ: 1, hQ: 16, seqlens: [1500, 3] }, seed + 1, { poison: true, smCount: 1 });
  });

  seededTest('out / lse as contiguous views at an offset: only the view is written', (seed) => {
    const spec = { b: 2, sQ: 2, hQ: 3, seqlens: [90, 700], seed, spareBlocks: 1 };
    const p = makePagedProblem(spec);
    const t = pagedProblemTensors(p, 'cpu');
    const md = getMlaMetadata(t.cacheSeqlens, 6, 1);
    const n = 2 * 2 * 3 * 512;
    const outBase = Tensor.full([n + 100], NaN, { dtype: 'bf16' });
    const lseBase = Tensor.full([12 + 7], NaN, { dtype: 'fp32' });
    const out = outBase.view([2, 2, 3, 512], undefined, 40);
    const lse = lseBase.view([2, 3, 2], undefined, 3);
    flashMlaWithKvcache(t.q, t.kCache, t.blockTable, t.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, { out, lse, causal: true });
    const ref = referenceAll(p, true);
    const all = outBase.toFloat32();
    assert.ok(all.subarray(0, 40).every(Number.isNaN) && all.subarray(40 + n).every(Number.isNaN), `out: elements outside the view were written (seed ${seed})`);
    const allL = lseBase.toFloat32();
    assert.ok(allL.subarray(0, 3).every(Number.isNaN) && allL.subarray(15).every(Number.isNaN), `lse: elements outside the view were written (seed ${seed})`);
    const co = compare('out view', out.toFloat32(), ref.out, 'bf16', { seed });
    assert.ok(co.ok, co.message);
    const cl = compare('lse view', lse.toFloat32(), ref.lse, 'fp32', { seed, absTol: 1e-5 });
    assert.ok(cl.ok, cl.message);
  });

  seededTest('strided q, kCache and blockTable views give the reference result', (seed) => {
    const spec = { b: 3, sQ: 2, hQ: 4, seqlens: [5, 700, 129], seed, dtype: 'fp16' as const };
    const p = makePagedProblem(spec);
    const t = pagedProblemTensors(p, 'cpu');
    // q: heads padded to 640 elements; kCache: rows padded to 600; blockTable: rows padded by 5 columns
    const qPad = Tensor.full([3, 2, 4, 640], NaN, { dtype: 'fp16' });
    const qRaw = qPad.data as Uint16Array;
    const kPad = Tensor.full([p.numBlocks, 64, 1, 600], NaN, { dtype: 'fp16' });
    const kRaw = kPad.data as Uint16Array;
    const m = p.maxBlocksPerSeq;
    const btPad = Tensor.full([3, m + 5], -7, { dtype: 'int32' });
    const btRaw = btPad.data as Int32Array;
    for (let r = 0; r < 3 * 2 * 4; r++) qRaw.set(p.qBits.subarray(r * 576, (r + 1) * 576), r * 640 + 16);
    for (let r = 0; r < p.numBlocks * 64; r++) kRaw.set(p.kBits.subarray(r * 576, (r + 1) * 576), r * 600 + 8);
    for (let i = 0; i < 3; i++) btRaw.set(p.table.subarray(i * m, (i + 1) * m), i * (m + 5) + 2);
    const q = qPad.view([3, 2, 4, 576], [2 * 4 * 640, 4 * 640, 640, 1], 16);
    const kCache = kPad.view([p.numBlocks, 64, 1, 576], [64 * 600, 600, 600, 1], 8);
    const blockTable = btPad.view([3, m], [m + 5, 1], 2);
    assert.ok(!q.isContiguous && !kCache.isContiguous && !blockTable.isContiguous);
    const md = getMlaMetadata(t.cacheSeqlens, 8, 1, { smCount: 50 });
    assert.ok(maxSplits(md.numSplits.toInt32()) > 1);
    for (const causal of [false, true]) {
      const r = flashMlaWithKvcache(q, kCache, blockTable, t.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, { causal });
      const c = flashMlaWithKvcache(t.q, t.kCache, t.blockTable, t.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, { causal });
      assert.deepEqual(r.out.toRaw(), c.out.toRaw(), `strided vs contiguous inputs differ (seed ${seed})`);
      assert.deepEqual(r.lse.toFloat32(), c.lse.toFloat32());
      const ref = referenceAll(p, causal);
      const co = compare('out strided', r.out.toFloat32(), ref.out, 'fp16', { seed });
      assert.ok(co.ok, co.message);
    }
  });
});

describe('split-KV path', () => {
  seededTest('results match the reference for every SM count; splits happen for large counts and not for 1', (seed) => {
    const spec = { b: 3, sQ: 2, hQ: 8, seqlens: [1100, 65, 640], dtype: 'bf16' as const };
    const runs = new Map<number, RunResult>();
    for (const smCount of [1, 2, 7, 33, 132, 1000]) runs.set(smCount, runAndCheck(spec, seed, { smCount, causal: true }));
    const one = runs.get(1)!;
    assert.equal(one.numSmParts, 1);
    assert.equal(maxSplits(one.numSplits), 1, 'a single SM part never splits');
    for (const smCount of [33, 132, 1000]) {
      const r = runs.get(smCount)!;
      assert.ok(maxSplits(r.numSplits) > 1, `smCount ${smCount}: expected some request split, numSplits [${Array.from(r.numSplits)}]`);
      // combined vs unsplit: same lse (float64 math, fp32 store) within 1e-5, outputs within a rounding step
      for (let i = 0; i < r.lse.length; i++) assert.ok(Math.abs(r.lse[i] - one.lse[i]) <= 1e-5 * Math.max(1, Math.abs(one.lse[i])), `lse[${i}] split ${r.lse[i]} vs unsplit ${one.lse[i]} (seed ${seed})`);
      const c = compare(`split (smCount ${smCount}) vs unsplit`, r.out, one.out, 'bf16', { seed });
      assert.ok(c.ok, c.message);
    }
    const r1000 = runs.get(1000)!;
    assert.equal(r1000.numSmParts, 1000);
  });

  seededTest('a causal split whose token range is invisible to the early query rows (empty partials in the combine)', (seed) => {
    // seqlen 641 = 11 blocks, payload 10 → splits [0,320) [320,640) [640,641); with s_q = 4 causal, query rows
    // 0..2 see < 641 keys, so the last split holds no visible key for them
    const spec = { b: 1, sQ: 4, hQ: 2, seqlens: [641] };
    const r = runAndCheck(spec, seed, { causal: true, smCount: 64 });
    assert.deepEqual(Array.from(r.numSplits), [0, 3]);
    const items = workItems(r.metadata, [641], r.numSmParts);
    assert.deepEqual(
      items.map((it) => [it.startToken, it.endToken, it.splitIdx]),
      [
        [0, 320, 0],
        [320, 640, 1],
        [640, 641, 2],
      ],
    );
    for (const dtype of ['bf16', 'fp16'] as const) runAndCheck({ ...spec, dtype, seqlens: [642] }, seed + 1, { causal: true, smCount: 64, poison: true });
  });

  seededTest('a split request whose early causal rows see no key at all (combine of only empty partials → 0, +inf)', (seed) => {
    // s_q = 400, h_q = 1 → 400 folded rows → numSmParts = floor(14 / 7) = 2; seqlens [64, 390]: costs 6 + 12 = 18,
    // payload 12 (the walk's 14, then the fourth rule's 13 and 12 still complete; 11 does not) → request 1 is split
    // [0, 64) + [64, 390); causal rows s ≤ 9 of request 1 see no key in either piece
    for (const dtype of ['bf16', 'fp16'] as const) {
      const r = runAndCheck({ b: 2, sQ: 400, hQ: 1, seqlens: [64, 390], dtype }, seed, { causal: true, smCount: 14, poison: true });
      assert.equal(r.numSmParts, 2);
      assert.deepEqual(Array.from(r.numSplits), [0, 1, 3]);
      for (let s = 0; s < 400; s++) assert.equal(r.lse[400 + s] === Infinity, s <= 9, `request 1, row ${s}: lse ${r.lse[400 + s]}`);
    }
  });

  seededTest('one huge request among tiny ones, many SM parts', (seed) => {
    const seqlens = [1, 0, 3000, 2, 0, 64];
    const r = runAndCheck({ b: seqlens.length, sQ: 1, hQ: 2, seqlens, dtype: 'fp16' }, seed, { smCount: 132 });
    assert.ok(r.numSplits[3] - r.numSplits[2] > 5, `expected the long request to be split many ways, numSplits [${Array.from(r.numSplits)}]`);
  });

  seededTest('random configurations (b, seqlens, s_q, h_q, dtype, causal, smCount, scale)', (seed) => {
    const r = rng(seed);
    const int = (n: number) => Math.floor(r() * n);
    const pick = <T>(xs: readonly T[]) => xs[int(xs.length)];
    for (let k = 0; k < 10; k++) {
      const b = 1 + int(6);
      const seqlens = Array.from({ length: b }, () => pick([0, 1, 63, 64, 65, int(700), int(200), 128 + int(3) - 1]));
      const spec = { b, sQ: 1 + int(4), hQ: pick([1, 2, 3, 5, 16]), seqlens, dtype: pick(['bf16', 'fp16'] as const) };
      runAndCheck(spec, seed + 1000 + k, {
        causal: r() < 0.5,
        smCount: pick([1, 3, 16, 66, 132, 500]),
        softmaxScale: r() < 0.3 ? 0.02 + r() : undefined,
        poison: r() < 0.5,
      });
    }
  });
});
