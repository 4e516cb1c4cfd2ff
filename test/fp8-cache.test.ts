// The FP8 KV cache (FlashMLA's DeepSeek-V3.2 layout, 656 bytes per token): the quantizer against the independent
// reference of test/util/fp8-ref.ts (bit for bit, random and hand-computed rows), the dequantizer's round-trip
// bounds, and the paged writers (appendKv, appendKvPaged, PagedKvCache({ kvFormat: 'fp8' })) on the cpu backend.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  Tensor, PagedKvCache, appendKv, appendKvPaged, quantizeKvFp8, dequantizeKvFp8, fp8TileScale, FP8_BYTES_PER_TOKEN,
} from '../src/index.js';
import { CUDA_FEATURES, cudaCheckKvFormat } from '../src/cuda/features.js';
import { rng, seededTest as seededTestIn } from './util/problem.js';
import { refDequantizeRow, refE4m3Code, refE4m3Value, refHalfValue, refQuantizeRow, refTileScale } from './util/fp8-ref.js';

const seededTest = (name: string, fn: (seed: number) => void) => seededTestIn('fp8-cache', name, fn);

const Type = (message: string) => ({ name: 'TypeError', message });
const Range = (message: string) => ({ name: 'RangeError', message });

/** bf16 bits of a number that bf16 holds exactly. */
function bf16(x: number): number {
  const bits = new Uint32Array(new Float32Array([x]).buffer)[0];
  if ((bits & 0xffff) !== 0) throw new Error(`${x} is not a bf16 value`);
  return bits >>> 16;
}

/**
 * Random 16-bit patterns for `rows` tokens: per 128-channel tile a magnitude range (random, or a special: all zero,
 * max exactly 448 · 2^k, around the 1e-4 clamp, subnormals, ±0 mixed in), random signs and mantissas.
 */
function randomRows(dtype: 'bf16' | 'fp16', rows: number, r: () => number): Uint16Array {
  const mantBits = dtype === 'bf16' ? 7 : 10;
  const bias = dtype === 'bf16' ? 127 : 15;
  const [eLo, eHi] = dtype === 'bf16' ? [-40, 40] : [-14, 15]; // normal exponents used
  const out = new Uint16Array(rows * 576);
  const pattern = (e: number, mant: number, neg: boolean) => (neg ? 0x8000 : 0) | ((e + bias) << mantBits) | mant;
  for (let row = 0; row < rows; row++) {
    for (let j = 0; j < 4; j++) {
      const base = row * 576 + 128 * j;
      const kind = r();
      const top = eLo + Math.floor(r() * (eHi - eLo + 1));
      for (let c = 0; c < 128; c++) {
        const neg = r() < 0.5;
        let bits: number;
        if (kind < 0.05) bits = neg ? 0x8000 : 0; // a zero tile (±0)
        else if (kind < 0.1) bits = (neg ? 0x8000 : 0) | Math.floor(r() * (1 << mantBits)); // subnormals only
        else bits = r() < 0.05 ? 0 : pattern(Math.max(top - Math.floor(r() * 12), eLo), Math.floor(r() * (1 << mantBits)), neg);
        out[base + c] = bits;
      }
      if (kind >= 0.1 && kind < 0.2) out[base + Math.floor(r() * 128)] = pattern(top, (0b11 << (mantBits - 2)), r() < 0.5); // 1.75 · 2^top = 448 · 2^(top − 8)
    }
    for (let c = 512; c < 576; c++) out[row * 576 + c] = pattern(Math.floor(r() * 8) - 4, Math.floor(r() * (1 << mantBits)), r() < 0.5);
  }
  // the 1e-4 clamp: amax exactly 448 · 2^-13 = 7 · 2^-7, and the next value up (bf16 only: fp16 rows stay random)
  if (dtype === 'bf16' && rows >= 2) {
    out[0] = bf16(0.0546875);
    out[576 + 128] = bf16(0.054931640625);
  }
  return out;
}

