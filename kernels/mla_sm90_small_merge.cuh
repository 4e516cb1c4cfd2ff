// The small-row kernel's column fragments and the end of an item (mla_decode_sm90_small.cu): the merge of its two
// warpgroups' split-K halves and the epilogue.
// Fragments (wgmma D, n8 · kCols): thread (warp w of its warpgroup, lane 4g + q4) holds d[4i + 2h + e] = (M row
// 16w + g + 8h, column col_of(i, e, q4)) — M rows are tokens (Sᵀ) or channels (Oᵀ: m-tile t = channels 64t … 64t + 63),
// columns the CTA's folded query rows.
// Merge: both warpgroups publish their column maxima and sums (publish); each rescales its Oᵀ to the common max
// (totals, scale_columns) and hands the other the half of the channels the other writes, m-tiles 4–7 from
// warpgroup 0, 0–3 from warpgroup 1 (exchange). Epilogue as store_row (mla_work.cuh; store): out/lse when the request is not split, fp32
// o_accum/lse_accum (log2) rows for the combine otherwise; a row that saw no key gets out 0, lse +inf.
// Included by mla_decode_sm90_small.cu after `using namespace mla` and mla_sm90_math.cuh, as its other headers.
#pragma once
#include <cstdint>

#include "mla_config.h"
#include "mla_fp8_params.h"
#include "mla_generic_common.cuh"
#include "mla_params.h"
#include "mla_work.cuh"
#include "ptx.cuh"

namespace {

// The CTA barrier of the math warpgroups: __syncthreads, or (kMathOnly: the register-A sparse entry, whose gather
// warpgroup never takes part) named barrier kMathBarrier over their 256 threads.
constexpr int kMathBarrier = 3;
template <bool kMathOnly>
__device__ __forceinline__ void math_sync() {
  if constexpr (kMathOnly) ptx::named_barrier_sync(kMathBarrier, 256);
  else __syncthreads();
}

constexpr int kWgThreads = 128;  // a warpgroup

// This thread's column (folded query row) of fragment slot (i, e).
__device__ __forceinline__ int col_of(int i, int e, int q4) { return 8 * i + 2 * q4 + e; }

// Oᵀ *= each column's factor (slot i, e: column col_of(i, e, ·)); kGroup (the FP8 f16 datapath): times its channel
// group's too (m-tiles 2g, 2g + 1 are group g). kTiles m-tiles (the 32-row FP8 entry: its 4, its 2 groups).
template <bool kGroup, int kCols, int kTiles = 8>
__device__ __forceinline__ void scale_columns(float (&o)[kTiles][4 * kCols], const float (&col)[kCols][2], const float (&group)[kTiles / 2]) {
#pragma unroll
  for (int t = 0; t < kTiles; ++t)
#pragma unroll
    for (int i = 0; i < kCols; ++i)
#pragma unroll
      for (int h = 0; h < 2; ++h)
#pragma unroll
        for (int e = 0; e < 2; ++e) o[t][4 * i + 2 * h + e] *= kGroup ? col[i][e] * group[t >> 1] : col[i][e];
}

// One block's online softmax (both bodies of the kernel): per column slot (i, e) its block maximum block_max(i, e)
// (raw scores; −inf for a column with nothing in the block, which keeps its max: scale 1, P 0) updates the running max
// m (log2 units); scale is the old state's factor, l (this thread's partial sum) is rescaled by it, and the fragment s
// becomes P = exp2(s · scale_log2 − m), added to l.
template <int kCols, typename BlockMax>
__device__ __forceinline__ void softmax_block(float (&s)[4 * kCols], float (&m)[kCols][2], float (&l)[kCols][2], float (&scale)[kCols][2], float scale_log2,
                                              BlockMax&& block_max) {
#pragma unroll
  for (int i = 0; i < kCols; ++i)
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      const float m_new = fmaxf(m[i][e], block_max(i, e) * scale_log2);
      scale[i][e] = ptx::exp2_approx(m[i][e] - m_new);
      m[i][e] = m_new;
      l[i][e] *= scale[i][e];
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        float& x = s[4 * i + 2 * h + e];
        x = ptx::exp2_approx(fmaf(x, scale_log2, -m_new));
        l[i][e] += x;
      }
    }
}

