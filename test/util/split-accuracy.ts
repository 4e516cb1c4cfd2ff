// The accuracy of one query row whose request is split over every SM part: the worst case for split partials stored
// in fewer bits, since the row's output (an average over many tokens) is ~√(splits) smaller than each split's
// partial, which magnifies a partial's relative rounding in the output's. Used by the GPU decode test and
// scripts/partials-accuracy.mjs (perf log, session 47: bf16 partial rows gave a median cos diff of 4.2–4.4e-6 here,
// fp32 ones 2.3–2.6e-6; FlashMLA's bound is 5e-6).
import { flashMlaWithKvcache, getMlaMetadata } from '../../src/index.js';
import { compare } from '../../src/check/compare.js';
import { denseTensors, makeDenseProblem, type DenseSpec } from './layouts.js';

export interface SplitRowShape {
  label: string;
  spec: Omit<DenseSpec, 'seed'>;
}

/** h_q 1, one 20 000-token request: the bf16 and FP8 caches, plain and with K magnitudes spread 2^±3. */
export const SPLIT_ROW_SHAPES: SplitRowShape[] = [
  { label: 'FP8, h_q 1, 20000 tokens, K spread 2^±3', spec: { b: 1, sQ: 1, hQ: 1, hKv: 1, d: 576, seqlens: [20000], dtype: 'bf16', fp8: true, kSpread: 3 } },
  { label: 'FP8, h_q 1, 20000 tokens', spec: { b: 1, sQ: 1, hQ: 1, hKv: 1, d: 576, seqlens: [20000], dtype: 'bf16', fp8: true } },
  { label: 'bf16, h_q 1, 20000 tokens, K spread 2^±3', spec: { b: 1, sQ: 1, hQ: 1, hKv: 1, d: 576, seqlens: [20000], dtype: 'bf16', fp8: false, kSpread: 3 } },
  { label: 'bf16, h_q 1, 20000 tokens', spec: { b: 1, sQ: 1, hQ: 1, hKv: 1, d: 576, seqlens: [20000], dtype: 'bf16', fp8: false } },
];

/**
 * `seeds` decodes of `shape` (seeds first, first + 1, …) on 'hopper' against the cpu backend (its output rounded to
 * 16 bits too), through the metadata of the whole GPU (every SM part): their cos diffs, sorted, and the worst |error|.
 */
export function splitRowAccuracy(shape: SplitRowShape, seeds: number, first: number): { cos: number[]; worst: number; maxSplits: number } {
  const cos: number[] = [];
  let worst = 0, maxSplits = 0;
  const { spec } = shape;
  for (let k = 0; k < seeds; k++) {
    const p = makeDenseProblem({ ...spec, seed: first + k, scale: 0.5 });
    const cpu = denseTensors(p);
    // (whole tensors, not views into padded buffers: each seed's ~23 MB are freed below; the padded views' layouts
    // are the other GPU tests' business)
    const gpu = { q: cpu.q.to('cuda'), kCache: cpu.kCache.to('cuda'), blockTable: cpu.blockTable.to('cuda'), cacheSeqlens: cpu.cacheSeqlens.to('cuda') };
    const rows = spec.sQ * spec.hQ;
    const md = getMlaMetadata(gpu.cacheSeqlens, rows, 1);
    const mdH = getMlaMetadata(cpu.cacheSeqlens, rows, 1, { smCount: md.tileSchedulerMetadata.shape[0] * Math.ceil(rows / 64) });
    const opts = { isFp8KvCache: spec.fp8 };
    const got = flashMlaWithKvcache(gpu.q, gpu.kCache, gpu.blockTable, gpu.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, { ...opts, kernel: 'hopper' });
    const want = flashMlaWithKvcache(cpu.q, cpu.kCache, cpu.blockTable, cpu.cacheSeqlens, 512, mdH.tileSchedulerMetadata, mdH.numSplits, opts);
    // FlashMLA's cos diff and the worst |error| (compare() with no bound: only its measures are used; NaN when the
    // NaN / Inf masks differ)
    const r = compare(shape.label, got.out.toFloat32(), want.out.toFloat32(), spec.dtype, { cosTol: Infinity, absTol: Infinity, seed: first + k });
    cos.push(r.cosDiff);
    worst = Math.max(worst, r.maxAbs);
    const splits = md.numSplits.toInt32();
    maxSplits = Math.max(maxSplits, splits[1] - splits[0]);
    for (const t of [got.out, got.lse, md.tileSchedulerMetadata, md.numSplits, ...Object.values(gpu)]) t.dispose();
  }
  cos.sort((a, b) => a - b);
  return { cos, worst, maxSplits };
}

/**
 * The GPU tests' check of one shape (5 seeds from `seed`): 'hopper''s split partials keep fp32 partials' accuracy —
 * the median cos diff at most 3.5e-6 (fp32 partials: 2.3–2.6e-6; the bf16 partial rows of session 46: 4.2–4.4e-6, single
 * seeds past FlashMLA's 5e-6; H100, perf log `s47a`) and every seed within FlashMLA's 5e-6. Throws; returns a note.
 */
export function checkSplitRowAccuracy(shape: SplitRowShape, seed: number): string {
  const { cos, maxSplits } = splitRowAccuracy(shape, 5, seed);
  const seeds = `seeds ${seed}…${seed + 4}`;
  if (cos.some(Number.isNaN)) throw new Error(`${shape.label}: the outputs' NaN / Inf masks differ from the reference's (${seeds})`);
  const median = cos[cos.length >> 1];
  if (maxSplits <= 16) throw new Error(`${shape.label}: the request was split ${maxSplits} ways only (${seeds})`);
  if (cos[cos.length - 1] > 5e-6) throw new Error(`${shape.label}: cos diff ${cos[cos.length - 1].toExponential(2)} > FlashMLA's 5e-6 (${seeds})`);
  if (median > 3.5e-6) throw new Error(`${shape.label}: median cos diff ${median.toExponential(2)} > 3.5e-6: split rows less accurate than fp32 partials (${seeds})`);
  return `cos diffs ${cos.map((c) => c.toExponential(2)).join(' ')} (${maxSplits} splits, ${seeds})`;
}