function firstDifference(got: Uint8Array, want: Uint8Array, row: number): string {
  const i = got.findIndex((x, k) => x !== want[k]);
  const part = i < 512 ? `code of channel ${i}` : i < 528 ? `scale ${Math.floor((i - 512) / 4)}` : `RoPE channel ${Math.floor((i - 528) / 2)}`;
  return `row ${row}, byte ${i} (${part}): got 0x${got[i].toString(16)}, reference 0x${want[i].toString(16)}`;
}

function checkAgainstReference(dtype: 'bf16' | 'fp16', bits: Uint16Array, seed: number): void {
  const rows = bits.length / 576;
  const q8 = quantizeKvFp8(Tensor.from(bits, [rows, 576], { dtype }));
  assert.deepEqual(q8.shape, [rows, FP8_BYTES_PER_TOKEN]);
  assert.equal(q8.dtype, 'uint8');
  const got = q8.toRaw() as Uint8Array;
  for (let row = 0; row < rows; row++) {
    const want = refQuantizeRow(dtype, bits.subarray(row * 576, row * 576 + 512), bits.subarray(row * 576 + 512, row * 576 + 576));
    const g = got.subarray(row * 656, (row + 1) * 656);
    if (!g.every((x, k) => x === want[k])) assert.fail(`${dtype} quantizer differs from the reference: ${firstDifference(g, want, row)} (seed ${seed})`);
  }
}

