// The Hopper decode kernel's math-warpgroup pieces (mla_decode_sm90.cu: the seesaw, its FP8 and sparse variants):
// named barriers and modes, the wgmma wrappers and descriptors, S masking and the online softmax, P packing, the
// epilogue's row stores, the slab-pipelined S issue, Q's load. Included by mla_decode_sm90.cu and
// mla_decode_sm90_small.cu (an anonymous namespace).
#pragma once
#include <cstdint>
#include <type_traits>
#include <cuda.h>

#include "mla_config.h"
#include "mla_fp8_params.h"
#include "mla_generic_common.cuh"
#include "mla_params.h"
#include "mla_work.cuh"
#include "ptx.cuh"
#include "ptx_sm90.cuh"

using namespace mla;

namespace {

constexpr float kMaxInit = -1e30f;  // finite initial row max: exp2(-inf - kMaxInit) = 0, never inf - inf
constexpr uint32_t kSwizzle128 = 1;
constexpr int kNoTokens = 1 << 29;              // first token of a block that does not exist: masks everything
constexpr int kQChunksPerRow = HEAD_DIM_K / 8;  // 16-byte chunks of a Q row

// Named barriers (id 0 is __syncthreads). The cross-warpgroup ones count both warpgroups (256): one side
// arrives, the other syncs.
enum Barrier : int { kScale0Ready = 1, kScale1Ready = 2, kP0Ready = 3, kP1Ready = 4, kWg0Local = 5, kWg1Local = 6, kSumReady = 7, kMathSync = 9 };
constexpr int kBoth = SM90_THREADS, kOne = SM90_THREADS / 2;
enum Group : int { kGroupA = 0, kGroupB = 1 };
// What the K buffers hold: the 16-bit cache (TMA); the FP8 cache by block table or by index (sparse decode), each
// filled by the producer warpgroup (mla_sm90_fp8_producer.cuh).
enum Mode : int { kDense16 = 0, kFp8Dense = 1, kFp8Sparse = 2, kFp8SparsePair = 3 };
template <int kMode>
constexpr bool kModeFp8 = kMode != kDense16;  // a producer warpgroup fills the buffers
template <int kMode>
constexpr bool kModeSparse = kMode == kFp8Sparse || kMode == kFp8SparsePair;  // by index lists, no tensor maps

template <typename T>
struct Mma;
template <>
struct Mma<__nv_bfloat16> {
  static __device__ __forceinline__ void s_ss(float (&d)[32], uint64_t a, uint64_t b, int acc) { ptx::wgmma_m64n64k16_bf16_ss(d, a, b, acc); }
  static __device__ __forceinline__ void pv_ss(float (&d)[128], uint64_t a, uint64_t b) { ptx::wgmma_m64n256k16_bf16_ss_tb(d, a, b, 1); }
  static __device__ __forceinline__ void pv_rs(float (&d)[128], const uint32_t (&a)[4], uint64_t b) { ptx::wgmma_m64n256k16_bf16_rs_tb(d, a, b); }
};
template <>
struct Mma<__half> {
  static __device__ __forceinline__ void s_ss(float (&d)[32], uint64_t a, uint64_t b, int acc) { ptx::wgmma_m64n64k16_f16_ss(d, a, b, acc); }
  static __device__ __forceinline__ void pv_ss(float (&d)[128], uint64_t a, uint64_t b) { ptx::wgmma_m64n256k16_f16_ss_tb(d, a, b, 1); }
  static __device__ __forceinline__ void pv_rs(float (&d)[128], const uint32_t (&a)[4], uint64_t b) { ptx::wgmma_m64n256k16_f16_rs_tb(d, a, b); }
};

// K-major, 128B-swizzled operand (rows of 128 B, 8-row groups 1024 B apart).
__device__ __forceinline__ uint64_t desc_k_major(uint32_t addr) { return ptx::wgmma_desc(addr, 16, 1024, kSwizzle128); }
// MN-major, 128B-swizzled B operand (V): next 64 channels one slab (8192 B) on, next 8 tokens 1024 B on.
__device__ __forceinline__ uint64_t desc_mn_major(uint32_t addr) { return ptx::wgmma_desc(addr, SM90_SLAB_BYTES, 1024, kSwizzle128); }
// Step kk (16 tokens) of a P·V: V's 256 columns at v (MN-major, the next 16 tokens 2048 B on) and the P tile at sp
// (K-major, 32 B on). (One descriptor per operand advanced by adding, session 40 `pd`, was 0.3 % slower on an H100.)
template <uint32_t kStepBytes, bool kMnMajor>
__device__ __forceinline__ uint64_t pv_step_desc(uint32_t addr, int kk) {
  const uint32_t a = addr + kk * kStepBytes;
  return kMnMajor ? desc_mn_major(a) : desc_k_major(a);
}
__device__ __forceinline__ uint64_t v_desc(uint32_t v, int kk) { return pv_step_desc<2048, true>(v, kk); }
__device__ __forceinline__ uint64_t p_desc(uint32_t sp, int kk) { return pv_step_desc<32, false>(sp, kk); }

// Byte offset of 16-byte chunk `c` (0..7) of row `r` inside a 1024-aligned 128B-swizzled slab.
__device__ __forceinline__ uint32_t swizzled(int r, int c) { return r * 128 + ((c ^ (r & 7)) << 4); }


// A sparse block's valid positions (bit t: position t of the block), from the producer's four 16-bit words.
__device__ __forceinline__ uint64_t valid_mask(uint32_t addr) {
  const uint4 v = ptx::ld_shared_v4(addr);
  return (v.x | v.y << 16) | static_cast<uint64_t>(v.z | v.w << 16) << 32;
}

// S tile of one warpgroup: s[4·i + 2·h + e] = (row r_loc[h], token tok0 + 8·i + 2·q4 + e). Masks tokens at or past
// each row's end (selection: NaN in dead slots drops out) and returns the raw row maxima of the quad (-inf if none).
// Sparse decode (kValid): also the positions whose bit in `valid` (bit t: position tok0 + t) is clear.
template <bool kValid = false>
__device__ __forceinline__ void mask_and_row_max(float (&s)[32], int tok0, int q4, const int (&row_end)[2], float (&mx)[2], uint64_t valid = ~0ull) {
  mx[0] = mx[1] = -INFINITY;
  // A warp-uniform branch, not a predicate: the blocks no row of the warp ends in (all but an item's last, in dense
  // decode) skip the mask's ~80 predicated ISETP / FSEL / LOP3, which otherwise issue on every block on both handoff
  // chains. (H100, session 40 `mb`: S6 −2.3 %, sweep#12 / #14 / #28 −1.0 … −1.5 %, S8 −1.1 %, the rest ±0.3 %.)
  auto scan = [&](auto masked) {  // (masked: std::true_type or std::false_type)
#pragma unroll
    for (int i = 0; i < 8; ++i)
#pragma unroll
      for (int h = 0; h < 2; ++h)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          float& x = s[4 * i + 2 * h + e];
          if (decltype(masked)::value && (tok0 + 8 * i + 2 * q4 + e >= row_end[h] || (kValid && !((valid >> (8 * i + 2 * q4 + e)) & 1)))) x = -INFINITY;
          mx[h] = fmaxf(mx[h], x);
        }
  };
  if (!kValid && !__any_sync(0xffffffffu, tok0 + PAGE_BLOCK_SIZE > min(row_end[0], row_end[1]))) scan(std::false_type{});
  else scan(std::true_type{});
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 1));
    mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 2));
  }
}

