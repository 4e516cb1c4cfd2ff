// Sparse decode in the small-row Hopper kernel (mla_decode_sm90_small.cu, entry mla_decode_sm90_small_fp8_sparse_bf16,
// level 4): grid (s_q · ceil(h_q / 16), parts), the columns 16 heads of one query token (blockIdx.x = token · groups +
// group), the tokens its topk positions.
// A third warpgroup gathers (session 27; before it each math warpgroup gathered its own blocks): its warps 2x, 2x + 1
// walk math warpgroup x's blocks over the part's items, one position per thread (raw_one): each valid token's whole
// 656-byte row — codes, scales, RoPE (one bulk copy, on the stage's barrier of 64 arrivals) — into one of the math
// warpgroup's two stages (SM90S_F8SP_*, rows 656 B apart, so that ldmatrix reads them without bank conflicts), and the
// block's validity mask into the side area; block n + 2 goes into block n's stage once every thread of the math
// warpgroup has arrived on that stage's "stage free" barrier. The math warpgroups run the dense FP8 entry's
// register-A datapath over the stage (session 25): the codes into the wgmma's A fragments, the scales read from the
// stage (stage_scales) while S's first groups run, the RoPE into S_rope's A fragments (f16r_scores' kRopeStage).
// Positions past topk_length or the slice, −1 and slots outside the cache are not copied and their bit in the block's
// validity mask is clear: −inf in S, scale 0, and their codes dropped from P·V. The sink goes into the epilogue of
// unsplit rows (split rows: the sink combine; never the fold). Included by mla_decode_sm90_small.cu after
// mla_sm90_math.cuh and mla_sm90_small_fp8.cuh (it uses Fp8TokenScales, fp8_smem_scales). Arguments: params,
// MlaFp8Params. Measurements: docs/perf-log.md ("hopper-small sparse", sessions 8–11, 25–27).
#pragma once
#include <cstdint>

#include "mla_config.h"
#include "mla_fp8_params.h"
#include "mla_params.h"
#include "mla_sm90_small_layout.cuh"
#include "mla_work.cuh"
#include "ptx.cuh"
#include "ptx_sm90.cuh"

namespace {

// A gathering thread's place in its walk of an item (SmallSparseGather::raw_one).
struct GatherCursor {
  int end;   // the item's end of valid positions: min(topk_length, the slice's end)
  int next;  // this thread's index in the warpgroup's next block of the item (−1 past end)
};

struct SmallSparseGather {
  const MlaDecodeParams& p;
  const MlaFp8Params* fp;
  uint32_t masks;  // the math warpgroup's two validity masks (4 words of 16 bits each, one per warp), 16 B apart
  int lane;

  // Validity mask slot `parity` (the next block's gather writes the other one while S reads this one).
  __device__ __forceinline__ uint32_t mask_at(uint32_t parity) const { return masks + 16 * (parity & 1); }

  // The 656-byte row of cache slot `slot` (page · page_size + offset): one multiply when pages lie end to end.
  __device__ __forceinline__ const uint8_t* row_of(int slot) const {
    const int64_t off = p.k_block_stride == static_cast<int64_t>(fp->page_size) * p.k_row_stride
                            ? static_cast<int64_t>(slot) * p.k_row_stride
                            : static_cast<int64_t>(slot / fp->page_size) * p.k_block_stride + static_cast<int64_t>(slot % fp->page_size) * p.k_row_stride;
    return static_cast<const uint8_t*>(p.k_cache) + off;
  }

  // Position t (0 … 63: thread t of the two warps that serve the math warpgroup) of block jg of request req_g (slice
  // s_g) of the CTA's query token: its index, its bit of the block's validity mask (slot `parity`; warp t / 32's
  // ballot is mask words 2 (t / 32) and + 1), and its token's whole 656-byte row into the stage at `stage` (row t at
  // t · 656), completing on `bar`, on which this thread arrives (64 arrivals) with its bytes (0 for none). `cur`
  // carries the item's end of valid positions and this thread's index of block jg, loaded by the call for block jg − 2
  // (`fresh`: the item's first call here, which loads both), and takes the index of block jg + 2 — loaded now, so
  // that no call waits for an index load before its ballot and copy.
  // kGroupRows: the heads of a CTA (the 32-column entry's 32), blockIdx.x = token · ceil(h_q / kGroupRows) + group.
  template <int kGroupRows = SM90S_ROWS>
  __device__ __forceinline__ void raw_one(int t, int req_g, const Slice& s_g, int jg, uint32_t parity, GatherCursor& cur, bool fresh, uint32_t stage,
                                          uint32_t bar) const {
    const int pos = s_g.start + jg * PAGE_BLOCK_SIZE + t;
    const unsigned tok = blockIdx.x / static_cast<unsigned>((p.h_q + kGroupRows - 1) / kGroupRows);  // (head groups per token)
    const int* idx = fp->indices + static_cast<int64_t>(req_g) * fp->indices_batch_stride + static_cast<int64_t>(tok) * fp->indices_seq_stride;
    if (fresh) {
      const int len = fp->topk_length != nullptr ? min(max(ptx::ld_plain(fp->topk_length + req_g), 0), fp->topk) : fp->topk;
      cur.end = min(len, s_g.end_kv);
      cur.next = pos < cur.end ? ptx::ld_plain(idx + pos) : -1;
    }
    const int slot = cur.next;
    cur.next = pos + 2 * PAGE_BLOCK_SIZE < cur.end ? ptx::ld_plain(idx + pos + 2 * PAGE_BLOCK_SIZE) : -1;
    const bool valid = slot >= 0 && slot < fp->num_slots;
    const uint32_t bits = __ballot_sync(0xffffffffu, valid);
    if (lane == 0) {
      ptx::st_shared_u32(mask_at(parity) + 4 * (t >> 4), bits & 0xffffu);
      ptx::st_shared_u32(mask_at(parity) + 4 * (t >> 4) + 4, bits >> 16);
    }
    ptx::mbarrier_arrive_expect_tx(bar, valid ? FP8_BYTES_PER_TOKEN : 0);
    if (valid) ptx::bulk_load(stage + t * SM90S_F8SP_ROW_PITCH, row_of(MLA_SM90S_L2_BOUND ? slot & 1023 : slot), FP8_BYTES_PER_TOKEN, bar);
  }

