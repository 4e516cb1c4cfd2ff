// The small-row kernel's e4m3 datapath (mla_decode_sm90_small.cu, kE4m3; variant builds: -DMLA_EXPERIMENT_E4M3_MMA its
// dense 16-row FP8 entry, =2 also its sparse 16-head entry): the tensor core takes K's e4m3 codes as they lie in the
// raw stage — no conversion.
// The f16 datapath (mla_sm90_small_fp8.cuh) converts every code twice per block (cvt e4m3x2 → f16x2 for S and again
// for P·V: 256 conversions per thread and block at the conversion unit's 16 per clock per SM, a fifth of its executed
// instructions, perf log sessions 27–30). Here both products are e4m3 wgmmas (m64n16k32, fp32 accumulators):
//   Sᵀ_g = K_g · (Q_g,hi + Q_g,lo)ᵀ: per group and 32-channel k-step one ldmatrix.x4 of the stage gives the 8-bit A
//     fragment as is (lane (g, q) gets channels 4q … 4q + 3 of tokens g and g + 8 of each 16-channel chunk: k slots
//     4q … 4q + 3 and 16 + 4q …), two wgmmas against Q's two e4m3 terms;
//   Oᵀ_g += Vᵀ_g · (P_g,hi + P_g,lo)ᵀ / 2^8: per tile and 32-token k-step one ldmatrix.x4.trans and four prmt give the
//     A fragment (row g = channel 2g, row g + 8 = channel 2g + 1 of the warp's 16, as f16r_pv — o_unpermute restores
//     them; k slot 16 s + 4 q + 2 h + e = token 16 s + 8 h + 2 q + e, which Pᵀ's stores follow), two wgmmas against P's
//     two terms.
// Q and P go as two e4m3 terms each, hi = e4m3(x) and lo = e4m3(x − hi) (ptx::e4m3x4_split): ~8 significant bits, a
// bf16's. Q's rows are scaled by 2^k_r into [2^7, 2^8) first (factor back: qf, as the f16 datapath's), P (≤ 1, times
// its group ratio ≤ 1) by 2^8, so that e4m3's normal range covers it down to 2^-14 (the float64 study in the perf log,
// session 44: cos diff 1.4e-6 against the oracle where the bf16 path has 1.7e-6, also with the sums rounded to 13
// bits per k32 step). Everything else — the four S partials and S_rope, the groups' reference scales and ratios, the
// softmax, the merge — is the f16 datapath's.
// Layouts (the same bytes as the f16 datapath's): Q's slabs 0–7 become, per group g, the hi term's 16 rows × 128
// codes in slab 2g and the lo term's in slab 2g + 1 (128B-swizzled K-major B tiles); Pᵀ's copy for group g at sP +
// 2048 g holds per column row the hi codes of the 64 tokens in bytes 0–63 and the lo codes in 64–127.
#pragma once
#include <cstdint>

#include "mla_config.h"
#include "mla_sm90_math.cuh"
#include "mla_sm90_small_fp8.cuh"
#include "ptx.cuh"
#include "ptx_sm90.cuh"

namespace {

constexpr float kE4m3PScale = 256.f, kE4m3PScaleInv = 1.f / 256.f;

// Q's slabs 0–7 (16 rows × 512 bf16 channels at sQ) → per group g the e4m3 terms of row r times 2^k_r, hi in slab 2g
// and lo in slab 2g + 1 (rows of 128 codes, 128B swizzle), k_r from the row's largest |q| (into [2^7, 2^8)); 2^−k_r
// to float[16] at sQf (as q_to_f16_scaled). Thread t takes row t / 16, channels 32 (t % 16) … + 31: it reads slab
// (t % 16) / 2 and writes slabs 2 ((t % 16) / 4) and + 1 of its row, which only its row's 16 threads (half a warp)
// read: they all load before any stores (__syncwarp). A non-finite row gets factor 1 and a NaN factor back. The caller
// fences and syncs.
// kSlabBytes: Q's slab pitch (the 32-column body: 4096, its rows 16–31 by a second call at sQ + 2048, as q_to_f16_scaled).
template <int kSlabBytes = SM90S_ROW_SLAB_BYTES>
__device__ __forceinline__ void q_to_e4m3_split(uint32_t sQ, uint32_t sQf, int tid) {
  const int r = tid >> 4, part = tid & 15;
  uint4 v[4];
  const float mx = q_row_chunks_max(v, [&](int k) {
    const int c = 4 * part + k;  // 16-byte chunk of 8 channels
    return sQ + (c >> 3) * kSlabBytes + swizzled(r, c & 7);
  });
  const int eb = static_cast<int>(__float_as_uint(mx) >> 23);  // biased exponent (mx ≥ 0)
  const int ec = eb < 8 ? 8 : eb;
  const float f = eb == 255 ? 1.f : __uint_as_float(static_cast<uint32_t>(261 - ec) << 23);   // 2^(134 − ec)
  // (a row with an inf or NaN: its e4m3 terms would saturate to finite codes, so its factor back is NaN instead —
  // the row's scores NaN, as the f16 datapath's inf / NaN products make them)
  const float inv = eb == 255 ? __uint_as_float(0x7fc00000u) : __uint_as_float(static_cast<uint32_t>(ec - 7) << 23);  // 2^(ec − 134)
  uint32_t hi[8], lo[8];
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    const uint32_t w[4] = {v[k].x, v[k].y, v[k].z, v[k].w};
#pragma unroll
    for (int x = 0; x < 4; x += 2) {
      const uint2 t = ptx::e4m3x4_split(__uint_as_float(w[x] << 16) * f, __uint_as_float(w[x] & 0xffff0000u) * f, __uint_as_float(w[x + 1] << 16) * f,
                                         __uint_as_float(w[x + 1] & 0xffff0000u) * f);
      hi[2 * k + x / 2] = t.x, lo[2 * k + x / 2] = t.y;
    }
  }
  __syncwarp();  // the row's 16 threads have read their chunks
  // channels 32 part … + 31 = group part / 4, 16-byte chunks 2 (part % 4) and + 1 of its 128-code rows
  const uint32_t tile = sQ + 2 * (part >> 2) * kSlabBytes;
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const uint32_t at = swizzled(r, 2 * (part & 3) + h);
    ptx::st_shared_v4(tile + at, make_uint4(hi[4 * h], hi[4 * h + 1], hi[4 * h + 2], hi[4 * h + 3]));
    ptx::st_shared_v4(tile + kSlabBytes + at, make_uint4(lo[4 * h], lo[4 * h + 1], lo[4 * h + 2], lo[4 * h + 3]));
  }
  if (part == 0) ptx::st_shared_f32(sQf + r * 4, inv);
}

