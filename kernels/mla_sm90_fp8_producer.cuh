// The producer warpgroup of the Hopper decode kernel over the FP8 cache (mla_decode_sm90_fp8_bf16; layout and
// launch: mla_config.h). Included by mla_decode_sm90.cu after its helpers (it uses `swizzled`).
//
// It walks the same work items and K blocks as the math warpgroups and fills block j of an item into buffer j & 1,
// as the bf16 kernel's TMA does, so the math side waits on the same per-slab "full" mbarriers. Per block:
//   wait group A empty → TMA the 64 × 512 e4m3 bytes (two 256-byte boxes) into slabs 0–3 (the raw block is exactly
//   group A's size) → wait group B empty → TMA the bf16 RoPE columns into slab 8 (its full barrier counts the
//   bytes) → wait the raw bytes → dequantise channels 256–511 into slabs 4–7, arrive on their full barriers →
//   channels 128–255 into slabs 2–3 (the second box's, read by then) → channels 0–127 over the first box's bytes
//   in slabs 0–1 (read first, then a barrier), arrive.
// Thread t of the 128 owns token t / 2 and half t % 2 of each step's channels (one scale each). The math
// warpgroups release group A / B of a buffer on its "empty" mbarrier where the bf16 kernel would refill it.
#pragma once
#include <cstdint>

#include "mla_config.h"
#include "mla_params.h"
#include "mla_work.cuh"
#include "ptx.cuh"
#include "ptx_sm90.cuh"

