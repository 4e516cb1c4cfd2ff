// build: archs=sm_80,sm_90 nolineinfo
// Instruction-cache eviction for `flash-mla bench --cold-code`: four warps per CTA (one per SM sub-partition, each with
// its own first-level instruction cache), two CTAs per SM in the grid, run 256 KB of straight-line code (16 384 FFMA in
// four independent chains, no loop in the SASS), so that afterwards the SM's instruction caches hold this kernel's
// code and none of the decode's. In a model, other kernels (GEMMs, MoE, norms)
// run between two attention calls on every SM, so each call starts with its code cold; the bench's default, like the
// peers' benchmarks, runs the decode back to back with its code warm (perf log, sessions 62–64: S9 +8–9 µs on an H100
// when other code had run on every SM first). No global traffic except a store that never happens.
#include <cstdint>

namespace {
constexpr int kRounds = 4, kSteps = 1024;  // × 4 chains = 16 384 FFMA × 16 B = 256 KB of SASS (one loop of 4096 steps
                                           // was unrolled to 2048 and looped twice: 128 KB)
}

extern "C" __global__ void __launch_bounds__(128) code_evict(float seed, float* sink) {
  float a = seed + threadIdx.x, b = seed - threadIdx.x, c = seed * 0.5f, d = seed * 0.25f;
#pragma unroll
  for (int r = 0; r < kRounds; ++r) {
#pragma unroll
    for (int i = 0; i < kSteps; ++i) {
      // (constants that change with i and r keep the chains from folding into a closed form)
      a = fmaf(a, 1.0000001f, static_cast<float>((i + r) & 7));
      b = fmaf(b, 0.9999999f, static_cast<float>((i + r) & 5));
      c = fmaf(c, 1.0000002f, static_cast<float>((i + r) & 3));
      d = fmaf(d, 0.9999998f, static_cast<float>((i + r) & 6));
    }
  }
  if (a + b + c + d == 1234.5f) sink[threadIdx.x] = a;  // never, for any seed the bench passes (keeps the code alive)
}
