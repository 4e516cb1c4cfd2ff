// The MLA decode API, backend-agnostic, with FlashMLA 9edee0c's semantics:
//   const { tileSchedulerMetadata, numSplits } = getMlaMetadata(cacheSeqlens, sQ * hQ / hKv, hKv);
//   const { out, lse } = flashMlaWithKvcache(q, kCache, blockTable, cacheSeqlens, 512, tileSchedulerMetadata, numSplits, { causal: true });

import { getBackend } from '../backend.js';
import { Tensor } from '../tensor.js';
import { isCapturing } from '../graph.js';
import { HEAD_DIM_K, HEAD_DIM_V, METADATA_ROW_INTS } from './constants.js';
import { numSmPartsFor, scheduleTiles } from './schedule.js';
import { fmtValue, quote } from '../util/fmt-value.js';
import {
  expectContiguous, expectDtype, expectRank, expectTensor, fmtShape, validateBlockTableValues, validateDecode, validateSeqlenValues, validateSoftmaxScale,
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
}

/** What a metadata tensor was computed for, so a decode with another q shape is caught. */
const provenance = new WeakMap<Tensor, { numHeadsPerHeadK: number; numHeadsK: number; b: number }>();

function expectPositiveInt(name: string, v: unknown): number {
  if (typeof v !== 'number') throw new TypeError(`${name}: expected an integer ≥ 1, got ${fmtValue(v)}`);
  if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`${name}: expected an integer ≥ 1, got ${fmtValue(v)}`);
  return v;
}

/**
 * Tile schedule for one decoding step (reuse it for every layer of that step).
 * @param cacheSeqlens int32 [b] KV length per request, on the backend that will run the decode.
 * @param numHeadsPerHeadK s_q · h_q / h_kv (folded query rows per KV head). Passing h_q alone when
 *   s_q > 1 under-sizes the schedule; flashMlaWithKvcache rejects that mismatch.
 * @param numHeadsK h_kv (1 for MLA).
 */
export function getMlaMetadata(cacheSeqlens: Tensor, numHeadsPerHeadK: number, numHeadsK: number, opts: MlaMetadataOptions = {}): MlaMetadata {
  expectTensor('cacheSeqlens', cacheSeqlens);
  expectDtype('cacheSeqlens', cacheSeqlens, ['int32']);
  expectRank('cacheSeqlens', cacheSeqlens, 1, '[b]');
  expectContiguous('cacheSeqlens', cacheSeqlens);
  expectPositiveInt('numHeadsPerHeadK', numHeadsPerHeadK);
  expectPositiveInt('numHeadsK', numHeadsK);
  if (numHeadsK !== 1) throw new RangeError(`numHeadsK: expected 1 (MLA has one KV head), got ${numHeadsK}`);
  const b = cacheSeqlens.shape[0];
  if (b < 1) throw new RangeError(`cacheSeqlens: expected b ≥ 1 requests, got shape ${fmtShape(cacheSeqlens.shape)}`);
  if (cacheSeqlens.backend === 'cpu' || (opts.checkValues ?? !isCapturing())) {
    const lens = cacheSeqlens.toInt32();
    const bad = lens.findIndex((x) => x < 0);
    if (bad >= 0) throw new RangeError(`cacheSeqlens[${bad}]: expected ≥ 0, got ${lens[bad]}`);
  }
  const backend = getBackend(cacheSeqlens.backend);
  const smCount = opts.smCount === undefined ? backend.smCount() : expectPositiveInt('smCount', opts.smCount);
  const numSmParts = numSmPartsFor(smCount, numHeadsPerHeadK, numHeadsK);
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
      if (t.backend !== cacheSeqlens.backend) throw new TypeError(`${name}: expected a tensor on '${cacheSeqlens.backend}', got '${t.backend}'`);
      if (t.shape.join() !== shape.join()) throw new RangeError(`${name}: expected shape ${fmtShape(shape)}, got ${fmtShape(t.shape)}`);
    }
    md = opts.out;
  } else {
    md = {
      tileSchedulerMetadata: Tensor.empty([numSmParts, METADATA_ROW_INTS], { dtype: 'int32', backend: cacheSeqlens.backend }),
      numSplits: Tensor.empty([b + 1], { dtype: 'int32', backend: cacheSeqlens.backend }),
    };
  }
  try {
    backend.mlaMetadata(cacheSeqlens, md.tileSchedulerMetadata, md.numSplits);
  } catch (e) {
    if (md !== opts.out) {
      md.tileSchedulerMetadata.dispose();
      md.numSplits.dispose();
    }
    throw e;
  }
  provenance.set(md.tileSchedulerMetadata, { numHeadsPerHeadK, numHeadsK, b });
  return md;
}

