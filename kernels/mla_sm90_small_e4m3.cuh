// The small-row kernel's P·V on e4m3 wgmmas (mla_decode_sm90_small.cu, kE4m3Pv; variant builds only:
// -DMLA_EXPERIMENT_E4M3_PV, the dense 16-row and sparse 16-head FP8 entries). S stays on the f16 datapath
// (mla_sm90_small_fp8.cuh): session 45 ran S on e4m3 wgmmas too, and their ~10-bit accumulation put the LSE outside
// FlashMLA's tolerance (abs 1e-6, rel 8/65536), while the outputs passed (perf log `s45a`). Here only P·V changes:
//   Oᵀ_g += Vᵀ_g · (P_g,hi + P_g,lo)ᵀ / 2^8: per tile and 32-token k-step one ldmatrix.x4.trans and four prmt give the
//     8-bit A fragment of V's codes as they lie in the stage (row g = channel 2g, row g + 8 = channel 2g + 1 of the
//     warp's 16, as f16r_pv — o_unpermute restores them; k slot 16 s + 4 q + 2 h + e = token 16 s + 8 h + 2 q + e,
//     which Pᵀ's stores follow), two m64n16k32 e4m3 wgmmas against P's two terms.
// P goes as two e4m3 terms, hi = e4m3(x) and lo = e4m3(x − hi) (ptx::e4m3x4_split), after scaling by 2^8 (P times its
// group ratio is ≤ 1; e4m3's normal range then covers it down to 2^−14; the float64 study in the perf log, session 44).
// Per thread and block: the f16 P·V's 128 code conversions go, eight splits of four values come. Why try it: on an
// H200 the 16-row FP8 entry runs at ~81 % of the copy rate, compute-bound (on an H100, where s45a ran, it is
// memory-bound, so that A/B could not show a compute saving).
// Layout: Pᵀ's copy for group g at sP + 2048 g holds per column row the hi codes of the 64 tokens in bytes 0–63 and
// the lo codes in 64–127 (the f16 datapath's four copies' bytes).
#pragma once
#include <cstdint>

#include "mla_config.h"
#include "mla_sm90_math.cuh"
#include "mla_sm90_small_fp8.cuh"
#include "ptx.cuh"
#include "ptx_sm90.cuh"

namespace {

constexpr float kE4m3PScale = 256.f, kE4m3PScaleInv = 1.f / 256.f;

// Pᵀ (this thread's fragment s of P, 16 columns) → per group k the two e4m3 terms of P · ratio · 2^8 at sP + 2048 k
// (f16_store_p's counterpart): lanes g and g ^ 1 trade one value per tile and token half, so that the even-g lane
// holds column 2 q4 (+ 8 i) and the odd one column 2 q4 + 1, each with tokens (16 warp + g & ~1) + {0, 1, 8, 9} — k
// slots 4 (g / 2) … + 3 of k-step warp / 2, half (warp & 1): one 4-byte word per term, hi at byte 16 warp + 4 (g / 2)
// of the column's (unswizzled) row, lo 64 bytes further.
__device__ __forceinline__ void e4m3_store_p(uint32_t sP, const float (&s)[8], const float (&ratio)[2][4], int warp, int g, int q4) {
  const bool odd = g & 1;
  float rp[2][4];  // the partner lane's ratios (its tokens)
#pragma unroll
  for (int h = 0; h < 2; ++h)
#pragma unroll
    for (int k = 0; k < 4; ++k) rp[h][k] = __shfl_xor_sync(0xffffffffu, ratio[h][k], 4);
  const int byte = 16 * warp + 4 * (g >> 1);
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    float x[2][2], rx[2][2][4];  // [h][even-g token, odd-g token] and their ratios
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const float v0 = s[4 * i + 2 * h], v1 = s[4 * i + 2 * h + 1];
      const float other = __shfl_xor_sync(0xffffffffu, odd ? v0 : v1, 4);
      x[h][0] = odd ? other : v0, x[h][1] = odd ? v1 : other;
#pragma unroll
      for (int k = 0; k < 4; ++k) rx[h][0][k] = odd ? rp[h][k] : ratio[h][k], rx[h][1][k] = odd ? ratio[h][k] : rp[h][k];
    }
    const int col = col_of(i, odd ? 1 : 0, q4);
    // (the lo word's chunk is 4 further before the swizzle; after it, not necessarily 64 bytes further)
    const uint32_t at_hi = swizzled(col, byte >> 4) + (byte & 15), at_lo = swizzled(col, (byte >> 4) + 4) + (byte & 15);
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const uint2 t = ptx::e4m3x4_split(x[0][0] * (rx[0][0][k] * kE4m3PScale), x[0][1] * (rx[0][1][k] * kE4m3PScale), x[1][0] * (rx[1][0][k] * kE4m3PScale),
                                         x[1][1] * (rx[1][1][k] * kE4m3PScale));
      ptx::st_shared_u32(sP + SM90S_ROW_SLAB_BYTES * k + at_hi, t.x);
      ptx::st_shared_u32(sP + SM90S_ROW_SLAB_BYTES * k + at_lo, t.y);
    }
  }
}

