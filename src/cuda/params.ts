// TypeScript mirror of kernels/mla_params.h (MlaDecodeParams). Offsets in bytes; the layout test compares
// the total with the parameter size the cubin declares (cuFuncGetParamInfo) and with nvcc's offsetof.

export const MLA_DECODE_PARAMS_BYTES = 160;

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
  q_batch_stride: 80,
  q_seq_stride: 88,
  q_head_stride: 96,
  k_block_stride: 104,
  k_row_stride: 112,
  b: 120,
  s_q: 124,
  h_q: 128,
  q_rows: 132,
  num_sm_parts: 136,
  block_table_stride: 140,
  max_blocks_per_seq: 144,
  causal: 148,
  scale_softmax: 152,
  scale_softmax_log2: 156,
} as const;

export type MlaDecodeParamsValues = { [K in keyof typeof MLA_DECODE_PARAMS_LAYOUT]: bigint | number };

const I64 = new Set(['q_batch_stride', 'q_seq_stride', 'q_head_stride', 'k_block_stride', 'k_row_stride']);
const F32 = new Set(['scale_softmax', 'scale_softmax_log2']);

/** Encode into `buf` (MLA_DECODE_PARAMS_BYTES long, reused between launches). */
export function encodeMlaDecodeParams(v: MlaDecodeParamsValues, buf = new Uint8Array(MLA_DECODE_PARAMS_BYTES)): Uint8Array {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (const [name, off] of Object.entries(MLA_DECODE_PARAMS_LAYOUT)) {
    const x = v[name as keyof MlaDecodeParamsValues];
    if (off < 80) dv.setBigUint64(off, x as bigint, true);
    else if (I64.has(name)) dv.setBigInt64(off, BigInt(x), true);
    else if (F32.has(name)) dv.setFloat32(off, x as number, true);
    else dv.setInt32(off, x as number, true);
  }
  return buf;
}
