// What one decode CTA computes, shared by every split-KV decode kernel: its SM part's metadata row, each
// request slice's token range and masks, and the epilogue that writes a finished row (direct output when the
// request is not split, fp32 partial + log2 LSE for the combine otherwise).
//
// Row layout of the callers: a thread owns two folded rows (fragment rows g and g+8 of a 16-row group),
// indexed h = 0, 1, and holds its O columns as n8 tiles: o[4·i + 2·h + e] = (row h, column col0 + 8·i + e).
#pragma once
#include <cstdint>

#include "mla_config.h"
#include "mla_generic_common.cuh"
#include "mla_params.h"
#include "ptx.cuh"

namespace mla {

// The metadata row of SM part `part` (src/mla/schedule.ts). Plain loads after the caller's grid_dep_wait:
// the metadata kernel may have just written it. A part's items are positions in the schedule's request order
// (request_at); begin_pos / end_pos are the first and last (inclusive), b for an idle part's begin. begin_split is the
// row's int 4 as stored: the split index in its low 16 bits (split_of), and in a packed schedule's busy rows the request
// at begin_pos plus one in its high bits (0 in a batch-order schedule, FlashMLA's rows included).
struct PartWork {
  int begin_pos, begin_token, end_pos, end_token, begin_split;
};
__device__ __forceinline__ PartWork load_part_work(const MlaDecodeParams& p, int part) {
  const int* md = p.tile_scheduler_metadata + part * METADATA_ROW_INTS;
  return {ptx::ld_plain(md + kBeginReq), ptx::ld_plain(md + kBeginToken), ptx::ld_plain(md + kEndReq),
          ptx::ld_plain(md + kEndToken), ptx::ld_plain(md + kBeginSplit)};
}
// The split index of the part's first item (num_splits ≤ parts ≤ gridDim.y < 2^16).
__device__ __forceinline__ int split_of(const PartWork& w) { return w.begin_split & 0xffff; }

// The request at position `pos` of the schedule's order (src/mla/schedule.ts requestAt). Batch order (int 4's high bits
// 0): the position itself, no load. Packed (the scheduler's fifth rule): the part's first item's request from int 4,
// the others from the table in the rows' spare ints (position i → row ⌊i / 3⌋, int 5 + i mod 3: the request plus one),
// one L1-resident load whose address needs only the position. Sparse decode is never packed (kIdentity).
template <bool kIdentity = false>
__device__ __forceinline__ int request_at(const MlaDecodeParams& p, const PartWork& w, int pos) {
  const int tag = w.begin_split >> 16;
  if (kIdentity || tag == 0) return pos;
  if (pos == w.begin_pos) return tag - 1;
  return ptx::ld_plain(p.tile_scheduler_metadata + (pos / 3) * METADATA_ROW_INTS + kPackedOrder + pos % 3) - 1;
}

// This thread's two rows of m-block `m_block` and the last real row's query token (rows are s-major, so the
// last row has the widest causal border).
struct RowSet {
  int r_glob[2];
  int s_of_row[2];
  int s_last;
};
__device__ __forceinline__ RowSet row_set(const MlaDecodeParams& p, int m_block, const int (&r_loc)[2]) {
  RowSet rs;
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    rs.r_glob[h] = m_block * GEN_BLOCK_M + r_loc[h];
    rs.s_of_row[h] = rs.r_glob[h] / p.h_q;
  }
  rs.s_last = (min(p.q_rows, (m_block + 1) * GEN_BLOCK_M) - 1) / p.h_q;
  return rs;
}

// Sparse decode (every query token has its own index list, so an m-block must not span two tokens): each query
// token's heads padded to whole m-blocks of 64, ceil(h_q / 64) m-blocks per token. m-block → (token s, heads
// 64·(m_block mod that) + 0…63); the folded row s·h_q + head of a real head, q_rows for a padding head (so that every
// `r_glob < q_rows` test above and in the epilogues treats it as padding). For h_q a multiple of 64 this is row_set.
__device__ __forceinline__ int m_blocks_per_token(const MlaDecodeParams& p) { return (p.h_q + GEN_BLOCK_M - 1) / GEN_BLOCK_M; }
__device__ __forceinline__ int token_padded_row(const MlaDecodeParams& p, int m_block, int r_loc) {
  const int s = m_block / m_blocks_per_token(p), head = (m_block - s * m_blocks_per_token(p)) * GEN_BLOCK_M + r_loc;
  return head < p.h_q ? s * p.h_q + head : p.q_rows;
}
__device__ __forceinline__ RowSet row_set_token_padded(const MlaDecodeParams& p, int m_block, const int (&r_loc)[2]) {
  RowSet rs;
  rs.s_last = m_block / m_blocks_per_token(p);
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    rs.r_glob[h] = token_padded_row(p, m_block, r_loc[h]);
    rs.s_of_row[h] = rs.s_last;
  }
  return rs;
}

