// Shapes fixed by the MLA decode problem and FlashMLA 9edee0c's scheduler, and the FP8 cache layout of
// FlashMLA's later versions (DeepSeek-V3.2, "V32").

/** Width of a cached latent vector: 512 latent ("NoPE") + 64 RoPE channels. Also q's head dim. */
export const HEAD_DIM_K = 576;
/** Head dims q and K may have: 576 (DeepSeek V2/V3/V3.2) or 512 (448 latent + 64 RoPE, FlashMLA's "MODEL1"). */
export const HEAD_DIMS_K: readonly number[] = [576, 512];
/** Width of V = the first 512 channels of each cached K row. */
export const HEAD_DIM_V = 512;
/** RoPE channels at the end of every K row. */
export const ROPE_DIM = 64;
/** Tokens per page of the paged KV cache. */
export const PAGE_BLOCK_SIZE = 64;
/** Folded query rows (s_q · h_q / h_kv) handled by one CTA of the decode kernel. */
export const BLOCK_SIZE_M = 64;
/** Scheduler cost model: a split's fixed cost in units of 64-token blocks (FlashMLA issue #38). */
export const FIXED_OVERHEAD_NUM_BLOCKS = 5;
/** int32 per row of tileSchedulerMetadata. */
export const METADATA_ROW_INTS = 8;
/** The scheduler's fourth rule (src/mla/schedule.ts tightPayloadSteps): batches of at most this many requests (the
 * metadata kernel's candidate arrays in shared memory), at most this many steps (one chasing warp per candidate). */
export const METADATA_TIGHT_MAX_REQS = 256;
export const METADATA_TIGHT_MAX_STEPS = 7;
/** The scheduler's fifth rule (src/mla/schedule.ts packedSchedule): batches of at most min(3 · parts, this many) requests
 * over at most METADATA_PACK_MAX_PARTS parts, PACK_PAYLOADS candidate payloads (the metadata kernel's shared-memory
 * slots, one packing warp per candidate). */
export const METADATA_PACK_MAX_REQS = 256;
export const METADATA_PACK_MAX_PARTS = 224;
export const PACK_PAYLOADS = 8;
/** A packing whose longest part costs the same as the batch order's replaces it only with at most this many eighths of
 * its split items (S9: 69 → 67 at the same cost ran 1.7 % slower on an H100, s57e; the packings measured faster cut
 * 30–80 % of them). */
export const PACK_TIE_PIECES_EIGHTHS = 7;
/** SM count the cpu backend schedules for when none is given (an H100 SXM), so it mirrors that GPU. */
export const DEFAULT_CPU_SM_COUNT = 132;

// The FP8 KV cache, FlashMLA's DeepSeek-V3.2 layout: per token 656 bytes =
//   [0, 512)    the 512 latent channels as fp8 e4m3 (OCP e4m3fn),
//   [512, 528)  four float32 scales (little-endian), scale j for channels [128j, 128j + 128), powers of two,
//   [528, 656)  the 64 RoPE channels as 16-bit floats, not quantised (bf16 for V3.2; the dtype of the rows written).
// A latent value reads back as e4m3 · scale.

/** Bytes per token of the FP8 cache. */
export const FP8_BYTES_PER_TOKEN = 656;
/** Latent channels per quantisation tile (one float32 scale each). */
export const FP8_TILE = 128;
/** Quantisation tiles per token (512 / 128). */
export const FP8_NUM_TILES = HEAD_DIM_V / FP8_TILE;
/** Byte offset of the scales in a token's row. */
export const FP8_SCALES_OFFSET = HEAD_DIM_V;
/** Byte offset of the RoPE part in a token's row. */
export const FP8_ROPE_OFFSET = HEAD_DIM_V + 4 * FP8_NUM_TILES;
