// The emulated CTA (emu_runtime.h) and the kernels it runs: kernels/mla_metadata.cu, mla_decode_generic.cu,
// mla_decode_generic_layout.cu and mla_decode_generic_small.cu compiled for the host (the combine is emu_combine.cpp,
// the Hopper kernel emu_sm90.cpp, the portable FP8 kernel emu_fp8.cpp, units of their own). The fake driver built with FAKE_CUDA_EMULATE
// calls emu_launch() at a launch of one of these kernels. mla_metadata.cu reads %dynamic_smem_size with inline PTX:
// the build (test/util/fake-cuda.ts) replaces that one statement by emu::dynamic_smem_bytes(). The Hopper kernel
// (emu_sm90.cpp) runs on the mbarrier, TMA and wgmma emulation below. Shared-memory accesses and synchronisation are
// also handed to the race detector (emu_race.cpp).
#include <ucontext.h>

#include <csetjmp>
#include <cstdarg>
#include <cstdio>
#include <algorithm>
#include <array>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "emu_race.h"
#include "emu_runtime.h"
#include "tensor_map.h"

#include "mla_metadata.cu"
#include "mla_decode_generic.cu"
#include "mla_decode_generic_layout.cu"
#include "mla_decode_generic_small.cu"

extern "C" int fake_cuda_host_range_ok(const void* p, size_t n);  // test/util/fake-cuda.c

