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
// src/check/reference.ts, independent of both backends' data flow — and compares them with the decode's output.

import { constants as bufferConstants } from 'node:buffer';
import { fromHalfBits, halfDecodeTable, toHalfBits } from '../dtype.js';
import { HEAD_DIM_K, HEAD_DIM_V, PAGE_BLOCK_SIZE } from '../mla/constants.js';
import type { BenchConfig } from './configs.js';
import { rng } from '../util/random.js';
import { DEFAULT_SOFTMAX_SCALE, referenceRow as sharedReferenceRow, type PagedProblem } from '../check/reference.js';

/** Extra NaN page blocks at the end of the cache (targets of the block table's unused columns). */
const SPARE_BLOCKS = 2;
const POOL_LEN = (1 << 22) + 4093;

export interface BenchProblem extends PagedProblem {
  config: BenchConfig;
  seed: number;
  dtype: 'bf16' | 'fp16';
  /** [b, s_q, h_q, 576] raw 16-bit values. */
  qBits: Uint16Array;
  /** [numBlocks, 64, 576] raw 16-bit values (= [numBlocks, 64, 1, 576]). */
  kBits: Uint16Array;
  /** [b, maxBlocksPerSeq] */
  table: Int32Array;
  seqlens: Int32Array;
  numBlocks: number;
  maxBlocksPerSeq: number;
}


function normalPool(r: () => number, dtype: 'bf16' | 'fp16', n: number): Uint16Array {
  const pool = new Uint16Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(r(), 1e-12);
    const rad = Math.sqrt(-2 * Math.log(u));
    const th = 2 * Math.PI * r();
    pool[i] = toHalfBits(dtype, rad * Math.cos(th));
    if (i + 1 < n) pool[i + 1] = toHalfBits(dtype, rad * Math.sin(th));
  }
  return pool;
}

/**
 * A random problem for `config`. `scratch`: a buffer to hold K when large enough (every element is written);
 * reusing one across configs saves first-touch page faults of a fresh 1.2 GB array (~2 s each).
 */
