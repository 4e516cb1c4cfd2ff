// Fault injection on the cuda path without a GPU (issue 11, reliability campaign): a kernel that cannot load, a
// driver error mid-step, an out-of-memory on allocation. Each scenario runs in its own child process against the
// fake driver of test/util/fake-cuda.c (a small consistent GPU on the host: memory with a live-allocation count,
// real copies, streams and graphs, launches that check their pointers and compute nothing), with its own device
// and faults, and drives the public API. For each fault: the call throws the driver's error, typed (CudaError with
// the call and the CUresult name; PtxJitError for the JIT); what the call allocated is freed (the fake's live
// count is back where it was); nothing was launched where the input was refused; and the same call without the
// fault then succeeds. Outputs are never checked: the fake computes nothing (its metadata kernel writes nothing
// either, so the tests write the schedule the cpu computes into the metadata tensors).
//
// This file is also the child: with FLASH_MLA_FAKE_SCENARIO set it runs that scenario and prints a JSON line.

import assert from 'node:assert/strict';
import {
  CudaError, CudaUnavailableError, DisposedError, PagedKvCache, PtxJitError, Tensor, UnsupportedFeatureError, appendKv, captureGraph, flashMlaWithKvcache,
  cachedDeviceMemory, getBackend, getMlaMetadata, releaseCachedDeviceMemory, scheduleTiles, synchronize, type FlashMlaOptions, type MlaMetadata,
} from '../src/index.js';
import { loadedModules } from '../src/cuda/context.js';
import { CACHE_MAX_BLOCK_BYTES, DEFAULT_CACHE_BYTES, DeviceBlockCache, allocDeviceBuffer, cacheLimitFromEnv } from '../src/cuda/block-cache.js';
import { MLA_CONFIG } from '../src/cuda/config.js';
import { PINNED_READ_MAX_BYTES } from '../src/cuda/memory.js';
import { readInt32s } from '../src/tensor.js';
import { fakeCudaScenarios, type FakeCudaControl, type FakeCudaScenario } from './util/fake-cuda.js';

const CUDA = { backend: 'cuda' } as const;
const BF16 = { dtype: 'bf16', backend: 'cuda' } as const;
const I32 = { dtype: 'int32', backend: 'cuda' } as const;
const OOM = 'CUDA_ERROR_OUT_OF_MEMORY';
const UNKNOWN = 'CUDA_ERROR_UNKNOWN'; // not sticky
const NO_RESOURCES = 'CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES'; // not sticky
/** The fake as an H100: the 'hopper' kernel (and its FP8 variant) runs. */
const H100 = { FAKE_CUDA_CC: '9.0', FAKE_CUDA_SMS: '132', FAKE_CUDA_SMEM_OPTIN: '232448', FAKE_CUDA_NAME: 'Fake H100 (flash-mla test driver)' };
/** What a dense FP8 decode with bf16 q over 64-token pages asks of the backend (decodeKernels). */
const FP8_DENSE = { fp8: true, sparse: false, hQ: 16, hKv: 1, headDim: 576, dtype: 'bf16', pageSize: 64 } as const;
/** What a sparse decode the Hopper sparse FP8 kernel takes asks of the backend: bf16 q, h_q 128, 61-token pages. */
const SPARSE_H128 = { fp8: true, sparse: true, hQ: 128, hKv: 1, headDim: 576, dtype: 'bf16', pageSize: 61 } as const;

// ---------------------------------------------------------------------------------------------- checks

type ErrorClass<E extends Error> = abstract new (...args: never[]) => E;

function expectError<E extends Error>(fn: () => unknown, cls: ErrorClass<E>, what: string): E {
  let err: unknown = null;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  assert.ok(err !== null, `${what}: expected a ${cls.name}, nothing was thrown`);
  if (!(err instanceof cls)) throw new assert.AssertionError({ message: `${what}: expected a ${cls.name}, got ${(err as Error)?.stack ?? String(err)}` });
  return err;
}

function checkCuda(err: unknown, call: string, codeName: string, what: string, cls: ErrorClass<CudaError> = CudaError): CudaError {
  if (!(err instanceof cls)) throw new assert.AssertionError({ message: `${what}: expected a ${cls.name} (${codeName} from ${call}), got ${(err as Error)?.stack ?? String(err)}` });
  assert.equal(err.call, call, `${what}: the error names the wrong driver call (${err.message})`);
  assert.equal(err.codeName, codeName, `${what}: ${err.message}`);
  return err;
}

function expectCuda(fn: () => unknown, call: string, codeName: string, what: string, cls: ErrorClass<CudaError> = CudaError): CudaError {
  let err: unknown = null;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  assert.ok(err !== null, `${what}: expected ${codeName} from ${call}, nothing was thrown`);
  return checkCuda(err, call, codeName, what, cls);
}

// (the blocks disposed tensors left in the library's cache go back to the driver first: src/cuda/block-cache.ts)
const live = (f: FakeCudaControl) => {
  releaseCachedDeviceMemory();
  return f.stat('allocs');
};

function noLeak(f: FakeCudaControl, base: number, what: string): void {
  const n = live(f);
  assert.equal(n, base, `${what}: ${n - base} device allocation(s) ${n > base ? 'left behind' : 'freed that were not its own'}`);
}

/** The context is not poisoned (the fake poisons it when a launch touches memory that is not allocated). */
function healthy(f: FakeCudaControl): void {
  assert.equal(f.stat('sticky'), 0, `the fake GPU faulted: ${f.log()}`);
}

/** `fn` is refused with `cls` before anything is allocated or launched. */
function refused<E extends Error>(f: FakeCudaControl, what: string, fn: () => unknown, cls: ErrorClass<E>): E {
  const allocs = f.calls('cuMemAlloc_v2');
  const launches = f.calls('cuLaunchKernelEx');
  const base = live(f);
  const e = expectError(fn, cls, what);
  assert.ok(!(e instanceof CudaError), `${what}: refused by the driver, not by the library: ${e.message}`);
  assert.equal(f.calls('cuMemAlloc_v2'), allocs, `${what}: allocated before refusing`);
  assert.equal(f.calls('cuLaunchKernelEx'), launches, `${what}: launched a kernel before refusing`);
  noLeak(f, base, what);
  healthy(f);
  return e;
}

/**
 * Fail the 1st, 2nd, … call of driver function `fn` that `step` makes, until the step no longer reaches the Nth:
 * each failure must be a CudaError naming `fn` and `codeName` with the live allocations back at `base`, and the
 * step must then succeed without the fault (and leave `base` too). `check` runs after each. Returns how many
 * positions failed.
 */
function sweep(f: FakeCudaControl, fn: string, codeName: string, step: () => void, base: number, check?: () => void): number {
  for (let n = 1; ; n++) {
    const what = `${fn} #${n} failing with ${codeName}`;
    releaseCachedDeviceMemory(); // (so each of the step's allocations reaches the driver: the 'block-cache' scenario has the cache's own)
    f.arm(`${fn}@${n}=${codeName}`);
    const calls = f.calls(fn);
    let err: unknown = null;
    try {
      step();
    } catch (e) {
      err = e;
    }
    const reached = f.calls(fn) - calls >= n;
    f.arm('');
    if (!reached) {
      if (err !== null) throw err;
      return n - 1;
    }
    checkCuda(err, fn, codeName, what);
    assert.equal((err as CudaError).isSticky, false, what);
    noLeak(f, base, what);
    healthy(f);
    check?.();
    step();
    noLeak(f, base, `${what}, then the same without the fault`);
    healthy(f);
    check?.();
  }
}

// ---------------------------------------------------------------------------------------------- problems

/**
 * getMlaMetadata on cuda, then the schedule the cpu computes written in (the fake's kernel writes nothing). `rows`:
 * folded rows per KV head (s_q · h_q / h_kv), `hKv` KV heads.
 */
function metadata(seqlens: Tensor, lens: number[], rows: number, opts: { out?: MlaMetadata; hKv?: number } = {}): MlaMetadata {
  const md = getMlaMetadata(seqlens, rows, opts.hKv ?? 1, { out: opts.out });
  try {
    const ref = scheduleTiles(Int32Array.from(lens), md.tileSchedulerMetadata.shape[0]);
    md.tileSchedulerMetadata.write(ref.metadata);
    md.numSplits.write(ref.numSplits);
  } catch (e) {
    if (!opts.out) {
      md.tileSchedulerMetadata.dispose();
      md.numSplits.dispose();
    }
    throw e;
  }
  return md;
}

interface Problem {
  q: Tensor;
  kCache: Tensor;
  blockTable: Tensor;
  seqlens: Tensor;
  md: MlaMetadata;
  hQ: number;
}

/** A dense bf16 decode on cuda: b = lens.length requests of two 64-token blocks each, s_q = 1. */
function problem(lens = [100, 30], hQ = 16): Problem {
  const b = lens.length;
  const q = Tensor.empty([b, 1, hQ, 576], BF16);
  const kCache = Tensor.empty([2 * b, 64, 1, 576], BF16);
  const blockTable = Tensor.from(lens.flatMap((_, i) => [2 * i, 2 * i + 1]), [b, 2], I32);
  const seqlens = Tensor.from(lens, [b], I32);
  return { q, kCache, blockTable, seqlens, md: metadata(seqlens, lens, hQ), hQ };
}

function decode(p: Problem, opts: FlashMlaOptions = {}) {
  return flashMlaWithKvcache(p.q, p.kCache, p.blockTable, p.seqlens, 512, p.md.tileSchedulerMetadata, p.md.numSplits, opts);
}

/** A decode whose outputs are dropped (the step of the sweeps). */
function decodeStep(p: Problem): () => void {
  return () => {
    const r = decode(p);
    r.out.dispose();
    r.lse.dispose();
  };
}

function rows(T: number, layers: number): { cKv: Tensor[]; kPe: Tensor[] } {
  return { cKv: Array.from({ length: layers }, () => Tensor.empty([T, 512], BF16)), kPe: Array.from({ length: layers }, () => Tensor.empty([T, 64], BF16)) };
}

/**
 * An FP8 cache with padded rows and pages (row stride 672, page stride 65 · 672, starting 32 bytes into its storage)
 * and a dense decode over it (b 2, s_q 2, h_q 16, causal); a sparse decode over the same cache.
 */
function fp8Case() {
  const pages = 4, rowStride = 672, pageStride = 65 * rowStride;
  const storage = Tensor.zeros([32 + pages * pageStride], { dtype: 'uint8', backend: 'cuda' });
  const kCache = storage.view([pages, 64, 1, 656], [pageStride, rowStride, rowStride, 1], 32);
  const lens = [100, 30];
  const blockTable = Tensor.from([0, 1, 2, 3], [2, 2], I32);
  const seqlens = Tensor.from(lens, [2], I32);
  const q = Tensor.empty([2, 2, 16, 576], BF16);
  // the dense decodes: s_q 3 (48 rows: more than 'hopper-small' takes, so the Hopper FP8 kernel by default)
  const qDense = Tensor.empty([2, 3, 16, 576], BF16);
  const md = metadata(seqlens, lens, 3 * 16);
  const indices = Tensor.from(Int32Array.from({ length: 2 * 2 * 64 }, (_, i) => (i * 7) % 256), [2, 2, 64], I32);
  const mdS = getMlaMetadata(null, 2 * 16, 1, { topk: 64, batchSize: 2, backend: 'cuda' });
  const drop = (r: { out: Tensor; lse: Tensor }) => {
    r.out.dispose();
    r.lse.dispose();
  };
  return {
    kCache, pages, rowStride, pageStride,
    decode: (kernel?: string, qq: Tensor = qDense) => () => drop(flashMlaWithKvcache(qq, kCache, blockTable, seqlens, 512, md.tileSchedulerMetadata, md.numSplits, { isFp8KvCache: true, causal: true, kernel })),
    sparse: (kernel?: string) => () => drop(flashMlaWithKvcache(q, kCache, null, null, 512, mdS.tileSchedulerMetadata, mdS.numSplits, { isFp8KvCache: true, indices, kernel })),
  };
}

/**
 * Sparse decodes over an FP8 cache of 61-token pages with padded rows and pages (row stride 672, page stride 62 · 672,
 * starting 32 bytes into its storage): b 2, s_q 2, h_q `hQ`, topk 300, with topkLength; `sink`: with attnSink too.
 */