// Request `req`'s tokens [start, end_token) as this part sees them.
struct Slice {
  int start, end_token;
  bool no_split;   // the whole request: write out/lse directly, the combine skips it
  int split_row;   // split: accumulator row num_splits[req] + split index
  int end_kv;      // tokens ≥ end_kv are never loaded (causal border of the m-block's last row)
  int row_end[2];  // per row: tokens ≥ row_end are masked (causal border, slice end; 0 for padding rows)
};
// The end of the tokens a slice ending at end_token loads: the causal border of the m-block's last row (query token
// s_last) sees keys t < seqlen - (s_q - 1 - s_last), clipped to the slice's end.
__device__ __forceinline__ int slice_end_kv(const MlaDecodeParams& p, int end_token, int seqlen, int s_last) {
  return min(end_token, p.causal ? seqlen - (p.s_q - 1 - s_last) : seqlen);
}

// The tokens [start, end_token) this part sees of request `req`, at position `pos` of the order (request_at), for a
// request of `seqlen` tokens (sparse decode: topk positions). kBatchOrder: the caller runs batch-order schedules only
// (int 4 is the split index itself).
template <bool kBatchOrder = false>
__device__ __forceinline__ Slice slice_of_len(const MlaDecodeParams& p, const PartWork& w, int pos, int req, const RowSet& rs, int seqlen) {
  Slice sl;
  sl.start = pos == w.begin_pos ? w.begin_token : 0;
  sl.end_token = pos == w.end_pos ? w.end_token : seqlen;
  sl.no_split = sl.start == 0 && sl.end_token == seqlen;
  sl.split_row = sl.no_split ? 0 : ptx::ld_plain(p.num_splits + req) + (pos == w.begin_pos ? (kBatchOrder ? w.begin_split : split_of(w)) : 0);
  // Causal: a row with query token s sees keys t < seqlen - (s_q - 1 - s). Clip to this slice's end.
  sl.end_kv = slice_end_kv(p, sl.end_token, seqlen, rs.s_last);
#pragma unroll
  for (int h = 0; h < 2; ++h)
    sl.row_end[h] = rs.r_glob[h] < p.q_rows ? min(sl.end_token, p.causal ? seqlen - (p.s_q - 1 - rs.s_of_row[h]) : seqlen) : 0;
  return sl;
}
template <bool kBatchOrder = false>
__device__ __forceinline__ Slice slice_of(const MlaDecodeParams& p, const PartWork& w, int pos, int req, const RowSet& rs) {
  return slice_of_len<kBatchOrder>(p, w, pos, req, rs, ptx::ld_plain(p.cache_seqlens + req));
}

// Write row h of this thread: O / L in q's dtype and the natural LSE (no split), or O / L in fp32 and the log2
// LSE (split). L = 0 (no key seen) or NaN: out 0, lse +inf / lse_accum -inf. `owns_lse`: one thread per row.
template <typename T, int kTiles>
__device__ __forceinline__ void store_row(const MlaDecodeParams& p, int req, const Slice& sl, const RowSet& rs, int h, const float (&o)[4 * kTiles],
                                          float L, float row_max, int col0, bool owns_lse) {
  using Ops = ElemOps<T>;
  const int r = rs.r_glob[h];
  if (r >= p.q_rows) return;  // padding rows of the last m-block: never written
  const bool empty = !(L > 0.f);
  const float inv = empty ? 0.f : 1.f / L;
  const float lse2 = ptx::log2_approx(L) + row_max;  // log2 units; only used when !empty
  if (sl.no_split) {
    T* orow = static_cast<T*>(p.out) + (static_cast<int64_t>(req) * p.q_rows + r) * HEAD_DIM_V + col0;
#pragma unroll
    for (int i = 0; i < kTiles; ++i) {
      const float v0 = empty ? 0.f : o[4 * i + 2 * h] * inv, v1 = empty ? 0.f : o[4 * i + 2 * h + 1] * inv;
      *reinterpret_cast<uint32_t*>(orow + i * 8) = Ops::pack2(v0, v1);
    }
    if (owns_lse) {
      const int s_idx = rs.s_of_row[h], h_idx = r - s_idx * p.h_q;
      p.lse[(static_cast<int64_t>(req) * p.h_q + h_idx) * p.s_q + s_idx] = empty ? INFINITY : lse2 * kLn2;
    }
  } else {
    const int64_t acc_row = static_cast<int64_t>(sl.split_row) * p.q_rows + r;
    float* orow = p.o_accum + acc_row * HEAD_DIM_V + col0;
#pragma unroll
    for (int i = 0; i < kTiles; ++i) {
      const float v0 = empty ? 0.f : o[4 * i + 2 * h] * inv, v1 = empty ? 0.f : o[4 * i + 2 * h + 1] * inv;
#ifdef MLA_EXPERIMENT_NO_O_STORE  // EXPERIMENT (variant builds only): every value computed, no store (p.h_q > 0)
      if (p.h_q < 0) *reinterpret_cast<float2*>(orow + i * 8) = make_float2(v0, v1);
#else
      *reinterpret_cast<float2*>(orow + i * 8) = make_float2(v0, v1);
#endif
    }
    if (owns_lse) p.lse_accum[acc_row] = empty ? -INFINITY : lse2;
  }
}

}  // namespace mla
