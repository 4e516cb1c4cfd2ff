// The CUDA driver layer: without a GPU it must fail with a typed one-line reason; with one, memory, copies,
// events, the smoke kernel through Kernel.launch, a graph replay and CudaError must all work.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CudaError, CudaUnavailableError, Tensor, cudaAvailable } from '../src/index.js';
import { CudaDevice, CudaEvent, DeviceBuffer, Graph, Stream, copyDtoH, copyHtoD } from '../src/cuda/runtime.js';
import { getCudaContext, loadKernel } from '../src/cuda/context.js';
import { call } from '../src/cuda/driver.js';
import { cubinRuns } from '../src/cuda/kernels.js';
import { gpuSkipReason, rng, freshSeed } from './util/problem.js';

const skip = await gpuSkipReason();

test('without a usable driver, cuda tensors throw CudaUnavailableError with a one-line reason', { skip: skip === false ? 'a GPU is present' : false }, () => {
  assert.equal(cudaAvailable(), false);
  assert.throws(
    () => Tensor.empty([4], { backend: 'cuda' }),
    (e: unknown) => e instanceof CudaUnavailableError && !e.message.includes('\n') && e.message.startsWith('CUDA is not available: '),
  );
});

test('device attributes are read', { skip }, () => {
  const { info } = CudaDevice.get();
  console.log(`device: ${info.name}, cc ${info.computeCapability.major}.${info.computeCapability.minor}, ${info.smCount} SMs, ` +
    `${(info.totalMemoryBytes / 2 ** 30).toFixed(1)} GiB, L2 ${info.l2CacheBytes / 2 ** 20} MiB, smem opt-in ${info.maxSharedMemoryPerBlockOptin} B, driver ${info.driverVersion}`);
  assert.ok(info.smCount > 0 && info.l2CacheBytes > 0 && info.maxSharedMemoryPerBlockOptin >= 48 * 1024);
});

test('memory round trip, memset, tensors on cuda', { skip }, () => {
  const seed = freshSeed();
  const r = rng(seed);
  const host = Float32Array.from({ length: 1 << 16 }, () => r() - 0.5);
  const t = Tensor.from(host, [256, 256], { dtype: 'fp32', backend: 'cuda' });
  assert.deepEqual(t.toFloat32(), host, `seed ${seed}`);
  const bf = Tensor.from(host, [256, 256], { dtype: 'bf16', backend: 'cuda' });
  assert.deepEqual(bf.toRaw(), Tensor.from(host, [256, 256], { dtype: 'bf16' }).toRaw());
  bf.fill(NaN);
  assert.ok(bf.toFloat32().every(Number.isNaN));
  const copy = t.to('cuda');
  assert.deepEqual(copy.toFloat32(), host);
  for (const x of [t, bf, copy]) x.dispose();
});

test('CudaError names the call and the CUresult', { skip }, () => {
  CudaDevice.get();
  assert.throws(
    () => call('cuMemAlloc_v2', new BigUint64Array(1), 2 ** 50),
    (e: unknown) => e instanceof CudaError && e.call === 'cuMemAlloc_v2' && e.codeName === 'CUDA_ERROR_OUT_OF_MEMORY' && e.code === 2,
  );
});

test('smoke kernel: cubin loaded, launched through the driver layer, result checked; events; graph replay', { skip }, (t) => {
  const { device, stream } = getCudaContext();
  // smoke is built for sm_80 and sm_90a only (no PTX: it is never shipped); other GPUs: the PTX path's test covers this
  const arch = ['sm_90a', 'sm_80'].filter((a) => cubinRuns(a, device.info));
  if (arch.length === 0) {
    t.skip(`no smoke cubin runs on compute capability ${device.info.computeCapability.major}.${device.info.computeCapability.minor} (see test/portable-gpu.test.ts)`);
    return;
  }
  const axpy = loadKernel('smoke', arch, 'smoke_axpy', ['f32', 'ptr', 'ptr', 'i32']);
  const n = 1 << 20;
  const x = Float32Array.from({ length: n }, (_, i) => (i % 97) / 7);
  const y = Float32Array.from({ length: n }, (_, i) => (i % 13) - 6);
  const dx = DeviceBuffer.alloc(n * 4);
  const dy = DeviceBuffer.alloc(n * 4);
  copyHtoD(dx.ptr, x);
  copyHtoD(dy.ptr, y);
  const start = CudaEvent.create();
  const end = CudaEvent.create();
  start.record(stream);
  axpy.launch({ grid: [1024, 1, 1], block: [256, 1, 1], stream }, 2.5, dx.ptr, dy.ptr, n);
  end.record(stream);
  end.synchronize();
  const ms = end.elapsedSince(start);
  const got = new Float32Array(n);
  copyDtoH(got, dy.ptr);
  for (let i = 0; i < n; i++) assert.equal(got[i], Math.fround(2.5 * x[i] + y[i]), `element ${i}`); // one FMA: exact in float64, rounded once
  console.log(`smoke_axpy: ${n} elements in ${(ms * 1000).toFixed(1)} µs`);
  // the same launch captured and replayed twice: y += 2·(2.5·x)
  const s2 = Stream.create();
  const g = Graph.capture(s2, () => axpy.launch({ grid: [1024, 1, 1], block: [256, 1, 1], stream: s2 }, 2.5, dx.ptr, dy.ptr, n));
  g.launch(s2);
  g.launch(s2);
  s2.synchronize();
  const got2 = new Float32Array(n);
  copyDtoH(got2, dy.ptr);
  for (let i = 0; i < n; i += 997) {
    const once = Math.fround(2.5 * x[i] + got[i]);
    assert.equal(got2[i], Math.fround(2.5 * x[i] + once), `graph element ${i}`);
  }
  g.dispose();
  s2.dispose();
  for (const b of [dx, dy]) b.dispose();
  start.dispose();
  end.dispose();
});

test('tensor map encoding: a K-cache-shaped bf16 tiled map with 128-byte swizzle', { skip }, async () => {
  const { encodeTensorMap, TensorMapDataType, TensorMapSwizzle } = await import('../src/cuda/runtime.js');
  const k = Tensor.empty([8, 64, 1, 576], { dtype: 'bf16', backend: 'cuda' });
  const map = encodeTensorMap({
    dataType: TensorMapDataType.bf16,
    address: k.ptr,
    dims: [576, 64, 1, 8],
    strides: [576 * 2, 576 * 2, 64 * 576 * 2],
    box: [64, 64, 1, 1],
    swizzle: TensorMapSwizzle.b128,
  });
  assert.equal(map.byteLength, 128);
  assert.ok(map.some((x) => x !== 0));
  // a misaligned stride is refused with every argument in the message
  assert.throws(
    () => encodeTensorMap({ dataType: TensorMapDataType.bf16, address: k.ptr, dims: [576, 64], strides: [1150], box: [64, 64], swizzle: TensorMapSwizzle.b128 }),
    (e: unknown) => e instanceof CudaError && e.call === 'cuTensorMapEncodeTiled' && /strides=\[1150\]/.test(e.message),
  );
  k.dispose();
});
