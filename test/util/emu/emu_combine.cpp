// kernels/mla_combine.cu compiled for the emulated CTA (emu_runtime.h), its sink variant (the sparse decode's, with
// MlaFp8Params) included. Its W > 1 entries keep partial sums in a
// static __shared__ array, which the build (test/util/fake-cuda.ts) turns into an emu::Shared stand-in placed in the
// CTA's shared memory by emu::static_shared.
#include "emu_runtime.h"

#include "mla_combine.cu"

namespace emu {

#define PARAMS(i) (*static_cast<const MlaDecodeParams*>(args[i]))
// (dynamic shared memory: the entries whose walk the kernel stages, kStaged)
// (kind: empty over fp32 partials, p16_ over 16-bit partial rows — 'hopper''s combine)
#define ENTRY(kind, W, C, N) {"mla_combine_" #kind "w" #W "_c" #C "_" #N, [](void* const* args) { mla_combine_##kind##w##W##_c##C##_##N(PARAMS(0)); }, kStaged<C>}
#define ENTRIES(kind, W, N) ENTRY(kind, W, 1, N), ENTRY(kind, W, 2, N), ENTRY(kind, W, 4, N)
#define FAMILY(kind) \
  ENTRIES(kind, 1, bf16), ENTRIES(kind, 2, bf16), ENTRIES(kind, 4, bf16), ENTRIES(kind, 8, bf16), \
  ENTRIES(kind, 1, fp16), ENTRIES(kind, 2, fp16), ENTRIES(kind, 4, fp16), ENTRIES(kind, 8, fp16)
#define FP8P(i) (*static_cast<const MlaFp8Params*>(args[i]))
static const KernelEntry kCombineEntries[] = {
    FAMILY(),
    FAMILY(p16_),
    // the sparse decode's sink variant (W = C = 1): params and the MlaFp8Params of the decode (its attn_sink)
    {"mla_combine_sink_bf16", [](void* const* args) { mla_combine_sink_bf16(PARAMS(0), FP8P(1)); }, false},
    {"mla_combine_sink_fp16", [](void* const* args) { mla_combine_sink_fp16(PARAMS(0), FP8P(1)); }, false},
};
#undef FP8P
#undef FAMILY
#undef ENTRIES
#undef ENTRY
#undef PARAMS

const KernelEntry* combine_entries(int* n) {
  *n = static_cast<int>(sizeof kCombineEntries / sizeof kCombineEntries[0]);
  return kCombineEntries;
}

}  // namespace emu
