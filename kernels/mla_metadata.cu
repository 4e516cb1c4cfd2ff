// build: archs=sm_80,sm_90 ptx=compute_80 hot
// Tile scheduler of FlashMLA 9edee0c (get_mla_metadata.cu), bit-identical to scheduleTiles() in
// src/mla/schedule.ts. One warp: lanes stage the seqlens in shared memory and compute the warp-reduced total
// cost, lane 0 walks the SM parts greedily and writes every metadata row and num_splits entry. The walk reads
// only shared memory: a global load there (one per part, ~0.3 µs of latency each on an H200) made the kernel
// take 20–43 µs for 33–132 parts.
//
// Launch: grid 1, block 32, dynamic smem = 4 * min(b, mla::METADATA_SMEM_MAX_REQS) bytes (any size works:
// the kernel reads %dynamic_smem_size and reads the seqlens of uncached requests from global memory).
#include <cstdint>

#include "mla_config.h"
#include "mla_params.h"
#include "ptx.cuh"

using namespace mla;

// Math.ceil(s / 64) for any int s (truncating division rounds toward zero, so only a positive remainder
// rounds up; matches JS for negative values too, though validation never lets them through).
__device__ __forceinline__ int ceil_blocks(int s) { return s / PAGE_BLOCK_SIZE + (s % PAGE_BLOCK_SIZE > 0 ? 1 : 0); }

extern "C" __global__ void __launch_bounds__(METADATA_THREADS)
mla_metadata(const int* cache_seqlens, int b, int num_sm_parts, int* tile_scheduler_metadata, int* num_splits) {
  extern __shared__ int s_seqlen[];  // seqlens of requests [0, cached)
  const int lane = threadIdx.x;

  // cache_seqlens may come from the previous kernel in the stream; the previous step's decode/combine may
  // still read metadata/num_splits. Both are settled once the preceding grid has completed.
  ptx::grid_dep_wait();

  uint32_t smem_bytes;
  asm("mov.u32 %0, %%dynamic_smem_size;" : "=r"(smem_bytes));
  const int cached = min(b, static_cast<int>(smem_bytes / 4));

  // 64-bit sum: b * nb can exceed 2^31 for extreme batches (JS numbers are exact there too).
  long long total = 0;
  for (int i = lane; i < b; i += 32) {
    const int seqlen = ptx::ld_plain(cache_seqlens + i);
    if (i < cached) s_seqlen[i] = seqlen;
    total += ceil_blocks(seqlen) + FIXED_OVERHEAD_NUM_BLOCKS;
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) total += __shfl_xor_sync(0xffffffffu, total, o);
  __syncwarp();  // s_seqlen written by all lanes, read by lane 0
  auto seqlen_of = [&](int i) { return i < cached ? s_seqlen[i] : ptx::ld_plain(cache_seqlens + i); };

  if (lane == 0 && num_sm_parts > 0) {
    // 9edee0c keeps a floor of 2 * overhead = 10 blocks per part.
    const long long payload =
        max((total + num_sm_parts - 1) / num_sm_parts + FIXED_OVERHEAD_NUM_BLOCKS, 2LL * FIXED_OVERHEAD_NUM_BLOCKS);
    int req = 0;    // current request
    int blk = 0;    // blocks of `req` already given to earlier parts
    int split = 0;  // splits of `req` already emitted
    int cum = 0;    // running split count (num_splits prefix sum)
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
      int end_req, end_token;
      if (blk > 0) {  // ends inside `req`
        end_req = req;
        end_token = blk * PAGE_BLOCK_SIZE;
      } else {        // ends at the end of req - 1 (idle parts: begin_req = b, end_req = b - 1)
        end_req = req - 1;
        end_token = req > 0 ? seqlen_of(req - 1) : 0;
      }
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
  ptx::grid_dep_launch_dependents();
}
