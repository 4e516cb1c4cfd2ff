// The sparse trace switch of the Hopper kernel (mla_decode_sm90.cu and its FP8 producer; scripts/trace-sparse.mjs, perf
// log session 18 `sptrace`): with -DMLA_SM90_SPARSE_TRACE the stamps record the SM clock at the producer's and the math
// warpgroups' events; without it they are empty. Included by mla_decode_sm90.cu before the producer.
#pragma once
#include <cstdint>

#include "mla_fp8_params.h"
#include "mla_params.h"

#ifdef MLA_SM90_SPARSE_TRACE
// Timing experiment (scripts/trace-sparse.mjs): the SM clock at the producer's and the math warpgroups' events, per
// block, of CTA (0, 0) of a sparse decode, into the attention-sink buffer past its h_q values (the script hands a
// longer buffer whose first h_q values are −inf: no effect on the output). Word 16 + 8·block + event: the producer;
// 2048 + 8·iteration + event: warpgroup 0; 3072 + …: warpgroup 1. (Dense FP8: dense_trace below.)
__device__ __forceinline__ void sparse_trace(const MlaDecodeParams& p, const MlaFp8Params& f, int word) {
  if (blockIdx.x == 0 && blockIdx.y == 0 && f.attn_sink != nullptr && word >= 0 && word < 4096)
    reinterpret_cast<uint32_t*>(const_cast<float*>(f.attn_sink) + p.h_q)[word] = static_cast<uint32_t>(clock64());
}
// The same stamps of a dense decode — FP8 (session 34) or 16-bit (session 37) cache; no sink buffer there — go into q's
// buffer past its b requests: the script hands a q view whose buffer is 16 KB longer (a trace build must not run under
// any other caller).
__device__ __forceinline__ void dense_trace_value(const MlaDecodeParams& p, int word, uint32_t value) {
  if (blockIdx.x == 0 && blockIdx.y == 0 && word >= 0 && word < 4096)
    reinterpret_cast<uint32_t*>(const_cast<uint16_t*>(static_cast<const uint16_t*>(p.q)) + p.b * p.q_batch_stride)[word] = value;
}
__device__ __forceinline__ void dense_trace(const MlaDecodeParams& p, int word) { dense_trace_value(p, word, static_cast<uint32_t>(clock64())); }
// (in decode_kernel: `who` the stamping thread; in the producers: SPARSE_TRACE_P / DENSE_TRACE_P by their thread 0)
#define SPARSE_TRACE(who, word)                                  \
  do {                                                           \
    if constexpr (kSparse) {                                     \
      if (who) sparse_trace(p, *fp, (word));                     \
    } else {                                                     \
      if (who) dense_trace(p, (word));                           \
    }                                                            \
  } while (0)
#define SPARSE_TRACE_P(word) do { if (ptid == 0) sparse_trace(p, f, (word)); } while (0)
#define DENSE_TRACE_P(word) do { if (ptid == 0) dense_trace(p, (word)); } while (0)
#define DENSE_TRACE_WORD(word, value) dense_trace_value(p, (word), (value))
#define SPARSE_TRACE_NEXT(counter) (++(counter))
#else
#define SPARSE_TRACE(who, word) ((void)0)
#define SPARSE_TRACE_P(word) ((void)0)
#define DENSE_TRACE_P(word) ((void)0)
#define DENSE_TRACE_WORD(word, value) ((void)0)
#define SPARSE_TRACE_NEXT(counter) ((void)0)
#endif