export interface FlashMlaOptions {
  /** Default 1/√576. */
  softmaxScale?: number;
  /** Bottom-right causal mask for s_q > 1: query i sees keys < seqlen − s_q + 1 + i. */
  causal?: boolean;
  /** Preallocated outputs: out [b, s_q, h_q, 512] in q's dtype, lse fp32 [b, h_q, s_q]. */
  out?: Tensor;
  lse?: Tensor;
  /** cuda: decode kernel to use (see `decodeKernels()`); default: the best for the device. */
  kernel?: string;
  /**
   * Check cacheSeqlens/blockTable values against the block table's capacity, and the metadata against the
   * schedule of these seqlens, before launching.
   * Always on for cpu tensors. For cuda tensors it reads them back (a small device→host copy and a stream
   * sync per call), so it defaults to on outside graph capture and off inside; pass false in hot loops.
   */
  checkValues?: boolean;
}

export interface FlashMlaResult {
  /** [b, s_q, h_q, 512], q's dtype. */
  out: Tensor;
  /** [b, h_q, s_q] fp32, natural-log sum of exp of the scaled logits; +inf for a row that sees no key. */
  lse: Tensor;
}

export function flashMlaWithKvcache(
  q: Tensor,
  kCache: Tensor,
  blockTable: Tensor,
  cacheSeqlens: Tensor,
  headDimV: number,
  tileSchedulerMetadata: Tensor,
  numSplits: Tensor,
  opts: FlashMlaOptions = {},
): FlashMlaResult {
  const dims = validateDecode(q, kCache, blockTable, cacheSeqlens, headDimV, tileSchedulerMetadata, numSplits);
  const softmaxScale = opts.softmaxScale === undefined ? 1 / Math.sqrt(HEAD_DIM_K) : validateSoftmaxScale(opts.softmaxScale);
  if (opts.causal !== undefined && typeof opts.causal !== 'boolean') throw new TypeError(`causal: expected a boolean, got ${fmtValue(opts.causal)}`);
  const causal = opts.causal === true && dims.sQ > 1; // one query token: causal changes nothing
  const foldedRows = dims.sQ * dims.hQ / dims.hKv;
  const made = provenance.get(tileSchedulerMetadata);
  if (made) {
    if (made.numHeadsPerHeadK !== foldedRows) {
      throw new RangeError(
        `tileSchedulerMetadata: computed for numHeadsPerHeadK = ${made.numHeadsPerHeadK}, but q has s_q · h_q / h_kv = ${dims.sQ} · ${dims.hQ} / ${dims.hKv} = ${foldedRows}; ` +
          `call getMlaMetadata(cacheSeqlens, ${foldedRows}, ${dims.hKv})`,
      );
    }
    if (made.b !== dims.b) throw new RangeError(`tileSchedulerMetadata: computed for b = ${made.b} requests, q has b = ${dims.b}`);
  }
  const backend = getBackend(q.backend);
  const checkValues = q.backend === 'cpu' || (opts.checkValues ?? !isCapturing());
  if (checkValues) {
    const seqlens = cacheSeqlens.toInt32();
    validateSeqlenValues(seqlens, dims.maxBlocksPerSeq);
    const table = blockTable.toInt32();
    validateBlockTableValues(table, dims.maxBlocksPerSeq, seqlens, dims.numBlocks);
    // A schedule made for other seqlens leaves outputs unwritten: it must be exactly the one for these.
    const expected = scheduleTiles(seqlens, dims.numSmParts);
    const got = tileSchedulerMetadata.toInt32();
    const splits = numSplits.toInt32();
    if (got.some((x, i) => x !== expected.metadata[i]) || splits.some((x, i) => x !== expected.numSplits[i])) {
      throw new RangeError(
        'tileSchedulerMetadata: does not match cacheSeqlens (was it computed before cacheSeqlens changed?); call getMlaMetadata again for these seqlens',
      );
    }
  }
  if (opts.kernel !== undefined && !backend.decodeKernels().includes(opts.kernel)) {
    throw new RangeError(`kernel: expected one of ${backend.decodeKernels().join(', ')} on '${q.backend}', got ${typeof opts.kernel === 'string' ? quote(opts.kernel) : fmtValue(opts.kernel)}`);
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
    // the kernels store out rows with 4- to 8-byte vectors: a misaligned view would fault (a sticky error)
    if (q.backend === 'cuda' && (t.offset * (t.dtype === 'fp32' ? 4 : 2)) % 16 !== 0) {
      throw new RangeError(`${name}: expected a 16-byte aligned start, got an offset of ${t.offset * (t.dtype === 'fp32' ? 4 : 2)} B`);
    }
  }
  const out = opts.out ?? Tensor.empty(outShape, { dtype: q.dtype, backend: q.backend });
  const lse = opts.lse ?? Tensor.empty(lseShape, { dtype: 'fp32', backend: q.backend });
  try {
    backend.mlaDecode({ q, kCache, blockTable, cacheSeqlens, tileSchedulerMetadata, numSplits, out, lse, softmaxScale, causal, kernel: opts.kernel });
  } catch (e) {
    if (out !== opts.out) out.dispose(); // nothing of ours leaks when a launch is refused
    if (lse !== opts.lse) lse.dispose();
    throw e;
  }
  return { out, lse };
}
