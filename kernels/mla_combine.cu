// build: archs=sm_80,sm_90 ptx=compute_80 hot
// Combine of split partials (FlashMLA 9edee0c mla_combine.cu semantics, no split-count limit).
// One warp per folded output row r of request i. For a request with n = num_splits[i+1] - num_splits[i] > 1:
//   M = max_j lse_j (log2 units), G = log2 Σ_j exp2(lse_j - M) + M, out = Σ_j exp2(lse_j - G) · O_j,
//   lse = G · ln 2; all splits empty (M = -inf) → out 0, lse +inf. Requests with one split return at once:
//   the decode kernel wrote their output directly.
// mla_combine_sink_* (sparse decode with an attention sink, mla_decode_fp8.cu): the same, then
//   out ← out / (1 + exp(sink[h] − lse)) with lse unchanged (the decode kernel does it for unsplit rows).
//
// Launch: grid (ceil(q_rows / 8) * b, 1, 1), block 256, no dynamic smem.
#include <cstdint>

#include "mla_config.h"
#include "mla_fp8_params.h"
#include "mla_generic_common.cuh"
#include "mla_params.h"
#include "ptx.cuh"

using namespace mla;

namespace {

// Max over the n split LSEs of one row (log2 units; lse of split j at lse_col[j · q_rows]); every lane gets it.
__device__ __forceinline__ float split_lse_max(const float* lse_col, int n, int q_rows, int lane) {
  float m = -INFINITY;
  for (int j = lane; j < n; j += 32) m = fmaxf(m, lse_col[static_cast<int64_t>(j) * q_rows]);
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
  return m;
}
// G = log2 Σ_j exp2(lse_j − m) + m for a finite max m (the max split contributes exp2(0), so the sum is ≥ 1).
__device__ __forceinline__ float split_lse_total(const float* lse_col, int n, int q_rows, int lane, float m) {
  float sum = 0.f;
  for (int j = lane; j < n; j += 32) sum += ptx::exp2_approx(lse_col[static_cast<int64_t>(j) * q_rows] - m);
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
  return ptx::log2_approx(sum) + m;
}

// Which output row of which request this warp merges (grid x = request × row group, one warp per row), and that
// request's splits. False when there is nothing to merge: past the end, or one split (the decode wrote the row).
struct SplitRow {
  int req, r, first, n;
};
__device__ __forceinline__ bool split_row_of_warp(const MlaDecodeParams& p, int warp, SplitRow& row) {
  const int groups = (p.q_rows + COMBINE_ROWS_PER_CTA - 1) / COMBINE_ROWS_PER_CTA;
  row.req = blockIdx.x / groups;
  row.r = (blockIdx.x - row.req * groups) * COMBINE_ROWS_PER_CTA + warp;
  if (row.req >= p.b || row.r >= p.q_rows) return false;
  row.first = ptx::ld_plain(p.num_splits + row.req);
  row.n = ptx::ld_plain(p.num_splits + row.req + 1) - row.first;
  return row.n > 1;
}

// kSink: scale the merged row by its head's sink factor (attn_sink: [h_q] fp32, null for none).
template <typename T, bool kSink = false>
__device__ __forceinline__ void combine_kernel(const MlaDecodeParams& p, const float* attn_sink = nullptr) {
  using Ops = ElemOps<T>;
  // o_accum / lse_accum come from the decode kernel just before us (PDL): wait for it to complete.
  ptx::grid_dep_wait();

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  SplitRow row;
  if (!split_row_of_warp(p, warp, row)) return;  // no block-level barriers below: early exit is safe
  const int req = row.req, r = row.r, first = row.first, n = row.n;

  // lse of split j: lse_accum[(first + j) * q_rows + r]. Splits in chunks of 32, one per lane.
  const float* lse_col = p.lse_accum + static_cast<int64_t>(first) * p.q_rows + r;
  const float m = split_lse_max(lse_col, n, p.q_rows, lane);

  T* out_row = static_cast<T*>(p.out) + (static_cast<int64_t>(req) * p.q_rows + r) * HEAD_DIM_V;
  const int s_idx = r / p.h_q, h_idx = r - s_idx * p.h_q;
  float* lse_out = p.lse + (static_cast<int64_t>(req) * p.h_q + h_idx) * p.s_q + s_idx;

  // Lane owns columns lane·4 + 128·k (k < 4): float4 loads, 8-byte stores, all coalesced.
  float acc[4][4];
#pragma unroll
  for (int k = 0; k < 4; ++k) acc[k][0] = acc[k][1] = acc[k][2] = acc[k][3] = 0.f;

  float g_lse = INFINITY;  // natural-log output; +inf when every split is empty
  if (m != -INFINITY && m == m) {
    const float g = split_lse_total(lse_col, n, p.q_rows, lane, m);
    g_lse = g * kLn2;

    for (int base = 0; base < n; base += 32) {
      const int j = base + lane;
      const float w_lane = j < n ? ptx::exp2_approx(lse_col[static_cast<int64_t>(j) * p.q_rows] - g) : 0.f;
      const int cnt = min(32, n - base);
      for (int jj = 0; jj < cnt; ++jj) {
        const float w = __shfl_sync(0xffffffffu, w_lane, jj);
        if (w == 0.f) continue;  // warp-uniform: empty split (lse -inf) or negligible weight
        const float* src = p.o_accum + (static_cast<int64_t>(first + base + jj) * p.q_rows + r) * HEAD_DIM_V + lane * 4;
#pragma unroll
        for (int k = 0; k < 4; ++k) {
          const float4 v = *reinterpret_cast<const float4*>(src + 128 * k);
          acc[k][0] += w * v.x;
          acc[k][1] += w * v.y;
          acc[k][2] += w * v.z;
          acc[k][3] += w * v.w;
        }
      }
    }
  }
  ptx::grid_dep_launch_dependents();  // inputs consumed; only stores remain
  if constexpr (kSink) {
    if (attn_sink != nullptr && g_lse != INFINITY) {
      // 1 / (1 + exp(sink − lse)): +inf sink → 0, −inf → 1
      const float factor = 1.f / (1.f + ptx::exp2_approx((attn_sink[h_idx] - g_lse) * kLog2e));
#pragma unroll
      for (int k = 0; k < 4; ++k)
#pragma unroll
        for (int e = 0; e < 4; ++e) acc[k][e] *= factor;
    }
  }

#pragma unroll
  for (int k = 0; k < 4; ++k) {
    uint2 packed;
    packed.x = Ops::pack2(acc[k][0], acc[k][1]);
    packed.y = Ops::pack2(acc[k][2], acc[k][3]);
    *reinterpret_cast<uint2*>(out_row + lane * 4 + 128 * k) = packed;
  }
  if (lane == 0) *lse_out = g_lse;
}

// Wide variant: the plain kernel above walks a row's splits one at a time, each split's loads returning before the
// next split's are issued — on one long request (b 1, 132 splits, 16 rows: 16 warps on 2 SMs) that is 132 dependent
// L2 round trips per warp (~33 µs on an H200). Here a warp owns 128 of the 512 columns (4× the warps) and issues the
// loads of COMBINE_WIDE_IN_FLIGHT splits before using the first. Same arithmetic, same outputs up to fp32 summation
// order. Opt-in (FLASH_MLA_COMBINE=wide) until it has run on a GPU.
template <typename T>
__device__ __forceinline__ void combine_wide_kernel(const MlaDecodeParams& p) {
  using Ops = ElemOps<T>;
  ptx::grid_dep_wait();

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  SplitRow row;
  if (!split_row_of_warp(p, warp, row)) return;  // no block-level barriers below: early exit is safe
  const int req = row.req, r = row.r, first = row.first, n = row.n;
  const int col = blockIdx.y * (HEAD_DIM_V / COMBINE_WIDE_CHUNKS) + lane * 4;  // this lane's 4 columns

  const float* lse_col = p.lse_accum + static_cast<int64_t>(first) * p.q_rows + r;
  const float m = split_lse_max(lse_col, n, p.q_rows, lane);

  float acc[4] = {0.f, 0.f, 0.f, 0.f};
  float g_lse = INFINITY;  // natural-log output; +inf when every split is empty
  if (m != -INFINITY && m == m) {
    const float g = split_lse_total(lse_col, n, p.q_rows, lane, m);
    g_lse = g * kLn2;

    const int64_t split_stride = static_cast<int64_t>(p.q_rows) * HEAD_DIM_V;
    for (int base = 0; base < n; base += 32) {
      const int j = base + lane;
      const float w_lane = j < n ? ptx::exp2_approx(lse_col[static_cast<int64_t>(j) * p.q_rows] - g) : 0.f;
      const int cnt = min(32, n - base);
      const float* src = p.o_accum + (static_cast<int64_t>(first + base) * p.q_rows + r) * HEAD_DIM_V + col;
      for (int jj = 0; jj < cnt; jj += COMBINE_WIDE_IN_FLIGHT) {
        float w[COMBINE_WIDE_IN_FLIGHT];
        float4 v[COMBINE_WIDE_IN_FLIGHT];
#pragma unroll
        for (int u = 0; u < COMBINE_WIDE_IN_FLIGHT; ++u) {  // all loads first
          const float wu = __shfl_sync(0xffffffffu, w_lane, min(jj + u, 31));
          w[u] = jj + u < cnt ? wu : 0.f;  // warp-uniform
          v[u] = w[u] != 0.f ? *reinterpret_cast<const float4*>(src + (jj + u) * split_stride) : make_float4(0.f, 0.f, 0.f, 0.f);
        }
#pragma unroll
        for (int u = 0; u < COMBINE_WIDE_IN_FLIGHT; ++u) {
          acc[0] += w[u] * v[u].x;
          acc[1] += w[u] * v[u].y;
          acc[2] += w[u] * v[u].z;
          acc[3] += w[u] * v[u].w;
        }
      }
    }
  }
  ptx::grid_dep_launch_dependents();  // inputs consumed; only stores remain

  T* out = static_cast<T*>(p.out) + (static_cast<int64_t>(req) * p.q_rows + r) * HEAD_DIM_V + col;
  uint2 packed;
  packed.x = Ops::pack2(acc[0], acc[1]);
  packed.y = Ops::pack2(acc[2], acc[3]);
  *reinterpret_cast<uint2*>(out) = packed;
  if (blockIdx.y == 0 && lane == 0) {
    const int s_idx = r / p.h_q, h_idx = r - s_idx * p.h_q;
    p.lse[(static_cast<int64_t>(req) * p.h_q + h_idx) * p.s_q + s_idx] = g_lse;
  }
}

}  // namespace

