// Parameters of the FP8-cache kernels (append_kv_fp8.cu; mla_decode_fp8.cu and the sink combine of mla_combine.cu),
// shared bit for bit with TypeScript (src/cuda/params.ts; test/params-layout.test.ts compares the offsets with the
// host compiler's offsetof and the sizes with what the cubins declare). Plain old data: 8-byte fields first, then
// 4-byte fields, sizes multiples of 8; no implicit padding.
#pragma once
#include <cstdint>

// The paged write of T token rows (latent ‖ RoPE, bf16 or fp16) into an FP8 cache, DeepSeek-V3.2 layout.
struct AppendKvFp8Params {
  const uint16_t* ckv;          // [T, 512] 16-bit rows, ckv_stride elements apart (16-byte aligned rows)
  const uint16_t* kpe;          // [T, 64] 16-bit rows, kpe_stride elements apart
  uint8_t* k_cache;             // [num_pages, page_size, 1, 656] bytes
  const int* slot_mapping;      // [T] slot per token (page · page_size + row), or null: slots from block_table
  const int* block_table;       // [b, max_blocks_per_seq] int32, pages of 64 tokens (slot_mapping null only)
  const int* seqlens;           // [b] int32, lengths that already count the new tokens (slot_mapping null only)
  int64_t ckv_stride;           // elements between rows of ckv
  int64_t kpe_stride;           // elements between rows of kpe
  int64_t page_stride;          // bytes between pages of k_cache
  int64_t row_stride;           // bytes between tokens of a page
  int64_t num_slots;            // num_pages · page_size: slots outside [0, num_slots) are skipped
  int page_size;                // tokens per page (64 when slots come from block_table)
  int table_stride;             // elements between rows of block_table
  int max_blocks_per_seq;
  int tokens_per_seq;           // block_table mode: token t = i · tokens_per_seq + j is request i's j-th new token
  int num_tokens;               // T
  int pad_;
};
static_assert(sizeof(AppendKvFp8Params) == 112, "AppendKvFp8Params layout is shared with src/cuda/params.ts");

// What the FP8 decode adds to MlaDecodeParams (mla_params.h), passed as the kernel's second parameter. In
// MlaDecodeParams, k_cache is the FP8 cache (bytes) and k_block_stride / k_row_stride are in bytes; block_table
// and cache_seqlens are null for sparse decode.
struct MlaFp8Params {
  const int* indices;           // sparse: [b, s_q, topk] int32, last dim contiguous; null: dense decode
  const int* topk_length;       // sparse: [b] int32, only the first topk_length[i] indices count; or null
  const float* attn_sink;       // sparse: [h_q] fp32, out ← out / (1 + exp(sink − lse)); or null
  int64_t indices_batch_stride; // elements
  int64_t indices_seq_stride;   // elements
  int64_t num_slots;            // num_pages · page_size: indices outside [0, num_slots) attend nothing
  int topk;                     // sparse: indices per query token (what the tile schedule counts per request)
  int page_size;                // tokens per page (dense: 64; sparse: any ≥ 1)
  int head_blocks;              // sparse: CTAs per query token, ceil(h_q / 64) (blockIdx.x = s · head_blocks + block)
  int pad_;
};
static_assert(sizeof(MlaFp8Params) == 64, "MlaFp8Params layout is shared with src/cuda/params.ts");
