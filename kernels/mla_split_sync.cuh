// Per-request "splits written" flags between the 64-row decode kernel (mla_decode_sm90.cu) and the combine kernel
// (mla_combine.cu), so that the combine merges a request as soon as its own splits are written instead of waiting in
// griddepcontrol.wait for the whole decode grid. The decode is one wave and its CTAs finish unevenly; the combine's
// CTAs (launched early, PDL) land on the SMs the first finishers free and merge there during the decode's tail.
//
// Words (uint32, p.split_arrivals, 3 · b of them, zero between decodes; the host passes null where a decode does not
// arrive — every other decode kernel — and the combine then waits for the grid as before):
//   [0, b)    arrivals[req]: counts the decode CTAs that wrote a split partial of request req (n splits × m-blocks)
//   [b, 2b)   flag[req]: 1 once every one of them has (set by the last, release), 0 again when every reader saw it
//   [2b, 3b)  readers[req]: counts the combine CTAs that saw flag[req] (row groups × C of them)
// Both counters are atom.inc with limit n − 1: the n-th arrival reads n − 1 and leaves 0. No value depends on the call,
// so a graph replays it as captured. The flag's reset is ordered before the next decode's arrivals by that decode's
// own griddepcontrol.wait (it waits for the combine grid to complete).
//
// A combine CTA spins for a bounded time, then falls back to griddepcontrol.wait (the decode grid complete, every
// flag set): a flag that never came would cost time, never a hang.
#pragma once
#include <cstdint>

#include "mla_params.h"
#include "ptx.cuh"

namespace mla {

// Decode side: called by the threads that wrote request req's split partial of one m-block (every one its own stores),
// `sync` a barrier of exactly them; `m_blocks`: a request's m-blocks (grid x), each arriving once per split. Thread 0's
// release (the atomic) covers the others' stores, which the barrier ordered before it (release is cumulative); the
// last of the request's arrivals publishes the flag.
template <typename Sync>
__device__ __forceinline__ void arrive_split_written(const MlaDecodeParams& p, int req, int m_blocks, int tid, Sync sync) {
  sync();
  if (tid != 0) return;
  const uint32_t n = static_cast<uint32_t>(ptx::ld_plain(p.num_splits + req + 1) - ptx::ld_plain(p.num_splits + req)) * static_cast<uint32_t>(m_blocks);
  if (ptx::atomic_inc_gpu(p.split_arrivals + req, n - 1) == n - 1) ptx::st_release_gpu_u32(p.split_arrivals + p.b + req, 1u);
}

// Combine side: the CTA (every thread, converged) waits until request req's splits are written; its thread 0 spins
// (one load per CTA and sleep: hundreds of CTAs wait at once, many beside running decode CTAs) and counts the CTA as
// one of the request's `readers`, the last clearing the flag; the barrier then orders every thread's loads of the
// partials after thread 0's acquire.
constexpr int kSplitFlagSpins = 1 << 15;  // × (~0.26 µs sleep + an L2 round trip): ≥ 20 ms before the fallback
constexpr uint32_t kSplitFlagSleepNs = 256;
__device__ __noinline__ void wait_splits_written(const MlaDecodeParams& p, int req, uint32_t readers) {
  if (threadIdx.x == 0) {
    uint32_t* flag = p.split_arrivals + p.b + req;
    bool seen = false;
    for (int i = 0; i < kSplitFlagSpins && !seen; ++i) {
      seen = ptx::ld_acquire_gpu_u32(flag) != 0u;
      if (!seen) ptx::nanosleep(kSplitFlagSleepNs);
    }
    if (!seen) {  // the bound: the decode grid's end orders everything
      ptx::grid_dep_wait();
      ptx::fence_gpu();
    }
    if (ptx::atomic_inc_gpu(p.split_arrivals + 2 * p.b + req, readers - 1) == readers - 1) ptx::st_relaxed_gpu_u32(flag, 0u);
  }
  __syncthreads();
}

}  // namespace mla
