// Argument checks for the MLA API. Every rule throws before anything is launched, and every message names
// the argument, what was expected and what was given.

import { Tensor } from '../tensor.js';
import type { DType } from '../dtype.js';
import { HEAD_DIM_K, HEAD_DIM_V, METADATA_ROW_INTS, PAGE_BLOCK_SIZE } from './constants.js';
import { fmtValue } from '../util/fmt-value.js';

export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

export function expectTensor(name: string, t: unknown): asserts t is Tensor {
  if (!(t instanceof Tensor)) throw new TypeError(`${name}: expected a Tensor, got ${fmtValue(t)}`);
  t.assertLive();
}

export function expectDtype(name: string, t: Tensor, allowed: readonly DType[]): void {
  if (!allowed.includes(t.dtype)) throw new TypeError(`${name}: expected dtype ${allowed.join(' or ')}, got ${t.dtype}`);
}

export function expectRank(name: string, t: Tensor, rank: number, layout: string): void {
  if (t.shape.length !== rank) throw new RangeError(`${name}: expected a rank-${rank} tensor ${layout}, got shape ${fmtShape(t.shape)}`);
}

export function expectDim(name: string, t: Tensor, dim: number, expected: number, label: string): void {
  if (t.shape[dim] !== expected) {
    throw new RangeError(`${name}: expected ${label} = ${expected} (dim ${dim}), got ${t.shape[dim]} in shape ${fmtShape(t.shape)}`);
  }
}

export function expectLastDimContiguous(name: string, t: Tensor): void {
  if (t.shape[t.shape.length - 1] > 1 && t.strides[t.strides.length - 1] !== 1) {
    throw new RangeError(`${name}: expected the last dimension to be contiguous (stride 1), got strides [${t.strides.join(', ')}]`);
  }
}

export function expectContiguous(name: string, t: Tensor): void {
  if (!t.isContiguous) throw new RangeError(`${name}: expected a contiguous tensor, got strides [${t.strides.join(', ')}] for shape ${fmtShape(t.shape)}`);
}

/** TMA-friendly layout: 16-byte aligned strides (kernels load rows with 16-byte vectors). */
export function expectStrides16B(name: string, t: Tensor): void {
  const elem = t.dtype === 'fp32' || t.dtype === 'int32' ? 4 : 2;
  for (let i = 0; i < t.strides.length - 1; i++) {
    if (t.shape[i] > 1 && (t.strides[i] * elem) % 16 !== 0) {
      throw new RangeError(`${name}: expected every stride to be a multiple of 16 bytes, got stride ${t.strides[i]} elements (${t.strides[i] * elem} B) in dim ${i}`);
    }
  }
  if ((t.offset * elem) % 16 !== 0) throw new RangeError(`${name}: expected a 16-byte aligned start, got an offset of ${t.offset * elem} B`);
}

export interface DecodeDims {
  b: number;
  sQ: number;
  hQ: number;
  hKv: number;
  numBlocks: number;
  maxBlocksPerSeq: number;
  numSmParts: number;
}

