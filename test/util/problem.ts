// Shared test utilities: seeded randomness, random MLA decode problems with poisoned cache slots and
// shuffled block tables, and (re-exported from src/check/) the float64 softmax-attention reference
// (independent of the cpu backend's data flow) and the comparison that checks NaN/Inf masks first and
// reports the worst element.

import { test } from 'node:test';
import { Tensor, type BackendName } from '../../src/index.js';
import { halfDecodeTable } from '../../src/dtype.js';
import { rng } from '../../src/util/random.js';
import type { PagedProblem } from '../../src/check/reference.js';
export { rng };
// the float64 reference and the comparison are the library's (shared with the bench)
export { referenceRow, referenceAll } from '../../src/check/reference.js';
export { compare, type CompareResult } from '../../src/check/compare.js';

export function freshSeed(): number {
  return process.env.FLASH_MLA_SEED ? Number(process.env.FLASH_MLA_SEED) : (Math.random() * 2 ** 31) >>> 0;
}

let runningSeed = 0;
/** Seed of the running seededTest (all its problems derive from it), for failure messages. */
export function testSeed(): number {
  return runningSeed;
}
/**
 * A node:test test that draws a fresh seed (FLASH_MLA_SEED overrides it), hands it to `fn` and, when the test
 * fails, prints it with the command that reruns it. `file` names the test file in that message.
 */
export function seededTest(file: string, name: string, fn: (seed: number) => void): void {
  test(name, () => {
    const seed = freshSeed();
    runningSeed = seed;
    try {
      fn(seed);
    } catch (e) {
      console.error(`${file} test "${name}" failed with seed ${seed}; rerun with FLASH_MLA_SEED=${seed}`);
      throw e;
    }
  });
}


