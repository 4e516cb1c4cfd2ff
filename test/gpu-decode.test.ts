// The whole decode on the GPU (metadata kernel → split-KV decode → combine) against the float64 reference,
// on fresh random inputs: NaN in every unused cache slot, shuffled block tables, garbage block-table entries
// past each request, outputs poisoned with NaN before every call. Big cases compare a random sample of
// (request, token, head) rows so the suite stays fast. FLASH_MLA_GPU_CASES=sanitize runs two small cases
// (for compute-sanitizer).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, captureGraph, flashMlaWithKvcache, getMlaMetadata, getBackend, scheduleTiles, numSmPartsFor } from '../src/index.js';
import { metadataEvenSplitSets, metadataGoldenSets, metadataPackSets, metadataTightSets } from './util/metadata-sets.js';
import { compare, freshSeed, gpuSkipReason, makePagedProblem, pagedProblemTensors, referenceDecode, rng, testKernels, type GeneratedProblem } from './util/problem.js';
import { SPLIT_ROW_SHAPES, checkSplitRowAccuracy } from './util/split-accuracy.js';

const skip = await gpuSkipReason();

interface Case {
  b: number;
  sQ: number;
  hQ: number;
  seqlens: number[];
  causal: boolean;
  dtype: 'bf16' | 'fp16';
  scale?: number;
  label: string;
}

/** Rows compared per case: all when cheap, else a random sample bounded by reference work. */
const REFERENCE_BUDGET = 4e5; // Σ visible tokens over compared rows

function seqlenSet(kind: string, b: number, r: () => number): number[] {
  const edge = [0, 1, 63, 64, 65, 127];
  switch (kind) {
    case 'edge':
      return Array.from({ length: b }, (_, i) => edge[i % edge.length]);
    case 'mixed':
      return Array.from({ length: b }, () => (r() < 0.1 ? 0 : Math.floor(r() * 3000)));
    case 'varlen': // FlashMLA's generator: max(N(mean, mean/2), s_q) with mean 4096 (uniform stand-in)
      return Array.from({ length: b }, () => Math.max(1, Math.round(4096 + (r() - 0.5) * 4096)));
    case 'huge-among-tiny':
      return Array.from({ length: b }, (_, i) => (i === Math.floor(b / 2) ? 20000 : 1 + Math.floor(r() * 100)));
    default:
      return Array.from({ length: b }, () => Number(kind));
  }
}

function buildCases(seed: number): Case[] {
  const r = rng(seed);
  const cases: Case[] = [];
  if (process.env.FLASH_MLA_GPU_CASES === 'sanitize') {
    cases.push({ b: 3, sQ: 2, hQ: 16, seqlens: [0, 65, 130], causal: true, dtype: 'bf16', label: 'sanitize-small' });
    cases.push({ b: 4, sQ: 1, hQ: 128, seqlens: [1000, 64, 2000, 127], causal: false, dtype: 'fp16', label: 'sanitize-medium' });
    return cases;
  }
  const hQs = [1, 3, 16, 32, 64, 100, 128];
  const sQs = [1, 2, 4];
  const bs = [1, 2, 7, 64, 128];
  const kinds = ['edge', 'mixed', '4096', '8192', '20000', 'varlen', 'huge-among-tiny', '1', '65'];
  let n = 0;
  for (const hQ of hQs) {
    for (const sQ of sQs) {
      const kind = kinds[n % kinds.length];
      // long sequences with many requests make huge caches: keep b small for them
      const big = kind === '8192' || kind === '20000' || kind === 'varlen';
      const b = big ? bs[n % 3] : bs[n % bs.length];
      cases.push({ b, sQ, hQ, seqlens: seqlenSet(kind, b, r), causal: n % 2 === 0, dtype: n % 3 === 2 ? 'fp16' : 'bf16', scale: n % 4 === 1 ? 2 : undefined, label: `h${hQ} s${sQ} b${b} ${kind}` });
      n++;
    }
  }
  // page-boundary lengths in one batch, both dtypes, both masks
  for (const dtype of ['bf16', 'fp16'] as const) {
    for (const causal of [false, true]) cases.push({ b: 12, sQ: 3, hQ: 16, seqlens: seqlenSet('edge', 12, r), causal, dtype, label: `edge ${dtype} causal=${causal}` });
  }
  // FlashMLA's sweep shape: b = 128, seqlen 8192, h_q 128, s_q 2, causal (sampled rows)
  cases.push({ b: 128, sQ: 2, hQ: 128, seqlens: seqlenSet('8192', 128, r), causal: true, dtype: 'bf16', label: 'flashmla-sweep b128 s8192 h128 sq2' });
  cases.push({ b: 128, sQ: 1, hQ: 16, seqlens: seqlenSet('varlen', 128, r), causal: true, dtype: 'bf16', label: 'flashmla-sweep b128 varlen h16 sq1' });
  return cases;
}

