// kernels/mla_decode_sm90.cu (the Hopper decode kernel) compiled for the emulated CTA (emu_runtime.h), in a unit of its
// own: the build (test/util/fake-cuda.ts) compiles this file twice, as shipped and with -DMLA_SM90_TAIL_PREFETCH=1
// (the experiment), with the second one's entry points renamed mla_decode_sm90_tail_* so both link into one fake;
// FAKE_CUDA_SM90_VARIANT=tail makes a launch of mla_decode_sm90_* run the renamed one (emu.cpp). The build also swaps
// the file's two inline-PTX statements (a 16-byte shared store of zeros, an opaque register move) for host code.
#include "emu_runtime.h"

#if MLA_SM90_TAIL_PREFETCH
#define mla_decode_sm90_bf16 mla_decode_sm90_tail_bf16
#define mla_decode_sm90_fp16 mla_decode_sm90_tail_fp16
#endif

#include "mla_decode_sm90.cu"

// the kernel's `extern __shared__ uint8_t smem_raw[]`, declared in a function of the file's anonymous namespace
namespace {
__attribute__((aligned(1024))) uint8_t smem_raw[232448];
}

namespace emu {

#define EMU_STR_(x) #x
#define EMU_STR(x) EMU_STR_(x)  // the entry's name after the rename above
#define PARAMS(i) (*static_cast<const MlaDecodeParams*>(args[i]))
#define TMAP(i) (*static_cast<const CUtensorMap*>(args[i]))
static const KernelEntry kEntries[] = {
    {EMU_STR(mla_decode_sm90_bf16), [](void* const* args) { mla_decode_sm90_bf16(PARAMS(0), TMAP(1)); }, smem_raw},
    {EMU_STR(mla_decode_sm90_fp16), [](void* const* args) { mla_decode_sm90_fp16(PARAMS(0), TMAP(1)); }, smem_raw},
};
#undef TMAP
#undef PARAMS

#if MLA_SM90_TAIL_PREFETCH
const KernelEntry* sm90_tail_entries(int* n) {
#else
const KernelEntry* sm90_entries(int* n) {
#endif
  *n = static_cast<int>(sizeof kEntries / sizeof kEntries[0]);
  return kEntries;
}

}  // namespace emu
