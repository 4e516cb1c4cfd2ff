// The small-row kernel's 32-column entries (session 29; below, kDense: the dense one, `g32`). The sparse entry
// (mla_decode_sm90_small_fp8_sparse_r32_bf16; docs/perf-log.md `sp32`): sparse decode of 17–32 heads of one query
// token per CTA over the FP8 cache — the default there when the
// batch gives each SM part three blocks or more (src/cuda/fp8-decode.ts sparseR32). Why: the 16-column
// sparse entry runs h_q 32 as two CTAs per query token (head groups), each gathering the token's rows and converting
// every block's codes for its 16 heads (ncu, session 28: each does an h_q 16 CTA's work; the e4m3 → f16 conversions
// are a fifth of its instructions). Here one CTA holds the token's 32 heads as the wgmma's N: each block's rows are
// gathered once and its codes converted once, with n32 wgmmas (1.29× the time of n16 for 2× the work, perf log
// `wgrate`). H200: h_q 32, s_q 2, topk 2048 at b 8–128 in 0.76–0.81× the head groups' time (b 128 0.1997 → 0.1548 ms);
// at b 2–4 1.18–1.22× (a part then has about one block per query token, which two CTAs on two SMs finish sooner).
// Schedule (the pair split of session 24's dense 32-row FP8 entry, which this body replaced in session 29): per pair of blocks 2p, 2p + 1 of an
// item, math warpgroup w computes Sᵀ and the softmax of block 2p + w, and P·V over its 256 channels (scale groups
// 2w, 2w + 1) of both blocks; one math barrier for the pair's maxima, one for the Pᵀ copies.
// Gather: as the 16-column entry's (mla_sm90_small_sparse.cuh): warpgroup 2's warps 2x, 2x + 1 gather math warpgroup
// x's blocks (x, x + 2, … of each item) into x's two whole-row stages; a stage is free again once both math warpgroups
// have read it in their P·V (its "stage free" mbarrier counts 256 arrivals).
// Shared memory (SM90S_SP32_*): four whole-row stages (4 × 41 984 B) beside Q (32 rows, 36 864 B) leave no room for the
// 32-row entry's four Pᵀ copies per block (32 KB a pair). So each block has one Pᵀ copy, P_t · R_t / R (R_t the token's
// largest group scale, R the pair's largest R_t: a power-of-two ratio ≤ 1), and the token's group ratios s_t,g / R_t go
// into V's A fragments (one mul.f16x2 per fragment register, from the block's f16 factor table [group][token]); Oᵀ is
// kept in units of R (rescaled when it moves). Exact but where a product falls below f16's normal range (2^−14 of a
// token's largest group, or of the pair's largest token scale): as the other register-A entries' S side.
// Included by mla_decode_sm90_small.cu after its other headers (pv_fragments, f16_store_p, the gather).
#pragma once
#include <cstdint>

#include "mla_config.h"
#include "mla_fp8_params.h"
#include "mla_params.h"
#include "mla_sm90_math.cuh"
#include "mla_sm90_small_fp8.cuh"
#include "mla_sm90_small_layout.cuh"
#include "mla_sm90_small_merge.cuh"
#include "mla_sm90_small_sparse.cuh"
#include "ptx.cuh"
#include "ptx_sm90.cuh"

