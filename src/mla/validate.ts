// Argument checks for the MLA API. Every rule throws before anything is launched, and every message names
// the argument, what was expected and what was given.

import { Tensor } from '../tensor.js';
import { getBackend } from '../backend.js';
import type { DType } from '../dtype.js';
import { FP8_BYTES_PER_TOKEN, HEAD_DIM_K, HEAD_DIMS_K, HEAD_DIM_V, METADATA_ROW_INTS, PAGE_BLOCK_SIZE } from './constants.js';
import { fmtValue } from '../util/fmt-value.js';

/** An integer ≥ 1 (a count or size argument), or a TypeError / RangeError naming `name`. */
export function expectPositiveInt(name: string, v: unknown): number {
  if (typeof v !== 'number') throw new TypeError(`${name}: expected an integer ≥ 1, got ${fmtValue(v)}`);
  if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`${name}: expected an integer ≥ 1, got ${fmtValue(v)}`);
  return v;
}

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

export interface DecodeDims {
  b: number;
  sQ: number;
  hQ: number;
  hKv: number;
  /** d_qk: 576 or 512. */
  headDim: number;
  numBlocks: number;
  /** Tokens per page of kCache (64 for dense decode). */
  pageSize: number;
  /** Dense: block-table width; sparse: 0. */
  maxBlocksPerSeq: number;
  numSmParts: number;
  /** kCache is the FP8 layout. */
  fp8: boolean;
  /** indices given: sparse decode, with topk = indices.shape[2]. */
  sparse: boolean;
  topk: number;
}

/** The options of flashMlaWithKvcache that change which decode runs. */
export interface DecodeVariant {
  isFp8KvCache?: unknown;
  indices?: unknown;
  topkLength?: unknown;
  attnSink?: unknown;
}

const SPARSE_ONLY = 'it applies to sparse decode, with indices';

/** A Tensor, or a message that says when null is allowed. */
function expectTensorOr(name: string, t: unknown, nullAllowedWhen: string): asserts t is Tensor {
  if (t === null) throw new TypeError(`${name}: expected a Tensor (null only ${nullAllowedWhen}), got null`);
  expectTensor(name, t);
}

/** Nothing (undefined or null) where a tensor would mean another mode. */
function expectAbsent(name: string, v: unknown, why: string): void {
  if (v !== undefined && v !== null) throw new TypeError(`${name}: expected null or nothing (${why}), got ${v instanceof Tensor ? `a Tensor ${fmtShape(v.shape)}` : fmtValue(v)}`);
}

/**
 * Shape/dtype/backend checks of flashMlaWithKvcache; returns the problem's dimensions.
 * Dense (no indices): q [b, s_q, h_q, d_qk], kCache [numBlocks, 64, h_kv, d_qk] in q's dtype (d_qk 576 or 512,
 * h_q a multiple of h_kv) or the FP8 layout uint8 [numBlocks, 64, 1, 656] (isFp8KvCache, d_qk 576), blockTable,
 * cacheSeqlens. Sparse (indices [b, s_q, topk]): the FP8 cache with any page size, no blockTable/cacheSeqlens,
 * optional topkLength [b] int32 and attnSink [h_q] fp32.
 */
