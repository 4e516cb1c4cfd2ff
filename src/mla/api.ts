// The MLA decode API, backend-agnostic, with FlashMLA 9edee0c's semantics, plus the decode features of its
// later versions (an FP8 cache, sparse top-k decode, h_kv ≥ 1 and d_qk 512):
//   const { tileSchedulerMetadata, numSplits } = getMlaMetadata(cacheSeqlens, sQ * hQ / hKv, hKv);
//   const { out, lse } = flashMlaWithKvcache(q, kCache, blockTable, cacheSeqlens, 512, tileSchedulerMetadata, numSplits, { causal: true });
// sparse:
//   const md = getMlaMetadata(null, sQ * hQ, 1, { topk, batchSize: b });
//   flashMlaWithKvcache(q, fp8Cache, null, null, 512, md.tileSchedulerMetadata, md.numSplits, { isFp8KvCache: true, indices, attnSink });

import { getBackend } from '../backend.js';
import { Tensor, readInt32s, type BackendName } from '../tensor.js';
import { graphsAlive, isCapturing } from '../capture.js';
import { HEAD_DIM_V, METADATA_ROW_INTS } from './constants.js';
import { PACK_PIECE_COST_BLOCKS, isPackedSchedule, numSmPartsFor, packMayFire, packPieceCostBlocks, scheduleTiles, sparseScheduleTiles, type TileSchedule } from './schedule.js';
import { fmtValue, quote } from '../util/fmt-value.js';
import { disposeQuietly } from '../util/dispose.js';
import {
  expectContiguous, expectDtype, expectPositiveInt, expectRank, expectTensor, fmtShape, validateBlockTableValues, validateDecode, validateSeqlenValues, validateSoftmaxScale,
  validateTopkLengthValues,
} from './validate.js';

export interface MlaMetadata {
  /** [numSmParts, 8] int32: one row of work per SM part (see src/mla/schedule.ts). */
  tileSchedulerMetadata: Tensor;
  /** [b + 1] int32: exclusive prefix sum of splits per request. */
  numSplits: Tensor;
}

export interface MlaMetadataOptions {
  /** SMs to schedule for. cuda: the device's count; cpu: 132 (an H100 SXM) unless given. */
  smCount?: number;
  /** Write into these tensors instead of allocating (e.g. inside a captured graph). */
  out?: MlaMetadata;
  /** Check that no seqlen is negative (reads cuda tensors back; default: on, off inside a graph capture). */
  checkValues?: boolean;
  /**
   * Sparse decode: indices per query token (indices.shape[2]). The schedule then treats every request as topk
   * tokens long (cacheSeqlens' values are not read; it may be null) and depends on shapes only, so one metadata
   * serves every step of the same batch size.
   */
  topk?: number;
  /** Sparse decode with cacheSeqlens null: the number of requests b. */
  batchSize?: number;
  /**
   * Where the metadata lives (default: cacheSeqlens' backend; `out`'s when given). With cacheSeqlens on 'cpu' it may
   * be 'cuda': the host computes the schedule from the host lengths (no device kernel, nothing read back) and writes it
   * to the device — for servers that know their lengths (PagedKvCache.metadata does this); not inside a graph capture.
   * Sparse decode with cacheSeqlens null: default 'cpu'.
   */
  backend?: BackendName;
  /**
   * Dense decode: walk a variable-length batch in a packed request order (scheduleTiles' fifth rule) when that makes the
   * longest SM part cheaper. The 9edee0c walk cuts a request at almost every part boundary; in the packed order far
   * fewer requests are split, so fewer rows go through the combine: each decode call 1–4 % faster on the sweep's
   * variable-length rows (H100, session 57), while this call takes longer (the metadata kernel packs eight candidate
   * payloads: ~50 µs more for 128 requests over 132 parts). Worth it when one metadata serves many layers (a step of
   * DeepSeek-V3: 61). Default: off (FLASH_MLA_EXPERIMENT_PACK=<a split item's cost> turns it on everywhere).
   */
  packOrder?: boolean;
}

