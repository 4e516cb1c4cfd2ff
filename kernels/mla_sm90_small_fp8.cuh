// The small-row kernel's FP8 datapath (mla_decode_sm90_small.cu, its FP8 entries: dense mla_decode_sm90_small_fp8_bf16
// and sparse mla_decode_sm90_small_fp8_sparse_bf16; the 32-column entries' body, mla_sm90_small_sparse_r32.cuh, takes
// its pieces too). Each math warpgroup computes with the e4m3 codes itself, no producer warpgroup.
//
// The f16 math (kF16 in the kernel). The scales (per token and 128-channel group) stay out of the tensor core: Q's slabs
// 0–7 go to f16 once per item, row r times 2^k_r (q_to_f16_scaled, f16_item_start); Sᵀ is four partials S_g (group g =
// channels 128g … 128g + 127, f16) and S_rope (bf16), Sᵀ = 2^−k_c · Σ_g s_t,g · S_g + S_rope (f16_scores_combine); P·V
// runs per group against a Pᵀ copy scaled by s_t,g / r_g (f16_store_p), each group's Oᵀ tiles kept in units of a
// running reference scale r_g, the block's group maximum (f16_publish_scale_maxima, f16_rescale_groups). e4m3 ⊂ f16,
// so the codes convert exactly, unscaled: one cvt per two codes. Not bit for bit the bf16 entry over the dequantised
// cache (the oracle's tolerance holds).
//
// The register-A datapath (since session 23 the dense entry's, since session 25 the sparse one's): both products take
// K's codes as their wgmma A operand from registers (f16r_scores / f16r_pv: ldmatrix from the raw stage, cvt e4m3x2 →
// f16x2; Q's channels permuted within each k-step to match, Oᵀ's rows within each warp's 16, undone by o_unpermute at
// the item's end), so there is no f16 copy of K in shared memory. Dense: the raw stage comes as four 128B-swizzled
// boxes (the third tensor map, fp8_request_raw_sw) so ldmatrix reads it without bank conflicts, with the tokens'
// scales as a fifth (fp8_stage_scales); it lives until P·V, so each warpgroup has two, in its K buffer's slabs 0–3
// and 4–7, slab 8 for the block's RoPE box (fp8_request_rope) and then Pᵀ; block n of the warpgroup in stage n & 1,
// block n + 2's raw bytes requested at block n's end, block n + 1's RoPE with them (the kernel's `rq` cursor). Sparse:
// the stages are gathered whole token rows (mla_sm90_small_sparse.cuh), scales and RoPE read from them. H200, b 128,
// h_q 16, s_q 1, against the f16 copy of K it replaced (session 9's fill; in git history, commit 221bdfc): 8192 0.2535
// → 0.2143 ms, 4096 0.1353 → 0.1178 (perf log, session 23).
// Tensor maps (dense): the 'hopper' FP8 kernel's (mla_config.h, src/cuda/fp8-decode.ts fp8HopperTensorMapSpecs).
#pragma once
#include <cstdint>
#include <cuda.h>

#include "mla_config.h"
#include "mla_params.h"
#include "mla_sm90_math.cuh"
#include "mla_sm90_small_merge.cuh"
#include "ptx.cuh"
#include "ptx_sm90.cuh"

#ifndef MLA_SM90S_L2_BOUND
#define MLA_SM90S_L2_BOUND 0  // timing bound, outputs wrong: every block read from 16 pages (dense) or 1024 slots (sparse), in L2
#endif

