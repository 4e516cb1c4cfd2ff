// PagedKvCache: the KV cache of an MLA model on one backend, in FlashMLA's paged layout.
//
//   const cache = new PagedKvCache({ backend: 'cuda', numBlocks: 4096, numLayers: 61 });
//   const a = cache.addSequence(), b = cache.addSequence();
//   cache.append([a, a, a, b, b], cKvs, kPes);              // prefill chunks: one id per token, per-layer rows
//   // decode step, layer by layer:
//   const slots = cache.reserve([a, b]);                     // one new token each: blocks, copy-on-write, lengths
//   const md = getMlaMetadata(cache.cacheSeqlens([a, b]), hQ, 1);
//   for (let l = 0; l < L; l++) {
//     appendKv(cache.kCache(l), slots, cKv[l], kPe[l]);
//     flashMlaWithKvcache(q[l], cache.kCache(l), cache.blockTable([a, b]), cache.cacheSeqlens([a, b]), 512, md.tileSchedulerMetadata, md.numSplits);
//   }
//   const c = cache.fork(a);                                 // shares a's blocks; the first write into a shared block copies it
//   cache.free(b);
//
// kvFormat 'fp8' stores FlashMLA's FP8 layout instead (uint8 [numBlocks, 64, 1, 656] per layer, rows quantized
// on append: src/kvcache/fp8.ts, kernels/append_kv_fp8.cu); decode it with flashMlaWithKvcache(…, { isFp8KvCache: true }).
//
// One block allocation serves all layers (every layer has its own kCache tensor with the same block
// table). blockTable()/cacheSeqlens() are views of fixed-capacity tensors ([maxBatch, maxBlocksPerSeq]
// and [maxBatch]) whose device copy is rewritten only where something changed, so a CUDA graph captured
// over them stays valid: call them (and reserve/append) outside the captured region, then replay.
// After dispose() every method and getter throws DisposedError (the configuration fields stay readable), so
// a stale handle fails loudly instead of reporting an empty cache or "freed" sequences.

import { HOST_MEMORY_BYTES, Tensor, type BackendName } from '../tensor.js';
import { dtypeBytes } from '../dtype.js';
import { isCapturing } from '../capture.js';
import { FP8_BYTES_PER_TOKEN, HEAD_DIM_K, HEAD_DIM_V, METADATA_ROW_INTS, PAGE_BLOCK_SIZE, ROPE_DIM } from '../mla/constants.js';
import { getMlaMetadata, type MlaMetadata } from '../mla/api.js';
import { numSmPartsFor, packMaxRequests } from '../mla/schedule.js';
import { expectPositiveInt } from '../mla/validate.js';
import { getBackend } from '../backend.js';
import { quantizeFp8Row } from './fp8.js';
import { toHalfBits } from '../dtype.js';
import { BlockAllocator } from './allocator.js';
import { appendKvUnchecked, validateAppendRows } from './append.js';
import { OutOfBlocksError, UnknownSequenceError } from './errors.js';
import { DisposedError } from '../errors.js';
import { fmtBytes, fmtValue } from '../util/fmt-value.js';
import { disposeQuietly } from '../util/dispose.js';

export interface PagedKvCacheOptions {
  /** Page blocks of 64 tokens (shared by all sequences). */
  numBlocks: number;
  backend?: BackendName;
  /** Default bf16. The dtype of the rows appended (and of q); with kvFormat 'fp8' also of the stored RoPE part. */
  dtype?: 'bf16' | 'fp16';
  /**
   * 'native' (default): rows of 576 channels in `dtype`, kCache(l) is [numBlocks, 64, 1, 576].
   * 'fp8': FlashMLA's FP8 layout (DeepSeek-V3.2), kCache(l) is uint8 [numBlocks, 64, 1, 656] and appended rows
   * are quantized (on cuda by kernels/append_kv_fp8.cu); decode with isFp8KvCache: true.
   */
  kvFormat?: 'native' | 'fp8';
  /** Layers, each with its own kCache tensor [numBlocks, 64, 1, 576]; default 1. */
  numLayers?: number;
  /** Longest sequence in tokens; sets maxBlocksPerSeq = ⌈maxSeqLen / 64⌉. Default min(numBlocks · 64, 163840). */
  maxSeqLen?: number;
  /** Rows of blockTable()/cacheSeqlens(): most sequences in one decode batch. Default 256. */
  maxBatch?: number;
  /** Initial capacity (tokens) of the device slot-mapping buffer; it grows when an append is larger. Default max(maxBatch, 4096). */
  slotCapacity?: number;
  /** Value of never-written cache rows (default 0). NaN is useful in tests. With kvFormat 'fp8': rows that quantize it. */
  fill?: number;
}

