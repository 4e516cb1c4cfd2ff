// How values appear in error messages (src/util/fmt-value.ts): numbers as themselves, other types named,
// strings quoted and escaped, byte counts exact and in binary units.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fmtBytes, fmtValue, quote } from '../src/util/fmt-value.js';

test('fmtValue names every type; strings are quoted', () => {
  const cases: [unknown, string][] = [
    [512, '512'],
    [-0, '-0'],
    [NaN, 'NaN'],
    [-Infinity, '-Infinity'],
    ['512', "the string '512'"],
    ['', "the string ''"],
    [true, 'the boolean true'],
    [5n, 'the bigint 5n'],
    [null, 'null'],
    [undefined, 'undefined'],
    [Symbol('s'), 'a symbol'],
    [() => 1, 'a function'],
    [[1, 2], 'an array of length 2'],
    [{}, 'an object'],
    [Object.create(null), 'an object'],
    [new Float32Array(3), 'a Float32Array of length 3'],
    [new Int32Array(1), 'an Int32Array of length 1'],
    [new Uint8Array(0), 'a Uint8Array of length 0'],
    [new Map(), 'a Map'],
  ];
  for (const [v, want] of cases) assert.equal(fmtValue(v), want);
});

test('quote escapes quotes and control characters and cuts long strings', () => {
  assert.equal(quote("it's"), "'it\\'s'");
  assert.equal(quote('say "hi"'), `'say "hi"'`);
  assert.equal(quote('a\nb\\c'), "'a\\nb\\\\c'");
  assert.equal(quote('x'.repeat(50)), `'${'x'.repeat(40)}…'`);
});

test('fmtBytes: exact count, then binary units', () => {
  assert.equal(fmtBytes(0), '0 bytes');
  assert.equal(fmtBytes(1023), '1023 bytes');
  assert.equal(fmtBytes(1024), '1024 bytes (1.00 KiB)');
  assert.equal(fmtBytes(73728000000), '73728000000 bytes (68.7 GiB)');
  assert.equal(fmtBytes(4e12), '4000000000000 bytes (3.64 TiB)');
});