namespace emu {

EmuDim3 g_block_idx;

namespace {

// Each CTA's shared memory, every kernel's: the dynamic part from 0, the static __shared__ arrays after it (the
// kernels' shared arrays are SharedWindow / Shared stand-ins that address it, emu_runtime.h); one per CTA of a cluster.
alignas(1024) uint8_t g_smem[kMaxCluster][kSmemCap];

constexpr size_t kStackBytes = 256 << 10;

// What a thread knows has completed of each warpgroup's wgmmas (ops [0, k) of warpgroup g's issue order): its own
// wgmma.wait_group, and what it learns by synchronising with threads that knew more (named barriers, mbarriers, warp
// collectives). A shared-memory write (TMA, st.shared, cp.async) into an operand of a wgmma its writer does not know
// completed is a race on the GPU — whatever order the emulator happened to run the threads in.
struct Known {
  size_t k[8] = {0, 0, 0, 0, 0, 0, 0, 0};  // up to 8 warpgroups (1024 threads)
  void merge(const Known& o) {
    for (int g = 0; g < 8; ++g) k[g] = std::max(k[g], o.k[g]);
  }
};
// What a blocked fiber waits on, for the deadlock report.
enum WaitKind { kWaitNone, kWaitBar, kWaitWarp, kWaitWgmma, kWaitMbarrier };
struct Fiber {
  ucontext_t ctx;
  unsigned tid = 0, rank = 0;  // thread index in its CTA; its CTA's rank in the cluster
  bool blocked = false, done = false;
  uint64_t res[4] = {0, 0, 0, 0};
  int wait_kind = kWaitNone;
  uint32_t wait_a = 0, wait_b = 0;  // barrier id / collective kind / mbarrier address, and the mbarrier parity
  Known known;
};
struct Barrier {
  int arrived = 0, count = 0;
  std::vector<Fiber*> waiting;
  Known known;  // merged from this round's arrivals, handed to its waiters
  race::VClock clock;  // the same for the race detector
};
struct WarpSlot {
  int arrived = 0, kind = 0;
  uint64_t in[32][10];
  uint64_t out[32][4];
};
// One wgmma of a warpgroup being gathered: the operands every thread must agree on, and each thread's registers
// (pointers into the fibers' stacks, valid while they are blocked here).
struct WgmmaSlot {
  int arrived = 0, n = 0, scale_d = 0;
  bool bf16 = false, tnsp_a = false, tnsp_b = false, rs = false, e4m3 = false;
  uint64_t a = 0, b = 0;
  float* d[128];
  const uint32_t* a_regs[128];
};
// An mbarrier's state (the hardware keeps it in the 8 shared bytes; here it lives beside them, and the 8 bytes hold
// a token that shows whether ordinary stores or a TMA overwrote the barrier since its init).
struct Mbarrier {
  uint32_t addr = 0, count = 0, pending = 0, phase = 0;
  int64_t tx = 0;
  std::vector<Fiber*> waiting;
  Known arriving, completed;  // the current phase's arrivals; those of the last completed phase (for its waiters)
  race::VClock arriving_clock, completed_clock;  // the race detector's: this phase's; every completed phase's
};
// A TMA load whose bytes have not landed yet (FAKE_CUDA_EMU_TMA=late): 16-byte chunks with their shared addresses;
// the race detector's agent and epoch of the load.
struct TmaLoad {
  uint32_t bar = 0, bytes = 0;
  unsigned rank = 0;  // the CTA whose shared memory and mbarrier it lands in (a bulk copy into a peer: the peer)
  std::vector<std::pair<uint32_t, std::array<uint8_t, 16>>> chunks;
  int agent = 0;
  uint32_t epoch = 0;
};
// The wgmmas of a warpgroup not yet computed (FAKE_CUDA_EMU_WGMMA=wait): issued in order; thread t's commits so far
// as the number of wgmmas it had issued at each (every thread of a warpgroup issues the same ones).
struct WgmmaQueue {
  std::vector<WgmmaSlot> ops;  // kept until computed (FAKE_CUDA_EMU_WGMMA=wait)
  std::vector<std::array<uint32_t, 4>> reads;  // per op ever issued: the shared bytes [lo, hi) of its A and B operands
  size_t done = 0;  // ops[0, done) computed
};

// When asynchronous work happens, within what the hardware allows (environment, read at each launch):
//   FAKE_CUDA_EMU_WGMMA=issue (default) | wait — a wgmma's products at its issue, or at the latest: at the
//     wgmma.wait_group that must cover it (operands read then, accumulators written then);
//   FAKE_CUDA_EMU_TMA=issue (default) | late — a TMA tile lands at issue, or only once no thread can go on without it;
//   FAKE_CUDA_EMU_ORDER=forward (default) | reverse — which runnable thread runs first (lowest or highest id);
//   FAKE_CUDA_EMU_RACECHECK=on (default) | off — the shared-memory race detector (emu_race.h).
// A buffer refilled or a P tile rewritten under a wgmma that may still read it is reported in every mode (Known,
// above); late wgmma adds accumulators or A registers used before their wait (stale values); late TMA shows a read
// that did not wait on the mbarrier (stale values), and a CTA exiting with loads in flight; reverse order meets
// barriers and collectives from the other side. A correct kernel gives the same answer in every mode.
struct Modes {
  bool wgmma_at_wait = false, tma_late = false, reverse = false, racecheck = true;
};

struct Cta {
  std::vector<Fiber> fibers;
  Barrier bars[16];
  std::vector<WarpSlot> warps;
  std::vector<WgmmaSlot> wgmmas;  // one per warpgroup
  std::vector<WgmmaQueue> wgmma_queues;  // one per warpgroup (FAKE_CUDA_EMU_WGMMA=wait)
  std::vector<std::vector<size_t>> commits;  // per thread: ops issued at each of its wgmma.commit_group
  std::vector<size_t> issued;  // per thread: wgmmas issued
  std::vector<Mbarrier> mbarriers;
  std::vector<TmaLoad> tma_in_flight;  // oldest first (FAKE_CUDA_EMU_TMA=late)
  uint8_t* smem = nullptr;  // g_smem[rank]
  unsigned rank = 0;        // in its cluster
  EmuDim3 block_idx{0, 0, 0};
  uint32_t smem_bytes = 0;   // dynamic
  uint32_t window_bytes = 0;  // dynamic + the static arrays placed so far
  std::vector<std::array<uint32_t, 3>> statics;  // static arrays: declaration key, shared address, bytes
  const KernelEntry* entry = nullptr;
  void* const* args = nullptr;
};

// The CTAs of the running cluster (one without clusters) and the one whose thread runs (or whose memory an emulated
// instruction is working on: enter_cta). Everything below that says g_cta means that one.
Cta g_ctas[kMaxCluster];
Cta* g_ctap = &g_ctas[0];
#define g_cta (*g_ctap)
unsigned g_cluster = 1, g_cta_threads = 0;  // CTAs in the cluster, threads per CTA
Barrier g_cluster_bar;                      // barrier.cluster: every thread of every CTA of the cluster
constexpr uint32_t kClusterBarrierId = 16;  // its id in a waiting fiber's record (named barriers are 0–15)
Modes g_modes;
Fiber* g_cur = nullptr;  // the running thread; null while the scheduler works on its own
ucontext_t g_sched;
std::jmp_buf g_sched_jmp;
std::vector<char*> g_stacks;
bool g_faulted = false, g_deadlock = false;
char g_fault[2048];

// Make CTA `rank` of the cluster the one g_cta names: its block index, and the race detector's numbering of its
// threads and shared memory.
void enter_cta(unsigned rank) {
  g_ctap = &g_ctas[rank];
  g_block_idx = g_ctap->block_idx;
  race::set_base(rank * g_cta_threads, rank * kSmemCap);
}
// The running thread works on CTA `rank`'s memory (a remote arrival, a bulk copy into a peer): g_cta names that CTA,
// the race detector keeps the running thread's id and takes that CTA's addresses. leave_target() undoes it.
void enter_target(unsigned rank) {
  g_ctap = &g_ctas[rank];
  race::set_base(g_cur->rank * g_cta_threads, rank * kSmemCap);
}
void leave_target() { enter_cta(g_cur->rank); }
// Warpgroup wg of the current CTA in the cluster-wide numbering (Known's index).
unsigned global_wg(size_t wg) { return g_ctap->rank * (g_cta_threads / 128) + static_cast<unsigned>(wg); }

void block_current(int kind, uint32_t a, uint32_t b = 0) {
  g_cur->blocked = true;
  g_cur->wait_kind = kind;
  g_cur->wait_a = a;
  g_cur->wait_b = b;
  swapcontext(&g_cur->ctx, &g_sched);
  g_cur->wait_kind = kWaitNone;
}

void fiber_main() {
  g_cta.entry->run(g_cta.args);
  g_cur->done = true;  // uc_link returns to the scheduler
}

float half_value(uint16_t h, bool bf16) {
  if (bf16) {
    const uint32_t u = static_cast<uint32_t>(h) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
  const int e = (h >> 10) & 31, m = h & 1023;
  const float s = (h & 0x8000) ? -1.f : 1.f;
  if (e == 31) return m ? NAN : s * INFINITY;
  return e == 0 ? s * std::ldexp(float(m), -24) : s * std::ldexp(float(1024 + m), e - 25);
}

void mma_compute(const uint64_t (*in)[10], uint64_t (*out)[4], const void* ctx) {
  const bool bf16 = *static_cast<const bool*>(ctx);
  float A[16][16], B[16][8], C[16][8];
  auto lo = [](uint64_t w) { return static_cast<uint16_t>(w & 0xffff); };
  auto hi = [](uint64_t w) { return static_cast<uint16_t>((w >> 16) & 0xffff); };
  for (int l = 0; l < 32; ++l) {
    const int g = l >> 2, t = (l & 3) * 2;
    const uint64_t* w = in[l];
    A[g][t] = half_value(lo(w[0]), bf16), A[g][t + 1] = half_value(hi(w[0]), bf16);
    A[g + 8][t] = half_value(lo(w[1]), bf16), A[g + 8][t + 1] = half_value(hi(w[1]), bf16);
    A[g][t + 8] = half_value(lo(w[2]), bf16), A[g][t + 9] = half_value(hi(w[2]), bf16);
    A[g + 8][t + 8] = half_value(lo(w[3]), bf16), A[g + 8][t + 9] = half_value(hi(w[3]), bf16);
    B[t][g] = half_value(lo(w[4]), bf16), B[t + 1][g] = half_value(hi(w[4]), bf16);
    B[t + 8][g] = half_value(lo(w[5]), bf16), B[t + 9][g] = half_value(hi(w[5]), bf16);
    C[g][t] = from_bits<float>(w[6]), C[g][t + 1] = from_bits<float>(w[7]);
    C[g + 8][t] = from_bits<float>(w[8]), C[g + 8][t + 1] = from_bits<float>(w[9]);
  }
  float D[16][8];
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < 8; ++c) {
      float acc = C[r][c];
      for (int k = 0; k < 16; ++k) acc += A[r][k] * B[k][c];  // 16-bit products are exact in float
      D[r][c] = acc;
    }
  for (int l = 0; l < 32; ++l) {
    const int g = l >> 2, t = (l & 3) * 2;
    out[l][0] = bits_of(D[g][t]), out[l][1] = bits_of(D[g][t + 1]), out[l][2] = bits_of(D[g + 8][t]), out[l][3] = bits_of(D[g + 8][t + 1]);
  }
}

// in[l]: lane l's row address and access site; runs as the warp's last lane, reads as each lane.
void ldmatrix_compute(const uint64_t (*in)[10], uint64_t (*out)[4], const void* ctx) {
  const bool trans = *static_cast<const bool*>(ctx);
  const unsigned warp = g_cur->tid / 32;
  uint16_t M[4][8][8];
  for (int l = 0; l < 32; ++l) {
    const uint32_t addr = static_cast<uint32_t>(in[l][0]);
    if (addr % 16) fault("ldmatrix: lane %d's row address 0x%x is not 16-byte aligned", l, addr);
    const uint8_t* row = shared_ptr(addr, 16);
    race::read(warp * 32 + l, addr, 16, static_cast<uint16_t>(in[l][1]));
    std::memcpy(M[l / 8][l % 8], row, 16);
  }
  for (int l = 0; l < 32; ++l)
    for (int i = 0; i < 4; ++i) {
      const int r = l / 4, c = 2 * (l % 4);
      const uint32_t a = trans ? M[i][c][r] : M[i][r][c], b = trans ? M[i][c + 1][r] : M[i][r][c + 1];
      out[l][i] = a | (b << 16);
    }
}

// in[l]: lane l's row address, access site and its four fragment words; writes as each address-giving lane.
void stmatrix_compute(const uint64_t (*in)[10], uint64_t (*)[4], const void*) {
  const unsigned warp = g_cur->tid / 32;
  for (int l = 0; l < 32; ++l) {
    const uint32_t addr = static_cast<uint32_t>(in[l][0]);
    if (addr % 16) fault("stmatrix: lane %d's row address 0x%x is not 16-byte aligned", l, addr);
    check_shared_write(addr, 16, "stmatrix");
    race::write(warp * 32 + l, addr, 16, static_cast<uint16_t>(in[l][1]));
    const int i = l / 8, row = l % 8;
    uint32_t words[4];
    for (int q = 0; q < 4; ++q) words[q] = static_cast<uint32_t>(in[4 * row + q][2 + i]);  // lane 4·row + q holds columns 2q, 2q + 1
    std::memcpy(shared_ptr(addr, 16), words, 16);
  }
}

}  // namespace

void stmatrix_x4(uint32_t addr, const uint32_t (&r)[4], uint16_t site) {
  const uint64_t in[6] = {addr, site, r[0], r[1], r[2], r[3]};
  uint64_t out[4];
  warp_collective(kStmatrix, in, 6, out, stmatrix_compute, nullptr);
}

EmuDim3 thread_idx() { return {g_cur->tid, 0, 0}; }
unsigned lane() { return g_cur->tid & 31; }

void fault(const char* fmt, ...) {
  if (!g_faulted) {
    va_list ap;
    va_start(ap, fmt);
    const int n = g_cur ? std::snprintf(g_fault, sizeof g_fault, "block (%u, %u, %u) thread %u: ", g_block_idx.x, g_block_idx.y, g_block_idx.z, g_cur->tid)
                        : std::snprintf(g_fault, sizeof g_fault, "block (%u, %u, %u): ", g_block_idx.x, g_block_idx.y, g_block_idx.z);
    std::vsnprintf(g_fault + n, sizeof g_fault - n, fmt, ap);
    va_end(ap);
  }
  g_faulted = true;
  if (!g_cur) std::longjmp(g_sched_jmp, 1);  // raised by the scheduler itself (a late TMA landing, the exit checks)
  swapcontext(&g_cur->ctx, &g_sched);
  std::abort();  // a faulted fiber is never resumed
}

uint8_t* shared_ptr(uint32_t addr, uint32_t bytes) {
  if (addr >= kClusterAddr) fault("shared::cta access at 0x%x: a shared::cluster address (mapa) used as this CTA's own", addr);
  if (static_cast<uint64_t>(addr) + bytes > g_cta.window_bytes)
    fault("shared access [%u, +%u) past the %u B of shared memory (%u B dynamic)", addr, bytes, g_cta.window_bytes, g_cta.smem_bytes);
  return g_cta.smem + addr;
}

uint32_t dynamic_smem_bytes() { return g_cta.smem_bytes; }

uint32_t static_shared(uint32_t bytes, int key) {
  for (const auto& [k, addr, n] : g_cta.statics)
    if (k == static_cast<uint32_t>(key)) {
      if (n != bytes) fault("the static shared array declared at line %d: %u B, then %u B in the same CTA", key, n, bytes);
      return addr;
    }
  const uint32_t addr = (g_cta.window_bytes + 15) & ~15u;
  if (static_cast<uint64_t>(addr) + bytes > kSmemCap) fault("a static shared array of %u B past the emulator's %u B of shared memory", bytes, kSmemCap);
  std::memset(g_cta.smem + addr, 0xff, bytes);  // garbage, as on a GPU
  g_cta.window_bytes = addr + bytes;
  g_cta.statics.push_back({static_cast<uint32_t>(key), addr, bytes});
  return addr;
}

void shared_load(uint32_t addr, void* out, uint32_t bytes, uint16_t site) {
  if (addr % bytes) fault("a %u-byte shared load at 0x%x: misaligned", bytes, addr);
  const uint8_t* p = shared_ptr(addr, bytes);
  race::read(g_cur->tid, addr, bytes, site);
  std::memcpy(out, p, bytes);
}

void shared_store(uint32_t addr, const void* in, uint32_t bytes, uint16_t site) {
  if (addr % bytes) fault("a %u-byte shared store at 0x%x: misaligned", bytes, addr);
  uint8_t* p = shared_ptr(addr, bytes);
  check_shared_write(addr, bytes, bytes == 16 ? "st.shared.v4" : "st.shared");
  race::write(g_cur->tid, addr, bytes, site);
  std::memcpy(p, in, bytes);
}

void check_global(const void* p, uint32_t bytes, const char* what) {
  if (!fake_cuda_host_range_ok(p, bytes)) fault("%s of %u B at %p: not inside a live allocation", what, bytes, p);
}

void sync_threads() { bar_sync(0, static_cast<int>(g_cta.fibers.size())); }

// One thread's arrival at named barrier `id` (bar.sync waits for the barrier to complete, bar.arrive does not).
// Arrivals are counted per thread (the hardware counts a warp's as 32: the same for warp-uniform code).
namespace {
void bar_enter(int id, int count, bool wait) {
  const char* op = wait ? "bar.sync" : "bar.arrive";
  if (id < 0 || id >= 16) fault("%s %d: no such barrier", op, id);
  if (count % 32 || count <= 0 || count > static_cast<int>(g_cta.fibers.size())) fault("%s %d, %d: bad thread count", op, id, count);
  Barrier& b = g_cta.bars[id];
  if (b.arrived == 0) b.count = count;
  else if (b.count != count) fault("%s %d: %d threads expected by one, %d by another", op, id, b.count, count);
  if (wait) b.waiting.push_back(g_cur);
  b.known.merge(g_cur->known);
  race::release(g_cur->tid, b.clock);
  if (++b.arrived < count) {
    if (wait) block_current(kWaitBar, static_cast<uint32_t>(id));
    return;
  }
  for (Fiber* f : b.waiting) {
    f->blocked = false;
    f->known.merge(b.known);
    race::acquire(f->tid, b.clock);
  }
  b.waiting.clear();
  b.arrived = 0;
  b.known = Known{};
  b.clock = race::VClock{};
}
}  // namespace

void bar_sync(int id, int count) { bar_enter(id, count, true); }
void bar_arrive(int id, int count) { bar_enter(id, count, false); }

void warp_collective(int kind, const uint64_t* in, int n_in, uint64_t* out, WarpCompute compute, const void* ctx) {
  const unsigned warp = g_cur->tid / 32, l = g_cur->tid % 32;
  WarpSlot& w = g_cta.warps[warp];
  if (w.arrived == 0) w.kind = kind;
  else if (w.kind != kind) fault("warp %u: lanes at different collective instructions (%d and %d): divergence", warp, w.kind, kind);
  std::memcpy(w.in[l], in, sizeof(uint64_t) * n_in);
  if (++w.arrived < 32) {
    block_current(kWaitWarp, static_cast<uint32_t>(kind));
  } else {
    race::join_lanes(warp);  // the lanes met here (before compute: ldmatrix reads as each lane)
    compute(w.in, w.out, ctx);
    Known known;
    for (int k = 0; k < 32; ++k) known.merge(g_cta.fibers[warp * 32 + k].known);
    for (int k = 0; k < 32; ++k) {
      Fiber& f = g_cta.fibers[warp * 32 + k];
      std::memcpy(f.res, w.out[k], sizeof f.res);
      f.blocked = false;
      f.known = known;  // the lanes met here
    }
    w.arrived = 0;
  }
  std::memcpy(out, g_cur->res, sizeof g_cur->res);
}

void shfl_compute_xor(const uint64_t (*in)[10], uint64_t (*out)[4], const void*) {
  for (int l = 0; l < 32; ++l) out[l][0] = in[(l ^ static_cast<int>(in[l][1])) & 31][0];
}
void shfl_compute_idx(const uint64_t (*in)[10], uint64_t (*out)[4], const void*) {
  for (int l = 0; l < 32; ++l) out[l][0] = in[static_cast<int>(in[l][1]) & 31][0];
}

void mma_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1, bool bf16) {
  static const bool kBf16 = true, kF16 = false;
  const uint64_t in[10] = {a[0], a[1], a[2], a[3], b0, b1, bits_of(d[0]), bits_of(d[1]), bits_of(d[2]), bits_of(d[3])};
  uint64_t out[4];
  warp_collective(bf16 ? kMmaBf16 : kMmaF16, in, 10, out, mma_compute, bf16 ? &kBf16 : &kF16);
  for (int i = 0; i < 4; ++i) d[i] = from_bits<float>(out[i]);
}

