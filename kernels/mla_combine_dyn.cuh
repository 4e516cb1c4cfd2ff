// The split-aware combine (mla_combine_dyn_{bf16,fp16}; opt-in, FLASH_MLA_EXPERIMENT_COMBINE=dyn, src/cuda/mla.ts):
// the merge of mla_combine.cu with its work laid out from the split counts the device knows, not from b · q_rows.
// Included by mla_combine.cu (it reuses split_lse_stats).
//
// Why: the host shapes the W/C combine from b · q_rows alone. One long request split ~100 ways among 32 unsplit ones
// (serving S7: b 33, 32 rows) gets 1 warp per row × 4 chunks, so the long request's 32 rows get 128 warps that walk
// ~100 splits each (~19 µs on an H200), while most of the grid returns at once. Here only split requests make work:
//   unit = (request i with n_i > 1, row r, chunk c of 128 columns, slice z of COMBINE_DYN_SLICE splits),
// Z_i = ceil(n_i / 16) slices, q_rows · 4 · Z_i units per request, one warp per unit (lane: 4 columns, one float4 per
// split), taken by the grid's warps in turn (warp w: units w, w + all warps, …). A unit loads its row's n LSEs at once
// (split_lse_stats: the same M and G as the W/C entries), then its ≤ 16 partial rows all in flight.
// - Z_i = 1: the unit writes out (and, chunk 0, lse): the sum runs over the splits in order, as mla_combine_w1_c4's
//   batches of 16 — the same bits.
// - Z_i > 1: the unit writes its slice's weighted sum (already divided by 2^G) over split z·16's partial of (row r,
//   chunk c) in o_accum — those 512 bytes are read by this unit only (every unit reads its own slice's splits of its
//   own row and chunk), and only before it writes them — then counts its arrival on the self-resetting counter of
//   (i, r, c) (mla_fold_combine.cuh's pattern: fence, atom.inc with limit Z_i − 1, the last arriver sees Z_i − 1
//   and leaves 0 for the next decode). The last arriver fences, reads the Z_i slice sums past L1 and adds them in z
//   order (deterministic; the rounding differs from the W/C entries' single sum by a few ulp of fp32).
// Rows whose splits are all empty (M = −inf) or NaN still arrive (their slice sums are 0): out 0, lse +inf.
//
// Launch (mla_config.h): grid (G, 1, 1) (any G ≥ 1; the host picks a few CTAs per SM), block COMBINE_THREADS,
// dynamic smem 4 · (2 · (b + 1) + COMBINE_WARPS) bytes (b ≤ COMBINE_DYN_MAX_REQS); counters: [b · q_rows · 4]
// uint32, zero between decodes.
#pragma once

