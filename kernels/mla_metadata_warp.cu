// build: archs=sm_80,sm_90 ptx=compute_80 hot
// Tile scheduler of FlashMLA 9edee0c (get_mla_metadata.cu), bit-identical to scheduleTiles() in
// src/mla/schedule.ts, walked by the whole warp. Opt-in (FLASH_MLA_METADATA=warp) until it has run on a GPU; then it
// replaces mla_metadata.cu (the serial walk below is that kernel's).
//
// Why a warp walk: the scheduler is a greedy walk over the requests that fills SM parts with `payload` units of
// cost each (a request costs ceil(seqlen/64) + 5, and 5 more for every extra piece it is cut into). Walked by one
// lane it is a chain of dependent instructions, ~300 cycles per step, one step per request and per part: 20–43 µs
// at b = 128, ~70 µs at b = 512 on an H200. Here the lanes stage every request's cost as a prefix sum in shared
// memory, and the walk, still sequential over parts, takes up to 32 whole requests per step: lane l checks whether
// requests req … req + l all fit in what is left of the part (one prefix difference), and the ballot's popcount
// is how many do (the prefix sums increase, so the lanes that fit are a prefix of the warp). The request that does
// not fit is cut exactly as in the serial walk.
//
// The serial walk stays for what the fast one cannot hold: more requests than the shared memory caches, or a
// total cost ≥ 2^30 (the prefix sums and the payload are int32).
//
// Launch: grid 1, block 32, dynamic smem = 4 * (2 * min(b, mla::METADATA_WARP_MAX_REQS) + 1) bytes (any size works:
// the kernel reads %dynamic_smem_size).
#include <climits>
#include <cstdint>

#include "mla_config.h"
#include "mla_params.h"
#include "ptx.cuh"

using namespace mla;

// Math.ceil(s / 64) for any int s (truncating division rounds toward zero, so only a positive remainder
// rounds up; matches JS for negative values too, though validation never lets them through).
__device__ __forceinline__ int ceil_blocks(int s) { return s / PAGE_BLOCK_SIZE + (s % PAGE_BLOCK_SIZE > 0 ? 1 : 0); }

namespace {

constexpr int kLoadBatch = 8;  // seqlens per lane loaded before the first is used (independent L2 round trips)

// The metadata row of one part: lanes 0–7 write one int each.
__device__ __forceinline__ void write_row(int* tile_scheduler_metadata, int part, int lane, int begin_req, int begin_token,
                                          int end_req, int end_token, int begin_split) {
  if (lane >= METADATA_ROW_INTS) return;
  int v = 0;
  if (lane == kBeginReq) v = begin_req;
  if (lane == kBeginToken) v = begin_token;
  if (lane == kEndReq) v = end_req;
  if (lane == kEndToken) v = end_token;
  if (lane == kBeginSplit) v = begin_split;
  tile_scheduler_metadata[static_cast<long long>(part) * METADATA_ROW_INTS + lane] = v;
}

// The warp walk (every lane runs it with the same state). s_prefix[i] = Σ_{i' < i} (ceil(seqlen_i'/64) + 5) for
// i ≤ b, all < 2^31; s_seqlen[i] for i < b.
__device__ void walk_warp(const int* s_prefix, const int* s_seqlen, int b, int num_sm_parts, int payload, int lane,
                          int* tile_scheduler_metadata, int* num_splits) {
  int req = 0;    // current request
  int blk = 0;    // blocks of `req` already given to earlier parts
  int split = 0;  // splits of `req` already emitted
  int cum = 0;    // running split count (num_splits prefix sum)
  if (lane == 0) num_splits[0] = 0;
  for (int part = 0; part < num_sm_parts; ++part) {
    const int begin_req = req, begin_token = blk * PAGE_BLOCK_SIZE, begin_split = split;
    int remain = payload;
    if (req < b) {
      // the request the part starts in, maybe continued from the previous part: its rest costs nb - blk + 5
      const int rest = s_prefix[req + 1] - s_prefix[req] - blk;
      if (remain >= rest) {
        cum += split + 1;
        if (lane == 0) num_splits[req + 1] = cum;
        remain -= rest;
        ++req;
        blk = 0;
        split = 0;
        // whole requests, up to 32 per step
        while (req < b) {
          const int p0 = s_prefix[req];
          const int last = req + lane + 1;  // lane l: requests req … req + l, ending before `last`
          const int p1 = last <= b ? s_prefix[last] : 0;
          const bool fits = last <= b && p1 - p0 <= remain;
          const int k = __popc(__ballot_sync(0xffffffffu, fits));
          if (lane < k) num_splits[req + lane + 1] = cum + lane + 1;
          if (k == 0) break;
          remain -= __shfl_sync(0xffffffffu, p1, k - 1) - p0;
          cum += k;
          req += k;
          if (k < 32) break;
        }
      }
      // `req` (if any) does not fit whole: this part takes remain - 5 more of its blocks, if that is any
      if (req < b && remain - FIXED_OVERHEAD_NUM_BLOCKS > 0) {
        blk += remain - FIXED_OVERHEAD_NUM_BLOCKS;
        ++split;
      }
    }
    int end_req, end_token;
    if (blk > 0) {  // ends inside `req`
      end_req = req;
      end_token = blk * PAGE_BLOCK_SIZE;
    } else {        // ends at the end of req - 1 (idle parts: begin_req = b, end_req = b - 1)
      end_req = req - 1;
      end_token = req > 0 ? s_seqlen[req - 1] : 0;
    }
    write_row(tile_scheduler_metadata, part, lane, begin_req, begin_token, end_req, end_token, begin_split);
  }
}

// The serial walk (lane 0), for batches the fast walk cannot hold; seqlen_of(i) from smem for i < cached.
__device__ void walk_serial(const int* cache_seqlens, const int* s_seqlen, int cached, int b, int num_sm_parts,
                            long long payload, int* tile_scheduler_metadata, int* num_splits) {
  auto seqlen_of = [&](int i) { return i < cached ? s_seqlen[i] : ptx::ld_plain(cache_seqlens + i); };
  int req = 0, blk = 0, split = 0, cum = 0;
  num_splits[0] = 0;
  for (int part = 0; part < num_sm_parts; ++part) {
    int* row = tile_scheduler_metadata + static_cast<long long>(part) * METADATA_ROW_INTS;
    const int begin_req = req, begin_token = blk * PAGE_BLOCK_SIZE, begin_split = split;
    long long remain = payload;
    while (req < b) {
      const int nb = ceil_blocks(seqlen_of(req));
      const long long rest = static_cast<long long>(nb - blk) + FIXED_OVERHEAD_NUM_BLOCKS;
      if (remain >= rest) {  // the rest of `req` fits in this part
        cum += split + 1;
        num_splits[req + 1] = cum;
        remain -= rest;
        ++req;
        blk = 0;
        split = 0;
      } else {  // cut `req`: this part takes remain - overhead more blocks (if any)
        if (remain - FIXED_OVERHEAD_NUM_BLOCKS > 0) {
          blk += static_cast<int>(remain - FIXED_OVERHEAD_NUM_BLOCKS);
          ++split;
        }
        break;
      }
    }
    row[kBeginReq] = begin_req;
    row[kBeginToken] = begin_token;
    row[kEndReq] = blk > 0 ? req : req - 1;
    row[kEndToken] = blk > 0 ? blk * PAGE_BLOCK_SIZE : (req > 0 ? seqlen_of(req - 1) : 0);
    row[kBeginSplit] = begin_split;
    row[5] = 0;
    row[6] = 0;
    row[7] = 0;
  }
}

}  // namespace