void ldmatrix_x4(uint32_t (&r)[4], uint32_t addr, bool trans, uint16_t site) {
  static const bool kTrans = true, kPlain = false;
  const uint64_t in[2] = {addr, site};
  uint64_t out[4];
  warp_collective(trans ? kLdmatrixTrans : kLdmatrix, in, 2, out, ldmatrix_compute, trans ? &kTrans : &kPlain);
  for (int i = 0; i < 4; ++i) r[i] = static_cast<uint32_t>(out[i]);
}

// The copy lands at once; for the race detector it is in flight until this thread's cp_async_wait_all.
// cp.async of `size` bytes (16 or 8): both addresses `size`-aligned, the rest past src_bytes zero-filled
void cp_async(uint32_t dst, const void* src, int size, int src_bytes, uint16_t site) {
  if (dst % size) fault("cp.async to shared 0x%x: not %d-byte aligned", dst, size);
  check_shared_write(dst, static_cast<uint32_t>(size), "cp.async");
  uint8_t* d = shared_ptr(dst, static_cast<uint32_t>(size));
  race::cp_async(g_cur->tid, dst, static_cast<uint32_t>(size), site);
  if (src_bytes < 0 || src_bytes > size) fault("cp.async: src-size %d of %d", src_bytes, size);
  if (src_bytes > 0) {
    if (reinterpret_cast<uintptr_t>(src) % size) fault("cp.async from %p: not %d-byte aligned", src, size);
    check_global(src, static_cast<uint32_t>(src_bytes), "cp.async");
    std::memcpy(d, src, src_bytes);
  }
  std::memset(d + src_bytes, 0, size - src_bytes);
}

void cp_async_wait_all() { race::cp_async_wait(g_cur->tid); }


// ---- Hopper: mbarriers, TMA, wgmma ---------------------------------------------------------------------------

