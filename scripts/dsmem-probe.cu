// How fast can a CTA push half a K block (32 tokens × 576 bf16 = 36 KB, nine 4 KB slab halves) into its cluster
// peer's shared memory? A diagnostic, not shipped: the cost of the 2-CTA sparse crossover (issue 10; perf log
// session 20 `dsmem`). Both CTAs of each 2-CTA cluster push to each other at once, as the crossover would, one CTA
// per SM (the shared memory asked for keeps a second one off). Modes:
//   bulk   thread 0 issues nine cp.async.bulk shared::cta → shared::cluster copies, each completing on the peer's
//          mbarrier (complete_tx)
//   async  the 128 threads each store 18 × 16 bytes with st.async to the peer (complete_tx on the peer's mbarrier)
//   remote the 128 threads each store 18 × 16 bytes with st.shared::cluster, fence, one remote arrive per thread
// Per iteration: a CTA waits for the peer's bytes of the iteration before (its own buffer b = i & 1), then pushes
// the next. Reports ns per 36 KB push per CTA (the slowest CTA's loop time / iterations) and the aggregate GB/s.
// Build and run on the device: nvcc -arch=sm_90a -o /tmp/dsmem-probe scripts/dsmem-probe.cu && /tmp/dsmem-probe
#include <cstdint>
#include <cstdio>
#include <vector>
#include <algorithm>

constexpr int kHalfBytes = 9 * 4096;
constexpr int kSmem = 200 * 1024;  // one CTA per SM

__device__ __forceinline__ uint32_t smem_addr(const void* p) { return static_cast<uint32_t>(__cvta_generic_to_shared(p)); }
__device__ __forceinline__ uint32_t mapa(uint32_t a, uint32_t rank) {
  uint32_t r; asm volatile("mapa.shared::cluster.u32 %0, %1, %2;" : "=r"(r) : "r"(a), "r"(rank)); return r;
}
__device__ __forceinline__ uint32_t cluster_rank() { uint32_t r; asm volatile("mov.u32 %0, %%cluster_ctarank;" : "=r"(r)); return r; }
__device__ __forceinline__ void cluster_sync() { asm volatile("barrier.cluster.arrive.release.aligned;\nbarrier.cluster.wait.acquire.aligned;" ::: "memory"); }
__device__ __forceinline__ void mbar_init(uint32_t b, int n) { asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(b), "r"(n)); }
__device__ __forceinline__ void mbar_expect_tx(uint32_t b, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(b), "r"(bytes) : "memory");
}
__device__ __forceinline__ void mbar_wait(uint32_t b, uint32_t parity) {
  asm volatile("{\n.reg .pred p;\nW: mbarrier.try_wait.parity.acquire.cluster.shared::cta.b64 p, [%0], %1;\n@!p bra W;\n}" ::"r"(b), "r"(parity) : "memory");
}
__device__ __forceinline__ void bulk_push(uint32_t dst_cluster, uint32_t src, uint32_t bytes, uint32_t bar_cluster) {
  asm volatile("cp.async.bulk.shared::cluster.shared::cta.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];" ::"r"(dst_cluster), "r"(src),
               "r"(bytes), "r"(bar_cluster) : "memory");
}
__device__ __forceinline__ void st_async(uint32_t dst_cluster, uint4 v, uint32_t bar_cluster) {
  asm volatile("st.async.shared::cluster.mbarrier::complete_tx::bytes.v4.b32 [%0], {%1, %2, %3, %4}, [%5];" ::"r"(dst_cluster), "r"(v.x),
               "r"(v.y), "r"(v.z), "r"(v.w), "r"(bar_cluster) : "memory");
}

