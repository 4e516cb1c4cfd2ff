// The FP8 KV cache of FlashMLA's later versions, DeepSeek-V3.2 layout ("V32"), 656 bytes per token:
//   bytes [0, 512)    the 512 latent channels as fp8 e4m3 (OCP e4m3fn: bias 7, no infinities, NaN 0x7f/0xff),
//   bytes [512, 528)  four float32 scales (little-endian); scale j covers latent channels [128j, 128j + 128),
//   bytes [528, 656)  the 64 RoPE channels as 16-bit floats, copied bit for bit (bf16 for V3.2; an fp16 model's
//                     rows keep fp16 there, as FlashMLA's reference quantizer does: the bytes are read back in
//                     q's dtype).
// The writer is FlashMLA's reference quantizer (tests/quant.py at 9241ae3), to the bit:
//   scale_j = 2^ceil(log2(max(amax_j / 448, 1e-4)))   amax_j = max |x| over tile j, the division in float32
//   code    = e4m3(x / scale_j)                         round to nearest, ties to even
// A power-of-two scale makes x / scale exact and |x / scale| ≤ 448, so the e4m3 rounding never saturates on
// finite rows (it would saturate to ±448, never produce NaN). A tile holding NaN gets a NaN scale and NaN codes
// (0x7f); a tile holding ±Inf gets an infinite scale, so its finite values become ±0 and the infinities NaN —
// what the reference computes. The reader: x ≈ e4m3 · scale (exact in float64).

import { Tensor } from '../tensor.js';
import { fp8e4m3DecodeTable, float32ToFp8e4m3Bits, halfDecodeTable, isFloat16Type, toHalfBits } from '../dtype.js';
import { UnsupportedFeatureError } from '../errors.js';
import { FP8_BYTES_PER_TOKEN, FP8_NUM_TILES, FP8_ROPE_OFFSET, FP8_SCALES_OFFSET, FP8_TILE, HEAD_DIM_K, HEAD_DIM_V, ROPE_DIM } from '../mla/constants.js';
import { fmtValue } from '../util/fmt-value.js';
import { expectTensor, fmtShape } from '../mla/validate.js';

/** float32 of 1e-4: the reference clamps amax / 448 below at it, so the smallest scale is 2^-13. */
const MIN_SCALE_INV = Math.fround(1e-4);

/**
 * Scale of one 128-channel tile from its largest magnitude: the smallest power of two ≥ max(amax / 448, 1e-4)
 * (amax / 448 rounded to float32 first, as the reference does). NaN → NaN, +Infinity → +Infinity.
 */
export function fp8TileScale(amax: number): number {
  if (Number.isNaN(amax)) return NaN;
  if (amax === Infinity) return Infinity;
  const q = Math.max(Math.fround(amax / 448), MIN_SCALE_INV);
  let e = Math.ceil(Math.log2(q));
  // Math.log2 may be off by an ulp near powers of two: settle e exactly (2^e ≥ q > 2^(e-1))
  while (2 ** e < q) e++;
  while (2 ** (e - 1) >= q) e--;
  return 2 ** e;
}

let scratchView: DataView | null = null;
function viewOf(bytes: Uint8Array): DataView {
  if (!scratchView || scratchView.buffer !== bytes.buffer || scratchView.byteOffset !== bytes.byteOffset || scratchView.byteLength !== bytes.byteLength) scratchView = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return scratchView;
}

/**
 * Quantize one token into 656 bytes at `out[outOffset]`: `latent[latentOffset + c]` (c < 512, the values of a
 * 16-bit float row) and the RoPE bit patterns `ropeBits[ropeOffset + c]` (c < 64, copied as they are).
 */