namespace {

uint64_t mbarrier_token(uint32_t addr) { return 0x6d626172'00000000ull ^ addr; }  // "mbar" ^ its address

Mbarrier& mbarrier_at(uint32_t bar, const char* op) {
  if (bar % 8) fault("%s: mbarrier address 0x%x is not 8-byte aligned", op, bar);
  uint8_t* p = shared_ptr(bar, 8);
  for (Mbarrier& m : g_cta.mbarriers)
    if (m.addr == bar) {
      uint64_t v;
      std::memcpy(&v, p, 8);
      if (v != mbarrier_token(bar)) fault("%s: the mbarrier at 0x%x was overwritten by an ordinary store or a TMA since its init", op, bar);
      return m;
    }
  fault("%s: no mbarrier was initialised at shared 0x%x", op, bar);
}

// A phase completes when every expected arrival has come and the transaction count is back at 0: the waiters of the
// phase wake (they re-check the parity) and the next phase expects `count` arrivals again.
void mbarrier_maybe_complete(Mbarrier& m) {
  if (m.pending != 0 || m.tx != 0) return;
  m.phase ^= 1;
  m.pending = m.count;
  m.completed = m.arriving;
  m.arriving = Known{};
  m.completed_clock.join(m.arriving_clock);
  m.arriving_clock = race::VClock{};
  for (Fiber* f : m.waiting) f->blocked = false;
  m.waiting.clear();
}

// A TMA load's bytes arrived: the phase knows the load (the race detector's epoch of its agent).
void mbarrier_complete_tx(uint32_t bar, uint32_t bytes, int agent, uint32_t epoch) {
  Mbarrier& m = mbarrier_at(bar, "complete_tx");
  m.tx -= bytes;
  m.arriving_clock.c[agent] = std::max(m.arriving_clock.c[agent], epoch);
  mbarrier_maybe_complete(m);
}

// Element (mn, k) of a wgmma operand in shared memory, from its matrix descriptor (PTX ISA, "Matrix Descriptor
// Format"; the canonical layouts of "Shared Memory Matrix Layout"). Only the 128B swizzle is modelled (the one the
// kernels use): K-major — 8-row groups SBO apart, rows of 128 B, k contiguous (LBO unused); MN-major — 64 mn
// contiguous per 128-byte row, the next 64 mn LBO on, 8 k rows of 128 B, the next 8 k SBO on. The swizzle then XORs
// the 16-byte chunk (address bits 4–6) with the row within the 1024-byte pattern (bits 7–9), as TMA wrote it.
struct Operand {
  uint32_t start, lbo, sbo;
  bool mn_major;
};
Operand decode_desc(uint64_t desc, bool mn_major, int k_extent_bytes, const char* which) {
  const uint32_t start = static_cast<uint32_t>(desc & 0x3fff) << 4, lbo = static_cast<uint32_t>((desc >> 16) & 0x3fff) << 4;
  const uint32_t sbo = static_cast<uint32_t>((desc >> 32) & 0x3fff) << 4, base_offset = static_cast<uint32_t>((desc >> 49) & 7);
  const unsigned swizzle = static_cast<unsigned>(desc >> 62);
  if (swizzle != 1) fault("wgmma %s descriptor 0x%llx: swizzle mode %u (the emulator models the 128B swizzle only)", which, static_cast<unsigned long long>(desc), swizzle);
  if (base_offset != 0) fault("wgmma %s descriptor 0x%llx: base offset %u (not modelled)", which, static_cast<unsigned long long>(desc), base_offset);
  if (!mn_major && (start & 127) + k_extent_bytes > 128) fault("wgmma %s descriptor: K-major start 0x%x puts the k16 step across a 128-byte swizzle row", which, start);
  if (mn_major && start % 128) fault("wgmma %s descriptor: MN-major start 0x%x is not at a 128-byte row", which, start);
  return {start, lbo, sbo, mn_major};
}
// (bytes: the element size, 2 or — K-major only, the e4m3 wgmma's operands — 1)
uint32_t operand_addr(const Operand& o, int mn, int k, int bytes = 2) {
  const uint32_t lin = o.mn_major ? o.start + (mn / 64) * o.lbo + (mn % 64) * 2 + (k / 8) * o.sbo + (k % 8) * 128
                                  : o.start + (mn / 8) * o.sbo + (mn % 8) * 128 + k * bytes;
  return lin ^ (((lin >> 7) & 7) << 4);
}
float operand_at(const Operand& o, int mn, int k, bool bf16) {
  uint16_t h;
  std::memcpy(&h, shared_ptr(operand_addr(o, mn, k), 2), 2);
  return half_value(h, bf16);
}

// D (64 × n) = A (64 × K) · B (K × n) [+ D] into the threads' accumulators: thread t holds, like an m16n8 C fragment per
// n8 tile, rows 16·(t / 32) + g and + 8 (g = lane / 4) and columns 8·i + 2·(lane % 4) + {0, 1}: d[4i + 2h + e]. Bt[col · K + k].
template <int K>
void accumulate_d(const WgmmaSlot& w, const float (*A)[K], const float* Bt) {
  for (int t = 0; t < 128; ++t) {
    const int g = (t % 32) / 4, q = t % 4, row0 = 16 * (t / 32) + g;
    float* d = w.d[t];
    for (int i = 0; i < w.n / 2; ++i) {
      const int row = row0 + 8 * ((i >> 1) & 1), col = 8 * (i >> 2) + 2 * q + (i & 1);
      float acc = w.scale_d ? d[i] : 0.f;
      for (int k = 0; k < K; ++k) acc += A[row][k] * Bt[col * K + k];
      d[i] = acc;
    }
  }
}

// An e4m3 code's value (1 sign, 4 exponent bits biased 7, 3 mantissa bits; 0x7f / 0xff NaN, no infinities).
float e4m3_code_value(uint8_t c) {
  if ((c & 0x7f) == 0x7f) return NAN;
  const int e = (c >> 3) & 15, m = c & 7;
  const float v = e == 0 ? std::ldexp(m / 8.f, -6) : std::ldexp(1.f + m / 8.f, e - 7);
  return (c & 0x80) ? -v : v;
}
// e4m3 × e4m3, k32 (wgmma_e4m3): A from registers, the 8-bit A fragment — register x of thread t holds row
// 16·(t / 32) + g + 8·(x & 1), k 4·q + 16·(x >> 1) + j in byte j (g = lane / 4, q = lane % 4); B K-major in shared
// memory, k byte-contiguous. The products are exact in float; the sums run in float here (the tensor core's own
// accumulation keeps fewer bits: scripts/e4m3-wgmma-probe.cu measures it).
void wgmma_compute_e4m3(const WgmmaSlot& w) {
  const int n = w.n;
  float A[64][32];
  for (int t = 0; t < 128; ++t) {
    const int row = 16 * (t / 32) + (t % 32) / 4, q = t % 4;
    for (int x = 0; x < 4; ++x) {
      const uint32_t r = w.a_regs[t][x];
      for (int j = 0; j < 4; ++j) A[row + 8 * (x & 1)][4 * q + 16 * (x >> 1) + j] = e4m3_code_value(static_cast<uint8_t>(r >> (8 * j)));
    }
  }
  const Operand b = decode_desc(w.b, false, 32, "B");
  std::vector<float> Bt(static_cast<size_t>(n) * 32);  // Bt[col * 32 + k]
  for (int c = 0; c < n; ++c)
    for (int k = 0; k < 32; ++k) {
      uint8_t code;
      std::memcpy(&code, shared_ptr(operand_addr(b, c, k, 1), 1), 1);
      Bt[c * 32 + k] = e4m3_code_value(code);
    }
  accumulate_d(w, A, Bt.data());
}

// 16-bit, k16: an A fragment from registers is m16n8k16's — a0 (row g, k 2q..2q+1), a1 (row g+8, same k), a2 / a3 (k + 8).
void wgmma_compute(const WgmmaSlot& w) {
  if (w.e4m3) return wgmma_compute_e4m3(w);
  const int n = w.n;
  float A[64][16];
  std::vector<float> Bt(static_cast<size_t>(n) * 16);  // Bt[col * 16 + k]
  if (w.rs) {
    for (int t = 0; t < 128; ++t) {
      const int row = 16 * (t / 32) + (t % 32) / 4, q = t % 4;
      for (int x = 0; x < 4; ++x) {
        const uint32_t r = w.a_regs[t][x];
        const int rr = row + 8 * (x & 1), kk = 2 * q + 8 * (x >> 1);
        A[rr][kk] = half_value(static_cast<uint16_t>(r & 0xffff), w.bf16);
        A[rr][kk + 1] = half_value(static_cast<uint16_t>(r >> 16), w.bf16);
      }
    }
  } else {
    const Operand a = decode_desc(w.a, w.tnsp_a, 32, "A");
    for (int m = 0; m < 64; ++m)
      for (int k = 0; k < 16; ++k) A[m][k] = operand_at(a, m, k, w.bf16);
  }
  const Operand b = decode_desc(w.b, w.tnsp_b, 32, "B");
  for (int c = 0; c < n; ++c)
    for (int k = 0; k < 16; ++k) Bt[c * 16 + k] = operand_at(b, c, k, w.bf16);
  accumulate_d(w, A, Bt.data());  // (16-bit products are exact in float)
}

// The 16-byte chunk at shared address a of a TMA box after the swizzle (mode 1/2/3: 32/64/128 B), XORing address
// bits 4.. with bits 7.., as the hardware does on the absolute shared address.
// The shared bytes each of a wgmma's operands spans: {A lo, A hi, B lo, B hi}, in whole 128-byte rows (the swizzle
// moves chunks within rows); A from registers spans nothing.
std::array<uint32_t, 4> operand_span(const WgmmaSlot& w) {
  auto span = [&](const Operand& o, int mn_extent, uint32_t* r) {
    r[0] = UINT32_MAX, r[1] = 0;
    for (int mn = 0; mn < mn_extent; ++mn)
      for (int k = 0; k < 16; ++k) {
        const uint32_t a = operand_addr(o, mn, k);
        r[0] = std::min(r[0], a & ~127u), r[1] = std::max(r[1], (a | 127u) + 1);
      }
  };
  std::array<uint32_t, 4> r = {0, 0, 0, 0};
  if (!w.rs) span(decode_desc(w.a, w.tnsp_a, 32, "A"), 64, &r[0]);
  span(decode_desc(w.b, w.tnsp_b, 32, "B"), w.n, &r[2]);
  return r;
}

// The race detector's view of a wgmma: at its issue every warp of the warpgroup reads its shared operands' 16-byte
// chunks (K-major: 8 k of one row; MN-major: 8 mn of one k), checked against what the warpgroup's threads know.
void race_operand_reads(unsigned wg, const WgmmaSlot& w) {
  if (!g_modes.racecheck) return;
  const race::VClock known = race::warpgroup_clock(wg);
  auto read = [&](const Operand& o, int mn_extent, uint16_t site) {
    for (int mn = 0; mn < mn_extent; mn += o.mn_major ? 8 : 1)
      for (int k = 0; k < 16; k += o.mn_major ? 1 : 8) race::group_read(wg, known, operand_addr(o, mn, k) & ~15u, 16, site);
  };
  if (!w.rs) read(decode_desc(w.a, w.tnsp_a, 32, "A"), 64, access_site(kAccWgmmaA, "its warpgroup's wgmma", 0));
  read(decode_desc(w.b, w.tnsp_b, 32, "B"), w.n, access_site(kAccWgmmaB, "its warpgroup's wgmma", 0));
}

uint32_t tma_swizzle(uint32_t a, unsigned mode) { return mode ? a ^ (((a >> 7) & ((1u << mode) - 1)) << 4) : a; }

// The bytes of a TMA load reach shared memory, then its mbarrier's transaction count drops by them.
void tma_land(const TmaLoad& load) {
  for (const auto& [addr, bytes] : load.chunks) std::memcpy(shared_ptr(addr, 16), bytes.data(), 16);
  mbarrier_complete_tx(load.bar, load.bytes, load.agent, load.epoch);
}

}  // namespace

void mbarrier_init(uint32_t bar, uint32_t count, uint16_t site) {
  if (bar % 8) fault("mbarrier.init: address 0x%x is not 8-byte aligned", bar);
  if (count == 0 || count >= (1u << 20)) fault("mbarrier.init: count %u", count);
  const uint64_t token = mbarrier_token(bar);
  uint8_t* p = shared_ptr(bar, 8);
  race::write(g_cur->tid, bar, 8, site);  // (arrive and wait are synchronisation, not data accesses)
  std::memcpy(p, &token, 8);
  for (Mbarrier& m : g_cta.mbarriers)
    if (m.addr == bar) {
      if (!m.waiting.empty()) fault("mbarrier.init at 0x%x while threads wait on it", bar);
      m = Mbarrier{};
      m.addr = bar, m.count = m.pending = count;
      return;
    }
  Mbarrier m;
  m.addr = bar, m.count = m.pending = count;
  g_cta.mbarriers.push_back(m);
}

namespace {
// One arrival (after tx-count += bytes): the arriving thread's knowledge goes into the phase. An arrival beyond the
// phase's count (it is waiting for transaction bytes only) would make the pending count negative: undefined
// behaviour on the GPU, a fault here.
void mbarrier_arrive_tx(uint32_t bar, uint32_t bytes, const char* op) {
  Mbarrier& m = mbarrier_at(bar, op);
  if (m.pending == 0) fault("%s at 0x%x: an arrival its phase does not expect (all %u arrivals came, %lld tx bytes outstanding)", op, bar, m.count, static_cast<long long>(m.tx));
  m.arriving.merge(g_cur->known);
  race::release(g_cur->tid, m.arriving_clock);
  m.tx += bytes;
  --m.pending;
  mbarrier_maybe_complete(m);
}
}  // namespace

void mbarrier_arrive_expect_tx(uint32_t bar, uint32_t bytes) { mbarrier_arrive_tx(bar, bytes, "mbarrier.arrive.expect_tx"); }
void mbarrier_arrive(uint32_t bar) { mbarrier_arrive_tx(bar, 0, "mbarrier.arrive"); }

// try_wait.parity P succeeds once the phase of parity P has completed, i.e. while the current phase's parity is not P.
void mbarrier_wait(uint32_t bar, uint32_t parity) {
  for (;;) {
    Mbarrier& m = mbarrier_at(bar, "mbarrier.try_wait.parity");
    if (m.phase != (parity & 1)) {
      g_cur->known.merge(m.completed);
      race::acquire(g_cur->tid, m.completed_clock);
      return;
    }
    m.waiting.push_back(g_cur);
    block_current(kWaitMbarrier, bar, parity & 1);
  }
}

bool mbarrier_test_wait(uint32_t bar, uint32_t parity) {
  Mbarrier& m = mbarrier_at(bar, "mbarrier.test_wait.parity");
  if (m.phase == (parity & 1)) return false;
  g_cur->known.merge(m.completed);
  race::acquire(g_cur->tid, m.completed_clock);
  return true;
}

void tma_load(uint32_t dst, const void* tmap, uint32_t bar, const int* coords, int rank, uint16_t site) {
  FakeTensorMap m;
  std::memcpy(&m, tmap, sizeof m);
  if (m.magic != FAKE_TMAP_MAGIC) fault("cp.async.bulk.tensor: the tensor map was not written by cuTensorMapEncodeTiled");
  if (static_cast<int>(m.rank) != rank) fault("cp.async.bulk.tensor.%dd with a tensor map of rank %u", rank, m.rank);
  if (m.interleave) fault("cp.async.bulk.tensor: interleaved tensor maps are not modelled");
  for (int i = 0; i < rank; ++i)
    if (m.elem_strides[i] != 1) fault("cp.async.bulk.tensor: element strides other than 1 are not modelled");
  if (dst % 128) fault("cp.async.bulk.tensor: shared destination 0x%x is not 128-byte aligned", dst);
  uint64_t rows = 1;
  for (int i = 1; i < rank; ++i) rows *= m.box[i];
  const uint32_t row_bytes = m.box[0] * m.elem_bytes, bytes = static_cast<uint32_t>(rows * row_bytes);
  shared_ptr(dst, bytes);  // the whole box inside shared memory
  check_shared_write(dst, bytes, "a TMA load");
  TmaLoad load;
  load.bar = bar, load.bytes = bytes;
  for (uint64_t r = 0; r < rows; ++r) {
    // this row's coordinates in dims 1.. (the box's rows in order, dim 1 fastest)
    int64_t off = 0;
    bool in = true;
    uint64_t rest = r;
    for (int i = 1; i < rank; ++i) {
      const int64_t c = static_cast<int64_t>(coords[i]) + static_cast<int64_t>(rest % m.box[i]);
      rest /= m.box[i];
      if (c < 0 || c >= static_cast<int64_t>(m.dims[i])) in = false;
      off += c * static_cast<int64_t>(m.strides[i - 1]);
    }
    uint8_t row[256 * 8];
    std::memset(row, m.oob_fill ? 0xff : 0, row_bytes);  // out-of-range elements: zeros (or NaN with the NaN fill)
    if (in) {
      // the elements of this row inside dim 0
      const int64_t lo = std::max<int64_t>(coords[0], 0), hi = std::min<int64_t>(static_cast<int64_t>(coords[0]) + m.box[0], static_cast<int64_t>(m.dims[0]));
      if (lo < hi) {
        const uint8_t* src = reinterpret_cast<const uint8_t*>(static_cast<uintptr_t>(m.address)) + off + lo * m.elem_bytes;
        const uint32_t n = static_cast<uint32_t>((hi - lo) * m.elem_bytes);
        check_global(src, n, "cp.async.bulk.tensor");
        std::memcpy(row + (lo - coords[0]) * m.elem_bytes, src, n);
      }
    }
    for (uint32_t c = 0; c < row_bytes; c += 16) {
      const uint32_t a = tma_swizzle(dst + static_cast<uint32_t>(r) * row_bytes + c, m.swizzle);
      load.chunks.emplace_back(a, std::array<uint8_t, 16>{});
      std::memcpy(load.chunks.back().second.data(), row + c, 16);
    }
  }
  mbarrier_at(bar, "cp.async.bulk.tensor");  // a barrier that exists now
  // the race detector: the chunks are written by the mbarrier's async agent, ordered after what the issuer did
  load.agent = race::async_agent(bar);
  load.epoch = race::async_epoch(load.agent);
  for (const auto& chunk : load.chunks) race::async_write(g_cur->tid, chunk.first, 16, load.agent, load.epoch, site);
  if (g_modes.tma_late) g_cta.tma_in_flight.push_back(std::move(load));
  else tma_land(load);
}

void bulk_load(uint32_t dst, const void* src, uint32_t bytes, uint32_t bar, uint16_t site) {
  if (dst % 16 || reinterpret_cast<uintptr_t>(src) % 16 || bytes % 16 || bytes == 0)
    fault("cp.async.bulk: shared 0x%x, global %p, %u bytes: each must be a (nonzero) multiple of 16", dst, src, bytes);
  shared_ptr(dst, bytes);
  check_shared_write(dst, bytes, "a bulk copy");
  check_global(src, bytes, "cp.async.bulk");
  TmaLoad load;
  load.bar = bar, load.bytes = bytes;
  for (uint32_t c = 0; c < bytes; c += 16) {
    load.chunks.emplace_back(dst + c, std::array<uint8_t, 16>{});
    std::memcpy(load.chunks.back().second.data(), static_cast<const uint8_t*>(src) + c, 16);
  }
  mbarrier_at(bar, "cp.async.bulk");
  load.agent = race::async_agent(bar);
  load.epoch = race::async_epoch(load.agent);
  for (const auto& chunk : load.chunks) race::async_write(g_cur->tid, chunk.first, 16, load.agent, load.epoch, site);
  if (g_modes.tma_late) g_cta.tma_in_flight.push_back(std::move(load));
  else tma_land(load);
}

// ---- clusters ---------------------------------------------------------------------------------------------------

namespace {
// The CTA a shared::cluster address names and its shared::cta address there (a CTA's own shared::cta addresses are
// also its shared::cluster ones).
unsigned cluster_target(uint32_t a, uint32_t* local, const char* op) {
  if (a < kClusterAddr) {
    *local = a;
    return g_ctap->rank;
  }
  const unsigned r = a / kClusterAddr - 1;
  if (r >= g_cluster) fault("%s: shared::cluster address 0x%x names CTA %u of a cluster of %u", op, a, r, g_cluster);
  *local = a % kClusterAddr;
  return r;
}
}  // namespace

unsigned cluster_ctarank() { return g_ctap->rank; }

uint32_t mapa_shared(uint32_t addr, uint32_t rank) {
  if (addr >= kClusterAddr) fault("mapa.shared::cluster of 0x%x: not a shared::cta address", addr);
  if (rank >= g_cluster) fault("mapa.shared::cluster: CTA rank %u in a cluster of %u", rank, g_cluster);
  return (rank + 1) * kClusterAddr + addr;
}

// One arrival on an mbarrier of (possibly) another CTA: what the arriving thread knows goes into that phase.
void mbarrier_arrive_remote(uint32_t bar) {
  uint32_t local;
  const unsigned r = cluster_target(bar, &local, "mbarrier.arrive.shared::cluster");
  enter_target(r);
  mbarrier_arrive_tx(local, 0, "mbarrier.arrive.shared::cluster");
  leave_target();
}

// Bytes sent into another CTA of the cluster (`dst`, `bar`: shared::cluster addresses), completing on its mbarrier:
// they land there like a TMA load (at once, or with late TMA when nothing else can run), written by that mbarrier's
// async agent after what the issuer knows; `release_issuer`: the phase they complete also orders the issuer's earlier
// accesses for its waiters. Returns the agent and epoch the bytes were written at.
static std::pair<int, uint32_t> send_to_cluster(uint32_t dst, const uint8_t* from, uint32_t bytes, uint32_t bar, uint16_t site, const char* what, bool release_issuer) {
  uint32_t dl, bl;
  const unsigned r = cluster_target(dst, &dl, what), rb = cluster_target(bar, &bl, what);
  if (r != rb) fault("%s: destination in CTA %u, its mbarrier in CTA %u", what, r, rb);
  TmaLoad load;
  load.bar = bl, load.bytes = bytes, load.rank = r;
  for (uint32_t c = 0; c < bytes; c += 16) {
    load.chunks.emplace_back(dl + c, std::array<uint8_t, 16>{});
    std::memcpy(load.chunks.back().second.data(), from + c, 16);
  }
  enter_target(r);
  shared_ptr(dl, bytes);
  check_shared_write(dl, bytes, (std::string(what) + " from another CTA").c_str());
  Mbarrier& m = mbarrier_at(bl, what);
  if (release_issuer) race::release(g_cur->tid, m.arriving_clock);
  load.agent = race::async_agent(bl);
  load.epoch = race::async_epoch(load.agent);
  for (const auto& chunk : load.chunks) race::async_write(g_cur->tid, chunk.first, 16, load.agent, load.epoch, site);
  const std::pair<int, uint32_t> written{load.agent, load.epoch};
  if (g_modes.tma_late) g_cta.tma_in_flight.push_back(std::move(load));
  else tma_land(load);
  leave_target();
  return written;
}

// cp.async.bulk.shared::cluster.shared::cta: the bytes are taken at issue (the emulator's copy), but the source counts
// as read by the copy until it lands: only a thread that learnt that completion (a wait on the peer's mbarrier, or from
// one who waited) may write those bytes again. Its phase orders the issuer's accesses before it for the waiters.
void bulk_push(uint32_t dst, uint32_t src, uint32_t bytes, uint32_t bar, uint16_t site) {
  if (dst % 16 || src % 16 || bytes % 16 || bytes == 0)
    fault("cp.async.bulk.shared::cluster: destination 0x%x, source 0x%x, %u bytes: each must be a (nonzero) multiple of 16", dst, src, bytes);
  const auto [agent, epoch] = send_to_cluster(dst, shared_ptr(src, bytes), bytes, bar, site, "cp.async.bulk.shared::cluster", true);
  race::async_read(g_cur->tid, src, bytes, agent, epoch, site);
}

// st.async.v4 (a weak store: its completion orders only its own 16 bytes for the phase's waiters).
void st_async(uint32_t dst, const void* data, uint32_t bar, uint16_t site) {
  if (dst % 16) fault("st.async.v4 at 0x%x: not 16-byte aligned", dst);
  send_to_cluster(dst, static_cast<const uint8_t*>(data), 16, bar, site, "st.async", false);
}

// barrier.cluster.arrive.release + barrier.cluster.wait.acquire: every thread of the cluster arrives, then all go on.
void cluster_sync() {
  Barrier& b = g_cluster_bar;
  const int count = static_cast<int>(g_cluster * g_cta_threads);
  b.waiting.push_back(g_cur);
  b.known.merge(g_cur->known);
  race::release(g_cur->tid, b.clock);
  if (++b.arrived < count) {
    block_current(kWaitBar, kClusterBarrierId);
    return;
  }
  for (Fiber* f : b.waiting) {
    f->blocked = false;
    f->known.merge(b.known);
    enter_cta(f->rank);
    race::acquire(f->tid, b.clock);
  }
  enter_cta(g_cur->rank);
  b.waiting.clear();
  b.arrived = 0;
  b.known = Known{};
  b.clock = race::VClock{};
}

// expect_tx: the phase waits for `bytes` more; no arrival (and no synchronisation: relaxed).
void mbarrier_expect_tx(uint32_t bar, uint32_t bytes) {
  Mbarrier& m = mbarrier_at(bar, "mbarrier.expect_tx");
  m.tx += bytes;
}

namespace {
void wgmma_gather(int n, bool bf16, bool e4m3, float* d, uint64_t a_desc, const uint32_t* a_regs, uint64_t b_desc, bool tnsp_a, bool tnsp_b, int scale_d) {
  const unsigned wg = g_cur->tid / 128, t = g_cur->tid % 128;
  if (wg >= g_cta.wgmmas.size()) fault("wgmma: warpgroup %u is not whole (%zu threads)", wg, g_cta.fibers.size());
  WgmmaSlot& w = g_cta.wgmmas[wg];
  const bool rs = a_regs != nullptr;
  if (w.arrived == 0) {
    w.n = n, w.bf16 = bf16, w.e4m3 = e4m3, w.a = rs ? 0 : a_desc, w.b = b_desc, w.tnsp_a = tnsp_a, w.tnsp_b = tnsp_b, w.rs = rs, w.scale_d = scale_d != 0;
  } else if (w.n != n || w.bf16 != bf16 || w.e4m3 != e4m3 || w.rs != rs || w.a != (rs ? 0 : a_desc) || w.b != b_desc || w.tnsp_a != tnsp_a || w.tnsp_b != tnsp_b ||
             w.scale_d != (scale_d != 0)) {
    fault("warpgroup %u: threads at different wgmma instructions or operands (n %d / %d, descriptors 0x%llx 0x%llx / 0x%llx 0x%llx, scale-d %d / %d): divergence", wg, w.n, n,
          static_cast<unsigned long long>(w.a), static_cast<unsigned long long>(w.b), static_cast<unsigned long long>(a_desc), static_cast<unsigned long long>(b_desc), w.scale_d, scale_d != 0);
  }
  w.d[t] = d;
  w.a_regs[t] = a_regs;
  ++g_cta.issued[g_cur->tid];
  if (++w.arrived < 128) {
    block_current(kWaitWgmma, wg);
    return;
  }
  WgmmaQueue& q = g_cta.wgmma_queues[wg];
  q.reads.push_back(operand_span(w));
  race_operand_reads(wg, w);
  // late: the registers are read when computed — the kernel may not touch them before the wait that covers this
  if (g_modes.wgmma_at_wait) q.ops.push_back(w);
  else wgmma_compute(w);
  for (unsigned k = 0; k < 128; ++k) g_cta.fibers[wg * 128 + k].blocked = false;
  w.arrived = 0;
}
}  // namespace

void wgmma(int n, bool bf16, float* d, uint64_t a_desc, const uint32_t* a_regs, uint64_t b_desc, bool tnsp_a, bool tnsp_b, int scale_d) {
  wgmma_gather(n, bf16, false, d, a_desc, a_regs, b_desc, tnsp_a, tnsp_b, scale_d);
}
void wgmma_e4m3(int n, float* d, const uint32_t* a_regs, uint64_t b_desc, int scale_d) { wgmma_gather(n, false, true, d, 0, a_regs, b_desc, false, false, scale_d); }

void wgmma_commit() { g_cta.commits[g_cur->tid].push_back(g_cta.issued[g_cur->tid]); }

// wgmma.wait_group n: every group of this thread but the n newest is complete (with late wgmma: computed now), and
// this thread knows it.
void wgmma_wait(int n) {
  const std::vector<size_t>& c = g_cta.commits[g_cur->tid];
  if (static_cast<int>(c.size()) <= n) return;
  const size_t upto = c[c.size() - 1 - n], wg = g_cur->tid / 128;
  g_cur->known.k[global_wg(wg)] = std::max(g_cur->known.k[global_wg(wg)], upto);
  if (!g_modes.wgmma_at_wait) return;  // computed at issue
  WgmmaQueue& q = g_cta.wgmma_queues[wg];
  for (; q.done < upto; ++q.done) wgmma_compute(q.ops[q.done]);
}

void check_shared_write(uint32_t addr, uint32_t bytes, const char* what) {
  const Known& known = g_cur->known;
  for (size_t g = 0; g < g_cta.wgmma_queues.size(); ++g) {
    const auto& reads = g_cta.wgmma_queues[g].reads;
    for (size_t i = known.k[global_wg(g)]; i < reads.size(); ++i)
      for (int o = 0; o < 4; o += 2)
        if (addr < reads[i][o + 1] && reads[i][o] < addr + bytes)
          fault("%s into shared [0x%x, +%u) while wgmma #%zu of warpgroup %zu, reading [0x%x, 0x%x) (its %s operand), may still run: no wgmma.wait_group covering it "
                "happened before this write, in this thread or in one it synchronised with since (a race on the GPU)", what, addr, bytes, i, g, reads[i][o], reads[i][o + 1], o ? "B" : "A");
  }
}

namespace {

const KernelEntry kDecodeEntries[] = {
#define PARAMS(i) (*static_cast<const MlaDecodeParams*>(args[i]))
#define LAYOUT(i) (*static_cast<const MlaLayoutParams*>(args[i]))
#define ARG(T, i) (*static_cast<T const*>(args[i]))
    {"mla_metadata", [](void* const* args) { mla_metadata(ARG(const int*, 0), ARG(int, 1), ARG(int, 2), ARG(int*, 3), ARG(int*, 4), ARG(int, 5), ARG(int, 6), ARG(int, 7), ARG(int, 8), ARG(int, 9)); }, true},
    {"mla_decode_generic_bf16", [](void* const* args) { mla_decode_generic_bf16(PARAMS(0)); }, true},
    {"mla_decode_generic_fp16", [](void* const* args) { mla_decode_generic_fp16(PARAMS(0)); }, true},
    {"mla_decode_generic_small_bf16", [](void* const* args) { mla_decode_generic_small_bf16(PARAMS(0)); }, true},
    {"mla_decode_generic_small_fp16", [](void* const* args) { mla_decode_generic_small_fp16(PARAMS(0)); }, true},
    {"mla_decode_generic_layout_d576_bf16", [](void* const* args) { mla_decode_generic_layout_d576_bf16(PARAMS(0), LAYOUT(1)); }, true},
    {"mla_decode_generic_layout_d576_fp16", [](void* const* args) { mla_decode_generic_layout_d576_fp16(PARAMS(0), LAYOUT(1)); }, true},
    {"mla_decode_generic_layout_d512_bf16", [](void* const* args) { mla_decode_generic_layout_d512_bf16(PARAMS(0), LAYOUT(1)); }, true},
    {"mla_decode_generic_layout_d512_fp16", [](void* const* args) { mla_decode_generic_layout_d512_fp16(PARAMS(0), LAYOUT(1)); }, true},
#undef PARAMS
#undef LAYOUT
#undef ARG
};

const KernelEntry* find_entry(const char* name) {
  for (const KernelEntry& e : kDecodeEntries)
    if (!std::strcmp(e.name, name)) return &e;
  for (auto entries : {combine_entries, sm90_entries, sm90_small_entries, fp8_entries, selftest_entries}) {
    int n = 0;
    const KernelEntry* c = entries(&n);
    for (int i = 0; i < n; ++i)
      if (!std::strcmp(c[i].name, name)) return &c[i];
  }
  return nullptr;
}

// Every unfinished thread waits and none can go on: say who waits on what, threads with the same wait grouped (as
// ranges of thread ids), e.g. "threads 0–127 at bar.sync 3 (128 of 256 arrived)"; in a cluster, per CTA.
void report_deadlock(unsigned threads) {
  std::string msg;
  char buf[256];
  for (unsigned r = 0; r < g_cluster; ++r) {
    enter_cta(r);
    int waiting = 0;
    for (Fiber& f : g_cta.fibers) waiting += !f.done;
    std::snprintf(buf, sizeof buf, "%sblock (%u, %u, %u): deadlock: %d of %u threads wait and none can go on (%u returned):", r ? " " : "", g_block_idx.x, g_block_idx.y,
                  g_block_idx.z, waiting, threads, threads - waiting);
    msg += buf;
    std::vector<bool> told(threads, false);
    for (unsigned t = 0; t < threads; ++t) {
      const Fiber& f = g_cta.fibers[t];
      if (f.done || told[t]) continue;
      std::string ranges;
      int n = 0;
      for (unsigned u = t; u < threads; ++u) {
        const Fiber& h = g_cta.fibers[u];
        if (h.done || told[u] || h.wait_kind != f.wait_kind || h.wait_a != f.wait_a || h.wait_b != f.wait_b) continue;
        unsigned v = u;
        while (v + 1 < threads && !g_cta.fibers[v + 1].done && !told[v + 1] && g_cta.fibers[v + 1].wait_kind == f.wait_kind && g_cta.fibers[v + 1].wait_a == f.wait_a &&
               g_cta.fibers[v + 1].wait_b == f.wait_b)
          ++v;
        for (unsigned x = u; x <= v; ++x) told[x] = true;
        n += static_cast<int>(v - u + 1);
        std::snprintf(buf, sizeof buf, u == v ? "%s%u" : "%s%u-%u", ranges.empty() ? "" : ",", u, v);
        ranges += buf;
        u = v;
      }
      switch (f.wait_kind) {
        case kWaitBar: {
          const Barrier& b = f.wait_a == kClusterBarrierId ? g_cluster_bar : g_cta.bars[f.wait_a];
          if (f.wait_a == kClusterBarrierId) std::snprintf(buf, sizeof buf, " at barrier.cluster (%d of %d arrived)", b.arrived, static_cast<int>(g_cluster * threads));
          else std::snprintf(buf, sizeof buf, " at bar.sync %u (%d of %d arrived)", f.wait_a, b.arrived, b.count);
          break;
        }
        case kWaitWarp: std::snprintf(buf, sizeof buf, " at a warp collective (kind %u) the rest of the warp never reaches", f.wait_a); break;
        case kWaitWgmma: std::snprintf(buf, sizeof buf, " at a wgmma (warpgroup %u, %d of 128 arrived)", f.wait_a, g_cta.wgmmas[f.wait_a].arrived); break;
        case kWaitMbarrier: {
          const Mbarrier* m = nullptr;
          for (const Mbarrier& x : g_cta.mbarriers)
            if (x.addr == f.wait_a) m = &x;
          std::snprintf(buf, sizeof buf, " on mbarrier 0x%x parity %u (current phase %u: %u of %u arrivals and %lld tx bytes pending)", f.wait_a, f.wait_b, m ? m->phase : 0,
                        m ? m->pending : 0, m ? m->count : 0, m ? static_cast<long long>(m->tx) : 0LL);
          break;
        }
        default: std::snprintf(buf, sizeof buf, " (nothing recorded)");
      }
      msg += (n == 1 ? " thread " : " threads ") + ranges + buf + ";";
    }
  }
  std::snprintf(g_fault, sizeof g_fault, "%s", msg.c_str());
  g_faulted = g_deadlock = true;
}

// One CTA, or the g_cluster CTAs of a cluster (blocks first.x … + g_cluster − 1 along x) together: their threads as
// fibers, run until every one has returned (or a fault / a deadlock ends the launch).
void run_cluster(unsigned threads, EmuDim3 first) {
  g_cta_threads = threads;
  const unsigned total = threads * g_cluster;
  race::begin_cta(total, g_modes.racecheck);
  g_cluster_bar = Barrier{};
  while (g_stacks.size() < total) g_stacks.push_back(static_cast<char*>(std::malloc(kStackBytes)));
  for (unsigned r = 0; r < g_cluster; ++r) {
    g_ctas[r].rank = r;
    g_ctas[r].smem = g_smem[r];
    g_ctas[r].block_idx = {first.x + r, first.y, first.z};
    g_ctas[r].entry = g_ctas[0].entry, g_ctas[r].args = g_ctas[0].args, g_ctas[r].smem_bytes = g_ctas[0].smem_bytes;
    enter_cta(r);
    g_cta.fibers.assign(threads, Fiber{});
    g_cta.warps.assign(threads / 32, WarpSlot{});
    g_cta.wgmmas.assign(threads / 128, WgmmaSlot{});
    g_cta.wgmma_queues.assign(threads / 128, WgmmaQueue{});
    g_cta.commits.assign(threads, {});
    g_cta.issued.assign(threads, 0);
    g_cta.mbarriers.clear();
    g_cta.tma_in_flight.clear();
    for (Barrier& b : g_cta.bars) b = Barrier{};
    g_cta.window_bytes = g_cta.smem_bytes;  // static arrays are placed as the kernel declares them
    g_cta.statics.clear();
    // garbage in shared memory, as on a GPU: NaN as bf16 or fp16 pairs and as fp32
    std::memset(g_cta.smem, 0xff, g_cta.smem_bytes);
    for (unsigned t = 0; t < threads; ++t) {
      Fiber& f = g_cta.fibers[t];
      f.tid = t, f.rank = r;
      getcontext(&f.ctx);
      f.ctx.uc_stack.ss_sp = g_stacks[r * threads + t];
      f.ctx.uc_stack.ss_size = kStackBytes;
      f.ctx.uc_link = &g_sched;
      makecontext(&f.ctx, fiber_main, 0);
    }
  }
  enter_cta(0);
  if (setjmp(g_sched_jmp)) return;  // a fault raised outside every fiber
  for (;;) {
    bool ran = false, all_done = true;
    for (unsigned i = 0; i < total; ++i) {
      const unsigned idx = g_modes.reverse ? total - 1 - i : i;
      Fiber& f = g_ctas[idx / threads].fibers[idx % threads];
      if (f.done) continue;
      all_done = false;
      if (f.blocked) continue;
      enter_cta(f.rank);
      g_cur = &f;
      ran = true;
      swapcontext(&g_sched, &f.ctx);
      if (g_faulted) return;
    }
    if (all_done) break;
    if (!ran) {
      // late TMA: a load lands (the oldest of the first CTA with one in flight) only now that nothing else can happen
      bool landed = false;
      for (unsigned r = 0; r < g_cluster && !landed; ++r) {
        if (g_ctas[r].tma_in_flight.empty()) continue;
        enter_cta(r);
        const TmaLoad load = std::move(g_cta.tma_in_flight.front());
        g_cta.tma_in_flight.erase(g_cta.tma_in_flight.begin());
        g_cur = nullptr;
        tma_land(load);
        landed = true;
      }
      if (landed) continue;
      report_deadlock(threads);
      return;
    }
  }
  // asynchronous work the CTA did not wait for: on a GPU it would write shared memory (or registers) of a finished CTA
  g_cur = nullptr;
  for (unsigned r = 0; r < g_cluster; ++r) {
    enter_cta(r);
    if (!g_cta.tma_in_flight.empty()) fault("the CTA exited with %zu TMA loads in flight (into shared 0x%x first)", g_cta.tma_in_flight.size(), g_cta.tma_in_flight.front().chunks.front().first);
    for (size_t wg = 0; wg < g_cta.wgmma_queues.size(); ++wg)
      if (g_cta.wgmma_queues[wg].done < g_cta.wgmma_queues[wg].ops.size()) fault("warpgroup %zu exited with wgmmas no wgmma.wait_group covered", wg);
  }
}

}  // namespace
}  // namespace emu

