// build: archs=sm_80,sm_90 ptx=compute_80 hot
// Tile scheduler of FlashMLA 9edee0c (get_mla_metadata.cu) plus two rules of ours (when every request misses the
// payload by at most one split's cost, it grows to hold the longest whole; an equal-length batch whole when that
// costs at most whole_slack split costs more), bit-identical to scheduleTiles() in src/mla/schedule.ts. One warp: the lanes stage every request's seqlen and block count in shared memory and
// sum the costs (and take the smallest and largest block counts); lane 0 then walks the SM parts greedily and writes every metadata row and num_splits entry.
//
// The walk is one thread's chain of dependent instructions (ncu on an H200: ~5 cycles per instruction, ~76 000
// cycles for 128 requests and 132 parts), so its cost is its instruction count: the block counts are computed by
// all lanes before it, the running payload is 32-bit whenever the batch's total cost allows, and a part's row is
// written with two 16-byte stores. Shared memory holds two int32 per request; a batch larger than that, or a total
// cost of 2^30 or more, takes the general walk (global seqlens, 64-bit payload) — the same schedule, slower.
//
// The split cost (FlashMLA's FIXED_OVERHEAD_NUM_BLOCKS) is the argument split_overhead, the second rule's slack
// whole_slack: the host passes the values its cpu schedule uses (src/mla/schedule.ts splitOverheadBlocks,
// wholeSlackSplits), so that both produce the same bits.
//
// Launch: grid 1, block 32, dynamic smem = 8 * min(b, mla::METADATA_SMEM_MAX_REQS) bytes (any size works:
// the kernel reads %dynamic_smem_size and caches the batch when 8 bytes per request fit).
#include <cstdint>

#include "mla_config.h"
#include "mla_params.h"
#include "ptx.cuh"

using namespace mla;

// Math.ceil(s / 64) for any int s (truncating division rounds toward zero, so only a positive remainder
// rounds up; matches JS for negative values too, though validation never lets them through).
__device__ __forceinline__ int ceil_blocks(int s) { return s / PAGE_BLOCK_SIZE + (s % PAGE_BLOCK_SIZE > 0 ? 1 : 0); }

// The greedy walk over the parts. Cost: int (total < 2^30) or long long. kCached: seqlens and block counts from
// shared memory (s_cache[i] and s_cache[capacity + i]) instead of global memory.
template <typename Cost, bool kCached, typename Smem>
__device__ __forceinline__ void walk(const int* cache_seqlens, const Smem& s_cache, int capacity, int b, int num_sm_parts,
                                     long long total, int min_nb, int max_nb, int* tile_scheduler_metadata, int* num_splits, int overhead,
                                     int whole_slack) {
  auto nb_of = [&](int i) -> int { return kCached ? static_cast<int>(s_cache[capacity + i]) : ceil_blocks(ptx::ld_plain(cache_seqlens + i)); };
  auto seqlen_of = [&](int i) -> int { return kCached ? static_cast<int>(s_cache[i]) : ptx::ld_plain(cache_seqlens + i); };
  // 9edee0c keeps a floor of 2 * overhead = 10 blocks per part.
  const long long share = (total + num_sm_parts - 1) / num_sm_parts + overhead;
  Cost payload = static_cast<Cost>(max(share, 2LL * overhead));
  // Not in 9edee0c (src/mla/schedule.ts says why): when every request misses the payload by at most one split's cost
  // and the payload is the batch's share, the longest request whole.
  if (static_cast<long long>(min_nb) + overhead > payload && max_nb <= payload && share >= 2LL * overhead) payload = static_cast<Cost>(max_nb + overhead);
  // Our second rule (src/mla/schedule.ts, WHOLE_BATCH_SLACK_SPLITS): an equal-length batch, ceil(b / parts) whole
  // requests per part, when that payload exceeds this one by at most whole_slack split costs (0: off)
  if (whole_slack > 0 && b > 0 && min_nb == max_nb && share >= 2LL * overhead) {
    const long long whole = ((static_cast<long long>(b) + num_sm_parts - 1) / num_sm_parts) * (static_cast<long long>(max_nb) + overhead);
    if (whole <= static_cast<long long>(payload) + static_cast<long long>(whole_slack) * overhead && 32 * whole <= 33LL * payload)
      payload = static_cast<Cost>(whole);  // (and within 1/32 of the payload: few idle parts, as measured)
  }
  // A row is 32 bytes; two 16-byte stores when the tensor is 16-byte aligned (a user's view may not be).
  const bool vec_rows = (reinterpret_cast<uintptr_t>(tile_scheduler_metadata) & 15) == 0;
  int req = 0;    // current request
  int blk = 0;    // blocks of `req` already given to earlier parts
  int split = 0;  // splits of `req` already emitted
  int cum = 0;    // running split count (num_splits prefix sum)
  num_splits[0] = 0;
  int nb = b > 0 ? nb_of(0) : 0;  // blocks of `req`, loaded one step ahead
  for (int part = 0; part < num_sm_parts; ++part) {
    int* row = tile_scheduler_metadata + static_cast<long long>(part) * METADATA_ROW_INTS;
    const int begin_req = req, begin_token = blk * PAGE_BLOCK_SIZE, begin_split = split;
    Cost remain = payload;
    while (req < b) {
      const Cost rest = static_cast<Cost>(nb - blk) + overhead;
      if (remain >= rest) {  // the rest of `req` fits in this part
        cum += split + 1;
        num_splits[req + 1] = cum;
        remain -= rest;
        ++req;
        blk = 0;
        split = 0;
        nb = req < b ? nb_of(req) : 0;
      } else {  // cut `req`: this part takes remain - overhead more blocks (if any)
        if (remain - overhead > 0) {
          blk += static_cast<int>(remain - overhead);
          ++split;
        }
        break;
      }
    }
    int end_req, end_token;
    if (blk > 0) {  // ends inside `req`
      end_req = req;
      end_token = blk * PAGE_BLOCK_SIZE;
    } else {        // ends at the end of req - 1 (idle parts: begin_req = b, end_req = b - 1)
      end_req = req - 1;
      end_token = req > 0 ? seqlen_of(req - 1) : 0;
    }
    if (vec_rows) {
      int4* r4 = reinterpret_cast<int4*>(row);
      r4[0] = make_int4(begin_req, begin_token, end_req, end_token);
      r4[1] = make_int4(begin_split, 0, 0, 0);
    } else {
      row[kBeginReq] = begin_req;
      row[kBeginToken] = begin_token;
      row[kEndReq] = end_req;
      row[kEndToken] = end_token;
      row[kBeginSplit] = begin_split;
      row[5] = 0;
      row[6] = 0;
      row[7] = 0;
    }
  }
}

