// Property test of flashMlaWithKvcache on the cpu backend: many small random problems against a float64
// reference written here, independent of the library: values are made from their bit fields by arithmetic
// (no library decode), the reference reads each request's keys from its own per-request arrays (never
// through the tensors' layouts or the block table), and outputs are decoded by that arithmetic too.
//
// Each case draws b, s_q, h_q, seqlens (0, page edges and random), causal or not, bf16/fp16, an SM count
// (so requests get split and combined) and a softmax scale (nearly uniform to peaked); every input is a view into a
// NaN-filled buffer with its own padding, dimension order and offset; block-table entries past each row's
// used blocks hold garbage (huge, negative, NaN blocks, other requests' blocks); unused cache rows and blocks
// are NaN; out/lse are (sometimes) views into NaN-filled buffers whose surroundings must stay NaN.
// Every element must be within half a unit in the last place of the exact result (plus float64 noise).
//
//   FLASH_MLA_PROPERTY_CASES=N   cases to run (default 10 000)
//   FLASH_MLA_SEED=S             base seed: case k uses seed S + k·0x9e3779b9, so a failing case reruns
//                                alone with FLASH_MLA_SEED=<its case seed> FLASH_MLA_PROPERTY_CASES=1

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, flashMlaWithKvcache, getMlaMetadata } from '../src/index.js';
import { freshSeed, rng } from './util/problem.js';

const D_K = 576;
const D_V = 512;
const PAGE = 64;

type Half = 'bf16' | 'fp16';

interface Format {
  mantBits: number;
  bias: number;
  /** Smallest normal exponent. */
  emin: number;
  nanBits: number;
  /** Value of every 16-bit pattern, by arithmetic on the fields. */
  value: Float64Array;
}

function makeFormat(expBits: number, mantBits: number, nanBits: number): Format {
  const bias = (1 << (expBits - 1)) - 1;
  const expMax = (1 << expBits) - 1;
  const value = new Float64Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const e = (h >>> mantBits) & expMax;
    const m = h & ((1 << mantBits) - 1);
    if (e === expMax) value[h] = m ? NaN : sign * Infinity;
    else if (e === 0) value[h] = sign * m * 2 ** (1 - bias - mantBits);
    else value[h] = sign * (2 ** mantBits + m) * 2 ** (e - bias - mantBits);
  }
  return { mantBits, bias, emin: 1 - bias, nanBits, value };
}

const FORMATS: Record<Half, Format> = { bf16: makeFormat(8, 7, 0x7fc0), fp16: makeFormat(5, 10, 0x7e00) };

const GARBAGE = [2147480000, -1, -2147483648, 1 << 30];

interface Case {
  seed: number;
  dtype: Half;
  b: number;
  sQ: number;
  hQ: number;
  seqlens: number[];
  causal: boolean;
  smCount: number;
  softmaxScale: number | undefined;
  layout: string;
}

/**
 * Random 16-bit patterns and their values: random sign and mantissa, an exponent in the 6 binades below 1,
 * 1/64 of them ±0. Cases copy 576-element windows at random offsets (fresh values per case cost about as
 * much time as the decode they check).
 */
interface Pool {
  bits: Uint16Array;
  vals: Float64Array;
}

const POOL_SIZE = 1 << 20;

function makePool(fmt: Format, seed: number): Pool {
  const bits = new Uint16Array(POOL_SIZE);
  const vals = new Float64Array(POOL_SIZE);
  const top = fmt.bias - 1;
  let x = seed >>> 0 || 1;
  for (let i = 0; i < POOL_SIZE; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    const sign = (x >>> 31) << 15;
    const h = ((x >>> 8) & 63) === 0 ? sign : sign | ((top - ((x >>> 20) % 6)) << fmt.mantBits) | (x & ((1 << fmt.mantBits) - 1));
    bits[i] = h;
    vals[i] = fmt.value[h];
  }
  return { bits, vals };
}

interface Built {
  c: Case;
  fmt: Format;
  q: Tensor;
  kCache: Tensor;
  blockTable: Tensor;
  cacheSeqlens: Tensor;
  /** Logical q values [b, s_q, h_q, 576] and each request's key rows [seqlen, 576], float64. */
  qVals: Float64Array;
  kVals: Float64Array[];
  outBuf: Tensor | null;
  outOffset: number;
  lseBuf: Tensor | null;
  lseOffset: number;
}

