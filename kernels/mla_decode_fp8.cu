// build: archs=sm_80,sm_90 ptx=compute_80 hot
// Portable MLA decode over the FP8 KV cache (FlashMLA's DeepSeek-V3.2 layout, 656 B per token; mma.sync, sm_80+):
//   dense  (mla_decode_fp8_dense_*):  block table, cache_seqlens, causal mask, s_q ≥ 1 — FlashMLA's semantics;
//   sparse (mla_decode_fp8_sparse_*): top-k indices per query token, optional topk_length and attention sink.
//
// The generic kernel's data flow and warp layout (mla_decode_generic.cu): a CTA takes up to 64 query rows and one
// SM part of the tile schedule; K tiles of 32 tokens; S = Q·Kᵀ and O += P·V with mma.sync m16n8k16; online softmax
// in the exp2 domain, the two warps of a row group exchanging row maxima and P through smem; split partials merged
// by mla_combine.cu. What differs is how K reaches shared memory: token rows are copied raw (cp.async, two stages
// of 32 × 656 B), then dequantised — e4m3 · scale, rounded to q's dtype, exact (fp8_e4m3.cuh; for fp16 only
// values past 65504 are not: they become ±inf) — into one K tile of the generic layout. Tokens that are not
// attended are never read from global memory (their slots may hold NaN): zero-filled and masked out.
//
// Dense: CTA rows are the folded rows [64·blockIdx.x, +64) (row r = s · h_q + h); token t is row t % 64 of page
// block_table[req][t / 64]; tokens past each row's causal border are masked (mla_work.cuh slice_of).
// Sparse: each query token has its own index list, so a CTA takes heads [64·hb, 64·hb + 64) of one query token s
// (blockIdx.x = s · head_blocks + hb) and its "tokens" are positions k of that list: position k names slot
// indices[req][s][k] = page · page_size + row. Positions ≥ topk_length[req] and slots outside [0, num_slots)
// attend nothing. The tile schedule is getMlaMetadata(…, { topk })'s: every request is topk positions long, split
// over SM parts like a dense request of topk tokens. Not causal. A sink scales out by 1 / (1 + exp(sink − lse)):
// here for rows of unsplit requests, in the combine (mla_combine_sink_*) for split ones; lse is left as it is.
//
// Launch: see mla_config.h (FP8-cache decode kernel); block 256, dynamic smem F8D_SMEM_BYTES = 160512.
#include <cstdint>

#include "fp8_e4m3.cuh"
#include "mla_config.h"
#include "mla_fp8_params.h"
#include "mla_generic_common.cuh"
#include "mla_generic_rowgroup.cuh"
#include "mla_params.h"
#include "mla_work.cuh"
#include "ptx.cuh"

using namespace mla;
using namespace mla::generic;

