// Compile-time shapes of the MLA decode kernels. Values the host must mirror are marked HOST: their host copies are
// in src/cuda/config.ts and src/mla/constants.ts, checked against this file by test/kernel-config.test.ts.
#pragma once

namespace mla {

// ---- problem shape (FlashMLA 9edee0c) -------------------------------------------------------------------
constexpr int HEAD_DIM_K = 576;                // q / K width: 512 latent + 64 RoPE channels
constexpr int HEAD_DIM_V = 512;                // V = first 512 channels of each K row
constexpr int HEAD_DIM_K_MODEL1 = 512;         // FlashMLA's later d_qk 512 layout ("MODEL1"): V = the whole K row
constexpr int PAGE_BLOCK_SIZE = 64;            // tokens per KV page
constexpr int FIXED_OVERHEAD_NUM_BLOCKS = 5;   // scheduler cost of a split, in 64-token blocks
constexpr int METADATA_ROW_INTS = 8;

// ---- metadata kernel ------------------------------------------------------------------------------------
// mla_metadata: HOST: grid 1, block METADATA_THREADS, dynamic smem (≤ 48 KB: no attribute needed):
//   b ≤ METADATA_TIGHT_MAX_REQS: METADATA_HEADER_BYTES + 4 · ((1 + 4 · (1 + t)) · b + 1), t the fourth rule's steps
//                                (the parallel schedule's arrays, one set per candidate payload),
//   b ≤ METADATA_PAR_MAX_REQS:  METADATA_HEADER_BYTES + 4 · (5 · b + 1) (the parallel schedule's arrays),
//   else                         METADATA_HEADER_BYTES + 8 · min(b, METADATA_SMEM_MAX_REQS) (the serial walk's cache).
// The kernel reads %dynamic_smem_size, so any size works: a batch whose arrays do not fit takes the serial walk, from
// shared memory when its seqlens and block counts fit, else from global memory (the same schedule, slower).
constexpr int METADATA_THREADS = 256;
constexpr int METADATA_HEADER_BYTES = 256;      // per-warp reduction and scan values, the chase's results
constexpr int METADATA_PAR_MAX_REQS = 2400;     // 256 + 4 · (5 · 2400 + 1) = 48 260 B
constexpr int METADATA_SMEM_MAX_REQS = 6112;    // 256 + 8 · 6112 = 49 152 B: 2 int32 per request
// The scheduler's fourth rule (src/mla/schedule.ts tightPayloadSteps): batches of at most METADATA_TIGHT_MAX_REQS
// requests, at most METADATA_TIGHT_MAX_STEPS candidates below the payload (one chasing warp each, beside the payload's)
constexpr int METADATA_TIGHT_MAX_REQS = 256;    // 256 + 4 · (33 · 256 + 1) = 34 052 B at 7 steps
constexpr int METADATA_TIGHT_MAX_STEPS = 7;
static_assert(METADATA_TIGHT_MAX_STEPS + 1 <= METADATA_THREADS / 32, "one warp per candidate");
static_assert(METADATA_HEADER_BYTES + 4 * ((1 + 4 * (1 + METADATA_TIGHT_MAX_STEPS)) * METADATA_TIGHT_MAX_REQS + 1) <= 49152, "candidates ≤ 48 KB");
static_assert(METADATA_HEADER_BYTES + 4 * (5 * METADATA_PAR_MAX_REQS + 1) <= 49152, "parallel schedule ≤ 48 KB");
static_assert(METADATA_HEADER_BYTES + 8 * METADATA_SMEM_MAX_REQS <= 49152, "serial cache ≤ 48 KB");
// The scheduler's fifth rule (src/mla/schedule.ts packedSchedule; kernels/mla_metadata_pack.cuh): batches of at most
// min(3 · parts, METADATA_PACK_MAX_REQS) requests over at most METADATA_PACK_MAX_PARTS parts, PACK_PAYLOADS candidate
// payloads (one packing warp each). HOST: when it may fire, dynamic smem of at least METADATA_HEADER_BYTES + 4 ·
// (METADATA_PACK_FIXED_INTS + PACK_PAYLOADS · (2 · b + 4 · parts)) (48 576 B at the bounds; mla_metadata_pack.cuh).
constexpr int METADATA_PACK_MAX_REQS = 256;
constexpr int METADATA_PACK_MAX_PARTS = 224;
constexpr int PACK_PAYLOADS = 8;
// A packing whose longest part costs the same as the batch order's replaces it only with at most PACK_TIE_PIECES_EIGHTHS
// eighths of its split items (S9: 69 → 67 at the same cost was +1.7 % on an H100, s57e; the packings measured faster cut
// 30–80 % of them)
constexpr int PACK_TIE_PIECES_EIGHTHS = 7;
// the sorted block counts, request indices and seqlens (3 · METADATA_PACK_MAX_REQS), then 48 result ints
constexpr int METADATA_PACK_FIXED_INTS = 3 * METADATA_PACK_MAX_REQS + 48;

// ---- generic split-KV decode kernel (mma.sync, sm_80+) ------------------------------------------------------
// HOST: grid (ceil(q_rows / GEN_BLOCK_M), num_sm_parts, 1), block GEN_THREADS, dynamic smem GEN_SMEM_BYTES
//       (155648 B > 48 KB: cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES) first; fits A100's 163 KB).
constexpr int GEN_BLOCK_M = 64;                // folded query rows per CTA (= BLOCK_SIZE_M of the scheduler)
constexpr int GEN_BLOCK_N = 32;                // KV tokens per tile (half a page: a tile never spans two pages)
constexpr int GEN_WARPS = 8;                   // 4 row groups of 16 rows × 2 halves (tokens for S, columns for O)
constexpr int GEN_THREADS = GEN_WARPS * 32;
constexpr int GEN_PAD = 8;                     // +16 B per smem row: consecutive rows hit different bank groups
constexpr int GEN_QK_PITCH = HEAD_DIM_K + GEN_PAD;   // 584 elements = 1168 B (73 × 16 B, odd ⇒ no ldmatrix conflicts)
constexpr int GEN_P_PITCH = GEN_BLOCK_N + GEN_PAD;   // 40 elements = 80 B (5 × 16 B)
constexpr int GEN_SQ_BYTES = GEN_BLOCK_M * GEN_QK_PITCH * 2;        // 74752
constexpr int GEN_SK_BYTES = GEN_BLOCK_N * GEN_QK_PITCH * 2;        // 37376 per stage
constexpr int GEN_SP_BYTES = GEN_BLOCK_M * GEN_P_PITCH * 2;         // 5120
constexpr int GEN_SRED_BYTES = 2 * GEN_BLOCK_M * 4;                 // 512: per-half row max exchange
constexpr int GEN_SL_BYTES = 2 * GEN_BLOCK_M * 4;                   // 512: per-half row sum exchange
constexpr int GEN_SMEM_BYTES = GEN_SQ_BYTES + 2 * GEN_SK_BYTES + GEN_SP_BYTES + GEN_SRED_BYTES + GEN_SL_BYTES;  // 155648
static_assert(GEN_SMEM_BYTES == 155648, "HOST mirrors this number");
static_assert(GEN_SMEM_BYTES <= 163 * 1024, "must fit A100 (sm_80) opt-in shared memory");
static_assert(PAGE_BLOCK_SIZE % GEN_BLOCK_N == 0, "a K tile must lie inside one page");

// ---- generic kernel for the later dense layouts (mla_decode_generic_layout.cu; body: mla_generic_decode.cuh) ------
// HOST: grid (ceil(rows_per_kv / GEN_BLOCK_M), num_sm_parts, h_kv), block GEN_THREADS, dynamic smem GEN_SMEM_BYTES
//       (d_qk 576) or GEN_D512_SMEM_BYTES (d_qk 512: Q and K rows of 512 channels, pitch 520 = 65 × 16 B, odd);
//       second kernel parameter MlaLayoutParams (mla_params.h). rows_per_kv = s_q · h_q / h_kv.
constexpr int GEN_D512_QK_PITCH = HEAD_DIM_K_MODEL1 + GEN_PAD;    // 520 elements = 1040 B
constexpr int GEN_D512_SMEM_BYTES = GEN_BLOCK_M * GEN_D512_QK_PITCH * 2 + 2 * GEN_BLOCK_N * GEN_D512_QK_PITCH * 2 + GEN_SP_BYTES + GEN_SRED_BYTES + GEN_SL_BYTES;  // 139264
static_assert(GEN_D512_SMEM_BYTES == 139264, "HOST mirrors this number");

// ---- generic-small: the portable decode kernel in ≤ 99 KB of shared memory (sm_86/sm_89/sm_120 parts) -----------
// HOST: grid (ceil(q_rows / GEN_BLOCK_M), num_sm_parts, 1), block GEN_THREADS, dynamic smem GSM_SMEM_BYTES
//       (99840 B > 48 KB: cuFuncSetAttribute first; fits the 101376 B opt-in limit of sm_86/sm_89/sm_120).
// Same CTA (64 folded rows), warps and epilogue as the generic kernel; what differs: K tiles of 16 tokens (two
// stages of 18 688 B instead of two of 37 376 B) and Q split in two — channels [0, 448) in smem, the last 128
// (8 k-steps of the A operand) in registers, loaded once per work item.
constexpr int GSM_BLOCK_N = 16;                // KV tokens per tile (a quarter page)
constexpr int GSM_Q_SMEM_CH = 448;             // Q channels kept in smem; the rest live in registers
constexpr int GSM_Q_REG_KSTEPS = (HEAD_DIM_K - GSM_Q_SMEM_CH) / 16;  // 8 k-steps × 4 registers per thread
constexpr int GSM_Q_PITCH = GSM_Q_SMEM_CH + GEN_PAD;                // 456 elements = 912 B (57 × 16 B, odd)
constexpr int GSM_K_PITCH = HEAD_DIM_K + GEN_PAD;                   // 584 elements = 1168 B (73 × 16 B, odd)
constexpr int GSM_P_PITCH = GSM_BLOCK_N + GEN_PAD;                  // 24 elements = 48 B (3 × 16 B, odd)
constexpr int GSM_SQ_BYTES = GEN_BLOCK_M * GSM_Q_PITCH * 2;         // 58368
constexpr int GSM_SK_BYTES = GSM_BLOCK_N * GSM_K_PITCH * 2;         // 18688 per stage
constexpr int GSM_SP_BYTES = GEN_BLOCK_M * GSM_P_PITCH * 2;         // 3072
constexpr int GSM_SMEM_BYTES = GSM_SQ_BYTES + 2 * GSM_SK_BYTES + GSM_SP_BYTES + GEN_SRED_BYTES + GEN_SL_BYTES;  // 99840
static_assert(GSM_SMEM_BYTES == 99840, "HOST mirrors this number");
static_assert(GSM_SMEM_BYTES <= 101376, "must fit the 99 KB opt-in shared memory of sm_86/sm_89/sm_120");
static_assert(PAGE_BLOCK_SIZE % GSM_BLOCK_N == 0, "a K tile must lie inside one page");
static_assert(GSM_Q_SMEM_CH % 16 == 0 && GSM_Q_SMEM_CH % 8 == 0, "Q split at a k-step boundary");

// ---- FP8-cache decode kernel (mla_decode_fp8.cu: the generic kernel's mma.sync data flow, sm_80+) ----------------
// HOST: dense grid (ceil(q_rows / GEN_BLOCK_M), num_sm_parts, 1), sparse grid (s_q · ceil(h_q / GEN_BLOCK_M),
//       num_sm_parts, 1); block GEN_THREADS, dynamic smem F8D_SMEM_BYTES (cuFuncSetAttribute first; fits A100).
// The FlashMLA DeepSeek-V3.2 token row: 512 e4m3 codes, four float32 scales (one per 128 channels), 64 16-bit RoPE.
// K tiles of GEN_BLOCK_N tokens arrive raw (656 B per token) by cp.async in two stages and are dequantised into one
// K tile of the generic layout (GEN_QK_PITCH), from which S and P·V run exactly as in the generic kernel.
constexpr int FP8_BYTES_PER_TOKEN = 656;
constexpr int FP8_TILE = 128;                  // latent channels per scale
constexpr int FP8_SCALES_OFFSET = HEAD_DIM_V;  // 512: float32 scales
constexpr int FP8_ROPE_OFFSET = HEAD_DIM_V + 4 * (HEAD_DIM_V / FP8_TILE);  // 528: 16-bit RoPE channels
constexpr int F8D_SRAW_BYTES = GEN_BLOCK_N * FP8_BYTES_PER_TOKEN;   // 20992 per stage: raw token rows
constexpr int F8D_SVALID_BYTES = 2 * GEN_BLOCK_N * 4;               // 256: per stage, whether each token is real
constexpr int F8D_SMEM_BYTES = GEN_SQ_BYTES + GEN_SK_BYTES + 2 * F8D_SRAW_BYTES + GEN_SP_BYTES + GEN_SRED_BYTES + GEN_SL_BYTES + F8D_SVALID_BYTES;  // 160512
static_assert(F8D_SMEM_BYTES == 160512, "HOST mirrors this number");
static_assert(F8D_SMEM_BYTES <= 163 * 1024, "must fit A100 (sm_80) opt-in shared memory");
static_assert(FP8_BYTES_PER_TOKEN % 16 == 0 && FP8_ROPE_OFFSET % 16 == 0, "raw rows are copied in 16-byte chunks");

// ---- combine kernel ---------------------------------------------------------------------------------------
// One kernel, two launch-time knobs chosen by the host from the shape (src/cuda/mla.ts combineShape()):
//   warps per row W ∈ {1, 2, 4, 8} (the entry point mla_combine_w<W>_*): W warps share a row's splits (split j
//     to warp j % W) and add their partials in smem — many warps for a few long rows;
//   column chunks C ∈ {1, 2, 4} (grid y): a CTA owns 512 / C columns, a warp walks them 128 at a time.
// HOST: grid (ceil(q_rows / (COMBINE_WARPS / W)) * b, C, 1), block COMBINE_THREADS; dynamic smem
// COMBINE_C4_SMEM_BYTES for C = 4 (its staged walk), none otherwise.
constexpr int COMBINE_WARPS = 8;
constexpr int COMBINE_THREADS = COMBINE_WARPS * 32;
constexpr int COMBINE_WARP_COLS = 128;                       // columns a warp holds at once (4 per lane)
constexpr int COMBINE_MAX_CHUNKS = HEAD_DIM_V / COMBINE_WARP_COLS;  // 4
constexpr int COMBINE_IN_FLIGHT = 16;     // float4 loads a warp issues before using the first (C = 2: 8 splits)
constexpr int COMBINE_STAGE_SPLITS = 16;  // C = 4: splits a warp stages in shared memory (cp.async) per batch
constexpr int COMBINE_C4_SMEM_BYTES = COMBINE_WARPS * COMBINE_STAGE_SPLITS * (HEAD_DIM_V / 4) * 4;  // 65536
// A 16-bit split partial row ('hopper''s dense entries write them, the mla_combine_p16_* entries read them): 512 fp16
// values, each 256-column half scaled by its own power of two into [2^14, 2^15) at its largest, then the two fp32
// factors that undo the scaling (half 0, half 1) and padding: 1152 bytes, so that every row starts on a 128-byte line
// (with 1040-byte rows, 16-byte aligned, a warp's 256 columns touched 9 sectors and 3 lines instead of 8 and 2, and a
// quad's 64-byte store 3 sectors, half of them shared with the next row's: perf log, session 49).
constexpr int PARTIAL16_ROW_ELEMS = HEAD_DIM_V + 64;
static_assert(PARTIAL16_ROW_ELEMS * 2 % 128 == 0 && PARTIAL16_ROW_ELEMS * 2 <= HEAD_DIM_V * 4,
              "16-bit split rows: whole 128-byte lines, within the split workspace's 2048-byte rows");

}  // namespace mla

