// build: archs=sm_80,sm_90 ptx=compute_80 hot
// Combine of split partials (FlashMLA 9edee0c mla_combine.cu semantics, no split-count limit).
// For output row r of request i with n = num_splits[i+1] - num_splits[i] > 1 splits:
//   M = max_j lse_j (log2 units), G = log2 Σ_j exp2(lse_j - M) + M, out = Σ_j exp2(lse_j - G) · O_j,
//   lse = G · ln 2; all splits empty (M = -inf) → out 0, lse +inf. Rows of requests with one split are left
//   alone: the decode kernel wrote their output directly.
// mla_combine_sink_* (sparse decode with an attention sink, mla_decode_fp8.cu; W = C = 1): the same, then
//   out ← out / (1 + exp(sink[h] − lse)) with lse unchanged (the decode kernel does it for unsplit rows).
//
// The work is a row's n split partials (2 KB each in fp32; 1 KB as the scaled fp16 rows 'hopper''s dense entries
// write, PARTIAL16_ROW_ELEMS: the mla_combine_p16_* entries; just written, mostly in L2). A merge with few warps per split-heavy row is bound by
// latency: the loads of one warp walking a row's splits one after the other are dependent L2 round trips (~33 µs for
// one 64k request with 132 splits); with enough warps, by the partials' bytes (perf log `s46w`: 3.3–6.4 TB/s). So a
// warp loads a row's split LSEs at once and keeps COMBINE_IN_FLIGHT partial-row
// loads in flight (16 measured 2–5 % faster than 8 on the split-heavy serving shapes S1, S3, S7, S12, H200), and the host picks
// how many warps share a row (W, the entry point) and how many CTAs share its columns (C, grid y) from the shape:
// few long rows → many warps per row; many short rows → one warp per row, one CTA for all columns (fewer CTAs).
//
// Launch (mla_config.h): grid (ceil(q_rows / (COMBINE_WARPS / W)) * b, C, 1), block COMBINE_THREADS, dynamic smem
// COMBINE_C4_SMEM_BYTES for C = 4 (none otherwise).
#include <cstdint>
#include <type_traits>

#include "mla_config.h"
#include "mla_fp8_params.h"
#include "mla_generic_common.cuh"
#include "mla_params.h"
#include "ptx.cuh"

using namespace mla;

