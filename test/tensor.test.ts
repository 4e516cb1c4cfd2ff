// Tensor on the cpu backend: construction, conversion, write/fill, strided views, copies, disposal and
// error messages. The cuda backend is only touched to check that it fails cleanly without a GPU.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  Tensor, DisposedError, CudaUnavailableError, UnsupportedDriverError, UnsupportedDeviceError, CudaError, cudaAvailable, float32ToBf16Bits, float32ToFp16Bits,
} from '../src/index.js';

const iota = (n: number, start = 0) => Array.from({ length: n }, (_, i) => start + i);

describe('Tensor construction', () => {
  test('from Float32Array defaults to fp32, keeps shape, contiguous strides, offset 0, cpu', () => {
    const t = Tensor.from(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
    assert.equal(t.dtype, 'fp32');
    assert.equal(t.backend, 'cpu');
    assert.deepEqual(t.shape, [2, 3]);
    assert.deepEqual(t.strides, [3, 1]);
    assert.equal(t.offset, 0);
    assert.equal(t.numel, 6);
    assert.equal(t.isContiguous, true);
    assert.equal(t.disposed, false);
    assert.deepEqual(Array.from(t.toFloat32()), [1, 2, 3, 4, 5, 6]);
    assert.equal(t.toString(), 'Tensor(cpu, fp32, [2, 3])');
    assert.ok(Object.isFrozen(t.shape) && Object.isFrozen(t.strides));
  });

  test('from Int32Array defaults to int32; number[] defaults to fp32; Float64Array is rounded to fp32', () => {
    const a = Tensor.from(new Int32Array([-3, 0, 7]), [3]);
    assert.equal(a.dtype, 'int32');
    assert.deepEqual(Array.from(a.toInt32()), [-3, 0, 7]);
    assert.ok(a.toInt32() instanceof Int32Array);
    const b = Tensor.from([0.1, 2], [2]);
    assert.equal(b.dtype, 'fp32');
    assert.deepEqual(Array.from(b.toFloat32()), [Math.fround(0.1), 2]);
    const c = Tensor.from(new Float64Array([1 + 2 ** -30]), [1]);
    assert.equal(c.toFloat32()[0], 1);
  });

  test('from data does not alias the input array', () => {
    const src = new Float32Array([1, 2]);
    const t = Tensor.from(src, [2]);
    src[0] = 99;
    assert.equal(t.toFloat32()[0], 1);
    const raw = new Uint16Array([0x3f80]);
    const h = Tensor.from(raw, [1], { dtype: 'bf16' });
    raw[0] = 0;
    assert.equal(h.toFloat32()[0], 1);
  });

  test('bf16/fp16 from numbers round to nearest even; from Uint16Array takes raw bits', () => {
    const vals = [1, 1 + 2 ** -8, 1 + 3 * 2 ** -8, -2.5, 65520, 1e-8, NaN, -0];
    const b = Tensor.from(vals, [vals.length], { dtype: 'bf16' });
    assert.deepEqual(Array.from(b.data as Uint16Array), vals.map(float32ToBf16Bits));
    const f = Tensor.from(new Float32Array(vals), [2, 4], { dtype: 'fp16' });
    assert.deepEqual(Array.from(f.data as Uint16Array), vals.map(float32ToFp16Bits));
    const fv = f.toFloat32();
    assert.deepEqual(Array.from(fv.slice(0, 6)), [1, 1 + 2 ** -8, 1 + 3 * 2 ** -8, -2.5, Infinity, 0]); // fp16 has 10 mantissa bits; 1e-8 < 2^-25 → 0
    assert.ok(Number.isNaN(fv[6]));
    assert.ok(Object.is(fv[7], -0));
    const raw = Tensor.from(new Uint16Array([0x3c00, 0x7c00, 0xfc00, 0x0001]), [4], { dtype: 'fp16' });
    assert.deepEqual(Array.from(raw.toFloat32()), [1, Infinity, -Infinity, 2 ** -24]);
    const rawB = Tensor.from(new Uint16Array([0x3f80, 0xc000]), [2], { dtype: 'bf16' });
    assert.deepEqual(Array.from(rawB.toFloat32()), [1, -2]);
  });

  test('uint8 and fp8e4m3 storage', () => {
    const u = Tensor.from([0, 255, 7], [3], { dtype: 'uint8' });
    assert.ok(u.data instanceof Uint8Array);
    assert.deepEqual(Array.from(u.toFloat32()), [0, 255, 7]);
    const e = Tensor.empty([4], { dtype: 'fp8e4m3' });
    assert.ok(e.data instanceof Uint8Array);
    assert.equal(e.data.length, 4);
  });

  test('empty is zero-filled on cpu; zeros; full (incl. NaN poison in every float dtype)', () => {
    for (const dtype of ['fp32', 'bf16', 'fp16', 'int32'] as const) {
      const e = Tensor.empty([2, 3], { dtype });
      assert.deepEqual(Array.from(e.toFloat32()), [0, 0, 0, 0, 0, 0]);
      const z = Tensor.zeros([3], { dtype });
      assert.deepEqual(Array.from(z.toFloat32()), [0, 0, 0]);
      assert.equal(z.dtype, dtype);
    }
    assert.deepEqual(Array.from(Tensor.full([2, 2], 1.5, { dtype: 'bf16' }).toFloat32()), [1.5, 1.5, 1.5, 1.5]);
    assert.deepEqual(Array.from(Tensor.full([3], 7, { dtype: 'int32' }).toInt32()), [7, 7, 7]);
    for (const dtype of ['fp32', 'bf16', 'fp16'] as const) {
      assert.ok(Tensor.full([5], NaN, { dtype }).toFloat32().every(Number.isNaN), dtype);
    }
    assert.equal(Tensor.empty([2, 3]).dtype, 'fp32');
  });

  test('zero-size and rank-0 tensors', () => {
    const z = Tensor.empty([0, 576], { dtype: 'bf16' });
    assert.equal(z.numel, 0);
    assert.equal(z.toFloat32().length, 0);
    const s = Tensor.from([42], []);
    assert.equal(s.numel, 1);
    assert.deepEqual(s.shape, []);
    assert.deepEqual(Array.from(s.toFloat32()), [42]);
  });

  test('shape errors: negatives, non-integers, non-arrays, non-numbers (the type is named, strings quoted)', () => {
    assert.throws(() => Tensor.empty([2, -1]), { name: 'RangeError', message: 'shape[1]: expected a non-negative integer, got -1' });
    assert.throws(() => Tensor.zeros([1.5]), { name: 'RangeError', message: 'shape[0]: expected a non-negative integer, got 1.5' });
    assert.throws(() => Tensor.from([1], [NaN]), { name: 'RangeError', message: 'shape[0]: expected a non-negative integer, got NaN' });
    assert.throws(() => Tensor.empty(3 as unknown as number[]), { name: 'TypeError', message: 'shape: expected an array of non-negative integers, got 3' });
    assert.throws(() => Tensor.from(new Float32Array(4), 4 as unknown as number[]), { name: 'TypeError', message: 'shape: expected an array of non-negative integers, got 4' });
    assert.throws(() => Tensor.from([1, 2], '2' as unknown as number[]), { name: 'TypeError', message: "shape: expected an array of non-negative integers, got the string '2'" });
    assert.throws(() => Tensor.empty([2, '3'] as unknown as number[]), { name: 'TypeError', message: "shape[1]: expected a non-negative integer, got the string '3'" });
    assert.throws(() => Tensor.empty([null] as unknown as number[]), { name: 'TypeError', message: 'shape[0]: expected a non-negative integer, got null' });
    const t = Tensor.zeros([4]);
    assert.throws(() => t.view([-2]), { name: 'RangeError', message: 'shape[0]: expected a non-negative integer, got -2' });
  });

  test('data that is not an array: null, undefined, a string, an object, a bigint array', () => {
    const msg = (got: string) => ({ name: 'TypeError', message: `data: expected an array of numbers or a typed array, got ${got}` });
    assert.throws(() => Tensor.from(null as never, [2]), msg('null'));
    assert.throws(() => Tensor.from(undefined as never, [2]), msg('undefined'));
    assert.throws(() => Tensor.from('12' as never, [2]), msg("the string '12'"));
    assert.throws(() => Tensor.from({ length: 2 } as never, [2]), msg('an object'));
    assert.throws(() => Tensor.from(new BigInt64Array(2) as never, [2]), msg('a BigInt64Array of length 2'));
    assert.throws(() => Tensor.zeros([2]).write(null as never), msg('null'));
  });

  test('allocations that cannot succeed name the shape, the dtype and the bytes asked for', () => {
    // 4e12 bytes: more than this machine has (checked before asking), or refused by the allocator
    assert.throws(() => Tensor.empty([1e6, 1e6]), (e: unknown) => {
      assert.ok(e instanceof RangeError, String(e));
      assert.match(e.message, /^shape: \[1000000, 1000000\] fp32 needs 4000000000000 bytes \(3\.64 TiB\) of host memory, /);
      return true;
    });
    assert.throws(() => Tensor.zeros([2 ** 40, 2 ** 20], { dtype: 'bf16' }), {
      name: 'RangeError',
      message: 'shape: [1099511627776, 1048576] bf16 has 1152921504606846976 elements, more than a tensor can address (2^53 − 1 bytes)',
    });
  });

  test('data length mismatch', () => {
    assert.throws(() => Tensor.from([1, 2, 3, 4, 5], [2, 3]), { name: 'RangeError', message: 'data: expected 6 elements for this shape, got 5' });
    assert.throws(() => Tensor.from(new Uint16Array(7), [2, 3], { dtype: 'bf16' }), { name: 'RangeError', message: 'data: expected 6 elements for this shape, got 7' });
    const t = Tensor.zeros([2, 2]);
    assert.throws(() => t.write([1, 2, 3]), { name: 'RangeError', message: 'data: expected 4 elements for this shape, got 3' });
  });

  test('int32 with non-integers / out of range / NaN', () => {
    assert.throws(() => Tensor.from([1, 1.5, 2], [3], { dtype: 'int32' }), { name: 'RangeError', message: 'data[1]: expected an int32 (an integer in [-2147483648, 2147483647]), got 1.5' });
    assert.throws(() => Tensor.from([0, 2 ** 31], [2], { dtype: 'int32' }), { name: 'RangeError', message: `data[1]: expected an int32 (an integer in [-2147483648, 2147483647]), got ${2 ** 31}` });
    assert.throws(() => Tensor.from([NaN], [1], { dtype: 'int32' }), { name: 'RangeError', message: 'data[0]: expected an int32 (an integer in [-2147483648, 2147483647]), got NaN' });
    assert.throws(() => Tensor.from(new Float32Array([3, 0.25]), [2], { dtype: 'int32' }), { name: 'RangeError', message: 'data[1]: expected an int32 (an integer in [-2147483648, 2147483647]), got 0.25' });
    const t = Tensor.from([-(2 ** 31), 2 ** 31 - 1], [2], { dtype: 'int32' });
    assert.deepEqual(Array.from(t.toInt32()), [-(2 ** 31), 2 ** 31 - 1]);
    const w = Tensor.zeros([2], { dtype: 'int32' });
    assert.throws(() => w.write([1, 2.5]), { name: 'RangeError', message: 'data[1]: expected an int32 (an integer in [-2147483648, 2147483647]), got 2.5' });
    assert.deepEqual(Array.from(w.toInt32()), [0, 0], 'a rejected write changes nothing');
  });

  test('bad dtype / backend', () => {
    assert.throws(() => Tensor.empty([2], { dtype: 'fp64' as never }), {
      name: 'TypeError',
      message: "dtype: expected one of bf16, fp16, fp32, int32, uint8, fp8e4m3, got the string 'fp64'",
    });
    assert.throws(() => Tensor.from([1], [1], { dtype: 'fp64' as never }), { name: 'TypeError', message: "dtype: expected one of bf16, fp16, fp32, int32, uint8, fp8e4m3, got the string 'fp64'" });
    assert.throws(() => Tensor.empty([2], { dtype: 16 as never }), { name: 'TypeError', message: 'dtype: expected one of bf16, fp16, fp32, int32, uint8, fp8e4m3, got 16' });
    assert.throws(() => Tensor.empty([2], { backend: 'gpu' as never }), { name: 'TypeError', message: "backend: expected 'cpu' or 'cuda', got the string 'gpu'" });
  });

  test('toInt32 on a float tensor; ptr on a cpu tensor', () => {
    assert.throws(() => Tensor.zeros([2]).toInt32(), { name: 'TypeError', message: 'toInt32: tensor dtype is fp32, expected int32' });
    assert.throws(() => Tensor.zeros([2], { dtype: 'bf16' }).ptr, { name: 'TypeError', message: "tensor.ptr: the tensor is on 'cpu', expected 'cuda'" });
  });

  test('int32 tensors convert to float32', () => {
    assert.deepEqual(Array.from(Tensor.from(new Int32Array([-5, 16777217]), [2]).toFloat32()), [-5, 16777216]);
  });
});

describe('write / fill', () => {
  test('write replaces the contents and returns the tensor; converts like from', () => {
    const t = Tensor.zeros([2, 2], { dtype: 'fp16' });
    assert.equal(t.write([1, 2, 3, 70000]), t);
    assert.deepEqual(Array.from(t.toFloat32()), [1, 2, 3, Infinity]);
    t.write(new Uint16Array([0x3c00, 0x4000, 0x4200, 0x4400]));
    assert.deepEqual(Array.from(t.toFloat32()), [1, 2, 3, 4]);
  });

  test('fill sets every element and returns the tensor', () => {
    const t = Tensor.zeros([3], { dtype: 'bf16' });
    assert.equal(t.fill(-0.5), t);
    assert.deepEqual(Array.from(t.toFloat32()), [-0.5, -0.5, -0.5]);
    assert.ok(t.fill(NaN).toFloat32().every(Number.isNaN));
    const i = Tensor.zeros([2], { dtype: 'int32' }).fill(-9);
    assert.deepEqual(Array.from(i.toInt32()), [-9, -9]);
  });

  test('write/fill of a contiguous view at an offset touch only its elements', () => {
    const base = Tensor.from(iota(10), [10]);
    const v = base.view([3], [1], 4);
    assert.equal(v.isContiguous, true);
    v.write([-1, -2, -3]);
    assert.deepEqual(Array.from(base.toFloat32()), [0, 1, 2, 3, -1, -2, -3, 7, 8, 9]);
    base.view([2], [1], 8).fill(100);
    assert.deepEqual(Array.from(base.toFloat32()), [0, 1, 2, 3, -1, -2, -3, 7, 100, 100]);
    const h = Tensor.from(iota(6), [6], { dtype: 'bf16' });
    h.view([2], [1], 1).write(new Uint16Array([0xbf80, 0xbf80]));
    assert.deepEqual(Array.from(h.toFloat32()), [0, -1, -1, 3, 4, 5]);
  });

  test('sharesStorageWith: views of one storage (at any depth) share it; equal contents elsewhere do not', () => {
    const base = Tensor.from(iota(10), [10]);
    const a = base.view([4], [1], 0);
    const b = a.view([3], [1], 6); // a view of a view: still base's storage
    const other = Tensor.from(iota(10), [10]);
    assert.equal(a.sharesStorageWith(b), true);
    assert.equal(b.sharesStorageWith(base), true);
    assert.equal(base.sharesStorageWith(base), true);
    assert.equal(base.sharesStorageWith(other), false);
    assert.equal(a.sharesStorageWith(other.view([4])), false);
  });

  test('write/fill of a non-contiguous view are rejected', () => {
    const base = Tensor.from(iota(6), [2, 3]);
    const col = base.view([2], [3], 1);
    assert.equal(col.isContiguous, false);
    assert.throws(() => col.write([7, 7]), { name: 'TypeError', message: 'write: only contiguous tensors can be written from host data' });
    assert.throws(() => col.fill(7), { name: 'TypeError', message: 'fill: only contiguous tensors can be filled' });
    assert.deepEqual(Array.from(base.toFloat32()), iota(6));
  });
});

describe('one rule for every way values get in (from, write, fill, full)', () => {
  const INT32 = 'an int32 (an integer in [-2147483648, 2147483647])';
  test('integer dtypes refuse non-integers and out-of-range values everywhere: nothing is truncated or wrapped', () => {
    const t = Tensor.from(new Int32Array([4, 5]), [2]);
    for (const v of [1.7, -0.5, 2 ** 31, -(2 ** 31) - 1, NaN, Infinity]) {
      const msg = `expected ${INT32}, got ${v}`;
      assert.throws(() => t.fill(v), { name: 'RangeError', message: `value: ${msg}` });
      assert.throws(() => Tensor.full([2], v, { dtype: 'int32' }), { name: 'RangeError', message: `value: ${msg}` });
      assert.throws(() => t.write([0, v]), { name: 'RangeError', message: `data[1]: ${msg}` });
      assert.throws(() => Tensor.from([v], [1], { dtype: 'int32' }), { name: 'RangeError', message: `data[0]: ${msg}` });
    }
    assert.deepEqual(Array.from(t.toInt32()), [4, 5], 'rejected calls change nothing');
    assert.deepEqual(Array.from(t.fill(-(2 ** 31)).toInt32()), [-(2 ** 31), -(2 ** 31)]);
    assert.deepEqual(Array.from(Tensor.full([1], 2 ** 31 - 1, { dtype: 'int32' }).toInt32()), [2 ** 31 - 1]);
  });

  test('non-numbers are refused for every dtype, in a number[] and as a fill value (never turned into NaN or 0)', () => {
    for (const dtype of ['fp32', 'bf16', 'fp16', 'fp8e4m3', 'int32', 'uint8'] as const) {
      for (const [v, got] of [
        ['2', "the string '2'"],
        [null, 'null'],
        [undefined, 'undefined'],
        [true, 'the boolean true'],
        [2n, 'the bigint 2n'],
        [[2], 'an array of length 1'],
      ] as const) {
        const bad = [1, v] as unknown as number[];
        assert.throws(() => Tensor.from(bad, [2], { dtype }), { name: 'TypeError', message: `data[1]: expected a number, got ${got}` }, dtype);
        const t = Tensor.zeros([2], { dtype });
        assert.throws(() => t.write(bad), { name: 'TypeError', message: `data[1]: expected a number, got ${got}` }, dtype);
        assert.throws(() => t.fill(v as unknown as number), { name: 'TypeError', message: `value: expected a number, got ${got}` }, dtype);
        assert.throws(() => Tensor.full([2], v as unknown as number, { dtype }), { name: 'TypeError', message: `value: expected a number, got ${got}` }, dtype);
        assert.deepEqual(Array.from(t.toFloat32()), [0, 0], `${dtype}: rejected calls change nothing`);
      }
    }
  });
});

describe('views', () => {
  test('transpose view gathers in row-major order of the view', () => {
    const t = Tensor.from(iota(6), [2, 3]);
    const tr = t.view([3, 2], [1, 3]);
    assert.equal(tr.isContiguous, false);
    assert.deepEqual(Array.from(tr.toFloat32()), [0, 3, 1, 4, 2, 5]);
  });

  test('rank-3 strided view with an offset (sub-block, negative-free strides)', () => {
    // base [4, 5, 6]; view = base[1:3, ::2, 1:5:3] → shape [2, 3, 2], strides [30, 12, 3], offset 31
    const base = Tensor.from(iota(120), [4, 5, 6]);
    const v = base.view([2, 3, 2], [30, 12, 3], 31);
    const want: number[] = [];
    for (let i = 1; i < 3; i++) for (let j = 0; j < 5; j += 2) for (let k = 1; k < 5; k += 3) want.push(i * 30 + j * 6 + k);
    assert.deepEqual(Array.from(v.toFloat32()), want);
    assert.equal(v.offset, 31);
  });

  test('broadcast view (stride 0) repeats elements; size-1 dims do not break contiguity', () => {
    const t = Tensor.from([1, 2, 3], [3]);
    assert.deepEqual(Array.from(t.view([2, 3], [0, 1]).toFloat32()), [1, 2, 3, 1, 2, 3]);
    assert.equal(t.view([1, 3], [99, 1]).isContiguous, true);
    assert.equal(t.view([3, 1], [1, 5]).isContiguous, true);
  });

  test('view of a view; default strides are contiguous; default offset is the parent offset', () => {
    const base = Tensor.from(iota(12), [12]);
    const v1 = base.view([2, 4], undefined, 2);
    assert.deepEqual(v1.strides, [4, 1]);
    assert.deepEqual(Array.from(v1.toFloat32()), iota(8, 2));
    const v2 = v1.view([4], [2]);
    assert.equal(v2.offset, 2);
    assert.deepEqual(Array.from(v2.toFloat32()), [2, 4, 6, 8]);
  });

  test('views share storage with their base', () => {
    const base = Tensor.from(iota(4), [2, 2], { dtype: 'int32' });
    const tr = base.view([2, 2], [1, 2]);
    base.write([10, 11, 12, 13]);
    assert.deepEqual(Array.from(tr.toInt32()), [10, 12, 11, 13]);
    assert.equal((tr.data as Int32Array).buffer, (base.data as Int32Array).buffer);
  });

  test('strided views of 16-bit tensors decode the gathered bits', () => {
    const base = Tensor.from([1, 2, 3, 4, 5, 6], [3, 2], { dtype: 'fp16' });
    assert.deepEqual(Array.from(base.view([2, 3], [1, 2]).toFloat32()), [1, 3, 5, 2, 4, 6]);
  });

  // Out-of-range views would read garbage on cpu and address past the allocation on cuda.
  test('a view outside the storage, with a negative offset or non-integer strides is rejected', () => {
    const t = Tensor.zeros([4]);
    assert.throws(() => t.view([8]));
    assert.throws(() => t.view([2], [1], -2));
    assert.throws(() => t.view([2], [1.5]));
    assert.throws(() => t.view([2], [1], 3));
  });

  test('a view of a disposed tensor is unusable', () => {
    const t = Tensor.from([1, 2, 3, 4], [4]);
    const v = t.view([2]);
    t.dispose();
    assert.throws(() => v.toFloat32(), { name: 'DisposedError' });
  });

  test('strides with the wrong number of entries', () => {
    const t = Tensor.zeros([6]);
    assert.throws(() => t.view([2, 3], [3]), { name: 'RangeError', message: 'strides: expected 2 entries, got 1' });
  });
});

describe('copies', () => {
  test("to('cpu') makes an independent contiguous copy, also of a strided view", () => {
    const base = Tensor.from(iota(6), [2, 3], { dtype: 'bf16' });
    const copy = base.to('cpu');
    assert.notEqual(copy, base);
    assert.equal(copy.dtype, 'bf16');
    base.fill(0);
    assert.deepEqual(Array.from(copy.toFloat32()), iota(6));
    const src = Tensor.from(iota(6), [2, 3]);
    const tr = src.view([3, 2], [1, 3]).to('cpu');
    assert.equal(tr.isContiguous, true);
    assert.deepEqual(tr.strides, [2, 1]);
    assert.equal(tr.offset, 0);
    assert.deepEqual(Array.from(tr.toFloat32()), [0, 3, 1, 4, 2, 5]);
  });

  test('copyFrom copies same shape/dtype and rejects others', () => {
    const dst = Tensor.zeros([2, 2], { dtype: 'int32' });
    const src = Tensor.from(new Int32Array([1, 2, 3, 4]), [2, 2]);
    assert.equal(dst.copyFrom(src.view([2, 2], [1, 2])), dst);
    assert.deepEqual(Array.from(dst.toInt32()), [1, 3, 2, 4]);
    assert.throws(() => dst.copyFrom(Tensor.zeros([4], { dtype: 'int32' })), { name: 'TypeError', message: 'copyFrom: expected int32 [2,2], got int32 [4]' });
    assert.throws(() => dst.copyFrom(Tensor.zeros([2, 2])), { name: 'TypeError', message: 'copyFrom: expected int32 [2,2], got fp32 [2,2]' });
  });
});

describe('dispose', () => {
  test('use after dispose throws DisposedError everywhere; dispose is idempotent', () => {
    const t = Tensor.from([1, 2, 3, 4], [2, 2], { dtype: 'bf16' });
    t.dispose();
    assert.equal(t.disposed, true);
    t.dispose();
    const e = { name: 'DisposedError', message: 'tensor [2,2] bf16 was used after dispose()' };
    assert.throws(() => t.toFloat32(), e);
    assert.throws(() => t.toRaw(), e);
    assert.throws(() => t.data, e);
    assert.throws(() => t.write([1, 2, 3, 4]), e);
    assert.throws(() => t.fill(0), e);
    assert.throws(() => t.view([4]), e);
    assert.throws(() => t.to('cpu'), e);
    assert.throws(() => t.assertLive(), e);
    assert.throws(() => Tensor.zeros([2, 2], { dtype: 'bf16' }).copyFrom(t), e);
    assert.throws(() => t.toFloat32(), (err: unknown) => err instanceof DisposedError);
    const i = Tensor.zeros([3], { dtype: 'int32' });
    i[Symbol.dispose]();
    assert.throws(() => i.toInt32(), { name: 'DisposedError', message: 'tensor [3] int32 was used after dispose()' });
  });

  test('`using` disposes at the end of the block', () => {
    let escaped: Tensor | undefined;
    {
      using t = Tensor.zeros([2]);
      escaped = t;
      assert.equal(t.disposed, false);
    }
    assert.equal(escaped.disposed, true);
    assert.throws(() => escaped!.toFloat32(), { name: 'DisposedError', message: 'tensor [2] fp32 was used after dispose()' });
  });

  test('[Symbol.dispose]() is dispose()', () => {
    const t = Tensor.zeros([1]);
    t[Symbol.dispose]();
    assert.equal(t.disposed, true);
  });
});

describe('cuda backend without a GPU', { skip: cudaAvailable() ? 'a GPU is present' : false }, () => {
  // a machine without a driver gives CudaUnavailableError; one with a too-old driver or an unusable device
  // gives the typed error for that — never a crash or an untyped failure
  const typed = (e: unknown) =>
    (e instanceof CudaUnavailableError && /^CUDA is not available: /.test(e.message)) || e instanceof UnsupportedDriverError || e instanceof UnsupportedDeviceError || e instanceof CudaError;
  test('allocating on cuda fails with a typed error and does not crash', () => {
    assert.throws(() => Tensor.empty([2], { backend: 'cuda' }), typed);
    assert.throws(() => Tensor.zeros([2], { backend: 'cuda', dtype: 'bf16' }), typed);
    assert.throws(() => Tensor.from([1, 2], [2]).to('cuda'), typed);
    assert.throws(() => Tensor.from([1, 2], [2], { backend: 'cuda' }), typed);
  });
});