namespace {

constexpr int kQChunksPerRow = HEAD_DIM_K * 2 / 16;                          // 72 × 16 B per 576-wide row
constexpr int kQChunkIters = GEN_BLOCK_M * kQChunksPerRow / GEN_THREADS;     // 18
constexpr int kRawChunks = FP8_BYTES_PER_TOKEN / 16;                         // 41 × 16 B per raw token row
constexpr int kLoadersPerToken = GEN_THREADS / GEN_BLOCK_N;                  // 8 threads copy one token row
constexpr int kLatentChunks = HEAD_DIM_V / 8;                                // 64 × 8 channels of latent per K row
constexpr int kDequantIters = GEN_BLOCK_N * kQChunksPerRow / GEN_THREADS;    // 9 output chunks per thread
constexpr int kKSteps = HEAD_DIM_K / 16;                                     // 36 k-steps for S
static_assert(GEN_BLOCK_M * kQChunksPerRow % GEN_THREADS == 0 && GEN_BLOCK_N * kQChunksPerRow % GEN_THREADS == 0, "");
static_assert(GEN_THREADS % GEN_BLOCK_N == 0 && GEN_BLOCK_M == 64 && GEN_BLOCK_N == 32 && GEN_WARPS == 8, "layout below");

// Query rows [row0, row0 + n_rows) of request `req` → sQ (row r = s · h_q + h); rows ≥ n_rows are zero-filled.
template <typename T>
__device__ __forceinline__ void load_q_rows(const MlaDecodeParams& p, uint32_t sq, int req, int row0, int n_rows, int tid) {
  const T* qb = static_cast<const T*>(p.q) + static_cast<int64_t>(req) * p.q_batch_stride;
#pragma unroll 1  // once per work item: keep its divisions by h_q out of the register peak
  for (int k = 0; k < kQChunkIters; ++k) {
    const int idx = tid + k * GEN_THREADS;
    const int row = idx / kQChunksPerRow, chunk = idx % kQChunksPerRow;
    const bool ok = row < n_rows;
    const T* src = static_cast<const T*>(p.q);  // valid dummy address for the zero-fill case
    if (ok) {
      const int r = row0 + row;
      src = qb + static_cast<int64_t>(r / p.h_q) * p.q_seq_stride + static_cast<int64_t>(r % p.h_q) * p.q_head_stride + chunk * 8;
    }
    ptx::cp_async_16(sq + (row * GEN_QK_PITCH + chunk * 8) * 2, src, ok ? 16 : 0);
  }
}

// Address of the raw row of tile token `t` (this thread's token of the tile), or null when it is not attended:
// dense, t ≥ end_kv; sparse, t ≥ end_kv (past the slice or topk_length) or an index outside [0, num_slots).
template <bool kSparse>
__device__ __forceinline__ const uint8_t* token_row(const MlaDecodeParams& p, const MlaFp8Params& f, int req, int s, int t, int end_kv) {
  if (t >= end_kv) return nullptr;
  const uint8_t* k = static_cast<const uint8_t*>(p.k_cache);
  if constexpr (kSparse) {
    const int64_t idx = ptx::ld_plain(f.indices + static_cast<int64_t>(req) * f.indices_batch_stride + static_cast<int64_t>(s) * f.indices_seq_stride + t);
    if (idx < 0 || idx >= f.num_slots) return nullptr;
    return k + (idx / f.page_size) * p.k_block_stride + (idx % f.page_size) * p.k_row_stride;
  } else {
    const int page = ptx::ld_plain(p.block_table + static_cast<int64_t>(req) * p.block_table_stride + t / PAGE_BLOCK_SIZE);
    return k + static_cast<int64_t>(page) * p.k_block_stride + static_cast<int64_t>(t % PAGE_BLOCK_SIZE) * p.k_row_stride;
  }
}

// This thread's share of one raw tile: every 8th 16-byte chunk of its token's 656-byte row (8 consecutive threads
// read 128 consecutive bytes), zero-filled without a global read when `row` is null; the token's first thread
// records whether it is attended.
__device__ __forceinline__ void load_raw_row(const MlaDecodeParams& p, uint32_t s_raw, uint32_t s_valid, const uint8_t* row, int tid) {
  const int tok = tid / kLoadersPerToken, sub = tid % kLoadersPerToken;
  const bool ok = row != nullptr;
  for (int c = sub; c < kRawChunks; c += kLoadersPerToken) {
    ptx::cp_async_16(s_raw + tok * FP8_BYTES_PER_TOKEN + c * 16, ok ? row + c * 16 : p.k_cache, ok ? 16 : 0);
  }
  if (sub == 0) ptx::st_shared_u32(s_valid + tok * 4, ok ? 1u : 0u);
}

// Raw tile → K tile (GEN_QK_PITCH rows of q's dtype): 8 latent codes · their tile's scale per 16-byte output chunk,
// RoPE chunks copied. Zero-filled raw rows give zero K rows.
template <typename T>
__device__ __forceinline__ void dequantize_tile(uint32_t s_raw, uint32_t s_k, int tid) {
  using Ops = ElemOps<T>;
#pragma unroll 1  // runs while 128 O accumulators are live: one chunk's registers at a time
  for (int k = 0; k < kDequantIters; ++k) {
    const int u = tid + k * GEN_THREADS;
    const int tok = u / kQChunksPerRow, chunk = u % kQChunksPerRow;
    const uint32_t raw = s_raw + tok * FP8_BYTES_PER_TOKEN;
    uint4 v;
    if (chunk < kLatentChunks) {
      const uint2 codes = ptx::ld_shared_v2(raw + chunk * 8);
      const float scale = ptx::ld_shared_f32(raw + FP8_SCALES_OFFSET + (chunk * 8 / FP8_TILE) * 4);
      uint32_t w[4];
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const uint32_t word = e < 2 ? codes.x : codes.y;
        const int sh = 16 * (e % 2);
        w[e] = Ops::pack2(__fmul_rn(fp8::e4m3_value((word >> sh) & 0xffu), scale), __fmul_rn(fp8::e4m3_value((word >> (sh + 8)) & 0xffu), scale));
      }
      v = make_uint4(w[0], w[1], w[2], w[3]);
    } else {
      v = ptx::ld_shared_v4(raw + FP8_ROPE_OFFSET + (chunk - kLatentChunks) * 16);
    }
    ptx::st_shared_v4(s_k + (tok * GEN_QK_PITCH + chunk * 8) * 2, v);
  }
}