namespace mla {
constexpr int SM90_SLAB_BYTES = 64 * 64 * 2;   // 64 rows × 64 channels (128 B rows, 128B-swizzled)
constexpr int SM90_SLABS = HEAD_DIM_K / 64;    // 9 slabs per Q tile or K block
constexpr int SM90_TILE_BYTES = SM90_SLABS * SM90_SLAB_BYTES;  // 73728
}  // namespace mla

namespace mla {
// ---- Hopper split-KV decode kernel (seesaw: two math warpgroups on alternate K blocks) ----------------
// HOST: grid (ceil(q_rows / 64), num_sm_parts, 1), block SM90_THREADS, dynamic smem SM90_SMEM_BYTES; second
//       kernel argument: a 3-D tiled tensor map of the K cache {576, 64, num_blocks}, box {64, 64, 1}, 128B swizzle.
// K blocks alternate between two buffers (even blocks → K0, odd → K1). Each buffer is refilled in two groups
// as soon as their last reader is done: A = slabs 0–3 (left half of V), B = slabs 4–8 (right half of V + RoPE).
// P of an even block lives in K0's RoPE slab (dead once S of that block is done; its last reader, WG1's P·V, is
// also the one that refills group B); P of an odd block has its own tile.
constexpr int SM90_THREADS = 256;
constexpr int SM90_GROUP_A_SLABS = 4;
constexpr int SM90_GROUP_B_SLABS = SM90_SLABS - SM90_GROUP_A_SLABS;  // 5
constexpr int SM90_OFF_Q = 0;
constexpr int SM90_OFF_K0 = SM90_TILE_BYTES;                              // 73728
constexpr int SM90_OFF_K1 = SM90_OFF_K0 + SM90_TILE_BYTES;              // 147456
constexpr int SM90_OFF_P0 = SM90_OFF_K0 + 8 * SM90_SLAB_BYTES;          // aliases K0's slab 8
constexpr int SM90_OFF_P1 = SM90_OFF_K1 + SM90_TILE_BYTES;              // 221184: P of K1's block (WG1)
constexpr int SM90_OFF_M = SM90_OFF_P1 + SM90_SLAB_BYTES;               // float[64] running row max (log2 units)
constexpr int SM90_OFF_SCALE0 = SM90_OFF_M + 64 * 4;                    // float[64] WG0's rescale of this pair
constexpr int SM90_OFF_SCALE1 = SM90_OFF_SCALE0 + 64 * 4;               // float[64] WG1's rescale of this pair
constexpr int SM90_OFF_L = SM90_OFF_SCALE1 + 64 * 4;                    // float[2][64] row sums per warpgroup
constexpr int SM90_OFF_BAR = SM90_OFF_L + 2 * 64 * 4;                   // uint64[2][9]: slab s of K0 / K1 landed
constexpr int SM90_SMEM_BYTES = SM90_OFF_BAR + 2 * SM90_SLABS * 8 + 1024;  // + slack to align the base to 1024
static_assert(SM90_SMEM_BYTES == 231824, "HOST mirrors this number");
static_assert(SM90_SMEM_BYTES <= 232448, "Hopper opt-in shared memory per block");
}  // namespace mla

