// bf16 / fp16 ⇄ fp32 conversions, bit-exact over all 65536 patterns, and round-to-nearest-even of fp32
// values against an independent exact-arithmetic implementation (neighbours + pick nearer/even).
//
// NaN rule (read from src/dtype.ts): a NaN stays a NaN with its sign and its top payload bits; the quiet bit
// is forced on when encoding to 16 bits (bf16: 0x0040, fp16: 0x0200). So for a 16-bit NaN pattern h,
// encode(decode(h)) === h | quietBit, and decoding gives an fp32 NaN with the same sign and payload (the fp32
// quiet bit 0x00400000 may be set by the float→double conversion of the JS engine).

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { bf16BitsToFloat32, float32ToBf16Bits, float32ToFp16Bits, fp16BitsToFloat32, roundTo } from '../src/index.js';
import { decodeHalf, encodeHalf, fromHalfBits, toHalfBits, dtypeBytes, isFloat16Type, DTYPES } from '../src/dtype.js';
import { freshSeed, rng } from './util/problem.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** fp32 bit pattern of a number (after rounding it to fp32). */
function bitsOf(x: number): number {
  f32[0] = x;
  return u32[0];
}
/** The number whose fp32 bit pattern is `bits`. */
function fromBits(bits: number): number {
  u32[0] = bits >>> 0;
  return f32[0];
}
const hex = (x: number, w = 4) => '0x' + (x >>> 0).toString(16).padStart(w, '0');

// ---------- format descriptions and independent implementations ----------

interface Fmt {
  name: 'bf16' | 'fp16';
  /** significand bits including the implicit one */
  p: number;
  emin: number;
  emax: number;
  expBits: number;
  mantBits: number;
  quiet: number;
  encode: (x: number) => number;
  decode: (h: number) => number;
}

const BF16: Fmt = { name: 'bf16', p: 8, emin: -126, emax: 127, expBits: 8, mantBits: 7, quiet: 0x0040, encode: float32ToBf16Bits, decode: bf16BitsToFloat32 };
const FP16: Fmt = { name: 'fp16', p: 11, emin: -14, emax: 15, expBits: 5, mantBits: 10, quiet: 0x0200, encode: float32ToFp16Bits, decode: fp16BitsToFloat32 };

function fields(fmt: Fmt, h: number) {
  const sign = (h >>> 15) & 1;
  const exp = (h >>> fmt.mantBits) & ((1 << fmt.expBits) - 1);
  const mant = h & ((1 << fmt.mantBits) - 1);
  const expMax = (1 << fmt.expBits) - 1;
  return { sign, exp, mant, isNaN: exp === expMax && mant !== 0, isInf: exp === expMax && mant === 0 };
}

/** Value of a 16-bit pattern by plain arithmetic in float64 (independent of the code under test). */
function refDecodeValue(fmt: Fmt, h: number): number {
  const { sign, exp, mant, isNaN, isInf } = fields(fmt, h);
  const s = sign ? -1 : 1;
  if (isNaN) return NaN;
  if (isInf) return s * Infinity;
  const bias = (1 << (fmt.expBits - 1)) - 1;
  if (exp === 0) return s * mant * 2 ** (1 - bias - fmt.mantBits); // ±0 and subnormals
  return s * (2 ** fmt.mantBits + mant) * 2 ** (exp - bias - fmt.mantBits);
}

/** fp32 bit pattern of a 16-bit pattern, built with bit operations (normalising fp16 subnormals by shifting). */
function refDecodeBits(fmt: Fmt, h: number): number {
  if (fmt.name === 'bf16') return (h << 16) >>> 0;
  const { sign, exp, mant } = fields(fmt, h);
  const s = sign << 31;
  if (exp === 0x1f) return (s | 0x7f800000 | (mant << 13)) >>> 0;
  if (exp === 0) {
    if (mant === 0) return s >>> 0;
    let m = mant;
    let e = -14; // value = m · 2^-24 = (m / 2^10) · 2^-14
    while ((m & 0x400) === 0) {
      m <<= 1;
      e--;
    }
    return (s | ((e + 127) << 23) | ((m & 0x3ff) << 13)) >>> 0;
  }
  return (s | ((exp - 15 + 127) << 23) | (mant << 13)) >>> 0;
}

