// What can the compute-bound 'hopper' loop reach at best? A diagnostic, not shipped (issues 8/9; perf log session 39
// `mixprobe`). The loop's tensor work per pair of K blocks is fixed by its design (64 query rows per CTA, FlashMLA's):
// per warpgroup one S = Q·Kᵀ (36 m64n64k16, both operands from shared memory) and its half of the two P·V
// (4 m64n256k16 with P from registers, 4 with the other warpgroup's P from shared memory), while the TMA writes the
// next two 73.7 KB blocks into shared memory. An SS m64n64k16 reads 4 KB per 32 tensor cycles — the whole
// shared-memory port — so the question is what the mix itself runs at, without the softmax, the handoffs and the
// barriers of the real loop. Each mode adds one thing:
//   0  S only (both warpgroups, back to back)
//   1  S + P·V, back to back (the design's tensor + shared-memory work, nothing else)
//   2  1 + two 73.7 KB blocks per pair bulk-copied into the K buffers (issued by one math thread) from an 8 MB
//      (L2-resident) region
//   3  1 + the same from a 2 GB region, four neighbouring CTAs reading the same pages (S6's four m-blocks)
//   4  3 + per warpgroup: wait for its S, then `delay` cycles of stand-in softmax before its P·V are issued
//      (the real loop's dependency, without the cross-warpgroup handoffs)
//   5  3 + the shipped seesaw's chain as a skeleton (no numerics: spins of `delay` cycles stand for each softmax, short
//      spins for the P / O rescales and P stores, named barriers for Scale0 / Scale1 / P0 / P1, wgmma waits where the
//      loop waits), per pair:
//        WG0: wait S0 → softmax → arrive Scale0 → P0·V0L (RS) → sync Scale1 → P0 rescale + store → arrive P0 →
//             wait P0·V0L → O_L rescale → sync P1 → sP1·V1L (SS) → S0' (36 SS)
//        WG1: sync Scale0 → wait S1 → softmax → O_R rescale → arrive Scale1 → P1 store → P1·V1R (RS) → sync P0 →
//             sP0·V0R (SS) → arrive P1 → S1' (36 SS)
//   6  5 with warpgroup 1's softmax before its Scale0 sync and a P1 rescale after it (the session-38 `wee` change,
//      measured on the real kernel as no gain: a check of the skeleton)
//   7  the shipped compute-bound loop with its data dependencies (the skeleton of mla_decode_sm90.cu's 16-bit entries,
//      kEarlyP0 = kK1aEarly = false): per-slab mbarriers; K0.A refilled by WG0 after P0·V0L retires, K1.A after
//      sP1·V1L and S(j+2)'s A half issue, K1.B / K0.B by WG1 after P1·V1R / sP0·V0R retire; each S half waits for its
//      slabs; the softmax split into its row max (before Scale0 / Scale1) and its exponentials (after)
//   8  7 with S(j+3) issued only after WG0 has issued S(j+2) (`s3s2`, session 37: 2–3 % slower on the real kernel)
//   9  7 with WG1's P·V reversed: sP0·V0R first (K0.B, which S(j+2)'s B half waits for, refilled one P·V sooner)
//  10  7 without the Scale0 / Scale1 handoffs and O rescales: each warpgroup publishes its P against its own threshold
//      reference (session 40: the reference rarely moves) right after its softmax; only P0 / P1 ready remain
//  11  7 without the O rescales (the threshold reference, `lz`: scale factors are 1), the handoffs kept
// Usage: /tmp/mix [MODES], e.g. /tmp/mix 3,7,10,11 (default: every mode)
// Operands are random bf16 (never zeros); the copies land in buffers the wgmmas read (a race by design: the values are
// random either way). Times are CUDA events over the whole grid (one CTA per SM), µs per pair of blocks per SM.
// Build and run on the device: nvcc -gencode arch=compute_90a,code=sm_90a -std=c++17 -O3 -I kernels -o /tmp/mix scripts/loop-mix-probe.cu && /tmp/mix
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>
#include <algorithm>

