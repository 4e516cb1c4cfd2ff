// The small-row kernel's 32-row FP8 entry (mla_decode_sm90_small_fp8_r32_bf16: dense decode of 17–32 folded rows over
// the FP8 cache, on the register-A datapath of mla_sm90_small_fp8.cuh). Why a body of its own: at 32 rows Oᵀ is 128
// fp32 per thread when a warpgroup holds all 512 channels, which the 16-row body (each warpgroup its own blocks and its
// own Oᵀ) cannot fit beside its S partials and A fragments. Here the warpgroups take alternate blocks for Sᵀ and the
// softmax, as the 16-row entry, but split the channels for P·V: each warpgroup's Oᵀ is its 256 channels × 32 rows (64
// fp32), over both blocks of a pair. Per pair of blocks (2p, 2p + 1 of an item; warpgroup w's is 2p + w):
//   1. Sᵀ of its own block over all 576 channels: the four scale groups in one accumulator — the codes, converted to
//      f16 in the A fragments, multiplied by s_t,g / R_t (R_t = the token's largest group scale; powers of two, ≤ 1:
//      exact unless a product needs bits below f16's 2^−24) — and the RoPE's four k-steps in another; Sᵀ = 2^−k_c ·
//      R_t · acc + S_rope (the 16-row entry keeps four partials: at n32 they do not fit);
//   2. its column maxima and its tokens' scale maxima per group out, one CTA barrier: the pair's maxima (both blocks)
//      give the common running max and reference scales, the same in both warpgroups;
//   3. P of its block, its four Pᵀ copies (P · s_t,g / r_g, f16), Oᵀ rescaled, one CTA barrier;
//   4. P·V over its channels for both blocks (r32_pv_half on each block's raw stage and Pᵀ copies).
// Raw stages: two per warpgroup (its blocks n, n + 1; four swizzled boxes each), read by both warpgroups' P·V, so a
// stage is requested again (block n + 2) after the next pair's first barrier; the RoPE box of a warpgroup's next block
// goes into its one RoPE slot once its S is done and that block's raw bytes are requested. The item's end adds the
// two warpgroups' column sums (the max is common); each warpgroup writes its own channels. (The first form, session 24,
// split every block's channels between the warpgroups and added their partial Sᵀ through shared memory: 7 % slower —
// the softmax ran in both, in lockstep; docs/perf-log.md.)
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

