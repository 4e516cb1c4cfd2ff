// The small-row kernel's 32-row FP8 entry (mla_decode_sm90_small_fp8_r32_bf16: dense decode of 17–32 folded rows over
// the FP8 cache, the register-A datapath of mla_sm90_small_fp8.cuh). Why a body of its own: at 32 rows Oᵀ is 128 fp32
// per thread when each warpgroup holds all 512 channels, and the 16-row body's split-K (the warpgroups take alternate
// blocks, each with its own Oᵀ) then does not fit the register file beside the S partials and the A fragments. Here
// the warpgroups split the channels instead: warpgroup w owns scale groups 2w, 2w + 1 (channels 256w … 256w + 255) of
// every block, so it streams only that half of each block (two 128B-swizzled boxes per stage, its own mbarrier) and
// holds Oᵀ for its 256 channels × 32 rows (64 fp32). Per block, both warpgroups:
//   1. wait for their half (and the block's RoPE box, shared: warpgroup 0 requests it); Sᵀ's partial over their two
//      groups (ldmatrix → cvt e4m3x2 → f16x2 → wgmma n32 with A from registers, as f16r_scores) and over their two of
//      the RoPE's four k-steps (bf16, shared memory);
//   2. exchange the partials through shared memory (by block parity) and one CTA barrier: Sᵀ = mine + theirs — the
//      same float sum in both warpgroups (addition commutes), so both run the same softmax on the same values and
//      need no further exchange (the column maxima of the block still cross the warpgroup's 4 warps: one warpgroup
//      barrier, with the maxima of the tokens' scales of its groups — its reference scales, as the 16-row entry);
//   3. Oᵀ rescaled, their two Pᵀ copies (P · s_t,g / r_g, f16) stored, a warpgroup barrier, P·V over their half
//      (ldmatrix.trans, as f16r_pv); a release barrier (the warpgroup past its ldmatrix) and warpgroup w's thread 0
//      requests block n + 3's half into the stage (warpgroup 0: its RoPE box too).
// The item's end needs no merge of Oᵀ (each warpgroup writes its own channels); the column sums cross the warps only.
// Included by mla_decode_sm90_small.cu after its other headers (SmallMerge, BlockRef, the register-A helpers).
#pragma once
#include <cstdint>
#include <cuda.h>

#include "mla_config.h"
#include "mla_params.h"
#include "mla_sm90_math.cuh"
#include "mla_sm90_small_fp8.cuh"
#include "mla_sm90_small_layout.cuh"
#include "mla_sm90_small_merge.cuh"
#include "ptx.cuh"
#include "ptx_sm90.cuh"

namespace {

constexpr int kR32Slab = SM90S_R32_ROW_SLAB_BYTES;  // Q's and a Pᵀ copy's slab: 32 rows × 128 B
constexpr int kR32Stages = SM90S_F8R32_STAGES;
static_assert(kR32Stages == 3, "a stage is reused 3 blocks on: the request of block n + 3 at block n's end");

// One thread: warpgroup wg's half of the block on `page` (scale groups 2 wg, 2 wg + 1: boxes of the swizzled raw map)
// into the stage at sSt, completing on `bar`.
__device__ __forceinline__ void r32_request_half(uint32_t sSt, const CUtensorMap* raw_sw_map, uint32_t bar, int page, int wg) {
  ptx::mbarrier_arrive_expect_tx(bar, SM90S_F8R32_HALF_BYTES);
#pragma unroll
  for (int b = 0; b < 2; ++b) ptx::tma_load_3d(sSt + b * SM90_SLAB_BYTES, raw_sw_map, bar, 128 * (2 * wg + b), 0, page);
}

// Scales of this thread's two S tokens (16 · warp + g and + 8) for its warpgroup's groups 2 wg + b, 0 for tokens ≥
// n_valid (NaN-filled slots past a sequence's end).
struct R32Scales {
  float v[2][2];
};
__device__ __forceinline__ R32Scales r32_token_scales(const MlaDecodeParams& p, int page, int warp, int g, int n_valid, int wg) {
  R32Scales s;
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const int t = 16 * warp + g + 8 * h;
    const float* sc = reinterpret_cast<const float*>(static_cast<const uint8_t*>(p.k_cache) + static_cast<int64_t>(page) * p.k_block_stride +
                                                     static_cast<int64_t>(t) * p.k_row_stride + FP8_SCALES_OFFSET);
#pragma unroll
    for (int b = 0; b < 2; ++b) s.v[h][b] = t < n_valid ? sc[2 * wg + b] : 0.f;
  }
  return s;
}

