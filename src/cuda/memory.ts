// The cuda backend's tensor storage (backend.ts DeviceMemory): device buffers, copies and fills on the
// library's stream. tensor.ts and the kvcache reach device memory only through this, via getBackend('cuda').

import type { DeviceMemory } from '../backend.js';
import { deviceBlockCache } from './block-cache.js';
import { getCudaContext } from './context.js';
import { CudaError, CudaUnavailableError } from '../errors.js';
import { stickyErrorSeen } from './driver.js';
import { copyDtoD, copyDtoH, copyDtoPinned, copyHtoD, memset, PinnedHostBuffer } from './runtime.js';

/**
 * Reads of up to this many bytes in all go through one page-locked staging buffer: their copies are queued on the
 * stream and waited for once (a pageable cuMemcpyDtoH waits and stages each copy itself). Larger reads (whole caches
 * read back by tests and tools) copy straight into their destination after one wait.
 */
export const PINNED_READ_MAX_BYTES = 4 << 20;

/** Each read's place in the staging buffer is 16-byte aligned. */
const stagedBytes = (n: number) => (n + 15) & ~15;

let staging: PinnedHostBuffer | null = null;
/** No page-locked memory could be had once: every read takes the direct path from then on. */
let stagingRefused = false;

/** The staging buffer, grown to `bytes` (powers of two from 64 KiB; it lives as long as the process), or null. */
function stagingFor(bytes: number): PinnedHostBuffer | null {
  if (staging && staging.bytes >= bytes) return staging;
  if (stagingRefused) return null;
  let size = 64 << 10;
  while (size < bytes) size *= 2;
  const old = staging;
  staging = null; // (before the free: a failing free must not leave a freed buffer in place)
  old?.dispose();
  try {
    staging = PinnedHostBuffer.alloc(size);
  } catch (e) {
    // (page-locked memory limited by the container, or a libcuda without the symbol: the direct path still works)
    if (!(e instanceof CudaError || e instanceof CudaUnavailableError) || stickyErrorSeen()) throw e;
    stagingRefused = true;
  }
  return staging;
}

export const cudaMemory: DeviceMemory = {
  alloc(bytes) {
    getCudaContext();
    return deviceBlockCache().alloc(bytes);
  },
  readToHost(reads) {
    const { stream } = getCudaContext();
    const total = reads.reduce((sum, r) => sum + stagedBytes(r.dst.byteLength), 0);
    const staging = total > 0 && total <= PINNED_READ_MAX_BYTES ? stagingFor(total) : null;
    if (!staging) {
      // large reads (or no page-locked memory): wait, then copy straight into each destination
      stream.synchronize();
      for (const r of reads) copyDtoH(r.dst, r.src);
      return;
    }
    let at = 0;
    for (const r of reads) {
      copyDtoPinned(staging.ptr + BigInt(at), r.src, r.dst.byteLength, stream);
      at += stagedBytes(r.dst.byteLength);
    }
    stream.synchronize();
    at = 0;
    for (const r of reads) {
      r.dst.set(staging.bytesView.subarray(at, at + r.dst.byteLength));
      at += stagedBytes(r.dst.byteLength);
    }
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
