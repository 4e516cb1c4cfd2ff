// build: archs=sm_90a hot
// Hopper small-row MLA decode, level 1 (docs/perf-log.md, "Plan for session 7"): up to 16 folded query rows per CTA
// as the wgmma's N dimension instead of its M, so the tensor work is that of 16 rows, not of 64 padded ones.
//
// CTA = one warpgroup × one SM part, walking its metadata row exactly as mla_decode_sm90.cu does (mla_work.cuh). Per
// 64-token K block (9 TMA boxes of 64 × 64, 128B swizzle, into one buffer on one mbarrier — no pipelining yet):
//   Sᵀ (64 tokens × 16 rows) = K · Qᵀ          wgmma m64n16k16, A = the K slabs (K-major), B = Q (16 rows, K-major)
//   online softmax per column (= query row) over the block's 64 tokens: column max by 3 shuffles + a 4-warp exchange
//   Pᵀ → smem as 16 rows × 64 tokens (one 128B-swizzled slab: the K-major B operand)
//   Oᵀ (512 channels × 16 rows) += Vᵀ · Pᵀ      wgmma m64n16k16 ×8 m-tiles, A = V read MN-major from the same slabs
// Epilogue as store_row (mla_work.cuh): out/lse when the request is not split, fp32 o_accum/lse_accum (log2) rows for
// the combine otherwise; a row that saw no key gets out 0, lse +inf.
//
// Fragments (wgmma D, n16): thread (warp w, lane 4g + q4) holds d[4i + 2h + e] = (M row 16w + g + 8h, column
// 8i + 2·q4 + e) — M rows are tokens (Sᵀ) or channels (Oᵀ), columns the CTA's folded query rows.
//
// Launch: grid (1, num_sm_parts, 1), block SM90S_THREADS, dynamic smem SM90S_SMEM_BYTES (mla_config.h).
// Marked hot: spill-free (ptxas: 155 registers, no stack, at level 1).
#include <cstdint>
#include <cuda.h>

#include "mla_config.h"
#include "mla_generic_common.cuh"
#include "mla_params.h"
#include "mla_work.cuh"
#include "ptx.cuh"
#include "ptx_sm90.cuh"

using namespace mla;

#include "mla_sm90_math.cuh"

namespace {

constexpr int kCtaSync = 1;  // named barrier of the whole CTA (one warpgroup), for zero_v_tail

// This thread's column (folded query row) of fragment slot (i, e).
__device__ __forceinline__ int col_of(int i, int e, int q4) { return 8 * i + 2 * q4 + e; }

}  // namespace

