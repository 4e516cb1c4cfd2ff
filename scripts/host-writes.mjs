// Does a host→device write wait for the GPU? (dev-only; node scripts/host-writes.mjs after npm run build, on a GPU.)
// The driver's documentation allows a cuMemcpyHtoDAsync from pageable memory to "synchronize with the stream" when it
// stages the copy; from page-locked memory it never does. A server that writes each step's tables and schedule while
// the GPU still runs the previous step loses that overlap if the write waits. For each write below, the host time of
// one call (median of RUNS after WARM calls) with the stream idle (synchronized before the call) and busy (a 1 GiB
// memset queued just before the call, ~0.3–0.4 ms of GPU): busy ≫ idle means the call waited for the memset.
import { Tensor, getMlaMetadata, synchronize, scheduleTiles, numSmPartsFor, getBackend } from '../dist/src/index.js';
import { getCudaContext } from '../dist/src/cuda/context.js';
import { copyHtoD, memset, PinnedHostBuffer } from '../dist/src/cuda/runtime.js';
import { allocDeviceBuffer } from '../dist/src/cuda/block-cache.js';
import { rng } from '../dist/src/util/random.js';

const RUNS = Number(process.env.RUNS ?? 101);
const WARM = Number(process.env.WARM ?? 300);
const { stream } = getCudaContext();
const busyWords = (1 << 30) / 4;
const busyBuf = allocDeviceBuffer(busyWords * 4);
const keepBusy = () => memset(busyBuf.ptr, 0, busyWords, 4, stream);
const median = (xs) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];

function hostMicros(call, busy) {
  for (let i = 0; i < WARM; i++) call();
  synchronize();
  const us = [];
  for (let i = 0; i < RUNS; i++) {
    if (busy) keepBusy();
    const t = performance.now();
    call();
    us.push((performance.now() - t) * 1e3);
    synchronize();
  }
  return median(us);
}

const cases = [];
for (const bytes of [1024, 65536, 1179648]) {
  const dev = Tensor.empty([bytes / 4], { dtype: 'int32', backend: 'cuda' });
  const host = new Int32Array(bytes / 4).fill(7);
  cases.push([`Tensor.write ${bytes} B (pageable)`, () => dev.write(host)]);
  const pinned = PinnedHostBuffer.alloc(bytes);
  cases.push([`copy ${bytes} B from page-locked memory`, () => copyHtoD(dev.ptr, pinned.bytesView, stream)]);
}
const r = rng(1);
for (const [name, b, hQ, fixed, packOrder] of [
  ['b 1 × 16384, h_q 128', 1, 128, 16384, false],
  ['b 32 var ≤ 4096, h_q 128', 32, 128, 0, false],
  ['b 128 var ≤ 8192, h_q 16', 128, 16, 0, false],
  ['b 128 var ≤ 8192, h_q 16, packOrder', 128, 16, 0, true],
  ['b 512 × 256, h_q 16', 512, 16, 256, false],
]) {
  const lens = Int32Array.from({ length: b }, () => fixed || 1 + Math.floor(r() * (hQ === 128 ? 4096 : 8192)));
  const hostLens = Tensor.from(lens, [b], { dtype: 'int32', backend: 'cpu' });
  const out = getMlaMetadata(hostLens, hQ, 1, { backend: 'cuda', packOrder });
  const parts = numSmPartsFor(getBackend('cuda').smCount(), hQ, 1);
  cases.push([`scheduleTiles alone (no copies), ${name}`, () => scheduleTiles(lens, parts, undefined, true, undefined, undefined, packOrder ? 3 : 0)]);
  cases.push([`getMlaMetadata host lengths → device, ${name}`, () => getMlaMetadata(hostLens, hQ, 1, { out, packOrder, checkValues: false })]);
  // PagedKvCache.metadata's buffers: numSplits right after the rows in one allocation, written by one copy
  const both = Tensor.empty([parts * 8 + b + 1], { dtype: 'int32', backend: 'cuda' });
  const one = { tileSchedulerMetadata: both.view([parts, 8], undefined, 0), numSplits: both.view([b + 1], undefined, parts * 8) };
  cases.push([`  the same into one allocation (one copy)`, () => getMlaMetadata(hostLens, hQ, 1, { out: one, packOrder, checkValues: false })]);
}

console.log(`host µs per call, median of ${RUNS} after ${WARM} warm-up calls: stream idle | busy (1 GiB memset queued first)`);
for (const [name, call] of cases) {
  const idle = hostMicros(call, false);
  const busy = hostMicros(call, true);
  console.log(`${name.padEnd(62)} ${idle.toFixed(1).padStart(8)} | ${busy.toFixed(1).padStart(8)}${busy > idle + 50 ? '   (waited)' : ''}`);
}
keepBusy();
const t = performance.now();
synchronize();
console.log(`(the 1 GiB memset alone: ${((performance.now() - t) * 1e3).toFixed(0)} µs of host wait after queueing it)`);
