// The paired sparse entry's producer with the gather staged in registers — an experiment (session 31, built and
// emulated, not yet timed on a GPU): `-DMLA_SM90_PAIR_STAGED=1` puts fp8_sparse_pair_producer_staged in place of
// fp8_sparse_pair_producer (mla_sm90_fp8_producer.cuh, whose barriers and constants it shares), with the switches
// MLA_SM90_PAIR_STAGED_BPRE (group B chunks converted before B's wait, 0–2), MLA_SM90_PAIR_STAGED_EARLY (the next
// block's gather right after group A's stores), MLA_SM90_PAIR_STAGED_PUSH (the peer's half of the codes by bulk
// pushes instead of st.async) and MLA_SM90_PAIR_STAGED_LOCAL_ASYNC (this CTA's own half by st.async too: group B's
// (1) or both groups' (2), with no proxy fence or producer barrier for them) and MLA_SM90_PAIR_STAGED_L2 (each block's
// rows prefetched into L2 a block ahead; session 32). Included by mla_decode_sm90.cu after mla_sm90_fp8_producer.cuh;
// perf log, sessions 31–32.
#pragma once
#include <cstdint>

#include "mla_config.h"
#include "mla_fp8_params.h"
#include "mla_params.h"
#include "mla_work.cuh"
#include "ptx.cuh"
#include "ptx_sm90.cuh"

