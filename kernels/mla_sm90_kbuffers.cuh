// The `hopper` kernel's two K buffers as its math warpgroups see them (mla_decode_sm90.cu): block j of a work item
// lives in buffer j & 1 (K0 / K1, 9 slabs of 64 × 64, each slab on its own mbarrier), as fill fills[j & 1] + j / 2
// of that buffer. The 16-bit cache's refills are TMA loads issued by one math thread; over the FP8 cache the producer
// warpgroup fills the buffers and the math warpgroups release them per group. Also the barriers' set-up
// (init_barriers) and the 16-bit cache's cold start (a part's first item: issue_first_item). Included by
// mla_decode_sm90.cu only (an anonymous namespace), after its FP8 producers.
#pragma once
#include <cstdint>
#include <cuda.h>

#include "mla_config.h"
#include "mla_params.h"
#include "mla_sm90_sparse_trace.cuh"  // (before the producer header, whose stamps it defines)
#include "mla_sm90_fp8_producer.cuh"  // kPairPeerEmptyFromEmpty
#include "mla_sm90_math.cuh"
#include "mla_work.cuh"
#include "ptx.cuh"
#include "ptx_sm90.cuh"

namespace {

// Thread 0's set-up of the kernel's mbarriers (and its tensor maps' prefetch): the 2 × 9 slab barriers; FP8 also the
// raw-block and group-empty barriers after them (sBarRaw), and for the sparse pair the peer-empty and validity
// barriers (sValid, fp8_sparse_pair_producer).
template <int kMode>
__device__ __forceinline__ void init_barriers(uint32_t sBar, uint32_t sBarRaw, uint32_t sValid, const CUtensorMap* kmap, const CUtensorMap* rope_map) {
  constexpr bool kFp8 = kModeFp8<kMode>, kSparse = kModeSparse<kMode>;
  for (int i = 0; i < 2 * SM90_SLABS; ++i) ptx::mbarrier_init(sBar + 8 * i, 1);
  if constexpr (kFp8) {
    for (int i = 0; i < 6; ++i) ptx::mbarrier_init(sBarRaw + 8 * i, 1);
    if constexpr (kMode == kFp8SparsePair) {
      for (int i = 0; i < 4; ++i) ptx::mbarrier_init(sValid + kPairPeerEmpty + 8 * i, 1);
      for (int i = 0; i < 2; ++i) ptx::mbarrier_init(sValid + kPairValidBar + 8 * i, kPairValidWriters);
    }
    if (!kSparse) ptx::prefetch_tensormap(rope_map);
  }
  ptx::fence_barrier_init();
  if (!kSparse) ptx::prefetch_tensormap(kmap);
}

template <int kMode>
struct KBuffers {
  uint32_t base;            // the 1024-aligned shared memory (K0 and K1 at SM90_OFF_K0 / SM90_OFF_K1 from it)
  uint32_t sBar;            // buffer x, slab y's full barrier: sBar + 8·(9x + y)
  uint32_t sBarEmpty;       // FP8: buffer x, group g's empty barrier: sBarEmpty + 16x + 8g
  const CUtensorMap* kmap;  // 16-bit cache: its tensor map
  uint32_t fills[2];        // completed fills of K0 / K1 before the current item (mbarrier phases)

