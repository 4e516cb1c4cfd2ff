// Random decode problems for the layouts beyond FlashMLA 9edee0c's (h_kv ≥ 1, d_qk 512, the FP8 cache, sparse
// top-k indices) and a float64 reference that reads every key by its own arithmetic: 16-bit values by their
// bit fields, FP8 rows through test/util/fp8-ref.ts, keys through the block table or the indices directly; the
// softmax itself and the random values are src/check's (attendRow, randomHalfBits), shared with every other check.

import assert from 'node:assert/strict';
import { Tensor } from '../../src/index.js';
import { attendRow } from '../../src/check/reference.js';
import { HALF_FORMATS } from '../../src/check/formats.js';
import { randomHalfBits, rng } from './problem.js';
import { refDequantizeRow, refHalfValue } from './fp8-ref.js';
import { quantizeFp8Row } from '../../src/kvcache/fp8.js';

/**
 * One token's 656 FP8 bytes into `out[at …]` from the 576 16-bit patterns `bits[o …]`: the library's writer, which
 * test/fp8-cache.test.ts checks bit for bit against the independent refQuantizeRow (thousands of random rows and every
 * special tile) — ~5× faster than it, and the problems' tokens are many: built with refQuantizeRow they cost the FP8/sparse
 * GPU file ~100 s of host time (~560 000 tokens; docs/perf-log.md, session 61). The oracle still reads the bytes by
 * fp8-ref.ts's arithmetic.
 */
const tokenValues = new Float64Array(512);
function quantizeToken(dtype: 'bf16' | 'fp16', bits: Uint16Array, o: number, out: Uint8Array, at: number): void {
  const value = HALF_FORMATS[dtype].value;
  for (let c = 0; c < 512; c++) tokenValues[c] = value[bits[o + c]];
  quantizeFp8Row(tokenValues, 0, bits, o + 512, out, at);
}

export interface DenseSpec {
  b: number;
  sQ: number;
  hQ: number;
  /** KV heads (native caches); the FP8 cache has one. */
  hKv: number;
  /** d_qk: 576 or 512 (FP8: 576). */
  d: number;
  seqlens: number[];
  dtype: 'bf16' | 'fp16';
  fp8: boolean;
  seed: number;
  /** Magnitude of q and K values (default 0.25). */
  scale?: number;
  /**
   * K magnitudes spread by 2^−kSpread … 2^kSpread per block, token and 128-channel group (FP8: scales that differ between
   * tokens, groups and blocks). Default: none (one magnitude).
   */
  kSpread?: number;
}

export interface DenseProblem {
  spec: DenseSpec;
  qBits: Uint16Array;
  /** Native cache [numBlocks, 64, hKv, d] bits (NaN where unused); for FP8, the 16-bit rows that were quantized. */
  kBits: Uint16Array;
  /** FP8 cache [numBlocks, 64, 1, 656] bytes (0xff = NaN everywhere unused), or null. */
  kBytes: Uint8Array | null;
  table: Int32Array;
  numBlocks: number;
  maxBlocksPerSeq: number;
}