describe('FP8 quantizer: bit-identical to the reference quantizer', () => {
  test('the independent reference agrees with itself on every e4m3 code (value → code → value)', () => {
    for (let c = 0; c < 256; c++) {
      const v = refE4m3Value(c);
      if (Number.isNaN(v)) continue;
      assert.equal(refE4m3Code(v), c, `code 0x${c.toString(16)} (${v})`);
    }
  });

  test('a hand-computed row', () => {
    const bits = new Uint16Array(576);
    // tile 0: all 1.0 → amax/448 = 1/448 ∈ (2^-9, 2^-8] → scale 2^-8; 1 / 2^-8 = 256 = 2^8 → code 0b0_1111_000
    for (let c = 0; c < 128; c++) bits[c] = bf16(1);
    // tile 1: amax 448 → scale 1; 448 → 0x7e; 17 (tie 16|18) → 16 = 0x58; 19 (tie 18|20) → 20 = 0x5a; −0.5 → 0xb0;
    // 2^-10 (tie 0|2^-9) → 0x00; 2^-9 → 0x01; 3·2^-10 (tie 2^-9|2^-8) → 2^-8 = 0x02
    const t1 = [448, 17, 19, -0.5, 2 ** -10, 2 ** -9, 3 * 2 ** -10];
    t1.forEach((x, c) => (bits[128 + c] = bf16(x)));
    // tile 2: zeros → amax/448 = 0 clamped to 1e-4 → scale 2^-13
    // tile 3: amax 450 > 448 → scale 2; 450/2 = 225 → 224 = 0x76; −225/2 = −112.5 → −112 = 0xee
    bits[384] = bf16(450);
    bits[385] = bf16(-225);
    bits[512] = bf16(1);
    bits[513] = bf16(-2);
    for (let c = 514; c < 576; c++) bits[c] = 0x0001;
    const got = quantizeKvFp8(Tensor.from(bits, [1, 576], { dtype: 'bf16' })).toRaw() as Uint8Array;
    const want = new Uint8Array(656);
    want.fill(0x78, 0, 128);
    want.set([0x7e, 0x58, 0x5a, 0xb0, 0x00, 0x01, 0x02], 128);
    want.set([0x76, 0xee], 384);
    want.set([0x00, 0x00, 0x80, 0x3b, 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0x39, 0x00, 0x00, 0x00, 0x40], 512); // 2^-8, 1, 2^-13, 2
    want.set([0x80, 0x3f, 0x00, 0xc0], 528);
    for (let c = 2; c < 64; c++) want.set([0x01, 0x00], 528 + 2 * c);
    assert.deepEqual(Array.from(got), Array.from(want));
    assert.deepEqual(Array.from(refQuantizeRow('bf16', bits.subarray(0, 512), bits.subarray(512))), Array.from(want));
  });

  test('tile scales at the edges: the 1e-4 clamp, powers of two, the largest values', () => {
    const cases: [number, number][] = [
      [0, 2 ** -13],
      [1e-30, 2 ** -13],
      [0.0448, 2 ** -13], // amax / 448 = 1e-4
      [0.0546875, 2 ** -13], // = 448 · 2^-13 exactly
      [0.054931640625, 2 ** -12], // the next bf16 value
      [1, 2 ** -8],
      [448, 1],
      [450, 2],
      [448 * 2 ** 100, 2 ** 100],
      [3.3895313892515355e38, 2 ** 120], // largest bf16
      [65504, 256], // largest fp16
      [Infinity, Infinity],
    ];
    for (const [amax, scale] of cases) {
      assert.equal(fp8TileScale(amax), scale, `amax ${amax}`);
      assert.equal(refTileScale(amax), scale, `reference, amax ${amax}`);
    }
    assert.ok(Number.isNaN(fp8TileScale(NaN)));
  });

  seededTest('random bf16 rows (every magnitude range, ties, zero and subnormal tiles): 3000 rows', (seed) => {
    checkAgainstReference('bf16', randomRows('bf16', 3000, rng(seed)), seed);
  });

  seededTest('random fp16 rows: 2000 rows (RoPE stays fp16)', (seed) => {
    checkAgainstReference('fp16', randomRows('fp16', 2000, rng(seed)), seed);
  });

  test('non-finite tiles: NaN → NaN scale and NaN codes; ±Inf → infinite scale, finite values ±0, the infinities NaN', () => {
    const bits = new Uint16Array(576);
    for (let c = 0; c < 512; c++) bits[c] = bf16(c % 7 === 0 ? -1.5 : 0.25);
    bits[5] = 0x7fc0; // NaN in tile 0
    bits[130] = 0x7f80; // +Inf in tile 1
    bits[131] = 0xff80; // −Inf in tile 1
    const got = quantizeKvFp8(Tensor.from(bits, [1, 576], { dtype: 'bf16' })).toRaw() as Uint8Array;
    const view = new DataView(got.buffer, got.byteOffset);
    assert.ok(Number.isNaN(view.getFloat32(512, true)));
    assert.ok(got.subarray(0, 128).every((x) => x === 0x7f));
    assert.equal(view.getFloat32(516, true), Infinity);
    assert.equal(got[130], 0x7f);
    assert.equal(got[131], 0x7f);
    assert.equal(got[133], 0x80); // −1.5 / inf = −0
    assert.equal(got[129], 0x00); // 0.25 / inf = +0
    assert.equal(view.getFloat32(520, true), 2 ** -8); // tile 2 is finite: amax 1.5, 1.5 / 448 ∈ (2^-9, 2^-8]
    assert.equal(got[259], refE4m3Code(-1.5 / 2 ** -8)); // 259 = 7 · 37 holds −1.5
    assert.equal(got[256], 0x68); // 0.25 / 2^-8 = 64
  });

  test('a strided view quantizes like its contiguous copy; any rank', () => {
    const r = rng(7);
    const bits = randomRows('bf16', 12, r);
    const padded = Tensor.full([3, 4, 600], NaN, { dtype: 'bf16' });
    const raw = padded.data as Uint16Array;
    for (let t = 0; t < 12; t++) raw.set(bits.subarray(t * 576, (t + 1) * 576), t * 600 + 10);
    const view = padded.view([3, 4, 576], [2400, 600, 1], 10);
    const a = quantizeKvFp8(view);
    const b = quantizeKvFp8(Tensor.from(bits, [3, 4, 576], { dtype: 'bf16' }));
    assert.deepEqual(a.shape, [3, 4, 656]);
    assert.deepEqual(a.toRaw(), b.toRaw());
  });

  test('argument checks', () => {
    assert.throws(() => quantizeKvFp8(Tensor.zeros([2, 576])), Type('k: expected dtype bf16 or fp16, got fp32'));
    assert.throws(() => quantizeKvFp8(Tensor.zeros([2, 512], { dtype: 'bf16' })), Range('k: expected a last dimension of 576 channels (512 latent ‖ 64 RoPE), got shape [2, 512]'));
    assert.throws(() => quantizeKvFp8([1, 2] as unknown as Tensor), Type('k: expected a Tensor, got an array of length 2'));
    assert.throws(() => dequantizeKvFp8(Tensor.zeros([2, 656], { dtype: 'bf16' })), Type('kv: expected dtype uint8 (FP8 rows of 656 bytes), got bf16'));
    assert.throws(() => dequantizeKvFp8(Tensor.zeros([2, 576], { dtype: 'uint8' })), Range('kv: expected a last dimension of 656 bytes (the FP8 layout), got shape [2, 576]'));
    assert.throws(() => dequantizeKvFp8(Tensor.zeros([1, 656], { dtype: 'uint8' }), { dtype: 'fp32' as 'bf16' }), Type("dtype: expected 'bf16' or 'fp16', got the string 'fp32'"));
  });
});

