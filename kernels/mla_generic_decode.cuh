// The generic split-KV decode (FlashMLA semantics, mma.sync tensor cores, sm_80+), shared by two kernel files:
//   mla_decode_generic.cu         — FlashMLA 9edee0c's layout: one KV head, d_qk 576 (the 'generic' kernel);
//   mla_decode_generic_layout.cu  — the later dense layouts: h_kv ≥ 1 KV heads (GQA grouping), d_qk 576 or 512.
// Templated on the element type, the head dim d_qk (K row width; V = the first 512 channels in both) and a row map
// (which query rows a CTA owns and where its K rows start), so that the first file's instantiation is the kernel it
// always was (its machine code is compared before/after any change here: scripts/compare-cubins.mjs).
//
// CTA (blockIdx.x = m-block of 64 folded query rows, blockIdx.y = SM part; the row map may use blockIdx.z) walks
// the work items of its metadata row. Per item: Q tile (64 × d_qk) in smem, K tiles of 32 tokens × d_qk
// double-buffered with cp.async (one page lookup per tile: 32 | 64), S = Q·Kᵀ, online softmax in the exp2 domain,
// P through smem, O += P·V (V = first 512 channels of the K tile, read with ldmatrix.trans).
//
// Warps and the row group's softmax: mla_generic_rowgroup.cuh (shared with generic-small and the FP8 kernel).
//
// A row map (RowMap below) supplies: rows() — the folded rows of the CTA's column of m-blocks (row f < rows());
// heads() — rows per query token (f = s · heads() + g); q_base(req) — q of request `req`'s row f = 0 (row f lives at
// + (f / heads()) · q_seq_stride + (f % heads()) · q_head_stride); k_base() — the K cache at the CTA's KV head;
// row_set() — the thread's two rows as output rows (mla_work.cuh RowSet: r = s · h_q + h, q_rows for padding).
#pragma once
#include <cstdint>

#include "mla_config.h"
#include "mla_generic_common.cuh"
#include "mla_generic_rowgroup.cuh"
#include "mla_params.h"
#include "mla_work.cuh"
#include "ptx.cuh"

