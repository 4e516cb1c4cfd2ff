// Tiny kernels for the emulator's own tests (test/kernel-emulation.test.ts, scenario 'race-detector'), written as
// CUDA kernels against the stand-ins (ptx.cuh, ptx_sm90.cuh): each synchronisation pattern the race detector
// (emu_race.h) must get right, once correct and once broken. Launched by name through emu_launch (no parameters, no
// global memory: cp.async copies zero-fill from src-size 0); 64 threads (warps 0 and 1), 1 KB of dynamic shared memory.
#include "emu_runtime.h"
#include "ptx.cuh"
#include "ptx_sm90.cuh"

namespace {

// Warp 0 stores a word per lane, warp 1 loads them: with or without __syncthreads between (RAW).
__global__ void st_then_ld(bool synced) {
  const emu::SharedWindow smem{};
  const uint32_t s = ptx::smem_addr(smem);
  const int tid = threadIdx.x, lane = tid & 31;
  if (tid < 32) ptx::st_shared_u32(s + lane * 4, tid);
  if (synced) __syncthreads();
  if (tid >= 32) (void)ptx::ld_shared_u32(s + lane * 4);
}

// Warp 0 copies a 16-byte row per lane with cp.async. `wait`: the copying threads wait for their copies before the
// barrier; `reader`: 1 — warp 1 reads the rows after the barrier, 0 — each copying thread reads its own row (no
// barrier needed once it waited; before, a race even within the warp).
__global__ void cp_async_then_read(bool wait, int reader) {
  const emu::SharedWindow smem{};
  const uint32_t s = ptx::smem_addr(smem);
  const int tid = threadIdx.x, lane = tid & 31;
  if (tid < 32) {
    ptx::cp_async_16(s + lane * 16, nullptr, 0);
    ptx::cp_async_commit();
    if (wait) ptx::cp_async_wait_all();
    if (reader == 0) (void)ptx::ld_shared_v4(s + lane * 16);
  }
  __syncthreads();
  if (tid >= 32 && reader == 1) (void)ptx::ld_shared_v4(s + lane * 16);
  if (tid < 32) ptx::cp_async_wait_all();
}

// A buffer's refill: warp 0 fills a 32-row tile with cp.async, warp 1 reads it with ldmatrix and says so on named
// barrier 1 (bar.arrive), warp 0 waits there (bar.sync) and refills the tile. `arrive_first`: warp 1 arrives before
// its read instead of after it, so the refill is not ordered after the read (WAR).
__global__ void ldmatrix_then_refill(bool arrive_first) {
  const emu::SharedWindow smem{};
  const uint32_t s = ptx::smem_addr(smem);
  const int tid = threadIdx.x, lane = tid & 31;
  if (tid < 32) {
    ptx::cp_async_16(s + lane * 16, nullptr, 0);
    ptx::cp_async_commit();
    ptx::cp_async_wait_all();
  }
  __syncthreads();  // the tile has landed and is visible
  if (tid >= 32) {
    if (arrive_first) ptx::named_barrier_arrive(1, 64);
    uint32_t r[4];
    ptx::ldmatrix_x4(r, s + lane * 16);
    if (!arrive_first) ptx::named_barrier_arrive(1, 64);
  } else {
    ptx::named_barrier_sync(1, 64);
    ptx::cp_async_16(s + lane * 16, nullptr, 0);
    ptx::cp_async_commit();
    ptx::cp_async_wait_all();
  }
}

// Warp 0 stores a word per lane and arrives on an mbarrier (count 32); warp 1 waits on its phase 0, or not (RAW).
__global__ void mbarrier_handoff(bool wait) {
  const emu::SharedWindow smem{};
  const uint32_t s = ptx::smem_addr(smem), bar = s + 512;
  const int tid = threadIdx.x, lane = tid & 31;
  if (tid == 0) ptx::mbarrier_init(bar, 32);
  __syncthreads();
  if (tid < 32) {
    ptx::st_shared_u32(s + lane * 4, tid);
    ptx::mbarrier_arrive_expect_tx(bar, 0);
  } else {
    if (wait) ptx::mbarrier_wait(bar, 0);
    (void)ptx::ld_shared_u32(s + lane * 4);
  }
}

// Producer / consumer through a named barrier: warp 0 stores, bar.arrive 1; warp 1 bar.sync 1, loads. `late`: warp 0
// stores a second word after its arrive, which the consumer then loads unordered (RAW).
__global__ void named_barrier_handoff(bool late) {
  const emu::SharedWindow smem{};
  const uint32_t s = ptx::smem_addr(smem);
  const int tid = threadIdx.x, lane = tid & 31;
  if (tid < 32) {
    ptx::st_shared_u32(s + lane * 4, tid);
    ptx::named_barrier_arrive(1, 64);
    if (late) ptx::st_shared_u32(s + 128 + lane * 4, tid);
  } else {
    ptx::named_barrier_sync(1, 64);
    (void)ptx::ld_shared_u32(s + lane * 4);
    (void)ptx::ld_shared_u32(s + 128 + lane * 4);
  }
}

// stmatrix.x4 then ldmatrix.x4 from the same row addresses give back each lane's fragments (ldmatrix is stmatrix's
// inverse); `swap`: the reload's matrices 1 and 2 exchanged (each lane's row address moved), which must not.
__global__ void stmatrix_roundtrip(bool swap) {
  const emu::SharedWindow smem{};
  const uint32_t s = ptx::smem_addr(smem);
  const int tid = threadIdx.x, lane = tid & 31;
  if (tid >= 32) return;
  uint32_t r[4], back[4];
  for (int i = 0; i < 4; ++i) r[i] = 0x01000000u * i + 0x10000u * lane + 0x0101u * (lane ^ i);
  ptx::stmatrix_x4(s + lane * 16, r);
  __syncwarp();
  const int m = lane / 8, l2 = swap && (m == 1 || m == 2) ? (3 - m) * 8 + lane % 8 : lane;
  ptx::ldmatrix_x4(back, s + l2 * 16);
  for (int i = 0; i < 4; ++i)
    if (back[i] != r[i]) emu::fault("stmatrix round trip: lane %d fragment %d is 0x%08x, stored 0x%08x", lane, i, back[i], r[i]);
}

}  // namespace