/**
 * The dense schedule the value check last expected for a metadata tensor, with the seqlens, parts and split-item cost
 * it was computed for (scheduleTiles is a pure function of them). The layers of a decoding step share one metadata
 * tensor and one cacheSeqlens, so the check computes the schedule once per step instead of once per call (b 128:
 * 4–9 µs of host time, 45–50 µs with the packed order; twice that before session 59's scheduleTiles).
 */
const checkedSchedules = new WeakMap<Tensor, { lens: Int32Array; numSmParts: number; packCost: number; schedule: TileSchedule }>();

/** The dense schedule for these seqlens (the value check's), reusing the one last computed for this metadata tensor. */
function expectedDenseSchedule(metadata: Tensor, lens: Int32Array, numSmParts: number, packCost: number): TileSchedule {
  const memo = checkedSchedules.get(metadata);
  if (memo && memo.numSmParts === numSmParts && memo.packCost === packCost && memo.lens.length === lens.length && memo.lens.every((x, i) => x === lens[i])) {
    return memo.schedule;
  }
  const schedule = scheduleTiles(lens, numSmParts, undefined, true, undefined, undefined, packCost);
  checkedSchedules.set(metadata, { lens, numSmParts, packCost, schedule });
  return schedule;
}

/**
 * The device addresses of metadata that a live graph's dense decode reads through batch-order entries (captured over
 * metadata made without the packed order): those entries take positions as requests, so a packed schedule written
 * there later would be read wrong. getMlaMetadata refuses that; forgotten once no graph is alive.
 */
const batchOrderCaptured = new Set<bigint>();

/** What a metadata tensor was computed for, so a decode with another q shape is caught. */
const provenance = new WeakMap<Tensor, { numHeadsPerHeadK: number; numHeadsK: number; b: number; topk: number | null; packCost: number; mayPack: boolean }>();

/**
 * Write a host-made schedule into its tensors: as one write (on a device, one host→device copy) where numSplits
 * directly follows tileSchedulerMetadata in one allocation (PagedKvCache.metadata's buffers), else one each. Each small
 * pageable copy costs the host ~6 µs and the GPU's stream ~1 µs (session 64, H100), so one copy instead of two is
 * what a step's host-made schedule can save.
 */
function writeSchedule(md: MlaMetadata, metadata: Int32Array, numSplits: Int32Array): void {
  const m = md.tileSchedulerMetadata;
  const n = md.numSplits;
  if (m.sharesStorageWith(n) && n.offset === m.offset + m.numel) {
    const both = new Int32Array(metadata.length + numSplits.length);
    both.set(metadata);
    both.set(numSplits, metadata.length);
    m.view([both.length], undefined, m.offset).write(both);
    return;
  }
  m.write(metadata);
  n.write(numSplits);
}

/** The fifth rule's split-item cost for a getMlaMetadata call: its packOrder option, else the experiment's setting. */
function packCostOf(packOrder: unknown): number {
  if (packOrder === undefined) return packPieceCostBlocks();
  if (typeof packOrder !== 'boolean') throw new TypeError(`packOrder: expected a boolean, got ${fmtValue(packOrder)}`);
  return packOrder ? packPieceCostBlocks() || PACK_PIECE_COST_BLOCKS : 0;
}

/**
 * Tile schedule for one decoding step (reuse it for every layer of that step).
 * @param cacheSeqlens int32 [b] KV length per request, on the backend that will run the decode — or on 'cpu' with
 *   { backend: 'cuda' } (or `out` on the device): the host then makes the schedule and writes it there. For sparse
 *   decode ({ topk }) its values are not used and it may be null (then pass { batchSize, backend }).
 * @param numHeadsPerHeadK s_q · h_q / h_kv (folded query rows per KV head). Passing h_q alone when
 *   s_q > 1 under-sizes the schedule; flashMlaWithKvcache rejects that mismatch.
 * @param numHeadsK h_kv (1 for MLA; query heads are grouped per KV head as in GQA when larger).
 */
