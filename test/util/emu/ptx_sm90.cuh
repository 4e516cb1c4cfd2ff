// Host stand-in for kernels/ptx_sm90.cuh (the Hopper instructions; emu_runtime.h says how the emulation works, emu.cpp
// does it). wgmma_desc is the real file's function, character for character: the build (test/util/fake-cuda.ts)
// checks that, so the descriptors the emulator decodes are the ones the kernel encodes on the GPU.
#pragma once
#include <cstdint>

#include "emu_runtime.h"
#include "fp8_e4m3.cuh"  // kernels/: the e4m3 decoding of the portable FP8 kernels, exact (test/fp8-kernel-arith.test.ts)
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
inline bool mbarrier_test_wait(uint32_t bar, uint32_t parity) { return emu::mbarrier_test_wait(bar, parity); }
inline void tma_load_3d(uint32_t dst, const void* tmap, uint32_t bar, int c0, int c1, int c2, EMU_CALLER) {
  const int c[3] = {c0, c1, c2};
  emu::tma_load(dst, tmap, bar, c, 3, EMU_SITE(kAccTma));
}
inline void mbarrier_expect_tx(uint32_t bar, uint32_t bytes) { emu::mbarrier_expect_tx(bar, bytes); }
// an L2 hint: nothing to emulate but the address range, which must lie in a live allocation
inline void prefetch_l2_bulk(const void* src, uint32_t bytes) { emu::check_global(src, bytes, "cp.async.bulk.prefetch.L2"); }
inline void bulk_load(uint32_t dst, const void* src, uint32_t bytes, uint32_t bar, EMU_CALLER) { emu::bulk_load(dst, src, bytes, bar, EMU_SITE(kAccBulkCopy)); }
inline void stmatrix_x4(uint32_t addr, const uint32_t (&r)[4], EMU_CALLER) { emu::stmatrix_x4(addr, r, EMU_SITE(kAccStShared)); }
inline void st_shared_zero16(uint32_t addr, EMU_CALLER) {
  const uint4 z = make_uint4(0, 0, 0, 0);
  emu::shared_store(addr, &z, 16, EMU_SITE(kAccStShared));
}
inline uint32_t opaque_u32(uint32_t x) { return x; }  // (a plain copy on the host)
inline void named_barrier_arrive(int id, int count) { emu::bar_arrive(id, count); }
inline void prefetch_tensormap(const void*) {}

// ---- 2-CTA clusters (the paired sparse entry): emu.cpp runs a cluster's CTAs together ----------------------------
inline uint32_t cluster_ctarank() { return emu::cluster_ctarank(); }
inline uint32_t mapa_shared(uint32_t addr, uint32_t rank) { return emu::mapa_shared(addr, rank); }
inline void mbarrier_arrive_remote(uint32_t bar) { emu::mbarrier_arrive_remote(bar); }
// (acquire at cluster scope: one memory here, the wait is the plain one)
inline void mbarrier_wait_cluster(uint32_t bar, uint32_t parity) { emu::mbarrier_wait(bar, parity); }
inline void bulk_push(uint32_t dst, uint32_t src, uint32_t bytes, uint32_t bar, EMU_CALLER) { emu::bulk_push(dst, src, bytes, bar, EMU_SITE(kAccBulkCopy)); }
inline void st_async_v4(uint32_t dst, uint4 v, uint32_t bar, EMU_CALLER) { emu::st_async(dst, &v, bar, EMU_SITE(kAccStAsync)); }
inline void cluster_sync() { emu::cluster_sync(); }

// ---- warp specialisation and FP8 (the FP8-cache variant of the Hopper decode kernel) ----------------------------
// setmaxnreg re-sizes a warpgroup's register file: nothing to emulate (the host has registers enough). The bounds the
// instruction takes are checked at compile time, as ptxas would.
template <int N>
inline void setmaxnreg_inc() { static_assert(N >= 24 && N <= 256 && N % 8 == 0, "setmaxnreg: a multiple of 8 in [24, 256]"); }
template <int N>
inline void setmaxnreg_dec() { static_assert(N >= 24 && N <= 256 && N % 8 == 0, "setmaxnreg: a multiple of 8 in [24, 256]"); }
// mbarrier.arrive (no transaction bytes): one arrival of the current phase.
inline void mbarrier_arrive(uint32_t bar) { emu::mbarrier_arrive(bar); }
// Four e4m3 codes (byte 0 = channel 0) times a scale, rounded to bf16 (nearest even), as two bf16x2 words in channel
// order (word 0's low half = channel 0). What the real one's cvt.rn.f16x2.e4m3x2 → cvt.f32.f16 → mul.rn.f32 →
// cvt.rn.bf16x2.f32 computes: the e4m3 value exactly (fp8::e4m3_value, as the portable kernels decode it), one float32
// multiply rounded to nearest (exact for the quantizer's power-of-two scales), then bf16; NaN codes (or a NaN scale)
// give the canonical bf16 NaN 0x7fff, as cvt.rn.bf16x2.f32 writes it.
inline uint2 e4m3x4_to_bf16x4(uint32_t codes, float scale) {
  uint16_t h[4];
  for (int i = 0; i < 4; ++i) {
    const float v = __fmul_rn(fp8::e4m3_value((codes >> (8 * i)) & 0xffu), scale);
    h[i] = std::isnan(v) ? static_cast<uint16_t>(0x7fffu) : emu_float_to_bf16_bits(v);
  }
  return make_uint2(h[0] | (static_cast<uint32_t>(h[1]) << 16), h[2] | (static_cast<uint32_t>(h[3]) << 16));
}

