// Writing tokens' latent vectors into a paged KV cache [numBlocks, 64, 1, 576] (or an FP8 cache
// uint8 [numPages, pageSize, 1, 656], where each row is quantized on the way: src/kvcache/fp8.ts):
//   appendKv(kCache, slotMapping, cKv, kPe)            token t → slot slotMapping[t] = block · 64 + row
//   appendKvPaged(kCache, blockTable, cacheSeqlens, …) token t → the last T/b positions of request ⌊t / (T/b)⌋,
//                                                      slots computed on the device from the block table
// Row = cKv[t] (512 channels) ‖ kPe[t] (64 channels), copied bit for bit (same dtype, no conversion).
// A negative slot (padding token) writes nothing. This module validates; the write is the backend's appendKv:
// cuda src/cuda/append.ts (kernels/append_kv.cu, 16-byte loads and stores), cpu src/cpu/append.ts. FP8 caches
// are cpu-only today (cuda refuses them with UnsupportedFeatureError until its kernel exists).

import { Tensor } from '../tensor.js';
import { isCapturing } from '../capture.js';
import { FP8_BYTES_PER_TOKEN, HEAD_DIM_K, HEAD_DIM_V, PAGE_BLOCK_SIZE, ROPE_DIM } from '../mla/constants.js';
import { getBackend } from '../backend.js';
import { expectContiguous, expectDim, expectDtype, expectLastDimContiguous, expectRank, expectTensor, fmtShape } from '../mla/validate.js';

export { ROPE_DIM };
/** 16-byte chunks per cached row (1152 B). */
const CHUNKS_PER_ROW = (HEAD_DIM_K * 2) / 16;
/** The cuda kernel (src/cuda/append.ts) indexes chunks with 32-bit integers; every backend keeps its limit. */
export const MAX_APPEND_TOKENS = Math.floor((2 ** 31 - 1) / CHUNKS_PER_ROW);

export interface AppendKvOptions {
  /**
   * Check slot values against the cache's capacity first. Always on for cpu tensors; for cuda it reads
   * slotMapping back (a device→host copy and a sync), so it defaults to on outside graph capture and off
   * inside. Out-of-range slots are skipped by the kernel either way (never written out of bounds).
   */
  checkValues?: boolean;
}

interface Checked {
  T: number;
  numBlocks: number;
  /** Tokens per page (64, or any for an FP8 cache written through a slot mapping). */
  pageSize: number;
  fp8: boolean;
}