interface Sequence {
  readonly id: number;
  blocks: number[];
  len: number;
  /** Changes whenever `blocks` changes (a global counter, so never reused). */
  version: number;
}

export interface PagedKvCacheStats {
  /** Host→device writes of block-table rows (calls that wrote something). */
  blockTableWrites: number;
  /** Host→device writes of cacheSeqlens. */
  seqlenWrites: number;
  /** Blocks copied for copy-on-write. */
  cowCopies: number;
}

/**
 * Views of a fixed-capacity int32 buffer (rows(n): the first n rows; at(shape, offset)), cached per shape and offset
 * so the Tensor object is stable too. The buffer belongs to the cache: a user disposing a handed-out view retires that
 * view only; the next call makes another.
 */
class FixedBuffer {
  readonly full: Tensor;
  private views = new Map<string, Tensor>();
  constructor(shape: number[], backend: BackendName) {
    this.full = Tensor.zeros(shape, { dtype: 'int32', backend });
  }
  rows(n: number): Tensor {
    return this.at(this.full.shape.length === 2 ? [n, this.full.shape[1]] : [n], 0);
  }
  /** A contiguous view of this shape starting at element `offset`. */
  at(shape: number[], offset: number): Tensor {
    const key = `${shape.join('x')}@${offset}`;
    let v = this.views.get(key);
    if (!v || v.disposed) {
      v = this.full.view(shape, undefined, offset);
      this.views.set(key, v);
    }
    return v;
  }
  dispose(): void {
    this.full.dispose();
    this.views.clear();
  }
}

export class PagedKvCache {
  readonly backend: BackendName;
  readonly dtype: 'bf16' | 'fp16';
  readonly kvFormat: 'native' | 'fp8';
  readonly numBlocks: number;
  readonly numLayers: number;
  readonly maxBlocksPerSeq: number;
  readonly maxBatch: number;
  readonly stats: PagedKvCacheStats = { blockTableWrites: 0, seqlenWrites: 0, cowCopies: 0 };

  private readonly alloc: BlockAllocator;
  private readonly layers: Tensor[];
  private readonly layerViews: Tensor[] = [];
  private readonly seqs = new Map<number, Sequence>();
  private nextId = 0;
  private versionCounter = 0;
  // block table / seqlens: device tensors of fixed capacity + what each row holds now
  private readonly table: FixedBuffer;
  private readonly lens: FixedBuffer;
  private readonly hostTable: Int32Array;
  private readonly rowSeq: Int32Array;
  private readonly rowVersion: Float64Array;
  private readonly rowLen: Int32Array;
  private rowsValid = 0;
  private lensValid = 0;
  /**
   * metadata()'s buffers (one allocation each: [parts, 8] rows, then [maxBatch + 1] split offsets, so a step's
   * schedule goes to the device in one host→device copy) per SM-part count and request order
   * (packed or batch, the key `${parts}:packed` / `${parts}:batch`): a graph captured over one
   * order's buffers never sees the other order written there (getMlaMetadata refuses a packed schedule into metadata a
   * live graph reads in batch order), whatever batch sizes the steps and graphs use.
   */
  private readonly schedules = new Map<string, FixedBuffer>();
  // slot mapping of the last reserve()
  private slotBuf: Tensor;
  private slotView: Tensor | null = null;
  private wasDisposed = false;