namespace mla {
// ---- the same kernel over the FP8 cache (mla_decode_sm90_fp8_bf16; mla_sm90_fp8_producer.cuh) ----------------
// HOST: grid as above, block SM90_FP8_THREADS, dynamic smem SM90_FP8_SMEM_BYTES; kernel arguments: params, a tensor
//       map of the cache bytes (UINT8 {656, 64, num_pages}, box {256, 64, 1}, no swizzle) and one of the RoPE
//       columns as bf16 (address + 528 B, {64, 64, num_pages}, box {64, 64, 1}, 128B swizzle).
// A third warpgroup (the producer) fills the K buffers: the raw e4m3 bytes of a block land in its group-A slabs
// 0–3 (two boxes of 64 tokens × 256 B), are dequantised into slabs 4–7 (channels 256–511) and then in place into
// slabs 0–3 (channels 0–255); the RoPE slab 8 is a TMA of the bf16 columns. The math warpgroups run the bf16
// kernel's seesaw unchanged and release each group on an "empty" mbarrier instead of refilling it themselves.
constexpr int SM90_FP8_THREADS = SM90_THREADS + 128;
constexpr int SM90_FP8_RAW_BOX_BYTES = 64 * 256;                           // one box: 64 tokens × 256 e4m3 bytes
constexpr int SM90_FP8_OFF_EXTRA_BAR = SM90_OFF_BAR + 2 * SM90_SLABS * 8;  // uint64[2] raw landed, [2][2] group empty
constexpr int SM90_FP8_SMEM_BYTES = SM90_FP8_OFF_EXTRA_BAR + 6 * 8 + 1024;
// Sparse decode (mla_decode_sm90_fp8_sparse_bf16): per buffer the block's valid positions, as 4 words of 16 bits (one
// per producer warp: positions 16w … 16w + 15).
constexpr int SM90_FP8S_OFF_VALID = SM90_FP8_OFF_EXTRA_BAR + 6 * 8;
// Then the producer's table of each token's two group-A scales (float[64][2]).
constexpr int SM90_FP8S_SMEM_BYTES = SM90_FP8S_OFF_VALID + 2 * 16 + 64 * 2 * 4 + 1024;
static_assert(SM90_FP8_SMEM_BYTES == 231872, "HOST mirrors this number");
static_assert(SM90_FP8_SMEM_BYTES <= 232448, "Hopper opt-in shared memory per block");
static_assert(SM90_FP8S_SMEM_BYTES == 232416, "HOST mirrors this number");
static_assert(SM90_FP8S_SMEM_BYTES <= 232448, "Hopper opt-in shared memory per block");
static_assert(2 * SM90_FP8_RAW_BOX_BYTES == SM90_GROUP_A_SLABS * SM90_SLAB_BYTES, "raw e4m3 block = group A's slabs");
// Registers per thread after setmaxnreg. They move within the CTA's launch allocation (168 per thread at 384
// threads): 2 · 216 + 72 = 3 · 168; an increase past it would wait forever. 216 holds the math warpgroups' loop
// without spills, 72 the producer's (ptxas -v: 0 spills at this split; 224/56 spills 12 B).
constexpr int SM90_FP8_MATH_REGS = 216;
constexpr int SM90_FP8_PRODUCER_REGS = 72;
// hopper-small's register-A sparse entry: two math warpgroups and a gather warpgroup (384 threads): 2 · 232 + 32 ≤ 3 · 168
// (232 / 32 ran 0.3–0.9 % faster than 240 / 24 on the H200, whose gather at 24 registers has no room to spare: perf log
// session 27)
constexpr int SM90S_SPARSE_MATH_REGS = 232;
constexpr int SM90S_SPARSE_GATHER_REGS = 32;
constexpr int SM90S_SPARSE_GATHER_THREADS = 384;  // HOST: the sparse entry's block
static_assert(SM90S_SPARSE_GATHER_THREADS == 384, "HOST mirrors this number");
static_assert(2 * SM90S_SPARSE_MATH_REGS + SM90S_SPARSE_GATHER_REGS <= 3 * 168, "setmaxnreg within the launch's registers");
}  // namespace mla

