// The scheduler's fifth rule on the device (src/mla/schedule.ts packedSchedule, bit for bit): a variable-length batch
// walked in the order of a best-fit packing when that gives a cheaper longest part. Included by mla_metadata.cu after
// its ceil_blocks and write_row; run by the whole block after the batch order's schedule is written.
//
// The cpu builds each candidate's order (packOrder), walks it (walkRows) and weighs the walk (scheduleCost). Here the
// three are one pass: the walk over the packing's order at the packing's payload makes the packing's parts, so warp w
// packs candidate payload share − PACK_PAYLOADS + 1 + w and writes, as it goes, that schedule's rows, its order and
// each position's split count to its own shared-memory slots, and weighs each part as it closes it (blocks, plus
// pack_cost per item of a split request). The winner's slots are copied out; nothing is packed twice.
//
// A packing step asks "the longest unused request of at most `thr` blocks" (or, at a part's end, "the longest unused
// request"): the requests sorted by (blocks desc, index asc), lane l holding sorted positions 8l … 8l + 7 — their block
// counts in registers, their used bits in one register — so one step is 8 compares and two warp reductions, with no
// shared-memory load on its dependent chain (session 56's first version chained three dependent shared loads and a warp
// sum per step, and packed the winner a second time: ~100 µs more than the batch order for b 128 on an H100). Still a
// serial chain, part after part: 20.6 → 74.8 µs on sweep#9 (ncu, H100, session 57 s57d), which is why the rule is an
// option (getMlaMetadata's packOrder).
#pragma once
#include <cstdint>

#include "mla_config.h"