extern "C" __global__ void __launch_bounds__(SM90S_THREADS, 1)
    mla_decode_sm90_small_bf16(const __grid_constant__ MlaDecodeParams p, const __grid_constant__ CUtensorMap k_map) {
  using T = __nv_bfloat16;
  extern __shared__ uint8_t smem_raw[];
  const uint32_t base = (ptx::smem_addr(smem_raw) + 1023u) & ~1023u;
  const uint32_t sMax = base + SM90S_OFF_MAX, sL = base + SM90S_OFF_L, sBar = base + SM90S_OFF_BAR;

  // warp through a shuffle: the compiler then knows it is warp-uniform (wgmmas stay outside divergent code)
  const int tid = threadIdx.x, lane = tid & 31, warp = __shfl_sync(0xffffffffu, tid >> 5, 0);
  const int g = lane >> 2, q4 = lane & 3;

  if (tid == 0) {
    ptx::mbarrier_init(sBar, 1);
    ptx::fence_barrier_init();
    ptx::prefetch_tensormap(&k_map);
  }
  __syncthreads();

  // Everything below may depend on the previous kernel (metadata, q, kv cache): wait first (PDL).
  ptx::grid_dep_wait();
  const PartWork w = load_part_work(p, blockIdx.y);
  if (w.begin_req >= p.b) return;  // idle part

  // This thread's four columns as two RowSets (slot i: columns 8i + 2·q4 + {0, 1}), so that slice_of gives each its
  // causal border; rows ≥ q_rows are padding (row_end 0: every token masked, nothing written).
  RowSet rs[2];
#pragma unroll
  for (int i = 0; i < 2; ++i) {
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      rs[i].r_glob[e] = col_of(i, e, q4);
      rs[i].s_of_row[e] = col_of(i, e, q4) / p.h_q;
    }
    rs[i].s_last = (p.q_rows - 1) / p.h_q;
  }
  const float scale_log2 = p.scale_softmax_log2;
  uint32_t phase = 0;  // of sBar: one completion per K block

  // Q rows of request `req` → 9 slabs of 16 rows × 128 B (cp.async, waited by the caller); rows ≥ q_rows zero-filled.
  // Thread t copies row t / 8, 16-byte chunks t % 8 + 8k (k = 0..8): chunk c lands in slab c / 8 = k, column c % 8.
  auto load_q = [&](int req) {
    const int row = tid >> 3, part = tid & 7;
    const bool ok = row < p.q_rows;
    const T* src = static_cast<const T*>(p.q);  // valid dummy address for the zero-fill rows
    if (ok) src += static_cast<int64_t>(req) * p.q_batch_stride + static_cast<int64_t>(row / p.h_q) * p.q_seq_stride +
                   static_cast<int64_t>(row % p.h_q) * p.q_head_stride;
    const uint32_t dst = base + SM90S_OFF_Q + swizzled(row, part);
#pragma unroll
    for (int k = 0; k < SM90_SLABS; ++k) ptx::cp_async_16(dst + k * SM90S_ROW_SLAB_BYTES, ok ? src + (part + 8 * k) * 8 : src, ok ? 16 : 0);
    ptx::cp_async_commit();
  };
  static_assert(SM90S_THREADS == 8 * SM90S_ROWS, "load_q: 8 threads per Q row, one chunk per slab each");

  for (int req = w.begin_req; req <= w.end_req; ++req) {
    const Slice sl[2] = {slice_of(p, w, req, rs[0]), slice_of(p, w, req, rs[1])};
    const int first_block = sl[0].start / PAGE_BLOCK_SIZE;  // start is a multiple of 64
    // (broadcast: uniform by construction, and the compiler must see that to keep the wgmmas out of divergent code)
    const int n_blocks = __shfl_sync(0xffffffffu, sl[0].end_kv > sl[0].start ? (sl[0].end_kv - 1) / PAGE_BLOCK_SIZE - first_block + 1 : 0, 0);
    const int* bt = p.block_table + static_cast<int64_t>(req) * p.block_table_stride + first_block;
    const int n_valid_last = sl[0].end_kv - (first_block + n_blocks - 1) * PAGE_BLOCK_SIZE;  // tokens of the last block

    __syncthreads();  // every thread is done with the previous item's Q, K, P and sums
    if (n_blocks > 0) {
      load_q(req);
      ptx::cp_async_wait_all();
      ptx::fence_proxy_async();  // cp.async writes → wgmma reads
      __syncthreads();
    }

    float o[8][8];  // Oᵀ: m-tile t = channels 64t … 64t + 63
#pragma unroll
    for (int t = 0; t < 8; ++t)
#pragma unroll
      for (int x = 0; x < 8; ++x) o[t][x] = 0.f;
    float m[2][2], l[2][2];  // per column: running max (log2 units), this thread's partial sum
#pragma unroll
    for (int i = 0; i < 2; ++i)
#pragma unroll
      for (int e = 0; e < 2; ++e) m[i][e] = kMaxInit, l[i][e] = 0.f;

#pragma unroll 1
    for (int j = 0; j < n_blocks; ++j) {
      // the smem base through an opaque move: otherwise the compiler keeps the ~70 descriptors live across blocks
      const uint32_t b_ = opaque(base);
      const uint32_t sK = b_ + SM90S_OFF_K, sQ = b_ + SM90S_OFF_Q, sP = b_ + SM90S_OFF_P;
      if (tid == 0) {  // the buffer is free: every thread passed the barrier after the previous block's P·V
        const int page = ptx::ld_plain(bt + j);
        ptx::mbarrier_arrive_expect_tx(sBar, SM90_TILE_BYTES);
        for (int slab = 0; slab < SM90_SLABS; ++slab) ptx::tma_load_3d(sK + slab * SM90_SLAB_BYTES, &k_map, sBar, slab * 64, 0, page);
      }
      ptx::mbarrier_wait(sBar, phase);
      phase ^= 1;
      // NaN-filled slots past the last token: P = 0 times NaN would still poison Oᵀ (zero_v_tail ends with a barrier)
      if (j == n_blocks - 1 && n_valid_last < PAGE_BLOCK_SIZE) {
        zero_v_tail(sK, 0, n_valid_last, tid, kCtaSync);
        zero_v_tail(sK, 4, n_valid_last, tid, kCtaSync);
      }

      // Sᵀ = K · Qᵀ over the 36 k-steps (one descriptor per operand, advanced by its 16-byte-unit offset)
      float s[8];
#pragma unroll
      for (int x = 0; x < 8; ++x) s[x] = 0.f;  // defined before the first wgmma reads it (scale_d = 0 ignores it)
      {
        const uint64_t dk = desc_k_major(sK), dq = desc_k_major(sQ);
        ptx::wgmma_fence();
#pragma unroll
        for (int slab = 0; slab < SM90_SLABS; ++slab)
#pragma unroll
          for (int kk = 0; kk < 4; ++kk)
            ptx::wgmma_m64n16k16_bf16_ss(s, dk + ((slab * SM90_SLAB_BYTES + kk * 32) >> 4), dq + ((slab * SM90S_ROW_SLAB_BYTES + kk * 32) >> 4), slab + kk != 0);
        ptx::wgmma_commit();
        ptx::wgmma_wait<0>();
      }

      // mask tokens at or past each column's end, then the column maxima: over this thread's two tokens, the warp's
      // 8 g (shuffles), the 4 warps (smem)
      const int tok0 = (first_block + j) * PAGE_BLOCK_SIZE + 16 * warp + g;
      float mx[2][2];
#pragma unroll
      for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          mx[i][e] = -INFINITY;
#pragma unroll
          for (int h = 0; h < 2; ++h) {
            float& x = s[4 * i + 2 * h + e];
            if (tok0 + 8 * h >= sl[i].row_end[e]) x = -INFINITY;
            mx[i][e] = fmaxf(mx[i][e], x);
          }
#pragma unroll
          for (int d = 4; d < 32; d <<= 1) mx[i][e] = fmaxf(mx[i][e], __shfl_xor_sync(0xffffffffu, mx[i][e], d));
        }
      if (g == 0) {
#pragma unroll
        for (int i = 0; i < 2; ++i)
#pragma unroll
          for (int e = 0; e < 2; ++e) ptx::st_shared_f32(sMax + (warp * SM90S_ROWS + col_of(i, e, q4)) * 4, mx[i][e]);
      }
      __syncthreads();  // (sMax is read below and rewritten only after the next block's P barrier: one buffer)
      float scale[2][2];
#pragma unroll
      for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          float bm = -INFINITY;
#pragma unroll
          for (int v = 0; v < 4; ++v) bm = fmaxf(bm, ptx::ld_shared_f32(sMax + (v * SM90S_ROWS + col_of(i, e, q4)) * 4));
          const float m_new = fmaxf(m[i][e], bm * scale_log2);  // a fully masked column keeps its max: scale 1, P 0
          scale[i][e] = ptx::exp2_approx(m[i][e] - m_new);
          m[i][e] = m_new;
          l[i][e] *= scale[i][e];
#pragma unroll
          for (int h = 0; h < 2; ++h) {
            float& x = s[4 * i + 2 * h + e];
            x = ptx::exp2_approx(fmaf(x, scale_log2, -m_new));
            l[i][e] += x;
          }
        }