export function makeBenchProblem(config: BenchConfig, seed: number, scratch?: Uint16Array): BenchProblem {
  const r = rng(seed);
  const { b, s_q: sQ, h_q: hQ, seqlens, dtype } = config;
  const nan = toHalfBits(dtype, NaN);
  const used = seqlens.map((s) => Math.ceil(s / PAGE_BLOCK_SIZE));
  const maxBlocksPerSeq = Math.max(1, ...used);
  const numBlocks = used.reduce((a, x) => a + x, 0) + SPARE_BLOCKS;
  const blockElems = PAGE_BLOCK_SIZE * HEAD_DIM_K;
  const pool = normalPool(r, dtype, POOL_LEN);
  const slice = (len: number) => {
    const off = Math.floor(r() * (POOL_LEN - len));
    return pool.subarray(off, off + len);
  };

  // shuffled block table: request i's blocks are a random subset of the cache, in random order
  const perm = new Int32Array(numBlocks);
  for (let i = 0; i < numBlocks; i++) perm[i] = i;
  for (let i = numBlocks - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    const t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  const spare = [perm[numBlocks - 2], perm[numBlocks - 1]];
  const table = new Int32Array(b * maxBlocksPerSeq);
  const kLen = numBlocks * blockElems;
  const kBits = scratch && scratch.length >= kLen ? scratch.subarray(0, kLen) : new Uint16Array(kLen);
  for (const blk of spare) kBits.fill(nan, blk * blockElems, (blk + 1) * blockElems);
  let next = 0;
  for (let i = 0; i < b; i++) {
    for (let j = 0; j < maxBlocksPerSeq; j++) {
      if (j >= used[i]) {
        table[i * maxBlocksPerSeq + j] = spare[(i + j) % SPARE_BLOCKS];
        continue;
      }
      const blk = perm[next++];
      table[i * maxBlocksPerSeq + j] = blk;
      const base = blk * blockElems;
      kBits.set(slice(blockElems), base);
      const valid = Math.min(PAGE_BLOCK_SIZE, seqlens[i] - j * PAGE_BLOCK_SIZE);
      if (valid < PAGE_BLOCK_SIZE) kBits.fill(nan, base + valid * HEAD_DIM_K, base + blockElems);
    }
  }
  const rows = b * sQ * hQ;
  const qBits = new Uint16Array(rows * HEAD_DIM_K);
  for (let row = 0; row < rows; row++) qBits.set(slice(HEAD_DIM_K), row * HEAD_DIM_K);
  return { config, seed, dtype, b, sQ, hQ, qBits, kBits, table, seqlens: Int32Array.from(seqlens), numBlocks, maxBlocksPerSeq };
}

// ---------------------------------------------------------------------------------------------- footprint

/** Largest length of a typed array (elements) in this Node: K of a problem is one Uint16Array. */
export const MAX_TYPED_ARRAY_LENGTH = bufferConstants.MAX_LENGTH;
/** cacheSeqlens and the block table are int32 tensors. */
export const MAX_INT32 = 2 ** 31 - 1;

export interface ProblemFootprint {
  /** Page blocks of the cache (used + spare). */
  numBlocks: number;
  /** Elements of K ([numBlocks, 64, 576]). */
  kElements: number;
  /** Host memory the bench needs for this config (bytes, estimated from above). */
  hostBytes: number;
  /** Device memory (cuda backend) for its tensors and the split partials (bytes, estimated); 0 on cpu. */
  deviceBytes: number;
}

/**
 * Memory a config's problem needs before anything is allocated, so a config that cannot run is refused up front
 * instead of failing in an allocation. Host: K, q, the block table and the value pool (makeBenchProblem); on
 * the cpu backend also the tensors' copies of K (Tensor.from copies once more while encoding), the float64 K
 * of the longest request the decode reads, and the float64 split partials. Device: K, q, out, lse and the fp32
 * split partials (at most b + smCount splits of s_q·h_q rows). Slightly high on purpose; never low.
 */
export function problemFootprint(config: Pick<BenchConfig, 'b' | 's_q' | 'h_q' | 'seqlens'>, backend: 'cpu' | 'cuda', smCount = 132): ProblemFootprint {
  const { b, s_q: sQ, h_q: hQ, seqlens } = config;
  let usedBlocks = 0;
  let maxBlocks = 1;
  let longest = 0;
  for (const s of seqlens) {
    const n = Math.ceil(s / PAGE_BLOCK_SIZE);
    usedBlocks += n;
    if (n > maxBlocks) maxBlocks = n;
    if (s > longest) longest = s;
  }
  const numBlocks = usedBlocks + SPARE_BLOCKS;
  const kElements = numBlocks * PAGE_BLOCK_SIZE * HEAD_DIM_K;
  const rowsPerRequest = sQ * hQ;
  const rows = b * rowsPerRequest;
  const kBytes = kElements * 2;
  const qBytes = rows * HEAD_DIM_K * 2;
  const outBytes = rows * HEAD_DIM_V * 2 + rows * 4;
  const splitRows = (b + smCount) * rowsPerRequest;
  const hostProblem = kBytes + qBytes + b * maxBlocks * 4 + POOL_LEN * 2;
  if (backend === 'cuda') {
    return { numBlocks, kElements, hostBytes: hostProblem, deviceBytes: kBytes + qBytes + outBytes + b * maxBlocks * 4 + splitRows * (HEAD_DIM_V + 1) * 4 };
  }
  const hostCpu = hostProblem + 2 * (kBytes + qBytes) + outBytes + longest * HEAD_DIM_K * 8 + splitRows * HEAD_DIM_V * 8;
  return { numBlocks, kElements, hostBytes: hostCpu, deviceBytes: 0 };
}

// ---------------------------------------------------------------------------------------------- check

const halfTable = halfDecodeTable;

export interface SampleRow {
  /** request */
  i: number;
  /** query token */
  s: number;
  /** head */
  h: number;
}

/**
 * Rows to check: the first and last row, the longest and shortest request, then random ones.
 * Deterministic for a given problem seed.
 */
export function pickSamples(p: BenchProblem, count: number): SampleRow[] {
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

/**
 * The float64 reference of one row (src/check/reference.ts, shared with the tests), with `outLowP`: the same row
 * with the softmax weights rounded to the input dtype before P·V, whose distance from `out` bounds the error of
 * a correct 16-bit kernel (FA3's test rule).
 */
export function referenceRow(p: BenchProblem, i: number, s: number, h: number, softmaxScale = DEFAULT_SOFTMAX_SCALE): { out: Float64Array; outLowP: Float64Array; lse: number } {
  const r = sharedReferenceRow(p, i, s, h, p.config.causal, softmaxScale, true);
  return { out: r.out, outLowP: r.outLowP!, lse: r.lse };
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
 * The bench draws standard-normal data like FlashMLA's benchmark. Its variable-length configs hold requests of
 * 2 tokens, whose softmax has two large weights: there the rounding of P to bf16 before P·V (which every bf16
 * tensor-core kernel, FlashMLA's included, does) moves an output by up to ~1e-2. So each element's bound is
 * FA3's rule — twice the error of the same-precision computation (P rounded to the dtype) — plus twice the
 * error of rounding the exact result to the output dtype, plus 1e-3.
 */
export const CHECK_TOLERANCE = { cosDiff: 1e-5, absErr: 1e-3, lseErr: 1e-3 } as const;

/**
 * Compare sampled rows of a decode's output (raw out [b, s_q, h_q, 512], lse [b, h_q, s_q]) with the float64
 * reference: the +inf/NaN pattern must match; cosDiff < 1e-5; per element |err| ≤ 2·max over the row of
 * |outLowP − out| + 2·|round(out) − out| + 1e-3; |lse err| ≤ 1e-3 · max(1, |lse|). No NaN anywhere in out.
 */
export function checkSamples(p: BenchProblem, outBits: Uint16Array, lse: Float32Array, samples: readonly SampleRow[], softmaxScale?: number): CheckResult {
  const { s_q: sQ, h_q: hQ } = p.config;
  const tab = halfTable(p.dtype);
  let nanOutputs = 0;
  for (let k = 0; k < outBits.length; k++) if (Number.isNaN(tab[outBits[k]])) nanOutputs++;
  let sxy = 0;
  let sxx = 0;
  let maxAbsErr = 0;
  let maxLseErr = 0;
  const fail = (message: string): CheckResult => ({ ok: false, samples: samples.length, cosDiff: null, maxAbsErr: null, maxLseErr: null, nanOutputs, message });
  const failures: string[] = [];
  for (const { i, s, h } of samples) {
    const ref = referenceRow(p, i, s, h, softmaxScale);
    const gotLse = lse[(i * hQ + h) * sQ + s];
    const where = `request ${i}, token ${s}, head ${h}`;
    if (ref.lse === Infinity || !Number.isFinite(gotLse)) {
      if (gotLse !== ref.lse) return fail(`${where}: lse ${gotLse}, reference ${ref.lse}`);
    } else {
      const e = Math.abs(gotLse - ref.lse);
      if (e > maxLseErr) maxLseErr = e;
      if (e > CHECK_TOLERANCE.lseErr * Math.max(1, Math.abs(ref.lse))) failures.push(`${where}: lse ${gotLse} vs ${ref.lse.toFixed(6)}`);
    }
    const base = ((i * sQ + s) * hQ + h) * HEAD_DIM_V;
    let lowPErr = 0;
    for (let c = 0; c < HEAD_DIM_V; c++) lowPErr = Math.max(lowPErr, Math.abs(ref.outLowP[c] - ref.out[c]));
    for (let c = 0; c < HEAD_DIM_V; c++) {
      const g = tab[outBits[base + c]];
      const x = ref.out[c];
      if (!Number.isFinite(g)) return fail(`${where}: out[${c}] = ${g}, reference ${x}`);
      sxy += g * x;
      sxx += g * g + x * x;
      const err = Math.abs(g - x);
      if (err > maxAbsErr) maxAbsErr = err;
      const bound = 2 * lowPErr + 2 * Math.abs(fromHalfBits(p.dtype, toHalfBits(p.dtype, x)) - x) + CHECK_TOLERANCE.absErr;
      if (err > bound && failures.length < 3) failures.push(`${where}: out[${c}] = ${g} vs ${x.toPrecision(6)}`);
    }
  }
  const cosDiff = sxx < 1e-12 ? 0 : 1 - (2 * sxy) / sxx;
  if (cosDiff >= CHECK_TOLERANCE.cosDiff) failures.unshift(`cosDiff ${cosDiff.toExponential(2)} ≥ ${CHECK_TOLERANCE.cosDiff}`);
  if (nanOutputs > 0) failures.unshift(`${nanOutputs} NaN output elements`);
  const stats = `${samples.length} rows: cosDiff ${cosDiff.toExponential(1)}, max |err| ${maxAbsErr.toExponential(1)}, max lse err ${maxLseErr.toExponential(1)}`;
  return {
    ok: failures.length === 0,
    samples: samples.length,
    cosDiff,
    maxAbsErr,
    maxLseErr,
    nanOutputs,
    message: failures.length === 0 ? stats : `${failures.join('; ')} (${stats})`,
  };
}