// Sᵀ of one whole block (32 columns) from the stage sSt (four swizzled boxes): acc over the four groups with the codes
// times fh[h][g] (f16x2 of s_t,g / R_t for this lane's tokens g, g + 8), committed per quarter (4 k-steps, two quarters'
// fragments in flight); rope over the RoPE box sR (after its wait); then s = qf_c · R_t · acc + rope.
__device__ __forceinline__ void r32_scores(float (&s)[16], uint32_t sSt, uint32_t sR, uint32_t sQ, const uint32_t (&fh)[2][4], const float (&rt)[2], uint32_t sQf,
                                            uint32_t rope_bar, uint32_t rope_phase, int warp, int lane) {
  const int mi = lane >> 3, t = 16 * warp + 8 * (mi & 1) + (lane & 7);
  const uint32_t row = sSt + t * 128;
  const uint64_t dq = desc_k_major(sQ);
  float acc[16], rope[16];
  uint32_t a[2][4][4];
  // quarter qt's codes, its k-step pair kq: loaded one quarter ahead (into rn), before the quarter before it issues its
  // wgmmas (session 26: 3.3 % on the 32-row rows)
  auto codes = [&](uint32_t (&r)[4], int qt, int kq) {
    ptx::ldmatrix_x4(r, row + (qt >> 1) * SM90_SLAB_BYTES + (((2 * (2 * (qt & 1) + kq) + (mi >> 1)) ^ (t & 7)) << 4));
  };
  uint32_t rn[2][4];
#pragma unroll
  for (int kq = 0; kq < 2; ++kq) codes(rn[kq], 0, kq);
#pragma unroll
  for (int qt = 0; qt < 8; ++qt) {
    const int b = qt >> 1, hk = qt & 1;
    if (qt >= 2) ptx::wgmma_wait<1>();  // quarter qt − 2 retired: its fragments may be rewritten
#pragma unroll
    for (int kq = 0; kq < 2; ++kq) {
      const uint32_t(&r)[4] = rn[kq];
      const uint2 c0 = ptx::e4m3x4_to_f16x4(r[0]), c1 = ptx::e4m3x4_to_f16x4(r[1]);
      const uint2 c2 = ptx::e4m3x4_to_f16x4(r[2]), c3 = ptx::e4m3x4_to_f16x4(r[3]);
      uint32_t(&a0)[4] = a[qt & 1][2 * kq];
      uint32_t(&a1)[4] = a[qt & 1][2 * kq + 1];
      // fragment registers 0, 2: token g; 1, 3: token g + 8
      a0[0] = ptx::mul_f16x2(c0.x, fh[0][b]), a0[1] = ptx::mul_f16x2(c1.x, fh[1][b]), a0[2] = ptx::mul_f16x2(c0.y, fh[0][b]), a0[3] = ptx::mul_f16x2(c1.y, fh[1][b]);
      a1[0] = ptx::mul_f16x2(c2.x, fh[0][b]), a1[1] = ptx::mul_f16x2(c3.x, fh[1][b]), a1[2] = ptx::mul_f16x2(c2.y, fh[0][b]), a1[3] = ptx::mul_f16x2(c3.y, fh[1][b]);
    }
    if (qt < 7) {
#pragma unroll
      for (int kq = 0; kq < 2; ++kq) codes(rn[kq], qt + 1, kq);
    }
    ptx::wgmma_fence();
#pragma unroll
    for (int kq = 0; kq < 4; ++kq) {
      const int kk = 4 * hk + kq;
      ptx::wgmma_m64n32k16_f16_rs(acc, a[qt & 1][kq], dq + (((2 * b + (kk >> 2)) * kR32Slab + (kk & 3) * 32) >> 4), qt + kq != 0);
    }
    ptx::wgmma_commit();
  }
  ptx::mbarrier_wait(rope_bar, rope_phase);
  ptx::wgmma_fence();
  const uint64_t dr = desc_k_major(sR);
#pragma unroll
  for (int kk = 0; kk < 4; ++kk) ptx::wgmma_m64n32k16_bf16_ss(rope, dr + ((kk * 32) >> 4), dq + (((SM90_SLABS - 1) * kR32Slab + kk * 32) >> 4), kk != 0);
  ptx::wgmma_commit();
  float qf[4][2];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int e = 0; e < 2; ++e) qf[i][e] = ptx::ld_shared_f32(sQf + col_of(i, e, lane & 3) * 4);
  ptx::wgmma_wait<0>();
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int h = 0; h < 2; ++h)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int x = 4 * i + 2 * h + e;
        s[x] = fmaf(qf[i][e] * rt[h], acc[x], rope[x]);
      }
}

// Oᵀ += Vᵀ · Pᵀ over this warpgroup's channels: local tile 2b + u = channels 64 (4 wg + 2b + u) …, from box b at sSt (the
// stage's box 2 wg + b: f16r_pv's ldmatrix.trans fragments, Oᵀ's rows permuted within each warp's 16) against Pᵀ copy b
// at sP. kMasked: the codes of tokens ≥ n_valid become 0 first (NaN-filled slots).
template <bool kMasked>
__device__ __forceinline__ void r32_pv_half(float (&o)[4][16], uint32_t sSt, uint32_t sP, int warp, int lane, int n_valid) {
  const uint64_t dp = desc_k_major(sP);
  const int q4 = lane & 3;
  uint32_t keep[2][4];
  if constexpr (kMasked) pv_keep(keep, q4, n_valid);
  uint32_t a[2][8][4];
#pragma unroll
  for (int b = 0; b < 2; ++b) {
    pv_fragments<kMasked>(a[b], sSt + b * SM90_SLAB_BYTES, keep, warp, lane);
    ptx::wgmma_fence();
#pragma unroll
    for (int u = 0; u < 2; ++u)
#pragma unroll
      for (int kk = 0; kk < 4; ++kk) ptx::wgmma_m64n32k16_f16_rs(o[2 * b + u], a[b][4 * u + kk], dp + ((b * kR32Slab + kk * 32) >> 4), 1);
    ptx::wgmma_commit();
  }
  ptx::wgmma_wait<0>();
}