extern "C" __global__ void __launch_bounds__(METADATA_THREADS)
mla_metadata_warp(const int* cache_seqlens, int b, int num_sm_parts, int* tile_scheduler_metadata, int* num_splits) {
  extern __shared__ int s_sched[];
  const int lane = threadIdx.x;

  // cache_seqlens may come from the previous kernel in the stream; the previous step's decode/combine may
  // still read metadata/num_splits. Both are settled once the preceding grid has completed.
  ptx::grid_dep_wait();

  uint32_t smem_bytes;
  asm("mov.u32 %0, %%dynamic_smem_size;" : "=r"(smem_bytes));
  const int smem_ints = static_cast<int>(smem_bytes / 4);
  const int cached = smem_ints > 0 ? min(b, (smem_ints - 1) / 2) : 0;  // requests whose seqlen and prefix fit
  int* s_prefix = s_sched;               // [cached + 1]
  int* s_seqlen = s_sched + cached + 1;  // [cached]

  // seqlens → smem and the total cost (64-bit: b · nb can exceed 2^31 for extreme batches). Loads in batches
  // of kLoadBatch per lane so that their latencies overlap (ld_plain is volatile: program order is kept).
  long long total = 0;
  for (int base = 0; base < b; base += 32 * kLoadBatch) {
    int v[kLoadBatch];
#pragma unroll
    for (int u = 0; u < kLoadBatch; ++u) {
      const int i = base + u * 32 + lane;
      v[u] = i < b ? ptx::ld_plain(cache_seqlens + i) : 0;
    }
#pragma unroll
    for (int u = 0; u < kLoadBatch; ++u) {
      const int i = base + u * 32 + lane;
      if (i < b) total += ceil_blocks(v[u]) + FIXED_OVERHEAD_NUM_BLOCKS;
      if (i < cached) s_seqlen[i] = v[u];
    }
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) total += __shfl_xor_sync(0xffffffffu, total, o);
  __syncwarp();  // s_seqlen written by all lanes, read by all

  if (num_sm_parts > 0) {
    // 9edee0c keeps a floor of 2 * overhead = 10 blocks per part.
    const long long payload =
        max((total + num_sm_parts - 1) / num_sm_parts + FIXED_OVERHEAD_NUM_BLOCKS, 2LL * FIXED_OVERHEAD_NUM_BLOCKS);
    if (b <= cached && total < INT_MAX / 2) {  // (payload and every prefix then fit an int)
      // prefix sums of the costs, 32 requests per step (inclusive scan across the lanes)
      int run = 0;
      if (lane == 0) s_prefix[0] = 0;
      for (int base = 0; base < b; base += 32) {
        const int i = base + lane;
        int x = i < b ? ceil_blocks(s_seqlen[i]) + FIXED_OVERHEAD_NUM_BLOCKS : 0;
#pragma unroll
        for (int o = 1; o < 32; o <<= 1) {
          const int y = __shfl_up_sync(0xffffffffu, x, o);
          if (lane >= o) x += y;
        }
        if (i < b) s_prefix[i + 1] = run + x;
        run += __shfl_sync(0xffffffffu, x, 31);
      }
      __syncwarp();
      walk_warp(s_prefix, s_seqlen, b, num_sm_parts, static_cast<int>(payload), lane, tile_scheduler_metadata, num_splits);
    } else if (lane == 0) {
      walk_serial(cache_seqlens, s_seqlen, cached, b, num_sm_parts, payload, tile_scheduler_metadata, num_splits);
    }
  }
  ptx::grid_dep_launch_dependents();
}