export function getMlaMetadata(cacheSeqlens: Tensor | null, numHeadsPerHeadK: number, numHeadsK: number, opts: MlaMetadataOptions = {}): MlaMetadata {
  const topk = opts.topk === undefined ? null : expectPositiveInt('topk', opts.topk);
  let b: number;
  let where: BackendName;
  if (cacheSeqlens === null && topk !== null) {
    b = expectPositiveInt('batchSize', opts.batchSize);
    where = opts.out?.tileSchedulerMetadata instanceof Tensor ? opts.out.tileSchedulerMetadata.backend : opts.backend ?? 'cpu';
    if (where !== 'cpu' && where !== 'cuda') throw new TypeError(`backend: expected 'cpu' or 'cuda', got ${fmtValue(where)}`);
  } else {
    if (cacheSeqlens === null) throw new TypeError('cacheSeqlens: expected a Tensor (null only for sparse decode, with { topk, batchSize }), got null');
    expectTensor('cacheSeqlens', cacheSeqlens);
    expectDtype('cacheSeqlens', cacheSeqlens, ['int32']);
    expectRank('cacheSeqlens', cacheSeqlens, 1, '[b]');
    expectContiguous('cacheSeqlens', cacheSeqlens);
    b = cacheSeqlens.shape[0];
    // (host lengths may make metadata for another backend: the schedule is computed here and written there)
    const outWhere = opts.out?.tileSchedulerMetadata instanceof Tensor ? opts.out.tileSchedulerMetadata.backend : undefined;
    if (opts.backend !== undefined && opts.backend !== 'cpu' && opts.backend !== 'cuda') throw new TypeError(`backend: expected 'cpu' or 'cuda', got ${fmtValue(opts.backend)}`);
    if (cacheSeqlens.backend !== 'cpu') {
      // device lengths: the metadata is made there (only host lengths may serve another backend)
      const other = '(the backend of cacheSeqlens; metadata for another backend is made from cacheSeqlens on \'cpu\')';
      if (opts.backend !== undefined && opts.backend !== cacheSeqlens.backend) throw new TypeError(`backend: expected '${cacheSeqlens.backend}' ${other} or nothing, got ${fmtValue(opts.backend)}`);
      if (outWhere !== undefined && outWhere !== cacheSeqlens.backend) throw new TypeError(`out.tileSchedulerMetadata: expected a tensor on '${cacheSeqlens.backend}' ${other}, got '${outWhere}'`);
    }
    where = outWhere ?? opts.backend ?? cacheSeqlens.backend;
    if (opts.backend !== undefined && opts.backend !== where) {
      throw new TypeError(`backend: expected '${where}' (the backend of out.tileSchedulerMetadata) or nothing, got ${fmtValue(opts.backend)}`);
    }
    if (opts.batchSize !== undefined && opts.batchSize !== b) {
      throw new RangeError(`batchSize: expected ${b} (the length of cacheSeqlens) or nothing, got ${fmtValue(opts.batchSize)}`);
    }
  }
  expectPositiveInt('numHeadsPerHeadK', numHeadsPerHeadK);
  expectPositiveInt('numHeadsK', numHeadsK);
  if (b < 1) throw new RangeError(`cacheSeqlens: expected b ≥ 1 requests, got shape ${fmtShape(cacheSeqlens!.shape)}`);
  let lens: Int32Array | null = null;  // (read back only to check them)
  if (topk === null && cacheSeqlens && (cacheSeqlens.backend === 'cpu' || (opts.checkValues ?? !isCapturing()))) {
    lens = cacheSeqlens.toInt32();
    const bad = lens.findIndex((x) => x < 0);
    if (bad >= 0) throw new RangeError(`cacheSeqlens[${bad}]: expected ≥ 0, got ${lens[bad]}`);
  }
  const backend = getBackend(where);
  const smCount = opts.smCount === undefined ? backend.smCount() : expectPositiveInt('smCount', opts.smCount);
  const numSmParts = numSmPartsFor(smCount, numHeadsPerHeadK, numHeadsK);
  if (topk !== null && opts.packOrder === true) throw new RangeError('packOrder: expected false or nothing for sparse decode (topk given: its schedule is 9edee0c\'s walk), got true');
  const packCost = topk === null ? packCostOf(opts.packOrder) : 0;
  // schedules the host writes cannot be captured: refused before anything is allocated or any record touched
  if (isCapturing()) {
    if (topk !== null) throw sparseCaptureError();
    if (where !== cacheSeqlens!.backend) throw hostCaptureError();
  }
  let md: MlaMetadata;
  if (opts.out) {
    const { tileSchedulerMetadata: m, numSplits: n } = opts.out;
    expectTensor('out.tileSchedulerMetadata', m);
    expectTensor('out.numSplits', n);
    for (const [name, t, shape] of [
      ['out.tileSchedulerMetadata', m, [numSmParts, METADATA_ROW_INTS]],
      ['out.numSplits', n, [b + 1]],
    ] as const) {
      expectDtype(name, t, ['int32']);
      expectContiguous(name, t);
      if (t.backend !== where) throw new TypeError(`${name}: expected a tensor on '${where}', got '${t.backend}'`);
      if (t.shape.join() !== shape.join()) throw new RangeError(`${name}: expected shape ${fmtShape(shape)}, got ${fmtShape(t.shape)}`);
    }
    md = opts.out;
    if (!graphsAlive()) batchOrderCaptured.clear();
    if (packCost > 0 && where === 'cuda' && batchOrderCaptured.has(md.tileSchedulerMetadata.ptr)) {
      throw new RangeError(
        'packOrder: expected false for this out.tileSchedulerMetadata: a live CUDA graph decodes through it with kernels that read a schedule in batch order only (it was captured over metadata made without packOrder); capture with packOrder on, or write the packed schedule into other tensors',
      );
    }
  } else {
    const tileSchedulerMetadata = Tensor.empty([numSmParts, METADATA_ROW_INTS], { dtype: 'int32', backend: where });
    let numSplits: Tensor;
    try {
      numSplits = Tensor.empty([b + 1], { dtype: 'int32', backend: where });
    } catch (e) {
      disposeQuietly(tileSchedulerMetadata); // out of memory for the second: the first must not leak
      throw e;
    }
    md = { tileSchedulerMetadata, numSplits };
  }
  let hostSchedule: TileSchedule | null = null;
  try {
    if (topk !== null) {
      // sparse: every request costs topk tokens; the schedule depends on shapes only, so the host computes it
      const { metadata, numSplits: ns } = sparseScheduleTiles(b, topk, numSmParts);
      writeSchedule(md, metadata, ns);
    } else if (where !== cacheSeqlens!.backend) {
      // host lengths for a device decode: the cpu scheduler (the device kernel's schedule bit for bit), written there
      hostSchedule = scheduleTiles(lens!, numSmParts, undefined, true, undefined, undefined, packCost);
      writeSchedule(md, hostSchedule.metadata, hostSchedule.numSplits);
    } else {
      backend.mlaMetadata(cacheSeqlens!, md.tileSchedulerMetadata, md.numSplits, packCost);
    }
  } catch (e) {
    if (md !== opts.out) disposeQuietly(md.tileSchedulerMetadata, md.numSplits);
    else (provenance.delete(md.tileSchedulerMetadata), checkedSchedules.delete(md.tileSchedulerMetadata)); // (half written: no record)
    throw e;
  }
  // (mayPack: the decode runs 'hopper''s table-reading entries only where the rule can have fired — known when the
  // seqlens were read, exactly when the host made the schedule; the others are the code from before the table)
  const mayPack = hostSchedule ? isPackedSchedule(hostSchedule.metadata) : packCost > 0 && (lens === null || packMayFire(lens, numSmParts));
  provenance.set(md.tileSchedulerMetadata, { numHeadsPerHeadK, numHeadsK, b, topk, packCost, mayPack });
  // (the decode's value check then finds the schedule it would compute for these lengths)
  if (hostSchedule) checkedSchedules.set(md.tileSchedulerMetadata, { lens: lens!, numSmParts, packCost, schedule: hostSchedule });
  return md;
}

