// build: archs=sm_90a hot
// Hopper split-KV MLA decode, level 1: TMA + wgmma (FlashMLA 9edee0c semantics, same metadata/combine).
//
// CTA (blockIdx.x = m-block of 64 folded query rows, blockIdx.y = SM part) walks the work items of its
// metadata row like the generic kernel. Per item: Q (64 × 576) → smem by cp.async in the 128B-swizzled
// K-major layout wgmma reads (9 slabs of 64 × 64); K blocks (one 64-token page = 9 TMA boxes of 64 × 64)
// stream through a 2-stage ring completing on mbarriers; thread 0 issues every TMA.
//
// Two warpgroups. S = Q·Kᵀ: warpgroup w computes the 32 tokens 32w … 32w+31 of the block (wgmma m64n32k16,
// 36 k-steps, both operands from smem). The two exchange row maxima through smem, write their halves of P
// (bf16/fp16, swizzled) to one 64 × 64 tile, then each does O[:, 256w … 256w+255] += P·V (m64n256k16,
// V = the first 512 channels of the same K block read MN-major: no copy). One block per step, no
// overlap between softmax and MMA yet: that is the next level.
//
// Launch: grid (ceil(q_rows / 64), num_sm_parts, 1), block 256, dynamic smem mla::SM90_SMEM_BYTES.
#include <cstdint>
#include <cuda.h>

#include "mla_config.h"
#include "mla_generic_common.cuh"
#include "mla_params.h"
#include "mla_work.cuh"
#include "ptx.cuh"
#include "ptx_sm90.cuh"

using namespace mla;