namespace {

constexpr int kR32Slab = SM90S_R32_ROW_SLAB_BYTES;  // Q's and a Pᵀ copy's slab: 32 rows × 128 B

// Sᵀ of one gathered block (32 columns) from the whole-row stage sSt: S_rope first (its A fragments from the stage's
// RoPE bytes, as f16r_scores' kRopeStage), then r32_scores over rows kPitch apart (codes times the token's group ratios
// fh, one accumulator), then s = qf_c · R_t · acc + rope. (r32_scores: the 32-row FP8 entry's over swizzled TMA boxes, until
// session 29.)
__device__ __forceinline__ void sp32_scores(float (&s)[16], uint32_t sSt, uint32_t sQ, const uint32_t (&fh)[2][4], const float (&rt)[2], uint32_t sQf, int warp,
                                            int lane) {
  const int mi = lane >> 3, t = 16 * warp + 8 * (mi & 1) + (lane & 7);
  const uint32_t row = sSt + t * SM90S_F8SP_ROW_PITCH;
  const uint64_t dq = desc_k_major(sQ);
  float acc[16], rope[16];
  uint32_t a[2][4][4];
  auto codes = [&](uint32_t (&r)[4], int qt, int kq) { ptx::ldmatrix_x4(r, row + (qt >> 1) * 128 + ((2 * (2 * (qt & 1) + kq) + (mi >> 1)) << 4)); };
  uint32_t rn[2][4];
  // S_rope first, its fragments apart (session 30 `pvroll`: after quarter 7 it was a serial tail of each block); ar is
  // read by its wgmmas until the wait before quarter 2 retires them, so it lives in the function's scope
  uint32_t ar[4][4];
#pragma unroll
  for (int kk = 0; kk < 4; ++kk) ptx::ldmatrix_x4(ar[kk], row + FP8_ROPE_OFFSET + kk * 32 + ((mi >> 1) << 4));
  ptx::wgmma_fence();
#pragma unroll
  for (int kk = 0; kk < 4; ++kk) ptx::wgmma_m64n32k16_bf16_rs(rope, ar[kk], dq + (((SM90_SLABS - 1) * kR32Slab + kk * 32) >> 4), kk != 0);
  ptx::wgmma_commit();
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

// Oᵀ += Vᵀ · Pᵀ over this warpgroup's channels (scale groups 2 wg, 2 wg + 1: local tiles 2b + u = channels 64 (4 wg + 2b
// + u) …) for the pair's gathered blocks x < nblk (stage sSt[x], Pᵀ copy sP[x], f16 factor table sVf[x]): pv_fragments'
// row-pitch form, each fragment register (two tokens of one channel) times the tokens' ratios s_t,g / R_t. One
// pipeline over the four units (block x, group 2 wg + b): unit k's codes are converted while unit k − 1's wgmmas run,
// and the pair drains once (session 30 `pvroll`: per block, session 29's form drained before the next block's
// conversions began). Block x's stage is released (an arrival on freeb[x]) as soon as its codes are in registers:
// the wgmmas read registers and the Pᵀ copy, not the stage. kMasked: a block has invalid positions (`valid`), whose
// codes are dropped first (stale bytes); a full block's keep masks are all ones.
template <bool kMasked>
__device__ __forceinline__ void sp32_pv_pair(float (&o)[4][16], const uint32_t (&sSt)[2], const uint32_t (&sP)[2], const uint32_t (&sVf)[2], const uint4 (&valid)[2],
                                             const uint32_t (&freeb)[2], int nblk, int wg, int warp, int lane) {
  const int q4 = lane & 3;
  uint32_t keep[2][4];
  uint32_t a[2][8][4];
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    const int x = k >> 1, b = k & 1, grp = 2 * wg + b;
    if (x >= nblk) break;
    if (k >= 2) ptx::wgmma_wait<1>();  // unit k − 2 retired: its fragments may be rewritten
    if constexpr (kMasked) {
      if (b == 0) pv_keep_valid(keep, q4, valid[x]);
    }
    uint32_t f[2][2][2];
#pragma unroll
    for (int kp = 0; kp < 2; ++kp)
#pragma unroll
      for (int h = 0; h < 2; ++h)
#pragma unroll
        for (int z = 0; z < 2; ++z) f[kp][h][z] = ptx::ld_shared_u32(sVf[x] + grp * 128 + (32 * kp + 16 * h + 8 * z + 2 * q4) * 2);
    pv_fragments<kMasked, SM90S_F8SP_ROW_PITCH>(a[b], sSt[x] + grp * 128, keep, warp, lane);
    if (b == 1) ptx::mbarrier_arrive(freeb[x]);  // this thread's reads of block x's stage are done
#pragma unroll
    for (int u = 0; u < 2; ++u)
#pragma unroll
      for (int kp = 0; kp < 2; ++kp)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          uint32_t(&v)[4] = a[b][4 * u + 2 * kp + h];
          v[0] = ptx::mul_f16x2(v[0], f[kp][h][0]), v[1] = ptx::mul_f16x2(v[1], f[kp][h][0]);
          v[2] = ptx::mul_f16x2(v[2], f[kp][h][1]), v[3] = ptx::mul_f16x2(v[3], f[kp][h][1]);
        }
    const uint64_t dp = desc_k_major(sP[x]);
    ptx::wgmma_fence();
#pragma unroll
    for (int u = 0; u < 2; ++u)
#pragma unroll
      for (int kk = 0; kk < 4; ++kk) ptx::wgmma_m64n32k16_f16_rs(o[2 * b + u], a[b][4 * u + kk], dp + ((kk * 32) >> 4), 1);
    ptx::wgmma_commit();
  }
  ptx::wgmma_wait<0>();
}

