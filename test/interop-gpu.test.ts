// Working beside other CUDA code on a GPU (src/cuda/interop.ts, Tensor.fromDevicePointer): the real driver's answers
// for memory the library did not allocate (another library's cuMemAlloc whole, inside, past its end; page-locked host
// memory; an address no allocation holds; the library's own blocks), and decode steps whose q arrives by a copy on
// another stream queued behind a long one and whose output leaves by a copy on that stream, ordered only by
// waitForStream / makeStreamWait (value checks off: no host wait anywhere in a round), each round a new q, bit for bit
// the decode over owned tensors. (The fake driver's version of these checks: test/interop.test.ts.)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, cudaStream, flashMlaWithKvcache, getMlaMetadata, makeStreamWait, waitForStream } from '../src/index.js';
import { PinnedHostBuffer, Stream, copyDtoD, memset } from '../src/cuda/runtime.js';
import { foreignAlloc } from './util/foreign-memory.js';
import { denseTensors, makeDenseProblem } from './util/layouts.js';
import { freshSeed, gpuSkipReason } from './util/problem.js';

const skip = await gpuSkipReason();

test("fromDevicePointer on the real driver: another library's cuMemAlloc whole and inside; refused past its end, in page-locked host memory, at no allocation, in the library's own blocks", { skip }, () => {
  cudaStream();
  const mem = foreignAlloc(1 << 20);
  const host = PinnedHostBuffer.alloc(1 << 16);
  const own = Tensor.zeros([1024], { dtype: 'fp32', backend: 'cuda' });
  try {
    const whole = Tensor.fromDevicePointer(mem.ptr, [1 << 18], { dtype: 'fp32' });
    whole.fill(2);
    const inside = Tensor.fromDevicePointer(mem.ptr + 4096n, [16, 16], { dtype: 'fp32', strides: [64, 1] });
    assert.deepEqual(Array.from(inside.toFloat32().slice(0, 3)), [2, 2, 2]);
    assert.throws(() => Tensor.fromDevicePointer(mem.ptr + 16n, [1 << 18], { dtype: 'fp32' }), /past the end of its allocation/);
    assert.throws(() => Tensor.fromDevicePointer(host.ptr, [4], { dtype: 'fp32' }), /^RangeError: ptr: expected device memory, got 0x[0-9a-f]+ in host memory/);
    assert.throws(() => Tensor.fromDevicePointer(0x100000n, [4], { dtype: 'fp32' }), /the driver knows no allocation at/);
    assert.throws(() => Tensor.fromDevicePointer(own.ptr, [4], { dtype: 'fp32' }), /lies in memory flash-mla allocated/);
    whole.dispose();
    inside.dispose();
  } finally {
    own.dispose();
    host.dispose();
    mem.free();
  }
});

test('decode rounds between copies on another stream, ordered by waitForStream / makeStreamWait only (a long copy queued first, no host wait): bit for bit the owned decodes', { skip }, () => {
  const seed = freshSeed();
  cudaStream();
  const other = Stream.create();
  const delay = foreignAlloc(2 * (256 << 20)); // a 256 MiB copy on the other stream before each q: ~0.1 ms of DRAM time
  try {
    for (const [hQ, sQ] of [[16, 1], [64, 2]] as const) {
      const spec = { b: 4, sQ, hQ, hKv: 1, d: 576, seqlens: [3000, 70, 1, 700], dtype: 'bf16' as const, fp8: false };
      const problems = [0, 1, 2].map((r) => makeDenseProblem({ ...spec, seed: seed + r }));
      const cpu = denseTensors(problems[0]); // the cache, block table and seqlens of round 0 for every round
      const qs = problems.map((p) => denseTensors(p).q.to('cuda')); // each round's q (owned)
      const shared = { kCache: cpu.kCache.to('cuda'), blockTable: cpu.blockTable.to('cuda'), cacheSeqlens: cpu.cacheSeqlens.to('cuda') };
      const md = getMlaMetadata(cpu.cacheSeqlens, sQ * hQ, 1, { backend: 'cuda' });
      const wants = qs.map((q) => flashMlaWithKvcache(q, shared.kCache, shared.blockTable, shared.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, { causal: true }));
      // "the other library": its q and output buffers, written and read on its own stream
      const qBytes = qs[0].numel * 2, outBytes = wants[0].out.numel * 2;
      const qMem = foreignAlloc(qBytes), outMem = foreignAlloc(outBytes), backMem = foreignAlloc(outBytes);
      try {
        const q = Tensor.fromDevicePointer(qMem.ptr, qs[0].shape, { dtype: 'bf16' });
        const out = Tensor.fromDevicePointer(outMem.ptr, wants[0].out.shape, { dtype: 'bf16' });
        const lse = Tensor.empty(wants[0].lse.shape, { dtype: 'fp32', backend: 'cuda' });
        for (let round = 0; round < 3; round++) {
          makeStreamWait(other.handle); // (the library's work so far — the last round's decode — before the other stream's)
          memset(outMem.ptr, 0x7fc0, outBytes / 2, 2, other); // out poisoned with NaN by the other stream
          copyDtoD(delay.ptr + BigInt(256 << 20), delay.ptr, 256 << 20, other); // the other stream busy a while
          copyDtoD(qMem.ptr, qs[round].ptr, qBytes, other); // this round's q "computed" on the other stream, late
          waitForStream(other.handle);
          flashMlaWithKvcache(q, shared.kCache, shared.blockTable, shared.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, { causal: true, out, lse, checkValues: false });
          makeStreamWait(other.handle);
          copyDtoD(backMem.ptr, outMem.ptr, outBytes, other); // out "read" on the other stream
          other.synchronize();
          const back = Tensor.fromDevicePointer(backMem.ptr, wants[0].out.shape, { dtype: 'bf16' });
          assert.deepEqual(back.toRaw(), wants[round].out.toRaw(), `h_q ${hQ}, s_q ${sQ}, round ${round}: out (seed ${seed})`);
          assert.deepEqual(lse.toRaw(), wants[round].lse.toRaw(), `h_q ${hQ}, s_q ${sQ}, round ${round}: lse (seed ${seed})`);
          back.dispose();
        }
        for (const t of [q, out, lse]) t.dispose();
      } finally {
        qMem.free();
        outMem.free();
        backMem.free();
      }
      for (const t of [...qs, ...Object.values(shared), ...Object.values(cpu), md.tileSchedulerMetadata, md.numSplits, ...wants.flatMap((w) => [w.out, w.lse])]) t.dispose();
    }
  } finally {
    delay.free();
    other.dispose();
  }
});
