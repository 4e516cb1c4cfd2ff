// FlashMLA's benchmark arithmetic (benchmark/bench_flash_mla.py) and the roofline.
//
// Dense decode:
//   flops = s_q · Σseqlen · h_q · (576 + 512) · 2          (QKᵀ over 576 dims + PV over 512, 2 flop per FMA)
//   bytes = (Σseqlen · 576 + b · s_q · h_q · 576 + b · s_q · h_q · 512) · 2   (K cache + q + out, bf16)
//   over an FP8 cache (kv 'fp8'): the K cache term is Σseqlen · 656 (bytes per token of the V3.2 layout), q and
//   out stay 16-bit.
// Sparse decode (topk indices per query token, FP8 cache), as FlashMLA's sparse decode test counts it
// (tests/lib.py, count_flop_and_mem_vol_for_decode):
//   flops = 2 · b · s_q · h_q · topk · (576 + 512)          (every index counted, −1 included)
//   bytes = gathered · 656 + (b · s_q · h_q · 576 + b · s_q · h_q · 512) · 2
//   gathered = the distinct tokens the valid indices name (a token named by both query tokens of a request is
//   read once at best; FlashMLA counts the distinct index values too, its −1 as one more token, we don't).
//
// The roofline floor of a config is max(bytes / bandwidth, flops / peak): no kernel can be faster, so
// floor / measured ∈ (0, 1] says how close a kernel comes ("fraction of the roofline").

import { FP8_BYTES_PER_TOKEN, HEAD_DIM_K, HEAD_DIM_V } from '../mla/constants.js';

/** What the formulas need of a config. */
export interface ShapeLike {
  b: number;
  s_q: number;
  h_q: number;
  seqlens: readonly number[];
  /** KV cache format: 'fp8' (656 bytes per token); absent: 16-bit, 576 channels. */
  kv?: 'fp8';
  /** Sparse decode: indices per query token. */
  topk?: number;
}

export function sumSeqlens(seqlens: readonly number[]): number {
  let s = 0;
  for (const x of seqlens) s += x;
  return s;
}

/** FlashMLA's flop count (exact integers up to 2^53; the sweep's largest is ~5.8e11). */
export function decodeFlops(c: ShapeLike): number {
  return c.s_q * sumSeqlens(c.seqlens) * c.h_q * (HEAD_DIM_K + HEAD_DIM_V) * 2;
}

/** Bytes of one token of the K cache: 656 for the FP8 layout, 576 × `elemBytes` for a 16-bit one. */
export function kvBytesPerToken(c: Pick<ShapeLike, 'kv'>, elemBytes = 2): number {
  return c.kv === 'fp8' ? FP8_BYTES_PER_TOKEN : HEAD_DIM_K * elemBytes;
}

/** FlashMLA's byte count of a dense decode; `elemBytes` 2 for bf16/fp16 (q, out and a 16-bit cache). */
export function decodeBytes(c: ShapeLike, elemBytes = 2): number {
  const rows = c.b * c.s_q * c.h_q;
  return sumSeqlens(c.seqlens) * kvBytesPerToken(c, elemBytes) + (rows * HEAD_DIM_K + rows * HEAD_DIM_V) * elemBytes;
}

/** FlashMLA's flop count of a sparse decode: every one of the b · s_q · topk indices, valid or not. */
export function sparseFlops(c: Pick<ShapeLike, 'b' | 's_q' | 'h_q'> & { topk: number }): number {
  return 2 * c.b * c.s_q * c.h_q * c.topk * (HEAD_DIM_K + HEAD_DIM_V);
}

/** Bytes of a sparse decode that gathers `gatheredTokens` distinct tokens of the FP8 cache (+ q and out, 16-bit). */
export function sparseBytes(c: Pick<ShapeLike, 'b' | 's_q' | 'h_q'>, gatheredTokens: number, elemBytes = 2): number {
  const rows = c.b * c.s_q * c.h_q;
  return gatheredTokens * FP8_BYTES_PER_TOKEN + (rows * HEAD_DIM_K + rows * HEAD_DIM_V) * elemBytes;
}

