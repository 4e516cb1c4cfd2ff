// Does compute-sanitizer racecheck understand a named-barrier handoff between two warpgroups? A diagnostic, not
// shipped: the 'hopper' decode's Scale1/P0 handoffs reduced to their shared-memory traffic (perf log `race90`).
// Build and run on the device: nvcc -arch=sm_90a -o /tmp/race-probe scripts/race-probe.cu &&
//   compute-sanitizer --tool racecheck /tmp/race-probe [PATTERN]
// Each kernel is one pattern; racecheck attributes hazards by kernel name. All patterns are race-free by the PTX
// barrier semantics (bar.arrive orders the arriving thread's earlier accesses before the waiters' later ones).
#include <cstdio>
#include <cstring>

__device__ __forceinline__ void bar_sync(int id, int n) { asm volatile("bar.sync %0, %1;" ::"r"(id), "r"(n) : "memory"); }
__device__ __forceinline__ void bar_arrive(int id, int n) { asm volatile("bar.arrive %0, %1;" ::"r"(id), "r"(n) : "memory"); }

// kArrive: the producer side arrives (as the kernel); otherwise both sides bar.sync. kLocal: each warpgroup also meets
// on its own 128-thread barrier (5 or 6) once an iteration, as the kernel's K-buffer releases do.
// WG1 writes sScale (quad leaders), hands it to WG0 on barrier 2; WG0 reads it and hands the slot back on barrier 3.
// WG0 writes sM before barrier 1, WG1 reads it after (the Scale0 direction); WG1 writes sP behind barrier 4.
template <bool kArrive, bool kLocal>
__device__ void handoff(float* out, int iters) {
  __shared__ float sScale[64], sM[64], sP[64];
  const int tid = threadIdx.x, wg = tid / 128, wg_tid = tid % 128;
  const int row = (wg_tid / 32) * 16 + (wg_tid % 32) / 4;
  const bool leader = (tid & 3) == 0;
  if (tid < 64) { sM[tid] = 0.f; sScale[tid] = 0.f; sP[tid] = 0.f; }
  __syncthreads();
  float acc = 0.f;
  for (int j = 0; j < iters; ++j) {
    if (wg == 0) {
      const float m = sM[row];
      __syncwarp();
      if (leader) sM[row] = m + 1.f;
      if (kArrive) bar_arrive(1, 256); else bar_sync(1, 256);
      bar_sync(2, 256);
      acc += sScale[row];
      if (kArrive) bar_arrive(3, 256); else bar_sync(3, 256);
      bar_sync(4, 256);
      acc += sP[row];
      if (kLocal) bar_sync(5, 128);
    } else {
      bar_sync(1, 256);
      const float m = sM[row];
      __syncwarp();
      if (leader) { sM[row] = m + 2.f; sScale[row] = m * 0.5f; }
      if (kArrive) bar_arrive(2, 256); else bar_sync(2, 256);
      if (leader) sP[row] = m;
      if (kArrive) {  // as the kernel: P1 arrives before the P0 wait
        bar_arrive(4, 256);
        if (kLocal) bar_sync(6, 128);
        bar_sync(3, 256);
      } else {  // both sides bar.sync: the same order as warpgroup 0 (3 then 4), or the two deadlock
        bar_sync(3, 256);
        if (kLocal) bar_sync(6, 128);
        bar_sync(4, 256);
      }
    }
  }
  out[blockIdx.x * 256 + tid] = acc;
}
extern "C" __global__ void __launch_bounds__(256) probe_arrive(float* out, int iters) { handoff<true, false>(out, iters); }
extern "C" __global__ void __launch_bounds__(256) probe_sync(float* out, int iters) { handoff<false, false>(out, iters); }
extern "C" __global__ void __launch_bounds__(256) probe_arrive_local(float* out, int iters) { handoff<true, true>(out, iters); }
extern "C" __global__ void __launch_bounds__(256) probe_sync_local(float* out, int iters) { handoff<false, true>(out, iters); }

// The plainest case: one write, __syncthreads, one read by another warpgroup, then the writer writes again after a
// second __syncthreads. Any report here is the tool.
extern "C" __global__ void __launch_bounds__(256) probe_syncthreads(float* out, int iters) {
  __shared__ float s[64];
  const int tid = threadIdx.x;
  float acc = 0.f;
  for (int j = 0; j < iters; ++j) {
    if (tid >= 128 && (tid & 3) == 0) s[((tid - 128) / 32) * 16 + (tid % 32) / 4] = j;
    __syncthreads();
    if (tid < 128) acc += s[(tid / 32) * 16 + (tid % 32) / 4];
    __syncthreads();
  }
  out[blockIdx.x * 256 + tid] = acc;
}