export function quantizeFp8Row(latent: ArrayLike<number>, latentOffset: number, ropeBits: ArrayLike<number>, ropeOffset: number, out: Uint8Array, outOffset: number): void {
  const view = viewOf(out);
  for (let j = 0; j < FP8_NUM_TILES; j++) {
    const lo = latentOffset + j * FP8_TILE;
    let amax = 0;
    for (let c = 0; c < FP8_TILE; c++) {
      const a = Math.abs(latent[lo + c]);
      if (a > amax) amax = a;
      else if (Number.isNaN(a)) {
        amax = NaN; // as torch.max propagates it
        break;
      }
    }
    const scale = fp8TileScale(amax);
    view.setFloat32(outOffset + FP8_SCALES_OFFSET + 4 * j, scale, true);
    const o = outOffset + j * FP8_TILE;
    for (let c = 0; c < FP8_TILE; c++) out[o + c] = float32ToFp8e4m3Bits(latent[lo + c] / scale);
  }
  for (let c = 0; c < ROPE_DIM; c++) {
    const bits = ropeBits[ropeOffset + c];
    out[outOffset + FP8_ROPE_OFFSET + 2 * c] = bits & 0xff;
    out[outOffset + FP8_ROPE_OFFSET + 2 * c + 1] = (bits >>> 8) & 0xff;
  }
}

/**
 * Dequantize one token of 656 bytes at `bytes[offset]` into `out[outOffset …+576)` as float64: latent = e4m3 ·
 * scale (exact), RoPE decoded as `ropeDtype`.
 */
export function dequantizeFp8Row(bytes: Uint8Array, offset: number, ropeDtype: 'bf16' | 'fp16', out: Float64Array, outOffset: number): void {
  const view = viewOf(bytes);
  const codes = fp8e4m3DecodeTable();
  for (let j = 0; j < FP8_NUM_TILES; j++) {
    const scale = view.getFloat32(offset + FP8_SCALES_OFFSET + 4 * j, true);
    const b = offset + j * FP8_TILE;
    const o = outOffset + j * FP8_TILE;
    for (let c = 0; c < FP8_TILE; c++) out[o + c] = codes[bytes[b + c]] * scale;
  }
  const half = halfDecodeTable(ropeDtype);
  const r = offset + FP8_ROPE_OFFSET;
  for (let c = 0; c < ROPE_DIM; c++) out[outOffset + HEAD_DIM_V + c] = half[bytes[r + 2 * c] | (bytes[r + 2 * c + 1] << 8)];
}

function refuseCuda(argument: string, t: Tensor, what: string): void {
  if (t.backend !== 'cpu') {
    throw new UnsupportedFeatureError(argument, what, t.backend, `a host-side utility: pass a cpu tensor, e.g. ${argument}.to('cpu')`);
  }
}

/**
 * FP8 rows (uint8 [..., 656], the V3.2 layout) of bf16/fp16 K rows [..., 576] (latent ‖ RoPE), bit-identical to
 * FlashMLA's reference quantizer. Any rank and strides (last dim contiguous or not); the result is a new
 * contiguous cpu tensor. E.g. a whole bf16 cache [numBlocks, 64, 1, 576] → its FP8 cache [numBlocks, 64, 1, 656].
 */
export function quantizeKvFp8(k: Tensor): Tensor {
  expectTensor('k', k);
  if (!isFloat16Type(k.dtype)) throw new TypeError(`k: expected dtype bf16 or fp16, got ${k.dtype}`);
  if (k.shape.length < 1 || k.shape[k.shape.length - 1] !== HEAD_DIM_K) {
    throw new RangeError(`k: expected a last dimension of ${HEAD_DIM_K} channels (512 latent ‖ 64 RoPE), got shape ${fmtShape(k.shape)}`);
  }
  refuseCuda('k', k, 'FP8 quantisation (quantizeKvFp8)');
  const bits = k.toRaw() as Uint16Array;
  const rows = bits.length / HEAD_DIM_K;
  const table = halfDecodeTable(k.dtype);
  const values = new Float64Array(HEAD_DIM_V);
  const out = Tensor.empty([...k.shape.slice(0, -1), FP8_BYTES_PER_TOKEN], { dtype: 'uint8' });
  const bytes = out.data as Uint8Array;
  for (let r = 0; r < rows; r++) {
    const base = r * HEAD_DIM_K;
    for (let c = 0; c < HEAD_DIM_V; c++) values[c] = table[bits[base + c]];
    quantizeFp8Row(values, 0, bits, base + HEAD_DIM_V, bytes, r * FP8_BYTES_PER_TOKEN);
  }
  return out;
}

export interface DequantizeKvFp8Options {
  /** The 16-bit dtype of the RoPE part and of the result (default bf16). */
  dtype?: 'bf16' | 'fp16';
}