namespace mla {

// Tile sizes and the dynamic shared memory of the generic kernel for K rows of kHeadDimK channels.
template <int kHeadDimK>
struct GenericShape {
  static constexpr int kQkPitch = kHeadDimK + GEN_PAD;                 // smem row of Q and K (elements; odd × 16 B)
  static constexpr int kChunksPerRow = kHeadDimK * 2 / 16;             // 16-byte chunks per Q / K row
  static constexpr int kQChunkIters = GEN_BLOCK_M * kChunksPerRow / GEN_THREADS;
  static constexpr int kKChunkIters = GEN_BLOCK_N * kChunksPerRow / GEN_THREADS;
  static constexpr int kKSteps = kHeadDimK / 16;                       // k-steps of S = Q·Kᵀ
  static constexpr int kSqBytes = GEN_BLOCK_M * kQkPitch * 2;
  static constexpr int kSkBytes = GEN_BLOCK_N * kQkPitch * 2;          // per stage
  static constexpr int kSmemBytes = kSqBytes + 2 * kSkBytes + GEN_SP_BYTES + GEN_SRED_BYTES + GEN_SL_BYTES;
  static_assert(kHeadDimK % 16 == 0 && kHeadDimK >= HEAD_DIM_V, "whole k-steps; V = the first 512 channels");
  static_assert((kQkPitch * 2 / 16) % 2 == 1, "an odd number of 16-byte chunks per smem row: no ldmatrix bank conflicts");
  static_assert(GEN_BLOCK_M * kChunksPerRow % GEN_THREADS == 0 && GEN_BLOCK_N * kChunksPerRow % GEN_THREADS == 0, "");
  static_assert(kSmemBytes <= 163 * 1024, "must fit A100 (sm_80) opt-in shared memory");
};
static_assert(GenericShape<HEAD_DIM_K>::kQkPitch == GEN_QK_PITCH && GenericShape<HEAD_DIM_K>::kSqBytes == GEN_SQ_BYTES &&
                  GenericShape<HEAD_DIM_K>::kSkBytes == GEN_SK_BYTES && GenericShape<HEAD_DIM_K>::kSmemBytes == GEN_SMEM_BYTES,
              "d_qk 576 is mla_config.h's generic kernel");
static_assert(GenericShape<HEAD_DIM_K_MODEL1>::kSmemBytes == GEN_D512_SMEM_BYTES, "HOST mirrors GEN_D512_SMEM_BYTES");

// FlashMLA 9edee0c's rows: one KV head, so a CTA's rows are all q_rows = s_q · h_q folded rows of a request.
struct AllHeadsRows {
  const MlaDecodeParams& p;
  __device__ __forceinline__ int rows() const { return p.q_rows; }
  __device__ __forceinline__ int heads() const { return p.h_q; }
  template <typename T>
  __device__ __forceinline__ const T* q_base(int req) const {
    return static_cast<const T*>(p.q) + static_cast<int64_t>(req) * p.q_batch_stride;
  }
  template <typename T>
  __device__ __forceinline__ const T* k_base() const { return static_cast<const T*>(p.k_cache); }
  __device__ __forceinline__ RowSet row_set(int m_block, const int (&r_loc)[2]) const { return mla::row_set(p, m_block, r_loc); }
};

namespace generic {

static_assert(GEN_BLOCK_M == 64 && GEN_BLOCK_N == 32 && GEN_WARPS == 8, "warp layout below assumes 4 × 2 warps, 64 × 32 tiles");

// Q rows [m_block·64, +64) of request `req` → sQ; rows ≥ rows() are zero-filled and never read from global.
template <typename T, int kHeadDimK, class RowMap>
__device__ __forceinline__ void load_q_tile(const MlaDecodeParams& p, const RowMap& rows, uint32_t sq, int req, int m_block, int tid) {
  using Shape = GenericShape<kHeadDimK>;
  const T* qb = rows.template q_base<T>(req);
#pragma unroll 1  // once per work item; unrolled, its runtime divisions by heads() (18 at d_qk 576) crowd out the registers
  for (int k = 0; k < Shape::kQChunkIters; ++k) {
    const int idx = tid + k * GEN_THREADS;
    const int row = idx / Shape::kChunksPerRow, chunk = idx % Shape::kChunksPerRow;
    const int r = m_block * GEN_BLOCK_M + row;
    const bool ok = r < rows.rows();
    const T* src = static_cast<const T*>(p.q);  // valid dummy address for the zero-fill case
    if (ok) src = qb + static_cast<int64_t>(r / rows.heads()) * p.q_seq_stride + static_cast<int64_t>(r % rows.heads()) * p.q_head_stride + chunk * 8;
    ptx::cp_async_16(sq + (row * Shape::kQkPitch + chunk * 8) * 2, src, ok ? 16 : 0);
  }
}

// Tokens [t0, t0 + 32) (inside page `page`) → one K stage. Tokens ≥ end_kv are zero-filled without touching
// global memory: their cache slots may hold NaN, and 0 · NaN would poison O through the V operand.
template <typename T, int kHeadDimK, class RowMap>
__device__ __forceinline__ void load_k_tile(const MlaDecodeParams& p, const RowMap& rows, uint32_t sk, int t0, int page, int end_kv, int tid) {
  using Shape = GenericShape<kHeadDimK>;
  const T* kb = rows.template k_base<T>() + static_cast<int64_t>(page) * p.k_block_stride +
                static_cast<int64_t>(t0 % PAGE_BLOCK_SIZE) * p.k_row_stride;
#pragma unroll 1  // runs while 128 O accumulators are live: keep the address math out of the register peak
  for (int k = 0; k < Shape::kKChunkIters; ++k) {
    const int idx = tid + k * GEN_THREADS;
    const int tok = idx / Shape::kChunksPerRow, chunk = idx % Shape::kChunksPerRow;
    const bool ok = t0 + tok < end_kv;
    const T* src = static_cast<const T*>(p.k_cache);
    if (ok) src = kb + static_cast<int64_t>(tok) * p.k_row_stride + chunk * 8;
    ptx::cp_async_16(sk + (tok * Shape::kQkPitch + chunk * 8) * 2, src, ok ? 16 : 0);
  }
}

template <typename T, int kHeadDimK, class RowMap>
__device__ __forceinline__ void decode_kernel(const MlaDecodeParams& p, const RowMap& rows) {
  using Shape = GenericShape<kHeadDimK>;
  constexpr int kPitch = Shape::kQkPitch;
  extern __shared__ __align__(128) uint8_t smem[];
  const uint32_t sQ = ptx::smem_addr(smem);
  const uint32_t sK = sQ + Shape::kSqBytes;  // 2 stages of Shape::kSkBytes
  const uint32_t sP = sK + 2 * Shape::kSkBytes;
  const uint32_t sRed = sP + GEN_SP_BYTES;
  const uint32_t sL = sRed + GEN_SRED_BYTES;

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int rg = warp >> 1, half = warp & 1;
  const int m_block = blockIdx.x;

  // Everything below may depend on the previous kernel (metadata, q, kv cache): wait first (sm_90 PDL).
  ptx::grid_dep_wait();
  const PartWork w = load_part_work(p, blockIdx.y);
  if (w.begin_pos >= p.b) return;  // idle part

  const RowGroup grp(sRed, sL, warp, lane);  // this thread's two rows: fragment rows g and g+8 of its row group
  const RowSet rs = rows.row_set(m_block, grp.r_loc);

  // Per-lane ldmatrix addresses (bytes). A operands (Q, P): lane l → row l%16, column (l/16)·8.
  // B from K (non-trans, [token][channel]): lane l → token (l%8) + (l/16)·8, channel ((l/8)%2)·8.
  // B from V (trans): lane l → token l%16, channel (l/16)·8.
  const uint32_t q_a = sQ + ((rg * 16 + (lane & 15)) * kPitch + (lane >> 4) * 8) * 2;
  const uint32_t k_b = ((half * 16 + (lane & 7) + (lane >> 4) * 8) * kPitch + ((lane >> 3) & 1) * 8) * 2;
  const uint32_t p_a = sP + ((rg * 16 + (lane & 15)) * GEN_P_PITCH + (lane >> 4) * 8) * 2;
  const uint32_t v_b = ((lane & 15) * kPitch + half * (HEAD_DIM_V / 2) + (lane >> 4) * 8) * 2;
  const float scale_log2 = p.scale_softmax_log2;

  for (int pos = w.begin_pos; pos <= w.end_pos; ++pos) {
    const int req = request_at(p, w, pos);
    const Slice sl = slice_of(p, w, pos, req, rs);
    const int start = sl.start, end_kv = sl.end_kv;
    const int n_tiles = end_kv > start ? (end_kv - start + GEN_BLOCK_N - 1) / GEN_BLOCK_N : 0;
    const int* bt = p.block_table + static_cast<int64_t>(req) * p.block_table_stride;

    __syncthreads();  // every warp is done with the previous item's sQ / sK / sP / sL
    if (n_tiles > 0) {
      // start < end_kv ≤ end_token ≤ seqlen: the page of `start` is a real block_table entry.
      load_q_tile<T, kHeadDimK>(p, rows, sQ, req, m_block, tid);
      load_k_tile<T, kHeadDimK>(p, rows, sK, start, ptx::ld_plain(bt + start / PAGE_BLOCK_SIZE), end_kv, tid);
      ptx::cp_async_commit();
    }

    float o[kOTiles][4];
    zero_o(o);
    float row_max[2] = {kMaxInit, kMaxInit};  // log2-scaled units
    float row_sum[2] = {0.f, 0.f};            // this thread's partial sum over its columns

    for (int it = 0; it < n_tiles; ++it) {
      const int t0 = start + it * GEN_BLOCK_N;
      const bool has_next = it + 1 < n_tiles;
      // Page of the next tile (t0 + 32 < end_kv ≤ end_token: a real entry); its latency overlaps the wait.
      const int next_page = has_next ? ptx::ld_plain(bt + (t0 + GEN_BLOCK_N) / PAGE_BLOCK_SIZE) : 0;
      ptx::cp_async_wait_all();
      __syncthreads();  // tile `it` (and Q) visible; all warps finished PV on the other stage
      if (has_next) {
        load_k_tile<T, kHeadDimK>(p, rows, sK + ((it + 1) & 1) * Shape::kSkBytes, t0 + GEN_BLOCK_N, next_page, end_kv, tid);
        ptx::cp_async_commit();
      }
      const uint32_t k_stage = sK + (it & 1) * Shape::kSkBytes;

      float s[2][4];  // S = Q·Kᵀ: 16 rows × 16 tokens per warp
      scores_2tiles<T, Shape::kKSteps>(s, q_a, k_stage + k_b);
      float mx[2];
      grp.mask_scale(s, mx, t0, sl.row_end, scale_log2, [](int, int) { return true; });
      grp.softmax<T, 2, GEN_P_PITCH>(s, mx, sP, row_max, row_sum, o);
      add_pv<T, GEN_BLOCK_N / 16, kPitch>(o, p_a, k_stage + v_b);  // P 16 × 32, V 32 tokens × this half's 256 columns
    }

    // ---- epilogue ------------------------------------------------------------------------------------------
    if (pos == w.end_pos) ptx::grid_dep_launch_dependents();  // no more work to start: let combine launch
    grp.publish_row_sums(row_sum);
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      store_row<T, kOTiles>(p, req, sl, rs, h, reinterpret_cast<const float(&)[4 * kOTiles]>(o), grp.row_sum_total(h), row_max[h],
                            half * (HEAD_DIM_V / 2) + grp.tq * 2, half == 0 && grp.tq == 0);
    }
  }
}

}  // namespace generic
}  // namespace mla
