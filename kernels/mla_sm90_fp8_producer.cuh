// The producer warpgroups of the Hopper decode kernel over the FP8 cache: dense (mla_decode_sm90_fp8_bf16, first)
// and sparse (mla_decode_sm90_fp8_sparse_bf16, fp8_sparse_producer below); layout and launch: mla_config.h. Included
// by mla_decode_sm90.cu after mla_sm90_math.cuh (it uses `swizzled` and `valid_mask`).
//
// It walks the same work items and K blocks as the math warpgroups and fills block j of an item into buffer j & 1,
// as the bf16 kernel's TMA does, so the math side waits on the same per-slab "full" mbarriers. Per block:
//   wait group A empty → TMA the 64 × 512 e4m3 bytes (two 256-byte boxes) into slabs 0–3 (the raw block is exactly
//   group A's size; usually already issued during the block before, as soon as group A was free) → wait group B
//   empty → TMA the bf16 RoPE columns into slab 8 (its full barrier counts the bytes) → wait the raw bytes →
//   dequantise channels 256–511 into slabs 4–7, arrive on their full barriers → channels 128–255 into slabs 2–3 (the
//   second box's, read by then) → channels 0–127 over the first box's bytes in slabs 0–1 (read first, then a
//   barrier), arrive.
// Thread t of the 128 owns token t / 2 and half t % 2 of each step's channels (one scale each). The math
// warpgroups release group A / B of a buffer on its "empty" mbarrier where the bf16 kernel would refill it.
#pragma once
#include <cstdint>
#include <type_traits>

#include "mla_config.h"
#include "mla_fp8_params.h"
#include "mla_params.h"
#include "mla_sm90_fp8_dequant.cuh"
#include "mla_work.cuh"
#include "ptx.cuh"
#include "ptx_sm90.cuh"

