// build: archs=sm_80,sm_90 ptx=compute_80 hot
// Generic split-KV MLA decode (FlashMLA 9edee0c semantics) with mma.sync tensor cores: sm_80 and sm_90.
// FlashMLA 9edee0c's layout: one KV head, d_qk 576 (512 latent + 64 RoPE), V = the first 512 channels.
//
// The kernel body — tiles, warp roles, online softmax, epilogue — is mla_generic_decode.cuh, shared with the
// later dense layouts (mla_decode_generic_layout.cu); here it is instantiated for d_qk 576 with AllHeadsRows (a
// CTA's rows are all s_q · h_q folded rows of a request, row r = s · h_q + h). This instantiation's machine code is
// what it was before the body moved into the header (scripts/compare-cubins.mjs, docs/perf-log.md).
//
// Launch: grid (ceil(q_rows / 64), num_sm_parts, 1), block 256, dynamic smem mla::GEN_SMEM_BYTES = 155648.
#include <cstdint>

#include "mla_config.h"
#include "mla_generic_decode.cuh"
#include "mla_params.h"

using namespace mla;

extern "C" __global__ void __launch_bounds__(GEN_THREADS, 1) mla_decode_generic_bf16(const __grid_constant__ MlaDecodeParams p) {
  generic::decode_kernel<__nv_bfloat16, HEAD_DIM_K>(p, AllHeadsRows{p});
}
extern "C" __global__ void __launch_bounds__(GEN_THREADS, 1) mla_decode_generic_fp16(const __grid_constant__ MlaDecodeParams p) {
  generic::decode_kernel<__half, HEAD_DIM_K>(p, AllHeadsRows{p});
}