// s ← exp2(s·scale_log2 − m_row) in place; returns the thread's partial row sums.
__device__ __forceinline__ void exponentiate(float (&s)[32], float scale_log2, const float (&m)[2], float (&sum)[2]) {
  sum[0] = sum[1] = 0.f;
#pragma unroll
  for (int i = 0; i < 8; ++i)
#pragma unroll
    for (int h = 0; h < 2; ++h)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        float& x = s[4 * i + 2 * h + e];
        x = ptx::exp2_approx(fmaf(x, scale_log2, -m[h]));
        sum[h] += x;
      }
}

// The running row max as a reference that moves only when a block's max passes it by more than kRowMaxSlack (log2
// units): P ≤ 2^8, harmless in bf16/fp16 and in the fp32 sums, and for most blocks the factors are exactly 1, so
// scale_rows' vote skips the O rescale — the exact running max moves in ~65 % of a warp's blocks on random data at 32
// blocks per item. The result is the same up to rounding (the largest weight is rounded to 16 bits too): O, the row
// sums and the LSE (log2 L + reference) all count from the same reference. (H100, session 40 `lz1`: S6 / S8
// −2.1 … −2.3 %, sweep#12 / #14 / #28 −1 … −2 %, dense FP8 and sparse −1.1 %, the memory-bound rows ±0.5 %.)
constexpr float kRowMaxSlack = 8.f;
__device__ __forceinline__ float next_row_max(float m_old, float m_block) { return m_block > m_old + kRowMaxSlack ? m_block : m_old; }