function hostCaptureError(): Error {
  return new Error("getMlaMetadata: metadata from cacheSeqlens on 'cpu' is written from the host; call it before captureGraph() and replay after it (or pass cacheSeqlens on the device to compute it inside the graph)");
}

function sparseCaptureError(): Error {
  return new Error('getMlaMetadata: sparse metadata ({ topk }) is written from the host; compute it once before captureGraph() (it depends on shapes only) and reuse it');
}

export interface FlashMlaOptions {
  /** Default 1/√d_qk (1/√576). */
  softmaxScale?: number;
  /** Bottom-right causal mask for s_q > 1: query i sees keys < seqlen − s_q + 1 + i. Dense decode only. */
  causal?: boolean;
  /** Preallocated outputs: out [b, s_q, h_q, 512] in q's dtype, lse fp32 [b, h_q, s_q]. */
  out?: Tensor;
  lse?: Tensor;
  /** cuda: decode kernel to use (see `decodeKernels()`); default: the best for the device. */
  kernel?: string;
  /**
   * Check cacheSeqlens/blockTable (or topkLength) values, and the metadata against the schedule of these
   * seqlens, before launching.
   * Always on for cpu tensors. For cuda tensors it reads them back (a small device→host copy and a stream
   * sync per call), so it defaults to on outside graph capture and off inside; pass false in hot loops.
   */
  checkValues?: boolean;
  /** kCache is the FP8 layout: uint8 [numBlocks, 64, 1, 656] (pages of any size for sparse decode). */
  isFp8KvCache?: boolean;
  /**
   * Sparse decode: int32 [b, s_q, topk], indices[i][s][k] = page · pageSize + row of a token query token s of
   * request i attends; −1 (any negative) and indices ≥ numPages · pageSize attend nothing. Needs isFp8KvCache,
   * blockTable and cacheSeqlens null, causal false, metadata from getMlaMetadata(…, { topk }).
   */
  indices?: Tensor | null;
  /** Sparse decode: int32 [b], only the first topkLength[i] ∈ [0, topk] indices of request i count. */
  topkLength?: Tensor | null;
  /** Sparse decode: fp32 [h_q]; out ← out / (1 + exp(sink − lse)), lse returned unchanged (+inf sink → out 0). */
  attnSink?: Tensor | null;
}

