// Working beside other CUDA code (src/cuda/interop.ts, Tensor.fromDevicePointer) without a GPU: the fake libcuda.so.1
// of test/util/fake-cuda.c answers cuMemGetAddressRange_v2 / cuPointerGetAttribute for its allocations and counts
// cuStreamWaitEvent. Checked: the library's stream handle; the two orderings queue one event record and one wait each,
// reuse their events, and are refused inside a capture with a message that says what to do; tensors over memory the
// library did not allocate read and write that memory, are refused outside an allocation, misaligned or past its end,
// free nothing on dispose, and go through the decode API (launches checked against live allocations by the fake).
// The emulated decode over such tensors (bit for bit the owned tensors' result): test/kernel-emulation.test.ts,
// 'foreign memory'.
//
// This file is also the child: with FLASH_MLA_FAKE_SCENARIO set it runs that scenario against the fake and prints
// a JSON line.

import assert from 'node:assert/strict';
import {
  DisposedError, Tensor, captureGraph, cudaStream, flashMlaWithKvcache, getMlaMetadata, makeStreamWait, releaseCachedDeviceMemory, waitForStream,
} from '../src/index.js';
import { PinnedHostBuffer, Stream } from '../src/cuda/runtime.js';
import { foreignAlloc, type ForeignBuffer } from './util/foreign-memory.js';
import { fakeCudaScenarios, type FakeCudaControl } from './util/fake-cuda.js';

const HOPPER = { FAKE_CUDA_CC: '9.0', FAKE_CUDA_SMEM_OPTIN: '232448', FAKE_CUDA_SMS: '8', FAKE_CUDA_NAME: 'Fake H200' };

/** The driver calls `fn` makes, of those named. */
function callsOf(f: FakeCudaControl, names: string[], fn: () => void): Record<string, number> {
  const before = names.map((n) => f.calls(n));
  fn();
  return Object.fromEntries(names.map((n, i) => [n, f.calls(n) - before[i]]));
}