// This warpgroup's partial Sᵀ of one block (32 columns) into s: its two groups' S_b from the half stage sSt (per group
// 4 ldmatrix.x4 and 8 wgmmas, A from registers: f16r_scores' fragments; Q permuted to match), RoPE k-steps 2 wg and
// 2 wg + 1 from the block's RoPE box sR (after its wait), then s = S_rope + 2^−k_c Σ_b s_t,b · S_b. Committed per
// quarter (4 k-steps), two quarters' fragments in flight.
__device__ __forceinline__ void r32_scores_half(float (&s)[16], uint32_t sSt, uint32_t sR, uint32_t sQ, const R32Scales& tsc, uint32_t sQf,
                                                uint32_t rope_bar, uint32_t rope_phase, int wg, int warp, int lane) {
  const int mi = lane >> 3, t = 16 * warp + 8 * (mi & 1) + (lane & 7);
  const uint32_t row = sSt + t * 128;
  const uint64_t dq = desc_k_major(sQ);
  float sg[2][16];
  uint32_t a[2][4][4];  // a quarter's fragments (4 k-steps), two quarters in flight: 32 registers, not 64
#pragma unroll
  for (int qt = 0; qt < 4; ++qt) {
    const int b = qt >> 1, hk = qt & 1;
    if (qt >= 2) ptx::wgmma_wait<1>();  // quarter qt − 2 retired: its fragments may be rewritten
#pragma unroll
    for (int kq = 0; kq < 2; ++kq) {
      const int kp = 2 * hk + kq;
      uint32_t r[4];
      ptx::ldmatrix_x4(r, row + b * SM90_SLAB_BYTES + (((2 * kp + (mi >> 1)) ^ (t & 7)) << 4));
      const uint2 c0 = ptx::e4m3x4_to_f16x4(r[0]), c1 = ptx::e4m3x4_to_f16x4(r[1]);
      const uint2 c2 = ptx::e4m3x4_to_f16x4(r[2]), c3 = ptx::e4m3x4_to_f16x4(r[3]);
      uint32_t(&a0)[4] = a[qt & 1][2 * kq];
      uint32_t(&a1)[4] = a[qt & 1][2 * kq + 1];
      a0[0] = c0.x, a0[1] = c1.x, a0[2] = c0.y, a0[3] = c1.y;
      a1[0] = c2.x, a1[1] = c3.x, a1[2] = c2.y, a1[3] = c3.y;
    }
    ptx::wgmma_fence();
    const int grp = 2 * wg + b;
#pragma unroll
    for (int kq = 0; kq < 4; ++kq) {
      const int kk = 4 * hk + kq;  // k-step of the group: channels 16 kk … of its 128
      ptx::wgmma_m64n32k16_f16_rs(sg[b], a[qt & 1][kq], dq + (((2 * grp + (kk >> 2)) * kR32Slab + (kk & 3) * 32) >> 4), kk != 0);
    }
    ptx::wgmma_commit();
  }
  ptx::mbarrier_wait(rope_bar, rope_phase);
  ptx::wgmma_fence();
  const uint64_t dr = desc_k_major(sR);
#pragma unroll
  for (int kk = 0; kk < 2; ++kk) {
    const int k = 2 * wg + kk;
    ptx::wgmma_m64n32k16_bf16_ss(s, dr + ((k * 32) >> 4), dq + (((SM90_SLABS - 1) * kR32Slab + k * 32) >> 4), kk != 0);
  }
  // the columns' factors 2^−k_c from shared memory (the item's, q_to_f16_scaled: kept in registers across the
  // blocks, they made the entry spill)
  float qf[4][2];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int e = 0; e < 2; ++e) qf[i][e] = ptx::ld_shared_f32(sQf + col_of(i, e, lane & 3) * 4);
  ptx::wgmma_commit();
  ptx::wgmma_wait<0>();
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int h = 0; h < 2; ++h)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int x = 4 * i + 2 * h + e;
        s[x] = fmaf(qf[i][e], fmaf(tsc.v[h][1], sg[1][x], tsc.v[h][0] * sg[0][x]), s[x]);
      }
}

