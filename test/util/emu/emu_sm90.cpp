// kernels/mla_decode_sm90.cu (the Hopper decode kernel, and its FP8-cache variants: three warpgroups; dense: two tensor
// maps, sparse: the portable sparse kernel's MlaFp8Params)
// compiled for the emulated CTA (emu_runtime.h), in a unit of its own. The build (test/util/fake-cuda.ts) swaps the file's two inline-PTX statements (a 16-byte shared store of zeros,
// an opaque register move) for host code, and its `extern __shared__ uint8_t smem_raw[]` for an emu::SharedWindow.
#include "emu_runtime.h"

#include "mla_decode_sm90.cu"

namespace emu {

#define PARAMS(i) (*static_cast<const MlaDecodeParams*>(args[i]))
#define TMAP(i) (*static_cast<const CUtensorMap*>(args[i]))
#define FP8P(i) (*static_cast<const MlaFp8Params*>(args[i]))
static const KernelEntry kEntries[] = {
    {"mla_decode_sm90_bf16", [](void* const* args) { mla_decode_sm90_bf16(PARAMS(0), TMAP(1)); }, true},
    {"mla_decode_sm90_fp16", [](void* const* args) { mla_decode_sm90_fp16(PARAMS(0), TMAP(1)); }, true},
    {"mla_decode_sm90_membound_bf16", [](void* const* args) { mla_decode_sm90_membound_bf16(PARAMS(0), TMAP(1)); }, true},
    {"mla_decode_sm90_membound_fp16", [](void* const* args) { mla_decode_sm90_membound_fp16(PARAMS(0), TMAP(1)); }, true},
    {"mla_decode_sm90_packed_bf16", [](void* const* args) { mla_decode_sm90_packed_bf16(PARAMS(0), TMAP(1)); }, true},
    {"mla_decode_sm90_packed_fp16", [](void* const* args) { mla_decode_sm90_packed_fp16(PARAMS(0), TMAP(1)); }, true},
    {"mla_decode_sm90_packed_membound_bf16", [](void* const* args) { mla_decode_sm90_packed_membound_bf16(PARAMS(0), TMAP(1)); }, true},
    {"mla_decode_sm90_packed_membound_fp16", [](void* const* args) { mla_decode_sm90_packed_membound_fp16(PARAMS(0), TMAP(1)); }, true},
    {"mla_decode_sm90_fp8_bf16", [](void* const* args) { mla_decode_sm90_fp8_bf16(PARAMS(0), TMAP(1), TMAP(2)); }, true},
    {"mla_decode_sm90_fp8_packed_bf16", [](void* const* args) { mla_decode_sm90_fp8_packed_bf16(PARAMS(0), TMAP(1), TMAP(2)); }, true},
    {"mla_decode_sm90_fp8_sparse_bf16", [](void* const* args) { mla_decode_sm90_fp8_sparse_bf16(PARAMS(0), FP8P(1)); }, true},
    {"mla_decode_sm90_fp8_sparse_pair_bf16", [](void* const* args) { mla_decode_sm90_fp8_sparse_pair_bf16(PARAMS(0), FP8P(1)); }, true},
};
#undef FP8P
#undef TMAP
#undef PARAMS

const KernelEntry* sm90_entries(int* n) {
  *n = static_cast<int>(sizeof kEntries / sizeof kEntries[0]);
  return kEntries;
}

}  // namespace emu
