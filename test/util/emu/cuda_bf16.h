// Host stand-in for cuda_bf16.h / cuda_fp16.h (what flash-mla's kernels use of them): 16-bit storage types and the
// round-to-nearest-even pair conversions (NaN stays NaN, overflow goes to ±inf, fp16 subnormals kept).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

struct __nv_bfloat16 { uint16_t x; };
struct __nv_bfloat162 { __nv_bfloat16 x, y; };  // x: the low half
struct __half { uint16_t x; };
struct __half2 { __half x, y; };

inline uint16_t emu_float_to_bf16_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

inline uint16_t emu_float_to_half_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return sign | 0x7e00u;   // NaN
  if (a >= 0x477ff000u) return sign | 0x7c00u;  // ≥ 65520 rounds to inf
  const int e = static_cast<int>(a >> 23) - 127;
  if (e < -25) return sign;                     // below half the smallest subnormal: ±0
  const uint32_t mant = (a & 0x7fffffu) | 0x800000u;
  // value = mant · 2^(e − 23); an fp16 of exponent max(e, −14) keeps 10 fraction bits: shift by 13 + (−14 − e)⁺
  const int shift = e < -14 ? 13 + (-14 - e) : 13;
  const uint32_t q = mant >> shift, rem = mant & ((1u << shift) - 1), halfway = 1u << (shift - 1);
  uint32_t r = q + (rem > halfway || (rem == halfway && (q & 1u)) ? 1u : 0u);
  if (e < -14) return sign | static_cast<uint16_t>(r);  // subnormal (r may carry into the smallest normal: still right)
  r += static_cast<uint32_t>(e + 15 - 1) << 10;          // q holds the implicit 1 at bit 10: add (biased exponent − 1)
  return sign | static_cast<uint16_t>(r);
}

inline __nv_bfloat162 __floats2bfloat162_rn(float lo, float hi) { return {{emu_float_to_bf16_bits(lo)}, {emu_float_to_bf16_bits(hi)}}; }
inline __nv_bfloat16 __float2bfloat16(float f) { return {emu_float_to_bf16_bits(f)}; }
inline __half2 __floats2half2_rn(float lo, float hi) { return {{emu_float_to_half_bits(lo)}, {emu_float_to_half_bits(hi)}}; }

// the fp16 intrinsics kernels/fp8_e4m3.cuh uses: bits → __half, and its exact value
inline __half __ushort_as_half(unsigned short v) { return __half{v}; }
inline float __half2float(__half h) {
  const int e = (h.x >> 10) & 31, m = h.x & 1023;
  const float s = (h.x & 0x8000) ? -1.f : 1.f;
  if (e == 31) return m ? NAN : s * INFINITY;
  return e == 0 ? s * std::ldexp(float(m), -24) : s * std::ldexp(float(1024 + m), e - 25);
}
