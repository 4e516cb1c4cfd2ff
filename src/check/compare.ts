// Comparisons of a decode's outputs with the float64 reference (src/check/reference.ts), shared by the tests, the
// bench and the example: NaN/±Inf masks first, then the values. compare() takes any two arrays (FlashMLA's cos
// distance and FA3's bound over the whole array); compareDecode() takes a decode's out and lse with the reference
// rows and bounds every element (half an ulp for the cpu backend, or what a 16-bit tensor-core kernel achieves).

import { roundTo, type DType } from '../dtype.js';
import { HEAD_DIM_V } from '../mla/constants.js';
import { HALF_FORMATS, halfUlp, roundToFormat } from './formats.js';
import type { ReferenceRows, SampleRow } from './reference.js';

export interface CompareResult {
  ok: boolean;
  message: string;
  cosDiff: number;
  maxAbs: number;
  worstIndex: number;
}

/**
 * Compare `got` with the float64 `ref`: NaN/±Inf patterns must match exactly; then
 * cosDiff = 1 − 2Σxy / Σ(x² + y²) < cosTol and max |got − ref| ≤ 2·max |round(ref) − ref| + absTol: the largest
 * error is bounded by twice the error of rounding the exact result to `dtype` (FA3's rule, maxima over the
 * compared elements). Per element the rounding of P to 16 bits before P·V, which any 16-bit tensor-core
 * kernel does, can exceed an element's own rounding error where the softmax has a few large weights.
 */
export function compare(name: string, got: ArrayLike<number>, ref: ArrayLike<number>, dtype: DType, opts: { cosTol?: number; absTol?: number; seed?: number } = {}): CompareResult {
  const cosTol = opts.cosTol ?? 1e-5;
  const absTol = opts.absTol ?? 1e-3;
  const seedMsg = opts.seed !== undefined ? ` (seed ${opts.seed}; rerun with FLASH_MLA_SEED=${opts.seed})` : '';
  if (got.length !== ref.length) return { ok: false, message: `${name}: length ${got.length} vs reference ${ref.length}${seedMsg}`, cosDiff: NaN, maxAbs: NaN, worstIndex: -1 };
  let sxy = 0;
  let sxx = 0;
  let worst = 0;
  let worstIndex = -1;
  let maxRounding = 0;
  for (let i = 0; i < got.length; i++) {
    const g = got[i];
    const r = ref[i];
    const gSpecial = Number.isNaN(g) ? 'NaN' : g === Infinity ? '+inf' : g === -Infinity ? '-inf' : '';
    const rSpecial = Number.isNaN(r) ? 'NaN' : r === Infinity ? '+inf' : r === -Infinity ? '-inf' : '';
    if (gSpecial !== rSpecial) {
      return { ok: false, message: `${name}[${i}]: got ${g}, reference ${r} (NaN/Inf mask differs)${seedMsg}`, cosDiff: NaN, maxAbs: NaN, worstIndex: i };
    }
    if (gSpecial) continue;
    sxy += g * r;
    sxx += g * g + r * r;
    const err = Math.abs(g - r);
    maxRounding = Math.max(maxRounding, Math.abs(roundTo(dtype, r) - r));
    if (err > worst) {
      worst = err;
      worstIndex = i;
    }
  }
  const bound = 2 * maxRounding + absTol;
  const cosDiff = sxx < 1e-12 ? 0 : 1 - (2 * sxy) / sxx;
  const base = `${name}: cosDiff ${cosDiff.toExponential(2)}, max |err| ${worst.toExponential(2)}`;
  if (cosDiff >= cosTol) return { ok: false, message: `${base} ≥ cos tolerance ${cosTol}${seedMsg}`, cosDiff, maxAbs: worst, worstIndex };
  if (worst > bound) {
    return {
      ok: false,
      message: `${base} > ${bound.toExponential(2)} (2 × max rounding error + ${absTol}); worst element ${worstIndex}: got ${got[worstIndex]}, reference ${ref[worstIndex]}${seedMsg}`,
      cosDiff,
      maxAbs: worst,
      worstIndex,
    };
  }
  return { ok: true, message: base, cosDiff, maxAbs: worst, worstIndex };
}

// ---------------------------------------------------------------------------------------------- whole decodes