// Sparse: this CTA's rows (heads of query token s) and request `req`'s slice of positions.
__device__ __forceinline__ void sparse_rows(const MlaDecodeParams& p, int s, int hb, const int (&r_loc)[2], RowSet& rs, int& row0, int& n_rows) {
  row0 = s * p.h_q + hb * GEN_BLOCK_M;
  n_rows = min(GEN_BLOCK_M, p.h_q - hb * GEN_BLOCK_M);
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    rs.r_glob[h] = r_loc[h] < n_rows ? row0 + r_loc[h] : p.q_rows;  // q_rows: a padding row, never stored
    rs.s_of_row[h] = s;
  }
  rs.s_last = s;
}
__device__ __forceinline__ Slice sparse_slice(const MlaDecodeParams& p, const MlaFp8Params& f, const PartWork& w, int req, const RowSet& rs) {
  Slice sl;
  sl.start = req == w.begin_pos ? w.begin_token : 0;  // (sparse decode: always the batch order, position = request)
  sl.end_token = req == w.end_pos ? w.end_token : f.topk;
  sl.no_split = sl.start == 0 && sl.end_token == f.topk;
  sl.split_row = sl.no_split ? 0 : ptx::ld_plain(p.num_splits + req) + (req == w.begin_pos ? split_of(w) : 0);
  sl.end_kv = f.topk_length != nullptr ? min(sl.end_token, ptx::ld_plain(f.topk_length + req)) : sl.end_token;
#pragma unroll
  for (int h = 0; h < 2; ++h) sl.row_end[h] = rs.r_glob[h] < p.q_rows ? sl.end_kv : 0;
  return sl;
}

