// The Hopper sparse FP8 kernel's cases (mla_decode_sm90_fp8_sparse_bf16: sparse decode, bf16 q, any h_q: each query
// token's heads padded to whole m-blocks of 64), shared by the kernel emulator (test/kernel-emulation.test.ts, 'hopper-sparse') and the GPU suite
// (test/fp8-sparse-gpu.test.ts): one sparse decode on the cuda backend against the cpu float64 oracle under FlashMLA's
// sparse tolerances. Only the oracle: the portable sparse kernel accumulates in another order, so no bit-for-bit
// comparison with it. Every case: −1, other negative and out-of-range indices, NaN in every cache slot no counted index
// names (and in the spare row of each page), NaN-filled outputs, q through a NaN-padded view.

import assert from 'node:assert/strict';
import { Tensor, flashMlaWithKvcache, getMlaMetadata } from '../../src/index.js';
import { checkSparseRows, makeSparseProblem, nanPaddedQ, nanPaddedSparseCache, sparseTensors, type SparseSpec } from './layouts.js';

export interface SparseHopperCase {
  label: string;
  spec: Omit<SparseSpec, 'seed'>;
  /** The cache through a padded view (rows 672 B apart, pages of pageSize + 1 rows, 48 B into a 0xff buffer). */
  padded?: boolean;
  /** Some request must be split over SM parts (the combine runs, with its sink variant when the case has sinks). */
  split?: boolean;
}

/**
 * The emulator's cases (small: it runs every thread of every CTA on the host, under the race detector): h_q 64 and
 * 128, and h_q 16 and 100 (padded m-blocks: 48 and 28 padding heads per token), s_q 1 and 2, topk 64 / 300 (not a multiple of 64) / 576, pages of 64, 61 and 2 tokens, duplicates, all-invalid
 * rows, topkLength (request 0: 0, request 1: topk, the rest random), sinks with ±inf entries, padded cache views, split
 * requests, several items per SM part. Values of magnitude 0.5: peakier softmax rows, so a misplaced P or V element shows.
 */
export const SPARSE_HOPPER_CASES: SparseHopperCase[] = [
  {
    label: 'h_q 64, s_q 1, topk 64, 64-token pages, topkLength, sinks, an all-invalid row',
    spec: { b: 3, sQ: 1, hQ: 64, topk: 64, pageSize: 64, numPages: 6, dtype: 'bf16', topkLength: true, sink: true, allInvalid: [[2, 0]], scale: 0.5 },
  },
  {
    label: 'h_q 128, s_q 2, topk 300 (not a multiple of 64), 61-token pages, duplicates, sinks, padded view',
    spec: { b: 2, sQ: 2, hQ: 128, topk: 300, pageSize: 61, numPages: 14, dtype: 'bf16', duplicates: true, invalidFraction: 0.3, sink: true, scale: 0.5 },
    padded: true,
  },
  {
    label: 'h_q 64, s_q 2, topk 576, 2-token pages, topkLength, sinks, split requests',
    spec: { b: 3, sQ: 2, hQ: 64, topk: 576, pageSize: 2, numPages: 1000, dtype: 'bf16', topkLength: true, sink: true, scale: 0.5 },
    split: true,
  },
  {
    label: 'h_q 128, s_q 1, topk 64, mostly invalid, sinks ±inf, all-invalid rows, padded view',
    spec: { b: 3, sQ: 1, hQ: 128, topk: 64, pageSize: 64, numPages: 3, dtype: 'bf16', invalidFraction: 0.8, sink: true, allInvalid: [[0, 0]], scale: 0.5 },
    padded: true,
  },
  {
    label: 'h_q 64, s_q 2, topk 576, 61-token pages, no topkLength, no sinks, split requests, padded view',
    spec: { b: 1, sQ: 2, hQ: 64, topk: 576, pageSize: 61, numPages: 20, dtype: 'bf16', duplicates: true, scale: 0.5 },
    padded: true,
    split: true,
  },
  {
    label: 'h_q 64, s_q 1, topk 130, 16-token pages, many short items per SM part (the next item prefetched), topkLength, sinks, duplicates',
    spec: { b: 10, sQ: 1, hQ: 64, topk: 130, pageSize: 16, numPages: 100, dtype: 'bf16', topkLength: true, sink: true, duplicates: true, scale: 0.5 },
  },
  {
    label: 'h_q 16 (48 padding heads per m-block), s_q 2, topk 300, 61-token pages, topkLength, sinks, duplicates, padded view',
    spec: { b: 2, sQ: 2, hQ: 16, topk: 300, pageSize: 61, numPages: 14, dtype: 'bf16', topkLength: true, sink: true, duplicates: true, scale: 0.5 },
    padded: true,
  },
  {
    label: "h_q 100 (two m-blocks per token, the second 36 real heads), s_q 2, topk 130, 16-token pages, sinks, an all-invalid row",
    spec: { b: 2, sQ: 2, hQ: 100, topk: 130, pageSize: 16, numPages: 40, dtype: 'bf16', sink: true, allInvalid: [[1, 1]], scale: 0.5 },
  },
];