/** Standard normal (Box-Muller). */
export function normal(r: () => number): number {
  const u = Math.max(r(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

export interface ProblemSpec {
  b: number;
  sQ: number;
  hQ: number;
  seqlens: number[];
  dtype?: 'bf16' | 'fp16';
  causal?: boolean;
  seed: number;
  /** Extra unused page blocks (filled with NaN). */
  spareBlocks?: number;
  /** Extra block-table columns past the longest request (filled with garbage). */
  spareColumns?: number;
  /** Magnitude bound of q/k values (random sign, mantissa and exponent below it). */
  scale?: number;
}

export interface Problem extends PagedProblem {
  spec: ProblemSpec;
  dtype: 'bf16' | 'fp16';
  /** Raw 16-bit patterns, row-major: q [b, s_q, h_q, 576], k [numBlocks, 64, 1, 576]. */
  qBits: Uint16Array;
  kBits: Uint16Array;
  /** Host copies as float32 (decoded on first use). */
  readonly qHost: Float32Array;
  readonly kHost: Float32Array;
  tableHost: Int32Array;
  seqlens: Int32Array;
  numBlocks: number;
  maxBlocksPerSeq: number;
  /** 16-bit pattern → value. */
  decodeTable: Float64Array;
}

export const GARBAGE_BLOCK = 2147480000;


/**
 * Random 16-bit float patterns, fast enough for a GiB of cache: random sign, mantissa and an exponent
 * spread over [scale/64, scale) (never zero, never special).
 */
function randomBits(dtype: 'bf16' | 'fp16', n: number, scale: number, r: () => number, out = new Uint16Array(n), offset = 0): Uint16Array {
  const mantBits = dtype === 'bf16' ? 7 : 10;
  const bias = dtype === 'bf16' ? 127 : 15;
  const top = bias + Math.floor(Math.log2(scale)) - 1; // values below scale
  let x = (r() * 2 ** 32) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    const sign = (x >>> 31) << 15;
    const exp = top - ((x >>> 20) % 6);
    out[offset + i] = sign | (exp << mantBits) | (x & ((1 << mantBits) - 1));
  }
  return out;
}

/**
 * A random problem: every page block a request uses is a distinct random block; the rest of the cache and
 * the tail of each request's last block hold NaN; block-table entries past a request's length hold a huge
 * garbage index, so any read of them faults or poisons the result.
 */
export function makeProblem(spec: ProblemSpec): Problem {
  const r = rng(spec.seed);
  const dtype = spec.dtype ?? 'bf16';
  const scale = spec.scale ?? 0.25;
  const { b, sQ, hQ, seqlens } = spec;
  if (seqlens.length !== b) throw new Error(`makeProblem: ${seqlens.length} seqlens for b = ${b}`);
  const used = seqlens.map((s) => Math.ceil(s / 64));
  const maxBlocksPerSeq = Math.max(1, ...used) + (spec.spareColumns ?? 1);
  const numBlocks = used.reduce((a, x) => a + x, 0) + (spec.spareBlocks ?? 2);
  const perm = Array.from({ length: numBlocks }, (_, i) => i);
  for (let i = perm.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  const nanBits = dtype === 'bf16' ? 0x7fc0 : 0x7e00;
  const tableHost = new Int32Array(b * maxBlocksPerSeq).fill(GARBAGE_BLOCK);
  const kBits = new Uint16Array(numBlocks * 64 * 576).fill(nanBits);
  let next = 0;
  for (let i = 0; i < b; i++) {
    for (let j = 0; j < used[i]; j++) {
      const block = perm[next++];
      tableHost[i * maxBlocksPerSeq + j] = block;
      const tokens = Math.min(64, seqlens[i] - j * 64);
      randomBits(dtype, tokens * 576, scale, r, kBits, block * 64 * 576);
    }
  }
  const qBits = randomBits(dtype, b * sQ * hQ * 576, scale, r);
  const decodeTable = halfDecodeTable(dtype);
  let qHost: Float32Array | null = null;
  let kHost: Float32Array | null = null;
  return {
    spec,
    dtype,
    b,
    sQ,
    hQ,
    table: tableHost,
    qBits,
    kBits,
    get qHost() {
      return (qHost ??= Float32Array.from(qBits, (x) => decodeTable[x]));
    },
    get kHost() {
      return (kHost ??= Float32Array.from(kBits, (x) => decodeTable[x]));
    },
    tableHost,
    seqlens: Int32Array.from(seqlens),
    numBlocks,
    maxBlocksPerSeq,
    decodeTable,
  };
}

export interface ProblemTensors {
  q: Tensor;
  kCache: Tensor;
  blockTable: Tensor;
  cacheSeqlens: Tensor;
  dispose(): void;
}

export function problemTensors(p: Problem, backend: BackendName): ProblemTensors {
  const { b, sQ, hQ } = p.spec;
  const q = Tensor.from(p.qBits, [b, sQ, hQ, 576], { dtype: p.dtype, backend });
  const kCache = Tensor.from(p.kBits, [p.numBlocks, 64, 1, 576], { dtype: p.dtype, backend });
  const blockTable = Tensor.from(p.tableHost, [b, p.maxBlocksPerSeq], { dtype: 'int32', backend });
  const cacheSeqlens = Tensor.from(p.seqlens, [b], { dtype: 'int32', backend });
  return {
    q,
    kCache,
    blockTable,
    cacheSeqlens,
    dispose() {
      for (const t of [q, kCache, blockTable, cacheSeqlens]) t.dispose();
    },
  };
}

/** Whether GPU tests should run; when they cannot, the reason to print with the skip. */
export async function gpuSkipReason(): Promise<string | false> {
  const { cudaAvailable } = await import('../../src/index.js');
  if (cudaAvailable()) return false;
  let reason = 'no CUDA device';
  try {
    const { CudaDevice } = await import('../../src/cuda/runtime.js');
    CudaDevice.get();
  } catch (e) {
    reason = (e as Error).message;
  }
  if (process.env.FLASH_MLA_REQUIRE_GPU === '1') throw new Error(`FLASH_MLA_REQUIRE_GPU=1 but ${reason}`);
  return `GPU test skipped: ${reason}`;
}
