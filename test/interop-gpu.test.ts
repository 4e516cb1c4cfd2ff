// Working beside other CUDA code on a GPU (src/cuda/interop.ts, Tensor.fromDevicePointer): the real driver's answers
// for memory the library did not allocate (cuMemAlloc'd buffers of "another library": whole, inside, past the end, not
// device memory), and a decode step whose q arrives by a copy on another stream and whose output leaves by one, ordered
// only by waitForStream / makeStreamWait, bit for bit the decode over owned tensors. (The fake driver's version of
// these checks: test/interop.test.ts.)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, cudaStream, flashMlaWithKvcache, getMlaMetadata, makeStreamWait, waitForStream } from '../src/index.js';
import { DeviceBuffer, Stream, copyDtoD } from '../src/cuda/runtime.js';
import { denseTensors, makeDenseProblem } from './util/layouts.js';
import { freshSeed, gpuSkipReason } from './util/problem.js';

const skip = await gpuSkipReason();

test('fromDevicePointer on the real driver: a cuMemAlloc buffer whole and inside, refused past its end and at an address no allocation holds', { skip }, () => {
  cudaStream();
  const buf = DeviceBuffer.alloc(1 << 20); // another library's allocation (not the library's block cache)
  try {
    const whole = Tensor.fromDevicePointer(buf.ptr, [1 << 18], { dtype: 'fp32' });
    whole.fill(2);
    const inside = Tensor.fromDevicePointer(buf.ptr + 4096n, [16, 16], { dtype: 'fp32', strides: [64, 1] });
    assert.deepEqual(Array.from(inside.toFloat32().slice(0, 3)), [2, 2, 2]);
    assert.throws(() => Tensor.fromDevicePointer(buf.ptr + 16n, [1 << 18], { dtype: 'fp32' }), /past the end of its allocation/);
    assert.throws(() => Tensor.fromDevicePointer(0x100000n, [4], { dtype: 'fp32' }), /the driver knows no allocation at/);
    whole.dispose();
    inside.dispose();
  } finally {
    buf.dispose();
  }
});

test('a decode between two copies on another stream, ordered by waitForStream / makeStreamWait only: bit for bit the decode over owned tensors', { skip }, () => {
  const seed = freshSeed();
  cudaStream();
  const other = Stream.create();
  for (const [hQ, sQ] of [[16, 1], [64, 2]] as const) {
    const spec = { b: 4, sQ, hQ, hKv: 1, d: 576, seqlens: [3000, 70, 1, 700], dtype: 'bf16' as const, fp8: false, seed };
    const p = makeDenseProblem(spec);
    const cpu = denseTensors(p);
    const own = { q: cpu.q.to('cuda'), kCache: cpu.kCache.to('cuda'), blockTable: cpu.blockTable.to('cuda'), cacheSeqlens: cpu.cacheSeqlens.to('cuda') };
    const md = getMlaMetadata(cpu.cacheSeqlens, sQ * hQ, 1, { backend: 'cuda' });
    const want = flashMlaWithKvcache(own.q, own.kCache, own.blockTable, own.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, { causal: true });
    // "the other library": its q and output buffers, written and read on its own stream
    const qBytes = own.q.numel * 2, outBytes = want.out.numel * 2;
    const qBuf = DeviceBuffer.alloc(qBytes), outBuf = DeviceBuffer.alloc(outBytes), copyBack = DeviceBuffer.alloc(outBytes);
    try {
      const q = Tensor.fromDevicePointer(qBuf.ptr, own.q.shape, { dtype: 'bf16' });
      const out = Tensor.fromDevicePointer(outBuf.ptr, want.out.shape, { dtype: 'bf16' });
      out.fill(NaN);
      for (let round = 0; round < 3; round++) {
        makeStreamWait(other.handle); // (the fill above, and the last round's decode, before the copies)
        copyDtoD(qBuf.ptr, own.q.ptr, qBytes, other); // q "computed" on the other stream
        waitForStream(other.handle);
        const got = flashMlaWithKvcache(q, own.kCache, own.blockTable, own.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, { causal: true, out, lse: Tensor.empty(want.lse.shape, { dtype: 'fp32', backend: 'cuda' }) });
        makeStreamWait(other.handle);
        copyDtoD(copyBack.ptr, outBuf.ptr, outBytes, other); // out "read" on the other stream
        other.synchronize();
        const back = Tensor.fromDevicePointer(copyBack.ptr, want.out.shape, { dtype: 'bf16' });
        assert.deepEqual(back.toRaw(), want.out.toRaw(), `h_q ${hQ}, s_q ${sQ}, round ${round}: out (seed ${seed})`);
        assert.deepEqual(got.lse.toRaw(), want.lse.toRaw(), `h_q ${hQ}, s_q ${sQ}, round ${round}: lse (seed ${seed})`);
        back.dispose();
        got.lse.dispose();
      }
      q.dispose();
      out.dispose();
    } finally {
      qBuf.dispose();
      outBuf.dispose();
      copyBack.dispose();
    }
    for (const t of [...Object.values(own), ...Object.values(cpu), md.tileSchedulerMetadata, md.numSplits, want.out, want.lse]) t.dispose();
  }
  other.dispose();
});
