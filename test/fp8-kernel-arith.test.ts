// The integer/float arithmetic the FP8 kernels use (kernels/fp8_e4m3.cuh: e4m3 encode and decode, the tile scale),
// compiled for the host with stand-ins for the CUDA intrinsics, checked bit for bit against the cpu backend's code
// (src/dtype.ts, src/kvcache/fp8.ts) without a GPU: every e4m3 code, every bf16 and fp16 value, every midpoint
// between neighbouring e4m3 values and its float32 neighbours, random float32s, every tile magnitude, and whole
// rows quantized the way append_kv_fp8.cu composes these functions. The host does not flush subnormals to zero as
// the --use_fast_math kernels do; the header's comments say why flushing cannot change a result, and the GPU test
// (test/fp8-sparse-gpu.test.ts) compares the kernels' bytes with the cpu's.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { float32ToFp8e4m3Bits, fp8e4m3BitsToFloat32, fp8TileScale, quantizeFp8Row } from '../src/index.js';
import { float32ToBf16Bits, halfDecodeTable } from '../src/dtype.js';
import { freshSeed, rng } from './util/problem.js';

const kernelsDir = fileURLToPath(new URL('../../kernels/', import.meta.url));
const cxx = ['g++', 'c++', 'clang++'].find((c) => spawnSync(c, ['--version']).status === 0);

// cuda_fp16.h stand-in (found first on the include path) and the intrinsics fp8_e4m3.cuh calls, IEEE round to nearest
const FP16_STUB = `#pragma once
#include <cstring>
#include <cmath>
struct __half { unsigned short x; };
inline __half __ushort_as_half(unsigned short v) { return __half{v}; }
inline float __half2float(__half h) {
  const int e = (h.x >> 10) & 31, m = h.x & 1023;
  const float s = (h.x & 0x8000) ? -1.f : 1.f;
  if (e == 31) return m ? NAN : s * INFINITY;
  return e == 0 ? s * std::ldexp(float(m), -24) : s * std::ldexp(float(1024 + m), e - 25);
}`;

const HARNESS = `#include <cstdint>
#include <cstdio>
#include <cstring>
#include <cmath>
#include <vector>
#define __device__
#define __forceinline__ inline
#include <cuda_fp16.h>
inline float __uint_as_float(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }
inline uint32_t __float_as_uint(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __frcp_rn(float a) { return 1.f / a; }
inline unsigned __float2uint_rn(float a) { return (unsigned)std::nearbyint(a); }
#include "fp8_e4m3.cuh"

// one row the way append_kv_fp8.cu quantizes it (its 32 lanes and shuffles become loops over the 4 tiles)
template <bool kBf16>
void quantize_row(const uint16_t* latent, uint32_t* codes, float* scales) {
  for (int j = 0; j < 4; ++j) {
    uint32_t mag = 0;
    for (int c = 0; c < 128; ++c) mag = std::max<uint32_t>(mag, latent[128 * j + c] & 0x7fffu);
    bool is_nan, is_inf;
    const float amax = fp8::half_magnitude<kBf16>(mag, is_nan, is_inf);
    const float scale = fp8::tile_scale(amax, is_nan, is_inf);
    const float inv = __frcp_rn(scale);
    for (int c = 0; c < 128; ++c) codes[128 * j + c] = fp8::e4m3_code(__fmul_rn(fp8::half_bits_value<kBf16>(latent[128 * j + c]), inv));
    scales[j] = scale;
  }
}

// stdin: n float32 for e4m3_code, then m rows of 512 uint16 (bf16), m rows (fp16). stdout: uint32 results.
int main(int argc, char** argv) {
  const long n = atol(argv[1]), m = atol(argv[2]);
  std::vector<float> xs(n);
  std::vector<uint16_t> rows(2 * m * 512);
  if (fread(xs.data(), 4, n, stdin) != (size_t)n || fread(rows.data(), 2, rows.size(), stdin) != rows.size()) return 2;
  std::vector<uint32_t> out;
  for (uint32_t c = 0; c < 256; ++c) out.push_back(__float_as_uint(fp8::e4m3_value(c)));
  for (long i = 0; i < n; ++i) out.push_back(fp8::e4m3_code(xs[i]));
  for (uint32_t mag = 0; mag < 0x8000u; ++mag) {
    bool is_nan, is_inf;
    float a = fp8::half_magnitude<true>(mag, is_nan, is_inf);
    out.push_back(__float_as_uint(fp8::tile_scale(a, is_nan, is_inf)));
    a = fp8::half_magnitude<false>(mag, is_nan, is_inf);
    out.push_back(__float_as_uint(fp8::tile_scale(a, is_nan, is_inf)));
  }
  for (long r = 0; r < 2 * m; ++r) {
    uint32_t codes[512];
    float scales[4];
    if (r < m) quantize_row<true>(&rows[r * 512], codes, scales);
    else quantize_row<false>(&rows[r * 512], codes, scales);
    for (int c = 0; c < 512; ++c) out.push_back(codes[c]);
    for (int j = 0; j < 4; ++j) out.push_back(__float_as_uint(scales[j]));
  }
  fwrite(out.data(), 4, out.size(), stdout);
  return 0;
}
`;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const bitsOf = (x: number) => ((f32[0] = x), u32[0]);
const fromBits = (b: number) => ((u32[0] = b), f32[0]);
const hex = (x: number) => '0x' + (x >>> 0).toString(16);