// hopper-small's sparse gather warpgroup's stage handoff (perf log session 27): warp 1 fills stage
// n & 1 (kBulk: a bulk copy from global completing on full[s]; else st.shared and a plain arrival), once warp 0 has
// arrived on free[s] after reading the stage's fill n − 2; warp 0 waits full[s], reads, then arrives on free[s].
// Race-free by the mbarrier semantics (an arrival releases the arriving thread's earlier accesses to the waiter).
// kAll: every reading lane arrives on free[s] (count 32), not lane 0 after __syncwarp.
__device__ __forceinline__ void mbar_init(unsigned bar, int n) { asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(bar), "r"(n) : "memory"); }
__device__ __forceinline__ void mbar_arrive(unsigned bar) { asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(bar) : "memory"); }
__device__ __forceinline__ void mbar_expect(unsigned bar, unsigned bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(bar), "r"(bytes) : "memory");
}
__device__ __forceinline__ void mbar_wait(unsigned bar, unsigned parity) {
  asm volatile("{\n.reg .pred done;\nw_%=:\nmbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n@!done bra w_%=;\n}\n" ::"r"(bar), "r"(parity) : "memory");
}
template <bool kBulk, bool kAll = false>
__device__ void stage_handoff(const float* src, float* out, int iters) {
  __shared__ alignas(128) float stage[2][256];
  __shared__ alignas(8) unsigned long long bars[4];  // full[0], full[1], free[0], free[1]
  const int tid = threadIdx.x, lane = tid & 31;
  const unsigned full = static_cast<unsigned>(__cvta_generic_to_shared(&bars[0])), free_ = full + 16;
  if (tid == 0) {
    for (int b = 0; b < 4; ++b) mbar_init(full + 8 * b, b < 2 || kAll ? 32 : 1);
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
  }
  __syncthreads();
  float acc = 0.f;
  for (int n = 0; n < iters; ++n) {
    const int s = n & 1;
    if (tid >= 32) {  // warp 1: the gather
      if (n >= 2) mbar_wait(free_ + 8 * s, ((n >> 1) - 1) & 1);
      const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(&stage[s][8 * lane]));
      if (kBulk) {
        mbar_expect(full + 8 * s, 32);
        asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], 32, [%2];" ::"r"(dst),
                     "l"(src + 8 * lane), "r"(full + 8 * s) : "memory");
      } else {
        for (int i = 0; i < 8; ++i) stage[s][8 * lane + i] = src[8 * lane + i] + n;
        mbar_arrive(full + 8 * s);
      }
    } else {  // warp 0: the math
      mbar_wait(full + 8 * s, (n >> 1) & 1);
      for (int i = 0; i < 8; ++i) acc += stage[s][8 * lane + i];
      if (!kAll) __syncwarp();
      if (kAll || lane == 0) mbar_arrive(free_ + 8 * s);
    }
  }
  out[blockIdx.x * 64 + tid] = acc;
}
extern "C" __global__ void __launch_bounds__(64) probe_mbar_st(const float* src, float* out, int iters) { stage_handoff<false>(src, out, iters); }
extern "C" __global__ void __launch_bounds__(64) probe_mbar_bulk(const float* src, float* out, int iters) { stage_handoff<true>(src, out, iters); }
extern "C" __global__ void __launch_bounds__(64) probe_mbar_all(const float* src, float* out, int iters) { stage_handoff<true, true>(src, out, iters); }

// race-probe [PATTERN]: only that pattern's kernel (syncthreads, sync, arrive, arrive_local, sync_local,
// mbar_st, mbar_bulk, mbar_all), so that
// racecheck's summary is per pattern; no argument: all of them.
int main(int argc, char** argv) {
  const char* only = argc > 1 ? argv[1] : nullptr;
  auto want = [&](const char* name) { return only == nullptr || std::strcmp(only, name) == 0; };
  float *out, *src;
  cudaMalloc(&out, 8 * 256 * sizeof(float));
  cudaMalloc(&src, 256 * sizeof(float));
  cudaMemset(src, 0, 256 * sizeof(float));
  for (int iters : {1, 2, 8}) {
    if (want("syncthreads")) probe_syncthreads<<<8, 256>>>(out, iters);
    if (want("sync")) probe_sync<<<8, 256>>>(out, iters);
    if (want("arrive")) probe_arrive<<<8, 256>>>(out, iters);
    if (want("arrive_local")) probe_arrive_local<<<8, 256>>>(out, iters);
    if (want("sync_local")) probe_sync_local<<<8, 256>>>(out, iters);
    if (want("mbar_st")) probe_mbar_st<<<8, 64>>>(src, out, iters);
    if (want("mbar_bulk")) probe_mbar_bulk<<<8, 64>>>(src, out, iters);
    if (want("mbar_all")) probe_mbar_all<<<8, 64>>>(src, out, iters);
  }
  const cudaError_t e = cudaDeviceSynchronize();
  printf("race-probe %s: %s\n", only ? only : "(all)", cudaGetErrorString(e));
  return e != cudaSuccess;
}
