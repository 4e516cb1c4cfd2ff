// fp8 e4m3 (OCP e4m3fn: bias 7, no infinities, NaN = 0x7f/0xff) in integer arithmetic, and the tile scale of
// FlashMLA's V3.2 quantizer — bit for bit what the cpu backend computes (src/dtype.ts, src/kvcache/fp8.ts).
//
// Why not the hardware conversions: cvt.*.e4m3x2 exist from sm_89 only (these kernels also run on sm_80 and
// ship compute_80 PTX), and the kernels build with --use_fast_math, whose flush-to-zero would lose e4m3 and fp16
// subnormals in float arithmetic. Every float operation below is exact on normal operands and results, or its
// operand is a power of two chosen so that flushing cannot change the outcome.
#pragma once
#include <cstdint>
#include <cuda_fp16.h>

namespace fp8 {

constexpr float kE4m3Max = 448.f;
constexpr uint32_t kCanonicalNaN = 0x7fc00000u;  // the float32 NaN the cpu writes for a NaN tile (V8's DataView)

// Value of a 16-bit float (bf16 or fp16) given as bits, exactly (fp16 subnormals are normal float32s).
template <bool kBf16>
__device__ __forceinline__ float half_bits_value(uint32_t h) {
  if constexpr (kBf16) {
    return __uint_as_float(h << 16);
  } else {
    return __half2float(__ushort_as_half(static_cast<unsigned short>(h)));
  }
}

// The bits of the largest magnitude among 16-bit values, from the max of their `bits & 0x7fff`: for both formats
// the magnitude bits order like the magnitudes, NaN above ±inf. Returns the magnitude as a float and whether it is
// NaN / infinite.
template <bool kBf16>
__device__ __forceinline__ float half_magnitude(uint32_t mag_bits, bool& is_nan, bool& is_inf) {
  constexpr uint32_t kInfBits = kBf16 ? 0x7f80u : 0x7c00u;
  is_nan = mag_bits > kInfBits;
  is_inf = mag_bits == kInfBits;
  return half_bits_value<kBf16>(mag_bits);
}

// Scale of a 128-channel tile from its largest magnitude: the smallest power of two ≥ max(amax / 448, 1e-4), the
// division rounded to float32 (src/kvcache/fp8.ts fp8TileScale). NaN → NaN (0x7fc00000), +inf → +inf.
// amax / 448 with div.rn: a float32 division correctly rounded, as the cpu's float64 division rounded to float32
// is (53 ≥ 2·24 + 2 bits: no double-rounding error). Flushing a subnormal amax or quotient gives 0, which the clamp
// at 1e-4 turns into what the exact value would give.
__device__ __forceinline__ float tile_scale(float amax, bool is_nan, bool is_inf) {
  if (is_nan) return __uint_as_float(kCanonicalNaN);
  if (is_inf) return __uint_as_float(0x7f800000u);
  const float q = fmaxf(__fdiv_rn(amax, kE4m3Max), 1e-4f);  // normal, < 2^127
  const uint32_t bits = __float_as_uint(q);
  const uint32_t pow2 = bits & 0x7f800000u;
  return __uint_as_float((bits & 0x007fffffu) ? pow2 + 0x00800000u : pow2);  // q itself when it is a power of two
}

// e4m3 code of x, rounded to nearest, ties to even; |x| ≥ 448 (and ±inf) saturate to ±448 (0x7e / 0xfe); NaN →
// 0x7f; the sign of zero is kept (src/dtype.ts float32ToFp8e4m3Bits).
__device__ __forceinline__ uint32_t e4m3_code(float x) {
  const uint32_t bits = __float_as_uint(x);
  const uint32_t sign = (bits >> 24) & 0x80u;
  const uint32_t mag = bits & 0x7fffffffu;
  if (mag > 0x7f800000u) return 0x7fu;
  if (mag >= 0x43e00000u) return sign | 0x7eu;  // 448
  uint32_t code;
  if (mag < 0x3c800000u) {
    // below 2^-6, the smallest normal: subnormal codes m · 2^-9, m = |x| · 2^9 rounded half to even (m = 8 is the
    // smallest normal, code 0x08). |x| · 512 is exact; a flushed subnormal |x| (< 2^-126) rounds to 0 either way.
    code = __float2uint_rn(__fmul_rn(__uint_as_float(mag), 512.f));
  } else {
    // normal: exponent e - 127 + 7 and the top 3 mantissa bits, then round the 20 dropped bits half to even
    // (a carry out of the mantissa bumps the exponent, as it should; |x| < 448 keeps it ≤ 0x7e)
    code = (mag - (120u << 23)) >> 20;
    const uint32_t rest = mag & 0xfffffu;
    code += (rest > 0x80000u || (rest == 0x80000u && (code & 1u))) ? 1u : 0u;
  }
  return sign | code;
}

// Value of an e4m3 code, exactly: normal codes (1 + m/8) · 2^(e−7) by placing e and m in a float32 and moving the
// exponent bias from 127 to 7; subnormal codes m · 2^-9; 0x7f/0xff NaN. Every result is a normal float or zero.
__device__ __forceinline__ float e4m3_value(uint32_t code) {
  const uint32_t mag = code & 0x7fu;
  float v = mag >= 8 ? __uint_as_float((mag << 20) + (120u << 23)) : static_cast<float>(mag) * 0.001953125f;
  v = mag == 0x7fu ? __uint_as_float(kCanonicalNaN) : v;
  return __uint_as_float(__float_as_uint(v) | ((code & 0x80u) << 24));
}

}  // namespace fp8