/** Rows with what the quantizer must survive: NaN, ±inf, subnormals, zeros, huge and tiny tiles, ties. */
function specialRows(dtype: 'bf16' | 'fp16', r: () => number, count: number): Uint16Array {
  const nan = dtype === 'bf16' ? 0x7fc0 : 0x7e00;
  const inf = dtype === 'bf16' ? 0x7f80 : 0x7c00;
  const maxFinite = dtype === 'bf16' ? 0x7f7f : 0x7bff;
  const rows = new Uint16Array(count * 512);
  for (let i = 0; i < count; i++) {
    const row = rows.subarray(i * 512, (i + 1) * 512);
    for (let c = 0; c < 512; c++) {
      const tile = c >> 7;
      const kind = (i + tile) % 8;
      const x = (r() * 2 ** 32) >>> 0;
      const sign = (x & 1) << 15;
      if (kind === 0) row[c] = x & 0xffff; // any pattern (NaN and inf included)
      else if (kind === 1) row[c] = sign | (x >>> 16) % 0x0080; // subnormal and zero magnitudes (bf16: float32 subnormals)
      else if (kind === 2) row[c] = c % 128 === 5 ? sign | inf : sign | ((x >>> 8) % maxFinite);
      else if (kind === 3) row[c] = c % 128 === 9 ? nan : sign | ((x >>> 8) % maxFinite);
      else if (kind === 4) row[c] = 0;
      else if (kind === 5) row[c] = c % 128 === 0 ? maxFinite : sign | ((x >>> 8) % maxFinite); // the largest value
      else row[c] = sign | ((dtype === 'bf16' ? 0x3c00 : 0x2000) + ((x >>> 10) % 0x800)); // moderate values
    }
  }
  return rows;
}

