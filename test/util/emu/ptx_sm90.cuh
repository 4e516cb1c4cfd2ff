// Host stand-in for kernels/ptx_sm90.cuh (the Hopper instructions; emu_runtime.h says how the emulation works, emu.cpp
// does it). wgmma_desc is the real file's function, character for character: the build (test/util/fake-cuda.ts)
// checks that, so the descriptors the emulator decodes are the ones the kernel encodes on the GPU.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "emu_runtime.h"
#include "ptx_wgmma.cuh"

namespace ptx {

__device__ __forceinline__ uint64_t wgmma_desc(uint32_t smem_addr, uint32_t lbo, uint32_t sbo, uint32_t swizzle) {
  return (uint64_t)((smem_addr & 0x3FFFF) >> 4) | ((uint64_t)((lbo & 0x3FFFF) >> 4) << 16) |
         ((uint64_t)((sbo & 0x3FFFF) >> 4) << 32) | ((uint64_t)swizzle << 62);
}

// Register and shared-memory accesses are in program order here: nothing to fence. Commit and wait keep the groups
// (with FAKE_CUDA_EMU_WGMMA=wait the products are computed at the wait; by default they already were at issue).
inline void wgmma_fence() {}
inline void wgmma_commit() { emu::wgmma_commit(); }
template <int N>
inline void wgmma_wait() { emu::wgmma_wait(N); }

inline void mbarrier_init(uint32_t bar, uint32_t count, EMU_CALLER) { emu::mbarrier_init(bar, count, EMU_SITE(kAccMbarrierInit)); }
// Proxy and init fences order memory between the generic and async proxies: one memory here, so nothing to do.
inline void fence_barrier_init() {}
inline void fence_proxy_async() {}
inline void mbarrier_arrive_expect_tx(uint32_t bar, uint32_t bytes) { emu::mbarrier_arrive_expect_tx(bar, bytes); }
inline void mbarrier_wait(uint32_t bar, uint32_t parity) { emu::mbarrier_wait(bar, parity); }
inline void tma_load_3d(uint32_t dst, const void* tmap, uint32_t bar, int c0, int c1, int c2, EMU_CALLER) {
  const int c[3] = {c0, c1, c2};
  emu::tma_load(dst, tmap, bar, c, 3, EMU_SITE(kAccTma));
}
inline void named_barrier_arrive(int id, int count) { emu::bar_arrive(id, count); }
inline void prefetch_tensormap(const void*) {}

// Warp specialisation: the register file is not modelled.
template <int N>
inline void setmaxnreg_inc() {}
template <int N>
inline void setmaxnreg_dec() {}
// A plain arrive is an arrive that expects no transaction bytes.
inline void mbarrier_arrive(uint32_t bar) { emu::mbarrier_arrive_expect_tx(bar, 0); }
// e4m3 (OCP e4m3fn) codes · scale → bf16, round to nearest even, as the real file's cvt/mul/cvt sequence does.
inline float e4m3_code_value(uint32_t c) {
  const int e = (c >> 3) & 15, m = c & 7;
  float v;
  if (e == 15 && m == 7) v = __builtin_nanf("");
  else if (e == 0) v = std::ldexp(static_cast<float>(m), -9);
  else v = std::ldexp(1.f + m / 8.f, e - 7);
  return (c & 0x80) ? -v : v;
}
inline uint32_t bf16_bits_rne(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return ((u >> 16) & 0x8000u) | 0x7fc0u;
  return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}
inline uint2 e4m3x4_to_bf16x4(uint32_t codes, float scale) {
  uint32_t h[4];
  for (int i = 0; i < 4; ++i) h[i] = bf16_bits_rne(e4m3_code_value((codes >> (8 * i)) & 0xffu) * scale);
  return make_uint2(h[0] | (h[1] << 16), h[2] | (h[3] << 16));
}

}  // namespace ptx