namespace {

constexpr int kFp8WgThreads = 128;
static_assert(kFp8WgThreads == 2 * PAGE_BLOCK_SIZE, "two threads per token");

// One thread: the bf16 RoPE columns of the block on `page` (one 128B-swizzled box) into dst, completing on `bar`.
__device__ __forceinline__ void fp8_request_rope_to(uint32_t dst, const CUtensorMap* rope_map, uint32_t bar, int page) {
  if constexpr (MLA_SM90S_L2_BOUND) page &= 15;
  ptx::mbarrier_arrive_expect_tx(bar, SM90_SLAB_BYTES);
  ptx::tma_load_3d(dst, rope_map, bar, 0, 0, page);
}
// ... into slab 8 of the K buffer at sKb.
__device__ __forceinline__ void fp8_request_rope(uint32_t sKb, const CUtensorMap* rope_map, uint32_t bar, int page) {
  fp8_request_rope_to(sKb + (SM90_SLABS - 1) * SM90_SLAB_BYTES, rope_map, bar, page);
}

// ---- the f16 datapath (the FP8 entries) ---------------------------------------------------------------------------
// Scales of this thread's two S tokens (16 · warp + g and + 8: its wgmma M rows) for the four channel groups, 0 for
// tokens ≥ n_valid (NaN-filled slots past a sequence's end: their P is 0 and must not meet a NaN ratio).
struct Fp8TokenScales {
  float v[2][4];
};
// No callback (f16r_scores' BeforeRope by default).
struct NoStores {
  __device__ __forceinline__ void operator()() const {}
};

// Q's slabs 0–7 (16 rows × 512 bf16 channels at sQ) → f16 in place, row r times 2^k_r with k_r chosen from the row's
// largest |q| (into [2^14, 2^15): no f16 overflow, full precision for the large values); 2^−k_r (S's factor back) to
// float[16] at sQf. All 256 threads: thread t takes row t / 16, 16-byte chunks t % 16 + 16 k (kPermute: 2 (t % 16 + 16 k)
// and + 1, k = 0, 1).
// Exact but for the f16 rounding of values below 2^−14 after the scaling (2^−28 of the row's largest). Non-finite rows
// keep factor 1. kPermute (the register-A datapath, f16r_scores): within each 16-channel k-step the channels go to
// the k slots its A fragments hold them in — slots 0–7 channels 0, 1, 4, 5, 8, 9, 12, 13, slots 8–15 the others
// (channel pairs w0…w7 → w0 w2 w4 w6 | w1 w3 w5 w7). The caller fences and syncs the CTA.
// kSlabBytes: Q's slab pitch (the 32-row FP8 entry: 4096, its rows 16–31 converted by a second call at sQ + 2048).
template <bool kPermute = false, int kSlabBytes = SM90S_ROW_SLAB_BYTES>
__device__ __forceinline__ void q_to_f16_scaled(uint32_t sQ, uint32_t sQf, int tid) {
  const int r = tid >> 4, part = tid & 15;
  uint4 v[4];
  float mx = 0.f;
  auto at = [&](int k) {  // (kPermute: a k-step's two chunks in one thread)
    const int c = kPermute ? 2 * (part + 16 * (k >> 1)) + (k & 1) : part + 16 * k;
    return sQ + (c >> 3) * kSlabBytes + swizzled(r, c & 7);
  };
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    v[k] = ptx::ld_shared_v4(at(k));
    const uint32_t w[4] = {v[k].x, v[k].y, v[k].z, v[k].w};
#pragma unroll
    for (int x = 0; x < 4; ++x) mx = fmaxf(mx, fmaxf(fabsf(__uint_as_float(w[x] << 16)), fabsf(__uint_as_float(w[x] & 0xffff0000u))));
  }
#pragma unroll
  for (int d = 1; d < 16; d <<= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, d));
  const int eb = static_cast<int>(__float_as_uint(mx) >> 23);  // biased exponent (mx ≥ 0)
  const int ec = eb < 15 ? 15 : eb;
  const float f = eb == 255 ? 1.f : __uint_as_float(static_cast<uint32_t>(268 - ec) << 23);
  const float inv = eb == 255 ? 1.f : __uint_as_float(static_cast<uint32_t>(ec - 14) << 23);
  uint32_t o[4][4];
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    const uint32_t w[4] = {v[k].x, v[k].y, v[k].z, v[k].w};
#pragma unroll
    for (int x = 0; x < 4; ++x) o[k][x] = ptx::f32x2_to_f16x2(__uint_as_float(w[x] << 16) * f, __uint_as_float(w[x] & 0xffff0000u) * f);
  }
