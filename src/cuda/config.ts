// Host copies of the kernels' compile-time launch shapes: the values kernels/mla_config.h marks HOST, and the
// launch shapes of kernels/append_kv.cu and kernels/append_kv_fp8.cu. The one source is the C++;
// test/kernel-config.test.ts evaluates the headers' `constexpr int` definitions and checks every value here (and
// the shared shapes of src/mla/constants.ts) against them.

/** kernels/mla_config.h (namespace mla). */
export const MLA_CONFIG = {
  /** Metadata kernel: threads; dynamic smem = a header, then the parallel schedule's 5 int32 per request (up to
   * METADATA_PAR_MAX_REQS requests), else the serial walk's 2 int32 per request (up to METADATA_SMEM_MAX_REQS). */
  METADATA_THREADS: 256,
  METADATA_HEADER_BYTES: 256,
  METADATA_PAR_MAX_REQS: 2400,
  METADATA_SMEM_MAX_REQS: 6112,
  /** The fifth rule's packing (mla_metadata_pack.cuh): these ints, then PACK_PAYLOADS · (2 · b + 4 · parts). */
  METADATA_PACK_FIXED_INTS: 816,
  /** Generic and generic-small decode kernels: folded query rows per CTA, threads, dynamic smem. */
  GEN_BLOCK_M: 64,
  GEN_THREADS: 256,
  GEN_SMEM_BYTES: 155648,
  /** The generic kernel for the later dense layouts at d_qk 512 (at d_qk 576 it takes GEN_SMEM_BYTES). */
  GEN_D512_SMEM_BYTES: 139264,
  GSM_SMEM_BYTES: 99840,
  /** Hopper decode kernel (64 folded rows per CTA as well: GEN_BLOCK_M = the scheduler's BLOCK_SIZE_M). */
  SM90_THREADS: 256,
  SM90_SMEM_BYTES: 231824,
  /** The Hopper kernel over the FP8 cache (mla_decode_sm90_fp8_bf16): a third, producer warpgroup. */
  SM90_FP8_THREADS: 384,
  SM90_FP8_SMEM_BYTES: 231872,
  /** Its sparse FP8 variant (mla_decode_sm90_fp8_sparse_bf16): SM90_FP8_THREADS threads, this much dynamic smem. */
  SM90_FP8S_SMEM_BYTES: 232416,
  /** The Hopper small-row kernel (mla_decode_sm90_small.cu, 'hopper-small'): rows per CTA, threads, dynamic smem. */
  SM90S_ROWS: 16,
  SM90S_THREADS: 256,
  SM90S_SMEM_BYTES: 204952,
  /** Its sparse entry (mla_decode_sm90_small_fp8_sparse_bf16): two math warpgroups and one that gathers the indexed tokens. */
  SM90S_SPARSE_GATHER_THREADS: 384,
  /** Its 32-row entry (mla_decode_sm90_small_r32_bf16, 16-bit cache only): rows per CTA, dynamic smem. */
  SM90S_R32_ROWS: 32,
  SM90S_R32_SMEM_BYTES: 228632,
  /** Its FP8 entries (mla_decode_sm90_small_fp8_bf16 and the sparse one: raw stages, register-A datapath): dynamic smem, the whole opt-in shared-memory limit. */
  SM90S_F8_SMEM_BYTES: 232448,
  /** Its 32-column sparse entry (mla_decode_sm90_small_fp8_sparse_r32_bf16: 17–32 heads of a query token per CTA): dynamic smem. */
  SM90S_SP32_SMEM_BYTES: 217376,
  /** FP8-cache decode kernel (mla_decode_fp8.cu): same rows per CTA and threads as generic, this much dynamic smem. */
  F8D_SMEM_BYTES: 160512,
  /** Combine kernel: warps per CTA (W of them per row), column chunks of 128 (up to 4 per row). */
  COMBINE_WARPS: 8,
  COMBINE_THREADS: 256,
  COMBINE_MAX_CHUNKS: 4,
  /** Its C = 4 entries' dynamic smem (a warp's batch of COMBINE_STAGE_SPLITS splits staged by cp.async); C ≤ 2: none. */
  COMBINE_STAGE_SPLITS: 16,
  COMBINE_C4_SMEM_BYTES: 65536,
  /** A 16-bit split partial row's elements ('hopper''s dense entries, the p16 combine): 512 scaled fp16, two fp32 factors, padding. */
  PARTIAL16_ROW_ELEMS: 576,
} as const;

/** kernels/append_kv.cu: 16-byte chunks per cached row, threads per block, chunks per thread. */
export const APPEND_KV_CONFIG = {
  kChunksRow: 72,
  kThreads: 256,
  kUnroll: 4,
} as const;

/** kernels/append_kv_fp8.cu: threads per block, tokens per block (one warp each). */
export const APPEND_KV_FP8_CONFIG = {
  kThreads: 256,
  kTokensPerCta: 8,
} as const;
