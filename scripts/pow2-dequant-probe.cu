// Is the dense FP8 producer's power-of-two conversion (ptx::e4m3x4_to_bf16x4_pow2, MLA_SM90_FP8_POW2_DEQUANT) bit for bit
// the cvt path (ptx::e4m3x4_to_bf16x4) on the GPU, as it is in the emulator's mirror (test/fp8-kernel-arith.test.ts)?
// Every e4m3 code × every scale 2^k, k ∈ [-117, 7] (what ptx::pow2_scale_multiplier accepts), NaN codes excepted (they
// read as ±480 · scale on that path); and the multiplier is 0 for scales it must refuse. A diagnostic, not shipped (perf
// log session 34). Prints the mismatch count and the first few.
// Build and run on the device: nvcc -gencode arch=compute_90a,code=sm_90a -std=c++17 -I kernels -o /tmp/pow2 scripts/pow2-dequant-probe.cu && /tmp/pow2
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "ptx.cuh"
#include "ptx_sm90.cuh"

constexpr int kMinExp = -117, kMaxExp = 7, kScales = kMaxExp - kMinExp + 1;

// thread (scale s, code word c): codes 4c … 4c + 3 under 2^(kMinExp + s); out: pow2 path then cvt path (4 words)
__global__ void probe(uint32_t* out, uint32_t* muls) {
  const int s = blockIdx.x, c = threadIdx.x;  // 125 blocks × 64 threads
  const float scale = ldexpf(1.f, kMinExp + s);
  const uint32_t mul = ptx::pow2_scale_multiplier(scale);
  if (c == 0) muls[s] = mul;
  const uint32_t codes = (4 * c) | (4 * c + 1) << 8 | (4 * c + 2) << 16 | (4 * c + 3) << 24;
  const uint2 fast = ptx::e4m3x4_to_bf16x4_pow2(codes, mul), cvt = ptx::e4m3x4_to_bf16x4(codes, scale);
  uint32_t* o = out + 4 * (s * 64 + c);
  o[0] = fast.x, o[1] = fast.y, o[2] = cvt.x, o[3] = cvt.y;
}
// scales the multiplier must refuse: 2^-118, 2^8, -1, +0, -0, inf, NaN, 1.5, 1e-45 (subnormal)
__global__ void refuse(uint32_t* muls) {
  const float xs[] = {ldexpf(1.f, -118), 256.f, -1.f, 0.f, -0.f, __int_as_float(0x7f800000), __int_as_float(0x7fc00000), 1.5f, 1e-45f};
  if (threadIdx.x < 9) muls[threadIdx.x] = ptx::pow2_scale_multiplier(xs[threadIdx.x]);
}

int main() {
  uint32_t *d_out, *d_muls, *d_ref;
  const size_t n = 4ull * kScales * 64;
  cudaMalloc(&d_out, n * 4), cudaMalloc(&d_muls, kScales * 4), cudaMalloc(&d_ref, 9 * 4);
  probe<<<kScales, 64>>>(d_out, d_muls);
  refuse<<<1, 32>>>(d_ref);
  if (cudaDeviceSynchronize() != cudaSuccess) return printf("pow2 probe: launch failed\n"), 1;
  std::vector<uint32_t> out(n), muls(kScales), ref(9);
  cudaMemcpy(out.data(), d_out, n * 4, cudaMemcpyDeviceToHost);
  cudaMemcpy(muls.data(), d_muls, kScales * 4, cudaMemcpyDeviceToHost);
  cudaMemcpy(ref.data(), d_ref, 9 * 4, cudaMemcpyDeviceToHost);
  long bad = 0, checked = 0;
  for (int s = 0; s < kScales; ++s) {
    if (muls[s] == 0) { if (bad++ < 8) printf("scale 2^%d: multiplier 0 (refused)\n", kMinExp + s); continue; }
    for (int c = 0; c < 64; ++c)
      for (int i = 0; i < 4; ++i) {
        const int code = 4 * c + i;
        if ((code & 0x7f) == 0x7f) continue;
        const uint32_t* o = &out[4 * (s * 64 + c)];
        const uint32_t fast = (o[i >> 1] >> (16 * (i & 1))) & 0xffff, cvt = (o[2 + (i >> 1)] >> (16 * (i & 1))) & 0xffff;
        ++checked;
        if (fast != cvt && bad++ < 8) printf("code 0x%02x × 2^%d: pow2 0x%04x, cvt 0x%04x\n", code, kMinExp + s, fast, cvt);
      }
  }
  for (int i = 0; i < 9; ++i)
    if (ref[i] != 0 && bad++ < 16) printf("refused scale #%d: multiplier 0x%08x, expected 0\n", i, ref[i]);
  printf("pow2 probe: %ld values checked, %ld mismatches\n", checked, bad);
  return bad ? 1 : 0;
}
