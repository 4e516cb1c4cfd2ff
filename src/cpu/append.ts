// The cpu backend's paged writes (backend.ts appendKv): bf16/fp16 rows copied bit for bit, FP8 rows
// quantized (src/kvcache/fp8.ts). Arguments were validated by src/kvcache/append.ts.

import type { AppendKvArgs } from '../backend.js';
import type { Tensor } from '../tensor.js';
import { HEAD_DIM_V, PAGE_BLOCK_SIZE, ROPE_DIM } from '../mla/constants.js';
import { scatterFp8Rows } from '../kvcache/fp8.js';

/** Slots of the write: the slot mapping's values, or computed from the block table. */
export function appendSlots(a: AppendKvArgs): Int32Array {
  return a.slotMapping ? a.slotMapping.toInt32() : pagedSlots(a.kCache, a.paged!.blockTable, a.paged!.cacheSeqlens, a.paged!.tokensPerSeq, a.cKv.shape[0]);
}

/** bf16/fp16 caches: the rows copied bit for bit. */
export function cpuAppendKv(a: AppendKvArgs): void {
  cpuScatter(a.kCache, appendSlots(a), a.cKv, a.kPe);
}

/** FP8 caches: the rows quantized. */
export function cpuAppendKvFp8(a: AppendKvArgs): void {
  scatterFp8Rows(a.kCache, appendSlots(a), a.cKv, a.kPe);
}

/**
 * cpu: the slots appendKvPaged writes: token t = i · n + j → position cacheSeqlens[i] − n + j of request i through
 * its block table (pages of 64 tokens); −1 (skipped) where that position or its block is out of range.
 */
function pagedSlots(kCache: Tensor, blockTable: Tensor, cacheSeqlens: Tensor, n: number, T: number): Int32Array {
  const numBlocks = kCache.shape[0];
  const lens = cacheSeqlens.toInt32();
  const slots = new Int32Array(T);
  const bt = blockTable.data as Int32Array;
  const [s0, s1] = blockTable.strides;
  for (let t = 0; t < T; t++) {
    const i = Math.floor(t / n);
    const p = lens[i] - n + (t % n);
    if (p < 0 || p >= blockTable.shape[1] * PAGE_BLOCK_SIZE) {
      slots[t] = -1;
      continue;
    }
    const block = bt[blockTable.offset + i * s0 + Math.floor(p / PAGE_BLOCK_SIZE) * s1];
    slots[t] = block < 0 || block >= numBlocks ? -1 : block * PAGE_BLOCK_SIZE + (p % PAGE_BLOCK_SIZE);
  }
  return slots;
}

function cpuScatter(kCache: Tensor, slots: Int32Array, cKv: Tensor, kPe: Tensor): void {
  const dst = kCache.data as Uint16Array;
  const a = cKv.data as Uint16Array;
  const p = kPe.data as Uint16Array;
  const capacity = kCache.shape[0] * PAGE_BLOCK_SIZE;
  const [kb, kr] = kCache.strides;
  for (let t = 0; t < slots.length; t++) {
    const s = slots[t];
    if (s < 0 || s >= capacity) continue;
    const base = kCache.offset + Math.floor(s / PAGE_BLOCK_SIZE) * kb + (s % PAGE_BLOCK_SIZE) * kr;
    const ca = cKv.offset + t * cKv.strides[0];
    const pa = kPe.offset + t * kPe.strides[0];
    dst.set(a.subarray(ca, ca + HEAD_DIM_V), base);
    dst.set(p.subarray(pa, pa + ROPE_DIM), base + HEAD_DIM_V);
  }
}
