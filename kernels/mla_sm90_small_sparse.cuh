// Sparse decode in the small-row Hopper kernel (mla_decode_sm90_small.cu, entry mla_decode_sm90_small_fp8_sparse_bf16,
// level 4). Since session 25 (MLA_SM90S_SPARSE_REGA, the default) on the register-A datapath, and since session 27
// gathered by a third warpgroup (two warps per math warpgroup, one token per thread: raw_one): each valid token's
// whole 656-byte row goes into one of the math warpgroup's two stages (SM90S_F8SP_*), the codes go from there into the wgmma's A fragments, the scales are read from the stage
// (stage_scales) and the RoPE goes from it into S_rope's A fragments (f16r_scores' kRopeStage) — the description below is the f16 datapath's (MLA_SM90S_SPARSE_REGA=0). Thread (t, h) of the warpgroup owns position t of a block (as in
// the codes' conversion, fp8_codes_block): both read the index; h = 0 copies the token's 512 e4m3 bytes to stage row t
// (t · 512, a bulk copy; every thread arrives on the barrier with its bytes, 0 for none: the barriers count 128
// arrivals). The token's 128 RoPE bytes go through registers: thread (t, h) loads its half (64 bytes, rope_load) after
// the warpgroup's block before's P·V and stores it 128B-swizzled into row t of slab 8 at the start of the block
// (rope_store, before the codes' fence and warpgroup barrier, which order it before the wgmma). Positions past
// topk_length or the slice, −1 and slots outside the cache are not copied and their bit in the block's validity mask is
// clear: zeros in K (fp8_codes_block, rope_load) and −inf in S. Included by mla_decode_sm90_small.cu after
// mla_sm90_math.cuh and mla_sm90_small_fp8.cuh (it uses `swizzled`, Fp8TokenScales).
// (The codes through registers as the RoPE, 16 × 16-byte loads per thread a block ahead: 2.3× slower on the H200,
// session 11, perf log `scodes`.)
// ---- the sparse entry as the kernel runs it (mla_decode_sm90_small.cu) ----
// Sparse FP8 (entry mla_decode_sm90_small_fp8_sparse_bf16, level 4, kSparse): grid (s_q, parts), the columns the
// h_q ≤ 16 heads of query token blockIdx.x, the tokens its topk positions; each block gathered by its warpgroup
// (per-token bulk copies of the codes on barriers of 128 arrivals, validity masks in the side area) with the dense FP8
// entry's stage, RoPE and merge placement; the RoPE through registers: each thread loads its half of its token's row
// after the warpgroup's block before's P·V (where the dense entry requests its RoPE box) and stores it 128B-swizzled
// into slab 8 at the block's start, before the codes' fence and warpgroup barrier (which order it before the wgmma:
// no RoPE barrier, no wait, no extra warpgroup barrier); invalid positions −inf in S and zeros in K (RoPE included);
// the sink in the epilogue of unsplit rows (split rows: the sink combine; never the fold). The dense FP8 entry's f16
// datapath: the gathered stage's codes to f16 unscaled (fp8_codes_block<true>), each thread's two S tokens' four
// scales from their gathered slots (0 for invalid positions), the four S partials (with S_rope in one commit group:
// no RoPE wait between), the group reference scales and the four Pᵀ copies in slab 8. Its side area holds the Q row
// factors and the masks (192 B). H200 (session 9), against the codes × scale → bf16 fill it replaced (247 registers):
// sparse rows b 74 and 128 (topk 2048, h_q 16, s_q 2) 1.1–1.4 % faster, b 2 and 64 0.4–0.5 %; each block's indices
// loaded a block ahead (SmallSparseGather's GatherCursor) 3–4 % more (188 registers); the RoPE through registers
// (session 10, not yet timed): 191 registers. Arguments: params, MlaFp8Params.
#pragma once
#include <cstdint>

#include "mla_config.h"
#include "mla_fp8_params.h"
#include "mla_params.h"
#include "mla_work.cuh"
#include "ptx.cuh"
#include "ptx_sm90.cuh"

