// build: archs=sm_80,sm_90 ptx=compute_80 hot
// Tile scheduler of FlashMLA 9edee0c (get_mla_metadata.cu) plus four rules of ours (when every request misses the
// payload by at most one split's cost, it grows to hold the longest whole; an equal-length batch whole when that
// costs at most whole_slack split costs more; an equal-length batch of k ≥ 2 parts per request in k even pieces, when
// even_split > 0; the payload up to tight_steps blocks lower while the walk still completes), bit-identical to
// scheduleTiles() in src/mla/schedule.ts. The fourth rule's candidate payloads are walked side by side: the parallel
// schedule's runs for each (one warp's chase each), or one lane's serial walk each.
//
// The schedule is a greedy walk: part after part takes whole requests while they fit in its payload P and cuts the
// first one that does not (its cut costs a split, o blocks). Walked by one thread it is a chain of dependent
// instructions per request and per part (ncu on an H200: ~76 000 cycles, ~40 µs, for 128 requests and 132 parts).
// This kernel computes the same schedule in parallel. On the cost line — request i occupies [Q[i], Q[i+1]), Q the
// prefix sums of (blocks + o) — a part starting at X ends where its window [X, X + P] does: if the window's end lies
// more than o past the last request start Q[j] ≤ X + P, the part cuts request j and the next starts at X + P − o;
// otherwise (or at the end of the batch) the next starts at Q[j]. So from a request start Q[k] the parts follow each
// other at steps of c = P − o ("a run") until one ends within o of a request start ("a snap"). Per request start k
// (one thread each): the run's length and where it snaps, jumping from one request start to the next; one thread
// then chases the runs from request 0 (one shared-memory load per run); then every part's row and every request's
// num_splits entry follow from its run in closed form (one thread each). With lengths that differ, a thread follows its
// run across at most kRunSteps request starts and warp 0's chase finishes the runs it takes, 32 parts at a time: a few
// long runs the walk never takes no longer hold the block up. Batches whose arrays do not fit, whose total cost
// reaches 2^30, or whose walk is short (b + parts ≤ 32) take the serial walk (kept below), by thread 0. On an H200 the
// parallel schedule costs 4–13 µs on the serving shapes where the walk took 10–47 µs, 9–10 µs on variable-length
// batches of 128 (15–34 uncapped; perf log, session 16 `mdpar`, session 17 `mdhyb`).
//
// The split cost (FlashMLA's FIXED_OVERHEAD_NUM_BLOCKS) is the argument split_overhead, the second rule's slack
// whole_slack, the third rule's shortest piece even_split, the fourth rule's steps tight_steps: the host passes the
// values its cpu schedule uses (src/mla/schedule.ts splitOverheadBlocks, wholeSlackSplits, evenSplitMinSplits,
// tightPayloadSteps), so that both produce the same bits. The fifth rule (a variable-length batch walked in a packed
// order, mla_metadata_pack.cuh) runs after that schedule is written, with a split item's cost pack_cost (0: off; the
// host's packCostFor).
//
// Launch: grid 1, block METADATA_THREADS, dynamic smem as mla_config.h says (the kernel reads %dynamic_smem_size).
#include <climits>
#include <cstdint>

#include "mla_config.h"
#include "mla_params.h"
#include "ptx.cuh"

using namespace mla;

// Math.ceil(s / 64) for any int s (truncating division rounds toward zero, so only a positive remainder
// rounds up; matches JS for negative values too). Negative seqlens are refused by the API's value checks, which do not
// run inside a graph capture or with checkValues: false; then the schedule is meaningless (the prefix sums are not
// monotone, as last_le assumes) but every index stays in bounds (a review's 200 000 random batches with negative
// seqlens on an H100, session 42: no fault, no hang).
__device__ __forceinline__ int ceil_blocks(int s) { return s / PAGE_BLOCK_SIZE + (s % PAGE_BLOCK_SIZE > 0 ? 1 : 0); }

