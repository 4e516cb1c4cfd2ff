// The `hopper` kernel's timing switch (mla_decode_sm90.cu; scripts/trace-sm90.mjs reads it): with -DMLA_SM90_TRACE
// thread 0 of m-block 0 sums its SM cycles per phase over the part's items and writes them into the metadata row's
// unused ints 5–7 (no kernel reads them); without it the struct is empty and every call does nothing.
//   =1 (or defined): start (item top → first S done), loop (→ both loops over), epilogue (→ rows stored);
//   =2: the epilogue's phases instead — loop end → past the row-sum barrier, the next Q's issue, the stores;
//   =3: the start of the items after the first, the first item's start, the prologue from past the PDL wait to the
//       first item's top;
//   =4: the part's entry and end on the global ns timer (low 32 bits) and its clock cycles between (the SM clock,
//       the parts' start skew); =5: the same with the SM's id in place of the cycles.
#pragma once
#include <cstdint>

#include "mla_params.h"
#include "ptx.cuh"

namespace {

struct PartTrace {
#ifdef MLA_SM90_TRACE
  long long top = 0, mark = 0, start = 0, loop = 0, epi = 0;
#if MLA_SM90_TRACE == 3
  long long after_wait = 0, pro = 0, first = 0;
#endif
#if MLA_SM90_TRACE == 4 || MLA_SM90_TRACE == 5
  uint64_t entry_ns = 0;
  long long entry_cycles = 0;
#endif
#endif
  // the kernel's entry, before the PDL wait
  __device__ __forceinline__ void entry() {
#if MLA_SM90_TRACE == 4 || MLA_SM90_TRACE == 5
    entry_ns = ptx::globaltimer();
    entry_cycles = clock64();
#endif
  }
  __device__ __forceinline__ void past_wait() {
#if MLA_SM90_TRACE == 3
    after_wait = clock64();
#endif
  }
  // a math thread past its register reallocation: the first item's top
  __device__ __forceinline__ void math_begin() {
#ifdef MLA_SM90_TRACE
    top = clock64();
#if MLA_SM90_TRACE == 3
    pro = top - after_wait;
#endif
#endif
  }
  __device__ __forceinline__ void item_top(bool first_item) {
#ifdef MLA_SM90_TRACE
    if (!first_item) top = clock64();
    mark = top;
#endif
  }
  // warpgroup 0's first S of the item is done
  __device__ __forceinline__ void first_s_done(bool first_item) {
#if defined(MLA_SM90_TRACE) && MLA_SM90_TRACE != 2
    const long long t = clock64();
    start += t - top;
    mark = t;
#endif
#if MLA_SM90_TRACE == 3
    if (first_item) first = start;
#endif
  }
  __device__ __forceinline__ void loops_done() {
#if defined(MLA_SM90_TRACE) && MLA_SM90_TRACE != 2
    const long long t = clock64();
    loop += t - mark;
    mark = t;
#elif defined(MLA_SM90_TRACE)
    mark = clock64();
#endif
  }
  __device__ __forceinline__ void sums_done() {  // (=2) past the row-sum barrier
#if MLA_SM90_TRACE == 2
    const long long t = clock64();
    start += t - mark;
    mark = t;
#endif
  }
  __device__ __forceinline__ void next_q_issued() {  // (=2)
#if MLA_SM90_TRACE == 2
    const long long t = clock64();
    loop += t - mark;
    mark = t;
#endif
  }
  __device__ __forceinline__ void rows_stored() {
#ifdef MLA_SM90_TRACE
    epi += clock64() - mark;
#endif
  }
  // the part's end: m-block 0's thread 0 writes ints 5–7 of its metadata row (a trace build: on batch-order schedules
  // only — a packed one keeps its order table there, which other parts still read)
  __device__ __forceinline__ void write(const MlaDecodeParams& p, int m_block, int tid) {
#ifdef MLA_SM90_TRACE
    if (m_block != 0 || tid != 0) return;
    int* row = const_cast<int*>(p.tile_scheduler_metadata) + blockIdx.y * kMetadataRowInts;
#if MLA_SM90_TRACE == 4 || MLA_SM90_TRACE == 5
    row[5] = static_cast<int>(static_cast<uint32_t>(entry_ns));
    row[6] = static_cast<int>(static_cast<uint32_t>(ptx::globaltimer()));
    row[7] = MLA_SM90_TRACE == 5 ? static_cast<int>(ptx::smid()) : static_cast<int>(clock64() - entry_cycles);
#elif MLA_SM90_TRACE == 3
    row[5] = static_cast<int>(start - first);
    row[6] = static_cast<int>(first);
    row[7] = static_cast<int>(pro);
#else
    row[5] = static_cast<int>(start);
    row[6] = static_cast<int>(loop);
    row[7] = static_cast<int>(epi);
#endif
#endif
  }
};

}  // namespace