namespace {

constexpr int kProducerSync = 8;  // named barrier of the producer's 128 threads (the kernel's own ids are 1–7)
constexpr int kProducerThreads = SM90_FP8_THREADS - SM90_THREADS;
static_assert(kProducerThreads == 2 * PAGE_BLOCK_SIZE, "two producer threads per token");

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

// bars_full: slab s of buffer b at bars_full + 8·(9b + s); bars_raw: buffer b at + 8b; bars_empty: group g of
// buffer b at + 8·(2b + g).
__device__ __forceinline__ void fp8_producer(const MlaDecodeParams& p, const PartWork& w, int m_block, uint32_t sK0, uint32_t sK1,
                                             uint32_t bars_full, uint32_t bars_raw, uint32_t bars_empty, const CUtensorMap* raw_map,
                                             const CUtensorMap* rope_map, int ptid) {
  const int t = ptid >> 1, h = ptid & 1;
  const int r_loc[2] = {0, 8};
  const RowSet rs = row_set(p, m_block, r_loc);  // only s_last counts here: the m-block's causal border (end_kv)
  const uint8_t* cache = static_cast<const uint8_t*>(p.k_cache);
  uint32_t fills0 = 0, fills1 = 0;  // completed fills of K0 / K1 (scalars: an array indexed by j & 1 lives in local memory)
#pragma unroll 1
  for (int req = w.begin_req; req <= w.end_req; ++req) {
    const Slice sl = slice_of(p, w, req, rs);
    const int first_block = sl.start / PAGE_BLOCK_SIZE;
    const int n_blocks = sl.end_kv > sl.start ? (sl.end_kv - 1) / PAGE_BLOCK_SIZE - first_block + 1 : 0;
    const int* bt = p.block_table + static_cast<int64_t>(req) * p.block_table_stride + first_block;
#pragma unroll 1
    for (int j = 0; j < n_blocks; ++j) {
      const int b = j & 1;
      const uint32_t k = b ? fills1 : fills0, sKb = b ? sK1 : sK0;
      const uint32_t full = bars_full + 8 * SM90_SLABS * b, raw = bars_raw + 8 * b, empty = bars_empty + 16 * b;
      const int page = ptx::ld_plain(bt + j);
      // this thread's scales (channels 256 + 128h…, 128…255, 0…127), loaded before the waits hide their latency
      const float* sc = reinterpret_cast<const float*>(cache + static_cast<int64_t>(page) * p.k_block_stride +
                                                       static_cast<int64_t>(t) * p.k_row_stride + FP8_SCALES_OFFSET);
      const float scale_b = sc[2 + h], scale_a1 = sc[1], scale_a0 = sc[0];
      if (k > 0) ptx::mbarrier_wait(empty, (k - 1) & 1);  // group A of the block before is consumed
      if (ptid == 0) {
        ptx::mbarrier_arrive_expect_tx(raw, 2 * SM90_FP8_RAW_BOX_BYTES);
        ptx::tma_load_3d(sKb, raw_map, raw, 0, 0, page);
        ptx::tma_load_3d(sKb + SM90_FP8_RAW_BOX_BYTES, raw_map, raw, HEAD_DIM_V / 2, 0, page);
      }
      if (k > 0) ptx::mbarrier_wait(empty + 8, (k - 1) & 1);  // group B (and the P tile aliasing K0's slab 8)
      if (ptid == 0) {
        ptx::mbarrier_arrive_expect_tx(full + 8 * (SM90_SLABS - 1), SM90_SLAB_BYTES);
        ptx::tma_load_3d(sKb + (SM90_SLABS - 1) * SM90_SLAB_BYTES, rope_map, full + 8 * (SM90_SLABS - 1), 0, 0, page);
      }
      ptx::mbarrier_wait(raw, k & 1);
      // Raw row t: bytes [0, 256) of the first box at sKb + 256t (slabs 0–1), [256, 512) of the second at
      // + 16384 + 256t (slabs 2–3). Three steps, each writing where no raw byte still to be read lies:
      // (B) channels 256 + 128h + 16c (second box) → slabs 4–7, 8 chunks per thread. Chunks in rotated order: the
      //     16 tokens of a warp then read 8 different bank groups instead of one.
      const uint32_t row0 = sKb + t * 256, row1 = row0 + SM90_FP8_RAW_BOX_BYTES;
#pragma unroll 1
      for (int i = 0; i < 8; ++i) {
        const int c = (i + t) & 7;
        store_dequantised(sKb, t, HEAD_DIM_V / 2 + 128 * h + 16 * c, ptx::ld_shared_v4(row1 + 128 * h + 16 * c), scale_b);
      }
      ptx::fence_proxy_async();  // st.shared → the math warpgroups' wgmma reads
      ptx::named_barrier_sync(kProducerSync, kProducerThreads);  // every read of the second box is done: slabs 2–3 free
      if (ptid == 0) {
#pragma unroll
        for (int s = SM90_GROUP_A_SLABS; s < SM90_SLABS - 1; ++s) ptx::mbarrier_arrive(full + 8 * s);
      }
      // (A1) channels 128 + 64h + 16c (first box, bytes 128…255) → slabs 2–3, 4 chunks per thread
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int c = (i + t) & 3;
        store_dequantised(sKb, t, 128 + 64 * h + 16 * c, ptx::ld_shared_v4(row0 + 128 + 64 * h + 16 * c), scale_a1);
      }
      // (A2) channels 64h + 16c (bytes 0…127) → slabs 0–1, over the first box: read, barrier, write
      uint4 raw_a0[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) raw_a0[i] = ptx::ld_shared_v4(row0 + 64 * h + 16 * ((i + t) & 3));
      ptx::named_barrier_sync(kProducerSync, kProducerThreads);
#pragma unroll
      for (int i = 0; i < 4; ++i) store_dequantised(sKb, t, 64 * h + 16 * ((i + t) & 3), raw_a0[i], scale_a0);
      ptx::fence_proxy_async();
      ptx::named_barrier_sync(kProducerSync, kProducerThreads);
      if (ptid == 0) {
#pragma unroll
        for (int s = 0; s < SM90_GROUP_A_SLABS; ++s) ptx::mbarrier_arrive(full + 8 * s);
      }
      if (b) fills1 = k + 1;
      else fills0 = k + 1;
    }
  }
}

}  // namespace