constexpr int kHeaderInts = METADATA_HEADER_BYTES / 4;
// request starts a thread's run may cross before it leaves the run to the chase (parallel_schedule)
constexpr int kRunSteps = 8;
constexpr int kWarps = METADATA_THREADS / 32;
// header ints: per warp its chunks' cost sum (low and high halves), smallest and largest block count; then per
// candidate slot its chase's run count and the parts its runs use
constexpr int kHdrTotalLo = 0, kHdrTotalHi = kWarps, kHdrMin = 2 * kWarps, kHdrMax = 3 * kWarps;
constexpr int kHdrRuns = 4 * kWarps, kHdrParts = 4 * kWarps + 1;  // + 2 · slot
static_assert(kHdrParts + 2 * (kWarps - 1) < kHeaderInts, "header");

// One part's metadata row (32 bytes): two 16-byte stores when the tensor is 16-byte aligned (a user's view may not be).
// Ints 5–7: the packed order's table (position i → row i / 3, int 5 + i % 3, request + 1), 0 for the batch order.
__device__ __forceinline__ void write_row(int* row, bool vec_rows, int begin_req, int begin_token, int end_req, int end_token, int begin_split,
                                          int order5 = 0, int order6 = 0, int order7 = 0) {
  if (vec_rows) {
    int4* r4 = reinterpret_cast<int4*>(row);
    r4[0] = make_int4(begin_req, begin_token, end_req, end_token);
    r4[1] = make_int4(begin_split, order5, order6, order7);
  } else {
    row[kBeginReq] = begin_req;
    row[kBeginToken] = begin_token;
    row[kEndReq] = end_req;
    row[kEndToken] = end_token;
    row[kBeginSplit] = begin_split;
    row[kPackedOrder] = order5;
    row[kPackedOrder + 1] = order6;
    row[kPackedOrder + 2] = order7;
  }
}

#include "mla_metadata_pack.cuh"  // (the fifth rule: uses ceil_blocks and write_row)

// Every part's payload P in blocks (src/mla/schedule.ts scheduleTiles, the same expressions).
__device__ __forceinline__ long long payload_of(long long total, int min_nb, int max_nb, int b, int num_sm_parts, int overhead, int whole_slack,
                                                int even_split, bool& whole_fired) {
  // 9edee0c keeps a floor of 2 * overhead = 10 blocks per part.
  const long long share = (total + num_sm_parts - 1) / num_sm_parts + overhead;
  long long payload = max(share, 2LL * overhead);
  // Not in 9edee0c (src/mla/schedule.ts says why): when every request misses the payload by at most one split's cost
  // and the payload is the batch's share, the longest request whole.
  if (static_cast<long long>(min_nb) + overhead > payload && max_nb <= payload && share >= 2LL * overhead) payload = max_nb + overhead;
  // Our second rule (src/mla/schedule.ts, WHOLE_BATCH_SLACK_SPLITS): an equal-length batch, ceil(b / parts) whole
  // requests per part, when that payload exceeds this one by at most whole_slack split costs (0: off)
  if (whole_slack > 0 && b > 0 && min_nb == max_nb && share >= 2LL * overhead) {
    const long long whole = ((static_cast<long long>(b) + num_sm_parts - 1) / num_sm_parts) * (static_cast<long long>(max_nb) + overhead);
    if (whole <= payload + static_cast<long long>(whole_slack) * overhead && 32 * whole <= 33LL * payload)
      payload = whole;  // (and within 1/32 of the payload: few idle parts, as measured)
  }
  whole_fired = payload != max(share, 2LL * overhead);  // (the fourth rule leaves such a payload alone)
  // Our third rule (src/mla/schedule.ts, evenSplitMinSplits; 0: off): an equal-length batch with k = parts / b ≥ 2
  // parts per request, cut into k even pieces of at least even_split split costs, when no piece's part has room left
  // for a sliver of the next request and that payload is lower
  if (even_split > 0 && b > 0 && min_nb == max_nb && num_sm_parts / b >= 2) {
    const long long k = num_sm_parts / b, piece = (max_nb + k - 1) / k;
    if (piece >= static_cast<long long>(even_split) * overhead && ((max_nb + piece - 1) / piece) * piece - max_nb <= overhead && piece + overhead < payload)
      payload = piece + overhead;
  }
  return payload;
}

