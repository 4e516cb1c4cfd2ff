// The emulated CTA (emu_runtime.h) and the kernels it runs: kernels/mla_metadata.cu, mla_decode_generic.cu,
// mla_decode_generic_layout.cu and mla_decode_generic_small.cu compiled for the host (the combine is emu_combine.cpp:
// its static shared array needs another definition of __shared__). The fake driver built with FAKE_CUDA_EMULATE
// calls emu_launch() at a launch of one of these kernels. mla_metadata.cu reads %dynamic_smem_size with inline PTX:
// the build (test/util/fake-cuda.ts) replaces that one statement by emu::dynamic_smem_bytes().
#include <ucontext.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "emu_runtime.h"

#include "mla_metadata.cu"
#include "mla_decode_generic.cu"
#include "mla_decode_generic_layout.cu"
#include "mla_decode_generic_small.cu"

// the kernels' dynamic shared memory: `extern __shared__ … smem[]` declared in their functions
constexpr uint32_t kSmemCap = 232448;  // the largest opt-in of any GPU the library runs on
namespace mla::generic {
__attribute__((aligned(128))) uint8_t smem[kSmemCap];
}
namespace {
__attribute__((aligned(128))) uint8_t smem[kSmemCap];
}
__attribute__((aligned(128))) int s_seqlen[kSmemCap / 4];

extern "C" int fake_cuda_host_range_ok(const void* p, size_t n);  // test/util/fake-cuda.c