template <int kMode>
__global__ void __cluster_dims__(2, 1, 1) __launch_bounds__(128, 1) push(int iters, long long* cycles) {
  extern __shared__ __align__(1024) uint8_t smem[];
  const uint32_t base = (smem_addr(smem) + 1023u) & ~1023u;
  // src, buf0, buf1; bars (incoming bytes of buffer b), acks (the peer has taken what this CTA pushed into its buffer b)
  const uint32_t src = base, buf0 = base + kHalfBytes, bar0 = base + 3 * kHalfBytes, ack0 = bar0 + 16;
  const uint32_t peer = cluster_rank() ^ 1u;
  const int tid = threadIdx.x;
  for (int i = tid; i < kHalfBytes / 4; i += 128) asm volatile("st.shared.u32 [%0], %1;" ::"r"(src + 4 * i), "r"(i * 2654435761u));
  if (tid == 0) {
    for (int b = 0; b < 2; ++b) { mbar_init(bar0 + 8 * b, kMode == 2 ? 128 + 1 : 1); mbar_init(ack0 + 8 * b, 1); }
    asm volatile("fence.mbarrier_init.release.cluster;");
  }
  asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
  cluster_sync();
  const long long t0 = clock64();
  for (int i = 0; i < iters; ++i) {
    const int b = i & 1;
    const uint32_t bar = bar0 + 8 * b, buf = buf0 + kHalfBytes * b;
    const uint32_t rbar = mapa(bar, peer), rbuf = mapa(buf, peer);
    if (i >= 2) mbar_wait(ack0 + 8 * b, ((i - 2) >> 1) & 1);  // the peer took push i − 2: its buffer b is free
    if (tid == 0) mbar_expect_tx(bar, kMode == 2 ? 0 : kHalfBytes);  // this CTA's arrival for the incoming push i
    if constexpr (kMode == 0) {
      if (tid == 0)
        for (int s = 0; s < 9; ++s) bulk_push(rbuf + 4096 * s, src + 4096 * s, 4096, rbar);
    } else if constexpr (kMode == 1) {
      for (int c = 0; c < 18; ++c) {
        const uint32_t off = 16 * (tid + 128 * c);
        uint4 v; asm volatile("ld.shared.v4.u32 {%0, %1, %2, %3}, [%4];" : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "r"(src + off));
        st_async(rbuf + off, v, rbar);
      }
    } else {
      for (int c = 0; c < 18; ++c) {
        const uint32_t off = 16 * (tid + 128 * c);
        uint4 v; asm volatile("ld.shared.v4.u32 {%0, %1, %2, %3}, [%4];" : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "r"(src + off));
        asm volatile("st.shared::cluster.v4.u32 [%0], {%1, %2, %3, %4};" ::"r"(rbuf + off), "r"(v.x), "r"(v.y), "r"(v.z), "r"(v.w) : "memory");
      }
      asm volatile("mbarrier.arrive.release.cluster.shared::cluster.b64 _, [%0];" ::"r"(rbar) : "memory");
    }
    if (i >= 1) {  // the peer's push i − 1 into buffer b ^ 1 landed: take it, hand the buffer back
      mbar_wait(bar0 + 8 * (b ^ 1), ((i - 1) >> 1) & 1);
      if (tid == 0) asm volatile("mbarrier.arrive.release.cluster.shared::cluster.b64 _, [%0];" ::"r"(mapa(ack0 + 8 * (b ^ 1), peer)) : "memory");
    }
  }
  mbar_wait(bar0 + 8 * ((iters - 1) & 1), ((iters - 1) >> 1) & 1);
  const long long t1 = clock64();
  cluster_sync();
  if (tid == 0) cycles[blockIdx.x] = t1 - t0;
}

template <int kMode>
void run(const char* name, int clusters, int iters) {
  long long* d; cudaMalloc(&d, sizeof(long long) * 2 * clusters);
  cudaFuncSetAttribute(push<kMode>, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem);
  cudaEvent_t e0, e1; cudaEventCreate(&e0); cudaEventCreate(&e1);
  push<kMode><<<2 * clusters, 128, kSmem>>>(iters, d);  // warm-up
  cudaEventRecord(e0);
  push<kMode><<<2 * clusters, 128, kSmem>>>(iters, d);
  cudaEventRecord(e1);
  cudaError_t err = cudaDeviceSynchronize();
  float ms = 0; cudaEventElapsedTime(&ms, e0, e1);
  std::vector<long long> h(2 * clusters); cudaMemcpy(h.data(), d, sizeof(long long) * h.size(), cudaMemcpyDeviceToHost);
  std::sort(h.begin(), h.end());
  int clk = 0; cudaDeviceGetAttribute(&clk, cudaDevAttrClockRate, 0);
  const double ns_per = ms * 1e6 / iters;
  printf("%-6s %3d clusters: %s; %.0f ns per 36 KB push per CTA (kernel time), cycles per push median %.0f max %.0f, %.0f GB/s in all\n", name,
         clusters, cudaGetErrorString(err), ns_per, double(h[h.size() / 2]) / iters, double(h.back()) / iters,
         2.0 * clusters * kHalfBytes * iters / (ms * 1e6));
  cudaFree(d);
}

int main() {
  for (int clusters : {1, 66}) {
    run<0>("bulk", clusters, 2000);
    run<1>("async", clusters, 2000);
    run<2>("remote", clusters, 2000);
  }
  return 0;
}
