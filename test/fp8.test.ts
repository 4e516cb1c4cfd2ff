// fp8 e4m3 (OCP "e4m3fn": 1 sign, 4 exponent bits with bias 7, 3 mantissa bits, no infinities, NaN =
// 0x7f / 0xff, largest finite ±448) against an independent reference written here: decoding by plain
// arithmetic on the bit fields, encoding by scaling to the format's quantum and rounding the integer
// quotient half-to-even, saturating beyond 448. The library decodes through a table and encodes by a
// binary search over it, so the two share nothing but the format's definition.
// Also: tensors of dtype fp8e4m3 and uint8 (range-checked like the other integer dtypes).

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, roundTo, float32ToFp8e4m3Bits, fp8e4m3BitsToFloat32 } from '../src/index.js';
import { freshSeed, rng } from './util/problem.js';

const hex = (x: number) => '0x' + x.toString(16).padStart(2, '0');

/** Value of an e4m3fn code from its fields. */
function refDecode(code: number): number {
  const sign = code & 0x80 ? -1 : 1;
  const e = (code >>> 3) & 0xf;
  const m = code & 7;
  if (e === 15 && m === 7) return NaN;
  if (e === 0) return sign * (m / 8) * 2 ** -6;
  return sign * (1 + m / 8) * 2 ** (e - 7);
}

/** Every finite value → its code (±0 kept apart). */
const codeOfValue = new Map<string, number>();
for (let c = 0; c < 256; c++) {
  const v = refDecode(c);
  if (!Number.isNaN(v)) codeOfValue.set(Object.is(v, -0) ? '-0' : String(v), c);
}

/** Round-to-nearest-even with saturation to ±448, by exact float64 arithmetic; returns the code. */
function refEncode(x: number): number {
  if (Number.isNaN(x)) return 0x7f;
  const negative = x < 0 || Object.is(x, -0);
  let a = Math.abs(x);
  if (a > 448) a = 448;
  // exponent of a, clamped to the subnormal range: multiplying/dividing by 2 is exact
  let e = 0;
  if (a > 0) {
    while (2 ** e > a) e--;
    while (2 ** (e + 1) <= a) e++;
  }
  e = Math.max(e, -6);
  const quantum = 2 ** (e - 3); // 3 mantissa bits
  const n = a / quantum; // exact: a power-of-two scaling of a value far from the float64 range limits
  const f = Math.floor(n);
  const rest = n - f; // exact
  const k = rest > 0.5 || (rest === 0.5 && f % 2 === 1) ? f + 1 : f;
  const v = (negative ? -1 : 1) * k * quantum;
  const code = codeOfValue.get(Object.is(v, -0) ? '-0' : String(v));
  if (code === undefined) throw new Error(`reference: ${x} rounded to ${v}, which is no e4m3 value`);
  return code;
}

/** The float64 right after / before x (x finite, not 0 for `down`). */
const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);
function nextUp(x: number): number {
  if (x === 0) return Number.MIN_VALUE;
  f64[0] = x;
  u64[0] += x > 0 ? 1n : -1n;
  return f64[0];
}
function nextDown(x: number): number {
  return -nextUp(-x);
}

