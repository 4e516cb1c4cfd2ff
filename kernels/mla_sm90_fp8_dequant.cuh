// Dequantisation of FP8 cache chunks into a 128B-swizzled K buffer (16 e4m3 codes → 16 bf16 channels), shared by the
// Hopper kernel's FP8 producers (mla_sm90_fp8_producer.cuh). Uses `swizzled` of mla_sm90_math.cuh.
#pragma once
#include <cstdint>

#include "mla_config.h"
#include "mla_sm90_math.cuh"
#include "ptx.cuh"
#include "ptx_sm90.cuh"

namespace {

// 16 bf16 channels (four bf16x2 words per half) → channels ch0 … ch0 + 15 of token row `row` of the K buffer at sKb
// (ch0 a multiple of 16): two swizzled 16-byte chunks of slab ch0 / 64.
__device__ __forceinline__ void store_channels16(uint32_t sKb, int row, int ch0, uint2 v0, uint2 v1, uint2 v2, uint2 v3) {
  const uint32_t slab = sKb + (ch0 / 64) * SM90_SLAB_BYTES;
  const int c = (ch0 % 64) / 8;
  ptx::st_shared_v4(slab + swizzled(row, c), make_uint4(v0.x, v0.y, v1.x, v1.y));
  ptx::st_shared_v4(slab + swizzled(row, c + 1), make_uint4(v2.x, v2.y, v3.x, v3.y));
}

// 16 e4m3 codes (one 16-byte chunk) of token row `row` → 16 bf16 channels starting at channel `ch0` (a multiple of
// 16) of the K buffer at sKb: two swizzled 16-byte chunks of slab ch0 / 64.
__device__ __forceinline__ void store_dequantised(uint32_t sKb, int row, int ch0, uint4 raw, float scale) {
  store_channels16(sKb, row, ch0, ptx::e4m3x4_to_bf16x4(raw.x, scale), ptx::e4m3x4_to_bf16x4(raw.y, scale),
                   ptx::e4m3x4_to_bf16x4(raw.z, scale), ptx::e4m3x4_to_bf16x4(raw.w, scale));
}
// The same for a power-of-two scale given as its bf16x2 multiplier (ptx::pow2_scale_multiplier, nonzero): no
// conversion unit, a third fewer instructions (ptx::e4m3x4_to_bf16x4_pow2), the same bits.
__device__ __forceinline__ void store_dequantised_pow2(uint32_t sKb, int row, int ch0, uint4 raw, uint32_t mul) {
  store_channels16(sKb, row, ch0, ptx::e4m3x4_to_bf16x4_pow2(raw.x, mul), ptx::e4m3x4_to_bf16x4_pow2(raw.y, mul),
                   ptx::e4m3x4_to_bf16x4_pow2(raw.z, mul), ptx::e4m3x4_to_bf16x4_pow2(raw.w, mul));
}
// A K scale as the dense producer's steps take it: the float, and its multiplier (0: not a power of two the fast path
// takes exactly); store() picks the path per chunk at compile time (kPow2), the step per thread at run time.
struct KScale {
  float scale;
  uint32_t mul;
};
__device__ __forceinline__ KScale k_scale(float scale) { return KScale{scale, ptx::pow2_scale_multiplier(scale)}; }
template <bool kPow2>
__device__ __forceinline__ void store_dequantised(uint32_t sKb, int row, int ch0, uint4 raw, KScale ks) {
  if constexpr (kPow2) store_dequantised_pow2(sKb, row, ch0, raw, ks.mul);
  else store_dequantised(sKb, row, ch0, raw, ks.scale);
}

// The same chunks written as zeros (a position that attends nothing: P = 0 must not meet a NaN in V).
__device__ __forceinline__ void store_dequantised_zero(uint32_t sKb, int row, int ch0) {
  const uint32_t slab = sKb + (ch0 / 64) * SM90_SLAB_BYTES;
  const int c = (ch0 % 64) / 8;
  ptx::st_shared_v4(slab + swizzled(row, c), make_uint4(0, 0, 0, 0));
  ptx::st_shared_v4(slab + swizzled(row, c + 1), make_uint4(0, 0, 0, 0));
}

}  // namespace