/**
 * How close a decode's outputs must be to the float64 reference.
 *  - 'halfUlp': each out element within half a unit in the last place of the exact value (a correct rounding:
 *    what the float64 cpu backend must achieve), each lse within half an fp32 ulp.
 *  - 'kernel': what a correct 16-bit tensor-core kernel achieves (FA3's rule, extended by the fp32 logits):
 *    |out err| ≤ max(2·lowPErr(row), u·spread) + 2·|round(ref) − ref| + 2·logitErr(row)·spread + 1e-3 per element
 *    (u the format's unit roundoff: a kernel that rounds P against a reference up to 2^8 below the row max rounds
 *    the largest weights too), the cos
 *    distance over all compared elements < 1e-5, |lse err| ≤ 2·logitErr(row) + 1e-5·(1 + |lse|). The terms
 *    are the reference's (reference.ts KernelErrorTerms): it must have been computed with kernelTerms.
 * Either way: rows that see no key must give out exactly 0 (+0 bits for 'halfUlp') and lse +Infinity, and no
 * NaN or ±Inf may appear anywhere else, in the compared rows or not.
 */
export type DecodeTolerance = 'halfUlp' | 'kernel';

export const KERNEL_TOLERANCE = { outAbs: 1e-3, cosDiff: 1e-5, lseRel: 1e-5 } as const;

/** A decode's outputs as read back: out [b, s_q, h_q, 512] as raw 16-bit patterns, lse [b, h_q, s_q]. */
export interface DecodeOutputs {
  outBits: Uint16Array;
  lse: Float32Array;
}

export interface DecodeMismatch {
  what: 'out' | 'lse';
  row: SampleRow;
  /** Output channel (out only). */
  channel: number | null;
  /** Element index in the whole out or lse array. */
  index: number;
  got: number;
  ref: number;
  /** The allowed error (NaN for a NaN/Inf mismatch). */
  bound: number;
  reason: string;
}

export interface DecodeComparison {
  ok: boolean;
  /** One line: what was compared and the largest errors; on failure the first thing that failed and where. */
  message: string;
  rows: number;
  /** Compared rows that see no key. */
  lonelyRows: number;
  maxOutErr: number;
  maxLseErr: number;
  /** 1 − 2Σxy / Σ(x² + y²) over the compared finite out elements (FlashMLA's metric). */
  cosDiff: number;
  /** Largest error / bound over the compared elements: ≤ 1 when ok, the tolerance's headroom. */
  worstRatio: number;
  /** NaN elements anywhere in out (a kernel reading NaN-poisoned cache slots, or an unwritten output). */
  nanOutputs: number;
  /** The reason it failed (a NaN/Inf mismatch first, else the element furthest beyond its bound), or null. */
  mismatch: DecodeMismatch | null;
}

const rowName = (r: SampleRow) => `request ${r.i}, token ${r.s}, head ${r.h}`;
const fmtNum = (x: number) => (Number.isFinite(x) && x !== 0 && (Math.abs(x) < 1e-3 || Math.abs(x) >= 1e5) ? x.toExponential(4) : String(x));

function describeMismatch(name: string, m: DecodeMismatch): string {
  const where = m.what === 'out' ? `out at ${rowName(m.row)}, channel ${m.channel} (element ${m.index})` : `lse at ${rowName(m.row)} (element ${m.index})`;
  const err = Math.abs(m.got - m.ref);
  const detail = Number.isNaN(m.bound) ? m.reason : `|err| ${err.toExponential(2)} > bound ${m.bound.toExponential(2)} (${m.reason})`;
  return `${name}: ${where}: got ${fmtNum(m.got)}, reference ${fmtNum(m.ref)}: ${detail}`;
}

/**
 * Compare a decode's outputs with the reference rows (all of them or a sample; see DecodeTolerance). NaN/Inf
 * patterns are checked first over the whole outputs, then every compared element against its bound; the worst
 * element is reported with its row, channel and index.
 */
