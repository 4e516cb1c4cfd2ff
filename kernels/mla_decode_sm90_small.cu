// build: archs=sm_90a hot
// Hopper small-row MLA decode ('hopper-small'; docs/perf-log.md, "Plan for session 7" and "Session 7"): up to 16
// (or 32) folded query rows per CTA as the wgmma's N dimension instead of its M, so the tensor work is that of 16 rows,
// not of 64 padded ones.
//
// CTA = two warpgroups × one SM part, walking its metadata row exactly as mla_decode_sm90.cu does (mla_work.cuh).
// Split-K inside the CTA: warpgroup wg takes blocks wg, wg + 2, … of each item into its own K buffer (9 TMA boxes of
// 64 × 64, 128B swizzle, one mbarrier), so two blocks stream while either warpgroup computes. Per block:
//   Sᵀ (64 tokens × 16 rows) = K · Qᵀ          wgmma m64n16k16, A = the K slabs (K-major), B = Q (16 rows, K-major)
//   online softmax per column (= query row) over the block's 64 tokens: column max by 3 shuffles + a 4-warp exchange
//   Pᵀ → the warpgroup's smem slab as 16 rows × 64 tokens (128B-swizzled: the K-major B operand)
//   Oᵀ (512 channels × 16 rows) += Vᵀ · Pᵀ      wgmma m64n16k16 ×8 m-tiles, A = V read MN-major from the same slabs
// then its buffer's next block is requested. A warpgroup done with an item requests its first block of the next item
// at once (before the merge), and the next item's Q is requested during the epilogue, so the stream never drains.
// Merge and epilogue (mla_sm90_small_merge.cuh, with the fragment layout): both warpgroups publish their column maxima
// and sums; each rescales its Oᵀ to the common max and hands the other the half of the channels the other writes;
// then out/lse, or the fp32 partials for the combine. With split_arrivals set, the CTA that writes a request's last
// split merges the splits itself (mla_fold_combine.cuh) and no combine kernel runs.
//
// 32-row entry (mla_decode_sm90_small_r32_bf16, bf16 cache; 17–32 rows): the same body with wgmma n32 (kCols 4
// column tiles: Oᵀ is 128 fp32 per thread), Q, Pᵀ and the merge's arrays sized for 32 rows (SM90S_R32_*), Q loaded
// by all 256 threads (a row per 8), and the Oᵀ exchange in two rounds of two column tiles through the same 32 KB.
//
// 32-column FP8 entries (17–32 rows over the FP8 cache, dense: mla_decode_sm90_small_fp8_g32_bf16; 17–32 heads of a
// query token, sparse: mla_decode_sm90_small_fp8_sparse_r32_bf16): a body of their own, mla_sm90_small_sparse_r32.cuh
// (a gather warpgroup; the math warpgroups take alternate blocks for S and split the channels for P·V).
//
// FP8 cache (entry mla_decode_sm90_small_fp8_bf16, kF16) and sparse decode over it (entry
// mla_decode_sm90_small_fp8_sparse_bf16, kSparse): their datapaths, shared-memory use and measurements are described
// where they live, at the top of mla_sm90_small_fp8.cuh (the f16 math on the register-A datapath: the codes straight
// into the wgmma's A fragments) and of mla_sm90_small_sparse.cuh (the gather).
// Launch: grid (1, num_sm_parts, 1), block SM90S_THREADS, dynamic smem SM90S_SMEM_BYTES (bf16 entry),
// SM90S_R32_SMEM_BYTES (32-row entry) or SM90S_F8_SMEM_BYTES (FP8 entries; mla_config.h); arguments: params and the K
// tensor map (bf16 entries), or params, the raw-byte, the RoPE, the swizzled raw-byte and the scale tensor maps (dense
// FP8 entries), or params and the MlaFp8Params (sparse).
// Marked hot: spill-free.
#include <cstdint>
#include <cuda.h>

#include "mla_config.h"
#include "mla_fp8_params.h"
#include "mla_fold_combine.cuh"
#include "mla_generic_common.cuh"
#include "mla_params.h"
#include "mla_work.cuh"
#include "ptx.cuh"
#include "ptx_sm90.cuh"

using namespace mla;

#include "mla_sm90_math.cuh"
#include "mla_sm90_small_merge.cuh"
#include "mla_sm90_small_fp8.cuh"
#include "mla_sm90_small_sparse.cuh"
#include "mla_sm90_small_layout.cuh"
#include "mla_sm90_small_sparse_r32.cuh"