namespace {

// A split partial's elements (P): fp32 rows (FlashMLA's; every decode kernel but 'hopper''s dense entries) or fp16
// rows whose 256-column halves carry power-of-two factors (mla_config.h PARTIAL16_ROW_ELEMS; the mla_combine_p16_*
// entries: lane_weights folds a split's factor into its weight). A lane's 4 columns: one 16- or 8-byte load.
template <typename P>
constexpr int kPartialRow = sizeof(P) == 2 ? PARTIAL16_ROW_ELEMS : HEAD_DIM_V;  // elements from one row to the next
template <typename P>
__device__ __forceinline__ float4 partial4(uint2 raw);
template <>
__device__ __forceinline__ float4 partial4<__half>(uint2 raw) {
  auto f = [](uint32_t bits) { return __half2float(__ushort_as_half(static_cast<unsigned short>(bits))); };
  return make_float4(f(raw.x & 0xffffu), f(raw.x >> 16), f(raw.y & 0xffffu), f(raw.y >> 16));
}
// A lane's 4 columns as a batch holds them until they are added: float4 over fp32 partials, the 8 raw bytes over 16-bit
// ones (converted where each is added, so that a batch of 16-bit loads takes 2 registers a load, not 4: the p16 W 1 C 2
// entry 106 registers instead of 128 at the same two resident CTAs, S9 −2.2 % on an H100, perf log `rawb`).
template <typename P>
using BatchElem = std::conditional_t<sizeof(P) == 2, uint2, float4>;
template <typename P>
__device__ __forceinline__ BatchElem<P> batch_load(const P* q) { return *reinterpret_cast<const BatchElem<P>*>(q); }
template <typename P>
__device__ __forceinline__ BatchElem<P> batch_zero() {
  if constexpr (sizeof(P) == 2) return make_uint2(0u, 0u);
  else return make_float4(0.f, 0.f, 0.f, 0.f);
}
template <typename P>
__device__ __forceinline__ float4 batch_f4(BatchElem<P> v) {
  if constexpr (sizeof(P) == 2) return partial4<P>(v);
  else return v;
}

// The n split LSEs of one row (log2 units; split j's at lse_col[j · q_rows]): their max m and G = log2 Σ_j
// exp2(lse_j − m) + m (every lane gets both; G only for a finite max, where the max split contributes exp2(0) ≥ 1).
// Lane `lane` takes splits lane + 32k: the first R of them are loaded at once into lse[] (independent loads, one L2
// round trip for up to 32 · R splits instead of one per 32 splits and pass); the rest, if any, in a loop.
// The max and the sum run over j in the same order as a plain loop would, so the results are bit for bit the same.
// R = 5: 160 splits, one per SM part of the largest GPUs' metadata. The W = 1, C = 1 entries keep R = 1: they serve
// batches of many rows (few splits each), and under their 64-register bound four more live registers spill.
template <int W, int C>
constexpr int kLseRegs = W == 1 && C == 1 ? 1 : 5;
template <int R>
struct SplitLse {
  float lse[R];  // lse of splits lane + 32k (−inf past n)
  float m, g;
};
template <int R>
__device__ __forceinline__ SplitLse<R> split_lse_stats(const float* lse_col, int n, int q_rows, int lane) {
  SplitLse<R> r;
#pragma unroll
  for (int k = 0; k < R; ++k) {
    const int j = lane + 32 * k;
    r.lse[k] = j < n ? lse_col[static_cast<int64_t>(j) * q_rows] : -INFINITY;
  }
  float m = -INFINITY;
#pragma unroll
  for (int k = 0; k < R; ++k) m = fmaxf(m, r.lse[k]);
  for (int j = lane + 32 * R; j < n; j += 32) m = fmaxf(m, lse_col[static_cast<int64_t>(j) * q_rows]);
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
  r.m = m;
  r.g = m;
  if (m != -INFINITY && m == m) {
    float sum = 0.f;
#pragma unroll
    for (int k = 0; k < R; ++k)
      if (lane + 32 * k < n) sum += ptx::exp2_approx(r.lse[k] - m);
    for (int j = lane + 32 * R; j < n; j += 32) sum += ptx::exp2_approx(lse_col[static_cast<int64_t>(j) * q_rows] - m);
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
    r.g = ptx::log2_approx(sum) + m;
  }
  return r;
}

// W warps per row, C column chunks: warp `part` of a row adds splits part, part + W, part + 2W, … over the
// columns [col0, col0 + 512 / C), lane owning 4 of each 128 (kSub = 4 / C sub-chunks). A batch issues the loads of
// kGroup splits × kSub sub-chunks before using any. With C = 1 a batch is one split (4 loads, the registers of the
// plain per-split walk: short rows in large batches need the occupancy more than the loads in flight); with
// C = 2, 4 a batch is 8 or 16 splits (16 loads).
template <int C>
constexpr int kSubChunks = COMBINE_MAX_CHUNKS / C;
// (12 or 16 splits a C = 2 batch over 16-bit partials, for which the raw batch left room: S9 1.4–1.7 % slower on an
// H100, perf log `c2b` — more loads queued ahead of the row's LSE loads, as for C = 4 in `cpre`)
template <int C>
constexpr int kBatchSplits = C == 1 ? 1 : COMBINE_IN_FLIGHT / kSubChunks<C>;

// The first batch (the warp's splits t < kBatchSplits) loaded beside the row's LSEs: most split rows have at most a
// batch of splits per warp (sweep#9's two, S9's few), and their merge was an LSE round trip, then a partials one.
// Measured (H200, session 12, perf log `cpre`; these bytes rerun in session 13: 0.2–1.7 %): for C = 1, 2 S8, S9 and the
// var sweep rows 0.3–1.3 % faster; for C = 4 (16 splits' loads queued ahead of the LSE loads) S1, S3, S7 and S12 ran
// 1.5–2.4 % slower (S2 1.5 % faster), so C = 4 does not (it walks its splits staged in shared memory: add_splits_staged).
template <int C>
constexpr bool kStaged = C == 4;  // add_splits_staged
template <int C>
constexpr bool kFirstBatchEarly = !kStaged<C>;
template <int C, typename P>
struct FirstBatch {
  BatchElem<P> v[kBatchSplits<C>][kSubChunks<C>];
};

// Issues the first batch's loads (those of splits the warp has; the rest read as zeros).
template <int W, int C, typename P>
__device__ __forceinline__ void load_first_batch(FirstBatch<C, P>& b, const MlaDecodeParams& p, const P* o_first, int n, int part, int col0, int lane) {
  const int nt = (n - part + W - 1) / W;
  const int64_t split_stride = static_cast<int64_t>(W) * p.q_rows * kPartialRow<P>;
  const P* src0 = o_first + static_cast<int64_t>(part) * p.q_rows * kPartialRow<P> + col0 + lane * 4;  // split part
#pragma unroll
  for (int u = 0; u < kBatchSplits<C>; ++u)
#pragma unroll
    for (int s = 0; s < kSubChunks<C>; ++s)
      b.v[u][s] = u < nt ? batch_load(src0 + u * split_stride + s * COMBINE_WARP_COLS) : batch_zero<P>();
}

// The weight of this lane's split t = base + lane (0 past the warp's nt splits). W = 1: split t is lane's
// (base / 32)-th, already in registers (split_lse_stats) for the first 32 · R; otherwise loaded here.
template <int W, int R>
__device__ __forceinline__ float split_weight(const MlaDecodeParams& p, const float* lse_col, const SplitLse<R>& sl, int part, float g, int base, int nt, int lane) {
  const int t = base + lane;
  float lse_t = -INFINITY;
  if (W == 1 && base < 32 * R) {
#pragma unroll
    for (int k = 0; k < R; ++k)
      if (base == 32 * k) lse_t = sl.lse[k];
  } else if (t < nt) {
    lse_t = lse_col[static_cast<int64_t>(part + W * t) * p.q_rows];
  }
  return t < nt ? ptx::exp2_approx(lse_t - g) : 0.f;
}

// 16-bit partials: the factors of this lane's split t = base + lane ({0, 0} past the warp's nt splits) — of half 0
// and half 1 for C = 1 (sub-chunks 0, 1 and 2, 3), of the CTA's half in both for C ≥ 2. The first 32 splits' are
// loaded beside the row's LSEs (combine_kernel), later ones beside their LSEs (lane_weights' callers), so the factors
// add no round trip; folded into the weights (lane_weights), they add no registers to the walks either (factors held
// per batch cost the C = 2 / 4 entries 20–56 registers and a resident CTA per SM, and S9 6 % over fp32 partials: perf
// log `s47s`). fp32 partials: unused.
template <int W, int C, typename P>
__device__ __forceinline__ float2 lane_factors(const MlaDecodeParams& p, const P* o_first, int part, int nt, int base, int col0, int lane) {
  float2 up = make_float2(0.f, 0.f);
  if constexpr (sizeof(P) == 2) {
    const int t = base + lane;
    if (t < nt) {
      const float* f = reinterpret_cast<const float*>(o_first + static_cast<int64_t>(part + W * t) * p.q_rows * kPartialRow<P> + HEAD_DIM_V);
      if constexpr (C == 1) up = *reinterpret_cast<const float2*>(f);
      else up.x = up.y = f[col0 >= HEAD_DIM_V / 2 ? 1 : 0];
    }
  }
  return up;
}
// This lane's split weight (split_weight) for the columns the CTA reads: {w, w} over fp32 partials, w times the
// factors `up` (lane_factors) over 16-bit ones. A weight of 0 stays 0 (an empty split's factors may be anything).
template <int W, int C, typename P>
__device__ __forceinline__ float2 lane_weights(const MlaDecodeParams& p, const float* lse_col, const SplitLse<kLseRegs<W, C>>& sl, int part, float g,
                                               int base, int nt, int lane, float2 up) {
  const float w = split_weight<W, kLseRegs<W, C>>(p, lse_col, sl, part, g, base, nt, lane);
  if constexpr (sizeof(P) == 4) return make_float2(w, w);
  else return w != 0.f ? make_float2(w * up.x, w * up.y) : make_float2(0.f, 0.f);
}
// The weight of sub-chunk s (lane_weights' .x or .y).
template <int C, typename P>
__device__ __forceinline__ float sub_weight(float2 w, int s) { return sizeof(P) == 2 && C == 1 && s >= 2 ? w.y : w.x; }

// Adds the first batch to acc: a split of weight 0 (past the end, empty or negligible) adds exact zeros, as one of
// a later batch whose loads are skipped. Returns this lane's weight of the warp's split t = lane (add_splits reuses it
// for its first 32 splits). Written as the measured build had it inside add_splits (weights, zeros, then the sums):
// with the same operations in another order ptxas scheduled the W = 1 entries 640–3 200 bytes longer.
template <int W, int C, typename P>
__device__ __forceinline__ float2 add_first_batch(const MlaDecodeParams& p, const float* lse_col, const SplitLse<kLseRegs<W, C>>& sl, int n, int part,
                                                  float g, int lane, float2 up0, FirstBatch<C, P>& b, float (&acc)[kSubChunks<C>][4]) {
  const int nt = (n - part + W - 1) / W;
  const float2 w_lane = lane_weights<W, C, P>(p, lse_col, sl, part, g, 0, nt, lane, up0);
  float2 w[kBatchSplits<C>];
#pragma unroll
  for (int u = 0; u < kBatchSplits<C>; ++u) {
    w[u].x = __shfl_sync(0xffffffffu, w_lane.x, u);  // 0 for u ≥ nt
    w[u].y = sizeof(P) == 2 && C == 1 ? __shfl_sync(0xffffffffu, w_lane.y, u) : w[u].x;
#pragma unroll
    for (int s = 0; s < kSubChunks<C>; ++s)
      if (sub_weight<C, P>(w[u], s) == 0.f) b.v[u][s] = batch_zero<P>();
  }
#pragma unroll
  for (int u = 0; u < kBatchSplits<C>; ++u) {
#pragma unroll
    for (int s = 0; s < kSubChunks<C>; ++s) {
      const float ws = sub_weight<C, P>(w[u], s);
      const float4 v = batch_f4<P>(b.v[u][s]);
      acc[s][0] += ws * v.x;
      acc[s][1] += ws * v.y;
      acc[s][2] += ws * v.z;
      acc[s][3] += ws * v.w;
    }
  }
  return w_lane;
}

// Adds the warp's splits from t = kSkip on (kSkip: the first batch's, already added by add_first_batch, whose weights
// come in as w_lane0), batch by batch: the C ≤ 2 walk (C = 4: add_splits_staged).
template <int W, int C, int kSkip, typename P>
__device__ __forceinline__ void add_splits(const MlaDecodeParams& p, const float* lse_col, const SplitLse<kLseRegs<W, C>>& sl, const P* o_first, int n,
                                           int part, float g, int col0, int lane, float2 w_lane0, float (&acc)[kSubChunks<C>][4]) {
  constexpr int kSub = kSubChunks<C>;
  constexpr int kGroup = kBatchSplits<C>;
  const int nt = (n - part + W - 1) / W;  // my splits (0 when part ≥ n)
  const int64_t split_stride = static_cast<int64_t>(W) * p.q_rows * kPartialRow<P>;
  const P* src0 = o_first + static_cast<int64_t>(part) * p.q_rows * kPartialRow<P> + col0 + lane * 4;  // split part
  static_assert(kSkip > 0, "the first batch is add_first_batch's");
  if (nt <= kSkip) return;
  for (int base = 0; base < nt; base += 32) {
    const float2 w_lane =
        base == 0 ? w_lane0 : lane_weights<W, C, P>(p, lse_col, sl, part, g, base, nt, lane, lane_factors<W, C>(p, o_first, part, nt, base, col0, lane));
    const int cnt = min(32, nt - base);
    const P* src = src0 + base * split_stride;
    for (int jj = base == 0 ? kSkip : 0; jj < cnt; jj += kGroup) {
      float2 w[kGroup];
      BatchElem<P> v[kGroup][kSub];
#pragma unroll
      for (int u = 0; u < kGroup; ++u) {  // all loads first
        const float wu = __shfl_sync(0xffffffffu, w_lane.x, min(jj + u, 31));
        w[u].x = jj + u < cnt ? wu : 0.f;  // warp-uniform: past the end, an empty split, or negligible weight
        w[u].y = sizeof(P) == 2 && C == 1 ? (jj + u < cnt ? __shfl_sync(0xffffffffu, w_lane.y, min(jj + u, 31)) : 0.f) : w[u].x;
#pragma unroll
        for (int s = 0; s < kSub; ++s)  // (16-bit partials, C = 1: each half by its own weight — one may underflow alone)
          v[u][s] = sub_weight<C, P>(w[u], s) != 0.f ? batch_load(src + (jj + u) * split_stride + s * COMBINE_WARP_COLS) : batch_zero<P>();
      }
#pragma unroll
      for (int u = 0; u < kGroup; ++u) {
#pragma unroll
        for (int s = 0; s < kSub; ++s) {
          const float ws = sub_weight<C, P>(w[u], s);
          const float4 f = batch_f4<P>(v[u][s]);
          acc[s][0] += ws * f.x;
          acc[s][1] += ws * f.y;
          acc[s][2] += ws * f.z;
          acc[s][3] += ws * f.w;
        }
      }
    }
  }
}

// C = 4: a warp's batches staged in dynamic shared memory by cp.async instead of registers (COMBINE_STAGE_SPLITS splits
// of 512 B per batch; the host gives the launch COMBINE_C4_SMEM_BYTES). Measured against the register walk with the
// same 16 splits in flight (H200, session 13, perf log `cstage`): S2, S7 and S12 2–3 % faster, S3 1 %, S1 equal, in
// both rounds; for C = 2 (S9; 8 → 16 or 24 splits a warp, 128–192 KB a CTA) 9–13 % slower, so C = 2 keeps its register
// walk with the first batch early. A lane reads back only the bytes it copied, so its own cp.async.wait_group orders
// them; a skipped split (weight 0) is zero-filled (src-size 0). 16-bit partials: 8-byte copies of 256 B per split
// (on the register walk instead, S7 ran 15 % slower, s46b; staged, 16 splits a stage beat 32, s46d).
constexpr int kStageSplits = COMBINE_STAGE_SPLITS;
static_assert(kStageSplits >= 1 && kStageSplits <= 32, "a stage's weights come from one 32-split pass");
static_assert(COMBINE_C4_SMEM_BYTES == COMBINE_WARPS * kStageSplits * kSubChunks<4> * 32 * 16, "the C = 4 stage: warps × splits × sub-chunks × lanes × 16 B (fp32; 16-bit partials use half)");
template <int W, int C, typename P>
__device__ __forceinline__ void add_splits_staged(const MlaDecodeParams& p, const float* lse_col, const SplitLse<kLseRegs<W, C>>& sl, const P* o_first, int n,
                                                  int part, float g, int col0, int lane, int warp, float2 up0, float (&acc)[kSubChunks<C>][4]) {
  constexpr int kSub = kSubChunks<C>;
  constexpr bool kHalf = sizeof(P) == 2;
  constexpr int kLaneBytes = 4 * sizeof(P);   // a lane's 4 columns
  constexpr int kSlot = 32 * kLaneBytes;      // one split's sub-chunk, all lanes
  extern __shared__ __align__(128) uint8_t smem[];
  // split u's sub-chunk s of this lane: + (u · kSub + s) · kSlot
  const uint32_t stage = ptx::smem_addr(smem) + (warp * kStageSplits * kSub * 32 + lane) * kLaneBytes;
  const int nt = (n - part + W - 1) / W;
  const int64_t split_stride = static_cast<int64_t>(W) * p.q_rows * kPartialRow<P>;
  const P* src0 = o_first + static_cast<int64_t>(part) * p.q_rows * kPartialRow<P> + col0 + lane * 4;
  for (int base = 0; base < nt; base += 32) {
    // (C = 4: one half's factor)
    const float w_lane = lane_weights<W, C, P>(p, lse_col, sl, part, g, base, nt, lane, base == 0 ? up0 : lane_factors<W, C>(p, o_first, part, nt, base, col0, lane)).x;
    const int cnt = min(32, nt - base);
    const P* src = src0 + base * split_stride;
    for (int jj = 0; jj < cnt; jj += kStageSplits) {
      float w[kStageSplits];
#pragma unroll
      for (int u = 0; u < kStageSplits; ++u) {
        const float wu = __shfl_sync(0xffffffffu, w_lane, min(jj + u, 31));
        w[u] = jj + u < cnt ? wu : 0.f;
        const bool live = w[u] != 0.f;
#pragma unroll
        for (int s = 0; s < kSub; ++s) {
          const P* from = live ? src + (jj + u) * split_stride + s * COMBINE_WARP_COLS : src;
          if constexpr (kHalf) ptx::cp_async_8(stage + (u * kSub + s) * kSlot, from, live ? 8 : 0);
          else ptx::cp_async_16(stage + (u * kSub + s) * kSlot, from, live ? 16 : 0);
        }
      }
      ptx::cp_async_commit();
      ptx::cp_async_wait_all();
#pragma unroll
      for (int u = 0; u < kStageSplits; ++u) {
#pragma unroll
        for (int s = 0; s < kSub; ++s) {
          float4 v;
          if constexpr (kHalf) {
            v = partial4<P>(ptx::ld_shared_v2(stage + (u * kSub + s) * kSlot));
          } else {
            const uint4 raw = ptx::ld_shared_v4(stage + (u * kSub + s) * kSlot);
            v = make_float4(__uint_as_float(raw.x), __uint_as_float(raw.y), __uint_as_float(raw.z), __uint_as_float(raw.w));
          }
          acc[s][0] += w[u] * v.x;
          acc[s][1] += w[u] * v.y;
          acc[s][2] += w[u] * v.z;
          acc[s][3] += w[u] * v.w;
        }
      }
    }
  }
}

// kSink: scale the merged row by its head's sink factor (attn_sink: [h_q] fp32).
template <typename T, int W, int C, bool kSink = false, typename P = float>
__device__ __forceinline__ void combine_kernel(const MlaDecodeParams& p, const float* attn_sink = nullptr) {
  static_assert(COMBINE_WARPS % W == 0, "a CTA holds whole rows");
  static_assert(COMBINE_MAX_CHUNKS % C == 0, "whole sub-chunks per CTA");
  constexpr int kSub = COMBINE_MAX_CHUNKS / C;
  constexpr int kRowsPerCta = COMBINE_WARPS / W;
  using Ops = ElemOps<T>;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int part = warp % W;
  const int groups = (p.q_rows + kRowsPerCta - 1) / kRowsPerCta;
  const int req = blockIdx.x / groups;
  const int r = (blockIdx.x - req * groups) * kRowsPerCta + warp / W;
  bool active = req < p.b && r < p.q_rows;
  int first = 0, n = 0;
  if (active) {
    first = ptx::ld_plain(p.num_splits + req);
    n = ptx::ld_plain(p.num_splits + req + 1) - first;
    active = n > 1;  // one split: the decode wrote the row
  }
  if constexpr (W == 1) {
    if (!active) return;  // no block-level barrier when a warp owns its row
  }
  // o_accum / lse_accum come from the decode kernel just before us (PDL): wait for it to complete — only a row that
  // has splits to merge. num_splits is the metadata kernel's, complete before we start (every decode CTA passed its
  // own grid_dep_wait on it before letting us launch), so an unsplit row leaves without waiting: a batch with few or
  // no split requests (S5: 4 096 CTAs, none active) retires its combine CTAs during the decode's tail.
  if (active) ptx::grid_dep_wait();
#ifdef MLA_EXPERIMENT_COMBINE_WAIT_ONLY  // EXPERIMENT (variant builds only): the launch and the wait, no merge (outputs wrong)
  return;
#endif
  const int col0 = blockIdx.y * (HEAD_DIM_V / C);  // grid y = C

  float acc[kSub][4];
#pragma unroll
  for (int s = 0; s < kSub; ++s) acc[s][0] = acc[s][1] = acc[s][2] = acc[s][3] = 0.f;
  float g_lse = INFINITY;  // natural-log output; +inf when every split is empty
  if (active) {
    // lse of split j: lse_accum[(first + j) * q_rows + r]
    const float* lse_col = p.lse_accum + static_cast<int64_t>(first) * p.q_rows + r;
    if constexpr (kFirstBatchEarly<C>) {
      const P* o_first = reinterpret_cast<const P*>(p.o_accum) + (static_cast<int64_t>(first) * p.q_rows + r) * kPartialRow<P>;
      FirstBatch<C, P> first_batch;
      load_first_batch<W, C>(first_batch, p, o_first, n, part, col0, lane);
      const float2 up0 = lane_factors<W, C>(p, o_first, part, (n - part + W - 1) / W, 0, col0, lane);
      const SplitLse<kLseRegs<W, C>> sl = split_lse_stats<kLseRegs<W, C>>(lse_col, n, p.q_rows, lane);
      if (sl.m != -INFINITY && sl.m == sl.m) {
        const float g = sl.g;
        g_lse = g * kLn2;
        const float2 w_lane0 = add_first_batch<W, C, P>(p, lse_col, sl, n, part, g, lane, up0, first_batch, acc);
        add_splits<W, C, kBatchSplits<C>>(p, lse_col, sl, o_first, n, part, g, col0, lane, w_lane0, acc);
      }
    } else {
      const auto o_first_of = [&] { return reinterpret_cast<const P*>(p.o_accum) + (static_cast<int64_t>(first) * p.q_rows + r) * kPartialRow<P>; };
      float2 up0 = make_float2(0.f, 0.f);  // (fp32 partials: the pointer after the LSEs, as measured)
      if constexpr (sizeof(P) == 2) up0 = lane_factors<W, C>(p, o_first_of(), part, (n - part + W - 1) / W, 0, col0, lane);
      const SplitLse<kLseRegs<W, C>> sl = split_lse_stats<kLseRegs<W, C>>(lse_col, n, p.q_rows, lane);
      if (sl.m != -INFINITY && sl.m == sl.m) {
        const float g = sl.g;
        g_lse = g * kLn2;
        add_splits_staged<W, C>(p, lse_col, sl, o_first_of(), n, part, g, col0, lane, warp, up0, acc);
      }
    }
  }
  ptx::grid_dep_launch_dependents();  // inputs consumed; only the reduction and stores remain

  if constexpr (W > 1) {
    // the row's other warps hand their partial sums to its first warp
    __shared__ float4 partial[COMBINE_WARPS][kSub][32];
    if (active && part != 0) {
#pragma unroll
      for (int s = 0; s < kSub; ++s) partial[warp][s][lane] = make_float4(acc[s][0], acc[s][1], acc[s][2], acc[s][3]);
    }
    __syncthreads();
    if (!active || part != 0) return;
#pragma unroll
    for (int q = 1; q < W; ++q) {
#pragma unroll
      for (int s = 0; s < kSub; ++s) {
        const float4 v = partial[warp + q][s][lane];
        acc[s][0] += v.x;
        acc[s][1] += v.y;
        acc[s][2] += v.z;
        acc[s][3] += v.w;
      }
    }
  }

  const int s_idx = r / p.h_q, h_idx = r - s_idx * p.h_q;
  if constexpr (kSink) {
    if (g_lse != INFINITY) {
      // 1 / (1 + exp(sink − lse)): +inf sink → 0, −inf → 1
      const float factor = 1.f / (1.f + ptx::exp2_approx((attn_sink[h_idx] - g_lse) * kLog2e));
#pragma unroll
      for (int s = 0; s < kSub; ++s)
#pragma unroll
        for (int e = 0; e < 4; ++e) acc[s][e] *= factor;
    }
  }
  T* out_row = static_cast<T*>(p.out) + (static_cast<int64_t>(req) * p.q_rows + r) * HEAD_DIM_V + col0 + lane * 4;
#pragma unroll
  for (int s = 0; s < kSub; ++s) {
    uint2 packed;
    packed.x = Ops::pack2(acc[s][0], acc[s][1]);
    packed.y = Ops::pack2(acc[s][2], acc[s][3]);
    *reinterpret_cast<uint2*>(out_row + s * COMBINE_WARP_COLS) = packed;
  }
  if (blockIdx.y == 0 && lane == 0) {
    p.lse[(static_cast<int64_t>(req) * p.h_q + h_idx) * p.s_q + s_idx] = g_lse;
  }
}

}  // namespace

