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
  float* o_accum;                       // [b + num_sm_parts, s_q * h_q, 512] fp32: O_split / L_split
  float* lse_accum;                     // [b + num_sm_parts, s_q * h_q] fp32: log2(L_split) + max (log2 units)
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
static_assert(sizeof(MlaDecodeParams) == 160, "MlaDecodeParams layout is shared with src/cuda/params.ts");

// Tile schedule rows (8 int32), as written by the metadata kernel.
enum MlaMetadataField : int {
  kBeginReq = 0,
  kBeginToken = 1,
  kEndReq = 2,        // inclusive
  kEndToken = 3,      // exclusive
  kBeginSplit = 4,
  kMetadataRowInts = 8,
};
