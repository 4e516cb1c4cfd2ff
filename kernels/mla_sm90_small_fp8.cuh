// The small-row kernel's FP8 fill (mla_decode_sm90_small.cu, entry mla_decode_sm90_small_fp8_bf16; level 3 of
// docs/perf-log.md's "Plan for session 7"): each math warpgroup fills and dequantises its own K block, no producer
// warpgroup. Per block, into the warpgroup's K buffer (9 slabs of 64 tokens × 64 channels, 128B-swizzled):
//   one thread: TMA of the raw e4m3 bytes as two boxes of 64 tokens × 256 B into slabs 0–3 (the raw block is exactly
//   those 32 KB) and of the bf16 RoPE columns into slab 8 (128B swizzle), all on the warpgroup's mbarrier;
//   every thread: its token's scales from global memory before the wait (their latency hides behind the TMA's);
//   after the wait, the 128 threads dequantise in place in the producer's order (mla_sm90_fp8_producer.cuh):
//   channels 256–511 (second box) → slabs 4–7, 128–255 (first box) → slabs 2–3 over the second box, 0–127 (first
//   box) → slabs 0–1 over the first box, each step with the barrier where it writes over raw bytes still to be read.
//   (One barrier fewer — all of A's 8 chunks read before a single barrier — spills 16–20 B under the bf16 path's
//   loop: ptxas -v, nvcc 13.0.)
// Thread k of the warpgroup owns token k / 2 and half k % 2 of each step's channels (one scale each), as the producer.
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
static_assert(2 * SM90_FP8_RAW_BOX_BYTES == 4 * SM90_SLAB_BYTES, "the raw e4m3 block fills slabs 0–3");
// Bytes one block's fill brings to the warpgroup's mbarrier: the two raw boxes and the RoPE slab.
constexpr uint32_t kFp8FillBytes = 2 * SM90_FP8_RAW_BOX_BYTES + SM90_SLAB_BYTES;
// Warpgroup barriers one block's dequantisation passes (the kernel's racecheck balancing counts them).
constexpr int kFp8DequantBarriers = 3;

// One thread: the raw bytes and the RoPE columns of the block on `page` into the K buffer at sKb, completing on `bar`.
__device__ __forceinline__ void fp8_request_block(uint32_t sKb, const CUtensorMap* raw_map, const CUtensorMap* rope_map, uint32_t bar, int page) {
  ptx::mbarrier_arrive_expect_tx(bar, kFp8FillBytes);
  ptx::tma_load_3d(sKb, raw_map, bar, 0, 0, page);
  ptx::tma_load_3d(sKb + SM90_FP8_RAW_BOX_BYTES, raw_map, bar, HEAD_DIM_V / 2, 0, page);
  ptx::tma_load_3d(sKb + (SM90_SLABS - 1) * SM90_SLAB_BYTES, rope_map, bar, 0, 0, page);
}

// This thread's three scales for the block on `page`: channels 256 + 128h … (step B), 128…255 (A1), 0…127 (A0).
struct Fp8Scales {
  float b, a1, a0;
};
__device__ __forceinline__ Fp8Scales fp8_scales(const MlaDecodeParams& p, int page, int wtid) {
  const int t = wtid >> 1, h = wtid & 1;
  const float* sc = reinterpret_cast<const float*>(static_cast<const uint8_t*>(p.k_cache) + static_cast<int64_t>(page) * p.k_block_stride +
                                                   static_cast<int64_t>(t) * p.k_row_stride + FP8_SCALES_OFFSET);
  return {sc[2 + h], sc[1], sc[0]};
}

// The landed raw block in sKb → bf16 channels 0–511 in slabs 0–7 (slab 8, the RoPE, came as bf16). Ends with the
// stores visible to wgmma and the warpgroup past them (barrier `bar`, kFp8DequantBarriers passes).
__device__ __forceinline__ void fp8_dequantise_block(uint32_t sKb, const Fp8Scales& sc, int wtid, int bar) {
  const int t = wtid >> 1, h = wtid & 1;
  // raw row t: bytes [0, 256) in the first box at sKb + 256t (slabs 0–1), [256, 512) in the second at + 16384 + 256t
  const uint32_t row0 = sKb + t * 256, row1 = row0 + SM90_FP8_RAW_BOX_BYTES;
  // (B) channels 256 + 128h + 16c (bytes 256 + 128h + 16c) → slabs 4–7, where no raw byte lies; its 8 chunks read
  // first (the producer's 4 at a time were register-bound there), in rotated order (the 16 tokens of a warp then
  // read 8 different bank groups)
  uint4 rb[8];
#pragma unroll
  for (int i = 0; i < 8; ++i) rb[i] = ptx::ld_shared_v4(row1 + 128 * h + 16 * ((i + t) & 7));
#pragma unroll
  for (int i = 0; i < 8; ++i) store_dequantised(sKb, t, HEAD_DIM_V / 2 + 128 * h + 16 * ((i + t) & 7), rb[i], sc.b);
  ptx::named_barrier_sync(bar, kFp8WgThreads);  // every read of the second box is done: slabs 2–3 are free
  // (A1) channels 128 + 64h + 16c (first box, bytes 128 + 64h + 16c) → slabs 2–3
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int c = (i + t) & 3;
    store_dequantised(sKb, t, 128 + 64 * h + 16 * c, ptx::ld_shared_v4(row0 + 128 + 64 * h + 16 * c), sc.a1);
  }
  // (A0) channels 64h + 16c (bytes 64h + 16c) → slabs 0–1, over the first box: read, barrier, write
  uint4 ra0[4];
#pragma unroll
  for (int i = 0; i < 4; ++i) ra0[i] = ptx::ld_shared_v4(row0 + 64 * h + 16 * ((i + t) & 3));
  ptx::named_barrier_sync(bar, kFp8WgThreads);
#pragma unroll
  for (int i = 0; i < 4; ++i) store_dequantised(sKb, t, 64 * h + 16 * ((i + t) & 3), ra0[i], sc.a0);
  ptx::fence_proxy_async();  // st.shared → wgmma reads
  ptx::named_barrier_sync(bar, kFp8WgThreads);
}

}  // namespace