// Byte offset of the merge exchange's slot for m-tile t, half hh (float4) of the thread with index k in its warpgroup:
// consecutive threads 16 B apart (conflict-free v4 stores and loads).
__device__ __forceinline__ uint32_t xchg_slot(int t, int hh, int k) { return ((t * 2 + hh) * kWgThreads + k) * 16; }

// One thread's part of the merge at the end of an item, its smem (the kernel's layout): sL the column sums of
// warpgroup x's warp v and sM the column maxima of warpgroup x — 16-bit cache [2][4][kRows] and [2][kRows]; FP8
// ([4][16] and [16]) in the merge area, x · xs apart (the FP8 entries: 512 B) — and sX, the Oᵀ exchange
// (32 KB: the 32-row entry's in two rounds). Per item: publish, a CTA barrier, totals, Oᵀ scaled by f_own
// (scale_columns), exchange, store.
template <int kRows, bool kFp8, bool kMathOnly = false>
struct SmallMerge {
  static constexpr int kCols = kRows / 8;
  // The item's merge state, declared by the caller: per column this warpgroup's factor to the common max, the total
  // sum and the common max; this warpgroup's four m-tiles of Oᵀ, both halves summed; exchange()'s staging. (Arrays
  // local to these functions compile the whole kernel differently — other instruction order and registers, other
  // machine code — so they live in the caller's frame: the kernel compiles as with this code written inline.)
  struct Item {
    float f_own[kCols][2], L[kCols][2], M[kCols][2];
    float oh[4][4 * kCols];
    float v[8];
    float other[8];
  };
  uint32_t sL, sM, sX;
  int wg, warp, wtid, g, q4;
  uint32_t xs = SM90_TILE_BYTES;  // FP8: bytes from warpgroup 0's sums and maxima to warpgroup 1's (the kernel's: 512)

  __device__ __forceinline__ uint32_t l_at(int x, int v, int col) const {
    return kFp8 ? sL + x * xs + (v * kRows + col) * 4 : sL + ((x * 4 + v) * kRows + col) * 4;
  }
  __device__ __forceinline__ uint32_t m_at(int x, int col) const { return kFp8 ? sM + x * xs + col * 4 : sM + (x * kRows + col) * 4; }