/**
 * Round-to-nearest-even of a (finite or not) number to the format, by exact float64 arithmetic: find the two
 * neighbouring representable values lo ≤ |x| < hi on the grid of ulp 2^(max(e, emin) − p + 1), pick the nearer,
 * on a tie the one with an even integral significand; ≥ 2^(emax+1) after rounding → Inf.
 */
function refRound(fmt: Fmt, x: number): number {
  if (Number.isNaN(x) || x === 0 || !Number.isFinite(x)) return x;
  const s = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  let e = Math.floor(Math.log2(a));
  while (2 ** e > a) e--;
  while (2 ** (e + 1) <= a) e++;
  const ulp = 2 ** (Math.max(e, fmt.emin) - fmt.p + 1);
  const k = Math.floor(a / ulp); // exact: scaling by a power of two
  const lo = k * ulp;
  const hi = (k + 1) * ulp;
  const dLo = a - lo;
  const dHi = hi - a;
  let r: number;
  if (dLo < dHi) r = lo;
  else if (dLo > dHi) r = hi;
  else r = k % 2 === 0 ? lo : hi;
  if (r >= 2 ** (fmt.emax + 1)) return s * Infinity;
  return s * r; // s·0 keeps the sign of a zero result
}

/** Rounded value the code under test produces, as a number. */
function codeRound(fmt: Fmt, x: number): number {
  return fmt.decode(fmt.encode(x));
}

function checkRound(fmt: Fmt, x: number, ctx: string): void {
  const got = codeRound(fmt, x);
  const want = refRound(fmt, Math.fround(x));
  if (!Object.is(got, want)) {
    assert.fail(`${fmt.name}: round(${x} = fp32 ${hex(bitsOf(x), 8)}) = ${got} (${hex(fmt.encode(x))}), expected ${want}; ${ctx}`);
  }
}

// ---------- all 65536 patterns ----------