__device__ __forceinline__ void small_row_decode_fp8_r32(const MlaDecodeParams& p, const CUtensorMap* rope_map, const CUtensorMap* raw_sw_map,
                                                         const CUtensorMap* scale_map) {
  using T = __nv_bfloat16;
  constexpr int kRows = SM90S_R32_ROWS, kCols = kRows / 8;
  extern __shared__ uint8_t smem_raw[];
  const uint32_t base = (ptx::smem_addr(smem_raw) + 1023u) & ~1023u;
  const int tid = threadIdx.x, lane = tid & 31, warp_cta = __shfl_sync(0xffffffffu, tid >> 5, 0);
  const int wg = warp_cta >> 2, warp = warp_cta & 3, wtid = tid & (kWgThreads - 1);
  const int g = lane >> 2, q4 = lane & 3;
  const uint32_t sQ = base + SM90S_F8R32_OFF_Q, sQf = base + SM90S_F8R32_OFF_QF, sFlag = base + SM90S_F8R32_OFF_FLAG;
  // raw stage s of warpgroup x, its barrier; warpgroup x's RoPE slot and barrier
  auto stage_at = [&](int x, int st) { return base + SM90S_F8R32_OFF_RAW + (2 * x + st) * SM90S_F8R32_STAGE_BYTES; };
  auto raw_bar = [&](int x, int st) { return base + SM90S_F8R32_OFF_BAR + 8 * (2 * x + st); };
  // (MLA_SM90S_SCALES_TMA) the token scales of warpgroup x's raw stage st: a TMA box with the stage
  auto scales_at = [&](int x, int st) { return base + SM90S_F8R32_OFF_SCALES + (2 * x + st) * SM90S_F8_SCALE_BOX_BYTES; };
  const uint32_t sRope = base + SM90S_F8R32_OFF_ROPE + wg * SM90_SLAB_BYTES, ropeBar = base + SM90S_F8R32_OFF_BAR + 32 + 8 * wg;
  // warp v of warpgroup x: its 32 column maxima, then its 4 groups' scale maxima
  auto max_at = [&](int x, int v, int c) { return base + SM90S_F8R32_OFF_MAX + ((x * 4 + v) * 36 + c) * 4; };
  // Pᵀ copy of group k of warpgroup x's block
  auto p_at = [&](int x, int k) { return base + SM90S_F8R32_OFF_P + (x * 4 + k) * kR32Slab; };
  const SmallMerge<kRows, false> merge{0u, 0u, 0u, wg, warp, wtid, g, q4};

  if (tid == 0) {
    for (int b = 0; b < 6; ++b) ptx::mbarrier_init(base + SM90S_F8R32_OFF_BAR + 8 * b, 1);
    ptx::fence_barrier_init();
    ptx::prefetch_tensormap(rope_map);
    ptx::prefetch_tensormap(raw_sw_map);
    if (MLA_SM90S_SCALES_TMA) ptx::prefetch_tensormap(scale_map);
  }
  __syncthreads();
  ptx::grid_dep_wait();
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

  // This warpgroup's blocks over the part's items (j = wg, wg + 2, … of each; its n-th in stage n & 1): rq the last
  // requested (its index rq_n); the pages of the blocks in its two stages (thread wtid 0's).
  BlockRef rq{w.end_req + 1, 0, 0, nullptr};
  int rq_n = 0;
  int page_st0 = 0, page_st1 = 0;
  // (the 16-row body's seek and advance, mla_decode_sm90_small.cu: a shared helper changed both entries' machine code)
  auto seek = [&](BlockRef& c, int from) {
    for (int r = from; r <= w.end_req; ++r) {
      const Blocks nb = blocks_of(slice(r, rs[0]));
      if (wg < nb.count) {
        c = BlockRef{r, wg, nb.count, table_of(r, nb)};
        return true;
      }
    }
    c.req = w.end_req + 1;
    return false;
  };
  auto advance = [&](BlockRef& c) { return c.req > w.end_req ? false : c.j + 2 < c.count ? (c.j += 2, true) : seek(c, c.req + 1); };
  auto request_raw = [&](const BlockRef& c, int st) {
    if (wtid == 0) {
      const int page = ptx::ld_plain(c.bt + c.j);
      if (st == 0) page_st0 = page;
      else page_st1 = page;
      fp8_request_raw_sw(stage_at(wg, st), raw_sw_map, raw_bar(wg, st), page, scales_at(wg, st), scale_map);
    }
  };
  // the RoPE slot holds own block rope_req's box; s_done: the last own block whose S is done (the slot is free for
  // block k once s_done ≥ k − 1); RoPE(k) goes out when both that holds and raw(k) is requested (its page known)
  int rope_req = 0, s_done = -1;
  auto maybe_rope = [&]() {
    const int k = rope_req + 1;
    if (rq_n >= k && s_done >= k - 1) {
      rope_req = k;
      if (wtid == 0) fp8_request_rope_to(sRope, rope_map, ropeBar, (k & 1) == 0 ? page_st0 : page_st1);
    }
  };
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

  if (seek(rq, w.begin_req)) {
    request_raw(rq, 0);
    if (wtid == 0) fp8_request_rope_to(sRope, rope_map, ropeBar, page_st0);
    BlockRef nx = rq;
    if (advance(nx)) rq = nx, rq_n = 1, request_raw(rq, 1);
  }
  load_q(w.begin_req);

  int nb_own = 0;        // this warpgroup's blocks consumed so far (its next is in stage nb_own & 1)
  int nb_of[2] = {0, 0};  // both warpgroups' (uniform: each pair's presence is known to all)
  int prev_own = -1;      // this warpgroup's block index in the previous pair, or −1
  for (int req = w.begin_req; req <= w.end_req; ++req) {
    Slice sl[kCols] = {slice(req, rs[0]), slice(req, rs[1])};
#pragma unroll
    for (int i = 2; i < kCols; ++i) sl[i] = slice(req, rs[i]);
    const Blocks bk = blocks_of(sl[0]);
    const int* bt = table_of(req, bk);

    ptx::cp_async_wait_all();
    ptx::fence_proxy_async();
    __syncthreads();
    q_to_f16_scaled<true, kR32Slab>(sQ, sQf, tid);
    q_to_f16_scaled<true, kR32Slab>(sQ + 16 * 128, sQf + 16 * 4, tid);
    ptx::fence_proxy_async();
    __syncthreads();
    float rg[4] = {1.f, 1.f, 1.f, 1.f};  // the groups' reference scales (the same in both warpgroups)
    float o[4][16];
#pragma unroll
    for (int t = 0; t < 4; ++t)
#pragma unroll
      for (int x = 0; x < 16; ++x) o[t][x] = 0.f;
    float m[kCols][2], l[kCols][2];  // common running max; this thread's sum over its own blocks' tokens
#pragma unroll
    for (int i = 0; i < kCols; ++i)
#pragma unroll
      for (int e = 0; e < 2; ++e) m[i][e] = kMaxInit, l[i][e] = 0.f;

#pragma unroll 1
    for (int jp = 0; jp < bk.count; jp += 2) {
      const uint32_t b_ = opaque(base);
      const int j = jp + wg;
      const bool has = j < bk.count;
      const int n_valid = j == bk.count - 1 ? bk.n_valid_last : PAGE_BLOCK_SIZE;
      float s[16];
      Fp8TokenScales tsc;
      if (has) {
        const int st = nb_own & 1;
        if constexpr (MLA_SM90S_SCALES_TMA) {
          ptx::mbarrier_wait(raw_bar(wg, st), (nb_own >> 1) & 1);
          tsc = fp8_stage_scales(scales_at(wg, st), warp, g, n_valid);
        } else {
          tsc = fp8_token_scales(p, ptx::ld_plain(bt + j), warp, g, n_valid);
        }
        float rt[2];
        uint32_t fh[2][4];
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          rt[h] = fmaxf(fmaxf(tsc.v[h][0], tsc.v[h][1]), fmaxf(tsc.v[h][2], tsc.v[h][3]));
          const float inv = rt[h] > 0.f ? 1.f / rt[h] : 0.f;  // (a token past the end: scales 0, its S is masked)
#pragma unroll
          for (int k = 0; k < 4; ++k) {
            const float f = tsc.v[h][k] * inv;  // a power of two ≤ 1 (0 below f16's range)
            fh[h][k] = ptx::f32x2_to_f16x2(f, f);
          }
        }
        if constexpr (!MLA_SM90S_SCALES_TMA) ptx::mbarrier_wait(raw_bar(wg, st), (nb_own >> 1) & 1);
        r32_scores(s, stage_at(wg, st) - base + b_, sRope - base + b_, sQ - base + b_, fh, rt, sQf, ropeBar, nb_own & 1, warp, lane);
        s_done = nb_own;
        maybe_rope();  // the RoPE slot is free: the box of this warpgroup's next block, if its raw bytes went out
      } else {
#pragma unroll
        for (int h = 0; h < 2; ++h)
#pragma unroll
          for (int k = 0; k < 4; ++k) tsc.v[h][k] = 0.f;
      }
      // mask (no block: every token), the column maxima over the warp; the scale maxima per group
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
            if (!has || tok0 + 8 * h >= sl[i].row_end[e]) x = -INFINITY;
            mx[i][e] = fmaxf(mx[i][e], x);
          }
#pragma unroll
          for (int d = 4; d < 32; d <<= 1) mx[i][e] = fmaxf(mx[i][e], __shfl_xor_sync(0xffffffffu, mx[i][e], d));
        }
      float smx[4];
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        smx[k] = fmaxf(tsc.v[0][k], tsc.v[1][k]);
#pragma unroll
        for (int d = 4; d < 32; d <<= 1) smx[k] = fmaxf(smx[k], __shfl_xor_sync(0xffffffffu, smx[k], d));
      }
      if (g == 0) {
#pragma unroll
        for (int i = 0; i < kCols; ++i)
#pragma unroll
          for (int e = 0; e < 2; ++e) ptx::st_shared_f32(max_at(wg, warp, col_of(i, e, q4)), mx[i][e]);
        ptx::st_shared_f32(max_at(wg, warp, 32 + q4), q4 == 0 ? smx[0] : q4 == 1 ? smx[1] : q4 == 2 ? smx[2] : smx[3]);
      }
      __syncthreads();  // #1: both warpgroups' maxima are out; both are past the previous pair's P·V
      // the previous pair's stage of this warpgroup is free (both warpgroups read it in that P·V): its block + 2
      if (prev_own >= 0 && rq_n == prev_own + 1) {
        BlockRef nx = rq;
        if (advance(nx)) rq = nx, rq_n = prev_own + 2, request_raw(rq, prev_own & 1), maybe_rope();
      }
      float scale[kCols][2];
      softmax_block(s, m, l, scale, scale_log2, [&](int i, int e) {  // both warpgroups' 8 warps' maxima: both blocks
        float bm = -INFINITY;
#pragma unroll
        for (int v = 0; v < 8; ++v) bm = fmaxf(bm, ptx::ld_shared_f32(max_at(v >> 2, v & 3, col_of(i, e, q4))));
        return bm;
      });
      float fac[2], ratio[2][4];
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        float bmx = 0.f;
#pragma unroll
        for (int v = 0; v < 8; ++v) bmx = fmaxf(bmx, ptx::ld_shared_f32(max_at(v >> 2, v & 3, 32 + k)));
        const float r_new = bmx > 0.f ? bmx : rg[k];
        const float inv = 1.f / r_new;
        const float fk = rg[k] * inv;
        if ((k >> 1) == wg) fac[k & 1] = fk;
        rg[k] = r_new;