// e4m3x4_to_bf16x4_pow2, instruction for instruction: prmt with sign replication, shl, and, then each bf16 half
// times the multiplier's (the product of two bf16s is exact in double; rounded to bf16, nearest even, subnormals kept).
inline uint2 e4m3x4_to_bf16x4_pow2(uint32_t codes, uint32_t mul) {
  auto sext16 = [](uint32_t byte) { return (byte & 0xffu) | ((byte & 0x80u) ? 0xff00u : 0u); };
  auto bf16_mul = [](uint32_t a, uint32_t b) -> uint32_t {
    float fa, fb;
    const uint32_t ua = a << 16, ub = b << 16;
    std::memcpy(&fa, &ua, 4), std::memcpy(&fb, &ub, 4);
    const double prod = static_cast<double>(fa) * static_cast<double>(fb);  // ≤ 16 significant bits: exact
    if (std::isnan(prod)) return 0x7fffu;
    if (std::fabs(prod) >= 0x1p-126) return emu_float_to_bf16_bits(static_cast<float>(prod));  // exact in float
    const uint32_t q = static_cast<uint32_t>(std::nearbyint(std::fabs(prod) * 0x1p133));  // subnormal quanta, nearest even
    return (std::signbit(prod) ? 0x8000u : 0u) | q;
  };
  uint32_t w[2];
  for (int k = 0; k < 2; ++k) {
    const uint32_t t = sext16(codes >> (16 * k)) | (sext16(codes >> (16 * k + 8)) << 16);
    const uint32_t x = (t << 4) & 0x87f087f0u;
    w[k] = bf16_mul(x & 0xffffu, mul & 0xffffu) | (bf16_mul(x >> 16, mul >> 16) << 16);
  }
  return make_uint2(w[0], w[1]);
}
inline uint32_t pow2_scale_multiplier(float scale) {
  uint32_t bits;
  std::memcpy(&bits, &scale, 4);
  const uint32_t e = bits >> 23, m16 = (bits + (120u << 23)) >> 16;
  return (bits & 0x007fffffu) == 0 && e >= 127 - 117 && e <= 127 + 7 ? m16 | (m16 << 16) : 0u;
}

// Four e4m3 codes as f16, exactly (every e4m3 value is an f16 normal or zero), two f16x2 words in channel order; NaN
// codes give the f16 NaN 0x7fff. What cvt.rn.f16x2.e4m3x2 computes.
inline uint2 e4m3x4_to_f16x4(uint32_t codes) {
  uint16_t h[4];
  for (int i = 0; i < 4; ++i) {
    const float v = fp8::e4m3_value((codes >> (8 * i)) & 0xffu);
    h[i] = std::isnan(v) ? static_cast<uint16_t>(0x7fffu) : emu_float_to_half_bits(v);
  }
  return make_uint2(h[0] | (static_cast<uint32_t>(h[1]) << 16), h[2] | (static_cast<uint32_t>(h[3]) << 16));
}
// mul.rn.f16x2: each half's product (exact in float: 11 × 11 bits) rounded to f16.
inline uint32_t mul_f16x2(uint32_t a, uint32_t b) {
  const float lo = __half2float(__half{static_cast<uint16_t>(a & 0xffffu)}) * __half2float(__half{static_cast<uint16_t>(b & 0xffffu)});
  const float hi = __half2float(__half{static_cast<uint16_t>(a >> 16)}) * __half2float(__half{static_cast<uint16_t>(b >> 16)});
  return emu_float_to_half_bits(lo) | (static_cast<uint32_t>(emu_float_to_half_bits(hi)) << 16);
}
// cvt.rn.f16x2.f32: two floats rounded to f16 (nearest even), lo in the low half.
inline uint32_t f32x2_to_f16x2(float lo, float hi) { return emu_float_to_half_bits(lo) | (static_cast<uint32_t>(emu_float_to_half_bits(hi)) << 16); }

}  // namespace ptx