// The serial greedy walk over the parts (thread 0). Cost: int (total < 2^30) or long long. kCached: seqlens and block
// counts from shared memory (s_cache[i] and s_cache[capacity + i]) instead of global memory.
template <typename Cost, bool kCached, typename Smem>
__device__ __forceinline__ void walk(const int* cache_seqlens, const Smem& s_cache, int capacity, int b, int num_sm_parts,
                                     long long payload_blocks, int* tile_scheduler_metadata, int* num_splits, int overhead) {
  auto nb_of = [&](int i) -> int { return kCached ? static_cast<int>(s_cache[kHeaderInts + capacity + i]) : ceil_blocks(ptx::ld_plain(cache_seqlens + i)); };
  auto seqlen_of = [&](int i) -> int { return kCached ? static_cast<int>(s_cache[kHeaderInts + i]) : ptx::ld_plain(cache_seqlens + i); };
  const Cost payload = static_cast<Cost>(payload_blocks);
  const bool vec_rows = (reinterpret_cast<uintptr_t>(tile_scheduler_metadata) & 15) == 0;
  int req = 0;    // current request
  int blk = 0;    // blocks of `req` already given to earlier parts
  int split = 0;  // splits of `req` already emitted
  int cum = 0;    // running split count (num_splits prefix sum)
  num_splits[0] = 0;
  int nb = b > 0 ? nb_of(0) : 0;  // blocks of `req`, loaded one step ahead
  for (int part = 0; part < num_sm_parts; ++part) {
    int* row = tile_scheduler_metadata + static_cast<long long>(part) * METADATA_ROW_INTS;
    const int begin_req = req, begin_token = blk * PAGE_BLOCK_SIZE, begin_split = split;
    Cost remain = payload;
    while (req < b) {
      const Cost rest = static_cast<Cost>(nb - blk) + overhead;
      if (remain >= rest) {  // the rest of `req` fits in this part
        cum += split + 1;
        num_splits[req + 1] = cum;
        remain -= rest;
        ++req;
        blk = 0;
        split = 0;
        nb = req < b ? nb_of(req) : 0;
      } else {  // cut `req`: this part takes remain - overhead more blocks (if any)
        if (remain - overhead > 0) {
          blk += static_cast<int>(remain - overhead);
          ++split;
        }
        break;
      }
    }
    int end_req, end_token;
    if (blk > 0) {  // ends inside `req`
      end_req = req;
      end_token = blk * PAGE_BLOCK_SIZE;
    } else {        // ends at the end of req - 1 (idle parts: begin_req = b, end_req = b - 1)
      end_req = req - 1;
      end_token = req > 0 ? seqlen_of(req - 1) : 0;
    }
    write_row(row, vec_rows, begin_req, begin_token, end_req, end_token, begin_split);
  }
}

// Whether the serial walk with payload P assigns every block within num_sm_parts parts (src/mla/schedule.ts walkFits;
// total < 2^30: int arithmetic). Block counts from shared memory (s_cache[capacity + i]) when cached.
template <typename Smem>
__device__ __forceinline__ bool walk_fits(const int* cache_seqlens, const Smem& s_cache, int capacity, bool cached, int b, int num_sm_parts,
                                          int P, int overhead) {
  int req = 0, blk = 0;
  for (int part = 0; part < num_sm_parts && req < b; ++part) {
    int remain = P;
    while (req < b) {
      const int nb = cached ? static_cast<int>(s_cache[kHeaderInts + capacity + req]) : ceil_blocks(ptx::ld_plain(cache_seqlens + req));
      const int rest = nb - blk + overhead;
      if (remain >= rest) {
        remain -= rest;
        ++req;
        blk = 0;
      } else {
        if (remain - overhead > 0) blk += remain - overhead;
        break;
      }
    }
  }
  return req == b;
}

// The fourth rule's candidate i (payload P0 − i) is worth a walk: i = 0 (the payload itself), or the floor of two split
// costs kept and the parts can hold the batch's cost (below total / parts no walk completes).
__device__ __forceinline__ bool tight_candidate(int i, long long P0, int overhead, long long total, int num_sm_parts) {
  const long long P = P0 - i;
  return i == 0 || (P >= 2LL * overhead && P * num_sm_parts >= total);
}

// The largest j in [lo, hi] with a[j] ≤ u, given a[lo] ≤ u and a non-decreasing (galloping, then bisection: a run's
// next request start is usually one or two entries on).
template <typename Smem>
__device__ __forceinline__ int last_le(const Smem& a, int off, int lo, int hi, int u) {
  int j = lo, step = 1;
  while (j + step <= hi && a[off + j + step] <= u) {
    j += step;
    step <<= 1;
  }
  int top = min(j + step, hi + 1);  // a[top] > u, or top = hi + 1
  while (top - j > 1) {
    const int mid = (j + top) >> 1;
    if (a[off + mid] <= u) j = mid;
    else top = mid;
  }
  return j;
}