#pragma unroll
  for (int k = 0; k < 4; k += 2) {
    if constexpr (kPermute) {
      ptx::st_shared_v4(at(k), make_uint4(o[k][0], o[k][2], o[k + 1][0], o[k + 1][2]));
      ptx::st_shared_v4(at(k + 1), make_uint4(o[k][1], o[k][3], o[k + 1][1], o[k + 1][3]));
    } else {
      ptx::st_shared_v4(at(k), make_uint4(o[k][0], o[k][1], o[k][2], o[k][3]));
      ptx::st_shared_v4(at(k + 1), make_uint4(o[k + 1][0], o[k + 1][1], o[k + 1][2], o[k + 1][3]));
    }
  }
  if (part == 0) ptx::st_shared_f32(sQf + r * 4, inv);
}

// The start of an item (all 256 threads, Q landed and the CTA synced): Q → f16 (q_to_f16_scaled, the factors through
// sQf), fence, CTA barrier; this thread's columns' factors 2^−k_c (qf) and the groups' reference scales (rg) at 1.
template <bool kPermute = false, bool kMathOnly = false>
__device__ __forceinline__ void f16_item_start(uint32_t sQ, uint32_t sQf, int tid, int q4, float (&qf)[2][2], float (&rg)[4]) {
  q_to_f16_scaled<kPermute>(sQ, sQf, tid);
  ptx::fence_proxy_async();
  math_sync<kMathOnly>();
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int e = 0; e < 2; ++e) qf[i][e] = ptx::ld_shared_f32(sQf + col_of(i, e, q4) * 4);
#pragma unroll
  for (int k = 0; k < 4; ++k) rg[k] = 1.f;
}

// The end of Sᵀ: S_rope's 4 k-steps (slab 8 of K at dk, Q's slab 8 at dq, bf16) into s, the wait for
// every S wgmma, then per token t and column c: Sᵀ = 2^−k_c · Σ_g s_t,g · S_g + S_rope.
// (f16_scores_combine: the last step alone, once S_rope is in s)
__device__ __forceinline__ void f16_scores_combine(float (&s)[8], const float (&sg)[4][8], const Fp8TokenScales& tsc, const float (&qf)[2][2]) {
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int h = 0; h < 2; ++h)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int x = 4 * i + 2 * h + e;
        float acc = tsc.v[h][0] * sg[0][x];
#pragma unroll
        for (int k = 1; k < 4; ++k) acc = fmaf(tsc.v[h][k], sg[k][x], acc);
        s[x] = fmaf(qf[i][e], acc, s[x]);
      }
}
__device__ __forceinline__ void f16_scores_finish(float (&s)[8], float (&sg)[4][8], uint64_t dk, uint64_t dq, const Fp8TokenScales& tsc, const float (&qf)[2][2]) {
  constexpr int slab = SM90_SLABS - 1;
#pragma unroll
  for (int kk = 0; kk < 4; ++kk)
    ptx::wgmma_m64n16k16_bf16_ss(s, dk + ((slab * SM90_SLAB_BYTES + kk * 32) >> 4), dq + ((slab * SM90S_ROW_SLAB_BYTES + kk * 32) >> 4), kk != 0);
  ptx::wgmma_commit();
  ptx::wgmma_wait<0>();
  f16_scores_combine(s, sg, tsc, qf);
}

// Slab 8 of the K buffer at sKb after S: warp v's 16 column maxima at 2048 v (the kernel's max_at), then at + 64 the
// maxima of its 16 tokens' scales per group k.
__device__ __forceinline__ uint32_t f16_smax_at(uint32_t sKb, int v, int k) { return sKb + (SM90_SLABS - 1) * SM90_SLAB_BYTES + 2048 * v + 64 + k * 4; }

