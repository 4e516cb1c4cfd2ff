// Working beside other CUDA code in the same process: the library's stream (to launch other kernels on it, or to
// order another stream against it with events, never a host wait), and device memory the library did not allocate
// (a model's activations, a cache another library owns) as tensors (Tensor.fromDevicePointer, through
// cudaMemory.wrap). The library runs in the device's primary context — the one the CUDA runtime (cudart) uses — so
// memory from cudaMalloc / cuMemAlloc in that context, and streams made there, work as they are.

import { isCapturing } from '../capture.js';
import type { DeviceStorage } from '../backend.js';
import { fmtValue } from '../util/fmt-value.js';
import { getCudaContext } from './context.js';
import { CudaEvent, deviceAllocationOf, streamWaitEvent } from './runtime.js';

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
 * Device memory at `ptr` of `bytes` bytes that the library did not allocate, as tensor storage: checked to lie inside
 * one device allocation of the library's context, 16-byte aligned (the kernels' vector loads and TMA need it, and the
 * layout checks count alignment from the storage's start); dispose() frees nothing — the memory stays its owner's.
 */
export function wrapDeviceMemory(ptr: unknown, bytes: number): DeviceStorage {
  if (typeof ptr !== 'bigint') throw new TypeError(`ptr: expected a device address as a bigint (e.g. another tensor's .ptr, a cudaMalloc result), got ${fmtValue(ptr)}`);
  if (ptr <= 0n || ptr >= 1n << 64n) throw new RangeError(`ptr: expected a device address in (0, 2^64), got 0x${ptr.toString(16)}`);
  if (ptr % 16n !== 0n) throw new RangeError(`ptr: expected a 16-byte aligned address (the kernels read with 16-byte vectors and TMA), got 0x${ptr.toString(16)}`);
  const { device } = getCudaContext();
  const alloc = deviceAllocationOf(ptr);
  if (!alloc) throw new RangeError(`ptr: expected an address inside a device allocation (cuMemAlloc, cudaMalloc, a memory pool), got 0x${ptr.toString(16)}, which the driver knows no allocation at`);
  if (alloc.context !== 0n && alloc.context !== device.context) {
    throw new RangeError(`ptr: 0x${ptr.toString(16)} was allocated in another CUDA context; flash-mla runs in device ${device.info.ordinal}'s primary context (the CUDA runtime's): allocate there`);
  }
  const end = alloc.base + alloc.bytes;
  if (ptr + BigInt(bytes) > end) {
    throw new RangeError(
      `ptr: the tensor spans ${bytes} B from 0x${ptr.toString(16)} to 0x${(ptr + BigInt(bytes)).toString(16)}, past the end of its allocation (0x${alloc.base.toString(16)} + ${alloc.bytes} B = 0x${end.toString(16)})`,
    );
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