// The runs of candidate payloads P0 − s, one per slot s < n (see the top of the file), for total < 2^30 and
// c = P − o ≥ 1. Shared memory after the header: Q[0 … b] (cost prefix sums), then per slot: per request start k next[k]
// (where its run snaps; b: the batch ends in it) and mstar[k] (its parts − 1), then the chased runs' first request and
// first part; the slot's run count and parts used in the header. Candidates the fourth rule skips are left unwalked.
template <typename Smem>
__device__ __forceinline__ void candidate_runs(Smem& sm, int b, int num_sm_parts, int total, int P0, int o, bool equal_lengths, int n, int tid) {
  const int oQ = kHeaderInts, lane = tid & 31, warp = tid >> 5;
  auto slot = [&](int sl) { return oQ + b + 1 + 4 * b * sl; };
  // per request start k: its run's length and where it snaps — at most kRunSteps request starts crossed here; a longer
  // run (rare: parts shorter than requests, snaps missed) is left to the chase, which finishes only the runs it takes
  // (next[k] = −1 − j, mstar[k] = the part to resume at, j a request start at or before that part's window end)
  // (equal lengths: every run is about as long as any other, no thread holds the block up; uncapped, and thread 0
  // chases as a warp's chase costs ~60 ns more per run: H200, session 17 `mdcap`)
  const int steps = equal_lengths ? INT_MAX : kRunSteps;
  for (int t = tid; t < n * b; t += METADATA_THREADS) {
    const int sl = t / b, k = t - sl * b;
    if (!tight_candidate(sl, P0, o, total, num_sm_parts)) continue;
    const int P = P0 - sl, c = P - o, oNext = slot(sl), oM = oNext + b;
    const int qk = sm[oQ + k];
    int m = 0, j = k;
    bool snapped = false;
    for (int step = 0; step < steps; ++step) {
      const int u = qk + P + m * c;  // the end of part m's window (< 2^31: qk + m·c < total, P < 2^30)
      j = last_le(sm, oQ, j, b, u);
      if (j == b || u - sm[oQ + j] <= o) {
        snapped = true;
        break;
      }
      // part m cuts request j; the next part that can end elsewhere is the first whose window reaches Q[j + 1]
      const int need = sm[oQ + j + 1] - qk - P;
      m = max(m + 1, need <= 0 ? 0 : (need + c - 1) / c);
    }
    sm[oNext + k] = snapped ? j : -1 - j;
    sm[oM + k] = m;
  }
  __syncthreads();
  // the runs the walk takes, from request 0 (each run's next one starts at a later request), one warp per slot: by lane
  // 0 for equal lengths (no run open), else by the warp, which finishes a run left open above 32 consecutive parts at
  // a time (lane l tests part m0 + l; the first that does not cut)
  if (warp < n && tight_candidate(warp, P0, o, total, num_sm_parts)) {
    const int P = P0 - warp, c = P - o, oNext = slot(warp), oM = oNext + b, oRreq = oM + b, oRpart = oRreq + b;
    if (equal_lengths) {
      if (lane == 0) {
        int r = 0, part = 0, nr = 0;
        while (r < b) {
          sm[oRreq + nr] = r;
          sm[oRpart + nr] = part;
          part += sm[oM + r] + 1;
          r = sm[oNext + r];
          ++nr;
        }
        sm[kHdrRuns + 2 * warp] = nr;
        sm[kHdrParts + 2 * warp] = part;
      }
    } else {
      int r = 0, part = 0, nr = 0;
      while (r < b) {
        int nx = sm[oNext + r], ms = sm[oM + r];
        if (nx < 0) {
          const int qr = sm[oQ + r];
          int m0 = ms, js = -1 - nx;
          for (;;) {
            // (64-bit: a lane past the batch's end may reach beyond 2^31; there the window holds the rest: j = b)
            const long long u64 = qr + P + static_cast<long long>(m0 + lane) * c;
            const int u = u64 >= total ? total : static_cast<int>(u64);
            const int j = last_le(sm, oQ, js, b, u);
            const unsigned snaps = __ballot_sync(0xffffffffu, j == b || u - sm[oQ + j] <= o);
            if (snaps != 0u) {
              const int l = __ffs(snaps) - 1;
              ms = m0 + l;
              nx = __shfl_sync(0xffffffffu, j, l);
              break;
            }
            js = __shfl_sync(0xffffffffu, j, 31);
            m0 += 32;
          }
          __syncwarp();  // (every lane has read next[r] and mstar[r] above)
          if (lane == 0) {
            sm[oNext + r] = nx;
            sm[oM + r] = ms;
          }
        }
        if (lane == 0) {
          sm[oRreq + nr] = r;
          sm[oRpart + nr] = part;
        }
        part += ms + 1;
        r = nx;
        ++nr;
      }
      if (lane == 0) {
        sm[kHdrRuns + 2 * warp] = nr;
        sm[kHdrParts + 2 * warp] = part;
      }
    }
  }
  __syncthreads();
}