// kDense (session 29, the default for dense decode of 17–32 folded rows over the FP8 cache; entry
// mla_decode_sm90_small_fp8_g32_bf16): the same body — the columns the request's rows, the gather the block table's pages
// (raw_dense), each column masked at its causal end; no sink. H200: the 32-row sweep rows over the FP8 cache 7–8 % faster
// than the 32-row FP8 entry (1.03–1.07× bf16), small batches 3–10 %.
template <bool kDense>
__device__ __forceinline__ void small_row_decode_sparse_r32(const MlaDecodeParams& p, const MlaFp8Params* fp) {
  using T = __nv_bfloat16;
  constexpr int kRows = SM90S_R32_ROWS, kCols = kRows / 8;
  extern __shared__ uint8_t smem_raw[];
  const uint32_t base = (ptx::smem_addr(smem_raw) + 1023u) & ~1023u;
  const int tid = threadIdx.x, lane = tid & 31, warp_cta = __shfl_sync(0xffffffffu, tid >> 5, 0);
  const int wg = warp_cta >> 2, warp = warp_cta & 3, wtid = tid & (kWgThreads - 1);
  const int g = lane >> 2, q4 = lane & 3;
  const uint32_t sQ = base + SM90S_SP32_OFF_Q, sQf = base + SM90S_SP32_OFF_QF, sL = base + SM90S_SP32_OFF_L;
  // warpgroup x's stage st, its validity masks (the gather's two slots, 16 B apart), "landed" (64 arrivals) and "free"
  // (256) barriers; the Pᵀ copy and the V factor table of warpgroup x's block; warp v of warpgroup x: its 32 column
  // maxima, then its tokens' largest scale
  auto stage_at = [&](int x, int st) { return base + SM90S_SP32_OFF_STAGE + (2 * x + st) * SM90S_F8SP_STAGE_BYTES; };
  auto mask_at = [&](int x, int st) { return base + SM90S_SP32_OFF_MASK + 32 * x + 16 * st; };
  auto landed_bar = [&](int x, int st) { return base + SM90S_SP32_OFF_BAR + 8 * (2 * x + st); };
  auto free_bar = [&](int x, int st) { return base + SM90S_SP32_OFF_BAR + 32 + 8 * (2 * x + st); };
  auto p_at = [&](int x) { return base + SM90S_SP32_OFF_P + x * kR32Slab; };
  auto vf_at = [&](int x) { return base + SM90S_SP32_OFF_VF + x * SM90S_SP32_VF_BYTES; };
  auto max_at = [&](int x, int v, int c) { return base + SM90S_SP32_OFF_MAX + ((x * 4 + v) * 33 + c) * 4; };
  const SmallMerge<kRows, false, true> merge{sL, 0u, 0u, wg, warp, wtid, g, q4};  // (sums only: publish<false>)

  if (tid == 0) {
    for (int b = 0; b < 4; ++b) ptx::mbarrier_init(landed_bar(b >> 1, b & 1), 64);
    for (int b = 0; b < 4; ++b) ptx::mbarrier_init(free_bar(b >> 1, b & 1), 2 * kWgThreads);
    ptx::fence_barrier_init();
  }
  __syncthreads();
  ptx::grid_dep_wait();
  const PartWork w = load_part_work(p, blockIdx.y);
  if (w.begin_pos >= p.b) return;

  // the CTA's query token and first head: blockIdx.x = token · ceil(h_q / 32) + group
  // (dense: the CTA's columns are the request's folded rows, blockIdx.x 0)
  const int groups = (p.h_q + kRows - 1) / kRows;
  const int sp_tok = kDense ? 0 : static_cast<int>(blockIdx.x) / groups, sp_head0 = kDense ? 0 : (static_cast<int>(blockIdx.x) % groups) * kRows;
  // column (i, e): head sp_head0 + col_of(i, e, q4) of the token (≥ h_q: padding, masked and never written), as a RowSet
  // for the epilogue (made there: its 20 values are not held across the item's loop)
  auto real_col = [&](int i, int e) { return kDense ? col_of(i, e, q4) < p.q_rows : sp_head0 + col_of(i, e, q4) < p.h_q; };
  auto row_set = [&](int i) {
    RowSet r;
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      if constexpr (kDense) {
        r.r_glob[e] = real_col(i, e) ? col_of(i, e, q4) : p.q_rows;
        r.s_of_row[e] = col_of(i, e, q4) / p.h_q;
      } else {
        r.r_glob[e] = real_col(i, e) ? sp_tok * p.h_q + sp_head0 + col_of(i, e, q4) : p.q_rows;
        r.s_of_row[e] = sp_tok;
      }
    }
    r.s_last = kDense ? (p.q_rows - 1) / p.h_q : sp_tok;
    return r;
  };
  // the slice of the item at position pos as this part sees it (dense: of request request_at(pos); sparse: positions are
  // requests): its topk positions (not causal: every real column's end is end_token; column 0 of lane q4 = 0, head
  // sp_head0, is real)
  auto slice = [&](int pos) {
    return kDense ? slice_of(p, w, pos, request_at(p, w, pos), row_set(0)) : slice_of_len(p, w, pos, pos, row_set(0), fp->topk);
  };

  // ---- the gather warpgroup: warps 2x, 2x + 1 walk math warpgroup x's blocks over the part's items (its n-th into its
  // stage n & 1, once both math warpgroups have read that stage's block n − 2), one token per thread; then it exits
  if (wg == 2) {
    ptx::setmaxnreg_dec<SM90S_SP32_GATHER_REGS>();
    const int x = warp >> 1, t = ((warp & 1) << 5) | lane;
    const SmallSparseGather gx{p, fp, mask_at(x, 0), lane};
    GatherCursor cur{0, -1};
    gather_walk(
        w, x, slice, [&](int st, uint32_t ph) { ptx::mbarrier_wait(free_bar(x, st), ph); },
        [&](int r, const Slice& qs, int jn, int st, bool fresh) {
          if constexpr (kDense) gx.raw_dense(t, request_at(p, w, r), qs, jn, st, stage_at(x, st), landed_bar(x, st));
          else gx.raw_one<kRows>(t, r, qs, jn, st, cur, fresh, stage_at(x, st), landed_bar(x, st));
        });
    return;
  }
  ptx::setmaxnreg_inc<SM90S_SP32_MATH_REGS>();
  const float scale_log2 = p.scale_softmax_log2;

  // Q rows of request req (heads sp_head0 … + 31 of query token sp_tok) → 9 slabs of 32 rows × 128 B, a row per 8 of
  // the 256 math threads; heads ≥ h_q zero-filled
  auto load_q = [&](int req) {
    const int row = tid >> 3, part = tid & 7;
    const bool ok = kDense ? row < p.q_rows : sp_head0 + row < p.h_q;
    const T* src = static_cast<const T*>(p.q);
    if constexpr (kDense) {
      if (ok) src += static_cast<int64_t>(req) * p.q_batch_stride + static_cast<int64_t>(row / p.h_q) * p.q_seq_stride + static_cast<int64_t>(row % p.h_q) * p.q_head_stride;
    } else {
      if (ok) src += static_cast<int64_t>(req) * p.q_batch_stride + static_cast<int64_t>(sp_tok) * p.q_seq_stride + static_cast<int64_t>(sp_head0 + row) * p.q_head_stride;
    }
    const uint32_t dst = sQ + swizzled(row, part);
#pragma unroll
    for (int k = 0; k < SM90_SLABS; ++k) ptx::cp_async_16(dst + k * kR32Slab, ok ? src + (part + 8 * k) * 8 : src, ok ? 16 : 0);
    ptx::cp_async_commit();
  };
  load_q(request_at<!kDense>(p, w, w.begin_pos));

  // both math warpgroups' blocks consumed so far (warpgroup x's next is in its stage nb[x] & 1; two scalars: an array
  // indexed by wg would live in local memory)
  int nb0 = 0, nb1 = 0;
  for (int pos = w.begin_pos; pos <= w.end_pos; ++pos) {
    const Slice s0 = slice(pos);
    const Blocks bk = blocks_of(s0);
    int rend[kCols][2];  // dense: each column's end (causal; 0 for padding columns)
    if constexpr (kDense) {
#pragma unroll
      for (int i = 0; i < kCols; ++i) {
        const Slice si = slice_of(p, w, pos, request_at(p, w, pos), row_set(i));
        rend[i][0] = si.row_end[0], rend[i][1] = si.row_end[1];
      }
    }

    ptx::cp_async_wait_all();
    ptx::fence_proxy_async();
    math_sync<true>();  // Q is in; every thread is done with the previous item
    q_to_f16_scaled<true, kR32Slab>(sQ, sQf, tid);
    q_to_f16_scaled<true, kR32Slab>(sQ + 16 * 128, sQf + 16 * 4, tid);
    ptx::fence_proxy_async();
    math_sync<true>();
    float rref = 1.f;  // Oᵀ's unit: the last pair's largest token scale (the same in both warpgroups)
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
      const int nown = wg ? nb1 : nb0, st = nown & 1;
      float s[16];
      float rt[2] = {0.f, 0.f};
      uint32_t vf[2] = {0u, 0u};  // this lane's V factors (group q4) of its two tokens, f16 in the low half
      uint32_t vbits = 0u;
      if (has) {
        ptx::mbarrier_wait(landed_bar(wg, st), (nown >> 1) & 1);
        const uint32_t sSt = stage_at(wg, st) - base + b_;
        vbits = ptx::ld_shared_u32(mask_at(wg, st) + 4 * warp) >> g;
        const Fp8TokenScales tsc = SmallSparseGather::stage_scales(sSt, warp, g, vbits);
        uint32_t fh[2][4];
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          rt[h] = fmaxf(fmaxf(tsc.v[h][0], tsc.v[h][1]), fmaxf(tsc.v[h][2], tsc.v[h][3]));
          const float inv = rt[h] > 0.f ? 1.f / rt[h] : 0.f;  // (an invalid position: scales 0, its S is masked)
#pragma unroll
          for (int k = 0; k < 4; ++k) {
            const float f = tsc.v[h][k] * inv;  // a power of two ≤ 1 (0 below f16's range)
            fh[h][k] = ptx::f32x2_to_f16x2(f, f);
          }
          vf[h] = q4 == 0 ? fh[h][0] : q4 == 1 ? fh[h][1] : q4 == 2 ? fh[h][2] : fh[h][3];
        }
        sp32_scores(s, sSt, sQ - base + b_, fh, rt, sQf, warp, lane);
      }
      // mask (no block: every token), the column maxima over the warp; the largest token scale over the warp
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
            if constexpr (kDense) {
              if (!has || tok0 + 8 * h >= rend[i][e] || !((vbits >> (8 * h)) & 1)) x = -INFINITY;
            } else {
              if (!has || tok0 + 8 * h >= s0.end_token || !real_col(i, e) || !((vbits >> (8 * h)) & 1)) x = -INFINITY;
            }
            mx[i][e] = fmaxf(mx[i][e], x);
          }