// This warp's maxima of its tokens' scales per group → slab 8 (before the warpgroup barrier of the column maxima).
__device__ __forceinline__ void f16_publish_scale_maxima(uint32_t sKb, const Fp8TokenScales& tsc, int warp, int lane) {
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    float x = fmaxf(tsc.v[0][k], tsc.v[1][k]);
#pragma unroll
    for (int d = 4; d < 32; d <<= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, d));
    if (lane == 0) ptx::st_shared_f32(f16_smax_at(sKb, warp, k), x);
  }
}

// After that barrier: the block's scale maxima per group become the new reference scales rg; fac[k] = r_old / r_new
// (Oᵀ's tiles of group k times it, with the softmax rescale) and ratio[h][k] = s_t,k / r_new for this thread's tokens
// (Pᵀ copy k's factors); then barrier `bar` (the maxima are read: slab 8 takes Pᵀ).
__device__ __forceinline__ void f16_rescale_groups(uint32_t sKb, const Fp8TokenScales& tsc, float (&rg)[4], float (&fac)[4], float (&ratio)[2][4], int bar) {
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    float smx = 0.f;
#pragma unroll
    for (int v = 0; v < 4; ++v) smx = fmaxf(smx, ptx::ld_shared_f32(f16_smax_at(sKb, v, k)));
    const float r_new = smx > 0.f ? smx : rg[k];  // (a group whose scales are all 0: P·0 either way)
    const float inv = 1.f / r_new;
    fac[k] = rg[k] * inv;
    rg[k] = r_new;
#pragma unroll
    for (int h = 0; h < 2; ++h) ratio[h][k] = tsc.v[h][k] * inv;
  }
  ptx::named_barrier_sync(bar, kFp8WgThreads);
}


// Pᵀ (this thread's fragment s of P, 16 columns) → four f16 copies at sP + 2048 k, copy k scaled per token by its
// ratio s_t,k / r_k (ratio; the partner lane's by shuffles), K-major as the kernel's bf16 Pᵀ: lanes g and g ^ 1 hold
// adjacent tokens of the same columns, trade one value each and each stores one f16 pair per copy. rp: the partner's
// ratios (the caller's array). Any column count (kVals = 4 · column tiles) and number of copies (kCopies), kSlab apart
// (the 32-row FP8 entry: 32 columns, two copies at a time, 4096 B).
template <int kSlab = SM90S_ROW_SLAB_BYTES, int kVals, int kCopies>
__device__ __forceinline__ void f16_store_p(uint32_t sP, const float (&s)[kVals], const float (&ratio)[2][kCopies], float (&rp)[2][kCopies], int warp, int g, int q4) {
  const bool odd = g & 1;
#pragma unroll
  for (int h = 0; h < 2; ++h)
#pragma unroll
    for (int k = 0; k < kCopies; ++k) rp[h][k] = __shfl_xor_sync(0xffffffffu, ratio[h][k], 4);
#pragma unroll
  for (int i = 0; i < kVals / 4; ++i)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const float v0 = s[4 * i + 2 * h], v1 = s[4 * i + 2 * h + 1];
      const float other = __shfl_xor_sync(0xffffffffu, odd ? v0 : v1, 4);
      const int tok = (16 * warp + g + 8 * h) & ~1, col = col_of(i, odd ? 1 : 0, q4);
#pragma unroll
      for (int k = 0; k < kCopies; ++k) {
        const uint32_t word = odd ? ptx::f32x2_to_f16x2(other * rp[h][k], v1 * ratio[h][k]) : ptx::f32x2_to_f16x2(v0 * ratio[h][k], other * rp[h][k]);
        ptx::st_shared_u32(sP + k * kSlab + swizzled(col, tok >> 3) + (tok & 7) * 2, word);
      }
    }
}

