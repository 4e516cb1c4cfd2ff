// The small-row kernel's (mla_decode_sm90_small.cu) per-entry layout traits, its named-barrier numbering, the sparse
// entry's side area, and the walk over a request's blocks (Blocks) and over a warpgroup's blocks across items (the
// register-A datapath's BlockRef). Included by the kernel after its math headers (kWgThreads, the wgmma wrappers, Slice).
#pragma once
#include <cstdint>

#include "mla_config.h"
#include "mla_sm90_math.cuh"
#include "mla_work.cuh"
#include "ptx.cuh"
#include "ptx_wgmma.cuh"

namespace {

constexpr int kWgBarrier0 = 1;  // named barrier of warpgroup wg: kWgBarrier0 + wg (id 0 is the CTA's __syncthreads)
static_assert(SM90S_THREADS == 2 * kWgThreads, "two warpgroups");

// The shared-memory layout and the wgmmas of the kRows-row entries (the FP8 entry: 16 rows, its own layout).
template <int kRows>
struct Small;
template <>
struct Small<16> {
  static constexpr int kOffQ = SM90S_OFF_Q, kOffP0 = SM90S_OFF_P0, kOffX = SM90S_OFF_X, kOffMax = SM90S_OFF_MAX, kOffL = SM90S_OFF_L,
                       kOffM = SM90S_OFF_M, kOffBar = SM90S_OFF_BAR, kOffFlag = SM90S_OFF_FLAG, kRowSlab = SM90S_ROW_SLAB_BYTES;
  static __device__ __forceinline__ void s(float (&d)[8], uint64_t a, uint64_t b, int acc) { ptx::wgmma_m64n16k16_bf16_ss(d, a, b, acc); }
  static __device__ __forceinline__ void pv(float (&d)[8], uint64_t a, uint64_t b) { ptx::wgmma_m64n16k16_bf16_ss_ta(d, a, b); }
};
template <>
struct Small<32> {
  static constexpr int kOffQ = SM90S_R32_OFF_Q, kOffP0 = SM90S_R32_OFF_P0, kOffX = SM90S_R32_OFF_X, kOffMax = SM90S_R32_OFF_MAX, kOffL = SM90S_R32_OFF_L,
                       kOffM = SM90S_R32_OFF_M, kOffBar = SM90S_R32_OFF_BAR, kOffFlag = SM90S_R32_OFF_FLAG, kRowSlab = SM90S_R32_ROW_SLAB_BYTES;
  static __device__ __forceinline__ void s(float (&d)[16], uint64_t a, uint64_t b, int acc) { ptx::wgmma_m64n32k16_bf16_ss(d, a, b, acc); }
  static __device__ __forceinline__ void pv(float (&d)[16], uint64_t a, uint64_t b) { ptx::wgmma_m64n32k16_bf16_ss_ta(d, a, b); }
};
static_assert(SM90S_ROWS == 16 && SM90S_R32_ROWS == 32, "the entries' row counts");
// The sparse entry's side area: the 4 mbarriers, the fold flag and the Q row factors at SM90S_F8_OFF_QF (64 … 127),
// as the dense FP8 entry's, then from byte 128 the blocks' validity masks, per warpgroup two (by block parity) of four
// 16-bit words as uint32 (valid_mask's layout).
// Then at 192 the register-A entry's four "stage free" mbarriers (warpgroup x's stage s at 192 + 16 x + 8 s).
constexpr int kSparseSideBytes = 224;
constexpr int kSparseOffMask = 128;
constexpr int kSparseOffFree = 192;
static_assert(SM90S_F8_OFF_QF + 16 * 4 <= kSparseOffMask && kSparseOffMask + 2 * 2 * 16 <= kSparseSideBytes && kSparseSideBytes <= 512,
              "one side of the slack has ≥ 512 B");

// Request `req`'s blocks as this part sees them: the first, the count (uniform: broadcast so the compiler sees it) and
// the last block's tokens.
struct Blocks {
  int first, count, n_valid_last;
};
// The register-A datapath's cursor in a warpgroup's sequence of blocks over the part's items (block j of item req,
// j = wg, wg + 2, … < count; bt the item's block-table row from its first block); req past the part's last: none.
struct BlockRef {
  int req, j, count;
  const int* bt;
};
__device__ __forceinline__ Blocks blocks_of(const Slice& sl) {
  Blocks bk;
  bk.first = sl.start / PAGE_BLOCK_SIZE;  // start is a multiple of 64
  bk.count = __shfl_sync(0xffffffffu, sl.end_kv > sl.start ? (sl.end_kv - 1) / PAGE_BLOCK_SIZE - bk.first + 1 : 0, 0);
  bk.n_valid_last = sl.end_kv - (bk.first + bk.count - 1) * PAGE_BLOCK_SIZE;
  return bk;
}

}  // namespace