// Pᵀ (this thread's fragment s, 32 columns) → this warpgroup's two f16 copies at sP + 4096 b, copy b scaled per token by
// ratio s_t,b / r_b (the partner lane's by shuffles): f16_store_p's pairing at 32 rows.
__device__ __forceinline__ void r32_store_p(uint32_t sP, const float (&s)[16], const float (&ratio)[2][2], int warp, int g, int q4) {
  const bool odd = g & 1;
  float rp[2][2];
#pragma unroll
  for (int h = 0; h < 2; ++h)
#pragma unroll
    for (int b = 0; b < 2; ++b) rp[h][b] = __shfl_xor_sync(0xffffffffu, ratio[h][b], 4);
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const float v0 = s[4 * i + 2 * h], v1 = s[4 * i + 2 * h + 1];
      const float other = __shfl_xor_sync(0xffffffffu, odd ? v0 : v1, 4);
      const int tok = (16 * warp + g + 8 * h) & ~1, col = col_of(i, odd ? 1 : 0, q4);
#pragma unroll
      for (int b = 0; b < 2; ++b) {
        const uint32_t word = odd ? ptx::f32x2_to_f16x2(other * rp[h][b], v1 * ratio[h][b]) : ptx::f32x2_to_f16x2(v0 * ratio[h][b], other * rp[h][b]);
        ptx::st_shared_u32(sP + b * kR32Slab + swizzled(col, tok >> 3) + (tok & 7) * 2, word);
      }
    }
}

// Oᵀ += Vᵀ · Pᵀ over this warpgroup's half: local tile 2b + u = channels 64 (4 wg + 2b + u) …, from the half stage's box
// b (f16r_pv's ldmatrix.trans fragments: Oᵀ's rows permuted within each warp's 16) against Pᵀ copy b. kMasked: the
// codes of tokens ≥ n_valid become 0 first (NaN-filled slots).
template <bool kMasked>
__device__ __forceinline__ void r32_pv_half(float (&o)[4][16], uint32_t sSt, uint32_t sP, int warp, int lane, int n_valid) {
  const uint64_t dp = desc_k_major(sP);
  const int q4 = lane & 3;
  uint32_t keep[2][4];
  if constexpr (kMasked) {
#pragma unroll
    for (int kp = 0; kp < 2; ++kp)
#pragma unroll
      for (int m = 0; m < 4; ++m) {
        const int t0 = 32 * kp + 8 * m + 2 * q4;
        keep[kp][m] = (t0 < n_valid ? 0x0000ffffu : 0u) | (t0 + 1 < n_valid ? 0xffff0000u : 0u);
      }
  }
  uint32_t a[2][8][4];
#pragma unroll
  for (int b = 0; b < 2; ++b) {
#pragma unroll
    for (int u = 0; u < 2; ++u) {
      const int chunk = 4 * u + warp;
#pragma unroll
      for (int kp = 0; kp < 2; ++kp) {
        const int tk = 32 * kp + lane;
        uint32_t r[4];
        ptx::ldmatrix_x4_trans(r, sSt + b * SM90_SLAB_BYTES + tk * 128 + ((chunk ^ (tk & 7)) << 4));
#pragma unroll
        for (int m = 0; m < 4; ++m) {
          if constexpr (kMasked) r[m] &= keep[kp][m];
          r[m] = ptx::prmt(r[m], 0u, 0x3120u);
        }
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          const uint2 lo = ptx::e4m3x4_to_f16x4(r[2 * h]), hi = ptx::e4m3x4_to_f16x4(r[2 * h + 1]);
          uint32_t(&f)[4] = a[b][4 * u + 2 * kp + h];
          f[0] = lo.x, f[1] = lo.y, f[2] = hi.x, f[3] = hi.y;
        }
      }
    }
    ptx::wgmma_fence();
#pragma unroll
    for (int u = 0; u < 2; ++u)
#pragma unroll
      for (int kk = 0; kk < 4; ++kk) ptx::wgmma_m64n32k16_f16_rs(o[2 * b + u], a[b][4 * u + kk], dp + ((b * kR32Slab + kk * 32) >> 4), 1);
    ptx::wgmma_commit();
  }
  ptx::wgmma_wait<0>();
}

