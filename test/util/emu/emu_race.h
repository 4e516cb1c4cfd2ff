// The emulator's shared-memory race detector (emu_race.cpp), as the rest of the emulator (emu.cpp) drives it: a
// happens-before detector with vector clocks at warp granularity, in the manner of FastTrack.
//
// Agents: the CTA's warps, and one asynchronous agent per mbarrier for the TMA loads that complete on it. Every thread
// holds a vector clock (VClock: per agent, how much of that agent's history it knows). Its own warp's entry is its
// epoch: it starts at 1 and advances after every release the thread makes (bar.sync, bar.arrive, mbarrier arrive),
// so "epoch e of warp w" is the stretch of warp w's code after its (e − 1)-th barrier arrival. Releases join the
// thread's clock into the barrier's, acquires join the barrier's into the thread's: bar.sync / __syncthreads / a named
// barrier release at arrival and acquire at completion, bar.arrive releases only, mbarrier arrive releases into the
// current phase and a wait that returns acquires the phases completed so far. A warp collective (shuffle, vote,
// ldmatrix, mma.sync, __syncwarp) joins its lanes' clocks — what one lane knows, the warp knows — and orders nothing
// between warps. Each TMA load is a new epoch of its mbarrier's agent; the load's completion (complete_tx) joins
// that epoch into the mbarrier's phase, so only threads that waited on the mbarrier (or learnt it from one that did)
// know the tile landed.
//
// Shadow state per 4-byte word of shared memory (every access of the emulated kernels is whole aligned words: b32 /
// v2 / v4 loads and stores, 16-byte ldmatrix rows, cp.async and TMA chunks, wgmma operands of 16-byte chunks; an
// access that is not is reported): the last write (agent, epoch, thread, call site), the last read of every warp
// since that write (epoch, thread, call site), and a cp.async in flight into the word. An access is a race when an
// earlier conflicting access of another warp (or of an asynchronous agent, or a cp.async not yet waited for) is not
// ordered before it: RAW (a read after a write it does not know), WAR (a write after a read it does not know), WAW.
// Accesses of one warp are not checked against each other (their order is program order or the warp's own
// collectives), except a cp.async in flight: between its issue and its issuer's cp.async.wait_group / wait_all (the
// kernels use only group 0) any read of those bytes, its own warp's included, is a race, and at the wait they
// become an ordinary write of the issuer. wgmma operands are read at issue by every warp of the warpgroup, checked
// against the warpgroup's joined clock; that the reads go on until the covering wgmma.wait_group is the emulator's
// wgmma check (emu.cpp check_shared_write, run on every shared write), so a write of the wgmma's own warpgroup is not
// checked against them here (its order after the wgmma is wgmma.wait_group's, not a barrier's).
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>

#include "emu_runtime.h"

namespace emu::race {

constexpr int kMaxWarps = 32, kMaxAsync = 48, kMaxAgents = kMaxWarps + kMaxAsync;  // hopper: 18 mbarriers (one per K slab); 2 CTAs of the FP8 pair: 40

// Entries [0, warps) are the CTA's warps, [warps, warps + async agents in use) the TMA agents.
struct VClock {
  std::array<uint32_t, kMaxAgents> c{};
  void join(const VClock& o, int agents = kMaxAgents) {
    for (int i = 0; i < agents; ++i) c[i] = std::max(c[i], o.c[i]);
  }
};

// A new CTA (or cluster of CTAs: `threads` in all): fresh clocks, every word of shared memory unwritten. `on` false:
// every call below does nothing.
void begin_cta(unsigned threads, bool on);
// The running CTA's place in its cluster: the thread ids, warps, warpgroups and shared addresses the calls below take
// are its own, offset by its first thread (tid_base) and its first shared byte (addr_base, rank · kSmemCap) into the
// cluster-wide numbering (both 0 without a cluster). A bulk copy into another CTA keeps the issuer's tid_base and
// takes the target's addr_base.
void set_base(unsigned tid_base, uint32_t addr_base);

// ---- synchronisation ---------------------------------------------------------------------------------------------
void release(unsigned tid, VClock& into);  // into ⊔= C(tid), then tid's epoch advances
void acquire(unsigned tid, const VClock& from);  // C(tid) ⊔= from
void join_lanes(unsigned warp);  // a warp collective: every lane of `warp` gets the join of the lanes' clocks
VClock warpgroup_clock(unsigned wg);  // the join of the clocks of warpgroup wg's 128 threads
// TMA: the agent of loads completing on the mbarrier at `bar` (one per mbarrier address), and a new epoch of it
int async_agent(uint32_t bar);
uint32_t async_epoch(int agent);

// ---- accesses (shared byte address, bytes: whole 4-byte words) ---------------------------------------------------
void read(unsigned tid, uint32_t addr, uint32_t bytes, uint16_t site);
void write(unsigned tid, uint32_t addr, uint32_t bytes, uint16_t site);
void cp_async(unsigned tid, uint32_t addr, uint32_t bytes, uint16_t site);  // in flight until tid's cp_async_wait
void cp_async_wait(unsigned tid);
// A TMA chunk: written by `agent` at `epoch`, after (checked against) what the issuing thread knows.
void async_write(unsigned issuer, uint32_t addr, uint32_t bytes, int agent, uint32_t epoch, uint16_t site);
// A bulk copy's source chunk (cp.async.bulk.shared::cluster): read by the copy, `agent` at `epoch` (the agent of the
// mbarrier it completes on), after what the issuer knows. The read goes on until the copy completes: a later write is
// ordered after it only by learning that epoch — a wait on the mbarrier's phase, or from one who waited (PTX's
// cp.async.bulk.wait_group.read does not cover copies that complete on an mbarrier). One such read is kept per word
// (the newest).
void async_read(unsigned issuer, uint32_t addr, uint32_t bytes, int agent, uint32_t epoch, uint16_t site);
// A wgmma operand chunk: read by the four warps of warpgroup wg, whose joined clock is `known`.
void group_read(unsigned wg, const VClock& known, uint32_t addr, uint32_t bytes, uint16_t site);

}  // namespace emu::race