namespace {

// Step B's chunks per loop step, their shared loads issued first: one warp per scheduler cannot hide a shared load's
// latency behind another warp's work (4: 3 % off the kernel time at 8192 h16 and h128 s2 on an H200, 2026-12-01;
// 8 spills).
constexpr int kBUnroll = 4;
// The sparse producer's steps B and A convert this many chunks per loop step, their shared loads issued first (4
// against 1: b 128 h_q 128 0.525 → 0.492 ms, the other sparse rows 4–7 % faster on an H200, perf log session 21;
// 2: 0.498 ms). Step A streams 4 chunks per thread, so 4 is its whole loop.
constexpr int kSparseUnroll = 4;
// MLA_SM90_FP8_POW2_DEQUANT (default on since session 36: with MLA_SM90_FP8_MATH_RAW 6–9 % off the dense FP8 rows on an
// H200, perf log session 36; set 0 for the conversion unit always): the dense producer converts a
// step's chunks with e4m3x4_to_bf16x4_pow2 when its scale is a power of two that path takes (every scale a quantizer
// writes for |K| < 57344), with e4m3x4_to_bf16x4 otherwise — chosen per thread and step, not per chunk (a branch per
// chunk cost more than the path saved: H200, session 34 `pw` +7 %; the path alone −6 %).
#ifndef MLA_SM90_FP8_POW2_DEQUANT
#define MLA_SM90_FP8_POW2_DEQUANT 1
#endif
constexpr bool kPow2Dequant = MLA_SM90_FP8_POW2_DEQUANT;
#ifdef MLA_EXPERIMENT_POW2_ONLY  // a timing bound: the fast path whatever the scale (wrong for those it does not take)
constexpr bool kPow2Only = true;
#else
constexpr bool kPow2Only = false;
#endif
// ... and the paired sparse producer's steps (per thread: one token's scale per step; MLA_EXPERIMENT_POW2_SPARSE)
#ifdef MLA_EXPERIMENT_POW2_SPARSE
constexpr bool kPow2DequantSparse = true;
#else
constexpr bool kPow2DequantSparse = false;
#endif
// The paired entry's "peer empty" barriers (group g of buffer b at + 8·(2b + g)), in the single entry's step A scale
// table past the validity words (sValid + 32), which the pair producer does not use: the peer's math warpgroups arrive
// on them (remotely) when they release a group, and this CTA's pushes into that group of the peer wait for it.
constexpr uint32_t kPairPeerEmpty = 32;
constexpr uint32_t kPairPeerEmptyFromEmpty = 64;
// ... and its "validity written" barriers (buffer b at + 8b), on which each producer warp's lane 0 arrives right after it
// stores its validity word (kPairValidWriters arrivals), waited by the math warpgroups before they read the words.
// The slab barriers order those reads too, and so did one producer thread's arrival after the producer's named
// barrier, but compute-sanitizer's racecheck follows neither to the other lanes' stores: it reported 6 hazards on the
// words (sessions 21–27) until each writer arrived itself (session 28; the same speed on an H200).
constexpr uint32_t kPairValidBar = kPairPeerEmpty + 32;  // the same barrier from the group's own empty barrier (the math's view)
constexpr int kPairValidWriters = 4;  // one lane per producer warp
static_assert(SM90_FP8S_OFF_VALID + kPairPeerEmpty == SM90_FP8_OFF_EXTRA_BAR + 16 + kPairPeerEmptyFromEmpty, "peer empty barriers");
constexpr int kProducerSync = 8;  // named barrier of the producer's 128 threads (the math warpgroups use 1–7 and 9)
constexpr int kProducerThreads = SM90_FP8_THREADS - SM90_THREADS;
static_assert(kPairValidWriters == kProducerThreads / 32, "one validity-word writer per producer warp");
static_assert(kProducerThreads == 2 * PAGE_BLOCK_SIZE, "two producer threads per token");

// Dense FP8: the raw e4m3 bytes of K block `page` (two 256-byte-wide boxes of the raw map) into group A's slabs of the
// buffer at sKx, on its raw barrier. One thread; the producer's, or (MLA_SM90_FP8_MATH_RAW) warpgroup 0's at its release
// of that group.
__device__ __forceinline__ void issue_raw_block(uint32_t sKx, const CUtensorMap* raw_map, uint32_t rawx, int pagex) {
  ptx::mbarrier_arrive_expect_tx(rawx, 2 * SM90_FP8_RAW_BOX_BYTES);
  ptx::tma_load_3d(sKx, raw_map, rawx, 0, 0, pagex);
  ptx::tma_load_3d(sKx + SM90_FP8_RAW_BOX_BYTES, raw_map, rawx, HEAD_DIM_V / 2, 0, pagex);
}
// MLA_SM90_FP8_MATH_RAW (default on since session 36, see MLA_SM90_FP8_POW2_DEQUANT; 0 = the producer requests every
// block's raw bytes): an item's blocks j ≥ 2 have their raw bytes requested by
// warpgroup 0 the moment it releases group A of block j − 2 (it is that group's last reader: S of the even blocks and
// P·V over V_L), as the 16-bit entries refill their buffers; the producer requests blocks 0 and 1 only.
#ifndef MLA_SM90_FP8_MATH_RAW
#define MLA_SM90_FP8_MATH_RAW 1
#endif
constexpr bool kFp8MathRaw = MLA_SM90_FP8_MATH_RAW;

// bars_full: slab s of buffer b at bars_full + 8·(9b + s); bars_raw: buffer b at + 8b; bars_empty: group g of
// buffer b at + 8·(2b + g).
__device__ __forceinline__ void fp8_producer(const MlaDecodeParams& p, const PartWork& w, int m_block, uint32_t sK0, uint32_t sK1,
                                             uint32_t bars_full, uint32_t bars_raw, uint32_t bars_empty, const CUtensorMap* raw_map,
                                             const CUtensorMap* rope_map, int ptid) {
  const int t = ptid >> 1, h = ptid & 1;
  const int r_loc[2] = {0, 8};
  const RowSet rs = row_set(p, m_block, r_loc);  // only s_last counts here: the m-block's causal border (end_kv)
  const uint8_t* cache = static_cast<const uint8_t*>(p.k_cache);
  uint32_t fills0 = 0, fills1 = 0;  // completed fills of K0 / K1 (scalars: an array indexed by j & 1 lives in local memory)
  bool raw_ahead = false;  // (thread 0) the next block's raw TMA is already issued
  [[maybe_unused]] int tr_blk = 0;  // trace (mla_sm90_sparse_trace.cuh, dense form): blocks filled so far
  DENSE_TRACE_P(0);
#pragma unroll 1
  for (int pos = w.begin_pos; pos <= w.end_pos; ++pos) {
    const int req = request_at(p, w, pos);
    const Slice sl = slice_of(p, w, pos, req, rs);
    const int first_block = sl.start / PAGE_BLOCK_SIZE;
    const int n_blocks = sl.end_kv > sl.start ? (sl.end_kv - 1) / PAGE_BLOCK_SIZE - first_block + 1 : 0;
    const int* bt = p.block_table + static_cast<int64_t>(req) * p.block_table_stride + first_block;
#pragma unroll 1
    for (int j = 0; j < n_blocks; ++j) {
      const int b = j & 1;
      const uint32_t k = b ? fills1 : fills0, sKb = b ? sK1 : sK0;
      const uint32_t full = bars_full + 8 * SM90_SLABS * b, raw = bars_raw + 8 * b, empty = bars_empty + 16 * b;
      const int page = ptx::ld_plain(bt + j);
      DENSE_TRACE_P(16 + 8 * tr_blk + 0);
      // Block j + 1's raw TMA is issued during block j — once this block's raw bytes have landed, or else after step B
      // — if group A of its buffer is free by then (tested, not waited for): the producer's chain then no longer
      // holds a DRAM round trip per block (H200, session 33 `er`: 4096 / 8192 h_q 64 −5.5 %)
      const int page_next = ptid == 0 && j + 1 < n_blocks ? ptx::ld_plain(bt + j + 1) : 0;
      const bool issued = raw_ahead;
      raw_ahead = false;
      auto try_issue_next = [&] {
        if (ptid == 0 && !raw_ahead && j + 1 < n_blocks && (!kFp8MathRaw || j + 1 < 2)) {
          const int b1 = b ^ 1;
          const uint32_t k1 = b1 ? fills1 : fills0;
          if (k1 == 0 || ptx::mbarrier_test_wait(bars_empty + 16 * b1, (k1 - 1) & 1)) {
            issue_raw_block(b1 ? sK1 : sK0, raw_map, bars_raw + 8 * b1, page_next);
            raw_ahead = true;
          }
        }
      };
      // this thread's scales (channels 256 + 128h…, 128…255, 0…127), loaded before the waits hide their latency
      const float* sc = reinterpret_cast<const float*>(cache + static_cast<int64_t>(page) * p.k_block_stride +
                                                       static_cast<int64_t>(t) * p.k_row_stride + FP8_SCALES_OFFSET);
      const KScale scale_b = k_scale(sc[2 + h]), scale_a1 = k_scale(sc[1]), scale_a0 = k_scale(sc[0]);
      if (k > 0) ptx::mbarrier_wait(empty, (k - 1) & 1);  // group A of the block before is consumed
      if (ptid == 0 && !issued && (!kFp8MathRaw || j < 2)) issue_raw_block(sKb, raw_map, raw, page);
      DENSE_TRACE_P(16 + 8 * tr_blk + 1);
      if (k > 0) ptx::mbarrier_wait(empty + 8, (k - 1) & 1);  // group B (and the P tile aliasing K0's slab 8)
      if (ptid == 0) {
        ptx::mbarrier_arrive_expect_tx(full + 8 * (SM90_SLABS - 1), SM90_SLAB_BYTES);
        ptx::tma_load_3d(sKb + (SM90_SLABS - 1) * SM90_SLAB_BYTES, rope_map, full + 8 * (SM90_SLABS - 1), 0, 0, page);
      }
      DENSE_TRACE_P(16 + 8 * tr_blk + 2);
      ptx::mbarrier_wait(raw, k & 1);
      DENSE_TRACE_P(16 + 8 * tr_blk + 3);
      try_issue_next();
      // Raw row t: bytes [0, 256) of the first box at sKb + 256t (slabs 0–1), [256, 512) of the second at
      // + 16384 + 256t (slabs 2–3). Three steps, each writing where no raw byte still to be read lies:
      // (B) channels 256 + 128h + 16c (second box) → slabs 4–7, 8 chunks per thread. Chunks in rotated order: the
      //     16 tokens of a warp then read 8 different bank groups instead of one.
      const uint32_t row0 = sKb + t * 256, row1 = row0 + SM90_FP8_RAW_BOX_BYTES;
      auto step_b = [&](auto pow2) {
#pragma unroll 1
        for (int i = 0; i < 8; i += kBUnroll) {
          uint4 r[kBUnroll];
#pragma unroll
          for (int k = 0; k < kBUnroll; ++k) r[k] = ptx::ld_shared_v4(row1 + 128 * h + 16 * ((i + k + t) & 7));
#pragma unroll
          for (int k = 0; k < kBUnroll; ++k)
            store_dequantised<decltype(pow2)::value>(sKb, t, HEAD_DIM_V / 2 + 128 * h + 16 * ((i + k + t) & 7), r[k], scale_b);
        }
      };
      if (kPow2Dequant && (kPow2Only || scale_b.mul)) step_b(std::true_type{});
      else step_b(std::false_type{});
      ptx::fence_proxy_async();  // st.shared → the math warpgroups' wgmma reads
      ptx::named_barrier_sync(kProducerSync, kProducerThreads);  // every read of the second box is done: slabs 2–3 free
      if (ptid == 0) {
#pragma unroll
        for (int s = SM90_GROUP_A_SLABS; s < SM90_SLABS - 1; ++s) ptx::mbarrier_arrive(full + 8 * s);
      }
      DENSE_TRACE_P(16 + 8 * tr_blk + 4);
      try_issue_next();
      // (A1) channels 128 + 64h + 16c (first box, bytes 128…255) → slabs 2–3, 4 chunks per thread
      auto step_a1 = [&](auto pow2) {
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const int c = (i + t) & 3;
          store_dequantised<decltype(pow2)::value>(sKb, t, 128 + 64 * h + 16 * c, ptx::ld_shared_v4(row0 + 128 + 64 * h + 16 * c), scale_a1);
        }
      };
      if (kPow2Dequant && (kPow2Only || scale_a1.mul)) step_a1(std::true_type{});
      else step_a1(std::false_type{});
      // (A2) channels 64h + 16c (bytes 0…127) → slabs 0–1, over the first box: read, barrier, write
      uint4 raw_a0[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) raw_a0[i] = ptx::ld_shared_v4(row0 + 64 * h + 16 * ((i + t) & 3));
      ptx::named_barrier_sync(kProducerSync, kProducerThreads);
      auto step_a0 = [&](auto pow2) {
#pragma unroll
        for (int i = 0; i < 4; ++i) store_dequantised<decltype(pow2)::value>(sKb, t, 64 * h + 16 * ((i + t) & 3), raw_a0[i], scale_a0);
      };
      if (kPow2Dequant && (kPow2Only || scale_a0.mul)) step_a0(std::true_type{});
      else step_a0(std::false_type{});
      ptx::fence_proxy_async();
      ptx::named_barrier_sync(kProducerSync, kProducerThreads);
      if (ptid == 0) {
#pragma unroll
        for (int s = 0; s < SM90_GROUP_A_SLABS; ++s) ptx::mbarrier_arrive(full + 8 * s);
      }
      DENSE_TRACE_P(16 + 8 * tr_blk + 5);
      if (ptid == 0) DENSE_TRACE_WORD(16 + 8 * tr_blk + 6, issued ? 1u : 0u);  // the raw TMA went out during the block before
      SPARSE_TRACE_NEXT(tr_blk);
      if (b) fills1 = k + 1;
      else fills0 = k + 1;
    }
  }
}

