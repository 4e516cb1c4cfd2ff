// TypeScript mirror of kernels/mla_params.h (MlaDecodeParams). Offsets in bytes; the layout test compares
// the total with the parameter size the cubin declares (cuFuncGetParamInfo) and with nvcc's offsetof.

import type { MlaDecodeArgs } from '../backend.js';
import { HEAD_DIM_V } from '../mla/constants.js';
import { MLA_CONFIG } from './config.js';

export const MLA_DECODE_PARAMS_BYTES = 168;

export const MLA_DECODE_PARAMS_LAYOUT = {
  q: 0,
  k_cache: 8,
  block_table: 16,
  cache_seqlens: 24,
  tile_scheduler_metadata: 32,
  num_splits: 40,
  out: 48,
  lse: 56,
  o_accum: 64,
  lse_accum: 72,
  split_arrivals: 80,
  q_batch_stride: 88,
  q_seq_stride: 96,
  q_head_stride: 104,
  k_block_stride: 112,
  k_row_stride: 120,
  b: 128,
  s_q: 132,
  h_q: 136,
  q_rows: 140,
  num_sm_parts: 144,
  block_table_stride: 148,
  max_blocks_per_seq: 152,
  causal: 156,
  scale_softmax: 160,
  scale_softmax_log2: 164,
} as const;

export type MlaDecodeParamsValues = { [K in keyof typeof MLA_DECODE_PARAMS_LAYOUT]: bigint | number };

const I64 = new Set(['q_batch_stride', 'q_seq_stride', 'q_head_stride', 'k_block_stride', 'k_row_stride']);
const F32 = new Set(['scale_softmax', 'scale_softmax_log2']);
/** Each field's name, offset and kind, worked out once (encoding runs at every launch). */
const FIELDS = Object.entries(MLA_DECODE_PARAMS_LAYOUT).map(([name, off]) => ({
  name: name as keyof MlaDecodeParamsValues,
  off,
  kind: off < MLA_DECODE_PARAMS_LAYOUT.q_batch_stride ? 'ptr' : I64.has(name) ? 'i64' : F32.has(name) ? 'f32' : 'i32',
}));

/** Encode into `buf` (MLA_DECODE_PARAMS_BYTES long, reused between launches). */
export function encodeMlaDecodeParams(v: MlaDecodeParamsValues, buf: Uint8Array = new Uint8Array(MLA_DECODE_PARAMS_BYTES)): Uint8Array {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (const { name, off, kind } of FIELDS) {
    const x = v[name];
    if (kind === 'ptr') dv.setBigUint64(off, x as bigint, true);
    else if (kind === 'i64') dv.setBigInt64(off, BigInt(x), true);
    else if (kind === 'f32') dv.setFloat32(off, x as number, true);
    else dv.setInt32(off, x as number, true);
  }
  return buf;
}

/**
 * The split workspace the decode kernels write and the combine reads: o_accum [(b + numSmParts) · q_rows, 512] fp32
 * ('hopper''s dense entries use 1152 of each row's 2048 bytes: PARTIAL16_ROW_ELEMS scaled fp16 values and factors),
 * then lse_accum [(b + numSmParts) · q_rows] fp32 (+ 256 B of slack). Returns its size and lse_accum's offset.
 */
export function splitWorkspace(b: number, numSmParts: number, qRows: number): { bytes: number; lseOffset: number } {
  const accRows = (b + numSmParts) * qRows;
  const lseOffset = accRows * HEAD_DIM_V * 4;
  return { bytes: lseOffset + accRows * 4 + 256, lseOffset };
}

/**
 * EXPERIMENT (a measurement of the 16-bit split partials' accuracy, session 47): FLASH_MLA_EXPERIMENT_PARTIALS=fp32
 * launches the fp32 combine after 'hopper''s 16-bit and FP8 entries, for a cubin built with
 * -DMLA_EXPERIMENT_FP32_PARTIALS (kernels/mla_decode_sm90.cu), whose split rows are fp32 again. Read at the first decode.
 */
