// build: archs=sm_80,sm_90 ptx=compute_80 hot
// generic-small: the portable split-KV MLA decode (FlashMLA 9edee0c semantics, mma.sync) in 99 840 B of shared
// memory, for the parts whose opt-in limit is 99 KB per block (sm_86/sm_89: RTX 30/40, A10, L4, L40; sm_120:
// RTX 50). Same CTA, warp roles, params struct and epilogue (mla_work.cuh) as mla_decode_generic.cu; what differs:
//   - K tiles of 16 tokens (a quarter page), double-buffered with cp.async: 2 × 18 688 B instead of 2 × 37 376 B;
//   - Q split by channels: [0, 448) in smem (58 368 B), [448, 576) as A fragments in registers (8 k-steps × 4
//     registers per thread, both warps of a row group hold the same rows), loaded from global once per item;
//   - a row group whose 16 rows are all padding (q_rows - m_block·64 ≤ 16·rg, e.g. 3 of 4 groups at h_q·s_q = 16)
//     skips its MMAs, softmax and barriers — it still helps load K. Memory-bound configs are mostly padding rows,
//     and the 99 KB parts have far less tensor throughput per byte of bandwidth than Hopper.
//
// Warps: as in mla_generic_rowgroup.cuh, with one n8 tile of S per warp: warp (rg, half) computes rows rg·16 … +15 ×
// tokens half·8 … +7 of the tile.
//
// Status: compiled (sm_80 and sm_90 cubins, compute_80 PTX, no spills) but NOT yet run on any GPU. The GPU suite
// runs it on an H200 with FLASH_MLA_DECODE_KERNEL=generic-small (see README "Compatibility").
//
// Launch: grid (ceil(q_rows / 64), num_sm_parts, 1), block 256, dynamic smem mla::GSM_SMEM_BYTES = 99840.
#include <cstdint>

#include "mla_config.h"
#include "mla_generic_common.cuh"
#include "mla_generic_rowgroup.cuh"
#include "mla_params.h"
#include "mla_work.cuh"
#include "ptx.cuh"

using namespace mla;
using namespace mla::generic;

namespace {

constexpr int kRowChunks = HEAD_DIM_K * 2 / 16;                               // 72 × 16 B per 576-wide K row
constexpr int kQSmemChunks = GSM_Q_SMEM_CH * 2 / 16;                          // 56 × 16 B of a Q row in smem
constexpr int kQChunkIters = GEN_BLOCK_M * kQSmemChunks / GEN_THREADS;        // 14
constexpr int kKChunks = GSM_BLOCK_N * kRowChunks;                            // 1152 per tile
constexpr int kKChunkIters = (kKChunks + GEN_THREADS - 1) / GEN_THREADS;      // 5 (the last one half-empty)
constexpr int kKSteps = HEAD_DIM_K / 16;                                      // 36 k-steps for S
constexpr int kQSmemKSteps = GSM_Q_SMEM_CH / 16;                              // 28 of them from smem
static_assert(GEN_BLOCK_M * kQSmemChunks % GEN_THREADS == 0, "");
static_assert(kQSmemKSteps + GSM_Q_REG_KSTEPS == kKSteps && kKSteps % 2 == 0 && kQSmemKSteps % 2 == 0, "k-steps go in pairs");
static_assert(GEN_BLOCK_M == 64 && GSM_BLOCK_N == 16 && GEN_WARPS == 8, "warp layout below assumes 4 × 2 warps, 64 × 16 tiles");

// Q rows [m_block·64, +64), channels [0, 448) of request `req` → sQ; rows ≥ q_rows are zero-filled.
template <typename T>
__device__ __forceinline__ void load_q_smem(const MlaDecodeParams& p, uint32_t sq, int req, int m_block, int tid) {
  const T* qb = static_cast<const T*>(p.q) + static_cast<int64_t>(req) * p.q_batch_stride;
#pragma unroll 1  // once per work item; unrolled, its runtime divisions by h_q crowd out the registers
  for (int k = 0; k < kQChunkIters; ++k) {
    const int idx = tid + k * GEN_THREADS;
    const int row = idx / kQSmemChunks, chunk = idx % kQSmemChunks;
    const int r = m_block * GEN_BLOCK_M + row;
    const bool ok = r < p.q_rows;
    const T* src = static_cast<const T*>(p.q);  // valid dummy address for the zero-fill case
    if (ok) src = qb + static_cast<int64_t>(r / p.h_q) * p.q_seq_stride + static_cast<int64_t>(r % p.h_q) * p.q_head_stride + chunk * 8;
    ptx::cp_async_16(sq + (row * GSM_Q_PITCH + chunk * 8) * 2, src, ok ? 16 : 0);
  }
}

// This thread's A fragments of Q channels [448, 576) (m16n8k16 layout: a[0] row g cols 2tq, a[1] row g+8,
// a[2] row g cols 8+2tq, a[3] row g+8 cols 8+2tq), straight from global memory; padding rows are 0.
template <typename T>
__device__ __forceinline__ void load_q_regs(const MlaDecodeParams& p, uint32_t (&qr)[GSM_Q_REG_KSTEPS][4], int req, const RowSet& rs, int tq) {
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const int r = rs.r_glob[h];
    if (r < p.q_rows) {
      const int s = rs.s_of_row[h], head = r - s * p.h_q;
      const uint32_t* src = reinterpret_cast<const uint32_t*>(
          static_cast<const T*>(p.q) + static_cast<int64_t>(req) * p.q_batch_stride + static_cast<int64_t>(s) * p.q_seq_stride +
          static_cast<int64_t>(head) * p.q_head_stride + GSM_Q_SMEM_CH + tq * 2);
#pragma unroll
      for (int kc = 0; kc < GSM_Q_REG_KSTEPS; ++kc) {
        qr[kc][h] = src[kc * 8];          // channels 448 + 16·kc + 2tq, +1
        qr[kc][2 + h] = src[kc * 8 + 4];  // channels 448 + 16·kc + 8 + 2tq, +1
      }
    } else {
#pragma unroll
      for (int kc = 0; kc < GSM_Q_REG_KSTEPS; ++kc) qr[kc][h] = qr[kc][2 + h] = 0u;
    }
  }
}

