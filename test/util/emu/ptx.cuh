// Host stand-in for kernels/ptx.cuh (test/util/emu/emu_runtime.h says how the emulation works): the same functions,
// built on the emulated CTA. The test copies kernels/ into a scratch folder with this file in place of the real one.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "emu_runtime.h"

namespace emu {
void mma_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1, bool bf16);
void ldmatrix_x4(uint32_t (&r)[4], uint32_t addr, bool trans);
void cp_async_16(uint32_t dst, const void* src, int src_bytes);
}  // namespace emu

namespace ptx {

inline uint32_t smem_addr(const void* p) { return emu::shared_offset(p); }

inline void mma_bf16_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) { emu::mma_16816(d, a, b0, b1, true); }
inline void mma_f16_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) { emu::mma_16816(d, a, b0, b1, false); }
inline void ldmatrix_x4(uint32_t (&r)[4], uint32_t addr) { emu::ldmatrix_x4(r, addr, false); }
inline void ldmatrix_x4_trans(uint32_t (&r)[4], uint32_t addr) { emu::ldmatrix_x4(r, addr, true); }

inline void st_shared_u32(uint32_t addr, uint32_t v) {
  emu::check_shared_write(addr, 4, "st.shared");
  std::memcpy(emu::shared_ptr(addr, 4), &v, 4);
}
inline void st_shared_f32(uint32_t addr, float v) {
  emu::check_shared_write(addr, 4, "st.shared");
  std::memcpy(emu::shared_ptr(addr, 4), &v, 4);
}
inline float ld_shared_f32(uint32_t addr) { float v; std::memcpy(&v, emu::shared_ptr(addr, 4), 4); return v; }
inline uint32_t ld_shared_u32(uint32_t addr) { uint32_t v; std::memcpy(&v, emu::shared_ptr(addr, 4), 4); return v; }
// vector accesses must be aligned to their size, or the GPU faults (misaligned address)
inline uint8_t* shared_vec(uint32_t addr, uint32_t bytes) {
  if (addr % bytes) emu::fault("a %u-byte shared access at 0x%x: misaligned", bytes, addr);
  return emu::shared_ptr(addr, bytes);
}
inline uint2 ld_shared_v2(uint32_t addr) { uint2 v; std::memcpy(&v, shared_vec(addr, 8), 8); return v; }
inline uint4 ld_shared_v4(uint32_t addr) { uint4 v; std::memcpy(&v, shared_vec(addr, 16), 16); return v; }
inline void st_shared_v4(uint32_t addr, uint4 v) {
  emu::check_shared_write(addr, 16, "st.shared.v4");
  std::memcpy(shared_vec(addr, 16), &v, 16);
}

inline void cp_async_16(uint32_t dst, const void* src, int src_bytes) { emu::cp_async_16(dst, src, src_bytes); }
inline void cp_async_commit() {}
inline void cp_async_wait_all() {}

inline void named_barrier_sync(int id, int count) { emu::bar_sync(id, count); }
inline void grid_dep_wait() {}
inline void grid_dep_launch_dependents() {}

inline int ld_plain(const int* p) {
  emu::check_global(p, 4, "ld.global");
  return *p;
}

inline float exp2_approx(float x) { return std::exp2(x); }
inline float log2_approx(float x) { return std::log2(x); }

}  // namespace ptx