namespace mla {
// ---- Hopper small-row decode kernel, level 2 (mla_decode_sm90_small.cu; docs/perf-log.md, "Plan for session 7") ------
// HOST: grid (1, num_sm_parts, 1), block SM90S_THREADS, dynamic smem SM90S_SMEM_BYTES; second kernel argument: the
//       'hopper' kernel's K tensor map ({576, 64, num_blocks}, box {64, 64, 1}, 128B swizzle).
// Two warpgroups for up to SM90S_ROWS folded query rows, the rows as the wgmma's N: Sᵀ = K·Qᵀ, Oᵀ += Vᵀ·Pᵀ, alternate
// blocks of each item, merged at its end. Per warpgroup one K buffer (9 slabs, one mbarrier) and one Pᵀ slab of 16 rows
// × 64 tokens; Q as 9 slabs of 16 rows × 128 B (all 128B-swizzled); the merge's exchange of half of Oᵀ (fp32).
constexpr int SM90S_ROWS = 16;
constexpr int SM90S_THREADS = 256;
constexpr int SM90S_ROW_SLAB_BYTES = SM90S_ROWS * 128;                     // 2048: 16 rows × 64 channels or tokens
constexpr int SM90S_OFF_K0 = 0;                                            // warpgroup 0's K buffer
constexpr int SM90S_OFF_K1 = SM90S_OFF_K0 + SM90_TILE_BYTES;               // warpgroup 1's: 73728
constexpr int SM90S_OFF_Q = SM90S_OFF_K1 + SM90_TILE_BYTES;                // 147456
constexpr int SM90S_OFF_P0 = SM90S_OFF_Q + SM90_SLABS * SM90S_ROW_SLAB_BYTES;  // 165888; P1 one slab on
constexpr int SM90S_OFF_X = SM90S_OFF_P0 + 2 * SM90S_ROW_SLAB_BYTES;       // float4[8 tiles][2][128]: the merge's Oᵀ
constexpr int SM90S_OFF_MAX = SM90S_OFF_X + 8 * 2 * 128 * 16;              // float[2][4][16]: per warp, column maxima
constexpr int SM90S_OFF_L = SM90S_OFF_MAX + 2 * 4 * SM90S_ROWS * 4;        // float[2][4][16]: per warp, column sums
constexpr int SM90S_OFF_M = SM90S_OFF_L + 2 * 4 * SM90S_ROWS * 4;          // float[2][16]: per warpgroup, column maxima
constexpr int SM90S_OFF_BAR = SM90S_OFF_M + 2 * SM90S_ROWS * 4;            // uint64[2]: a warpgroup's K block landed
constexpr int SM90S_OFF_FLAG = SM90S_OFF_BAR + 2 * 8;                      // uint32: the split fold's "arrived last"
constexpr int SM90S_SMEM_BYTES = SM90S_OFF_FLAG + 8 + 1024;                // + slack to align the base to 1024
static_assert(SM90S_OFF_P0 % 1024 == 0 && SM90S_OFF_Q % 1024 == 0, "128B-swizzled operands start 1024-aligned");
static_assert(SM90S_SMEM_BYTES == 204952, "HOST mirrors this number");
static_assert(SM90S_THREADS == 256 && SM90S_ROWS == 16, "two warpgroups, wgmma n16: the fragment layout of the kernel");

// ---- its 32-row entry (mla_decode_sm90_small_r32_bf16: 17–32 folded rows, wgmma n32; 16-bit cache only) -----------
// HOST: grid and block as above, dynamic smem SM90S_R32_SMEM_BYTES; the same K tensor map argument.
// The same K buffers; Q as 9 slabs of 32 rows × 128 B, Pᵀ 32 rows × 64 tokens per warpgroup, the column maxima and
// sums for 32 columns. The merge hands over half of Oᵀ as at 16 rows, but that is 64 KB now (32 KB per direction):
// it goes in two rounds (column tiles 0–1, then 2–3) through the 16-row entry's 32 KB exchange, outside the K
// buffers (the next item's first blocks land in them during the merge).
constexpr int SM90S_R32_ROWS = 32;
constexpr int SM90S_R32_ROW_SLAB_BYTES = SM90S_R32_ROWS * 128;                            // 4096
constexpr int SM90S_R32_OFF_Q = SM90S_OFF_K1 + SM90_TILE_BYTES;                            // 147456
constexpr int SM90S_R32_OFF_P0 = SM90S_R32_OFF_Q + SM90_SLABS * SM90S_R32_ROW_SLAB_BYTES;  // 184320; P1 one slab on
constexpr int SM90S_R32_OFF_X = SM90S_R32_OFF_P0 + 2 * SM90S_R32_ROW_SLAB_BYTES;           // float4[8][2][128]: one round
constexpr int SM90S_R32_OFF_MAX = SM90S_R32_OFF_X + 8 * 2 * 128 * 16;                      // float[2][4][32]
constexpr int SM90S_R32_OFF_L = SM90S_R32_OFF_MAX + 2 * 4 * SM90S_R32_ROWS * 4;            // float[2][4][32]
constexpr int SM90S_R32_OFF_M = SM90S_R32_OFF_L + 2 * 4 * SM90S_R32_ROWS * 4;              // float[2][32]
constexpr int SM90S_R32_OFF_BAR = SM90S_R32_OFF_M + 2 * SM90S_R32_ROWS * 4;                // uint64[2]
constexpr int SM90S_R32_OFF_FLAG = SM90S_R32_OFF_BAR + 2 * 8;                              // uint32
constexpr int SM90S_R32_SMEM_BYTES = SM90S_R32_OFF_FLAG + 8 + 1024;                        // + slack to align the base
static_assert(SM90S_R32_OFF_P0 % 1024 == 0 && SM90S_R32_OFF_Q % 1024 == 0, "128B-swizzled operands start 1024-aligned");
static_assert(SM90S_R32_SMEM_BYTES == 228632, "HOST mirrors this number");
static_assert(SM90S_R32_SMEM_BYTES <= 232448, "Hopper opt-in shared memory per block");
static_assert(SM90S_THREADS == 8 * SM90S_R32_ROWS, "the Q load: 8 threads per row, all 256 of the CTA");

// ---- its FP8 entries (dense mla_decode_sm90_small_fp8_bf16 and sparse mla_decode_sm90_small_fp8_sparse_bf16, both
// the f16 math on the register-A datapath; mla_sm90_small_fp8.cuh) ---------------------------------------------------
// HOST: grid and block as above, dynamic smem SM90S_F8_SMEM_BYTES (the whole opt-in limit); kernel arguments of the
//       dense entry: params, the 'hopper' FP8 kernel's raw-byte and RoPE tensor maps, the swizzled raw-byte map and
//       the scale map (the raw-byte map is only prefetched).
// Dense: per warpgroup a K buffer of 9 slabs (as above) whose slabs 0–3 and 4–7 are its two raw stages (four
// 128B-swizzled boxes of 64 tokens × 128 B each: the codes go from there into the wgmma's A fragments) and whose slab 8
// takes the block's RoPE (bf16), then — dead once S is done — the column-maxima exchange and Pᵀ: first the column
// maxima and the block's per-group scale maxima (warp v at 2048 v: 16 + 4 floats), then, after one more warpgroup
// barrier, the four Pᵀ copies (one per 128-channel scale group, 2048 B each: all 8 KB). Past the K buffers, the merge
// and scale area (SM90S_F8_OFF_RAW0, 64 KB: the merge — the Oᵀ exchange, then the sums and maxima, 512 B per
// warpgroup — and the token scale boxes, SM90S_F8_OFF_SCALES), then Q (slabs 0–7 converted to f16 in place once per
// item, scaled per row by a power of two; slab 8 bf16). The side area lies in the alignment slack: the mbarriers (raw
// stage s of warpgroup w at 16 w + 8 s, RoPE at 32 + 8 w), the fold flag at 48, the Q factors at SM90S_F8_OFF_QF.
// Sparse: the SM90S_F8SP_* layout below.
constexpr int SM90S_F8_RAW_BYTES = 2 * SM90_FP8_RAW_BOX_BYTES;                      // 32768: half the merge and scale area
constexpr int SM90S_F8_OFF_K0 = 0;                                                  // K buffer 1 at + SM90_TILE_BYTES
constexpr int SM90S_F8_OFF_RAW0 = SM90S_F8_OFF_K0 + 2 * SM90_TILE_BYTES;            // 147456: the merge and scale area
constexpr int SM90S_F8_OFF_Q = SM90S_F8_OFF_RAW0 + 2 * SM90S_F8_RAW_BYTES;          // 212992
constexpr int SM90S_F8_USED_BYTES = SM90S_F8_OFF_Q + SM90_SLABS * SM90S_ROW_SLAB_BYTES;  // 231424
constexpr int SM90S_F8_SIDE_BYTES = 128;  // uint64 raw stages [2][2], RoPE [2] landed, uint32 fold flag, Q factors
constexpr int SM90S_F8_OFF_QF = 64;       // float[16] in the side area
constexpr int SM90S_F8_SMEM_BYTES = SM90S_F8_USED_BYTES + 1024;                     // + slack to align the base to 1024
static_assert(SM90S_F8_OFF_RAW0 % 1024 == 0 && SM90S_F8_OFF_Q % 1024 == 0, "TMA boxes and swizzled operands 1024-aligned");
static_assert(SM90S_F8_OFF_QF >= 4 * 8 + 4 && SM90S_F8_OFF_QF + 16 * 4 <= SM90S_F8_SIDE_BYTES && SM90S_F8_SIDE_BYTES <= 512, "one side of the 1024-byte slack has ≥ 512 B");
static_assert(SM90S_F8_SMEM_BYTES == 232448, "HOST mirrors this number");
static_assert(SM90S_F8_SMEM_BYTES <= 232448, "Hopper opt-in shared memory per block");
static_assert(4 * SM90S_ROW_SLAB_BYTES == SM90_SLAB_BYTES, "four Pᵀ copies fill the RoPE slab");
// The dense register-A entry's token scales: per warpgroup and raw stage one TMA box of the
// block's 64 tokens × 16 B (the scale map, kernel argument 5), on the stage's barrier, after the merge in the raw area.
constexpr int SM90S_F8_SCALE_BOX_BYTES = PAGE_BLOCK_SIZE * 16;                        // 1024
constexpr int SM90S_F8_OFF_SCALES = SM90S_F8_OFF_RAW0 + 4 * SM90_SLAB_BYTES + 2 * 512;  // 181248: [wg][stage]
static_assert(SM90S_F8_OFF_SCALES % 128 == 0 && SM90S_F8_OFF_SCALES + 4 * SM90S_F8_SCALE_BOX_BYTES <= SM90S_F8_OFF_Q, "scale boxes between the merge and Q");
// The sparse entry on the register-A datapath: each warpgroup's two gathered stages hold 64
// whole token rows of 656 B (one bulk copy each: codes, scales, RoPE — no separate global loads of the scales and the
// RoPE; 656 = 41 · 16, so the 8 rows of an ldmatrix matrix fall in 8 different bank groups), its slab 8 (RoPE copied
// in from the stage, column maxima, Pᵀ copies) after them; the merge (the Oᵀ exchange in two rounds of 16 KB, then the
// sums and maxima, 512 B per warpgroup) after both warpgroups' areas, then Q. Side area as the f16 sparse entry's
// (mbarriers: raw stage s of warpgroup w at 16 w + 8 s).
constexpr int SM90S_F8SP_ROW_PITCH = FP8_BYTES_PER_TOKEN;                             // 656
constexpr int SM90S_F8SP_STAGE_BYTES = PAGE_BLOCK_SIZE * SM90S_F8SP_ROW_PITCH;        // 41984
constexpr int SM90S_F8SP_OFF_SLAB8 = 2 * SM90S_F8SP_STAGE_BYTES;                      // 83968: within a warpgroup's area
constexpr int SM90S_F8SP_WG_BYTES = SM90S_F8SP_OFF_SLAB8 + SM90_SLAB_BYTES;           // 92160
constexpr int SM90S_F8SP_OFF_MERGE = 2 * SM90S_F8SP_WG_BYTES;                         // 184320: the Oᵀ exchange, sums, maxima
constexpr int SM90S_F8SP_XCHG_BYTES = 2 * SM90_SLAB_BYTES;                            // 16384: one round of the exchange
constexpr int SM90S_F8SP_OFF_Q = SM90S_F8SP_OFF_MERGE + SM90S_F8SP_XCHG_BYTES + 1024;   // 201728
static_assert(SM90S_F8SP_ROW_PITCH % 32 == 16, "an odd number of 16-byte chunks per row: ldmatrix conflict-free");
static_assert(SM90S_F8SP_STAGE_BYTES % 1024 == 0 && SM90S_F8SP_OFF_SLAB8 % 1024 == 0 && SM90S_F8SP_WG_BYTES % 1024 == 0, "slab 8 128B-swizzled: 1024-aligned");
static_assert(SM90S_F8SP_OFF_Q % 1024 == 0 && SM90S_F8SP_OFF_Q + SM90_SLABS * SM90S_ROW_SLAB_BYTES <= SM90S_F8_USED_BYTES, "Q 1024-aligned, inside the FP8 entries' allocation");
static_assert(SM90S_F8SP_OFF_SLAB8 >= (SM90_SLABS - 1) * SM90_SLAB_BYTES, "the kernel's K-buffer address (slab 8 − 8 slabs) inside the warpgroup's area");

// ---- its 32-column entries (mla_sm90_small_sparse_r32.cuh): mla_decode_sm90_small_fp8_sparse_r32_bf16, sparse decode of
// 17–32 heads of a query token per CTA, and mla_decode_sm90_small_fp8_g32_bf16, dense decode of 17–32 rows over the FP8
// cache (until session 29 these rows ran on a 32-row FP8 entry of TMA boxes, 7–8 % slower)
// HOST: grid (s_q · ceil(h_q / 32), num_sm_parts, 1) for the sparse entry, (1, num_sm_parts, 1) for the dense one; block
// SM90S_SPARSE_GATHER_THREADS, dynamic smem SM90S_SP32_SMEM_BYTES; kernel arguments params and MlaFp8Params (as the
// 16-column sparse entry's). Four whole-row stages [math warpgroup][stage], Q (32 rows), one Pᵀ
// copy per math warpgroup's block, the blocks' V factor tables ([group][64 tokens] f16), the maxima [warpgroup][warp][32
// columns + the largest token scale], the column sums [warpgroup][warp][32], the Q row factors, the validity masks
// [warpgroup][stage] (four 16-bit words as uint32 each), 8 mbarriers ("landed" [warpgroup][stage], 64 arrivals; "free",
// 256).
constexpr int SM90S_SP32_OFF_STAGE = 0;
constexpr int SM90S_SP32_OFF_Q = 4 * SM90S_F8SP_STAGE_BYTES;                                     // 167936
constexpr int SM90S_SP32_OFF_P = SM90S_SP32_OFF_Q + SM90_SLABS * SM90S_R32_ROW_SLAB_BYTES;      // 204800
constexpr int SM90S_SP32_VF_BYTES = 4 * PAGE_BLOCK_SIZE * 2;                                     // 512
constexpr int SM90S_SP32_OFF_VF = SM90S_SP32_OFF_P + 2 * SM90S_R32_ROW_SLAB_BYTES;              // 212992
constexpr int SM90S_SP32_OFF_MAX = SM90S_SP32_OFF_VF + 2 * SM90S_SP32_VF_BYTES;                  // 214016
constexpr int SM90S_SP32_OFF_L = SM90S_SP32_OFF_MAX + 2 * 4 * 33 * 4;                            // 215072
constexpr int SM90S_SP32_OFF_QF = SM90S_SP32_OFF_L + 2 * 4 * SM90S_R32_ROWS * 4;                 // 216096
constexpr int SM90S_SP32_OFF_MASK = SM90S_SP32_OFF_QF + SM90S_R32_ROWS * 4;                      // 216224
constexpr int SM90S_SP32_OFF_BAR = SM90S_SP32_OFF_MASK + 4 * 16;                                 // 216288
constexpr int SM90S_SP32_SMEM_BYTES = SM90S_SP32_OFF_BAR + 8 * 8 + 1024;                         // + slack to align the base
constexpr int SM90S_SP32_MATH_REGS = 232;  // (as the 16-column entry: 0 spills; 240 / 24 also)
constexpr int SM90S_SP32_GATHER_REGS = 32;
static_assert(SM90S_SP32_OFF_Q % 1024 == 0 && SM90S_SP32_OFF_P % 1024 == 0, "swizzled operands 1024-aligned");
static_assert(SM90S_SP32_OFF_BAR % 8 == 0 && SM90S_SP32_OFF_MASK % 16 == 0, "mbarriers 8-aligned, masks 16-aligned");
static_assert(SM90S_SP32_SMEM_BYTES == 217376, "HOST mirrors this number");
static_assert(SM90S_SP32_SMEM_BYTES <= 232448, "Hopper opt-in shared memory per block");
static_assert(2 * SM90S_SP32_MATH_REGS + SM90S_SP32_GATHER_REGS <= 3 * 168, "setmaxnreg within the launch's registers");
}  // namespace mla