// Tokens [t0, t0 + 16) (inside page `page`) → one K stage. Tokens ≥ end_kv are zero-filled without touching
// global memory: their cache slots may hold NaN, and 0 · NaN would poison O through the V operand.
template <typename T>
__device__ __forceinline__ void load_k_tile(const MlaDecodeParams& p, uint32_t sk, int t0, int page, int end_kv, int tid) {
  const T* kb = static_cast<const T*>(p.k_cache) + static_cast<int64_t>(page) * p.k_block_stride +
                static_cast<int64_t>(t0 % PAGE_BLOCK_SIZE) * p.k_row_stride;
#pragma unroll 1  // runs while 128 O accumulators and 32 Q registers are live: keep the address math small
  for (int k = 0; k < kKChunkIters; ++k) {
    const int idx = tid + k * GEN_THREADS;
    if (idx >= kKChunks) break;  // last iteration: warps 4–7 have nothing left (warp-uniform)
    const int tok = idx / kRowChunks, chunk = idx % kRowChunks;
    const bool ok = t0 + tok < end_kv;
    const T* src = static_cast<const T*>(p.k_cache);
    if (ok) src = kb + static_cast<int64_t>(tok) * p.k_row_stride + chunk * 8;
    ptx::cp_async_16(sk + (tok * GSM_K_PITCH + chunk * 8) * 2, src, ok ? 16 : 0);
  }
}