function buildCase(seed: number, pools: Record<Half, Pool>): Built {
  const r = rng(seed);
  const int = (n: number) => Math.floor(r() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  const shuffle = <T>(xs: T[]): T[] => {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = int(i + 1);
      [xs[i], xs[j]] = [xs[j], xs[i]];
    }
    return xs;
  };

  const dtype = pick(['bf16', 'fp16'] as const);
  const fmt = FORMATS[dtype];
  const pool = pools[dtype];
  const window = () => int(POOL_SIZE - D_K);
  // three of four cases are small batches of short requests at page edges; the rest have fewer query rows
  // and a few pages per request, with few SM parts, so that requests get split and combined
  const splitProne = r() < 0.25;
  const b = splitProne ? pick([2, 2, 3]) : pick([1, 1, 2, 2, 3, 4]);
  const sQ = splitProne ? pick([1, 1, 2]) : pick([1, 1, 1, 2, 2, 3]);
  const hQ = splitProne ? pick([1, 1, 2]) : pick([1, 1, 2, 3, 4]);
  const seqlens = Array.from({ length: b }, () =>
    splitProne ? pick([1, 65, 128, 129, 192, 193, 64 + int(200)]) : pick([0, 1, 2, 63, 64, 65, 128, 129, int(64), int(32)]),
  );
  // 2–3 SM parts cut a later, longer request at a part boundary (41 % of these cases, against 15 % unsorted)
  if (splitProne) seqlens.sort((x, y) => x - y);
  const c: Case = {
    seed,
    dtype,
    b,
    sQ,
    hQ,
    seqlens,
    causal: r() < 0.5,
    smCount: splitProne ? pick([2, 2, 3]) : pick([1, 2, 3, 8, 33, 132, 1000]),
    // from a nearly uniform softmax (1e-3) to one dominated by a few keys (20)
    softmaxScale: r() < 0.4 ? undefined : 1e-3 * 2e4 ** r(),
    layout: '',
  };
  const layout: string[] = [];

  // ---- q: the three outer dims in a random memory order, each padded, rows padded, at an offset
  const qDims = [b, sQ, hQ];
  const qOrder = shuffle([0, 1, 2]);
  const qRow = D_K + pick([0, 0, 8, 64, 3]);
  const qStrides = [0, 0, 0, 1];
  let span = qRow;
  for (let k = 2; k >= 0; k--) {
    const d = qOrder[k];
    qStrides[d] = span;
    span *= qDims[d] + pick([0, 0, 1]);
  }
  const qOffset = int(40);
  const qPhys = new Uint16Array(qOffset + span).fill(fmt.nanBits);
  const qVals = new Float64Array(b * sQ * hQ * D_K);
  for (let i = 0; i < b; i++) {
    for (let s = 0; s < sQ; s++) {
      for (let h = 0; h < hQ; h++) {
        const w = window();
        qPhys.set(pool.bits.subarray(w, w + D_K), qOffset + i * qStrides[0] + s * qStrides[1] + h * qStrides[2]);
        qVals.set(pool.vals.subarray(w, w + D_K), ((i * sQ + s) * hQ + h) * D_K);
      }
    }
  }
  layout.push(`q strides [${qStrides}] offset ${qOffset}`);

  // ---- kCache: padded rows, padded blocks, any stride for the size-1 head dim, at an offset
  const used = seqlens.map((n) => Math.ceil(n / PAGE));
  const numBlocks = Math.max(1, used.reduce((a, x) => a + x, 0) + int(3));
  const kRow = D_K + pick([0, 0, 8, 64, 3]);
  const kBlock = (PAGE + pick([0, 0, 1, 8])) * kRow;
  const kStrides = [kBlock, kRow, pick([kRow, 0, 7]), 1];
  const kOffset = int(100);
  const kPhys = new Uint16Array(kOffset + numBlocks * kBlock).fill(fmt.nanBits);
  layout.push(`kCache strides [${kStrides}] offset ${kOffset}`);

  // ---- block table: distinct random blocks per request; garbage past each row's used blocks and in padding
  const maxBlocksPerSeq = Math.max(1, ...used) + int(3);
  const tRow = maxBlocksPerSeq + pick([0, 0, 2]);
  const tOffset = int(5);
  const tPhys = new Int32Array(tOffset + b * tRow);
  const perm = shuffle(Array.from({ length: numBlocks }, (_, k) => k));
  const kVals: Float64Array[] = [];
  let next = 0;
  const owned: number[][] = [];
  for (let i = 0; i < b; i++) {
    owned.push(perm.slice(next, next + used[i]));
    next += used[i];
  }
  for (let k = 0; k < tPhys.length; k++) tPhys[k] = pick(GARBAGE);
  for (let i = 0; i < b; i++) {
    const vals = new Float64Array(seqlens[i] * D_K);
    for (let j = 0; j < tRow; j++) {
      let entry: number;
      if (j < used[i]) entry = owned[i][j];
      else {
        // past the used blocks: an unused (NaN) block, another request's block, or an index that does not exist
        const kind = int(3);
        entry = kind === 0 && next < numBlocks ? perm[next + int(numBlocks - next)] : kind === 1 && next > 0 ? perm[int(next)] : pick(GARBAGE);
      }
      tPhys[tOffset + i * tRow + j] = entry;
    }
    for (let t = 0; t < seqlens[i]; t++) {
      const w = window();
      kPhys.set(pool.bits.subarray(w, w + D_K), kOffset + owned[i][Math.floor(t / PAGE)] * kBlock + (t % PAGE) * kRow);
      vals.set(pool.vals.subarray(w, w + D_K), t * D_K);
    }
    kVals.push(vals);
  }
  layout.push(`blockTable row stride ${tRow} offset ${tOffset}`);

  // ---- cacheSeqlens: a contiguous view at an offset into garbage
  const sOffset = int(4);
  const sPhys = new Int32Array(sOffset + b + int(3)).fill(pick(GARBAGE));
  sPhys.set(seqlens, sOffset);

  const qBuf = Tensor.from(qPhys, [qPhys.length], { dtype });
  const kBuf = Tensor.from(kPhys, [kPhys.length], { dtype });
  const tBuf = Tensor.from(tPhys, [tPhys.length], { dtype: 'int32' });
  const sBuf = Tensor.from(sPhys, [sPhys.length], { dtype: 'int32' });

  // ---- out / lse: allocated by the call, or views at an offset into NaN-filled buffers
  let outBuf: Tensor | null = null;
  let lseBuf: Tensor | null = null;
  let outOffset = 0;
  let lseOffset = 0;
  if (r() < 0.5) {
    outOffset = int(600);
    lseOffset = int(5);
    const outLength = outOffset + b * sQ * hQ * D_V + int(600);
    outBuf = Tensor.from(new Uint16Array(outLength).fill(fmt.nanBits), [outLength], { dtype });
    lseBuf = Tensor.full([lseOffset + b * hQ * sQ + int(3)], NaN, { dtype: 'fp32' });
    layout.push(`out at offset ${outOffset}, lse at offset ${lseOffset}`);
  }
  c.layout = layout.join('; ');
  return {
    c,
    fmt,
    q: qBuf.view([b, sQ, hQ, D_K], qStrides, qOffset),
    kCache: kBuf.view([numBlocks, PAGE, 1, D_K], kStrides, kOffset),
    blockTable: tBuf.view([b, maxBlocksPerSeq], [tRow, 1], tOffset),
    cacheSeqlens: sBuf.view([b], [1], sOffset),
    qVals,
    kVals,
    outBuf,
    outOffset,
    lseBuf,
    lseOffset,
  };
}

