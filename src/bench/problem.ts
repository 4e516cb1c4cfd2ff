// Benchmark problems and their correctness sample.
//
// A problem is FlashMLA's benchmark input: random q and K (standard normal, like torch.randn, in bf16/fp16),
// page blocks of 64 tokens in a shuffled block table; every cache slot no request uses (the tail of each
// request's last block, spare blocks) holds NaN, and block-table columns past a request's length point at
// NaN blocks, so a kernel that reads what it must not shows up as NaN in the output instead of a fault.
//
// The sweep's caches are large (b = 128 × 8192 tokens × 576 × 2 B = 1.2 GB), so the data is not drawn value
// by value: a pool of ~4 M normal values is drawn once per problem and each page block (and each q row) is a
// slice of it at a random offset. Timings don't depend on the values; the check reads the same host copy.
//
// The check recomputes a few (request, query token, head) rows in float64 straight from the host copies —
// src/check/reference.ts, independent of both backends' data flow — and compares them with the decode's output
// under the 'kernel' tolerance of src/check/compare.ts (what a correct 16-bit tensor-core kernel achieves).
//
// Over an FP8 cache (config.kv 'fp8') the page blocks are runs of 64 rows of a pool of FP8 rows (8192 tokens
// drawn like the rest, quantized once per problem by the library's writer); kBits then holds what those bytes
// read back as (e4m3 · scale, exact in bf16/fp16, decoded here by a decoder of this file's own), so the dense
// check is unchanged. Unused slots are NaN rows (NaN scales and codes).
//
// A sparse problem (config.topk) is FlashMLA's sparse decode benchmark input: an FP8 cache of each request's
// seqlen tokens in shuffled pages; per (request, query token) topk distinct random tokens of that request, as
// slots page · 64 + row, −1 for what a request shorter than topk cannot fill, in random order. Only the slots
// some index names hold data (pool rows); every other slot of the cache is a NaN row, as in FlashMLA's test.
// Its check is a float64 softmax over the named tokens, read from the cache bytes with the same decoder.

import { constants as bufferConstants } from 'node:buffer';
import { toHalfBits } from '../dtype.js';
import { FP8_BYTES_PER_TOKEN, FP8_NUM_TILES, FP8_ROPE_OFFSET, FP8_SCALES_OFFSET, FP8_TILE, HEAD_DIM_K, HEAD_DIM_V, PAGE_BLOCK_SIZE, ROPE_DIM } from '../mla/constants.js';
import { quantizeFp8Row } from '../kvcache/fp8.js';
import type { BenchConfig } from './configs.js';
import { rng } from '../util/random.js';
import { DEFAULT_SOFTMAX_SCALE, attendRow, referenceDecode, type KernelErrorTerms, type PagedProblem, type ReferenceRows, type SampleRow } from '../check/reference.js';
import { compareDecode } from '../check/compare.js';
import { normalHalfBits, randomPermutation } from '../check/problem.js';
import { HALF_FORMATS } from '../check/formats.js';

/** Extra NaN page blocks at the end of the cache (targets of the block table's unused columns). */
const SPARE_BLOCKS = 2;
const POOL_LEN = (1 << 22) + 4093;
/** Tokens of the FP8 row pool (FP8 caches): 5.4 MB of rows, quantized in ~60 ms. */
const FP8_POOL_ROWS = 8192;

export interface BenchProblem extends PagedProblem {
  config: BenchConfig;
  seed: number;
  dtype: 'bf16' | 'fp16';
  /** [b, s_q, h_q, 576] raw 16-bit values. */
  qBits: Uint16Array;
  /**
   * [numBlocks, 64, 576] raw 16-bit values (= [numBlocks, 64, 1, 576]); over an FP8 cache the values its bytes
   * read back as (the check reads these).
   */
  kBits: Uint16Array;
  /** Over an FP8 cache (config.kv 'fp8'): the cache, [numBlocks, 64, 656] bytes (= [numBlocks, 64, 1, 656]). */
  kBytes?: Uint8Array;
  /** [b, maxBlocksPerSeq] */
  table: Int32Array;
  seqlens: Int32Array;
  numBlocks: number;
  maxBlocksPerSeq: number;
}


