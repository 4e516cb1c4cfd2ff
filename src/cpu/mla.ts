// The cpu backend: pure TypeScript, float64 everywhere, the oracle for every GPU test.
// It follows the GPU data flow on purpose: scheduler → one partial softmax per work item (request slice
// of an SM part) → combine of the split partials by their LSEs. Obviously correct beats clever.

import type { MlaBackend, MlaDecodeArgs } from '../backend.js';
import { registerBackend } from '../backend.js';
import { isCapturing } from '../graph.js';
import { halfDecodeTable, isFloat16Type, toHalfBits } from '../dtype.js';
import type { Tensor } from '../tensor.js';
import { DEFAULT_CPU_SM_COUNT, HEAD_DIM_K, HEAD_DIM_V, PAGE_BLOCK_SIZE } from '../mla/constants.js';
import { scheduleTiles, workItems } from '../mla/schedule.js';

/** Element (as float64) of a cpu tensor at a flat storage index. */
function reader(t: Tensor): (index: number) => number {
  const data = t.data;
  if (isFloat16Type(t.dtype)) {
    const table = halfDecodeTable(t.dtype); // decoding is the hot loop of the oracle
    return (i) => table[(data as Uint16Array)[i]];
  }
  return (i) => data[i];
}


/** Partial attention of one folded row over tokens [start, end): normalised output and natural LSE. */
export interface Partial {
  o: Float64Array;
  /** ln Σ exp(scaled logits); -Infinity when no key was seen. */
  lse: number;
}

/** Row of q (576 floats) for batch i, query token s, head h. */
function readQ(q: Tensor, rd: (i: number) => number, i: number, s: number, h: number): Float64Array {
  const v = new Float64Array(HEAD_DIM_K);
  const base = q.offset + i * q.strides[0] + s * q.strides[1] + h * q.strides[2];
  for (let c = 0; c < HEAD_DIM_K; c++) v[c] = rd(base + c * q.strides[3]);
  return v;
}

/** K rows of request `req` for tokens [start, end) as one float64 block (tokens × 576). */
function readK(args: { kCache: Tensor; blockTable: Tensor }, rdK: (i: number) => number, table: Int32Array, req: number, start: number, end: number): Float64Array {
  const { kCache, blockTable } = args;
  const n = Math.max(end - start, 0);
  const out = new Float64Array(n * HEAD_DIM_K);
  const bt = blockTable.strides[0];
  for (let t = start; t < end; t++) {
    const block = table[blockTable.offset + req * bt + Math.floor(t / PAGE_BLOCK_SIZE) * blockTable.strides[1]];
    const base = kCache.offset + block * kCache.strides[0] + (t % PAGE_BLOCK_SIZE) * kCache.strides[1];
    const o = (t - start) * HEAD_DIM_K;
    for (let c = 0; c < HEAD_DIM_K; c++) out[o + c] = rdK(base + c * kCache.strides[3]);
  }
  return out;
}

/** Softmax-weighted sum of V rows (first 512 channels of K) for one query row. */
export function partialAttention(qRow: Float64Array, k: Float64Array, nTokens: number, scale: number): Partial {
  const o = new Float64Array(HEAD_DIM_V);
  if (nTokens <= 0) return { o, lse: -Infinity };
  const s = new Float64Array(nTokens);
  let m = -Infinity;
  for (let t = 0; t < nTokens; t++) {
    let acc = 0;
    const base = t * HEAD_DIM_K;
    for (let c = 0; c < HEAD_DIM_K; c++) acc += qRow[c] * k[base + c];
    s[t] = acc * scale;
    if (s[t] > m) m = s[t];
  }
  let l = 0;
  for (let t = 0; t < nTokens; t++) {
    const p = Math.exp(s[t] - m);
    l += p;
    const base = t * HEAD_DIM_K;
    for (let c = 0; c < HEAD_DIM_V; c++) o[c] += p * k[base + c];
  }
  for (let c = 0; c < HEAD_DIM_V; c++) o[c] /= l;
  return { o, lse: m + Math.log(l) };
}

/** Merge split partials: weights exp(lse_j − G), G = log Σ exp(lse_j). All empty → out 0, lse +inf. */
export function combinePartials(parts: Partial[]): { o: Float64Array; lse: number } {
  const o = new Float64Array(HEAD_DIM_V);
  let m = -Infinity;
  for (const p of parts) if (p.lse > m) m = p.lse;
  if (m === -Infinity || Number.isNaN(m)) return { o, lse: Infinity };
  let sum = 0;
  for (const p of parts) sum += Math.exp(p.lse - m);
  const g = m + Math.log(sum);
  for (const p of parts) {
    const w = Math.exp(p.lse - g);
    if (w === 0) continue;
    for (let c = 0; c < HEAD_DIM_V; c++) o[c] += w * p.o[c];
  }
  return { o, lse: g };
}