#include "ptx.cuh"
#include "ptx_sm90.cuh"
#include "ptx_wgmma.cuh"
#include "probe-timing.cuh"

namespace {
constexpr int kSlab = 8192;            // 64 rows × 64 bf16 channels, 128B swizzle
constexpr int kTile = 9 * kSlab;       // Q or one K block: 576 channels
constexpr int kOffQ = 0, kOffK0 = kTile, kOffK1 = 2 * kTile, kOffBar = 3 * kTile;
constexpr int kSmem = kOffBar + 18 * 8 + 1024;  // (+ alignment slack)
constexpr int kThreads = 256;          // two math warpgroups
constexpr uint32_t kSw128 = 1;

__device__ __forceinline__ uint64_t desc_k(uint32_t a) { return ptx::wgmma_desc(a, 16, 1024, kSw128); }
__device__ __forceinline__ uint64_t desc_mn(uint32_t a) { return ptx::wgmma_desc(a, kSlab, 1024, kSw128); }
// A stand-in for `cycles` of work that issues nothing else.
__device__ __forceinline__ void spin(long long cycles) {
  const long long t0 = clock64();
  while (clock64() - t0 < cycles) {}
}
// A warpgroup's half of one block's P·V: 4 m64n256k16 over V's 256 columns at v (MN-major), P from registers (pv_rs)
// or from the P tile at sp (pv_ss). Neither fenced nor committed: the caller groups them.
__device__ __forceinline__ void pv_rs(float (&o)[128], const uint32_t (&pa)[4][4], uint32_t v) {
#pragma unroll
  for (int kk = 0; kk < 4; ++kk) ptx::wgmma_m64n256k16_bf16_rs_tb(o, pa[kk], desc_mn(v + kk * 2048));
}
__device__ __forceinline__ void pv_ss(float (&o)[128], uint32_t sp, uint32_t v) {
#pragma unroll
  for (int kk = 0; kk < 4; ++kk) ptx::wgmma_m64n256k16_bf16_ss_tb(o, desc_k(sp + kk * 32), desc_mn(v + kk * 2048), 1);
}
// One block's S = Q·Kᵀ: 36 m64n64k16 from shared memory into s, committed as one group.
__device__ __forceinline__ void issue_s(float (&s)[32], uint32_t sQ, uint32_t sK) {
  const uint64_t dq = desc_k(sQ), dk = desc_k(sK);
  ptx::wgmma_fence();
#pragma unroll
  for (int slab = 0; slab < 9; ++slab)
#pragma unroll
    for (int kk = 0; kk < 4; ++kk) {
      const uint32_t off = (slab * kSlab + kk * 32) >> 4;
      ptx::wgmma_m64n64k16_bf16_ss(s, dq + off, dk + off, 1);
    }
  ptx::wgmma_commit();
}

template <int kMode>
__global__ void __launch_bounds__(kThreads, 1) mix(int iters, int delay, const uint8_t* src, long long src_pages, uint32_t seed, float* sink, long long* cycles) {
  extern __shared__ uint8_t smem_raw[];
  const uint32_t base = (ptx::smem_addr(smem_raw) + 1023u) & ~1023u;
  uint8_t* gbase = smem_raw + (base - ptx::smem_addr(smem_raw));
  for (int i = threadIdx.x; i < kOffBar / 4; i += kThreads) {
    uint32_t x = seed ^ (i * 0x9E3779B9u);
    x ^= x >> 16; x *= 0x7feb352du; x ^= x >> 15; x *= 0x846ca68bu; x ^= x >> 16;
    reinterpret_cast<uint32_t*>(gbase)[i] = (x & 0x807F807Fu) | 0x3C003C00u;  // random sign and mantissa, |x| ~ 2^-7
  }
  const uint32_t bar = base + kOffBar;
  if (threadIdx.x == 0) ptx::mbarrier_init(bar, 1);
  __syncthreads();
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
  const int wg = __shfl_sync(0xffffffffu, threadIdx.x / 128, 0);  // (warp-uniform to ptxas: wgmmas under `if (wg …)` stay async)
  const long long t_start = clock64();  // (SM cycles: the loop's time independent of the clock the card runs at)
  // (kMode 2–4) warpgroup 0's thread 0 refills both K buffers once per pair, as the real loop's refills come from the
  // math threads: it waits for the pair before's copies first, so at most two blocks are in flight
  const bool producer = kMode >= 2 && kMode < 7 && threadIdx.x == 0;
  uint32_t pa[4][4];
#pragma unroll
  for (int k = 0; k < 4; ++k)
#pragma unroll
    for (int i = 0; i < 4; ++i) pa[k][i] = ((seed * (threadIdx.x + 7 * k + 3 * i + 1)) & 0x807F807Fu) | 0x3C003C00u;
  float s[32], o[128];
#pragma unroll
  for (int i = 0; i < 32; ++i) s[i] = 0.f;
#pragma unroll
  for (int i = 0; i < 128; ++i) o[i] = 0.f;
  if constexpr (kMode >= 7) {
    constexpr int kRowMax = 110, kScaleStore = 40, kRescaleP = 80, kRescaleO = 130;  // cycles (stand-ins)
    const int n_blocks = 2 * iters + 2;
    const uint32_t bars = base + kOffBar;  // slab s of buffer x: bars + 8 · (9x + s)
    auto page_of = [&](int j) { return ((blockIdx.x / 4) * 1009LL + j) % src_pages; };
    auto issue_group = [&](uint32_t b, int j, int group) {  // block j's slabs of `group` into buffer j & 1
      const int x = j & 1, s0 = group ? 4 : 0, s1 = group ? 9 : 4;
      const uint8_t* g = src + page_of(j) * kTile;
      for (int sl = s0; sl < s1; ++sl) {
        ptx::mbarrier_arrive_expect_tx(bars + 8 * (9 * x + sl), kSlab);
        ptx::bulk_load(b + (x ? kOffK1 : kOffK0) + sl * kSlab, g + sl * kSlab, kSlab, bars + 8 * (9 * x + sl));
      }
    };
    auto issue_s_half = [&](uint32_t b, int j, int group, bool first) {  // (not committed)
      const int x = j & 1, s0 = group ? 4 : 0, s1 = group ? 9 : 4;
      const uint32_t parity = (j >> 1) & 1;
      const uint64_t dq = desc_k(b + kOffQ), dk = desc_k(b + (x ? kOffK1 : kOffK0));
#pragma unroll
      for (int sl = s0; sl < s1; ++sl) {
        ptx::mbarrier_wait(bars + 8 * (9 * x + sl), parity);
        ptx::wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < 4; ++kk) {
          const uint32_t off = (sl * kSlab + kk * 32) >> 4;
          ptx::wgmma_m64n64k16_bf16_ss(s, dq + off, dk + off, (first && sl == s0 && kk == 0) ? 0 : 1);
        }
      }
    };
    auto pv_own = [&](uint32_t v) {  // (one commit group each)
      ptx::wgmma_fence();
      pv_rs(o, pa, v);
      ptx::wgmma_commit();
    };
    auto pv_other = [&](uint32_t sp, uint32_t v) {
      ptx::wgmma_fence();
      pv_ss(o, sp, v);
      ptx::wgmma_commit();
    };
    if (threadIdx.x == 0) {
      for (int i = 1; i < 18; ++i) ptx::mbarrier_init(bars + 8 * i, 1);  // (bars + 0 was initialised above)
      ptx::fence_barrier_init();
    }
    __syncthreads();
    if (threadIdx.x == 0)
      for (int j = 0; j < 2; ++j)
        for (int g = 0; g < 2; ++g) issue_group(base, j, g);
    {
      const uint32_t b = ptx::opaque_u32(base);
      issue_s_half(b, wg, 0, true);
      issue_s_half(b, wg, 1, false);
      ptx::wgmma_commit();
      ptx::wgmma_wait<0>();
    }
    const int wt = threadIdx.x & 127;
#pragma unroll 1
    for (int j = 0; j < n_blocks; j += 2) {
      const uint32_t b = ptx::opaque_u32(base);
      const uint32_t sK0 = b + kOffK0, sK1 = b + kOffK1, sP0 = b + kOffQ, sP1 = b + kOffQ + kSlab;
      const bool has2 = j + 2 < n_blocks, has3 = j + 3 < n_blocks;
      if (wg == 0) {
        spin(kRowMax);                       // S0's row max, scale0
        if constexpr (kMode == 10) {         // no Scale handoffs: P0 against this warpgroup's own reference, at once
          spin(delay);                       // exponentials of S0, pack
          spin(kRescaleP / 2);               // store P0
          ptx::fence_proxy_async();
          ptx::named_barrier_arrive(3, 256); // P0 ready
        } else {
          ptx::named_barrier_arrive(1, 256); // Scale0
          spin(delay);                       // exponentials of S0, rescale of O_L by scale0, pack
        }
        pv_own(sK0);                         // O_L += P0 · V0L
        ptx::wgmma_wait<0>();
        if (has2) {
          ptx::named_barrier_sync(5, 128);
          if (wt == 0) issue_group(b, j + 2, 0);  // K0.A
        }
        if constexpr (kMode != 10) {
          ptx::named_barrier_sync(2, 256);   // Scale1
          spin(kRescaleP);                   // P0 *= scale1, pack, store
          ptx::fence_proxy_async();
          ptx::named_barrier_arrive(3, 256); // P0 ready
          if constexpr (kMode != 11) spin(kRescaleO);  // O_L *= scale1
        }
        ptx::named_barrier_sync(4, 256);     // P1 ready
        pv_other(sP1, sK1);                  // O_L += sP1 · V1L
        if (has2) {
          issue_s_half(b, j + 2, 0, true);
          ptx::wgmma_commit();
          ptx::wgmma_wait<1>();
        } else {
          ptx::wgmma_wait<0>();
        }
        if (has3) {
          ptx::named_barrier_sync(5, 128);
          if (wt == 0) issue_group(b, j + 3, 0);  // K1.A
        }
        if (has2) {
          issue_s_half(b, j + 2, 1, false);
          ptx::wgmma_commit();
          if constexpr (kMode == 8) ptx::named_barrier_arrive(8, 256);  // S(j+2) issued
        }
        ptx::wgmma_wait<0>();
      } else {
        spin(kRowMax);                       // S1's row max
        if constexpr (kMode != 10) {
          ptx::named_barrier_sync(1, 256);   // Scale0
          spin(kScaleStore);
          ptx::named_barrier_arrive(2, 256); // Scale1
        }
        spin(delay);                         // exponentials of S1
        if constexpr (kMode != 10 && kMode != 11) spin(kRescaleO);  // O_R *= scale0 · scale1
        spin(kRescaleP / 2);                 // pack, store P1
        ptx::fence_proxy_async();
        if constexpr (kMode == 9) {
          ptx::named_barrier_sync(3, 256);   // P0 ready
          pv_other(sP0, sK0 + 4 * kSlab);    // O_R += sP0 · V0R
          pv_own(sK1 + 4 * kSlab);           // O_R += P1 · V1R
          ptx::named_barrier_arrive(4, 256); // P1 ready
          ptx::wgmma_wait<1>();
          if (has2) {
            ptx::named_barrier_sync(6, 128);
            if (wt == 0) issue_group(b, j + 2, 1);  // K0.B
          }
          ptx::wgmma_wait<0>();
          if (has3) {
            ptx::named_barrier_sync(6, 128);
            if (wt == 0) issue_group(b, j + 3, 1);  // K1.B
          }
        } else {
          pv_own(sK1 + 4 * kSlab);           // O_R += P1 · V1R
          ptx::named_barrier_sync(3, 256);   // P0 ready
          pv_other(sP0, sK0 + 4 * kSlab);    // O_R += sP0 · V0R
          ptx::named_barrier_arrive(4, 256); // P1 ready
          if (has3) {
            ptx::wgmma_wait<1>();
            ptx::named_barrier_sync(6, 128);
            if (wt == 0) issue_group(b, j + 3, 1);  // K1.B
          }
          ptx::wgmma_wait<0>();
          if (has2) {
            ptx::named_barrier_sync(6, 128);
            if (wt == 0) issue_group(b, j + 2, 1);  // K0.B
          }
        }
        if (has3) {
          if constexpr (kMode == 8) {
            if (has2) ptx::named_barrier_sync(8, 256);
          }
          issue_s_half(b, j + 3, 1, true);
          issue_s_half(b, j + 3, 0, false);
          ptx::wgmma_commit();
        }
        ptx::wgmma_wait<0>();
      }
    }
  } else
  if constexpr (kMode >= 5) {
    // the skeleton: S of each warpgroup's first block issued before the loop, as the item's top does
    constexpr int kRescaleP = 60, kRescaleO = 130;  // cycles: 16 FMUL + 8 STS (P), 128 FMUL (O half)
    auto issue_own_s = [&](uint32_t b) { issue_s(s, b + kOffQ, b + (wg ? kOffK1 : kOffK0)); };
    auto issue_pv_own = [&](uint32_t b) {
      ptx::wgmma_fence();
      pv_rs(o, pa, b + (wg ? kOffK1 : kOffK0) + wg * 4 * kSlab);
      ptx::wgmma_commit();
    };
    auto issue_pv_other = [&](uint32_t b) {
      ptx::wgmma_fence();
      pv_ss(o, b + kOffQ + (wg ? 0 : kSlab), b + (wg ? kOffK0 : kOffK1) + wg * 4 * kSlab);
      ptx::wgmma_commit();
    };
    issue_own_s(ptx::opaque_u32(base));
    for (int it = 0; it < iters; ++it) {
      const uint32_t b = ptx::opaque_u32(base);
      if (producer) {
        if (it > 0) ptx::mbarrier_wait(bar, (it - 1) & 1);
        ptx::mbarrier_arrive_expect_tx(bar, 2 * kTile);
        for (int k = 0; k < 2; ++k) {
          const long long page = ((blockIdx.x / 4) * 1009LL + 2 * it + k) % src_pages;
          for (int sl = 0; sl < 9; ++sl) ptx::bulk_load(b + (k ? kOffK1 : kOffK0) + sl * kSlab, src + page * kTile + sl * kSlab, kSlab, bar);
        }
      }
      if (wg == 0) {
        ptx::wgmma_wait<0>();  // S0
        spin(delay);           // softmax(S0)
        ptx::named_barrier_arrive(1, 256);  // Scale0
        issue_pv_own(b);       // O_L += P0·V0L
        ptx::named_barrier_sync(2, 256);    // Scale1
        spin(kRescaleP);       // P0 *= scale1, sP0
        ptx::named_barrier_arrive(3, 256);  // P0 ready
        ptx::wgmma_wait<0>();  // P0·V0L retired
        spin(kRescaleO);       // O_L *= scale1
        ptx::named_barrier_sync(4, 256);    // P1 ready
        issue_pv_other(b);     // O_L += sP1·V1L
        issue_own_s(b);        // S0' = Q·K(j+2)
      } else {
        if constexpr (kMode == 6) {
          ptx::wgmma_wait<0>();  // S1
          spin(delay);           // softmax(S1) against the max known so far
          ptx::named_barrier_sync(1, 256);  // Scale0
          spin(kRescaleP);       // P1 *= its correction
          spin(kRescaleO);       // O_R *= scale0 · scale1
        } else {
          ptx::named_barrier_sync(1, 256);  // Scale0
          ptx::wgmma_wait<0>();  // S1
          spin(delay);           // softmax(S1) against WG0's max
          spin(kRescaleO);       // O_R *= scale0 · scale1
        }
        ptx::named_barrier_arrive(2, 256);  // Scale1
        spin(kRescaleP);       // sP1
        issue_pv_own(b);       // O_R += P1·V1R
        ptx::named_barrier_sync(3, 256);    // P0 ready
        issue_pv_other(b);     // O_R += sP0·V0R
        ptx::named_barrier_arrive(4, 256);  // P1 ready
        issue_own_s(b);        // S1' = Q·K(j+3)
      }
    }
  } else
  for (int it = 0; it < iters; ++it) {
    // (the base through an opaque move per iteration, as the kernel does: else ptxas hoists the descriptors and spills)
    const uint32_t b = ptx::opaque_u32(base);
    const uint32_t sQ = b + kOffQ, sKown = b + (wg ? kOffK1 : kOffK0), sKother = b + (wg ? kOffK0 : kOffK1);
    const uint32_t sPother = b + kOffQ + (wg ? 0 : kSlab);  // (the other warpgroup's P tile: any 8 KB; these read Q's)
    if (producer) {
      if (it > 0) ptx::mbarrier_wait(bar, (it - 1) & 1);
      ptx::mbarrier_arrive_expect_tx(bar, 2 * kTile);
      for (int b = 0; b < 2; ++b) {
        const long long page = kMode == 2 ? (blockIdx.x * 7 + 2 * it + b) % src_pages : ((blockIdx.x / 4) * 1009LL + 2 * it + b) % src_pages;
        for (int sl = 0; sl < 9; ++sl) ptx::bulk_load(base + (b ? kOffK1 : kOffK0) + sl * kSlab, src + page * kTile + sl * kSlab, kSlab, bar);
      }
    }
    issue_s(s, sQ, sKown);
    if constexpr (kMode == 4) {
      ptx::wgmma_wait<0>();
      spin(delay);
    }
    if constexpr (kMode >= 1) {
      ptx::wgmma_fence();
      pv_rs(o, pa, sKown + wg * 4 * kSlab);  // (this warpgroup's 256 columns)
      pv_ss(o, sPother, sKother + wg * 4 * kSlab);
      ptx::wgmma_commit();
    }
    if constexpr (kMode == 0) ptx::wgmma_wait<0>();  // (one accumulator: a group in flight would serialise the next)
    else ptx::wgmma_wait<1>();
  }
  ptx::wgmma_wait<0>();
  if (producer) ptx::mbarrier_wait(bar, (iters - 1) & 1);
  float acc = 0.f;
#pragma unroll
  for (int i = 0; i < 32; ++i) acc += s[i];
#pragma unroll
  for (int i = 0; i < 128; ++i) acc += o[i];
  sink[blockIdx.x * kThreads + threadIdx.x] = acc;
  if (threadIdx.x == 0) cycles[blockIdx.x] = clock64() - t_start;
}

