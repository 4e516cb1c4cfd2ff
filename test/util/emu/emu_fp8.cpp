// kernels/mla_decode_fp8.cu (the portable decode over the FP8 cache: dense and sparse, bf16 and fp16 q) compiled for
// the emulated CTA (emu_runtime.h), in a unit of its own (its anonymous-namespace helpers share names with
// mla_decode_generic_small.cu's). The build (test/util/fake-cuda.ts) swaps its `extern __shared__` array for an
// emu::SharedWindow.
#include "emu_runtime.h"

#include "mla_decode_fp8.cu"

namespace emu {

#define PARAMS(i) (*static_cast<const MlaDecodeParams*>(args[i]))
#define FP8P(i) (*static_cast<const MlaFp8Params*>(args[i]))
static const KernelEntry kEntries[] = {
    {"mla_decode_fp8_dense_bf16", [](void* const* args) { mla_decode_fp8_dense_bf16(PARAMS(0), FP8P(1)); }, true},
    {"mla_decode_fp8_dense_fp16", [](void* const* args) { mla_decode_fp8_dense_fp16(PARAMS(0), FP8P(1)); }, true},
    {"mla_decode_fp8_sparse_bf16", [](void* const* args) { mla_decode_fp8_sparse_bf16(PARAMS(0), FP8P(1)); }, true},
    {"mla_decode_fp8_sparse_fp16", [](void* const* args) { mla_decode_fp8_sparse_fp16(PARAMS(0), FP8P(1)); }, true},
};
#undef FP8P
#undef PARAMS

const KernelEntry* fp8_entries(int* n) {
  *n = static_cast<int>(sizeof kEntries / sizeof kEntries[0]);
  return kEntries;
}

}  // namespace emu