// ---- the register-A datapath (both FP8 entries) ---------------------------------------------------------------
// No f16 copy of K in shared memory: both products take K's e4m3 codes as their A operand from registers, loaded
// with ldmatrix from the raw stage and converted there (spprof, session 18: the f16 round trip was 36 % of the
// shared-memory traffic that bounds the f16 datapath). The raw stage is four TMA boxes — scale group b = channels
// 128 b … + 127 — of 64 token rows × 128 B, 128B-swizzled: chunk c (16 codes) of token t at t · 128 + 16 (c ^ (t & 7)),
// so the 8 rows of every ldmatrix matrix (8 consecutive tokens, one chunk) fall in 8 different bank groups.

// One thread: the block on `page` as the four swizzled boxes into the stage at sSt and its 64 tokens' scales (16 B
// each, the scale map's box) into sSc, completing on `bar`.
__device__ __forceinline__ void fp8_request_raw_sw(uint32_t sSt, const CUtensorMap* raw_sw_map, uint32_t bar, int page, uint32_t sSc,
                                                   const CUtensorMap* scale_map) {
  if constexpr (MLA_SM90S_L2_BOUND) page &= 15;
  ptx::mbarrier_arrive_expect_tx(bar, 4 * SM90_SLAB_BYTES + SM90S_F8_SCALE_BOX_BYTES);
#pragma unroll
  for (int b = 0; b < 4; ++b) ptx::tma_load_3d(sSt + b * SM90_SLAB_BYTES, raw_sw_map, bar, 128 * b, 0, page);
  ptx::tma_load_3d(sSc, scale_map, bar, 0, 0, page);
}
// The scales of this thread's two S tokens (16 · warp + g and + 8) from shared memory, token t's 16 bytes at
// sFirst + t · pitch (a landed scale box: pitch 16; the sparse entry's whole-row stage: 656); 0 where ok(h) is false
// (NaN-filled slots past a sequence's end, invalid gathered positions: their P is 0 and must not meet a NaN ratio).
template <typename Ok>
__device__ __forceinline__ Fp8TokenScales fp8_smem_scales(uint32_t sFirst, int pitch, int warp, int g, Ok&& ok) {
  Fp8TokenScales s;
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const uint4 w = ptx::ld_shared_v4(sFirst + (16 * warp + g + 8 * h) * pitch);
    const bool k = ok(h);
    s.v[h][0] = k ? __uint_as_float(w.x) : 0.f, s.v[h][1] = k ? __uint_as_float(w.y) : 0.f;
    s.v[h][2] = k ? __uint_as_float(w.z) : 0.f, s.v[h][3] = k ? __uint_as_float(w.w) : 0.f;
  }
  return s;
}
// ... from a landed scale box at sSc (the dense entry), 0 for tokens ≥ n_valid.
__device__ __forceinline__ Fp8TokenScales fp8_stage_scales(uint32_t sSc, int warp, int g, int n_valid) {
  return fp8_smem_scales(sSc, 16, warp, g, [&](int h) { return 16 * warp + g + 8 * h < n_valid; });
}