// O rows *= scale. Skipped when no row of the warp changes (the reference above rarely moves).
__device__ __forceinline__ void scale_rows(float (&o)[128], float a0, float a1) {
  if (!__any_sync(0xffffffffu, a0 != 1.f || a1 != 1.f)) return;
#pragma unroll
  for (int i = 0; i < 32; ++i) {
    o[4 * i + 0] *= a0;
    o[4 * i + 1] *= a0;
    o[4 * i + 2] *= a1;
    o[4 * i + 3] *= a1;
  }
}

// P (fp32 S layout) → the wgmma A fragments of its four k16 token steps: a[kk] = rows (g, g+8) × tokens 16kk + ….
template <typename T>
__device__ __forceinline__ void pack_p(const float (&s)[32], uint32_t (&a)[4][4]) {
#pragma unroll
  for (int kk = 0; kk < 4; ++kk)
#pragma unroll
    for (int x = 0; x < 4; ++x) a[kk][x] = ElemOps<T>::pack2(s[8 * kk + 2 * x], s[8 * kk + 2 * x + 1]);
}
// The same fragments → a 64 × 64 K-major swizzled P tile in smem (the other warpgroup's SS operand): one stmatrix.x4 per
// k16 step, 4 store instructions per thread instead of 16 (H200, session 14 `stm`: compute-bound rows ~1 % faster).
// a[kk][x] is matrix x of the warp's 16 × 16 tile of step kk (x & 1: rows + 8, x >> 1: columns + 8); lane l gives the
// address of row l % 8 of matrix l / 8.
__device__ __forceinline__ void store_p(uint32_t sP, const uint32_t (&a)[4][4], const int (&r_loc)[2]) {
  const int lane = threadIdx.x & 31, row0 = r_loc[0] - (lane >> 2);  // the warp's first row
  // (One swizzled offset and the others by XOR — ptxas rematerialises the four every iteration — measured no faster
  // on an H200, session 43 `sx`.)
#pragma unroll
  for (int kk = 0; kk < 4; ++kk)
    ptx::stmatrix_x4(sP + swizzled(row0 + ((lane >> 3) & 1) * 8 + (lane & 7), 2 * kk + (lane >> 4)), a[kk]);
}

// Zero V rows (tokens) ≥ n_valid in slabs [slab0, slab0 + 4) of a K buffer: P = 0 times a NaN-filled slot would still
// poison O. Whole 128-byte rows, so the swizzle does not matter. Then make the stores visible to wgmma and wait
// for the whole warpgroup.
__device__ __forceinline__ void zero_v_tail(uint32_t sKb, int slab0, int n_valid, int wg_tid, int barrier) {
  const int chunks = (PAGE_BLOCK_SIZE - n_valid) * 4 * 8;  // rows × slabs × 16-byte chunks
  for (int c = wg_tid; c < chunks; c += kOne) {
    const int row = n_valid + c / 32, slab = slab0 + (c / 8) % 4, ch = c % 8;
    ptx::st_shared_zero16(sKb + slab * SM90_SLAB_BYTES + row * 128 + ch * 16);
  }
  ptx::fence_proxy_async();
  ptx::named_barrier_sync(barrier, kOne);
}

