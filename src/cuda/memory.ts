// The cuda backend's tensor storage (backend.ts DeviceMemory): device buffers, copies and fills on the
// library's stream. tensor.ts and the kvcache reach device memory only through this, via getBackend('cuda').

import type { DeviceMemory } from '../backend.js';
import { deviceBlockCache } from './block-cache.js';
import { getCudaContext } from './context.js';
import { wrapDeviceMemory } from './interop.js';
import { CudaError, CudaUnavailableError } from '../errors.js';
import { stickyErrorSeen } from './driver.js';
import { copyDtoD, copyDtoH, copyDtoPinned, copyHtoD, memset, PinnedHostBuffer, type Stream } from './runtime.js';

/**
 * Reads of up to this many bytes in all go through one page-locked staging buffer: their copies are queued on the
 * stream and waited for once (a pageable cuMemcpyDtoH waits and stages each copy itself). Larger reads (whole caches
 * read back by tests and tools) copy straight into their destination after one wait.
 */
export const PINNED_READ_MAX_BYTES = 4 << 20;

/** Each read's place in the staging buffer is 16-byte aligned (arithmetic, not `&`: reads may exceed 2^31 bytes). */
const stagedBytes = (n: number) => Math.ceil(n / 16) * 16;

let staging: PinnedHostBuffer | null = null;
/** The smallest staging size the driver refused (reads needing as much take the direct path); Infinity: none. */
let refusedBytes = Infinity;

/**
 * The staging buffer for reads of `bytes` in all, grown in powers of two from 64 KiB (it lives as long as the
 * process), or null when the driver will not give that much page-locked memory (a container's locked-memory limit, a
 * libcuda without cuMemAllocHost): those reads take the direct path, smaller ones keep the buffer there is.
 */
function stagingFor(bytes: number, stream: Stream): PinnedHostBuffer | null {
  if (staging && staging.bytes >= bytes) return staging;
  let size = 64 << 10;
  while (size < bytes) size *= 2;
  if (size >= refusedBytes) return null;
  let grown: PinnedHostBuffer;
  try {
    grown = PinnedHostBuffer.alloc(size);
  } catch (e) {
    const refusal = (e instanceof CudaError && e.codeName === 'CUDA_ERROR_OUT_OF_MEMORY' && !stickyErrorSeen()) || e instanceof CudaUnavailableError;
    if (!refusal) throw e;
    refusedBytes = size;
    return null;
  }
  const old = staging;
  staging = grown;
  if (old) {
    // copies queued into it by a read that failed half-way may still be in flight
    stream.synchronize();
    old.dispose();
  }
  return staging;
}

export const cudaMemory: DeviceMemory = {
  alloc(bytes) {
    getCudaContext();
    return deviceBlockCache().alloc(bytes);
  },
  wrap(ptr, bytes) {
    return wrapDeviceMemory(ptr, bytes);
  },
  readToHost(reads) {
    const { stream } = getCudaContext();
    const total = reads.reduce((sum, r) => sum + stagedBytes(r.dst.byteLength), 0);
    const buf = total > 0 && total <= PINNED_READ_MAX_BYTES ? stagingFor(total, stream) : null;
    if (!buf) {
      // large reads (or no page-locked memory): wait, then copy straight into each destination
      stream.synchronize();
      for (const r of reads) copyDtoH(r.dst, r.src);
      return;
    }
    let at = 0;
    for (const r of reads) {
      copyDtoPinned(buf.ptr + BigInt(at), r.src, r.dst.byteLength, stream);
      at += stagedBytes(r.dst.byteLength);
    }
    stream.synchronize();
    at = 0;
    for (const r of reads) {
      r.dst.set(buf.bytesView.subarray(at, at + r.dst.byteLength));
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
