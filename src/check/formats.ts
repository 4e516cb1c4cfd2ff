// The 16-bit float formats as the checks see them: every value computed from its bit fields by arithmetic,
// never through the library's own conversions (src/dtype.ts), so that a bug there cannot hide in both the
// decode and the reference it is checked against. Also the two error measures the comparisons need: half a
// unit in the last place, and rounding to nearest even.

export type HalfDType = 'bf16' | 'fp16';

export interface HalfFormat {
  name: HalfDType;
  /** Stored mantissa bits (bf16 7, fp16 10); the significand has mantBits + 1 bits. */
  mantBits: number;
  bias: number;
  /** Smallest normal exponent. */
  emin: number;
  /** Largest finite value. */
  maxFinite: number;
  /** The quiet NaN pattern the generators poison unused memory with. */
  nanBits: number;
  /** Value of every 16-bit pattern. */
  value: Float64Array;
}

function makeFormat(name: HalfDType, expBits: number, mantBits: number, nanBits: number): HalfFormat {
  const bias = (1 << (expBits - 1)) - 1;
  const expMax = (1 << expBits) - 1;
  const value = new Float64Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const e = (h >>> mantBits) & expMax;
    const m = h & ((1 << mantBits) - 1);
    if (e === expMax) value[h] = m ? NaN : sign * Infinity;
    else if (e === 0) value[h] = sign * m * 2 ** (1 - bias - mantBits);
    else value[h] = sign * (2 ** mantBits + m) * 2 ** (e - bias - mantBits);
  }
  const maxFinite = (2 ** (mantBits + 1) - 1) * 2 ** (expMax - 1 - bias - mantBits);
  return { name, mantBits, bias, emin: 1 - bias, maxFinite, nanBits, value };
}

export const HALF_FORMATS: Readonly<Record<HalfDType, HalfFormat>> = {
  bf16: makeFormat('bf16', 8, 7, 0x7fc0),
  fp16: makeFormat('fp16', 5, 10, 0x7e00),
};

const f64 = new Float64Array(1);
const f64High = new Uint32Array(f64.buffer, 4, 1); // little-endian: the word with sign and exponent
const POW2 = Float64Array.from({ length: 401 }, (_, k) => 2 ** (k - 200));

/** floor(log2 |x|) of a normal float64 (from its exponent field: exact, unlike Math.log2). */
function exponentOf(x: number): number {
  f64[0] = x;
  return ((f64High[0] >>> 20) & 0x7ff) - 1023;
}

/** The format's spacing (one ulp) at the magnitude of x; below the normals its fixed subnormal step. */
function ulpAt(x: number, fmt: HalfFormat): number {
  return POW2[Math.max(exponentOf(x), fmt.emin) - fmt.mantBits + 200];
}

/** Half a unit in the last place of the format at the magnitude of x: the largest error of a correct rounding. */
export function halfUlp(x: number, fmt: HalfFormat): number {
  return ulpAt(x, fmt) / 2;
}

/** x rounded to the nearest value of the format, ties to even; beyond the largest finite value: ±Infinity. */
export function roundToFormat(x: number, fmt: HalfFormat): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const a = Math.abs(x);
  const step = ulpAt(a, fmt);
  const y = a / step; // exact: a power-of-two division
  const floor = Math.floor(y);
  const frac = y - floor;
  const n = frac > 0.5 || (frac === 0.5 && floor % 2 === 1) ? floor + 1 : floor;
  const r = n * step;
  return Math.sign(x) * (r > fmt.maxFinite ? Infinity : r);
}