// A sparse item as the producers walk it: the slice's K blocks and the query token's index list (topk_length applied).
struct SparseItem {
  const int* idx;
  int len, first_block, n_blocks;
  // the index at position tok of block jj of the slice, −1 past the list or the slice
  __device__ __forceinline__ int slot(int jj, int tok) const {
    const int pos = (first_block + jj) * PAGE_BLOCK_SIZE + tok;
    return jj < n_blocks && pos < len ? ptx::ld_plain(idx + pos) : -1;
  }
};
__device__ __forceinline__ SparseItem sparse_item(const MlaDecodeParams& p, const MlaFp8Params& f, const PartWork& w, int req, const RowSet& rs) {
  const Slice sl = slice_of_len(p, w, req, req, rs, f.topk);  // (sparse decode: always the batch order)
  SparseItem it;
  it.first_block = sl.start / PAGE_BLOCK_SIZE;
  it.n_blocks = sl.end_kv > sl.start ? (sl.end_kv - 1) / PAGE_BLOCK_SIZE - it.first_block + 1 : 0;
  it.idx = f.indices + static_cast<int64_t>(req) * f.indices_batch_stride + static_cast<int64_t>(rs.s_last) * f.indices_seq_stride;
  it.len = f.topk_length != nullptr ? min(max(ptx::ld_plain(f.topk_length + req), 0), f.topk) : f.topk;
  return it;
}
// The cache row of a valid slot (page · page stride + offset · row stride; `contiguous`: pages laid end to end, the
// slot times the row stride — no division by the page size, ~2 % of the sparse producer's time, ncu on an H200)
__device__ __forceinline__ const uint8_t* sparse_row(const MlaDecodeParams& p, const MlaFp8Params& f, const uint8_t* cache, bool contiguous, int slot) {
  return cache + (contiguous ? static_cast<int64_t>(slot) * p.k_row_stride
                             : static_cast<int64_t>(slot / f.page_size) * p.k_block_stride + static_cast<int64_t>(slot % f.page_size) * p.k_row_stride);
}
// A producer warp's validity word: the predicates of its 16 even lanes (lane 2i → bit i; each position's two or four
// threads share a value, one of them on an even lane).
__device__ __forceinline__ uint32_t even_lane_bits(bool pred) {
  uint32_t bits = __ballot_sync(0xffffffffu, pred) & 0x55555555u;
  bits = (bits | bits >> 1) & 0x33333333u;
  bits = (bits | bits >> 2) & 0x0f0f0f0fu;
  bits = (bits | bits >> 4) & 0x00ff00ffu;
  return (bits | bits >> 8) & 0x0000ffffu;
}