namespace emu {

EmuDim3 g_block_idx;

namespace {

constexpr size_t kStackBytes = 256 << 10;

struct Fiber {
  ucontext_t ctx;
  unsigned tid = 0;
  bool blocked = false, done = false;
  uint64_t res[4] = {0, 0, 0, 0};
};
struct Barrier {
  int arrived = 0, count = 0;
  std::vector<Fiber*> waiting;
};
struct WarpSlot {
  int arrived = 0, kind = 0;
  uint64_t in[32][10];
  uint64_t out[32][4];
};

struct Cta {
  std::vector<Fiber> fibers;
  Barrier bars[16];
  std::vector<WarpSlot> warps;
  uint8_t* smem = nullptr;
  uint32_t smem_bytes = 0;
  const KernelEntry* entry = nullptr;
  void* const* args = nullptr;
};

Cta g_cta;
Fiber* g_cur = nullptr;
ucontext_t g_sched;
std::vector<char*> g_stacks;
bool g_faulted = false;
char g_fault[1024];

void block_current() {
  g_cur->blocked = true;
  swapcontext(&g_cur->ctx, &g_sched);
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

void ldmatrix_compute(const uint64_t (*in)[10], uint64_t (*out)[4], const void* ctx) {
  const bool trans = *static_cast<const bool*>(ctx);
  uint16_t M[4][8][8];
  for (int l = 0; l < 32; ++l) {
    const uint32_t addr = static_cast<uint32_t>(in[l][0]);
    if (addr % 16) fault("ldmatrix: lane %d's row address 0x%x is not 16-byte aligned", l, addr);
    std::memcpy(M[l / 8][l % 8], shared_ptr(addr, 16), 16);
  }
  for (int l = 0; l < 32; ++l)
    for (int i = 0; i < 4; ++i) {
      const int r = l / 4, c = 2 * (l % 4);
      const uint32_t a = trans ? M[i][c][r] : M[i][r][c], b = trans ? M[i][c + 1][r] : M[i][r][c + 1];
      out[l][i] = a | (b << 16);
    }
}

}  // namespace

EmuDim3 thread_idx() { return {g_cur->tid, 0, 0}; }
unsigned lane() { return g_cur->tid & 31; }

void fault(const char* fmt, ...) {
  if (!g_faulted) {
    va_list ap;
    va_start(ap, fmt);
    const int n = std::snprintf(g_fault, sizeof g_fault, "block (%u, %u, %u) thread %u: ", g_block_idx.x, g_block_idx.y, g_block_idx.z, g_cur ? g_cur->tid : 0u);
    std::vsnprintf(g_fault + n, sizeof g_fault - n, fmt, ap);
    va_end(ap);
  }
  g_faulted = true;
  swapcontext(&g_cur->ctx, &g_sched);
  std::abort();  // a faulted fiber is never resumed
}

uint8_t* shared_ptr(uint32_t addr, uint32_t bytes) {
  if (static_cast<uint64_t>(addr) + bytes > g_cta.smem_bytes) fault("shared access [%u, +%u) past the %u B of dynamic shared memory", addr, bytes, g_cta.smem_bytes);
  return g_cta.smem + addr;
}

uint32_t dynamic_smem_bytes() { return g_cta.smem_bytes; }

uint32_t shared_offset(const void* p) {
  const uint8_t* b = static_cast<const uint8_t*>(p);
  if (b < g_cta.smem || b > g_cta.smem + g_cta.smem_bytes) fault("a shared address of a pointer outside this kernel's dynamic shared memory");
  return static_cast<uint32_t>(b - g_cta.smem);
}

void check_global(const void* p, uint32_t bytes, const char* what) {
  if (!fake_cuda_host_range_ok(p, bytes)) fault("%s of %u B at %p: not inside a live allocation", what, bytes, p);
}

void sync_threads() { bar_sync(0, static_cast<int>(g_cta.fibers.size())); }

void bar_sync(int id, int count) {
  if (id < 0 || id >= 16) fault("bar.sync %d: no such barrier", id);
  if (count % 32 || count <= 0 || count > static_cast<int>(g_cta.fibers.size())) fault("bar.sync %d, %d: bad thread count", id, count);
  Barrier& b = g_cta.bars[id];
  if (b.arrived == 0) b.count = count;
  else if (b.count != count) fault("bar.sync %d: %d threads expected by one, %d by another", id, b.count, count);
  b.waiting.push_back(g_cur);
  if (++b.arrived < count) {
    block_current();
    return;
  }
  for (Fiber* f : b.waiting) f->blocked = false;
  b.waiting.clear();
  b.arrived = 0;
}

void warp_collective(int kind, const uint64_t* in, int n_in, uint64_t* out, WarpCompute compute, const void* ctx) {
  const unsigned warp = g_cur->tid / 32, l = g_cur->tid % 32;
  WarpSlot& w = g_cta.warps[warp];
  if (w.arrived == 0) w.kind = kind;
  else if (w.kind != kind) fault("warp %u: lanes at different collective instructions (%d and %d): divergence", warp, w.kind, kind);
  std::memcpy(w.in[l], in, sizeof(uint64_t) * n_in);
  if (++w.arrived < 32) {
    block_current();
  } else {
    compute(w.in, w.out, ctx);
    for (int k = 0; k < 32; ++k) {
      Fiber& f = g_cta.fibers[warp * 32 + k];
      std::memcpy(f.res, w.out[k], sizeof f.res);
      f.blocked = false;
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

void ldmatrix_x4(uint32_t (&r)[4], uint32_t addr, bool trans) {
  static const bool kTrans = true, kPlain = false;
  const uint64_t in[1] = {addr};
  uint64_t out[4];
  warp_collective(trans ? kLdmatrixTrans : kLdmatrix, in, 1, out, ldmatrix_compute, trans ? &kTrans : &kPlain);
  for (int i = 0; i < 4; ++i) r[i] = static_cast<uint32_t>(out[i]);
}

void cp_async_16(uint32_t dst, const void* src, int src_bytes) {
  if (dst % 16) fault("cp.async to shared 0x%x: not 16-byte aligned", dst);
  uint8_t* d = shared_ptr(dst, 16);
  if (src_bytes < 0 || src_bytes > 16) fault("cp.async: src-size %d", src_bytes);
  if (src_bytes > 0) {
    if (reinterpret_cast<uintptr_t>(src) % 16) fault("cp.async from %p: not 16-byte aligned", src);
    check_global(src, static_cast<uint32_t>(src_bytes), "cp.async");
    std::memcpy(d, src, src_bytes);
  }
  std::memset(d + src_bytes, 0, 16 - src_bytes);
}

namespace {

const KernelEntry kDecodeEntries[] = {
#define PARAMS(i) (*static_cast<const MlaDecodeParams*>(args[i]))
#define LAYOUT(i) (*static_cast<const MlaLayoutParams*>(args[i]))
#define ARG(T, i) (*static_cast<T const*>(args[i]))
    {"mla_metadata", [](void* const* args) { mla_metadata(ARG(const int*, 0), ARG(int, 1), ARG(int, 2), ARG(int*, 3), ARG(int*, 4)); }, reinterpret_cast<uint8_t*>(s_seqlen)},
    {"mla_decode_generic_bf16", [](void* const* args) { mla_decode_generic_bf16(PARAMS(0)); }, mla::generic::smem},
    {"mla_decode_generic_fp16", [](void* const* args) { mla_decode_generic_fp16(PARAMS(0)); }, mla::generic::smem},
    {"mla_decode_generic_small_bf16", [](void* const* args) { mla_decode_generic_small_bf16(PARAMS(0)); }, smem},
    {"mla_decode_generic_small_fp16", [](void* const* args) { mla_decode_generic_small_fp16(PARAMS(0)); }, smem},
    {"mla_decode_generic_layout_d576_bf16", [](void* const* args) { mla_decode_generic_layout_d576_bf16(PARAMS(0), LAYOUT(1)); }, mla::generic::smem},
    {"mla_decode_generic_layout_d576_fp16", [](void* const* args) { mla_decode_generic_layout_d576_fp16(PARAMS(0), LAYOUT(1)); }, mla::generic::smem},
    {"mla_decode_generic_layout_d512_bf16", [](void* const* args) { mla_decode_generic_layout_d512_bf16(PARAMS(0), LAYOUT(1)); }, mla::generic::smem},
    {"mla_decode_generic_layout_d512_fp16", [](void* const* args) { mla_decode_generic_layout_d512_fp16(PARAMS(0), LAYOUT(1)); }, mla::generic::smem},
#undef PARAMS
#undef LAYOUT
#undef ARG
};

const KernelEntry* find_entry(const char* name) {
  for (const KernelEntry& e : kDecodeEntries)
    if (!std::strcmp(e.name, name)) return &e;
  for (auto entries : {combine_entries, metadata_warp_entries}) {
    int n = 0;
    const KernelEntry* c = entries(&n);
    for (int i = 0; i < n; ++i)
      if (!std::strcmp(c[i].name, name)) return &c[i];
  }
  return nullptr;
}

// One CTA: its threads as fibers, run until every one has returned (or a fault / a deadlock ends the launch).
void run_cta(unsigned threads) {
  g_cta.fibers.assign(threads, Fiber{});
  g_cta.warps.assign(threads / 32, WarpSlot{});
  for (Barrier& b : g_cta.bars) b = Barrier{};
  // garbage in shared memory, as on a GPU: NaN as bf16 or fp16 pairs and as fp32
  if (g_cta.smem) std::memset(g_cta.smem, 0xff, g_cta.smem_bytes);
  while (g_stacks.size() < threads) g_stacks.push_back(static_cast<char*>(std::malloc(kStackBytes)));
  for (unsigned t = 0; t < threads; ++t) {
    Fiber& f = g_cta.fibers[t];
    f.tid = t;
    getcontext(&f.ctx);
    f.ctx.uc_stack.ss_sp = g_stacks[t];
    f.ctx.uc_stack.ss_size = kStackBytes;
    f.ctx.uc_link = &g_sched;
    makecontext(&f.ctx, fiber_main, 0);
  }
  for (;;) {
    bool ran = false, all_done = true;
    for (Fiber& f : g_cta.fibers) {
      if (f.done) continue;
      all_done = false;
      if (f.blocked) continue;
      g_cur = &f;
      ran = true;
      swapcontext(&g_sched, &f.ctx);
      if (g_faulted) return;
    }
    if (all_done) return;
    if (!ran) {
      int waiting = 0;
      for (Fiber& f : g_cta.fibers) waiting += !f.done;
      std::snprintf(g_fault, sizeof g_fault, "block (%u, %u, %u): deadlock: %d of %u threads wait at barriers or warp collectives the others never reach",
                    g_block_idx.x, g_block_idx.y, g_block_idx.z, waiting, threads);
      g_faulted = true;
      return;
    }
  }
}

}  // namespace
}  // namespace emu

// 0: ran; 1: not a kernel the emulator has (nothing run); -1: the kernel faulted (message in err).
extern "C" int emu_launch(const char* name, const unsigned* grid, const unsigned* block, unsigned smem_bytes, void* const* args, char* err, size_t err_cap) {
  using namespace emu;
  const KernelEntry* e = find_entry(name);
  if (!e) return 1;
  if (block[1] != 1 || block[2] != 1 || block[0] % 32 || block[0] > 1024) {
    std::snprintf(err, err_cap, "%s: the emulator runs 1-D blocks of whole warps, got (%u, %u, %u)", name, block[0], block[1], block[2]);
    return -1;
  }
  if (smem_bytes > kSmemCap || (smem_bytes > 0 && !e->smem)) {
    std::snprintf(err, err_cap, "%s: %u B of dynamic shared memory, the emulator has %u B for this kernel", name, smem_bytes, e->smem ? kSmemCap : 0);
    return -1;
  }
  g_cta.entry = e;
  g_cta.args = args;
  g_cta.smem = e->smem;
  g_cta.smem_bytes = smem_bytes;
  g_faulted = false;
  for (unsigned z = 0; z < grid[2]; ++z)
    for (unsigned y = 0; y < grid[1]; ++y)
      for (unsigned x = 0; x < grid[0]; ++x) {
        g_block_idx = {x, y, z};
        run_cta(block[0]);
        if (g_faulted) {
          std::snprintf(err, err_cap, "%s: %s", name, g_fault);
          return -1;
        }
      }
  return 0;
}
