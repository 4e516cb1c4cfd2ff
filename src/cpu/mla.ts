// The cpu backend: pure TypeScript, float64 everywhere, the oracle for every GPU test.
// It follows the GPU data flow on purpose: scheduler → one partial softmax per work item (request slice
// of an SM part) → combine of the split partials by their LSEs. Obviously correct beats clever.
// Dense decode reads K through the block table (h_kv ≥ 1 KV heads, d_qk 576 or 512, bf16/fp16 or the FP8
// layout dequantized exactly); sparse decode reads the FP8 rows its indices name, a work item being a range of
// positions in each request's index list (the schedule treats every request as topk tokens long).

import type { MlaBackend, MlaDecodeArgs } from '../backend.js';
import { registerBackend } from '../backend.js';
import { isCapturing } from '../capture.js';
import { halfDecodeTable, isFloat16Type, toHalfBits } from '../dtype.js';
import type { Tensor } from '../tensor.js';
import { DEFAULT_CPU_SM_COUNT, HEAD_DIM_K, HEAD_DIM_V, PAGE_BLOCK_SIZE } from '../mla/constants.js';
import { scheduleTiles, workItems } from '../mla/schedule.js';
import { dequantizeFp8Row } from '../kvcache/fp8.js';
import { cpuAppendKv, cpuAppendKvFp8 } from './append.js';

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

/** Row of q (d_qk floats) for batch i, query token s, head h. */
function readQ(q: Tensor, rd: (i: number) => number, i: number, s: number, h: number): Float64Array {
  const d = q.shape[3];
  const v = new Float64Array(d);
  const base = q.offset + i * q.strides[0] + s * q.strides[1] + h * q.strides[2];
  for (let c = 0; c < d; c++) v[c] = rd(base + c * q.strides[3]);
  return v;
}

/** Writes the K row (d_qk float64s) of KV head `kh` at token slot `slot` (page · pageSize + row) to out[o…]. */
type RowLoader = (slot: number, kh: number, out: Float64Array, o: number) => void;

function rowLoader(kCache: Tensor, isFp8: boolean, dQk: number, ropeDtype: 'bf16' | 'fp16'): RowLoader {
  const pageSize = kCache.shape[1];
  const [s0, s1, s2, s3] = kCache.strides;
  const off = kCache.offset;
  if (isFp8) {
    const bytes = kCache.data as Uint8Array; // last dim contiguous (validated)
    return (slot, _kh, out, o) => dequantizeFp8Row(bytes, off + Math.floor(slot / pageSize) * s0 + (slot % pageSize) * s1, ropeDtype, out, o);
  }
  const rd = reader(kCache);
  return (slot, kh, out, o) => {
    const base = off + Math.floor(slot / pageSize) * s0 + (slot % pageSize) * s1 + kh * s2;
    for (let c = 0; c < dQk; c++) out[o + c] = rd(base + c * s3);
  };
}

/** K rows of KV head `kh` at `n` slots as one float64 block (n × d_qk). */
function gather(load: RowLoader, slots: ArrayLike<number>, n: number, kh: number, dQk: number): Float64Array {
  const out = new Float64Array(n * dQk);
  for (let t = 0; t < n; t++) load(slots[t], kh, out, t * dQk);
  return out;
}

/**
 * Softmax-weighted sum of V rows (the first 512 channels of each K row) for one query row; `k` holds nTokens
 * rows of d_qk channels (576, or 512 where V is the whole row).
 */
