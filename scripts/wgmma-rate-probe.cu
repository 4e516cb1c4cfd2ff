// How fast does the tensor core run the narrow wgmma shapes of hopper-small's 16- and 32-row entries? A diagnostic,
// not shipped (issue 10; perf log session 26 `wgrate`): the FP8 entries issue, per 64-token block and warpgroup, 68
// m64n16k16 wgmmas (S: 32 register-A f16 + 4 bf16 RoPE; P·V: 32 register-A f16), and the L2 bound says they are not
// waiting for DRAM. If a narrow wgmma costs nearly what a wide one does, the tensor pipe, not the issue of the
// conversions around it, bounds those entries.
// Every SM runs two warpgroups (like the decode kernels), each issuing back-to-back wgmmas on random data that stays in
// registers / shared memory: commit groups of kGroup wgmmas into one accumulator, two groups in flight (wait_group 1),
// as f16r_scores does. Reports TFLOPS and ns per wgmma per SM for each shape.
// Build and run on the device: nvcc -gencode arch=compute_90a,code=sm_90a -std=c++17 -I kernels -o /tmp/wgrate scripts/wgmma-rate-probe.cu && /tmp/wgrate
#include <cstdint>
#include <cstdio>
#include <vector>
#include <algorithm>

#include "ptx.cuh"
#include "ptx_sm90.cuh"
#include "ptx_wgmma.cuh"
#include "probe-timing.cuh"

constexpr int kThreads = 256;  // two warpgroups
constexpr int kGroup = 8;      // wgmmas per commit group
constexpr int kTile = 8192;    // bytes of A and of B per warpgroup (random; narrow shapes read a prefix)

// (the e4m3 shapes, session 44: the small-row kernel's e4m3 datapath, kernels/mla_sm90_small_e4m3.cuh — k32 per wgmma)
enum Shape { kN16RsF16, kN16SsBf16, kN32RsF16, kN64SsF16, kN128SsBf16, kN16RsE4m3, kN32RsE4m3, kShapes };
const char* kNames[kShapes] = {"m64n16k16 f16 RS", "m64n16k16 bf16 SS", "m64n32k16 f16 RS", "m64n64k16 f16 SS", "m64n128k16 bf16 SS", "m64n16k32 e4m3 RS", "m64n32k32 e4m3 RS"};
const int kN[kShapes] = {16, 16, 32, 64, 128, 16, 32};
const int kK[kShapes] = {16, 16, 16, 16, 16, 32, 32};

template <int S>
__global__ void __launch_bounds__(kThreads, 1) probe(int iters, uint32_t seed, float* sink) {
  __shared__ __align__(1024) uint8_t smem[2 * 2 * kTile];
  for (int i = threadIdx.x; i < (int)sizeof(smem) / 4; i += kThreads) {
    uint32_t x = seed ^ (i * 0x9E3779B9u);
    x ^= x >> 16; x *= 0x7feb352du; x ^= x >> 15; x *= 0x846ca68bu; x ^= x >> 16;
    reinterpret_cast<uint32_t*>(smem)[i] = (x & 0x807F807Fu) | 0x3C003C00u;  // random sign and mantissa, exponent ~ 2^0 (f16) / 2^-7 (bf16)
  }
  __syncthreads();
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
  const int wg = threadIdx.x / 128;
  const uint32_t a = ptx::smem_addr(smem) + wg * 2 * kTile, b = a + kTile;
  const uint64_t da = ptx::wgmma_desc(a, 128, 256, 0), db = ptx::wgmma_desc(b, 128, 256, 0);
  uint32_t ra[4];
  for (int k = 0; k < 4; ++k) ra[k] = (seed * (threadIdx.x + 7 * k + 1)) & 0x83ff83ffu | 0x38003800u;
  constexpr int kAcc = S == kN16RsF16 || S == kN16SsBf16 || S == kN16RsE4m3 ? 8 : S == kN32RsF16 || S == kN32RsE4m3 ? 16 : S == kN64SsF16 ? 32 : 64;
  float acc[2][kAcc];
  for (int g = 0; g < 2; ++g)
    for (int i = 0; i < kAcc; ++i) acc[g][i] = 0.f;
  auto group = [&](float(&d)[kAcc]) {
    ptx::wgmma_fence();
#pragma unroll
    for (int k = 0; k < kGroup; ++k) {
      if constexpr (S == kN16RsF16) ptx::wgmma_m64n16k16_f16_rs(d, ra, db + 2 * k, 1);
      else if constexpr (S == kN16SsBf16) ptx::wgmma_m64n16k16_bf16_ss(d, da + 2 * k, db + 2 * k, 1);
      else if constexpr (S == kN32RsF16) ptx::wgmma_m64n32k16_f16_rs(d, ra, db + 2 * k, 1);
      else if constexpr (S == kN64SsF16) ptx::wgmma_m64n64k16_f16_ss(d, da + 2 * k, db + 2 * k, 1);
      else if constexpr (S == kN16RsE4m3) ptx::wgmma_m64n16k32_e4m3_rs(d, ra, db + 2 * k, 1);  // (the f16 data read as codes, a few NaN: timing only)
      else if constexpr (S == kN32RsE4m3) ptx::wgmma_m64n32k32_e4m3_rs(d, ra, db + 2 * k, 1);
      else ptx::wgmma_m64n128k16_bf16_ss(d, da + 2 * k, db + 2 * k);
    }
    ptx::wgmma_commit();
  };
  group(acc[0]);
  group(acc[1]);
  for (int it = 2; it < iters; it += 2) {  // (two accumulators by name: a dynamic index would serialise the wgmmas)
    ptx::wgmma_wait<1>();
    group(acc[0]);
    ptx::wgmma_wait<1>();
    group(acc[1]);
  }
  ptx::wgmma_wait<0>();
  float s = 0.f;
  for (int g = 0; g < 2; ++g)
    for (int i = 0; i < kAcc; ++i) s += acc[g][i];
  sink[blockIdx.x * kThreads + threadIdx.x] = s;
}

template <int S>
float run(int sms, int iters, float* sink) {
  const std::vector<float> ms = timed_runs(7, [&](int r) { probe<S><<<sms, kThreads>>>(iters, 0x1234567u + r, sink); });
  return ms[ms.size() / 2];
}

int main() {
  int sms = 0;
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
  float* sink;
  cudaMalloc(&sink, sms * kThreads * sizeof(float));
  const int iters = 20000;
  float ms[kShapes] = {run<kN16RsF16>(sms, iters, sink), run<kN16SsBf16>(sms, iters, sink), run<kN32RsF16>(sms, iters, sink),
                       run<kN64SsF16>(sms, iters, sink), run<kN128SsBf16>(sms, iters, sink), run<kN16RsE4m3>(sms, iters, sink), run<kN32RsE4m3>(sms, iters, sink)};
  if (cudaError_t e = cudaDeviceSynchronize(); e != cudaSuccess) {
    printf("error: %s\n", cudaGetErrorString(e));
    return 1;
  }
  printf("%d SMs, 2 warpgroups each, %d commit groups of %d wgmmas per warpgroup, two groups in flight\n", sms, iters, kGroup);
  for (int s = 0; s < kShapes; ++s) {
    const double wgmmas = 2.0 * iters * kGroup;  // per SM
    const double flops = sms * wgmmas * 64.0 * kN[s] * kK[s] * 2;
    printf("%-20s %8.3f ms  %7.1f TFLOPS  %6.2f ns per wgmma per SM\n", kNames[s], ms[s], flops / (ms[s] * 1e-3) / 1e12, ms[s] * 1e6 / wgmmas);
  }
  return 0;
}