#pragma unroll
          for (int d = 4; d < 32; d <<= 1) mx[i][e] = fmaxf(mx[i][e], __shfl_xor_sync(0xffffffffu, mx[i][e], d));
        }
      float rmx = fmaxf(rt[0], rt[1]);
#pragma unroll
      for (int d = 4; d < 32; d <<= 1) rmx = fmaxf(rmx, __shfl_xor_sync(0xffffffffu, rmx, d));
      if (g == 0) {
#pragma unroll
        for (int i = 0; i < kCols; ++i)
#pragma unroll
          for (int e = 0; e < 2; ++e) ptx::st_shared_f32(max_at(wg, warp, col_of(i, e, q4)), mx[i][e]);
        if (q4 == 0) ptx::st_shared_f32(max_at(wg, warp, 32), rmx);
      }
      math_sync<true>();  // #1: both warpgroups' maxima are out; both are past the previous pair's P·V
      float scale[kCols][2];
      softmax_block(s, m, l, scale, scale_log2, [&](int i, int e) {  // both warpgroups' 8 warps' maxima: both blocks
        float bm = -INFINITY;
#pragma unroll
        for (int v = 0; v < 8; ++v) bm = fmaxf(bm, ptx::ld_shared_f32(max_at(v >> 2, v & 3, col_of(i, e, q4))));
        return bm;
      });
      float bmx = 0.f;