// Sparse decode: the producer gathers. Block j of an item is positions [64·(first block + j), +64) of the query
// token's index list (every row of the m-block is one query token: row_set_token_padded); thread (t, h) owns
// position t: it loads its slot and scales and its half of the token's RoPE row (64 bytes) into registers; h = 0
// issues one bulk copy of the 512 e4m3 bytes to row t of group A's slabs (t · 512), adding them to the raw barrier's
// transaction count, thread 0 arriving once all have. Positions past topk_length, −1 and slots outside the cache are
// not read: their values are written as zeros and their bit in the block's validity mask (sValid: per buffer four
// 16-bit words, one per producer warp) is clear, so the math side masks them. The math warpgroups release group A / B
// of a buffer on its "empty" mbarrier (as for dense FP8): the copies wait for group A only, the validity words and
// the RoPE halves (stored swizzled into slab 8 while the codes land) for group B. Then: (B) channels 256–511 → slabs
// 4–7; (A) channels 0–255 over the raw rows in slabs 0–3 (read first, then a barrier).
__device__ __forceinline__ void fp8_sparse_producer(const MlaDecodeParams& p, const MlaFp8Params& f, const PartWork& w, int m_block, uint32_t sK0,
                                                    uint32_t sK1, uint32_t bars_full, uint32_t bars_raw, uint32_t bars_empty, uint32_t sValid, int ptid) {
  const uint32_t sScaleA = sValid + 32;  // float[64][2]: each token's scales of channels 0–127 and 128–255
  const int t = ptid >> 1, h = ptid & 1, lane = ptid & 31, pwarp = ptid >> 5;
  const int r_loc[2] = {0, 8};
  const RowSet rs = row_set_token_padded(p, m_block, r_loc);
  const uint8_t* cache = static_cast<const uint8_t*>(p.k_cache);
  const uint4 zero = make_uint4(0, 0, 0, 0);
  uint32_t fills0 = 0, fills1 = 0;
  // Pages laid end to end (the common case): a slot's row is slot · row stride, no division by the page size (~2 % of
  // the producer's time, ncu on an H200)
  const bool contiguous = p.k_block_stride == static_cast<int64_t>(f.page_size) * p.k_row_stride;
  [[maybe_unused]] int tr_blk = 0;  // sparse trace (mla_decode_sm90.cu): blocks this producer has filled so far
  SPARSE_TRACE_P(0);
#pragma unroll 1
  for (int req = w.begin_pos; req <= w.end_pos; ++req) {
    const SparseItem it = sparse_item(p, f, w, req, rs);
    const int n_blocks = it.n_blocks;
    // this thread's index of block j, loaded one block ahead: the next gather's address is known when its buffer
    // frees, not one global round trip later (ncu, H200: 7 % of the producer's samples waited on it; sparse rows
    // 1.0–1.6 % faster, perf log session 17 `spidx`)
    int slot_next = it.slot(0, t);
#pragma unroll 1
    for (int j = 0; j < n_blocks; ++j) {
      SPARSE_TRACE_P(16 + 8 * tr_blk + 0);
      const int b = j & 1;
      const uint32_t k = b ? fills1 : fills0, sKb = b ? sK1 : sK0;
      const uint32_t full = bars_full + 8 * SM90_SLABS * b, raw = bars_raw + 8 * b;
      const uint32_t empty_a = bars_empty + 16 * b, empty_b = empty_a + 8;
      const int slot = slot_next;
      slot_next = it.slot(j + 1, t);
      const bool valid = slot >= 0 && slot < f.num_slots;
      const int64_t row_off = contiguous ? static_cast<int64_t>(slot) * p.k_row_stride
                                         : static_cast<int64_t>(slot / f.page_size) * p.k_block_stride + static_cast<int64_t>(slot % f.page_size) * p.k_row_stride;
      const uint8_t* row = cache + (valid ? row_off : 0);
      float scale_b = 0.f, scale_a = 0.f;
      if (valid) {
        const float* sc = reinterpret_cast<const float*>(row + FP8_SCALES_OFFSET);
        scale_b = sc[2 + h], scale_a = sc[h];
      }
      // this thread's RoPE chunks 4h … 4h + 3, from global memory into registers: a bulk copy per token for them (as
      // for the codes) doubled the warp's serial copy-issue loop (ELECT / R2UR / UBLKCP per lane) and took a shared-
      // memory round trip (the sparse rows 8–16 % faster on an H200, perf log session 20 `roperg`). Issued before the
      // buffer waits, consumed before this block's proxy fence (whose MEMBAR would otherwise wait for them).
      uint4 r4[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) r4[i] = valid ? ptx::ld_global_v4(row + FP8_ROPE_OFFSET + 16 * (4 * h + i)) : zero;
      // this warp's 16 positions: lanes 0, 2, … vote; the even ballot bits gathered into 16 (shifts and masks)
      // (even_lane_bits written out: through the helper ptxas schedules this entry differently — compare-cubins,
      // session 31 — and its machine code stays the measured one until the entry is next timed)
      uint32_t bits = __ballot_sync(0xffffffffu, valid && h == 0) & 0x55555555u;
      bits = (bits | bits >> 1) & 0x33333333u;
      bits = (bits | bits >> 2) & 0x0f0f0f0fu;
      bits = (bits | bits >> 4) & 0x00ff00ffu;
      bits = (bits | bits >> 8) & 0x0000ffffu;
      if (k > 0) ptx::mbarrier_wait(empty_a, (k - 1) & 1);  // group A of the block before is consumed
      SPARSE_TRACE_P(16 + 8 * tr_blk + 1);
      if (valid && h == 0) {
        ptx::mbarrier_expect_tx(raw, HEAD_DIM_V);
        ptx::bulk_load(sKb + t * HEAD_DIM_V, row, HEAD_DIM_V, raw);
      }
      ptx::named_barrier_sync(kProducerSync, kProducerThreads);  // every thread's bytes are on the raw barrier
      if (ptid == 0) ptx::mbarrier_arrive(raw);
      // The codes land in group A only, so their copies go out before group B is free (the sparse rows 8–9 % faster on
      // an H200, perf log session 20 `lateb`); group B — slab 8's RoPE, and the validity words, which buffer 1's reader
      // (warpgroup 1) is done with when it releases B — only now.
      if (k > 0) ptx::mbarrier_wait(empty_b, (k - 1) & 1);  // group B (and the P tile aliasing K0's slab 8)
      if (lane == 0) ptx::st_shared_u32(sValid + 16 * b + 4 * pwarp, bits);
      {
        const uint32_t rope = sKb + (SM90_SLABS - 1) * SM90_SLAB_BYTES;  // (zeros for an invalid position)
#pragma unroll
        for (int i = 0; i < 4; ++i) ptx::st_shared_v4(rope + swizzled(t, 4 * h + i), r4[i]);
      }
      SPARSE_TRACE_P(16 + 8 * tr_blk + 2);
      ptx::mbarrier_wait(raw, k & 1);
      SPARSE_TRACE_P(16 + 8 * tr_blk + 3);
      // (B) channels 256 + 128h + 16c of row t (bytes 256 + 128h + 16c) → slabs 4–7, rotated chunk order
      const uint32_t row_s = sKb + t * HEAD_DIM_V;
#pragma unroll 1
      for (int i = 0; i < 8; i += kSparseUnroll) {
        if (valid) {
          uint4 a[kSparseUnroll];
#pragma unroll
          for (int u = 0; u < kSparseUnroll; ++u) a[u] = ptx::ld_shared_v4(row_s + HEAD_DIM_V / 2 + 128 * h + 16 * ((i + u + t) & 7));
#pragma unroll
          for (int u = 0; u < kSparseUnroll; ++u) store_dequantised(sKb, t, HEAD_DIM_V / 2 + 128 * h + 16 * ((i + u + t) & 7), a[u], scale_b);
        } else {
#pragma unroll
          for (int u = 0; u < kSparseUnroll; ++u) store_dequantised_zero(sKb, t, HEAD_DIM_V / 2 + 128 * h + 16 * ((i + u + t) & 7));
        }
      }
      ptx::st_shared_f32(sScaleA + 8 * t + 4 * h, scale_a);  // for step (A), whose threads take other tokens
      ptx::fence_proxy_async();
      ptx::named_barrier_sync(kProducerSync, kProducerThreads);  // slabs 4–8 written; raw bytes 256–511 read
      if (ptid == 0) {
#pragma unroll
        for (int sl4 = SM90_GROUP_A_SLABS; sl4 < SM90_SLABS; ++sl4) ptx::mbarrier_arrive(full + 8 * sl4);
        SPARSE_TRACE_P(16 + 8 * tr_blk + 4);
      }
      // (A) channels 0–255 (bytes 0…255 of each raw row) → slabs 0–3, over the raw rows. Token u's output line in
      // slab s (s · 8192 + 128u) is quarter u % 4 of raw row 16s + u / 4: for u % 4 ∈ {2, 3} a quarter (B's bytes)
      // already read, for u % 4 ∈ {0, 1} one still to read. So the 32 tokens u % 4 ∈ {0, 1} are read into registers
      // first (4 chunks per thread), the other 32 stream (read, convert, write), and after a barrier the held ones
      // are written. Thread ptid: token pair slot ptid / 4 (tokens 4·(ptid / 8) + (ptid / 4) % 2 (+ 2)), channels
      // 64 · (ptid % 4) … + 63 (scale ptid % 4 / 2, from the producer's table).
      const int u_slot = ptid >> 2, quarter = ptid & 3;
      const int u_held = 4 * (u_slot >> 1) + (u_slot & 1), u_stream = u_held + 2;
      const uint64_t vmask = valid_mask(sValid + 16 * b);  // (mla_sm90_math.cuh)
      uint4 held[4];
#pragma unroll
      for (int i = 0; i < 4; ++i)
        held[i] = (vmask >> u_held) & 1 ? ptx::ld_shared_v4(sKb + u_held * HEAD_DIM_V + 64 * quarter + 16 * i) : zero;
      {
        const bool v = (vmask >> u_stream) & 1;
        const float sc_s = ptx::ld_shared_f32(sScaleA + 8 * u_stream + 4 * (quarter >> 1));
#pragma unroll 1
        for (int i = 0; i < 4; i += kSparseUnroll) {
          if (v) {
            uint4 a[kSparseUnroll];
#pragma unroll
            for (int u = 0; u < kSparseUnroll; ++u) a[u] = ptx::ld_shared_v4(sKb + u_stream * HEAD_DIM_V + 64 * quarter + 16 * (i + u));
#pragma unroll
            for (int u = 0; u < kSparseUnroll; ++u) store_dequantised(sKb, u_stream, 64 * quarter + 16 * (i + u), a[u], sc_s);
          } else {
#pragma unroll
            for (int u = 0; u < kSparseUnroll; ++u) store_dequantised_zero(sKb, u_stream, 64 * quarter + 16 * (i + u));
          }
        }
      }
      const float sc_h = ptx::ld_shared_f32(sScaleA + 8 * u_held + 4 * (quarter >> 1));
      ptx::named_barrier_sync(kProducerSync, kProducerThreads);  // every held token's raw bytes are in registers
#pragma unroll
      for (int i = 0; i < 4; ++i) store_dequantised(sKb, u_held, 64 * quarter + 16 * i, held[i], sc_h);  // (zeros: zero in)
      ptx::fence_proxy_async();
      ptx::named_barrier_sync(kProducerSync, kProducerThreads);
      if (ptid == 0) {
#pragma unroll
        for (int sl4 = 0; sl4 < SM90_GROUP_A_SLABS; ++sl4) ptx::mbarrier_arrive(full + 8 * sl4);
        SPARSE_TRACE_P(16 + 8 * tr_blk + 5);
      }
      SPARSE_TRACE_NEXT(tr_blk);
      if (b) fills1 = k + 1;
      else fills0 = k + 1;
    }
  }
}