  // This warpgroup's column sums (l: this thread's partial sums, summed over the warp in place) and maxima → smem
  // (kMaxima false: the sums alone — the 32-column entries, whose running max is common to both warpgroups). The
  // caller then syncs the CTA: both warpgroups' are out.
  template <bool kMaxima = true>
  __device__ __forceinline__ void publish(float (&l)[kCols][2], const float (&m)[kCols][2]) const {
#pragma unroll
    for (int i = 0; i < kCols; ++i)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
#pragma unroll
        for (int d = 4; d < 32; d <<= 1) l[i][e] += __shfl_xor_sync(0xffffffffu, l[i][e], d);
        if (g == 0) {
          ptx::st_shared_f32(l_at(wg, warp, col_of(i, e, q4)), l[i][e]);
          if (kMaxima && warp == 0) ptx::st_shared_f32(m_at(wg, col_of(i, e, q4)), m[i][e]);
        }
      }
  }

  // After publish and the CTA barrier: per column the common max, this warpgroup's factor to it, the total sum.
  __device__ __forceinline__ void totals(Item& it) const {
#pragma unroll
    for (int i = 0; i < kCols; ++i)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int c = col_of(i, e, q4);
        const float m0 = ptx::ld_shared_f32(m_at(0, c)), m1 = ptx::ld_shared_f32(m_at(1, c));
        it.M[i][e] = fmaxf(m0, m1);
        const float f0 = ptx::exp2_approx(m0 - it.M[i][e]), f1 = ptx::exp2_approx(m1 - it.M[i][e]);
        float l0 = 0.f, l1 = 0.f;
#pragma unroll
        for (int v = 0; v < 4; ++v) {
          l0 += ptx::ld_shared_f32(l_at(0, v, c));
          l1 += ptx::ld_shared_f32(l_at(1, v, c));
        }
        it.L[i][e] = l0 * f0 + l1 * f1;
        it.f_own[i][e] = wg ? f1 : f0;
      }
  }

  // Oᵀ (at the common max; both warpgroups past their last P·V: the exchange is free) → it.oh, the sum of both
  // warpgroups' m-tiles 4·wg … 4·wg + 3: warpgroup wg hands the other four over (tile indices stay compile-time:
  // selects, not a register array indexed at run time). 8 values of each m-tile (two column tiles) per round: one
  // round at 16 rows, two at 32 (the 32 KB exchange holds one round; the other warpgroup must have read the round
  // before it is rewritten). kTileRounds 2 (16 rows; the register-A sparse entry, whose exchange has 16 KB): two
  // rounds of two m-tiles each, each warpgroup's tile u of a round in slot 2 · (its giving side) + u.
  template <int kTileRounds = 1>
  __device__ __forceinline__ void exchange(const float (&o)[8][4 * kCols], Item& it) const {
    if constexpr (kTileRounds == 2) {
      static_assert(kCols == 2, "tile rounds: 16 rows");
#pragma unroll
      for (int q = 0; q < 2; ++q) {
        if (q > 0) math_sync<kMathOnly>();
#pragma unroll
        for (int u = 0; u < 2; ++u) {
          const int tt = 2 * q + u;
          float* v = it.v;
#pragma unroll
          for (int x = 0; x < 8; ++x) v[x] = wg ? o[tt][x] : o[4 + tt][x];
          const int slot = (wg ? 0 : 2) + u;
          ptx::st_shared_v4(sX + xchg_slot(slot, 0, wtid), make_uint4(__float_as_uint(v[0]), __float_as_uint(v[1]), __float_as_uint(v[2]), __float_as_uint(v[3])));
          ptx::st_shared_v4(sX + xchg_slot(slot, 1, wtid), make_uint4(__float_as_uint(v[4]), __float_as_uint(v[5]), __float_as_uint(v[6]), __float_as_uint(v[7])));
        }
        math_sync<kMathOnly>();
#pragma unroll
        for (int u = 0; u < 2; ++u) {
          const int tt = 2 * q + u, slot = (wg ? 2 : 0) + u;  // the other warpgroup's
          const uint4 a = ptx::ld_shared_v4(sX + xchg_slot(slot, 0, wtid)), b = ptx::ld_shared_v4(sX + xchg_slot(slot, 1, wtid));
          float* other = it.other;
          other[0] = __uint_as_float(a.x), other[1] = __uint_as_float(a.y), other[2] = __uint_as_float(a.z), other[3] = __uint_as_float(a.w);
          other[4] = __uint_as_float(b.x), other[5] = __uint_as_float(b.y), other[6] = __uint_as_float(b.z), other[7] = __uint_as_float(b.w);
#pragma unroll
          for (int x = 0; x < 8; ++x) it.oh[tt][x] = (wg ? o[4 + tt][x] : o[tt][x]) + other[x];
        }
      }
      return;
    }
    const int t_out = 4 * wg;
#pragma unroll
    for (int r = 0; r < kCols / 2; ++r) {
      if (r > 0) math_sync<kMathOnly>();
#pragma unroll
      for (int tt = 0; tt < 4; ++tt) {
        const int give = wg ? tt : 4 + tt;
        float* v = it.v;
#pragma unroll
        for (int x = 0; x < 8; ++x) v[x] = wg ? o[tt][8 * r + x] : o[4 + tt][8 * r + x];
        ptx::st_shared_v4(sX + xchg_slot(give, 0, wtid), make_uint4(__float_as_uint(v[0]), __float_as_uint(v[1]), __float_as_uint(v[2]), __float_as_uint(v[3])));
        ptx::st_shared_v4(sX + xchg_slot(give, 1, wtid), make_uint4(__float_as_uint(v[4]), __float_as_uint(v[5]), __float_as_uint(v[6]), __float_as_uint(v[7])));
      }
      math_sync<kMathOnly>();
#pragma unroll
      for (int tt = 0; tt < 4; ++tt) {
        const uint4 a = ptx::ld_shared_v4(sX + xchg_slot(t_out + tt, 0, wtid)), b = ptx::ld_shared_v4(sX + xchg_slot(t_out + tt, 1, wtid));
        float* other = it.other;
        other[0] = __uint_as_float(a.x), other[1] = __uint_as_float(a.y), other[2] = __uint_as_float(a.z), other[3] = __uint_as_float(a.w);
        other[4] = __uint_as_float(b.x), other[5] = __uint_as_float(b.y), other[6] = __uint_as_float(b.z), other[7] = __uint_as_float(b.w);
#pragma unroll
        for (int x = 0; x < 8; ++x) it.oh[tt][8 * r + x] = (wg ? o[4 + tt][8 * r + x] : o[tt][8 * r + x]) + other[x];
      }
    }
  }

  // The epilogue of request req (s0: its slice, whose start, no_split and split_row are the same for every column):
  // this warpgroup's four m-tiles oh of every real column. Column (i, e) is row col_of(i, e, q4), or (kSparse) row
  // rs[i].r_glob[e]; rows ≥ q_rows are padding, never written.
  template <bool kSparse>
  __device__ __forceinline__ void store(const MlaDecodeParams& p, const MlaFp8Params* fp, int req, const Slice& s0, const RowSet (&rs)[kCols],
                                        const Item& it) const {
    using T = __nv_bfloat16;
    const auto& oh = it.oh;
    const auto& L = it.L;
    const auto& M = it.M;
    const int t_out = 4 * wg;
#pragma unroll
    for (int i = 0; i < kCols; ++i)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int r = kSparse ? rs[i].r_glob[e] : col_of(i, e, q4);
        if (r >= p.q_rows) continue;  // padding columns: never written
        const bool empty = !(L[i][e] > 0.f);  // no key seen (or NaN): out 0, lse +inf / lse_accum -inf, as store_row
        float inv = empty ? 0.f : 1.f / L[i][e];
        const float lse2 = ptx::log2_approx(L[i][e]) + M[i][e];  // log2 units; only used when !empty
        // sparse: the attention sink for rows written here, out ← out / (1 + exp(sink − lse)) (split rows: the sink
        // combine; `&`, both operands evaluated: with `&&` here the kernel compiles differently from the code written
        // inline)
        if constexpr (kSparse) {
          if ((fp->attn_sink != nullptr) & s0.no_split && !empty) inv *= 1.f / (1.f + __expf(fp->attn_sink[r % p.h_q] - lse2 * kLn2));
        }
        const bool owns_lse = wg == 0 && warp == 0 && g == 0;
        if (s0.no_split) {
          T* orow = static_cast<T*>(p.out) + (static_cast<int64_t>(req) * p.q_rows + r) * HEAD_DIM_V;
#pragma unroll
          for (int tt = 0; tt < 4; ++tt)
#pragma unroll
            for (int h = 0; h < 2; ++h) orow[64 * (t_out + tt) + 16 * warp + g + 8 * h] = __float2bfloat16(empty ? 0.f : oh[tt][4 * i + 2 * h + e] * inv);
          if (owns_lse) {
            const int s_idx = r / p.h_q, h_idx = r - s_idx * p.h_q;
            p.lse[(static_cast<int64_t>(req) * p.h_q + h_idx) * p.s_q + s_idx] = empty ? INFINITY : lse2 * kLn2;
          }
        } else {
          const int64_t acc_row = static_cast<int64_t>(s0.split_row) * p.q_rows + r;
          float* orow = p.o_accum + acc_row * HEAD_DIM_V;
#pragma unroll
          for (int tt = 0; tt < 4; ++tt)
#pragma unroll
            for (int h = 0; h < 2; ++h) orow[64 * (t_out + tt) + 16 * warp + g + 8 * h] = empty ? 0.f : oh[tt][4 * i + 2 * h + e] * inv;
          if (owns_lse) p.lse_accum[acc_row] = empty ? -INFINITY : lse2;
        }
      }
  }
};

}  // namespace
