// Host stand-in for kernels/ptx.cuh (test/util/emu/emu_runtime.h says how the emulation works): the same functions,
// built on the emulated CTA. The test copies kernels/ into a scratch folder with this file in place of the real one.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "emu_runtime.h"

namespace emu {
void mma_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1, bool bf16);
void ldmatrix_x4(uint32_t (&r)[4], uint32_t addr, bool trans, uint16_t site);
void cp_async(uint32_t dst, const void* src, int size, int src_bytes, uint16_t site);
void cp_async_wait_all();
}  // namespace emu

namespace ptx {

// The kernel's dynamic shared array is an emu::SharedWindow (the build's edit): its address is the window's start.
inline uint32_t smem_addr(const emu::SharedWindow&) { return 0; }

inline void mma_bf16_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) { emu::mma_16816(d, a, b0, b1, true); }
inline void mma_f16_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) { emu::mma_16816(d, a, b0, b1, false); }
inline void ldmatrix_x4(uint32_t (&r)[4], uint32_t addr, EMU_CALLER) { emu::ldmatrix_x4(r, addr, false, EMU_SITE(kAccLdmatrix)); }
inline void ldmatrix_x4_trans(uint32_t (&r)[4], uint32_t addr, EMU_CALLER) { emu::ldmatrix_x4(r, addr, true, EMU_SITE(kAccLdmatrixTrans)); }

inline uint32_t prmt(uint32_t a, uint32_t b, uint32_t sel) {
  const uint64_t bytes = a | (static_cast<uint64_t>(b) << 32);
  uint32_t d = 0;
  for (int i = 0; i < 4; ++i) {
    const uint32_t n = (sel >> (4 * i)) & 0xfu, byte = static_cast<uint32_t>(bytes >> (8 * (n & 7u))) & 0xffu;
    d |= ((n & 8u) ? ((byte & 0x80u) ? 0xffu : 0u) : byte) << (8 * i);
  }
  return d;
}

inline void st_shared_u32(uint32_t addr, uint32_t v, EMU_CALLER) { emu::shared_store(addr, &v, 4, EMU_SITE(kAccStShared)); }
inline void st_shared_f32(uint32_t addr, float v, EMU_CALLER) { emu::shared_store(addr, &v, 4, EMU_SITE(kAccStShared)); }
inline float ld_shared_f32(uint32_t addr, EMU_CALLER) { float v; emu::shared_load(addr, &v, 4, EMU_SITE(kAccLdShared)); return v; }
inline uint32_t ld_shared_u32(uint32_t addr, EMU_CALLER) { uint32_t v; emu::shared_load(addr, &v, 4, EMU_SITE(kAccLdShared)); return v; }
inline uint2 ld_shared_v2(uint32_t addr, EMU_CALLER) { uint2 v; emu::shared_load(addr, &v, 8, EMU_SITE(kAccLdShared)); return v; }
inline uint4 ld_shared_v4(uint32_t addr, EMU_CALLER) { uint4 v; emu::shared_load(addr, &v, 16, EMU_SITE(kAccLdShared)); return v; }
inline void st_shared_v4(uint32_t addr, uint4 v, EMU_CALLER) { emu::shared_store(addr, &v, 16, EMU_SITE(kAccStShared)); }

inline void cp_async_16(uint32_t dst, const void* src, int src_bytes, EMU_CALLER) { emu::cp_async(dst, src, 16, src_bytes, EMU_SITE(kAccCpAsync)); }
inline void cp_async_8(uint32_t dst, const void* src, int src_bytes, EMU_CALLER) { emu::cp_async(dst, src, 8, src_bytes, EMU_SITE(kAccCpAsync)); }
inline void cp_async_commit() {}
inline void cp_async_wait_all() { emu::cp_async_wait_all(); }  // wait_group 0: this thread's copies are its writes now

inline void named_barrier_sync(int id, int count) { emu::bar_sync(id, count); }
inline void grid_dep_wait() {}
inline void grid_dep_launch_dependents() {}

inline int ld_plain(const int* p) {
  emu::check_global(p, 4, "ld.global");
  return *p;
}

inline uint4 ld_global_v4(const void* p) {
  emu::check_global(p, 16, "ld.global.v4");
  if (reinterpret_cast<uintptr_t>(p) % 16 != 0) emu::fault("ld.global.v4 at %p: not 16-byte aligned (misaligned address on the GPU)", p);
  uint4 v;
  std::memcpy(&v, p, 16);
  return v;
}

// CTAs run one after the other here: the fence has nothing to order, the atomic nothing to race with
inline void fence_gpu() {}
inline uint32_t atomic_inc_gpu(uint32_t* p, uint32_t limit) {
  emu::check_global(p, 4, "atom.global.inc");
  const uint32_t old = *p;
  *p = old >= limit ? 0 : old + 1;
  return old;
}
inline float ld_cg_f32(const float* p) {
  emu::check_global(p, 4, "ld.global.cg");
  return *p;
}
inline float4 ld_cg_v4f(const float* p) {
  emu::check_global(p, 16, "ld.global.cg.v4");
  float4 v;
  std::memcpy(&v, p, 16);
  return v;
}

inline float exp2_approx(float x) { return std::exp2(x); }
inline float log2_approx(float x) { return std::log2(x); }

}  // namespace ptx