// 4 × 4 transpose inside a quad (lanes 4g … 4g+3): on entry a[t] is this thread's value for tile t, on exit a[s] is
// thread s's value for tile q4 (two butterfly rounds, each thread swapping its two off-diagonal slots).
__device__ __forceinline__ void quad_transpose(uint32_t (&a)[4], int q4) {
#pragma unroll
  for (int bit = 0; bit < 2; ++bit) {
    const bool hi_half = (q4 >> bit) & 1;
#pragma unroll
    for (int j = 0; j < 2; ++j) {
      const int lo = bit == 0 ? 2 * j : j, hi = bit == 0 ? 2 * j + 1 : j + 2;
      const uint32_t y = __shfl_xor_sync(0xffffffffu, hi_half ? a[lo] : a[hi], 1 << bit);
      if (hi_half) a[lo] = y;
      else a[hi] = y;
    }
  }
}

// Row h of this thread's O (its warpgroup's 256 columns) written as store_row (mla_work.cuh) does; the final bf16/fp16
// rows in 16-byte stores: per group of 4 tiles (32 columns) a quad trades values so that lane q4 holds tile 4k + q4's
// 8 columns, and a warp's store covers 8 rows × 64 B instead of 8 rows × 16 B (4× fewer store instructions, whole
// sectors; S5 −7 %, S6 −5 % on an H200). All lanes take part (shuffles); rows ≥ q_rows store nothing.
// kHalfPartial: a split row goes out by the same stores as a 16-bit row of o_accum (the combine's mla_combine_p16_*
// entries read them) instead of fp32: half the bytes the decode writes and the combine reads, whose merge is bound by
// them (perf log `s46w`, `s46e`: S1 −8.9 %, S8 −4.9 %, the variable-length sweep rows −2.4 … −3.1 % on an H100).
// (One store loop for both kinds of row: a second copy for the partials cost the unsplit shapes ~1 %, s46e.) The row
// is fp16 with each warpgroup's half scaled by a power of two that puts its largest value in [2^14, 2^15)
// (PARTIAL16_ROW_ELEMS: the factors that undo it follow the 512 values): fp16's 11 bits for any magnitude, where bf16
// partials (session 46) left long split requests near FlashMLA's cos-diff bound (`s47a`: median 4.3e-6 against
// 2.4e-6 with fp32 partials, one seed in eight over 5e-6 on the FP8 entry).
template <typename T, bool kScaled = false, bool kHalfPartial = false>
__device__ __forceinline__ void store_row_wide(const MlaDecodeParams& p, int req, const Slice& sl, const RowSet& rs, int h, const float (&o)[128],
                                               float L, float row_max, int col_base, int q4, bool owns_lse, float out_scale = 1.f) {
  using Ops = ElemOps<T>;
  const int r = rs.r_glob[h];
  const bool real = r < p.q_rows;
  const bool empty = !(L > 0.f);
  // kScaled: out_scale is the attention sink's 1 / (1 + exp(sink − lse))
  const float inv = empty ? 0.f : (kScaled ? out_scale / L : 1.f / L);
  const float lse2 = ptx::log2_approx(L) + row_max;
  if (kHalfPartial || sl.no_split) {
    const int64_t acc_row = static_cast<int64_t>(sl.split_row) * p.q_rows + r;
    uint16_t* orow = sl.no_split ? static_cast<uint16_t*>(p.out) + (static_cast<int64_t>(req) * p.q_rows + r) * HEAD_DIM_V + col_base
                                 : reinterpret_cast<uint16_t*>(p.o_accum) + acc_row * PARTIAL16_ROW_ELEMS + col_base;
    // a split row: this half's power-of-two scale (the quad's largest |value|: its 4 threads hold the half's columns)
    const bool partial = kHalfPartial && !sl.no_split;
    float mult = inv;
    if (partial) {
      float big = 0.f;
#pragma unroll
      for (int i = 0; i < 32; ++i) big = fmaxf(big, fmaxf(fabsf(o[4 * i + 2 * h]), fabsf(o[4 * i + 2 * h + 1])));
      big = fmaxf(big, __shfl_xor_sync(0xffffffffu, big, 1));
      big = fmaxf(big, __shfl_xor_sync(0xffffffffu, big, 2));
      // its exponent field, clamped: ≥ 87 (values below 2^−40 keep 2^−54 as their factor, no underflow in the
      // combine's weights), ≤ 254 (inf stays inf); ×2^(141 − e) here, ×2^(e − 141) in the combine, both exact. (Values
      // more than ~2^38 below their half's largest flush to 0 — with an inf in the half, all its finite ones: fp32
      // partials would keep them; only for such data.)
      const uint32_t e0 = (__float_as_uint(big * inv) >> 23) & 0xffu;
      const uint32_t e = e0 < 87u ? 87u : e0 > 254u ? 254u : e0;
      mult = inv * __uint_as_float((268u - e) << 23);
      if (q4 == 0 && real) reinterpret_cast<float*>(orow - col_base + HEAD_DIM_V)[col_base / (HEAD_DIM_V / 2)] = __uint_as_float((e - 14u) << 23);
    }
    // (the bf16 entries: one loop, each pair converted by either instruction — MLA_EXPERIMENT_PACK_LOOPS: a loop per
    // kind of row instead, for an A/B; session 46 measured a second loop copy ~1 % slower on unsplit shapes)
    auto store_loop = [&](bool f16) {
#pragma unroll
      for (int k = 0; k < 8; ++k) {
        uint32_t a[4];
#pragma unroll
        for (int t = 0; t < 4; ++t) {  // empty row (L = 0 or NaN): 0, as store_row writes (0 · NaN would not be)
          const float x = empty ? 0.f : o[4 * (4 * k + t) + 2 * h] * mult, y = empty ? 0.f : o[4 * (4 * k + t) + 2 * h + 1] * mult;
          a[t] = f16 ? ElemOps<__half>::pack2(x, y) : Ops::pack2(x, y);
        }
        quad_transpose(a, q4);
#ifdef MLA_EXPERIMENT_NO_O_STORE  // EXPERIMENT (variant builds only): every value computed, no store (p.h_q > 0)
        if (real && p.h_q < 0) *reinterpret_cast<uint4*>(orow + 8 * (4 * k + q4)) = make_uint4(a[0], a[1], a[2], a[3]);
#else
        if (real) *reinterpret_cast<uint4*>(orow + 8 * (4 * k + q4)) = make_uint4(a[0], a[1], a[2], a[3]);
#endif
      }
    };
#ifdef MLA_EXPERIMENT_PACK_LOOPS  // EXPERIMENT (variant builds only)
    if (partial && !std::is_same<T, __half>::value) store_loop(true);
    else store_loop(false);
#else
    store_loop(partial);
#endif
    if (owns_lse && real) {
      if (!sl.no_split) {
        p.lse_accum[acc_row] = empty ? -INFINITY : lse2;
      } else {
        const int s_idx = rs.s_of_row[h], h_idx = r - s_idx * p.h_q;
        p.lse[(static_cast<int64_t>(req) * p.h_q + h_idx) * p.s_q + s_idx] = empty ? INFINITY : lse2 * kLn2;
      }
    }
  } else {  // fp32 partial rows: store_row's 8-byte stores already cover whole sectors; 16-byte ones measured slower
    store_row<T, 32>(p, req, sl, rs, h, o, L, row_max, col_base + q4 * 2, owns_lse);
  }
}

