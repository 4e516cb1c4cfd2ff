// Parameters of the MLA decode kernels, shared bit for bit with TypeScript (src/cuda/params.ts; a test
// checks the layout against the size the cubin declares). Plain old data: 8-byte fields first, then
// 4-byte fields; no implicit padding.
#pragma once
#include <cstdint>

struct MlaDecodeParams {
  // 8-byte fields ------------------------------------------------------------------------------
  const void* q;                        // [b, s_q, h_q, 576] bf16/fp16, last dim contiguous
  const void* k_cache;                  // [num_blocks, 64, 1, 576], same dtype; V = first 512 columns
  const int* block_table;               // [b, max_blocks_per_seq] int32
  const int* cache_seqlens;             // [b] int32
  const int* tile_scheduler_metadata;   // [num_sm_parts, 8] int32 (src/mla/schedule.ts)
  const int* num_splits;                // [b + 1] int32
  void* out;                            // [b, s_q, h_q, 512] q's dtype, contiguous
  float* lse;                           // [b, h_q, s_q] fp32, contiguous, natural log
  float* o_accum;                       // [b + num_sm_parts, s_q * h_q, 512] fp32: O_split / L_split ('hopper''s dense
                                        // entries: rows of PARTIAL16_ROW_ELEMS scaled fp16, mla_config.h)
  float* lse_accum;                     // [b + num_sm_parts, s_q * h_q] fp32: log2(L_split) + max (log2 units)
  uint32_t* split_arrivals;             // [b] uint32, 0 between decodes: the split fold's counters (mla_fold_combine.cuh);
                                        // null: the combine kernel merges the splits
  int64_t q_batch_stride;               // elements
  int64_t q_seq_stride;                 // elements, between query tokens
  int64_t q_head_stride;                // elements
  int64_t k_block_stride;               // elements, between page blocks
  int64_t k_row_stride;                 // elements, between tokens of a page block
  // 4-byte fields ------------------------------------------------------------------------------
  int b;
  int s_q;
  int h_q;
  int q_rows;                           // s_q * h_q: folded query rows per request (row r = s * h_q + h)
  int num_sm_parts;
  int block_table_stride;               // elements between rows of block_table
  int max_blocks_per_seq;
  int causal;                           // 1: bottom-right causal mask over the s_q query tokens
  float scale_softmax;                  // softmax scale
  float scale_softmax_log2;             // scale * log2(e)
};
static_assert(sizeof(MlaDecodeParams) == 168, "MlaDecodeParams layout is shared with src/cuda/params.ts");

// Tile schedule rows (8 int32), as written by the metadata kernel.
// kBeginReq / kEndReq are positions in the schedule's request order (mla_work.cuh request_at); ints 5–7 of every
// row hold that order when the scheduler packed it (row 0's int 5 is 0 for the batch order).
enum MlaMetadataField : int {
  kBeginReq = 0,
  kBeginToken = 1,
  kEndReq = 2,        // inclusive
  kEndToken = 3,      // exclusive
  kBeginSplit = 4,
  kPackedOrder = 5,   // ints 5–7: the packed order's table (position i → row i / 3, int 5 + i % 3; request + 1)
  kMetadataRowInts = 8,
};

// What the decode of the later dense layouts (mla_decode_generic_layout.cu: h_kv ≥ 1 KV heads, d_qk 576 or 512)
// adds to MlaDecodeParams, passed as the kernel's second parameter. MlaDecodeParams keeps the request's whole
// shape (h_q, q_rows = s_q · h_q, out / lse / the split workspace over all heads), so the combine runs unchanged;
// k_cache is [num_blocks, 64, h_kv, d_qk] and k_row_stride the stride between tokens (all KV heads of a token).
// Query head h reads KV head h / heads_per_kv, as in GQA; a CTA (blockIdx.z = KV head kv) takes rows f of that
// head's folded rows, f = s · heads_per_kv + g for query head kv · heads_per_kv + g. Shared with src/cuda/params.ts.
struct MlaLayoutParams {
  int64_t k_head_stride;  // elements between the KV heads of a token (kCache stride 2)
  int h_kv;               // KV heads (grid z)
  int heads_per_kv;       // h_q / h_kv
  int rows_per_kv;        // s_q · heads_per_kv: folded rows of one KV head
  int pad_;
};
static_assert(sizeof(MlaLayoutParams) == 24, "MlaLayoutParams layout is shared with src/cuda/params.ts");