// ---------------------------------------------------------------------------------------------- FP8 rows

/**
 * Value of an e4m3 code (OCP e4m3fn: bias 7, subnormals, no infinities, NaN = S.1111.111), written here from the
 * format's definition and not shared with the library's reader, so the check does not inherit a bug of it.
 */
function e4m3Value(code: number): number {
  const sign = code & 0x80 ? -1 : 1;
  const e = (code >> 3) & 0xf;
  const m = code & 7;
  if (e === 15 && m === 7) return NaN;
  return sign * (e === 0 ? (m / 8) * 2 ** -6 : (1 + m / 8) * 2 ** (e - 7));
}

let e4m3Table: Float64Array | null = null;
function e4m3Values(): Float64Array {
  if (!e4m3Table) e4m3Table = Float64Array.from({ length: 256 }, (_, c) => e4m3Value(c));
  return e4m3Table;
}

/** One FP8 row (656 bytes at `offset`) as float64: latent = e4m3 · scale of its 128-channel tile, RoPE as `dtype`. */
export function decodeFp8Token(bytes: Uint8Array, offset: number, dtype: 'bf16' | 'fp16', out: Float64Array, outOffset = 0): void {
  const codes = e4m3Values();
  const half = HALF_FORMATS[dtype].value;
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, FP8_BYTES_PER_TOKEN);
  for (let j = 0; j < FP8_NUM_TILES; j++) {
    const scale = view.getFloat32(FP8_SCALES_OFFSET + 4 * j, true);
    for (let c = j * FP8_TILE; c < (j + 1) * FP8_TILE; c++) out[outOffset + c] = codes[bytes[offset + c]] * scale;
  }
  for (let c = 0; c < ROPE_DIM; c++) out[outOffset + HEAD_DIM_V + c] = half[bytes[offset + FP8_ROPE_OFFSET + 2 * c] | (bytes[offset + FP8_ROPE_OFFSET + 2 * c + 1] << 8)];
}

interface Fp8Pool {
  /** FP8_POOL_ROWS rows of 656 bytes. */
  bytes: Uint8Array;
  /** The same rows read back, as 16-bit values [FP8_POOL_ROWS, 576] (exact: e4m3 · a power of two). */
  bits: Uint16Array;
  /** A row of NaN (NaN scales and codes, NaN RoPE), what unused slots hold. */
  nanRow: Uint8Array;
}

/** FP8 rows of random tokens (slices of the value pool), quantized by the library's writer (FlashMLA's quantizer). */
function fp8Pool(r: () => number, dtype: 'bf16' | 'fp16', pool: Uint16Array): Fp8Pool {
  const half = HALF_FORMATS[dtype].value;
  const bytes = new Uint8Array(FP8_POOL_ROWS * FP8_BYTES_PER_TOKEN);
  const bits = new Uint16Array(FP8_POOL_ROWS * HEAD_DIM_K);
  const latent = new Float64Array(HEAD_DIM_V);
  const row = new Float64Array(HEAD_DIM_K);
  for (let t = 0; t < FP8_POOL_ROWS; t++) {
    const off = Math.floor(r() * (POOL_LEN - HEAD_DIM_K));
    for (let c = 0; c < HEAD_DIM_V; c++) latent[c] = half[pool[off + c]];
    quantizeFp8Row(latent, 0, pool, off + HEAD_DIM_V, bytes, t * FP8_BYTES_PER_TOKEN);
    decodeFp8Token(bytes, t * FP8_BYTES_PER_TOKEN, dtype, row);
    for (let c = 0; c < HEAD_DIM_V; c++) bits[t * HEAD_DIM_K + c] = toHalfBits(dtype, row[c]);
    bits.set(pool.subarray(off + HEAD_DIM_V, off + HEAD_DIM_K), t * HEAD_DIM_K + HEAD_DIM_V);
  }
  const nanRow = new Uint8Array(FP8_BYTES_PER_TOKEN);
  quantizeFp8Row(new Float64Array(HEAD_DIM_V).fill(NaN), 0, new Uint16Array(ROPE_DIM).fill(toHalfBits(dtype, NaN)), 0, nanRow, 0);
  return { bytes, bits, nanRow };
}

