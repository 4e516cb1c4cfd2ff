// build: archs=sm_90a hot
// Tensor-core ceiling probe for `flash-mla bench`: every warpgroup issues back-to-back bf16 wgmma
// (m64n128k16, both operands from shared memory, fp32 accumulate) on random data that stays in smem, so the
// measured rate is the dense bf16 matmul rate of this card at its current clocks — the compute roof the
// decode kernels are judged against. No global traffic except one store per thread at the end.
#include <cstdint>
#include "ptx.cuh"
#include "ptx_sm90.cuh"

namespace {
constexpr int kWarpgroups = 2;          // two WGs per SM, like the decode kernels
constexpr int kThreads = kWarpgroups * 128;
constexpr int kBatch = 16;              // wgmmas per commit group
constexpr int kABytes = 64 * 16 * 2;    // one 64×16 bf16 A tile
constexpr int kBBytes = 128 * 16 * 2;   // one 128×16 bf16 B tile
}  // namespace

// flops per launch = gridDim.x · kWarpgroups · iters · kBatch · (64·128·16·2)
extern "C" __global__ void __launch_bounds__(kThreads, 1) tc_peak_bf16(int iters, uint32_t seed, float* sink) {
  __shared__ __align__(1024) uint8_t smem[kWarpgroups * (kABytes + kBBytes)];
  // random bf16 payload (never zeros: zero operands run faster than real data)
  for (int i = threadIdx.x; i < (int)sizeof(smem) / 4; i += kThreads) {
    uint32_t x = seed ^ (i * 0x9E3779B9u);
    x ^= x >> 16; x *= 0x7feb352du; x ^= x >> 15; x *= 0x846ca68bu; x ^= x >> 16;
    reinterpret_cast<uint32_t*>(smem)[i] = (x & 0x807F807Fu) | 0x3C003C00u;  // sign, exponent ~ 2^-7, random mantissa
  }
  __syncthreads();
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");  // generic-proxy stores → async-proxy reads
  const int wg = threadIdx.x / 128;
  const uint32_t a = ptx::smem_addr(smem) + wg * (kABytes + kBBytes);
  const uint32_t b = a + kABytes;
  // no swizzle: 8×16-byte core matrices; LBO = next core matrix along K, SBO = next 8 rows
  const uint64_t da = ptx::wgmma_desc(a, 128, 256, 0);
  const uint64_t db = ptx::wgmma_desc(b, 128, 256, 0);
  float acc[64];
#pragma unroll
  for (int i = 0; i < 64; ++i) acc[i] = 0.f;
  for (int it = 0; it < iters; ++it) {
    ptx::wgmma_fence();
#pragma unroll
    for (int k = 0; k < kBatch; ++k) ptx::wgmma_m64n128k16_bf16_ss(acc, da, db);
    ptx::wgmma_commit();
    ptx::wgmma_wait<0>();
  }
  float s = 0.f;
#pragma unroll
  for (int i = 0; i < 64; ++i) s += acc[i];
  sink[blockIdx.x * kThreads + threadIdx.x] = s;
}