#pragma unroll
        for (int h = 0; h < 2; ++h) ratio[h][k] = tsc.v[h][k] * inv;
      }
      scale_columns<true, kCols, 4>(o, scale, fac);
      if (has) {
        const float r01[2][2] = {{ratio[0][0], ratio[0][1]}, {ratio[1][0], ratio[1][1]}};
        const float r23[2][2] = {{ratio[0][2], ratio[0][3]}, {ratio[1][2], ratio[1][3]}};
        float rp[2][2];  // (f16_store_p: the partner lane's ratios)
        f16_store_p<kR32Slab>(p_at(wg, 0) - base + b_, s, r01, rp, warp, g, q4);
        f16_store_p<kR32Slab>(p_at(wg, 2) - base + b_, s, r23, rp, warp, g, q4);
        ptx::fence_proxy_async();
      }
      __syncthreads();  // #2: both blocks' Pᵀ copies are in
      // P·V over this warpgroup's channels (groups 2 wg, 2 wg + 1) for each block of the pair
#pragma unroll
      for (int x = 0; x < 2; ++x) {
        const int jx = jp + x;
        if (jx < bk.count) {
          const int nvx = jx == bk.count - 1 ? bk.n_valid_last : PAGE_BLOCK_SIZE;
          const uint32_t sx = stage_at(x, nb_of[x] & 1) - base + b_ + 2 * wg * SM90_SLAB_BYTES, px = p_at(x, 2 * wg) - base + b_;
          if (nvx < PAGE_BLOCK_SIZE) r32_pv_half<true>(o, sx, px, warp, lane, nvx);
          else r32_pv_half<false>(o, sx, px, warp, lane, nvx);
          ++nb_of[x];
        }
      }
      prev_own = has ? nb_own : -1;
      if (has) ++nb_own;
    }

    // ---- the item's end: both warpgroups' column sums (the max is common), each warpgroup its own channels
    o_unpermute(o, g, q4);
    const uint32_t sL = base + SM90S_F8R32_OFF_L;