/** `dst` (a whole number of FP8 rows) filled with copies of `row`, by doubling. */
function fillRows(dst: Uint8Array, row: Uint8Array): void {
  if (dst.length === 0) return;
  dst.set(row, 0);
  for (let n = row.length; n < dst.length; n *= 2) dst.copyWithin(n, 0, Math.min(n, dst.length - n));
}

// ---------------------------------------------------------------------------------------------- dense

/**
 * A random problem for a dense `config` (16-bit or FP8 cache). `scratch` / `scratchBytes`: buffers to hold K /
 * the FP8 cache when large enough (every element is written); reusing them across configs saves first-touch
 * page faults of a fresh 1.2 GB array (~2 s each).
 */
export function makeBenchProblem(config: BenchConfig, seed: number, scratch?: Uint16Array, scratchBytes?: Uint8Array): BenchProblem {
  if (config.topk !== undefined) throw new RangeError(`makeBenchProblem: config ${config.id} is sparse decode (topk): use makeSparseBenchProblem`);
  const r = rng(seed);
  const { b, s_q: sQ, h_q: hQ, seqlens, dtype } = config;
  const nan = toHalfBits(dtype, NaN);
  const used = seqlens.map((s) => Math.ceil(s / PAGE_BLOCK_SIZE));
  const maxBlocksPerSeq = Math.max(1, ...used);
  const { numBlocks, poolPages } = cachePages(config);
  const blockElems = PAGE_BLOCK_SIZE * HEAD_DIM_K;
  const pool = normalHalfBits(dtype, POOL_LEN, r);
  const slice = (len: number) => {
    const off = Math.floor(r() * (POOL_LEN - len));
    return pool.subarray(off, off + len);
  };

  // shuffled block table: request i's blocks are a random subset of the cache, in random order
  const perm = randomPermutation(numBlocks, r);
  const spare = [perm[numBlocks - 2], perm[numBlocks - 1]];
  const table = new Int32Array(b * maxBlocksPerSeq);
  const kLen = numBlocks * blockElems;
  const kBits = scratch && scratch.length >= kLen ? scratch.subarray(0, kLen) : new Uint16Array(kLen);
  // over an FP8 cache: blocks of 64 consecutive pool rows, NaN rows where nothing is
  const fp8 = config.kv === 'fp8' ? fp8Pool(r, dtype, pool) : null;
  const blockBytes = PAGE_BLOCK_SIZE * FP8_BYTES_PER_TOKEN;
  const bLen = fp8 ? numBlocks * blockBytes : 0;
  const kBytes = fp8 ? (scratchBytes && scratchBytes.length >= bLen ? scratchBytes.subarray(0, bLen) : new Uint8Array(bLen)) : undefined;
  for (const blk of spare) {
    kBits.fill(nan, blk * blockElems, (blk + 1) * blockElems);
    if (fp8 && kBytes) fillRows(kBytes.subarray(blk * blockBytes, (blk + 1) * blockBytes), fp8.nanRow);
  }
  /** Random rows in block `blk`'s first `valid` slots, NaN rows after them. */
  const fillBlock = (blk: number, valid: number) => {
    const base = blk * blockElems;
    if (fp8 && kBytes) {
      const row0 = Math.floor(r() * (FP8_POOL_ROWS - PAGE_BLOCK_SIZE + 1));
      kBytes.set(fp8.bytes.subarray(row0 * FP8_BYTES_PER_TOKEN, (row0 + PAGE_BLOCK_SIZE) * FP8_BYTES_PER_TOKEN), blk * blockBytes);
      kBits.set(fp8.bits.subarray(row0 * HEAD_DIM_K, (row0 + PAGE_BLOCK_SIZE) * HEAD_DIM_K), base);
      if (valid < PAGE_BLOCK_SIZE) fillRows(kBytes.subarray(blk * blockBytes + valid * FP8_BYTES_PER_TOKEN, (blk + 1) * blockBytes), fp8.nanRow);
    } else {
      kBits.set(slice(blockElems), base);
    }
    if (valid < PAGE_BLOCK_SIZE) kBits.fill(nan, base + valid * HEAD_DIM_K, base + blockElems);
  };
  // kvPages: the first poolPages of perm hold full pages that every request's full blocks draw from; each partly
  // filled last block gets a page of its own (NaN past its length, as always)
  for (let k = 0; k < poolPages; k++) fillBlock(perm[k], PAGE_BLOCK_SIZE);
  let next = poolPages;
  for (let i = 0; i < b; i++) {
    for (let j = 0; j < maxBlocksPerSeq; j++) {
      if (j >= used[i]) {
        table[i * maxBlocksPerSeq + j] = spare[(i + j) % SPARE_BLOCKS];
        continue;
      }
      const valid = Math.min(PAGE_BLOCK_SIZE, seqlens[i] - j * PAGE_BLOCK_SIZE);
      if (poolPages > 0 && valid === PAGE_BLOCK_SIZE) {
        table[i * maxBlocksPerSeq + j] = perm[Math.floor(r() * poolPages)];
        continue;
      }
      const blk = perm[next++];
      table[i * maxBlocksPerSeq + j] = blk;
      fillBlock(blk, valid);
    }
  }
  const rows = b * sQ * hQ;
  const qBits = new Uint16Array(rows * HEAD_DIM_K);
  for (let row = 0; row < rows; row++) qBits.set(slice(HEAD_DIM_K), row * HEAD_DIM_K);
  return { config, seed, dtype, b, sQ, hQ, qBits, kBits, ...(kBytes ? { kBytes } : {}), table, seqlens: Int32Array.from(seqlens), numBlocks, maxBlocksPerSeq };
}