export interface FlashMlaResult {
  /** [b, s_q, h_q, 512], q's dtype. */
  out: Tensor;
  /** [b, h_q, s_q] fp32, natural-log sum of exp of the scaled logits; +inf for a row that sees no key. */
  lse: Tensor;
}

/**
 * MLA decode. Dense: every query attends the first cacheSeqlens[i] tokens of its request through the block
 * table (causal mask optional for s_q > 1); the cache is bf16/fp16 [numBlocks, 64, h_kv, d_qk] or the FP8 layout
 * (isFp8KvCache). Sparse (indices): every query token attends the tokens its indices name in an FP8 cache.
 */
export function flashMlaWithKvcache(
  q: Tensor,
  kCache: Tensor,
  blockTable: Tensor | null,
  cacheSeqlens: Tensor | null,
  headDimV: number,
  tileSchedulerMetadata: Tensor,
  numSplits: Tensor,
  opts: FlashMlaOptions = {},
): FlashMlaResult {
  const dims = validateDecode(q, kCache, blockTable, cacheSeqlens, headDimV, tileSchedulerMetadata, numSplits, opts);
  const softmaxScale = opts.softmaxScale === undefined ? 1 / Math.sqrt(dims.headDim) : validateSoftmaxScale(opts.softmaxScale);
  if (opts.causal !== undefined && typeof opts.causal !== 'boolean') throw new TypeError(`causal: expected a boolean, got ${fmtValue(opts.causal)}`);
  if (dims.sparse && opts.causal === true) throw new RangeError('causal: expected false for sparse decode (indices given: no causal mask), got true');
  const causal = opts.causal === true && dims.sQ > 1; // one query token: causal changes nothing
  const foldedRows = dims.sQ * dims.hQ / dims.hKv;
  const made = provenance.get(tileSchedulerMetadata);
  if (made) {
    if (made.numHeadsPerHeadK !== foldedRows || made.numHeadsK !== dims.hKv) {
      const got = made.numHeadsK === dims.hKv ? `numHeadsPerHeadK = ${made.numHeadsPerHeadK}` : `numHeadsPerHeadK = ${made.numHeadsPerHeadK}, numHeadsK = ${made.numHeadsK}`;
      throw new RangeError(
        `tileSchedulerMetadata: computed for ${got}, but q has s_q · h_q / h_kv = ${dims.sQ} · ${dims.hQ} / ${dims.hKv} = ${foldedRows}; ` +
          `call getMlaMetadata(${dims.sparse ? 'null' : 'cacheSeqlens'}, ${foldedRows}, ${dims.hKv}${dims.sparse ? `, { topk: ${dims.topk}, batchSize: ${dims.b} }` : ''})`,
      );
    }
    if (made.b !== dims.b) throw new RangeError(`tileSchedulerMetadata: computed for b = ${made.b} requests, q has b = ${dims.b}`);
    if (dims.sparse && made.topk !== dims.topk) {
      throw new RangeError(
        made.topk === null
          ? `tileSchedulerMetadata: computed for dense decode (from cacheSeqlens), but this call is sparse (indices); call getMlaMetadata(null, ${foldedRows}, ${dims.hKv}, { topk: ${dims.topk}, batchSize: ${dims.b} })`
          : `tileSchedulerMetadata: computed for topk = ${made.topk}, but indices has topk = ${dims.topk} (dim 2)`,
      );
    }
    if (!dims.sparse && made.topk !== null) {
      throw new RangeError(`tileSchedulerMetadata: computed for sparse decode (topk = ${made.topk}), but this call is dense (no indices); call getMlaMetadata(cacheSeqlens, ${foldedRows}, ${dims.hKv})`);
    }
  }
  const backend = getBackend(q.backend);
  // what this backend cannot run is refused before anything is read back or allocated (typed: a kernel name that
  // cannot run this layout is an UnsupportedFeatureError, an unknown name a RangeError below)
  const features = {
    dtype: q.dtype as 'bf16' | 'fp16', hQ: dims.hQ, sQ: dims.sQ, hKv: dims.hKv, headDim: dims.headDim, pageSize: dims.pageSize, fp8: dims.fp8, sparse: dims.sparse,
    topk: dims.topk, topkLength: opts.topkLength instanceof Tensor, attnSink: opts.attnSink instanceof Tensor, kernel: opts.kernel,
  };
  backend.checkDecode(features);
  if (opts.kernel !== undefined && !backend.decodeKernels(features).includes(opts.kernel)) {
    throw new RangeError(`kernel: expected one of ${backend.decodeKernels(features).join(', ')} on '${q.backend}', got ${typeof opts.kernel === 'string' ? quote(opts.kernel) : fmtValue(opts.kernel)}`);
  }
  const checkValues = q.backend === 'cpu' || (opts.checkValues ?? !isCapturing());
  // whether the metadata may hold a packed order (the decode kernels' entries that read the table): as getMlaMetadata
  // was asked, or as read below; unknown (metadata made elsewhere, values not read): may
  // (inside a capture the graph replays whatever schedule the buffers hold then — another step's may be packed where
  // this one is not: wherever getMlaMetadata was asked for the rule, the captured entry must read the order table)
  let packedOrder = !dims.sparse && (made ? (isCapturing() ? made.packCost > 0 : made.mayPack) : true);
  if (checkValues) {
    // (all read back after one wait for the device: each read would wait again, though nothing is queued in between)
    const [seqlenValues, tableValues, topkLengthValues, got, splits] = readInt32s([
      dims.sparse ? null : cacheSeqlens,
      dims.sparse ? null : blockTable,
      dims.sparse ? (opts.topkLength ?? null) : null,
      tileSchedulerMetadata,
      numSplits,
    ]) as [Int32Array | null, Int32Array | null, Int32Array | null, Int32Array, Int32Array];
    let lens: Int32Array;
    if (dims.sparse) {
      if (topkLengthValues) validateTopkLengthValues(topkLengthValues, dims.topk);
      lens = new Int32Array(dims.b).fill(dims.topk);
    } else {
      lens = seqlenValues!;
      validateSeqlenValues(lens, dims.maxBlocksPerSeq);
      validateBlockTableValues(tableValues!, dims.maxBlocksPerSeq, lens, dims.numBlocks);
    }
    // A schedule made for other seqlens leaves outputs unwritten: it must be exactly the one for these.
    // (dense: the packed order where getMlaMetadata asked for it; for metadata from elsewhere, either order's schedule)
    const packed = isPackedSchedule(got);
    const packCost = made ? made.packCost : packed ? packPieceCostBlocks() || PACK_PIECE_COST_BLOCKS : 0;
    if (!dims.sparse) packedOrder = packed;
    const expected = dims.sparse ? sparseScheduleTiles(dims.b, dims.topk, dims.numSmParts) : expectedDenseSchedule(tileSchedulerMetadata, lens, dims.numSmParts, packCost);
    if (got.some((x, i) => x !== expected.metadata[i]) || splits.some((x, i) => x !== expected.numSplits[i])) {
      throw new RangeError(
        dims.sparse
          ? `tileSchedulerMetadata: does not match a sparse schedule of b = ${dims.b} requests of topk = ${dims.topk}; call getMlaMetadata(null, ${foldedRows}, ${dims.hKv}, { topk: ${dims.topk}, batchSize: ${dims.b} })`
          : 'tileSchedulerMetadata: does not match cacheSeqlens (was it computed before cacheSeqlens changed?); call getMlaMetadata again for these seqlens',
      );
    }
  }
  const outShape = [dims.b, dims.sQ, dims.hQ, HEAD_DIM_V];
  const lseShape = [dims.b, dims.hQ, dims.sQ];
  for (const [name, t, shape, dtype] of [
    ['out', opts.out, outShape, q.dtype],
    ['lse', opts.lse, lseShape, 'fp32'],
  ] as const) {
    if (t === undefined) continue;
    expectTensor(name, t);
    if (t.backend !== q.backend) throw new TypeError(`${name}: expected a tensor on '${q.backend}', got '${t.backend}'`);
    if (t.dtype !== dtype) throw new TypeError(`${name}: expected dtype ${dtype}, got ${t.dtype}`);
    if (t.shape.join() !== shape.join()) throw new RangeError(`${name}: expected shape ${fmtShape(shape)}, got ${fmtShape(t.shape)}`);
    expectContiguous(name, t);
    backend.checkLayout(name, t, 'vectorStore');
  }
  const out = opts.out ?? Tensor.empty(outShape, { dtype: q.dtype, backend: q.backend });
  let lse: Tensor;
  try {
    lse = opts.lse ?? Tensor.empty(lseShape, { dtype: 'fp32', backend: q.backend });
  } catch (e) {
    if (out !== opts.out) disposeQuietly(out); // out of memory for lse: out must not leak
    throw e;
  }
  try {
    backend.mlaDecode({
      q, kCache, blockTable: dims.sparse ? null : blockTable, cacheSeqlens: dims.sparse ? null : cacheSeqlens, tileSchedulerMetadata, numSplits, out, lse, softmaxScale, causal,
      kernel: opts.kernel, isFp8KvCache: dims.fp8, indices: opts.indices ?? null, topkLength: opts.topkLength ?? null, attnSink: opts.attnSink ?? null, packedOrder,
    });
  } catch (e) {
    // nothing of ours leaks when a launch is refused; a failing free (a sticky error) does not hide the first error
    disposeQuietly(out !== opts.out ? out : null, lse !== opts.lse ? lse : null);
    throw e;
  }
  // (a captured batch-order decode: no packed schedule may be written into its metadata while the graph lives)
  if (!packedOrder && !dims.sparse && q.backend === 'cuda' && isCapturing()) batchOrderCaptured.add(tileSchedulerMetadata.ptr);
  return { out, lse };
}