namespace {

constexpr float kMaxInit = -1e30f;  // finite initial row max: exp2(-inf - kMaxInit) = 0, never inf - inf
constexpr int kQChunks = GEN_BLOCK_M * (HEAD_DIM_K / 8);  // 16-byte chunks of a Q tile: 4608
constexpr uint32_t kSwizzle128 = 1;

// Named barriers over both warpgroups (id 0 is __syncthreads).
enum Barrier : int { kMaxReady = 1, kPReady = 2, kStageFree = 3, kSumReady = 4 };

template <typename T>
struct Wgmma;
template <>
struct Wgmma<__nv_bfloat16> {
  static __device__ __forceinline__ void s(float (&d)[16], uint64_t a, uint64_t b, int acc) { ptx::wgmma_m64n32k16_bf16_ss(d, a, b, acc); }
  static __device__ __forceinline__ void pv(float (&d)[128], uint64_t a, uint64_t b) { ptx::wgmma_m64n256k16_bf16_ss_tb(d, a, b, 1); }
};
template <>
struct Wgmma<__half> {
  static __device__ __forceinline__ void s(float (&d)[16], uint64_t a, uint64_t b, int acc) { ptx::wgmma_m64n32k16_f16_ss(d, a, b, acc); }
  static __device__ __forceinline__ void pv(float (&d)[128], uint64_t a, uint64_t b) { ptx::wgmma_m64n256k16_f16_ss_tb(d, a, b, 1); }
};

// K-major, 128B-swizzled operand (rows of 128 B, 8-row groups 1024 B apart).
__device__ __forceinline__ uint64_t desc_k_major(uint32_t addr) { return ptx::wgmma_desc(addr, 16, 1024, kSwizzle128); }
// MN-major, 128B-swizzled B operand (V): next 64 channels one slab (8192 B) on, next 8 tokens 1024 B on.
__device__ __forceinline__ uint64_t desc_mn_major(uint32_t addr) { return ptx::wgmma_desc(addr, SM90_SLAB_BYTES, 1024, kSwizzle128); }

// Byte offset of 16-byte chunk `c` (0..7) of row `r` inside a 1024-aligned 128B-swizzled slab.
__device__ __forceinline__ uint32_t swizzled(int r, int c) { return r * 128 + ((c ^ (r & 7)) << 4); }

__device__ __forceinline__ void st_shared_zero16(uint32_t addr) {
  asm volatile("st.shared.v4.b32 [%0], {%1, %1, %1, %1};\n" :: "r"(addr), "r"(0) : "memory");
}

template <typename T>
__device__ __forceinline__ void decode_kernel(const MlaDecodeParams& p, const CUtensorMap* kmap) {
  using Ops = ElemOps<T>;
  extern __shared__ uint8_t smem_raw[];
  const uint32_t base = (ptx::smem_addr(smem_raw) + 1023u) & ~1023u;
  const uint32_t sQ = base + SM90_OFF_Q, sK = base + SM90_OFF_K, sP = base + SM90_OFF_P;
  const uint32_t sRed = base + SM90_OFF_RED, sL = base + SM90_OFF_L, sBar = base + SM90_OFF_BAR;

  const int tid = threadIdx.x, wg = tid >> 7, lane = tid & 31, warp = (tid >> 5) & 3;
  const int g = lane >> 2, q4 = lane & 3;  // wgmma D fragment: rows 16·warp + g (+8), columns 8i + 2·q4 (+1)
  const int m_block = blockIdx.x;

  if (tid == 0) {
    for (int s = 0; s < SM90_STAGES; ++s) ptx::mbarrier_init(sBar + 8 * s, 1);
    ptx::fence_barrier_init();
    ptx::prefetch_tensormap(kmap);
  }
  __syncthreads();

  // Everything below may depend on the previous kernel (metadata, q, kv cache): wait first (PDL).
  ptx::grid_dep_wait();
  const PartWork w = load_part_work(p, blockIdx.y);
  if (w.begin_req >= p.b) return;  // idle part

  const int r_loc[2] = {warp * 16 + g, warp * 16 + g + 8};  // this thread's two rows of the m-block
  const RowSet rs = row_set(p, m_block, r_loc);
  const float scale_log2 = p.scale_softmax_log2;
  uint32_t blocks_done = 0;  // K blocks this CTA consumed so far: stage = n & 1, phase = (n >> 1) & 1

  for (int req = w.begin_req; req <= w.end_req; ++req) {
    const Slice sl = slice_of(p, w, req, rs);
    const int start = sl.start, end_kv = sl.end_kv;
    const int first_block = start / PAGE_BLOCK_SIZE;  // start is a multiple of 64
    const int n_blocks = end_kv > start ? (end_kv - 1) / PAGE_BLOCK_SIZE - first_block + 1 : 0;
    const int* bt = p.block_table + static_cast<int64_t>(req) * p.block_table_stride + first_block;

    // Block j of this slice → its stage; only entries < n_blocks (tokens < end_kv ≤ end_token) are read.
    auto issue_k = [&](int j) {
      const uint32_t n = blocks_done + j, st = n & 1, bar = sBar + 8 * st, dst = sK + st * SM90_TILE_BYTES;
      const int page = ptx::ld_plain(bt + j);
      ptx::mbarrier_arrive_expect_tx(bar, SM90_TILE_BYTES);
#pragma unroll
      for (int slab = 0; slab < SM90_SLABS; ++slab) ptx::tma_load_3d(dst + slab * SM90_SLAB_BYTES, kmap, bar, slab * 64, 0, page);
    };

    __syncthreads();  // both warpgroups are done with the previous item's sQ, sK, sP, sL
    if (n_blocks > 0) {
      if (tid == 0) {
        issue_k(0);
        if (n_blocks > 1) issue_k(1);
      }
      // Q rows of this m-block → swizzled slabs; rows ≥ q_rows zero-filled without a global read
      const T* qb = static_cast<const T*>(p.q) + static_cast<int64_t>(req) * p.q_batch_stride;
#pragma unroll 1
      for (int idx = tid; idx < kQChunks; idx += SM90_THREADS) {
        const int row = idx / (HEAD_DIM_K / 8), chunk = idx % (HEAD_DIM_K / 8);
        const int r = m_block * GEN_BLOCK_M + row;
        const bool ok = r < p.q_rows;
        const T* src = static_cast<const T*>(p.q);
        if (ok) src = qb + static_cast<int64_t>(r / p.h_q) * p.q_seq_stride + static_cast<int64_t>(r % p.h_q) * p.q_head_stride + chunk * 8;
        ptx::cp_async_16(sQ + (chunk >> 3) * SM90_SLAB_BYTES + swizzled(row, chunk & 7), src, ok ? 16 : 0);
      }
      ptx::cp_async_commit();
      ptx::cp_async_wait_all();
      ptx::fence_proxy_async();  // cp.async writes → wgmma reads
      __syncthreads();
    }

    float o[128];
#pragma unroll
    for (int i = 0; i < 128; ++i) o[i] = 0.f;
    float row_max[2] = {kMaxInit, kMaxInit};  // log2-scaled units
    float row_sum[2] = {0.f, 0.f};            // this thread's partial sum over its columns

    for (int j = 0; j < n_blocks; ++j) {
      const uint32_t n = blocks_done + j, st = n & 1;
      const uint32_t sKs = sK + st * SM90_TILE_BYTES;
      const int block_start = (first_block + j) * PAGE_BLOCK_SIZE;
      ptx::mbarrier_wait(sBar + 8 * st, (n >> 1) & 1);

      // ---- S = Q · K[32·wg, +32)ᵀ over 576 channels -------------------------------------------------
      float s[16];
#pragma unroll
      for (int i = 0; i < 16; ++i) s[i] = 0.f;
      ptx::wgmma_fence();
#pragma unroll
      for (int slab = 0; slab < SM90_SLABS; ++slab)
#pragma unroll
        for (int kk = 0; kk < 4; ++kk)
          Wgmma<T>::s(s, desc_k_major(sQ + slab * SM90_SLAB_BYTES + kk * 32),
                      desc_k_major(sKs + slab * SM90_SLAB_BYTES + wg * 32 * 128 + kk * 32), slab + kk > 0);
      ptx::wgmma_commit();
      ptx::wgmma_wait<0>();

      // ---- mask, scale, row max over this warpgroup's 32 tokens --------------------------------------
      float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int h = 0; h < 2; ++h)
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            const int t = block_start + wg * 32 + i * 8 + q4 * 2 + e;
            const float x = t < sl.row_end[h] ? s[4 * i + 2 * h + e] * scale_log2 : -INFINITY;  // selection: NaN rows drop out
            s[4 * i + 2 * h + e] = x;
            mx[h] = fmaxf(mx[h], x);
          }
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 1));
        mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 2));
        if (q4 == 0) ptx::st_shared_f32(sRed + (wg * 64 + r_loc[h]) * 4, mx[h]);
      }
      ptx::named_barrier_sync(kMaxReady, SM90_THREADS);

      // ---- online softmax: both warpgroups derive the same new max; P → swizzled sP ----------------------
      float alpha[2];
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const float other = ptx::ld_shared_f32(sRed + ((wg ^ 1) * 64 + r_loc[h]) * 4);
        const float m_new = fmaxf(row_max[h], fmaxf(mx[h], other));  // finite (≥ kMaxInit)
        alpha[h] = ptx::exp2_approx(row_max[h] - m_new);
        row_max[h] = m_new;
        float sum = 0.f;
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const float p0 = ptx::exp2_approx(s[4 * i + 2 * h] - m_new);  // masked: exp2(-inf) = 0
          const float p1 = ptx::exp2_approx(s[4 * i + 2 * h + 1] - m_new);
          sum += p0 + p1;
          const int chunk = wg * 4 + i;  // 8 tokens per 16-byte chunk
          ptx::st_shared_u32(sP + swizzled(r_loc[h], chunk) + q4 * 4, Ops::pack2(p0, p1));
        }
        row_sum[h] = row_sum[h] * alpha[h] + sum;
      }