// ---------------------------------------------------------------------------------------------- sparse

export interface SparseBenchProblem {
  config: BenchConfig;
  seed: number;
  dtype: 'bf16' | 'fp16';
  b: number;
  sQ: number;
  hQ: number;
  topk: number;
  /** [b, s_q, h_q, 576] raw 16-bit values. */
  qBits: Uint16Array;
  /** The FP8 cache, [numBlocks, 64, 656] bytes (= [numBlocks, 64, 1, 656]). */
  kBytes: Uint8Array;
  numBlocks: number;
  /** [b, s_q, topk] int32: slot page · 64 + row, −1 for none. */
  indices: Int32Array;
  /** Per request the length of the cache its indices draw from (config.seqlens). */
  seqlens: Int32Array;
  /** Valid indices (≠ −1): Σ over requests and query tokens of min(topk, seqlen). */
  validIndices: number;
  /** Indices of −1: b · s_q · topk − validIndices. */
  invalidIndices: number;
  /** Distinct tokens the valid indices name: what a decode must read at least (the roofline's bytes). */
  gatheredTokens: number;
}

export function isSparseProblem(p: BenchProblem | SparseBenchProblem): p is SparseBenchProblem {
  return 'indices' in p;
}

/**
 * A random sparse decode problem for a config with topk (see the file's head). `scratchBytes`: a buffer for the
 * cache, used when large enough (every byte is written).
 */