for (const fmt of [BF16, FP16]) {
  describe(`${fmt.name}: all 65536 bit patterns`, () => {
    test('decode matches an independent arithmetic decode (value and sign of zero)', () => {
      for (let h = 0; h < 65536; h++) {
        const got = fmt.decode(h);
        const want = refDecodeValue(fmt, h);
        if (!Object.is(got, want)) assert.fail(`${fmt.name} decode(${hex(h)}) = ${got}, expected ${want}`);
      }
    });

    test('decode gives the fp32 bit pattern built with bit operations (NaN: same sign and payload)', () => {
      for (let h = 0; h < 65536; h++) {
        const got = bitsOf(fmt.decode(h));
        let want = refDecodeBits(fmt, h);
        if (fields(fmt, h).isNaN) {
          // the only freedom: the fp32 quiet bit (0x00400000) may be set on the way through a JS number
          if ((got | 0x00400000) >>> 0 === (want | 0x00400000) >>> 0) continue;
          want = (want | 0x00400000) >>> 0;
        }
        if (got !== want) assert.fail(`${fmt.name} decode(${hex(h)}) has fp32 bits ${hex(got, 8)}, expected ${hex(want, 8)}`);
      }
    });

    test('decodeHalf (bulk) agrees with the scalar decode; bf16 bulk decode is bit-exact incl. NaN payloads', () => {
      const all = new Uint16Array(65536);
      for (let h = 0; h < 65536; h++) all[h] = h;
      const out = decodeHalf(fmt.name, all);
      const outBits = new Uint32Array(out.buffer);
      for (let h = 0; h < 65536; h++) {
        const scalar = fmt.decode(h);
        if (Number.isNaN(scalar)) {
          assert.ok(Number.isNaN(out[h]), `${fmt.name} decodeHalf(${hex(h)}) should be NaN`);
          assert.equal(outBits[h] >>> 31, h >>> 15, `${fmt.name} decodeHalf(${hex(h)}) keeps the sign of a NaN`);
          if (fmt.name === 'bf16') assert.equal(outBits[h], (h << 16) >>> 0, `bf16 decodeHalf(${hex(h)}) is a bit copy`);
          else assert.equal((outBits[h] >>> 13) & 0x1ff, h & 0x1ff, `fp16 decodeHalf(${hex(h)}) keeps the NaN payload`);
        } else if (!Object.is(out[h], scalar)) assert.fail(`${fmt.name} decodeHalf(${hex(h)}) = ${out[h]}, scalar ${scalar}`);
      }
    });

    test('encode(decode(h)) === h for every non-NaN pattern; NaN → NaN with the quiet bit set', () => {
      let nans = 0;
      for (let h = 0; h < 65536; h++) {
        const x = fmt.decode(h);
        const back = fmt.encode(x);
        if (fields(fmt, h).isNaN) {
          nans++;
          assert.ok(Number.isNaN(x), `${fmt.name} ${hex(h)} decodes to NaN`);
          assert.equal(back, h | fmt.quiet, `${fmt.name} NaN ${hex(h)} re-encodes to ${hex(back)}, expected ${hex(h | fmt.quiet)} (sign + payload kept, quieted)`);
          assert.ok(fields(fmt, back).isNaN);
        } else if (back !== h) assert.fail(`${fmt.name} encode(decode(${hex(h)})) = ${hex(back)}`);
      }
      // 2 signs × (2^mantBits − 1) NaN payloads
      assert.equal(nans, 2 * ((1 << fmt.mantBits) - 1));
    });

    test('encodeHalf (bulk) round-trips all non-NaN patterns', () => {
      const vals = new Float32Array(65536);
      for (let h = 0; h < 65536; h++) vals[h] = fmt.decode(h);
      const enc = encodeHalf(fmt.name, vals);
      for (let h = 0; h < 65536; h++) {
        const want = fields(fmt, h).isNaN ? h | fmt.quiet : h;
        if (enc[h] !== want) assert.fail(`${fmt.name} encodeHalf at ${hex(h)}: ${hex(enc[h])}, expected ${hex(want)}`);
      }
    });

    test('fromHalfBits / toHalfBits / roundTo dispatch to the right format', () => {
      for (const h of [0x0001, 0x3c00, 0x3f80, 0x7bff, 0x7f7f, 0xc000, 0x8001]) {
        assert.ok(Object.is(fromHalfBits(fmt.name, h), fmt.decode(h)));
        const x = fmt.decode(h);
        assert.equal(toHalfBits(fmt.name, x), h);
        assert.ok(Object.is(roundTo(fmt.name, x), x));
      }
      assert.ok(Object.is(roundTo(fmt.name, 1 + 2 ** -20), 1));
    });
  });
}