/**
 * K rows [..., 576] in `dtype` (default bf16) from FP8 rows uint8 [..., 656]: latent = e4m3 · scale rounded to
 * `dtype` (exact unless it overflows the dtype: fp16 values within 2^-5 of 65504 can round up past it, to ±Inf;
 * the decode itself reads the exact values), RoPE bits copied. Any rank and strides; a new contiguous cpu
 * tensor. Decoding with a bf16 cache made this way gives what decoding the FP8 cache gives (the oracle's definition).
 */
export function dequantizeKvFp8(kv: Tensor, opts: DequantizeKvFp8Options = {}): Tensor {
  expectTensor('kv', kv);
  if (kv.dtype !== 'uint8') throw new TypeError(`kv: expected dtype uint8 (FP8 rows of ${FP8_BYTES_PER_TOKEN} bytes), got ${kv.dtype}`);
  if (kv.shape.length < 1 || kv.shape[kv.shape.length - 1] !== FP8_BYTES_PER_TOKEN) {
    throw new RangeError(`kv: expected a last dimension of ${FP8_BYTES_PER_TOKEN} bytes (the FP8 layout), got shape ${fmtShape(kv.shape)}`);
  }
  const dtype = opts.dtype ?? 'bf16';
  if (dtype !== 'bf16' && dtype !== 'fp16') throw new TypeError(`dtype: expected 'bf16' or 'fp16', got ${fmtValue(dtype)}`);
  refuseCuda('kv', kv, 'FP8 dequantisation (dequantizeKvFp8)');
  const bytes = kv.toRaw() as Uint8Array;
  const rows = bytes.length / FP8_BYTES_PER_TOKEN;
  const out = Tensor.empty([...kv.shape.slice(0, -1), HEAD_DIM_K], { dtype });
  const bits = out.data as Uint16Array;
  const row = new Float64Array(HEAD_DIM_K);
  for (let r = 0; r < rows; r++) {
    const src = r * FP8_BYTES_PER_TOKEN;
    dequantizeFp8Row(bytes, src, dtype, row, 0);
    const dst = r * HEAD_DIM_K;
    for (let c = 0; c < HEAD_DIM_V; c++) bits[dst + c] = toHalfBits(dtype, row[c]);
    for (let c = 0; c < ROPE_DIM; c++) bits[dst + HEAD_DIM_V + c] = bytes[src + FP8_ROPE_OFFSET + 2 * c] | (bytes[src + FP8_ROPE_OFFSET + 2 * c + 1] << 8);
  }
  return out;
}

/**
 * cpu: quantize token t of cKv [T, 512] / kPe [T, 64] (bf16/fp16, any row strides) into slot slots[t] = page ·
 * pageSize + row of an FP8 cache uint8 [numPages, pageSize, 1, 656] (any page/row strides). Slots < 0 or past
 * the cache are skipped.
 */
export function scatterFp8Rows(kCache: Tensor, slots: ArrayLike<number>, cKv: Tensor, kPe: Tensor): void {
  const dst = kCache.data as Uint8Array;
  const a = cKv.data as Uint16Array;
  const p = kPe.data as Uint16Array;
  const table = halfDecodeTable(cKv.dtype as 'bf16' | 'fp16');
  const pageSize = kCache.shape[1];
  const capacity = kCache.shape[0] * pageSize;
  const [kb, kr] = kCache.strides;
  const values = new Float64Array(HEAD_DIM_V);
  const ropeBits = new Uint16Array(ROPE_DIM);
  for (let t = 0; t < slots.length; t++) {
    const s = slots[t];
    if (s < 0 || s >= capacity) continue;
    const base = kCache.offset + Math.floor(s / pageSize) * kb + (s % pageSize) * kr;
    const ca = cKv.offset + t * cKv.strides[0];
    const pa = kPe.offset + t * kPe.strides[0];
    for (let c = 0; c < HEAD_DIM_V; c++) values[c] = table[a[ca + c * cKv.strides[1]]];
    for (let c = 0; c < ROPE_DIM; c++) ropeBits[c] = p[pa + c * kPe.strides[1]];
    quantizeFp8Row(values, 0, ropeBits, 0, dst, base);
  }
}