export function makeSparseBenchProblem(config: BenchConfig, seed: number, scratchBytes?: Uint8Array): SparseBenchProblem {
  if (config.kvPages !== undefined) throw new RangeError(`makeSparseBenchProblem: config ${config.id}: kvPages applies to dense decode only`);
  const topk = config.topk;
  if (topk === undefined) throw new RangeError(`makeSparseBenchProblem: config ${config.id} has no topk`);
  const r = rng(seed);
  const { b, s_q: sQ, h_q: hQ, seqlens, dtype } = config;
  const used = seqlens.map((s) => Math.ceil(s / PAGE_BLOCK_SIZE));
  const numBlocks = used.reduce((a, x) => a + x, 0) + SPARE_BLOCKS;
  const pool = normalHalfBits(dtype, POOL_LEN, r);
  const fp8 = fp8Pool(r, dtype, pool);
  // each request's pages: a random subset of the cache in random order (the spare pages stay NaN)
  const perm = randomPermutation(numBlocks, r);
  const firstPage: number[] = [];
  for (let i = 0, n = 0; i < b; n += used[i], i++) firstPage.push(n);
  const slotOf = (i: number, t: number) => perm[firstPage[i] + Math.floor(t / PAGE_BLOCK_SIZE)] * PAGE_BLOCK_SIZE + (t % PAGE_BLOCK_SIZE);

  const len = numBlocks * PAGE_BLOCK_SIZE * FP8_BYTES_PER_TOKEN;
  const kBytes = scratchBytes && scratchBytes.length >= len ? scratchBytes.subarray(0, len) : new Uint8Array(len);
  fillRows(kBytes, fp8.nanRow);
  const named = new Uint8Array(numBlocks * PAGE_BLOCK_SIZE); // slots some index names
  const indices = new Int32Array(b * sQ * topk);
  const tokens = new Int32Array(Math.max(1, ...seqlens));
  let validIndices = 0;
  let gatheredTokens = 0;
  for (let i = 0; i < b; i++) {
    const seqlen = seqlens[i];
    for (let s = 0; s < sQ; s++) {
      // topk distinct tokens of the request (all of them when it is shorter), by a partial Fisher–Yates shuffle
      const n = Math.min(topk, seqlen);
      for (let t = 0; t < seqlen; t++) tokens[t] = t;
      const row = indices.subarray((i * sQ + s) * topk, (i * sQ + s + 1) * topk);
      for (let k = 0; k < n; k++) {
        const j = k + Math.floor(r() * (seqlen - k));
        const t = tokens[j];
        tokens[j] = tokens[k];
        tokens[k] = t;
        const slot = slotOf(i, t);
        row[k] = slot;
        if (!named[slot]) {
          named[slot] = 1;
          gatheredTokens++;
          const src = Math.floor(r() * FP8_POOL_ROWS) * FP8_BYTES_PER_TOKEN;
          kBytes.set(fp8.bytes.subarray(src, src + FP8_BYTES_PER_TOKEN), slot * FP8_BYTES_PER_TOKEN);
        }
      }
      row.fill(-1, n);
      validIndices += n;
      // the −1 anywhere in the list, not only at its end
      for (let k = topk - 1; k > 0; k--) {
        const j = Math.floor(r() * (k + 1));
        const t = row[k];
        row[k] = row[j];
        row[j] = t;
      }
    }
  }
  const rows = b * sQ * hQ;
  const qBits = new Uint16Array(rows * HEAD_DIM_K);
  for (let row = 0; row < rows; row++) {
    const off = Math.floor(r() * (POOL_LEN - HEAD_DIM_K));
    qBits.set(pool.subarray(off, off + HEAD_DIM_K), row * HEAD_DIM_K);
  }
  return {
    config, seed, dtype, b, sQ, hQ, topk, qBits, kBytes, numBlocks, indices, seqlens: Int32Array.from(seqlens),
    validIndices, invalidIndices: b * sQ * topk - validIndices, gatheredTokens,
  };
}

/**
 * The float64 reference of sparse rows (all of them by default): softmax over the tokens the valid indices of
 * (request i, query token s) name (a repeated index counts each time), K and V read from the FP8 bytes by this
 * file's decoder, through src/check/reference.ts's attendRow. No valid index: out 0, lse +inf.
 */