  __device__ __forceinline__ uint32_t parity(int j) const { return (fills[j & 1] + (j >> 1)) & 1; }
  __device__ __forceinline__ uint32_t buffer(int j) const { return (j & 1) ? base + SM90_OFF_K1 : base + SM90_OFF_K0; }
  __device__ __forceinline__ uint32_t barrier(int j) const { return sBar + 8 * SM90_SLABS * (j & 1); }  // slab 0's; slab y: + 8y
  // One thread: slabs [slab0, slab0 + n) of the 16-bit K block `page` into buffer `dst`, each on its own mbarrier of
  // `bars` (slab y's: bars + 8y). The first item's blocks, an item's refills and the next item's prefetch.
  __device__ __forceinline__ void issue_slabs(uint32_t bars, uint32_t dst, int slab0, int n, int page) const {
    for (int slab = slab0; slab < slab0 + n; ++slab) {
      ptx::mbarrier_arrive_expect_tx(bars + 8 * slab, SM90_SLAB_BYTES);
      ptx::tma_load_3d(dst + slab * SM90_SLAB_BYTES, kmap, bars + 8 * slab, slab * 64, 0, page);
    }
  }
  // One thread: load group `group` of block j (page `page`) into its buffer, each slab on its own mbarrier.
  __device__ __forceinline__ void issue_group(int j, int group, int page) const {
    issue_slabs(barrier(j), buffer(j), group == kGroupA ? 0 : SM90_GROUP_A_SLABS,
                group == kGroupA ? SM90_GROUP_A_SLABS : SM90_GROUP_B_SLABS, page);
  }
  // FP8: group `group` of block j's buffer is consumed (one thread of the warpgroup, after its local barrier).
  // The pair (kFp8SparsePair): also on the peer's "peer empty" barrier of the group, before which its producer pushes
  // nothing into it.
  __device__ __forceinline__ void release(int j, int group) const {
    const uint32_t bar = sBarEmpty + 16 * (j & 1) + 8 * group;
    ptx::mbarrier_arrive(bar);
    if constexpr (kMode == kFp8SparsePair) ptx::mbarrier_arrive_remote(ptx::mapa_shared(bar + kPairPeerEmptyFromEmpty, ptx::cluster_ctarank() ^ 1u));
  }
};

// The thread that issues an item's block 1 in the 16-bit cache's memory-bound entries (kStaggerFirst: warpgroup 1's
// thread 0, once block 0 has landed); thread 0 otherwise.
template <bool kStaggerFirst>
constexpr int kPage1ThreadOf = kStaggerFirst ? SM90_THREADS / 2 : 0;

// 16-bit cache, the part's first item: its Q and its first two blocks are issued here, as the epilogue issues a next
// item's, so that its block-table entries are loaded beside its seqlen instead of after it (the cold start is one
// load round trip shorter: S1 −3 %). Done before the item loop, where nothing of it stays live (inside it, two more
// live values made ptxas reschedule the main loop: compute-bound rows +2–3 %, perf log `itemcold`). n_first is n_blocks
// of the loop's slice_of_len for this item.
// Returns how many of its blocks are issued (n_prefetched: 0, 1 or 2); sets q_ready if its Q is. kStaggerFirst: the
// memory-bound entries (block 1 by warpgroup 1's thread 0 once block 0 has landed).
template <bool kStaggerFirst, bool kBatchOrder, class KB, class LoadQ>
__device__ __forceinline__ int issue_first_item(const MlaDecodeParams& p, const PartWork& w, const KB& kb, int tid, int seqlen, int s_last, LoadQ&& load_q,
                                                bool& q_ready) {
  constexpr int kPage1Thread = kPage1ThreadOf<kStaggerFirst>;
  const uint32_t sBar = kb.sBar, sK0 = kb.base + SM90_OFF_K0, sK1 = kb.base + SM90_OFF_K1;
  const int fb = w.begin_token / PAGE_BLOCK_SIZE, begin_req = request_at<kBatchOrder>(p, w, w.begin_pos);
  int page0 = 0, page1 = 0;
  if (tid == 0 || tid == kPage1Thread) {  // an entry is read only if the table row has it; used only if the item has that block
    const int* bt0 = p.block_table + static_cast<int64_t>(begin_req) * p.block_table_stride + fb;
    if (tid == 0 && fb < p.max_blocks_per_seq) page0 = ptx::ld_plain(bt0);
    if (tid == kPage1Thread && fb + 1 < p.max_blocks_per_seq) page1 = ptx::ld_plain(bt0 + 1);
  }
  const int end_token = w.begin_pos == w.end_pos ? w.end_token : seqlen;
  const int end_kv = slice_end_kv(p, end_token, seqlen, s_last);
  const int n_first = end_kv > w.begin_token ? (end_kv - 1) / PAGE_BLOCK_SIZE - fb + 1 : 0;
  const int n_prefetched = min(n_first, 2);
  if (n_first > 0) {
    if constexpr (kStaggerFirst) {
      // Block 1 only once block 0 has landed: at the start every part loads at once, and with Q and both blocks
      // requested together block 0 landed about when block 1 did, after which the SM computed with nothing in flight.
      // Staggered, every SM's Q and block 0 come in first and block 1 streams while block 0 is computed (H200, session
      // 15, perf log `stagger`: the memory-bound rows ~1 % faster, S3 2.4 %). Warpgroup 1, whose first work is block 1,
      // waits and issues it. Not in the compute-bound entries: built into them it made ptxas schedule the main loop
      // differently (253 registers), and sweep#12 and #28 ran 1.5–2 % slower.
      if (tid == 0) kb.issue_slabs(sBar, sK0, 0, SM90_SLABS, page0);  // block 0 → buffer 0, its fill 0
      load_q(begin_req);
      q_ready = true;
      if (tid == kPage1Thread && n_prefetched > 1) {
        for (int slab = 0; slab < SM90_SLABS; ++slab) ptx::mbarrier_wait(sBar + 8 * slab, 0);
        kb.issue_slabs(sBar + 8 * SM90_SLABS, sK1, 0, SM90_SLABS, page1);  // block 1 → buffer 1, its fill 0
      }
    } else {
      if (tid == 0) {
        for (int j = 0; j < n_prefetched; ++j)  // block j → buffer j, its fill 0
          kb.issue_slabs(sBar + 8 * SM90_SLABS * j, j ? sK1 : sK0, 0, SM90_SLABS, j ? page1 : page0);
      }
      load_q(begin_req);
      q_ready = true;
    }
  }
  return n_prefetched;
}

}  // namespace
