// The cuda backend's layout rules (backend.ts checkLayout): its kernels read rows with 16-byte vectors and
// TMA, write outputs with vector stores, and the append kernel indexes with 32-bit strides. A misaligned
// access would fault with a sticky error that kills the context, so these are refused up front.

import type { LayoutUse } from '../backend.js';
import { dtypeBytes } from '../dtype.js';
import type { Tensor } from '../tensor.js';

export function cudaCheckLayout(name: string, t: Tensor, use: LayoutUse): void {
  if (use === 'vectorLoad') expectStrides16B(name, t);
  else if (use === 'vectorStore') expectStart16B(name, t);
  else {
    for (let i = 0; i < t.strides.length - 1; i++) {
      if (t.strides[i] > 2 ** 31 - 1) throw new RangeError(`${name}: expected strides below 2^31 elements, got ${t.strides[i]} in dim ${i}`);
    }
  }
}

/** TMA-friendly layout: 16-byte aligned strides (kernels load rows with 16-byte vectors). */
function expectStrides16B(name: string, t: Tensor): void {
  const elem = dtypeBytes(t.dtype);
  for (let i = 0; i < t.strides.length - 1; i++) {
    if (t.shape[i] > 1 && (t.strides[i] * elem) % 16 !== 0) {
      throw new RangeError(`${name}: expected every stride to be a multiple of 16 bytes, got stride ${t.strides[i]} elements (${t.strides[i] * elem} B) in dim ${i}`);
    }
  }
  expectStart16B(name, t);
}

function expectStart16B(name: string, t: Tensor): void {
  const elem = dtypeBytes(t.dtype);
  if ((t.offset * elem) % 16 !== 0) throw new RangeError(`${name}: expected a 16-byte aligned start, got an offset of ${t.offset * elem} B`);
}
