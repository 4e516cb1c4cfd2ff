// Shared test utilities: seeded randomness, random MLA decode problems with poisoned cache slots and
// shuffled block tables, a naive softmax-attention reference (independent of the cpu backend's data
// flow), and a comparison that checks NaN/Inf masks first and reports the worst element.

import { Tensor, type BackendName } from '../../src/index.js';
import { halfDecodeTable, roundTo, type DType } from '../../src/dtype.js';
import { rng } from '../../src/util/random.js';
export { rng };

export function freshSeed(): number {
  return process.env.FLASH_MLA_SEED ? Number(process.env.FLASH_MLA_SEED) : (Math.random() * 2 ** 31) >>> 0;
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

export interface Problem {
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

/**
 * Naive reference for one (request, query token, head): plain softmax attention in float64 over the
 * visible keys, read through the block table. Lonely rows (no visible key): out 0, lse +inf.
 */
export function referenceRow(p: Problem, i: number, s: number, h: number, causal: boolean, softmaxScale = 1 / Math.sqrt(576)): { out: Float64Array; lse: number } {
  const { sQ, hQ } = p.spec;
  const seqlen = p.seqlens[i];
  const visible = causal ? seqlen - (sQ - 1 - s) : seqlen;
  const out = new Float64Array(512);
  if (visible <= 0) return { out, lse: Infinity };
  const dec = p.decodeTable;
  const qOff = ((i * sQ + s) * hQ + h) * 576;
  const qRow = new Float64Array(576);
  for (let c = 0; c < 576; c++) qRow[c] = dec[p.qBits[qOff + c]];
  const logits = new Float64Array(visible);
  let m = -Infinity;
  for (let t = 0; t < visible; t++) {
    const block = p.tableHost[i * p.maxBlocksPerSeq + Math.floor(t / 64)];
    const kOff = (block * 64 + (t % 64)) * 576;
    let dot = 0;
    for (let c = 0; c < 576; c++) dot += qRow[c] * dec[p.kBits[kOff + c]];
    logits[t] = dot * softmaxScale;
    if (logits[t] > m) m = logits[t];
  }
  let sum = 0;
  for (let t = 0; t < visible; t++) {
    logits[t] = Math.exp(logits[t] - m);
    sum += logits[t];
  }
  for (let t = 0; t < visible; t++) {
    const block = p.tableHost[i * p.maxBlocksPerSeq + Math.floor(t / 64)];
    const kOff = (block * 64 + (t % 64)) * 576;
    const wt = logits[t] / sum;
    for (let c = 0; c < 512; c++) out[c] += wt * dec[p.kBits[kOff + c]];
  }
  return { out, lse: m + Math.log(sum) };
}

/** Full reference out [b, s_q, h_q, 512] and lse [b, h_q, s_q] in float64. */
export function referenceAll(p: Problem, causal: boolean, softmaxScale?: number): { out: Float64Array; lse: Float64Array } {
  const { b, sQ, hQ } = p.spec;
  const out = new Float64Array(b * sQ * hQ * 512);
  const lse = new Float64Array(b * hQ * sQ);
  for (let i = 0; i < b; i++) {
    for (let s = 0; s < sQ; s++) {
      for (let h = 0; h < hQ; h++) {
        const r = referenceRow(p, i, s, h, causal, softmaxScale);
        out.set(r.out, ((i * sQ + s) * hQ + h) * 512);
        lse[(i * hQ + h) * sQ + s] = r.lse;
      }
    }
  }
  return { out, lse };
}

export interface CompareResult {
  ok: boolean;
  message: string;
  cosDiff: number;
  maxAbs: number;
  worstIndex: number;
}

/**
 * Compare `got` with the float64 `ref`: NaN/±Inf patterns must match exactly; then
 * cosDiff = 1 − 2Σxy / Σ(x² + y²) < cosTol and max |got − ref| ≤ 2·max |round(ref) − ref| + absTol: the largest
 * error is bounded by twice the error of rounding the exact result to `dtype` (FA3's rule, maxima over the
 * compared elements). Per element the rounding of P to 16 bits before P·V, which any 16-bit tensor-core
 * kernel does, can exceed an element's own rounding error where the softmax has a few large weights.
 */
export function compare(name: string, got: ArrayLike<number>, ref: ArrayLike<number>, dtype: DType, opts: { cosTol?: number; absTol?: number; seed?: number } = {}): CompareResult {
  const cosTol = opts.cosTol ?? 1e-5;
  const absTol = opts.absTol ?? 1e-3;
  const seedMsg = opts.seed !== undefined ? ` (seed ${opts.seed}; rerun with FLASH_MLA_SEED=${opts.seed})` : '';
  if (got.length !== ref.length) return { ok: false, message: `${name}: length ${got.length} vs reference ${ref.length}${seedMsg}`, cosDiff: NaN, maxAbs: NaN, worstIndex: -1 };
  let sxy = 0;
  let sxx = 0;
  let worst = 0;
  let worstIndex = -1;
  let maxRounding = 0;
  for (let i = 0; i < got.length; i++) {
    const g = got[i];
    const r = ref[i];
    const gSpecial = Number.isNaN(g) ? 'NaN' : g === Infinity ? '+inf' : g === -Infinity ? '-inf' : '';
    const rSpecial = Number.isNaN(r) ? 'NaN' : r === Infinity ? '+inf' : r === -Infinity ? '-inf' : '';
    if (gSpecial !== rSpecial) {
      return { ok: false, message: `${name}[${i}]: got ${g}, reference ${r} (NaN/Inf mask differs)${seedMsg}`, cosDiff: NaN, maxAbs: NaN, worstIndex: i };
    }
    if (gSpecial) continue;
    sxy += g * r;
    sxx += g * g + r * r;
    const err = Math.abs(g - r);
    maxRounding = Math.max(maxRounding, Math.abs(roundTo(dtype, r) - r));
    if (err > worst) {
      worst = err;
      worstIndex = i;
    }
  }
  const bound = 2 * maxRounding + absTol;
  const cosDiff = sxx < 1e-12 ? 0 : 1 - (2 * sxy) / sxx;
  const base = `${name}: cosDiff ${cosDiff.toExponential(2)}, max |err| ${worst.toExponential(2)}`;
  if (cosDiff >= cosTol) return { ok: false, message: `${base} ≥ cos tolerance ${cosTol}${seedMsg}`, cosDiff, maxAbs: worst, worstIndex };
  if (worst > bound) {
    return {
      ok: false,
      message: `${base} > ${bound.toExponential(2)} (2 × max rounding error + ${absTol}); worst element ${worstIndex}: got ${got[worstIndex]}, reference ${ref[worstIndex]}${seedMsg}`,
      cosDiff,
      maxAbs: worst,
      worstIndex,
    };
  }
  return { ok: true, message: base, cosDiff, maxAbs: worst, worstIndex };
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
