// An independent FP8 cache quantizer / dequantizer, written from the description of FlashMLA's reference
// quantizer (../shared/reference/flashmla-head.md, "The FP8 cache, DeepSeek-V3.2 layout"), sharing no code with
// src/kvcache/fp8.ts or src/dtype.ts:
//   per token 656 bytes: 512 e4m3 codes | 4 float32 scales (little-endian, one per 128 latent channels) |
//   64 RoPE values as 16-bit floats, unquantized;
//   scale = 2^ceil(log2(max(amax / 448, 1e-4))), found here as the smallest e ≥ −13 with 448 · 2^e ≥ amax
//   (exact float64 arithmetic; 2^-14 < 1e-4 < 2^-13, so the clamp is the floor e = −13);
//   code = e4m3(x / scale), round to nearest, ties to even, computed from the format's quantum.

import { HALF_FORMATS } from '../../src/check/formats.js';

/** 16-bit float pattern → value, by the bit fields (src/check/formats.ts: shares no code with src/dtype.ts). */
export function refHalfValue(dtype: 'bf16' | 'fp16', bits: number): number {
  return HALF_FORMATS[dtype].value[bits & 0xffff];
}

/** e4m3fn code → value from its fields. */
export function refE4m3Value(code: number): number {
  const sign = code & 0x80 ? -1 : 1;
  const e = (code >> 3) & 0xf;
  const m = code & 7;
  if (e === 15 && m === 7) return NaN;
  return e === 0 ? sign * m * 2 ** -9 : sign * (8 + m) * 2 ** (e - 10);
}

/** Value → e4m3fn code: round to nearest even on the quantum 2^(e−3) of its binade, saturate at 448, NaN → 0x7f. */
export function refE4m3Code(x: number): number {
  if (Number.isNaN(x)) return 0x7f;
  const sign = x < 0 || Object.is(x, -0) ? 0x80 : 0;
  const a = Math.min(Math.abs(x), 448);
  if (a === 0) return sign;
  let e = 0;
  while (2 ** e > a) e--;
  while (2 ** (e + 1) <= a) e++;
  e = Math.max(e, -6); // subnormals share the quantum of the lowest binade
  const quantum = 2 ** (e - 3);
  const n = a / quantum; // exact
  let k = Math.floor(n);
  const rest = n - k;
  if (rest > 0.5 || (rest === 0.5 && k % 2 === 1)) k++;
  if (k === 0) return sign;
  if (k === 16) {
    k = 8;
    e++;
  }
  if (k < 8) return sign | k; // subnormal (only in the lowest binade)
  return sign | ((e + 7) << 3) | (k - 8);
}

/** The tile scale for a tile whose largest magnitude is `amax`. */
export function refTileScale(amax: number): number {
  if (Number.isNaN(amax)) return NaN;
  if (amax === Infinity) return Infinity;
  let e = -13;
  while (448 * 2 ** e < amax) e++;
  return 2 ** e;
}

/** 656 bytes of one token: `latentBits` (512 patterns of `dtype`), `ropeBits` (64 patterns, copied). */
export function refQuantizeRow(dtype: 'bf16' | 'fp16', latentBits: ArrayLike<number>, ropeBits: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(656);
  const view = new DataView(out.buffer);
  for (let j = 0; j < 4; j++) {
    const xs = Array.from({ length: 128 }, (_, c) => refHalfValue(dtype, latentBits[128 * j + c]));
    const amax = xs.some(Number.isNaN) ? NaN : Math.max(...xs.map(Math.abs));
    const scale = refTileScale(amax);
    view.setFloat32(512 + 4 * j, scale, true);
    for (let c = 0; c < 128; c++) out[128 * j + c] = refE4m3Code(xs[c] / scale);
  }
  for (let c = 0; c < 64; c++) view.setUint16(528 + 2 * c, ropeBits[c], true);
  return out;
}

/** The 576 values of one token of 656 bytes at `bytes[offset]`: e4m3 · scale, RoPE read as `ropeDtype`. */
export function refDequantizeRow(bytes: Uint8Array, offset: number, ropeDtype: 'bf16' | 'fp16'): Float64Array {
  const out = new Float64Array(576);
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, 656);
  for (let c = 0; c < 512; c++) out[c] = refE4m3Value(bytes[offset + c]) * view.getFloat32(512 + 4 * Math.floor(c / 128), true);
  for (let c = 0; c < 64; c++) out[512 + c] = refHalfValue(ropeDtype, view.getUint16(528 + 2 * c, true));
  return out;
}
