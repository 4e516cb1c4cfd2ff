// The small-row kernel's FP8 fill (mla_decode_sm90_small.cu, entry mla_decode_sm90_small_fp8_bf16; level 3b of
// docs/perf-log.md's "Plan for session 7"): each math warpgroup fills and dequantises its own K blocks, no producer
// warpgroup, with the next block's raw bytes in flight while it computes with this one. Per warpgroup (mla_config.h
// SM90S_F8_*): a raw stage (one block's e4m3 bytes, two TMA boxes of 64 tokens × 256 B, on its "raw" mbarrier) and
// its K buffer (9 slabs of 64 tokens × 64 channels, 128B-swizzled, bf16), whose slab 8 takes the block's RoPE columns
// as bf16 (a TMA box, 128B swizzle, on its "RoPE" mbarrier). Per block:
//   every thread: its token's two scales from global memory before the raw wait (their latency hides behind it);
//   the 128 threads dequantise the stage into slabs 0–7 (not in place: no barrier until the end), fence.proxy.async,
//   warpgroup barrier — then the stage is free and the next block's raw bytes are requested into it;
//   the RoPE box of the next block goes out only after this block's P·V (slab 8 holds Pᵀ until then: the kernel).
// Thread k of the warpgroup owns token k / 2 and box k % 2 (channels 256 · (k % 2) … + 255: two scales).
// Tensor maps: the 'hopper' FP8 kernel's (mla_config.h, src/cuda/fp8-decode.ts fp8HopperTensorMapSpecs).
#pragma once
#include <cstdint>
#include <cuda.h>

#include "mla_config.h"
#include "mla_params.h"
#include "mla_sm90_fp8_dequant.cuh"
#include "mla_sm90_math.cuh"
#include "ptx.cuh"
#include "ptx_sm90.cuh"

namespace {

constexpr int kFp8WgThreads = 128;
static_assert(kFp8WgThreads == 2 * PAGE_BLOCK_SIZE, "two threads per token");
static_assert(SM90S_F8_RAW_BYTES == 2 * SM90_FP8_RAW_BOX_BYTES && SM90_FP8_RAW_BOX_BYTES == PAGE_BLOCK_SIZE * HEAD_DIM_V / 2, "a raw stage = one block's two boxes");
// Warpgroup barriers one block's dequantisation passes (the kernel's racecheck balancing counts them).
constexpr int kFp8DequantBarriers = 1;

// One thread: the raw e4m3 bytes of the block on `page` into the stage at sRaw, completing on `bar`.
__device__ __forceinline__ void fp8_request_raw(uint32_t sRaw, const CUtensorMap* raw_map, uint32_t bar, int page) {
  ptx::mbarrier_arrive_expect_tx(bar, SM90S_F8_RAW_BYTES);
  ptx::tma_load_3d(sRaw, raw_map, bar, 0, 0, page);
  ptx::tma_load_3d(sRaw + SM90_FP8_RAW_BOX_BYTES, raw_map, bar, HEAD_DIM_V / 2, 0, page);
}

// One thread: the bf16 RoPE columns of the block on `page` into slab 8 of the K buffer at sKb, completing on `bar`.
__device__ __forceinline__ void fp8_request_rope(uint32_t sKb, const CUtensorMap* rope_map, uint32_t bar, int page) {
  ptx::mbarrier_arrive_expect_tx(bar, SM90_SLAB_BYTES);
  ptx::tma_load_3d(sKb + (SM90_SLABS - 1) * SM90_SLAB_BYTES, rope_map, bar, 0, 0, page);
}

// This thread's two scales for the block on `page`: channels 256h … 256h + 127 and 256h + 128 … 256h + 255.
struct Fp8Scales {
  float lo, hi;
};
__device__ __forceinline__ Fp8Scales fp8_scales(const MlaDecodeParams& p, int page, int wtid) {
  const int t = wtid >> 1, h = wtid & 1;
  const float* sc = reinterpret_cast<const float*>(static_cast<const uint8_t*>(p.k_cache) + static_cast<int64_t>(page) * p.k_block_stride +
                                                   static_cast<int64_t>(t) * p.k_row_stride + FP8_SCALES_OFFSET);
  return {sc[2 * h], sc[2 * h + 1]};
}

// The landed raw block in the stage at sRaw → bf16 channels 0–511 in slabs 0–7 of the K buffer at sKb (slab 8, the
// RoPE, comes as bf16); tokens ≥ n_valid get zeros (NaN-filled slots past a sequence's end: P = 0 times NaN would
// still poison Oᵀ). Ends with the stores visible to wgmma and the warpgroup past them and past its reads of the stage
// (barrier `bar`, kFp8DequantBarriers passes).
// Chunk order: thread (t, h) takes its box's 16 chunks x = (i + k) mod 16 with k = (t & 1) | 2h | 2 (t & 2), so that
// the 8 threads of each quarter-warp (4 tokens × 2 boxes) read 8 different bank groups of the stage (row stride 256 B)
// and write 8 different ones of the swizzled slabs (chunk (2 (x mod 4) ^ t) mod 8): no bank conflicts.
__device__ __forceinline__ void fp8_dequantise_block(uint32_t sKb, uint32_t sRaw, const Fp8Scales& sc, int wtid, int n_valid, int bar) {
  const int t = wtid >> 1, h = wtid & 1;
  const int k = (t & 1) | (h << 1) | ((t & 2) << 1);
  const uint32_t row = sRaw + h * SM90_FP8_RAW_BOX_BYTES + t * (HEAD_DIM_V / 2);  // raw row t of box h
  const int ch_box = h * (HEAD_DIM_V / 2);
  if (t < n_valid) {
#pragma unroll
    for (int half = 0; half < 4; ++half) {  // 4 chunks in flight, then their stores
      uint4 rb[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) rb[i] = ptx::ld_shared_v4(row + 16 * ((4 * half + i + k) & 15));
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int x = (4 * half + i + k) & 15;
        store_dequantised(sKb, t, ch_box + 16 * x, rb[i], x < 8 ? sc.lo : sc.hi);
      }
    }
  } else {
#pragma unroll
    for (int i = 0; i < 16; ++i) store_dequantised_zero(sKb, t, ch_box + 16 * ((i + k) & 15));
  }
  ptx::fence_proxy_async();  // st.shared → wgmma reads
  ptx::named_barrier_sync(bar, kFp8WgThreads);
}

}  // namespace
