// Host stand-in for kernels/ptx_sm90.cuh (the Hopper instructions; emu_runtime.h says how the emulation works, emu.cpp
// does it). wgmma_desc is the real file's function, character for character: the build (test/util/fake-cuda.ts)
// checks that, so the descriptors the emulator decodes are the ones the kernel encodes on the GPU.
#pragma once
#include <cstdint>

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

}  // namespace ptx