/**
 * Tokens a sparse config gathers at most: per request min(topk, seqlen) per query token (every index valid and
 * no two query tokens naming the same token). The drawn indices decide the exact count (countGathered).
 */
export function maxGatheredTokens(c: Pick<ShapeLike, 's_q' | 'seqlens'> & { topk: number }): number {
  let n = 0;
  for (const s of c.seqlens) n += Math.min(c.topk, s) * c.s_q;
  return n;
}

/** Flops of any config: the sparse count when it has topk, FlashMLA's dense count otherwise. */
export function configFlops(c: ShapeLike): number {
  return c.topk !== undefined ? sparseFlops({ ...c, topk: c.topk }) : decodeFlops(c);
}

/**
 * Bytes of any config: dense by its cache format; sparse by the tokens gathered (`gatheredTokens`, from the
 * drawn indices; without it the most a draw can gather, maxGatheredTokens).
 */
export function configBytes(c: ShapeLike, gatheredTokens?: number): number {
  if (c.topk === undefined) return decodeBytes(c);
  return sparseBytes(c, gatheredTokens ?? maxGatheredTokens({ ...c, topk: c.topk }));
}

/** TFLOP/s for `flops` in `ms` milliseconds. */
export function tflops(flops: number, ms: number): number {
  return flops / (ms * 1e-3) / 1e12;
}

/** GB/s (10^9 bytes per second) for `bytes` in `ms` milliseconds. */
export function gbps(bytes: number, ms: number): number {
  return bytes / (ms * 1e-3) / 1e9;
}

/** Arithmetic intensity, flop per byte. */
export function intensity(flops: number, bytes: number): number {
  return flops / bytes;
}

export interface Ceilings {
  /** Memory bandwidth, GB/s. */
  bandwidthGBps: number;
  /** Compute peak, TFLOP/s; null when unknown (the floor is then the memory floor alone). */
  peakTflops: number | null;
}

export interface Roofline {
  /** Lowest possible time, ms. */
  floorMs: number;
  memoryMs: number;
  /** null when the peak is unknown. */
  computeMs: number | null;
  /** Which ceiling sets the floor. */
  bound: 'memory' | 'compute';
  /** Attainable TFLOP/s at this intensity: min(peak, bandwidth · intensity). */
  attainableTflops: number;
}

export function roofline(flops: number, bytes: number, c: Ceilings): Roofline {
  const memoryMs = (bytes / (c.bandwidthGBps * 1e9)) * 1e3;
  const computeMs = c.peakTflops === null ? null : (flops / (c.peakTflops * 1e12)) * 1e3;
  const bound = computeMs !== null && computeMs > memoryMs ? 'compute' : 'memory';
  const floorMs = bound === 'compute' ? (computeMs as number) : memoryMs;
  const memTflops = (c.bandwidthGBps * 1e9 * intensity(flops, bytes)) / 1e12;
  const attainableTflops = c.peakTflops === null ? memTflops : Math.min(c.peakTflops, memTflops);
  return { floorMs, memoryMs, computeMs, bound, attainableTflops };
}

/** Fraction of the roofline reached: floor / measured (1 = on the roof). */
export function rooflineFraction(flops: number, bytes: number, ms: number, c: Ceilings): number {
  return roofline(flops, bytes, c).floorMs / ms;
}

/** Intensity where the two ceilings meet (flop/byte); null without a peak. */
export function ridgeIntensity(c: Ceilings): number | null {
  return c.peakTflops === null ? null : (c.peakTflops * 1e12) / (c.bandwidthGBps * 1e9);
}

/** Median of a non-empty list (mean of the middle two for even lengths). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new RangeError('median: empty list');
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Summary of timings: median, min, max, and the relative interquartile spread. */
export function summarize(xs: readonly number[]): { median: number; min: number; max: number; iqrRel: number } {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.round(p * (s.length - 1))))];
  const med = median(s);
  return { median: med, min: s[0], max: s[s.length - 1], iqrRel: (q(0.75) - q(0.25)) / med };
}