describe('fp8 e4m3: all 256 codes', () => {
  test('decode matches the arithmetic reference (value, sign of zero, NaN only at 0x7f and 0xff)', () => {
    for (let c = 0; c < 256; c++) {
      const got = fp8e4m3BitsToFloat32(c);
      const want = refDecode(c);
      if (Number.isNaN(want)) assert.ok(Number.isNaN(got), `${hex(c)}: got ${got}, expected NaN`);
      else assert.ok(Object.is(got, want), `${hex(c)}: got ${got}, expected ${want}`);
    }
    assert.deepEqual([0x7f, 0xff].map(fp8e4m3BitsToFloat32).map(Number.isNaN), [true, true]);
    assert.equal(fp8e4m3BitsToFloat32(0x7e), 448);
    assert.equal(fp8e4m3BitsToFloat32(0x01), 2 ** -9);
    assert.equal(fp8e4m3BitsToFloat32(0x08), 2 ** -6);
    assert.ok(Object.is(fp8e4m3BitsToFloat32(0x80), -0));
  });

  test('encode(decode(c)) === c for every non-NaN code; NaN codes come back as NaN', () => {
    for (let c = 0; c < 256; c++) {
      const v = fp8e4m3BitsToFloat32(c);
      if (Number.isNaN(v)) assert.equal(float32ToFp8e4m3Bits(v) & 0x7f, 0x7f, hex(c));
      else assert.equal(float32ToFp8e4m3Bits(v), c, `${hex(c)} (${v})`);
    }
  });

  test('every midpoint between neighbouring codes rounds to the even code, its float64 neighbours to the nearer one', () => {
    let checked = 0;
    for (const sign of [1, -1]) {
      for (let c = 0; c < 0x7e; c++) {
        const lo = refDecode(c);
        const hi = refDecode(c + 1);
        const mid = sign * (lo + hi) / 2; // exact: a dyadic number with a few bits
        const even = (c & 1) === 0 ? c : c + 1;
        const s = sign < 0 ? 0x80 : 0;
        assert.equal(float32ToFp8e4m3Bits(mid), s | even, `midpoint ${mid} of ${hex(c)} and ${hex(c + 1)}`);
        const towardLo = sign > 0 ? nextDown(mid) : nextUp(mid);
        const towardHi = sign > 0 ? nextUp(mid) : nextDown(mid);
        assert.equal(float32ToFp8e4m3Bits(towardLo), s | c, `just below the midpoint ${mid}`);
        assert.equal(float32ToFp8e4m3Bits(towardHi), s | (c + 1), `just above the midpoint ${mid}`);
        assert.equal(refEncode(mid), s | even, 'the reference agrees');
        checked++;
      }
    }
    assert.equal(checked, 2 * 126);
  });

  test('saturation: beyond 448 (and ±Infinity) gives ±448, never NaN; NaN stays NaN', () => {
    for (const x of [448, 448.5, 463.99, 464, 464.01, 480, 1e6, Number.MAX_VALUE, Infinity]) {
      assert.equal(float32ToFp8e4m3Bits(x), 0x7e, String(x));
      assert.equal(float32ToFp8e4m3Bits(-x), 0xfe, String(-x));
    }
    assert.equal(float32ToFp8e4m3Bits(NaN) & 0x7f, 0x7f);
    assert.equal(float32ToFp8e4m3Bits(416), 0x7d); // 416 = 1.625 · 2^8, the neighbour below 448
    assert.equal(float32ToFp8e4m3Bits(431.99), 0x7d);
    assert.equal(float32ToFp8e4m3Bits(432), 0x7e); // the midpoint of 416 and 448 → the even code 0x7e
  });

  test('underflow: at most half the smallest subnormal rounds to ±0, just above it to ±2^-9', () => {
    assert.equal(float32ToFp8e4m3Bits(2 ** -10), 0x00);
    assert.equal(float32ToFp8e4m3Bits(-(2 ** -10)), 0x80);
    assert.equal(float32ToFp8e4m3Bits(nextUp(2 ** -10)), 0x01);
    assert.equal(float32ToFp8e4m3Bits(Number.MIN_VALUE), 0x00);
    assert.equal(float32ToFp8e4m3Bits(-Number.MIN_VALUE), 0x80);
    assert.equal(float32ToFp8e4m3Bits(0), 0x00);
    assert.equal(float32ToFp8e4m3Bits(-0), 0x80);
  });

  test('random float64 values of every magnitude match the reference encoder', () => {
    const seed = freshSeed();
    const r = rng(seed);
    try {
      for (let i = 0; i < 200_000; i++) {
        const x = (r() < 0.5 ? -1 : 1) * (1 + r()) * 2 ** Math.floor(r() * 24 - 14); // 2^-14 … 2^10: underflow to saturation
        const got = float32ToFp8e4m3Bits(x);
        const want = refEncode(x);
        if (got !== want) assert.fail(`${x}: got ${hex(got)} (${refDecode(got)}), expected ${hex(want)} (${refDecode(want)})`);
        if (roundTo('fp8e4m3', x) !== refDecode(want)) assert.fail(`roundTo('fp8e4m3', ${x}) = ${roundTo('fp8e4m3', x)}`);
      }
    } catch (e) {
      console.error(`fp8 random test failed with seed ${seed}; rerun with FLASH_MLA_SEED=${seed}`);
      throw e;
    }
  });
});