// Bounds: W = 1, C = 1 serves large batches of short rows, where many CTAs start and exit at once: 4 resident
// CTAs per SM (≤ 64 registers). The others hold more loads in flight and run with 2 or more.
// The compute_80 PTX (-DFLASH_MLA_PTX: run only where no cubin is, through the driver's JIT) asks for 3: assembled for
// sm_120 by ptxas 13.0 the 64-register bound spills 24 B (the build's JIT check fails on it; seen 2026-12-02).
#ifdef FLASH_MLA_PTX
#define COMBINE_SHORT_ROW_BLOCKS 3
#else
#define COMBINE_SHORT_ROW_BLOCKS 4
#endif
// The C = 2 entries over 16-bit partials keep two resident CTAs (≤ 128 registers: W = 1 took 131 unbounded), as their
// earlier build had them by chance; the others take what they need.
template <typename P, int C>
constexpr int kMinBlocks = sizeof(P) == 2 && C == 2 ? 2 : 1;
// Entries mla_combine_<kind>w<W>_c<C>_<dtype>, P the partials' element: kind empty over fp32 partials (every decode
// kernel but one), kind p16_ over scaled fp16 partial rows (PARTIAL16_ROW_ELEMS, 'hopper''s dense
// entries: mla_sm90_math.cuh store_row_wide; built for every target like the rest, though only sm_90 runs 'hopper').
#define COMBINE_ENTRY(kind, W, C, name, T, P)                                                                 \
  extern "C" __global__ void __launch_bounds__(COMBINE_THREADS, (W == 1 && C == 1) ? COMBINE_SHORT_ROW_BLOCKS : kMinBlocks<P, C>) \
      mla_combine_##kind##w##W##_c##C##_##name(const __grid_constant__ MlaDecodeParams p) {                    \
    combine_kernel<T, W, C, false, P>(p);                                                                     \
  }