namespace emu {
namespace {
std::vector<std::pair<std::string, long long>> g_runs;  // launches run per entry point (fake_cuda_stat "emulated:…")
}
}  // namespace emu

extern "C" long long emu_runs(const char* name) {
  for (const auto& r : emu::g_runs)
    if (r.first == name) return r.second;
  return 0;
}

// 0: ran; 1: not a kernel the emulator has (nothing run); -1: the kernel faulted, -2: it deadlocked (message in err).
// cluster: the launch's cluster shape (null or {1, 1, 1}: none); the emulator runs clusters of up to kMaxCluster CTAs
// along x.
extern "C" int emu_launch(const char* name, const unsigned* grid, const unsigned* block, unsigned smem_bytes, void* const* args, const unsigned* cluster, char* err,
                          size_t err_cap) {
  using namespace emu;
  const KernelEntry* e = find_entry(name);
  if (!e) return 1;
  auto run = std::find_if(g_runs.begin(), g_runs.end(), [&](const auto& r) { return r.first == e->name; });
  if (run == g_runs.end()) run = g_runs.insert(g_runs.end(), {e->name, 0});
  ++run->second;
  if (block[1] != 1 || block[2] != 1 || block[0] % 32 || block[0] > 1024) {
    std::snprintf(err, err_cap, "%s: the emulator runs 1-D blocks of whole warps, got (%u, %u, %u)", name, block[0], block[1], block[2]);
    return -1;
  }
  if (smem_bytes > kSmemCap || (smem_bytes > 0 && !e->dynamic_smem)) {
    std::snprintf(err, err_cap, "%s: %u B of dynamic shared memory, the emulator has %u B for this kernel", name, smem_bytes, e->dynamic_smem ? kSmemCap : 0);
    return -1;
  }
  const unsigned cx = cluster ? cluster[0] : 1, cy = cluster ? cluster[1] : 1, cz = cluster ? cluster[2] : 1;
  if (cy != 1 || cz != 1 || cx < 1 || cx > kMaxCluster || grid[0] % cx) {
    std::snprintf(err, err_cap, "%s: the emulator runs clusters of up to %u CTAs along x dividing the grid, got cluster (%u, %u, %u), grid x %u", name, kMaxCluster, cx, cy, cz, grid[0]);
    return -1;
  }
  g_cluster = cx;
  g_ctas[0].entry = e;
  g_ctas[0].args = args;
  g_ctas[0].smem_bytes = smem_bytes;
  g_faulted = g_deadlock = false;
  const auto mode = [](const char* var, const char* dflt, const char* other) {
    const char* v = std::getenv(var);
    if (!v || !*v || !std::strcmp(v, dflt)) return 0;
    return std::strcmp(v, other) ? -1 : 1;
  };
  const int wgmma_mode = mode("FAKE_CUDA_EMU_WGMMA", "issue", "wait"), tma_mode = mode("FAKE_CUDA_EMU_TMA", "issue", "late"), order = mode("FAKE_CUDA_EMU_ORDER", "forward", "reverse");
  const int racecheck = mode("FAKE_CUDA_EMU_RACECHECK", "on", "off");
  if (wgmma_mode < 0 || tma_mode < 0 || order < 0 || racecheck < 0) {
    std::snprintf(err, err_cap, "%s: FAKE_CUDA_EMU_WGMMA must be issue or wait, FAKE_CUDA_EMU_TMA issue or late, FAKE_CUDA_EMU_ORDER forward or reverse, "
                  "FAKE_CUDA_EMU_RACECHECK on or off", name);
    return -1;
  }
  g_modes = {wgmma_mode == 1, tma_mode == 1, order == 1, racecheck == 0};
  for (unsigned z = 0; z < grid[2]; ++z)
    for (unsigned y = 0; y < grid[1]; ++y)
      for (unsigned x = 0; x < grid[0]; x += g_cluster) {
        run_cluster(block[0], {x, y, z});
        if (g_faulted) {
          std::snprintf(err, err_cap, "%s: %s", name, g_fault);
          return g_deadlock ? -2 : -1;
        }
      }
  return 0;
}
