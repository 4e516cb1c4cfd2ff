// Device memory of "another library" for the interop tests: a cuMemAlloc of its own, outside the library's allocator
// (whose blocks Tensor.fromDevicePointer refuses), freed by free().

import { call, outU64 } from '../../src/cuda/driver.js';
import { getCudaContext } from '../../src/cuda/context.js';

export interface ForeignBuffer {
  readonly ptr: bigint;
  readonly bytes: number;
  free(): void;
}

export function foreignAlloc(bytes: number): ForeignBuffer {
  getCudaContext(); // (the device's primary context, current: where another library's cudaMalloc would allocate)
  call('cuMemAlloc_v2', outU64, bytes);
  const ptr = outU64[0];
  let freed = false;
  return {
    ptr,
    bytes,
    free() {
      if (freed) return;
      freed = true;
      call('cuMemFree_v2', ptr);
    },
  };
}