template <typename T>
__device__ __forceinline__ void decode_kernel(const MlaDecodeParams& p) {
  using Ops = ElemOps<T>;
  extern __shared__ __align__(128) uint8_t smem[];
  const uint32_t sQ = ptx::smem_addr(smem);
  const uint32_t sK = sQ + GSM_SQ_BYTES;        // 2 stages of GSM_SK_BYTES
  const uint32_t sP = sK + 2 * GSM_SK_BYTES;
  const uint32_t sRed = sP + GSM_SP_BYTES;
  const uint32_t sL = sRed + GEN_SRED_BYTES;

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int rg = warp >> 1, half = warp & 1;
  const int m_block = blockIdx.x;

  // Everything below may depend on the previous kernel (metadata, q, kv cache): wait first (sm_90 PDL).
  ptx::grid_dep_wait();
  const PartWork w = load_part_work(p, blockIdx.y);
  if (w.begin_pos >= p.b) return;  // idle part

  const RowGroup grp(sRed, sL, warp, lane);  // this thread's two rows: fragment rows g and g+8 of its row group
  const int bar_id = grp.bar_id;
  const RowSet rs = row_set(p, m_block, grp.r_loc);
  // Warp-uniform: does this row group hold any real row? (Both warps of the group agree.)
  const bool live = rg * 16 < p.q_rows - m_block * GEN_BLOCK_M;

  // Per-lane ldmatrix addresses (bytes). A operands (Q, P): lane l → row l%16, column (l/16)·8.
  // B from K (non-trans, [token][channel], two k-steps per x4): lane l → token half·8 + l%8, channel (l/8)·8.
  // B from V (trans): lane l → token l%16, channel (l/16)·8.
  const uint32_t q_a = sQ + ((rg * 16 + (lane & 15)) * GSM_Q_PITCH + (lane >> 4) * 8) * 2;
  const uint32_t k_b = ((half * 8 + (lane & 7)) * GSM_K_PITCH + (lane >> 3) * 8) * 2;
  const uint32_t p_a = sP + ((rg * 16 + (lane & 15)) * GSM_P_PITCH + (lane >> 4) * 8) * 2;
  const uint32_t v_b = ((lane & 15) * GSM_K_PITCH + half * (HEAD_DIM_V / 2) + (lane >> 4) * 8) * 2;
  const float scale_log2 = p.scale_softmax_log2;

  for (int pos = w.begin_pos; pos <= w.end_pos; ++pos) {
    const int req = request_at(p, w, pos);
    const Slice sl = slice_of(p, w, pos, req, rs);
    const int start = sl.start, end_kv = sl.end_kv;
    const int n_tiles = end_kv > start ? (end_kv - start + GSM_BLOCK_N - 1) / GSM_BLOCK_N : 0;
    const int* bt = p.block_table + static_cast<int64_t>(req) * p.block_table_stride;

    __syncthreads();  // every warp is done with the previous item's sQ / sK / sP / sL
    uint32_t qr[GSM_Q_REG_KSTEPS][4];
    if (n_tiles > 0) {
      // start < end_kv ≤ end_token ≤ seqlen: the page of `start` is a real block_table entry.
      load_q_smem<T>(p, sQ, req, m_block, tid);
      load_k_tile<T>(p, sK, start, ptx::ld_plain(bt + start / PAGE_BLOCK_SIZE), end_kv, tid);
      ptx::cp_async_commit();
      if (live) load_q_regs<T>(p, qr, req, rs, grp.tq);
    }

    float o[kOTiles][4];
    zero_o(o);
    float row_max[2] = {kMaxInit, kMaxInit};  // log2-scaled units
    float row_sum[2] = {0.f, 0.f};            // this thread's partial sum over its columns

    for (int it = 0; it < n_tiles; ++it) {
      const int t0 = start + it * GSM_BLOCK_N;
      const bool has_next = it + 1 < n_tiles;
      // Page of the next tile (t0 + 16 < end_kv ≤ end_token: a real entry); its latency overlaps the wait.
      const int next_page = has_next ? ptx::ld_plain(bt + (t0 + GSM_BLOCK_N) / PAGE_BLOCK_SIZE) : 0;
      ptx::cp_async_wait_all();
      __syncthreads();  // tile `it` (and Q) visible; all warps finished PV on the other stage
      if (has_next) {
        load_k_tile<T>(p, sK + ((it + 1) & 1) * GSM_SK_BYTES, t0 + GSM_BLOCK_N, next_page, end_kv, tid);
        ptx::cp_async_commit();
      }
      if (!live) {
        // padding rows only: nothing to compute (warp-uniform, both warps of the group). The group still passes its
        // two named barriers, as a computing group does: with the counts unequal, compute-sanitizer's racecheck
        // reported ~9 400 false WAR hazards per launch (ldmatrix.trans of V vs the next cp.async refill; H200,
        // 2026-12-01); with them equal it reports none, and the emulator's race detector finds none either way.
        ptx::named_barrier_sync(bar_id, 64);
        ptx::named_barrier_sync(bar_id, 64);
        continue;
      }
      const uint32_t k_stage = sK + (it & 1) * GSM_SK_BYTES;

      // ---- S = Q·Kᵀ: 16 rows × 8 tokens per warp (one n8 tile), k-steps in pairs ----------------------------
      float s[1][4] = {{0.f, 0.f, 0.f, 0.f}};
#pragma unroll
      for (int kc = 0; kc < kKSteps; kc += 2) {
        uint32_t b[4];
        ptx::ldmatrix_x4(b, k_stage + k_b + kc * 32);
        if (kc < kQSmemKSteps) {
          uint32_t a0[4], a1[4];
          ptx::ldmatrix_x4(a0, q_a + kc * 32);
          ptx::ldmatrix_x4(a1, q_a + (kc + 1) * 32);
          Ops::mma(s[0], a0, b[0], b[1]);
          Ops::mma(s[0], a1, b[2], b[3]);
        } else {
          Ops::mma(s[0], qr[kc - kQSmemKSteps], b[0], b[1]);
          Ops::mma(s[0], qr[kc + 1 - kQSmemKSteps], b[2], b[3]);
        }
      }

      float mx[2];
      grp.mask_scale(s, mx, t0, sl.row_end, scale_log2, [](int, int) { return true; });
      grp.softmax<T, 1, GSM_P_PITCH>(s, mx, sP, row_max, row_sum, o);
      add_pv<T, 1, GSM_K_PITCH>(o, p_a, k_stage + v_b);  // P 16 × 16, V 16 tokens × this half's 256 columns
    }

    // ---- epilogue ----------------------------------------------------------------------------------------------
    if (pos == w.end_pos) ptx::grid_dep_launch_dependents();  // no more work to start: let combine launch
    if (!live) {
      ptx::named_barrier_sync(bar_id, 64);  // the epilogue's barrier, as above
      continue;  // every row of this group is padding: store_row would write nothing
    }
    grp.publish_row_sums(row_sum);
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      store_row<T, kOTiles>(p, req, sl, rs, h, reinterpret_cast<const float(&)[4 * kOTiles]>(o), grp.row_sum_total(h), row_max[h],
                            half * (HEAD_DIM_V / 2) + grp.tq * 2, half == 0 && grp.tq == 0);
    }
  }
}

}  // namespace

extern "C" __global__ void __launch_bounds__(GEN_THREADS, 1) mla_decode_generic_small_bf16(const __grid_constant__ MlaDecodeParams p) {
  decode_kernel<__nv_bfloat16>(p);
}
extern "C" __global__ void __launch_bounds__(GEN_THREADS, 1) mla_decode_generic_small_fp16(const __grid_constant__ MlaDecodeParams p) {
  decode_kernel<__half>(p);
}