describe('special values', () => {
  test('bf16: ±0, ±Inf, max finite, smallest normal/subnormal', () => {
    assert.ok(Object.is(bf16BitsToFloat32(0x0000), 0));
    assert.ok(Object.is(bf16BitsToFloat32(0x8000), -0));
    assert.equal(bf16BitsToFloat32(0x7f80), Infinity);
    assert.equal(bf16BitsToFloat32(0xff80), -Infinity);
    assert.equal(bf16BitsToFloat32(0x7f7f), (2 - 2 ** -7) * 2 ** 127);
    assert.equal(bf16BitsToFloat32(0x0080), 2 ** -126);
    assert.equal(bf16BitsToFloat32(0x0001), 2 ** -133);
    assert.equal(bf16BitsToFloat32(0x007f), 127 * 2 ** -133);
    assert.equal(bf16BitsToFloat32(0x3f80), 1);
    assert.equal(float32ToBf16Bits(0), 0x0000);
    assert.equal(float32ToBf16Bits(-0), 0x8000);
    assert.equal(float32ToBf16Bits(Infinity), 0x7f80);
    assert.equal(float32ToBf16Bits(-Infinity), 0xff80);
    assert.equal(float32ToBf16Bits(3.4028234663852886e38), 0x7f80); // fp32 max rounds up past bf16 max → Inf
    assert.equal(float32ToBf16Bits(2 ** -149), 0x0000); // fp32 min subnormal < half a bf16 subnormal ulp
    assert.equal(float32ToBf16Bits(-(2 ** -149)), 0x8000);
    assert.equal(float32ToBf16Bits(2 ** -134), 0x0000); // exactly half of 2^-133: tie to even (0)
    assert.equal(float32ToBf16Bits(3 * 2 ** -134), 0x0002); // 1.5 ulp: tie to even (2)
    assert.equal(float32ToBf16Bits(1 + 2 ** -8), 0x3f80); // halfway 1 ↔ 1+2^-7: to even
    assert.equal(float32ToBf16Bits(1 + 3 * 2 ** -8), 0x3f82); // halfway 1+2^-7 ↔ 1+2^-6: to even
  });

  test('fp16: ±0, ±Inf, 65504, 65519 → 65504, 65520 → Inf, subnormals, underflow', () => {
    assert.ok(Object.is(fp16BitsToFloat32(0x0000), 0));
    assert.ok(Object.is(fp16BitsToFloat32(0x8000), -0));
    assert.equal(fp16BitsToFloat32(0x7c00), Infinity);
    assert.equal(fp16BitsToFloat32(0xfc00), -Infinity);
    assert.equal(fp16BitsToFloat32(0x7bff), 65504);
    assert.equal(fp16BitsToFloat32(0x0400), 2 ** -14);
    assert.equal(fp16BitsToFloat32(0x03ff), 1023 * 2 ** -24);
    assert.equal(fp16BitsToFloat32(0x0001), 2 ** -24);
    assert.equal(fp16BitsToFloat32(0x3c00), 1);
    assert.equal(float32ToFp16Bits(0), 0x0000);
    assert.equal(float32ToFp16Bits(-0), 0x8000);
    assert.equal(float32ToFp16Bits(Infinity), 0x7c00);
    assert.equal(float32ToFp16Bits(-Infinity), 0xfc00);
    assert.equal(float32ToFp16Bits(65504), 0x7bff);
    assert.equal(float32ToFp16Bits(65519), 0x7bff);
    assert.equal(float32ToFp16Bits(Math.fround(65519.998)), 0x7bff);
    assert.equal(float32ToFp16Bits(65520), 0x7c00);
    assert.equal(float32ToFp16Bits(-65520), 0xfc00);
    assert.equal(float32ToFp16Bits(1e6), 0x7c00);
    assert.equal(float32ToFp16Bits(3.4028234663852886e38), 0x7c00);
    assert.equal(float32ToFp16Bits(2 ** -25), 0x0000); // half the smallest subnormal: tie to even (0)
    assert.equal(float32ToFp16Bits(-(2 ** -25)), 0x8000);
    assert.equal(float32ToFp16Bits(Math.fround(2 ** -25 * (1 + 2 ** -23))), 0x0001); // just above half → 1 ulp
    assert.equal(float32ToFp16Bits(3 * 2 ** -25), 0x0002); // 1.5 ulp: to even
    assert.equal(float32ToFp16Bits(2 ** -26), 0x0000);
    assert.equal(float32ToFp16Bits(2 ** -149), 0x0000);
    assert.equal(float32ToFp16Bits(1023.5 * 2 ** -24), 0x0400); // largest subnormal + half ulp: to even → smallest normal
    assert.equal(float32ToFp16Bits(1022.5 * 2 ** -24), 0x03fe);
    assert.equal(float32ToFp16Bits(1 + 2 ** -11), 0x3c00);
    assert.equal(float32ToFp16Bits(1 + 3 * 2 ** -11), 0x3c02);
    assert.equal(float32ToFp16Bits(2047.5), 0x6800); // 2047.5 is halfway 2047 ↔ 2048 → 2048 (even)
  });

  test('NaN inputs of every kind stay NaN with their sign (bf16 and fp16)', () => {
    const patterns = [0x7fc00000, 0xffc00000, 0x7f800001, 0xff800001, 0x7fbfffff, 0x7fffffff, 0xffffffff, 0x7f802000, 0x7fa00000];
    for (const p of patterns) {
      const x = fromBits(p);
      assert.ok(Number.isNaN(x));
      const sign = p >>> 31;
      const b = float32ToBf16Bits(x);
      assert.ok(fields(BF16, b).isNaN, `bf16 of ${hex(p, 8)} = ${hex(b)} must be NaN`);
      assert.equal(b >>> 15, sign, `bf16 of ${hex(p, 8)} keeps the sign`);
      assert.equal(b, ((p >>> 16) | 0x0040) & 0xffff, `bf16 of ${hex(p, 8)}: top payload bits kept, quiet bit set`);
      const f = float32ToFp16Bits(x);
      assert.ok(fields(FP16, f).isNaN, `fp16 of ${hex(p, 8)} = ${hex(f)} must be NaN`);
      assert.equal(f >>> 15, sign, `fp16 of ${hex(p, 8)} keeps the sign`);
      assert.equal(f, (sign << 15) | 0x7e00 | ((p >>> 13) & 0x3ff), `fp16 of ${hex(p, 8)}: top payload bits kept, quiet bit set`);
    }
    assert.equal(float32ToBf16Bits(NaN) & 0x7fc0, 0x7fc0);
    assert.equal(float32ToFp16Bits(NaN) & 0x7e00, 0x7e00);
    assert.ok(Number.isNaN(roundTo('bf16', NaN)));
    assert.ok(Number.isNaN(roundTo('fp16', NaN)));
  });

  test('dtype helpers', () => {
    assert.deepEqual(DTYPES.map(dtypeBytes), [2, 2, 4, 4, 1, 1]);
    assert.deepEqual(DTYPES.filter(isFloat16Type), ['bf16', 'fp16']);
    assert.equal(roundTo('fp32', 1 + 2 ** -30), 1);
    assert.equal(roundTo('int32', 1.5), 1.5);
  });
});

