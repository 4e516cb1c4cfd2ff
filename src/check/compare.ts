// Comparison of a decode's output with the float64 reference (src/check/reference.ts), shared by the tests and
// anything else that checks whole outputs: NaN/±Inf masks first, then FlashMLA's cos distance and FA3's bound.

import { roundTo, type DType } from '../dtype.js';

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
