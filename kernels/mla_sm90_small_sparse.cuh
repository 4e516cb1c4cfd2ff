// Sparse decode in the small-row Hopper kernel (mla_decode_sm90_small.cu, entry mla_decode_sm90_small_fp8_sparse_bf16,
// level 4): each warpgroup gathers its own blocks. Thread (t, h) of the warpgroup owns position t of a block (as in
// the codes' conversion, fp8_codes_block): both threads read its index; h = 0 copies the token's 512 e4m3 bytes to
// stage row t (t · 512), h = 1 later its 128 RoPE bytes to row t of slab 8, unswizzled (swizzled in place after they
// land: rope_swizzle). Every thread arrives on the barrier with its bytes (0 for none: the barriers count 128
// arrivals). Positions past topk_length or the slice, −1 and slots outside the cache are not copied and their bit in
// the block's validity mask is clear: zeros in K (fp8_codes_block, rope_swizzle) and −inf in S. Included by
// mla_decode_sm90_small.cu after mla_sm90_math.cuh and mla_sm90_small_fp8.cuh (it uses `swizzled`, Fp8TokenScales).
#pragma once
#include <cstdint>

#include "mla_config.h"
#include "mla_fp8_params.h"
#include "mla_params.h"
#include "mla_work.cuh"
#include "ptx.cuh"
#include "ptx_sm90.cuh"

namespace {

// A warpgroup thread's place in its gather of an item (SmallSparseGather::raw).
struct GatherCursor {
  int end;   // the item's end of valid positions: min(topk_length, the slice's end)
  int next;  // this thread's index in the warpgroup's next block of the item (−1 past end)
};

struct SmallSparseGather {
  const MlaDecodeParams& p;
  const MlaFp8Params* fp;
  uint32_t base;       // the kernel's 1024-aligned shared base
  uint32_t masks;      // this warpgroup's two validity masks (4 words of 16 bits each, one per warp), 16 B apart
  uint32_t sBar, sRope;  // "raw landed", "RoPE landed"
  int wg, wtid, lane, warp, wg_bar;

  // Validity mask slot `parity` (the next block's gather writes the other one while S reads this one).
  __device__ __forceinline__ uint32_t mask_at(uint32_t parity) const { return masks + 16 * (parity & 1); }

  // The 656-byte row of cache slot `slot` (page · page_size + offset): one multiply when pages lie end to end.
  __device__ __forceinline__ const uint8_t* row_of(int slot) const {
    const int64_t off = p.k_block_stride == static_cast<int64_t>(fp->page_size) * p.k_row_stride
                            ? static_cast<int64_t>(slot) * p.k_row_stride
                            : static_cast<int64_t>(slot / fp->page_size) * p.k_block_stride + static_cast<int64_t>(slot % fp->page_size) * p.k_row_stride;
    return static_cast<const uint8_t*>(p.k_cache) + off;
  }

