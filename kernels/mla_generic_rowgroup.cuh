// The per-tile math of a row group in the portable mma.sync decodes (mla_generic_decode.cuh: 'generic' and the layout
// kernel; mla_decode_generic_small.cu; mla_decode_fp8.cu), shared so that the three walk one softmax.
//
// Warps: warp w = 2·rg + half. Row group rg owns rows rg·16 … rg·16+15 of the m-block; this thread holds rows g and
// g+8 (r_loc). For S the two warps of a row group split the tile's tokens (kSTiles n8 tiles each: half·8·kSTiles …);
// for O they split the 512 output columns (half·256 …): 32 n8 tiles × 4 = 128 fp32 accumulators per thread. The two
// halves exchange row maxima (sRed), P (sP) and row sums (sL) behind a 64-thread named barrier (id 1 + rg).
// S fragment element s[j][2h+e]: row g+8h, token half·8·kSTiles + 8j + 2tq + e of the tile.
#pragma once
#include <cstdint>

#include "mla_config.h"
#include "mla_generic_common.cuh"
#include "ptx.cuh"

namespace mla {
namespace generic {

constexpr int kOTiles = HEAD_DIM_V / 2 / 8;                                  // 32 n8-tiles per warp
constexpr float kMaxInit = -1e30f;  // finite initial row max: exp2(-inf - kMaxInit) = 0, never inf - inf

// One thread's view of its row group: where the exchanges live and which rows and columns are its own.
struct RowGroup {
  uint32_t sRed;  // float [2 halves][64 rows]: row max exchange
  uint32_t sL;    // float [2 halves][64 rows]: row sum exchange
  int r_loc[2];   // the thread's two rows in the m-block: rg·16 + g, + 8
  int half, tq, bar_id;

  __device__ __forceinline__ RowGroup(uint32_t s_red, uint32_t s_l, int warp, int lane)
      : sRed(s_red), sL(s_l), r_loc{(warp >> 1) * 16 + (lane >> 2), (warp >> 1) * 16 + (lane >> 2) + 8},
        half(warp & 1), tq(lane & 3), bar_id(1 + (warp >> 1)) {}

  // Scores → log2 units: s · scale where row h attends the column (its token t0 + column < row_end[h] and
  // `column_ok(j, e)`, e.g. a sparse index that was valid), −inf elsewhere; mx = this thread's row maxima.
  template <int kSTiles, class ColumnOk>
  __device__ __forceinline__ void mask_scale(float (&s)[kSTiles][4], float (&mx)[2], int t0, const int (&row_end)[2],
                                             float scale_log2, ColumnOk column_ok) const {
    mx[0] = mx[1] = -INFINITY;
#pragma unroll
    for (int j = 0; j < kSTiles; ++j)
#pragma unroll
      for (int h = 0; h < 2; ++h)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const int t = t0 + half * 8 * kSTiles + j * 8 + tq * 2 + e;
          const float x = column_ok(j, e) && t < row_end[h] ? s[j][2 * h + e] * scale_log2 : -INFINITY;
          s[j][2 * h + e] = x;
          mx[h] = fmaxf(mx[h], x);
        }
  }

  // Online softmax over one tile: both halves derive the same new row max (hence the same rescale factor), write
  // their P columns (q's dtype) to sP, update the row sums and rescale O. Returns with the partner's P in sP.
  template <typename T, int kSTiles, int kPPitch>
  __device__ __forceinline__ void softmax(float (&s)[kSTiles][4], float (&mx)[2], uint32_t sP, float (&row_max)[2],
                                          float (&row_sum)[2], float (&o)[kOTiles][4]) const {
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 1));
      mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 2));
    }
    if (tq == 0) {
      ptx::st_shared_f32(sRed + (half * GEN_BLOCK_M + r_loc[0]) * 4, mx[0]);
      ptx::st_shared_f32(sRed + (half * GEN_BLOCK_M + r_loc[1]) * 4, mx[1]);
    }
    ptx::named_barrier_sync(bar_id, 64);
    float alpha[2];
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const float other = ptx::ld_shared_f32(sRed + ((half ^ 1) * GEN_BLOCK_M + r_loc[h]) * 4);
      const float m_new = fmaxf(row_max[h], fmaxf(mx[h], other));  // finite (≥ kMaxInit)
      alpha[h] = ptx::exp2_approx(row_max[h] - m_new);
      row_max[h] = m_new;
    }
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      float sum = 0.f;
#pragma unroll
      for (int j = 0; j < kSTiles; ++j) {
        const float p0 = ptx::exp2_approx(s[j][2 * h] - row_max[h]);  // masked: exp2(-inf) = 0
        const float p1 = ptx::exp2_approx(s[j][2 * h + 1] - row_max[h]);
        sum = kSTiles == 1 ? p0 + p1 : sum + (p0 + p1);  // (one tile: no 0 + x, which ptxas keeps)
        const int col = half * 8 * kSTiles + j * 8 + tq * 2;
        ptx::st_shared_u32(sP + (r_loc[h] * kPPitch + col) * 2, ElemOps<T>::pack2(p0, p1));
      }
      row_sum[h] = row_sum[h] * alpha[h] + sum;
    }