describe('FP8 dequantizer', () => {
  seededTest('round trip: |x − x̂| ≤ max(|x| · 2^-4, scale · 2^-10), RoPE exact; dequantizing a re-quantized row changes nothing', (seed) => {
    for (const dtype of ['bf16', 'fp16'] as const) {
      const bits = randomRows(dtype, 1000, rng(seed + (dtype === 'fp16' ? 1 : 0)));
      const k = Tensor.from(bits, [1000, 576], { dtype });
      const q8 = quantizeKvFp8(k);
      const deq = dequantizeKvFp8(q8, { dtype });
      assert.equal(deq.dtype, dtype);
      assert.deepEqual(deq.shape, [1000, 576]);
      const x = k.toFloat32();
      const y = deq.toFloat32();
      const yBits = deq.toRaw() as Uint16Array;
      const bytes = q8.toRaw() as Uint8Array;
      const view = new DataView(bytes.buffer, bytes.byteOffset);
      const max = dtype === 'bf16' ? 3.3895313892515355e38 : 65504;
      for (let row = 0; row < 1000; row++) {
        const ref = refDequantizeRow(bytes, row * 656, dtype);
        for (let c = 0; c < 576; c++) {
          const i = row * 576 + c;
          if (c >= 512) {
            assert.equal(yBits[i], bits[i], `RoPE bits, row ${row} channel ${c}`);
            continue;
          }
          if (Math.abs(ref[c]) > max) {
            // e4m3 rounding went past the dtype's largest value (fp16 near 65504): ±Inf in the dtype
            assert.equal(y[i], Math.sign(ref[c]) * Infinity, `row ${row} channel ${c}: ${ref[c]} overflows ${dtype}`);
            continue;
          }
          assert.equal(y[i], ref[c], `row ${row} channel ${c}: dequantizeKvFp8 ${y[i]}, reference ${ref[c]} (${dtype}, seed ${seed})`);
          const scale = view.getFloat32(row * 656 + 512 + 4 * Math.floor(c / 128), true);
          const bound = Math.max(Math.abs(x[i]) * 2 ** -4, scale * 2 ** -10);
          if (!(Math.abs(x[i] - y[i]) <= bound)) assert.fail(`row ${row} channel ${c}: ${x[i]} → ${y[i]}, error above ${bound} (${dtype}, seed ${seed})`);
        }
      }
      const again = dequantizeKvFp8(quantizeKvFp8(deq), { dtype }).toRaw() as Uint16Array;
      const tileHasInf = (i: number) => y.subarray(i - (i % 576) + 128 * Math.floor((i % 576) / 128), i - (i % 576) + 128 * Math.floor((i % 576) / 128) + 128).some((v) => !Number.isFinite(v));
      const diff = again.findIndex((v, i) => v !== yBits[i] && !tileHasInf(i));
      assert.equal(diff, -1, `dequantize ∘ quantize changes element ${diff} of a dequantized row: ${yBits[diff]} → ${again[diff]} (${dtype}, seed ${seed})`);
    }
  });

  test('hand-computed: codes times the scale, RoPE as the requested dtype', () => {
    const row = new Uint8Array(656);
    const view = new DataView(row.buffer);
    row[0] = 0x7e; // 448
    row[1] = 0x01; // 2^-9
    row[128] = 0xb0; // −0.5
    row[300] = 0x7f; // NaN
    [0.5, 2 ** -13, 3, 1].forEach((s, j) => view.setFloat32(512 + 4 * j, s, true));
    view.setUint16(528, 0x3c00, true); // fp16 1.0, bf16 1.0039…
    const t = Tensor.from(row, [1, 656], { dtype: 'uint8' });
    const b = dequantizeKvFp8(t).toFloat32();
    assert.equal(b[0], 224);
    assert.equal(b[1], 2 ** -10);
    assert.equal(b[128], -0.5 * 2 ** -13);
    assert.ok(Number.isNaN(b[300]));
    assert.equal(b[512], refHalfValue('bf16', 0x3c00));
    assert.equal(dequantizeKvFp8(t, { dtype: 'fp16' }).toFloat32()[512], 1);
  });
});