// The parallel schedule (see the top of the file) with payload P0 − i: i the fourth rule's pick among the `tight`
// candidates below P0 (the longest chain P0 − 1, P0 − 2, … whose walks all complete within the parts), evaluated side
// by side (the caller has room for every candidate's arrays).
template <typename Smem>
__device__ __forceinline__ void parallel_schedule(const int* cache_seqlens, Smem& sm, int b, int num_sm_parts, int total, int P0, int o,
                                                  bool equal_lengths, int tight, int* tile_scheduler_metadata, int* num_splits, int tid) {
  const int oQ = kHeaderInts;
  candidate_runs(sm, b, num_sm_parts, total, P0, o, equal_lengths, tight + 1, tid);
  int pick = 0;
  while (pick < tight && tight_candidate(pick + 1, P0, o, total, num_sm_parts) && sm[kHdrParts + 2 * (pick + 1)] <= num_sm_parts) ++pick;
  const int P = P0 - pick, c = P - o;
  const int oNext = oQ + b + 1 + 4 * b * pick, oM = oNext + b, oRreq = oM + b, oRpart = oRreq + b;
  const int n_runs = sm[kHdrRuns + 2 * pick], used = sm[kHdrParts + 2 * pick];
  const bool vec_rows = (reinterpret_cast<uintptr_t>(tile_scheduler_metadata) & 15) == 0;
  // every part's row: part m of the run from request k starts at X = Q[k] + m·c
  for (int q = tid; q < num_sm_parts; q += METADATA_THREADS) {
    int begin_req = b, begin_token = 0, end_req = b - 1, end_token = 0, begin_split = 0;  // idle
    if (q < used) {
      const int t = last_le(sm, oRpart, 0, n_runs - 1, q);
      const int k = sm[oRreq + t], m = q - sm[oRpart + t], qk = sm[oQ + k], x = qk + m * c;
      begin_req = m == 0 ? k : last_le(sm, oQ, k, b, x);  // (m > 0: x lies inside a request, after its start)
      const int qb = sm[oQ + begin_req];
      begin_token = (x - qb) * PAGE_BLOCK_SIZE;
      // the cuts of request begin_req up to x: the run's points qk + m'·c, m' ≥ 1, from Q[begin_req] on
      begin_split = m == 0 ? 0 : m - max(1, (qb - qk + c - 1) / c) + 1;
      if (m < sm[oM + k]) {  // cuts: the next part starts at x + c, inside request end_req
        end_req = last_le(sm, oQ, begin_req, b, x + c);
        end_token = (x + c - sm[oQ + end_req]) * PAGE_BLOCK_SIZE;
      } else {  // ends with the request before the one its run snaps to (or with the batch)
        end_req = sm[oNext + k] - 1;
        end_token = ptx::ld_plain(cache_seqlens + end_req);
      }
    } else if (b > 0) {
      end_token = ptx::ld_plain(cache_seqlens + b - 1);
    }
    int* row = tile_scheduler_metadata + static_cast<long long>(q) * METADATA_ROW_INTS;
    write_row(row, vec_rows, begin_req, begin_token, end_req, end_token, begin_split);
  }
  // num_splits[i + 1]: the pieces of requests 0 … i = i + 1 + the cuts before Q[i + 1] — those of the runs before
  // request i's (a run of L parts cuts L − 1 times) and its own points qk + m'·c < Q[i + 1], 1 ≤ m' ≤ mstar
  if (tid == 0) num_splits[0] = 0;
  for (int i = tid; i < b; i += METADATA_THREADS) {
    const int t = last_le(sm, oRreq, 0, n_runs - 1, i);
    const int k = sm[oRreq + t], d = sm[oQ + i + 1] - sm[oQ + k] - 1;
    const int in_run = d < 0 ? 0 : min(sm[oM + k], d / c);
    num_splits[i + 1] = i + 1 + (sm[oRpart + t] - t) + in_run;
  }
}