// Issue half of S = Q·Kᵀ for the K block in buffer sKb, each slab's k-steps as soon as that slab has landed
// (one mbarrier per slab, `bars` = the buffer's first: the first k-steps overlap the rest of the block's transfer).
// Group A: slabs 0–3; group B: slabs 4–8. `first`: this half starts the accumulation.
template <typename T, int kGroup>
__device__ __forceinline__ void issue_s_half(float (&s)[32], uint32_t sQ, uint32_t sKb, uint32_t bars, uint32_t parity, bool first) {
  constexpr int slab0 = kGroup == kGroupA ? 0 : SM90_GROUP_A_SLABS;
  constexpr int slab1 = kGroup == kGroupA ? SM90_GROUP_A_SLABS : SM90_SLABS;
  // One descriptor per operand, advanced by adding the (16-byte unit) offset to its address field: 36 distinct
  // descriptors kept live would cost 144 registers.
  const uint64_t dq = desc_k_major(sQ), dk = desc_k_major(sKb);
#pragma unroll
  for (int i = 0; i < slab1 - slab0; ++i) {
    const int slab = slab0 + i;
    ptx::mbarrier_wait(bars + 8 * slab, parity);
    ptx::wgmma_fence();  // after each wait (a branch): otherwise ptxas inserts it itself (C7519)
#pragma unroll
    for (int kk = 0; kk < 4; ++kk) {
      const uint32_t off = (slab * SM90_SLAB_BYTES + kk * 32) >> 4;
      Mma<T>::s_ss(s, dq + off, dk + off, !(first && i == 0 && kk == 0));
    }
  }
}

