// build: archs=sm_90a hot
// Hopper split-KV MLA decode, level 2: the "seesaw" (FlashMLA 9edee0c's schedule, written from its description).
// (Level 1, one K block per step split by tokens between the warpgroups, is in git history: 0.81–0.86× the speed
// of this one on compute-bound configs, H200.)
//
// CTA = 64 folded query rows × one SM part, walking its metadata row (mla_work.cuh). K blocks (64-token pages, 9 TMA
// boxes of 64 × 64, 128B swizzle) alternate between two buffers: even blocks → K0, odd blocks → K1. The two math
// warpgroups take alternate blocks for S = Q·Kᵀ (m64n64k16, Q read once per block), but each owns half of O's
// columns (WG0: 0–255, WG1: 256–511), so each needs both blocks' P:
// its own from registers (RS wgmma), the other's from shared memory (SS). One running row max in smem is
// handed from WG0 (block j) to WG1 (block j+1) and back, so one warpgroup's softmax runs while the other's
// P·V is on the tensor cores. Per pair of blocks:
//
//   WG0: softmax(S0) → arrive Scale0 → O_L += P0·V0L → refill K0.A → sync Scale1 → P0 *= scale1 → sP0 →
//        arrive P0 → O_L *= scale1 → sync P1 → O_L += sP1·V1L ‖ S0' = Q·K(j+2) (A half) → refill K1.A → B half
//   WG1: sync Scale0 → softmax(S1) against WG0's max → O_R *= scale0·scale1 → arrive Scale1 → sP1 →
//        O_R += P1·V1R → sync P0 → O_R += sP0·V0R → arrive P1 → refill K1.B, K0.B → S1' = Q·K(j+3)
//   (P1 is announced only once both P·V are issued, so that WG0's next wgmmas queue behind them; the memory-bound
//   entries refill K1.A right after O_L += sP1·V1L, before S0', kK1aEarly)
//
// A buffer is refilled per half ("group") as soon as its last reader is done: A = slabs 0–3 (V's left half, read
// last by WG0's P·V), B = slabs 4–8 (V's right half and the RoPE slab, read last by WG1's P·V), each slab on
// its own mbarrier, so S starts on a block's first slabs while the rest are still landing (FlashMLA's fine-grained
// copy–GEMM pipelining). When both warpgroups' loops are over, the next work item's Q and first two K blocks start
// loading before this item's epilogue. Masking, tails (NaN-filled slots zeroed in V), split/no-split epilogue:
// mla_work.cuh.
//
// Launch: grid (ceil(q_rows / 64), num_sm_parts, 1), block 256, dynamic smem mla::SM90_SMEM_BYTES. For one m-block
// (q_rows ≤ 64, memory-bound) the host launches mla_decode_sm90_membound_{bf16,fp16}: the same kernel with the part's
// first two K blocks requested one after the other (kStaggerFirst).
//
// The same kernel over the FP8 cache (mla_decode_sm90_fp8_bf16, kFp8): a third warpgroup dequantises each K block
// into the buffers (mla_sm90_fp8_producer.cuh) and the math warpgroups release a group where they would refill it.
// Sparse decode over the FP8 cache (mla_decode_sm90_fp8_sparse_bf16, kFp8Sparse): the producer gathers each block's
// positions from the query token's index list, and the math warpgroups mask the positions that attend nothing; an
// m-block never spans two query tokens (each token's heads padded to whole m-blocks: mla_work.cuh). The FP8 entries'
// seesaw (kEarlyP0): WG0 publishes P0 relative to block j's own max before its P·V and WG1 takes O_R to that max
// around P0·V0R, so that no buffer's release waits for the other buffer's next fill; in the dense entry (kPv0First)
// WG1 also takes P0·V0R and releases K0.B before it issues S of block j+1:
//   WG0: softmax(S0) → arrive Scale0 → sP0 → arrive P0 → O_L += P0·V0L → release K0.A → sync Scale1 → O_L *= scale1
//        → sync P1 → O_L += sP1·V1L → release K1.A → S0' = Q·K(j+2)
//   WG1: sync Scale0 → O_R *= scale0 → sync P0 → O_R += sP0·V0R → release K0.B → S1 = Q·K(j+1) (kPv0First; the sparse
//        entries issue it at the end of the iteration before) → softmax(S1) → arrive Scale1 → sP1 → arrive P1 →
//        O_R *= scale1 → O_R += P1·V1R → release K1.B
#include <cstdint>
#include <cuda.h>

#include "mla_config.h"
#include "mla_fp8_params.h"
#include "mla_generic_common.cuh"
#include "mla_params.h"
#include "mla_work.cuh"
#include "ptx.cuh"
#include "ptx_sm90.cuh"

using namespace mla;

#include "mla_sm90_math.cuh"

#include "mla_sm90_sparse_trace.cuh"

#include "mla_sm90_fp8_producer.cuh"

#include "mla_sm90_kbuffers.cuh"
#include "mla_sm90_part_trace.cuh"
#include "mla_sm90_policy.cuh"