// The start of an item with Q → its e4m3 terms (fp8_item_start; f16_item_start's counterpart)
template <bool kMathOnly = false>
__device__ __forceinline__ void e4m3_item_start(uint32_t sQ, uint32_t sQf, int tid, int q4, float (&qf)[2][2], float (&rg)[4]) {
  fp8_item_start<kMathOnly>([&] { q_to_e4m3_split(sQ, sQf, tid); }, sQf, q4, qf, rg);
}

// Sᵀ of one block from the raw stage sSt (f16r_scores' counterpart): per group b four ldmatrix.x4 (k-steps kp =
// chunks 2kp, 2kp + 1 of its 128 codes) straight into A fragments, eight wgmmas (hi and lo term per k-step) into
// sg[b]; group b + 1's fragments are loaded while group b's wgmmas run (two register sets: a set is rewritten once the
// group that read it has retired, wgmma.wait_group 1). Then S_rope and the combine (fp8_scores_tail).
// kPitch / kRopeTma / kRopeStage: the sparse entry's whole-row stage, as f16r_scores.
template <int kPitch = 0, bool kRopeTma = true, bool kRopeStage = false, typename BeforeRope = NoStores>
__device__ __forceinline__ void e4m3r_scores(float (&s)[8], float (&sg)[4][8], uint32_t sSt, uint32_t sK, uint32_t sQ, const Fp8TokenScales& tsc,
                                             const float (&qf)[2][2], uint32_t sRope, uint32_t rope_phase, int warp, int lane, BeforeRope&& before_rope = {}) {
  const int mi = lane >> 3, t = 16 * warp + 8 * (mi & 1) + (lane & 7);
  const uint32_t row = sSt + t * (kPitch ? kPitch : 128);
  const uint64_t dk = desc_k_major(sK), dq = desc_k_major(sQ);
  uint32_t a[2][4][4];
  auto codes = [&](uint32_t (&r)[4], int b, int kp) { stage_codes<kPitch>(r, row, b, kp, mi, t); };
#pragma unroll
  for (int kp = 0; kp < 4; ++kp) codes(a[0][kp], 0, kp);
#pragma unroll
  for (int b = 0; b < 4; ++b) {
    ptx::wgmma_fence();
#pragma unroll
    for (int kp = 0; kp < 4; ++kp) {
      ptx::wgmma_m64n16k32_e4m3_rs(sg[b], a[b & 1][kp], dq + ((2 * b * SM90S_ROW_SLAB_BYTES + kp * 32) >> 4), kp != 0);
      ptx::wgmma_m64n16k32_e4m3_rs(sg[b], a[b & 1][kp], dq + (((2 * b + 1) * SM90S_ROW_SLAB_BYTES + kp * 32) >> 4), 1);
    }
    ptx::wgmma_commit();
    if (b < 3) {
      if (b >= 1) ptx::wgmma_wait<1>();  // group b − 1 retired: its set takes group b + 1
#pragma unroll
      for (int kp = 0; kp < 4; ++kp) codes(a[(b + 1) & 1][kp], b + 1, kp);
    }
  }
  fp8_scores_tail<kPitch, kRopeTma, kRopeStage>(s, sg, row, mi, dk, dq, tsc, qf, sRope, rope_phase, before_rope);
}

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