// kFp8: the FP8 cache; kRows: the folded query rows a CTA holds (the wgmma's N), 16 or 32 (16-bit cache only).
// Dense (!kSparse): k_map is the 16-bit cache's tensor map, or with kFp8 the FP8 cache's raw-byte map (only prefetched:
// the register-A stages come by raw_sw_map and scale_map) and rope_map its RoPE columns' (mla_config.h); over the FP8
// cache the body runs the f16 math (kF16: K as the unscaled e4m3 codes in f16, Q in f16 scaled per row by a power of
// two, four S partials, one per 128-channel scale group, combined with the tokens' scales, P·V per group, each group's
// Oᵀ in units of a running reference scale r_g) on the register-A datapath.
// kSparse (with kFp8; entry mla_decode_sm90_small_fp8_sparse_bf16, level 4): sparse decode, fp the MlaFp8Params; the
// CTA's columns are 16 heads of one query token (blockIdx.x = token · ceil(h_q / 16) + group; h_q ≤ 32), its tokens
// that token's topk positions; each block's
// 64 positions gathered by a third warpgroup (per-token bulk copies of whole 656-byte rows, no tensor maps;
// mla_sm90_small_sparse.cuh) into two stages per math warpgroup, on the register-A datapath (below): the codes from the
// stage into the wgmma's A fragments, the tokens' scales (0 for an invalid position, whose S is −inf) and RoPE read
// from the stage.
template <bool kFp8, int kRows, bool kSparse = false>
__device__ __forceinline__ void small_row_decode(const MlaDecodeParams& p, const CUtensorMap* k_map, const CUtensorMap* rope_map,
                                                 const MlaFp8Params* fp = nullptr, const CUtensorMap* raw_sw_map = nullptr, const CUtensorMap* scale_map = nullptr) {
  using T = __nv_bfloat16;
  using Lay = Small<kRows>;
  constexpr int kCols = kRows / 8;  // n8 column tiles of a fragment
  // Both FP8 entries run the f16 datapath's math (kF16: four S partials, reference scales, Pᵀ copies) on the
  // register-A datapath (mla_sm90_small_fp8.cuh, f16r_scores / f16r_pv): K's codes go from a raw stage into the wgmma's
  // A fragments, no f16 copy of K. Dense: per warpgroup two raw stages (swizzled boxes, raw_sw_map) in its K buffer's
  // slabs 0–3 and 4–7, slab 8 for the RoPE and Pᵀ; sparse: per warpgroup two gathered stages of 64 whole token rows
  // (656 B: codes, scales, RoPE in one bulk copy each; SM90S_F8SP_*) and its slab 8, the scales and the RoPE read from
  // the stage. (Session 9's dense form, the codes converted to an f16 copy of K in shared memory, lost to it in session
  // 23 and is in git history, commit 221bdfc.)
  constexpr bool kF16 = kFp8;
  // sparse: a gather warpgroup (warpgroup 2: its warps 2x, 2x + 1 gather math warpgroup x's blocks as soon as a stage is
  // free, so the per-token copies' issue leaves the math warpgroups' chain); the math warpgroups' CTA barriers are then
  // a named barrier over their 256 threads (math_sync); 384 threads (perf log session 27, `gwg`)
  constexpr bool kGatherWg = kSparse;
  // Positions of the schedule's order → requests (mla_work.cuh request_at), except in the sparse entries (never packed).
  constexpr bool kBatchOrder = kSparse;
  static_assert(!kFp8 || kRows == 16, "the FP8 entries' layout holds 16 rows");
  static_assert(!kSparse || kFp8, "sparse: over the FP8 cache");
  constexpr int kSideBytes = kSparse ? kSparseSideBytes : SM90S_F8_SIDE_BYTES;
  extern __shared__ uint8_t smem_raw[];
  const uint32_t base = (ptx::smem_addr(smem_raw) + 1023u) & ~1023u;

  // warp and warpgroup through a shuffle: the compiler then knows they are warp-uniform (wgmmas stay outside divergent
  // code)
  const int tid = threadIdx.x, lane = tid & 31, warp_cta = __shfl_sync(0xffffffffu, tid >> 5, 0);
  const int wg = warp_cta >> 2, warp = warp_cta & 3, wtid = tid & (kWgThreads - 1);
  const int g = lane >> 2, q4 = lane & 3;
  const int wg_bar = kWgBarrier0 + wg;
  // FP8 entries: the layout fills the allocation but for the 1024 bytes of alignment slack. base is smem_raw rounded
  // up to 1024, so `slack` = base − smem_raw bytes lie free before base and 1024 − slack past base + SM90S_F8_USED_BYTES:
  // one side has ≥ 512 B, enough for the side area (which side is known only at run time): the 4 mbarriers, the fold
  // flag, and the dense entry's Q row factors or the sparse entry's validity masks.
  const uint32_t slack = base - ptx::smem_addr(smem_raw);
  const uint32_t side = kFp8 ? (slack >= kSideBytes ? base - kSideBytes : base + SM90S_F8_USED_BYTES) : 0u;
  // bf16: this warpgroup's "K block landed"; FP8: its "raw block landed", one per raw stage, stage s at sBar + 8 s
  // (dense FP8: its "RoPE landed" is sRope)
  const uint32_t sBar = kFp8 ? side + 16 * wg : base + Lay::kOffBar + 8 * wg;
  const uint32_t sFree = side + kSparseOffFree + 16 * wg;  // kGatherWg: this warpgroup's "stage s free" at + 8 s
  const uint32_t sRope = side + 32 + 8 * wg;
  const uint32_t sFlag = kFp8 ? side + 48 : base + Lay::kOffFlag;
  constexpr int kOffQ = kFp8 ? (kSparse ? SM90S_F8SP_OFF_Q : SM90S_F8_OFF_Q) : Lay::kOffQ;
  // bf16: float[4][kRows] of its warps; FP8: see max_slot
  const uint32_t sMaxW = base + Lay::kOffMax + wg * (4 * kRows * 4);
  // the merge's column sums of warpgroup x's warp v and column maxima of warpgroup x: bf16 [2][4][kRows] and
  // [2][kRows]; FP8 ([4][16] and [16]) in the area past the K buffers (dense: SM90S_F8_OFF_RAW0, free — the next item's
  // blocks land in the K buffers during the merge)
  const uint32_t sMergeF8 = base + (kSparse ? SM90S_F8SP_OFF_MERGE : SM90S_F8_OFF_RAW0);
  const uint32_t sL = kFp8 ? sMergeF8 + (kSparse ? SM90S_F8SP_XCHG_BYTES : 4 * SM90_SLAB_BYTES) : base + Lay::kOffL;
  const uint32_t sM = kFp8 ? sL + 4 * kRows * 4 : base + Lay::kOffM;
  // the Oᵀ exchange, 32 KB (the r32 entry: in two rounds); FP8: the merge's area
  const uint32_t sX = kFp8 ? sMergeF8 : base + Lay::kOffX;
  const SmallMerge<kRows, kFp8, kGatherWg> merge{sL, sM, sX, wg, warp, wtid, g, q4, kFp8 ? 512u : static_cast<uint32_t>(SM90_TILE_BYTES)};

  if (tid == 0) {
    if (kFp8) {
      // sparse: the gather warpgroup's 64 threads per math warpgroup arrive on a stage's barrier (each with its gathered
      // bytes, 0 for none; no RoPE barriers: the RoPE comes in the gathered rows); then the four "stage free" barriers,
      // each arrived on by every thread of its math warpgroup
      for (int b = 0; b < (kSparse ? 4 : 6); ++b) ptx::mbarrier_init(side + 8 * b, kSparse ? 64 : 1);
      if constexpr (kGatherWg)
        for (int b = 0; b < 4; ++b) ptx::mbarrier_init(side + kSparseOffFree + 8 * b, kWgThreads);
    } else {
      ptx::mbarrier_init(base + Lay::kOffBar, 1);
      ptx::mbarrier_init(base + Lay::kOffBar + 8, 1);
    }
    ptx::fence_barrier_init();
    if (!kSparse) ptx::prefetch_tensormap(k_map);
    if (kFp8 && !kSparse) ptx::prefetch_tensormap(rope_map);
    if (kFp8 && !kSparse) ptx::prefetch_tensormap(raw_sw_map);
    if (kFp8 && !kSparse) ptx::prefetch_tensormap(scale_map);
  }
  __syncthreads();

  // Everything below may depend on the previous kernel (metadata, q, kv cache): wait first (PDL).
  ptx::grid_dep_wait();
  const PartWork w = load_part_work(p, blockIdx.y);
  if (w.begin_pos >= p.b) return;  // idle part

  // Sparse: the CTA's query token and its first head: blockIdx.x = token · groups + group, ceil(h_q / 16) groups of 16
  // heads (read where used)
  auto sp_tok = [&] { return static_cast<int>(blockIdx.x) / ((p.h_q + SM90S_ROWS - 1) / SM90S_ROWS); };
  auto sp_head0 = [&] { return (static_cast<int>(blockIdx.x) % ((p.h_q + SM90S_ROWS - 1) / SM90S_ROWS)) * SM90S_ROWS; };
  // This thread's 2·kCols columns as kCols RowSets (slot i: columns 8i + 2·q4 + {0, 1}), so that slice_of gives each its
  // causal border; rows ≥ q_rows are padding (row_end 0: every token masked, nothing written).
  RowSet rs[kCols];
#pragma unroll
  for (int i = 0; i < kCols; ++i) {
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      if constexpr (kSparse) {  // column c: head sp_head0 + c of query token sp_tok (heads ≥ h_q: padding)
        rs[i].r_glob[e] = sp_head0() + col_of(i, e, q4) < p.h_q ? sp_tok() * p.h_q + sp_head0() + col_of(i, e, q4) : p.q_rows;
        rs[i].s_of_row[e] = sp_tok();
      } else {
        rs[i].r_glob[e] = col_of(i, e, q4);
        rs[i].s_of_row[e] = col_of(i, e, q4) / p.h_q;
      }
    }
    rs[i].s_last = kSparse ? sp_tok() : (p.q_rows - 1) / p.h_q;
  }
  // the item at position pos, request req (request_at), as this part sees it (sparse: its topk positions)
  auto slice = [&](int pos, int req, const RowSet& r) { return kSparse ? slice_of_len(p, w, pos, req, r, fp->topk) : slice_of(p, w, pos, req, r); };
  // 16-bit cache: the current item's seqlen, loaded by the item before (its next_seqlen; the first item's here), so that
  // no load stands between an item's top and its blocks; its slices through slice_cur. FP8: slice() loads it each time.
  const int begin_req = request_at<kBatchOrder>(p, w, w.begin_pos);
  int seqlen = kFp8 ? 0 : ptx::ld_plain(p.cache_seqlens + begin_req);
  auto slice_cur = [&](int pos, int req, const RowSet& r) { return kFp8 ? slice(pos, req, r) : slice_of_len(p, w, pos, req, r, seqlen); };

  // ---- the gather warpgroup (kGatherWg): warps 2x, 2x + 1 walk math warpgroup x's blocks over the part's items (its
  // n-th into its stage n & 1, once that stage is free: the math warpgroup's arrival after its block n − 2), one token
  // per thread; then it exits (the math warpgroups' barriers do not count it)
  if constexpr (kGatherWg) {
    if (wg == 2) {
      ptx::setmaxnreg_dec<SM90S_SPARSE_GATHER_REGS>();
      const int x = warp >> 1, t = ((warp & 1) << 5) | lane;
      const SmallSparseGather gx{p, fp, side + kSparseOffMask + 32 * x, lane};
      GatherCursor cur{0, -1};
      gather_walk(
          w, x, [&](int r) { return slice(r, r, rs[0]); },  // (sparse: positions are requests)
          [&](int st, uint32_t ph) { ptx::mbarrier_wait(side + kSparseOffFree + 16 * x + 8 * st, ph); },
          [&](int r, const Slice& qs, int jn, int st, bool fresh) {
            gx.raw_one(t, r, qs, jn, st, cur, fresh, base + x * SM90S_F8SP_WG_BYTES + st * SM90S_F8SP_STAGE_BYTES, side + 16 * x + 8 * st);
          });
      return;
    }
    ptx::setmaxnreg_inc<SM90S_SPARSE_MATH_REGS>();
  }
  const float scale_log2 = p.scale_softmax_log2;
  uint32_t phase = 0;  // 16-bit cache: of sBar, one completion per block of this warpgroup

  // 16-bit cache: page `page` into this warpgroup's buffer (thread wtid 0 only; the buffer is free).
  auto request_page = [&](int page) {
    const uint32_t sK = base + SM90S_OFF_K0 + wg * SM90_TILE_BYTES;
    ptx::mbarrier_arrive_expect_tx(sBar, SM90_TILE_BYTES);
    for (int slab = 0; slab < SM90_SLABS; ++slab) ptx::tma_load_3d(sK + slab * SM90_SLAB_BYTES, k_map, sBar, slab * 64, 0, page);
  };
  // 16-bit cache: block j of an item (block-table row bt) into this warpgroup's buffer (one thread issues).
  auto request_block = [&](const int* bt, int j) {
    if (wtid == 0) request_page(ptx::ld_plain(bt + j));
  };
  auto table_of = [&](int req, const Blocks& bk) { return p.block_table + static_cast<int64_t>(req) * p.block_table_stride + bk.first; };

  // ---- sparse: the gathered blocks' validity masks and scales (mla_sm90_small_sparse.cuh)
  const SmallSparseGather gather{p, fp, side + kSparseOffMask + 32 * wg, lane};
  // ---- register-A: the warpgroup's block n (of the part, over its items) uses raw stage n & 1 (that barrier's phase
  // (n >> 1) & 1) and the RoPE barrier's phase n & 1; at block n's end go the raw bytes of block n + 2 and the RoPE box
  // of block n + 1. rq is the last block whose raw bytes are requested (its index rq_n), nblk the current block's.
  BlockRef rq{w.end_pos + 1, 0, 0, nullptr};  // (.req: a position of the order)
  int rq_n = 0, nblk = 0;
  // rq := this warpgroup's first block in items from…, or none
  auto seek = [&](BlockRef& c, int from) {
    for (int r = from; r <= w.end_pos; ++r) {
      const int q = request_at<kBatchOrder>(p, w, r);
      const Blocks nb = blocks_of(slice(r, q, rs[0]));
      if (wg < nb.count) {
        c = BlockRef{r, wg, nb.count, table_of(q, nb)};
        return true;
      }
    }
    c.req = w.end_pos + 1;
    return false;
  };
  auto advance = [&](BlockRef& c) { return c.req > w.end_pos ? false : c.j + 2 < c.count ? (c.j += 2, true) : seek(c, c.req + 1); };

  // Dense FP8: the token scales of raw stage st of this warpgroup (a TMA box with the stage)
  auto scales_at = [&](int st) { return base + SM90S_F8_OFF_SCALES + (2 * wg + st) * SM90S_F8_SCALE_BOX_BYTES; };
  // Q rows of request `req` → 9 slabs of kRows rows × 128 B (cp.async, waited by the caller); rows ≥ q_rows
  // zero-filled. 16 rows: thread t of a warpgroup copies row t / 8, 16-byte chunks t % 8 + 8k, warpgroup 0 slabs
  // k = 0…4, warpgroup 1 5…8; 32 rows: thread t of the CTA row t / 8, all 9 slabs.
  auto load_q = [&](int req) {
    const int row = (kRows == 32 ? tid : wtid) >> 3, part = wtid & 7;
    const bool ok = kSparse ? sp_head0() + row < p.h_q : row < p.q_rows;  // sparse: local row = head sp_head0 + row of query token sp_tok
    const T* src = static_cast<const T*>(p.q);  // valid dummy address for the zero-fill rows
    if (ok) src += static_cast<int64_t>(req) * p.q_batch_stride + static_cast<int64_t>(kSparse ? sp_tok() : row / p.h_q) * p.q_seq_stride +
                   static_cast<int64_t>(kSparse ? sp_head0() + row : row % p.h_q) * p.q_head_stride;
    const uint32_t dst = base + kOffQ + swizzled(row, part);
    const int k0 = kRows == 32 || !wg ? 0 : 5, k1 = kRows == 32 || wg ? SM90_SLABS : 5;
#pragma unroll
    for (int k = k0; k < k1; ++k) ptx::cp_async_16(dst + k * Lay::kRowSlab, ok ? src + (part + 8 * k) * 8 : src, ok ? 16 : 0);
    ptx::cp_async_commit();
  };
  static_assert((kRows == 32 ? 2 * kWgThreads : kWgThreads) == 8 * kRows, "load_q: 8 threads per Q row");

  // The first item's first block of each warpgroup and its Q; later items' are requested at the end of the one before.
  {
    const Slice s0 = slice_cur(w.begin_pos, begin_req, rs[0]);
    const Blocks bk = blocks_of(s0);
    // Dense caches only: the sparse entry gathers per token, its warpgroups' first blocks are not one burst.
    constexpr bool kStaggerWg1 = !kSparse;
    if constexpr (!kSparse) {  // (sparse: the gather warpgroup fetches the blocks)
      // Dense: warpgroup 1 requests its first block only once warpgroup 0's has landed (the first fill of
      // warpgroup 0's barrier; it cannot complete a second before this wait sees the first: that needs its block 2
      // requested and landed), after its part of Q: at the start every part loads at once, and with Q and both blocks
      // requested together the SM then computed with nothing in flight. Staggered, every SM's Q and first block come in
      // first (H200, session 15, perf log `stagger`: S2 7.5 %, S4 8.8 %, S7 4.2 %, the 4096 sweep rows 0.8–1.8 % faster;
      // FP8, session 16 `sfp8`: 1.6–2.1 % on the sweep rows, S11 5 %, though the in-place Q conversion's CTA barrier
      // then holds warpgroup 0 until warpgroup 1's part of Q is in, i.e. after warpgroup 0's first raw block has landed).
      if (kStaggerWg1 && wg == 1) {
        load_q(begin_req);
        if (wtid == 0 && wg < bk.count) ptx::mbarrier_wait(kFp8 ? sBar - 16 : sBar - 8, 0);  // warpgroup 0's (stage 0)
      }
      if constexpr (kFp8) {
        // the warpgroup's first block (raw stage 0 and its RoPE) and its second (raw stage 1)
        if (seek(rq, w.begin_pos)) {
          const uint32_t sK = base + SM90S_F8_OFF_K0 + wg * SM90_TILE_BYTES;
          if (wtid == 0) {
            const int page = ptx::ld_plain(rq.bt + rq.j);
            fp8_request_raw_sw(sK, raw_sw_map, sBar, page, scales_at(0), scale_map);
            fp8_request_rope(sK, rope_map, sRope, page);
          }
          BlockRef nx = rq;
          if (advance(nx)) {
            rq = nx, rq_n = 1;
            if (wtid == 0) fp8_request_raw_sw(sK + 4 * SM90_SLAB_BYTES, raw_sw_map, sBar + 8, ptx::ld_plain(nx.bt + nx.j), scales_at(1), scale_map);
          }
        }
      } else if (wg < bk.count) {
        request_block(table_of(begin_req, bk), wg);
      }
    }
    if (!kStaggerWg1 || wg == 0) load_q(begin_req);  // (sparse: never staggered)
  }

  for (int pos = w.begin_pos; pos <= w.end_pos; ++pos) {
    const int req = request_at<kBatchOrder>(p, w, pos);
    // (the first two in the initializer: a loop over all of them compiles the 16-row entries differently)
    Slice sl[kCols] = {slice_cur(pos, req, rs[0]), slice_cur(pos, req, rs[1])};
#pragma unroll
    for (int i = 2; i < kCols; ++i) sl[i] = slice_cur(pos, req, rs[i]);
    const Blocks bk = blocks_of(sl[0]);
    const int* bt = table_of(req, bk);
    // 16-bit cache: the next item's seqlen and the page of this warpgroup's first block of it (block wg: the next item
    // starts at token 0), loaded now and used at this item's end, where they were two dependent loads before the
    // merge's barrier. The page by the thread that requests it; entry wg of the row exists if max_blocks_per_seq > wg,
    // and is used only if the next item has that block.
    int next_seqlen = 0, next_page = 0;
    if constexpr (!kFp8) {
      if (pos < w.end_pos) {
        const int next_req = request_at<kBatchOrder>(p, w, pos + 1);
        next_seqlen = ptx::ld_plain(p.cache_seqlens + next_req);
        if (wtid == 0 && wg < p.max_blocks_per_seq) next_page = ptx::ld_plain(p.block_table + static_cast<int64_t>(next_req) * p.block_table_stride + wg);
      }
    }

    ptx::cp_async_wait_all();
    ptx::fence_proxy_async();  // cp.async writes → wgmma reads
    math_sync<kGatherWg>();    // Q is in; every thread is done with the previous item's merge
    // f16 datapath: Q's slabs 0–7 → f16 ×2^k per row, in place; this thread's columns' factors back (qf)
    float qf[kCols][2];
    float rg[4];  // f16 datapath: each scale group's Oᵀ reference scale (Oᵀ tiles 2g, 2g + 1 are in units of rg[g])
    if constexpr (kF16) f16_item_start<true, kGatherWg>(base + kOffQ, side + SM90S_F8_OFF_QF, tid, q4, qf, rg);

    float o[8][4 * kCols];  // Oᵀ: m-tile t = channels 64t … 64t + 63
#pragma unroll
    for (int t = 0; t < 8; ++t)
#pragma unroll
      for (int x = 0; x < 4 * kCols; ++x) o[t][x] = 0.f;
    float m[kCols][2], l[kCols][2];  // per column: running max (log2 units), this thread's partial sum
#pragma unroll
    for (int i = 0; i < kCols; ++i)
#pragma unroll
      for (int e = 0; e < 2; ++e) m[i][e] = kMaxInit, l[i][e] = 0.f;

#pragma unroll 1
    for (int j = wg; j < bk.count; j += 2) {
      // the smem base through an opaque move: otherwise the compiler keeps the ~70 descriptors live across blocks
      const uint32_t b_ = opaque(base);
      // (register-A sparse: an address 8 slabs below its slab 8, so that sK + 8 slabs is slab 8 as for the others)
      const uint32_t sK = kSparse ? b_ + wg * SM90S_F8SP_WG_BYTES + SM90S_F8SP_OFF_SLAB8 - (SM90_SLABS - 1) * SM90_SLAB_BYTES
                                           : b_ + SM90S_OFF_K0 + wg * SM90_TILE_BYTES;
      const uint32_t sQ = b_ + kOffQ;
      // Pᵀ: 16-bit cache, the warpgroup's own slab; FP8, the four f16 copies fill slab 8
      const uint32_t sP = kF16 ? sK + (SM90_SLABS - 1) * SM90_SLAB_BYTES : b_ + Lay::kOffP0 + wg * Lay::kRowSlab;
      int page_next = -1;  // dense FP8: the warpgroup's next block, whose RoPE this block requests at its end
      int page_raw2 = -1;  // dense FP8: the block after it, whose raw bytes go into this block's stage at its end
      // FP8: this block's raw stage
      const uint32_t sSt = kSparse ? b_ + wg * SM90S_F8SP_WG_BYTES + (nblk & 1) * SM90S_F8SP_STAGE_BYTES : sK + (nblk & 1) * 4 * SM90_SLAB_BYTES;
      Fp8TokenScales tsc;  // f16 datapath: this thread's two tokens' scales (0 past the block's valid tokens, sparse: invalid)
      if constexpr (kSparse) {
        ptx::mbarrier_wait(sBar + 8 * (nblk & 1), (nblk >> 1) & 1);
      } else if constexpr (kFp8) {
        // (the tokens' scales: read from the stage's scale box in f16r_scores, with S's groups in flight)
        if (rq_n > nblk) {  // the next block's raw bytes are requested: its RoPE and the raw bytes of the one after go out at the end
          BlockRef nx = rq;
          const bool more = advance(nx);
          if (wtid == 0) {
            page_next = ptx::ld_plain(rq.bt + rq.j);
            if (more) page_raw2 = ptx::ld_plain(nx.bt + nx.j);
          }
          if (more) rq = nx, ++rq_n;
        }
        ptx::mbarrier_wait(sBar + 8 * (nblk & 1), (nblk >> 1) & 1);
      } else {
        ptx::mbarrier_wait(sBar, phase);
        phase ^= 1;
        // NaN-filled slots past the last token: P = 0 times NaN would still poison Oᵀ (zero_v_tail ends with a barrier)
        if (j == bk.count - 1 && bk.n_valid_last < PAGE_BLOCK_SIZE) {
          zero_v_tail(sK, 0, bk.n_valid_last, wtid, wg_bar);
          zero_v_tail(sK, 4, bk.n_valid_last, wtid, wg_bar);
        }
      }

      // Sᵀ = K · Qᵀ over the 36 k-steps (one descriptor per operand, advanced by its 16-byte-unit offset); dense FP8:
      // slab 8's 4 after the wait for its RoPE (requested at the end of the warpgroup's block before)
      float s[4 * kCols];
#pragma unroll
      for (int x = 0; x < 4 * kCols; ++x) s[x] = 0.f;  // defined before the first wgmma reads it (scale_d = 0 ignores it)
      if constexpr (kFp8) {
        float sg[4][4 * kCols];  // the four scale groups' partial Sᵀ
        if constexpr (kSparse) {
          // the block's scales read from its stage with S's groups in flight; S_rope's A fragments from the stage's
          // RoPE bytes (no copy into slab 8)
          auto stage_scales = [&] { tsc = SmallSparseGather::stage_scales(sSt, warp, g, ptx::ld_shared_u32(gather.mask_at(nblk & 1) + 4 * warp) >> g); };
          f16r_scores<SM90S_F8SP_ROW_PITCH, false, true>(s, sg, sSt, sK, sQ, tsc, qf, sRope, nblk & 1, warp, lane, stage_scales);
        } else {
          const int n_valid = j == bk.count - 1 ? bk.n_valid_last : PAGE_BLOCK_SIZE;
          f16r_scores(s, sg, sSt, sK, sQ, tsc, qf, sRope, nblk & 1, warp, lane, [&] { tsc = fp8_stage_scales(scales_at(nblk & 1), warp, g, n_valid); });
        }
      } else {
        const uint64_t dk = desc_k_major(sK), dq = desc_k_major(sQ);
        ptx::wgmma_fence();
#pragma unroll
        for (int slab = 0; slab < SM90_SLABS; ++slab)
#pragma unroll
          for (int kk = 0; kk < 4; ++kk)
            Lay::s(s, dk + ((slab * SM90_SLAB_BYTES + kk * 32) >> 4), dq + ((slab * Lay::kRowSlab + kk * 32) >> 4), slab + kk != 0);
        ptx::wgmma_commit();
        ptx::wgmma_wait<0>();
      }

      // mask tokens at or past each column's end, then the column maxima: over this thread's two tokens, the warp's
      // 8 g (shuffles), the warpgroup's 4 warps (smem). FP8: warp v's 16 maxima in slab 8 at 2048 v, inside the 16 K
      // rows that its own part of S read (a warp past its wgmma wait knows only its own part done; the Pᵀ copies are
      // written after one more barrier, when every warp has read the maxima)
      auto max_at = [&](uint32_t sKb, int v, int col) {
        return kF16 ? sKb + (SM90_SLABS - 1) * SM90_SLAB_BYTES + 2048 * v + col * 4 : sMaxW + (v * kRows + col) * 4;
      };
      if constexpr (kF16) f16_publish_scale_maxima(sK, tsc, warp, lane);  // (after the column maxima: f16_smax_at)
      const int tok0 = (bk.first + j) * PAGE_BLOCK_SIZE + 16 * warp + g;
      // sparse: this warp's 16 positions' validity bits (the block's mask slot nblk & 1)
      const uint32_t vbits = kSparse ? ptx::ld_shared_u32(gather.mask_at(nblk & 1) + 4 * warp) >> g : ~0u;
      float mx[kCols][2];
#pragma unroll
      for (int i = 0; i < kCols; ++i)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          mx[i][e] = -INFINITY;
#pragma unroll
          for (int h = 0; h < 2; ++h) {
            float& x = s[4 * i + 2 * h + e];
            if (tok0 + 8 * h >= sl[i].row_end[e] || (kSparse && !((vbits >> (8 * h)) & 1))) x = -INFINITY;
            mx[i][e] = fmaxf(mx[i][e], x);
          }
#pragma unroll
          for (int d = 4; d < 32; d <<= 1) mx[i][e] = fmaxf(mx[i][e], __shfl_xor_sync(0xffffffffu, mx[i][e], d));
        }
      if (g == 0) {
#pragma unroll
        for (int i = 0; i < kCols; ++i)
#pragma unroll
          for (int e = 0; e < 2; ++e) ptx::st_shared_f32(max_at(sK, warp, col_of(i, e, q4)), mx[i][e]);
      }
      ptx::named_barrier_sync(wg_bar, kWgThreads);  // (sMax is rewritten only after the next block's P barrier)
      float scale[kCols][2];
      softmax_block(s, m, l, scale, scale_log2, [&](int i, int e) {  // the warpgroup's 4 warps' maxima
        float bm = -INFINITY;
#pragma unroll
        for (int v = 0; v < 4; ++v) bm = fmaxf(bm, ptx::ld_shared_f32(max_at(sK, v, col_of(i, e, q4))));
        return bm;
      });
      // f16 datapath: the block's scale maxima per group (the new reference scales), the ratio of the old ones to them
      // and this thread's tokens' P factors s_t,g / r_g; then one more barrier (the maxima are read: slab 8 takes Pᵀ)
      float fac[4], ratio[2][4];
      if constexpr (kF16) f16_rescale_groups(sK, tsc, rg, fac, ratio, wg_bar);
      scale_columns<kF16>(o, scale, fac);  // the softmax rescale (f16 datapath: times the reference-scale ratios)

      // Pᵀ → smem, K-major (tokens contiguous per column): lanes g and g ^ 1 hold adjacent tokens of the same columns,
      // so they trade one value each and each stores one bf16 pair — the even-g lane column 2·q4 (+8i), the odd one
      // column 2·q4 + 1.
      // f16 datapath: four f16 copies, scaled per token and group (f16_store_p)
      if constexpr (kF16) {
        float rp[2][4];  // the partner lane's ratios
        f16_store_p(sP, s, ratio, rp, warp, g, q4);
      } else {
        const bool odd = g & 1;
#pragma unroll
        for (int i = 0; i < kCols; ++i)
#pragma unroll
          for (int h = 0; h < 2; ++h) {
            const float v0 = s[4 * i + 2 * h], v1 = s[4 * i + 2 * h + 1];
            const float other = __shfl_xor_sync(0xffffffffu, odd ? v0 : v1, 4);
            const uint32_t word = odd ? ElemOps<T>::pack2(other, v1) : ElemOps<T>::pack2(v0, other);
            const int tok = (16 * warp + g + 8 * h) & ~1, col = col_of(i, odd ? 1 : 0, q4);
            ptx::st_shared_u32(sP + swizzled(col, tok >> 3) + (tok & 7) * 2, word);
          }
      }
      ptx::fence_proxy_async();  // st.shared → wgmma reads
      ptx::named_barrier_sync(wg_bar, kWgThreads);

      // Oᵀ += Vᵀ · Pᵀ: m-tile t reads slab t MN-major (channels contiguous, 8 tokens per 1024 B), 16 tokens a k-step
      if constexpr (kSparse) {
        // the codes of invalid positions dropped (their stage rows hold stale or never-written bytes)
        const uint4 vm = ptx::ld_shared_v4(gather.mask_at(nblk & 1));
        if ((vm.x & vm.y & vm.z & vm.w) != 0xffffu) f16r_pv<true, SM90S_F8SP_ROW_PITCH>(o, sSt, sP, warp, lane, PAGE_BLOCK_SIZE, vm);
        else f16r_pv<false, SM90S_F8SP_ROW_PITCH>(o, sSt, sP, warp, lane, PAGE_BLOCK_SIZE);
      } else if constexpr (kFp8) {
        const int n_valid = j == bk.count - 1 ? bk.n_valid_last : PAGE_BLOCK_SIZE;
        if (n_valid < PAGE_BLOCK_SIZE) f16r_pv<true>(o, sSt, sP, warp, lane, n_valid);
        else f16r_pv<false>(o, sSt, sP, warp, lane, n_valid);
      } else {
        const uint64_t dp = desc_k_major(sP);
        ptx::wgmma_fence();
#pragma unroll
        for (int t = 0; t < 8; ++t)
#pragma unroll
          for (int kk = 0; kk < 4; ++kk) Lay::pv(o[t], desc_mn_major(sK + t * SM90_SLAB_BYTES + kk * 2048), dp + ((kk * 32) >> 4));
        ptx::wgmma_commit();
        ptx::wgmma_wait<0>();
      }
      ptx::named_barrier_sync(wg_bar, kWgThreads);  // the warpgroup is past this block's wgmmas: K and P may be rewritten
      if constexpr (kSparse) {
        // the gather warpgroup may refill the stage; every thread arrives with its own reads (arrivals by thread 0
        // after the warpgroup barrier order them as well, but compute-sanitizer's racecheck does not follow that
        // chain: race-probe mbar_st / mbar_all, session 27; same time)
        ptx::mbarrier_arrive(sFree + 8 * (nblk & 1));
        ++nblk;
      } else if constexpr (kFp8) {
        if (wtid == 0 && page_next >= 0) fp8_request_rope(sK, rope_map, sRope, page_next);  // slab 8 is free
        if (wtid == 0 && page_raw2 >= 0) fp8_request_raw_sw(sSt, raw_sw_map, sBar + 8 * (nblk & 1), page_raw2, scales_at(nblk & 1), scale_map);  // the stage is free
        ++nblk;
      } else {
        if (j + 2 < bk.count) request_block(bt, j + 2);
      }
    }

    if constexpr (kFp8) o_unpermute(o, g, q4);

    // compute-sanitizer's racecheck misorders warps whose counts of named-barrier passes differ (perf log, "racecheck on
    // generic-small"): the warpgroup with fewer blocks (or without the tail zeroing) passes its barrier as often as
    // the other — 3 per block (+ 1 over the FP8 cache: the f16 datapath's before its Pᵀ stores), 2 for the tail (16-bit
    // cache; the FP8 entries mask the tail's codes) — so the tool sees the merge below ordered as it is.
    {
      constexpr int per_block = 3 + (kF16 ? 1 : 0);
      const bool tail = !kFp8 && bk.count > 0 && bk.n_valid_last < PAGE_BLOCK_SIZE;
      const int last_owner = (bk.count - 1) & 1;
      const int mine = per_block * max(0, (bk.count - wg + 1) / 2) + (tail && last_owner == wg ? 2 : 0);
      const int theirs = per_block * max(0, (bk.count - (1 - wg) + 1) / 2) + (tail && last_owner != wg ? 2 : 0);
#pragma unroll 1
      for (int k = mine; k < theirs; ++k) ptx::named_barrier_sync(wg_bar, kWgThreads);
    }

    // ---- this warpgroup is done with the item: its buffer is free, so its first block of the next item goes out now
    // (FP8: already requested during its last block of this item, if it had one)
    if (pos < w.end_pos) {
      if constexpr (!kFp8) {
        // the next item's block count from its seqlen (as blocks_of(slice(req + 1, ·)): it starts at token 0)
        const int end_token = pos + 1 == w.end_pos ? w.end_token : next_seqlen;
        const int end_kv = slice_end_kv(p, end_token, next_seqlen, rs[0].s_last);
        const int n_next = __shfl_sync(0xffffffffu, end_kv > 0 ? (end_kv - 1) / PAGE_BLOCK_SIZE + 1 : 0, 0);
        if (wg < n_next && wtid == 0) request_page(next_page);
      }  // (FP8: the next item's first blocks were requested by the warpgroup's blocks before, rq)
    } else {
      ptx::grid_dep_launch_dependents();  // no more work to start: let combine launch
    }

    // ---- merge (mla_sm90_small_merge.cuh): column maxima and sums of both warpgroups → smem; once both are out, both
    // warpgroups are past their last S (Q is free) and P·V
    merge.publish(l, m);
    math_sync<kGatherWg>();
    if (pos < w.end_pos) load_q(request_at<kBatchOrder>(p, w, pos + 1));  // waited at the top of the next item
    typename SmallMerge<kRows, kFp8, kGatherWg>::Item it;
    merge.totals(it);
    scale_columns<kF16>(o, it.f_own, rg);  // to the common max (f16 datapath: and out of the groups' reference scales)
    merge.template exchange<kSparse ? 2 : 1>(o, it);
    // ---- epilogue: this warpgroup's four m-tiles of every real column
    const Slice& s0 = sl[0];
    merge.template store<kSparse>(p, fp, req, s0, rs, it);
    // the combine folded in (host's choice): the CTA that wrote the request's last split merges them all
    if (!kSparse && p.split_arrivals != nullptr && !s0.no_split) fold_split<T>(p, req, req, 0, p.q_rows, tid, SM90S_THREADS, sFlag, [] { __syncthreads(); });
    if constexpr (!kFp8) seqlen = next_seqlen;  // the next item's
  }
}