// Oᵀ += Vᵀ · Pᵀ with V's codes as A from the raw stage (f16r_pv's counterpart), in units of 2^8 (the caller
// takes them out at the item's end): per group two tiles u (channels 64 (2 grp + u) …, the warp's chunk 4 u + warp)
// and two 32-token k-steps kp, each one ldmatrix.x4.trans (lane l: token 32 kp + l; matrix m: tokens 8m … 8m + 7, lane
// (g, q) bytes (t0, c0) (t0, c1) (t1, c0) (t1, c1) for tokens 8m + 2q + {0, 1}, channels 2g, 2g + 1), codes of tokens ≥
// n_valid zeroed (kMasked: pv_keep's masks), then four prmt: rows 2g / 2g + 1 × tokens {2q, 2q + 1, 8 + 2q, 9 + 2q}
// (+ 16); two wgmmas (hi, lo). One group (8 wgmmas) per commit, two in flight.
// (kPitch: the sparse entry's gathered stage, whose invalid positions `valid` drops, as f16r_pv.)
template <bool kMasked, int kPitch = 0>
__device__ __forceinline__ void e4m3r_pv(float (&o)[8][8], uint32_t sSt, uint32_t sP, int warp, int lane, int n_valid, uint4 valid = {}) {
  const uint64_t dp = desc_k_major(sP);
  const int q4 = lane & 3;
  uint32_t keep[2][4];
  pv_keep_of<kMasked, kPitch>(keep, q4, n_valid, valid);
  uint32_t a[2][2][2][4];  // [set][u][kp]
#pragma unroll
  for (int grp = 0; grp < 4; ++grp) {
    if (grp >= 2) ptx::wgmma_wait<1>();
    const uint32_t sBox = sSt + grp * (kPitch ? 128 : SM90_SLAB_BYTES);
#pragma unroll
    for (int u = 0; u < 2; ++u)
#pragma unroll
      for (int kp = 0; kp < 2; ++kp) {
        const int chunk = 4 * u + warp, tk = 32 * kp + lane;
        uint32_t r[4];
        if constexpr (kPitch) ptx::ldmatrix_x4_trans(r, sBox + tk * kPitch + (chunk << 4));
        else ptx::ldmatrix_x4_trans(r, sBox + tk * 128 + ((chunk ^ (tk & 7)) << 4));
        if constexpr (kMasked) {
#pragma unroll
          for (int m = 0; m < 4; ++m) r[m] &= keep[kp][m];
        }
        uint32_t(&f)[4] = a[grp & 1][u][kp];
        f[0] = ptx::prmt(r[0], r[1], 0x6420u), f[1] = ptx::prmt(r[0], r[1], 0x7531u);
        f[2] = ptx::prmt(r[2], r[3], 0x6420u), f[3] = ptx::prmt(r[2], r[3], 0x7531u);
      }
    ptx::wgmma_fence();
#pragma unroll
    for (int u = 0; u < 2; ++u)
#pragma unroll
      for (int kp = 0; kp < 2; ++kp) {
        ptx::wgmma_m64n16k32_e4m3_rs(o[2 * grp + u], a[grp & 1][u][kp], dp + ((grp * SM90S_ROW_SLAB_BYTES + kp * 32) >> 4), 1);
        ptx::wgmma_m64n16k32_e4m3_rs(o[2 * grp + u], a[grp & 1][u][kp], dp + ((grp * SM90S_ROW_SLAB_BYTES + 64 + kp * 32) >> 4), 1);
      }
    ptx::wgmma_commit();
  }
  ptx::wgmma_wait<0>();
}

}  // namespace
