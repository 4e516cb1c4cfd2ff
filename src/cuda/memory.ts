// The cuda backend's tensor storage (backend.ts DeviceMemory): device buffers, copies and fills on the
// library's stream. tensor.ts and the kvcache reach device memory only through this, via getBackend('cuda').

import type { DeviceMemory } from '../backend.js';
import { deviceBlockCache } from './block-cache.js';
import { getCudaContext } from './context.js';
import { copyDtoD, copyDtoH, copyHtoD, memset } from './runtime.js';

export const cudaMemory: DeviceMemory = {
  alloc(bytes) {
    getCudaContext();
    return deviceBlockCache().alloc(bytes);
  },
  readToHost(dst, src, synced = false) {
    if (!synced) getCudaContext().stream.synchronize();
    copyDtoH(dst, src);
  },
  writeFromHost(dst, src) {
    copyHtoD(dst, src, getCudaContext().stream);
  },
  copy(dst, src, bytes) {
    copyDtoD(dst, src, bytes, getCudaContext().stream);
  },
  fill(dst, bits, count, width) {
    memset(dst, bits, count, width, getCudaContext().stream);
  },
  synchronize() {
    getCudaContext().stream.synchronize();
  },
  info() {
    return getCudaContext().device.memInfo();
  },
  releaseCache() {
    return releaseCachedDeviceMemory();
  },
};

/**
 * Return the device blocks that disposed cuda tensors left in the library's cache to the driver (see
 * src/cuda/block-cache.ts); the bytes returned. Nothing in use is touched.
 */
export function releaseCachedDeviceMemory(): number {
  return deviceBlockCache().release();
}

/** What the cache of freed device blocks holds now, and its limit (FLASH_MLA_CUDA_CACHE_BYTES; 0: no cache). */
export function cachedDeviceMemory(): { cachedBytes: number; cachedBlocks: number; limitBytes: number } {
  return deviceBlockCache().stats();
}