test('kernels/fp8_e4m3.cuh on the host: bit for bit the cpu quantizer and decoder', { skip: cxx ? false : 'no C++ compiler on PATH' }, () => {
  const seed = freshSeed();
  const r = rng(seed);
  const dir = mkdtempSync(join(tmpdir(), 'flash-mla-fp8-arith-'));
  writeFileSync(join(dir, 'cuda_fp16.h'), FP16_STUB);
  writeFileSync(join(dir, 'harness.cpp'), HARNESS);
  const exe = join(dir, 'harness');
  const build = spawnSync(cxx!, ['-std=c++17', '-O1', '-ffp-contract=off', '-I', dir, '-I', kernelsDir, '-o', exe, join(dir, 'harness.cpp')], { encoding: 'utf8' });
  assert.equal(build.status, 0, build.stderr);

  // e4m3_code inputs: every bf16 and fp16 value, every e4m3 midpoint and its float32 neighbours, random float32s
  const xs: number[] = [];
  for (let h = 0; h < 0x10000; h++) xs.push(fromBits(h << 16));
  const fp16 = halfDecodeTable('fp16');
  for (let h = 0; h < 0x10000; h++) xs.push(fp16[h]);
  for (let c = 0; c < 0x7e; c++) {
    const mid = Math.fround((fp8e4m3BitsToFloat32(c) + fp8e4m3BitsToFloat32(c + 1)) / 2);
    const b = bitsOf(mid);
    for (const s of [0, 0x80000000]) for (const d of [-1, 0, 1]) xs.push(fromBits(((b + d) | s) >>> 0));
  }
  for (const v of [448, 464, 480, 1e9, Infinity, -Infinity, NaN, -0, 2 ** -6, 2 ** -9, 2 ** -10, 2 ** -126, 2 ** -149]) xs.push(v, -v);
  for (let i = 0; i < 200000; i++) {
    const e = 127 - 16 + Math.floor(r() * 26); // 2^-16 … 2^9
    xs.push(fromBits((((r() < 0.5 ? 1 : 0) << 31) | (e << 23) | ((r() * 2 ** 23) >>> 0)) >>> 0));
  }
  const m = 64;
  const bfRows = specialRows('bf16', r, m);
  const fpRows = specialRows('fp16', r, m);
  const input = Buffer.concat([Buffer.from(Float32Array.from(xs).buffer), Buffer.from(bfRows.buffer), Buffer.from(fpRows.buffer)]);
  const run = spawnSync(exe, [String(xs.length), String(m)], { input, maxBuffer: 1 << 28 });
  assert.equal(run.status, 0, run.stderr?.toString());
  const got = new Uint32Array(run.stdout.buffer, run.stdout.byteOffset, run.stdout.byteLength / 4);
  let k = 0;

  for (let c = 0; c < 256; c++, k++) {
    const want = fp8e4m3BitsToFloat32(c);
    const g = fromBits(got[k]);
    assert.ok(Object.is(g, want) || (Number.isNaN(g) && Number.isNaN(want)), `e4m3_value(${hex(c)}) = ${g}, cpu ${want}`);
  }
  for (let i = 0; i < xs.length; i++, k++) {
    const x = Math.fround(xs[i]);
    assert.equal(got[k], float32ToFp8e4m3Bits(x), `e4m3_code(${x} = ${hex(bitsOf(x))}) = ${hex(got[k])}, cpu ${hex(float32ToFp8e4m3Bits(x))} (seed ${seed})`);
  }
  const bf16 = halfDecodeTable('bf16');
  const scaleBits = (amax: number) => {
    const dv = new DataView(new ArrayBuffer(4));
    dv.setFloat32(0, fp8TileScale(amax), true); // how the cpu stores it
    return dv.getUint32(0, true);
  };
  for (let mag = 0; mag < 0x8000; mag++, k += 2) {
    assert.equal(got[k], scaleBits(bf16[mag]), `tile_scale(bf16 amax ${bf16[mag]}) = ${hex(got[k])}, cpu ${hex(scaleBits(bf16[mag]))}`);
    assert.equal(got[k + 1], scaleBits(fp16[mag]), `tile_scale(fp16 amax ${fp16[mag]}) = ${hex(got[k + 1])}, cpu ${hex(scaleBits(fp16[mag]))}`);
  }
  for (const [dtype, rows] of [['bf16', bfRows], ['fp16', fpRows]] as const) {
    const table = halfDecodeTable(dtype);
    for (let i = 0; i < m; i++, k += 516) {
      const latent = Float64Array.from(rows.subarray(i * 512, (i + 1) * 512), (h) => table[h]);
      const want = new Uint8Array(656);
      quantizeFp8Row(latent, 0, new Uint16Array(64), 0, want, 0);
      const scales = new DataView(want.buffer, 512, 16);
      for (let c = 0; c < 512; c++) assert.equal(got[k + c], want[c], `${dtype} row ${i}, channel ${c}: code ${hex(got[k + c])}, cpu ${hex(want[c])} (seed ${seed})`);
      for (let j = 0; j < 4; j++) assert.equal(got[k + 512 + j], scales.getUint32(4 * j, true), `${dtype} row ${i}, scale ${j} (seed ${seed})`);
    }
  }
  assert.equal(k, got.length);
  assert.ok(readFileSync(join(kernelsDir, 'append_kv_fp8.cu'), 'utf8').includes('fp8::e4m3_code(__fmul_rn(fp8::half_bits_value<kBf16>(h), inv))'), 'the harness composes the functions as append_kv_fp8.cu does');
});