// o_unpermute at 32 columns (4 tiles of 16 values).
__device__ __forceinline__ void r32_o_unpermute(float (&o)[4][16], int g, int q4) {
#pragma unroll
  for (int t = 0; t < 4; ++t) {
    float nv[16];
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int src = (((g + 8 * h) >> 1) << 2) | q4;
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const float v0 = __shfl_sync(0xffffffffu, o[t][4 * i + e], src), v1 = __shfl_sync(0xffffffffu, o[t][4 * i + 2 + e], src);
          nv[4 * i + 2 * h + e] = (g & 1) ? v1 : v0;
        }
    }
#pragma unroll
    for (int x = 0; x < 16; ++x) o[t][x] = nv[x];
  }
}

__device__ __forceinline__ void small_row_decode_fp8_r32(const MlaDecodeParams& p, const CUtensorMap* rope_map, const CUtensorMap* raw_sw_map) {
  using T = __nv_bfloat16;
  constexpr int kRows = SM90S_R32_ROWS, kCols = kRows / 8;
  extern __shared__ uint8_t smem_raw[];
  const uint32_t base = (ptx::smem_addr(smem_raw) + 1023u) & ~1023u;
  const int tid = threadIdx.x, lane = tid & 31, warp_cta = __shfl_sync(0xffffffffu, tid >> 5, 0);
  const int wg = warp_cta >> 2, warp = warp_cta & 3, wtid = tid & (kWgThreads - 1);
  const int g = lane >> 2, q4 = lane & 3;
  const int wg_bar = kWgBarrier0 + wg;       // the warpgroup's barrier (all 128 threads)
  // its release: its 4 warps past their P·V's ldmatrix (every warp waits: with warps 1–3 only arriving, so that warp 0
  // alone waited, it measured 1.4 % slower on the H200 — and compute-sanitizer's racecheck misorders such warps:
  // perf log, session 24 `r32b`)
  const int rel_bar = kWgBarrier0 + 2 + wg;
  const uint32_t sQ = base + SM90S_F8R32_OFF_Q, sQf = base + SM90S_F8R32_OFF_QF, sFlag = base + SM90S_F8R32_OFF_FLAG;
  const uint32_t barRaw = base + SM90S_F8R32_OFF_BAR + 8 * kR32Stages * wg, barRope = base + SM90S_F8R32_OFF_BAR + 16 * kR32Stages;
  // column maxima of warp v of warpgroup x (32 floats) and then its maxima of the tokens' scales (its 2 groups)
  auto max_at = [&](int v, int col) { return base + SM90S_F8R32_OFF_MAX + ((wg * 4 + v) * 40 + col) * 4; };
  auto x_at = [&](int parity, int x, int k) { return base + SM90S_F8R32_OFF_X + (((parity * 2 + x) * 4 + k) * kWgThreads + wtid) * 16; };
  const SmallMerge<kRows, false> merge{0u, 0u, 0u, wg, warp, wtid, g, q4};

  if (tid == 0) {
    for (int b = 0; b < 3 * kR32Stages; ++b) ptx::mbarrier_init(base + SM90S_F8R32_OFF_BAR + 8 * b, 1);
    ptx::fence_barrier_init();
    ptx::prefetch_tensormap(rope_map);
    ptx::prefetch_tensormap(raw_sw_map);
  }
  __syncthreads();
  ptx::grid_dep_wait();  // everything below may depend on the previous kernel (PDL)
  const PartWork w = load_part_work(p, blockIdx.y);
  if (w.begin_req >= p.b) return;

  RowSet rs[kCols];
#pragma unroll
  for (int i = 0; i < kCols; ++i) {
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      rs[i].r_glob[e] = col_of(i, e, q4);
      rs[i].s_of_row[e] = col_of(i, e, q4) / p.h_q;
    }
    rs[i].s_last = (p.q_rows - 1) / p.h_q;
  }
  auto slice = [&](int req, const RowSet& r) { return slice_of(p, w, req, r); };
  auto table_of = [&](int req, const Blocks& bk) { return p.block_table + static_cast<int64_t>(req) * p.block_table_stride + bk.first; };
  const float scale_log2 = p.scale_softmax_log2;

  // The part's blocks over its items in order, block n in stage n % 3; rq is the last block requested (index rq_n).
  // Uniform over the CTA (blocks_of broadcasts by shuffles); thread 0 of each warpgroup issues.
  BlockRef rq{w.end_req + 1, 0, 0, nullptr};
  int rq_n = 0;
  auto seek = [&](BlockRef& c, int from) {
    for (int r = from; r <= w.end_req; ++r) {
      const Blocks nb = blocks_of(slice(r, rs[0]));
      if (nb.count > 0) {
        c = BlockRef{r, 0, nb.count, table_of(r, nb)};
        return true;
      }
    }
    c.req = w.end_req + 1;
    return false;
  };
  auto advance = [&](BlockRef& c) { return c.req > w.end_req ? false : c.j + 1 < c.count ? (++c.j, true) : seek(c, c.req + 1); };
  auto request = [&](const BlockRef& c, int stage) {
    if (wtid == 0) {
      const int page = ptx::ld_plain(c.bt + c.j);
      r32_request_half(base + SM90S_F8R32_OFF_RAW + (wg * kR32Stages + stage) * SM90S_F8R32_HALF_BYTES, raw_sw_map, barRaw + 8 * stage, page, wg);
      if (wg == 0) {
        ptx::mbarrier_arrive_expect_tx(barRope + 8 * stage, SM90_SLAB_BYTES);
        ptx::tma_load_3d(base + SM90S_F8R32_OFF_ROPE + stage * SM90_SLAB_BYTES, rope_map, barRope + 8 * stage, 0, 0, page);
      }
    }
  };
  // Q rows of request `req` → 9 slabs of 32 rows × 128 B (cp.async, waited at the item's top): thread t row t / 8.
  auto load_q = [&](int req) {
    const int row = tid >> 3, part = tid & 7;
    const bool ok = row < p.q_rows;
    const T* src = static_cast<const T*>(p.q);
    if (ok) src += static_cast<int64_t>(req) * p.q_batch_stride + static_cast<int64_t>(row / p.h_q) * p.q_seq_stride + static_cast<int64_t>(row % p.h_q) * p.q_head_stride;
    const uint32_t dst = sQ + swizzled(row, part);
#pragma unroll
    for (int k = 0; k < SM90_SLABS; ++k) ptx::cp_async_16(dst + k * kR32Slab, ok ? src + (part + 8 * k) * 8 : src, ok ? 16 : 0);
    ptx::cp_async_commit();
  };
  static_assert(SM90S_THREADS == 8 * kRows, "load_q: 8 threads per Q row");

  if (seek(rq, w.begin_req)) {
    request(rq, 0);
#pragma unroll 1
    for (int k = 1; k < kR32Stages; ++k) {
      BlockRef nx = rq;
      if (!advance(nx)) break;
      rq = nx, rq_n = k;
      request(rq, k);
    }
  }
  load_q(w.begin_req);

  int nblk = 0, stage = 0;
  uint32_t phase = 0;  // of stage `stage`'s barriers: (nblk / 3) & 1
  for (int req = w.begin_req; req <= w.end_req; ++req) {
    Slice sl[kCols] = {slice(req, rs[0]), slice(req, rs[1])};
#pragma unroll
    for (int i = 2; i < kCols; ++i) sl[i] = slice(req, rs[i]);
    const Blocks bk = blocks_of(sl[0]);
    const int* bt = table_of(req, bk);

    ptx::cp_async_wait_all();
    ptx::fence_proxy_async();
    __syncthreads();  // Q is in; every thread is done with the previous item
    q_to_f16_scaled<true, kR32Slab>(sQ, sQf, tid);                         // rows 0–15
    q_to_f16_scaled<true, kR32Slab>(sQ + 16 * 128, sQf + 16 * 4, tid);     // rows 16–31
    ptx::fence_proxy_async();
    __syncthreads();
    float rg[2] = {1.f, 1.f};  // the reference scales of this warpgroup's groups (its Oᵀ tiles 2b, 2b + 1 in units of rg[b])
    float o[4][16];
#pragma unroll
    for (int t = 0; t < 4; ++t)
#pragma unroll
      for (int x = 0; x < 16; ++x) o[t][x] = 0.f;
    float m[kCols][2], l[kCols][2];
#pragma unroll
    for (int i = 0; i < kCols; ++i)
#pragma unroll
      for (int e = 0; e < 2; ++e) m[i][e] = kMaxInit, l[i][e] = 0.f;

#pragma unroll 1
    for (int j = 0; j < bk.count; ++j) {
      const uint32_t b_ = opaque(base);  // (as the 16-row body: no descriptors kept live across blocks)
      const uint32_t sSt = b_ + SM90S_F8R32_OFF_RAW + (wg * kR32Stages + stage) * SM90S_F8R32_HALF_BYTES;
      const uint32_t sP = b_ + SM90S_F8R32_OFF_P + wg * 2 * kR32Slab;
      const int n_valid = j == bk.count - 1 ? bk.n_valid_last : PAGE_BLOCK_SIZE;
      const R32Scales tsc = r32_token_scales(p, ptx::ld_plain(bt + j), warp, g, n_valid, wg);  // before the wait
      ptx::mbarrier_wait(barRaw + 8 * stage, phase);
      float s[16];
#pragma unroll
      for (int x = 0; x < 16; ++x) s[x] = 0.f;
      r32_scores_half(s, sSt, b_ + SM90S_F8R32_OFF_ROPE + stage * SM90_SLAB_BYTES, b_ + SM90S_F8R32_OFF_Q, tsc, b_ + SM90S_F8R32_OFF_QF, barRope + 8 * stage, phase, wg, warp, lane);

      // the partials' exchange: slot parity nblk & 1 (the other warpgroup reads this block's before it passes the
      // next block's barrier, after which the slot of parity nblk & 1 is rewritten)
      const int par = nblk & 1;
#pragma unroll
      for (int k = 0; k < 4; ++k)
        ptx::st_shared_v4(x_at(par, wg, k), make_uint4(__float_as_uint(s[4 * k]), __float_as_uint(s[4 * k + 1]), __float_as_uint(s[4 * k + 2]), __float_as_uint(s[4 * k + 3])));
      __syncthreads();
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        const uint4 v = ptx::ld_shared_v4(x_at(par, 1 - wg, k));
        s[4 * k] += __uint_as_float(v.x), s[4 * k + 1] += __uint_as_float(v.y), s[4 * k + 2] += __uint_as_float(v.z), s[4 * k + 3] += __uint_as_float(v.w);
      }

      // mask tokens at or past each column's end; the column maxima (this thread's two tokens, the warp's 8 g, the
      // warpgroup's 4 warps) and the maxima of the tokens' scales per group
      const int tok0 = (bk.first + j) * PAGE_BLOCK_SIZE + 16 * warp + g;
      float mx[kCols][2];
#pragma unroll
      for (int i = 0; i < kCols; ++i)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          mx[i][e] = -INFINITY;
#pragma unroll
          for (int h = 0; h < 2; ++h) {
            float& x = s[4 * i + 2 * h + e];
            if (tok0 + 8 * h >= sl[i].row_end[e]) x = -INFINITY;
            mx[i][e] = fmaxf(mx[i][e], x);
          }
#pragma unroll
          for (int d = 4; d < 32; d <<= 1) mx[i][e] = fmaxf(mx[i][e], __shfl_xor_sync(0xffffffffu, mx[i][e], d));
        }
      float smx[2];
