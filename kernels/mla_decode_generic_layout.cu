// build: archs=sm_80,sm_90 ptx=compute_80 hot
// The generic split-KV decode (mma.sync, sm_80+) for the dense layouts FlashMLA added after 9edee0c:
//   - h_kv ≥ 1 KV heads, cache [num_blocks, 64, h_kv, d_qk], h_q a multiple of h_kv: query head h reads KV head
//     h / (h_q / h_kv), as in GQA;
//   - d_qk 576 (512 latent + 64 RoPE; V = the first 512 channels) or 512 (FlashMLA's "MODEL1": V = the whole K row).
// Same body as the 'generic' kernel (mla_generic_decode.cuh): 64 folded rows × one SM part per CTA, 32-token K tiles,
// online softmax, split partials merged by the unchanged combine. What differs is the row map (KvHeadRows):
// FlashMLA's GQA folding — the s_q · h_q / h_kv rows of one KV head form the m-blocks (row f = s · heads_per_kv + g,
// query head kv · heads_per_kv + g), the grid gets the KV head as its z dimension, and K rows are read at that
// head's offset (k_head_stride) with the cache's own token stride. The schedule is getMlaMetadata(seqlens,
// s_q · h_q / h_kv, h_kv)'s: every KV head walks the same work items, so the combine's split rows hold all heads.
//
// Status: built (sm_80 / sm_90 cubins, compute_80 PTX assembled for sm_90 / sm_100 / sm_120, no spills); its sm_90
// cubin ran on an H200 on 2026-12-01 (test/dense-layouts-gpu.test.ts, test/fp8-sparse-gpu.test.ts: all passed); the
// cuda backend uses it by default for h_kv > 1 and d_qk 512 (src/cuda/features.ts).
//
// Launch: grid (ceil(rows_per_kv / 64), num_sm_parts, h_kv), block 256, dynamic smem GEN_SMEM_BYTES (d_qk 576) or
// GEN_D512_SMEM_BYTES (d_qk 512); parameters MlaDecodeParams, MlaLayoutParams (mla_params.h).
#include <cstdint>

#include "mla_config.h"
#include "mla_generic_decode.cuh"
#include "mla_params.h"
#include "mla_work.cuh"

using namespace mla;

namespace {

// The folded rows of KV head blockIdx.z. MlaDecodeParams still describes the whole request (h_q heads, q_rows =
// s_q · h_q), so the rows leave here as output rows r = s · h_q + h (store_row and the combine are shared).
struct KvHeadRows {
  const MlaDecodeParams& p;
  const MlaLayoutParams& l;
  __device__ __forceinline__ int kv_head() const { return blockIdx.z; }
  __device__ __forceinline__ int rows() const { return l.rows_per_kv; }
  __device__ __forceinline__ int heads() const { return l.heads_per_kv; }
  // row f = 0 of this KV head: query token 0, query head kv · heads_per_kv
  template <typename T>
  __device__ __forceinline__ const T* q_base(int req) const {
    return static_cast<const T*>(p.q) + static_cast<int64_t>(req) * p.q_batch_stride +
           static_cast<int64_t>(kv_head()) * l.heads_per_kv * p.q_head_stride;
  }
  template <typename T>
  __device__ __forceinline__ const T* k_base() const {
    return static_cast<const T*>(p.k_cache) + static_cast<int64_t>(kv_head()) * l.k_head_stride;
  }
  // Rows past rows_per_kv are padding: r = q_rows, which store_row never writes and slice_of gives no keys.
  __device__ __forceinline__ RowSet row_set(int m_block, const int (&r_loc)[2]) const {
    RowSet rs;
    const int per_kv = l.heads_per_kv;
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int f = m_block * GEN_BLOCK_M + r_loc[h];
      const int s = f / per_kv;
      rs.s_of_row[h] = s;
      rs.r_glob[h] = f < l.rows_per_kv ? s * p.h_q + kv_head() * per_kv + (f - s * per_kv) : p.q_rows;
    }
    // the m-block's last real row has the widest causal border (rows are s-major within the KV head)
    rs.s_last = (min(l.rows_per_kv, (m_block + 1) * GEN_BLOCK_M) - 1) / per_kv;
    return rs;
  }
};

}  // namespace

#define LAYOUT_ENTRY(HEAD_DIM, NAME, T)                                                                                  \
  extern "C" __global__ void __launch_bounds__(GEN_THREADS, 1) mla_decode_generic_layout_d##HEAD_DIM##_##NAME(             \
      const __grid_constant__ MlaDecodeParams p, const __grid_constant__ MlaLayoutParams l) {                            \
    generic::decode_kernel<T, HEAD_DIM>(p, KvHeadRows{p, l});                                                             \
  }
LAYOUT_ENTRY(576, bf16, __nv_bfloat16)
LAYOUT_ENTRY(576, fp16, __half)
LAYOUT_ENTRY(512, bf16, __nv_bfloat16)
LAYOUT_ENTRY(512, fp16, __half)
static_assert(HEAD_DIM_K == 576 && HEAD_DIM_K_MODEL1 == 512, "the entry names carry the head dims");
