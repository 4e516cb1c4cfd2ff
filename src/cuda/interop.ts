// Working beside other CUDA code in the same process: the library's stream (to launch other kernels on it, or to
// order another stream against it with events, never a host wait), and device memory the library did not allocate
// (a model's activations, a cache another library owns) as tensors (Tensor.fromDevicePointer, through
// cudaMemory.wrap). The library runs in the device's primary context — the one the CUDA runtime (cudart) uses — so
// memory from cudaMalloc / cuMemAlloc in that context, and streams made there, work as they are.

import { isCapturing } from '../capture.js';
import type { DeviceStorage } from '../backend.js';
import { fmtValue } from '../util/fmt-value.js';
import { getCudaContext } from './context.js';
import { CU_MEMORYTYPE_DEVICE, CudaEvent, DeviceBuffer, deviceAllocationOf, streamWaitEvent } from './runtime.js';

/**
 * The handle (a CUstream, the same value as a cudaStream_t) of the stream every cuda operation of flash-mla is
 * queued on, in call order. Launch other kernels on it and they are ordered with the library's work without any
 * event; inside `captureGraph` they are captured into the graph with it. A non-blocking stream: it does not wait for
 * the legacy default stream (0), nor that for it — use `waitForStream` / `makeStreamWait` for other streams.
 */
export function cudaStream(): bigint {
  return getCudaContext().stream.handle;
}

function expectStreamHandle(name: string, stream: unknown): asserts stream is bigint {
  if (typeof stream !== 'bigint') throw new TypeError(`${name}: expected a CUstream handle as a bigint (0n: the legacy default stream), got ${fmtValue(stream)}`);
  if (stream < 0n || stream >= 1n << 64n) throw new RangeError(`${name}: expected a CUstream handle in [0, 2^64), got ${stream}`);
}

function refuseInCapture(fn: string): void {
  if (isCapturing()) {
    throw new Error(
      `${fn}: not inside captureGraph (a wait between captured and uncaptured work is refused by the driver); launch the other work on cudaStream() during the capture instead — it is captured in call order with the library's`,
    );
  }
}

// One event per direction, reused: a wait takes the event's state when it is queued, so recording it again later does
// not change what an earlier wait waits for.
let libraryDone: CudaEvent | null = null;
let otherDone: CudaEvent | null = null;

/**
 * The library's later work (kernels, copies, fills) waits for the work queued on `stream` so far — e.g. the kernels
 * that wrote q or the cache — without a host wait (an event recorded on `stream`, waited on by the library's stream).
 */
export function waitForStream(stream: bigint): void {
  expectStreamHandle('stream', stream);
  refuseInCapture('waitForStream');
  const lib = getCudaContext().stream;
  otherDone ??= CudaEvent.createForOrdering();
  otherDone.recordOnHandle(stream);
  lib.waitEvent(otherDone);
}

/**
 * `stream`'s later work waits for the work the library has queued so far — e.g. a decode's `out` before the kernel
 * that reads it — without a host wait.
 */
export function makeStreamWait(stream: bigint): void {
  expectStreamHandle('stream', stream);
  refuseInCapture('makeStreamWait');
  libraryDone ??= CudaEvent.createForOrdering();
  libraryDone.record(getCudaContext().stream);
  streamWaitEvent(stream, libraryDone);
}

/**
 * Device memory at `ptr` of `bytes` bytes that the library did not allocate, as tensor storage. Checked with the driver
 * first: inside one allocation of device memory (not host memory, however mapped) on the library's device, made in
 * its context or in none (memory pools, virtual-memory mappings), not one of the library's own (a tensor's block,
 * cached or not: that tensor, or its view(), is the way to it — a wrapper would outlive its block's reuse), and
 * 16-byte aligned (the kernels' vector loads and TMA need it, and the layout checks count alignment from the
 * storage's start). dispose() frees nothing — the memory stays its owner's.
 */
export function wrapDeviceMemory(ptr: unknown, bytes: number): DeviceStorage {
  if (typeof ptr !== 'bigint') throw new TypeError(`ptr: expected a device address as a bigint (e.g. a cudaMalloc result), got ${fmtValue(ptr)}`);
  if (ptr <= 0n || ptr >= 1n << 64n) throw new RangeError(`ptr: expected a device address in (0, 2^64), got 0x${ptr.toString(16)}`);
  const at = `0x${ptr.toString(16)}`;
  if (ptr % 16n !== 0n) throw new RangeError(`ptr: expected a 16-byte aligned address (the kernels read with 16-byte vectors and TMA), got ${at}`);
  const { device } = getCudaContext();
  const alloc = deviceAllocationOf(ptr);
  if (!alloc) throw new RangeError(`ptr: expected an address inside a device allocation (cuMemAlloc, cudaMalloc, a memory pool), got ${at}, which the driver knows no allocation at`);
  if (alloc.memoryType !== null && alloc.memoryType !== CU_MEMORYTYPE_DEVICE) {
    throw new RangeError(`ptr: expected device memory, got ${at} in host memory (memory type ${alloc.memoryType}: cuMemAllocHost, cudaHostAlloc or registered): flash-mla's kernels take device memory only`);
  }
  if (alloc.deviceOrdinal !== null && alloc.deviceOrdinal >= 0 && alloc.deviceOrdinal !== device.info.ordinal) {
    throw new RangeError(`ptr: ${at} is memory of device ${alloc.deviceOrdinal}; flash-mla runs on device ${device.info.ordinal} (FLASH_MLA_DEVICE)`);
  }
  if (alloc.context !== 0n && alloc.context !== device.context) {
    throw new RangeError(`ptr: ${at} was allocated in another CUDA context; flash-mla runs in device ${device.info.ordinal}'s primary context (the CUDA runtime's): allocate there`);
  }
  if (DeviceBuffer.isLibraryAllocation(alloc.base)) {
    throw new RangeError(`ptr: ${at} lies in memory flash-mla allocated (a tensor's storage, cached or in use, or its workspace): use that tensor or its view() — a wrapper would outlive the block's reuse`);
  }
  const end = alloc.base + alloc.bytes;
  if (ptr + BigInt(bytes) > end) {
    throw new RangeError(`ptr: the tensor spans ${bytes} B from ${at} to 0x${(ptr + BigInt(bytes)).toString(16)}, past the end of its allocation (0x${alloc.base.toString(16)} + ${alloc.bytes} B = 0x${end.toString(16)})`);
  }
  let disposed = false;
  return {
    ptr,
    bytes,
    get disposed() {
      return disposed;
    },
    dispose() {
      disposed = true;
    },
  };
}
