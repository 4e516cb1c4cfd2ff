// How fast does an SM convert e4m3 codes? A diagnostic, not shipped (issue 10, perf log session 65 `cvtrate`). The
// 16-row FP8 entry converts every code twice per block (S's A fragments, P·V's), 256 cvt.rn.f16x2.e4m3x2 per thread
// and block, and its math-bound rate (the --kv-pages probe) is ~1.6 µs per block and SM. If that cvt (F2FP) issues at a
// quarter of the ALU's rate, 2 × 64 × 512 codes per block take ~2 048 cycles of it: most of the block. Measured here,
// each on one CTA per SM (132 CTAs), T threads, 8 independent chains per thread, cycles by clock64 per CTA:
//   cvt      cvt.rn.f16x2.e4m3x2 (2 codes)
//   bf16int  the same 2 codes as bf16 bits by integer ops (prmt with sign replication, shl 4, and 0x87f0: the code's
//            value · 2^-120; 3 ops)
//   lop3     one lop3 (reference: the ALU's rate)
//   mix13    one cvt and bf16int's three integer ops on another chain, interleaved (do the two pipes overlap?)
//   hmul2    mul.rn.f16x2 (the FMA pipe, reference)
// Prints per kind and thread count: thread-ops per cycle per SM (for mix13: code pairs converted per cycle).
// Build and run on the device: nvcc -gencode arch=compute_90a,code=sm_90a -std=c++17 -O3 -o /tmp/cvtrate scripts/cvt-rate-probe.cu && /tmp/cvtrate
#include <cstdint>
#include <cstdio>

constexpr int kChains = 8, kIters = 2048;

__device__ __forceinline__ uint32_t cvt2(uint32_t x) {
  uint32_t r;
  asm volatile("{\n.reg .b16 c;\ncvt.u16.u32 c, %1;\ncvt.rn.f16x2.e4m3x2 %0, c;\n}\n" : "=r"(r) : "r"(x));
  return r;
}
__device__ __forceinline__ uint32_t bf16int2(uint32_t x) {
  uint32_t r;
  asm volatile("{\n.reg .b32 t;\nprmt.b32 t, %1, 0, 0x9180;\nshl.b32 t, t, 4;\nand.b32 %0, t, 0x87f087f0;\n}\n" : "=r"(r) : "r"(x));
  return r;
}
__device__ __forceinline__ uint32_t lop(uint32_t x, uint32_t y) {
  uint32_t r;
  asm volatile("lop3.b32 %0, %1, %2, 0x5a5a5a5a, 0x96;\n" : "=r"(r) : "r"(x), "r"(y));
  return r;
}
__device__ __forceinline__ uint32_t hmul(uint32_t x, uint32_t y) {
  uint32_t r;
  asm volatile("mul.rn.f16x2 %0, %1, %2;\n" : "=r"(r) : "r"(x), "r"(y));
  return r;
}

template <int kKind>
__global__ void run(uint32_t* sink, long long* cycles) {
  uint32_t v[kChains];
#pragma unroll
  for (int c = 0; c < kChains; ++c) v[c] = threadIdx.x * 0x01010101u + c * 0x3a5c;
  __syncthreads();
  const long long t0 = clock64();
#pragma unroll 1
  for (int it = 0; it < kIters; ++it) {
#pragma unroll
    for (int c = 0; c < kChains; ++c) {
      if constexpr (kKind == 0) v[c] = cvt2(v[c]);
      else if constexpr (kKind == 1) v[c] = bf16int2(v[c]);
      else if constexpr (kKind == 2) v[c] = lop(v[c], it);
      else if constexpr (kKind == 3) v[c] = (c & 1) ? bf16int2(v[c]) : cvt2(v[c]);
      else v[c] = hmul(v[c], 0x3c013c01u);
    }
  }
  __syncthreads();
  const long long t1 = clock64();
  uint32_t acc = 0;
#pragma unroll
  for (int c = 0; c < kChains; ++c) acc ^= v[c];
  if (acc == 0x12345678u) sink[threadIdx.x] = acc;
  if (threadIdx.x == 0) cycles[blockIdx.x] = t1 - t0;
}

template <int kKind>
double rate(int threads, uint32_t* sink, long long* dCycles, int sms) {
  run<kKind><<<sms, threads>>>(sink, dCycles);  // warm
  run<kKind><<<sms, threads>>>(sink, dCycles);
  cudaDeviceSynchronize();
  long long h[1024];
  cudaMemcpy(h, dCycles, sms * sizeof(long long), cudaMemcpyDeviceToHost);
  long long mx = 0;
  for (int i = 0; i < sms; ++i) mx = h[i] > mx ? h[i] : mx;
  // mix13: a cvt chain and an integer chain per pair of chains, one code pair each: pairs per cycle
  const double ops = static_cast<double>(threads) * kIters * kChains;
  return ops / mx;
}

int main() {
  int sms = 0;
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
  uint32_t* sink;
  long long* dCycles;
  cudaMalloc(&sink, 1024 * 4), cudaMalloc(&dCycles, 1024 * 8);
  printf("thread-ops per cycle per SM (%d SMs, one CTA each, %d chains x %d iterations per thread)\n", sms, kChains, kIters);
  printf("threads   cvt(f16x2<-e4m3x2)  bf16int(3 ops)  lop3   mix13(pairs)  hmul2\n");
  for (int t : {128, 256, 512, 1024}) {
    printf("%7d   %18.1f  %14.1f  %5.1f  %12.1f  %5.1f\n", t, rate<0>(t, sink, dCycles, sms), rate<1>(t, sink, dCycles, sms), rate<2>(t, sink, dCycles, sms),
           rate<3>(t, sink, dCycles, sms), rate<4>(t, sink, dCycles, sms));
  }
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) return printf("cvt-rate probe: %s\n", cudaGetErrorString(e)), 1;
  return 0;
}
