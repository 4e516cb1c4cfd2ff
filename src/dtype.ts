// Element types and the 16-bit float conversions used everywhere (host side of every bf16/fp16 tensor).
// All conversions round to nearest, ties to even, and keep NaN, ±Inf, ±0 and subnormals.

export type DType = 'bf16' | 'fp16' | 'fp32' | 'int32' | 'uint8' | 'fp8e4m3';

export const DTYPES: readonly DType[] = ['bf16', 'fp16', 'fp32', 'int32', 'uint8', 'fp8e4m3'];

export function dtypeBytes(dtype: DType): number {
  switch (dtype) {
    case 'bf16':
    case 'fp16':
      return 2;
    case 'fp32':
    case 'int32':
      return 4;
    case 'uint8':
    case 'fp8e4m3':
      return 1;
  }
}

export function isFloat16Type(dtype: DType): dtype is 'bf16' | 'fp16' {
  return dtype === 'bf16' || dtype === 'fp16';
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * fp32 bits of `x` rounded to odd (truncate toward zero, set the last bit when inexact). A float64 rounded
 * to odd in fp32 and then to nearest-even in a 16-bit format rounds exactly as the float64 would directly
 * (fp32 keeps ≥ 2 more bits than bf16/fp16), so no double rounding near midpoints.
 */
function float32BitsRoundToOdd(x: number): number {
  f32[0] = x;
  if (f32[0] === x || Number.isNaN(x)) return u32[0];
  let bits = u32[0];
  if (Math.abs(f32[0]) > Math.abs(x)) bits -= 1; // rounded away from zero (maybe to Inf): step back toward it
  return (bits | 1) >>> 0;
}

/** Number → bf16 bits, round to nearest even; NaN stays a (quiet) NaN with its sign. */
export function float32ToBf16Bits(x: number): number {
  const bits = float32BitsRoundToOdd(x);
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x007fffff) !== 0) {
    return ((bits >>> 16) | 0x0040) & 0xffff; // quiet NaN, keep sign and top payload bits
  }
  const rounded = bits + 0x7fff + ((bits >>> 16) & 1);
  return (rounded >>> 16) & 0xffff;
}

export function bf16BitsToFloat32(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0];
}

/** Number → IEEE fp16 bits, round to nearest even, with overflow to Inf and fp16 subnormals. */
export function float32ToFp16Bits(x: number): number {
  const bits = float32BitsRoundToOdd(x);
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x007fffff;
  if (exp === 0xff) return mant !== 0 ? sign | 0x7e00 | (mant >>> 13) : sign | 0x7c00;
  const e = exp - 127 + 15; // rebased exponent
  if (e >= 0x1f) return sign | 0x7c00; // overflow → Inf
  if (e <= 0) {
    // fp16 subnormal (or zero): value = m · 2^-24 with m = full mantissa shifted right
    if (e < -10) return sign; // below half the smallest subnormal → ±0
    const full = mant | 0x00800000;
    const shift = 14 - e; // 24-bit mantissa → 10-bit subnormal field
    const halfway = 1 << (shift - 1);
    const rest = full & ((1 << shift) - 1);
    let m = full >>> shift;
    if (rest > halfway || (rest === halfway && (m & 1) === 1)) m += 1;
    return sign | m; // m may carry into the exponent field: that is the correct smallest normal
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h += 1; // may carry up to Inf: correct
  return sign | h;
}

export function fp16BitsToFloat32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) {
    if (mant === 0) return sign * Infinity;
    // keep the payload: build the fp32 NaN bit pattern
    u32[0] = ((h & 0x8000) << 16) | 0x7f800000 | (mant << 13);
    return f32[0];
  }
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

// fp8 e4m3, the OCP "e4m3fn" variant FlashMLA's fp8 KV cache uses: 1 sign, 4 exponent bits (bias 7) and 3
// mantissa bits; no infinities; 0x7f/0xff are NaN, so the largest finite value is 1.75 · 2^8 = 448.

/** Largest finite fp8 e4m3 value; larger magnitudes (and ±Infinity) saturate to it. */
export const FP8_E4M3_MAX = 448;

let fp8Table: Float64Array | null = null;