export function compareDecode(name: string, got: DecodeOutputs, ref: ReferenceRows, tolerance: DecodeTolerance): DecodeComparison {
  const { b, sQ, hQ } = ref;
  const fmt = HALF_FORMATS[ref.dtype];
  const outLen = b * sQ * hQ * HEAD_DIM_V;
  const lseLen = b * hQ * sQ;
  if (got.outBits.length !== outLen || got.lse.length !== lseLen) {
    throw new RangeError(`${name}: expected out of ${outLen} and lse of ${lseLen} elements ([${b}, ${sQ}, ${hQ}]), got ${got.outBits.length} and ${got.lse.length}`);
  }
  if (tolerance === 'kernel' && !ref.kernel) throw new TypeError(`${name}: tolerance 'kernel' needs a reference computed with kernelTerms: true`);
  const result = (mismatch: DecodeMismatch | null, stats: Omit<DecodeComparison, 'ok' | 'message' | 'mismatch'>): DecodeComparison => {
    const summary =
      `${stats.rows} rows (${stats.lonelyRows} see no key): out max |err| ${stats.maxOutErr.toExponential(2)}, lse max |err| ${stats.maxLseErr.toExponential(2)}, ` +
      `cos diff ${stats.cosDiff.toExponential(2)}, worst error/bound ${stats.worstRatio.toFixed(3)}`;
    return { ok: mismatch === null, message: mismatch ? `${describeMismatch(name, mismatch)} [${summary}]` : `${name}: ${summary}`, mismatch, ...stats };
  };
  let nanOutputs = 0;
  let firstSpecial = -1;
  for (let k = 0; k < outLen; k++) {
    const v = fmt.value[got.outBits[k]];
    if (!Number.isFinite(v)) {
      if (Number.isNaN(v)) nanOutputs++;
      if (firstSpecial < 0) firstSpecial = k;
    }
  }
  let lonelyRows = 0;
  let maxOutErr = 0;
  let maxLseErr = 0;
  let worstRatio = 0;
  let worst: DecodeMismatch | null = null;
  let sxy = 0;
  let sxx = 0;
  const stats = () => ({ rows: ref.rows.length, lonelyRows, maxOutErr, maxLseErr, cosDiff: sxx < 1e-12 ? 0 : 1 - (2 * sxy) / sxx, worstRatio, nanOutputs });
  // ---- NaN/Inf masks first: the reference has NaN nowhere and ±Inf only as the lse of rows that see no key
  if (firstSpecial >= 0) {
    const c = firstSpecial % HEAD_DIM_V;
    const r = Math.floor(firstSpecial / HEAD_DIM_V);
    const row = { i: Math.floor(r / (sQ * hQ)), s: Math.floor(r / hQ) % sQ, h: r % hQ };
    const k = ref.rows.findIndex((x) => x.i === row.i && x.s === row.s && x.h === row.h);
    const v = fmt.value[got.outBits[firstSpecial]];
    return result({ what: 'out', row, channel: c, index: firstSpecial, got: v, ref: k >= 0 ? ref.out[k * HEAD_DIM_V + c] : NaN, bound: NaN, reason: `${nanOutputs} NaN element(s) in out; the reference has no NaN or ±Inf (NaN/Inf mask differs)` }, stats());
  }
  for (let x = 0; x < lseLen; x++) {
    if (Number.isNaN(got.lse[x]) || got.lse[x] === -Infinity) {
      const row = { i: Math.floor(x / (hQ * sQ)), h: Math.floor(x / sQ) % hQ, s: x % sQ };
      return result({ what: 'lse', row, channel: null, index: x, got: got.lse[x], ref: NaN, bound: NaN, reason: 'the reference lse is finite or +Infinity (NaN/Inf mask differs)' }, stats());
    }
  }
  for (let k = 0; k < ref.rows.length; k++) {
    const row = ref.rows[k];
    const li = (row.i * hQ + row.h) * sQ + row.s;
    if ((ref.lse[k] === Infinity) !== (got.lse[li] === Infinity)) {
      const reason = ref.lse[k] === Infinity ? 'the row sees no key: lse must be +Infinity (NaN/Inf mask differs)' : `the row sees ${ref.visible[k]} keys: lse must be finite (NaN/Inf mask differs)`;
      return result({ what: 'lse', row, channel: null, index: li, got: got.lse[li], ref: ref.lse[k], bound: NaN, reason }, stats());
    }
  }
  // ---- values
  for (let k = 0; k < ref.rows.length; k++) {
    const row = ref.rows[k];
    const li = (row.i * hQ + row.h) * sQ + row.s;
    const base = ((row.i * sQ + row.s) * hQ + row.h) * HEAD_DIM_V;
    const rl = ref.lse[k];
    if (rl === Infinity) {
      lonelyRows++;
      for (let c = 0; c < HEAD_DIM_V; c++) {
        const bits = got.outBits[base + c];
        const zero = tolerance === 'halfUlp' ? bits === 0 : fmt.value[bits] === 0;
        if (!zero) return result({ what: 'out', row, channel: c, index: base + c, got: fmt.value[bits], ref: 0, bound: NaN, reason: `the row sees no key: out must be ${tolerance === 'halfUlp' ? '+0 (bits 0)' : '0'}, got bits 0x${bits.toString(16)}` }, stats());
      }
      continue;
    }
    if (!Number.isFinite(rl)) {
      return result({ what: 'lse', row, channel: null, index: li, got: got.lse[li], ref: rl, bound: NaN, reason: 'the reference is NaN or ±Inf for a row that sees keys: the problem reads a poisoned slot' }, stats());
    }
    // lse
    const gl = got.lse[li];
    const lseErr = Math.abs(gl - rl);
    const lseBound = tolerance === 'halfUlp' ? Math.abs(rl) * 2 ** -24 * (1 + 1e-6) + 1e-12 : 2 * ref.kernel!.logitErr[k] + KERNEL_TOLERANCE.lseRel * (1 + Math.abs(rl));
    maxLseErr = Math.max(maxLseErr, lseErr);
    if (lseErr / lseBound > worstRatio) {
      worstRatio = lseErr / lseBound;
      if (worstRatio > 1) worst = { what: 'lse', row, channel: null, index: li, got: gl, ref: rl, bound: lseBound, reason: tolerance === 'halfUlp' ? 'half an fp32 ulp' : `2·logit error ${ref.kernel!.logitErr[k].toExponential(2)} + ${KERNEL_TOLERANCE.lseRel.toExponential(0)}·(1 + |lse|)` };
    }
    // out
    // P's rounding: twice what rounding the exact weights (max 1) gives, or — for a kernel that rounds P against a
    // reference row max up to 2^8 below the true one ('hopper': next_row_max) — at most the format's unit roundoff of
    // every weight, u·spread per element (|Σ(ŵ − w)·v| / Σw ≤ u·Σw|v| / Σw)
    const lowP = tolerance === 'kernel' ? 2 * ref.kernel!.lowPErr[k] : 0;
    const unitRoundoff = 2 ** -(fmt.mantBits + 1);
    const logit2 = tolerance === 'kernel' ? 2 * ref.kernel!.logitErr[k] : 0;
    for (let c = 0; c < HEAD_DIM_V; c++) {
      const g = fmt.value[got.outBits[base + c]];
      const r = ref.out[k * HEAD_DIM_V + c];
      if (!Number.isFinite(r)) {
        return result({ what: 'out', row, channel: c, index: base + c, got: g, ref: r, bound: NaN, reason: 'the reference is NaN or ±Inf: the problem reads a poisoned slot' }, stats());
      }
      sxy += g * r;
      sxx += g * g + r * r;
      const err = Math.abs(g - r);
      if (err > maxOutErr) maxOutErr = err;
      const bound = tolerance === 'halfUlp' ? halfUlp(r, fmt) * (1 + 1e-6) + 1e-12 : Math.max(lowP, unitRoundoff * ref.kernel!.spread[k * HEAD_DIM_V + c]) + KERNEL_TOLERANCE.outAbs + 2 * Math.abs(roundToFormat(r, fmt) - r) + logit2 * ref.kernel!.spread[k * HEAD_DIM_V + c];
      if (err / bound > worstRatio) {
        worstRatio = err / bound;
        if (worstRatio > 1) {
          const reason = tolerance === 'halfUlp' ? 'half an ulp' : `max(2·lowP error ${ref.kernel!.lowPErr[k].toExponential(2)}, u·spread ${(unitRoundoff * ref.kernel!.spread[k * HEAD_DIM_V + c]).toExponential(2)}) + 2·rounding + 2·logit error·spread + ${KERNEL_TOLERANCE.outAbs.toExponential(0)}`;
          worst = { what: 'out', row, channel: c, index: base + c, got: g, ref: r, bound, reason };
        }
      }
    }
  }
  const s = stats();
  if (!worst && tolerance === 'kernel' && s.cosDiff >= KERNEL_TOLERANCE.cosDiff) {
    return { ...s, ok: false, mismatch: null, message: `${name}: cos diff ${s.cosDiff.toExponential(2)} ≥ ${KERNEL_TOLERANCE.cosDiff} over ${s.rows} rows (every element within its bound; max out |err| ${s.maxOutErr.toExponential(2)})` };
  }
  return result(worst, s);
}