/** Keys visible to query token `s` of `sQ` under the bottom-right causal mask. */
export function causalBorder(seqlen: number, sQ: number, s: number, causal: boolean): number {
  return causal ? seqlen - (sQ - 1 - s) : seqlen;
}

function writeRow(out: Tensor, lse: Tensor, i: number, s: number, h: number, o: Float64Array, lseValue: number, encode: (x: number) => number): void {
  const od = out.data;
  const base = out.offset + i * out.strides[0] + s * out.strides[1] + h * out.strides[2];
  for (let c = 0; c < HEAD_DIM_V; c++) od[base + c * out.strides[3]] = encode(o[c]);
  const [, hQ, sQ] = lse.shape;
  (lse.data as Float32Array)[lse.offset + (i * hQ + h) * sQ + s] = lseValue;
}

function decode(args: MlaDecodeArgs): void {
  const { q, kCache, blockTable, cacheSeqlens, tileSchedulerMetadata, numSplits, out, lse, softmaxScale, causal } = args;
  const [, sQ, hQ] = q.shape;
  const seqlens = cacheSeqlens.toInt32();
  const metadata = tileSchedulerMetadata.toInt32();
  const splits = numSplits.toInt32();
  const table = blockTable.data as Int32Array;
  const rdQ = reader(q);
  const rdK = reader(kCache);
  const dt = out.dtype as 'bf16' | 'fp16';
  const encode = (x: number) => toHalfBits(dt, x); // out holds raw 16-bit patterns
  const accum = new Map<number, Partial[]>(); // split row → partial per folded row
  const rows = sQ * hQ;
  for (const item of workItems(metadata, seqlens, tileSchedulerMetadata.shape[0])) {
    const seqlen = seqlens[item.request];
    const k = readK({ kCache, blockTable }, rdK, table, item.request, item.startToken, item.endToken);
    const results: Partial[] = new Array(rows);
    for (let s = 0; s < sQ; s++) {
      const border = Math.min(causalBorder(seqlen, sQ, s, causal), item.endToken);
      for (let h = 0; h < hQ; h++) {
        const qRow = readQ(q, rdQ, item.request, s, h);
        results[s * hQ + h] = partialAttention(qRow, k, border - item.startToken, softmaxScale);
      }
    }
    if (item.noSplit) {
      for (let s = 0; s < sQ; s++) {
        for (let h = 0; h < hQ; h++) {
          const r = results[s * hQ + h];
          const empty = r.lse === -Infinity;
          writeRow(out, lse, item.request, s, h, empty ? new Float64Array(HEAD_DIM_V) : r.o, empty ? Infinity : r.lse, encode);
        }
      }
    } else {
      accum.set(splits[item.request] + item.splitIdx, results);
    }
  }
  for (let i = 0; i < seqlens.length; i++) {
    const n = splits[i + 1] - splits[i];
    if (n <= 1) continue;
    for (let r = 0; r < rows; r++) {
      const parts: Partial[] = [];
      for (let j = 0; j < n; j++) {
        const a = accum.get(splits[i] + j);
        if (!a) throw new Error(`cpu decode: split ${j} of request ${i} was never computed (inconsistent metadata)`);
        parts.push(a[r]);
      }
      const c = combinePartials(parts);
      writeRow(out, lse, i, Math.floor(r / hQ), r % hQ, c.o, c.lse, encode);
    }
  }
}

function refuseCapture(): void {
  if (isCapturing()) throw new Error('captureGraph: cpu-backend work cannot be captured into a CUDA graph (it would run once, never on replay)');
}

export const cpuBackend: MlaBackend = {
  name: 'cpu',
  smCount: () => DEFAULT_CPU_SM_COUNT,
  mlaMetadata(cacheSeqlens, tileSchedulerMetadata, numSplits) {
    refuseCapture();
    const { metadata, numSplits: ns } = scheduleTiles(cacheSeqlens.toInt32(), tileSchedulerMetadata.shape[0]);
    (tileSchedulerMetadata.data as Int32Array).set(metadata, tileSchedulerMetadata.offset);
    (numSplits.data as Int32Array).set(ns, numSplits.offset);
  },
  mlaDecode(args) {
    refuseCapture();
    decode(args);
  },
  decodeKernels: () => ['reference'],
};

registerBackend('cpu', () => cpuBackend);