/** Rows cKv [T, 512] / kPe [T, 64] from random bits, as two views of one [T, 600] buffer (strided rows). */
function tokenRows(dtype: 'bf16' | 'fp16', T: number, r: () => number): { cKv: Tensor; kPe: Tensor; bits: Uint16Array } {
  const bits = randomRows(dtype, T, r);
  const buf = Tensor.full([T, 600], NaN, { dtype });
  const raw = buf.data as Uint16Array;
  for (let t = 0; t < T; t++) raw.set(bits.subarray(t * 576, (t + 1) * 576), t * 600);
  return { cKv: buf.view([T, 512], [600, 1], 0), kPe: buf.view([T, 64], [600, 1], 512), bits };
}

describe('FP8 paged writes (cpu)', () => {
  seededTest('appendKv into a cache with a padded page stride: the right rows get the reference bytes, nothing else changes', (seed) => {
    const r = rng(seed);
    for (const [dtype, pageSize] of [['bf16', 64], ['fp16', 64], ['bf16', 5]] as const) {
      const numPages = 6;
      const pageStride = pageSize * 656 + 656 + 8; // one spare token and 8 bytes per page, as FlashMLA's tests pad
      const storage = Tensor.from(new Uint8Array(numPages * pageStride + 40).fill(0xa5), [numPages * pageStride + 40], { dtype: 'uint8' });
      const kCache = storage.view([numPages, pageSize, 1, 656], [pageStride, 656, 656, 1], 40);
      const T = 9;
      const { cKv, kPe, bits } = tokenRows(dtype, T, r);
      // distinct random slots (a later write to the same slot would overwrite an earlier one), two of them padding
      const all = Array.from({ length: numPages * pageSize }, (_, i) => i);
      for (let i = all.length - 1; i > 0; i--) {
        const j = Math.floor(r() * (i + 1));
        [all[i], all[j]] = [all[j], all[i]];
      }
      const slots = Int32Array.from({ length: T }, (_, t) => (t === 3 ? -1 : t === 6 ? -100 : all[t]));
      appendKv(kCache, Tensor.from(slots, [T]), cKv, kPe);
      const bytes = storage.toRaw() as Uint8Array;
      const expected = new Uint8Array(bytes.length).fill(0xa5);
      for (let t = 0; t < T; t++) {
        if (slots[t] < 0) continue;
        const at = 40 + Math.floor(slots[t] / pageSize) * pageStride + (slots[t] % pageSize) * 656;
        expected.set(refQuantizeRow(dtype, bits.subarray(t * 576, t * 576 + 512), bits.subarray(t * 576 + 512, (t + 1) * 576)), at);
      }
      const bad = bytes.findIndex((x, i) => x !== expected[i]);
      assert.equal(bad, -1, `byte ${bad} of the storage: got ${bytes[bad]}, expected ${expected[bad]} (${dtype}, page size ${pageSize}, seed ${seed})`);
      assert.throws(
        () => appendKv(kCache, Tensor.from(new Int32Array(T).fill(numPages * pageSize), [T]), cKv, kPe),
        Range(`slotMapping[0]: expected a slot in [0, ${numPages * pageSize}) (${numPages} blocks × ${pageSize} tokens) or < 0 for padding, got ${numPages * pageSize}`),
      );
    }
  });

  seededTest('appendKvPaged into an FP8 cache writes what appendKv writes at the same slots', (seed) => {
    const r = rng(seed);
    const b = 3;
    const n = 2; // new tokens per request
    const lens = [5, 64, 130];
    const table = Int32Array.from([4, 0, 0, 1, 2, 0, 3, 5, 6]);
    const { cKv, kPe } = tokenRows('bf16', b * n, r);
    const a = Tensor.zeros([7, 64, 1, 656], { dtype: 'uint8' });
    const c = Tensor.zeros([7, 64, 1, 656], { dtype: 'uint8' });
    appendKvPaged(a, Tensor.from(table, [b, 3]), Tensor.from(Int32Array.from(lens), [b]), cKv, kPe);
    const slots = new Int32Array(b * n);
    for (let i = 0; i < b; i++) for (let j = 0; j < n; j++) {
      const p = lens[i] - n + j;
      slots[i * n + j] = table[i * 3 + Math.floor(p / 64)] * 64 + (p % 64);
    }
    appendKv(c, Tensor.from(slots, [b * n]), cKv, kPe);
    assert.deepEqual(a.toRaw(), c.toRaw());
    assert.ok((a.toRaw() as Uint8Array).some((x) => x !== 0));
    assert.throws(
      () => appendKvPaged(Tensor.zeros([7, 32, 1, 656], { dtype: 'uint8' }), Tensor.from(table, [b, 3]), Tensor.from(Int32Array.from(lens), [b]), cKv, kPe),
      Range('kCache: expected page block size (the block table counts pages of 64 tokens) = 64 (dim 1), got 32 in shape [7, 32, 1, 656]'),
    );
  });

  seededTest("PagedKvCache({ kvFormat: 'fp8' }): appends, forks and copy-on-write give the quantized bytes of a native cache fed the same", (seed) => {
    const r = rng(seed);
    for (const dtype of ['bf16', 'fp16'] as const) {
      const opts = { numBlocks: 12, numLayers: 2, dtype, fill: NaN, maxSeqLen: 64 * 6 };
      const native = new PagedKvCache(opts);
      const fp8 = new PagedKvCache({ ...opts, kvFormat: 'fp8' });
      assert.equal(fp8.kvFormat, 'fp8');
      assert.equal(native.kvFormat, 'native');
      assert.deepEqual(fp8.kCache(1).shape, [12, 64, 1, 656]);
      assert.equal(fp8.kCache(1).dtype, 'uint8');
      const step = (ids: number[]) => {
        const layers = [tokenRows(dtype, ids.length, r), tokenRows(dtype, ids.length, r)];
        for (const c of [native, fp8]) c.append(ids, layers.map((l) => l.cKv), layers.map((l) => l.kPe));
      };
      const [a, b] = [native.addSequence(), native.addSequence()];
      assert.deepEqual([fp8.addSequence(), fp8.addSequence()], [a, b]);
      step([a, a, a, b, ...new Array(70).fill(a)]);
      const c = native.fork(a);
      assert.equal(fp8.fork(a), c);
      step([c, a, b, c]); // both a and c write into their shared last block: copy-on-write in both caches
      assert.ok(fp8.stats.cowCopies > 0);
      assert.deepEqual(fp8.stats, native.stats);
      for (let l = 0; l < 2; l++) {
        const want = quantizeKvFp8(native.kCache(l)).toRaw();
        const got = fp8.kCache(l).toRaw();
        const bad = (got as Uint8Array).findIndex((x, i) => x !== want[i]);
        assert.equal(bad, -1, `layer ${l}, byte ${bad} (token row ${Math.floor(bad / 656)}): FP8 cache ${got[bad]}, quantized native cache ${want[bad]} (${dtype}, seed ${seed})`);
      }
      fp8.checkInvariants();
      const other = dtype === 'bf16' ? 'fp16' : 'bf16';
      const wrong = tokenRows(other, 1, r);
      const right = tokenRows(dtype, 1, r);
      assert.throws(() => fp8.append([a], [wrong.cKv, wrong.cKv], [right.kPe, right.kPe]), Type(`layer 0: kPe: expected dtype ${other} (the dtype of cKv), got ${dtype}`));
      assert.throws(
        () => fp8.append([a], [wrong.cKv, wrong.cKv], [wrong.kPe, wrong.kPe]),
        Type(`layer 0: cKv: expected dtype ${dtype} (the dtype of the cache), got ${other}`),
      );
      native.dispose();
      fp8.dispose();
    }
  });

  test('PagedKvCache fp8: argument checks, fill 0 is the quantization of zero rows', () => {
    assert.throws(() => new PagedKvCache({ numBlocks: 2, kvFormat: 'fp4' as 'fp8' }), Type("kvFormat: expected 'native' or 'fp8', got the string 'fp4'"));
    const z = new PagedKvCache({ numBlocks: 2, kvFormat: 'fp8', fill: 0 });
    const want = quantizeKvFp8(Tensor.zeros([2, 64, 1, 576], { dtype: 'bf16' })).toRaw();
    assert.deepEqual(z.kCache().toRaw(), want);
    const plain = new PagedKvCache({ numBlocks: 2, kvFormat: 'fp8' });
    assert.ok((plain.kCache().toRaw() as Uint8Array).every((x) => x === 0));
  });

  test('appendKv argument checks for an FP8 cache', () => {
    const k8 = Tensor.zeros([2, 64, 1, 656], { dtype: 'uint8' });
    const cKv = Tensor.zeros([1, 512], { dtype: 'bf16' });
    const kPe = Tensor.zeros([1, 64], { dtype: 'bf16' });
    const slots = Tensor.from(new Int32Array([0]), [1]);
    assert.throws(() => appendKv(Tensor.zeros([2, 64, 1, 655], { dtype: 'uint8' }), slots, cKv, kPe), Range('kCache: expected bytes per token (the FP8 layout) = 656 (dim 3), got 655 in shape [2, 64, 1, 655]'));
    assert.throws(() => appendKv(Tensor.zeros([2, 64, 2, 656], { dtype: 'uint8' }), slots, cKv, kPe), Range('kCache: expected h_kv (the FP8 layout has one KV head) = 1 (dim 2), got 2 in shape [2, 64, 2, 656]'));
    assert.throws(() => appendKv(Tensor.zeros([2, 64, 656], { dtype: 'uint8' }), slots, cKv, kPe), Range('kCache: expected a rank-4 tensor [numPages, pageSize, 1, 656] (the FP8 layout), got shape [2, 64, 656]'));
    assert.throws(() => appendKv(k8, slots, Tensor.zeros([1, 512]), kPe), Type('cKv: expected dtype bf16 or fp16, got fp32'));
    assert.throws(() => appendKv(k8, slots, cKv, Tensor.zeros([1, 64], { dtype: 'fp16' })), Type('kPe: expected dtype bf16 (the dtype of cKv), got fp16'));
    assert.throws(() => appendKv(Tensor.zeros([2, 64, 1, 656], { dtype: 'fp8e4m3' }), slots, cKv, kPe), Type('kCache: expected dtype bf16 or fp16 or uint8, got fp8e4m3'));
  });
});

describe('cuda holds the FP8 cache (shape-only checks, no GPU needed)', () => {
  test('cudaCheckKvFormat accepts every format (the FP8 append kernel exists: CUDA_FEATURES.fp8KvCache)', () => {
    assert.equal(CUDA_FEATURES.fp8KvCache, true);
    for (const format of ['bf16', 'fp16', 'fp8'] as const) cudaCheckKvFormat(format, 'kCache');
  });
});