// The paired sparse entry (mla_decode_sm90_fp8_sparse_pair_bf16): the two m-blocks of one query token (h_q > 64) run
// as a 2-CTA cluster over the same work, and each CTA's producer gathers and dequantises only its half of every block
// — tokens 32·rank … + 31 — into rows 32·rank … + 31 of its own buffer, then pushes each finished slab half (4 KB) to
// the same place in the peer's buffer with a bulk shared::cluster copy that completes on the peer's slab barrier (each
// side's own arrival expects the peer's 4 KB). A group of the peer's buffer is pushed into only once the peer's math
// warpgroups have released it (their remote arrival on this CTA's kPairPeerEmpty barrier). Thread (u, q) = (ptid / 4, ptid % 4) owns
// token row t = 32·rank + u and channels 64q … + 63 of each half: step B bytes 256 + 64q … → slab 4 + q, step A bytes
// 64q … → slab q; RoPE chunks 2q, 2q + 1. The raw rows of the CTA's 32 tokens land in its own halves of slabs 0–3 (8
// rows of 512 B per half), so step B is not in place and step A reads everything before anyone writes. Each CTA
// works out all 64 validity bits itself (every thread loads one more index): no mask crosses the cluster. Before
// writing a group of a buffer the producer waits for both CTAs' math to have released it: its own (the group's empty
// barrier) and the peer's (kPairPeerEmpty, a remote arrival) — the peer consuming the block is what says this CTA's
// push of it, which reads this CTA's halves, is complete (the kernel emulator's race detector found the gather
// overwriting them when only the pushes waited for the peer).
// The RoPE rows go to the peer from registers (st.async), not as a bulk copy of slab 8: this CTA's P0 tile aliases
// slab 8 of buffer 0, and a bulk copy's source read is known complete only in the CTA it lands in (the emulator, which
// now models that read, found P0 stored over a half still being pushed). Issuing an odd block's raw rows from the even
// block before it (once its group A is released) was slower (b 128 h_q 128: 0.396 → 0.437 ms, perf log session 22):
// the even block then waits for that release too.
__device__ __forceinline__ void fp8_sparse_pair_producer(const MlaDecodeParams& p, const MlaFp8Params& f, const PartWork& w, int m_block, uint32_t sK0,
                                                         uint32_t sK1, uint32_t bars_full, uint32_t bars_raw, uint32_t bars_empty, uint32_t sValid, int ptid) {
  constexpr uint32_t kHalf = SM90_SLAB_BYTES / 2;  // one CTA's 32 rows of a slab
  const uint32_t rank = ptx::cluster_ctarank(), peer = rank ^ 1u;
  const int u = ptid >> 2, q = ptid & 3, lane = ptid & 31, pwarp = ptid >> 5;
  const int t = 32 * static_cast<int>(rank) + u;
  const int r_loc[2] = {0, 8};
  const RowSet rs = row_set_token_padded(p, m_block, r_loc);
  const uint8_t* cache = static_cast<const uint8_t*>(p.k_cache);
  const uint4 zero = make_uint4(0, 0, 0, 0);
  uint32_t fills0 = 0, fills1 = 0;
  const bool contiguous = p.k_block_stride == static_cast<int64_t>(f.page_size) * p.k_row_stride;
  auto row_of = [&](int slot) { return sparse_row(p, f, cache, contiguous, slot); };
  // raw row u: 512 B at row u % 8 of this CTA's half of slab u / 8 of buffer b
  auto raw_row_of = [&](int b) { return (b ? sK1 : sK0) + (u >> 3) * SM90_SLAB_BYTES + rank * kHalf + (u & 7) * HEAD_DIM_V; };
  // Gather this CTA's raw rows of a block into buffer b (its fill k): once group A of the block before in b is
  // released here and in the peer — this CTA's raw rows land in its own halves, which its last push of this buffer
  // may still be reading until the peer's math has had them.
  auto issue_raw = [&](int b, uint32_t k, int slot) {
    const uint32_t empty_a = bars_empty + 16 * b, raw = bars_raw + 8 * b;
    if (k > 0) {
      ptx::mbarrier_wait(empty_a, (k - 1) & 1);
      ptx::mbarrier_wait_cluster(sValid + kPairPeerEmpty + 16 * b, (k - 1) & 1);
    }
    if (slot >= 0 && slot < f.num_slots && q == 0) {
      ptx::mbarrier_expect_tx(raw, HEAD_DIM_V);
      ptx::bulk_load(raw_row_of(b), row_of(slot), HEAD_DIM_V, raw);
    }
    ptx::named_barrier_sync(kProducerSync, kProducerThreads);  // every thread's bytes are on the raw barrier
    if (ptid == 0) ptx::mbarrier_arrive(raw);
  };
  // this warp writes validity word pwarp (tokens 16·pwarp … + 15, whichever CTA gathers them) whole, as in the single
  // entry: lanes 2i, 2i + 1 load token 16·pwarp + i's index
  const int v_tok = 16 * pwarp + (lane >> 1);
  [[maybe_unused]] int tr_blk = 0;  // sparse trace: the single entry's stamps, at the same points
  SPARSE_TRACE_P(0);
#pragma unroll 1
  for (int req = w.begin_pos; req <= w.end_pos; ++req) {
    const SparseItem it = sparse_item(p, f, w, req, rs);
    const int n_blocks = it.n_blocks;
    int slot_next = it.slot(0, t), vslot_next = it.slot(0, v_tok);
#pragma unroll 1
    for (int j = 0; j < n_blocks; ++j) {
      SPARSE_TRACE_P(16 + 8 * tr_blk + 0);
      const int b = j & 1;
      const uint32_t k = b ? fills1 : fills0, sKb = b ? sK1 : sK0;
      const uint32_t full = bars_full + 8 * SM90_SLABS * b, raw = bars_raw + 8 * b;
      const uint32_t empty_b = bars_empty + 16 * b + 8;
      const int slot = slot_next, vslot = vslot_next;
      slot_next = it.slot(j + 1, t);
      vslot_next = it.slot(j + 1, v_tok);
      const bool valid = slot >= 0 && slot < f.num_slots;
      const uint8_t* row = valid ? row_of(slot) : cache;
      float scale_b = 0.f, scale_a = 0.f;
      if (valid) {
        const float* sc = reinterpret_cast<const float*>(row + FP8_SCALES_OFFSET);
        scale_b = sc[2 + (q >> 1)], scale_a = sc[q >> 1];
      }
      uint4 r2[2];  // RoPE chunks 2q, 2q + 1 (as in fp8_sparse_producer: loaded before the waits)
#pragma unroll
      for (int i = 0; i < 2; ++i) r2[i] = valid ? ptx::ld_global_v4(row + FP8_ROPE_OFFSET + 16 * (2 * q + i)) : zero;
      // this warp's validity word (lanes 2i, 2i + 1 loaded position 16·pwarp + i's index)
      const uint32_t bits = even_lane_bits(vslot >= 0 && vslot < f.num_slots && (lane & 1) == 0);
      issue_raw(b, k, slot);
      SPARSE_TRACE_P(16 + 8 * tr_blk + 1);
      const uint32_t raw_row = raw_row_of(b);
      if (k > 0) {  // group B (and the P tile aliasing K0's slab 8), here and in the peer
        ptx::mbarrier_wait(empty_b, (k - 1) & 1);
        ptx::mbarrier_wait_cluster(sValid + kPairPeerEmpty + 16 * b + 8, (k - 1) & 1);
      }
      if (lane == 0) {
        ptx::st_shared_u32(sValid + 16 * b + 4 * pwarp, bits);
        ptx::mbarrier_arrive(sValid + kPairValidBar + 8 * b);  // this warp's validity word is stored
      }
      {  // the RoPE rows here and, from registers, in the peer (st.async completes on its slab barrier; no bulk push of
         // slab 8, whose source this CTA's P0 aliases: a copy's source read is known complete only where it lands)
        const uint32_t rope = sKb + (SM90_SLABS - 1) * SM90_SLAB_BYTES;
        const uint32_t rope_peer = ptx::mapa_shared(rope, peer), full_peer = ptx::mapa_shared(full + 8 * (SM90_SLABS - 1), peer);
#pragma unroll
        for (int i = 0; i < 2; ++i) {
          ptx::st_shared_v4(rope + swizzled(t, 2 * q + i), r2[i]);
          ptx::st_async_v4(rope_peer + swizzled(t, 2 * q + i), r2[i], full_peer);
        }
      }
      SPARSE_TRACE_P(16 + 8 * tr_blk + 2);
      ptx::mbarrier_wait(raw, k & 1);
      SPARSE_TRACE_P(16 + 8 * tr_blk + 3);
      // chunk i of a step: 16 B at 16·((i + q + u) % 4) — a quarter warp's 8 loads and 16 stores then hit 8 bank groups
      // (B) bytes 256 + 64q … + 63 of raw row u → channels 256 + 64q … (slab 4 + q), not in place
      {
        uint4 a[4];
#pragma unroll
        for (int i = 0; i < 4; ++i) a[i] = valid ? ptx::ld_shared_v4(raw_row + HEAD_DIM_V / 2 + 64 * q + 16 * ((i + q + u) & 3)) : zero;
        const KScale ks = k_scale(scale_b);
        auto step_b = [&](auto pow2) {
#pragma unroll
          for (int i = 0; i < 4; ++i) store_dequantised<decltype(pow2)::value>(sKb, t, HEAD_DIM_V / 2 + 64 * q + 16 * ((i + q + u) & 3), a[i], ks);  // (zeros: zero in)
        };
        if (kPow2DequantSparse && ks.mul) step_b(std::true_type{});
        else step_b(std::false_type{});
      }
      // (A) bytes 64q … + 63 → channels 64q … (slab q), over the raw rows: every raw byte is read before any is written
      uint4 held[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) held[i] = valid ? ptx::ld_shared_v4(raw_row + 64 * q + 16 * ((i + q + u) & 3)) : zero;
      ptx::fence_proxy_async();  // st.shared → the math warpgroups' wgmma reads and the pushes (async proxy)
      ptx::named_barrier_sync(kProducerSync, kProducerThreads);  // this CTA's halves of slabs 4–8 written; raw rows read
      if (ptid == 0) {
#pragma unroll
        for (int s = SM90_GROUP_A_SLABS; s < SM90_SLABS; ++s) {
          const uint32_t half = sKb + s * SM90_SLAB_BYTES + rank * kHalf;
          ptx::mbarrier_arrive_expect_tx(full + 8 * s, kHalf);  // the peer's half of slab s comes on this barrier
          if (s < SM90_SLABS - 1) ptx::bulk_push(ptx::mapa_shared(half, peer), half, kHalf, ptx::mapa_shared(full + 8 * s, peer));
        }
      }
      SPARSE_TRACE_P(16 + 8 * tr_blk + 4);
      const KScale ks_a = k_scale(scale_a);
      auto step_a = [&](auto pow2) {
#pragma unroll
        for (int i = 0; i < 4; ++i) store_dequantised<decltype(pow2)::value>(sKb, t, 64 * q + 16 * ((i + q + u) & 3), held[i], ks_a);
      };
      if (kPow2DequantSparse && ks_a.mul) step_a(std::true_type{});
      else step_a(std::false_type{});
      ptx::fence_proxy_async();
      ptx::named_barrier_sync(kProducerSync, kProducerThreads);
      if (ptid == 0) {
#pragma unroll
        for (int s = 0; s < SM90_GROUP_A_SLABS; ++s) {
          ptx::mbarrier_arrive_expect_tx(full + 8 * s, kHalf);
          const uint32_t half = sKb + s * SM90_SLAB_BYTES + rank * kHalf;
          ptx::bulk_push(ptx::mapa_shared(half, peer), half, kHalf, ptx::mapa_shared(full + 8 * s, peer));
        }
      }
      SPARSE_TRACE_P(16 + 8 * tr_blk + 5);
      SPARSE_TRACE_NEXT(tr_blk);
      if (b) fills1 = k + 1;
      else fills0 = k + 1;
    }
  }
}