export function validateDecode(
  q: unknown,
  kCache: unknown,
  blockTable: unknown,
  cacheSeqlens: unknown,
  headDimV: unknown,
  tileSchedulerMetadata: unknown,
  numSplits: unknown,
  variant: DecodeVariant = {},
): DecodeDims {
  expectTensor('q', q);
  expectTensor('kCache', kCache);
  const { indices, topkLength, attnSink, isFp8KvCache } = variant;
  const sparse = indices !== undefined && indices !== null;
  if (sparse) {
    expectAbsent('blockTable', blockTable, 'sparse decode: indices address the cache directly');
    expectAbsent('cacheSeqlens', cacheSeqlens, 'sparse decode: indices say which tokens to attend');
    expectTensor('indices', indices);
    if (topkLength !== undefined && topkLength !== null) expectTensor('topkLength', topkLength);
    if (attnSink !== undefined && attnSink !== null) expectTensor('attnSink', attnSink);
  } else {
    expectTensorOr('blockTable', blockTable, 'for sparse decode, with indices');
    expectTensorOr('cacheSeqlens', cacheSeqlens, 'for sparse decode, with indices');
    expectAbsent('topkLength', topkLength, SPARSE_ONLY);
    expectAbsent('attnSink', attnSink, SPARSE_ONLY);
  }
  expectTensor('tileSchedulerMetadata', tileSchedulerMetadata);
  expectTensor('numSplits', numSplits);
  const backend = q.backend;
  const others: [string, unknown][] = [
    ['kCache', kCache],
    ['blockTable', blockTable],
    ['cacheSeqlens', cacheSeqlens],
    ['indices', indices],
    ['topkLength', topkLength],
    ['attnSink', attnSink],
    ['tileSchedulerMetadata', tileSchedulerMetadata],
    ['numSplits', numSplits],
  ];
  for (const [name, t] of others) {
    if (t instanceof Tensor && t.backend !== backend) throw new TypeError(`${name}: expected a tensor on '${backend}' (the backend of q), got one on '${t.backend}'`);
  }
  if (typeof headDimV !== 'number') throw new TypeError(`headDimV: expected the number ${HEAD_DIM_V}, got ${fmtValue(headDimV)}`);
  if (headDimV !== HEAD_DIM_V) throw new RangeError(`headDimV: expected ${HEAD_DIM_V}, got ${fmtValue(headDimV)}`);

  expectDtype('q', q, ['bf16', 'fp16']);
  expectRank('q', q, 4, '[b, s_q, h_q, 576]');
  const headDim = q.shape[3];
  if (!HEAD_DIMS_K.includes(headDim)) {
    throw new RangeError(`q: expected head dim = ${HEAD_DIMS_K.join(' or ')} (dim 3), got ${headDim} in shape ${fmtShape(q.shape)}`);
  }
  expectLastDimContiguous('q', q);
  const [b, sQ, hQ] = q.shape;
  if (b < 1) throw new RangeError(`q: expected batch size b ≥ 1, got shape ${fmtShape(q.shape)}`);
  if (sQ < 1) throw new RangeError(`q: expected s_q ≥ 1, got shape ${fmtShape(q.shape)}`);
  if (hQ < 1) throw new RangeError(`q: expected h_q ≥ 1, got shape ${fmtShape(q.shape)}`);

  if (isFp8KvCache !== undefined && typeof isFp8KvCache !== 'boolean') throw new TypeError(`isFp8KvCache: expected a boolean, got ${fmtValue(isFp8KvCache)}`);
  const fp8 = isFp8KvCache === true;
  if (sparse && !fp8) throw new TypeError(`isFp8KvCache: expected true with indices (sparse decode reads the FP8 cache), got ${fmtValue(isFp8KvCache)}`);
  if (!fp8 && kCache.dtype === 'uint8') {
    throw new TypeError(`isFp8KvCache: expected true for a uint8 kCache (the FP8 layout, ${FP8_BYTES_PER_TOKEN} bytes per token), got ${fmtValue(isFp8KvCache)}`);
  }
  let hKv = 1;
  if (fp8) {
    if (kCache.dtype !== 'uint8') throw new TypeError(`kCache: expected dtype uint8 (isFp8KvCache: the FP8 layout, ${FP8_BYTES_PER_TOKEN} bytes per token), got ${kCache.dtype}`);
    expectRank('kCache', kCache, 4, `[numBlocks, ${sparse ? 'pageSize' : PAGE_BLOCK_SIZE}, 1, ${FP8_BYTES_PER_TOKEN}] (the FP8 layout)`);
    if (sparse) {
      if (kCache.shape[1] < 1) throw new RangeError(`kCache: expected a page size ≥ 1 (dim 1), got shape ${fmtShape(kCache.shape)}`);
    } else expectDim('kCache', kCache, 1, PAGE_BLOCK_SIZE, 'page block size');
    expectDim('kCache', kCache, 2, 1, 'h_kv (the FP8 layout has one KV head)');
    expectDim('kCache', kCache, 3, FP8_BYTES_PER_TOKEN, 'bytes per token (the FP8 layout)');
    if (headDim !== HEAD_DIM_K) {
      throw new RangeError(`q: expected head dim = ${HEAD_DIM_K} with an FP8 kCache (the V3.2 layout holds 512 latent + 64 RoPE channels), got ${headDim} in shape ${fmtShape(q.shape)}`);
    }
  } else {
    if (kCache.dtype !== q.dtype) throw new TypeError(`kCache: expected dtype ${q.dtype} (the dtype of q), got ${kCache.dtype}`);
    expectRank('kCache', kCache, 4, `[numBlocks, 64, h_kv, ${headDim}]`);
    expectDim('kCache', kCache, 1, PAGE_BLOCK_SIZE, 'page block size');
    hKv = kCache.shape[2];
    if (hKv < 1) throw new RangeError(`kCache: expected h_kv ≥ 1 KV heads (dim 2), got shape ${fmtShape(kCache.shape)}`);
    expectDim('kCache', kCache, 3, headDim, 'head dim (that of q)');
    if (hQ % hKv !== 0) throw new RangeError(`q: expected h_q a multiple of h_kv = ${hKv} (kCache dim 2: query heads grouped per KV head), got h_q = ${hQ}`);
  }
  expectLastDimContiguous('kCache', kCache);
  const numBlocks = kCache.shape[0];
  if (numBlocks < 1) throw new RangeError(`kCache: expected at least one page block, got shape ${fmtShape(kCache.shape)}`);

  let maxBlocksPerSeq = 0;
  let topk = 0;
  if (sparse) {
    const ix = indices as Tensor;
    expectDtype('indices', ix, ['int32']);
    expectRank('indices', ix, 3, '[b, s_q, topk]');
    expectDim('indices', ix, 0, b, 'b (the batch size of q)');
    expectDim('indices', ix, 1, sQ, 's_q (the query tokens of q)');
    topk = ix.shape[2];
    if (topk < 1) throw new RangeError(`indices: expected topk ≥ 1 (dim 2), got shape ${fmtShape(ix.shape)}`);
    expectLastDimContiguous('indices', ix);
    if (topkLength instanceof Tensor) {
      expectDtype('topkLength', topkLength, ['int32']);
      expectRank('topkLength', topkLength, 1, '[b]');
      expectDim('topkLength', topkLength, 0, b, 'b (the batch size of q)');
      expectContiguous('topkLength', topkLength);
    }
    if (attnSink instanceof Tensor) {
      expectDtype('attnSink', attnSink, ['fp32']);
      expectRank('attnSink', attnSink, 1, '[h_q]');
      expectDim('attnSink', attnSink, 0, hQ, 'h_q (the heads of q)');
      expectContiguous('attnSink', attnSink);
    }
  } else {
    const bt = blockTable as Tensor;
    const cs = cacheSeqlens as Tensor;
    expectDtype('blockTable', bt, ['int32']);
    expectRank('blockTable', bt, 2, '[b, maxBlocksPerSeq]');
    expectDim('blockTable', bt, 0, b, 'b (the batch size of q)');
    expectLastDimContiguous('blockTable', bt);
    maxBlocksPerSeq = bt.shape[1];

    expectDtype('cacheSeqlens', cs, ['int32']);
    expectRank('cacheSeqlens', cs, 1, '[b]');
    expectDim('cacheSeqlens', cs, 0, b, 'b (the batch size of q)');
    expectContiguous('cacheSeqlens', cs);
  }

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

  const layout = getBackend(backend); // the backend's own layout rules (cuda: 16-byte vectors and TMA)
  layout.checkLayout('q', q, 'vectorLoad');
  layout.checkLayout('kCache', kCache, 'vectorLoad');
  return { b, sQ, hQ, hKv, headDim, numBlocks, pageSize: kCache.shape[1], maxBlocksPerSeq, numSmParts, fp8, sparse, topk };
}

/** Value checks of topkLength (needs the values on the host): each in [0, topk]. */
export function validateTopkLengthValues(lengths: Int32Array, topk: number): void {
  for (let i = 0; i < lengths.length; i++) {
    if (lengths[i] < 0 || lengths[i] > topk) throw new RangeError(`topkLength[${i}]: expected an integer in [0, ${topk}] (topk = indices.shape[2]), got ${lengths[i]}`);
  }
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