#pragma unroll
      for (int b = 0; b < 2; ++b) {
        smx[b] = fmaxf(tsc.v[0][b], tsc.v[1][b]);
#pragma unroll
        for (int d = 4; d < 32; d <<= 1) smx[b] = fmaxf(smx[b], __shfl_xor_sync(0xffffffffu, smx[b], d));
      }
      if (g == 0) {
#pragma unroll
        for (int i = 0; i < kCols; ++i)
#pragma unroll
          for (int e = 0; e < 2; ++e) ptx::st_shared_f32(max_at(warp, col_of(i, e, q4)), mx[i][e]);
        if (q4 < 2) ptx::st_shared_f32(max_at(warp, 32 + q4), q4 == 0 ? smx[0] : smx[1]);
      }
      ptx::named_barrier_sync(wg_bar, kWgThreads);  // (the maxima are rewritten only after the next block's Pᵀ barrier)
      float scale[kCols][2];
#pragma unroll
      for (int i = 0; i < kCols; ++i)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          float bm = -INFINITY;
#pragma unroll
          for (int v = 0; v < 4; ++v) bm = fmaxf(bm, ptx::ld_shared_f32(max_at(v, col_of(i, e, q4))));
          const float m_new = fmaxf(m[i][e], bm * scale_log2);  // a fully masked column keeps its max: scale 1, P 0
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
      // the block's scale maxima of the warpgroup's groups: the new reference scales (f16_rescale_groups)
      float fac[2], ratio[2][2];