// The smem base through an opaque move, once per loop iteration: otherwise the compiler hoists the ~50 loop-
// invariant wgmma descriptors out of the loop and keeps them in registers, which spills.
__device__ __forceinline__ uint32_t opaque(uint32_t x) { return ptx::opaque_u32(x); }

// The epilogue's stores of this thread's two rows (both warpgroups' row sums in sL, the rows' last max in sM): this
// warpgroup's half of O's columns, and with wg 0's q4 = 0 threads the LSE (store_row_wide); sparse decode with an
// attention sink scales the rows written here (split rows: the sink combine does).
template <typename T, bool kSparse, bool kHalfPartial>
__device__ __forceinline__ void store_item_rows(const MlaDecodeParams& p, const MlaFp8Params* fp, int req, const Slice& sl, const RowSet& rs,
                                                const int (&r_loc)[2], const float (&o)[128], uint32_t sL, uint32_t sM, int wg, int q4) {
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const float L = ptx::ld_shared_f32(sL + r_loc[h] * 4) + ptx::ld_shared_f32(sL + (64 + r_loc[h]) * 4);
    const float m = ptx::ld_shared_f32(sM + r_loc[h] * 4);
    float out_scale = 1.f;
    if constexpr (kSparse) {
      if (fp->attn_sink != nullptr && sl.no_split && rs.r_glob[h] < p.q_rows && L > 0.f) {
        const float lse = (ptx::log2_approx(L) + m) * kLn2;
        out_scale = 1.f / (1.f + __expf(fp->attn_sink[rs.r_glob[h] % p.h_q] - lse));
      }
    }
    store_row_wide<T, kSparse, kHalfPartial>(p, req, sl, rs, h, o, L, m, wg * (HEAD_DIM_V / 2), q4, wg == 0 && q4 == 0, out_scale);
  }
}

// Folded query row r (< q_rows) of request `req` in q.
template <typename T>
__device__ __forceinline__ const T* q_row(const MlaDecodeParams& p, int req, int r) {
  return static_cast<const T*>(p.q) + static_cast<int64_t>(req) * p.q_batch_stride + static_cast<int64_t>(r / p.h_q) * p.q_seq_stride +
         static_cast<int64_t>(r % p.h_q) * p.q_head_stride;
}

// Q rows of m_block of request `req` → 9 swizzled slabs (cp.async, committed, not waited); rows ≥ q_rows zero-filled
// Thread t copies row t / 4 (one division per item, not one per chunk: they cost ~0.5 µs per item at 18 chunks
// per thread), chunks t % 4 + 4k, k = 0..17: a warp writes 8 rows × 64 contiguous bytes per step. Chunk c lands in
// slab c / 8 = k / 2 at swizzled column c % 8 = t % 4 + 4·(k % 2).
template <typename T, bool kSparse>
__device__ __forceinline__ void load_q_rows(const MlaDecodeParams& p, int m_block, int req, uint32_t sQ, int tid) {
  const int row = tid >> 2, part = tid & 3;
  const int r = kSparse ? token_padded_row(p, m_block, row) : m_block * GEN_BLOCK_M + row;
  const bool ok = r < p.q_rows;
  const T* src = ok ? q_row<T>(p, req, r) : static_cast<const T*>(p.q);  // (q: a valid dummy address for the zero-fill rows)
  const uint32_t dst_even = sQ + swizzled(row, part), dst_odd = sQ + swizzled(row, part + 4);
#pragma unroll
  for (int k = 0; k < kQChunksPerRow / 4; ++k) {
    const int chunk = part + 4 * k;
    ptx::cp_async_16((k & 1 ? dst_odd : dst_even) + (k >> 1) * SM90_SLAB_BYTES, ok ? src + chunk * 8 : src, ok ? 16 : 0);
  }
  ptx::cp_async_commit();
}
static_assert(SM90_THREADS == 4 * GEN_BLOCK_M && kQChunksPerRow % 8 == 0, "load_q_rows: 4 threads per Q row, whole slabs");

}  // namespace
