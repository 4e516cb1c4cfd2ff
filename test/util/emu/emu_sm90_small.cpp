// kernels/mla_decode_sm90_small.cu (the Hopper small-row decode kernel: two warpgroups, the rows as the wgmma's N; its
// bf16 16- and 32-row entries, its FP8-cache entries (16 and 32 rows) and its sparse FP8 entry)
// compiled for the emulated CTA (emu_runtime.h), in a unit of its own (its anonymous-namespace helpers are
// mla_decode_sm90.cu's too). The build (test/util/fake-cuda.ts) swaps its `extern __shared__ uint8_t smem_raw[]` for
// an emu::SharedWindow.
#include "emu_runtime.h"

#include "mla_decode_sm90_small.cu"

namespace emu {

static const KernelEntry kEntries[] = {
    {"mla_decode_sm90_small_bf16",
     [](void* const* args) { mla_decode_sm90_small_bf16(*static_cast<const MlaDecodeParams*>(args[0]), *static_cast<const CUtensorMap*>(args[1])); }, true},
    {"mla_decode_sm90_small_r32_bf16",
     [](void* const* args) { mla_decode_sm90_small_r32_bf16(*static_cast<const MlaDecodeParams*>(args[0]), *static_cast<const CUtensorMap*>(args[1])); }, true},
    {"mla_decode_sm90_small_fp8_bf16",
     [](void* const* args) {
       mla_decode_sm90_small_fp8_bf16(*static_cast<const MlaDecodeParams*>(args[0]), *static_cast<const CUtensorMap*>(args[1]), *static_cast<const CUtensorMap*>(args[2]),
                                      *static_cast<const CUtensorMap*>(args[3]), *static_cast<const CUtensorMap*>(args[4]));
     },
     true},
    {"mla_decode_sm90_small_fp8_sparse_bf16",
     [](void* const* args) {
       mla_decode_sm90_small_fp8_sparse_bf16(*static_cast<const MlaDecodeParams*>(args[0]), *static_cast<const MlaFp8Params*>(args[1]));
     },
     true},
    {"mla_decode_sm90_small_fp8_g32_bf16",
     [](void* const* args) {
       mla_decode_sm90_small_fp8_g32_bf16(*static_cast<const MlaDecodeParams*>(args[0]), *static_cast<const MlaFp8Params*>(args[1]));
     },
     true},
    {"mla_decode_sm90_small_fp8_sparse_r32_bf16",
     [](void* const* args) {
       mla_decode_sm90_small_fp8_sparse_r32_bf16(*static_cast<const MlaDecodeParams*>(args[0]), *static_cast<const MlaFp8Params*>(args[1]));
     },
     true},
};

const KernelEntry* sm90_small_entries(int* n) {
  *n = static_cast<int>(sizeof kEntries / sizeof kEntries[0]);
  return kEntries;
}

}  // namespace emu
