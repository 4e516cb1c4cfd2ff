// The float64 reference of a dense paged MLA decode, shared by the tests (test/util/problem.ts), the bench's
// correctness sample (src/bench/problem.ts) and anything else that checks a decode from host copies of its
// inputs: plain softmax attention per (request, query token, head), read through the block table, with no
// data flow in common with either backend. (test/property.test.ts keeps its own, deliberately independent one.)

import { fromHalfBits, halfDecodeTable, toHalfBits } from '../dtype.js';
import { HEAD_DIM_K, HEAD_DIM_V, PAGE_BLOCK_SIZE } from '../mla/constants.js';

/** Host copies of a dense paged decode's inputs (16-bit patterns, row-major, pages of 64 tokens, h_kv = 1). */
export interface PagedProblem {
  dtype: 'bf16' | 'fp16';
  b: number;
  sQ: number;
  hQ: number;
  /** q [b, s_q, h_q, 576]. */
  qBits: Uint16Array;
  /** K cache [numBlocks, 64, 576] (= [numBlocks, 64, 1, 576]). */
  kBits: Uint16Array;
  /** Block table [b, maxBlocksPerSeq]. */
  table: Int32Array;
  maxBlocksPerSeq: number;
  seqlens: Int32Array;
}

export interface ReferenceRow {
  /** The exact output row (512 values) in float64. */
  out: Float64Array;
  /**
   * With `lowPrecision`: the same row with the softmax weights rounded to the input dtype before P·V, as every
   * 16-bit tensor-core kernel (FlashMLA's included) must do; its distance from `out` is the error a correct
   * kernel of that precision can have (FA3's test rule). null otherwise.
   */
  outLowP: Float64Array | null;
  /** Natural-log sum-exp of the scaled logits; +inf for a row that sees no key. */
  lse: number;
}

/** Default softmax scale: 1 / √576. */
export const DEFAULT_SOFTMAX_SCALE = 1 / Math.sqrt(HEAD_DIM_K);

/**
 * One row: the bottom-right causal mask (query s of s_q sees keys < seqlen − (s_q − 1 − s)); a row that sees
 * no key gives out 0, lse +inf.
 */
export function referenceRow(p: PagedProblem, i: number, s: number, h: number, causal: boolean, softmaxScale = DEFAULT_SOFTMAX_SCALE, lowPrecision = false): ReferenceRow {
  const { sQ, hQ } = p;
  const tab = halfDecodeTable(p.dtype);
  const seqlen = p.seqlens[i];
  const visible = causal ? seqlen - (sQ - 1 - s) : seqlen;
  const out = new Float64Array(HEAD_DIM_V);
  const outLowP = lowPrecision ? new Float64Array(HEAD_DIM_V) : null;
  if (visible <= 0) return { out, outLowP, lse: Infinity };
  const q = new Float64Array(HEAD_DIM_K);
  const qOff = ((i * sQ + s) * hQ + h) * HEAD_DIM_K;
  for (let c = 0; c < HEAD_DIM_K; c++) q[c] = tab[p.qBits[qOff + c]];
  const kOffset = (t: number) => (p.table[i * p.maxBlocksPerSeq + Math.floor(t / PAGE_BLOCK_SIZE)] * PAGE_BLOCK_SIZE + (t % PAGE_BLOCK_SIZE)) * HEAD_DIM_K;
  const logits = new Float64Array(visible);
  let m = -Infinity;
  for (let t = 0; t < visible; t++) {
    const k = kOffset(t);
    let dot = 0;
    for (let c = 0; c < HEAD_DIM_K; c++) dot += q[c] * tab[p.kBits[k + c]];
    logits[t] = dot * softmaxScale;
    if (logits[t] > m) m = logits[t];
  }
  let sum = 0;
  for (let t = 0; t < visible; t++) {
    const w = Math.exp(logits[t] - m);
    sum += w;
    const k = kOffset(t);
    for (let c = 0; c < HEAD_DIM_V; c++) out[c] += w * tab[p.kBits[k + c]];
    if (outLowP) {
      const wLow = fromHalfBits(p.dtype, toHalfBits(p.dtype, w));
      for (let c = 0; c < HEAD_DIM_V; c++) outLowP[c] += wLow * tab[p.kBits[k + c]];
    }
  }
  for (let c = 0; c < HEAD_DIM_V; c++) {
    out[c] /= sum;
    if (outLowP) outLowP[c] /= sum;
  }
  return { out, outLowP, lse: m + Math.log(sum) };
}

/** Every row: out [b, s_q, h_q, 512] and lse [b, h_q, s_q] in float64. */
export function referenceAll(p: PagedProblem, causal: boolean, softmaxScale = DEFAULT_SOFTMAX_SCALE): { out: Float64Array; lse: Float64Array } {
  const { b, sQ, hQ } = p;
  const out = new Float64Array(b * sQ * hQ * HEAD_DIM_V);
  const lse = new Float64Array(b * hQ * sQ);
  for (let i = 0; i < b; i++) {
    for (let s = 0; s < sQ; s++) {
      for (let h = 0; h < hQ; h++) {
        const r = referenceRow(p, i, s, h, causal, softmaxScale);
        out.set(r.out, ((i * sQ + s) * hQ + h) * HEAD_DIM_V);
        lse[(i * hQ + h) * sQ + s] = r.lse;
      }
    }
  }
  return { out, lse };
}