#pragma unroll
      for (int v = 0; v < 8; ++v) bmx = fmaxf(bmx, ptx::ld_shared_f32(max_at(v >> 2, v & 3, 32)));
      const float r_new = bmx > 0.f ? bmx : rref;  // (a pair without a valid token: P 0 either way)
      const float inv_r = 1.f / r_new;
      const float fac[2] = {rref * inv_r, rref * inv_r};
      rref = r_new;
      scale_columns<true, kCols, 4>(o, scale, fac);
      if (has) {
        const float ratio[2][1] = {{rt[0] * inv_r}, {rt[1] * inv_r}};
        float rp[2][1];
        f16_store_p<kR32Slab>(p_at(wg) - base + b_, s, ratio, rp, warp, g, q4);
        // the V factors: lanes g and g ^ 1 hold adjacent tokens; each stores one pair (even g: its h = 0 token and the
        // next, odd g: the h = 1 pair)
        const bool odd = g & 1;
        const uint32_t mine0 = vf[0] & 0xffffu, mine1 = vf[1] & 0xffffu;
        const uint32_t other = __shfl_xor_sync(0xffffffffu, odd ? mine0 : mine1, 4);
        const int tok = 16 * warp + (g & ~1) + (odd ? 8 : 0);
        ptx::st_shared_u32(vf_at(wg) - base + b_ + q4 * 128 + tok * 2, odd ? other | (mine1 << 16) : mine0 | (other << 16));
        ptx::fence_proxy_async();
      }
      math_sync<true>();  // #2: both blocks' Pᵀ copies and V factors are in
      const int nblk = jp + 1 < bk.count ? 2 : 1;
      const int sx[2] = {nb0 & 1, nb1 & 1};
      uint4 vm[2];
      vm[0] = ptx::ld_shared_v4(mask_at(0, sx[0]));
      vm[1] = nblk == 2 ? ptx::ld_shared_v4(mask_at(1, sx[1])) : vm[0];
      const uint32_t stx[2] = {stage_at(0, sx[0]) - base + b_, stage_at(1, sx[1]) - base + b_};
      const uint32_t px[2] = {p_at(0) - base + b_, p_at(1) - base + b_}, vx[2] = {vf_at(0) - base + b_, vf_at(1) - base + b_};
      const uint32_t fb[2] = {free_bar(0, sx[0]), free_bar(1, sx[1])};
      const uint32_t full = vm[0].x & vm[0].y & vm[0].z & vm[0].w & vm[1].x & vm[1].y & vm[1].z & vm[1].w;
      if (full != 0xffffu) sp32_pv_pair<true>(o, stx, px, vx, vm, fb, nblk, wg, warp, lane);
      else sp32_pv_pair<false>(o, stx, px, vx, vm, fb, nblk, wg, warp, lane);
      ++nb0;
      if (nblk == 2) ++nb1;
    }

    // ---- the item's end: both warpgroups' column sums (the max is common), each warpgroup its own channels
    o_unpermute(o, g, q4);
    merge.template publish<false>(l, m);
    math_sync<true>();  // the sums are out; every thread is past its last S and P·V: Q may be reloaded
    if (pos < w.end_pos) load_q(request_at<!kDense>(p, w, pos + 1));
    else ptx::grid_dep_launch_dependents();
    typename SmallMerge<kRows, false, true>::Item it;
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
#pragma unroll
    for (int t = 0; t < 4; ++t)
#pragma unroll
      for (int x = 0; x < 16; ++x) it.oh[t][x] = o[t][x] * rref;
    const RowSet rs[kCols] = {row_set(0), row_set(1), row_set(2), row_set(3)};
    merge.template store<!kDense>(p, fp, request_at<!kDense>(p, w, pos), s0, rs, it);
  }
}

}  // namespace
