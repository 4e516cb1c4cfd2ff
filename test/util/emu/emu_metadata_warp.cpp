// kernels/mla_metadata_warp.cu compiled for the emulated CTA (emu_runtime.h), in a unit of its own: it shares helper
// names with mla_metadata.cu (emu.cpp). Its `extern __shared__ int s_sched[]` is the array defined below. The build
// (test/util/fake-cuda.ts) replaces its %dynamic_smem_size read as it does mla_metadata.cu's.
#include "emu_runtime.h"

#include "mla_metadata_warp.cu"

__attribute__((aligned(128))) int s_sched[232448 / 4];

namespace emu {

#define ARG(T, i) (*static_cast<T const*>(args[i]))
static const KernelEntry kMetadataWarpEntries[] = {
    {"mla_metadata_warp", [](void* const* args) { mla_metadata_warp(ARG(const int*, 0), ARG(int, 1), ARG(int, 2), ARG(int*, 3), ARG(int*, 4)); }, reinterpret_cast<uint8_t*>(s_sched)},
};
#undef ARG

const KernelEntry* metadata_warp_entries(int* n) {
  *n = static_cast<int>(sizeof kMetadataWarpEntries / sizeof kMetadataWarpEntries[0]);
  return kMetadataWarpEntries;
}

}  // namespace emu