// Sᵀ of one block from the raw stage sSt (S_g per scale group into sg, S_rope from slab 8 of the K
// buffer sK into s, then combined): per group 4 ldmatrix.x4, each the two k-steps of chunks 2kp, 2kp + 1 for the
// warp's 16 tokens — lane (g, q4) gets 4 codes (channels 4 q4 … + 3 of the chunk) of tokens g and g + 8, which are
// its A fragment's k slots 2 q4, 2 q4 + 1 and 2 q4 + 8, + 9 (Q's channels permuted to match: q_to_f16_scaled<true>);
// cvt e4m3x2 → f16x2, exact. Two groups' fragments in flight (A registers are read by the running wgmmas: a group's
// are rewritten only after wgmma.wait_group 1 has retired the group before).
// kPitch (the sparse entry): the stage is 64 gathered rows of kPitch bytes, token t's codes at
// t · kPitch, unswizzled (the pitch spreads an ldmatrix matrix's 8 rows over 8 bank groups; no RoPE barrier:
// !kRopeTma). before_rope() runs where the dense entry waits for its RoPE box, with the four groups' wgmmas in flight
// (both register-A entries read their tokens' scales there, behind the tensor-core work).
// kRopeStage (the sparse entry): S_rope's A fragments straight from the stage's RoPE bytes (ldmatrix of bf16 rows at
// t · kPitch + FP8_ROPE_OFFSET) for register-A wgmmas — no copy into slab 8, no fence or warpgroup barrier (session
// 26, `rrs`: 0.5–1 % on the sparse rows, 251 registers); an invalid position's stale RoPE bytes only reach its own Sᵀ
// entries, which the mask replaces (−inf by a select).
template <int kPitch = 0, bool kRopeTma = true, bool kRopeStage = false, typename BeforeRope = NoStores>
__device__ __forceinline__ void f16r_scores(float (&s)[8], float (&sg)[4][8], uint32_t sSt, uint32_t sK, uint32_t sQ, const Fp8TokenScales& tsc, const float (&qf)[2][2],
                                            uint32_t sRope, uint32_t rope_phase, int warp, int lane, BeforeRope&& before_rope = {}) {
  const int mi = lane >> 3, t = 16 * warp + 8 * (mi & 1) + (lane & 7);
  const uint32_t row = sSt + t * (kPitch ? kPitch : 128);
  const uint64_t dk = desc_k_major(sK), dq = desc_k_major(sQ);
  uint32_t a[2][8][4];
  auto codes = [&](uint32_t (&r)[4], int b, int kp) {
    if constexpr (kPitch) ptx::ldmatrix_x4(r, row + b * 128 + ((2 * kp + (mi >> 1)) << 4));
    else ptx::ldmatrix_x4(r, row + b * SM90_SLAB_BYTES + (((2 * kp + (mi >> 1)) ^ (t & 7)) << 4));
  };
  // each group's codes are loaded a group ahead (into rn), before the group before it issues its wgmmas, so the
  // ldmatrix latency hides behind them (session 26: 1–2 % on the dense 16-row rows, 3.6 % on the sparse rows)
  uint32_t rn[4][4];
#pragma unroll
  for (int kp = 0; kp < 4; ++kp) codes(rn[kp], 0, kp);
#pragma unroll
  for (int b = 0; b < 4; ++b) {
    if (b >= 2) ptx::wgmma_wait<1>();  // group b − 2 retired: its fragments may be rewritten
#pragma unroll
    for (int kp = 0; kp < 4; ++kp) {
      const uint32_t(&r)[4] = rn[kp];
      const uint2 c0 = ptx::e4m3x4_to_f16x4(r[0]), c1 = ptx::e4m3x4_to_f16x4(r[1]);
      const uint2 c2 = ptx::e4m3x4_to_f16x4(r[2]), c3 = ptx::e4m3x4_to_f16x4(r[3]);
      uint32_t(&a0)[4] = a[b & 1][2 * kp];
      uint32_t(&a1)[4] = a[b & 1][2 * kp + 1];
      a0[0] = c0.x, a0[1] = c1.x, a0[2] = c0.y, a0[3] = c1.y;
      a1[0] = c2.x, a1[1] = c3.x, a1[2] = c2.y, a1[3] = c3.y;
    }
    if (b < 3) {
#pragma unroll
      for (int kp = 0; kp < 4; ++kp) codes(rn[kp], b + 1, kp);
    }
    ptx::wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < 8; ++kk)
      ptx::wgmma_m64n16k16_f16_rs(sg[b], a[b & 1][kk], dq + (((2 * b + (kk >> 2)) * SM90S_ROW_SLAB_BYTES + (kk & 3) * 32) >> 4), kk != 0);
    ptx::wgmma_commit();
  }
  if constexpr (kRopeStage) {
    static_assert(kPitch != 0 && !kRopeTma, "kRopeStage: the sparse entry's whole-row stage");
    before_rope();
    ptx::wgmma_wait<1>();  // group 2 retired: its fragments' registers take the RoPE's (without the wait: a 4-byte spill)
    uint32_t ra[4][4];
#pragma unroll
    for (int kk = 0; kk < 4; ++kk) ptx::ldmatrix_x4(ra[kk], row + FP8_ROPE_OFFSET + kk * 32 + ((mi >> 1) << 4));
    ptx::wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < 4; ++kk)
      ptx::wgmma_m64n16k16_bf16_rs(s, ra[kk], dq + (((SM90_SLABS - 1) * SM90S_ROW_SLAB_BYTES + kk * 32) >> 4), kk != 0);
    ptx::wgmma_commit();
    ptx::wgmma_wait<0>();
    f16_scores_combine(s, sg, tsc, qf);
    return;
  }
  if constexpr (kRopeTma) ptx::mbarrier_wait(sRope, rope_phase);
  before_rope();
  ptx::wgmma_fence();
  f16_scores_finish(s, sg, dk, dq, tsc, qf);
}

