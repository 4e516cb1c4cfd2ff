// The cuda backend's paged writes (backend.ts appendKv): kernels/append_kv.cu (bf16/fp16 caches, 16-byte loads and
// stores) and kernels/append_kv_fp8.cu (FP8 caches: rows quantized, bit-identical to the cpu quantizer).
// Arguments were validated by src/kvcache/append.ts.

import type { AppendKvArgs } from '../backend.js';
import type { Tensor } from '../tensor.js';
import { APPEND_KV_CONFIG, APPEND_KV_FP8_CONFIG } from './config.js';
import { getCudaContext, loadKernel, pdlEnabled, portableArchs, requirePortable } from './context.js';
import { APPEND_KV_FP8_PARAMS, encodeStruct } from './params.js';

/** 16-byte chunks per cached row (1152 B); kernel tile: threads × chunks per thread (src/cuda/config.ts). */
const { kChunksRow: CHUNKS_PER_ROW, kThreads: THREADS, kUnroll: UNROLL } = APPEND_KV_CONFIG;

/** bf16/fp16 caches: the rows copied bit for bit. */
export function cudaAppendKv(a: AppendKvArgs): void {
  launch(a.kCache, a.cKv, a.kPe, a.cKv.shape[0], slotSource(a));
}

/** Where the kernels take each token's slot: the slot mapping, or the block table (computed on the device). */
interface SlotSource {
  slotMapping: bigint;
  blockTable: bigint;
  tableStride: number;
  maxBlocksPerSeq: number;
  seqlens: bigint;
  tokensPerSeq: number;
}

function slotSource(a: AppendKvArgs): SlotSource {
  if (a.slotMapping) return { slotMapping: a.slotMapping.ptr, blockTable: 0n, tableStride: 0, maxBlocksPerSeq: 0, seqlens: 0n, tokensPerSeq: 1 };
  const { blockTable, cacheSeqlens, tokensPerSeq } = a.paged!;
  return { slotMapping: 0n, blockTable: blockTable.ptr, tableStride: blockTable.strides[0], maxBlocksPerSeq: blockTable.shape[1], seqlens: cacheSeqlens.ptr, tokensPerSeq };
}

const SIGNATURE = ['ptr', 'i32', 'ptr', 'i32', 'ptr', 'i32', 'i32', 'i32', 'ptr', 'ptr', 'i32', 'i32', 'ptr', 'i32', 'i32'] as const;

function launch(kCache: Tensor, cKv: Tensor, kPe: Tensor, T: number, src: SlotSource): void {
  const { device, stream } = getCudaContext();
  requirePortable(device, 'append_kv');
  const k = loadKernel('append_kv', portableArchs(device), `append_kv_${kCache.dtype}`, SIGNATURE);
  const chunks = T * CHUNKS_PER_ROW;
  k.launch(
    { grid: [Math.ceil(chunks / (THREADS * UNROLL)), 1, 1], block: [THREADS, 1, 1], stream, pdl: pdlEnabled(device) },
    cKv.ptr,
    cKv.strides[0],
    kPe.ptr,
    kPe.strides[0],
    kCache.ptr,
    kCache.strides[0],
    kCache.strides[1],
    kCache.shape[0],
    src.slotMapping,
    src.blockTable,
    src.tableStride,
    src.maxBlocksPerSeq,
    src.seqlens,
    src.tokensPerSeq,
    T,
  );
}

const fp8ParamBuf = new Uint8Array(APPEND_KV_FP8_PARAMS.bytes);

/**
 * FP8 caches uint8 [numPages, pageSize, 1, 656]: each row quantized on the way (one warp per token); the RoPE part
 * keeps the rows' 16-bit dtype. Slots outside the cache are skipped by the kernel.
 */
export function cudaAppendKvFp8(a: AppendKvArgs): void {
  const { device, stream } = getCudaContext();
  requirePortable(device, 'append_kv_fp8');
  const dt = a.cKv.dtype as 'bf16' | 'fp16';
  const k = loadKernel('append_kv_fp8', portableArchs(device), `append_kv_fp8_${dt}`, ['bytes']);
  const T = a.cKv.shape[0];
  const src = slotSource(a);
  const [numPages, pageSize] = a.kCache.shape;
  const params = encodeStruct(
    APPEND_KV_FP8_PARAMS,
    {
      ckv: a.cKv.ptr,
      kpe: a.kPe.ptr,
      k_cache: a.kCache.ptr,
      slot_mapping: src.slotMapping,
      block_table: src.blockTable,
      seqlens: src.seqlens,
      ckv_stride: a.cKv.strides[0],
      kpe_stride: a.kPe.strides[0],
      page_stride: a.kCache.strides[0],
      row_stride: a.kCache.strides[1],
      num_slots: numPages * pageSize,
      page_size: pageSize,
      table_stride: src.tableStride,
      max_blocks_per_seq: src.maxBlocksPerSeq,
      tokens_per_seq: src.tokensPerSeq,
      num_tokens: T,
    },
    fp8ParamBuf,
  );
  const { kThreads, kTokensPerCta } = APPEND_KV_FP8_CONFIG;
  k.launch({ grid: [Math.ceil(T / kTokensPerCta), 1, 1], block: [kThreads, 1, 1], stream, pdl: pdlEnabled(device) }, params);
}