/** A C++ program compiled for the host against the kernel emulator's headers (test/util/emu/) and kernels/, run: its
 * stdout as 32-bit words. */
function runEmuHarness(source: string): Uint32Array {
  const emuDir = fileURLToPath(new URL('../../test/util/emu/', import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'flash-mla-emu-harness-'));
  writeFileSync(join(dir, 'harness.cpp'), source);
  const exe = join(dir, 'harness');
  const build = spawnSync(cxx!, ['-std=c++17', '-O1', '-ffp-contract=off', '-w', '-I', emuDir, '-I', kernelsDir, '-o', exe, join(dir, 'harness.cpp')], { encoding: 'utf8' });
  assert.equal(build.status, 0, build.stderr);
  const run = spawnSync(exe, [], { maxBuffer: 1 << 24 });
  assert.equal(run.status, 0, String(run.stderr));
  return new Uint32Array(run.stdout.buffer, run.stdout.byteOffset, run.stdout.byteLength / 4);
}

// The kernel emulator's stand-in for the Hopper FP8 kernel's e4m3x4_to_bf16x4 (test/util/emu/ptx_sm90.cuh; the real
// one — cvt e4m3x2 → f16x2 → f32 · scale → bf16x2, or its integer variant — runs on a GPU only, where the suite checks
// it bit for bit against 'hopper' over the dequantised cache), which the emulated tests of mla_decode_sm90_fp8_bf16
// rest on: every code with power-of-two scales from the quantizer's range and past it, an infinite and a NaN scale —
// the channel order of the packing; values bit for bit the cpu's product rounded to bf16; NaN where the code or the
// product is NaN.
const EMU_SCALES = [1, 0.5, 2, 2 ** -13, 1024, 2 ** -17, 2 ** 100, 2 ** -30, Infinity, NaN];
const EMU_HARNESS = `#include <cstdio>
#include <cstring>
#include <vector>
#include "ptx_sm90.cuh"
int main() {
  const float scales[] = {${EMU_SCALES.map((x) => (Number.isNaN(x) ? '__builtin_nanf("")' : x === Infinity ? '__builtin_inff()' : `static_cast<float>(${x})`)).join(', ')}};
  std::vector<uint32_t> out;
  for (float s : scales)
    for (uint32_t c = 0; c < 256; c += 4) {
      const uint32_t codes = c | (c + 1) << 8 | (c + 2) << 16 | (c + 3) << 24;
      const uint2 v = ptx::e4m3x4_to_bf16x4(codes, s);
      out.push_back(v.x), out.push_back(v.y);
    }
  fwrite(out.data(), 4, out.size(), stdout);
  return 0;
}
`;