/** Shape/dtype/backend checks of the cache and the token rows. */
function validateRows(kCache: unknown, cKv: unknown, kPe: unknown, expectedT?: { T: number; what: string }): Checked {
  expectTensor('kCache', kCache);
  expectTensor('cKv', cKv);
  expectTensor('kPe', kPe);
  expectDtype('kCache', kCache, ['bf16', 'fp16', 'uint8']);
  const fp8 = kCache.dtype === 'uint8';
  if (fp8) {
    expectRank('kCache', kCache, 4, `[numPages, pageSize, 1, ${FP8_BYTES_PER_TOKEN}] (the FP8 layout)`);
    expectDim('kCache', kCache, 2, 1, 'h_kv (the FP8 layout has one KV head)');
    expectDim('kCache', kCache, 3, FP8_BYTES_PER_TOKEN, 'bytes per token (the FP8 layout)');
    if (kCache.shape[1] < 1) throw new RangeError(`kCache: expected a page size ≥ 1 (dim 1), got shape ${fmtShape(kCache.shape)}`);
  } else {
    expectRank('kCache', kCache, 4, '[numBlocks, 64, 1, 576]');
    expectDim('kCache', kCache, 1, PAGE_BLOCK_SIZE, 'page block size');
    expectDim('kCache', kCache, 2, 1, 'h_kv (MLA has one KV head)');
    expectDim('kCache', kCache, 3, HEAD_DIM_K, 'head dim');
  }
  expectLastDimContiguous('kCache', kCache);
  for (const [name, t, width] of [
    ['cKv', cKv, HEAD_DIM_V],
    ['kPe', kPe, ROPE_DIM],
  ] as const) {
    if (t.backend !== kCache.backend) throw new TypeError(`${name}: expected a tensor on '${kCache.backend}' (the backend of kCache), got one on '${t.backend}'`);
    if (fp8) {
      if (name === 'cKv') expectDtype(name, t, ['bf16', 'fp16']);
      else if (t.dtype !== cKv.dtype) throw new TypeError(`${name}: expected dtype ${cKv.dtype} (the dtype of cKv), got ${t.dtype}`);
    } else if (t.dtype !== kCache.dtype) throw new TypeError(`${name}: expected dtype ${kCache.dtype} (the dtype of kCache), got ${t.dtype}`);
    expectRank(name, t, 2, `[T, ${width}]`);
    expectDim(name, t, 1, width, 'channels');
    expectLastDimContiguous(name, t);
  }
  const T = cKv.shape[0];
  if (kPe.shape[0] !== T) throw new RangeError(`kPe: expected T = ${T} rows (the rows of cKv), got shape ${fmtShape(kPe.shape)}`);
  if (expectedT && T !== expectedT.T) throw new RangeError(`cKv: expected T = ${expectedT.T} rows (${expectedT.what}), got shape ${fmtShape(cKv.shape)}`);
  if (T > MAX_APPEND_TOKENS) throw new RangeError(`cKv: expected at most ${MAX_APPEND_TOKENS} tokens per call, got ${T}`);
  if (fp8) getBackend(kCache.backend).checkKvFormat('fp8', 'kCache'); // before any value is read back
  const backend = getBackend(kCache.backend); // its layout rules (cuda: 16-byte vectors, 32-bit strides)
  const rows = [
    ['kCache', kCache],
    ['cKv', cKv],
    ['kPe', kPe],
  ] as const;
  for (const [name, t] of rows) backend.checkLayout(name, t, 'vectorLoad');
  for (const [name, t] of rows) backend.checkLayout(name, t, 'int32Strides');
  return { T, numBlocks: kCache.shape[0], pageSize: kCache.shape[1], fp8 };
}

function expectInt32Vector(name: string, t: unknown, backend: string, length: number | null, layout: string): asserts t is Tensor {
  expectTensor(name, t);
  if (t.backend !== backend) throw new TypeError(`${name}: expected a tensor on '${backend}' (the backend of kCache), got one on '${t.backend}'`);
  expectDtype(name, t, ['int32']);
  expectRank(name, t, 1, layout);
  if (length !== null && t.shape[0] !== length) throw new RangeError(`${name}: expected ${length} entries ${layout}, got shape ${fmtShape(t.shape)}`);
  expectContiguous(name, t);
}

/** Values of slotMapping must address a row of the cache (or be negative: padding). */
export function validateSlotValues(slots: Int32Array, numBlocks: number, pageSize = PAGE_BLOCK_SIZE): void {
  const capacity = numBlocks * pageSize;
  for (let i = 0; i < slots.length; i++) {
    if (slots[i] >= capacity) {
      throw new RangeError(`slotMapping[${i}]: expected a slot in [0, ${capacity}) (${numBlocks} blocks × ${pageSize} tokens) or < 0 for padding, got ${slots[i]}`);
    }
  }
}

/**
 * Scatter T tokens' latent vectors into the paged cache: row slotMapping[t] (= block · 64 + row in block)
 * gets cKv[t] ‖ kPe[t]. cKv [T, 512] and kPe [T, 64] may be strided views (e.g. the two parts of one
 * [T, 576] projection output); their dtype must be kCache's. Negative slots are skipped.
 */
export function appendKv(kCache: Tensor, slotMapping: Tensor, cKv: Tensor, kPe: Tensor, opts: AppendKvOptions = {}): void {
  const { T, numBlocks, pageSize } = validateRows(kCache, cKv, kPe);
  expectInt32Vector('slotMapping', slotMapping, kCache.backend, T, '[T] (one slot per row of cKv)');
  const check = kCache.backend === 'cpu' || (opts.checkValues ?? !isCapturing());
  if (check) validateSlotValues(slotMapping.toInt32(), numBlocks, pageSize);
  appendKvUnchecked(kCache, slotMapping, cKv, kPe);
}