#ifndef MLA_SM90S_SPARSE_BOUND
#define MLA_SM90S_SPARSE_BOUND 0  // timing bounds, outputs wrong: 1 each token's whole 656-byte row in its bulk copy (over the
#endif                            // next row); 2 no RoPE or scale loads (zeros, ones); 3 both

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
  uint32_t sBar;       // "raw landed"
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
  // raw_to: the first `bytes` of each token's row into the stage at `stage` (token t's at t · pitch), completing on
  // `bar` (the register-A sparse entry: whole rows, two stages per warpgroup, MLA_SM90S_SPARSE_REGA).
  __device__ __forceinline__ int raw(int req_g, const Slice& s_g, int jg, uint32_t parity, GatherCursor& cur, bool fresh) const {
    constexpr uint32_t kCopy = (MLA_SM90S_SPARSE_BOUND & 1) ? FP8_BYTES_PER_TOKEN : HEAD_DIM_V;
    return raw_to(req_g, s_g, jg, parity, cur, fresh, base + SM90S_F8_OFF_RAW0 + wg * SM90S_F8_RAW_BYTES, sBar, HEAD_DIM_V, kCopy);
  }
  __device__ __forceinline__ int raw_to(int req_g, const Slice& s_g, int jg, uint32_t parity, GatherCursor& cur, bool fresh, uint32_t stage, uint32_t bar,
                                        int pitch, uint32_t bytes) const {
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
    ptx::mbarrier_arrive_expect_tx(bar, copy ? bytes : 0);
    if (copy) ptx::bulk_load(stage + t * pitch, row_of(MLA_SM90S_L2_BOUND ? slot & 1023 : slot), bytes, bar);
    return valid ? slot : -1;
  }


  // The gather warpgroup's raw_to (MLA_SM90S_SPARSE_GATHER_WG; this struct built for the math warpgroup it serves):
  // thread t (0 … 63, two warps) gathers position t of block jg, the whole 656-byte row into the stage at t · pitch,
  // and arrives on `bar` (64 arrivals) with its bytes; warp t / 32's ballot is mask words 2 (t / 32) and + 1. `cur` as
  // raw_to's (this thread walks the served warpgroup's blocks jg, jg + 2, …).
  __device__ __forceinline__ void raw_one(int t, int req_g, const Slice& s_g, int jg, uint32_t parity, GatherCursor& cur, bool fresh, uint32_t stage,
                                          uint32_t bar) const {
    const int pos = s_g.start + jg * PAGE_BLOCK_SIZE + t;
    const int* idx = fp->indices + static_cast<int64_t>(req_g) * fp->indices_batch_stride + static_cast<int64_t>(blockIdx.x) * fp->indices_seq_stride;
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
    if (valid) ptx::bulk_load(stage + t * SM90S_F8SP_ROW_PITCH, row_of(slot), FP8_BYTES_PER_TOKEN, bar);
  }

  // This thread's half of the RoPE row of its token (slot from raw(); 4 × 16 bytes, channels 32 h … 32 h + 31) into
  // registers; zeros for an invalid position or none (slot < 0): slab 8's row t then holds zeros, not the stale bytes
  // of the block before (the codes' conversion zeroes the position's K rows in slabs 0–7 the same way).
  __device__ __forceinline__ void rope_load(int slot, uint4 (&r)[4]) const {
    const uint8_t* src = row_of(slot >= 0 ? slot : 0) + FP8_ROPE_OFFSET + 64 * (wtid & 1);
#pragma unroll
    for (int i = 0; i < 4; ++i) r[i] = slot >= 0 && !(MLA_SM90S_SPARSE_BOUND & 2) ? ptx::ld_global_v4(src + 16 * i) : make_uint4(0, 0, 0, 0);
  }

  // Those registers → row t of slab 8 of the K buffer at sKb, 128B-swizzled (chunks 4 h … 4 h + 3; the 8 threads of a
  // quarter-warp write 8 different bank groups). Slab 8 must be free (past the block before's P·V barrier); the caller
  // fences and passes the warpgroup barrier before the wgmma reads it (fp8_codes_block's).
  __device__ __forceinline__ void rope_store(uint32_t sKb, const uint4 (&r)[4]) const {
    const int t = wtid >> 1, h = wtid & 1;
    const uint32_t rope = sKb + (SM90_SLABS - 1) * SM90_SLAB_BYTES;
#pragma unroll
    for (int i = 0; i < 4; ++i) ptx::st_shared_v4(rope + swizzled(t, 4 * h + i), r[i]);
  }

  // ---- the register-A entry's whole-row stage (SM90S_F8SP_*: token t's 656 bytes at t · 656, landed) ----
  // The four group scales of this thread's two S tokens (16 · warp + g + 8 h) from their rows; 0 for an invalid position
  // (its row holds stale or never-written bytes). vbits: the warp's 16 validity bits shifted right by g.
  __device__ __forceinline__ static Fp8TokenScales stage_scales(uint32_t sSt, int warp, int g, uint32_t vbits) {
    return fp8_smem_scales(sSt + FP8_SCALES_OFFSET, SM90S_F8SP_ROW_PITCH, warp, g, [&](int h) { return ((vbits >> (8 * h)) & 1u) != 0; });
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
      for (int k = 0; k < 4; ++k) s.v[h][k] = sl >= 0 ? ((MLA_SM90S_SPARSE_BOUND & 2) ? 1.f : sc[k]) : 0.f;
    }
    return s;
  }
};

}  // namespace