let hopperHalfPartialsValue: boolean | undefined;
export function hopperHalfPartials(): boolean {
  if (hopperHalfPartialsValue === undefined) {
    const v = process.env.FLASH_MLA_EXPERIMENT_PARTIALS ?? '';
    if (v !== '' && v !== 'fp32') throw new RangeError(`FLASH_MLA_EXPERIMENT_PARTIALS: expected 'fp32', got '${v}'`);
    hopperHalfPartialsValue = v !== 'fp32';
  }
  return hopperHalfPartialsValue;
}

/**
 * EXPERIMENT (timing bounds only, outputs wrong; read at the first decode): FLASH_MLA_EXPERIMENT_LAUNCH=empty
 * launches every decode and combine kernel as usual but with b = 0 in their parameters (every CTA returns after
 * reading its metadata row or split count: the call's fixed cost); =nocombine launches no combine kernel
 * (src/cuda/mla.ts, and fp8-decode.ts for the FP8 and sparse decodes: the combine's share of a call).
 */
let launchExperimentValue: '' | 'empty' | 'nocombine' | undefined;
export function launchExperiment(): '' | 'empty' | 'nocombine' {
  if (launchExperimentValue === undefined) {
    const v = process.env.FLASH_MLA_EXPERIMENT_LAUNCH ?? '';
    if (v !== '' && v !== 'empty' && v !== 'nocombine') throw new RangeError(`FLASH_MLA_EXPERIMENT_LAUNCH: expected 'empty' or 'nocombine', got '${v}'`);
    launchExperimentValue = v;
  }
  return launchExperimentValue;
}

/** The dynamic shared memory of a combine launch of `chunks` column chunks: C = 4 stages its batches (COMBINE_C4_SMEM_BYTES). */
export function combineStageBytes(chunks: number): number {
  return chunks === 4 ? MLA_CONFIG.COMBINE_C4_SMEM_BYTES : 0;
}

/**
 * MlaDecodeParams of a validated decode with its split workspace at `workspace` (splitWorkspace()). Sparse decode
 * (blockTable and cacheSeqlens null) gets null pointers and zero sizes for them; an FP8 cache's strides are bytes.
 * `splitArrivals`: the split fold's zeroed counters ([b] uint32; kernels/mla_fold_combine.cuh), 0n when the combine
 * kernel merges the splits.
 */
export function decodeParamsOf(a: MlaDecodeArgs, workspace: bigint, buf: Uint8Array, splitArrivals = 0n): Uint8Array {
  const [bArg, sQ, hQ] = a.q.shape;
  const b = launchExperiment() === 'empty' ? 0 : bArg;
  const numSmParts = a.tileSchedulerMetadata.shape[0];
  return encodeMlaDecodeParams(
    {
      q: a.q.ptr,
      k_cache: a.kCache.ptr,
      block_table: a.blockTable?.ptr ?? 0n,
      cache_seqlens: a.cacheSeqlens?.ptr ?? 0n,
      tile_scheduler_metadata: a.tileSchedulerMetadata.ptr,
      num_splits: a.numSplits.ptr,
      out: a.out.ptr,
      lse: a.lse.ptr,
      o_accum: workspace,
      lse_accum: workspace + BigInt(splitWorkspace(bArg, numSmParts, sQ * hQ).lseOffset),
      split_arrivals: splitArrivals,
      q_batch_stride: a.q.strides[0],
      q_seq_stride: a.q.strides[1],
      q_head_stride: a.q.strides[2],
      k_block_stride: a.kCache.strides[0],
      k_row_stride: a.kCache.strides[1],
      b,
      s_q: sQ,
      h_q: hQ,
      q_rows: sQ * hQ,
      num_sm_parts: numSmParts,
      block_table_stride: a.blockTable?.strides[0] ?? 0,
      max_blocks_per_seq: a.blockTable?.shape[1] ?? 0,
      causal: a.causal ? 1 : 0,
      scale_softmax: a.softmaxScale,
      scale_softmax_log2: a.softmaxScale * Math.LOG2E,
    },
    buf,
  );
}