/**
 * The small-row kernel's sparse entry's cases (mla_decode_sm90_small_fp8_sparse_bf16, `kernel: 'hopper-small'`: 16
 * heads of one query token per CTA, each warpgroup gathering its blocks): h_q 16, 3 and 1, s_q 1 and 2, topk 64 / 300 /
 * 576 / 130, pages of 64, 61 and 16 tokens, invalid and duplicate indices, all-invalid rows, topkLength, sinks with
 * ±inf, split requests, padded cache views, many short items per SM part (warpgroups without a block in an item).
 */
export const SMALL_SPARSE_CASES: SparseHopperCase[] = [
  {
    label: 'h_q 16, s_q 2, topk 300 (not a multiple of 64), 61-token pages, topkLength, sinks, duplicates, padded view',
    spec: { b: 2, sQ: 2, hQ: 16, topk: 300, pageSize: 61, numPages: 14, dtype: 'bf16', topkLength: true, sink: true, duplicates: true, scale: 0.5 },
    padded: true,
  },
  {
    label: 'h_q 3, s_q 1, topk 64, 64-token pages, half invalid, sinks ±inf, an all-invalid row',
    spec: { b: 3, sQ: 1, hQ: 3, topk: 64, pageSize: 64, numPages: 4, dtype: 'bf16', invalidFraction: 0.5, sink: true, allInvalid: [[1, 0]], scale: 0.5 },
  },
  {
    label: 'h_q 1, s_q 2, topk 576, 61-token pages, topkLength, sinks, split requests, padded view',
    spec: { b: 2, sQ: 2, hQ: 1, topk: 576, pageSize: 61, numPages: 20, dtype: 'bf16', topkLength: true, sink: true, invalidFraction: 0.2, scale: 0.5 },
    padded: true,
    split: true,
  },
  {
    label: 'h_q 16, s_q 1, topk 576, 64-token pages, duplicates, no sinks, split requests',
    spec: { b: 1, sQ: 1, hQ: 16, topk: 576, pageSize: 64, numPages: 12, dtype: 'bf16', duplicates: true, scale: 0.5 },
    split: true,
  },
  {
    label: 'h_q 16, s_q 2, topk 130, 16-token pages, many short items per SM part, topkLength, sinks, an all-invalid row',
    spec: { b: 8, sQ: 2, hQ: 16, topk: 130, pageSize: 16, numPages: 80, dtype: 'bf16', topkLength: true, sink: true, allInvalid: [[3, 1]], scale: 0.5 },
  },
];

/**
 * The small-row sparse entry's cases with h_q 17–32: two CTAs of 16 heads per query token — SMALL_SPARSE_CASES' first
 * at h_q 32, and h_q 20 (the second group with 4 real heads).
 */
export const SMALL_SPARSE_HEAD_GROUP_CASES: SparseHopperCase[] = [
  {
    ...SMALL_SPARSE_CASES[0],
    label: SMALL_SPARSE_CASES[0].label.replace('h_q 16', 'h_q 32').replace(' (not a multiple of 64)', ''),
    spec: { ...SMALL_SPARSE_CASES[0].spec, hQ: 32 },
  },
  {
    label: 'h_q 20, s_q 2, topk 576, 64-token pages, half invalid, sinks, split requests, an all-invalid row',
    spec: { b: 2, sQ: 2, hQ: 20, topk: 576, pageSize: 64, numPages: 12, dtype: 'bf16', invalidFraction: 0.5, sink: true, allInvalid: [[1, 1]], scale: 0.5 },
    split: true,
  },
];