/** Plain softmax attention in float64 for one query row; no visible key → out 0, lse +inf. */
function referenceRow(qVals: Float64Array, qBase: number, keys: Float64Array, visible: number, scale: number, out: Float64Array): number {
  out.fill(0);
  if (visible <= 0) return Infinity;
  const logits = new Float64Array(visible);
  let max = -Infinity;
  for (let t = 0; t < visible; t++) {
    let dot = 0;
    const kb = t * D_K;
    for (let ch = 0; ch < D_K; ch++) dot += qVals[qBase + ch] * keys[kb + ch];
    logits[t] = dot * scale;
    if (logits[t] > max) max = logits[t];
  }
  let sum = 0;
  for (let t = 0; t < visible; t++) {
    const w = Math.exp(logits[t] - max);
    sum += w;
    const kb = t * D_K;
    for (let ch = 0; ch < D_V; ch++) out[ch] += w * keys[kb + ch];
  }
  for (let ch = 0; ch < D_V; ch++) out[ch] /= sum;
  return max + Math.log(sum);
}

/** Half a unit in the last place of x in a format with `p` significand bits and smallest normal exponent `emin`. */
const f64 = new Float64Array(1);
const f64High = new Uint32Array(f64.buffer, 4, 1); // little-endian: the word with sign and exponent
const POW2 = Float64Array.from({ length: 401 }, (_, k) => 2 ** (k - 200));
function halfUlp(x: number, p: number, emin: number): number {
  f64[0] = x;
  const e = ((f64High[0] >>> 20) & 0x7ff) - 1023; // floor(log2 |x|) for normal float64 values
  return POW2[Math.max(e, emin) - p + 200]; // below the format's normals: its fixed subnormal step
}