test("the emulator's e4m3x4_to_bf16x4 (Hopper FP8 kernel stand-in): every code × power-of-two scales, bit for bit the cpu's product rounded to bf16, NaN codes NaN, in channel order", { skip: cxx ? false : 'no C++ compiler on PATH' }, () => {
  const got = runEmuHarness(EMU_HARNESS);
  const isNanBits = (h: number) => (h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0;
  let k = 0;
  for (const s of EMU_SCALES.map(Math.fround)) {
    for (let c = 0; c < 256; c += 4, k += 2) {
      const lanes = [got[k] & 0xffff, got[k] >>> 16, got[k + 1] & 0xffff, got[k + 1] >>> 16];
      for (let i = 0; i < 4; ++i) {
        const x = Math.fround(fp8e4m3BitsToFloat32(c + i) * s);
        const what = `code ${hex(c + i)} × ${s}: got ${hex(lanes[i])}`;
        if (Number.isNaN(x)) assert.ok(isNanBits(lanes[i]), what);
        else assert.equal(hex(lanes[i]), hex(float32ToBf16Bits(x)), what);
      }
    }
  }
  assert.equal(k, got.length);
});

// The emulator's stand-in for e4m3x4_to_bf16x4_pow2 (prmt, shl, and, mul.rn.bf16x2 — the dense FP8 producer's path for
// power-of-two scales) and pow2_scale_multiplier, which picks it: every code under every power-of-two scale the
// multiplier accepts gives the bits of e4m3x4_to_bf16x4 (the cvt path, checked against the cpu above) — NaN codes
// excepted, which this path reads as ±480 · scale (no quantizer writes them under a finite scale); the multiplier is 0
// (the cvt path) for every other scale.
const POW2_SCALES = [1, 0.5, 2, 2 ** -13, 2 ** 7, 2 ** 8, 2 ** -17, 2 ** -117, 2 ** -118, 2 ** -126, 2 ** -127, 2 ** 100, 2 ** -30, 0.75, 3, 1e-4, 0, Infinity, NaN, -1];
const POW2_HARNESS = `#include <cstdio>
#include <cstring>
#include <vector>
#include "ptx_sm90.cuh"
int main() {
  const float scales[] = {${POW2_SCALES.map((x) => (Number.isNaN(x) ? '__builtin_nanf("")' : x === Infinity ? '__builtin_inff()' : `static_cast<float>(${x})`)).join(', ')}};
  std::vector<uint32_t> out;
  for (float s : scales) {
    const uint32_t mul = ptx::pow2_scale_multiplier(s);
    out.push_back(mul);
    for (uint32_t c = 0; c < 256; c += 4) {
      const uint32_t codes = c | (c + 1) << 8 | (c + 2) << 16 | (c + 3) << 24;
      const uint2 fast = ptx::e4m3x4_to_bf16x4_pow2(codes, mul), cvt = ptx::e4m3x4_to_bf16x4(codes, s);
      out.push_back(fast.x), out.push_back(fast.y), out.push_back(cvt.x), out.push_back(cvt.y);
    }
  }
  fwrite(out.data(), 4, out.size(), stdout);
  return 0;
}
`;

test("the emulator's e4m3x4_to_bf16x4_pow2 (the dense FP8 producer's power-of-two path): the cvt path's bits for every code under every scale pow2_scale_multiplier accepts (powers of two in [2^-117, 2^7]); 0 for the rest", { skip: cxx ? false : 'no C++ compiler on PATH' }, () => {
  const got = runEmuHarness(POW2_HARNESS);
  let k = 0, fastScales = 0;
  for (const s of POW2_SCALES.map(Math.fround)) {
    const mul = got[k++];
    const e = Math.log2(s);
    const takes = s > 0 && Number.isInteger(e) && e >= -117 && e <= 7;
    if (!takes) {
      assert.equal(mul, 0, `scale ${s}: multiplier ${hex(mul)}, expected 0 (the cvt path)`);
      k += 64 * 4;
      continue;
    }
    fastScales++;
    assert.equal(hex(mul), hex(((float32ToBf16Bits(s * 2 ** 120) * 0x10001) >>> 0)), `scale ${s}: multiplier`);
    for (let c = 0; c < 256; c += 4, k += 4) {
      for (let i = 0; i < 4; ++i) {
        const w = i < 2 ? 0 : 1, sh = (i & 1) * 16;
        const fast = (got[k + w] >>> sh) & 0xffff, cvt = (got[k + 2 + w] >>> sh) & 0xffff;
        const code = c + i;
        if ((code & 0x7f) === 0x7f) assert.equal(hex(fast), hex(float32ToBf16Bits(Math.fround((code & 0x80 ? -480 : 480) * s))), `NaN code ${hex(code)} × ${s}`);
        else assert.equal(hex(fast), hex(cvt), `code ${hex(code)} × ${s}: pow2 path ${hex(fast)}, cvt path ${hex(cvt)}`);
      }
    }
  }
  assert.equal(k, got.length);
  assert.equal(fastScales, 8);
});