/**
 * The 32-column sparse entry's cases (EXPERIMENT, session 29: FLASH_MLA_EXPERIMENT_SPARSE_R32=1, 17–32 heads of a query
 * token in one CTA): SMALL_SPARSE_CASES with their heads raised to 32, 17 and 24 in turn (all-padding-free, 15 and 8
 * padding columns), and the head-group cases.
 */
export const SMALL_SPARSE_R32_CASES: SparseHopperCase[] = [
  ...SMALL_SPARSE_CASES.map((c, k) => {
    const hQ = [32, 17, 24][k % 3];
    return { ...c, label: `${c.label.replace(/h_q \d+/, `h_q ${hQ}`)}`, spec: { ...c.spec, hQ } };
  }),
  ...SMALL_SPARSE_HEAD_GROUP_CASES,
];

/** What a case ran: the note for the test's diagnostics, whether a request was split, rows that attend nothing. */
export interface SparseHopperResult {
  note: string;
  split: boolean;
  emptyRows: number;
}

/**
 * One sparse decode of `c` on cuda (kernel `kernel`, default: the backend's choice) against the cpu oracle on the same
 * schedule shape; throws an AssertionError naming the case and seed. The softmax scale is not the default one (576^-0.55).
 */
export function runSparseHopperCase(c: SparseHopperCase, seed: number, kernel?: string): SparseHopperResult {
  const { spec } = c;
  const p = makeSparseProblem({ ...spec, seed });
  const cpu = sparseTensors(p);
  const kCache = c.padded ? nanPaddedSparseCache(p, 'cuda') : Tensor.from(p.kBytes, [p.kBytes.length], { dtype: 'uint8', backend: 'cuda' }).view(cpu.kCache.shape, cpu.kCache.strides);
  const q = nanPaddedQ({ spec: { ...spec, d: 576 }, qBits: p.qBits }, 'cuda');
  const gpu = { indices: cpu.indices.to('cuda'), topkLength: cpu.topkLength?.to('cuda') ?? null, attnSink: cpu.attnSink?.to('cuda') ?? null };
  const rows = spec.sQ * spec.hQ;
  const md = getMlaMetadata(null, rows, 1, { topk: spec.topk, batchSize: spec.b, backend: 'cuda' });
  const parts = md.tileSchedulerMetadata.shape[0];
  const mdH = getMlaMetadata(null, rows, 1, { topk: spec.topk, batchSize: spec.b, smCount: parts * Math.ceil(rows / 64) });
  const softmaxScale = 576 ** -0.55;
  const outs = { out: Tensor.full([spec.b, spec.sQ, spec.hQ, 512], NaN, { dtype: spec.dtype, backend: 'cuda' }), lse: Tensor.full([spec.b, spec.hQ, spec.sQ], NaN, { dtype: 'fp32', backend: 'cuda' }) };
  const got = flashMlaWithKvcache(q, kCache, null, null, 512, md.tileSchedulerMetadata, md.numSplits, {
    isFp8KvCache: true, indices: gpu.indices, topkLength: gpu.topkLength, attnSink: gpu.attnSink, softmaxScale, kernel, ...outs,
  });
  const want = flashMlaWithKvcache(cpu.q, cpu.kCache, null, null, 512, mdH.tileSchedulerMetadata, mdH.numSplits, {
    isFp8KvCache: true, indices: cpu.indices, topkLength: cpu.topkLength, attnSink: cpu.attnSink, softmaxScale,
  });
  const label = `sparse ${c.label} (b ${spec.b})${kernel ? `, kernel ${kernel}` : ''}`;
  checkSparseRows(label, got, want, seed);
  const splits = md.numSplits.toInt32();
  const most = Math.max(...Array.from({ length: spec.b }, (_, i) => splits[i + 1] - splits[i]));
  if (c.split) assert.ok(most > 1, `${label}: expected a request split over SM parts, the schedule has none (${parts} parts)`);
  const lse = want.lse.toFloat32();
  const emptyRows = lse.filter((x) => x === Infinity).length;
  if (spec.allInvalid || spec.topkLength) assert.ok(emptyRows > 0, `${label}: the case has rows that attend nothing`);
  for (const t of [kCache, q, gpu.indices, gpu.topkLength, gpu.attnSink, md.tileSchedulerMetadata, md.numSplits, outs.out, outs.lse]) t?.dispose();
  return {
    note: `${label}: matches the oracle (${parts} SM parts, up to ${most} splits per request; ${emptyRows} of ${lse.length} rows attend nothing)`,
    split: most > 1,
    emptyRows,
  };
}