namespace {

#if MLA_SM90_PAIR_STAGED
#ifndef MLA_SM90_PAIR_STAGED_PUSH
#define MLA_SM90_PAIR_STAGED_PUSH 0
#endif
#ifndef MLA_SM90_PAIR_STAGED_LOCAL_ASYNC
#define MLA_SM90_PAIR_STAGED_LOCAL_ASYNC 0
#endif
#ifndef MLA_SM90_PAIR_STAGED_L2
#define MLA_SM90_PAIR_STAGED_L2 0
#endif
// One position's registers for fp8_sparse_pair_producer_staged: thread q's code chunks 64i + 16q of group A, the
// token's scales, its cache row (nullptr: invalid; group B's chunks and the RoPE chunks are loaded from it later),
// and its warp's validity word.
struct StagedRow {
  uint4 a[4];
  float4 sc;
  const uint8_t* row;
  uint32_t bits;
};
__device__ __forceinline__ StagedRow stage_row(const MlaDecodeParams& p, const MlaFp8Params& f, const uint8_t* cache, bool contiguous,
                                               int slot, int vslot, int q, int lane) {
  StagedRow r;
  const uint4 zero = make_uint4(0, 0, 0, 0);
  const bool valid = slot >= 0 && slot < f.num_slots;
  // (sparse_row written out with the invalid case folded in: through the helper this build spilled 12 B at BPRE 2)
  const uint8_t* row = cache + (!valid ? 0
                                : contiguous ? static_cast<int64_t>(slot) * p.k_row_stride
                                             : static_cast<int64_t>(slot / f.page_size) * p.k_block_stride + static_cast<int64_t>(slot % f.page_size) * p.k_row_stride);
#pragma unroll
  for (int i = 0; i < 4; ++i) r.a[i] = valid ? ptx::ld_global_v4(row + 64 * i + 16 * q) : zero;
  const uint4 s4 = valid ? ptx::ld_global_v4(row + FP8_SCALES_OFFSET) : zero;
  r.sc = make_float4(__uint_as_float(s4.x), __uint_as_float(s4.y), __uint_as_float(s4.z), __uint_as_float(s4.w));
  r.row = valid ? row : nullptr;
  r.bits = even_lane_bits(vslot >= 0 && vslot < f.num_slots && (lane & 1) == 0);
  return r;
}

// The paired entry's producer with the gather staged in registers (experiment, `-DMLA_SM90_PAIR_STAGED=1`): thread
// (u, q) owns token row t = 32·rank + u of each block and loads its 16-byte code chunks 64i + 16q (i = 0..3: group A's
// channels 64i + 16q … + 15) and the token's four scales straight from the cache into registers a block ahead, so no
// part of a block's gather waits for a buffer. Once group A of the buffer is released here and in the peer, it
// converts and stores those chunks here and in the peer (st.async, or a bulk push per slab half: PUSH) and arrives on
// slabs 0–3; then it loads group B's chunks (bytes 256 + …) and its RoPE chunks, converts BPRE of B's four chunks
// while B is still in use, and once B is released here and in the peer stores B, the RoPE chunks and the validity word
// and arrives on slabs 4–8. No raw rows in shared memory and no raw barrier. Its global loads are all consumed before
// each proxy fence (a fence waits for the thread's loads in flight: perf log session 19), except with EARLY.
__device__ __forceinline__ void fp8_sparse_pair_producer_staged(const MlaDecodeParams& p, const MlaFp8Params& f, const PartWork& w, int m_block,
                                                                uint32_t sK0, uint32_t sK1, uint32_t bars_full, uint32_t bars_empty,
                                                                uint32_t sValid, int ptid) {
  constexpr uint32_t kHalf = SM90_SLAB_BYTES / 2;  // one CTA's 32 rows of a slab
  const uint32_t rank = ptx::cluster_ctarank(), peer = rank ^ 1u;
  const int u = ptid >> 2, q = ptid & 3, lane = ptid & 31, pwarp = ptid >> 5;
  const int t = 32 * static_cast<int>(rank) + u;
  const int r_loc[2] = {0, 8};
  const RowSet rs = row_set_token_padded(p, m_block, r_loc);
  const uint8_t* cache = static_cast<const uint8_t*>(p.k_cache);
  const uint4 zero = make_uint4(0, 0, 0, 0);
  uint32_t fills0 = 0, fills1 = 0;
  [[maybe_unused]] int tr_blk = 0;  // sparse trace (-DMLA_SM90_SPARSE_TRACE; scripts/trace-sparse.mjs with FLASH_MLA_TRACE_STAGED=1)
  SPARSE_TRACE_P(0);
  const bool contiguous = p.k_block_stride == static_cast<int64_t>(f.page_size) * p.k_row_stride;
  const int v_tok = 16 * pwarp + (lane >> 1);  // (as in fp8_sparse_pair_producer: one validity word per warp)
  // chunk c of row t of slab s of buffer sKb: here and in the peer
  const uint32_t sK0_peer = ptx::mapa_shared(sK0, peer), full_peer0 = ptx::mapa_shared(bars_full, peer);
  // (MLA_SM90_PAIR_STAGED_PUSH: the codes reach the peer as one bulk push per slab half once the group is written, as
  // in fp8_sparse_pair_producer, instead of by st.async per chunk; the RoPE chunks always by st.async)
  auto put = [&](uint32_t sKb, uint32_t sKb_peer, uint32_t full_peer, int slab, int c, uint4 v, bool to_peer) {
    const uint32_t off = slab * SM90_SLAB_BYTES + swizzled(t, c);
    ptx::st_shared_v4(sKb + off, v);
    if (to_peer) ptx::st_async_v4(sKb_peer + off, v, full_peer + 8 * slab);
  };
  constexpr bool kPushCodes = MLA_SM90_PAIR_STAGED_PUSH;
  // (MLA_SM90_PAIR_STAGED_LOCAL_ASYNC: this CTA's own half written by st.async too — group B's (1) or both groups' (2) —
  // completing on its own slab barriers, whose arrival then expects both halves: no proxy fence and no producer barrier
  // for that group, so loads in flight are not drained there (a fence waits for them: session 19); session 19 found
  // st.async slower per 16 bytes than st.shared)
  constexpr int kLocalAsync = MLA_SM90_PAIR_STAGED_LOCAL_ASYNC;
  static_assert(!(kLocalAsync && kPushCodes), "a push reads this CTA's half: it must be written by st.shared and fenced");
  const uint32_t sK0_own = ptx::mapa_shared(sK0, rank), full_own0 = ptx::mapa_shared(bars_full, rank);
  // chunk c of row t of slab s, both halves by st.async (here and in the peer)
  auto put_async = [&](uint32_t sKb_own, uint32_t full_own, uint32_t sKb_peer, uint32_t full_peer, int slab, int c, uint4 v) {
    const uint32_t off = slab * SM90_SLAB_BYTES + swizzled(t, c);
    ptx::st_async_v4(sKb_own + off, v, full_own + 8 * slab);
    ptx::st_async_v4(sKb_peer + off, v, full_peer + 8 * slab);
  };
  // one thread: group slabs [s0, s1) written here (fenced, the producer's barrier passed) → full barriers, pushes
  auto arrive_group = [&](uint32_t sKb, uint32_t sKb_peer, uint32_t full, uint32_t full_peer, int s0, int s1) {
#pragma unroll
    for (int s = s0; s < s1; ++s) {
      ptx::mbarrier_arrive_expect_tx(full + 8 * s, kHalf);  // + the peer's half
      if (kPushCodes && s < SM90_SLABS - 1) {
        const uint32_t half = s * SM90_SLAB_BYTES + rank * kHalf;
        ptx::bulk_push(sKb_peer + half, sKb + half, kHalf, full_peer + 8 * s);
      }
    }
  };
  // 16 codes → the two bf16 chunks 2q, 2q + 1 of a slab row
  auto convert = [&](uint4 raw, float scale, uint4& lo, uint4& hi) {
    const uint2 v0 = ptx::e4m3x4_to_bf16x4(raw.x, scale), v1 = ptx::e4m3x4_to_bf16x4(raw.y, scale);
    const uint2 v2 = ptx::e4m3x4_to_bf16x4(raw.z, scale), v3 = ptx::e4m3x4_to_bf16x4(raw.w, scale);
    lo = make_uint4(v0.x, v0.y, v1.x, v1.y);
    hi = make_uint4(v2.x, v2.y, v3.x, v3.y);
  };
#pragma unroll 1
  for (int req = w.begin_req; req <= w.end_req; ++req) {
    const SparseItem it = sparse_item(p, f, w, req, rs);
    const int n_blocks = it.n_blocks;
    int slot_next = -1, vslot_next = -1;  // block j + 1's indices (loaded a block ahead of their gather)
    StagedRow st;                          // block j's registers
    if (n_blocks > 0) {
      const int slot0 = it.slot(0, t), vslot0 = it.slot(0, v_tok);
      slot_next = it.slot(1, t);
      vslot_next = it.slot(1, v_tok);
      st = stage_row(p, f, cache, contiguous, slot0, vslot0, q, lane);
    }
#pragma unroll 1
    for (int j = 0; j < n_blocks; ++j) {
      SPARSE_TRACE_P(16 + 8 * tr_blk + 0);
#if MLA_SM90_PAIR_STAGED_L2
      // (session 32) block j + 1's row into L2 now, a block before its gather: without it each block's gather is two
      // dependent DRAM round trips on this chain — group A's chunks at this iteration's end (stage_row), group B's and
      // the RoPE after A's stores in the next — unless a release wait hides them. One bulk prefetch per token (its
      // index was loaded an iteration ago); nothing else of this producer uses the TMA unit (but PUSH's bulk pushes).
      if (q == 0 && slot_next >= 0 && slot_next < f.num_slots)
        ptx::prefetch_l2_bulk(sparse_row(p, f, cache, contiguous, slot_next), FP8_BYTES_PER_TOKEN);
#endif
      const int b = j & 1;
      const uint32_t k = b ? fills1 : fills0, sKb = b ? sK1 : sK0;
      const uint32_t full = bars_full + 8 * SM90_SLABS * b, empty_a = bars_empty + 16 * b, empty_b = empty_a + 8;
      const uint32_t sKb_peer = sK0_peer + (sKb - sK0), full_peer = full_peer0 + 8 * SM90_SLABS * b;
      const uint32_t sKb_own = sK0_own + (sKb - sK0), full_own = full_own0 + 8 * SM90_SLABS * b;
      // group A: channels 64i + 16q … + 15 → slab i, chunks 2q, 2q + 1
      if (k > 0) {
        ptx::mbarrier_wait(empty_a, (k - 1) & 1);
        ptx::mbarrier_wait_cluster(sValid + kPairPeerEmpty + 16 * b, (k - 1) & 1);
      }
      SPARSE_TRACE_P(16 + 8 * tr_blk + 1);
      if constexpr (kLocalAsync >= 2) {
        if (ptid == 0) {
#pragma unroll
          for (int sa = 0; sa < SM90_GROUP_A_SLABS; ++sa) ptx::mbarrier_arrive_expect_tx(full + 8 * sa, 2 * kHalf);  // both halves
        }
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          uint4 lo, hi;
          convert(st.a[i], i < 2 ? st.sc.x : st.sc.y, lo, hi);
          put_async(sKb_own, full_own, sKb_peer, full_peer, i, 2 * q, lo);
          put_async(sKb_own, full_own, sKb_peer, full_peer, i, 2 * q + 1, hi);
        }
      } else {
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          uint4 lo, hi;
          convert(st.a[i], i < 2 ? st.sc.x : st.sc.y, lo, hi);
          put(sKb, sKb_peer, full_peer, i, 2 * q, lo, !kPushCodes);
          put(sKb, sKb_peer, full_peer, i, 2 * q + 1, hi, !kPushCodes);
        }
        ptx::fence_proxy_async();  // st.shared → the math warpgroups' wgmma reads
        ptx::named_barrier_sync(kProducerSync, kProducerThreads);
        if (ptid == 0) arrive_group(sKb, sKb_peer, full, full_peer, 0, SM90_GROUP_A_SLABS);
      }
      SPARSE_TRACE_P(16 + 8 * tr_blk + 2);
      // group B: loaded now (its registers were group A's), converted while B is still in use, stored once it is released
      const uint8_t* const row_b = st.row;
      const float sc_b0 = st.sc.z, sc_b1 = st.sc.w;
      const uint32_t bits_b = st.bits;
      uint4 rb[4], r2[2];
#pragma unroll
      for (int i = 0; i < 4; ++i) rb[i] = row_b != nullptr ? ptx::ld_global_v4(row_b + HEAD_DIM_V / 2 + 64 * i + 16 * q) : zero;
#pragma unroll
      for (int i = 0; i < 2; ++i) r2[i] = row_b != nullptr ? ptx::ld_global_v4(row_b + FP8_ROPE_OFFSET + 32 * q + 16 * i) : zero;
#if MLA_SM90_PAIR_STAGED_EARLY
      if (j + 1 < n_blocks) {  // block j + 1's gather (group A's registers are free), and block j + 2's indices
        const int slot = slot_next, vslot = vslot_next;
        slot_next = it.slot(j + 2, t);
        vslot_next = it.slot(j + 2, v_tok);
        st = stage_row(p, f, cache, contiguous, slot, vslot, q, lane);
      }
#endif
#if MLA_SM90_PAIR_STAGED_BPRE
      uint4 wb[2 * MLA_SM90_PAIR_STAGED_BPRE];  // the first chunks converted before the wait (registers allowing)
#pragma unroll
      for (int i = 0; i < MLA_SM90_PAIR_STAGED_BPRE; ++i) convert(rb[i], i < 2 ? sc_b0 : sc_b1, wb[2 * i], wb[2 * i + 1]);
#endif
      if (k > 0) {  // (and the P tile aliasing K0's slab 8), here and in the peer
        ptx::mbarrier_wait(empty_b, (k - 1) & 1);
        ptx::mbarrier_wait_cluster(sValid + kPairPeerEmpty + 16 * b + 8, (k - 1) & 1);
      }
      SPARSE_TRACE_P(16 + 8 * tr_blk + 3);
      if (lane == 0) {
        ptx::st_shared_u32(sValid + 16 * b + 4 * pwarp, bits_b);
        ptx::mbarrier_arrive(sValid + kPairValidBar + 8 * b);  // this warp's validity word is stored
      }
      if constexpr (kLocalAsync >= 1) {
        if (ptid == 0) {
#pragma unroll
          for (int sb = SM90_GROUP_A_SLABS; sb < SM90_SLABS; ++sb) ptx::mbarrier_arrive_expect_tx(full + 8 * sb, 2 * kHalf);
        }
#pragma unroll
        for (int i = 0; i < 2; ++i) put_async(sKb_own, full_own, sKb_peer, full_peer, SM90_SLABS - 1, 2 * q + i, r2[i]);
      } else {
#pragma unroll
        for (int i = 0; i < 2; ++i) put(sKb, sKb_peer, full_peer, SM90_SLABS - 1, 2 * q + i, r2[i], true);
      }
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        uint4 lo, hi;
#if MLA_SM90_PAIR_STAGED_BPRE
        if (i < MLA_SM90_PAIR_STAGED_BPRE) lo = wb[2 * i], hi = wb[2 * i + 1];
        else
#endif
          convert(rb[i], i < 2 ? sc_b0 : sc_b1, lo, hi);
        if constexpr (kLocalAsync >= 1) {
          put_async(sKb_own, full_own, sKb_peer, full_peer, SM90_GROUP_A_SLABS + i, 2 * q, lo);
          put_async(sKb_own, full_own, sKb_peer, full_peer, SM90_GROUP_A_SLABS + i, 2 * q + 1, hi);
        } else {
          put(sKb, sKb_peer, full_peer, SM90_GROUP_A_SLABS + i, 2 * q, lo, !kPushCodes);
          put(sKb, sKb_peer, full_peer, SM90_GROUP_A_SLABS + i, 2 * q + 1, hi, !kPushCodes);
        }
      }
      if constexpr (kLocalAsync == 0) {
        ptx::fence_proxy_async();
        ptx::named_barrier_sync(kProducerSync, kProducerThreads);
        if (ptid == 0) arrive_group(sKb, sKb_peer, full, full_peer, SM90_GROUP_A_SLABS, SM90_SLABS);
      }
      SPARSE_TRACE_P(16 + 8 * tr_blk + 4);
      if (b) fills1 = k + 1;
      else fills0 = k + 1;
#if !MLA_SM90_PAIR_STAGED_EARLY
      if (j + 1 < n_blocks) {  // block j + 1's gather, and block j + 2's indices
        const int slot = slot_next, vslot = vslot_next;
        slot_next = it.slot(j + 2, t);
        vslot_next = it.slot(j + 2, v_tok);
        st = stage_row(p, f, cache, contiguous, slot, vslot, q, lane);
      }
#endif
      SPARSE_TRACE_P(16 + 8 * tr_blk + 5);
      SPARSE_TRACE_NEXT(tr_blk);
    }
  }
}
#endif


}  // namespace