  // Dense decode (the 32-column gather body's dense entry, mla_decode_sm90_small_fp8_g32_bf16): as raw_one, position t of block jg of request
  // req_g's slice s_g is token t of the block-table page of its block; valid below the slice's end_kv.
  __device__ __forceinline__ void raw_dense(int t, int req_g, const Slice& s_g, int jg, uint32_t parity, uint32_t stage, uint32_t bar) const {
    const int blk = s_g.start / PAGE_BLOCK_SIZE + jg;
    const bool valid = blk * PAGE_BLOCK_SIZE + t < s_g.end_kv;
    const int page = ptx::ld_plain(p.block_table + static_cast<int64_t>(req_g) * p.block_table_stride + blk);
    const uint32_t bits = __ballot_sync(0xffffffffu, valid);
    if (lane == 0) {
      ptx::st_shared_u32(mask_at(parity) + 4 * (t >> 4), bits & 0xffffu);
      ptx::st_shared_u32(mask_at(parity) + 4 * (t >> 4) + 4, bits >> 16);
    }
#if MLA_EXPERIMENT_G32_BULK  // EXPERIMENT (variant builds only): rows end to end (k_row_stride 656, the stage's pitch):
    // the block's valid rows in one bulk copy by thread 0 instead of one per thread (session 45's idea: the gather's 64
    // copy-issue loops per block, 31 % of its samples under ncu, s45, become one)
    if (p.k_row_stride == SM90S_F8SP_ROW_PITCH) {
      const int n_valid = min(max(s_g.end_kv - blk * PAGE_BLOCK_SIZE, 0), PAGE_BLOCK_SIZE);
      const uint32_t bytes = t == 0 ? static_cast<uint32_t>(n_valid) * FP8_BYTES_PER_TOKEN : 0u;
      ptx::mbarrier_arrive_expect_tx(bar, bytes);
      if (bytes) ptx::bulk_load(stage, static_cast<const uint8_t*>(p.k_cache) + static_cast<int64_t>(page) * p.k_block_stride, bytes, bar);
      return;
    }
#endif
    ptx::mbarrier_arrive_expect_tx(bar, valid ? FP8_BYTES_PER_TOKEN : 0);
    if (valid) {
      const uint8_t* row = static_cast<const uint8_t*>(p.k_cache) + static_cast<int64_t>(page) * p.k_block_stride + static_cast<int64_t>(t) * p.k_row_stride;
      ptx::bulk_load(stage + t * SM90S_F8SP_ROW_PITCH, row, FP8_BYTES_PER_TOKEN, bar);
    }
  }

  // ---- the register-A entry's whole-row stage (SM90S_F8SP_*: token t's 656 bytes at t · 656, landed) ----
  // The four group scales of this thread's two S tokens (16 · warp + g + 8 h) from their rows; 0 for an invalid position
  // (its row holds stale or never-written bytes). vbits: the warp's 16 validity bits shifted right by g.
  __device__ __forceinline__ static Fp8TokenScales stage_scales(uint32_t sSt, int warp, int g, uint32_t vbits) {
    return fp8_smem_scales(sSt + FP8_SCALES_OFFSET, SM90S_F8SP_ROW_PITCH, warp, g, [&](int h) { return ((vbits >> (8 * h)) & 1u) != 0; });
  }
};

// The gather warpgroup's walk (both sparse bodies, and the 32-column dense entry): math warpgroup x's blocks x, x + 2,
// … of each item of the part, the n-th into stage n & 1 once that stage is free. slice(r): the slice of the item at
// position r (items without a block x skipped); free_wait(st, phase): the wait for stage st's release;
// gather(r, slice, j, st, fresh): block j of the item at position r into stage st (fresh: the item's first block here).
// Positions are the schedule's order (mla_work.cuh request_at): the callers map them to requests.
template <typename SliceOf, typename FreeWait, typename Gather>
__device__ __forceinline__ void gather_walk(const PartWork& w, int x, SliceOf&& slice, FreeWait&& free_wait, Gather&& gather) {
  BlockRef q{w.begin_pos - 1, 0, 0, nullptr};  // (.req: a position)
  Slice qs{};
#pragma unroll 1
  for (int n = 0;; ++n) {
    int r = q.req, jn = q.j + 2;
    const bool fresh = !(r <= w.end_pos && jn < q.count);
    if (fresh) {
      jn = x;
      for (r = q.req + 1; r <= w.end_pos; ++r) {
        qs = slice(r);
        if (x < blocks_of(qs).count) break;
      }
      if (r > w.end_pos) break;
      q.count = blocks_of(qs).count;
    }
    q.req = r, q.j = jn;
    const int st = n & 1;
    if (n >= 2) free_wait(st, ((n >> 1) - 1) & 1);
    gather(r, qs, jn, st, fresh);
  }
}

}  // namespace