namespace mla_pack {

using namespace mla;

// shared-memory layout (ints from the caller's base): the sorted block counts and request indices, the seqlens, the
// results (per warp: flag, cost, split items; then the batch order's per-warp cost and split items), then per warp its
// order, its per-position split counts and its rows (4 ints per part: begin | end << 16, begin token, end token, begin
// split)
constexpr int kRes = 3 * METADATA_PACK_MAX_REQS;
static_assert(METADATA_PACK_FIXED_INTS - kRes >= 6 * PACK_PAYLOADS, "the results: six ints per candidate");
__host__ __device__ constexpr int warp_slots(int b, int parts) { return 2 * b + 4 * parts; }
__host__ __device__ constexpr int pack_smem_ints(int b, int parts) { return METADATA_PACK_FIXED_INTS + PACK_PAYLOADS * warp_slots(b, parts); }
static_assert(METADATA_HEADER_BYTES + 4 * pack_smem_ints(METADATA_PACK_MAX_REQS, METADATA_PACK_MAX_PARTS) <= 49152, "packing ≤ 48 KB");
static_assert(PACK_PAYLOADS * 32 == METADATA_THREADS, "one warp per candidate payload");

// One packing step of a warp (pack_order): among the sorted positions not yet used (lane l: positions 8l … 8l + 7, their
// block counts nbr, their used bits), the first whose blocks are at most thr — the longest that fits — as its position
// (kNone for none) and block count; warp-uniform. The first position of the warp is its smallest, and its block count
// the largest among the lanes' candidates (sorted descending), so two independent warp reductions give both (redux,
// sm_80+), no ballot → find-first → shuffle chain.
constexpr int kNone = 0x7fffffff;
__device__ __forceinline__ int pick8(const int (&v)[8], int j) {  // v[j] for j in 0…7, as a 3-level select tree
  const int a0 = j & 1 ? v[1] : v[0], a1 = j & 1 ? v[3] : v[2], a2 = j & 1 ? v[5] : v[4], a3 = j & 1 ? v[7] : v[6];
  const int b0 = j & 2 ? a1 : a0, b1 = j & 2 ? a3 : a2;
  return j & 4 ? b1 : b0;
}
__device__ __forceinline__ void first_of(const int (&nbr)[8], unsigned cand, int lane, int& pos, int& nb) {
  const int j = __ffs(cand) - 1;
  pos = __reduce_min_sync(0xffffffffu, cand != 0u ? 8 * lane + j : kNone);
  nb = __reduce_max_sync(0xffffffffu, cand != 0u ? pick8(nbr, j & 7) : -1);
}
__device__ __forceinline__ void query_fit(const int (&nbr)[8], unsigned used, int thr, int lane, int& pos, int& nb) {
  // the positions whose blocks exceed thr, as a mask built as a tree (a running count compiled to a chain of 24
  // dependent instructions: s57p)
  auto gt = [&](int r) { return nbr[r] > thr ? 1u << r : 0u; };
  const unsigned above = ((gt(0) | gt(1)) | (gt(2) | gt(3))) | ((gt(4) | gt(5)) | (gt(6) | gt(7)));
  first_of(nbr, ~used & ~above & 0xffu, lane, pos, nb);
}

// Block-wide: b ≤ METADATA_PACK_MAX_REQS requests over parts ≤ METADATA_PACK_MAX_PARTS parts, total cost < 2^30, lengths
// not all equal (the caller checks, as scheduleTiles does). md / num_splits hold the batch order's schedule, written by
// this block before a __syncthreads.
template <typename Smem>
__device__ __forceinline__ void pack_order(Smem& sm, int base, const int* cache_seqlens, int b, int parts, int total, int o, int pc, int* md,
                                           int* num_splits, int tid) {
  const int lane = tid & 31, warp = tid >> 5;
  const int oNb = base, oIdx = base + METADATA_PACK_MAX_REQS, oSeq = base + 2 * METADATA_PACK_MAX_REQS, oRes = base + kRes;
  auto slots = [&](int w) { return base + METADATA_PACK_FIXED_INTS + w * warp_slots(b, parts); };
  const int oTmp = slots(0);  // (the block counts by request, until warp 0 writes its order there)

  for (int i = tid; i < b; i += METADATA_THREADS) {
    const int s = ptx::ld_plain(cache_seqlens + i);
    sm[oSeq + i] = s;
    sm[oTmp + i] = ceil_blocks(s);
  }
  __syncthreads();
  // the sorted order (blocks desc, index asc): request i's rank by counting; and the batch order's cost per part
  int my_cost = 0, my_pieces = 0;
  if (tid < b) {
    const int nb = sm[oTmp + tid];
    int rank = 0;
    for (int j = 0; j < b; ++j) {
      const int x = sm[oTmp + j];
      rank += x > nb || (x == nb && j < tid);
    }
    sm[oNb + rank] = nb;
    sm[oIdx + rank] = tid;
  }
  if (tid < parts) {
    const int* row = md + tid * METADATA_ROW_INTS;
    const int bp = row[kBeginReq], bt = row[kBeginToken], ep = row[kEndReq], et = row[kEndToken];
    for (int q = bp; q <= ep && q < b; ++q) {
      const int seqlen = sm[oSeq + q], start = q == bp ? bt : 0, end = q == ep ? et : seqlen;
      const bool whole = start == 0 && end == seqlen;
      my_cost += ceil_blocks(end) - start / PAGE_BLOCK_SIZE + (whole ? 0 : pc);
      my_pieces += whole ? 0 : 1;
    }
  }
#pragma unroll
  for (int x = 16; x > 0; x >>= 1) {
    my_cost = max(my_cost, __shfl_xor_sync(0xffffffffu, my_cost, x));
    my_pieces += __shfl_xor_sync(0xffffffffu, my_pieces, x);
  }
  if (lane == 0) {
    sm[oRes + 3 * PACK_PAYLOADS + warp] = my_cost;
    sm[oRes + 4 * PACK_PAYLOADS + warp] = my_pieces;
  }
  __syncthreads();

  // ---- warp `warp`: candidate payload P = share − PACK_PAYLOADS + 1 + warp. Its slots get, per position of the order,
  // the sorted position there and the request's split count (where it ends), and per part its row with the end token
  // −1 where the part ends with a request's end (resolved at the write-out: no shared load on the packing's chain)
  {
    const int share = (total + parts - 1) / parts + o, P = share - PACK_PAYLOADS + 1 + warp, c = P - o;
    const int oOrd = slots(warp), oSpl = oOrd + b, oRows = oSpl + b;
    const bool valid = P >= 2 * o && static_cast<long long>(P) * parts >= total;
    int nbr[8];
    unsigned used = 0;  // bit r: sorted position 8 · lane + r taken (or past the batch)
#pragma unroll
    for (int r = 0; r < 8; ++r) {
      const int k = 8 * lane + r;
      nbr[r] = k < b ? sm[oNb + k] : 0;
      used |= k < b ? 0u : 1u << r;
    }
    auto row_out = [&](int part, int bp, int bt, int ep, int et, int bs) {
      sm[oRows + 4 * part] = bp | (ep << 16), sm[oRows + 4 * part + 1] = bt, sm[oRows + 4 * part + 2] = et, sm[oRows + 4 * part + 3] = bs;
    };
    int n = 0;                                   // positions of the order given out
    int rest = -1, rest_nb = 0, rest_split = 0;  // the request cut at the last part's end: blocks not yet given (−1: none)
    int cmax = 0, pieces = 0, part = 0;
    while (valid && part < parts && (n < b || rest >= 0)) {
      if (rest > c) {
        // the rest fills whole parts first: m of them (while more than c blocks are left), in closed form, lane i
        // writing the i-th row of each 32 (S3: two requests over 132 parts, nearly every part such a one)
        const int m = min((rest - 1) / c, parts - part), blk0 = rest_nb - rest;
        for (int i = lane; i < m; i += 32) row_out(part + i, n - 1, (blk0 + i * c) * PAGE_BLOCK_SIZE, n - 1, (blk0 + (i + 1) * c) * PAGE_BLOCK_SIZE, rest_split + i);
        cmax = max(cmax, c + pc);
        pieces += m, rest -= m * c, rest_split += m, part += m;
        continue;
      }
      int room = P, cost = 0, bp = n, bt = 0, bs = 0, ep = n - 1, et = -1;
      if (rest >= 0) {  // the rest of the cut request ends here
        bp = n - 1, bt = (rest_nb - rest) * PAGE_BLOCK_SIZE, bs = rest_split;
        room -= rest + o;
        cost = rest + pc;
        ++pieces;
        if (lane == 0) sm[oSpl + n - 1] = rest_split + 1;
        rest = -1;
      }
      for (;;) {  // the longest whole requests that still fit
        int fp, fnb;
        query_fit(nbr, used, room - o, lane, fp, fnb);
        if (fp == kNone) break;
        used |= lane == (fp >> 3) ? 1u << (fp & 7) : 0u;
        if (lane == 0) sm[oOrd + n] = fp, sm[oSpl + n] = 1;
        ep = n++, et = -1;
        room -= fnb + o;
        cost += fnb;
      }
      int hp = kNone, hnb = 0;
      if (room - o > 0) first_of(nbr, ~used & 0xffu, lane, hp, hnb);
      if (hp != kNone) {  // then the head of the longest one left, cut here
        used |= lane == (hp >> 3) ? 1u << (hp & 7) : 0u;
        if (lane == 0) sm[oOrd + n] = hp;
        ep = n++, et = (room - o) * PAGE_BLOCK_SIZE;
        rest_nb = hnb, rest = hnb - (room - o), rest_split = 1;
        cost += room - o + pc;
        ++pieces;
      }
      if (lane == 0) row_out(part, bp, bt, ep, et, bs);
      cmax = max(cmax, cost);
      ++part;
    }
    if (lane == 0) {
      sm[oRes + warp] = valid && n == b && rest < 0;
      sm[oRes + PACK_PAYLOADS + warp] = cmax;
      sm[oRes + 2 * PACK_PAYLOADS + warp] = pieces;
      sm[oRes + 5 * PACK_PAYLOADS + warp] = part;  // the parts with work; the rest idle
    }
  }
  __syncthreads();

  // ---- the pick (every thread alike): the cheapest longest part, then fewer split items, then the lower payload; taken
  // if its longest part is cheaper than the batch order's, or as cheap with at most PACK_TIE_PIECES_EIGHTHS eighths of
  // its split items (src/mla/schedule.ts packBeatsBatchOrder)
  int batch_cost = 0, batch_pieces = 0, best = -1, best_cost = 0, best_pieces = 0;
  for (int w = 0; w < PACK_PAYLOADS; ++w) {
    batch_cost = max(batch_cost, sm[oRes + 3 * PACK_PAYLOADS + w]);
    batch_pieces += sm[oRes + 4 * PACK_PAYLOADS + w];
  }
  for (int w = 0; w < PACK_PAYLOADS; ++w) {
    if (!sm[oRes + w]) continue;
    const int c = sm[oRes + PACK_PAYLOADS + w], k = sm[oRes + 2 * PACK_PAYLOADS + w];
    if (best < 0 || c < best_cost || (c == best_cost && k < best_pieces)) best = w, best_cost = c, best_pieces = k;
  }
  if (best < 0) return;
  if (!(best_cost < batch_cost || (best_cost == batch_cost && best_pieces < batch_pieces && 8 * best_pieces <= PACK_TIE_PIECES_EIGHTHS * batch_pieces))) return;
  const int oOrd = slots(best), oSpl = oOrd + b, oRows = oSpl + b, busy = sm[oRes + 5 * PACK_PAYLOADS + best];
  const bool vec_rows = (reinterpret_cast<uintptr_t>(md) & 15) == 0;
  auto request_at = [&](int k) -> int { return sm[oIdx + sm[oOrd + k]]; };
  if (tid < parts) {
    // busy parts: their row (an end at a request's end: that request's seqlen); the others idle (the walk's: begin b,
    // end b − 1 at the last request's end)
    int bp = b, bt = 0, ep = b - 1, et = -1, bs = 0;
    if (tid < busy) {
      const int r = oRows + 4 * tid, be = sm[r];
      bp = be & 0xffff, ep = be >> 16, bt = sm[r + 1], et = sm[r + 2], bs = sm[r + 3];
    }
    if (et < 0) et = sm[oSeq + request_at(ep)];
    const int k0 = 3 * tid;
    auto table = [&](int k) { return k < b ? request_at(k) + 1 : 0; };
    // (int 4: the split index, and a busy row's first request plus one in bits 16…: src/mla/schedule.ts walkRows)
    write_row(md + tid * METADATA_ROW_INTS, vec_rows, bp, bt, ep, et, tid < busy ? bs | ((request_at(bp) + 1) << 16) : bs, table(k0), table(k0 + 1),
              table(k0 + 2));
  }
  // num_splits: the exclusive prefix sum of each request's split count, in batch order (the counts by request where the
  // sorted block counts were)
  if (tid < b) sm[oNb + request_at(tid)] = static_cast<int>(sm[oSpl + tid]);  // (static_cast: the emulator's shared proxy)
  __syncthreads();
  if (warp == 0) {  // lane l: requests 8l … 8l + 7 (b ≤ 256)
    int c[8], sum = 0;
#pragma unroll
    for (int r = 0; r < 8; ++r) {
      c[r] = 8 * lane + r < b ? sm[oNb + 8 * lane + r] : 0;
      sum += c[r];
    }
    int incl = sum;
#pragma unroll
    for (int x = 1; x < 32; x <<= 1) {
      const int u = __shfl_up_sync(0xffffffffu, incl, x);
      if (lane >= x) incl += u;
    }
    int run = incl - sum;
    if (lane == 0) num_splits[0] = 0;
#pragma unroll
    for (int r = 0; r < 8; ++r) {
      run += c[r];
      if (8 * lane + r < b) num_splits[8 * lane + r + 1] = run;
    }
  }
}

}  // namespace mla_pack