#pragma unroll
      for (int i = 0; i < 32; ++i) {
        o[4 * i + 0] *= alpha[0];
        o[4 * i + 1] *= alpha[0];
        o[4 * i + 2] *= alpha[1];
        o[4 * i + 3] *= alpha[1];
      }
      // Tokens ≥ end_kv of the slice's last block may be NaN-filled cache slots: zero their V rows (whole 128 B
      // rows of slabs 0–7, swizzle-agnostic), since P = 0 times NaN would still poison O.
      const int n_valid = end_kv - block_start;
      if (n_valid < PAGE_BLOCK_SIZE) {
        const int chunks = (PAGE_BLOCK_SIZE - n_valid) * 8 * 8;  // rows × V slabs × 16-byte chunks
        for (int c = tid; c < chunks; c += SM90_THREADS) {
          const int row = n_valid + c / 64, slab = (c / 8) % 8, ch = c % 8;
          st_shared_zero16(sKs + slab * SM90_SLAB_BYTES + row * 128 + ch * 16);
        }
      }
      ptx::fence_proxy_async();  // sP stores and V zeroing → wgmma reads
      ptx::named_barrier_sync(kPReady, SM90_THREADS);

      // ---- O[:, 256·wg, +256) += P · V ---------------------------------------------------------------------
      ptx::wgmma_fence();
#pragma unroll
      for (int kk = 0; kk < 4; ++kk)
        Wgmma<T>::pv(o, desc_k_major(sP + kk * 32), desc_mn_major(sKs + wg * 4 * SM90_SLAB_BYTES + kk * 2048));
      ptx::wgmma_commit();
      ptx::wgmma_wait<0>();
      ptx::named_barrier_sync(kStageFree, SM90_THREADS);  // both warpgroups done with this stage and sP
      if (tid == 0 && j + 2 < n_blocks) issue_k(j + 2);
    }
    blocks_done += n_blocks;

    // ---- epilogue -----------------------------------------------------------------------------------------
    if (req == w.end_req) ptx::grid_dep_launch_dependents();  // no more work to start: let combine launch
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      row_sum[h] += __shfl_xor_sync(0xffffffffu, row_sum[h], 1);
      row_sum[h] += __shfl_xor_sync(0xffffffffu, row_sum[h], 2);
      if (q4 == 0) ptx::st_shared_f32(sL + (wg * 64 + r_loc[h]) * 4, row_sum[h]);
    }
    ptx::named_barrier_sync(kSumReady, SM90_THREADS);
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const float L = ptx::ld_shared_f32(sL + r_loc[h] * 4) + ptx::ld_shared_f32(sL + (64 + r_loc[h]) * 4);
      store_row<T, 32>(p, req, sl, rs, h, o, L, row_max[h], wg * (HEAD_DIM_V / 2) + q4 * 2, wg == 0 && q4 == 0);
    }
  }
}

}  // namespace

extern "C" __global__ void __launch_bounds__(SM90_THREADS, 1)
    mla_decode_sm90_bf16(const __grid_constant__ MlaDecodeParams p, const __grid_constant__ CUtensorMap k_map) {
  decode_kernel<__nv_bfloat16>(p, &k_map);
}
extern "C" __global__ void __launch_bounds__(SM90_THREADS, 1)
    mla_decode_sm90_fp16(const __grid_constant__ MlaDecodeParams p, const __grid_constant__ CUtensorMap k_map) {
  decode_kernel<__half>(p, &k_map);
}