function describeCase(c: Case, k: number): string {
  return (
    `case ${k} (case seed ${c.seed}): b ${c.b}, s_q ${c.sQ}, h_q ${c.hQ}, ${c.dtype}, seqlens [${c.seqlens.join(', ')}], ` +
    `causal ${c.causal}, smCount ${c.smCount}, softmaxScale ${c.softmaxScale ?? 'default'}; ${c.layout}; ` +
    `rerun alone with FLASH_MLA_SEED=${c.seed} FLASH_MLA_PROPERTY_CASES=1`
  );
}

interface Coverage {
  /** Cases where some request was split across SM parts (partials combined by their LSEs). */
  split: number;
  causal: number;
  /** Query rows checked, and those that saw no key (out 0, lse +inf). */
  rows: number;
  lonelyRows: number;
  /** Cases whose block tables had a request crossing a page boundary. */
  multiPage: number;
}

function checkCase(k: number, seed: number, cov: Coverage, pools: Record<Half, Pool>): void {
  const built = buildCase(seed, pools);
  const { c, fmt } = built;
  const { b, sQ, hQ } = c;
  const fail = (what: string): never => assert.fail(`${what}\n  ${describeCase(c, k)}`);
  const md = getMlaMetadata(built.cacheSeqlens, sQ * hQ, 1, { smCount: c.smCount });
  const opts: Parameters<typeof flashMlaWithKvcache>[7] = { causal: c.causal };
  if (c.softmaxScale !== undefined) opts.softmaxScale = c.softmaxScale;
  if (built.outBuf && built.lseBuf) {
    opts.out = built.outBuf.view([b, sQ, hQ, D_V], undefined, built.outOffset);
    opts.lse = built.lseBuf.view([b, hQ, sQ], undefined, built.lseOffset);
  }
  let result: { out: Tensor; lse: Tensor };
  try {
    result = flashMlaWithKvcache(built.q, built.kCache, built.blockTable, built.cacheSeqlens, D_V, md.tileSchedulerMetadata, md.numSplits, opts);
  } catch (e) {
    return fail(`flashMlaWithKvcache threw ${(e as Error).name}: ${(e as Error).message}`);
  }
  const splits = md.numSplits.toInt32();
  if (splits.some((x, i) => i > 0 && x - splits[i - 1] > 1)) cov.split++;
  if (c.causal) cov.causal++;
  if (c.seqlens.some((n) => n > PAGE)) cov.multiPage++;
  const outBits = result.out.toRaw() as Uint16Array;
  const lse = result.lse.toFloat32();
  const scale = c.softmaxScale ?? 1 / Math.sqrt(D_K);
  const p = fmt.mantBits + 1;
  const ref = new Float64Array(D_V);
  for (let i = 0; i < b; i++) {
    for (let s = 0; s < sQ; s++) {
      const visible = c.causal ? c.seqlens[i] - (sQ - 1 - s) : c.seqlens[i];
      for (let h = 0; h < hQ; h++) {
        const row = (i * sQ + s) * hQ + h;
        const refLse = referenceRow(built.qVals, row * D_K, built.kVals[i], visible, scale, ref);
        const gotLse = lse[(i * hQ + h) * sQ + s];
        const where = `request ${i}, query token ${s}, head ${h} (sees ${Math.max(visible, 0)} keys)`;
        cov.rows++;
        if (refLse === Infinity) {
          cov.lonelyRows++;
          if (gotLse !== Infinity) fail(`lse at ${where}: got ${gotLse}, expected +Infinity (no visible key)`);
          for (let ch = 0; ch < D_V; ch++) if (outBits[row * D_V + ch] !== 0) fail(`out at ${where}, channel ${ch}: bits 0x${outBits[row * D_V + ch].toString(16)}, expected +0 (no visible key)`);
          continue;
        }
        if (!(Math.abs(gotLse - refLse) <= Math.abs(refLse) * 2 ** -24 * (1 + 1e-6) + 1e-12)) fail(`lse at ${where}: got ${gotLse}, reference ${refLse}`);
        for (let ch = 0; ch < D_V; ch++) {
          const got = fmt.value[outBits[row * D_V + ch]];
          const want = ref[ch];
          const bound = halfUlp(want, p, fmt.emin) * (1 + 1e-6) + 1e-12;
          if (!(Math.abs(got - want) <= bound)) fail(`out at ${where}, channel ${ch}: got ${got}, reference ${want} (error ${Math.abs(got - want)} > half an ulp ${bound})`);
        }
      }
    }
  }
  // preallocated outputs: the buffers around the views are untouched
  if (built.outBuf && built.lseBuf) {
    const all = built.outBuf.toRaw() as Uint16Array;
    const n = b * sQ * hQ * D_V;
    for (let x = 0; x < all.length; x++) {
      if ((x < built.outOffset || x >= built.outOffset + n) && all[x] !== fmt.nanBits) fail(`out buffer element ${x}, outside the out view, was written`);
    }
    const allLse = built.lseBuf.toFloat32();
    for (let x = 0; x < allLse.length; x++) {
      if ((x < built.lseOffset || x >= built.lseOffset + b * hQ * sQ) && !Number.isNaN(allLse[x])) fail(`lse buffer element ${x}, outside the lse view, was written`);
    }
  }
}

