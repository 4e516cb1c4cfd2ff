// The float64 reference of MLA decoding, shared by the tests, the GPU property test, the soak run, the bench's
// correctness sample and the decode-loop example: plain softmax attention per (request, query token, head), with
// no data flow in common with either backend. 16-bit values are decoded from their bit fields
// (src/check/formats.ts), not by the library's conversions; keys are read through the problem's own plain
// row-major block table, never through a tensor's layout.
//
// For comparing a 16-bit tensor-core kernel (src/check/compare.ts, tolerance 'kernel') the reference also
// records per row what such a kernel may legitimately differ by: the effect of rounding the softmax weights to
// the input dtype before P·V, and of computing the logits as fp32 dot products.

import { HEAD_DIM_K, HEAD_DIM_V, PAGE_BLOCK_SIZE } from '../mla/constants.js';
import { HALF_FORMATS, roundToFormat, type HalfDType, type HalfFormat } from './formats.js';

/** Host copies of a dense paged decode's inputs (16-bit patterns, row-major, pages of 64 tokens, h_kv = 1). */
export interface PagedProblem {
  dtype: HalfDType;
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

/** One query row: request i, query token s, head h. */
export interface SampleRow {
  i: number;
  s: number;
  h: number;
}

/** Default softmax scale: 1 / √576. */
export const DEFAULT_SOFTMAX_SCALE = 1 / Math.sqrt(HEAD_DIM_K);

/**
 * Relative error bound of a kernel's fp32 logit q·k over 576 channels, as a fraction of Σ|q_c·k_c|. 16-bit
 * products are exact in fp32; tensor cores add them in chunks of at least 8 with truncation (not rounding) when
 * aligning and normalising, so each chunk may lose up to 2 units of 2^-23 of the running sum:
 * (576 / 8) · 2^-22. Deliberately above what kernels show, so a correct kernel never fails on it.
 */
export const KERNEL_LOGIT_ERROR = (HEAD_DIM_K / 8) * 2 ** -22;

/** Per row, what a correct 16-bit tensor-core kernel may differ from the exact result by (see compare.ts). */
export interface KernelErrorTerms {
  /**
   * max over channels of |out with the softmax weights rounded to the dtype − out|: every 16-bit tensor-core
   * kernel (FlashMLA's included) rounds P before P·V (FA3's test rule allows twice this).
   */
  lowPErr: Float64Array;
  /** Bound on a logit's absolute error in such a kernel: scale · KERNEL_LOGIT_ERROR · max_t Σ|q·k| + fp32 rounding. */
  logitErr: Float64Array;
  /** Per output element Σ_t w_t·|v_t| / Σ_t w_t: logit errors ε move it by at most 2·max|ε| times this. */
  spread: Float64Array;
}

/** Reference rows: out [rows, 512], lse [rows], in the order of `rows`. */
export interface ReferenceRows {
  dtype: HalfDType;
  b: number;
  sQ: number;
  hQ: number;
  rows: SampleRow[];
  out: Float64Array;
  /** Natural-log sum-exp of the scaled logits; +inf for a row that sees no key. */
  lse: Float64Array;
  /** Keys each row sees (0 for a row that sees none). */
  visible: Int32Array;
  /** Only when asked for (kernelTerms): the allowances of a 16-bit tensor-core kernel. */
  kernel: KernelErrorTerms | null;
}

let logitScratch = new Float64Array(1024);
const lowScratch = new Float64Array(HEAD_DIM_V);

/**
 * Softmax attention of one query row in float64: q has d values (d = 576, or 512 for the MODEL1 layout), key t is
 * keys[t·d … t·d + d) (V = its first 512 channels), nKeys keys. Writes out[0 … 512) and returns the lse (+inf and
 * out 0 when nKeys = 0). With `terms`, also writes the kernel allowances of this row: lowPErr[row], logitErr[row]
 * and spread[row·512 …).
 */
export function attendRow(q: Float64Array, keys: Float64Array, nKeys: number, softmaxScale: number, out: Float64Array, terms: { fmt: HalfFormat; row: number; into: KernelErrorTerms } | null = null): number {
  const d = q.length;
  out.fill(0, 0, HEAD_DIM_V);
  const spread = terms ? terms.into.spread.subarray(terms.row * HEAD_DIM_V, (terms.row + 1) * HEAD_DIM_V) : null;
  if (nKeys <= 0) {
    if (terms) {
      terms.into.lowPErr[terms.row] = 0;
      terms.into.logitErr[terms.row] = 0;
    }
    return Infinity;
  }
  if (logitScratch.length < nKeys) logitScratch = new Float64Array(nKeys * 2);
  const logits = logitScratch;
  let max = -Infinity;
  let maxAbsDot = 0;
  let maxAbsLogit = 0;
  for (let t = 0; t < nKeys; t++) {
    const kb = t * d;
    let dot = 0;
    if (terms) {
      let absDot = 0;
      for (let c = 0; c < d; c++) {
        const x = q[c] * keys[kb + c];
        dot += x;
        absDot += Math.abs(x);
      }
      if (absDot > maxAbsDot) maxAbsDot = absDot;
    } else {
      for (let c = 0; c < d; c++) dot += q[c] * keys[kb + c];
    }
    const logit = dot * softmaxScale;
    logits[t] = logit;
    if (logit > max) max = logit;
    if (Math.abs(logit) > maxAbsLogit) maxAbsLogit = Math.abs(logit);
  }
  let sum = 0;
  if (!terms) {
    for (let t = 0; t < nKeys; t++) {
      const w = Math.exp(logits[t] - max);
      sum += w;
      const kb = t * d;
      for (let c = 0; c < HEAD_DIM_V; c++) out[c] += w * keys[kb + c];
    }
    for (let c = 0; c < HEAD_DIM_V; c++) out[c] /= sum;
    return max + Math.log(sum);
  }
  const low = lowScratch.fill(0);
  spread!.fill(0);
  for (let t = 0; t < nKeys; t++) {
    const w = Math.exp(logits[t] - max);
    const wLow = roundToFormat(w, terms.fmt);
    sum += w;
    const kb = t * d;
    for (let c = 0; c < HEAD_DIM_V; c++) {
      const v = keys[kb + c];
      out[c] += w * v;
      low[c] += wLow * v;
      spread![c] += w * Math.abs(v);
    }
  }
  let lowPErr = 0;
  for (let c = 0; c < HEAD_DIM_V; c++) {
    out[c] /= sum;
    spread![c] /= sum;
    lowPErr = Math.max(lowPErr, Math.abs(low[c] / sum - out[c]));
  }
  terms.into.lowPErr[terms.row] = lowPErr;
  // the dot products' accumulation, then scaling and subtracting the maximum in fp32 (a few units of 2^-24 each)
  terms.into.logitErr[terms.row] = softmaxScale * KERNEL_LOGIT_ERROR * maxAbsDot + 2 ** -21 * maxAbsLogit;
  return max + Math.log(sum);
}

/** Every row of a problem, in out's order [b, s_q, h_q]. */
export function allRows(b: number, sQ: number, hQ: number): SampleRow[] {
  const rows: SampleRow[] = [];
  for (let i = 0; i < b; i++) for (let s = 0; s < sQ; s++) for (let h = 0; h < hQ; h++) rows.push({ i, s, h });
  return rows;
}

/** Keys query token s of a request of `seqlen` keys sees: the bottom-right causal mask, key < seqlen − (s_q − 1 − s). */
export function visibleKeys(seqlen: number, sQ: number, s: number, causal: boolean): number {
  return Math.max(causal ? seqlen - (sQ - 1 - s) : seqlen, 0);
}

/** Request i's first `n` keys as float64 [n, 576], read through the problem's block table. */
function requestKeys(p: PagedProblem, i: number, n: number, fmt: HalfFormat): Float64Array {
  const keys = new Float64Array(n * HEAD_DIM_K);
  for (let t = 0; t < n; t++) {
    const block = p.table[i * p.maxBlocksPerSeq + Math.floor(t / PAGE_BLOCK_SIZE)];
    const src = (block * PAGE_BLOCK_SIZE + (t % PAGE_BLOCK_SIZE)) * HEAD_DIM_K;
    for (let c = 0; c < HEAD_DIM_K; c++) keys[t * HEAD_DIM_K + c] = fmt.value[p.kBits[src + c]];
  }
  return keys;
}

/**
 * The reference of `rows` (default: all, in out's order) of a dense paged decode. Each request's keys are decoded
 * once (rows are visited request by request, one request's keys held at a time). `kernelTerms`: also record the
 * allowances of a 16-bit tensor-core kernel (costs about a third more).
 */
export function referenceDecode(p: PagedProblem, causal: boolean, softmaxScale = DEFAULT_SOFTMAX_SCALE, opts: { rows?: readonly SampleRow[]; kernelTerms?: boolean } = {}): ReferenceRows {
  const { b, sQ, hQ } = p;
  const fmt = HALF_FORMATS[p.dtype];
  const rows = opts.rows ? [...opts.rows] : allRows(b, sQ, hQ);
  const n = rows.length;
  const out = new Float64Array(n * HEAD_DIM_V);
  const lse = new Float64Array(n);
  const visible = new Int32Array(n);
  const kernel: KernelErrorTerms | null = opts.kernelTerms
    ? { lowPErr: new Float64Array(n), logitErr: new Float64Array(n), spread: new Float64Array(n * HEAD_DIM_V) }
    : null;
  const order = Array.from({ length: n }, (_, k) => k).sort((x, y) => rows[x].i - rows[y].i || x - y);
  const q = new Float64Array(HEAD_DIM_K);
  let keysOf = -1;
  let keys: Float64Array = new Float64Array(0);
  for (const k of order) {
    const { i, s, h } = rows[k];
    if (!(i >= 0 && i < b && s >= 0 && s < sQ && h >= 0 && h < hQ)) {
      throw new RangeError(`rows[${k}]: expected a row of [${b}, ${sQ}, ${hQ}], got request ${i}, token ${s}, head ${h}`);
    }
    if (keysOf !== i) {
      keys = requestKeys(p, i, p.seqlens[i], fmt);
      keysOf = i;
    }
    const qOff = ((i * sQ + s) * hQ + h) * HEAD_DIM_K;
    for (let c = 0; c < HEAD_DIM_K; c++) q[c] = fmt.value[p.qBits[qOff + c]];
    visible[k] = visibleKeys(p.seqlens[i], sQ, s, causal);
    lse[k] = attendRow(q, keys, visible[k], softmaxScale, out.subarray(k * HEAD_DIM_V, (k + 1) * HEAD_DIM_V), kernel ? { fmt, row: k, into: kernel } : null);
  }
  return { dtype: p.dtype, b, sQ, hQ, rows, out, lse, visible, kernel };
}

/** One row: out (512 values) and lse. */
export function referenceRow(p: PagedProblem, i: number, s: number, h: number, causal: boolean, softmaxScale = DEFAULT_SOFTMAX_SCALE): { out: Float64Array; lse: number } {
  const r = referenceDecode(p, causal, softmaxScale, { rows: [{ i, s, h }] });
  return { out: r.out, lse: r.lse[0] };
}

/** Every row: out [b, s_q, h_q, 512] and lse [b, h_q, s_q] in float64, laid out as the decode's outputs. */
export function referenceAll(p: PagedProblem, causal: boolean, softmaxScale = DEFAULT_SOFTMAX_SCALE): { out: Float64Array; lse: Float64Array } {
  const r = referenceDecode(p, causal, softmaxScale);
  const lse = new Float64Array(r.lse.length);
  r.rows.forEach(({ i, s, h }, k) => (lse[(i * p.hQ + h) * p.sQ + s] = r.lse[k]));
  return { out: r.out, lse };
}