// The producer warpgroup of an FP8 entry (kMode: kFp8Dense, kFp8Sparse or kFp8SparsePair), after its register
// hand-over (setmaxnreg), to its end; ptid = threadIdx.x − SM90_THREADS.
template <int kMode>
__device__ __forceinline__ void run_producer(const MlaDecodeParams& p, const MlaFp8Params* fp, const PartWork& w, int m_block, uint32_t sK0,
                                             uint32_t sK1, uint32_t sBar, uint32_t sBarRaw, uint32_t sBarEmpty, uint32_t sValid,
                                             const CUtensorMap* kmap, const CUtensorMap* rope_map, int ptid) {
  if constexpr (kMode == kFp8SparsePair) {
    fp8_sparse_pair_producer(p, *fp, w, m_block, sK0, sK1, sBar, sBarRaw, sBarEmpty, sValid, ptid);
    ptx::cluster_sync();  // no CTA leaves while the peer may still push into it or arrive on its barriers
  } else if constexpr (kMode == kFp8Sparse) {
    fp8_sparse_producer(p, *fp, w, m_block, sK0, sK1, sBar, sBarRaw, sBarEmpty, sValid, ptid);
  } else {
    fp8_producer(p, w, m_block, sK0, sK1, sBar, sBarRaw, sBarEmpty, kmap, rope_map, ptid);
  }
}

}  // namespace