#define COMBINE_ENTRIES(kind, W, name, T, P) \
  COMBINE_ENTRY(kind, W, 1, name, T, P) COMBINE_ENTRY(kind, W, 2, name, T, P) COMBINE_ENTRY(kind, W, 4, name, T, P)
#define COMBINE_FAMILY(kind, P_BF16, P_FP16)                                                                  \
  COMBINE_ENTRIES(kind, 1, bf16, __nv_bfloat16, P_BF16) COMBINE_ENTRIES(kind, 2, bf16, __nv_bfloat16, P_BF16) \
  COMBINE_ENTRIES(kind, 4, bf16, __nv_bfloat16, P_BF16) COMBINE_ENTRIES(kind, 8, bf16, __nv_bfloat16, P_BF16) \
  COMBINE_ENTRIES(kind, 1, fp16, __half, P_FP16) COMBINE_ENTRIES(kind, 2, fp16, __half, P_FP16)               \
  COMBINE_ENTRIES(kind, 4, fp16, __half, P_FP16) COMBINE_ENTRIES(kind, 8, fp16, __half, P_FP16)
COMBINE_FAMILY(, float, float)
COMBINE_FAMILY(p16_, __half, __half)
// sparse decode with an attention sink: the second parameter is the FP8 decode's (only attn_sink is read); its
// partials are fp32 (the sparse decodes write them so)
extern "C" __global__ void __launch_bounds__(COMBINE_THREADS, COMBINE_SHORT_ROW_BLOCKS) mla_combine_sink_bf16(const __grid_constant__ MlaDecodeParams p, const __grid_constant__ MlaFp8Params f) {
  combine_kernel<__nv_bfloat16, 1, 1, true>(p, f.attn_sink);
}
extern "C" __global__ void __launch_bounds__(COMBINE_THREADS, COMBINE_SHORT_ROW_BLOCKS) mla_combine_sink_fp16(const __grid_constant__ MlaDecodeParams p, const __grid_constant__ MlaFp8Params f) {
  combine_kernel<__half, 1, 1, true>(p, f.attn_sink);
}