function sparseCase(hQ = 128, b = 2) {
  const pages = 12, pageSize = 61, rowStride = 672, pageStride = 62 * rowStride, topk = 300;
  const storage = Tensor.zeros([32 + pages * pageStride], { dtype: 'uint8', backend: 'cuda' });
  const kCache = storage.view([pages, pageSize, 1, 656], [pageStride, rowStride, rowStride, 1], 32);
  const q = Tensor.empty([b, 2, hQ, 576], BF16);
  const indices = Tensor.from(Int32Array.from({ length: b * 2 * topk }, (_, i) => (i % 9 === 4 ? -1 : (i * 7) % (pages * pageSize))), [b, 2, topk], I32);
  const topkLength = Tensor.from(Int32Array.from({ length: b }, (_, i) => (i === 0 ? 0 : 300)), [b], I32);
  const attnSink = Tensor.zeros([hQ], { dtype: 'fp32', backend: 'cuda' });
  const md = getMlaMetadata(null, 2 * hQ, 1, { topk, batchSize: b, backend: 'cuda' });
  const drop = (r: { out: Tensor; lse: Tensor }) => {
    r.out.dispose();
    r.lse.dispose();
  };
  return {
    kCache, storage, md, rows: 2 * hQ,
    decode: (opts: { kernel?: string; sink?: boolean; qq?: Tensor; cache?: Tensor } = {}) => () =>
      drop(flashMlaWithKvcache(opts.qq ?? q, opts.cache ?? kCache, null, null, 512, md.tileSchedulerMetadata, md.numSplits, {
        isFp8KvCache: true, indices, topkLength, kernel: opts.kernel, attnSink: opts.sink ? attnSink : undefined,
      })),
  };
}

// ---------------------------------------------------------------------------------------------- scenarios

