// The `hopper` kernel's per-entry schedule choices (mla_decode_sm90.cu's decode_kernel<T, kMode, kStaggerFirst>), each
// with the measurement that set it. Included by mla_decode_sm90.cu only.
#pragma once
#include "mla_sm90_fp8_producer.cuh"  // kFp8MathRaw
#include "mla_sm90_kbuffers.cuh"      // kPage1ThreadOf
#include "mla_sm90_math.cuh"          // Mode

namespace {

template <int kMode, bool kStaggerFirst>
struct Sm90Policy {
  static constexpr bool kFp8 = kModeFp8<kMode>, kSparse = kModeSparse<kMode>;
  static constexpr bool kPair = kMode == kFp8SparsePair;  // a 2-CTA cluster sharing each block's gather (fp8_sparse_pair_producer)
  // FP8: WG0 publishes P0 before its P·V, relative to block j's max, and WG1 rescales O_R around its P0 · V0R, so
  // that each buffer is released without waiting for the other buffer's next fill (the sparse rows on 'hopper' 2.5–7 %
  // faster on an H200, perf log session 18 `sep0`; dense FP8 6 % faster, session 33 `fp8e0`). The bf16/fp16 entries
  // keep the late P0 (their TMA refills do not wait on a producer's chain; on the FP8 seesaw with K0.B refilled once
  // P0 · V0R retires they were mixed on an H200: S9 / S12 1–1.7 % faster, sweep#12 / S6 0.6–0.9 % and sweep#28 5 %
  // slower, sessions 38–43 `ep`, `lzepmb`).
  static constexpr bool kEarlyP0 = kFp8;
  // Dense FP8: WG1 also takes P0 · V0R of block j — and releases K0.B — before it issues S of block j + 1, so that the
  // producer's next fill of buffer 0 does not wait for its fill of buffer 1 to be consumed (session 33 `fp8e`: dense
  // FP8 another 1–2 % faster). Not for sparse, whose rows were 1–7 % slower with it (`pv1`, `pv2`): there the S of
  // block j + 1 behind WG0's P0 lengthens the math's own chain more than the producer gains.
  static constexpr bool kPv0First = kMode == kFp8Dense;
  // dense entries write split rows as scaled fp16 rows (PARTIAL16_ROW_ELEMS, mla_sm90_math.cuh store_row_wide), the sparse ones fp32
#ifdef MLA_EXPERIMENT_FP32_PARTIALS  // EXPERIMENT (variant builds only, with FLASH_MLA_EXPERIMENT_PARTIALS=fp32)
  static constexpr bool kHalfPartials = false;
#else
  static constexpr bool kHalfPartials = kMode == kDense16 || kMode == kFp8Dense;
#endif
  static constexpr bool kMathRaw = kMode == kFp8Dense && kFp8MathRaw;  // (mla_sm90_fp8_producer.cuh)
  // The memory-bound entries stagger every item's first two blocks, not only the part's first item's: the epilogue
  // issues the next item's block 0, warpgroup 1's thread 0 its block 1 at that item's top once block 0 has landed
  // (items of equal length end together on every SM: S5 1.7 % faster on the H200, session 16 `sitems`).
  static constexpr bool kStaggerItems = kStaggerFirst;
  static constexpr int kPage1Thread = kPage1ThreadOf<kStaggerFirst>;  // (mla_sm90_kbuffers.cuh)
  // The memory-bound entries: warpgroup 0 refills K1.A (V1L) with block j+3 right after its P1 · V1L, before it issues
  // S of block j+2 — not after that S's first half (H200, session 37 `k1am`, two rounds: sweep#6/#8/#24 1.1–1.3 %
  // faster, S5/S12 0.4–0.8 %, the compute-bound rows unchanged). Not for the compute-bound entries: there waiting for
  // the P·V before the S issue cost sweep#12 / #28 / S6 1–4 % (`k1aa`).
  static constexpr bool kK1aEarly = !kFp8 && kStaggerFirst;
};

}  // namespace
