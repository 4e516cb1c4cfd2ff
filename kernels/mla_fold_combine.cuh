// The combine folded into a decode kernel (mla_decode_sm90_small.cu): the CTA that writes the last split partial of a
// request's rows merges all of the splits of those rows itself, so no combine kernel is launched (about 2 µs a step
// on an H200, session 7). The host folds only when requests have few splits (src/cuda/mla.ts: b · 2 ≥ SM parts): one
// CTA merging a long request's 100+ splits would take longer than the combine kernel's many CTAs. (Folded into the
// 64-row 'hopper' kernel it was slower: 64-row merges in the kernel's tail; docs/perf-log.md, session 7.) One counter
// per request and CTA row of rows: split_arrivals[counter].
//
// Arrival: every thread fences its partial stores (gpu scope), the CTA meets at a barrier, one thread counts the
// arrival on the request's counter (atom.inc with limit n − 1: the last of the n arrivals sees n − 1 and the counter
// is 0 again for the next decode), and the CTA that arrived last fences and reads the others' partials past L1.
// The merge is mla_combine.cu's with one warp per row (W = C = 1), in the same order: the same bits as the
// combine's mla_combine_w1_c1 entry.
#pragma once
#include <cstdint>

#include "mla_config.h"
#include "mla_generic_common.cuh"
#include "mla_params.h"
#include "ptx.cuh"

namespace mla {

// Merge request `req`'s n splits (accumulator rows first … first + n − 1) of folded rows [r0, r1) into out/lse: warp
// `warp` of `n_warps` takes rows r0 + warp, r0 + warp + n_warps, …; lane l owns columns 4l … 4l + 3 of each 128.
template <typename T>
__device__ __forceinline__ void merge_splits(const MlaDecodeParams& p, int req, int first, int n, int r0, int r1, int warp, int n_warps, int lane) {
  for (int r = r0 + warp; r < r1; r += n_warps) {
    const float* lse_col = p.lse_accum + static_cast<int64_t>(first) * p.q_rows + r;  // split j at + j · q_rows
    float m = -INFINITY;
    for (int j = lane; j < n; j += 32) m = fmaxf(m, ptx::ld_cg_f32(lse_col + static_cast<int64_t>(j) * p.q_rows));
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
    float acc[COMBINE_MAX_CHUNKS][4] = {};
    float g_lse = INFINITY;  // every split empty: out 0, lse +inf
    if (m != -INFINITY && m == m) {
      float sum = 0.f;
      for (int j = lane; j < n; j += 32) sum += ptx::exp2_approx(ptx::ld_cg_f32(lse_col + static_cast<int64_t>(j) * p.q_rows) - m);
#pragma unroll
      for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
      const float g = ptx::log2_approx(sum) + m;
      g_lse = g * kLn2;
      const int64_t split_stride = static_cast<int64_t>(p.q_rows) * HEAD_DIM_V;
      const float* src = p.o_accum + (static_cast<int64_t>(first) * p.q_rows + r) * HEAD_DIM_V + lane * 4;
      for (int base = 0; base < n; base += 32) {
        const int t = base + lane;
        const float w_lane = t < n ? ptx::exp2_approx(ptx::ld_cg_f32(lse_col + static_cast<int64_t>(t) * p.q_rows) - g) : 0.f;
        const int cnt = min(32, n - base);
        for (int jj = 0; jj < cnt; ++jj) {
          const float w = __shfl_sync(0xffffffffu, w_lane, jj);  // warp-uniform: an empty split or negligible weight
          if (w == 0.f) continue;
          float4 v[COMBINE_MAX_CHUNKS];
#pragma unroll
          for (int s = 0; s < COMBINE_MAX_CHUNKS; ++s) v[s] = ptx::ld_cg_v4f(src + (base + jj) * split_stride + s * COMBINE_WARP_COLS);
#pragma unroll
          for (int s = 0; s < COMBINE_MAX_CHUNKS; ++s) {
            acc[s][0] += w * v[s].x;
            acc[s][1] += w * v[s].y;
            acc[s][2] += w * v[s].z;
            acc[s][3] += w * v[s].w;
          }
        }
      }
    }
    T* out_row = static_cast<T*>(p.out) + (static_cast<int64_t>(req) * p.q_rows + r) * HEAD_DIM_V + lane * 4;
#pragma unroll
    for (int s = 0; s < COMBINE_MAX_CHUNKS; ++s) {
      uint2 packed;
      packed.x = ElemOps<T>::pack2(acc[s][0], acc[s][1]);
      packed.y = ElemOps<T>::pack2(acc[s][2], acc[s][3]);
      *reinterpret_cast<uint2*>(out_row + s * COMBINE_WARP_COLS) = packed;
    }
    if (lane == 0) {
      const int s_idx = r / p.h_q, h_idx = r - s_idx * p.h_q;
      p.lse[(static_cast<int64_t>(req) * p.h_q + h_idx) * p.s_q + s_idx] = g_lse;
    }
  }
}

// After the CTA wrote its split partial of request `req`, rows [r0, r1) (every thread its own stores): count the
// arrival on counter `counter` and, if it was the last of the request's n, merge those rows. Called by the `n_threads`
// threads `sync` (a barrier of exactly them) orders; `s_flag` is one shared word.
template <typename T, typename Sync>
__device__ __forceinline__ void fold_split(const MlaDecodeParams& p, int req, int counter, int r0, int r1, int tid, int n_threads, uint32_t s_flag, Sync sync) {
  ptx::fence_gpu();  // this thread's partial stores, before the arrival below
  sync();
  const int first = ptx::ld_plain(p.num_splits + req), n = ptx::ld_plain(p.num_splits + req + 1) - first;
  if (tid == 0) ptx::st_shared_u32(s_flag, ptx::atomic_inc_gpu(p.split_arrivals + counter, static_cast<uint32_t>(n - 1)) == static_cast<uint32_t>(n - 1));
  sync();
  // (the next fold's first barrier orders this read before the flag's next write)
  if (!ptx::ld_shared_u32(s_flag)) return;
  ptx::fence_gpu();  // the other CTAs' partials, after their arrivals
  merge_splits<T>(p, req, first, n, r0, r1, tid >> 5, n_threads >> 5, tid & 31);
}

}  // namespace mla
