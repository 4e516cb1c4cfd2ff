// The cuda backend's tensor storage goes through a cache of freed device blocks. All device work of the library runs
// on one stream, in call order, so the block a disposed tensor held can serve the next allocation of its size at
// once: whatever was queued before the dispose still runs before anything queued after the reuse (kernels launched
// with programmatic dependent launch wait for their predecessor before touching global memory — the order the split
// workspace, reused by every decode call, already relies on). Without it a decode loop that lets each call allocate
// its outputs paid a cuMemAlloc and, at dispose, a cuMemFree per tensor — and cuMemFree waits for the whole device,
// so the host could not queue the next layer while the GPU ran this one.
//
// Blocks up to CACHE_MAX_BLOCK_BYTES are kept, FLASH_MLA_CUDA_CACHE_BYTES in all (default 1 GiB; 0 turns the cache
// off), the sizes cached longest ago returned to the driver first; larger blocks (KV caches, long-lived) go back to
// the driver at dispose. An allocation the driver refuses for lack of memory is retried once after the cache is
// emptied — the library's own buffers too (allocDeviceBuffer: split workspace, graph scratch, the tools' buffers).
// releaseCachedDeviceMemory() empties it on request. During a capture and while a captured graph is alive a disposed
// block goes back to the driver (a replay may still write it: it must not become another tensor's), and after a
// sticky error every allocation and free goes to the driver (which then fails each, as the context does).

import { graphsAlive } from '../capture.js';
import { CudaError } from '../errors.js';
import { stickyErrorSeen } from './driver.js';
import { DeviceBuffer, type Ptr } from './runtime.js';
import type { DeviceStorage } from '../backend.js';

/** Requests are rounded up to a multiple of this many bytes, so near sizes share blocks. */
export const CACHE_ROUND_BYTES = 512;
/** Larger blocks are not cached. */
export const CACHE_MAX_BLOCK_BYTES = 64 << 20;
/** The cache's limit when FLASH_MLA_CUDA_CACHE_BYTES is not set. */
export const DEFAULT_CACHE_BYTES = 1 << 30;

const CUDA_ERROR_OUT_OF_MEMORY = 2;

/** FLASH_MLA_CUDA_CACHE_BYTES (a non-negative integer; 0: no cache), or the default. */
export function cacheLimitFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.FLASH_MLA_CUDA_CACHE_BYTES;
  if (v === undefined || v === '') return DEFAULT_CACHE_BYTES;
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n)) {
    throw new RangeError(`FLASH_MLA_CUDA_CACHE_BYTES: expected a non-negative integer (bytes; 0 turns the cache off), got '${v}'`);
  }
  return n;
}

/** A tensor's storage in a cached block: dispose() hands the block back to the cache. */
class CachedStorage implements DeviceStorage {
  readonly ptr: Ptr;
  private block: DeviceBuffer | null;
  constructor(block: DeviceBuffer, readonly bytes: number, private readonly cache: DeviceBlockCache) {
    this.block = block;
    this.ptr = block.ptr;
  }
  get disposed(): boolean {
    return this.block === null;
  }
  dispose(): void {
    if (!this.block) return;
    const b = this.block;
    this.block = null;
    this.cache.giveBack(b);
  }
}

export class DeviceBlockCache {
  /** Free blocks by size; Map order is the order sizes were first cached (evicted in that order), each list oldest first. */
  private readonly free = new Map<number, DeviceBuffer[]>();
  private cached = 0;
  private count = 0;

  constructor(private readonly limit: number) {}

  /** Storage of at least `bytes` bytes (uninitialised). */
  alloc(bytes: number): DeviceStorage {
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`bytes: expected a non-negative integer, got ${bytes}`);
    const size = Math.ceil(Math.max(bytes, 1) / CACHE_ROUND_BYTES) * CACHE_ROUND_BYTES;
    if (this.limit === 0 || size > CACHE_MAX_BLOCK_BYTES || stickyErrorSeen()) return this.fromDriver(bytes);
    const list = this.free.get(size);
    const hit = list?.pop();
    if (hit) {
      if (list!.length === 0) this.free.delete(size);
      this.cached -= size;
      this.count--;
      return new CachedStorage(hit, bytes, this);
    }
    return new CachedStorage(this.fromDriver(size), bytes, this);
  }

  /** A block back from a disposed tensor: kept while the cache has room, the oldest ones returned to the driver. */
  giveBack(block: DeviceBuffer): void {
    if (this.limit === 0 || block.bytes > this.limit || graphsAlive() || stickyErrorSeen()) {
      block.dispose();
      return;
    }
    const list = this.free.get(block.bytes);
    if (list) list.push(block);
    else this.free.set(block.bytes, [block]);
    this.cached += block.bytes;
    this.count++;
    this.evictWhile(() => this.cached > this.limit);
  }

  /** Return every cached block to the driver; the bytes returned. */
  release(): number {
    const bytes = this.cached;
    this.evictWhile(() => this.count > 0);
    return bytes;
  }

  /** Evict while `more()`; a failing free does not stop the others (the first error is thrown after). */
  private evictWhile(more: () => boolean): void {
    let first: unknown = null;
    while (more()) {
      try {
        this.evictOldest();
      } catch (e) {
        first ??= e; // (the block is dropped either way: a failing free is a sticky context error)
      }
    }
    if (first) throw first;
  }

  /** Bytes and blocks the cache holds. */
  stats(): { cachedBytes: number; cachedBlocks: number; limitBytes: number } {
    return { cachedBytes: this.cached, cachedBlocks: this.count, limitBytes: this.limit };
  }

  private evictOldest(): void {
    const [size, list] = this.free.entries().next().value as [number, DeviceBuffer[]];
    const block = list.shift()!;
    if (list.length === 0) this.free.delete(size);
    this.cached -= size;
    this.count--;
    block.dispose();
  }

  /** cuMemAlloc; refused for lack of memory while blocks are cached: empty the cache and ask once more. */
  fromDriver(bytes: number): DeviceBuffer {
    try {
      return DeviceBuffer.alloc(bytes);
    } catch (e) {
      if (!(e instanceof CudaError) || e.code !== CUDA_ERROR_OUT_OF_MEMORY || this.count === 0) throw e;
      try {
        this.release();
      } catch (freeError) {
        e.cause ??= freeError; // (the out-of-memory error is the caller's; the failing free says why it stays)
        throw e;
      }
      return DeviceBuffer.alloc(bytes);
    }
  }
}

let shared: DeviceBlockCache | null = null;

/** The process's cache (its limit read from FLASH_MLA_CUDA_CACHE_BYTES on first use). */
export function deviceBlockCache(): DeviceBlockCache {
  shared ??= new DeviceBlockCache(cacheLimitFromEnv());
  return shared;
}

/**
 * A device buffer of the library's own (not a tensor's: freed by its dispose, never cached), from cuMemAlloc — after
 * emptying the cache of freed blocks if the driver is out of memory while the cache holds some.
 */
export function allocDeviceBuffer(bytes: number): DeviceBuffer {
  return deviceBlockCache().fromDriver(bytes);
}