  constructor(opts: PagedKvCacheOptions) {
    if (typeof opts !== 'object' || opts === null) throw new TypeError(`options: expected an object, got ${fmtValue(opts)}`);
    const backend = opts.backend ?? 'cpu';
    if (backend !== 'cpu' && backend !== 'cuda') throw new TypeError(`backend: expected 'cpu' or 'cuda', got ${fmtValue(backend)}`);
    const dtype = opts.dtype ?? 'bf16';
    if (dtype !== 'bf16' && dtype !== 'fp16') throw new TypeError(`dtype: expected 'bf16' or 'fp16', got ${fmtValue(dtype)}`);
    const kvFormat = opts.kvFormat ?? 'native';
    if (kvFormat !== 'native' && kvFormat !== 'fp8') throw new TypeError(`kvFormat: expected 'native' or 'fp8', got ${fmtValue(kvFormat)}`);
    if (kvFormat === 'fp8') getBackend(backend).checkKvFormat('fp8', 'kvFormat'); // before anything is allocated
    this.alloc = new BlockAllocator(opts.numBlocks);
    const numLayers = opts.numLayers ?? 1;
    const maxSeqLen = opts.maxSeqLen ?? Math.min(opts.numBlocks * PAGE_BLOCK_SIZE, 163840);
    const maxBatch = opts.maxBatch ?? 256;
    const slotCapacity = opts.slotCapacity ?? Math.max(maxBatch, 4096);
    for (const [name, v] of [
      ['numLayers', numLayers],
      ['maxSeqLen', maxSeqLen],
      ['maxBatch', maxBatch],
      ['slotCapacity', slotCapacity],
    ] as const) expectPositiveInt(name, v);
    this.backend = backend;
    this.dtype = dtype;
    this.kvFormat = kvFormat;
    this.numBlocks = opts.numBlocks;
    this.numLayers = numLayers;
    this.maxBlocksPerSeq = Math.ceil(maxSeqLen / PAGE_BLOCK_SIZE);
    this.maxBatch = maxBatch;
    // The layers are the bulk of the memory: say what they need (and which arguments set it) before asking
    // for more than the host has, and when an allocation fails.
    const fp8 = kvFormat === 'fp8';
    const layerShape = [this.numBlocks, PAGE_BLOCK_SIZE, 1, fp8 ? FP8_BYTES_PER_TOKEN : HEAD_DIM_K];
    const layerDtype = fp8 ? 'uint8' : dtype;
    const blockBytes = PAGE_BLOCK_SIZE * layerShape[3] * dtypeBytes(layerDtype);
    const totalBytes = this.numBlocks * numLayers * blockBytes;
    const sizeMsg =
      `numBlocks: ${this.numBlocks} page blocks × ${numLayers} layer${numLayers === 1 ? '' : 's'} need ${fmtBytes(totalBytes)} of ` +
      `${backend === 'cpu' ? 'host' : 'device'} memory for kCache (${blockBytes} bytes per block and layer)`;
    if (backend === 'cpu' && totalBytes > HOST_MEMORY_BYTES) throw new RangeError(`${sizeMsg}, more than this machine has (${fmtBytes(HOST_MEMORY_BYTES)})`);
    this.layers = [];
    const owned: { dispose(): void }[] = []; // freed again if a later allocation fails (e.g. out of memory)
    try {
      for (let l = 0; l < numLayers; l++) {
        try {
          if (fp8) this.layers.push(fp8Layer(layerShape, dtype, backend, opts.fill));
          else this.layers.push(opts.fill === undefined ? Tensor.zeros(layerShape, { dtype, backend }) : Tensor.full(layerShape, opts.fill, { dtype, backend }));
        } catch (e) {
          if (!(e instanceof Error) || e.name === 'TypeError') throw e; // a bad fill value, not a size problem
          if (e instanceof RangeError) throw new RangeError(`${sizeMsg}; allocating layer ${l} failed: ${e.message}`, { cause: e });
          e.message = `${sizeMsg}; allocating layer ${l} failed: ${e.message}`; // a CudaError keeps its class and code
          throw e;
        }
        owned.push(this.layers[l]);
      }
      const table = new FixedBuffer([maxBatch, this.maxBlocksPerSeq], backend);
      owned.push(table);
      const lens = new FixedBuffer([maxBatch], backend);
      owned.push(lens);
      this.slotBuf = Tensor.zeros([slotCapacity], { dtype: 'int32', backend });
      this.table = table;
      this.lens = lens;
    } catch (e) {
      for (const t of owned) t.dispose();
      throw e;
    }
    this.hostTable = new Int32Array(maxBatch * this.maxBlocksPerSeq);
    this.rowSeq = new Int32Array(maxBatch).fill(-1);
    this.rowVersion = new Float64Array(maxBatch).fill(-1);
    this.rowLen = new Int32Array(maxBatch);
  }

  // ------------------------------------------------------------------------------------------ tensors

  /**
   * The cache of layer `layer`: [numBlocks, 64, 1, 576] in `dtype` (kvFormat 'fp8': uint8 [numBlocks, 64, 1, 656]),
   * a view owned by the cache (disposing it retires the view, never the cache's memory; `dispose()` of the cache
   * frees that).
   */
  kCache(layer = 0): Tensor {
    this.assertLive();
    if (typeof layer !== 'number') throw new TypeError(`layer: expected an integer in [0, ${this.numLayers}), got ${fmtValue(layer)}`);
    if (!Number.isInteger(layer) || layer < 0 || layer >= this.numLayers) throw new RangeError(`layer: expected an integer in [0, ${this.numLayers}), got ${fmtValue(layer)}`);
    let v = this.layerViews[layer];
    if (!v || v.disposed) v = this.layerViews[layer] = this.layers[layer].view(this.layers[layer].shape);
    return v;
  }

