// Hopper-only PTX (sm_90a): warpgroup MMA (wgmma) and its shared-memory matrix descriptors.
#pragma once
#include <cstdint>

#include "ptx_wgmma.cuh"

namespace ptx {

// Shared-memory matrix descriptor (PTX ISA "Matrix Descriptor Format"), all addresses/offsets in bytes:
// start address >> 4 in bits [0,14), leading-dimension byte offset >> 4 in [16,30), stride-dimension byte
// offset >> 4 in [32,46), swizzle mode in [62,64) (0 none/interleave, 1 128B, 2 64B, 3 32B).
__device__ __forceinline__ uint64_t wgmma_desc(uint32_t smem_addr, uint32_t lbo, uint32_t sbo, uint32_t swizzle) {
  return (uint64_t)((smem_addr & 0x3FFFF) >> 4) | ((uint64_t)((lbo & 0x3FFFF) >> 4) << 16) |
         ((uint64_t)((sbo & 0x3FFFF) >> 4) << 32) | ((uint64_t)swizzle << 62);
}

__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void wgmma_wait() { asm volatile("wgmma.wait_group.sync.aligned %0;\n" :: "n"(N) : "memory"); }

// The wgmma.mma_async wrappers themselves are generated: ptx_wgmma.cuh (scripts/gen-wgmma.mjs).

// ---- mbarrier and the tensor-memory-access (TMA) engine -----------------------------------------------------
__device__ __forceinline__ void mbarrier_init(uint32_t bar, uint32_t count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" :: "r"(bar), "r"(count) : "memory");
}
// Make initialised barriers visible to the async proxy (TMA) before first use.
__device__ __forceinline__ void fence_barrier_init() { asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory"); }
// Generic-proxy writes to smem (st.shared, cp.async) → visible to wgmma / TMA reads (async proxy).
__device__ __forceinline__ void fence_proxy_async() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }
__device__ __forceinline__ void mbarrier_arrive_expect_tx(uint32_t bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" :: "r"(bar), "r"(bytes) : "memory");
}
__device__ __forceinline__ void mbarrier_wait(uint32_t bar, uint32_t parity) {
  asm volatile(
      "{\n.reg .pred done;\nwait_%=:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
      "@!done bra wait_%=;\n}\n" :: "r"(bar), "r"(parity) : "memory");
}
// Whether the phase of parity `parity` of an mbarrier has completed, without waiting (acquires what it saw when true).
__device__ __forceinline__ bool mbarrier_test_wait(uint32_t bar, uint32_t parity) {
  uint32_t done;
  asm volatile("{\n.reg .pred p;\nmbarrier.test_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n" : "=r"(done) : "r"(bar), "r"(parity) : "memory");
  return done != 0;
}
// 3-D tiled TMA load global → shared completing on `bar` (box and swizzle come from the tensor map).
__device__ __forceinline__ void tma_load_3d(uint32_t dst, const void* tmap, uint32_t bar, int c0, int c1, int c2) {
  asm volatile(
      "cp.async.bulk.tensor.3d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4, %5}], [%2];\n"
      :: "r"(dst), "l"(tmap), "r"(bar), "r"(c0), "r"(c1), "r"(c2) : "memory");
}
// Named-barrier arrive without waiting (producer side of a bar.sync by other threads).
__device__ __forceinline__ void named_barrier_arrive(int id, int count) { asm volatile("bar.arrive %0, %1;\n" :: "r"(id), "r"(count) : "memory"); }
__device__ __forceinline__ void prefetch_tensormap(const void* tmap) { asm volatile("prefetch.tensormap [%0];\n" :: "l"(tmap) : "memory"); }

// Four 8 × 8 b16 matrices to shared memory: lane l gives the address of row l % 8 of matrix l / 8; r[i] is this lane's
// pair (row lane / 4, columns 2 · (lane % 4) + 0, 1) of matrix i — an mma/wgmma A fragment's layout.
__device__ __forceinline__ void stmatrix_x4(uint32_t addr, const uint32_t (&r)[4]) {
  asm volatile("stmatrix.sync.aligned.m8n8.x4.shared.b16 [%0], {%1, %2, %3, %4};\n" :: "r"(addr), "r"(r[0]), "r"(r[1]), "r"(r[2]), "r"(r[3]) : "memory");
}
// A 16-byte shared store of zeros.
__device__ __forceinline__ void st_shared_zero16(uint32_t addr) {
  asm volatile("st.shared.v4.b32 [%0], {%1, %1, %1, %1};\n" :: "r"(addr), "r"(0) : "memory");
}
// x through an opaque move: the compiler cannot see that it is loop-invariant (mla_sm90_math.cuh, opaque()).
__device__ __forceinline__ uint32_t opaque_u32(uint32_t x) {
  uint32_t y;
  asm volatile("mov.b32 %0, %1;\n" : "=r"(y) : "r"(x));
  return y;
}

// ---- warp specialisation and FP8 (the FP8-cache variant of the Hopper decode kernel) ----------------------------
// Re-size this warpgroup's register file (every warp of the warpgroup executes it; multiples of 8 in [24, 256]).
template <int N>
__device__ __forceinline__ void setmaxnreg_inc() { asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" :: "n"(N)); }
template <int N>
__device__ __forceinline__ void setmaxnreg_dec() { asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" :: "n"(N)); }
// Plain arrive (no transaction bytes) on an mbarrier.
__device__ __forceinline__ void mbarrier_arrive(uint32_t bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" :: "r"(bar) : "memory");
}
// Transaction bytes the current phase of an mbarrier will wait for, without an arrival.
__device__ __forceinline__ void mbarrier_expect_tx(uint32_t bar, uint32_t bytes) {
  asm volatile("mbarrier.expect_tx.relaxed.cta.shared::cta.b64 [%0], %1;\n" :: "r"(bar), "r"(bytes) : "memory");
}
// Bulk copy of `bytes` (a multiple of 16; both addresses 16-byte aligned) global → shared, completing on `bar`.
__device__ __forceinline__ void bulk_load(uint32_t dst, const void* src, uint32_t bytes, uint32_t bar) {
  asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];\n"
               :: "r"(dst), "l"(src), "r"(bytes), "r"(bar) : "memory");
}
// A hint: bring [src, src + bytes) into L2 (16-byte aligned, a multiple of 16), no shared memory, no completion.
__device__ __forceinline__ void prefetch_l2_bulk(const void* src, uint32_t bytes) {
  asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;\n" :: "l"(src), "r"(bytes) : "memory");
}
// Four e4m3 codes (byte 0 = first channel) times a scale, rounded to bf16, as two bf16x2 words in channel order.
// e4m3 → f16 and f16 → f32 are exact, the multiply is exact for the power-of-two tile scales (and not flushed:
// no .ftz, whatever --use_fast_math does to C++ arithmetic), f32 → bf16 rounds to nearest even; NaN stays NaN. (An
// integer-only variant — prmt, shifts, two mul.rn.bf16x2 — was 25 % slower on an H200: docs/perf-log.md, session 6.)
__device__ __forceinline__ uint2 e4m3x4_to_bf16x4(uint32_t codes, float scale) {
  uint2 r;
  asm("{\n.reg .b16 c01, c23, h0, h1, h2, h3;\n.reg .b32 p01, p23;\n.reg .f32 f0, f1, f2, f3;\n"
      "mov.b32 {c01, c23}, %2;\n"
      "cvt.rn.f16x2.e4m3x2 p01, c01;\ncvt.rn.f16x2.e4m3x2 p23, c23;\n"
      "mov.b32 {h0, h1}, p01;\nmov.b32 {h2, h3}, p23;\n"
      "cvt.f32.f16 f0, h0;\ncvt.f32.f16 f1, h1;\ncvt.f32.f16 f2, h2;\ncvt.f32.f16 f3, h3;\n"
      "mul.rn.f32 f0, f0, %3;\nmul.rn.f32 f1, f1, %3;\nmul.rn.f32 f2, f2, %3;\nmul.rn.f32 f3, f3, %3;\n"
      "cvt.rn.bf16x2.f32 %0, f1, f0;\ncvt.rn.bf16x2.f32 %1, f3, f2;\n}\n"
      : "=r"(r.x), "=r"(r.y) : "r"(codes), "f"(scale));
  return r;
}

// Four e4m3 codes times a power-of-two scale, rounded to bf16, without the conversion unit (8 instructions where
// e4m3x4_to_bf16x4 takes 12): the code s.eeee.mmm, sign-extended to 16 bits (prmt), shifted left 4 and masked, is the
// bf16 s.0000eeee.mmm0000, which reads as the code's value · 2^-120 exactly (subnormal codes included), and one bf16
// multiply by `mul` (scale · 2^120 in both halves, pow2_scale_multiplier) makes the product exact. Only for what
// pow2_scale_multiplier accepts; the NaN codes 0x7f / 0xff read as ±480 · scale (every quantizer writes a NaN scale
// for a tile holding a NaN, so no cache it writes has a NaN code under a finite scale).
__device__ __forceinline__ uint2 e4m3x4_to_bf16x4_pow2(uint32_t codes, uint32_t mul) {
  uint2 r;
  asm("{\n.reg .b32 lo, hi;\n"
      "prmt.b32 lo, %2, 0, 0x9180;\nprmt.b32 hi, %2, 0, 0xB3A2;\n"
      "shl.b32 lo, lo, 4;\nshl.b32 hi, hi, 4;\n"
      "and.b32 lo, lo, 0x87F087F0;\nand.b32 hi, hi, 0x87F087F0;\n"
      "mul.rn.bf16x2 %0, lo, %3;\nmul.rn.bf16x2 %1, hi, %3;\n}\n"
      : "=r"(r.x), "=r"(r.y) : "r"(codes), "r"(mul));
  return r;
}
// The bf16x2 multiplier of e4m3x4_to_bf16x4_pow2 for `scale` (scale · 2^120 in both halves), or 0 where that path
// would not be exact: a scale that is not a power of two in [2^-117, 2^7] (NaN, ±inf, 0, negative, larger, smaller —
// where a product could be a bf16 subnormal — or with mantissa bits) takes e4m3x4_to_bf16x4.
__device__ __forceinline__ uint32_t pow2_scale_multiplier(float scale) {
  const uint32_t bits = __float_as_uint(scale), e = bits >> 23;  // sign and exponent
  const uint32_t m16 = (bits + (120u << 23)) >> 16;
  return (bits & 0x007fffffu) == 0 && e >= 127 - 117 && e <= 127 + 7 ? m16 | (m16 << 16) : 0u;
}

// Four e4m3 codes (byte 0 = first channel) as f16, exactly (e4m3 ⊂ f16), as two f16x2 words in channel order: the
// small-row kernel's f16 FP8 entry (the scales are applied to S and P, not to K).
__device__ __forceinline__ uint2 e4m3x4_to_f16x4(uint32_t codes) {
  uint2 r;
  asm("{\n.reg .b16 c01, c23;\nmov.b32 {c01, c23}, %2;\ncvt.rn.f16x2.e4m3x2 %0, c01;\ncvt.rn.f16x2.e4m3x2 %1, c23;\n}\n" : "=r"(r.x), "=r"(r.y) : "r"(codes));
  return r;
}
// Two f16 products (nearest even), lane by lane.
__device__ __forceinline__ uint32_t mul_f16x2(uint32_t a, uint32_t b) {
  uint32_t d;
  asm("mul.rn.f16x2 %0, %1, %2;\n" : "=r"(d) : "r"(a), "r"(b));
  return d;
}
// Two floats rounded to f16 (nearest even) as one f16x2 word, lo in the low half.
__device__ __forceinline__ uint32_t f32x2_to_f16x2(float lo, float hi) {
  uint32_t r;
  asm("cvt.rn.f16x2.f32 %0, %2, %1;\n" : "=r"(r) : "f"(lo), "f"(hi));
  return r;
}

// ---- 2-CTA clusters (the paired sparse entry: each CTA of a pair dequantises half of a block for both) ------------
// This CTA's rank in its cluster.
__device__ __forceinline__ uint32_t cluster_ctarank() {
  uint32_t r;
  asm volatile("mov.u32 %0, %%cluster_ctarank;\n" : "=r"(r));
  return r;
}
// The shared::cluster address of `addr` (a shared::cta address of this CTA) in the shared memory of CTA `rank`.
__device__ __forceinline__ uint32_t mapa_shared(uint32_t addr, uint32_t rank) {
  uint32_t r;
  asm volatile("mapa.shared::cluster.u32 %0, %1, %2;\n" : "=r"(r) : "r"(addr), "r"(rank));
  return r;
}
// One arrival on an mbarrier of another CTA of the cluster (`bar` from mapa_shared), releasing this thread's prior
// accesses at cluster scope.
__device__ __forceinline__ void mbarrier_arrive_remote(uint32_t bar) {
  asm volatile("mbarrier.arrive.release.cluster.shared::cluster.b64 _, [%0];\n" :: "r"(bar) : "memory");
}
// mbarrier_wait acquiring at cluster scope: what the other CTA's threads did before their (remote) arrivals.
__device__ __forceinline__ void mbarrier_wait_cluster(uint32_t bar, uint32_t parity) {
  asm volatile(
      "{\n.reg .pred done;\nwait_%=:\n"
      "mbarrier.try_wait.parity.acquire.cluster.shared::cta.b64 done, [%0], %1;\n"
      "@!done bra wait_%=;\n}\n" :: "r"(bar), "r"(parity) : "memory");
}
// Bulk copy of `bytes` (a multiple of 16, both 16-byte aligned) from this CTA's shared memory to another CTA's
// (`dst` and `bar` from mapa_shared), completing on that CTA's mbarrier `bar`.
__device__ __forceinline__ void bulk_push(uint32_t dst, uint32_t src, uint32_t bytes, uint32_t bar) {
  asm volatile("cp.async.bulk.shared::cluster.shared::cta.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];\n"
               :: "r"(dst), "r"(src), "r"(bytes), "r"(bar) : "memory");
}
// 16 bytes from registers into another CTA's shared memory (`dst` and `bar` from mapa_shared), completing there as
// transaction bytes on its mbarrier `bar`: no source in this CTA's shared memory that a later write could race with.
__device__ __forceinline__ void st_async_v4(uint32_t dst, uint4 v, uint32_t bar) {
  asm volatile("st.async.shared::cluster.mbarrier::complete_tx::bytes.v4.b32 [%0], {%1, %2, %3, %4}, [%5];\n"
               :: "r"(dst), "r"(v.x), "r"(v.y), "r"(v.z), "r"(v.w), "r"(bar) : "memory");
}
// Every thread of the cluster: arrive (releasing this thread's prior accesses), then wait for all to have arrived.
__device__ __forceinline__ void cluster_sync() {
  asm volatile("barrier.cluster.arrive.release.aligned;\nbarrier.cluster.wait.acquire.aligned;\n" ::: "memory");
}

}  // namespace ptx