/**
 * Write the newest tokens of every request with slots computed from the block table (on the device for
 * cuda, so a captured graph needs no slot upload): with b = cacheSeqlens.shape[0] and n = T / b, token
 * t = i · n + j goes to position cacheSeqlens[i] − n + j of request i, i.e. cacheSeqlens must already
 * count the new tokens (PagedKvCache.reserve() does that). Positions < 0 are skipped.
 */
export function appendKvPaged(kCache: Tensor, blockTable: Tensor, cacheSeqlens: Tensor, cKv: Tensor, kPe: Tensor, opts: AppendKvOptions = {}): void {
  const { T, numBlocks, fp8 } = validateRows(kCache, cKv, kPe);
  // a block table counts pages of 64 tokens
  if (fp8) expectDim('kCache', kCache, 1, PAGE_BLOCK_SIZE, 'page block size (the block table counts pages of 64 tokens)');
  expectTensor('cacheSeqlens', cacheSeqlens);
  expectInt32Vector('cacheSeqlens', cacheSeqlens, kCache.backend, null, '[b]');
  const b = cacheSeqlens.shape[0];
  if (b < 1) throw new RangeError(`cacheSeqlens: expected b ≥ 1 requests, got shape ${fmtShape(cacheSeqlens.shape)}`);
  if (T % b !== 0) throw new RangeError(`cKv: expected T a multiple of b = ${b} (the same number of new tokens per request), got T = ${T}`);
  expectTensor('blockTable', blockTable);
  if (blockTable.backend !== kCache.backend) throw new TypeError(`blockTable: expected a tensor on '${kCache.backend}' (the backend of kCache), got one on '${blockTable.backend}'`);
  expectDtype('blockTable', blockTable, ['int32']);
  expectRank('blockTable', blockTable, 2, '[b, maxBlocksPerSeq]');
  expectDim('blockTable', blockTable, 0, b, 'b (the length of cacheSeqlens)');
  expectLastDimContiguous('blockTable', blockTable);
  const n = T / b;
  const check = kCache.backend === 'cpu' || (opts.checkValues ?? !isCapturing());
  if (check) {
    const lens = cacheSeqlens.toInt32();
    const table = blockTable.toInt32();
    const mbps = blockTable.shape[1];
    for (let i = 0; i < b; i++) {
      if (lens[i] > mbps * PAGE_BLOCK_SIZE) {
        throw new RangeError(`cacheSeqlens[${i}]: expected ≤ ${mbps * PAGE_BLOCK_SIZE} (blockTable holds ${mbps} blocks of ${PAGE_BLOCK_SIZE} tokens per request), got ${lens[i]}`);
      }
      for (let p = Math.max(lens[i] - n, 0); p < lens[i]; p++) {
        const j = Math.floor(p / PAGE_BLOCK_SIZE);
        const v = table[i * mbps + j];
        if (v < 0 || v >= numBlocks) throw new RangeError(`blockTable[${i}][${j}]: expected a page block index in [0, ${numBlocks}) (token ${p} of request ${i} goes there), got ${v}`);
      }
    }
  }
  if (T === 0) return;
  getBackend(kCache.backend).appendKv({ kCache, cKv, kPe, slotMapping: null, paged: { blockTable, cacheSeqlens, tokensPerSeq: n } });
}

/** appendKv without argument checks (PagedKvCache validates once and computes the slots itself). */
export function appendKvUnchecked(kCache: Tensor, slotMapping: Tensor, cKv: Tensor, kPe: Tensor): void {
  const T = cKv.shape[0];
  if (T === 0) return;
  getBackend(kCache.backend).appendKv({ kCache, cKv, kPe, slotMapping, paged: null });
}

/** Exported for the checks of PagedKvCache.append (same rules as appendKv). */
export function validateAppendRows(kCache: Tensor, cKv: unknown, kPe: unknown, T: number, what: string): void {
  validateRows(kCache, cKv, kPe, { T, what });
}