export function sparseReference(p: SparseBenchProblem, rows: readonly SampleRow[], softmaxScale = DEFAULT_SOFTMAX_SCALE, opts: { kernelTerms?: boolean } = {}): ReferenceRows {
  const tab = HALF_FORMATS[p.dtype].value;
  const n = rows.length;
  const out = new Float64Array(n * HEAD_DIM_V);
  const lse = new Float64Array(n);
  const visible = new Int32Array(n);
  const kernel: KernelErrorTerms | null = opts.kernelTerms ? { lowPErr: new Float64Array(n), logitErr: new Float64Array(n), spread: new Float64Array(n * HEAD_DIM_V) } : null;
  const capacity = p.numBlocks * PAGE_BLOCK_SIZE;
  const q = new Float64Array(HEAD_DIM_K);
  rows.forEach(({ i, s, h }, k) => {
    const list = p.indices.subarray((i * p.sQ + s) * p.topk, (i * p.sQ + s + 1) * p.topk);
    const slots = Array.from(list).filter((v) => v >= 0 && v < capacity);
    const keys = new Float64Array(slots.length * HEAD_DIM_K);
    slots.forEach((slot, t) => decodeFp8Token(p.kBytes, slot * FP8_BYTES_PER_TOKEN, p.dtype, keys, t * HEAD_DIM_K));
    const qOff = ((i * p.sQ + s) * p.hQ + h) * HEAD_DIM_K;
    for (let c = 0; c < HEAD_DIM_K; c++) q[c] = tab[p.qBits[qOff + c]];
    visible[k] = slots.length;
    lse[k] = attendRow(q, keys, slots.length, softmaxScale, out.subarray(k * HEAD_DIM_V, (k + 1) * HEAD_DIM_V), kernel ? { fmt: HALF_FORMATS[p.dtype], row: k, into: kernel } : null);
  });
  return { dtype: p.dtype, b: p.b, sQ: p.sQ, hQ: p.hQ, rows: [...rows], out, lse, visible, kernel };
}

/** One sparse row's reference: out (512 values) and lse. */
export function sparseReferenceRow(p: SparseBenchProblem, i: number, s: number, h: number, softmaxScale = DEFAULT_SOFTMAX_SCALE): { out: Float64Array; lse: number } {
  const r = sparseReference(p, [{ i, s, h }], softmaxScale);
  return { out: r.out, lse: r.lse[0] };
}

// ---------------------------------------------------------------------------------------------- footprint

/** Largest length of a typed array (elements) in this Node: K of a problem is one Uint16Array. */
export const MAX_TYPED_ARRAY_LENGTH = bufferConstants.MAX_LENGTH;
/** cacheSeqlens and the block table are int32 tensors. */
export const MAX_INT32 = 2 ** 31 - 1;

export interface ProblemFootprint {
  /** Page blocks of the cache (used + spare). */
  numBlocks: number;
  /** Elements of the longest K array: [numBlocks, 64, 576] 16-bit values, or [numBlocks, 64, 656] bytes over FP8. */
  kElements: number;
  /** Host memory the bench needs for this config (bytes, estimated from above). */
  hostBytes: number;
  /** Device memory (cuda backend) for its tensors and the split partials (bytes, estimated); 0 on cpu. */
  deviceBytes: number;
}

/**
 * The cache's page blocks for a dense config: every used block and SPARE_BLOCKS NaN blocks; with `kvPages`, at most
 * that many full pages (poolPages) that all requests' full blocks draw from, a page per partly filled last block,
 * and the spares.
 */
export function cachePages(config: Pick<BenchConfig, 'seqlens' | 'kvPages'>): { numBlocks: number; poolPages: number } {
  let used = 0;
  let full = 0;
  for (const s of config.seqlens) {
    used += Math.ceil(s / PAGE_BLOCK_SIZE);
    full += Math.floor(s / PAGE_BLOCK_SIZE);
  }
  if (config.kvPages === undefined) return { numBlocks: used + SPARE_BLOCKS, poolPages: 0 };
  const poolPages = Math.min(config.kvPages, full);
  return { numBlocks: poolPages + (used - full) + SPARE_BLOCKS, poolPages };
}