namespace {

constexpr int kDynSlice = COMBINE_DYN_SLICE;
static_assert(32 % kDynSlice == 0, "a slice's LSEs sit in one register of split_lse_stats' lanes");
static_assert(COMBINE_MAX_CHUNKS * COMBINE_WARP_COLS == HEAD_DIM_V, "4 chunks of 128 columns");

__device__ __forceinline__ int dyn_slices(int n) { return (n + kDynSlice - 1) / kDynSlice; }
// work units of a request of n splits (0 when the decode wrote its rows: n ≤ 1)
__device__ __forceinline__ int dyn_units(int n, int q_rows) { return n > 1 ? q_rows * COMBINE_MAX_CHUNKS * dyn_slices(n) : 0; }

template <typename T>
__device__ __forceinline__ void store_out_chunk(const MlaDecodeParams& p, int req, int r, int c, int lane, const float (&acc)[4], float g_lse) {
  T* out = static_cast<T*>(p.out) + (static_cast<int64_t>(req) * p.q_rows + r) * HEAD_DIM_V + c * COMBINE_WARP_COLS + lane * 4;
  uint2 packed;
  packed.x = ElemOps<T>::pack2(acc[0], acc[1]);
  packed.y = ElemOps<T>::pack2(acc[2], acc[3]);
  *reinterpret_cast<uint2*>(out) = packed;
  if (c == 0 && lane == 0) {
    const int s_idx = r / p.h_q, h_idx = r - s_idx * p.h_q;
    p.lse[(static_cast<int64_t>(req) * p.h_q + h_idx) * p.s_q + s_idx] = g_lse;
  }
}

// One unit: slice z of request req's (first, n) splits, row r, chunk c.
template <typename T>
__device__ __forceinline__ void combine_unit(const MlaDecodeParams& p, uint32_t* counters, int req, int first, int n, int r, int c, int z, int lane) {
  const int zc = dyn_slices(n);
  const float* lse_col = p.lse_accum + static_cast<int64_t>(first) * p.q_rows + r;  // split j at + j · q_rows
  const SplitLse sl = split_lse_stats(lse_col, n, p.q_rows, lane);
  const bool valid = sl.m != -INFINITY && sl.m == sl.m;
  const float g = sl.g;
  const float g_lse = valid ? g * kLn2 : INFINITY;
  const int j0 = z * kDynSlice;
  const int64_t split_stride = static_cast<int64_t>(p.q_rows) * HEAD_DIM_V;
  float* slice0 = p.o_accum + (static_cast<int64_t>(first + j0) * p.q_rows + r) * HEAD_DIM_V + c * COMBINE_WARP_COLS + lane * 4;
  float acc[4] = {0.f, 0.f, 0.f, 0.f};
  if (valid) {
    // weight of split j0 + (lane % 16): its LSE is in register j0 / 32 of lane j0 % 32 + lane % 16 (split_lse_stats)
    // for the first 32 · kLseRegs splits, else loaded here
    const int j = j0 + (lane & (kDynSlice - 1));
    float lse_j = -INFINITY;
    if (j0 < 32 * kLseRegs) {
      float held = sl.lse[0];
#pragma unroll
      for (int k = 1; k < kLseRegs; ++k)
        if (j0 >= 32 * k) held = sl.lse[k];  // warp-uniform choice: no indexed (local-memory) register array
      lse_j = __shfl_sync(0xffffffffu, held, (j0 & 31) + (lane & (kDynSlice - 1)));
    } else if (j < n) {
      lse_j = lse_col[static_cast<int64_t>(j) * p.q_rows];
    }
    const float w_lane = j < n ? ptx::exp2_approx(lse_j - g) : 0.f;
    const int cnt = min(kDynSlice, n - j0);
    float w[kDynSlice];
    float4 v[kDynSlice];
#pragma unroll
    for (int u = 0; u < kDynSlice; ++u) {  // all loads first
      const float wu = __shfl_sync(0xffffffffu, w_lane, u);
      w[u] = u < cnt ? wu : 0.f;  // warp-uniform: past the end, an empty split, or negligible weight
      v[u] = w[u] != 0.f ? *reinterpret_cast<const float4*>(slice0 + u * split_stride) : make_float4(0.f, 0.f, 0.f, 0.f);
    }
#pragma unroll
    for (int u = 0; u < kDynSlice; ++u) {  // in split order, as add_splits
      acc[0] += w[u] * v[u].x;
      acc[1] += w[u] * v[u].y;
      acc[2] += w[u] * v[u].z;
      acc[3] += w[u] * v[u].w;
    }
  }
  if (zc == 1) {
    store_out_chunk<T>(p, req, r, c, lane, acc, g_lse);
    return;
  }
  // the slice sum over split j0's partial of this row and chunk (read above by this unit only), then the arrival
  *reinterpret_cast<float4*>(slice0) = make_float4(acc[0], acc[1], acc[2], acc[3]);
  ptx::fence_gpu();  // this lane's store, before lane 0's arrival
  __syncwarp();
  uint32_t old = 0;
  if (lane == 0) old = ptx::atomic_inc_gpu(counters + (static_cast<int64_t>(req) * p.q_rows + r) * COMBINE_MAX_CHUNKS + c, static_cast<uint32_t>(zc - 1));
  old = __shfl_sync(0xffffffffu, old, 0);
  if (old != static_cast<uint32_t>(zc - 1)) return;  // not the last of the Z_i units
  __syncwarp();      // every lane past lane 0's arrival (bar.warp.sync orders memory among the warp's lanes) …
  ptx::fence_gpu();  // … then the other units' slice sums, after their arrivals
  const float* sum0 = p.o_accum + (static_cast<int64_t>(first) * p.q_rows + r) * HEAD_DIM_V + c * COMBINE_WARP_COLS + lane * 4;
  const int64_t slice_stride = kDynSlice * split_stride;
  float tot[4] = {0.f, 0.f, 0.f, 0.f};
  for (int zb = 0; zb < zc; zb += kDynSlice) {
    float4 s[kDynSlice];
#pragma unroll
    for (int k = 0; k < kDynSlice; ++k) {  // all loads first; this unit's own sum from its registers
      const int zz = zb + k;
      s[k] = zz == z ? make_float4(acc[0], acc[1], acc[2], acc[3])
           : zz < zc ? ptx::ld_cg_v4f(sum0 + zz * slice_stride)
                     : make_float4(0.f, 0.f, 0.f, 0.f);
    }
#pragma unroll
    for (int k = 0; k < kDynSlice; ++k) {  // in z order
      tot[0] += s[k].x;
      tot[1] += s[k].y;
      tot[2] += s[k].z;
      tot[3] += s[k].w;
    }
  }
  store_out_chunk<T>(p, req, r, c, lane, tot, g_lse);
}

template <typename T>
__device__ __forceinline__ void combine_dyn_kernel(const MlaDecodeParams& p, uint32_t* counters) {
  // o_accum / lse_accum / num_splits come from the kernels before us (PDL): wait for them to complete.
  ptx::grid_dep_wait();
  // smem: [0, b] num_splits; [b + 1, 2b + 1] the first unit of each request (then the total); COMBINE_WARPS warp sums
  extern __shared__ int dyn_smem[];
  const int b = p.b, tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int kUnit0 = b + 1, kWarpSum = 2 * (b + 1);
  for (int i = tid; i <= b; i += COMBINE_THREADS) dyn_smem[i] = ptx::ld_plain(p.num_splits + i);
  __syncthreads();
  // exclusive prefix of the units over the requests, COMBINE_THREADS requests a round (every CTA computes it: b + 1
  // ints from L2 and a few barriers, cheaper than a launch or a grid-wide handoff)
  int carry = 0;
  for (int base = 0; base < b; base += COMBINE_THREADS) {
    const int i = base + tid;
    const int units = i < b ? dyn_units(dyn_smem[i + 1] - dyn_smem[i], p.q_rows) : 0;
    int incl = units;
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
      const int y = __shfl_up_sync(0xffffffffu, incl, o);
      if (lane >= o) incl += y;
    }
    if (lane == 31) dyn_smem[kWarpSum + warp] = incl;
    __syncthreads();
    int before = carry, round = 0;
#pragma unroll
    for (int w = 0; w < COMBINE_WARPS; ++w) {
      const int t = dyn_smem[kWarpSum + w];
      if (w < warp) before += t;
      round += t;
    }
    if (i < b) dyn_smem[kUnit0 + i] = before + incl - units;
    carry += round;
    __syncthreads();  // the warp sums are read before the next round writes them
  }
  if (tid == 0) dyn_smem[kUnit0 + b] = carry;
  __syncthreads();
  const int total = carry;
  const int n_warps = gridDim.x * COMBINE_WARPS;
  for (int u = blockIdx.x * COMBINE_WARPS + warp; u < total; u += n_warps) {
    // the request: the last i with unit0[i] ≤ u (unit0[b] = total > u, so it has units)
    int lo = 0, hi = b;
    while (hi - lo > 1) {
      const int mid = (lo + hi) >> 1;
      if (dyn_smem[kUnit0 + mid] <= u) lo = mid;
      else hi = mid;
    }
    const int first = dyn_smem[lo], n = dyn_smem[lo + 1] - first, zc = dyn_slices(n);
    // slices fastest: the Z_i units of one (row, chunk) run on neighbouring warps, at about the same time
    int local = u - dyn_smem[kUnit0 + lo];
    const int z = local % zc;
    local /= zc;
    const int c = local % COMBINE_MAX_CHUNKS, r = local / COMBINE_MAX_CHUNKS;
    combine_unit<T>(p, counters, lo, first, n, r, c, z, lane);
  }
  // the next kernel may start its prologue; its grid_dep_wait still waits for this grid to complete
  ptx::grid_dep_launch_dependents();
}

}  // namespace

#define COMBINE_DYN_ENTRY(name, T)                                                                                    \
  extern "C" __global__ void __launch_bounds__(COMBINE_THREADS, 2)                                                    \
      mla_combine_dyn_##name(const __grid_constant__ MlaDecodeParams p, uint32_t* counters) {                         \
    combine_dyn_kernel<T>(p, counters);                                                                               \
  }
COMBINE_DYN_ENTRY(bf16, __nv_bfloat16)
COMBINE_DYN_ENTRY(fp16, __half)
#undef COMBINE_DYN_ENTRY