const scenarios: Record<string, FakeCudaScenario> = {
  'context': {
    title: 'the context cannot start (cuInit, then cuStreamCreate out of memory): typed errors, the next call starts it',
    env: { FAKE_CUDA_FAULTS: 'cuInit@1=CUDA_ERROR_UNKNOWN,cuStreamCreate@1=CUDA_ERROR_OUT_OF_MEMORY' },
    run(f) {
      const e = expectError(() => Tensor.empty([4], CUDA), CudaUnavailableError, 'cuInit failing');
      assert.match(e.message, /the driver failed to initialise/);
      expectCuda(() => Tensor.empty([4], CUDA), 'cuStreamCreate', OOM, 'cuStreamCreate failing');
      assert.equal(f.stat('streams'), 0);
      noLeak(f, 0, 'cuStreamCreate failing');
      Tensor.empty([4], CUDA).dispose();
      assert.equal(f.stat('streams'), 1);
      noLeak(f, 0, 'the first tensor after the faults');
      return ['cuInit failing → CudaUnavailableError; cuStreamCreate failing → CudaError; the third call works'];
    },
  },

  'memory-info': {
    title: 'device memory info through the backend interface (what the soak run samples) follows allocations',
    env: { FAKE_CUDA_MEM_BYTES: String(64 << 20) },
    run(f) {
      const memory = getBackend('cuda').memory!;
      Tensor.empty([1], CUDA).dispose(); // the context and its stream exist
      releaseCachedDeviceMemory();
      const before = memory.info();
      assert.equal(before.total, 64 << 20);
      assert.equal(before.free, (64 << 20) - f.stat('bytes'));
      const t = Tensor.empty([1 << 20], { dtype: 'bf16', backend: 'cuda' });
      assert.equal(before.free - memory.info().free, 2 << 20, 'a 2 MiB tensor');
      t.dispose();
      assert.equal(before.free - memory.info().free, 2 << 20, 'disposed: its block in the library\'s cache');
      assert.equal(releaseCachedDeviceMemory(), 2 << 20);
      assert.deepEqual(memory.info(), before);
      return [`free ${before.free} of ${before.total} B; 2 MiB allocated, disposed (cached) and released`];
    },
  },

  'checked-reads': {
    title: 'a decode with its value checks waits for the device once: the seqlens, block table, metadata and split counts copied into page-locked staging behind the queued work, then one stream sync',
    run(f) {
      const p = problem();
      decodeStep(p)(); // (kernels loaded, the staging allocated)
      const count = (fn: () => void) => {
        const names = ['cuStreamSynchronize', 'cuMemcpyDtoHAsync_v2', 'cuMemcpyDtoH_v2', 'cuMemAllocHost_v2'];
        const before = names.map((n) => f.calls(n));
        fn();
        return names.map((n, i) => f.calls(n) - before[i]);
      };
      assert.deepEqual(count(decodeStep(p)), [1, 4, 0, 0], 'a checked dense decode: [stream syncs, queued copies to the host, waiting copies, page-locked allocations]');
      assert.equal(f.stat('host_allocs'), 1, 'one staging buffer');
      const unchecked = () => {
        const r = decode(p, { checkValues: false });
        r.out.dispose();
        r.lse.dispose();
      };
      assert.deepEqual(count(unchecked), [0, 0, 0, 0], 'an unchecked dense decode');
      // a failing copy: its CudaError, nothing left allocated, the next call fine
      const base = live(f);
      f.arm(`cuMemcpyDtoHAsync_v2@3=${UNKNOWN}`);
      expectCuda(decodeStep(p), 'cuMemcpyDtoHAsync_v2', UNKNOWN, 'the third read failing');
      f.arm('');
      noLeak(f, base, 'the third read failing');
      decodeStep(p)();
      // values: what the staging hands back is each tensor's own (a non-contiguous view gathered; an empty tensor, alone
      // — no read, the direct path's one wait — and within a run of reads, where it takes no place)
      const t = Tensor.from(Int32Array.from({ length: 24 }, (_, i) => 3 * i - 7), [4, 6], I32);
      const col = t.view([4], [6], 2);
      const empty = Tensor.empty([0], I32);
      assert.deepEqual([...t.toInt32()], Array.from({ length: 24 }, (_, i) => 3 * i - 7));
      assert.deepEqual([...col.toInt32()], [-1, 17, 35, 53]);
      assert.deepEqual([...empty.toInt32()], []);
      let mixed: (Int32Array | null)[] = [];
      assert.deepEqual(count(() => (mixed = readInt32s([col, empty, null, t]))), [1, 2, 0, 0], 'four reads, one empty, one null');
      assert.deepEqual(mixed.map((x) => (x === null ? null : [...x])), [[-1, 17, 35, 53], [], null, Array.from({ length: 24 }, (_, i) => 3 * i - 7)]);
      // a read larger than the staging: it grows (a wait for copies still in flight, then the old buffer freed)
      const mid = Tensor.from(Int32Array.from({ length: 40_000 }, (_, i) => i ^ 0x5a5a), [40_000], I32);
      const frees = f.calls('cuMemFreeHost');
      assert.deepEqual(count(() => assert.equal(mid.toInt32()[39_999], 39_999 ^ 0x5a5a)), [2, 1, 0, 1], 'a read of 160 KB');
      assert.equal(f.calls('cuMemFreeHost') - frees, 1, 'the smaller staging freed');
      assert.equal(f.stat('host_allocs'), 1, 'one staging buffer after it grew');
      // growing refused (out of memory): that read takes the direct path, smaller ones keep the staging there is
      const wide = Tensor.full([150_000], 7, I32);
      f.arm(`cuMemAllocHost_v2@1+=${OOM}`);
      assert.deepEqual(count(() => assert.equal(wide.toInt32()[149_999], 7)), [1, 0, 1, 1], 'a read of 600 KB, the staging not grown');
      assert.deepEqual(count(() => assert.equal(mid.toInt32()[7], 7 ^ 0x5a5a)), [1, 1, 0, 0], 'a read the staging holds, after the refusal');
      assert.deepEqual(count(() => wide.toInt32()), [1, 0, 1, 0], 'the refused size is not asked for again');
      f.arm('');
      assert.equal(f.stat('host_allocs'), 1);
      mid.dispose();
      wide.dispose();
      // a read larger than the staging's limit: one wait, then copies straight into the destination
      const big = Tensor.full([(PINNED_READ_MAX_BYTES >> 2) + 1], 5, I32);
      assert.deepEqual(count(() => assert.equal(big.toInt32()[PINNED_READ_MAX_BYTES >> 2], 5)), [1, 0, 1, 0], 'a read over the staging limit');
      for (const x of [t, empty, big]) x.dispose();
      return ['a checked dense decode: 4 copies queued into page-locked staging, 1 stream sync (4 syncs and 4 waiting copies before session 59; 1 and 4 waiting copies in session 59); unchecked: none'];
    },
  },

  'staging-refused': {
    title: 'no page-locked memory (cuMemAllocHost out of memory, not sticky): the checked decode reads through one wait and waiting copies instead, and does not ask again',
    run(f) {
      f.arm(`cuMemAllocHost_v2@1+=${OOM}`);
      const p = problem();
      decodeStep(p)();
      const [syncs, waiting, queued, asks] = [f.calls('cuStreamSynchronize'), f.calls('cuMemcpyDtoH_v2'), f.calls('cuMemcpyDtoHAsync_v2'), f.calls('cuMemAllocHost_v2')];
      decodeStep(p)();
      f.arm('');
      healthy(f);
      assert.deepEqual(
        [f.calls('cuStreamSynchronize') - syncs, f.calls('cuMemcpyDtoH_v2') - waiting, f.calls('cuMemcpyDtoHAsync_v2') - queued, f.calls('cuMemAllocHost_v2') - asks],
        [1, 4, 0, 0],
        'a checked decode without staging: [stream syncs, waiting copies, queued copies, page-locked allocations asked]',
      );
      assert.equal(f.stat('host_allocs'), 0);
      return ['cuMemAllocHost refused → the checked decode reads through 1 sync and 4 waiting copies, no second ask'];
    },
  },

  'block-cache': {
    title: 'the cache of freed device blocks: a warm decode loop that lets each call allocate its outputs makes no cuMemAlloc or cuMemFree; the limit, the largest cached block, an out-of-memory retry after emptying it, no reuse while a graph lives, off with FLASH_MLA_CUDA_CACHE_BYTES=0',
    env: { FAKE_CUDA_MEM_BYTES: String(128 << 20) },
    run(f) {
      const p = problem();
      const step = decodeStep(p);
      step();
      const [allocs, frees] = [f.calls('cuMemAlloc_v2'), f.calls('cuMemFree_v2')];
      for (let i = 0; i < 20; i++) step();
      assert.equal(f.calls('cuMemAlloc_v2') - allocs, 0, '20 warm decodes allocating out and lse: cuMemAlloc calls');
      assert.equal(f.calls('cuMemFree_v2') - frees, 0, '20 warm decodes disposing out and lse: cuMemFree calls');
      const s = cachedDeviceMemory();
      assert.equal(s.limitBytes, DEFAULT_CACHE_BYTES);
      assert.ok(s.cachedBlocks >= 2 && s.cachedBytes >= 2 * 16 * 512 * 2, `cached after the loop: ${JSON.stringify(s)}`);
      assert.equal(releaseCachedDeviceMemory(), s.cachedBytes);
      assert.equal(f.calls('cuMemFree_v2') - frees, s.cachedBlocks, 'release: one cuMemFree per cached block');
      const base = live(f);

      // a cache of its own (the library's reads FLASH_MLA_CUDA_CACHE_BYTES once): sizes rounded to 512 B share blocks,
      // the oldest go back to the driver past the limit, blocks over CACHE_MAX_BLOCK_BYTES are never kept
      const c = new DeviceBlockCache(3 << 20);
      const a = c.alloc(1000);
      const aPtr = a.ptr;
      a.dispose();
      assert.equal(a.disposed, true);
      const a2 = c.alloc(1024);
      assert.equal(a2.ptr, aPtr, 'a request of 1 024 B takes the block of 1 000 (both 1 024)');
      assert.equal(a2.bytes, 1024);
      a2.dispose();
      a2.dispose(); // (twice: once back)
      assert.deepEqual(c.stats(), { cachedBytes: 1024, cachedBlocks: 1, limitBytes: 3 << 20 });
      const m = [c.alloc(1 << 20), c.alloc(1 << 20), c.alloc(1 << 20)];
      const freesBefore = f.calls('cuMemFree_v2');
      for (const t of m) t.dispose();
      assert.equal(f.calls('cuMemFree_v2') - freesBefore, 1, 'past the 3 MiB limit: the oldest block (1 024 B) freed');
      assert.deepEqual(c.stats(), { cachedBytes: 3 << 20, cachedBlocks: 3, limitBytes: 3 << 20 });
      c.release();
      const big = new DeviceBlockCache(1 << 30);
      const b = big.alloc(CACHE_MAX_BLOCK_BYTES + 1);
      const f0 = f.calls('cuMemFree_v2');
      b.dispose();
      assert.equal(f.calls('cuMemFree_v2') - f0, 1, 'a block over CACHE_MAX_BLOCK_BYTES is freed at dispose');

      // out of memory while blocks are cached: emptied, asked again
      const x = [big.alloc(32 << 20), big.alloc(32 << 20), big.alloc(32 << 20)];
      for (const t of x) t.dispose();
      const a0 = f.calls('cuMemAlloc_v2');
      const y = big.alloc(48 << 20);
      assert.equal(f.calls('cuMemAlloc_v2') - a0, 2, '48 MiB on a 128 MiB GPU with 96 MiB cached: refused, then granted');
      assert.equal(big.stats().cachedBlocks, 0);
      y.dispose();
      big.release();
      // (with nothing cached, out of memory is the driver's error: asked once)
      const a1 = f.calls('cuMemAlloc_v2');
      expectCuda(() => big.alloc(256 << 20), 'cuMemAlloc_v2', OOM, 'nothing cached to give back');
      assert.equal(f.calls('cuMemAlloc_v2') - a1, 1, 'nothing cached: no second ask');
      // the library's own buffers (split workspace, graph scratch, the tools') too: tensors' blocks cached, then a
      // buffer that fits only once they are freed
      for (const t of [0, 1, 2].map(() => Tensor.empty([16 << 20], BF16))) t.dispose();
      assert.equal(cachedDeviceMemory().cachedBytes, 3 * (32 << 20));
      allocDeviceBuffer(48 << 20).dispose();
      assert.equal(cachedDeviceMemory().cachedBlocks, 0, 'the library\'s buffer: the cache emptied for it');
      // a free failing during an eviction: the others are still freed, the error thrown
      const small = new DeviceBlockCache(1024);
      const [s1, s2, s3] = [small.alloc(512), small.alloc(512), small.alloc(1024)];
      s1.dispose();
      s2.dispose();
      f.arm(`cuMemFree_v2@1=${UNKNOWN}`);
      const f4 = f.calls('cuMemFree_v2');
      expectCuda(() => s3.dispose(), 'cuMemFree_v2', UNKNOWN, 'an eviction\'s free failing');
      f.arm('');
      assert.equal(f.calls('cuMemFree_v2') - f4, 2, 'both older blocks evicted, the failing one and the next');
      assert.deepEqual(small.stats(), { cachedBytes: 1024, cachedBlocks: 1, limitBytes: 1024 });
      small.release();

      // a live graph: a disposed block goes to the driver (a replay may still write it)
      const out = Tensor.empty([2, 1, 16, 512], BF16);
      const lse = Tensor.empty([2, 16, 1], { dtype: 'fp32', backend: 'cuda' });
      let freedInCapture = 0;
      const g = captureGraph(() => {
        const tmp = Tensor.empty([7], BF16);
        const f0 = f.calls('cuMemFree_v2');
        tmp.dispose();
        freedInCapture = f.calls('cuMemFree_v2') - f0;
        return decode(p, { out, lse });
      });
      assert.equal(freedInCapture, 1, 'disposed during a capture: freed');
      const t = Tensor.empty([7], BF16);
      const f1 = f.calls('cuMemFree_v2');
      t.dispose();
      assert.equal(f.calls('cuMemFree_v2') - f1, 1, 'disposed while a graph lives: freed');
      g.dispose();
      const t2 = Tensor.empty([7], BF16);
      const f2 = f.calls('cuMemFree_v2');
      t2.dispose();
      assert.equal(f.calls('cuMemFree_v2') - f2, 0, 'the graph disposed: cached again');
      out.dispose();
      lse.dispose();
      noLeak(f, base + 1, 'the scenario (but the block whose free was made to fail: the fake keeps it)');

      // off: every dispose frees
      const off = new DeviceBlockCache(0);
      const f3 = f.calls('cuMemFree_v2');
      off.alloc(100).dispose();
      assert.equal(f.calls('cuMemFree_v2') - f3, 1, 'FLASH_MLA_CUDA_CACHE_BYTES=0: freed at dispose');
      assert.equal(cacheLimitFromEnv({ FLASH_MLA_CUDA_CACHE_BYTES: '0' }), 0);
      assert.equal(cacheLimitFromEnv({}), DEFAULT_CACHE_BYTES);
      for (const v of ['-1', '1e9', 'lots', '1.5']) assert.throws(() => cacheLimitFromEnv({ FLASH_MLA_CUDA_CACHE_BYTES: v }), /FLASH_MLA_CUDA_CACHE_BYTES: expected a non-negative integer/);
      return ['20 warm decodes: 0 cuMemAlloc, 0 cuMemFree; limit, rounding, largest block, OOM retry, graphs, off: as documented'];
    },
  },

  'oom': {
    title: 'out of memory on allocation (Tensor.empty/from, PagedKvCache): CudaError OUT_OF_MEMORY, nothing left allocated',
    env: { FAKE_CUDA_MEM_BYTES: String(64 << 20) },
    run(f) {
      const notes: string[] = [];
      Tensor.empty([1], CUDA).dispose();
      const base = live(f);
      // the device really is too small
      const e = expectCuda(() => Tensor.empty([8192, 8192], { dtype: 'bf16', backend: 'cuda' }), 'cuMemAlloc_v2', OOM, 'Tensor.empty of 128 MiB on a 64 MiB GPU');
      assert.match(e.message, /^shape: \[8192, 8192\] bf16 needs 134217728 bytes \(128\.0 MiB\) of device memory: cuMemAlloc_v2 failed/);
      noLeak(f, base, 'Tensor.empty');
      // an injected failure: nothing is copied after it
      const copies = f.calls('cuMemcpyHtoDAsync_v2');
      f.arm('cuMemAlloc_v2@1=CUDA_ERROR_OUT_OF_MEMORY');
      expectCuda(() => Tensor.from([1, 2, 3], [3], CUDA), 'cuMemAlloc_v2', OOM, 'Tensor.from');
      f.arm('');
      assert.equal(f.calls('cuMemcpyHtoDAsync_v2'), copies, 'Tensor.from copied after its allocation failed');
      noLeak(f, base, 'Tensor.from');
      Tensor.from([1, 2, 3], [3], CUDA).dispose();
      // every allocation of the cache's constructor
      const ctor = sweep(f, 'cuMemAlloc_v2', OOM, () => new PagedKvCache({ backend: 'cuda', numBlocks: 8, numLayers: 2 }).dispose(), base);
      notes.push(`PagedKvCache constructor: each of its ${ctor} allocations out of memory → CudaError, nothing left allocated`);
      const e2 = expectCuda(() => new PagedKvCache({ backend: 'cuda', numBlocks: 4096, numLayers: 4 }), 'cuMemAlloc_v2', OOM, 'a cache larger than the GPU');
      assert.match(e2.message, /^numBlocks: 4096 page blocks × 4 layers need .* of device memory for kCache .*; allocating layer 0 failed: /);
      noLeak(f, base, 'a cache larger than the GPU');
      return notes;
    },
  },

  'copy': {
    title: 'a driver error in a copy or fill (Tensor.from/zeros/full/to, PagedKvCache): CudaError, the new tensor freed',
    run(f) {
      const host = Tensor.from([1, 2, 3, 4], [4]);
      const dev = Tensor.from([1, 2, 3, 4], [4], CUDA);
      const base = live(f);
      const cases: [string, string, () => Tensor | PagedKvCache][] = [
        ['Tensor.from', 'cuMemcpyHtoDAsync_v2', () => Tensor.from([1, 2, 3, 4], [4], CUDA)],
        ['Tensor.zeros', 'cuMemsetD32Async', () => Tensor.zeros([4], I32)],
        ['Tensor.full', 'cuMemsetD16Async', () => Tensor.full([4], 1.5, BF16)],
        ['cpu tensor .to(cuda)', 'cuMemcpyHtoDAsync_v2', () => host.to('cuda')],
        ['cuda tensor .to(cuda)', 'cuMemcpyDtoDAsync_v2', () => dev.to('cuda')],
        ['PagedKvCache (zero-filled layers)', 'cuMemsetD16Async', () => new PagedKvCache({ backend: 'cuda', numBlocks: 4, numLayers: 2 })],
        ['PagedKvCache (block table, lengths, slots)', 'cuMemsetD32Async', () => new PagedKvCache({ backend: 'cuda', numBlocks: 4, numLayers: 2 })],
      ];
      const notes: string[] = [];
      for (const [what, fn, make] of cases) {
        const n = sweep(f, fn, UNKNOWN, () => make().dispose(), base);
        assert.ok(n >= 1, `${what}: never called ${fn}`);
        notes.push(`${what}: ${fn} failing (each of ${n} call(s)) → CudaError, nothing left allocated`);
      }
      expectCuda(() => (f.arm('cuMemcpyDtoHAsync_v2@1=CUDA_ERROR_UNKNOWN'), dev.to('cpu')), 'cuMemcpyDtoHAsync_v2', UNKNOWN, 'cuda tensor .to(cpu)');
      f.arm('');
      noLeak(f, base, 'cuda tensor .to(cpu)');
      return notes;
    },
  },

  'metadata': {
    title: 'getMlaMetadata on cuda: kernel cannot load, out of memory, launch and read-back errors; bad seqlens launch nothing',
    run(f) {
      const seqlens = Tensor.from([100, 30], [2], I32);
      const base = live(f);
      const step = () => {
        const md = getMlaMetadata(seqlens, 16, 1);
        md.tileSchedulerMetadata.dispose();
        md.numSplits.dispose();
      };
      const ran = f.stat('kernels_run');
      f.arm('cuModuleLoadData@1=CUDA_ERROR_INVALID_IMAGE');
      expectCuda(step, 'cuModuleLoadData', 'CUDA_ERROR_INVALID_IMAGE', 'the metadata kernel cannot load');
      f.arm('');
      noLeak(f, base, 'the metadata kernel cannot load');
      assert.equal(f.stat('kernels_run'), ran, 'a kernel ran');
      step();
      healthy(f);
      const notes = [`the metadata kernel's module cannot load → CudaError (cuModuleLoadData), nothing launched, the next call loads it`];
      for (const [fn, code] of [['cuMemAlloc_v2', OOM], ['cuLaunchKernelEx', NO_RESOURCES], ['cuMemcpyDtoHAsync_v2', UNKNOWN], ['cuStreamSynchronize', UNKNOWN]]) {
        notes.push(`${fn} failing: ${sweep(f, fn, code, step, base)} position(s), each → CudaError, nothing left allocated`);
      }
      const bad = Tensor.from([5, -1], [2], I32);
      refused(f, 'a negative seqlen', () => getMlaMetadata(bad, 16, 1), RangeError);
      return notes;
    },
  },

  'decode-load': {
    title: 'flashMlaWithKvcache: a decode or combine kernel that cannot load (cubin) → CudaError, nothing launched or kept',
    run(f) {
      const p = problem();
      const base = live(f);
      const ran = f.stat('kernels_run');
      const step = decodeStep(p);
      f.arm('cuModuleLoadData@1=CUDA_ERROR_NO_BINARY_FOR_GPU');
      expectCuda(step, 'cuModuleLoadData', 'CUDA_ERROR_NO_BINARY_FOR_GPU', 'the decode kernel cannot load');
      noLeak(f, base, 'the decode kernel cannot load');
      f.arm('cuModuleGetFunction@1=CUDA_ERROR_NOT_FOUND');
      expectCuda(step, 'cuModuleGetFunction', 'CUDA_ERROR_NOT_FOUND', 'the decode kernel is not in its module');
      noLeak(f, base, 'the decode kernel is not in its module');
      f.arm('cuModuleLoadData@1=CUDA_ERROR_INVALID_IMAGE'); // the decode module is loaded by now: the combine's
      expectCuda(step, 'cuModuleLoadData', 'CUDA_ERROR_INVALID_IMAGE', 'the combine kernel cannot load');
      noLeak(f, base, 'the combine kernel cannot load');
      assert.equal(f.stat('kernels_run'), ran, 'a kernel ran although the decode could not load all of its kernels');
      f.arm('');
      step();
      healthy(f);
      assert.equal(f.stat('kernels_run') - ran, 2);
      assert.equal(live(f), base + 1, 'the decode keeps one buffer (its split workspace) for the next call');
      return ['decode module, decode function, combine module failing in turn → CudaError each, no kernel launched, nothing allocated; then the decode runs'];
    },
  },

  'decode-load-ptx': {
    title: 'PTX kernels the driver cannot JIT (FLASH_MLA_FORCE_PTX=1) → PtxJitError with the JIT log, nothing kept, the retry JITs',
    env: { FLASH_MLA_FORCE_PTX: '1' },
    run(f) {
      const seqlens = Tensor.from([100, 30], [2], I32);
      const base = live(f);
      f.arm('cuModuleLoadDataEx@1=CUDA_ERROR_INVALID_PTX');
      const e = expectCuda(() => getMlaMetadata(seqlens, 16, 1), 'cuModuleLoadDataEx', 'CUDA_ERROR_INVALID_PTX', 'the metadata PTX', PtxJitError) as PtxJitError;
      assert.equal(e.code, 218);
      assert.match(e.log, /injected failure/);
      assert.match(e.message, /^the driver's JIT could not compile mla_metadata \(compute_80 PTX, .*\): CUDA_ERROR_INVALID_PTX \(218\)/);
      noLeak(f, base, 'the metadata PTX');
      f.arm('');
      const p = problem();
      const base2 = live(f);
      const ran = f.stat('kernels_run');
      f.arm('cuModuleLoadDataEx@1=CUDA_ERROR_UNSUPPORTED_PTX_VERSION');
      const e2 = expectCuda(decodeStep(p), 'cuModuleLoadDataEx', 'CUDA_ERROR_UNSUPPORTED_PTX_VERSION', 'the decode PTX', PtxJitError);
      assert.match(e2.message, /the driver must support CUDA 13\.0 or newer/);
      noLeak(f, base2, 'the decode PTX');
      assert.equal(f.stat('kernels_run'), ran);
      f.arm('');
      decodeStep(p)();
      healthy(f);
      assert.equal(getBackend('cuda').decodeKernels()[0], 'generic');
      return ['metadata PTX (INVALID_PTX) and decode PTX (UNSUPPORTED_PTX_VERSION) → PtxJitError (a CudaError) with the log; then both JIT'];
    },
  },

  'decode-oom': {
    title: 'flashMlaWithKvcache out of memory (out, lse, split workspace, workspace growth) → CudaError, nothing left, no stale workspace',
    run(f) {
      const p = problem();
      const base = live(f);
      const step = decodeStep(p);
      f.arm('cuMemAlloc_v2@3=CUDA_ERROR_OUT_OF_MEMORY'); // out, lse, then the first split workspace
      expectCuda(step, 'cuMemAlloc_v2', OOM, 'the split workspace');
      noLeak(f, base, 'the split workspace');
      f.arm('');
      step();
      const warm = live(f);
      assert.equal(warm, base + 1);
      const n = sweep(f, 'cuMemAlloc_v2', OOM, step, warm);
      assert.equal(n, 2, 'out and lse');
      // 64 heads need a larger workspace; it cannot be had: the old one is gone, and must not be used again
      const big = problem([100, 30], 64);
      const bigBase = live(f);
      f.arm('cuMemAlloc_v2@3=CUDA_ERROR_OUT_OF_MEMORY');
      expectCuda(decodeStep(big), 'cuMemAlloc_v2', OOM, 'the workspace cannot grow');
      f.arm('');
      assert.equal(live(f), bigBase - 1, 'the workspace cannot grow: the old one is freed, nothing else stays');
      step();
      synchronize();
      healthy(f); // a launch on the freed workspace poisons the fake's context
      decodeStep(big)();
      synchronize();
      healthy(f);
      return ['out / lse / first workspace / workspace growth out of memory → CudaError, nothing left; the next decodes run on a live workspace'];
    },
  },

  'decode-launch': {
    title: 'flashMlaWithKvcache: a driver error mid-step (launch, read-back, sync) → CudaError, outputs freed (not the caller\'s), usable',
    run(f) {
      const p = problem();
      const step = decodeStep(p);
      step();
      const base = live(f);
      const notes: string[] = [];
      for (const [fn, code] of [['cuLaunchKernelEx', NO_RESOURCES], ['cuMemcpyDtoHAsync_v2', UNKNOWN], ['cuStreamSynchronize', UNKNOWN]]) {
        notes.push(`${fn} failing: ${sweep(f, fn, code, step, base)} position(s), each → CudaError, nothing left allocated`);
      }
      // outputs the caller passed stay the caller's
      const out = Tensor.empty([2, 1, 16, 512], BF16);
      const lse = Tensor.empty([2, 16, 1], { dtype: 'fp32', backend: 'cuda' });
      const base2 = live(f);
      f.arm('cuLaunchKernelEx@2=CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES');
      expectCuda(() => decode(p, { out, lse }), 'cuLaunchKernelEx', NO_RESOURCES, 'the combine launch, into outputs of the caller');
      f.arm('');
      assert.ok(!out.disposed && !lse.disposed, 'the caller\'s outputs were disposed');
      noLeak(f, base2, 'the combine launch, into outputs of the caller');
      decode(p, { out, lse });
      healthy(f);
      return notes;
    },
  },

  'sticky': {
    title: 'a sticky error (illegal address) mid-decode: CudaError isSticky from the failing call, then every call throws it (no hang, no crash)',
    run(f) {
      const p = problem();
      const step = decodeStep(p);
      step();
      f.arm('cuLaunchKernelEx@1=CUDA_ERROR_ILLEGAL_ADDRESS!');
      const e = expectCuda(step, 'cuLaunchKernelEx', 'CUDA_ERROR_ILLEGAL_ADDRESS', 'the decode launch faulting');
      assert.equal(e.isSticky, true);
      for (const [what, fn, call] of [
        ['Tensor.empty', () => Tensor.empty([4], CUDA), 'cuMemAlloc_v2'],
        ['synchronize', () => synchronize(), 'cuStreamSynchronize'],
        // (the decode's value checks and getMlaMetadata's read of the seqlens fail at their first queued copy)
        ['the decode again', step, 'cuMemcpyDtoHAsync_v2'],
        ['getMlaMetadata', () => getMlaMetadata(p.seqlens, 16, 1), 'cuMemcpyDtoHAsync_v2'],
      ] as const) {
        assert.equal(expectCuda(fn, call, 'CUDA_ERROR_ILLEGAL_ADDRESS', `after the fault: ${what}`).isSticky, true);
      }
      return ['the failing launch is the one named; afterwards Tensor.empty, synchronize, the decode and getMlaMetadata throw the sticky CudaError'];
    },
  },

  'sticky-capture': {
    title: 'a sticky error during graph capture: CudaError from the failing launch (not from freeing the scratch), the capture flag reset',
    run(f) {
      const p = problem();
      const out = Tensor.empty([2, 1, 16, 512], BF16);
      const lse = Tensor.empty([2, 16, 1], { dtype: 'fp32', backend: 'cuda' });
      const capture = () =>
        captureGraph(() => {
          getMlaMetadata(p.seqlens, 16, 1, { out: p.md });
          decode(p, { out, lse });
        });
      f.arm('cuLaunchKernelEx@2=CUDA_ERROR_ILLEGAL_ADDRESS!');
      assert.equal(expectCuda(capture, 'cuLaunchKernelEx', 'CUDA_ERROR_ILLEGAL_ADDRESS', 'the decode launch faulting in a capture').isSticky, true);
      // not 'already capturing': the library's capture state was reset, the driver refuses to begin
      expectCuda(capture, 'cuStreamBeginCapture_v2', 'CUDA_ERROR_ILLEGAL_ADDRESS', 'a capture after the fault');
      return ['the launch is named (the scratch free that fails after it is not); the next capture reaches the driver'];
    },
  },

  'graph': {
    title: 'captureGraph: a fault during capture, instantiation or replay → CudaError, capture ended, scratch and graphs freed, usable',
    run(f) {
      const p = problem();
      const out = Tensor.empty([2, 1, 16, 512], BF16);
      const lse = Tensor.empty([2, 16, 1], { dtype: 'fp32', backend: 'cuda' });
      const base = live(f);
      const noGraphs = () => {
        assert.equal(f.stat('graphs'), 0, 'a graph was left behind');
        assert.equal(f.stat('execs'), 0, 'an instantiated graph was left behind');
      };
      const capture = () =>
        captureGraph(() => {
          getMlaMetadata(p.seqlens, 16, 1, { out: p.md });
          decode(p, { out, lse });
        });
      const step = () => capture().dispose();
      const notes: string[] = [];
      for (const [fn, code] of [
        ['cuStreamBeginCapture_v2', UNKNOWN],
        ['cuLaunchKernelEx', NO_RESOURCES],
        ['cuMemAlloc_v2', OOM],
        ['cuStreamEndCapture', UNKNOWN],
        ['cuGraphInstantiateWithFlags', OOM],
      ]) {
        notes.push(`${fn} failing: ${sweep(f, fn, code, step, base, noGraphs)} position(s), each → CudaError, nothing left`);
      }
      // an error of the captured function ends the capture too
      refused(f, 'an unknown kernel inside a capture', () => captureGraph(() => decode(p, { out, lse, kernel: 'nope' })), RangeError);
      noGraphs();
      synchronize(); // the stream is not left capturing (a sync there would fail)
      // replay
      const g = capture();
      g.replay();
      f.arm('cuGraphLaunch@1=CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES');
      expectCuda(() => g.replay(), 'cuGraphLaunch', NO_RESOURCES, 'a replay');
      f.arm('');
      g.replay();
      g.synchronize();
      healthy(f);
      g.dispose();
      noLeak(f, base, 'the graph disposed');
      noGraphs();
      // a replay after an output it writes was disposed: the GPU faults, the next sync says so (sticky)
      const g2 = capture();
      out.dispose();
      g2.replay();
      assert.equal(expectCuda(() => g2.synchronize(), 'cuStreamSynchronize', 'CUDA_ERROR_ILLEGAL_ADDRESS', 'a replay into a disposed output').isSticky, true);
      notes.push(`a replay into a disposed output → sticky CudaError at the next sync (${f.log()})`);
      return notes;
    },
  },

  'cache': {
    title: 'PagedKvCache on cuda: append kernel cannot load, slot buffer out of memory, mirror and copy-on-write copies failing',
    run(f) {
      const notes: string[] = [];
      const cache = new PagedKvCache({ backend: 'cuda', numBlocks: 16, numLayers: 2, maxBatch: 4, slotCapacity: 4 });
      const a = cache.addSequence();
      const r3 = rows(3, 2);
      const r10 = rows(10, 2);
      const r1 = rows(1, 2);
      let base = live(f);
      const ran = f.stat('kernels_run');
      f.arm('cuModuleLoadData@1=CUDA_ERROR_INVALID_IMAGE');
      expectCuda(() => cache.append([a, a, a], r3.cKv, r3.kPe), 'cuModuleLoadData', 'CUDA_ERROR_INVALID_IMAGE', 'the append kernel cannot load');
      f.arm('');
      noLeak(f, base, 'the append kernel cannot load');
      assert.equal(f.stat('kernels_run'), ran);
      cache.checkInvariants();
      notes.push(`append kernel cannot load → CudaError; the sequence's length after it: ${cache.seqLen(a)} (was 0: the reservation stays, the rows are unwritten)`);
      const len0 = cache.seqLen(a);
      cache.append([a, a, a], r3.cKv, r3.kPe);
      assert.equal(cache.seqLen(a), len0 + 3);
      healthy(f);
      // 10 tokens > slotCapacity 4: the slot buffer grows, and cannot
      base = live(f);
      const len = cache.seqLen(a);
      f.arm('cuMemAlloc_v2@1=CUDA_ERROR_OUT_OF_MEMORY');
      expectCuda(() => cache.append(Array(10).fill(a), r10.cKv, r10.kPe), 'cuMemAlloc_v2', OOM, 'the slot buffer cannot grow');
      f.arm('');
      noLeak(f, base, 'the slot buffer cannot grow');
      assert.equal(cache.seqLen(a), len, 'an append that could not allocate changed the sequence');
      cache.checkInvariants();
      cache.append(Array(10).fill(a), r10.cKv, r10.kPe);
      assert.equal(cache.seqLen(a), len + 10);
      noLeak(f, base, 'the slot buffer grown');
      notes.push('slot buffer growth out of memory → CudaError, the cache unchanged and still usable');
      // the device copies of the block table and the lengths: a failed write must be redone by the next call
      const c = cache.addSequence();
      cache.append([c], r1.cKv, r1.kPe);
      const expectRow = (id: number) => {
        const row = new Array<number>(cache.maxBlocksPerSeq).fill(0);
        cache.blocks(id).forEach((b, j) => (row[j] = b));
        return row;
      };
      f.arm('cuMemcpyHtoDAsync_v2@1=CUDA_ERROR_UNKNOWN');
      expectCuda(() => cache.blockTable([a, c]), 'cuMemcpyHtoDAsync_v2', UNKNOWN, 'the block table write');
      f.arm('cuMemcpyHtoDAsync_v2@1=CUDA_ERROR_UNKNOWN');
      expectCuda(() => cache.cacheSeqlens([a, c]), 'cuMemcpyHtoDAsync_v2', UNKNOWN, 'the lengths write');
      f.arm('');
      assert.deepEqual([...cache.blockTable([a, c]).toInt32()], [...expectRow(a), ...expectRow(c)], 'blockTable() after a failed write: the device copy is stale');
      assert.deepEqual([...cache.cacheSeqlens([a, c]).toInt32()], [cache.seqLen(a), cache.seqLen(c)], 'cacheSeqlens() after a failed write: the device copy is stale');
      notes.push('blockTable()/cacheSeqlens() whose device write failed → CudaError; the next call writes them');
      // copy-on-write: a fork appends into a shared, partly filled block; the copy (one per layer) fails
      const fk = cache.fork(a);
      base = live(f);
      for (const n of [1, 2]) {
        f.arm(`cuMemcpyDtoDAsync_v2@${n}=CUDA_ERROR_UNKNOWN`);
        expectCuda(() => cache.append([fk], r1.cKv, r1.kPe), 'cuMemcpyDtoDAsync_v2', UNKNOWN, `copy-on-write copy #${n}`);
        f.arm('');
        cache.checkInvariants();
        assert.equal(cache.seqLen(fk), cache.seqLen(a), `copy-on-write copy #${n} failed: the fork changed`);
      }
      cache.append([fk], r1.cKv, r1.kPe);
      cache.checkInvariants();
      assert.equal(cache.seqLen(fk), cache.seqLen(a) + 1);
      assert.notEqual(cache.blocks(fk).at(-1), cache.blocks(a).at(-1));
      noLeak(f, base, 'copy-on-write');
      healthy(f);
      notes.push('a copy-on-write copy failing (layer 0 or 1) → CudaError, invariants hold, the fork unchanged; the retry copies');
      // blockTable() is refused inside a capture (it would write host data); the next call outside writes the rows
      const d = cache.addSequence();
      cache.append([d], r1.cKv, r1.kPe);
      expectError(() => captureGraph(() => cache.blockTable([a, c, d])), Error, 'blockTable() inside a capture');
      assert.equal(f.stat('graphs'), 0);
      assert.deepEqual([...cache.blockTable([a, c, d]).toInt32()], [...expectRow(a), ...expectRow(c), ...expectRow(d)], 'blockTable() after one refused inside a capture: the device copy is stale');
      notes.push('blockTable() refused inside a capture → the next call outside writes its rows');
      cache.dispose();
      return notes;
    },
  },

  'cache-metadata-graphs': {
    title: "PagedKvCache.metadata's default order with graphs of two batch sizes over one cache (b 1: the batch order; b 2: the packed order): buffers of their own per order, no refusal in either capture order, each graph decoding through its order's entry",
    env: { FAKE_CUDA_CC: '9.0', FAKE_CUDA_SMEM_OPTIN: '232448', FAKE_CUDA_SMS: '132' },
    run(f) {
      const hQ = 64;
      const cache = new PagedKvCache({ backend: 'cuda', numBlocks: 32, maxBatch: 4 });
      const ids = [cache.addSequence(), cache.addSequence()];
      const r = rows(300, 1);
      cache.append([...Array<number>(200).fill(ids[0]), ...Array<number>(100).fill(ids[1])], r.cKv[0], r.kPe[0]);
      const graphOf = (b: number) => {
        const sel = ids.slice(0, b);
        const q = Tensor.empty([b, 1, hQ, 576], BF16);
        const out = Tensor.empty([b, 1, hQ, 512], BF16);
        const lse = Tensor.empty([b, hQ, 1], { dtype: 'fp32', backend: 'cuda' });
        const [table, seqlens, md] = [cache.blockTable(sel), cache.cacheSeqlens(sel), cache.metadata(sel, hQ)];
        const graph = captureGraph(() => {
          flashMlaWithKvcache(q, cache.kCache(), table, seqlens, 512, md.tileSchedulerMetadata, md.numSplits, { out, lse, causal: true });
        });
        return { graph, md, tensors: [q, out, lse] };
      };
      const entries = ['mla_decode_sm90_membound_bf16', 'mla_decode_sm90_packed_membound_bf16'] as const;
      const ran = () => entries.map((e) => f.stat(`ran:${e}`));
      const notes: string[] = [];
      for (const sizes of [[1, 2], [2, 1]]) {
        const before = ran();
        const graphs = sizes.map(graphOf);  // (before session 64's fix the second capture's metadata was refused)
        const [g1, g2] = sizes[0] === 1 ? graphs : [graphs[1], graphs[0]];
        assert.notEqual(g1.md.tileSchedulerMetadata.ptr, g2.md.tileSchedulerMetadata.ptr, 'the orders share their buffers');
        for (let step = 0; step < 2; step++) {
          cache.metadata(ids.slice(0, 1), hQ);
          cache.metadata(ids, hQ);
          g1.graph.replay();
          g2.graph.replay();
        }
        const [batchRuns, packedRuns] = ran().map((n, i) => n - before[i]);
        assert.equal(batchRuns, 2, 'b 1 (the batch order): two replays through the batch-order entry');
        assert.equal(packedRuns, 2, 'b 2 (the packed order asked): two replays through the table-reading entry');
        for (const g of graphs) (g.graph.dispose(), g.tensors.forEach((t) => t.dispose()));
        notes.push(`graphs captured at b ${sizes.join(', then b ')}: no refusal; two replays each, through the batch-order and the table-reading entry`);
      }
      cache.dispose();
      healthy(f);
      return notes;
    },
  },

  'cache-metadata-one-copy': {
    title: "PagedKvCache.metadata writes a step's schedule with one host→device copy (numSplits right after the rows in one allocation), the values those of getMlaMetadata on the host lengths, in both orders; the decode's value check accepts them",
    env: H100,
    run(f) {
      const hQ = 64;
      const cache = new PagedKvCache({ backend: 'cuda', numBlocks: 64, maxBatch: 8 });
      const ids = [cache.addSequence(), cache.addSequence(), cache.addSequence()];
      const lens = [700, 130, 1500];
      const r = rows(lens.reduce((a, x) => a + x), 1);
      cache.append(ids.flatMap((id, i) => Array<number>(lens[i]).fill(id)), r.cKv[0], r.kPe[0]);
      const q = Tensor.empty([3, 1, hQ, 576], BF16);
      const table = cache.blockTable(ids);
      const seqlens = cache.cacheSeqlens(ids);
      const notes: string[] = [];
      for (const packOrder of [false, true]) {
        const copies = f.calls('cuMemcpyHtoDAsync_v2');
        const md = cache.metadata(ids, hQ, 1, { packOrder });
        assert.equal(f.calls('cuMemcpyHtoDAsync_v2') - copies, 1, `metadata (packOrder ${packOrder}): host→device copies`);
        const host = Tensor.from(lens, [3], { dtype: 'int32', backend: 'cpu' });
        const ref = getMlaMetadata(host, hQ, 1, { backend: 'cpu', packOrder, smCount: 132 });
        assert.deepEqual([...md.tileSchedulerMetadata.toInt32()], [...ref.tileSchedulerMetadata.toInt32()], `tileSchedulerMetadata (packOrder ${packOrder})`);
        assert.deepEqual([...md.numSplits.toInt32()], [...ref.numSplits.toInt32()], `numSplits (packOrder ${packOrder})`);
        host.dispose();
        const out = flashMlaWithKvcache(q, cache.kCache(), table, seqlens, 512, md.tileSchedulerMetadata, md.numSplits, { causal: true });
        out.out.dispose();
        out.lse.dispose();
        healthy(f);
        notes.push(`packOrder ${packOrder}: one copy, the host's schedule, the decode's check passed`);
      }
      // getMlaMetadata into views of one storage that are not adjacent (a gap; numSplits first): a copy each, the
      // same values (the one-copy path must not take them)
      const host = Tensor.from(lens, [3], { dtype: 'int32', backend: 'cpu' });
      const ref = getMlaMetadata(host, hQ, 1, { backend: 'cpu', smCount: 132 });
      const parts = ref.tileSchedulerMetadata.shape[0];
      const both = Tensor.full([parts * 8 + 4 + 16], -7, I32);
      for (const [what, rowsAt, splitsAt] of [['a gap', 0, parts * 8 + 12], ['numSplits first', 4 + 5, 0]] as const) {
        const out = { tileSchedulerMetadata: both.view([parts, 8], undefined, rowsAt), numSplits: both.view([4], undefined, splitsAt) };
        const copies = f.calls('cuMemcpyHtoDAsync_v2');
        getMlaMetadata(host, hQ, 1, { out });
        assert.equal(f.calls('cuMemcpyHtoDAsync_v2') - copies, 2, `${what}: host→device copies`);
        assert.deepEqual([...out.tileSchedulerMetadata.toInt32()], [...ref.tileSchedulerMetadata.toInt32()], `${what}: tileSchedulerMetadata`);
        assert.deepEqual([...out.numSplits.toInt32()], [...ref.numSplits.toInt32()], `${what}: numSplits`);
      }
      notes.push('views of one storage that are not adjacent (a gap, numSplits first): two copies, the same values');
      both.dispose();
      host.dispose();
      q.dispose();
      cache.dispose();
      return notes;
    },
  },

  'step': {
    title: 'a decode step over a PagedKvCache (append, metadata, 2 layers of decode, read-back) with a fault at every call of each kind',
    run(f) {
      const hQ = 16;
      const L = 2;
      const cache = new PagedKvCache({ backend: 'cuda', numBlocks: 64, numLayers: L, maxBatch: 4 });
      const a = cache.addSequence();
      const prefill = rows(70, L);
      cache.append(Array(70).fill(a), prefill.cKv, prefill.kPe);
      const q = Array.from({ length: L }, () => Tensor.empty([2, 1, hQ, 576], BF16));
      const r2 = rows(2, L);
      const step = () => {
        const c = cache.addSequence(); // a request joins every step: its block-table row and length are new
        try {
          const ids = [a, c];
          cache.append(ids, r2.cKv, r2.kPe);
          const seqlens = cache.cacheSeqlens(ids);
          const table = cache.blockTable(ids);
          const md = metadata(seqlens, ids.map((id) => cache.seqLen(id)), hQ);
          try {
            for (let l = 0; l < L; l++) {
              const r = flashMlaWithKvcache(q[l], cache.kCache(l), table, seqlens, 512, md.tileSchedulerMetadata, md.numSplits);
              try {
                r.out.toFloat32();
              } finally {
                r.out.dispose();
                r.lse.dispose();
              }
            }
          } finally {
            md.tileSchedulerMetadata.dispose();
            md.numSplits.dispose();
          }
        } finally {
          cache.free(c);
        }
      };
      step();
      const base = live(f);
      const notes: string[] = [];
      for (const [fn, code] of [
        ['cuMemAlloc_v2', OOM],
        ['cuLaunchKernelEx', NO_RESOURCES],
        ['cuMemcpyHtoDAsync_v2', UNKNOWN],
        ['cuMemcpyDtoHAsync_v2', UNKNOWN],
        ['cuStreamSynchronize', UNKNOWN],
      ]) {
        const n = sweep(f, fn, code, step, base, () => cache.checkInvariants());
        assert.ok(n >= 2, `${fn}: only ${n} call(s) in a step`);
        notes.push(`${fn} failing: each of ${n} position(s) in the step → CudaError, nothing left allocated, the next step runs`);
      }
      cache.dispose();
      return notes;
    },
  },

  'bad-input': {
    title: 'refused input on cuda (shapes, values read back, stale metadata, FP8/unsupported, disposed tensors): nothing allocated or launched',
    run(f) {
      const p = problem();
      decodeStep(p)();
      const q16 = Tensor.empty([2, 1, 16, 576], { dtype: 'fp16', backend: 'cuda' });
      const longLens = Tensor.from([200, 30], [2], I32);
      const badTable = Tensor.from([0, 99, 2, 3], [2, 2], I32);
      const other = metadata(Tensor.from([10, 30], [2], I32), [10, 30], 16);
      const outBig = Tensor.empty([2 * 16 * 512 + 8], BF16);
      const outMisaligned = outBig.view([2, 1, 16, 512], undefined, 1);
      const gone = Tensor.empty([2, 1, 16, 576], BF16);
      gone.dispose();
      const fp8Cache = Tensor.empty([4, 64, 1, 656], { dtype: 'uint8', backend: 'cuda' });
      const kvHeads2 = Tensor.empty([4, 64, 2, 576], BF16);
      const mdHeads2 = getMlaMetadata(p.seqlens, 8, 2);
      const negative = Tensor.from([5, -1], [2], I32);
      const slots = Tensor.from([0, 4 * 64], [2], I32);
      const cKv = Tensor.empty([2, 512], BF16);
      const kPe = Tensor.empty([2, 64], BF16);
      const cKv16 = Tensor.empty([2, 512], { dtype: 'fp16', backend: 'cuda' });
      const md = p.md;
      const dec = (q: Tensor, k: Tensor, bt: Tensor, sl: Tensor, opts: FlashMlaOptions = {}, m = md, headDimV = 512) =>
        flashMlaWithKvcache(q, k, bt, sl, headDimV, m.tileSchedulerMetadata, m.numSplits, opts);
      const cases: [string, () => unknown, ErrorClass<Error>][] = [
        ['headDimV 256', () => dec(p.q, p.kCache, p.blockTable, p.seqlens, {}, md, 256), RangeError],
        ['q fp16 with a bf16 cache', () => dec(q16, p.kCache, p.blockTable, p.seqlens), TypeError],
        ['a seqlen past the block table (read back)', () => dec(p.q, p.kCache, p.blockTable, longLens), RangeError],
        ['a block index past the cache (read back)', () => dec(p.q, p.kCache, badTable, p.seqlens), RangeError],
        ['metadata of other seqlens (read back)', () => dec(p.q, p.kCache, p.blockTable, p.seqlens, {}, other), RangeError],
        ['an unknown kernel', () => dec(p.q, p.kCache, p.blockTable, p.seqlens, { kernel: 'nope' }), RangeError],
        ['a misaligned out', () => dec(p.q, p.kCache, p.blockTable, p.seqlens, { out: outMisaligned }), RangeError],
        ['a disposed q', () => dec(gone, p.kCache, p.blockTable, p.seqlens), DisposedError],
        ['an FP8 cache with a kernel that has no FP8 variant', () => dec(p.q, fp8Cache, p.blockTable, p.seqlens, { isFp8KvCache: true, kernel: 'generic-small' }), UnsupportedFeatureError],
        ["an h_kv = 2 cache with kernel 'generic-small' (the layouts run on 'generic' only)", () => dec(p.q, kvHeads2, p.blockTable, p.seqlens, { kernel: 'generic-small' }, mdHeads2), UnsupportedFeatureError],
        ['getMlaMetadata with a negative seqlen', () => getMlaMetadata(negative, 16, 1), RangeError],
        ['appendKv with a slot past the cache', () => appendKv(p.kCache, slots, cKv, kPe), RangeError],
        ['appendKv of fp16 rows into a bf16 cache', () => appendKv(p.kCache, slots, cKv16, kPe), TypeError],
      ];
      for (const [what, fn, cls] of cases) refused(f, what, fn, cls);
      return [`${cases.length} refused calls: none allocated device memory or launched a kernel`];
    },
  },

  'fp8': {
    title: 'the FP8 cache on cuda (quantizing appends, dense and sparse decode, the sink combine): valid pointers; launch faults → CudaError, nothing kept',
    run(f) {
      const notes: string[] = [];
      const U8 = { dtype: 'uint8', backend: 'cuda' } as const;
      // PagedKvCache({ kvFormat: 'fp8' }): appends through the block table's slots
      const cache = new PagedKvCache({ backend: 'cuda', numBlocks: 8, kvFormat: 'fp8', maxBatch: 2 });
      const a = cache.addSequence();
      const b = cache.addSequence();
      const r5 = rows(5, 1);
      let ran = f.stat('kernels_run');
      cache.append([a, a, a, b, b], r5.cKv[0], r5.kPe[0]);
      healthy(f);
      assert.equal(f.stat('kernels_run') - ran, 1, 'one append kernel per layer');
      // appendKv / appendKvPaged into a padded-stride cache of 61-token pages (slot mapping) and 64-token pages
      const storage = Tensor.zeros([4 * 62 * 656], U8);
      const k61 = storage.view([4, 61, 1, 656], [62 * 656, 656, 656, 1]);
      appendKv(k61, Tensor.from([0, 243, -1, 61, 100], [5], I32), r5.cKv[0], r5.kPe[0]);
      healthy(f);
      // dense decode over the FP8 cache, s_q 2, causal
      const ids = [a, b];
      const seqlens = cache.cacheSeqlens(ids);
      const table = cache.blockTable(ids);
      const q = Tensor.empty([2, 2, 16, 576], BF16);
      const md = metadata(seqlens, [3, 2], 2 * 16);
      const dense = () => {
        const r = flashMlaWithKvcache(q, cache.kCache(0), table, seqlens, 512, md.tileSchedulerMetadata, md.numSplits, { isFp8KvCache: true, causal: true });
        r.out.dispose();
        r.lse.dispose();
      };
      ran = f.stat('kernels_run');
      dense();
      healthy(f);
      assert.equal(f.stat('kernels_run') - ran, 2, 'dense FP8 decode: decode + combine');
      // sparse decode: topk 2048 over the 61-token pages (requests split over SM parts: the sink combine merges them)
      const topk = 2048;
      const idx = Int32Array.from({ length: 2 * topk }, (_, i) => (i % 7 === 0 ? -1 : (i * 13) % 300));
      const indices = Tensor.from(idx, [2, 1, topk], I32);
      const topkLength = Tensor.from([topk, 10], [2], I32);
      const sink = Tensor.from(Array.from({ length: 16 }, (_, h) => h - 8), [16], { dtype: 'fp32', backend: 'cuda' });
      const q1 = Tensor.empty([2, 1, 16, 576], BF16);
      const mdS = getMlaMetadata(null, 16, 1, { topk, batchSize: 2, backend: 'cuda' });
      assert.ok(mdS.numSplits.toInt32()[2] > 2, 'the sparse schedule splits the requests');
      const sparse = () => {
        const r = flashMlaWithKvcache(q1, k61, null, null, 512, mdS.tileSchedulerMetadata, mdS.numSplits, { isFp8KvCache: true, indices, topkLength, attnSink: sink });
        r.out.dispose();
        r.lse.dispose();
      };
      ran = f.stat('kernels_run');
      sparse();
      healthy(f);
      assert.equal(f.stat('kernels_run') - ran, 2, 'sparse decode: decode + the sink combine');
      notes.push('FP8 appends (PagedKvCache, a slot mapping into 61-token pages), dense and sparse decode: every pointer the kernels get lies in a live allocation');
      const base = live(f);
      for (const [what, step] of [['dense', dense], ['sparse', sparse]] as const) {
        const n = sweep(f, 'cuLaunchKernelEx', NO_RESOURCES, step, base);
        assert.equal(n, 2, `${what}: decode and combine launches`);
        notes.push(`${what} FP8 decode: each of its ${n} launches failing → CudaError, nothing left allocated, the retry runs`);
      }
      const r1 = rows(1, 1);
      cache.append([a], r1.cKv[0], r1.kPe[0]);
      const n = sweep(f, 'cuLaunchKernelEx', NO_RESOURCES, () => void cache.append([a], r1.cKv[0], r1.kPe[0]), live(f), () => cache.checkInvariants());
      notes.push(`FP8 append: its launch failing (${n} position) → CudaError`);
      cache.dispose();
      return notes;
    },
  },

  'layouts': {
    title: 'dense decode with h_kv > 1 and d_qk 512 (strided cache views), on by default: valid pointers; launch faults → CudaError, nothing kept',
    run(f) {
      const notes: string[] = [];
      const lens = [100, 30];
      const blockTable = Tensor.from([0, 1, 2, 3], [2, 2], I32);
      const seqlens = Tensor.from(lens, [2], I32);
      // a cache of 4 KV heads × 576 channels; the decodes read views of it: 2 of its heads, the first 512 channels
      const storage = Tensor.empty([4, 64, 4, 576], BF16);
      const cases: [string, Tensor, number, number][] = [
        ['h_kv 4, d_qk 576, s_q 2, causal', storage, 576, 2],
        ['h_kv 2 (heads 1 and 3 of the storage), d_qk 512', storage.view([4, 64, 2, 512], [64 * 4 * 576, 4 * 576, 2 * 576, 1], 576), 512, 1],
        ['h_kv 1, d_qk 512 (token rows 4 · 576 apart)', storage.view([4, 64, 1, 512], [64 * 4 * 576, 4 * 576, 576, 1], 2 * 576), 512, 3],
      ];
      const steps: [string, () => void][] = [];
      for (const [what, kCache, d, sQ] of cases) {
        const hKv = kCache.shape[2];
        const hQ = 4 * hKv;
        const q = Tensor.empty([2, sQ, hQ, d], BF16);
        const md = metadata(seqlens, lens, (sQ * hQ) / hKv, { hKv });
        const step = (kernel?: string) => () => {
          const r = flashMlaWithKvcache(q, kCache, blockTable, seqlens, 512, md.tileSchedulerMetadata, md.numSplits, { causal: sQ > 1, kernel });
          r.out.dispose();
          r.lse.dispose();
        };
        const ran = f.stat('kernels_run');
        step()();
        step('generic')();
        healthy(f);
        assert.equal(f.stat('kernels_run') - ran, 4, `${what}: decode + combine, twice`);
        for (const kernel of ['generic-small']) refused(f, `${what}, kernel '${kernel}'`, step(kernel), UnsupportedFeatureError);
        steps.push([what, step()]);
      }
      notes.push(`${cases.length} layouts (${cases.map((c) => c[0]).join('; ')}): every pointer the kernels get lies in a live allocation; kernel 'generic-small' refused, nothing allocated or launched`);
      const base = live(f);
      for (const [what, step] of steps) {
        const n = sweep(f, 'cuLaunchKernelEx', NO_RESOURCES, step, base);
        assert.equal(n, 2, `${what}: decode and combine launches`);
      }
      notes.push('each decode: its 2 launches failing → CudaError, nothing left allocated, the retry runs');
      return notes;
    },
  },

  'narrowed': {
    title: "FLASH_MLA_DECODE_KERNEL=generic-small: dense decodes run it only; FP8 and other-layout decodes still take kernel 'generic' (their own kernel)",
    env: { FLASH_MLA_DECODE_KERNEL: 'generic-small' },
    run(f) {
      assert.deepEqual(getBackend('cuda').decodeKernels(), ['generic-small']);
      const p = problem();
      const once = (fn: () => { out: Tensor; lse: Tensor }) => {
        const r = fn();
        r.out.dispose();
        r.lse.dispose();
      };
      once(() => decode(p, { kernel: 'generic-small' }));
      refused(f, "a dense decode with kernel 'generic' (narrowed out)", () => decode(p, { kernel: 'generic' }), RangeError);
      // the FP8 cache and h_kv > 1: the kernel that runs them is of the 'generic' family whatever the narrowing
      const fp8Cache = Tensor.empty([4, 64, 1, 656], { dtype: 'uint8', backend: 'cuda' });
      const hKv2 = Tensor.empty([4, 64, 2, 576], BF16);
      const md2 = metadata(p.seqlens, [100, 30], 8, { hKv: 2 });
      const fp8 = (kernel?: string) => () => flashMlaWithKvcache(p.q, fp8Cache, p.blockTable, p.seqlens, 512, p.md.tileSchedulerMetadata, p.md.numSplits, { isFp8KvCache: true, kernel });
      const gqa = (kernel?: string) => () => flashMlaWithKvcache(p.q, hKv2, p.blockTable, p.seqlens, 512, md2.tileSchedulerMetadata, md2.numSplits, { kernel });
      const ran = f.stat('kernels_run');
      for (const step of [fp8(), fp8('generic'), gqa(), gqa('generic')]) once(step);
      healthy(f);
      assert.equal(f.stat('kernels_run') - ran, 8, 'FP8 and h_kv 2 decodes, default and generic: decode + combine each');
      refused(f, "an FP8 decode with kernel 'generic-small'", fp8('generic-small'), UnsupportedFeatureError);
      refused(f, "an h_kv 2 decode with kernel 'generic-small'", gqa('generic-small'), UnsupportedFeatureError);
      refused(f, "an FP8 decode with kernel 'nope'", fp8('nope'), UnsupportedFeatureError);
      // the Hopper FP8 kernel: not on this device (an A100), so not offered — as 'hopper' for a dense decode
      assert.deepEqual(getBackend('cuda').decodeKernels(FP8_DENSE), ['generic']);
      refused(f, "an FP8 decode with kernel 'hopper' (no Hopper here)", fp8('hopper'), RangeError);
      return ["narrowed to generic-small: dense kernel 'generic' refused (RangeError); FP8 and h_kv 2 decodes run with no kernel or 'generic', refuse 'generic-small'; FP8 'hopper' is not offered off Hopper (RangeError)"];
    },
  },

  'narrowed, sm_90': {
    title: "FLASH_MLA_DECODE_KERNEL=generic-small on an H100: the FP8 cache's dense decodes run on 'generic' (the Hopper FP8 kernel is narrowed out with 'hopper'), 'hopper' refused for them",
    env: { ...H100, FLASH_MLA_DECODE_KERNEL: 'generic-small' },
    run(f) {
      const be = getBackend('cuda');
      assert.deepEqual(be.decodeKernels(), ['generic-small']);
      assert.deepEqual(be.decodeKernels(FP8_DENSE), ['generic', 'hopper-small']); // the opt-in small-row kernel: offered last, not narrowed (as for bf16)
      const c = fp8Case();
      const maps = f.calls('cuTensorMapEncodeTiled');
      const ran = f.stat('kernels_run');
      c.decode()();
      c.decode('generic')();
      healthy(f);
      assert.equal(f.stat('kernels_run') - ran, 4, 'decode + combine, twice');
      const attrs = f.calls('cuFuncSetAttribute');
      c.decode('generic')(); // its 160 KB of shared memory were opted into at the first launch
      healthy(f);
      assert.equal(f.calls('cuFuncSetAttribute'), attrs, 'a later launch raised the shared-memory limit again');
      assert.equal(f.calls('cuTensorMapEncodeTiled'), maps, 'the portable FP8 kernel takes no tensor map');
      assert.ok(!loadedModules().some((m) => m.file === 'mla_decode_sm90'), 'the Hopper kernel module was loaded');
      refused(f, "a dense FP8 decode with kernel 'hopper' (narrowed out)", c.decode('hopper'), RangeError);
      return ["narrowed to generic-small on sm_90: dense FP8 decodes run on 'generic' (default and asked for), 'hopper' refused (RangeError)"];
    },
  },

  'narrowed to hopper': {
    title: "FLASH_MLA_DECODE_KERNEL=hopper on an H100: the FP8 cache's dense and sparse bf16 decodes run on the Hopper FP8 kernels, 'generic' still runs them on request",
    env: { ...H100, FLASH_MLA_DECODE_KERNEL: 'hopper' },
    run(f) {
      const be = getBackend('cuda');
      assert.deepEqual(be.decodeKernels(), ['hopper']);
      assert.deepEqual(be.decodeKernels(FP8_DENSE), ['hopper', 'generic', 'hopper-small']);
      assert.deepEqual(be.decodeKernels({ ...FP8_DENSE, sparse: true }), ['hopper', 'generic', 'hopper-small']); // sparse h_q 16: the small-row kernel's sparse entry last (opt-in)
      assert.deepEqual(be.decodeKernels(SPARSE_H128), ['hopper', 'generic']);
      const c = fp8Case();
      const maps = f.calls('cuTensorMapEncodeTiled');
      c.decode()();
      assert.equal(f.calls('cuTensorMapEncodeTiled') - maps, 4, 'the default FP8 decode encodes the raw, RoPE, swizzled raw and scale maps');
      c.decode('generic')();
      c.sparse()();
      healthy(f);
      assert.ok(loadedModules().some((m) => m.file === 'mla_decode_fp8'), 'the portable FP8 kernel never ran');
      const sparse = sparseCase();
      const ran = f.stat('ran:mla_decode_sm90_fp8_sparse_bf16'), ranPair = f.stat('ran:mla_decode_sm90_fp8_sparse_pair_bf16');
      sparse.decode()();
      healthy(f);
      assert.equal(f.stat('ran:mla_decode_sm90_fp8_sparse_pair_bf16') - ranPair, 1, 'a sparse h_q 128 decode did not run the Hopper sparse kernel (its paired entry)');
      const p = problem();
      refused(f, "a dense 16-bit decode with kernel 'generic' (narrowed out)", () => decode(p, { kernel: 'generic' }), RangeError);
      c.sparse('hopper')();
      healthy(f);
      assert.equal(f.stat('ran:mla_decode_sm90_fp8_sparse_bf16') - ran, 1, 'a sparse h_q 16 decode did not run the Hopper sparse kernel');
      return ["narrowed to hopper: dense FP8 bf16 decodes, and sparse ones (h_q 16 and 128), on the Hopper FP8 kernels by default, 'generic' on request"];
    },
  },

  'hopper-fp8': {
    title: "an sm_90 device, dense FP8 decode with bf16 q: the Hopper FP8 kernel by default ('generic' on request); its four tensor maps (raw bytes, RoPE as bf16, and for the small-row kernel raw bytes in 128B-swizzled boxes and the token scales) encoded before anything is allocated — a failure → CudaError naming the descriptor, nothing launched or kept; launches failing → CudaError; fp16 q stays on 'generic' ('hopper' refused, typed); sparse decode runs on the Hopper sparse kernel",
    env: H100,
    run(f) {
      const notes: string[] = [];
      const be = getBackend('cuda');
      assert.deepEqual(be.decodeKernels(FP8_DENSE), ['hopper', 'generic', 'hopper-small']); // s_q not given: the small-row kernel last (h_q 16)
      assert.deepEqual(be.decodeKernels({ ...FP8_DENSE, sQ: 1 }), ['hopper-small', 'hopper', 'generic']); // h_q · s_q 16: the small-row kernel first
      assert.deepEqual(be.decodeKernels({ ...FP8_DENSE, sQ: 2 }), ['hopper-small', 'hopper', 'generic']); // 32 rows: its 32-row FP8 entry first
      assert.deepEqual(be.decodeKernels({ ...FP8_DENSE, sQ: 3 }), ['hopper', 'generic']); // 48 rows (this scenario's decodes): the Hopper FP8 kernel
      assert.deepEqual(be.decodeKernels({ ...FP8_DENSE, dtype: 'fp16' }), ['generic']);
      assert.deepEqual(be.decodeKernels({ ...FP8_DENSE, sparse: true }), ['hopper-small', 'hopper', 'generic']); // sparse h_q 16: the small-row kernel's sparse entry first
      const c = fp8Case();
      const base = live(f);
      const ran = f.stat('kernels_run');
      const hex = (x: bigint) => `0x${x.toString(16)}`;
      const strides = `strides=\\[${c.rowStride},${c.pageStride}\\]`;
      f.arm('cuTensorMapEncodeTiled@1=CUDA_ERROR_INVALID_VALUE');
      let e = expectCuda(c.decode(), 'cuTensorMapEncodeTiled', 'CUDA_ERROR_INVALID_VALUE', 'the raw-byte map');
      assert.match(e.message, new RegExp(`\\(dataType=0 rank=3 address=${hex(c.kCache.ptr)} dims=\\[656,64,${c.pages}\\] ${strides} box=\\[256,64,1\\] swizzle=0\\)`), e.message);
      f.arm('cuTensorMapEncodeTiled@2=CUDA_ERROR_INVALID_VALUE');
      e = expectCuda(c.decode(), 'cuTensorMapEncodeTiled', 'CUDA_ERROR_INVALID_VALUE', 'the RoPE map');
      assert.match(e.message, new RegExp(`\\(dataType=9 rank=3 address=${hex(c.kCache.ptr + 528n)} dims=\\[64,64,${c.pages}\\] ${strides} box=\\[64,64,1\\] swizzle=3\\)`), e.message);
      f.arm('cuTensorMapEncodeTiled@3=CUDA_ERROR_INVALID_VALUE');
      e = expectCuda(c.decode(), 'cuTensorMapEncodeTiled', 'CUDA_ERROR_INVALID_VALUE', 'the swizzled raw-byte map');
      assert.match(e.message, new RegExp(`\\(dataType=0 rank=3 address=${hex(c.kCache.ptr)} dims=\\[656,64,${c.pages}\\] ${strides} box=\\[128,64,1\\] swizzle=3\\)`), e.message);
      f.arm('cuTensorMapEncodeTiled@4=CUDA_ERROR_INVALID_VALUE');
      e = expectCuda(c.decode(), 'cuTensorMapEncodeTiled', 'CUDA_ERROR_INVALID_VALUE', 'the scale map');
      assert.match(e.message, new RegExp(`\\(dataType=0 rank=3 address=${hex(c.kCache.ptr + 512n)} dims=\\[16,64,${c.pages}\\] ${strides} box=\\[16,64,1\\] swizzle=0\\)`), e.message);
      f.arm('');
      noLeak(f, base, 'the tensor maps');
      assert.equal(f.stat('kernels_run'), ran, 'launched with a tensor map missing');
      notes.push('cuTensorMapEncodeTiled failing (raw-byte map, RoPE map, swizzled raw-byte map, scale map) → CudaError with the descriptor; nothing launched or kept');
      const maps = f.calls('cuTensorMapEncodeTiled');
      c.decode()();
      healthy(f);
      assert.equal(f.calls('cuTensorMapEncodeTiled') - maps, 4);
      assert.equal(f.stat('kernels_run') - ran, 2, 'decode + combine');
      assert.ok(loadedModules().some((m) => m.file === 'mla_decode_sm90'), 'the Hopper kernel module was not loaded');
      assert.ok(!loadedModules().some((m) => m.file === 'mla_decode_fp8'), 'the portable FP8 kernel ran');
      c.decode('hopper')();
      assert.equal(f.calls('cuTensorMapEncodeTiled') - maps, 4, 'the maps of a cache are encoded once');
      const warm = live(f);
      assert.equal(sweep(f, 'cuLaunchKernelEx', NO_RESOURCES, c.decode(), warm), 2);
      notes.push('by default and as kernel \'hopper\': decode + combine (PDL), launches failing → CudaError, nothing kept; the maps encoded once per cache');
      // 'generic' on request: the portable FP8 kernel (no tensor map)
      c.decode('generic')();
      healthy(f);
      assert.equal(f.calls('cuTensorMapEncodeTiled') - maps, 4);
      assert.ok(loadedModules().some((m) => m.file === 'mla_decode_fp8'), "kernel 'generic' did not run the portable FP8 kernel");
      // what the Hopper FP8 kernel does not run: fp16 q (on 'generic' by default); sparse decode (the sparse variant's);
      // other kernel names
      const q16 = Tensor.empty([2, 3, 16, 576], { dtype: 'fp16', backend: 'cuda' });
      c.decode(undefined, q16)();
      healthy(f);
      assert.equal(f.calls('cuTensorMapEncodeTiled') - maps, 4, 'fp16 q went to the Hopper FP8 kernel');
      const misfit = refused(f, "fp16 q with kernel 'hopper'", c.decode('hopper', q16), UnsupportedFeatureError);
      assert.equal(misfit.argument, 'kernel');
      assert.match(misfit.message, /the FP8 KV cache with fp16 q with decode kernel 'hopper' on cuda: not implemented yet \(the Hopper FP8 kernels run dense decode with bf16 q over 64-token pages/);
      const sparseRuns = f.stat('ran:mla_decode_sm90_fp8_sparse_bf16'), smallSparseRuns = f.stat('ran:mla_decode_sm90_small_fp8_sparse_bf16');
      c.sparse()();
      healthy(f);
      assert.equal(f.stat('ran:mla_decode_sm90_small_fp8_sparse_bf16') - smallSparseRuns, 1, "a sparse h_q 16 decode did not run the small-row kernel's sparse entry by default");
      c.sparse('hopper')();
      healthy(f);
      assert.equal(f.stat('ran:mla_decode_sm90_fp8_sparse_bf16') - sparseRuns, 1, "a sparse h_q 16 decode with kernel 'hopper' did not run the Hopper sparse kernel");
      refused(f, "kernel 'generic-small'", c.decode('generic-small'), UnsupportedFeatureError);
      notes.push("'generic' on request runs the portable kernel; fp16 q runs on it by default and is refused as 'hopper' (UnsupportedFeatureError, argument kernel); sparse h_q 16 runs on the small-row kernel's sparse entry by default, on the Hopper sparse kernel as 'hopper'; 'generic-small' refused");
      return notes;
    },
  },

  'hopper-sparse': {
    title: "an sm_90 device, sparse decode with bf16 q: the Hopper sparse FP8 kernel by default ('generic' on request), no tensor map, s_q · ceil(h_q / 64) m-blocks (h_q 128, 16, 96); launches failing (decode, then the combine or its sink variant) → CudaError, nothing kept; fp16 q stays on 'generic' and refuses 'hopper' typed; other kernel names refused typed; a one-page view with an odd page stride (never stepped over) runs on it",
    env: H100,
    run(f) {
      const notes: string[] = [];
      const be = getBackend('cuda');
      // h_q 128 (two m-blocks per query token): the paired entry, 2-CTA clusters; one m-block per token: the single one
      const entry = 'mla_decode_sm90_fp8_sparse_pair_bf16', single = 'mla_decode_sm90_fp8_sparse_bf16';
      assert.deepEqual(be.decodeKernels(SPARSE_H128), ['hopper', 'generic']);
      for (const [hQ, pageSize] of [[64, 1], [64, 64], [192, 2], [128, 64], [1, 61], [16, 64], [32, 2], [96, 61], [100, 64]]) {
        assert.deepEqual(be.decodeKernels({ ...SPARSE_H128, hQ, pageSize }), hQ <= 32 ? ['hopper-small', 'hopper', 'generic'] : ['hopper', 'generic'], `h_q ${hQ}`);
      }
      assert.deepEqual(be.decodeKernels({ ...SPARSE_H128, dtype: 'fp16' }), ['generic']);
      const c = sparseCase();
      // its entry cannot be loaded (the first function the decode looks up): CudaError, nothing allocated, launched or kept
      const base = live(f);
      const launches = f.calls('cuLaunchKernelEx');
      f.arm('cuModuleGetFunction@1=CUDA_ERROR_NOT_FOUND');
      expectCuda(c.decode({ kernel: 'hopper' }), 'cuModuleGetFunction', 'CUDA_ERROR_NOT_FOUND', 'the Hopper sparse entry not found');
      f.arm('');
      assert.equal(f.calls('cuLaunchKernelEx'), launches, 'launched with the kernel missing');
      noLeak(f, base, 'the kernel missing');
      healthy(f);
      notes.push('its entry missing from the module → CudaError (cuModuleGetFunction), nothing launched or kept');
      const maps = f.calls('cuTensorMapEncodeTiled');
      const ran = f.stat('kernels_run');
      const runs = () => f.stat(`ran:${entry}`);
      // as 'hopper' (twice, the second reusing what the first loaded): the Hopper sparse kernel, then the reshaped
      // combine (or the sink combine)
      for (const [k, opts] of [[1, { kernel: 'hopper' }], [2, { kernel: 'hopper' }], [3, { kernel: 'hopper', sink: true }], [4, { kernel: 'hopper', sink: true }]] as const) {
        const before = f.stat('ran:mla_combine_sink_bf16');
        c.decode(opts)();
        healthy(f);
        assert.equal(runs(), k, `${JSON.stringify(opts)}: ${entry} did not run`);
        assert.equal(f.stat('ran:mla_combine_sink_bf16') - before, 'sink' in opts ? 1 : 0, `${JSON.stringify(opts)}: the sink combine`);
      }
      assert.equal(f.stat('kernels_run') - ran, 8, 'decode + combine, four times');
      assert.equal(f.calls('cuTensorMapEncodeTiled'), maps, 'the Hopper sparse kernel takes no tensor map');
      assert.ok(!loadedModules().some((m) => m.file === 'mla_decode_fp8'), 'the portable FP8 kernel ran');
      // the launch: s_q · ceil(h_q / 64) m-blocks, the SM parts of the sparse metadata, 384 threads, its smem
      const shape = ['grid.x', 'grid.y', 'grid.z', 'block.x', 'block.y', 'block.z', 'smem'].map((x) => f.stat(`ran:${entry}:${x}`));
      assert.deepEqual(shape, [(2 * 128) / 64, c.md.tileSchedulerMetadata.shape[0], 1, 384, 1, 1, MLA_CONFIG.SM90_FP8S_SMEM_BYTES]);
      assert.deepEqual(['x', 'y', 'z'].map((x) => f.stat(`ran:${entry}:cluster.${x}`)), [2, 1, 1], 'the paired entry runs as 2-CTA clusters along x');
      assert.equal(f.stat('ran:mla_combine_sink_bf16:block.x'), MLA_CONFIG.COMBINE_THREADS);
      notes.push(`as kernel 'hopper': ${entry} with grid (${shape.slice(0, 3).join(', ')}), clusters (2, 1, 1), block ${shape[3]}, ${shape[6]} B dynamic smem, then the combine (the sink variant with attnSink); no tensor map`);
      const warm = live(f);
      assert.equal(sweep(f, 'cuLaunchKernelEx', NO_RESOURCES, c.decode({ kernel: 'hopper' }), warm), 2);
      assert.equal(sweep(f, 'cuLaunchKernelEx', NO_RESOURCES, c.decode({ kernel: 'hopper', sink: true }), warm), 2);
      notes.push('its launches failing (decode, combine; decode, sink combine) → CudaError, nothing kept, the retry runs');
      // 'generic' on request: the portable FP8 kernel
      c.decode({ kernel: 'generic' })();
      c.decode({ kernel: 'generic', sink: true })();
      healthy(f);
      assert.ok(loadedModules().some((m) => m.file === 'mla_decode_fp8'), "kernel 'generic' did not run the portable FP8 kernel");
      const hopperRuns = runs();
      // h_q not a multiple of 64: each query token's heads padded to whole m-blocks (16, 32 → 1 per token: the single
      // entry; 96 → 2: the paired one); by default h_q ≤ 32 runs on the small-row kernel's sparse entry, one CTA per
      // 16 heads of a query token
      let k = 0;
      for (const hQ of [16, 32, 96]) {
        const other = sparseCase(hQ);
        const e = Math.ceil(hQ / 64) % 2 === 0 ? entry : single;
        const before = f.stat(`ran:${e}`);
        const small = f.stat('ran:mla_decode_sm90_small_fp8_sparse_bf16');
        other.decode()(); // h_q ≤ 32: the small-row kernel's sparse entry by default
        if (hQ <= 32) assert.equal(f.stat('ran:mla_decode_sm90_small_fp8_sparse_bf16:grid.x'), 2 * Math.ceil(hQ / 16), `h_q ${hQ}: the small-row sparse entry's CTAs per query token`);
        other.decode({ sink: true, kernel: 'hopper' })();
        healthy(f);
        if (e === entry) k += 2;
        assert.equal(f.stat(`ran:${e}`) - before, hQ <= 32 ? 1 : 2, `h_q ${hQ} did not run the Hopper sparse kernel (${e})`);
        assert.equal(f.stat('ran:mla_decode_sm90_small_fp8_sparse_bf16') - small, hQ <= 32 ? 1 : 0, `h_q ${hQ}: the small-row sparse entry by default for h_q ≤ 32 only`);
        assert.equal(f.stat(`ran:${e}:grid.x`), 2 * Math.ceil(hQ / 64), `h_q ${hQ}: m-blocks`);
        other.decode({ kernel: 'generic' })();
        healthy(f);
        assert.equal(f.stat(`ran:${e}`) - before, hQ <= 32 ? 1 : 2, `h_q ${hQ} with kernel 'generic' ran the Hopper sparse kernel`);
      }
      // h_q 17–32 with work enough for the SM parts (src/cuda/fp8-decode.ts sparseR32: b · s_q · ceil(topk / 64) ≥ 3 per
      // part): the 32-column entry, one CTA per query token
      for (const hQ of [20, 32]) {
        const big = sparseCase(hQ, 64);
        const before = f.stat('ran:mla_decode_sm90_small_fp8_sparse_r32_bf16'), groups = f.stat('ran:mla_decode_sm90_small_fp8_sparse_bf16');
        big.decode()();
        big.decode({ sink: true })();
        healthy(f);
        assert.equal(f.stat('ran:mla_decode_sm90_small_fp8_sparse_r32_bf16') - before, 2, `h_q ${hQ}, b 64: the 32-column sparse entry`);
        assert.equal(f.stat('ran:mla_decode_sm90_small_fp8_sparse_r32_bf16:grid.x'), 2, `h_q ${hQ}, b 64: one CTA per query token`);
        assert.equal(f.stat('ran:mla_decode_sm90_small_fp8_sparse_bf16') - groups, 0, `h_q ${hQ}, b 64: no head groups`);
        big.storage.dispose();
      }
      const q16 = Tensor.empty([2, 2, 128, 576], { dtype: 'fp16', backend: 'cuda' });
      c.decode({ qq: q16 })();
      healthy(f);
      assert.equal(runs(), hopperRuns + k, 'fp16 q went to the Hopper sparse kernel');
      const fp16 = refused(f, "fp16 q with kernel 'hopper'", c.decode({ qq: q16, kernel: 'hopper' }), UnsupportedFeatureError);
      assert.match(fp16.message, /^kernel: sparse decode over the FP8 KV cache with fp16 q with decode kernel 'hopper'/);
      for (const kernel of ['generic-small', 'nope']) {
        const e = refused(f, `kernel '${kernel}'`, c.decode({ kernel }), UnsupportedFeatureError);
        assert.equal(e.argument, 'kernel');
      }
      notes.push("'generic' on request runs the portable kernel; h_q 16 and 96 run on the Hopper sparse kernel with 2 and 4 m-blocks (h_q 96: the paired entry); fp16 q runs on 'generic' by default and is refused as 'hopper' (UnsupportedFeatureError, argument kernel); 'generic-small', 'nope' refused");
      // one page of 61 tokens whose page stride is no multiple of 16: never stepped over (page 0 only), so the Hopper kernel takes it
      const onePage = c.storage.view([1, 61, 1, 656], [62 * 672 + 8, 672, 672, 1], 32);
      c.decode({ cache: onePage, kernel: 'hopper' })();
      healthy(f);
      assert.equal(runs(), hopperRuns + k + 1, 'a single page with an odd page stride did not run on the Hopper sparse kernel');
      notes.push('a one-page cache view (its page stride never used) runs on the Hopper sparse kernel');
      return notes;
    },
  },

  'hopper': {
    title: 'an sm_90 device (hopper kernel, TMA descriptor, PDL): the tensor map cannot be encoded, launches fail → CudaError, nothing kept',
    env: H100,
    run(f) {
      assert.equal(getBackend('cuda').decodeKernels()[0], 'hopper');
      const p = problem();
      const base = live(f);
      const ran = f.stat('kernels_run');
      f.arm('cuTensorMapEncodeTiled@1=CUDA_ERROR_INVALID_VALUE');
      const e = expectCuda(decodeStep(p), 'cuTensorMapEncodeTiled', 'CUDA_ERROR_INVALID_VALUE', 'the K cache tensor map');
      assert.match(e.message, /\(dataType=9 rank=3 address=0x[0-9a-f]+ dims=\[576,64,4\]/);
      f.arm('');
      noLeak(f, base, 'the K cache tensor map');
      assert.equal(f.stat('kernels_run'), ran);
      decodeStep(p)();
      healthy(f);
      const warm = live(f);
      const n = sweep(f, 'cuLaunchKernelEx', NO_RESOURCES, decodeStep(p), warm);
      assert.equal(n, 2);
      return ['cuTensorMapEncodeTiled failing → CudaError with the descriptor, nothing launched or kept; decode/combine launches (PDL) failing → CudaError'];
    },
  },

  'cluster-fit': {
    title: "an sm_90 device whose SMs come in groups of 3 (clusters of 2 fit one per group: 44 at once, not the 66 a 132-CTA grid needs): the paired sparse entry falls back to its one-CTA entry (a failing occupancy query: 'cluster-query')",
    env: { ...H100, FAKE_CUDA_SM_GROUP: '3' },
    run(f) {
      const c = sparseCase();
      c.decode({ kernel: 'hopper' })();
      healthy(f);
      assert.equal(f.stat('ran:mla_decode_sm90_fp8_sparse_bf16'), 1, 'sparse h_q 128 did not fall back to the single entry');
      assert.equal(f.stat('ran:mla_decode_sm90_fp8_sparse_pair_bf16'), 0, 'the paired entry ran although its clusters do not fit at once');
      return ['sparse h_q 128: the single entry (44 clusters of 2 at once, 66 needed)'];
    },
  },

  'cluster-query': {
    title: 'an sm_90 device: the paired sparse entry runs where its clusters fit; its occupancy query failing (not stickily) → that decode on the single entry, no error; the next asks again and pairs, with no more device memory than the first',
    env: H100,
    run(f) {
      const c = sparseCase();
      f.arm('cuOccupancyMaxActiveClusters@1=CUDA_ERROR_INVALID_VALUE');
      c.decode({ kernel: 'hopper' })();
      f.arm('');
      healthy(f);
      assert.equal(f.stat('ran:mla_decode_sm90_fp8_sparse_bf16'), 1, 'the query failed: the single entry did not run');
      assert.equal(f.stat('ran:mla_decode_sm90_fp8_sparse_pair_bf16'), 0, 'the query failed: the paired entry ran');
      const warm = live(f);
      c.decode({ kernel: 'hopper' })();
      healthy(f);
      noLeak(f, warm, 'the decode after the failed query');
      assert.equal(f.stat('ran:mla_decode_sm90_fp8_sparse_pair_bf16'), 1, 'the query asked again: the paired entry did not run');
      return ['the occupancy query failing → the single entry, no error; asked again next time → the paired entry'];
    },
  },
};

// ---------------------------------------------------------------------------------------------- runner

await fakeCudaScenarios(import.meta.url, 'fault injection through a fake CUDA driver', scenarios);
