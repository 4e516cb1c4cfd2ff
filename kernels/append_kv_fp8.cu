// build: archs=sm_80,sm_90 ptx=compute_80 hot
// Paged writes into the FP8 KV cache (src/kvcache/append.ts with a uint8 cache): T token rows cKv [T, 512] ‖
// kPe [T, 64] (bf16 or fp16) quantized into FlashMLA's DeepSeek-V3.2 layout, 656 bytes per token:
//   bytes [0, 512)    e4m3 codes of the 512 latent channels, code = e4m3(x / scale_j), j = channel / 128
//   bytes [512, 528)  the four float32 scales, scale_j = smallest power of two ≥ max(amax_j / 448, 1e-4)
//   bytes [528, 656)  the 64 RoPE channels, 16-bit patterns copied unchanged
// Bit-identical to the cpu quantizer (src/kvcache/fp8.ts quantizeFp8Row): the arithmetic is in fp8_e4m3.cuh.
//
// One warp per token (8 tokens per CTA of 256 threads). Lane l owns latent channels [16l, 16l + 16): two 16-byte
// loads, one 16-byte store of codes; the 8 lanes of a tile agree on its largest magnitude by shuffles. Lane 0 stores
// the four scales (16 bytes), lanes 0–7 copy the RoPE part (16 bytes each). Rows, pages and inputs are 16-byte
// aligned (the cuda layout rules refuse anything else before a launch).
//
// Slot of token t: slot_mapping[t] when given, else from the block table as in append_kv.cu (request
// i = t / tokens_per_seq, position seqlens[i] − tokens_per_seq + t % tokens_per_seq, pages of 64 tokens). Slots
// outside [0, num_slots) are skipped: padding tokens, and never a write out of bounds.
#include <cstdint>

#include "fp8_e4m3.cuh"
#include "mla_fp8_params.h"

namespace {

constexpr int kThreads = 256;
constexpr int kTokensPerCta = kThreads / 32;     // one warp per token
constexpr int kBlockTablePage = 64;              // block tables count pages of 64 tokens
constexpr int kScalesOffset = 512;
constexpr int kRopeOffset = 528;

__device__ __forceinline__ int64_t slot_of_token(const AppendKvFp8Params& p, int t) {
  int64_t slot;
  if (p.slot_mapping != nullptr) {
    slot = __ldg(p.slot_mapping + t);
  } else {
    const int i = t / p.tokens_per_seq;
    const int pos = __ldg(p.seqlens + i) - p.tokens_per_seq + (t - i * p.tokens_per_seq);
    if (pos < 0 || pos >= p.max_blocks_per_seq * kBlockTablePage) return -1;
    const int page = __ldg(p.block_table + static_cast<int64_t>(i) * p.table_stride + pos / kBlockTablePage);
    if (page < 0) return -1;
    slot = static_cast<int64_t>(page) * kBlockTablePage + pos % kBlockTablePage;  // page ≥ num_pages: past num_slots
  }
  return slot >= 0 && slot < p.num_slots ? slot : -1;
}

template <bool kBf16>
__device__ __forceinline__ void append_kv_fp8_body(const AppendKvFp8Params& p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  // Launched with programmatic dependent launch: wait until the previous kernel's writes are visible.
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
  const int lane = threadIdx.x & 31;
  const int t = blockIdx.x * kTokensPerCta + (threadIdx.x >> 5);
  if (t >= p.num_tokens) return;                 // warp-uniform: the shuffles below see the whole warp
  const int64_t slot = slot_of_token(p, t);
  if (slot < 0) return;                          // warp-uniform too
  uint8_t* row = p.k_cache + (slot / p.page_size) * p.page_stride + (slot % p.page_size) * p.row_stride;

  const uint4* src = reinterpret_cast<const uint4*>(p.ckv + t * p.ckv_stride + 16 * lane);
  const uint4 lo = __ldg(src), hi = __ldg(src + 1);
  const uint32_t pairs[8] = {lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w};  // channel 16l + 2k in the low half

  // largest magnitude of the tile (lanes 8j … 8j + 7), as 16-bit magnitude bits: NaN wins, as in torch.max
  uint32_t mag = 0;
#pragma unroll
  for (int k = 0; k < 8; ++k) mag = max(mag, max(pairs[k] & 0x7fffu, (pairs[k] >> 16) & 0x7fffu));
#pragma unroll
  for (int o = 1; o < 8; o <<= 1) mag = max(mag, __shfl_xor_sync(0xffffffffu, mag, o));
  bool is_nan, is_inf;
  const float amax = fp8::half_magnitude<kBf16>(mag, is_nan, is_inf);
  const float scale = fp8::tile_scale(amax, is_nan, is_inf);
  // x / scale by its reciprocal: exact for a power of two (and 1/inf = 0, 1/NaN = NaN, as the division gives)
  const float inv = __frcp_rn(scale);

  uint32_t codes[4];
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    uint32_t word = 0;
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const uint32_t h = (pairs[2 * k + e / 2] >> (16 * (e % 2))) & 0xffffu;
      word |= fp8::e4m3_code(__fmul_rn(fp8::half_bits_value<kBf16>(h), inv)) << (8 * e);
    }
    codes[k] = word;
  }
  *reinterpret_cast<uint4*>(row + 16 * lane) = make_uint4(codes[0], codes[1], codes[2], codes[3]);

  const float s1 = __shfl_sync(0xffffffffu, scale, 8), s2 = __shfl_sync(0xffffffffu, scale, 16), s3 = __shfl_sync(0xffffffffu, scale, 24);
  if (lane == 0) *reinterpret_cast<float4*>(row + kScalesOffset) = make_float4(scale, s1, s2, s3);
  if (lane < 8) {
    *reinterpret_cast<uint4*>(row + kRopeOffset + 16 * lane) = __ldg(reinterpret_cast<const uint4*>(p.kpe + t * p.kpe_stride + 8 * lane));
  }
}

}  // namespace

extern "C" __global__ void __launch_bounds__(kThreads) append_kv_fp8_bf16(const __grid_constant__ AppendKvFp8Params p) {
  append_kv_fp8_body<true>(p);
}
extern "C" __global__ void __launch_bounds__(kThreads) append_kv_fp8_fp16(const __grid_constant__ AppendKvFp8Params p) {
  append_kv_fp8_body<false>(p);
}