// ---------- round to nearest even of fp32 values ----------

for (const fmt of [BF16, FP16]) {
  describe(`${fmt.name}: round to nearest even of fp32 values`, () => {
    test('all halfway points between consecutive finite values (both signs) round to the even neighbour, and their fp32 neighbours to the nearer one', () => {
      const expMax = (1 << fmt.expBits) - 1;
      const lastFinite = (expMax << fmt.mantBits) - 1; // 0x7f7f / 0x7bff
      let count = 0;
      for (let h = 0; h <= lastFinite; h++) {
        const lo = fmt.decode(h);
        const hi = h === lastFinite ? 2 ** (fmt.emax + 1) : fmt.decode(h + 1); // the next grid point past max is 2^(emax+1)
        const mid = (lo + hi) / 2; // exact: one more significand bit, fits in fp32
        assert.equal(Math.fround(mid), mid, `${fmt.name} midpoint of ${hex(h)} must be an fp32 value`);
        const even = (h & 1) === 0 ? h : h + 1; // h + 1 == Inf pattern after the max
        for (const sign of [0, 0x8000]) {
          const s = sign ? -1 : 1;
          const got = fmt.encode(s * mid);
          if (got !== (even | sign)) assert.fail(`${fmt.name}: midpoint ${s * mid} (between ${hex(h | sign)} and ${hex((h + 1) | sign)}) → ${hex(got)}, expected ${hex(even | sign)}`);
          checkRound(fmt, s * mid, 'midpoint');
          const mb = bitsOf(s * mid);
          const below = fromBits(mb - 1); // one fp32 ulp closer to zero
          const above = fromBits(mb + 1); // one fp32 ulp away from zero
          if (fmt.encode(below) !== (h | sign)) assert.fail(`${fmt.name}: ${below} (just inside midpoint of ${hex(h | sign)}) → ${hex(fmt.encode(below))}, expected ${hex(h | sign)}`);
          if (fmt.encode(above) !== ((h + 1) | sign)) assert.fail(`${fmt.name}: ${above} (just past midpoint) → ${hex(fmt.encode(above))}, expected ${hex((h + 1) | sign)}`);
          checkRound(fmt, below, 'just below a midpoint');
          checkRound(fmt, above, 'just above a midpoint');
          count += 3;
        }
      }
      assert.ok(count > 100000);
    });

    test('exact values and their fp32 neighbours round to the nearest value', () => {
      const expMax = (1 << fmt.expBits) - 1;
      for (let h = 0; h < expMax << fmt.mantBits; h++) {
        for (const sign of [0, 0x8000]) {
          const x = fmt.decode(h | sign);
          checkRound(fmt, x, 'exact value');
          if (x !== 0) {
            checkRound(fmt, fromBits(bitsOf(x) - 1), 'fp32 neighbour of an exact value');
            checkRound(fmt, fromBits(bitsOf(x) + 1), 'fp32 neighbour of an exact value');
          }
        }
      }
    });

    test('random fp32 values (uniform bit patterns and values within the format range) match the reference', () => {
      const seed = freshSeed();
      const r = rng(seed);
      const ctx = `seed ${seed}; rerun with FLASH_MLA_SEED=${seed}`;
      try {
        // 1. uniform random fp32 bit patterns (every exponent, subnormals, huge values); NaNs checked by rule
        for (let i = 0; i < 150000; i++) {
          const bits = (r() * 2 ** 32) >>> 0;
          const x = fromBits(bits);
          if (Number.isNaN(x)) {
            assert.ok(fields(fmt, fmt.encode(x)).isNaN, `${fmt.name}: NaN ${hex(bits, 8)} must stay NaN; ${ctx}`);
            continue;
          }
          checkRound(fmt, x, ctx);
        }
        // 2. values with exponents spread over the format's range (incl. its subnormals and overflow)
        for (let i = 0; i < 150000; i++) {
          const e = Math.floor(r() * (fmt.emax - fmt.emin + 16)) + fmt.emin - 14;
          const m = 1 + Math.floor(r() * 2 ** 23) / 2 ** 23;
          const x = Math.fround((r() < 0.5 ? -1 : 1) * m * 2 ** e);
          checkRound(fmt, x, ctx);
        }
      } catch (err) {
        console.error(`dtype random test (${fmt.name}) failed with ${ctx}`);
        throw err;
      }
    });

    test('overflow boundary and underflow boundary', () => {
      if (fmt.name === 'fp16') {
        for (let x = 65504; x <= 65536; x += 0.5) checkRound(fmt, x, 'around 65520');
        for (let k = 0; k <= 64; k++) checkRound(fmt, k * 2 ** -26, 'tiny multiples of 2^-26');
      } else {
        const max = (2 - 2 ** -7) * 2 ** 127;
        for (let k = -8; k <= 8; k++) {
          const x = fromBits(bitsOf(max) + 0x8000 + k);
          if (Number.isFinite(x)) checkRound(fmt, x, 'around bf16 overflow');
        }
        for (let k = 0; k <= 300; k++) checkRound(fmt, fromBits(k), 'fp32 subnormals');
      }
    });
  });
}

// A float64 that is not an fp32 value must round once, not double → fp32 → 16 bit (wrong just past a midpoint).
test('roundTo of a float64 (not fp32) value is correctly rounded (no double rounding through fp32)', () => {
  assert.equal(roundTo('bf16', 1 + 2 ** -8 + 2 ** -30), 1 + 2 ** -7);
  assert.equal(roundTo('fp16', 1 + 2 ** -11 + 2 ** -40), 1 + 2 ** -10);
});