/**
 * Memory a config's problem needs before anything is allocated, so a config that cannot run is refused up front
 * instead of failing in an allocation. Host: K, q, the block table and the value pool (makeBenchProblem); on
 * the cpu backend also the tensors' copies of K (Tensor.from copies once more while encoding), the float64 K
 * of the longest request the decode reads, and the float64 split partials. Device: K, q, out, lse and the fp32
 * split partials (at most b + smCount splits of s_q·h_q rows). Over an FP8 cache the cache's bytes and the FP8
 * row pool come on top (the 16-bit K stays, for the check); a sparse problem holds the FP8 cache, the indices
 * and the pools, and its decode reads at most topk tokens per work item. Slightly high on purpose; never low.
 */
export function problemFootprint(config: Pick<BenchConfig, 'b' | 's_q' | 'h_q' | 'seqlens' | 'kv' | 'topk' | 'kvPages'>, backend: 'cpu' | 'cuda', smCount = 132): ProblemFootprint {
  const { b, s_q: sQ, h_q: hQ, seqlens } = config;
  let maxBlocks = 1;
  let longest = 0;
  for (const s of seqlens) {
    const n = Math.ceil(s / PAGE_BLOCK_SIZE);
    if (n > maxBlocks) maxBlocks = n;
    if (s > longest) longest = s;
  }
  const { numBlocks } = cachePages(config);
  const tokens = numBlocks * PAGE_BLOCK_SIZE;
  const rowsPerRequest = sQ * hQ;
  const rows = b * rowsPerRequest;
  const qBytes = rows * HEAD_DIM_K * 2;
  const outBytes = rows * HEAD_DIM_V * 2 + rows * 4;
  const splitRows = (b + smCount) * rowsPerRequest;
  const fp8Bytes = tokens * FP8_BYTES_PER_TOKEN;
  const fp8PoolBytes = FP8_POOL_ROWS * (FP8_BYTES_PER_TOKEN + HEAD_DIM_K * 2);
  const splitsDevice = splitRows * (HEAD_DIM_V + 1) * 4;
  const splitsCpu = splitRows * HEAD_DIM_V * 8;
  if (config.topk !== undefined) {
    const indexBytes = b * sQ * config.topk * 4;
    const hostProblem = fp8Bytes + qBytes + indexBytes + tokens + longest * 4 + POOL_LEN * 2 + fp8PoolBytes;
    if (backend === 'cuda') return { numBlocks, kElements: fp8Bytes, hostBytes: hostProblem, deviceBytes: fp8Bytes + qBytes + outBytes + indexBytes + splitsDevice };
    const hostCpu = hostProblem + 2 * (fp8Bytes + qBytes + indexBytes) + outBytes + config.topk * HEAD_DIM_K * 8 + splitsCpu;
    return { numBlocks, kElements: fp8Bytes, hostBytes: hostCpu, deviceBytes: 0 };
  }
  const fp8 = config.kv === 'fp8';
  const kBytes = tokens * HEAD_DIM_K * 2;
  const cacheBytes = fp8 ? fp8Bytes : kBytes; // what the decode reads (and the cpu backend's tensor copies)
  const kElements = fp8 ? fp8Bytes : tokens * HEAD_DIM_K;
  const hostProblem = kBytes + (fp8 ? fp8Bytes + fp8PoolBytes : 0) + qBytes + b * maxBlocks * 4 + POOL_LEN * 2;
  if (backend === 'cuda') {
    return { numBlocks, kElements, hostBytes: hostProblem, deviceBytes: cacheBytes + qBytes + outBytes + b * maxBlocks * 4 + splitsDevice };
  }
  const hostCpu = hostProblem + 2 * (cacheBytes + qBytes) + outBytes + longest * HEAD_DIM_K * 8 + splitsCpu;
  return { numBlocks, kElements, hostBytes: hostCpu, deviceBytes: 0 };
}

