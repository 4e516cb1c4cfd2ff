// The cuda backend's tensor storage (backend.ts DeviceMemory): device buffers, copies and fills on the
// library's stream. tensor.ts and the kvcache reach device memory only through this, via getBackend('cuda').

import type { DeviceMemory } from '../backend.js';
import { getCudaContext } from './context.js';
import { DeviceBuffer, copyDtoD, copyDtoH, copyHtoD, memset } from './runtime.js';

export const cudaMemory: DeviceMemory = {
  alloc(bytes) {
    getCudaContext();
    return DeviceBuffer.alloc(bytes);
  },
  readToHost(dst, src) {
    getCudaContext().stream.synchronize();
    copyDtoH(dst, src);
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
};
