// build: archs=sm_80,sm_90 ptx=compute_80 hot
// Append kernel of the paged KV cache (src/kvcache/append.ts): scatter T tokens' latent vectors
// cKv [T, 512] ‖ kPe [T, 64] into k_cache [num_blocks, 64, 1, 576] (bf16 or fp16: a bit copy).
//
// Work unit: one 16-byte chunk; a cached row is 1152 B = 72 chunks (64 from cKv, 8 from kPe). A CTA takes
// tiles of 1024 consecutive chunks (grid-stride); thread i handles chunks i, i + 256, i + 512, i + 768 of a tile:
// consecutive lanes read and write consecutive 16-byte chunks of a row, so loads and stores are fully
// coalesced (a row is 128-byte aligned: 1152 = 9 · 128). All four loads are issued before any store.
//
// Slot of token t: slot_mapping[t] when given (computed on the host), else from the block table:
// request i = t / tokens_per_seq, position p = seqlens[i] − tokens_per_seq + t % tokens_per_seq,
// slot = block_table[i][p / 64] · 64 + p % 64. Slots < 0 or ≥ num_blocks · 64 are skipped (padding tokens;
// never a write out of bounds).
#include <cstdint>

namespace {

constexpr int kChunksCkv = 512 * 2 / 16;  // 64
constexpr int kChunksRow = 576 * 2 / 16;  // 72
constexpr int kThreads = 256;
constexpr int kUnroll = 4;
constexpr int kPage = 64;

__device__ __forceinline__ int slot_of(int t, const int* __restrict__ slot_mapping, const int* __restrict__ block_table, int table_stride,
                                       int max_blocks_per_seq, const int* __restrict__ seqlens, int tokens_per_seq, int num_blocks) {
  int slot;
  if (slot_mapping != nullptr) {
    slot = __ldg(slot_mapping + t);
  } else {
    const int i = t / tokens_per_seq;
    const int p = __ldg(seqlens + i) - tokens_per_seq + (t - i * tokens_per_seq);
    if (p < 0 || p >= max_blocks_per_seq * kPage) return -1;
    const int block = __ldg(block_table + (int64_t)i * table_stride + p / kPage);
    if (block < 0 || block >= num_blocks) return -1;
    slot = block * kPage + p % kPage;
  }
  return (slot >= 0 && slot < num_blocks * kPage) ? slot : -1;
}

// Element type only fixes the entry point's name: the copy moves 16-bit patterns unchanged.
__device__ __forceinline__ void append_kv_body(const uint16_t* __restrict__ ckv, int ckv_stride, const uint16_t* __restrict__ kpe, int kpe_stride,
                                               uint16_t* __restrict__ k_cache, int block_stride, int row_stride, int num_blocks,
                                               const int* __restrict__ slot_mapping, const int* __restrict__ block_table, int table_stride,
                                               int max_blocks_per_seq, const int* __restrict__ seqlens, int tokens_per_seq, int num_tokens) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  // Launched with programmatic dependent launch: wait until the previous kernel's writes are visible.
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
  const unsigned total = (unsigned)num_tokens * kChunksRow;
  // tiles of kThreads · kUnroll chunks; the host launches one CTA per tile (measured faster on H200 than a
  // persistent grid of 4–32 CTAs per SM), the loop only guards a smaller grid
  for (unsigned tile = blockIdx.x * (kThreads * kUnroll); tile < total; tile += gridDim.x * (kThreads * kUnroll)) {
    const unsigned base = tile + threadIdx.x;
    uint4 v[kUnroll];
    uint16_t* dst[kUnroll];
#pragma unroll
    for (int k = 0; k < kUnroll; k++) {
      const unsigned g = base + k * kThreads;
      dst[k] = nullptr;
      if (g < total) {
        const int t = g / kChunksRow;
        const int c = g - t * kChunksRow;
        const uint16_t* src = c < kChunksCkv ? ckv + (int64_t)t * ckv_stride + c * 8 : kpe + (int64_t)t * kpe_stride + (c - kChunksCkv) * 8;
        v[k] = __ldg(reinterpret_cast<const uint4*>(src));
        const int slot = slot_of(t, slot_mapping, block_table, table_stride, max_blocks_per_seq, seqlens, tokens_per_seq, num_blocks);
        if (slot >= 0) dst[k] = k_cache + (int64_t)(slot / kPage) * block_stride + (int64_t)(slot % kPage) * row_stride + c * 8;
      }
    }
#pragma unroll
    for (int k = 0; k < kUnroll; k++) {
      if (dst[k] != nullptr) *reinterpret_cast<uint4*>(dst[k]) = v[k];
    }
  }
}

}  // namespace

#define APPEND_KV_ENTRY(NAME)                                                                                                      \
  extern "C" __global__ void __launch_bounds__(kThreads) NAME(                                                                     \
      const uint16_t* ckv, int ckv_stride, const uint16_t* kpe, int kpe_stride, uint16_t* k_cache, int block_stride, int row_stride, \
      int num_blocks, const int* slot_mapping, const int* block_table, int table_stride, int max_blocks_per_seq, const int* seqlens,   \
      int tokens_per_seq, int num_tokens) {                                                                                          \
    append_kv_body(ckv, ckv_stride, kpe, kpe_stride, k_cache, block_stride, row_stride, num_blocks, slot_mapping, block_table,       \
                   table_stride, max_blocks_per_seq, seqlens, tokens_per_seq, num_tokens);                                           \
  }

APPEND_KV_ENTRY(append_kv_bf16)
APPEND_KV_ENTRY(append_kv_fp16)