extern "C" __global__ void __launch_bounds__(METADATA_THREADS)
mla_metadata(const int* cache_seqlens, int b, int num_sm_parts, int* tile_scheduler_metadata, int* num_splits, int split_overhead,
             int whole_slack) {
  extern __shared__ int s_cache[];  // [capacity] seqlens, then [capacity] block counts
  const int lane = threadIdx.x;

  // cache_seqlens may come from the previous kernel in the stream; the previous step's decode/combine may
  // still read metadata/num_splits. Both are settled once the preceding grid has completed.
  ptx::grid_dep_wait();

  uint32_t smem_bytes;
  asm("mov.u32 %0, %%dynamic_smem_size;" : "=r"(smem_bytes));
  const int capacity = static_cast<int>(smem_bytes / 8);
  const bool cached = b <= capacity;

  // 64-bit sum: b * nb can exceed 2^31 for extreme batches (JS numbers are exact there too).
  long long total = 0;
  int max_nb = 0, min_nb = 0x7fffffff;  // (b = 0: no part has work, the rule cannot fire)
  for (int i = lane; i < b; i += 32) {
    const int seqlen = ptx::ld_plain(cache_seqlens + i);
    const int nb = ceil_blocks(seqlen);
    if (cached) {
      s_cache[i] = seqlen;
      s_cache[capacity + i] = nb;
    }
    total += nb + split_overhead;
    max_nb = max(max_nb, nb);
    min_nb = min(min_nb, nb);
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    total += __shfl_xor_sync(0xffffffffu, total, o);
    max_nb = max(max_nb, __shfl_xor_sync(0xffffffffu, max_nb, o));
    min_nb = min(min_nb, __shfl_xor_sync(0xffffffffu, min_nb, o));
  }
  __syncwarp();  // s_seqlen / s_nb written by all lanes, read by lane 0

  if (lane == 0 && num_sm_parts > 0) {
    // 32-bit payload arithmetic when every value it takes stays below 2^31: remain ≤ payload ≤ total / parts + 2 ·
    // overhead and rest ≤ max blocks + overhead ≤ total.
    if (total < (1LL << 30)) {
      if (cached) walk<int, true>(cache_seqlens, s_cache, capacity, b, num_sm_parts, total, min_nb, max_nb, tile_scheduler_metadata, num_splits, split_overhead, whole_slack);
      else walk<int, false>(cache_seqlens, s_cache, capacity, b, num_sm_parts, total, min_nb, max_nb, tile_scheduler_metadata, num_splits, split_overhead, whole_slack);
    } else {
      walk<long long, false>(cache_seqlens, s_cache, capacity, b, num_sm_parts, total, min_nb, max_nb, tile_scheduler_metadata, num_splits, split_overhead, whole_slack);
    }
  }
  ptx::grid_dep_launch_dependents();
}