#pragma unroll
      for (int b = 0; b < 2; ++b) {
        float bmx = 0.f;
#pragma unroll
        for (int v = 0; v < 4; ++v) bmx = fmaxf(bmx, ptx::ld_shared_f32(max_at(v, 32 + b)));
        const float r_new = bmx > 0.f ? bmx : rg[b];  // (a group whose scales are all 0: P·0 either way)
        const float inv = 1.f / r_new;
        fac[b] = rg[b] * inv;
        rg[b] = r_new;
#pragma unroll
        for (int h = 0; h < 2; ++h) ratio[h][b] = tsc.v[h][b] * inv;
      }
#pragma unroll
      for (int t = 0; t < 4; ++t)
#pragma unroll
        for (int i = 0; i < kCols; ++i)
#pragma unroll
          for (int h = 0; h < 2; ++h)
#pragma unroll
            for (int e = 0; e < 2; ++e) o[t][4 * i + 2 * h + e] *= scale[i][e] * fac[t >> 1];
      r32_store_p(sP, s, ratio, warp, g, q4);
      ptx::fence_proxy_async();  // st.shared → wgmma reads
      ptx::named_barrier_sync(wg_bar, kWgThreads);

      if (n_valid < PAGE_BLOCK_SIZE) r32_pv_half<true>(o, sSt, sP, warp, lane, n_valid);
      else r32_pv_half<false>(o, sSt, sP, warp, lane, n_valid);

      // the stage (and, for warpgroup 0, the RoPE slot: both warpgroups' S of this block is past the exchange) is free
      // once the warpgroup's 4 warps are past their ldmatrix: block n + 3 goes into it
      ptx::named_barrier_sync(rel_bar, kWgThreads);
      if (rq_n == nblk + kR32Stages - 1) {
        BlockRef nx = rq;
        if (advance(nx)) {
          rq = nx, rq_n = nblk + kR32Stages;
          request(rq, stage);
        }
      }
      ++nblk;
      if (++stage == kR32Stages) stage = 0, phase ^= 1;
    }

    // ---- the item's end: Oᵀ's rows back, the column sums over the warpgroup's warps (both warpgroups ran the same
    // softmax: each reads its own), Oᵀ out of the reference scales, each warpgroup its own channels
    r32_o_unpermute(o, g, q4);
