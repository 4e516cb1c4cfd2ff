// Host emulation of the CUDA execution model, enough to run flash-mla's mma.sync kernels (kernels/*.cu compiled as
// C++ for the host) inside the fake driver (test/util/fake-cuda.c, FAKE_CUDA_EMULATE=1): a CTA's threads are fibers
// (ucontext) on one OS thread, switched at every barrier and warp-collective instruction (shuffles, ldmatrix,
// mma.sync), so the kernels' own code — indexing, tiles, masks, softmax, epilogue — runs unchanged; only ptx.cuh
// (test/util/emu/ptx.cuh), cuda_bf16.h / cuda_fp16.h and the builtins below are stand-ins. cp.async copies at once
// (the race detector below reports a read that did not wait for it). Tensor-core products are summed in float in k
// order (the hardware's order differs: results agree within the tests' tolerances, not bit for bit).
// Shared-memory accesses are checked against the launch's shared memory and global reads through cp.async and
// ld_plain against the fake's live allocations: a violation is reported as the GPU would (illegal address).
// Every shared-memory access also goes through the race detector (emu_race.h: vector clocks per warp, joined at
// barriers and mbarriers; FAKE_CUDA_EMU_RACECHECK=off turns it off), which reports two accesses of different warps
// that nothing orders, at least one a write. The build gives the kernels' shared arrays types (SharedWindow, Shared
// below) whose only uses are a shared address or an instrumented access, so a kernel cannot touch shared memory
// unseen: a plain C++ access to one does not compile.
// The Hopper kernel's instructions (ptx_sm90.cuh / ptx_wgmma.cuh stand-ins) are emulated in emu.cpp: mbarriers
// (a waiting fiber sleeps until its phase completes; arrive with or without transaction bytes), named-barrier arrive,
// TMA tile loads (any element size, swizzled or not) and wgmma; its FP8 entry's setmaxnreg is a no-op and its e4m3 →
// bf16 conversion is computed exactly (ptx_sm90.cuh, on kernels/fp8_e4m3.cuh). By default a
// TMA tile lands and a wgmma computes at issue (commit / wait then have nothing to do); FAKE_CUDA_EMU_WGMMA=wait and
// FAKE_CUDA_EMU_TMA=late move them to the latest moment the hardware allows, FAKE_CUDA_EMU_ORDER=reverse runs the
// highest thread first — other legal timings, under which a missing wait or an early refill shows (emu.cpp).
// When every unfinished thread waits on something no other thread can complete, the launch ends as a deadlock
// naming what each group of threads waits on. For tests only; nothing here ships.
#pragma once
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>

#define __device__
#define __host__
#define __global__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __grid_constant__
#define __align__(n) __attribute__((aligned(n)))
// Every __shared__ declaration of an emulated kernel is replaced by the build (test/util/fake-cuda.ts) with a stand-in
// whose accesses the race detector sees; one it missed is a compile error, not an unchecked array.
#define __shared__ _Pragma("GCC error \"a __shared__ declaration the emulator's build did not replace (test/util/fake-cuda.ts)\"")

struct float2 { float x, y; };
struct float4 { float x, y, z, w; };
struct uint2 { unsigned x, y; };
struct uint4 { unsigned x, y, z, w; };
struct int4 { int x, y, z, w; };
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline uint2 make_uint2(unsigned x, unsigned y) { return {x, y}; }
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }
// the intrinsics kernels/fp8_e4m3.cuh uses (float arithmetic rounded to nearest, as the host's default)
inline float __uint_as_float(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }
inline uint32_t __float_as_uint(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fmul_rn(float a, float b) { return a * b; }
// __expf: the GPU computes ex2.approx(x · log2 e) (the CUDA math API's documented fast path); exp2 here
inline float __expf(float x) { return std::exp2(x * 1.4426950408889634f); }
inline unsigned __float2uint_rn(float a) { return static_cast<unsigned>(std::nearbyint(a)); }
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }

struct EmuDim3 { unsigned x, y, z; };

