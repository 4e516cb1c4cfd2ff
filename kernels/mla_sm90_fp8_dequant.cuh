// Dequantisation of FP8 cache chunks into a 128B-swizzled K buffer (16 e4m3 codes → 16 bf16 channels), shared by the
// Hopper kernel's FP8 producers (mla_sm90_fp8_producer.cuh). Uses `swizzled` of mla_sm90_math.cuh.
#pragma once
#include <cstdint>

#include "mla_config.h"
#include "mla_sm90_math.cuh"
#include "ptx.cuh"
#include "ptx_sm90.cuh"

namespace {

// 16 e4m3 codes (one 16-byte chunk) of token row `row` → 16 bf16 channels starting at channel `ch0` (a multiple of
// 16) of the K buffer at sKb: two swizzled 16-byte chunks of slab ch0 / 64.
__device__ __forceinline__ void store_dequantised(uint32_t sKb, int row, int ch0, uint4 raw, float scale) {
  const uint2 v0 = ptx::e4m3x4_to_bf16x4(raw.x, scale), v1 = ptx::e4m3x4_to_bf16x4(raw.y, scale);
  const uint2 v2 = ptx::e4m3x4_to_bf16x4(raw.z, scale), v3 = ptx::e4m3x4_to_bf16x4(raw.w, scale);
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