namespace {

// kFp8: kmap is the raw-byte map of the FP8 cache and rope_map the RoPE columns' (mla_config.h); otherwise kmap is
// the bf16/fp16 cache's and rope_map unused.
// kStaggerFirst (16-bit cache, the memory-bound entries): the part's first block 1 is issued only once its block 0 has
// landed (issue_first_item, mla_sm90_kbuffers.cuh).
template <typename T, int kMode, bool kStaggerFirst = false, bool kPacked = false>
__device__ __forceinline__ void decode_kernel(const MlaDecodeParams& p, const CUtensorMap* kmap, const CUtensorMap* rope_map, const MlaFp8Params* fp) {
  // kPacked: the entry for schedules that may be packed (positions read through the order table); the others run
  // batch-order schedules only, the position being the request (the host's choice: kernels/mla_work.cuh request_at,
  // src/cuda/mla.ts), and compile to the code of the build before the table, instruction for instruction. One entry
  // for both moved ptxas's allocation of the main loop: the serving shapes 0.5–1.8 % slower on batch-order schedules
  // (H100, session 57, s57c / s57d).
  using Policy = Sm90Policy<kMode, kStaggerFirst>;  // (mla_sm90_policy.cuh: each choice with the measurement behind it)
  constexpr bool kFp8 = Policy::kFp8, kSparse = Policy::kSparse, kPair = Policy::kPair, kEarlyP0 = Policy::kEarlyP0;
  constexpr bool kBatchOrder = kSparse || !kPacked;
  constexpr bool kPv0First = Policy::kPv0First, kHalfPartials = Policy::kHalfPartials, kMathRaw = Policy::kMathRaw;
  constexpr bool kStaggerItems = Policy::kStaggerItems, kK1aEarly = Policy::kK1aEarly;
  constexpr int kPage1Thread = Policy::kPage1Thread;
  extern __shared__ uint8_t smem_raw[];
  const uint32_t base = (ptx::smem_addr(smem_raw) + 1023u) & ~1023u;
  const uint32_t sQ = base + SM90_OFF_Q, sK0 = base + SM90_OFF_K0, sK1 = base + SM90_OFF_K1;
  const uint32_t sM = base + SM90_OFF_M;  // (the P tiles are addressed per loop iteration, see opaque())
  const uint32_t sScale0 = base + SM90_OFF_SCALE0, sScale1 = base + SM90_OFF_SCALE1, sL = base + SM90_OFF_L;
  const uint32_t sBar = base + SM90_OFF_BAR;  // barrier of buffer x, slab y: sBar + 8·(9x + y)

  // wg through a shuffle: the compiler then knows it is warp-uniform and keeps the wgmmas under `if (wg …)` async
  const int tid = threadIdx.x, wg = __shfl_sync(0xffffffffu, tid >> 7, 0), wg_tid = tid & 127, lane = tid & 31, warp = (tid >> 5) & 3;
  const int g = lane >> 2, q4 = lane & 3;  // wgmma D fragment: rows 16·warp + g (+8), columns 8i + 2·q4 (+1)
  const int m_block = blockIdx.x;

  // FP8: raw block landed (per buffer), group empty (per buffer and group), after the 18 slab barriers; sparse: the
  // blocks' validity masks (per buffer)
  const uint32_t sBarRaw = base + SM90_FP8_OFF_EXTRA_BAR, sBarEmpty = sBarRaw + 16, sValid = base + SM90_FP8S_OFF_VALID;
  if (tid == 0) init_barriers<kMode>(sBar, sBarRaw, sValid, kmap, rope_map);  // (mla_sm90_kbuffers.cuh)
  __syncthreads();
  if constexpr (kPair) ptx::cluster_sync();  // the peer's barriers are initialised before any remote arrival or push

  PartTrace tr;  // (-DMLA_SM90_TRACE: mla_sm90_part_trace.cuh)
  tr.entry();
  // Everything below may depend on the previous kernel (metadata, q, kv cache): wait first (PDL).
  ptx::grid_dep_wait();
  tr.past_wait();
  const PartWork w = load_part_work(p, blockIdx.y);
  if (w.begin_pos >= p.b) return;  // idle part
  if constexpr (kFp8) {
    if (wg == 2) {  // the producer warpgroup (mla_sm90_fp8_producer.cuh)
      ptx::setmaxnreg_dec<SM90_FP8_PRODUCER_REGS>();
      run_producer<kMode>(p, fp, w, m_block, sK0, sK1, sBar, sBarRaw, sBarEmpty, sValid, kmap, rope_map, tid - SM90_THREADS);
      return;
    }
    ptx::setmaxnreg_inc<SM90_FP8_MATH_REGS>();
  }
  tr.math_begin();

  const int r_loc[2] = {warp * 16 + g, warp * 16 + g + 8};  // this thread's two rows of the m-block
  const RowSet rs = kSparse ? row_set_token_padded(p, m_block, r_loc) : row_set(p, m_block, r_loc);
  const float scale_log2 = p.scale_softmax_log2;
  KBuffers<kMode> kb{base, sBar, sBarEmpty, kmap, {0, 0}};  // the K buffers (mla_sm90_kbuffers.cuh)

  int n_prefetched = 0;   // leading blocks of this item the previous one already loaded (0, 1 or 2)
  bool q_ready = false;   // the previous item's epilogue already started loading our Q

  auto load_q = [&](int req) { load_q_rows<T, kSparse>(p, m_block, req, sQ, tid); };  // (cp.async, committed, not waited)

  // the two math warpgroups' CTA-wide barrier (the FP8 producer does not take part)
  auto math_sync = [] {
    if constexpr (kFp8) ptx::named_barrier_sync(kMathSync, kBoth);
    else __syncthreads();
  };

  // 16-bit cache: the current item's seqlen, loaded by the item before (its next_seqlen; the first item's here), so
  // that no load stands between an item's top and its block count. FP8: slice_of loads it at the item's top.
  int seqlen = kFp8 ? 0 : ptx::ld_plain(p.cache_seqlens + request_at<kBatchOrder>(p, w, w.begin_pos));
  // 16-bit cache, the part's first item: its Q and its first two blocks (mla_sm90_kbuffers.cuh)
  if constexpr (!kFp8) n_prefetched = issue_first_item<kStaggerFirst, kBatchOrder>(p, w, kb, tid, seqlen, rs.s_last, load_q, q_ready);

  [[maybe_unused]] int tr_it = 0;  // sparse trace: this warpgroup's loop iterations so far (pairs of blocks)
  // Items are positions in the schedule's order (request_at: no load in batch order, one L1-resident table load in a
  // packed one). The next item's request is looked up again where its Q is loaded rather than held across the main loop
  // (held, ptxas spilled 8 B in the memory-bound entries).
  for (int pos = w.begin_pos; pos <= w.end_pos; ++pos) {
    const int req = request_at<kBatchOrder>(p, w, pos);
    tr.item_top(pos == w.begin_pos);
    SPARSE_TRACE(wg_tid == 0, (wg ? 3072 : 2048) + 8 * tr_it + 5);  // (item start: its top)
    const Slice sl = kSparse ? slice_of_len(p, w, pos, req, rs, fp->topk) : kFp8 ? slice_of<kBatchOrder>(p, w, pos, req, rs) : slice_of_len<kBatchOrder>(p, w, pos, req, rs, seqlen);
    // The next item (position pos + 1 from token 0) starts loading before this one's epilogue; its seqlen is
    // read now and used after the main loop, so the load's latency is hidden.
    // (batch order: written as before the order table, `+ pos + 1`, which keeps these entries' code bit for bit that of
    // the build before it — session 57, compared instruction by instruction)
    const int next_seqlen = pos >= w.end_pos ? 0
                            : kSparse        ? fp->topk
                            : kBatchOrder    ? ptx::ld_plain(p.cache_seqlens + pos + 1)
                                             : ptx::ld_plain(p.cache_seqlens + request_at<kBatchOrder>(p, w, pos + 1));
    // 16-bit cache: the next item's first two block-table entries, loaded now by the thread of each warpgroup that
    // issues their TMA after the main loop (loaded there, every thread waited on them at the epilogue's barrier). The
    // row's entries 0 and 1 exist when max_blocks_per_seq allows; they are used only if the next item has the blocks.
    int next_page0 = 0, next_page1 = 0;
    if (!kFp8 && wg_tid == 0 && pos < w.end_pos) {
      const int* bt_next = p.block_table + static_cast<int64_t>(request_at<kBatchOrder>(p, w, pos + 1)) * p.block_table_stride;
      if (p.max_blocks_per_seq > 0) next_page0 = ptx::ld_plain(bt_next);
      if (p.max_blocks_per_seq > 1) next_page1 = ptx::ld_plain(bt_next + 1);
    }
    const int first_block = sl.start / PAGE_BLOCK_SIZE;  // start is a multiple of 64
    // (broadcast: uniform by construction, and the compiler must see that to keep branches around wgmma async)
    const int n_blocks = __shfl_sync(0xffffffffu, sl.end_kv > sl.start ? (sl.end_kv - 1) / PAGE_BLOCK_SIZE - first_block + 1 : 0, 0);
    const int* bt = p.block_table + static_cast<int64_t>(req) * p.block_table_stride + first_block;
    const int n_valid_last = sl.end_kv - (first_block + n_blocks - 1) * PAGE_BLOCK_SIZE;  // tokens of the last block

    math_sync();  // both warpgroups are done with the previous item's smem
    SPARSE_TRACE(wg_tid == 0, (wg ? 3072 : 2048) + 8 * tr_it + 6);  // (item start: past the first barrier)
    if (tid < 64) ptx::st_shared_f32(sM + tid * 4, kMaxInit);
    if (n_blocks > 0) {
      // 16-bit cache: this issues nothing at run time — the part's first item is issued before the item loop and the
      // later ones by the epilogue, n_prefetched = min(n_blocks, 2) both times — but it stays: without it ptxas
      // allocates the bf16 entry differently (251 registers instead of 255) and S1, S8, S12 ran 1–1.5 % slower on the
      // H200 (session 11, perf log `stream`). In the memory-bound entries it issues a later item's block 1 (kStaggerItems).
      // FP8: the producer warpgroup fills the buffers.
      if (!kFp8 && tid == (kStaggerItems ? kPage1Thread : 0)) {
        for (int j = n_prefetched; j < min(n_blocks, 2); ++j) {
          if constexpr (kStaggerItems) {  // block 1 once block 0 (issued by the item before) has landed
            if (j == 1)
              for (int slab = 0; slab < SM90_SLABS; ++slab) ptx::mbarrier_wait(kb.barrier(0) + 8 * slab, kb.parity(0));
          }
          const int page = ptx::ld_plain(bt + j);
          kb.issue_group(j, kGroupA, page);
          kb.issue_group(j, kGroupB, page);
        }
      }
      if (!q_ready) load_q(req);
      ptx::cp_async_wait_all();
      ptx::fence_proxy_async();  // cp.async writes → wgmma reads
      math_sync();
      SPARSE_TRACE(wg_tid == 0, (wg ? 3072 : 2048) + 8 * tr_it + 7);  // (item start: Q landed, both warpgroups here)
    }
    q_ready = false;

    float o[128];
#pragma unroll
    for (int i = 0; i < 128; ++i) o[i] = 0.f;
    float row_sum[2] = {0.f, 0.f};  // this thread's partial sums over the P columns it produced
    float s[32];                    // S (then P) of this warpgroup's current block
    uint32_t pa[4][4];              // P as bf16/fp16 A fragments
#pragma unroll
    for (int i = 0; i < 32; ++i) s[i] = 0.f;  // defined before the first wgmma reads it (scale_d = 0 ignores it)

    if (wg == 0 && n_blocks > 0) {
      // ======================================= warpgroup 0: blocks 0, 2, 4, … ===================================
      issue_s_half<T, kGroupA>(s, sQ, sK0, kb.barrier(0), kb.parity(0), true);
      issue_s_half<T, kGroupB>(s, sQ, sK0, kb.barrier(0), kb.parity(0), false);
      ptx::wgmma_commit();
      ptx::wgmma_wait<0>();
      tr.first_s_done(pos == w.begin_pos);
#pragma unroll 1
      for (int j = 0; j < n_blocks; j += 2) {
        const uint32_t b_ = opaque(base);
        const uint32_t sQ = b_ + SM90_OFF_Q, sK0 = b_ + SM90_OFF_K0, sK1 = b_ + SM90_OFF_K1;
        const uint32_t sP0 = b_ + SM90_OFF_P0, sP1 = b_ + SM90_OFF_P1;
        const bool has1 = j + 1 < n_blocks, has2 = j + 2 < n_blocks, has3 = j + 3 < n_blocks;
        SPARSE_TRACE(tid == 0, 2048 + 8 * tr_it + 0);
        int page2 = 0, page3 = 0;  // block-table entries of the refills, loaded early to hide their latency
        if ((!kFp8 || kMathRaw) && wg_tid == 0) {
          if (has2) page2 = ptx::ld_plain(bt + j + 2);
          if (has3) page3 = ptx::ld_plain(bt + j + 3);
        }
        // softmax of block j against the running max
        float mx[2], m_old[2], m_new[2], scale0[2], sum[2];
        if constexpr (kPair) ptx::mbarrier_wait(sValid + kPairValidBar, kb.parity(j));
        if constexpr (kSparse)  // buffer 0's block (its mask is read before this warpgroup releases the buffer)
          mask_and_row_max<true>(s, (first_block + j) * PAGE_BLOCK_SIZE, q4, sl.row_end, mx, valid_mask(sValid));
        else
          mask_and_row_max(s, (first_block + j) * PAGE_BLOCK_SIZE, q4, sl.row_end, mx);
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          m_old[h] = ptx::ld_shared_f32(sM + r_loc[h] * 4);
          m_new[h] = next_row_max(m_old[h], mx[h] * scale_log2);
          scale0[h] = ptx::exp2_approx(m_old[h] - m_new[h]);
        }
        __syncwarp();  // every lane has read sM before the quad leader overwrites it
        if (q4 == 0) {
#pragma unroll
          for (int h = 0; h < 2; ++h) {
            ptx::st_shared_f32(sM + r_loc[h] * 4, m_new[h]);
            ptx::st_shared_f32(sScale0 + r_loc[h] * 4, scale0[h]);
          }
        }
        // WG1 needs only sM and sScale0: it may go now (as WG1 arrives Scale1Ready right after its own stores), not after
        // this warpgroup's exponentials and packing (H200, session 14 `s0early`: sweep#14 −1.6 %, S8 −0.5 %)
        ptx::named_barrier_arrive(kScale0Ready, kBoth);
        exponentiate(s, scale_log2, m_new, sum);
#pragma unroll
        for (int h = 0; h < 2; ++h) row_sum[h] = row_sum[h] * scale0[h] + sum[h];
        scale_rows(o, scale0[0], scale0[1]);
        pack_p<T>(s, pa);
        // FP8 (kEarlyP0): P0 is published relative to this block's max at once, so that warpgroup 1's P·V of this
        // block — and with it the release of its B group — does not wait for the next block's softmax (which waits for
        // the producer's next fill); warpgroup 1 rescales its O instead (perf log, session 18 `sptrace`)
        if constexpr (kEarlyP0) {
          store_p(sP0, pa, r_loc);
          ptx::fence_proxy_async();
          ptx::named_barrier_arrive(kP0Ready, kBoth);
        }

        // O_L += P0 · V0L
        // (kPair: not — the rows may be this CTA's halves still being pushed to the peer; the sparse producers write
        // zeros for every position past the index list, and tail rows of a split part hold indexed tokens, not NaN fill)
        if (j == n_blocks - 1 && n_valid_last < PAGE_BLOCK_SIZE && !kPair) zero_v_tail(sK0, 0, n_valid_last, wg_tid, kWg0Local);
        ptx::wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < 4; ++kk) Mma<T>::pv_rs(o, pa[kk], v_desc(sK0, kk));
        ptx::wgmma_commit();
        ptx::wgmma_wait<0>();
        // 16-bit cache: K0.A (V0L; its only other reader, S of block j, long done) is refilled with block j+2's slabs
        // 0–3 as soon as every warp of WG0 is past V0L — not after WG1's Scale1, where FlashMLA issues it (H200, session
        // 36 `k0a`, two runs: the memory-bound entries' rows 1.1–1.8 % faster, sweep#12 / #28 0.6–2.3 %, S9 0.5 %; S8
        // +0.5 %)
        if constexpr (!kFp8) {
          if (has2) {
            ptx::named_barrier_sync(kWg0Local, kOne);
            if (wg_tid == 0) kb.issue_group(j + 2, kGroupA, page2);
          }
        }
        if constexpr (kEarlyP0) {  // K0.A (V0L) is dead once every warp of WG0 is past its P·V
          ptx::named_barrier_sync(kWg0Local, kOne);
          if (wg_tid == 0) kb.release(j, kGroupA);
          if (kMathRaw && has2 && wg_tid == 0) issue_raw_block(sK0, kmap, sBarRaw, page2);  // block j+2's raw bytes
        }

        ptx::named_barrier_sync(kScale1Ready, kBoth);  // WG1's softmax of block j+1 is done
        SPARSE_TRACE(tid == 0, 2048 + 8 * tr_it + 1);
        float scale1[2];
#pragma unroll
        for (int h = 0; h < 2; ++h) scale1[h] = ptx::ld_shared_f32(sScale1 + r_loc[h] * 4);
        if constexpr (!kEarlyP0) {  // publish P0 relative to WG1's new max
#pragma unroll
          for (int i = 0; i < 32; ++i) s[i] *= scale1[(i >> 1) & 1];
          pack_p<T>(s, pa);
          store_p(sP0, pa, r_loc);
          ptx::fence_proxy_async();
          ptx::named_barrier_arrive(kP0Ready, kBoth);
        }
        scale_rows(o, scale1[0], scale1[1]);
#pragma unroll
        for (int h = 0; h < 2; ++h) row_sum[h] *= scale1[h];

        ptx::named_barrier_sync(kP1Ready, kBoth);
        SPARSE_TRACE(tid == 0, 2048 + 8 * tr_it + 2);
        if (has1) {  // O_L += P1 · V1L
          if (j + 1 == n_blocks - 1 && n_valid_last < PAGE_BLOCK_SIZE && !kPair) zero_v_tail(sK1, 0, n_valid_last, wg_tid, kWg0Local);
          ptx::wgmma_fence();
#pragma unroll
          for (int kk = 0; kk < 4; ++kk) Mma<T>::pv_ss(o, p_desc(sP1, kk), v_desc(sK1, kk));
          ptx::wgmma_commit();
          if constexpr (kEarlyP0) {  // K1.A released before S of block j+2 waits for that block's fill
            ptx::wgmma_wait<0>();
            ptx::named_barrier_sync(kWg0Local, kOne);
            if (wg_tid == 0) kb.release(j + 1, kGroupA);
            if (kMathRaw && has3 && wg_tid == 0) issue_raw_block(sK1, kmap, sBarRaw + 8, page3);  // block j+3's
          }
          if constexpr (kK1aEarly) {  // K1.A refilled before S of block j+2 waits for that block's fill
            ptx::wgmma_wait<0>();
            if (has3) {
              ptx::named_barrier_sync(kWg0Local, kOne);
              if (wg_tid == 0) kb.issue_group(j + 3, kGroupA, page3);
            }
          }
        }
        // S of block j+2 overlaps the tail of that P·V (kK1aEarly: that P·V is done)
        if (has2) {
          issue_s_half<T, kGroupA>(s, sQ, sK0, kb.barrier(j + 2), kb.parity(j + 2), true);
          ptx::wgmma_commit();
          ptx::wgmma_wait<1>();
        } else {
          ptx::wgmma_wait<0>();
        }
        SPARSE_TRACE(tid == 0, 2048 + 8 * tr_it + 3);
        if constexpr (!kEarlyP0 && !kK1aEarly) {  // K1.A (V1L) is dead once every warp of WG0 is past its P·V
          if (has3) {
            ptx::named_barrier_sync(kWg0Local, kOne);
            if (wg_tid == 0) kb.issue_group(j + 3, kGroupA, page3);
          }
        }
        if (has2) {
          issue_s_half<T, kGroupB>(s, sQ, sK0, kb.barrier(j + 2), kb.parity(j + 2), false);
          ptx::wgmma_commit();
        }
        ptx::wgmma_wait<0>();  // unconditional: the compiler must see nothing in flight on every path
        SPARSE_TRACE(tid == 0, 2048 + 8 * tr_it + 4);
        SPARSE_TRACE_NEXT(tr_it);
      }
    } else if (n_blocks > 0) {
      // ======================================= warpgroup 1: blocks 1, 3, 5, … ===================================
      if (n_blocks > 1 && !kPv0First) {  // (kPv0First: each iteration issues its own S)
        issue_s_half<T, kGroupA>(s, sQ, sK1, kb.barrier(1), kb.parity(1), true);
        issue_s_half<T, kGroupB>(s, sQ, sK1, kb.barrier(1), kb.parity(1), false);
        ptx::wgmma_commit();
        ptx::wgmma_wait<0>();
      }
#pragma unroll 1
      for (int j = 0; j < n_blocks; j += 2) {
        const uint32_t b_ = opaque(base);
        const uint32_t sQ = b_ + SM90_OFF_Q, sK0 = b_ + SM90_OFF_K0, sK1 = b_ + SM90_OFF_K1;
        const uint32_t sP0 = b_ + SM90_OFF_P0, sP1 = b_ + SM90_OFF_P1;
        const bool has1 = j + 1 < n_blocks, has2 = j + 2 < n_blocks, has3 = j + 3 < n_blocks;
        SPARSE_TRACE(tid == 128, 3072 + 8 * tr_it + 0);
        int page2 = 0, page3 = 0;
        if (!kFp8 && wg_tid == 0) {
          if (has2) page2 = ptx::ld_plain(bt + j + 2);
          if (has3) page3 = ptx::ld_plain(bt + j + 3);
        }
        float m0[2], scale0[2];  // WG0's max of block j (in sM when it arrives Scale0) and its scale
        if constexpr (kPv0First) {
          // Dense FP8: O_R += P0 · V0R and K0.B's release first, then S of block j+1 — K0.B does not wait for block
          // j+1's fill (the producer fills the buffers in turn). (The sparse entries' P0 · V0R below, written out again:
          // one shared lambda changed the bf16 entries' machine code, compare-cubins, session 33.)
          ptx::named_barrier_sync(kScale0Ready, kBoth);
#pragma unroll
          for (int h = 0; h < 2; ++h) {
            m0[h] = ptx::ld_shared_f32(sM + r_loc[h] * 4);
            scale0[h] = ptx::ld_shared_f32(sScale0 + r_loc[h] * 4);
          }
          scale_rows(o, scale0[0], scale0[1]);
          ptx::named_barrier_sync(kP0Ready, kBoth);
          if (j == n_blocks - 1 && n_valid_last < PAGE_BLOCK_SIZE) zero_v_tail(sK0, 4, n_valid_last, wg_tid, kWg1Local);
          ptx::wgmma_fence();
#pragma unroll
          for (int kk = 0; kk < 4; ++kk) Mma<T>::pv_ss(o, p_desc(sP0, kk), v_desc(sK0 + 4 * SM90_SLAB_BYTES, kk));
          ptx::wgmma_commit();
          ptx::wgmma_wait<0>();
          ptx::named_barrier_sync(kWg1Local, kOne);  // K0.B is dead once P0·V0R is done
          if (wg_tid == 0) kb.release(j, kGroupB);
          SPARSE_TRACE(tid == 128, 3072 + 8 * tr_it + 2);  // (dense FP8: before event 1)
          if (has1) {  // S of block j+1, its B half first
            issue_s_half<T, kGroupB>(s, sQ, sK1, kb.barrier(j + 1), kb.parity(j + 1), true);
            issue_s_half<T, kGroupA>(s, sQ, sK1, kb.barrier(j + 1), kb.parity(j + 1), false);
            ptx::wgmma_commit();
          }
          ptx::wgmma_wait<0>();  // unconditional: nothing in flight on either path
        }
        // Without block j+1 every token is masked (P1 = 0, max unchanged). Unconditional on purpose: s written
        // under a branch makes ptxas serialise the wgmmas that define it (C7515).
        float mx[2];
        if constexpr (kSparse) {  // buffer 1's block; without one, no read (the producer may be refilling the mask)
          if constexpr (kPair) {
            if (has1) ptx::mbarrier_wait(sValid + kPairValidBar + 8, kb.parity(j + 1));
          }
          mask_and_row_max<true>(s, has1 ? (first_block + j + 1) * PAGE_BLOCK_SIZE : kNoTokens, q4, sl.row_end, mx, has1 ? valid_mask(sValid + 16) : ~0ull);
        } else
          mask_and_row_max(s, has1 ? (first_block + j + 1) * PAGE_BLOCK_SIZE : kNoTokens, q4, sl.row_end, mx);
        if constexpr (!kPv0First) ptx::named_barrier_sync(kScale0Ready, kBoth);  // WG0's max and scale of block j
        SPARSE_TRACE(tid == 128, 3072 + 8 * tr_it + 1);
        float m1[2], scale1[2];
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          if constexpr (!kPv0First) {
            m0[h] = ptx::ld_shared_f32(sM + r_loc[h] * 4);
            scale0[h] = ptx::ld_shared_f32(sScale0 + r_loc[h] * 4);
          }
          m1[h] = next_row_max(m0[h], mx[h] * scale_log2);
          scale1[h] = ptx::exp2_approx(m0[h] - m1[h]);
        }
        __syncwarp();
        if (q4 == 0) {
#pragma unroll
          for (int h = 0; h < 2; ++h) {
            ptx::st_shared_f32(sM + r_loc[h] * 4, m1[h]);
            ptx::st_shared_f32(sScale1 + r_loc[h] * 4, scale1[h]);
          }
        }
        ptx::named_barrier_arrive(kScale1Ready, kBoth);
        if constexpr (kEarlyP0) {
          // P0 comes relative to block j's max (WG0's, before this block): O_R joins it there, takes P0 · V0R — after
          // which K0.B is free, whatever the producer's next fill — and then moves to block j+1's max (kPv0First: done
          // above)
          if constexpr (!kPv0First) {
            scale_rows(o, scale0[0], scale0[1]);
            ptx::named_barrier_sync(kP0Ready, kBoth);  // O_R += P0 · V0R
            SPARSE_TRACE(tid == 128, 3072 + 8 * tr_it + 2);
            if (j == n_blocks - 1 && n_valid_last < PAGE_BLOCK_SIZE && !kPair) zero_v_tail(sK0, 4, n_valid_last, wg_tid, kWg1Local);
            ptx::wgmma_fence();
#pragma unroll
            for (int kk = 0; kk < 4; ++kk) Mma<T>::pv_ss(o, p_desc(sP0, kk), v_desc(sK0 + 4 * SM90_SLAB_BYTES, kk));
            ptx::wgmma_commit();
          }
          float sum[2];
          exponentiate(s, scale_log2, m1, sum);  // (beside that P·V)
#pragma unroll
          for (int h = 0; h < 2; ++h) row_sum[h] = row_sum[h] * (scale0[h] * scale1[h]) + sum[h];
          if (has1) {
            pack_p<T>(s, pa);
            store_p(sP1, pa, r_loc);
            ptx::fence_proxy_async();
          }
          ptx::named_barrier_arrive(kP1Ready, kBoth);
          // K(jj % 2).B is dead once P·V of block jj is done
          auto retire_b = [&](int jj) {
            ptx::named_barrier_sync(kWg1Local, kOne);
            if (wg_tid == 0) kb.release(jj, kGroupB);
          };
          if constexpr (!kPv0First) {
            ptx::wgmma_wait<0>();
            retire_b(j);  // P0·V0R
          }
          scale_rows(o, scale1[0], scale1[1]);
          if (has1) {  // O_R += P1 · V1R
            if (j + 1 == n_blocks - 1 && n_valid_last < PAGE_BLOCK_SIZE && !kPair) zero_v_tail(sK1, 4, n_valid_last, wg_tid, kWg1Local);
            ptx::wgmma_fence();
#pragma unroll
            for (int kk = 0; kk < 4; ++kk) Mma<T>::pv_rs(o, pa[kk], v_desc(sK1 + 4 * SM90_SLAB_BYTES, kk));
            ptx::wgmma_commit();
            ptx::wgmma_wait<0>();
            retire_b(j + 1);  // P1·V1R
          }
        } else {  // (its P0 · V0R as above, after its own P·V of block j+1: duplicated, since one shared lambda changed
                  // every entry's machine code)
          float sum[2];
          exponentiate(s, scale_log2, m1, sum);
#pragma unroll
          for (int h = 0; h < 2; ++h) row_sum[h] = row_sum[h] * (scale0[h] * scale1[h]) + sum[h];
          scale_rows(o, scale0[0] * scale1[0], scale0[1] * scale1[1]);
          // 16-bit cache: P1Ready is arrived only once both of this warpgroup's P·V are issued (FlashMLA's
          // rO1sP0sV0RIssued), so that WG0's P·V1L and its S of block j+2 enter the tensor pipe behind P·V0R, which
          // frees K0's B group for block j+2 (H200, session 13 `p1late`: compute-bound rows 1–2.5 % faster).
          if (has1) {
            pack_p<T>(s, pa);
            store_p(sP1, pa, r_loc);
            ptx::fence_proxy_async();
          }
          if (has1) {  // O_R += P1 · V1R
            if (j + 1 == n_blocks - 1 && n_valid_last < PAGE_BLOCK_SIZE && !kPair) zero_v_tail(sK1, 4, n_valid_last, wg_tid, kWg1Local);
            ptx::wgmma_fence();
#pragma unroll
            for (int kk = 0; kk < 4; ++kk) Mma<T>::pv_rs(o, pa[kk], v_desc(sK1 + 4 * SM90_SLAB_BYTES, kk));
            ptx::wgmma_commit();
          }
          ptx::named_barrier_sync(kP0Ready, kBoth);  // O_R += P0 · V0R
          SPARSE_TRACE(tid == 128, 3072 + 8 * tr_it + 2);
          if (j == n_blocks - 1 && n_valid_last < PAGE_BLOCK_SIZE && !kPair) zero_v_tail(sK0, 4, n_valid_last, wg_tid, kWg1Local);
          ptx::wgmma_fence();
#pragma unroll
          for (int kk = 0; kk < 4; ++kk) Mma<T>::pv_ss(o, p_desc(sP0, kk), v_desc(sK0 + 4 * SM90_SLAB_BYTES, kk));
          ptx::wgmma_commit();
          ptx::named_barrier_arrive(kP1Ready, kBoth);
          if (has3) {  // K1.B is dead once P1·V1R is done (and S of block j+1 long before)
            ptx::wgmma_wait<1>();
            ptx::named_barrier_sync(kWg1Local, kOne);
            if (wg_tid == 0) kb.issue_group(j + 3, kGroupB, page3);
          }
          ptx::wgmma_wait<0>();
          if (has2) {  // K0.B is dead once P0·V0R is done
            ptx::named_barrier_sync(kWg1Local, kOne);
            if (wg_tid == 0) kb.issue_group(j + 2, kGroupB, page2);
          }
        }
        SPARSE_TRACE(tid == 128, 3072 + 8 * tr_it + 3);
        if (has3 && !kPv0First) {  // S of block j+3: its B half was issued first
          issue_s_half<T, kGroupB>(s, sQ, sK1, kb.barrier(j + 3), kb.parity(j + 3), true);
          issue_s_half<T, kGroupA>(s, sQ, sK1, kb.barrier(j + 3), kb.parity(j + 3), false);
          ptx::wgmma_commit();
        }
        ptx::wgmma_wait<0>();
        SPARSE_TRACE(tid == 128, 3072 + 8 * tr_it + 4);
        SPARSE_TRACE_NEXT(tr_it);
      }
    }
    tr.loops_done();
    // Both warpgroups' loops are over: every K group is free once its own warpgroup is (A: last read by WG0's
    // P·V and WG1's S of odd blocks, done before WG0's last Scale1 sync; B: last read by WG1's P·V and WG0's S of
    // even blocks, done before WG1's last Scale0 sync). Each warpgroup loads its groups of the next item's first
    // two blocks now, so the next item does not start on an empty pipe.
    int n_next = 0;
    if (pos < w.end_pos) {
      const int end_token = pos + 1 == w.end_pos ? w.end_token : next_seqlen;
      const int end_kv = slice_end_kv(p, end_token, next_seqlen, rs.s_last);
      n_next = __shfl_sync(0xffffffffu, end_kv > 0 ? (end_kv - 1) / PAGE_BLOCK_SIZE + 1 : 0, 0);
    }
    kb.fills[0] += (n_blocks + 1) >> 1;
    kb.fills[1] += n_blocks >> 1;
    n_prefetched = min(n_next, kStaggerItems ? 1 : 2);  // staggered: the next item's block 1 is issued at its top
    if (!kFp8 && wg_tid == 0 && n_prefetched > 0) {  // FP8: the producer is already on the next item
      const int page0 = next_page0, page1 = next_page1;  // (loaded at the item's top)
      const int group = wg == 0 ? kGroupA : kGroupB;
      // the next item's block j → buffer j, fill index kb.fills[j] (kb.parity() of the next item, written out here)
      auto issue_next = [&](int j, int page) {
        kb.issue_slabs(sBar + 8 * SM90_SLABS * j, j ? sK1 : sK0, group == kGroupA ? 0 : SM90_GROUP_A_SLABS,
                       group == kGroupA ? SM90_GROUP_A_SLABS : SM90_GROUP_B_SLABS, page);
      };
      issue_next(0, page0);
      if (n_prefetched > 1) issue_next(1, page1);
    }

    // ---- epilogue: both halves of O are relative to the last max in sM --------------------------------------
    if (pos == w.end_pos) ptx::grid_dep_launch_dependents();  // no more work to start: let combine launch
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      row_sum[h] += __shfl_xor_sync(0xffffffffu, row_sum[h], 1);
      row_sum[h] += __shfl_xor_sync(0xffffffffu, row_sum[h], 2);
      if (q4 == 0) ptx::st_shared_f32(sL + (wg * 64 + r_loc[h]) * 4, row_sum[h]);
    }
    ptx::named_barrier_sync(kSumReady, kBoth);  // also: both warpgroups are past their last S, so sQ is free
    tr.sums_done();
    SPARSE_TRACE(wg_tid == 0, (wg ? 3072 : 2048) + 8 * (tr_it - 1) + 6);  // (item change: past the row sums' barrier)
    if (n_next > 0) {
#ifndef MLA_EXPERIMENT_NO_NEXT_Q  // EXPERIMENT (variant builds only): the next item keeps this Q — wrong outputs, what
      // loading it costs the item change (perf log `qearly`: S6 −1.2 %, sweep#12 −1.2 % on an H100)
      load_q(request_at<kBatchOrder>(p, w, pos + 1));  // lands while this item's rows are written out
#endif
      q_ready = true;
    }
    tr.next_q_issued();
    SPARSE_TRACE(wg_tid == 0, (wg ? 3072 : 2048) + 8 * (tr_it - 1) + 5);  // (item change: next Q issued)
    store_item_rows<T, kSparse, kHalfPartials>(p, fp, req, sl, rs, r_loc, o, sL, sM, wg, q4);
    tr.rows_stored();
    SPARSE_TRACE(wg_tid == 0, (wg ? 3072 : 2048) + 8 * (tr_it - 1) + 7);  // (item change: rows stored)
    if constexpr (!kFp8) seqlen = next_seqlen;  // the next item's
  }
  if constexpr (kPair) ptx::cluster_sync();  // (the producer's side: after its loop)
  tr.write(p, m_block, tid);
}

}  // namespace