/** Pages shuffled, unused pages and tails NaN, block-table entries past each request a huge garbage index. */
export function makeDenseProblem(spec: DenseSpec): DenseProblem {
  const r = rng(spec.seed);
  const { b, sQ, hQ, d, seqlens, dtype, fp8 } = spec;
  const hKv = fp8 ? 1 : spec.hKv;
  const used = seqlens.map((s) => Math.ceil(s / 64));
  const maxBlocksPerSeq = Math.max(1, ...used) + 1;
  const numBlocks = used.reduce((a, x) => a + x, 0) + 2;
  const perm = Array.from({ length: numBlocks }, (_, i) => i);
  for (let i = perm.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  const rowElems = hKv * d;
  const kBits = new Uint16Array(numBlocks * 64 * rowElems).fill(HALF_FORMATS[dtype].nanBits);
  const kBytes = fp8 ? new Uint8Array(numBlocks * 64 * 656).fill(0xff) : null;
  const table = new Int32Array(b * maxBlocksPerSeq).fill(2147480000);
  let next = 0;
  for (let i = 0; i < b; i++) {
    for (let j = 0; j < used[i]; j++) {
      const block = perm[next++];
      table[i * maxBlocksPerSeq + j] = block;
      const tokens = Math.min(64, seqlens[i] - j * 64);
      if (spec.kSpread) {
        const sp = spec.kSpread, base = spec.scale ?? 0.25;
        for (let t = 0; t < tokens; t++)
          for (let g = 0; g * 128 < rowElems; g++) {
            const n = Math.min(128, rowElems - g * 128), e = (sp - 1) * (((block + g) % 3) - 1) + (((t * 5 + g) % 3) - 1);  // (per block: the block's largest scale varies)
            randomHalfBits(dtype, n, r, { scale: base * 2 ** e }, kBits, (block * 64 + t) * rowElems + g * 128);
          }
      } else randomHalfBits(dtype, tokens * rowElems, r, { scale: spec.scale }, kBits, block * 64 * rowElems);
      if (kBytes) {
        for (let t = 0; t < tokens; t++) {
          const o = (block * 64 + t) * 576;
          quantizeToken(dtype, kBits, o, kBytes, (block * 64 + t) * 656);
        }
      }
    }
  }
  const qBits = randomHalfBits(dtype, b * sQ * hQ * d, r, { scale: spec.scale });
  return { spec: { ...spec, hKv }, qBits, kBits, kBytes, table, numBlocks, maxBlocksPerSeq };
}

export function denseTensors(p: DenseProblem): { q: Tensor; kCache: Tensor; blockTable: Tensor; cacheSeqlens: Tensor } {
  const { b, sQ, hQ, hKv, d, dtype } = p.spec;
  return {
    q: Tensor.from(p.qBits, [b, sQ, hQ, d], { dtype }),
    kCache: p.kBytes ? Tensor.from(p.kBytes, [p.numBlocks, 64, 1, 656], { dtype: 'uint8' }) : Tensor.from(p.kBits, [p.numBlocks, 64, hKv, d], { dtype }),
    blockTable: Tensor.from(p.table, [b, p.maxBlocksPerSeq]),
    cacheSeqlens: Tensor.from(Int32Array.from(p.spec.seqlens), [b]),
  };
}

/**
 * The problem's q and 16-bit cache as views into larger NaN-filled buffers on `backend`: the cache [numBlocks, 64,
 * h_kv, d] inside 2·h_kv heads of d + 64 channels (KV head k = buffer head 2k + 1) and pages of 65 token rows; q
 * [b, s_q, h_q, d] with one NaN head after each token's heads and 64 NaN channels after each head. A kernel that
 * reads another KV head, a channel past d, the spare row of a page or a padding head gets NaN.
 */
export function nanPaddedViews(p: DenseProblem, backend: 'cpu' | 'cuda', opts: { qRowsOneStride?: boolean } = {}): { q: Tensor; kCache: Tensor } {
  const { hKv, d, dtype } = p.spec;
  if (p.kBytes) throw new RangeError('nanPaddedViews: expected a 16-bit cache problem, got an FP8 one');
  const nan = HALF_FORMATS[dtype].nanBits;
  const dPad = d + 64;
  const rowStride = 2 * hKv * dPad;
  const pageStride = 65 * rowStride;
  const k = new Uint16Array(p.numBlocks * pageStride).fill(nan);
  for (let blk = 0; blk < p.numBlocks; blk++)
    for (let t = 0; t < 64; t++)
      for (let kh = 0; kh < hKv; kh++) {
        const from = ((blk * 64 + t) * hKv + kh) * d;
        k.set(p.kBits.subarray(from, from + d), blk * pageStride + t * rowStride + (2 * kh + 1) * dPad);
      }
  const kCache = Tensor.from(k, [k.length], { dtype, backend }).view([p.numBlocks, 64, hKv, d], [pageStride, rowStride, 2 * dPad, 1], dPad);
  return { q: nanPaddedQ(p, backend, opts), kCache };
}

/**
 * The problem's q [b, s_q, h_q, d] as a view into a NaN-filled buffer: one NaN head after each token's heads (not with
 * `qRowsOneStride`: then a request's folded rows s · h_q + h are one stride apart, the layout a Q load by TMA would
 * need — measured and removed in session 39 — kept so the 'hopper' emulation sees both), 64 NaN channels after each head.
 */
export function nanPaddedQ(p: { spec: Pick<DenseSpec, 'b' | 'sQ' | 'hQ' | 'dtype'> & { d?: number }; qBits: Uint16Array }, backend: 'cpu' | 'cuda', opts: { qRowsOneStride?: boolean } = {}): Tensor {
  const { b, sQ, hQ, d = 576, dtype } = p.spec;
  const dPad = d + 64;
  const qSeqStride = (hQ + (opts.qRowsOneStride ? 0 : 1)) * dPad;
  const qb = new Uint16Array(b * sQ * qSeqStride).fill(HALF_FORMATS[dtype].nanBits);
  for (let r = 0; r < b * sQ * hQ; r++) qb.set(p.qBits.subarray(r * d, (r + 1) * d), Math.floor(r / hQ) * qSeqStride + (r % hQ) * dPad);
  return Tensor.from(qb, [qb.length], { dtype, backend }).view([b, sQ, hQ, d], [sQ * qSeqStride, qSeqStride, dPad, 1]);
}

/**
 * An FP8 problem's cache [numBlocks, 64, 1, 656] as a view into a larger buffer of 0xff bytes (NaN codes, scales and
 * RoPE) on `backend`: token rows `rowStride` bytes apart (default 672: 16 NaN bytes after each row), pages of
 * `pageRows` rows (default 65: a spare NaN token per page, as FlashMLA's tests allocate), starting `offset` bytes in
 * (default 48). A kernel that reads a padding byte, the spare row or another row's bytes gets NaN.
 */
export function nanPaddedFp8Cache(p: DenseProblem, backend: 'cpu' | 'cuda', opts: { rowStride?: number; pageRows?: number; offset?: number } = {}): Tensor {
  if (!p.kBytes) throw new RangeError('nanPaddedFp8Cache: expected an FP8 cache problem, got a 16-bit one');
  const { rowStride = 672, pageRows = 65, offset = 48 } = opts;
  const pageStride = pageRows * rowStride;
  const bytes = new Uint8Array(offset + p.numBlocks * pageStride).fill(0xff);
  for (let slot = 0; slot < p.numBlocks * 64; slot++) {
    bytes.set(p.kBytes.subarray(slot * 656, (slot + 1) * 656), offset + Math.floor(slot / 64) * pageStride + (slot % 64) * rowStride);
  }
  return Tensor.from(bytes, [bytes.length], { dtype: 'uint8', backend }).view([p.numBlocks, 64, 1, 656], [pageStride, rowStride, rowStride, 1], offset);
}

/**
 * A sparse problem's FP8 cache [numPages, pageSize, 1, 656] as a view into a larger buffer of 0xff bytes (NaN codes,
 * scales and RoPE) on `backend`: token rows `rowStride` bytes apart (default 672: 16 NaN bytes after each row), pages of
 * pageSize + 1 rows (a spare NaN token per page), starting `offset` bytes in (default 48). Every slot the problem left
 * NaN stays NaN; a kernel that reads a padding byte, the spare row or another row's bytes gets NaN.
 */
export function nanPaddedSparseCache(p: SparseProblem, backend: 'cpu' | 'cuda', opts: { rowStride?: number; offset?: number } = {}): Tensor {
  const { rowStride = 672, offset = 48 } = opts;
  const { pageSize, numPages } = p.spec;
  const pageStride = (pageSize + 1) * rowStride;
  const bytes = new Uint8Array(offset + numPages * pageStride).fill(0xff);
  for (let slot = 0; slot < numPages * pageSize; slot++) {
    const page = Math.floor(slot / pageSize), row = slot % pageSize;
    const from = page * p.pageStride + row * 656;
    bytes.set(p.kBytes.subarray(from, from + 656), offset + page * pageStride + row * rowStride);
  }
  return Tensor.from(bytes, [bytes.length], { dtype: 'uint8', backend }).view([numPages, pageSize, 1, 656], [pageStride, rowStride, rowStride, 1], offset);
}

/**
 * A decode's out and lse against the oracle's under FlashMLA's dense tolerances; rows that see no key (lse +inf)
 * must hold exactly +0. Throws an AssertionError naming the seed. `vMagnitude`: how much larger than the plain cases'
 * the V values may be (K-spread cases: 2^kSpread) — out's absolute tolerance grows with it, as the rounding of P·V
 * does (FlashMLA's tolerances are for its plain random data); its relative tolerance stays.
 */
export function checkDenseRows(name: string, got: { out: Tensor; lse: Tensor }, want: { out: Tensor; lse: Tensor }, seed: number, vMagnitude = 1): void {
  checkRowsWithin(name, got, want, seed, { ...FLASHMLA_TOL.denseOut, abs: FLASHMLA_TOL.denseOut.abs * vMagnitude });
}

/** checkDenseRows under FlashMLA's sparse tolerances (out abs 1e-3): a sparse decode against the oracle. */
export function checkSparseRows(name: string, got: { out: Tensor; lse: Tensor }, want: { out: Tensor; lse: Tensor }, seed: number): void {
  checkRowsWithin(name, got, want, seed, FLASHMLA_TOL.sparseOut);
}

function checkRowsWithin(name: string, got: { out: Tensor; lse: Tensor }, want: { out: Tensor; lse: Tensor }, seed: number, outTol: { abs: number; rel: number; cos: number }): void {
  const gotLse = got.lse.toFloat32();
  const o = flashMlaClose(`${name} out`, got.out.toFloat32(), want.out.toFloat32(), outTol);
  assert.equal(o, null, `${o} (seed ${seed}; rerun with FLASH_MLA_SEED=${seed})`);
  const l = flashMlaClose(`${name} lse`, gotLse, want.lse.toFloat32(), FLASHMLA_TOL.lse);
  assert.equal(l, null, `${l} (seed ${seed})`);
  const [, hQ, sQ] = got.lse.shape;
  const bits = got.out.toRaw() as Uint16Array;
  for (let k = 0; k < gotLse.length; k++) {
    if (gotLse[k] !== Infinity) continue;
    const [i, h, s] = [Math.floor(k / (hQ * sQ)), Math.floor(k / sQ) % hQ, k % sQ];
    const base = ((i * sQ + s) * hQ + h) * 512;
    assert.ok(bits.subarray(base, base + 512).every((x) => x === 0), `${name}: out[${i}][${s}][${h}] of a row that sees no key is not +0 (seed ${seed})`);
  }
}

/** Softmax attention of one query row over key rows (d channels each, V = the first 512): src/check's attendRow. */
export function attend(qRow: Float64Array, keys: Float64Array[], scale: number): { out: Float64Array; lse: number } {
  const d = qRow.length;
  const flat = new Float64Array(keys.length * d);
  keys.forEach((k, t) => flat.set(k, t * d));
  const out = new Float64Array(512);
  const lse = attendRow(qRow, flat, keys.length, scale, out);
  return { out, lse };
}

/** Reference out [b, s_q, h_q, 512] / lse [b, h_q, s_q] of a dense problem: query head h reads KV head ⌊h / (h_q / h_kv)⌋. */
export function denseReference(p: DenseProblem, causal: boolean, softmaxScale?: number): { out: Float64Array; lse: Float64Array } {
  const { b, sQ, hQ, hKv, d, dtype, seqlens } = p.spec;
  const scale = softmaxScale ?? 1 / Math.sqrt(d);
  const out = new Float64Array(b * sQ * hQ * 512);
  const lse = new Float64Array(b * hQ * sQ);
  for (let i = 0; i < b; i++) {
    const keyRow = (t: number, kh: number): Float64Array => {
      const slot = p.table[i * p.maxBlocksPerSeq + Math.floor(t / 64)] * 64 + (t % 64);
      if (p.kBytes) return refDequantizeRow(p.kBytes, slot * 656, dtype);
      const o = (slot * hKv + kh) * d;
      return Float64Array.from(p.kBits.subarray(o, o + d), (x) => refHalfValue(dtype, x));
    };
    const keys = Array.from({ length: hKv }, (_, kh) => Array.from({ length: seqlens[i] }, (_, t) => keyRow(t, kh)));
    for (let s = 0; s < sQ; s++) {
      const visible = causal ? seqlens[i] - (sQ - 1 - s) : seqlens[i];
      for (let h = 0; h < hQ; h++) {
        const qo = ((i * sQ + s) * hQ + h) * d;
        const qRow = Float64Array.from(p.qBits.subarray(qo, qo + d), (x) => refHalfValue(dtype, x));
        const kh = Math.floor(h / (hQ / hKv));
        const r = attend(qRow, keys[kh].slice(0, Math.max(visible, 0)), scale);
        out.set(r.out, ((i * sQ + s) * hQ + h) * 512);
        lse[(i * hQ + h) * sQ + s] = r.lse;
      }
    }
  }
  return { out, lse };
}

export interface SparseSpec {
  b: number;
  sQ: number;
  hQ: number;
  topk: number;
  /** Tokens per page of the FP8 cache (any ≥ 1 for sparse decode). */
  pageSize: number;
  numPages: number;
  dtype: 'bf16' | 'fp16';
  seed: number;
  /** Fraction of index slots that attend nothing: −1, other negatives, ≥ the cache's token count. */
  invalidFraction?: number;
  /** Give topkLength [b] (random in [0, topk], both ends included). */
  topkLength?: boolean;
  /** Give attnSink [h_q] (random, some ±inf). */
  sink?: boolean;
  /** (request, query token) pairs whose indices are all invalid. */
  allInvalid?: [number, number][];
  /** Let a valid index repeat within a row (attended once per occurrence). */
  duplicates?: boolean;
  scale?: number;
  /**
   * K magnitudes spread by 2^−kSpread … 2^kSpread per cache slot and 128-channel group (as DenseSpec's: scales that
   * differ between tokens, groups and gathered blocks). Default: none (one magnitude).
   */
  kSpread?: number;
}

export interface SparseProblem {
  spec: SparseSpec;
  qBits: Uint16Array;
  /** FP8 cache bytes, pages of pageStride bytes (one spare token per page, as FlashMLA's tests allocate). */
  kBytes: Uint8Array;
  pageStride: number;
  indices: Int32Array;
  topkLength: Int32Array | null;
  sink: Float32Array | null;
  /** numPages · pageSize: indices ≥ this attend nothing. */
  capacity: number;
}

/**
 * Every cache row that no counted valid index names (including rows named only past topkLength) holds NaN
 * (0xff bytes: NaN codes, NaN scales, NaN RoPE), so reading one poisons the result.
 */
export function makeSparseProblem(spec: SparseSpec): SparseProblem {
  const r = rng(spec.seed);
  const { b, sQ, hQ, topk, pageSize, numPages, dtype } = spec;
  const capacity = numPages * pageSize;
  const pageStride = (pageSize + 1) * 656;
  const kBytes = new Uint8Array(numPages * pageStride).fill(0xff);
  const invalidFraction = spec.invalidFraction ?? 0.2;
  const invalidValues = [-1, -1, -1, -2, -2147483648, capacity, capacity + 7, 2147483647];
  const indices = new Int32Array(b * sQ * topk);
  const topkLength = spec.topkLength ? Int32Array.from({ length: b }, (_, i) => (i === 0 ? 0 : i === 1 ? topk : Math.floor(r() * (topk + 1)))) : null;
  const written = new Set<number>();
  for (let i = 0; i < b; i++) {
    for (let s = 0; s < sQ; s++) {
      const row = indices.subarray((i * sQ + s) * topk, (i * sQ + s + 1) * topk);
      const dead = spec.allInvalid?.some(([a, c]) => a === i && c === s) ?? false;
      // distinct valid tokens (a partial shuffle), or repeats of a few when duplicates are asked for
      const pool = Array.from({ length: capacity }, (_, t) => t);
      for (let k = 0; k < topk; k++) {
        if (dead || r() < invalidFraction) {
          row[k] = invalidValues[Math.floor(r() * invalidValues.length)];
          continue;
        }
        if (spec.duplicates && k > 0 && row[k - 1] >= 0 && row[k - 1] < capacity && r() < 0.3) {
          row[k] = row[k - 1];
        } else {
          const j = k + Math.floor(r() * (capacity - k));
          [pool[k], pool[j]] = [pool[j], pool[k]];
          row[k] = pool[k];
        }
        if (topkLength === null || k < topkLength[i]) written.add(row[k]);
      }
    }
  }
  for (const slot of written) {
    let bits = new Uint16Array(576);
    if (spec.kSpread) {
      const sp = spec.kSpread, base = spec.scale ?? 0.25;
      for (let g = 0; g * 128 < 576; g++) {
        const e = (sp - 1) * ((((slot >> 4) + g) % 3) - 1) + (((slot * 5 + g) % 3) - 1);  // (slot >> 4: runs of 16 slots share the larger swing)
        randomHalfBits(dtype, Math.min(128, 576 - g * 128), r, { scale: base * 2 ** e }, bits, g * 128);
      }
    } else randomHalfBits(dtype, 576, r, { scale: spec.scale }, bits);
    quantizeToken(dtype, bits, 0, kBytes, Math.floor(slot / pageSize) * pageStride + (slot % pageSize) * 656);
  }
  const qBits = randomHalfBits(dtype, b * sQ * hQ * 576, r, { scale: spec.scale });
  const sink = spec.sink ? Float32Array.from({ length: hQ }, (_, h) => (h % 5 === 1 ? Infinity : h % 5 === 3 ? -Infinity : -3 + 8 * r())) : null;
  return { spec, qBits, kBytes, pageStride, indices, topkLength, sink, capacity };
}

export function sparseTensors(p: SparseProblem): { q: Tensor; kCache: Tensor; indices: Tensor; topkLength: Tensor | null; attnSink: Tensor | null } {
  const { b, sQ, hQ, topk, pageSize, numPages, dtype } = p.spec;
  const storage = Tensor.from(p.kBytes, [p.kBytes.length], { dtype: 'uint8' });
  return {
    q: Tensor.from(p.qBits, [b, sQ, hQ, 576], { dtype }),
    kCache: storage.view([numPages, pageSize, 1, 656], [p.pageStride, 656, 656, 1]),
    indices: Tensor.from(p.indices, [b, sQ, topk]),
    topkLength: p.topkLength ? Tensor.from(p.topkLength, [b]) : null,
    attnSink: p.sink ? Tensor.from(p.sink, [hQ], { dtype: 'fp32' }) : null,
  };
}

/**
 * Reference rows of a sparse problem (all heads, or the `heads` given): query token s of request i attends the
 * tokens indices[i][s][k] for k < topkLength[i] with 0 ≤ index < capacity, each occurrence once; a sink scales
 * out by 1 / (1 + exp(sink − lse)); rows with nothing valid: out 0, lse +inf.
 */
export function sparseReference(p: SparseProblem, softmaxScale: number, heads?: number[]): { rows: { i: number; s: number; h: number }[]; out: Float64Array; lse: Float64Array } {
  const { b, sQ, hQ, topk, pageSize, dtype } = p.spec;
  const hs = heads ?? Array.from({ length: hQ }, (_, h) => h);
  const rows: { i: number; s: number; h: number }[] = [];
  const outs: number[] = [];
  const lses: number[] = [];
  for (let i = 0; i < b; i++) {
    const limit = p.topkLength ? p.topkLength[i] : topk;
    for (let s = 0; s < sQ; s++) {
      const keys: Float64Array[] = [];
      for (let k = 0; k < limit; k++) {
        const idx = p.indices[(i * sQ + s) * topk + k];
        if (idx >= 0 && idx < p.capacity) keys.push(refDequantizeRow(p.kBytes, Math.floor(idx / pageSize) * p.pageStride + (idx % pageSize) * 656, dtype));
      }
      for (const h of hs) {
        const qo = ((i * sQ + s) * hQ + h) * 576;
        const qRow = Float64Array.from(p.qBits.subarray(qo, qo + 576), (x) => refHalfValue(dtype, x));
        const r = attend(qRow, keys, softmaxScale);
        if (p.sink && keys.length > 0) {
          const f = 1 / (1 + Math.exp(p.sink[h] - r.lse));
          for (let c = 0; c < 512; c++) r.out[c] *= f;
        }
        rows.push({ i, s, h });
        outs.push(...r.out);
        lses.push(r.lse);
      }
    }
  }
  return { rows, out: Float64Array.from(outs), lse: Float64Array.from(lses) };
}

/**
 * FlashMLA's check (tests/kernelkit/compare.py at 9241ae3): ±inf/NaN positions must match; every other element
 * passes when |got − ref| ≤ absTol or |got − ref| / (|ref| + 1e-6) ≤ relTol; and cos diff
 * 1 − 2Σ(g·r) / Σ(g² + r²) ≤ cosTol (0 when Σr² < 1e-12). Returns a message, or null when it passes.
 */
export function flashMlaClose(name: string, got: ArrayLike<number>, ref: ArrayLike<number>, tol: { abs: number; rel: number; cos: number }): string | null {
  if (got.length !== ref.length) return `${name}: length ${got.length} vs reference ${ref.length}`;
  let sgr = 0;
  let sum = 0;
  let srr = 0;
  for (let i = 0; i < got.length; i++) {
    const g = got[i];
    const r = ref[i];
    if (!Number.isFinite(g) || !Number.isFinite(r)) {
      if (!Object.is(g, r) && !(Number.isNaN(g) && Number.isNaN(r))) return `${name}[${i}]: got ${g}, reference ${r} (inf/NaN positions differ)`;
      continue;
    }
    const err = Math.abs(g - r);
    if (err > tol.abs && err / (Math.abs(r) + 1e-6) > tol.rel) return `${name}[${i}]: got ${g}, reference ${r}: |err| ${err.toExponential(2)} > abs ${tol.abs} and rel ${(err / (Math.abs(r) + 1e-6)).toExponential(2)} > ${tol.rel}`;
    sgr += g * r;
    sum += g * g + r * r;
    srr += r * r;
  }
  const cos = srr < 1e-12 ? 0 : 1 - (2 * sgr) / sum;
  return cos > tol.cos ? `${name}: cos diff ${cos.toExponential(2)} > ${tol.cos}` : null;
}

/** FlashMLA's tolerances (flashmla-head.md): dense and sparse decode. */
export const FLASHMLA_TOL = {
  denseOut: { abs: 8e-4, rel: 2.01 / 128, cos: 5e-6 },
  sparseOut: { abs: 1e-3, rel: 2.01 / 128, cos: 5e-6 },
  lse: { abs: 1e-6, rel: 8.01 / 65536, cos: 1e-7 },
} as const;