namespace emu {

constexpr uint32_t kSmemCap = 232448;  // the largest opt-in shared memory of any GPU the library runs on
constexpr uint32_t kMaxCluster = 2;     // CTAs per cluster the emulator runs together (the paired sparse entry's 2)
// A shared::cluster address (mapa's result) of CTA r: (r + 1) · kClusterAddr + its shared::cta address; a CTA's own
// shared::cta addresses stay below kClusterAddr.
constexpr uint32_t kClusterAddr = 1u << 24;

// ---- the running CTA (test/util/emu/emu.cpp) ---------------------------------------------------------------
EmuDim3 thread_idx();
extern EmuDim3 g_block_idx;
unsigned lane();                       // lane of the running thread in its warp
void sync_threads();                   // bar.sync 0 over the whole CTA
void bar_sync(int id, int count);      // bar.sync id, count
[[noreturn]] void fault(const char* fmt, ...);  // an access the GPU would fault on: ends the launch
uint8_t* shared_ptr(uint32_t addr, uint32_t bytes);  // checked: [addr, addr + bytes) inside the CTA's shared memory
uint32_t dynamic_smem_bytes();                        // %dynamic_smem_size
void check_global(const void* p, uint32_t bytes, const char* what);  // inside a live allocation of the fake
// A shared-memory write must not hit an operand of a wgmma the writing thread does not know completed (emu.cpp).
void check_shared_write(uint32_t addr, uint32_t bytes, const char* what);

// ---- shared memory as the kernels see it --------------------------------------------------------------------
// Which instruction accessed shared memory, and where (for race reports): access_site interns (kind, file, line);
// the stand-ins pass their caller's __builtin_FILE() / __builtin_LINE(), a Shared array its name with line 0.
enum AccessKind { kAccLdShared, kAccStShared, kAccLdmatrix, kAccLdmatrixTrans, kAccCpAsync, kAccTma, kAccWgmmaA, kAccWgmmaB, kAccMbarrierInit, kAccBulkCopy, kAccStAsync };
uint16_t access_site(AccessKind kind, const char* file, int line);  // emu_race.cpp
// A stand-in's last parameters, defaulted to its caller's file and line, and the site they name.
#define EMU_CALLER const char *file = __builtin_FILE(), int line = __builtin_LINE()
#define EMU_SITE(kind) ::emu::access_site(::emu::kind, file, line)
// ld.shared / st.shared of `bytes` (4, 8 or 16, naturally aligned) by the running thread: bounds, the wgmma check
// (stores), the race detector, then the copy.
void shared_load(uint32_t addr, void* out, uint32_t bytes, uint16_t site);
void shared_store(uint32_t addr, const void* in, uint32_t bytes, uint16_t site);
// The static __shared__ array declared at `key` (a source line): its shared address, the same for every thread of the
// CTA, placed after the dynamic shared memory.
uint32_t static_shared(uint32_t bytes, int key);

// The emulator's stand-in for a kernel's `extern __shared__ … smem[]`: ptx::smem_addr gives its shared address (0),
// and nothing else can be done with it.
struct SharedWindow {};
// The stand-in for a shared array of T (T[N]..., T[] of the dynamic memory, or a scalar element): indexing gives the
// element's stand-in, reading or assigning an element is an ld.shared / st.shared.
template <typename T>
struct Shared {
  uint32_t addr;
  const char* name;
  operator T() const {
    T v;
    shared_load(addr, &v, sizeof(T), access_site(kAccLdShared, name, 0));
    return v;
  }
  const Shared& operator=(const T& v) const {
    shared_store(addr, &v, sizeof(T), access_site(kAccStShared, name, 0));
    return *this;
  }
};
template <typename T, size_t N>
struct Shared<T[N]> {
  uint32_t addr;
  const char* name;
  Shared<T> operator[](int i) const { return {addr + static_cast<uint32_t>(i) * static_cast<uint32_t>(sizeof(T)), name}; }
};
template <typename T>
struct Shared<T[]> {
  uint32_t addr;
  const char* name;
  Shared<T> operator[](int i) const { return {addr + static_cast<uint32_t>(i) * static_cast<uint32_t>(sizeof(T)), name}; }
};

// One warp-collective step: every lane of the running warp hands in `in` (up to 10 words); once all 32 have, `compute`
// gets them all (in[lane][k]) and fills out[lane][0..3]; each lane then gets its own out. Blocks until then.
using WarpCompute = void (*)(const uint64_t (*in)[10], uint64_t (*out)[4], const void* ctx);
void warp_collective(int kind, const uint64_t* in, int n_in, uint64_t* out, WarpCompute compute, const void* ctx);

// A kernel the emulator runs: its entry point on the launch's argument pointers, and whether it takes dynamic shared
// memory (every kernel's shared memory is the emulator's one window, emu.cpp).
struct KernelEntry {
  const char* name;
  void (*run)(void* const* args);
  bool dynamic_smem;
};
const KernelEntry* combine_entries(int* n);  // emu_combine.cpp
const KernelEntry* sm90_entries(int* n);  // emu_sm90.cpp: mla_decode_sm90.cu
const KernelEntry* sm90_small_entries(int* n);  // emu_sm90_small.cpp: mla_decode_sm90_small.cu
const KernelEntry* fp8_entries(int* n);  // emu_fp8.cpp: mla_decode_fp8.cu (the portable FP8-cache decode)
const KernelEntry* selftest_entries(int* n);  // emu_selftest.cpp: the emulator's own test kernels

// ---- Hopper (emu.cpp; the stand-ins test/util/emu/ptx_sm90.cuh and ptx_wgmma.cuh call these) ------------------
void bar_arrive(int id, int count);  // bar.arrive id, count: counts towards the barrier without waiting
// mbarrier: init, arrive.expect_tx (tx-count += bytes, then one arrival), arrive, try_wait.parity in a loop (the
// fiber sleeps until the phase of that parity has completed; see emu.cpp). An arrival the phase does not expect (its
// count already reached, transaction bytes outstanding) is a fault: the hardware's behaviour is undefined.
void mbarrier_init(uint32_t bar, uint32_t count, uint16_t site);
void mbarrier_arrive_expect_tx(uint32_t bar, uint32_t bytes);
void mbarrier_arrive(uint32_t bar);  // mbarrier.arrive: one arrival, no transaction bytes
void mbarrier_wait(uint32_t bar, uint32_t parity);
bool mbarrier_test_wait(uint32_t bar, uint32_t parity);  // mbarrier.test_wait.parity: the same test, never sleeps
// cp.async.bulk.tensor (tiled, rank ≤ 5) from a tensor map the fake driver encoded: lands at once, then complete_tx
void tma_load(uint32_t dst, const void* tmap, uint32_t bar, const int* coords, int rank, uint16_t site);
// cp.async.bulk global → shared (no tensor map) and mbarrier.expect_tx (transaction bytes without an arrival).
void bulk_load(uint32_t dst, const void* src, uint32_t bytes, uint32_t bar, uint16_t site);
void mbarrier_expect_tx(uint32_t bar, uint32_t bytes);
// Thread-block clusters (emu.cpp runs a cluster's CTAs together, each with its own shared memory): %cluster_ctarank,
// mapa.shared::cluster, mbarrier.arrive on a barrier of another CTA, cp.async.bulk shared::cta → shared::cluster
// (completing on the target CTA's mbarrier; its source read by the copy until then, it lands like a TMA load),
// st.async (16 bytes from registers, likewise), barrier.cluster arrive + wait.
unsigned cluster_ctarank();
uint32_t mapa_shared(uint32_t addr, uint32_t rank);
void mbarrier_arrive_remote(uint32_t bar);
void bulk_push(uint32_t dst, uint32_t src, uint32_t bytes, uint32_t bar, uint16_t site);
// st.async of 16 bytes (from registers) into another CTA of the cluster, completing on its mbarrier
void st_async(uint32_t dst, const void* data, uint32_t bar, uint16_t site);
void cluster_sync();
// wgmma.mma_async m64nNk16, fp32 accumulators, bf16 or fp16 operands: a warpgroup-collective step (the 128 threads of
// the warpgroup hand in their accumulators; the last to arrive computes, or queues it for the wait that must cover
// it: FAKE_CUDA_EMU_WGMMA, emu.cpp). a_regs null: A from the descriptor a_desc.
void wgmma(int n, bool bf16, float* d, uint64_t a_desc, const uint32_t* a_regs, uint64_t b_desc, bool tnsp_a, bool tnsp_b, int scale_d);
// wgmma.mma_async m64nNk32, e4m3 × e4m3, fp32 accumulators, A from registers (the 8-bit A fragment), B K-major
void wgmma_e4m3(int n, float* d, const uint32_t* a_regs, uint64_t b_desc, int scale_d);
void wgmma_commit();     // wgmma.commit_group: this thread's wgmmas so far form a group
void wgmma_wait(int n);  // wgmma.wait_group n: all but this thread's n newest groups complete

template <typename T>
inline uint64_t bits_of(T v) {
  static_assert(sizeof(T) <= 8, "");
  uint64_t b = 0;
  std::memcpy(&b, &v, sizeof(T));
  return b;
}
template <typename T>
inline T from_bits(uint64_t b) {
  T v;
  std::memcpy(&v, &b, sizeof(T));
  return v;
}

}  // namespace emu