/** Shape/dtype/backend checks of flashMlaWithKvcache; returns the problem's dimensions. */
export function validateDecode(
  q: unknown,
  kCache: unknown,
  blockTable: unknown,
  cacheSeqlens: unknown,
  headDimV: unknown,
  tileSchedulerMetadata: unknown,
  numSplits: unknown,
): DecodeDims {
  expectTensor('q', q);
  expectTensor('kCache', kCache);
  expectTensor('blockTable', blockTable);
  expectTensor('cacheSeqlens', cacheSeqlens);
  expectTensor('tileSchedulerMetadata', tileSchedulerMetadata);
  expectTensor('numSplits', numSplits);
  const backend = q.backend;
  for (const [name, t] of [
    ['kCache', kCache],
    ['blockTable', blockTable],
    ['cacheSeqlens', cacheSeqlens],
    ['tileSchedulerMetadata', tileSchedulerMetadata],
    ['numSplits', numSplits],
  ] as const) {
    if (t.backend !== backend) throw new TypeError(`${name}: expected a tensor on '${backend}' (the backend of q), got one on '${t.backend}'`);
  }
  if (typeof headDimV !== 'number') throw new TypeError(`headDimV: expected the number ${HEAD_DIM_V}, got ${fmtValue(headDimV)}`);
  if (headDimV !== HEAD_DIM_V) throw new RangeError(`headDimV: expected ${HEAD_DIM_V}, got ${fmtValue(headDimV)}`);

  expectDtype('q', q, ['bf16', 'fp16']);
  expectRank('q', q, 4, '[b, s_q, h_q, 576]');
  expectDim('q', q, 3, HEAD_DIM_K, 'head dim');
  expectLastDimContiguous('q', q);
  const [b, sQ, hQ] = q.shape;
  if (b < 1) throw new RangeError(`q: expected batch size b ≥ 1, got shape ${fmtShape(q.shape)}`);
  if (sQ < 1) throw new RangeError(`q: expected s_q ≥ 1, got shape ${fmtShape(q.shape)}`);
  if (hQ < 1) throw new RangeError(`q: expected h_q ≥ 1, got shape ${fmtShape(q.shape)}`);

  if (kCache.dtype !== q.dtype) throw new TypeError(`kCache: expected dtype ${q.dtype} (the dtype of q), got ${kCache.dtype}`);
  expectRank('kCache', kCache, 4, '[numBlocks, 64, h_kv, 576]');
  expectDim('kCache', kCache, 1, PAGE_BLOCK_SIZE, 'page block size');
  expectDim('kCache', kCache, 2, 1, 'h_kv (MLA has one KV head)');
  expectDim('kCache', kCache, 3, HEAD_DIM_K, 'head dim');
  expectLastDimContiguous('kCache', kCache);
  const numBlocks = kCache.shape[0];
  if (numBlocks < 1) throw new RangeError(`kCache: expected at least one page block, got shape ${fmtShape(kCache.shape)}`);

  expectDtype('blockTable', blockTable, ['int32']);
  expectRank('blockTable', blockTable, 2, '[b, maxBlocksPerSeq]');
  expectDim('blockTable', blockTable, 0, b, 'b (the batch size of q)');
  expectLastDimContiguous('blockTable', blockTable);
  const maxBlocksPerSeq = blockTable.shape[1];

  expectDtype('cacheSeqlens', cacheSeqlens, ['int32']);
  expectRank('cacheSeqlens', cacheSeqlens, 1, '[b]');
  expectDim('cacheSeqlens', cacheSeqlens, 0, b, 'b (the batch size of q)');
  expectContiguous('cacheSeqlens', cacheSeqlens);

  expectDtype('tileSchedulerMetadata', tileSchedulerMetadata, ['int32']);
  expectRank('tileSchedulerMetadata', tileSchedulerMetadata, 2, '[numSmParts, 8]');
  expectDim('tileSchedulerMetadata', tileSchedulerMetadata, 1, METADATA_ROW_INTS, 'ints per row');
  expectContiguous('tileSchedulerMetadata', tileSchedulerMetadata);
  const numSmParts = tileSchedulerMetadata.shape[0];
  if (numSmParts < 1) throw new RangeError(`tileSchedulerMetadata: expected at least one row, got shape ${fmtShape(tileSchedulerMetadata.shape)}`);

  expectDtype('numSplits', numSplits, ['int32']);
  expectRank('numSplits', numSplits, 1, '[b + 1]');
  expectDim('numSplits', numSplits, 0, b + 1, 'b + 1');
  expectContiguous('numSplits', numSplits);

  if (backend === 'cuda') {
    expectStrides16B('q', q);
    expectStrides16B('kCache', kCache);
  }
  return { b, sQ, hQ, hKv: 1, numBlocks, maxBlocksPerSeq, numSmParts };
}

/** Value checks of cacheSeqlens (needs the values on the host). */
export function validateSeqlenValues(seqlens: Int32Array, maxBlocksPerSeq: number): void {
  const capacity = maxBlocksPerSeq * PAGE_BLOCK_SIZE;
  for (let i = 0; i < seqlens.length; i++) {
    if (seqlens[i] < 0) throw new RangeError(`cacheSeqlens[${i}]: expected ≥ 0, got ${seqlens[i]}`);
    if (seqlens[i] > capacity) {
      throw new RangeError(
        `cacheSeqlens[${i}]: expected ≤ ${capacity} (blockTable holds ${maxBlocksPerSeq} blocks of ${PAGE_BLOCK_SIZE} tokens per request), got ${seqlens[i]}`,
      );
    }
  }
}

export function validateSoftmaxScale(scale: unknown): number {
  if (typeof scale !== 'number') throw new TypeError(`softmaxScale: expected a finite number > 0, got ${fmtValue(scale)}`);
  if (!Number.isFinite(scale) || scale <= 0) throw new RangeError(`softmaxScale: expected a finite number > 0, got ${fmtValue(scale)}`);
  return scale;
}

/** Block-table entries that a request's tokens use must name existing page blocks. */
export function validateBlockTableValues(table: Int32Array, maxBlocksPerSeq: number, seqlens: Int32Array, numBlocks: number): void {
  for (let i = 0; i < seqlens.length; i++) {
    const used = Math.ceil(seqlens[i] / PAGE_BLOCK_SIZE);
    for (let j = 0; j < used; j++) {
      const v = table[i * maxBlocksPerSeq + j];
      if (v < 0 || v >= numBlocks) {
        throw new RangeError(`blockTable[${i}][${j}]: expected a page block index in [0, ${numBlocks}) (token ${j * PAGE_BLOCK_SIZE} of request ${i} lives there), got ${v}`);
      }
    }
  }
}