#pragma unroll
      for (int t = 0; t < 8; ++t)
#pragma unroll
        for (int i = 0; i < 2; ++i)
#pragma unroll
          for (int h = 0; h < 2; ++h)
#pragma unroll
            for (int e = 0; e < 2; ++e) o[t][4 * i + 2 * h + e] *= scale[i][e];

      // Pᵀ → smem, K-major (tokens contiguous per column): lanes g and g ^ 1 hold adjacent tokens of the same columns,
      // so they trade one value each and each stores one bf16 pair — the even-g lane column 2·q4 (+8i), the odd one
      // column 2·q4 + 1.
      const bool odd = g & 1;
#pragma unroll
      for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          const float v0 = s[4 * i + 2 * h], v1 = s[4 * i + 2 * h + 1];
          const float other = __shfl_xor_sync(0xffffffffu, odd ? v0 : v1, 4);
          const uint32_t word = odd ? ElemOps<T>::pack2(other, v1) : ElemOps<T>::pack2(v0, other);
          const int tok = (16 * warp + g + 8 * h) & ~1, col = col_of(i, odd ? 1 : 0, q4);
          ptx::st_shared_u32(sP + swizzled(col, tok >> 3) + (tok & 7) * 2, word);
        }
      ptx::fence_proxy_async();  // st.shared → wgmma reads
      __syncthreads();

      // Oᵀ += Vᵀ · Pᵀ: m-tile t reads slab t MN-major (channels contiguous, 8 tokens per 1024 B), 16 tokens a k-step
      {
        const uint64_t dp = desc_k_major(sP);
        ptx::wgmma_fence();
#pragma unroll
        for (int t = 0; t < 8; ++t)
#pragma unroll
          for (int kk = 0; kk < 4; ++kk) ptx::wgmma_m64n16k16_bf16_ss_ta(o[t], desc_mn_major(sK + t * SM90_SLAB_BYTES + kk * 2048), dp + ((kk * 32) >> 4));
        ptx::wgmma_commit();
        ptx::wgmma_wait<0>();
      }
      __syncthreads();  // the whole warpgroup is past this block's wgmmas: K and P may be rewritten
    }

    // ---- epilogue: column sums over the warp's g (shuffles) and the 4 warps (smem) ------------------------------
    if (req == w.end_req) ptx::grid_dep_launch_dependents();  // no more work to start: let combine launch