// Oᵀ += Vᵀ · Pᵀ with V's codes as A from the raw stage: tile t (channels 64t … + 63 = box t / 2, the warp's 16 channels
// chunk 4 (t & 1) + warp), per k-step pair one ldmatrix.x4.trans of 32 tokens × that chunk — lane (g, q4) gets
// channels 2g, 2g + 1 of tokens 2 q4, 2 q4 + 1 (bytes (t0, c0) (t0, c1) (t1, c0) (t1, c1); matrix m: tokens 8m … of the
// 32), i.e. A row g = channel 2g, row g + 8 = channel 2g + 1 of the warp's 16: Oᵀ's rows permuted (o_unpermute
// restores them at the item's end). One prmt pairs the tokens per channel, two cvt e4m3x2 → f16x2 (exact; session 23's
// first form, integer ops, issued 3× the instructions). kMasked (the item's last block, n_valid < 64): the codes of
// tokens ≥ n_valid become 0 first — NaN-filled slots, whose P is 0, would still poison Oᵀ. One scale group (two tiles,
// 8 wgmmas) per commit, two in flight.
// The P·V side's A fragments (f16r_pv and the 32-column entries' sp32_pv_pair): pv_keep — per k-step pair and matrix, the
// bytes of this lane's two tokens that stay (tokens < n_valid); pv_fragments — one scale group's 8 k-step fragments
// (its two tiles, the warp's chunk 4 u + warp of each) from the box at sBox, codes of dropped tokens zeroed (kMasked).
__device__ __forceinline__ void pv_keep(uint32_t (&keep)[2][4], int q4, int n_valid) {
#pragma unroll
  for (int kp = 0; kp < 2; ++kp)
#pragma unroll
    for (int m = 0; m < 4; ++m) {
      const int t0 = 32 * kp + 8 * m + 2 * q4;
      keep[kp][m] = (t0 < n_valid ? 0x0000ffffu : 0u) | (t0 + 1 < n_valid ? 0xffff0000u : 0u);
    }
}
// (kPitch: the sparse entry's gathered stage, as f16r_scores; sBox then the group's first code of token 0; the keep
// masks from the block's validity bits, pv_keep_valid: 16 per warp's tokens, word w = tokens 16 w … 16 w + 15.)
__device__ __forceinline__ void pv_keep_valid(uint32_t (&keep)[2][4], int q4, const uint4& valid) {
  const uint32_t w[4] = {valid.x, valid.y, valid.z, valid.w};
#pragma unroll
  for (int kp = 0; kp < 2; ++kp)
#pragma unroll
    for (int m = 0; m < 4; ++m) {
      const uint32_t v = w[2 * kp + (m >> 1)] >> (8 * (m & 1) + 2 * q4);
      keep[kp][m] = (v & 1u ? 0x0000ffffu : 0u) | (v & 2u ? 0xffff0000u : 0u);
    }
}
template <bool kMasked, int kPitch = 0>
__device__ __forceinline__ void pv_fragments(uint32_t (&a)[8][4], uint32_t sBox, const uint32_t (&keep)[2][4], int warp, int lane) {
#pragma unroll
  for (int u = 0; u < 2; ++u) {
    const int chunk = 4 * u + warp;  // tile u of the group
#pragma unroll
    for (int kp = 0; kp < 2; ++kp) {
      const int tk = 32 * kp + lane;
      uint32_t r[4];
      if constexpr (kPitch) ptx::ldmatrix_x4_trans(r, sBox + tk * kPitch + (chunk << 4));
      else ptx::ldmatrix_x4_trans(r, sBox + tk * 128 + ((chunk ^ (tk & 7)) << 4));
#pragma unroll
      for (int m = 0; m < 4; ++m) {
        if constexpr (kMasked) r[m] &= keep[kp][m];
        r[m] = ptx::prmt(r[m], 0u, 0x3120u);  // (t0, c0) (t1, c0) (t0, c1) (t1, c1)
      }
#pragma unroll
      for (int h = 0; h < 2; ++h) {  // k-step 2 kp + h: matrices 2h (tokens 0–7 of it) and 2h + 1 (8–15)
        const uint2 lo = ptx::e4m3x4_to_f16x4(r[2 * h]), hi = ptx::e4m3x4_to_f16x4(r[2 * h + 1]);
        uint32_t(&f)[4] = a[4 * u + 2 * kp + h];
        f[0] = lo.x, f[1] = lo.y, f[2] = hi.x, f[3] = hi.y;
      }
    }
  }
}