const CASES = process.env.FLASH_MLA_PROPERTY_CASES ? Number(process.env.FLASH_MLA_PROPERTY_CASES) : 10_000;

test(`property: ${CASES} random decode problems on the cpu backend match an independent float64 reference to half an ulp`, () => {
  assert.ok(Number.isSafeInteger(CASES) && CASES >= 1, `FLASH_MLA_PROPERTY_CASES: expected an integer ≥ 1, got '${process.env.FLASH_MLA_PROPERTY_CASES}'`);
  const base = freshSeed();
  const started = performance.now();
  // fixed pools (the case seed picks the windows), so that a case reruns alone from its own seed
  const pools = { bf16: makePool(FORMATS.bf16, 0x1234567), fp16: makePool(FORMATS.fp16, 0x7654321) };
  const cov: Coverage = { split: 0, causal: 0, rows: 0, lonelyRows: 0, multiPage: 0 };
  try {
    for (let k = 0; k < CASES; k++) {
      const seed = (base + Math.imul(k, 0x9e3779b9)) >>> 0;
      checkCase(k, seed, cov, pools);
    }
  } catch (e) {
    console.error(`property test failed (base seed ${base}; rerun everything with FLASH_MLA_SEED=${base})`);
    throw e;
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `property: ${CASES} cases in ${seconds.toFixed(1)} s (base seed ${base}): ${cov.split} with split requests, ${cov.causal} causal, ` +
      `${cov.multiPage} with a request over several pages; ${cov.rows} query rows, ${cov.lonelyRows} of them seeing no key`,
  );
  // the generator must keep reaching every path, or the test silently weakens
  if (CASES >= 1000) {
    for (const [name, n] of Object.entries({ split: cov.split, causal: cov.causal, multiPage: cov.multiPage, lonelyRows: cov.lonelyRows })) {
      assert.ok(n >= CASES / 50, `property: only ${n} cases/rows of kind '${name}' in ${CASES} cases: the generator no longer covers it`);
    }
  }
});