/** fp8 e4m3 code → value, all 256 of them (built once by plain arithmetic on the fields). */
export function fp8e4m3DecodeTable(): Float64Array {
  if (fp8Table) return fp8Table;
  const t = new Float64Array(256);
  for (let c = 0; c < 256; c++) {
    const sign = c & 0x80 ? -1 : 1;
    const exp = (c >>> 3) & 0xf;
    const mant = c & 7;
    if (exp === 0xf && mant === 7) t[c] = NaN;
    else if (exp === 0) t[c] = sign * mant * 2 ** -9; // subnormal: (m/8) · 2^-6
    else t[c] = sign * (8 + mant) * 2 ** (exp - 10); // (1 + m/8) · 2^(e-7)
  }
  return (fp8Table = t);
}

export function fp8e4m3BitsToFloat32(code: number): number {
  return fp8e4m3DecodeTable()[code & 0xff];
}

/**
 * Number → fp8 e4m3 code: round to nearest, ties to even, directly from the float64 (no double rounding);
 * magnitudes beyond 448 and ±Infinity saturate to ±448 (the format has no infinity); NaN → 0x7f; the sign
 * of zero is kept (values that round to zero from below give 0x80).
 */
export function float32ToFp8e4m3Bits(x: number): number {
  if (Number.isNaN(x)) return 0x7f;
  const sign = x < 0 || Object.is(x, -0) ? 0x80 : 0;
  const a = Math.abs(x);
  if (a >= FP8_E4M3_MAX) return sign | 0x7e;
  // codes 0x00…0x7e are increasing in value: find table[lo] ≤ a < table[hi] with hi = lo + 1
  const table = fp8e4m3DecodeTable();
  let lo = 0;
  let hi = 0x7e;
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (table[mid] <= a) lo = mid;
    else hi = mid;
  }
  // both differences are exact near a midpoint (Sterbenz: neighbouring values are within a factor 2)
  const below = a - table[lo];
  const above = table[hi] - a;
  return sign | (below < above || (below === above && (lo & 1) === 0) ? lo : hi);
}

/** fp8 e4m3 codes of numbers. */
export function encodeFp8e4m3(src: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = float32ToFp8e4m3Bits(src[i]);
  return out;
}

export function decodeFp8e4m3(src: Uint8Array): Float32Array {
  const table = fp8e4m3DecodeTable();
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = table[src[i]];
  return out;
}

/** Bits of a 16-bit float type from a number. */
export function toHalfBits(dtype: 'bf16' | 'fp16', x: number): number {
  return dtype === 'bf16' ? float32ToBf16Bits(x) : float32ToFp16Bits(x);
}

export function fromHalfBits(dtype: 'bf16' | 'fp16', h: number): number {
  return dtype === 'bf16' ? bf16BitsToFloat32(h) : fp16BitsToFloat32(h);
}

/** Round a number to the nearest value representable in `dtype` (returned as a JS number). */
export function roundTo(dtype: DType, x: number): number {
  switch (dtype) {
    case 'bf16':
    case 'fp16':
      return fromHalfBits(dtype, toHalfBits(dtype, x));
    case 'fp32':
      return Math.fround(x);
    case 'fp8e4m3':
      return fp8e4m3DecodeTable()[float32ToFp8e4m3Bits(x)];
    default:
      return x;
  }
}

export function encodeHalf(dtype: 'bf16' | 'fp16', src: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(src.length);
  const enc = dtype === 'bf16' ? float32ToBf16Bits : float32ToFp16Bits;
  for (let i = 0; i < src.length; i++) out[i] = enc(src[i]);
  return out;
}

export function decodeHalf(dtype: 'bf16' | 'fp16', src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  if (dtype === 'bf16') {
    const o32 = new Uint32Array(out.buffer);
    for (let i = 0; i < src.length; i++) o32[i] = src[i] << 16;
  } else {
    for (let i = 0; i < src.length; i++) out[i] = fp16BitsToFloat32(src[i]);
  }
  return out;
}

const decodeTables: { bf16?: Float64Array; fp16?: Float64Array } = {};

/** 16-bit pattern → value, all 65536 of them (built once): the fast path of every host-side decode loop. */
export function halfDecodeTable(dtype: 'bf16' | 'fp16'): Float64Array {
  let t = decodeTables[dtype];
  if (!t) {
    t = new Float64Array(65536);
    for (let i = 0; i < 65536; i++) t[i] = fromHalfBits(dtype, i);
    decodeTables[dtype] = t;
  }
  return t;
}