extern "C" __global__ void __launch_bounds__(SM90S_THREADS, 1)
    mla_decode_sm90_small_bf16(const __grid_constant__ MlaDecodeParams p, const __grid_constant__ CUtensorMap k_map) {
  small_row_decode<false, SM90S_ROWS>(p, &k_map, nullptr);
}

extern "C" __global__ void __launch_bounds__(SM90S_THREADS, 1)
    mla_decode_sm90_small_r32_bf16(const __grid_constant__ MlaDecodeParams p, const __grid_constant__ CUtensorMap k_map) {
  small_row_decode<false, SM90S_R32_ROWS>(p, &k_map, nullptr);
}

extern "C" __global__ void __launch_bounds__(SM90S_THREADS, 1)
    mla_decode_sm90_small_fp8_bf16(const __grid_constant__ MlaDecodeParams p, const __grid_constant__ CUtensorMap raw_map,
                                   const __grid_constant__ CUtensorMap rope_map, const __grid_constant__ CUtensorMap raw_sw_map,
                                   const __grid_constant__ CUtensorMap scale_map) {
  small_row_decode<true, SM90S_ROWS>(p, &raw_map, &rope_map, nullptr, &raw_sw_map, &scale_map);
}

// Sparse decode over the FP8 cache (level 4 of the plan; docs/perf-log.md, "hopper-small sparse" and session 9's
// `sparsef16`, sessions 25–28): bf16 q, h_q ≤ 32; grid (s_q · ceil(h_q / 16), num_sm_parts, 1) — blockIdx.x the query
// token and 16-head group whose heads are the CTA's columns; two math warpgroups on the register-A datapath and a gather warpgroup (SM90S_SPARSE_GATHER_THREADS),
// the FP8 entries' shared memory; arguments params and MlaFp8Params (no tensor maps: the gather warpgroup copies rows).
extern "C" __global__ void __launch_bounds__(SM90S_SPARSE_GATHER_THREADS, 1)
    mla_decode_sm90_small_fp8_sparse_bf16(const __grid_constant__ MlaDecodeParams p, const __grid_constant__ MlaFp8Params f) {
  small_row_decode<true, SM90S_ROWS, true>(p, nullptr, nullptr, &f);
}