// (kPitch: the sparse entry's gathered stage; kMasked then drops the block's invalid positions, `valid`, whose rows hold
// stale or never-written bytes.)
template <bool kMasked, int kPitch = 0>
__device__ __forceinline__ void f16r_pv(float (&o)[8][8], uint32_t sSt, uint32_t sP, int warp, int lane, int n_valid, uint4 valid = {}) {
  const uint64_t dp = desc_k_major(sP);
  const int q4 = lane & 3;
  uint32_t keep[2][4];
  if constexpr (kMasked && kPitch) pv_keep_valid(keep, q4, valid);
  else if constexpr (kMasked) pv_keep(keep, q4, n_valid);
  uint32_t a[2][8][4];
#pragma unroll
  for (int grp = 0; grp < 4; ++grp) {
    if (grp >= 2) ptx::wgmma_wait<1>();
    pv_fragments<kMasked, kPitch>(a[grp & 1], sSt + grp * (kPitch ? 128 : SM90_SLAB_BYTES), keep, warp, lane);
    ptx::wgmma_fence();
#pragma unroll
    for (int u = 0; u < 2; ++u)
#pragma unroll
      for (int kk = 0; kk < 4; ++kk)
        ptx::wgmma_m64n16k16_f16_rs(o[2 * grp + u], a[grp & 1][4 * u + kk], dp + ((grp * SM90S_ROW_SLAB_BYTES + kk * 32) >> 4), 1);
    ptx::wgmma_commit();
  }
  ptx::wgmma_wait<0>();
}

// Oᵀ's rows back to the wgmma layout (f16r_pv's row g = channel 2g, row g + 8 = channel 2g + 1 of the warp's 16 →
// row g = channel g, row g + 8 = channel g + 8): channel c lives in lane (c / 2, q4), half c % 2.
// (kTiles m-tiles of kVals = 4 · column tiles: the 32-row FP8 entry's 4 × 16.)
template <int kTiles, int kVals>
__device__ __forceinline__ void o_unpermute(float (&o)[kTiles][kVals], int g, int q4) {
#pragma unroll
  for (int t = 0; t < kTiles; ++t) {
    float nv[kVals];
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int src = (((g + 8 * h) >> 1) << 2) | q4;
#pragma unroll
      for (int i = 0; i < kVals / 4; ++i)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const float v0 = __shfl_sync(0xffffffffu, o[t][4 * i + e], src), v1 = __shfl_sync(0xffffffffu, o[t][4 * i + 2 + e], src);
          nv[4 * i + 2 * h + e] = (g & 1) ? v1 : v0;
        }
    }
#pragma unroll
    for (int x = 0; x < kVals; ++x) o[t][x] = nv[x];
  }
}

}  // namespace