template <int kMode>
float run(int sms, int iters, int delay, const uint8_t* src, long long pages, float* sink, long long* cycles, double* cyclesPerPair) {
  cudaFuncSetAttribute(mix<kMode>, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem);
  const std::vector<float> ms = timed_runs(6, [&](int r) { mix<kMode><<<sms, kThreads, kSmem>>>(iters, delay, src, pages, 0x1234567u + r, sink, cycles); });
  std::vector<long long> cyc(sms);  // the last run's CTAs
  cudaMemcpy(cyc.data(), cycles, sms * sizeof(long long), cudaMemcpyDeviceToHost);
  std::sort(cyc.begin(), cyc.end());
  *cyclesPerPair = double(cyc[sms / 2]) / iters;
  if (cudaError_t e = cudaGetLastError(); e != cudaSuccess) printf("mode %d: %s\n", kMode, cudaGetErrorString(e));
  return ms[ms.size() / 2];
}
}  // namespace

int main(int argc, char** argv) {
  // which modes to run: argv[1] as a comma-separated list (default all)
  auto want = [&](int m) {
    if (argc < 2) return true;
    char key[8];
    snprintf(key, sizeof key, "%d", m);
    for (const char* p = argv[1]; *p;) {
      const char* e = p;
      while (*e && *e != ',') ++e;
      if (size_t(e - p) == strlen(key) && strncmp(p, key, e - p) == 0) return true;
      p = *e ? e + 1 : e;
    }
    return false;
  };
  int sms = 0;
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
  float* sink;
  uint8_t* src;
  const long long big = 2LL << 30, pagesBig = big / kTile, pagesL2 = (8 << 20) / kTile;
  cudaMalloc(&sink, sms * kThreads * sizeof(float));
  cudaMalloc(&src, big);
  cudaMemset(src, 0x3c, big);  // (bf16 0x3c3c ≈ 0.0115: finite, nonzero)
  const int iters = 4000;
  const double fmaPerPair = 2.0 * (36.0 * 64 * 64 * 16 + 8.0 * 64 * 256 * 16);  // per SM, both warpgroups
  long long* cycles;
  cudaMalloc(&cycles, sms * sizeof(long long));
  double cpp = 0;  // the last run's median cycles per pair (CTA's clock64 over its whole run)
  auto report = [&](const char* name, float ms, double fma = 0) {  // (fma: per pair and SM; 0: S and P·V)
    const double us = ms * 1e3 / iters;
    if (fma == 0) fma = fmaPerPair;
    printf("%-58s %8.3f ms  %6.3f µs per pair  %6.1f TFLOPS  %6.0f cycles per pair (%.2f GHz)\n", name, ms, us,
           sms * fma * 2 / (us * 1e-6) / 1e12, cpp, cpp / (us * 1e3));
  };
  if (want(0)) report("0 S only", run<0>(sms, iters, 0, src, pagesL2, sink, cycles, &cpp), 2.0 * 36 * 64 * 64 * 16);
  if (want(1)) report("1 S + P·V", run<1>(sms, iters, 0, src, pagesL2, sink, cycles, &cpp));
  if (want(2)) report("2 S + P·V + 2 blocks/pair by TMA from L2", run<2>(sms, iters, 0, src, pagesL2, sink, cycles, &cpp));
  if (want(3)) report("3 S + P·V + 2 blocks/pair by TMA, 2 GB, 4 CTAs/page", run<3>(sms, iters, 0, src, pagesBig, sink, cycles, &cpp));
  for (int d : {300, 600, 900}) {
    char name[96];
    snprintf(name, sizeof name, "4 as 3, S waited + %d cycles before P·V", d);
    if (want(4)) report(name, run<4>(sms, iters, d, src, pagesBig, sink, cycles, &cpp));
  }
  for (int d : {250, 350, 450}) {
    char name[96];
    snprintf(name, sizeof name, "5 seesaw skeleton, softmax %d cycles", d);
    if (want(5)) report(name, run<5>(sms, iters, d, src, pagesBig, sink, cycles, &cpp));
    snprintf(name, sizeof name, "6 seesaw skeleton, WG1 softmax before Scale0, %d cycles", d);
    if (want(6)) report(name, run<6>(sms, iters, d, src, pagesBig, sink, cycles, &cpp));
  }
  for (int d : {250, 350}) {
    char name[96];
    snprintf(name, sizeof name, "7 shipped loop skeleton (refills), exponentials %d cycles", d);
    if (want(7)) report(name, run<7>(sms, iters, d, src, pagesBig, sink, cycles, &cpp));
    snprintf(name, sizeof name, "8 7 + S(j+3) after S(j+2) (s3s2), %d cycles", d);
    if (want(8)) report(name, run<8>(sms, iters, d, src, pagesBig, sink, cycles, &cpp));
    snprintf(name, sizeof name, "9 7 + WG1's sP0.V0R first, %d cycles", d);
    if (want(9)) report(name, run<9>(sms, iters, d, src, pagesBig, sink, cycles, &cpp));
    snprintf(name, sizeof name, "10 7 without Scale handoffs or O rescales, %d cycles", d);
    if (want(10)) report(name, run<10>(sms, iters, d, src, pagesBig, sink, cycles, &cpp));
    snprintf(name, sizeof name, "11 7 without O rescales (lz), %d cycles", d);
    if (want(11)) report(name, run<11>(sms, iters, d, src, pagesBig, sink, cycles, &cpp));
  }
  if (cudaError_t e = cudaDeviceSynchronize(); e != cudaSuccess) {
    printf("error: %s\n", cudaGetErrorString(e));
    return 1;
  }
  printf("%d SMs, one CTA each (2 math warpgroups), %d pairs of blocks per CTA; FMA per pair and SM %.0f\n", sms, iters, fmaPerPair);
  return 0;
}