  // Block jg of request req_g (slice s_g) of query token blockIdx.x: positions, mask (into mask slot `parity`), raw
  // bytes; returns this thread's slot (−1: invalid). `cur` carries the item's end of valid positions and this thread's
  // index of block jg, loaded by the call for block jg − 2 (`fresh`: the item's first call here, which loads both), and
  // takes the index of block jg + 2 (the warpgroup's next block of the item) — loaded now, so that no call waits for
  // an index load before its ballot and copies (the index's use right after its load was 5.5 % of the stall samples).
  __device__ __forceinline__ int raw(int req_g, const Slice& s_g, int jg, uint32_t parity, GatherCursor& cur, bool fresh) const {
    const int t = wtid >> 1, h = wtid & 1;
    const int pos = s_g.start + jg * PAGE_BLOCK_SIZE + t;  // (start: a multiple of 64)
    const int* idx = fp->indices + static_cast<int64_t>(req_g) * fp->indices_batch_stride + static_cast<int64_t>(blockIdx.x) * fp->indices_seq_stride;
    if (fresh) {
      const int len = fp->topk_length != nullptr ? min(max(ptx::ld_plain(fp->topk_length + req_g), 0), fp->topk) : fp->topk;
      cur.end = min(len, s_g.end_kv);
      cur.next = pos < cur.end ? ptx::ld_plain(idx + pos) : -1;
    }
    const int slot = cur.next;  // (−1 past the item's end: the loader checked pos)
    cur.next = pos + 2 * PAGE_BLOCK_SIZE < cur.end ? ptx::ld_plain(idx + pos + 2 * PAGE_BLOCK_SIZE) : -1;
    const bool valid = slot >= 0 && slot < fp->num_slots;
    uint32_t bits = __ballot_sync(0xffffffffu, valid && h == 0) & 0x55555555u;  // the warp's 16 positions
    bits = (bits | bits >> 1) & 0x33333333u;
    bits = (bits | bits >> 2) & 0x0f0f0f0fu;
    bits = (bits | bits >> 4) & 0x00ff00ffu;
    bits = (bits | bits >> 8) & 0x0000ffffu;
    if (lane == 0) ptx::st_shared_u32(mask_at(parity) + 4 * warp, bits);  // (before this thread's arrival)
    const bool copy = valid && h == 0;
    ptx::mbarrier_arrive_expect_tx(sBar, copy ? HEAD_DIM_V : 0);
    if (copy) ptx::bulk_load(base + SM90S_F8_OFF_RAW0 + wg * SM90S_F8_RAW_BYTES + t * HEAD_DIM_V, row_of(slot), HEAD_DIM_V, sBar);
    return valid ? slot : -1;
  }

  // The RoPE bytes of this thread's token (slot from raw()) into slab 8 row t, unswizzled.
  __device__ __forceinline__ void rope(int slot) const {
    const bool copy = slot >= 0 && (wtid & 1);
    ptx::mbarrier_arrive_expect_tx(sRope, copy ? 2 * 64 : 0);
    if (copy) ptx::bulk_load(base + SM90S_F8_OFF_K0 + wg * SM90_TILE_BYTES + (SM90_SLABS - 1) * SM90_SLAB_BYTES + (wtid >> 1) * 128, row_of(slot) + FP8_ROPE_OFFSET, 2 * 64, sRope);
  }

  // The four group scales of this thread's two S tokens (16 · warp + g + 8 h: its wgmma M rows),
  // whose slots the gathering threads 2 (16 · warp + g + 8 h) and + 1 hold (lanes 2 g + 16 h of this warp; slot: this
  // thread's from raw(), the block's); 0 for an invalid position (its P is 0 and must not meet a NaN ratio).
  __device__ __forceinline__ Fp8TokenScales token_scales(int slot, int g) const {
    Fp8TokenScales s;
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int sl = __shfl_sync(0xffffffffu, slot, 2 * g + 16 * h);
      const float* sc = sl >= 0 ? reinterpret_cast<const float*>(row_of(sl) + FP8_SCALES_OFFSET) : nullptr;
#pragma unroll
      for (int k = 0; k < 4; ++k) s.v[h][k] = sl >= 0 ? sc[k] : 0.f;
    }
    return s;
  }

  // After the RoPE landed: row t of slab 8 → 128B-swizzled in place (zeros for an invalid position); threads (t, 0)
  // and (t, 1), adjacent lanes, each move half the row's chunks (read, __syncwarp, write). Then the fence and the
  // warpgroup barrier before the wgmma reads slab 8.
  __device__ __forceinline__ void rope_swizzle(uint32_t sKb, uint32_t parity) const {
    const int t = wtid >> 1, h = wtid & 1;
    const uint32_t rope = sKb + (SM90_SLABS - 1) * SM90_SLAB_BYTES;
    const bool valid = (ptx::ld_shared_u32(mask_at(parity) + 4 * (t >> 4)) >> (t & 15)) & 1;
    uint4 r4[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) r4[i] = valid ? ptx::ld_shared_v4(rope + t * 128 + 16 * (4 * h + i)) : make_uint4(0, 0, 0, 0);
    __syncwarp();
#pragma unroll
    for (int i = 0; i < 4; ++i) ptx::st_shared_v4(rope + swizzled(t, 4 * h + i), r4[i]);
    ptx::fence_proxy_async();
    ptx::named_barrier_sync(wg_bar, SM90S_THREADS / 2);
  }
};

}  // namespace