namespace emu {

#define ENTRY(name, call) {"emu_selftest_" name, [](void* const*) { call; }, true}
static const KernelEntry kSelftestEntries[] = {
    ENTRY("sync_ok", st_then_ld(true)),
    ENTRY("sync_missing", st_then_ld(false)),
    ENTRY("cp_async_ok", cp_async_then_read(true, 1)),
    ENTRY("cp_async_no_wait", cp_async_then_read(false, 1)),
    ENTRY("cp_async_own_ok", cp_async_then_read(true, 0)),
    ENTRY("cp_async_own_no_wait", cp_async_then_read(false, 0)),
    ENTRY("refill_ok", ldmatrix_then_refill(false)),
    ENTRY("refill_arrive_before_read", ldmatrix_then_refill(true)),
    ENTRY("mbarrier_ok", mbarrier_handoff(true)),
    ENTRY("mbarrier_no_wait", mbarrier_handoff(false)),
    ENTRY("named_ok", named_barrier_handoff(false)),
    ENTRY("named_store_after_arrive", named_barrier_handoff(true)),
    ENTRY("stmatrix_ok", stmatrix_roundtrip(false)),
    ENTRY("stmatrix_swapped", stmatrix_roundtrip(true)),
};
#undef ENTRY

const KernelEntry* selftest_entries(int* n) {
  *n = static_cast<int>(sizeof kSelftestEntries / sizeof kSelftestEntries[0]);
  return kSelftestEntries;
}

}  // namespace emu
