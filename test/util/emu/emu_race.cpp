// The emulator's shared-memory race detector: emu_race.h says what it models; emu.cpp calls it from the emulated
// instructions and barriers. A race ends the launch through emu::fault, like every other emulator report.
#include "emu_race.h"

#include <cstdio>
#include <cstring>
#include <vector>

namespace emu {

// ---- call sites of shared-memory accesses (emu_runtime.h) --------------------------------------------------------
namespace {
struct Site {
  AccessKind kind;
  const char* file;  // a path (__builtin_FILE at the call), or a shared array's name with line 0
  int line;
};
std::vector<Site> g_sites;
struct SiteSlot {
  const char* file = nullptr;
  int line = -1, kind = -1;
  uint16_t id = 0;
};
SiteSlot g_site_cache[1024];  // direct-mapped: most accesses find their site here

const char* kind_name(AccessKind k) {
  switch (k) {
    case kAccLdShared: return "ld.shared";
    case kAccStShared: return "st.shared";
    case kAccLdmatrix: return "ldmatrix";
    case kAccLdmatrixTrans: return "ldmatrix.trans";
    case kAccCpAsync: return "cp.async";
    case kAccTma: return "a TMA load (cp.async.bulk.tensor)";
    case kAccWgmmaA: return "wgmma (A operand)";
    case kAccWgmmaB: return "wgmma (B operand)";
    case kAccMbarrierInit: return "mbarrier.init";
    case kAccBulkCopy: return "a bulk copy (cp.async.bulk)";
    case kAccStAsync: return "st.async";
  }
  return "?";
}
}  // namespace

uint16_t access_site(AccessKind kind, const char* file, int line) {
  SiteSlot& s = g_site_cache[((reinterpret_cast<uintptr_t>(file) >> 3) * 31 + static_cast<unsigned>(line) * 7 + kind) & 1023];
  if (s.file == file && s.line == line && s.kind == kind) return s.id;
  size_t i = 0;
  while (i < g_sites.size() && !(g_sites[i].file == file && g_sites[i].line == line && g_sites[i].kind == kind)) ++i;
  if (i == g_sites.size()) {
    if (i == 0xffff) fault("the race detector's table of access sites is full");
    g_sites.push_back({kind, file, line});
  }
  s = {file, line, kind, static_cast<uint16_t>(i)};
  return s.id;
}

namespace race {
namespace {

struct Word {
  uint32_t gen = 0;      // the CTA this state belongs to (older: the word is unwritten in this CTA)
  uint32_t readers = 0;  // warps with a read since the last write (bit w: reads[word][w] is valid)
  uint32_t w_epoch = 0;  // last write: its agent's epoch (0: none)
  uint16_t w_agent = 0, w_tid = 0, w_site = 0;
  bool pending = false;  // a cp.async of thread w_tid (site w_site) is in flight into this word
  uint32_t ar_epoch = 0;  // a bulk copy reading this word since the last write: its agent's epoch (0: none)
  uint16_t ar_agent = 0, ar_tid = 0, ar_site = 0;
};
struct Read {
  uint32_t epoch;
  uint16_t tid, site;
};

constexpr uint32_t kWords = kSmemCap / 4 * kMaxCluster;  // every CTA of a cluster: CTA r's word i at r · kSmemCap / 4 + i
unsigned g_tid_base = 0;      // the running CTA's first thread and shared byte in the cluster-wide numbering (set_base)
uint32_t g_addr_base = 0;
bool g_on = false;
unsigned g_warps = 0;
uint32_t g_gen = 0;
std::vector<Word> g_words(kWords);
std::vector<Read> g_reads;                     // [word · g_warps + warp]
std::vector<VClock> g_clock;                   // per thread
std::vector<std::vector<uint32_t>> g_pending;  // per thread: the words of its cp.asyncs in flight
std::vector<uint32_t> g_async_bar, g_async_epoch;  // async agent g_warps + i: its mbarrier, its last epoch
int g_agents = 0;  // g_warps + the async agents so far: the clock entries in use

Word& word(uint32_t i) {
  Word& w = g_words[i];
  if (w.gen != g_gen) w = Word{g_gen};
  return w;
}

void site_name(char* buf, size_t cap, uint16_t site) {
  const Site& s = g_sites[site];
  if (s.line == 0) {
    std::snprintf(buf, cap, "%s", *s.file ? s.file : "-");
    return;
  }
  const char* base = std::strrchr(s.file, '/');
  std::snprintf(buf, cap, "%s:%d", base ? base + 1 : s.file, s.line);
}

// One side of a race: what access, by whom, where, and (for the earlier one) at which epoch of which agent.
struct Side {
  uint16_t site;
  unsigned tid;
  int agent;  // the earlier access's agent (a warp, or an async agent); -1: a cp.async in flight
  uint32_t epoch;
};
[[noreturn]] void report(const char* type, uint32_t word_addr, const Side& first, bool first_reads, const Side& second, bool second_reads, uint32_t addr,
                         uint32_t bytes, uint32_t known) {
  char s1[160], s2[160], earlier[400], knows[160];
  site_name(s1, sizeof s1, first.site);
  site_name(s2, sizeof s2, second.site);
  const char *k1 = kind_name(g_sites[first.site].kind), *k2 = kind_name(g_sites[second.site].kind);
  if (first.agent < 0) {
    std::snprintf(earlier, sizeof earlier, "%s by thread %u (warp %u, %s) is still in flight into it (that thread has not reached cp.async.wait_group since)", k1,
                  first.tid, first.tid / 32, s1);
    std::snprintf(knows, sizeof knows, "before it lands");
  } else if (first.agent < static_cast<int>(g_warps)) {
    std::snprintf(earlier, sizeof earlier, "%s by thread %u (warp %u, %s) %s it in warp %d's epoch %u", k1, first.tid, first.tid / 32, s1, first_reads ? "read" : "wrote",
                  first.agent, first.epoch);
    if (known) std::snprintf(knows, sizeof knows, "knowing warp %d only up to epoch %u", first.agent, known);
    else std::snprintf(knows, sizeof knows, "knowing nothing of warp %d", first.agent);
  } else {
    std::snprintf(earlier, sizeof earlier, "%s issued by thread %u (warp %u, %s) %s it as copy #%u of those completing on mbarrier 0x%x%s", k1, first.tid, first.tid / 32, s1,
                  first_reads ? "read" : "wrote", first.epoch, g_async_bar[first.agent - g_warps],
                  first_reads ? " (its source: read until it completes there)" : "");
    std::snprintf(knows, sizeof knows, "knowing only %u of those copies complete (no wait on that mbarrier since)", known);
  }
  fault("shared-memory race (%s) on the word at shared 0x%x: %s; then %s [0x%x, +%u) by thread %u (warp %u, %s) %s it, %s: nothing orders the two (no bar.sync, "
        "bar.arrive → bar.sync, mbarrier arrive → wait or cp.async.wait_group between them; epoch e of a warp = its code after its (e - 1)-th barrier "
        "arrival), a race on the GPU",
        type, word_addr, earlier, k2, addr, bytes, second.tid, second.tid / 32, s2, second_reads ? "reads" : "writes", knows);
}

void check_words(uint32_t addr, uint32_t bytes) {
  if (addr % 4 || bytes % 4 || bytes == 0) fault("a %u-byte shared access at 0x%x: the race detector tracks whole 4-byte words", bytes, addr);
  if (static_cast<uint64_t>(addr) + bytes > static_cast<uint64_t>(kSmemCap) * kMaxCluster) fault("shared access [0x%x, +%u) past the emulator's shared memory", addr, bytes);
}

// A write of thread `tid` (warp `warp`, clock C) to word i: every earlier access of another warp or agent must be
// ordered before it.
void check_write(unsigned tid, unsigned warp, const VClock& C, uint32_t i, const Word& x, uint32_t addr, uint32_t bytes, uint16_t site) {
  const Side me{site, tid, static_cast<int>(warp), 0};
  if (x.pending) report("WAW", i * 4, {x.w_site, x.w_tid, -1, 0}, false, me, false, addr, bytes, 0);
  if (x.w_epoch && x.w_agent != warp && x.w_epoch > C.c[x.w_agent])
    report("WAW", i * 4, {x.w_site, x.w_tid, x.w_agent, x.w_epoch}, false, me, false, addr, bytes, C.c[x.w_agent]);
  if (x.ar_epoch && x.ar_epoch > C.c[x.ar_agent])  // a bulk copy's source read, its own issuer's warp included
    report("WAR", i * 4, {x.ar_site, x.ar_tid, x.ar_agent, x.ar_epoch}, true, me, false, addr, bytes, C.c[x.ar_agent]);
  for (uint32_t m = x.readers & ~(1u << warp); m; m &= m - 1) {
    const unsigned v = static_cast<unsigned>(__builtin_ctz(m));
    const Read& r = g_reads[static_cast<size_t>(i) * g_warps + v];
    if (r.epoch <= C.c[v]) continue;
    // a wgmma's operands against a later write of its own warpgroup: whether the wgmma had completed is the
    // emulator's wgmma check (emu.cpp check_shared_write, which follows wgmma.wait_group), not a question of epochs
    const AccessKind k = g_sites[r.site].kind;
    if ((k == kAccWgmmaA || k == kAccWgmmaB) && v / 4 == warp / 4) continue;
    report("WAR", i * 4, {r.site, r.tid, static_cast<int>(v), r.epoch}, true, me, false, addr, bytes, C.c[v]);
  }
}

// A read of word i (`me`, of warp `warp`, clock C): the last write must be ordered before it.
void check_after_write(const Side& me, unsigned warp, const VClock& C, uint32_t i, const Word& x, uint32_t addr, uint32_t bytes) {
  if (x.pending) report("RAW", i * 4, {x.w_site, x.w_tid, -1, 0}, false, me, true, addr, bytes, 0);
  if (x.w_epoch && x.w_agent != warp && x.w_epoch > C.c[x.w_agent])
    report("RAW", i * 4, {x.w_site, x.w_tid, x.w_agent, x.w_epoch}, false, me, true, addr, bytes, C.c[x.w_agent]);
}

// A read of word i by warp `warp` (thread tid, clock C), and its record.
void check_read(unsigned tid, unsigned warp, const VClock& C, uint32_t i, Word& x, uint32_t addr, uint32_t bytes, uint16_t site) {
  check_after_write({site, tid, static_cast<int>(warp), 0}, warp, C, i, x, addr, bytes);
  Read& r = g_reads[static_cast<size_t>(i) * g_warps + warp];
  if (!(x.readers >> warp & 1) || r.epoch <= C.c[warp]) r = {C.c[warp], static_cast<uint16_t>(tid), site};
  x.readers |= 1u << warp;
}

}  // namespace

void begin_cta(unsigned threads, bool on) {
  g_on = on;
  if (!on) return;
  g_warps = threads / 32;
  if (++g_gen == 0) {  // wrapped: forget every word's state for real
    g_words.assign(kWords, Word{});
    g_gen = 1;
  }
  g_reads.resize(static_cast<size_t>(kWords) * g_warps);  // entries are valid only where a word's `readers` says so
  g_clock.assign(threads, VClock{});
  for (unsigned t = 0; t < threads; ++t) g_clock[t].c[t / 32] = 1;
  g_pending.assign(threads, {});
  g_async_bar.clear();
  g_async_epoch.clear();
  g_agents = static_cast<int>(g_warps);
}

void set_base(unsigned tid_base, uint32_t addr_base) { g_tid_base = tid_base, g_addr_base = addr_base; }

void release(unsigned tid, VClock& into) {
  if (!g_on) return;
  tid += g_tid_base;
  into.join(g_clock[tid], g_agents);
  ++g_clock[tid].c[tid / 32];
}

void acquire(unsigned tid, const VClock& from) {
  if (g_on) g_clock[tid + g_tid_base].join(from, g_agents);
}

void join_lanes(unsigned warp) {
  if (!g_on) return;
  warp += g_tid_base / 32;
  VClock j;
  for (unsigned l = 0; l < 32; ++l) j.join(g_clock[warp * 32 + l], g_agents);
  for (unsigned l = 0; l < 32; ++l) g_clock[warp * 32 + l] = j;
}

VClock warpgroup_clock(unsigned wg) {
  VClock j;
  wg += g_tid_base / 128;
  if (g_on)
    for (unsigned t = wg * 128; t < wg * 128 + 128; ++t) j.join(g_clock[t], g_agents);
  return j;
}

int async_agent(uint32_t bar) {
  bar += g_addr_base;
  for (size_t i = 0; i < g_async_bar.size(); ++i)
    if (g_async_bar[i] == bar) return static_cast<int>(g_warps + i);
  if (g_async_bar.size() == kMaxAsync) fault("more than %d mbarriers with TMA loads: the race detector has no agent left", kMaxAsync);
  g_async_bar.push_back(bar);
  g_async_epoch.push_back(0);
  return g_agents++;
}

uint32_t async_epoch(int agent) { return ++g_async_epoch[agent - g_warps]; }

void read(unsigned tid, uint32_t addr, uint32_t bytes, uint16_t site) {
  if (!g_on) return;
  tid += g_tid_base, addr += g_addr_base;
  check_words(addr, bytes);
  const unsigned warp = tid / 32;
  const VClock& C = g_clock[tid];
  for (uint32_t i = addr / 4; i < (addr + bytes) / 4; ++i) check_read(tid, warp, C, i, word(i), addr, bytes, site);
}

void write(unsigned tid, uint32_t addr, uint32_t bytes, uint16_t site) {
  if (!g_on) return;
  tid += g_tid_base, addr += g_addr_base;
  check_words(addr, bytes);
  const unsigned warp = tid / 32;
  const VClock& C = g_clock[tid];
  for (uint32_t i = addr / 4; i < (addr + bytes) / 4; ++i) {
    Word& x = word(i);
    check_write(tid, warp, C, i, x, addr, bytes, site);
    x.w_agent = static_cast<uint16_t>(warp), x.w_epoch = C.c[warp], x.w_tid = static_cast<uint16_t>(tid), x.w_site = site, x.readers = 0;
    x.ar_epoch = 0;
  }
}

void cp_async(unsigned tid, uint32_t addr, uint32_t bytes, uint16_t site) {
  if (!g_on) return;
  tid += g_tid_base, addr += g_addr_base;
  check_words(addr, bytes);
  const unsigned warp = tid / 32;
  const VClock& C = g_clock[tid];
  for (uint32_t i = addr / 4; i < (addr + bytes) / 4; ++i) {
    Word& x = word(i);
    check_write(tid, warp, C, i, x, addr, bytes, site);
    x.pending = true, x.w_tid = static_cast<uint16_t>(tid), x.w_site = site, x.readers = 0, x.ar_epoch = 0;
    g_pending[tid].push_back(i);
  }
}

void cp_async_wait(unsigned tid) {
  if (!g_on) return;
  tid += g_tid_base;
  const unsigned warp = tid / 32;
  for (uint32_t i : g_pending[tid]) {
    Word& x = word(i);
    if (x.pending && x.w_tid == tid) x.pending = false, x.w_agent = static_cast<uint16_t>(warp), x.w_epoch = g_clock[tid].c[warp];
  }
  g_pending[tid].clear();
}

void async_write(unsigned issuer, uint32_t addr, uint32_t bytes, int agent, uint32_t epoch, uint16_t site) {
  if (!g_on) return;
  issuer += g_tid_base, addr += g_addr_base;
  check_words(addr, bytes);
  const unsigned warp = issuer / 32;
  const VClock& C = g_clock[issuer];
  for (uint32_t i = addr / 4; i < (addr + bytes) / 4; ++i) {
    Word& x = word(i);
    check_write(issuer, warp, C, i, x, addr, bytes, site);
    x.w_agent = static_cast<uint16_t>(agent), x.w_epoch = epoch, x.w_tid = static_cast<uint16_t>(issuer), x.w_site = site, x.readers = 0;
    x.ar_epoch = 0;
  }
}

void async_read(unsigned issuer, uint32_t addr, uint32_t bytes, int agent, uint32_t epoch, uint16_t site) {
  if (!g_on) return;
  issuer += g_tid_base, addr += g_addr_base;
  check_words(addr, bytes);
  // checked against what the issuer knows at issue (the copy starts then); read by the copy's agent
  for (uint32_t i = addr / 4; i < (addr + bytes) / 4; ++i) {
    Word& x = word(i);
    check_after_write({site, issuer, agent, epoch}, issuer / 32, g_clock[issuer], i, x, addr, bytes);
    x.ar_epoch = epoch, x.ar_agent = static_cast<uint16_t>(agent), x.ar_tid = static_cast<uint16_t>(issuer), x.ar_site = site;
  }
}

void group_read(unsigned wg, const VClock& known, uint32_t addr, uint32_t bytes, uint16_t site) {
  if (!g_on) return;
  wg += g_tid_base / 128, addr += g_addr_base;
  check_words(addr, bytes);
  for (uint32_t i = addr / 4; i < (addr + bytes) / 4; ++i) {
    Word& x = word(i);
    for (unsigned w = wg * 4; w < wg * 4 + 4; ++w) check_read(w * 32, w, known, i, x, addr, bytes, site);
  }
}

}  // namespace race
}  // namespace emu