extern "C" __global__ void __launch_bounds__(METADATA_THREADS, 1)
mla_metadata(const int* cache_seqlens, int b, int num_sm_parts, int* tile_scheduler_metadata, int* num_splits, int split_overhead,
             int whole_slack, int even_split, int tight_steps, int pack_cost) {
  extern __shared__ int s_cache[];  // header, then the parallel schedule's arrays or the serial walk's cache
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;

  // cache_seqlens may come from the previous kernel in the stream; the previous step's decode/combine may
  // still read metadata/num_splits. Both are settled once the preceding grid has completed.
  ptx::grid_dep_wait();

  uint32_t smem_bytes;
  asm("mov.u32 %0, %%dynamic_smem_size;" : "=r"(smem_bytes));
  const int avail = static_cast<int>(smem_bytes) - METADATA_HEADER_BYTES;
  const int capacity = max(avail, 0) / 8;
  const bool cached = b <= capacity;

  // Each thread's contiguous chunk of requests: its cost sum (64-bit: b * nb can exceed 2^31 for extreme batches; JS
  // numbers are exact there too), smallest and largest block count.
  const int per = (b + METADATA_THREADS - 1) / METADATA_THREADS, i0 = min(tid * per, b), i1 = min(i0 + per, b);
  long long sum = 0;
  int max_nb = 0, min_nb = 0x7fffffff;  // (b = 0: no part has work, the rule cannot fire)
  for (int i = i0; i < i1; ++i) {
    const int nb = ceil_blocks(ptx::ld_plain(cache_seqlens + i));
    sum += nb + split_overhead;
    max_nb = max(max_nb, nb);
    min_nb = min(min_nb, nb);
  }
  long long wsum = sum;  // the warp's inclusive scan of the chunk sums
#pragma unroll
  for (int o = 1; o < 32; o <<= 1) {
    const long long v = __shfl_up_sync(0xffffffffu, wsum, o);
    if (lane >= o) wsum += v;
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    max_nb = max(max_nb, __shfl_xor_sync(0xffffffffu, max_nb, o));
    min_nb = min(min_nb, __shfl_xor_sync(0xffffffffu, min_nb, o));
  }
  if (lane == 31) {
    s_cache[kHdrTotalLo + warp] = static_cast<int>(static_cast<unsigned long long>(wsum) & 0xffffffffu);
    s_cache[kHdrTotalHi + warp] = static_cast<int>(static_cast<unsigned long long>(wsum) >> 32);
    s_cache[kHdrMin + warp] = min_nb;
    s_cache[kHdrMax + warp] = max_nb;
  }
  __syncthreads();
  long long total = 0, before = 0;  // the batch's cost; this warp's chunks' offset
  for (int w = 0; w < kWarps; ++w) {
    const long long v = static_cast<long long>((static_cast<unsigned long long>(static_cast<unsigned>(s_cache[kHdrTotalHi + w])) << 32) |
                                               static_cast<unsigned>(s_cache[kHdrTotalLo + w]));
    if (w < warp) before += v;
    total += v;
    min_nb = min(min_nb, s_cache[kHdrMin + w]);
    max_nb = max(max_nb, s_cache[kHdrMax + w]);
  }
  bool whole_fired = false;
  long long payload = num_sm_parts > 0 ? payload_of(total, min_nb, max_nb, b, num_sm_parts, split_overhead, whole_slack, even_split, whole_fired) : 0;
  // the fourth rule's candidates below the payload (src/mla/schedule.ts tightPayloadSteps): none where a whole rule set
  // it, nor for batches of more than METADATA_TIGHT_MAX_REQS requests or a cost of 2^30 blocks
  const int tight = tight_steps > 0 && !whole_fired && b <= METADATA_TIGHT_MAX_REQS && total < (1LL << 30) && num_sm_parts > 0
                        ? min(tight_steps, METADATA_TIGHT_MAX_STEPS) : 0;

  // A short walk (few requests and parts) is cheaper serially: its ~300 cycles per step stay below the parallel
  // schedule's fixed phases (H200: S8, 8 requests over 16 parts, 4.3 µs walked against 7.0 µs in parallel).
  const bool short_walk = b + num_sm_parts <= 32;
  // the parallel schedule's arrays: Q, then 4 ints per request for the payload and each candidate (when they do not fit,
  // the serial walk: the same schedule)
  const bool fits_parallel = static_cast<long long>(1 + 4 * (tight + 1)) * b + 1 <= max(avail, 0) / 4;
  if (fits_parallel && !short_walk && num_sm_parts > 0 && total < (1LL << 30) && payload - split_overhead >= 1) {
    // Q[i] = the cost of requests before i, from this thread's offset (32-bit from here: total < 2^30)
    int q = static_cast<int>(before + wsum - sum);
    for (int i = i0; i < i1; ++i) {
      s_cache[kHeaderInts + i] = q;
      q += ceil_blocks(ptx::ld_plain(cache_seqlens + i)) + split_overhead;
    }
    if (tid == 0) s_cache[kHeaderInts + b] = static_cast<int>(total);
    __syncthreads();
    parallel_schedule(cache_seqlens, s_cache, b, num_sm_parts, static_cast<int>(total), static_cast<int>(payload), split_overhead,
                      min_nb == max_nb, tight, tile_scheduler_metadata, num_splits, tid);
  } else {
    if (cached) {
      for (int i = i0; i < i1; ++i) {
        const int seqlen = ptx::ld_plain(cache_seqlens + i);
        s_cache[kHeaderInts + i] = seqlen;
        s_cache[kHeaderInts + capacity + i] = ceil_blocks(seqlen);
      }
    }
    __syncthreads();  // the cache written by all threads, read by warp 0
    if (warp == 0 && tight > 0) {
      // the fourth rule: lane l walks candidate payload − 1 − l; the longest chain of completing walks from the top
      const bool fits = lane < tight && tight_candidate(lane + 1, payload, split_overhead, total, num_sm_parts) &&
                        walk_fits(cache_seqlens, s_cache, capacity, cached, b, num_sm_parts, static_cast<int>(payload) - 1 - lane, split_overhead);
      payload -= __ffs(~__ballot_sync(0xffffffffu, fits)) - 1;
    }
    if (tid == 0 && num_sm_parts > 0) {
      // 32-bit payload arithmetic when every value it takes stays below 2^31: remain ≤ payload ≤ total / parts + 2 ·
      // overhead and rest ≤ max blocks + overhead ≤ total.
      if (total < (1LL << 30)) {
        if (cached) walk<int, true>(cache_seqlens, s_cache, capacity, b, num_sm_parts, payload, tile_scheduler_metadata, num_splits, split_overhead);
        else walk<int, false>(cache_seqlens, s_cache, capacity, b, num_sm_parts, payload, tile_scheduler_metadata, num_splits, split_overhead);
      } else {
        walk<long long, false>(cache_seqlens, s_cache, capacity, b, num_sm_parts, payload, tile_scheduler_metadata, num_splits, split_overhead);
      }
    }
  }
  // Our fifth rule (src/mla/schedule.ts packedSchedule, the same conditions): a variable-length batch in a packed order
  // when its walk has a cheaper longest part. (The host gives the shared memory whenever the conditions hold.)
  if (pack_cost > 0 && num_sm_parts > 0 && num_sm_parts <= METADATA_PACK_MAX_PARTS && min_nb != max_nb && b <= min(3 * num_sm_parts, METADATA_PACK_MAX_REQS) &&
      total < (1LL << 30) && max(avail, 0) / 4 >= mla_pack::pack_smem_ints(b, num_sm_parts)) {
    __syncthreads();  // the batch order's rows and num_splits are written (the pack weighs and may replace them)
    mla_pack::pack_order(s_cache, kHeaderInts, cache_seqlens, b, num_sm_parts, static_cast<int>(total), split_overhead, pack_cost, tile_scheduler_metadata,
                         num_splits, tid);
  }
  ptx::grid_dep_launch_dependents();
}