template <typename T, bool kSparse>
__device__ __forceinline__ void decode_kernel(const MlaDecodeParams& p, const MlaFp8Params& f) {
  extern __shared__ __align__(128) uint8_t smem[];
  const uint32_t sQ = ptx::smem_addr(smem);
  const uint32_t sK = sQ + GEN_SQ_BYTES;                 // one dequantised K tile
  const uint32_t sRaw = sK + GEN_SK_BYTES;               // 2 stages of raw token rows
  const uint32_t sP = sRaw + 2 * F8D_SRAW_BYTES;
  const uint32_t sRed = sP + GEN_SP_BYTES;
  const uint32_t sL = sRed + GEN_SRED_BYTES;
  const uint32_t sValid = sL + GEN_SL_BYTES;             // u32 [2 stages][32 tokens]: attended or not

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int rg = warp >> 1, half = warp & 1;
  const int load_tok = tid / kLoadersPerToken;

  // Everything below may depend on the previous kernel (metadata, q, kv cache): wait first (sm_90 PDL).
  ptx::grid_dep_wait();
  const PartWork w = load_part_work(p, blockIdx.y);
  if (w.begin_pos >= p.b) return;  // idle part

  const RowGroup grp(sRed, sL, warp, lane);  // this thread's two rows: fragment rows g and g+8 of its row group
  RowSet rs;
  int row0, n_rows, s_tok = 0;
  if constexpr (kSparse) {
    s_tok = blockIdx.x / f.head_blocks;
    sparse_rows(p, s_tok, blockIdx.x - s_tok * f.head_blocks, grp.r_loc, rs, row0, n_rows);
  } else {
    rs = row_set(p, blockIdx.x, grp.r_loc);
    row0 = blockIdx.x * GEN_BLOCK_M;
    n_rows = min(GEN_BLOCK_M, p.q_rows - row0);
  }

  // Per-lane ldmatrix addresses (bytes), as in the generic kernel. A operands (Q, P): lane l → row l%16, column
  // (l/16)·8. B from K (non-trans): token (l%8) + (l/16)·8, channel ((l/8)%2)·8. B from V (trans): token l%16,
  // channel (l/16)·8.
  const uint32_t q_a = sQ + ((rg * 16 + (lane & 15)) * GEN_QK_PITCH + (lane >> 4) * 8) * 2;
  const uint32_t k_b = sK + ((half * 16 + (lane & 7) + (lane >> 4) * 8) * GEN_QK_PITCH + ((lane >> 3) & 1) * 8) * 2;
  const uint32_t p_a = sP + ((rg * 16 + (lane & 15)) * GEN_P_PITCH + (lane >> 4) * 8) * 2;
  const uint32_t v_b = sK + ((lane & 15) * GEN_QK_PITCH + half * (HEAD_DIM_V / 2) + (lane >> 4) * 8) * 2;
  const float scale_log2 = p.scale_softmax_log2;

  for (int pos = w.begin_pos; pos <= w.end_pos; ++pos) {
    const int req = request_at<kSparse>(p, w, pos);
    Slice sl;
    if constexpr (kSparse) sl = sparse_slice(p, f, w, req, rs);
    else sl = slice_of(p, w, pos, req, rs);
    const int start = sl.start, end_kv = sl.end_kv;
    const int n_tiles = end_kv > start ? (end_kv - start + GEN_BLOCK_N - 1) / GEN_BLOCK_N : 0;

    __syncthreads();  // every warp is done with the previous item's sQ / sK / sRaw / sP / sL / sValid
    if (n_tiles > 0) {
      load_q_rows<T>(p, sQ, req, row0, n_rows, tid);
      load_raw_row(p, sRaw, sValid, token_row<kSparse>(p, f, req, s_tok, start + load_tok, end_kv), tid);
      ptx::cp_async_commit();
    }

    float o[kOTiles][4];
    zero_o(o);
    float row_max[2] = {kMaxInit, kMaxInit};  // log2-scaled units
    float row_sum[2] = {0.f, 0.f};            // this thread's partial sum over its columns

    for (int it = 0; it < n_tiles; ++it) {
      const int t0 = start + it * GEN_BLOCK_N;
      const bool has_next = it + 1 < n_tiles;
      const int stage = it & 1;
      // the next tile's row address (an index or block-table load) overlaps the wait
      const uint8_t* next_row = has_next ? token_row<kSparse>(p, f, req, s_tok, t0 + GEN_BLOCK_N + load_tok, end_kv) : nullptr;
      ptx::cp_async_wait_all();
      __syncthreads();  // raw tile `it` (and Q) landed; every warp finished P·V on sK and dequantising the other stage
      if (has_next) {
        load_raw_row(p, sRaw + (stage ^ 1) * F8D_SRAW_BYTES, sValid + (stage ^ 1) * GEN_BLOCK_N * 4, next_row, tid);
        ptx::cp_async_commit();
      }
      dequantize_tile<T>(sRaw + stage * F8D_SRAW_BYTES, sK, tid);
      __syncthreads();  // sK holds tile `it`

      float s[2][4];  // S = Q·Kᵀ: 16 rows × 16 tokens per warp
      scores_2tiles<T, kKSteps>(s, q_a, k_b);
      // sparse: a token is attended when its index was valid (sValid); dense: the causal border row_end covers it
      bool valid[2][2] = {{true, true}, {true, true}};
      if constexpr (kSparse) {
#pragma unroll
        for (int j = 0; j < 2; ++j)
#pragma unroll
          for (int e = 0; e < 2; ++e) valid[j][e] = ptx::ld_shared_u32(sValid + (stage * GEN_BLOCK_N + half * 16 + j * 8 + grp.tq * 2 + e) * 4) != 0;
      }
      float mx[2];
      grp.mask_scale(s, mx, t0, sl.row_end, scale_log2, [&](int j, int e) { return valid[j][e]; });
      grp.softmax<T, 2, GEN_P_PITCH>(s, mx, sP, row_max, row_sum, o);
      add_pv<T, GEN_BLOCK_N / 16, GEN_QK_PITCH>(o, p_a, v_b);  // P 16 × 32, V 32 tokens × this half's 256 columns
    }

    // ---- epilogue ------------------------------------------------------------------------------------------
    if (pos == w.end_pos) ptx::grid_dep_launch_dependents();  // no more work to start: let combine launch
    grp.publish_row_sums(row_sum);
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const float L = grp.row_sum_total(h);
      if constexpr (kSparse) {
        // the sink of an unsplit row (split rows get theirs in the combine): O · 1 / (1 + 2^(sink·log2 e − lse₂))
        if (sl.no_split && f.attn_sink != nullptr && rs.r_glob[h] < p.q_rows && L > 0.f) {
          const float sink = f.attn_sink[rs.r_glob[h] - s_tok * p.h_q];
          const float factor = 1.f / (1.f + ptx::exp2_approx(sink * kLog2e - (ptx::log2_approx(L) + row_max[h])));
#pragma unroll
          for (int j = 0; j < kOTiles; ++j) {
            o[j][2 * h] *= factor;
            o[j][2 * h + 1] *= factor;
          }
        }
      }
      store_row<T, kOTiles>(p, req, sl, rs, h, reinterpret_cast<const float(&)[4 * kOTiles]>(o), L, row_max[h],
                            half * (HEAD_DIM_V / 2) + grp.tq * 2, half == 0 && grp.tq == 0);
    }
  }
}

}  // namespace

#define F8D_ENTRY(NAME, T, SPARSE)                                                                                      \
  extern "C" __global__ void __launch_bounds__(GEN_THREADS, 1) NAME(const __grid_constant__ MlaDecodeParams p,           \
                                                                    const __grid_constant__ MlaFp8Params f) {         \
    decode_kernel<T, SPARSE>(p, f);                                                                                    \
  }
F8D_ENTRY(mla_decode_fp8_dense_bf16, __nv_bfloat16, false)
F8D_ENTRY(mla_decode_fp8_dense_fp16, __half, false)
F8D_ENTRY(mla_decode_fp8_sparse_bf16, __nv_bfloat16, true)
F8D_ENTRY(mla_decode_fp8_sparse_fp16, __half, true)