// ---------------------------------------------------------------------------------------------- check

/**
 * Rows to check: the first and last row, the longest and shortest request, then random ones.
 * Deterministic for a given problem seed.
 */
export function pickSamples(p: Pick<BenchProblem, 'config' | 'seed' | 'seqlens'>, count: number): SampleRow[] {
  const { b, s_q: sQ, h_q: hQ } = p.config;
  const r = rng(p.seed ^ 0x5bd1e995);
  const lens = Array.from(p.seqlens);
  const longest = lens.indexOf(Math.max(...lens));
  const shortest = lens.indexOf(Math.min(...lens));
  const out: SampleRow[] = [];
  const seen = new Set<string>();
  const add = (x: SampleRow) => {
    const k = `${x.i}/${x.s}/${x.h}`;
    if (out.length < count && !seen.has(k)) {
      seen.add(k);
      out.push(x);
    }
  };
  add({ i: 0, s: 0, h: 0 });
  add({ i: b - 1, s: sQ - 1, h: hQ - 1 });
  add({ i: longest, s: Math.floor(r() * sQ), h: Math.floor(r() * hQ) });
  add({ i: shortest, s: Math.floor(r() * sQ), h: Math.floor(r() * hQ) });
  for (let tries = 0; out.length < Math.min(count, b * sQ * hQ) && tries < 100 * count; tries++) {
    add({ i: Math.floor(r() * b), s: Math.floor(r() * sQ), h: Math.floor(r() * hQ) });
  }
  return out;
}

export interface CheckResult {
  ok: boolean;
  /** Rows compared. */
  samples: number;
  /** 1 − 2Σxy / Σ(x² + y²) over all compared elements (FlashMLA's test metric); null when masks differ. */
  cosDiff: number | null;
  maxAbsErr: number | null;
  maxLseErr: number | null;
  /** NaN elements anywhere in the output (a kernel reading unused, NaN-filled cache slots). */
  nanOutputs: number;
  message: string;
}

/**
 * Compare sampled rows of a decode's output (raw out [b, s_q, h_q, 512], lse [b, h_q, s_q]) with the float64
 * reference (the dense one of src/check/reference.ts; sparseReference for a sparse problem) under the 'kernel'
 * tolerance of src/check/compare.ts: the bench draws standard-normal data like FlashMLA's benchmark, and its
 * variable-length configs hold requests of 2 tokens, whose softmax has two large weights, where the rounding of
 * P to bf16 before P·V (which every bf16 tensor-core kernel, FlashMLA's included, does) moves an output by up to
 * ~1e-2: that tolerance allows for it. No NaN anywhere in out, sampled or not.
 */
export function checkSamples(p: BenchProblem | SparseBenchProblem, outBits: Uint16Array, lse: Float32Array, samples: readonly SampleRow[], softmaxScale?: number): CheckResult {
  const ref = isSparseProblem(p) ? sparseReference(p, samples, softmaxScale, { kernelTerms: true }) : referenceDecode(p, p.config.causal, softmaxScale, { rows: samples, kernelTerms: true });
  const c = compareDecode('check', { outBits, lse }, ref, 'kernel');
  const masksDiffer = c.mismatch !== null && Number.isNaN(c.mismatch.bound);
  const stats = `${samples.length} rows: cosDiff ${c.cosDiff.toExponential(1)}, max |err| ${c.maxOutErr.toExponential(1)}, max lse err ${c.maxLseErr.toExponential(1)}`;
  return {
    ok: c.ok,
    samples: samples.length,
    cosDiff: masksDiffer ? null : c.cosDiff,
    maxAbsErr: masksDiffer ? null : c.maxOutErr,
    maxLseErr: masksDiffer ? null : c.maxLseErr,
    nanOutputs: c.nanOutputs,
    message: c.ok ? stats : c.message.replace(/^check: /, ''),
  };
}