  /** Longest sequence the block table can hold, in tokens. */
  get maxSeqLen(): number {
    this.assertLive();
    return this.maxBlocksPerSeq * PAGE_BLOCK_SIZE;
  }

  // ------------------------------------------------------------------------------------------ sequences

  /** A new, empty sequence; returns its id (ids are never reused). */
  addSequence(): number {
    this.assertLive();
    const id = this.nextId++;
    this.seqs.set(id, { id, blocks: [], len: 0, version: this.versionCounter++ });
    return id;
  }

  /** Ids of the live sequences, in the order they were added/forked. */
  sequences(): number[] {
    this.assertLive();
    return [...this.seqs.keys()];
  }

  get numSequences(): number {
    this.assertLive();
    return this.seqs.size;
  }

  has(seqId: number): boolean {
    this.assertLive();
    return this.seqs.has(seqId);
  }

  /** Tokens cached for a sequence. */
  seqLen(seqId: number): number {
    this.assertLive();
    return this.lookup(seqId, 'seqId').len;
  }

  /** Page blocks of a sequence, in order (a copy). */
  blocks(seqId: number): number[] {
    this.assertLive();
    return [...this.lookup(seqId, 'seqId').blocks];
  }

  /**
   * A new sequence with the same tokens as `seqId` (parallel sampling, beam search, a shared prompt).
   * Its blocks are shared, not copied; whichever of the two writes first into a shared partially
   * filled block gets a private copy of it (copy-on-write). Returns the new id.
   */
  fork(seqId: number): number {
    this.assertLive();
    const parent = this.lookup(seqId, 'seqId');
    for (const b of parent.blocks) this.alloc.retain(b);
    const id = this.nextId++;
    this.seqs.set(id, { id, blocks: [...parent.blocks], len: parent.len, version: this.versionCounter++ });
    return id;
  }

  /** Drop a sequence; blocks no other sequence holds become free for reuse. */
  free(seqId: number): void {
    this.assertLive();
    const s = this.lookup(seqId, 'seqId');
    for (const b of s.blocks) this.alloc.release(b);
    this.seqs.delete(seqId);
  }

  // ------------------------------------------------------------------------------------------ capacity

  get freeBlocks(): number {
    this.assertLive();
    return this.alloc.freeCount;
  }

  get usedBlocks(): number {
    this.assertLive();
    return this.alloc.usedCount;
  }

  /** Reference count of a page block (0 = free). */
  refCount(block: number): number {
    this.assertLive();
    return this.alloc.refCount(block);
  }

  /**
   * Tokens that can still be appended: to `seqId` alone (room in its last block, a copy-on-write copy
   * counted, and the block table's width), or without it to a new sequence.
   */
  tokensThatFit(seqId?: number): number {
    this.assertLive();
    const free = this.alloc.freeCount;
    if (seqId === undefined) return Math.min(free * PAGE_BLOCK_SIZE, this.maxSeqLen);
    const s = this.lookup(seqId, 'seqId');
    const inLast = s.len % PAGE_BLOCK_SIZE === 0 ? 0 : PAGE_BLOCK_SIZE - (s.len % PAGE_BLOCK_SIZE);
    let fit: number;
    if (inLast > 0 && this.alloc.refCount(s.blocks[s.blocks.length - 1]) > 1) fit = free >= 1 ? inLast + (free - 1) * PAGE_BLOCK_SIZE : 0;
    else fit = inLast + free * PAGE_BLOCK_SIZE;
    return Math.min(fit, this.maxSeqLen - s.len);
  }

  /** Free blocks an append of these tokens (one id per token) would take; throws like append on bad ids. */
  blocksNeeded(seqIds: ArrayLike<number>): number {
    this.assertLive();
    return this.plan(seqIds).needed;
  }

  // ------------------------------------------------------------------------------------------ appends