// TypeScript mirrors of kernels/mla_fp8_params.h and of MlaLayoutParams (kernels/mla_params.h). Each field: byte offset and type; the layout test compares the
// offsets with the host compiler's offsetof and the sizes with what the cubins declare (cuFuncGetParamInfo).

type FieldType = 'ptr' | 'i64' | 'i32';

export interface StructLayout {
  readonly bytes: number;
  readonly fields: Readonly<Record<string, readonly [offset: number, type: FieldType]>>;
}

/** AppendKvFp8Params (kernels/append_kv_fp8.cu). */
export const APPEND_KV_FP8_PARAMS = {
  bytes: 112,
  fields: {
    ckv: [0, 'ptr'],
    kpe: [8, 'ptr'],
    k_cache: [16, 'ptr'],
    slot_mapping: [24, 'ptr'],
    block_table: [32, 'ptr'],
    seqlens: [40, 'ptr'],
    ckv_stride: [48, 'i64'],
    kpe_stride: [56, 'i64'],
    page_stride: [64, 'i64'],
    row_stride: [72, 'i64'],
    num_slots: [80, 'i64'],
    page_size: [88, 'i32'],
    table_stride: [92, 'i32'],
    max_blocks_per_seq: [96, 'i32'],
    tokens_per_seq: [100, 'i32'],
    num_tokens: [104, 'i32'],
    pad_: [108, 'i32'],
  },
} as const satisfies StructLayout;

/** MlaFp8Params: the FP8 decode's second kernel parameter (kernels/mla_decode_fp8.cu, mla_combine_sink_*). */
export const MLA_FP8_PARAMS = {
  bytes: 64,
  fields: {
    indices: [0, 'ptr'],
    topk_length: [8, 'ptr'],
    attn_sink: [16, 'ptr'],
    indices_batch_stride: [24, 'i64'],
    indices_seq_stride: [32, 'i64'],
    num_slots: [40, 'i64'],
    topk: [48, 'i32'],
    page_size: [52, 'i32'],
    head_blocks: [56, 'i32'],
    pad_: [60, 'i32'],
  },
} as const satisfies StructLayout;

/**
 * MlaLayoutParams (kernels/mla_params.h): the second kernel parameter of the decode for h_kv > 1 and d_qk 512
 * (kernels/mla_decode_generic_layout.cu).
 */
export const MLA_LAYOUT_PARAMS = {
  bytes: 24,
  fields: {
    k_head_stride: [0, 'i64'],
    h_kv: [8, 'i32'],
    heads_per_kv: [12, 'i32'],
    rows_per_kv: [16, 'i32'],
    pad_: [20, 'i32'],
  },
} as const satisfies StructLayout;

/** A value for every field but the padding (`pad_…`, written as 0). */
export type StructValues<L extends StructLayout> = { [K in keyof L['fields'] as K extends `pad${string}` ? never : K]: bigint | number };

/** Encode `v` by `layout` into `buf` (layout.bytes long, reusable between launches); padding is 0. */
export function encodeStruct<L extends StructLayout>(layout: L, v: StructValues<L>, buf = new Uint8Array(layout.bytes)): Uint8Array {
  if (buf.byteLength !== layout.bytes) throw new RangeError(`encodeStruct: expected a buffer of ${layout.bytes} bytes, got ${buf.byteLength}`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (const [name, [off, type]] of Object.entries(layout.fields)) {
    const x = (v as Record<string, bigint | number | undefined>)[name] ?? 0;
    if (type === 'ptr') dv.setBigUint64(off, BigInt(x), true);
    else if (type === 'i64') dv.setBigInt64(off, BigInt(x), true);
    else dv.setInt32(off, Number(x), true);
  }
  return buf;
}