function sampleRows(p: GeneratedProblem, r: () => number): Array<[number, number, number]> {
  const { b, sQ, hQ } = p.spec;
  const all: Array<[number, number, number]> = [];
  let cost = 0;
  for (let i = 0; i < b; i++) for (let s = 0; s < sQ; s++) for (let h = 0; h < hQ; h++) {
    all.push([i, s, h]);
    cost += Math.max(p.seqlens[i], 1);
  }
  if (cost <= REFERENCE_BUDGET) return all;
  const picked: Array<[number, number, number]> = [];
  let spent = 0;
  // always include the first and last row of the batch and every zero-length request's first row
  const must = [all[0], all[all.length - 1], ...all.filter(([i, s, h]) => p.seqlens[i] === 0 && s === 0 && h === 0)];
  for (const row of must) picked.push(row);
  while (spent < REFERENCE_BUDGET) {
    const row = all[Math.floor(r() * all.length)];
    picked.push(row);
    spent += Math.max(p.seqlens[row[0]], 1);
  }
  return picked;
}

let worstCos = 0;
let casesRun = 0;

async function runCase(c: Case, seed: number): Promise<void> {
  const p = makePagedProblem({ b: c.b, sQ: c.sQ, hQ: c.hQ, seqlens: c.seqlens, dtype: c.dtype, seed, scale: c.scale });
  const t = pagedProblemTensors(p, 'cuda');
  const md = getMlaMetadata(t.cacheSeqlens, c.sQ * c.hQ, 1);
  // the device scheduler must match the cpu one bit for bit
  const parts = md.tileSchedulerMetadata.shape[0];
  const expected = scheduleTiles(p.seqlens, parts);
  assert.deepEqual(md.tileSchedulerMetadata.toInt32(), expected.metadata, `metadata (seed ${seed})`);
  assert.deepEqual(md.numSplits.toInt32(), expected.numSplits, `numSplits (seed ${seed})`);
  const rows = sampleRows(p, rng(seed ^ 0x5eed));
  // one reference pass over the sampled rows (each request's keys decoded once)
  const ref = referenceDecode(p, c.causal && c.sQ > 1, undefined, { rows: rows.map(([i, s, h]) => ({ i, s, h })) });
  const refOut = ref.out;
  const refLse = ref.lse;
  const splits = md.numSplits.toInt32();
  const maxSplits = Math.max(...Array.from({ length: c.b }, (_, i) => splits[i + 1] - splits[i]));
  const out = Tensor.empty([c.b, c.sQ, c.hQ, 512], { dtype: c.dtype, backend: 'cuda' });
  const lse = Tensor.empty([c.b, c.hQ, c.sQ], { dtype: 'fp32', backend: 'cuda' });
  for (const kernel of testKernels()) {
    out.fill(NaN);
    lse.fill(NaN);
    flashMlaWithKvcache(t.q, t.kCache, t.blockTable, t.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, { causal: c.causal, out, lse, kernel });
    const gotOut = out.toFloat32();
    const gotLse = lse.toFloat32();
    const nanOut = gotOut.findIndex(Number.isNaN);
    assert.equal(nanOut, -1, `${kernel}: out[${nanOut}] is NaN: element not written or NaN leaked (seed ${seed})`);
    const nanLse = gotLse.findIndex(Number.isNaN);
    assert.equal(nanLse, -1, `${kernel}: lse[${nanLse}] is NaN (seed ${seed})`);
    const subOut = new Float32Array(rows.length * 512);
    const subLse = new Float32Array(rows.length);
    rows.forEach(([i, s, h], k) => {
      const o = ((i * c.sQ + s) * c.hQ + h) * 512;
      subOut.set(gotOut.subarray(o, o + 512), k * 512);
      subLse[k] = gotLse[(i * c.hQ + h) * c.sQ + s];
    });
    const co = compare(`${kernel} out`, subOut, refOut, c.dtype, { seed });
    const cl = compare(`${kernel} lse`, subLse, refLse, 'fp32', { seed, absTol: 1e-4 });
    worstCos = Math.max(worstCos, co.cosDiff, cl.cosDiff);
    casesRun++;
    console.log(`  ${c.label} ${c.dtype} causal=${c.causal}: ${rows.length} rows, parts ${parts}, max splits ${maxSplits}; ${co.message}; ${cl.message}`);
    assert.ok(co.ok, co.message);
    assert.ok(cl.ok, cl.message);
  }
  for (const x of [out, lse, md.tileSchedulerMetadata, md.numSplits]) x.dispose();
  t.dispose();
}