  /**
   * Make room for one token per entry of `seqIds` (tokens of the same sequence in order): allocate
   * blocks, copy shared partially filled blocks (copy-on-write, all layers), advance the lengths, and
   * return the slot mapping [T] (int32, on the backend; a view of a buffer that keeps its address while
   * T stays within its capacity) for appendKv(cache.kCache(l), slots, cKv, kPe) on each layer.
   * Throws OutOfBlocksError / UnknownSequenceError / RangeError before changing anything.
   * The rows stay unwritten until appendKv runs: write every layer before the next decode reads them, and
   * before any fork/reserve that could copy their block (copy-on-write copies what the block holds then).
   */
  reserve(seqIds: ArrayLike<number>): Tensor {
    this.assertLive();
    this.assertNotCapturing('reserve');
    const plan = this.plan(seqIds);
    if (plan.needed > this.alloc.freeCount) throw new OutOfBlocksError(plan.needed, this.alloc.freeCount, this.numBlocks);
    if (plan.ids.length > this.slotBuf.shape[0]) {
      // the slot buffer grows before anything changes, the larger one allocated before the old one is freed: an
      // allocation that fails leaves the cache as it was
      const bigger = Tensor.zeros([Math.max(plan.ids.length, 2 * this.slotBuf.shape[0])], { dtype: 'int32', backend: this.backend });
      try {
        getBackend(this.backend).memory?.synchronize(); // in-flight appends may read the old one (cpu: none)
      } catch (e) {
        disposeQuietly(bigger);
        throw e;
      }
      this.slotBuf.dispose();
      this.slotBuf = bigger;
      this.slotView = null;
    }
    const slots = this.commit(plan);
    return this.uploadSlots(slots);
  }

  /**
   * Append T tokens: `seqIds[t]` is the sequence of token t (several sequences and several tokens each,
   * prefill chunks and decode steps alike; a sequence's tokens in order). cKv [T, 512] and kPe [T, 64] in
   * the cache's dtype, on its backend; with numLayers > 1, arrays of one tensor per layer.
   * All checks run first: on any error nothing was written and nothing changed. Returns the slot mapping.
   */
  append(seqIds: ArrayLike<number>, cKv: Tensor | readonly Tensor[], kPe: Tensor | readonly Tensor[]): Tensor {
    this.assertLive();
    this.assertNotCapturing('append');
    const T = this.checkIds(seqIds);
    const ckvs = this.perLayer('cKv', cKv);
    const kpes = this.perLayer('kPe', kPe);
    for (let l = 0; l < this.numLayers; l++) {
      try {
        validateAppendRows(this.layers[l], ckvs[l], kpes[l], T, 'one row per entry of seqIds');
        // an FP8 cache keeps RoPE in the cache's dtype, read back as q's: rows of another dtype would be misread
        if (this.kvFormat === 'fp8' && ckvs[l].dtype !== this.dtype) throw new TypeError(`cKv: expected dtype ${this.dtype} (the dtype of the cache), got ${ckvs[l].dtype}`);
      } catch (e) {
        if (this.numLayers > 1 && e instanceof Error) e.message = `layer ${l}: ${e.message}`;
        throw e;
      }
    }
    const slots = this.reserve(seqIds);
    for (let l = 0; l < this.numLayers; l++) appendKvUnchecked(this.layers[l], slots, ckvs[l], kpes[l]);
    return slots;
  }

  // ------------------------------------------------------------------------------------------ decode inputs

  /**
   * Block table [b, maxBlocksPerSeq] int32 for the batch `seqIds` (default: every live sequence, in
   * order), rows in that order, unused entries 0. A view of a fixed [maxBatch, maxBlocksPerSeq] tensor:
   * same address every call; only rows that changed are written (outside graph capture).
   */
  blockTable(seqIds?: ArrayLike<number>): Tensor {
    this.assertLive();
    const seqs = this.batch(seqIds, 'seqIds');
    const mbps = this.maxBlocksPerSeq;
    let lo = -1;
    let hi = -1;
    for (let i = 0; i < seqs.length; i++) {
      const s = seqs[i];
      if (i < this.rowsValid && this.rowSeq[i] === s.id && this.rowVersion[i] === s.version) continue;
      const row = this.hostTable.subarray(i * mbps, (i + 1) * mbps);
      row.fill(0);
      for (let j = 0; j < s.blocks.length; j++) row[j] = s.blocks[j];
      this.rowSeq[i] = s.id;
      this.rowVersion[i] = s.version;
      if (lo < 0) lo = i;
      hi = i + 1;
    }
    this.rowsValid = Math.max(this.rowsValid, seqs.length);
    if (lo >= 0) {
      try {
        this.assertNotCapturing('blockTable');
        this.table.full.view([hi - lo, mbps], undefined, lo * mbps).write(this.hostTable.subarray(lo * mbps, hi * mbps));
      } catch (e) {
        this.rowSeq.fill(-1, lo, hi); // not written: the next call must write these rows, not take them as current
        throw e;
      }
      this.stats.blockTableWrites++;
    }
    return this.table.rows(seqs.length);
  }