describe('fp8e4m3 and uint8 tensors', () => {
  test('from numbers: rounded to nearest even and saturated, read back as their values', () => {
    const t = Tensor.from([0.5, 300, -1, 1.7, 1000, -1e9, NaN, 2 ** -12], [8], { dtype: 'fp8e4m3' });
    const v = t.toFloat32();
    assert.deepEqual(Array.from(v.subarray(0, 6)), [0.5, 288, -1, 1.75, 448, -448]);
    assert.ok(Number.isNaN(v[6]));
    assert.equal(v[7], 0);
    assert.deepEqual(Array.from(t.toRaw()), [0x30, 0x79, 0xb8, 0x3e, 0x7e, 0xfe, 0x7f, 0x00]);
    assert.deepEqual(Array.from(Tensor.from(new Float32Array([3.3, -0.0625]), [2], { dtype: 'fp8e4m3' }).toFloat32()), [3.25, -0.0625]);
  });

  test('from a Uint8Array: raw codes (like a Uint16Array for bf16/fp16)', () => {
    const t = Tensor.from(new Uint8Array([0x7e, 0x38, 0x80, 0xff]), [4], { dtype: 'fp8e4m3' });
    const v = t.toFloat32();
    assert.deepEqual(Array.from(v.subarray(0, 2)), [448, 1]);
    assert.ok(Object.is(v[2], -0));
    assert.ok(Number.isNaN(v[3]));
  });

  test('fill and write encode like from; strided views decode the gathered codes', () => {
    const t = Tensor.zeros([2, 3], { dtype: 'fp8e4m3' });
    assert.deepEqual(Array.from(t.fill(300).toFloat32()), new Array(6).fill(288));
    t.write([1, 2, 3, 4, 5, 6]);
    assert.deepEqual(Array.from(t.view([3, 2], [1, 3]).toFloat32()), [1, 4, 2, 5, 3, 6]);
    assert.deepEqual(Array.from(Tensor.full([2], -500, { dtype: 'fp8e4m3' }).toFloat32()), [-448, -448]);
    assert.ok(Tensor.full([2], NaN, { dtype: 'fp8e4m3' }).toFloat32().every(Number.isNaN));
  });

  test('uint8: integers in [0, 255] only, from numbers, write and fill', () => {
    assert.deepEqual(Array.from(Tensor.from([0, 255, 7], [3], { dtype: 'uint8' }).toFloat32()), [0, 255, 7]);
    const msg = (i: string, got: string) => ({ name: 'RangeError', message: `${i}: expected a uint8 (an integer in [0, 255]), got ${got}` });
    assert.throws(() => Tensor.from([0, 256], [2], { dtype: 'uint8' }), msg('data[1]', '256'));
    assert.throws(() => Tensor.from([-1], [1], { dtype: 'uint8' }), msg('data[0]', '-1'));
    assert.throws(() => Tensor.from([1.5], [1], { dtype: 'uint8' }), msg('data[0]', '1.5'));
    assert.throws(() => Tensor.from([NaN], [1], { dtype: 'uint8' }), msg('data[0]', 'NaN'));
    assert.throws(() => Tensor.from(new Int32Array([300]), [1], { dtype: 'uint8' }), msg('data[0]', '300'));
    const u = Tensor.from([1, 2], [2], { dtype: 'uint8' });
    assert.throws(() => u.write([3, 1000]), msg('data[1]', '1000'));
    assert.throws(() => u.fill(256), msg('value', '256'));
    assert.throws(() => u.fill(-1), msg('value', '-1'));
    assert.deepEqual(Array.from(u.toFloat32()), [1, 2], 'rejected writes change nothing');
    assert.deepEqual(Array.from(u.fill(255).toFloat32()), [255, 255]);
  });

  test('roundTo(fp8e4m3) rounds to the format; the integer dtypes are left alone', () => {
    assert.equal(roundTo('fp8e4m3', 300), 288);
    assert.equal(roundTo('fp8e4m3', 1e9), 448);
    assert.equal(roundTo('fp8e4m3', 0.1), 0.1015625);
  });
});