await fakeCudaScenarios(import.meta.url, 'working beside other CUDA code (fake driver)', {
  stream: {
    title: "cudaStream() is the library's stream (one, created once; the handle its copies and launches use)",
    run(f) {
      const s = cudaStream();
      assert.equal(typeof s, 'bigint');
      assert.notEqual(s, 0n);
      assert.equal(cudaStream(), s);
      const t = Tensor.full([256], 1, { dtype: 'fp32', backend: 'cuda' });
      assert.deepEqual(Array.from(t.toFloat32().slice(0, 2)), [1, 1]);
      assert.equal(f.stat('streams'), 1, 'the library made one stream');
      t.dispose();
      return [`stream 0x${s.toString(16)}`];
    },
  },

  orderings: {
    title: 'waitForStream / makeStreamWait: one event record on the stream waited for and one cuStreamWaitEvent by the waiting one, no host wait, two events reused; the default streams (0n, 1n, 2n) accepted; bad handles refused naming the argument',
    run(f) {
      cudaStream(); // (the library's context first: another stream is made in it, as another library would)
      const other = Stream.create();
      const names = ['cuEventCreate', 'cuEventRecord', 'cuStreamWaitEvent', 'cuStreamSynchronize', 'cuEventSynchronize'];
      const lib = Number(cudaStream());
      // which stream records and which one waits (the fake notes the handles)
      const direction = () => ({ recordedOn: f.stat('last_record_stream'), waitedBy: f.stat('last_wait_stream') });
      const first = callsOf(f, names, () => waitForStream(other.handle));
      assert.deepEqual(first, { cuEventCreate: 1, cuEventRecord: 1, cuStreamWaitEvent: 1, cuStreamSynchronize: 0, cuEventSynchronize: 0 });
      assert.deepEqual(direction(), { recordedOn: Number(other.handle), waitedBy: lib }, 'waitForStream: recorded on the other stream, waited on by the library\'s');
      const back = callsOf(f, names, () => makeStreamWait(other.handle));
      assert.deepEqual(back, { cuEventCreate: 1, cuEventRecord: 1, cuStreamWaitEvent: 1, cuStreamSynchronize: 0, cuEventSynchronize: 0 });
      assert.deepEqual(direction(), { recordedOn: lib, waitedBy: Number(other.handle) }, 'makeStreamWait: recorded on the library\'s stream, waited on by the other');
      for (const dflt of [0n, 1n, 2n]) {
        // the legacy default stream, CU_STREAM_LEGACY and CU_STREAM_PER_THREAD (a --default-stream per-thread program's)
        waitForStream(dflt);
        assert.deepEqual(direction(), { recordedOn: Number(dflt), waitedBy: lib });
        makeStreamWait(dflt);
        assert.deepEqual(direction(), { recordedOn: lib, waitedBy: Number(dflt) });
      }
      const again = callsOf(f, names, () => {
        for (let i = 0; i < 5; i++) {
          waitForStream(other.handle);
          makeStreamWait(other.handle);
        }
        waitForStream(0n);
        makeStreamWait(0n);
      });
      assert.deepEqual(again, { cuEventCreate: 0, cuEventRecord: 12, cuStreamWaitEvent: 12, cuStreamSynchronize: 0, cuEventSynchronize: 0 });
      assert.equal(f.stat('stream_waits'), 20);
      assert.equal(f.stat('events'), 2, 'one event per direction');
      for (const [bad, type, msg] of [
        [5, TypeError, /^stream: expected a CUstream handle as a bigint \(0n: the legacy default stream\), got 5$/],
        [null, TypeError, /^stream: expected a CUstream handle as a bigint/],
        [-1n, RangeError, /^stream: expected a CUstream handle in \[0, 2\^64\), got -1$/],
      ] as const) {
        assert.throws(() => waitForStream(bad as bigint), (e: Error) => e instanceof type && msg.test(e.message), String(bad));
        assert.throws(() => makeStreamWait(bad as bigint), (e: Error) => e instanceof type && msg.test(e.message), String(bad));
      }
      other.dispose();
      return ['20 waits queued through 2 events, each the right way round'];
    },
  },

  'in capture': {
    title: 'inside captureGraph both orderings are refused before any driver call (the capture stays valid), with what to do instead; work on cudaStream() is captured',
    run(f) {
      cudaStream();
      const other = Stream.create();
      const t = Tensor.zeros([64], { dtype: 'fp32', backend: 'cuda' });
      const waits = f.calls('cuStreamWaitEvent');
      const graph = captureGraph(() => {
        for (const fn of [waitForStream, makeStreamWait]) {
          assert.throws(
            () => fn(other.handle),
            (e: Error) => new RegExp(`^${fn.name}: not inside captureGraph .*launch the other work on cudaStream\\(\\) during the capture instead`).test(e.message),
          );
        }
        t.fill(3); // (a fill on the library's stream: captured)
      });
      assert.equal(f.calls('cuStreamWaitEvent'), waits);
      assert.equal(t.toFloat32()[0], 0, 'the fill was captured, not run'); // (the fake's replays run kernels only)
      graph.replay();
      graph.synchronize();
      assert.equal(f.stat('sticky'), 0, f.log());
      graph.dispose();
      t.dispose();
      other.dispose();
      return ['refused inside the capture; the capture ended valid and replayed'];
    },
  },

  'foreign memory': {
    title: "Tensor.fromDevicePointer over another library's cuMemAlloc: reads and writes it (contiguous and strided), its views stay inside it, dispose frees nothing; refused, each naming the argument: a non-bigint, misaligned, unknown or past-the-end address, page-locked host memory, a block of the library's own (in use or cached), a missing dtype, bad strides; a driver failure reported as itself",
    run(f) {
      const mem = foreignAlloc(512);
      const frees = f.calls('cuMemFree_v2');
      const allocs = f.stat('allocs');
      const w = Tensor.fromDevicePointer(mem.ptr, [128], { dtype: 'fp32' });
      assert.equal(w.backend, 'cuda');
      assert.equal(w.ptr, mem.ptr);
      w.write(Float32Array.from({ length: 128 }, (_, i) => i));
      const again = Tensor.fromDevicePointer(mem.ptr, [128], { dtype: 'fp32' });
      assert.deepEqual(Array.from(again.toFloat32().slice(0, 4)), [0, 1, 2, 3], 'a second wrapper sees the first one\'s write');
      // strided: every other element of rows of 16, from element 32 (a 16-byte aligned address)
      const strided = Tensor.fromDevicePointer(mem.ptr + 128n, [4, 8], { dtype: 'fp32', strides: [16, 2] });
      assert.deepEqual(Array.from(strided.toFloat32()), Array.from({ length: 32 }, (_, k) => 32 + 16 * Math.floor(k / 8) + 2 * (k % 8)));
      assert.equal(w.view([2, 64]).toFloat32()[127], 127);
      assert.throws(() => w.view([129]), /^RangeError: view: shape \[129\] .* the storage holds 128$/);
      assert.equal(f.stat('allocs'), allocs, 'wrapping allocated nothing');
      for (const t of [w, again, strided]) t.dispose();
      assert.throws(() => w.toFloat32(), DisposedError);
      assert.equal(f.calls('cuMemFree_v2'), frees, 'disposing a wrapper frees nothing');
      const hex = (p: bigint) => `0x${p.toString(16)}`;
      const own = Tensor.zeros([128], { dtype: 'fp32', backend: 'cuda' });
      const cached = Tensor.zeros([1000], { dtype: 'fp32', backend: 'cuda' });
      const cachedPtr = cached.ptr;
      cached.dispose(); // (its block stays the library's, in its cache of freed blocks)
      const host = PinnedHostBuffer.alloc(4096);
      const refused: [unknown, readonly number[], object, ErrorConstructor, RegExp][] = [
        [Number(mem.ptr), [4], { dtype: 'fp32' }, TypeError, /^ptr: expected a device address as a bigint \(e\.g\. a cudaMalloc result\), got \d+$/],
        [0n, [4], { dtype: 'fp32' }, RangeError, /^ptr: expected a device address in \(0, 2\^64\), got 0x0$/],
        [mem.ptr + 4n, [4], { dtype: 'fp32' }, RangeError, new RegExp(`^ptr: expected a 16-byte aligned address \\(the kernels read with 16-byte vectors and TMA\\), got ${hex(mem.ptr + 4n)}$`)],
        [0x1000n, [4], { dtype: 'fp32' }, RangeError, /^ptr: expected an address inside a device allocation \(cuMemAlloc, cudaMalloc, a memory pool\), got 0x1000, which the driver knows no allocation at$/],
        [mem.ptr, [129], { dtype: 'fp32' }, RangeError, new RegExp(`^ptr: the tensor spans 516 B from ${hex(mem.ptr)} to ${hex(mem.ptr + 516n)}, past the end of its allocation \\(${hex(mem.ptr)} \\+ 512 B = ${hex(mem.ptr + 512n)}\\)$`)],
        [mem.ptr + 256n, [2, 32], { dtype: 'fp32', strides: [64, 1] }, RangeError, /past the end of its allocation/],
        [host.ptr, [4], { dtype: 'fp32' }, RangeError, /^ptr: expected device memory, got 0x[0-9a-f]+ in host memory \(memory type 1: cuMemAllocHost, cudaHostAlloc or registered\)/],
        [own.ptr, [4], { dtype: 'fp32' }, RangeError, /^ptr: 0x[0-9a-f]+ lies in memory flash-mla allocated \(a tensor's storage, cached or in use, or its workspace\): use that tensor or its view\(\)/],
        [cachedPtr + 64n, [4], { dtype: 'fp32' }, RangeError, /lies in memory flash-mla allocated/],
        [mem.ptr, [4], {}, TypeError, /^dtype: expected one of .*, got undefined$/],
        [mem.ptr, [4], { dtype: 'fp32', strides: [1, 1] }, RangeError, /^strides: expected 1 entries, got 2$/],
        [mem.ptr, [4], { dtype: 'fp32', strides: [-1] }, RangeError, /^strides\[0\]: expected a non-negative integer, got -1$/],
        [mem.ptr, [-4], { dtype: 'fp32' }, RangeError, /^shape\[0\]: expected a non-negative integer, got -4$/],
      ];
      for (const [ptr, shape, opts, type, msg] of refused) {
        assert.throws(() => Tensor.fromDevicePointer(ptr as bigint, shape, opts as { dtype: 'fp32' }), (e: Error) => e instanceof type && msg.test(e.message), `${String(ptr)} ${JSON.stringify(shape)} ${JSON.stringify(opts)}`);
      }
      // a failure of the driver's own (a fault) is reported as itself, never as "no allocation"
      f.arm('cuMemGetAddressRange_v2@1=CUDA_ERROR_UNKNOWN');
      assert.throws(() => Tensor.fromDevicePointer(mem.ptr, [4], { dtype: 'fp32' }), (e: Error) => e.name === 'CudaError' && /^cuMemGetAddressRange_v2 failed: CUDA_ERROR_UNKNOWN/.test(e.message));
      f.arm('');
      assert.equal(f.stat('sticky'), 0);
      own.dispose();
      host.dispose();
      mem.free();
      releaseCachedDeviceMemory();
      return [`${refused.length} refusals and a driver failure`];
    },
  },

  'other device': {
    title: "memory the driver places on another device (FAKE_CUDA_POINTER_ORDINAL=1) is refused, naming both devices",
    env: { FAKE_CUDA_POINTER_ORDINAL: '1' },
    run() {
      const mem = foreignAlloc(256);
      assert.throws(() => Tensor.fromDevicePointer(mem.ptr, [4], { dtype: 'fp32' }), /^RangeError: ptr: 0x[0-9a-f]+ is memory of device 1; flash-mla runs on device 0 \(FLASH_MLA_DEVICE\)$/);
      mem.free();
      return [];
    },
  },

  decode: {
    title: "a decode whose q, cache, block table, seqlens and outputs are all another library's memory (wrapped, the inputs copied in): validated like owned tensors, launched ('hopper-small' and 'hopper') on those addresses, no fault",
    env: HOPPER,
    run(f) {
      const notes: string[] = [];
      for (const hQ of [16, 64]) {
        const b = 2, sQ = 1;
        const own = {
          q: Tensor.full([b, sQ, hQ, 576], 0.5, { dtype: 'bf16', backend: 'cuda' }),
          kCache: Tensor.full([4, 64, 1, 576], 0.25, { dtype: 'bf16', backend: 'cuda' }),
          blockTable: Tensor.from(new Int32Array([0, 1, 2, 3]), [b, 2], { dtype: 'int32', backend: 'cuda' }),
          cacheSeqlens: Tensor.from(new Int32Array([100, 70]), [b], { dtype: 'int32', backend: 'cuda' }),
          out: Tensor.empty([b, sQ, hQ, 512], { dtype: 'bf16', backend: 'cuda' }),
          lse: Tensor.empty([b, hQ, sQ], { dtype: 'fp32', backend: 'cuda' }),
        };
        const mems: ForeignBuffer[] = [];
        const theirs = (t: Tensor) => {
          const m = foreignAlloc(t.numel * (t.dtype === 'bf16' ? 2 : 4));
          mems.push(m);
          const w = Tensor.fromDevicePointer(m.ptr, t.shape, { dtype: t.dtype });
          w.copyFrom(t);
          return w;
        };
        const w = Object.fromEntries(Object.entries(own).map(([k, t]) => [k, theirs(t)])) as typeof own;
        // host-side metadata (the fake computes no kernel: the value checks need real schedules)
        const md = getMlaMetadata(Tensor.from(new Int32Array([100, 70]), [b], { dtype: 'int32' }), sQ * hQ, 1, { backend: 'cuda' });
        const launches = f.calls('cuLaunchKernelEx');
        const r = flashMlaWithKvcache(w.q, w.kCache, w.blockTable, w.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, { causal: true, out: w.out, lse: w.lse });
        assert.equal(r.out, w.out);
        assert.ok(f.calls('cuLaunchKernelEx') > launches, 'nothing launched');
        r.lse.toFloat32(); // (a read: a launch on a dead address would have poisoned the context)
        assert.equal(f.stat('sticky'), 0, f.log());
        const ran = hQ === 16 ? 'mla_decode_sm90_small_bf16' : 'mla_decode_sm90_membound_bf16';
        assert.ok(f.stat(`ran:${ran}`) > 0, `${ran} did not run`);
        for (const t of [...Object.values(w), ...Object.values(own), md.tileSchedulerMetadata, md.numSplits]) t.dispose();
        for (const m of mems) m.free();
        notes.push(`h_q ${hQ}: ran ${ran}`);
      }
      releaseCachedDeviceMemory();
      return notes;
    },
  },
});