  /** cacheSeqlens [b] int32 for the batch `seqIds` (default: every live sequence), a view of a fixed [maxBatch] tensor. */
  cacheSeqlens(seqIds?: ArrayLike<number>): Tensor {
    this.assertLive();
    const seqs = this.batch(seqIds, 'seqIds');
    let changed = seqs.length > this.lensValid;
    for (let i = 0; i < seqs.length && !changed; i++) changed = this.rowLen[i] !== seqs[i].len;
    if (changed) {
      this.assertNotCapturing('cacheSeqlens');
      for (let i = 0; i < seqs.length; i++) this.rowLen[i] = seqs[i].len;
      try {
        this.lens.rows(seqs.length).write(this.rowLen.subarray(0, seqs.length));
      } catch (e) {
        this.lensValid = 0; // not written: the next call must write the lengths, not take them as current
        throw e;
      }
      this.lensValid = seqs.length;
      this.stats.seqlenWrites++;
    }
    return this.lens.rows(seqs.length);
  }

  /**
   * The tile schedule of one decoding step for the batch `seqIds` (default: every live sequence) — what
   * `getMlaMetadata(cache.cacheSeqlens(seqIds), numHeadsPerHeadK, numHeadsK, { packOrder })` returns, with the
   * packOrder below — made on the host from the lengths the cache keeps there. On 'cuda' no metadata kernel runs and
   * nothing is read back: the schedule (the same bit for bit) is written into fixed device buffers of the cache, at the
   * same addresses every call for a given SM-part count and order, so a graph captured over them stays valid.
   * `packOrder` as getMlaMetadata's, but **on by default wherever the rule can pack a batch of this size** (2 ≤ b ≤
   * packMaxRequests(parts): 3 per SM part, at most 256, none over more than 224 parts; parts from the device's SMs and
   * the head counts): the packing then costs host time (b 128 of mixed lengths: ~55 µs on an H100 machine's CPU,
   * once per step), and a variable-length batch's attention calls are 0.2–4.7 % faster (the sweep's var rows on an
   * H100). The default depends on the shapes alone, so every step of a captured graph asks for the same order; a graph
   * captured with the packed order runs kernels that read either order, which costs ~0.3–0.8 % on steps the rule does
   * not pack (equal lengths). The two orders have buffers of their own, so graphs of several batch sizes over one
   * cache never write one order where a graph reads the other. Pass false for getMlaMetadata's default, the batch
   * order (FlashMLA's schedule). The tensors belong to the cache, as blockTable()'s do; call it before captureGraph()
   * and replay, never inside.
   */
  metadata(seqIds: ArrayLike<number> | undefined, numHeadsPerHeadK: number, numHeadsK = 1, opts: { packOrder?: boolean } = {}): MlaMetadata {
    this.assertLive();
    const seqs = this.batch(seqIds, 'seqIds');
    expectPositiveInt('numHeadsPerHeadK', numHeadsPerHeadK);
    expectPositiveInt('numHeadsK', numHeadsK);
    if (typeof opts !== 'object' || opts === null) throw new TypeError(`options: expected an object, got ${fmtValue(opts)}`);
    if (opts.packOrder !== undefined && typeof opts.packOrder !== 'boolean') throw new TypeError(`packOrder: expected a boolean, got ${fmtValue(opts.packOrder)}`);
    this.assertNotCapturing('metadata');
    const parts = numSmPartsFor(getBackend(this.backend).smCount(), numHeadsPerHeadK, numHeadsK);
    const packOrder = opts.packOrder ?? (seqs.length >= 2 && seqs.length <= packMaxRequests(parts));
    const key = `${parts}:${packOrder ? 'packed' : 'batch'}`;
    let bufs = this.schedules.get(key);
    if (!bufs) {
      // one allocation, numSplits right after the rows: getMlaMetadata writes both with one host→device copy
      bufs = new FixedBuffer([parts * METADATA_ROW_INTS + this.maxBatch + 1], this.backend);
      this.schedules.set(key, bufs);
    }
    const lens = Tensor.from(Int32Array.from(seqs, (s) => s.len), [seqs.length], { dtype: 'int32', backend: 'cpu' });
    try {
      const out = { tileSchedulerMetadata: bufs.at([parts, METADATA_ROW_INTS], 0), numSplits: bufs.at([seqs.length + 1], parts * METADATA_ROW_INTS) };
      return getMlaMetadata(lens, numHeadsPerHeadK, numHeadsK, { out, packOrder });
    } finally {
      lens.dispose();
    }
  }

  // ------------------------------------------------------------------------------------------ checks