#define threadIdx (::emu::thread_idx())
#define blockIdx (::emu::g_block_idx)

inline void __syncthreads() { emu::sync_threads(); }
// clock64 (the kernels' timing experiments only: -DMLA_SM90_SPARSE_TRACE): a count of the calls so far, increasing
inline long long clock64() {
  static std::atomic<long long> ticks{0};
  return ++ticks;
}

namespace emu {
enum CollectiveKind { kShflXor = 1, kShflIdx, kLdmatrix, kLdmatrixTrans, kMmaBf16, kMmaF16, kSyncWarp, kShflUp, kBallot, kAny, kStmatrix, kReduceMin, kReduceMax };
void stmatrix_x4(uint32_t addr, const uint32_t (&r)[4], uint16_t site);  // stmatrix.sync.aligned.m8n8.x4.shared.b16
void shfl_compute_xor(const uint64_t (*in)[10], uint64_t (*out)[4], const void*);
void shfl_compute_idx(const uint64_t (*in)[10], uint64_t (*out)[4], const void*);
}  // namespace emu

inline void __syncwarp(unsigned = 0xffffffffu) {
  uint64_t none = 0, out[4];
  emu::warp_collective(emu::kSyncWarp, &none, 1, out, [](const uint64_t (*)[10], uint64_t (*)[4], const void*) {}, nullptr);
}
template <typename T>
inline T __shfl_xor_sync(unsigned, T v, int lane_mask) {
  const uint64_t in[2] = {emu::bits_of(v), static_cast<uint64_t>(lane_mask)};
  uint64_t out[4];
  emu::warp_collective(emu::kShflXor, in, 2, out, emu::shfl_compute_xor, nullptr);
  return emu::from_bits<T>(out[0]);
}
template <typename T>
inline T __shfl_sync(unsigned, T v, int src_lane) {
  const uint64_t in[2] = {emu::bits_of(v), static_cast<uint64_t>(src_lane)};
  uint64_t out[4];
  emu::warp_collective(emu::kShflIdx, in, 2, out, emu::shfl_compute_idx, nullptr);
  return emu::from_bits<T>(out[0]);
}
// lane l gets lane l − delta's value (its own when l < delta)
template <typename T>
inline T __shfl_up_sync(unsigned, T v, unsigned delta) {
  const uint64_t in[2] = {emu::bits_of(v), static_cast<uint64_t>(delta)};
  uint64_t out[4];
  emu::warp_collective(emu::kShflUp, in, 2, out, [](const uint64_t (*in)[10], uint64_t (*out)[4], const void*) {
    for (int l = 0; l < 32; ++l) {
      const int src = l - static_cast<int>(in[l][1]);
      out[l][0] = src >= 0 ? in[src][0] : in[l][0];
    }
  }, nullptr);
  return emu::from_bits<T>(out[0]);
}
inline unsigned __ballot_sync(unsigned, int pred) {
  const uint64_t in[1] = {pred != 0 ? 1u : 0u};
  uint64_t out[4];
  emu::warp_collective(emu::kBallot, in, 1, out, [](const uint64_t (*in)[10], uint64_t (*out)[4], const void*) {
    uint64_t mask = 0;
    for (int l = 0; l < 32; ++l) mask |= in[l][0] << l;
    for (int l = 0; l < 32; ++l) out[l][0] = mask;
  }, nullptr);
  return static_cast<unsigned>(out[0]);
}
inline int __any_sync(unsigned, int pred) {
  const uint64_t in[1] = {pred != 0 ? 1u : 0u};
  uint64_t out[4];
  emu::warp_collective(emu::kAny, in, 1, out, [](const uint64_t (*in)[10], uint64_t (*out)[4], const void*) {
    uint64_t any = 0;
    for (int l = 0; l < 32; ++l) any |= in[l][0];
    for (int l = 0; l < 32; ++l) out[l][0] = any;
  }, nullptr);
  return static_cast<int>(out[0]);
}
// redux.sync.min / max.s32 (sm_80+): every lane gets the warp's smallest / largest value
namespace emu {
template <bool kMax>
inline int reduce_sync(int v) {
  const uint64_t in[1] = {static_cast<uint64_t>(static_cast<uint32_t>(v))};
  uint64_t out[4];
  warp_collective(kMax ? kReduceMax : kReduceMin, in, 1, out, [](const uint64_t (*in)[10], uint64_t (*out)[4], const void*) {
    int m = static_cast<int>(static_cast<uint32_t>(in[0][0]));
    for (int l = 1; l < 32; ++l) {
      const int x = static_cast<int>(static_cast<uint32_t>(in[l][0]));
      m = kMax ? std::max(m, x) : std::min(m, x);
    }
    for (int l = 0; l < 32; ++l) out[l][0] = static_cast<uint32_t>(m);
  }, nullptr);
  return static_cast<int>(static_cast<uint32_t>(out[0]));
}
}  // namespace emu
inline int __reduce_min_sync(unsigned, int v) { return emu::reduce_sync<false>(v); }
inline int __reduce_max_sync(unsigned, int v) { return emu::reduce_sync<true>(v); }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __ffs(int x) { return __builtin_ffs(x); }  // 1 + the lowest set bit, 0 for none (as CUDA)
