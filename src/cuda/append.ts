// The cuda backend's paged writes (backend.ts appendKv): kernels/append_kv.cu, 16-byte loads and stores.
// Arguments were validated by src/kvcache/append.ts.

import type { AppendKvArgs } from '../backend.js';
import type { Tensor } from '../tensor.js';
import { APPEND_KV_CONFIG } from './config.js';
import { getCudaContext, loadKernel, pdlEnabled, portableArchs, requirePortable } from './context.js';

/** 16-byte chunks per cached row (1152 B); kernel tile: threads × chunks per thread (src/cuda/config.ts). */
const { kChunksRow: CHUNKS_PER_ROW, kThreads: THREADS, kUnroll: UNROLL } = APPEND_KV_CONFIG;

/** bf16/fp16 caches (an FP8 cache is refused by the backend before this). */
export function cudaAppendKv(a: AppendKvArgs): void {
  const T = a.cKv.shape[0];
  if (a.slotMapping) {
    launch(a.kCache, a.cKv, a.kPe, T, { slotMapping: a.slotMapping.ptr, blockTable: 0n, tableStride: 0, maxBlocksPerSeq: 0, seqlens: 0n, tokensPerSeq: 1 });
  } else {
    const { blockTable, cacheSeqlens, tokensPerSeq } = a.paged!;
    launch(a.kCache, a.cKv, a.kPe, T, { slotMapping: 0n, blockTable: blockTable.ptr, tableStride: blockTable.strides[0], maxBlocksPerSeq: blockTable.shape[1], seqlens: cacheSeqlens.ptr, tokensPerSeq });
  }
}

interface SlotSource {
  slotMapping: bigint;
  blockTable: bigint;
  tableStride: number;
  maxBlocksPerSeq: number;
  seqlens: bigint;
  tokensPerSeq: number;
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