  /** Throws unless the allocator and the sequences agree (counts = holders, lengths fit the blocks). */
  checkInvariants(): void {
    this.assertLive();
    const holders = new Map<number, number>();
    for (const s of this.seqs.values()) {
      if (s.blocks.length !== Math.ceil(s.len / PAGE_BLOCK_SIZE)) {
        throw new Error(`sequence ${s.id}: ${s.blocks.length} blocks for ${s.len} tokens (expected ${Math.ceil(s.len / PAGE_BLOCK_SIZE)})`);
      }
      if (s.blocks.length > this.maxBlocksPerSeq) throw new Error(`sequence ${s.id}: ${s.blocks.length} blocks > maxBlocksPerSeq ${this.maxBlocksPerSeq}`);
      const seen = new Set<number>();
      for (const b of s.blocks) {
        if (seen.has(b)) throw new Error(`sequence ${s.id}: block ${b} appears twice`);
        seen.add(b);
        holders.set(b, (holders.get(b) ?? 0) + 1);
      }
    }
    this.alloc.checkInvariants(holders);
  }

  /** True after dispose(); from then on every method and getter throws DisposedError. */
  get disposed(): boolean {
    return this.wasDisposed;
  }

  dispose(): void {
    if (this.wasDisposed) return;
    this.wasDisposed = true;
    getBackend(this.backend).memory?.synchronize(); // device work queued on the layers (cpu: none)
    for (const t of this.layers) t.dispose();
    this.table.dispose();
    this.lens.dispose();
    for (const bufs of this.schedules.values()) bufs.dispose();
    this.schedules.clear();
    this.slotBuf.dispose();
    this.seqs.clear();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  // ------------------------------------------------------------------------------------------ internals

  private assertLive(): void {
    if (this.wasDisposed) throw new DisposedError('PagedKvCache');
  }

  private assertNotCapturing(what: string): void {
    if (isCapturing()) {
      throw new Error(
        `${what}: the cache would write host data to the device while a CUDA graph is being captured; ` +
          'call reserve()/append()/blockTable()/cacheSeqlens()/metadata() before captureGraph() and replay after them',
      );
    }
  }

  private lookup(seqId: unknown, arg: string): Sequence {
    const s = typeof seqId === 'number' ? this.seqs.get(seqId) : undefined;
    if (s) return s;
    if (typeof seqId !== 'number' || !Number.isInteger(seqId) || seqId < 0) throw new UnknownSequenceError(arg, seqId, 'not an id');
    throw new UnknownSequenceError(arg, seqId, seqId < this.nextId ? 'freed' : 'unknown');
  }

  private checkIds(seqIds: ArrayLike<number>): number {
    if (seqIds === null || typeof seqIds !== 'object' || typeof seqIds.length !== 'number') {
      throw new TypeError(`seqIds: expected an array of sequence ids (one per token), got ${fmtValue(seqIds)}`);
    }
    for (let i = 0; i < seqIds.length; i++) this.lookup(seqIds[i], `seqIds[${i}]`);
    return seqIds.length;
  }

  private batch(seqIds: ArrayLike<number> | undefined, arg: string): Sequence[] {
    const ids = seqIds === undefined ? this.sequences() : seqIds;
    if (seqIds !== undefined) this.checkIds(seqIds);
    if (ids.length < 1) throw new RangeError(`${arg}: expected at least one sequence, got none`);
    if (ids.length > this.maxBatch) throw new RangeError(`${arg}: expected at most maxBatch = ${this.maxBatch} sequences, got ${ids.length}`);
    const out: Sequence[] = new Array(ids.length);
    const seen = new Set<number>();
    for (let i = 0; i < ids.length; i++) {
      if (seen.has(ids[i])) throw new RangeError(`${arg}[${i}]: sequence ${ids[i]} appears twice in the batch`);
      seen.add(ids[i]);
      out[i] = this.lookup(ids[i], `${arg}[${i}]`);
    }
    return out;
  }

  private perLayer(name: string, v: Tensor | readonly Tensor[]): readonly Tensor[] {
    if (Array.isArray(v)) {
      if (v.length !== this.numLayers) throw new RangeError(`${name}: expected ${this.numLayers} tensor${this.numLayers === 1 ? '' : 's'} (one per layer), got ${v.length}`);
      return v;
    }
    if (this.numLayers !== 1) throw new TypeError(`${name}: expected an array of ${this.numLayers} tensors (one per layer), got a single tensor`);
    return [v as Tensor];
  }

  /** What an append needs, without changing anything. */
  private plan(seqIds: ArrayLike<number>): { ids: ArrayLike<number>; counts: Map<Sequence, number>; needed: number } {
    this.checkIds(seqIds);
    const counts = new Map<Sequence, number>();
    for (let i = 0; i < seqIds.length; i++) {
      const s = this.seqs.get(seqIds[i])!;
      counts.set(s, (counts.get(s) ?? 0) + 1);
    }
    let needed = 0;
    const simRefs = new Map<number, number>();
    for (const [s, n] of counts) {
      const newLen = s.len + n;
      if (newLen > this.maxSeqLen) {
        throw new RangeError(
          `seqIds: sequence ${s.id} would grow to ${newLen} tokens, more than the block table holds (maxBlocksPerSeq ${this.maxBlocksPerSeq} × ${PAGE_BLOCK_SIZE} = ${this.maxSeqLen})`,
        );
      }
      needed += Math.ceil(newLen / PAGE_BLOCK_SIZE) - s.blocks.length;
      if (s.len % PAGE_BLOCK_SIZE !== 0) {
        const last = s.blocks[s.blocks.length - 1];
        const r = simRefs.get(last) ?? this.alloc.refCount(last);
        if (r > 1) {
          needed++;
          simRefs.set(last, r - 1);
        }
      }
    }
    return { ids: seqIds, counts, needed };
  }

  /** Apply a plan: copy-on-write, new blocks, lengths; returns the slots on the host. */
  private commit(plan: { ids: ArrayLike<number>; counts: Map<Sequence, number> }): Int32Array {
    const start = new Map<Sequence, number>();
    for (const [s, n] of plan.counts) {
      start.set(s, s.len);
      const inLast = s.len % PAGE_BLOCK_SIZE;
      if (inLast !== 0) {
        const j = s.blocks.length - 1;
        const old = s.blocks[j];
        if (this.alloc.refCount(old) > 1) {
          const fresh = this.alloc.allocate();
          try {
            this.copyRows(old, fresh, inLast);
          } catch (e) {
            this.alloc.release(fresh); // the copy failed: the sequence keeps its shared block
            throw e;
          }
          this.alloc.release(old);
          s.blocks[j] = fresh;
          s.version = this.versionCounter++;
          this.stats.cowCopies++;
        }
      }
      const want = Math.ceil((s.len + n) / PAGE_BLOCK_SIZE);
      if (want > s.blocks.length) {
        s.blocks.push(...this.alloc.allocateMany(want - s.blocks.length));
        s.version = this.versionCounter++;
      }
      s.len += n;
    }
    const slots = new Int32Array(plan.ids.length);
    for (let i = 0; i < plan.ids.length; i++) {
      const s = this.seqs.get(plan.ids[i])!;
      const p = start.get(s)!;
      start.set(s, p + 1);
      slots[i] = s.blocks[Math.floor(p / PAGE_BLOCK_SIZE)] * PAGE_BLOCK_SIZE + (p % PAGE_BLOCK_SIZE);
    }
    return slots;
  }

  /** Copy the first `rows` token rows of block `from` into block `to`, in every layer. */
  private copyRows(from: number, to: number, rows: number): void {
    for (const t of this.layers) {
      const rowElems = t.shape[3];
      const blockElems = PAGE_BLOCK_SIZE * rowElems;
      if (this.backend === 'cpu') {
        t.data.copyWithin(to * blockElems, from * blockElems, from * blockElems + rows * rowElems);
      } else {
        const bytes = dtypeBytes(t.dtype);
        getBackend(this.backend).memory!.copy(t.ptr + BigInt(to * blockElems * bytes), t.ptr + BigInt(from * blockElems * bytes), rows * rowElems * bytes);
      }
    }
  }

  private uploadSlots(slots: Int32Array): Tensor {
    const T = slots.length;
    if (!this.slotView || this.slotView.shape[0] !== T) this.slotView = this.slotBuf.view([T]);
    if (T > 0) this.slotView.write(slots);
    return this.slotView;
  }
}

/** An FP8 layer: zero bytes, or every row the quantization of a row of `fill` (NaN → NaN scales, codes and RoPE). */
function fp8Layer(shape: number[], dtype: 'bf16' | 'fp16', backend: BackendName, fill: number | undefined): Tensor {
  if (fill !== undefined && typeof fill !== 'number') throw new TypeError(`fill: expected a number, got ${fmtValue(fill)}`);
  const t = Tensor.zeros(shape, { dtype: 'uint8', backend });
  if (fill === undefined) return t;
  const row = new Uint8Array(FP8_BYTES_PER_TOKEN);
  quantizeFp8Row(new Float64Array(HEAD_DIM_V).fill(fill), 0, new Uint16Array(ROPE_DIM).fill(toHalfBits(dtype, fill)), 0, row, 0);
  const all = new Uint8Array(t.numel);
  for (let o = 0; o < all.length; o += FP8_BYTES_PER_TOKEN) all.set(row, o);
  return t.write(all);
}