describe('cuda decode vs float64 reference', { skip }, () => {
  const seed = freshSeed();
  const cases = skip ? [] : buildCases(seed);
  cases.forEach((c, k) => {
    test(c.label, async () => runCase(c, (seed + k * 7919) >>> 0));
  });
  test('summary', () => {
    console.log(`cuda decode: ${casesRun} case × kernel runs (${testKernels().join(', ')}), worst cos diff ${worstCos.toExponential(2)}, base seed ${seed}`);
  });
});

// One row over every SM part: 'hopper''s 16-bit split partials keep fp32 partials' accuracy (test/util/split-accuracy.ts).
describe("cuda decode: a row split over every SM part on 'hopper' (the split partials' accuracy)", { skip }, () => {
  for (const shape of SPLIT_ROW_SHAPES.filter((s) => !s.spec.fp8)) {
    test(shape.label, (t) => {
      if (!getBackend('cuda').decodeKernels().includes('hopper')) return void t.skip("no 'hopper' on this GPU");
      t.diagnostic(checkSplitRowAccuracy(shape, freshSeed()));
    });
  }
});

describe('device metadata kernel = cpu scheduler', { skip }, () => {
  test('random, zeros, one huge among tiny, b = 1 … 7000', () => {
    const seed = freshSeed();
    const r = rng(seed);
    const sets = [...metadataGoldenSets(r), ...metadataEvenSplitSets(r), ...metadataTightSets(r), ...metadataPackSets(r)];  // (the third and fourth rules, on by default, fire on some; the fifth with FLASH_MLA_EXPERIMENT_PACK)
    const sm = getBackend('cuda').smCount();
    for (const lens of sets) {
      for (const rowsPerKv of [1, 16, 17, 128, 256, 1024]) {
        const parts = numSmPartsFor(sm, rowsPerKv, 1);
        const sl = Tensor.from(Int32Array.from(lens), [lens.length], { dtype: 'int32', backend: 'cuda' });
        const md = getMlaMetadata(sl, rowsPerKv, 1);
        const e = scheduleTiles(lens, parts);
        const where = `metadata kernel, b=${lens.length} rows=${rowsPerKv} seed ${seed}`;
        assert.deepEqual(md.tileSchedulerMetadata.toInt32(), e.metadata, where);
        assert.deepEqual(md.numSplits.toInt32(), e.numSplits, where);
        for (const x of [sl, md.tileSchedulerMetadata, md.numSplits]) x.dispose();
      }
    }
  });
});