#pragma unroll
    for (int j = 0; j < kOTiles; ++j) {
      o[j][0] *= alpha[0];
      o[j][1] *= alpha[0];
      o[j][2] *= alpha[1];
      o[j][3] *= alpha[1];
    }
    ptx::named_barrier_sync(bar_id, 64);  // the partner's P columns are in sP
  }

  // After the last tile: this thread's column sums → sL, both halves' after the barrier (row_sum_total).
  __device__ __forceinline__ void publish_row_sums(float (&row_sum)[2]) const {
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      row_sum[h] += __shfl_xor_sync(0xffffffffu, row_sum[h], 1);
      row_sum[h] += __shfl_xor_sync(0xffffffffu, row_sum[h], 2);
    }
    if (tq == 0) {
      ptx::st_shared_f32(sL + (half * GEN_BLOCK_M + r_loc[0]) * 4, row_sum[0]);
      ptx::st_shared_f32(sL + (half * GEN_BLOCK_M + r_loc[1]) * 4, row_sum[1]);
    }
    ptx::named_barrier_sync(bar_id, 64);
  }
  // Row h's sum L over both halves' columns (after publish_row_sums).
  __device__ __forceinline__ float row_sum_total(int h) const {
    return ptx::ld_shared_f32(sL + r_loc[h] * 4) + ptx::ld_shared_f32(sL + (GEN_BLOCK_M + r_loc[h]) * 4);
  }
};

// O += P·V over kKSteps16 k16 steps of tokens: P from sP (A, ldmatrix at p_a), V the first 512 channels of the K
// stage (B, ldmatrix.trans at v_b: this half's 256 columns), rows kKPitch elements apart.
template <typename T, int kKSteps16, int kKPitch>
__device__ __forceinline__ void add_pv(float (&o)[kOTiles][4], uint32_t p_a, uint32_t v_b) {
#pragma unroll
  for (int kk = 0; kk < kKSteps16; ++kk) {
    uint32_t a[4];
    ptx::ldmatrix_x4(a, p_a + kk * 32);
#pragma unroll
    for (int nt = 0; nt < kOTiles / 2; ++nt) {
      uint32_t b[4];
      ptx::ldmatrix_x4_trans(b, v_b + kk * 16 * kKPitch * 2 + nt * 32);
      ElemOps<T>::mma(o[2 * nt], a, b[0], b[1]);
      ElemOps<T>::mma(o[2 * nt + 1], a, b[2], b[3]);
    }
  }
}

// S = Q·Kᵀ for 16 rows × 16 tokens (two n8 tiles) over kKSteps k16 steps: Q (A) at q_a, K (B, non-trans) at k_b.
template <typename T, int kKSteps>
__device__ __forceinline__ void scores_2tiles(float (&s)[2][4], uint32_t q_a, uint32_t k_b) {
#pragma unroll
  for (int j = 0; j < 2; ++j) s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.f;
#pragma unroll
  for (int kc = 0; kc < kKSteps; ++kc) {
    uint32_t a[4], b[4];
    ptx::ldmatrix_x4(a, q_a + kc * 32);
    ptx::ldmatrix_x4(b, k_b + kc * 32);
    ElemOps<T>::mma(s[0], a, b[0], b[1]);
    ElemOps<T>::mma(s[1], a, b[2], b[3]);
  }
}

__device__ __forceinline__ void zero_o(float (&o)[kOTiles][4]) {
#pragma unroll
  for (int j = 0; j < kOTiles; ++j) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.f;
}

}  // namespace generic
}  // namespace mla