// The compute_80 PTX assembled for sm_100 (ptxas 13.0, as the driver's JIT would) takes 48 registers and spills
// 8 B unless told that one CTA per SM is enough; the PTX build (-DFLASH_MLA_PTX) says so. The sm_80/sm_90 cubins
// keep the bound they were run and measured with.
#ifdef FLASH_MLA_PTX
#define COMBINE_BOUNDS __launch_bounds__(COMBINE_THREADS, 1)
#else
#define COMBINE_BOUNDS __launch_bounds__(COMBINE_THREADS)
#endif

extern "C" __global__ void COMBINE_BOUNDS mla_combine_bf16(const __grid_constant__ MlaDecodeParams p) {
  combine_kernel<__nv_bfloat16>(p);
}
extern "C" __global__ void COMBINE_BOUNDS mla_combine_fp16(const __grid_constant__ MlaDecodeParams p) {
  combine_kernel<__half>(p);
}
// sparse decode with an attention sink: the second parameter is the FP8 decode's (only attn_sink is read)
extern "C" __global__ void COMBINE_BOUNDS mla_combine_sink_bf16(const __grid_constant__ MlaDecodeParams p, const __grid_constant__ MlaFp8Params f) {
  combine_kernel<__nv_bfloat16, true>(p, f.attn_sink);
}
extern "C" __global__ void COMBINE_BOUNDS mla_combine_sink_fp16(const __grid_constant__ MlaDecodeParams p, const __grid_constant__ MlaFp8Params f) {
  combine_kernel<__half, true>(p, f.attn_sink);
}
// (one CTA per SM is enough for the register budget: 8 splits' float4s in flight per lane)
extern "C" __global__ void __launch_bounds__(COMBINE_THREADS, 1) mla_combine_wide_bf16(const __grid_constant__ MlaDecodeParams p) {
  combine_wide_kernel<__nv_bfloat16>(p);
}
extern "C" __global__ void __launch_bounds__(COMBINE_THREADS, 1) mla_combine_wide_fp16(const __grid_constant__ MlaDecodeParams p) {
  combine_wide_kernel<__half>(p);
}
