// Dequantisation of FP8 cache chunks into a 128B-swizzled K buffer (16 e4m3 codes → 16 bf16 channels), shared by the
// Hopper kernel's FP8 producers (mla_sm90_fp8_producer.cuh) and the small-row kernel's FP8 entry
// (mla_sm90_small_fp8.cuh). Uses `swizzled` of mla_sm90_math.cuh.
#pragma once
#include <cstdint>

#include "mla_config.h"
#include "mla_sm90_math.cuh"
#include "ptx.cuh"
#include "ptx_sm90.cuh"

namespace {

// 16 e4m3 codes (one 16-byte chunk) of token row `row` → 16 bf16 channels starting at channel `ch0` (a multiple of
// 16) of the K buffer at sKb: two swizzled 16-byte chunks of slab ch0 / 64.
#ifdef MLA_FP8_FAST_DEQUANT
// bf16x2 bits (both lanes) of 2^112 · scale when scale is ±2^e with −126 ≤ e ≤ 15, else 0. Then a code's value times
// the scale is one bf16 multiply, exact but for its one rounding (e4m3x4_to_bf16x4_pow2).
__device__ __forceinline__ uint32_t pow2_factor(float scale) {
  const uint32_t b = __float_as_uint(scale), e = (b >> 23) & 0xffu;
  return (b & 0x7fffffu) == 0 && e >= 1 && e <= 142 ? (((b >> 16) & 0x8000u) | (e + 112) << 7) * 0x10001u : 0u;
}
// Whether a 16-byte chunk holds an e4m3 NaN code (S.1111.111): byte & 0x7f plus 1 carries into bit 7 only for 0x7f.
__device__ __forceinline__ bool e4m3_chunk_has_nan(uint4 r) {
  const uint32_t m = 0x7f7f7f7fu, one = 0x01010101u;
  return ((((r.x & m) + one) | ((r.y & m) + one) | ((r.z & m) + one) | ((r.w & m) + one)) & 0x80808080u) != 0;
}
// Four codes (no NaN among them) times the scale whose pow2_factor is `factor` (≠ 0), as bf16: one conversion per two
// codes (e4m3 ⊂ f16, exact) instead of two per code. An e4m3 value's f16 bits — sign 15, exponent 10–14, mantissa 7–9,
// bits 0–6 zero — moved right by 3 under the sign are the bf16 bits of value · 2^−112 (a normal bf16: e4m3 values are
// ≥ 2^−9, f16 normals), and the multiply by 2^112 · scale is the one rounding the f32 path (value · scale → bf16) makes.
__device__ __forceinline__ uint2 e4m3x4_to_bf16x4_pow2(uint32_t codes, uint32_t factor) {
  const uint2 h = ptx::e4m3x4_to_f16x4(codes);
  return make_uint2(ptx::mul_bf16x2(((h.x & 0x7fff7fffu) >> 3) | (h.x & 0x80008000u), factor),
                    ptx::mul_bf16x2(((h.y & 0x7fff7fffu) >> 3) | (h.y & 0x80008000u), factor));
}
#endif

__device__ __forceinline__ void store_dequantised(uint32_t sKb, int row, int ch0, uint4 raw, float scale) {
#ifdef MLA_FP8_FAST_DEQUANT
  uint2 v0, v1, v2, v3;
  const uint32_t factor = pow2_factor(scale);
  if (factor != 0 && !e4m3_chunk_has_nan(raw)) {
    v0 = e4m3x4_to_bf16x4_pow2(raw.x, factor), v1 = e4m3x4_to_bf16x4_pow2(raw.y, factor);
    v2 = e4m3x4_to_bf16x4_pow2(raw.z, factor), v3 = e4m3x4_to_bf16x4_pow2(raw.w, factor);
  } else {
    v0 = ptx::e4m3x4_to_bf16x4(raw.x, scale), v1 = ptx::e4m3x4_to_bf16x4(raw.y, scale);
    v2 = ptx::e4m3x4_to_bf16x4(raw.z, scale), v3 = ptx::e4m3x4_to_bf16x4(raw.w, scale);
  }
#else
  const uint2 v0 = ptx::e4m3x4_to_bf16x4(raw.x, scale), v1 = ptx::e4m3x4_to_bf16x4(raw.y, scale);
  const uint2 v2 = ptx::e4m3x4_to_bf16x4(raw.z, scale), v3 = ptx::e4m3x4_to_bf16x4(raw.w, scale);
#endif
  const uint32_t slab = sKb + (ch0 / 64) * SM90_SLAB_BYTES;
  const int c = (ch0 % 64) / 8;
  ptx::st_shared_v4(slab + swizzled(row, c), make_uint4(v0.x, v0.y, v1.x, v1.y));
  ptx::st_shared_v4(slab + swizzled(row, c + 1), make_uint4(v2.x, v2.y, v3.x, v3.y));
}

// The same chunks written as zeros (a position that attends nothing: P = 0 must not meet a NaN in V).
__device__ __forceinline__ void store_dequantised_zero(uint32_t sKb, int row, int ch0) {
  const uint32_t slab = sKb + (ch0 / 64) * SM90_SLAB_BYTES;
  const int c = (ch0 % 64) / 8;
  ptx::st_shared_v4(slab + swizzled(row, c), make_uint4(0, 0, 0, 0));
  ptx::st_shared_v4(slab + swizzled(row, c + 1), make_uint4(0, 0, 0, 0));
}

}  // namespace