extern "C" __global__ void __launch_bounds__(SM90_THREADS, 1)
    mla_decode_sm90_bf16(const __grid_constant__ MlaDecodeParams p, const __grid_constant__ CUtensorMap k_map) {
  decode_kernel<__nv_bfloat16, kDense16>(p, &k_map, nullptr, nullptr);
}
extern "C" __global__ void __launch_bounds__(SM90_THREADS, 1)
    mla_decode_sm90_fp16(const __grid_constant__ MlaDecodeParams p, const __grid_constant__ CUtensorMap k_map) {
  decode_kernel<__half, kDense16>(p, &k_map, nullptr, nullptr);
}
// The memory-bound entries (the host's choice for one m-block, q_rows ≤ 64): the same, with the first loads staggered.
extern "C" __global__ void __launch_bounds__(SM90_THREADS, 1)
    mla_decode_sm90_membound_bf16(const __grid_constant__ MlaDecodeParams p, const __grid_constant__ CUtensorMap k_map) {
  decode_kernel<__nv_bfloat16, kDense16, true>(p, &k_map, nullptr, nullptr);
}
extern "C" __global__ void __launch_bounds__(SM90_THREADS, 1)
    mla_decode_sm90_membound_fp16(const __grid_constant__ MlaDecodeParams p, const __grid_constant__ CUtensorMap k_map) {
  decode_kernel<__half, kDense16, true>(p, &k_map, nullptr, nullptr);
}
// The same four for schedules that may be packed (getMlaMetadata's packOrder: the scheduler's fifth rule).
extern "C" __global__ void __launch_bounds__(SM90_THREADS, 1)
    mla_decode_sm90_packed_bf16(const __grid_constant__ MlaDecodeParams p, const __grid_constant__ CUtensorMap k_map) {
  decode_kernel<__nv_bfloat16, kDense16, false, true>(p, &k_map, nullptr, nullptr);
}
extern "C" __global__ void __launch_bounds__(SM90_THREADS, 1)
    mla_decode_sm90_packed_fp16(const __grid_constant__ MlaDecodeParams p, const __grid_constant__ CUtensorMap k_map) {
  decode_kernel<__half, kDense16, false, true>(p, &k_map, nullptr, nullptr);
}
extern "C" __global__ void __launch_bounds__(SM90_THREADS, 1)
    mla_decode_sm90_packed_membound_bf16(const __grid_constant__ MlaDecodeParams p, const __grid_constant__ CUtensorMap k_map) {
  decode_kernel<__nv_bfloat16, kDense16, true, true>(p, &k_map, nullptr, nullptr);
}
extern "C" __global__ void __launch_bounds__(SM90_THREADS, 1)
    mla_decode_sm90_packed_membound_fp16(const __grid_constant__ MlaDecodeParams p, const __grid_constant__ CUtensorMap k_map) {
  decode_kernel<__half, kDense16, true, true>(p, &k_map, nullptr, nullptr);
}
// The FP8 cache (bf16 q): block SM90_FP8_THREADS, dynamic smem SM90_FP8_SMEM_BYTES (mla_config.h).
extern "C" __global__ void __launch_bounds__(SM90_FP8_THREADS, 1)
    mla_decode_sm90_fp8_bf16(const __grid_constant__ MlaDecodeParams p, const __grid_constant__ CUtensorMap raw_map,
                             const __grid_constant__ CUtensorMap rope_map) {
  decode_kernel<__nv_bfloat16, kFp8Dense>(p, &raw_map, &rope_map, nullptr);
}
// The same for schedules that may be packed. One entry for both cost batch-order schedules 0.8 % (geomean; S1 +1.6 %,
// sweep#8 +1.2 %: H100, session 60, s60m).
extern "C" __global__ void __launch_bounds__(SM90_FP8_THREADS, 1)
    mla_decode_sm90_fp8_packed_bf16(const __grid_constant__ MlaDecodeParams p, const __grid_constant__ CUtensorMap raw_map,
                                    const __grid_constant__ CUtensorMap rope_map) {
  decode_kernel<__nv_bfloat16, kFp8Dense, false, true>(p, &raw_map, &rope_map, nullptr);
}
// Sparse decode over the FP8 cache (bf16 q, any h_q: an m-block is 64 heads of one query token, each token's heads
// padded to whole m-blocks, row_set_token_padded): grid (s_q · ceil(h_q / 64), SM parts), block SM90_FP8_THREADS,
// dynamic smem SM90_FP8S_SMEM_BYTES.
extern "C" __global__ void __launch_bounds__(SM90_FP8_THREADS, 1)
    mla_decode_sm90_fp8_sparse_bf16(const __grid_constant__ MlaDecodeParams p, const __grid_constant__ MlaFp8Params f) {
  decode_kernel<__nv_bfloat16, kFp8Sparse>(p, nullptr, nullptr, &f);
}
// The same for h_q > 64 with each query token's m-blocks in pairs (ceil(h_q / 64) even): launched as 2-CTA clusters
// along x, the two m-blocks of a token sharing each block's gather and dequantisation (fp8_sparse_pair_producer).
extern "C" __global__ void __launch_bounds__(SM90_FP8_THREADS, 1)
    mla_decode_sm90_fp8_sparse_pair_bf16(const __grid_constant__ MlaDecodeParams p, const __grid_constant__ MlaFp8Params f) {
  decode_kernel<__nv_bfloat16, kFp8SparsePair>(p, nullptr, nullptr, &f);
}
