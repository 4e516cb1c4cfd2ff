// flash-mla: MLA decoding attention (DeepSeek V2/V3/R1 shapes) on NVIDIA GPUs, from TypeScript.

import './cpu/mla.js';
import './cuda/mla.js';
import './cuda/measure.js'; // the cuda device's measurements, for the tools (getDeviceMeasure)

export { Tensor, type BackendName, type HostData, type TensorOptions } from './tensor.js';
export {
  type DType, float32ToBf16Bits, bf16BitsToFloat32, float32ToFp16Bits, fp16BitsToFloat32, float32ToFp8e4m3Bits, fp8e4m3BitsToFloat32, FP8_E4M3_MAX, roundTo,
} from './dtype.js';
export { getMlaMetadata, flashMlaWithKvcache, type MlaMetadata, type MlaMetadataOptions, type FlashMlaOptions, type FlashMlaResult } from './mla/api.js';
export { HEAD_DIM_K, HEAD_DIMS_K, HEAD_DIM_V, ROPE_DIM, PAGE_BLOCK_SIZE, FP8_BYTES_PER_TOKEN, FP8_TILE } from './mla/constants.js';
export { scheduleTiles, sparseScheduleTiles, numSmPartsFor, workItems, requestAt, type TileSchedule, type WorkItem } from './mla/schedule.js';
export { captureGraph, DecodeGraph } from './cuda/graph.js';
export { getBackend, type MlaBackend } from './backend.js';
export { cudaAvailable, cudaDeviceInfo, synchronize } from './cuda/mla.js';
export { cudaStream, waitForStream, makeStreamWait } from './cuda/interop.js';
export { releaseCachedDeviceMemory, cachedDeviceMemory } from './cuda/memory.js';
export {
  PagedKvCache, BlockAllocator, appendKv, appendKvPaged, OutOfBlocksError, UnknownSequenceError,
  type PagedKvCacheOptions, type PagedKvCacheStats, type AppendKvOptions,
  quantizeKvFp8, dequantizeKvFp8, quantizeFp8Row, dequantizeFp8Row, fp8TileScale, type DequantizeKvFp8Options,
} from './kvcache/index.js';
export { CudaError, CudaUnavailableError, UnsupportedDeviceError, UnsupportedDriverError, UnsupportedFeatureError, DisposedError, PtxJitError } from './errors.js';
export { selectKernels, type KernelSelection, type DeviceTraits, type SelectOptions } from './cuda/kernels.js';