#pragma unroll
    for (int i = 0; i < kCols; ++i)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
#pragma unroll
        for (int d = 4; d < 32; d <<= 1) l[i][e] += __shfl_xor_sync(0xffffffffu, l[i][e], d);
        if (g == 0) ptx::st_shared_f32(sL + ((wg * 4 + warp) * kRows + col_of(i, e, q4)) * 4, l[i][e]);
      }
    __syncthreads();  // the sums are out; every thread is past its last S and P·V: Q may be reloaded, stages reused
    if (prev_own >= 0 && rq_n == prev_own + 1) {  // (the item's last pair's stage: its next block)
      BlockRef nx = rq;
      if (advance(nx)) rq = nx, rq_n = prev_own + 2, request_raw(rq, prev_own & 1), maybe_rope();
    }
    prev_own = -1;
    if (req < w.end_req) load_q(req + 1);
    else ptx::grid_dep_launch_dependents();
    typename SmallMerge<kRows, false>::Item it;
#pragma unroll
    for (int i = 0; i < kCols; ++i)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        float L = 0.f;
#pragma unroll
        for (int v = 0; v < 8; ++v) L += ptx::ld_shared_f32(sL + (v * kRows + col_of(i, e, q4)) * 4);
        it.L[i][e] = L;
        it.M[i][e] = m[i][e];
      }
    const float rown[2] = {wg ? rg[2] : rg[0], wg ? rg[3] : rg[1]};
#pragma unroll
    for (int t = 0; t < 4; ++t)
#pragma unroll
      for (int x = 0; x < 16; ++x) it.oh[t][x] = o[t][x] * rown[t >> 1];
    merge.template store<false>(p, nullptr, req, sl[0], rs, it);
    if (p.split_arrivals != nullptr && !sl[0].no_split) fold_split<T>(p, req, req, 0, p.q_rows, tid, SM90S_THREADS, sFlag, [] { __syncthreads(); });
  }
}

}  // namespace