export function partialAttention(qRow: Float64Array, k: Float64Array, nTokens: number, scale: number, dQk = HEAD_DIM_K): Partial {
  const o = new Float64Array(HEAD_DIM_V);
  if (nTokens <= 0) return { o, lse: -Infinity };
  const s = new Float64Array(nTokens);
  let m = -Infinity;
  for (let t = 0; t < nTokens; t++) {
    let acc = 0;
    const base = t * dQk;
    for (let c = 0; c < dQk; c++) acc += qRow[c] * k[base + c];
    s[t] = acc * scale;
    if (s[t] > m) m = s[t];
  }
  let l = 0;
  for (let t = 0; t < nTokens; t++) {
    const p = Math.exp(s[t] - m);
    l += p;
    const base = t * dQk;
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

/**
 * Write one finished row: `o` and the natural lse, or 0 / +inf for a row that saw no key. With an attention
 * sink, out ← out / (1 + exp(sink − lse)) (+inf sink → 0, −inf → unchanged); lse is written unchanged.
 */
function writeRow(out: Tensor, lse: Tensor, i: number, s: number, h: number, r: { o: Float64Array; lse: number }, sink: number | undefined, encode: (x: number) => number): void {
  const empty = r.lse === -Infinity || r.lse === Infinity; // a partial's −inf, or the combine's +inf
  const lseValue = empty ? Infinity : r.lse;
  const factor = empty ? 0 : sink === undefined ? 1 : 1 / (1 + Math.exp(sink - r.lse));
  const od = out.data;
  const base = out.offset + i * out.strides[0] + s * out.strides[1] + h * out.strides[2];
  for (let c = 0; c < HEAD_DIM_V; c++) od[base + c * out.strides[3]] = encode(empty ? 0 : r.o[c] * factor);
  (lse.data as Float32Array)[lse.offset + i * lse.strides[0] + h * lse.strides[1] + s * lse.strides[2]] = lseValue;
}

function decode(args: MlaDecodeArgs): void {
  const { q, kCache, blockTable, cacheSeqlens, tileSchedulerMetadata, numSplits, out, lse, softmaxScale, causal, isFp8KvCache, indices, topkLength, attnSink } = args;
  const [b, sQ, hQ, dQk] = q.shape;
  const hKv = isFp8KvCache ? 1 : kCache.shape[2];
  const hpk = hQ / hKv; // query heads per KV head (GQA): KV head kh serves heads kh·hpk … (kh+1)·hpk − 1
  const dt = q.dtype as 'bf16' | 'fp16';
  const load = rowLoader(kCache, isFp8KvCache, dQk, dt);
  const rdQ = reader(q);
  const encode = (x: number) => toHalfBits(dt, x); // out holds raw 16-bit patterns
  const sinks = attnSink ? attnSink.toFloat32() : null;
  const metadata = tileSchedulerMetadata.toInt32();
  const splits = numSplits.toInt32();
  const rows = sQ * hQ;
  // what the schedule split: tokens of each request (dense), positions in each request's index list (sparse)
  let lens: Int32Array;
  let tokenSlots: (req: number, s: number, start: number, end: number) => { slots: Int32Array; n: number };
  if (indices) {
    const topk = indices.shape[2];
    lens = new Int32Array(b).fill(topk);
    const idx = indices.data as Int32Array;
    const [i0, i1, i2] = indices.strides;
    const capacity = kCache.shape[0] * kCache.shape[1];
    const limits = topkLength ? topkLength.toInt32() : null;
    const buf = new Int32Array(topk);
    tokenSlots = (req, s, start, end) => {
      const stop = limits ? Math.min(end, limits[req]) : end;
      let n = 0;
      for (let k = start; k < stop; k++) {
        const v = idx[indices.offset + req * i0 + s * i1 + k * i2];
        if (v >= 0 && v < capacity) buf[n++] = v; // −1 and out-of-range indices attend nothing
      }
      return { slots: buf, n };
    };
  } else {
    lens = cacheSeqlens!.toInt32();
    const table = blockTable!.data as Int32Array;
    const [t0, t1] = blockTable!.strides;
    const buf = new Int32Array(Math.max(...lens, 0));
    tokenSlots = (req, _s, start, end) => {
      for (let t = start; t < end; t++) buf[t - start] = table[blockTable!.offset + req * t0 + Math.floor(t / PAGE_BLOCK_SIZE) * t1] * PAGE_BLOCK_SIZE + (t % PAGE_BLOCK_SIZE);
      return { slots: buf, n: Math.max(end - start, 0) };
    };
  }
  const qRows: Float64Array[] = new Array(rows);
  const accum = new Map<number, Partial[]>(); // split row → partial per folded row
  for (const item of workItems(metadata, lens, tileSchedulerMetadata.shape[0])) {
    const req = item.request;
    for (let s = 0; s < sQ; s++) for (let h = 0; h < hQ; h++) qRows[s * hQ + h] = readQ(q, rdQ, req, s, h);
    const results: Partial[] = new Array(rows);
    if (indices) {
      // each query token has its own index list: gather its valid tokens
      for (let s = 0; s < sQ; s++) {
        const { slots, n } = tokenSlots(req, s, item.startToken, item.endToken);
        const k = gather(load, slots, n, 0, dQk);
        for (let h = 0; h < hQ; h++) results[s * hQ + h] = partialAttention(qRows[s * hQ + h], k, n, softmaxScale, dQk);
      }
    } else {
      // one block of K per KV head; query token s sees a prefix of it under the causal mask
      const { slots, n } = tokenSlots(req, 0, item.startToken, item.endToken);
      for (let kh = 0; kh < hKv; kh++) {
        const k = gather(load, slots, n, kh, dQk);
        for (let s = 0; s < sQ; s++) {
          const border = Math.min(causalBorder(lens[req], sQ, s, causal), item.endToken);
          for (let g = 0; g < hpk; g++) {
            const h = kh * hpk + g;
            results[s * hQ + h] = partialAttention(qRows[s * hQ + h], k, border - item.startToken, softmaxScale, dQk);
          }
        }
      }
    }
    if (item.noSplit) {
      for (let r = 0; r < rows; r++) writeRow(out, lse, req, Math.floor(r / hQ), r % hQ, results[r], sinks?.[r % hQ], encode);
    } else {
      accum.set(splits[req] + item.splitIdx, results);
    }
  }
  for (let i = 0; i < b; i++) {
    const n = splits[i + 1] - splits[i];
    if (n <= 1) continue;
    for (let r = 0; r < rows; r++) {
      const parts: Partial[] = [];
      for (let j = 0; j < n; j++) {
        const a = accum.get(splits[i] + j);
        if (!a) throw new Error(`cpu decode: split ${j} of request ${i} was never computed (inconsistent metadata)`);
        parts.push(a[r]);
      }
      writeRow(out, lse, i, Math.floor(r / hQ), r % hQ, combinePartials(parts), sinks?.[r % hQ], encode);
    }
  }
}

function refuseCapture(): void {
  if (isCapturing()) throw new Error('captureGraph: cpu-backend work cannot be captured into a CUDA graph (it would run once, never on replay)');
}

export const cpuBackend: MlaBackend = {
  name: 'cpu',
  smCount: () => DEFAULT_CPU_SM_COUNT,
  mlaMetadata(cacheSeqlens, tileSchedulerMetadata, numSplits, packCost) {
    refuseCapture();
    const { metadata, numSplits: ns } = scheduleTiles(cacheSeqlens.toInt32(), tileSchedulerMetadata.shape[0], undefined, true, undefined, undefined, packCost);
    (tileSchedulerMetadata.data as Int32Array).set(metadata, tileSchedulerMetadata.offset);
    (numSplits.data as Int32Array).set(ns, numSplits.offset);
  },
  checkDecode() {
    // every layout, the FP8 cache and sparse decode run here
  },
  mlaDecode(args) {
    refuseCapture();
    decode(args);
  },
  checkLayout() {
    // any strides and offset: the oracle reads element by element
  },
  checkKvFormat() {
    // bf16, fp16 and fp8 caches
  },
  appendKv(a) {
    if (a.kCache.dtype !== 'uint8') {
      cpuAppendKv(a);
      return;
    }
    refuseCapture();
    cpuAppendKvFp8(a);
  },
  decodeKernels: () => ['reference'],
  memory: null, // tensors live in host memory (tensor.ts)
};

registerBackend('cpu', () => cpuBackend);
