// Shapes fixed by the MLA decode problem and FlashMLA 9edee0c's scheduler.

/** Width of a cached latent vector: 512 latent ("NoPE") + 64 RoPE channels. Also q's head dim. */
export const HEAD_DIM_K = 576;
/** Width of V = the first 512 channels of each cached K row. */
export const HEAD_DIM_V = 512;
/** Tokens per page of the paged KV cache. */
export const PAGE_BLOCK_SIZE = 64;
/** Folded query rows (s_q · h_q / h_kv) handled by one CTA of the decode kernel. */
export const BLOCK_SIZE_M = 64;
/** Scheduler cost model: a split's fixed cost in units of 64-token blocks (FlashMLA issue #38). */
export const FIXED_OVERHEAD_NUM_BLOCKS = 5;
/** int32 per row of tileSchedulerMetadata. */
export const METADATA_ROW_INTS = 8;
/** SM count the cpu backend schedules for when none is given (an H100 SXM), so it mirrors that GPU. */
export const DEFAULT_CPU_SM_COUNT = 132;