#pragma unroll
    for (int i = 0; i < 2; ++i)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
#pragma unroll
        for (int d = 4; d < 32; d <<= 1) l[i][e] += __shfl_xor_sync(0xffffffffu, l[i][e], d);
        if (g == 0) ptx::st_shared_f32(sL + (warp * SM90S_ROWS + col_of(i, e, q4)) * 4, l[i][e]);
      }
    __syncthreads();
    const Slice& s0 = sl[0];  // start, no_split and split_row are the same for every column
#pragma unroll
    for (int i = 0; i < 2; ++i)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int r = col_of(i, e, q4);
        if (r >= p.q_rows) continue;  // padding columns: never written
        float L = 0.f;
#pragma unroll
        for (int v = 0; v < 4; ++v) L += ptx::ld_shared_f32(sL + (v * SM90S_ROWS + r) * 4);
        const bool empty = !(L > 0.f);  // no key seen (or NaN): out 0, lse +inf / lse_accum -inf, as store_row
        const float inv = empty ? 0.f : 1.f / L;
        const float lse2 = ptx::log2_approx(L) + m[i][e];  // log2 units; only used when !empty
        const bool owns_lse = warp == 0 && g == 0;
        if (s0.no_split) {
          T* orow = static_cast<T*>(p.out) + (static_cast<int64_t>(req) * p.q_rows + r) * HEAD_DIM_V;
#pragma unroll
          for (int t = 0; t < 8; ++t)
#pragma unroll
            for (int h = 0; h < 2; ++h) orow[64 * t + 16 * warp + g + 8 * h] = __float2bfloat16(empty ? 0.f : o[t][4 * i + 2 * h + e] * inv);
          if (owns_lse) {
            const int s_idx = r / p.h_q, h_idx = r - s_idx * p.h_q;
            p.lse[(static_cast<int64_t>(req) * p.h_q + h_idx) * p.s_q + s_idx] = empty ? INFINITY : lse2 * kLn2;
          }
        } else {
          const int64_t acc_row = static_cast<int64_t>(s0.split_row) * p.q_rows + r;
          float* orow = p.o_accum + acc_row * HEAD_DIM_V;
#pragma unroll
          for (int t = 0; t < 8; ++t)
#pragma unroll
            for (int h = 0; h < 2; ++h) orow[64 * t + 16 * warp + g + 8 * h] = empty ? 0.f : o[t][4 * i + 2 * h + e] * inv;
          if (owns_lse) p.lse_accum[acc_row] = empty ? -INFINITY : lse2;
        }
      }
  }
}
