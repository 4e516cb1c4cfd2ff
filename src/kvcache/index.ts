// The paged KV cache: allocator, cache, append kernels, errors.
export { PagedKvCache, type PagedKvCacheOptions, type PagedKvCacheStats } from './paged-cache.js';
export { BlockAllocator } from './allocator.js';
export { appendKv, appendKvPaged, type AppendKvOptions } from './append.js';
export { quantizeKvFp8, dequantizeKvFp8, quantizeFp8Row, dequantizeFp8Row, fp8TileScale, type DequantizeKvFp8Options } from './fp8.js';
export { OutOfBlocksError, UnknownSequenceError } from './errors.js';