// Sparse decode of 17–32 heads of a query token per CTA (mla_sm90_small_sparse_r32.cuh; session 29; the host's choice for
// those when the batch has work enough, src/cuda/fp8-decode.ts sparseR32): grid (s_q · ceil(h_q / 32), num_sm_parts, 1),
// block SM90S_SPARSE_GATHER_THREADS, dynamic smem SM90S_SP32_SMEM_BYTES, arguments as the 16-column entry's.
extern "C" __global__ void __launch_bounds__(SM90S_SPARSE_GATHER_THREADS, 1)
    mla_decode_sm90_small_fp8_sparse_r32_bf16(const __grid_constant__ MlaDecodeParams p, const __grid_constant__ MlaFp8Params f) {
  small_row_decode_sparse_r32<false>(p, &f);
}

// Dense decode of 17–32 folded rows over the FP8 cache (since session 29; 7–8 % faster on an H200 than the 32-row FP8
// entry of TMA boxes it replaced, mla_sm90_small_fp8_r32.cuh until commit 4050d6c) on the 32-column gather body
// (mla_sm90_small_sparse_r32.cuh, kDense): grid (1, num_sm_parts, 1), block SM90S_SPARSE_GATHER_THREADS, dynamic smem
// SM90S_SP32_SMEM_BYTES, arguments params and MlaFp8Params (no tensor maps).
extern "C" __global__ void __launch_bounds__(SM90S_SPARSE_GATHER_THREADS, 1)
    mla_decode_sm90_small_fp8_g32_bf16(const __grid_constant__ MlaDecodeParams p, const __grid_constant__ MlaFp8Params f) {
  small_row_decode_sparse_r32<true>(p, &f);
}
