// The cuda backend's layout rules (src/cuda/layout.ts), checked on cpu tensors of the same shapes and
// strides: they read nothing but shape, strides, offset and dtype, so no GPU is needed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, getBackend } from '../src/index.js';
import { cudaCheckLayout } from '../src/cuda/layout.js';

const base = () => Tensor.zeros([4, 576], { dtype: 'bf16' });

test('vectorLoad: 16-byte aligned strides and start', () => {
  const t = base();
  cudaCheckLayout('q', t, 'vectorLoad');
  cudaCheckLayout('q', t.view([2, 576], [1152, 1]), 'vectorLoad');
  assert.throws(() => cudaCheckLayout('q', t.view([3, 576], [576, 1], 1), 'vectorLoad'), { name: 'RangeError', message: 'q: expected a 16-byte aligned start, got an offset of 2 B' });
  assert.throws(() => cudaCheckLayout('kCache', t.view([3, 500], [577, 1]), 'vectorLoad'), {
    name: 'RangeError',
    message: 'kCache: expected every stride to be a multiple of 16 bytes, got stride 577 elements (1154 B) in dim 0',
  });
  // a dim of size 1 may have any stride
  cudaCheckLayout('q', t.view([1, 500], [577, 1]), 'vectorLoad');
});

test('vectorStore: a 16-byte aligned start only', () => {
  const t = base();
  cudaCheckLayout('out', t.view([2, 500], [577, 1], 8), 'vectorStore');
  assert.throws(() => cudaCheckLayout('out', t.view([2, 500], [576, 1], 4), 'vectorStore'), { message: 'out: expected a 16-byte aligned start, got an offset of 8 B' });
  const lse = Tensor.zeros([8], { dtype: 'fp32' });
  assert.throws(() => cudaCheckLayout('lse', lse.view([4], [1], 1), 'vectorStore'), { message: 'lse: expected a 16-byte aligned start, got an offset of 4 B' });
});

test('int32Strides: strides below 2^31 elements', () => {
  const t = Tensor.zeros([2], { dtype: 'uint8' });
  cudaCheckLayout('cKv', t.view([1, 1], [2 ** 31 - 1, 1]), 'int32Strides');
  assert.throws(() => cudaCheckLayout('cKv', t.view([1, 1], [2 ** 31, 1]), 'int32Strides'), { message: 'cKv: expected strides below 2^31 elements, got 2147483648 in dim 0' });
});

test('the cpu backend takes any layout', () => {
  const t = base().view([3, 500], [577, 1], 1);
  for (const use of ['vectorLoad', 'vectorStore', 'int32Strides'] as const) getBackend('cpu').checkLayout('q', t, use);
});