describe('cuda graph of a decode step', { skip }, () => {
  test('captured metadata + decode replayed with new q and new seqlens = eager', () => {
    const seed = freshSeed();
    const b = 8, sQ = 2, hQ = 32;
    const r = rng(seed);
    const lensA = Array.from({ length: b }, () => 1 + Math.floor(r() * 900));
    const lensB = lensA.map((x) => Math.max(0, x - Math.floor(r() * 200)));
    const p = makePagedProblem({ b, sQ, hQ, seqlens: lensA, seed });
    const t = pagedProblemTensors(p, 'cuda');
    const parts = numSmPartsFor(getBackend('cuda').smCount(), sQ * hQ, 1);
    const md = { tileSchedulerMetadata: Tensor.empty([parts, 8], { dtype: 'int32', backend: 'cuda' }), numSplits: Tensor.empty([b + 1], { dtype: 'int32', backend: 'cuda' }) };
    const out = Tensor.full([b, sQ, hQ, 512], NaN, { dtype: 'bf16', backend: 'cuda' });
    const lse = Tensor.full([b, hQ, sQ], NaN, { dtype: 'fp32', backend: 'cuda' });
    const step = captureGraph(() => {
      getMlaMetadata(t.cacheSeqlens, sQ * hQ, 1, { out: md });
      flashMlaWithKvcache(t.q, t.kCache, t.blockTable, t.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, { causal: true, out, lse });
    });
    const q2 = makePagedProblem({ b, sQ, hQ, seqlens: lensA, seed: seed + 1 }).qBits;
    for (const [lens, qBits] of [[lensA, p.qBits], [lensB, q2]] as const) {
      t.cacheSeqlens.write(Int32Array.from(lens));
      t.q.write(qBits);
      out.fill(NaN);
      step.replay();
      step.synchronize();
      const graphOut = out.toRaw();
      const graphLse = lse.toFloat32();
      const eagerMd = getMlaMetadata(t.cacheSeqlens, sQ * hQ, 1);
      const eager = flashMlaWithKvcache(t.q, t.kCache, t.blockTable, t.cacheSeqlens, 512, eagerMd.tileSchedulerMetadata, eagerMd.numSplits, { causal: true });
      assert.deepEqual(graphOut, eager.out.toRaw(), `out differs (seed ${seed})`);
      assert.deepEqual(graphLse, eager.lse.toFloat32(), `lse differs (seed ${seed})`);
      for (const x of [eager.out, eager.lse, eagerMd.tileSchedulerMetadata, eagerMd.numSplits]) x.dispose();
    }
    step.dispose();
    t.dispose();
  });
});

describe('cuda decode: outputs in blocks reused from the cache of freed blocks (src/cuda/block-cache.ts)', { skip }, () => {
  // Each call's out / lse disposed as soon as it is queued, so the next call's outputs take the same blocks while
  // the first call's kernels may still run: on one stream (kernels with programmatic dependent launch waiting for
  // their predecessor before touching global memory) the second call's results must be its own, bit for bit.
  // Shapes: every row unsplit (the combine's early exit), and rows split over many parts.
  for (const [label, b, hQ, lens] of [
    ['132 equal requests of 512 tokens, h_q 16: every row whole', 132, 16, () => new Array(132).fill(512)],
    ['2 requests of 20 000 tokens, h_q 64: rows split over every part', 2, 64, () => [20000, 19000]],
  ] as const) {
    test(label, () => {
      const seed = freshSeed();
      const p = makePagedProblem({ b, sQ: 1, hQ, seqlens: lens(), seed });
      const t = pagedProblemTensors(p, 'cuda');
      const qB = Tensor.from(makePagedProblem({ b, sQ: 1, hQ, seqlens: lens(), seed: seed + 1 }).qBits, [b, 1, hQ, 576], { dtype: 'bf16', backend: 'cuda' });
      const md = getMlaMetadata(t.cacheSeqlens, hQ, 1);
      const run = (q: Tensor) => flashMlaWithKvcache(q, t.kCache, t.blockTable, t.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, { checkValues: false });
      const expect = [t.q, qB].map((q) => {
        const r = run(q);
        const raw = [r.out.toRaw(), r.lse.toRaw()];
        r.out.dispose();
        r.lse.dispose();
        return raw;
      });
      try {
        for (let i = 0; i < 40; i++) {
          const first = run(i % 2 ? qB : t.q);
          first.out.dispose(); // (queued, maybe not run yet)
          first.lse.dispose();
          const second = run(i % 2 ? t.q : qB);
          const want = expect[i % 2 ? 0 : 1];
          assert.deepEqual(second.out.toRaw(), want[0], `iteration ${i}: out (seed ${seed})`);
          assert.deepEqual(second.lse.toRaw(), want[1], `iteration ${i}: lse (seed ${seed})`);
          second.out.dispose();
          second.lse.dispose();
        }
      } finally {
        for (const x of [qB, md.tileSchedulerMetadata, md.numSplits]) x.dispose();
        t.dispose();
      }
    });
  }
});