#pragma unroll
    for (int i = 0; i < kCols; ++i)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
#pragma unroll
        for (int d = 4; d < 32; d <<= 1) l[i][e] += __shfl_xor_sync(0xffffffffu, l[i][e], d);
        if (g == 0) ptx::st_shared_f32(base + SM90S_F8R32_OFF_L + ((wg * 4 + warp) * kRows + col_of(i, e, q4)) * 4, l[i][e]);
      }
    __syncthreads();  // the sums are out; every thread is past its last S: Q may be reloaded
    if (req < w.end_req) load_q(req + 1);
    else ptx::grid_dep_launch_dependents();  // no more work to start: let combine launch
    typename SmallMerge<kRows, false>::Item it;
#pragma unroll
    for (int i = 0; i < kCols; ++i)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        float L = 0.f;
#pragma unroll
        for (int v = 0; v < 4; ++v) L += ptx::ld_shared_f32(base + SM90S_F8R32_OFF_L + ((wg * 4 + v) * kRows + col_of(i, e, q4)) * 4);
        it.L[i][e] = L;
        it.M[i][e] = m[i][e];
      }
#pragma unroll
    for (int t = 0; t < 4; ++t)
#pragma unroll
      for (int x = 0; x < 16; ++x) it.oh[t][x] = o[t][x] * rg[t >> 1];
    merge.template store<false>(p, nullptr, req, sl[0], rs, it);
    if (p.split_arrivals != nullptr && !sl[0].no_split) fold_split<T>(p, req, req, 0, p.q_rows, tid, SM90S_THREADS, sFlag, [] { __syncthreads(); });
  }
}

}  // namespace
