// The `hopper` kernel's two K buffers as its math warpgroups see them (mla_decode_sm90.cu): block j of a work item
// lives in buffer j & 1 (K0 / K1, 9 slabs of 64 × 64, each slab on its own mbarrier), as fill fills[j & 1] + j / 2
// of that buffer. The 16-bit cache's refills are TMA loads issued by one math thread; over the FP8 cache the producer
// warpgroup fills the buffers and the math warpgroups release them per group. Included by mla_decode_sm90.cu only
// (an anonymous namespace), after its FP8 producers.
#pragma once
#include <cstdint>
#include <cuda.h>

#include "mla_config.h"
#include "mla_sm90_fp8_producer.cuh"
#include "mla_sm90_math.cuh"
#include "ptx.cuh"
#include "ptx_sm90.cuh"

namespace {

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

}  // namespace
