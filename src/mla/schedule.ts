// The tile scheduler of FlashMLA 9edee0c (get_mla_metadata.cu), as a pure function: the cpu backend
// runs it, and the device metadata kernel must produce the same bits. Rules of ours on top (scheduleTiles: a batch
// whose every request just misses the payload keeps its requests whole; an equal-length batch keeps them whole when
// that costs at most one split's cost more per part; an equal-length batch of k ≥ 2 parts per request in k even
// pieces; the payload a few blocks tighter while the walk completes; on request (getMlaMetadata's packOrder), a variable-length batch walked in
// a packed order); sparse decode keeps 9edee0c's walk exactly.
//
// Work model: request i costs nb_i = ceil(seqlen_i / 64) KV blocks plus a fixed 5 blocks (loading q,
// softmax set-up, epilogue). The total cost is cut into `numSmParts` nearly equal "payloads"; one SM part
// (one CTA per m-block of folded query rows) walks its payload in order, so a long request may be split
// over several consecutive parts and a part may hold the tail of one request and whole later requests.
//
// Row p of the metadata (8 int32) tells part p what to do:
//   [0] begin_req        first request of the part
//   [1] begin_token      first token of begin_req (a multiple of 64)
//   [2] end_req          last request of the part (inclusive)
//   [3] end_token        one past the last token of end_req (block·64, or seqlen when it runs to the end)
//   [4] begin_split_idx  which split of begin_req this part computes (0 when it starts the request); in a packed
//          schedule's busy rows (our fifth rule) its bits 16… hold the request at begin_req plus one
//   [5..7] 0, or (our fifth rule) the request order: requests are then named by their position in it, position i →
//          request row[⌊i / 3⌋][5 + i mod 3] − 1 (requestAt)
// An idle part (all work went to earlier parts) has begin_req = b and does nothing.
// numSplits[i] (b + 1 entries) is the exclusive prefix sum of per-request split counts: split n of
// request i owns accumulator row numSplits[i] + n; a request with one split skips the combine.

import {
  FIXED_OVERHEAD_NUM_BLOCKS, METADATA_PACK_MAX_PARTS, METADATA_PACK_MAX_REQS, METADATA_ROW_INTS, METADATA_TIGHT_MAX_REQS, METADATA_TIGHT_MAX_STEPS, PACK_PAYLOADS, PACK_TIE_PIECES_EIGHTHS,
  PAGE_BLOCK_SIZE, BLOCK_SIZE_M,
} from './constants.js';

/**
 * Number of SM parts (CTAs per m-block) for a decode: enough CTAs to fill the GPU once.
 * FlashMLA 9edee0c computes smCount / h_kv / ceil(numHeadsPerHeadK / 64) and can reach 0 (its issue #28);
 * we clamp to at least 1 as later FlashMLA does.
 */
export function numSmPartsFor(smCount: number, numHeadsPerHeadK: number, numHeadsK: number): number {
  return Math.max(Math.floor(smCount / numHeadsK / Math.ceil(numHeadsPerHeadK / BLOCK_SIZE_M)), 1);
}

export interface TileSchedule {
  /** numSmParts × 8 int32 rows. */
  metadata: Int32Array;
  /** b + 1 int32. */
  numSplits: Int32Array;
}

// A measurement's override of a scheduler constant: a getter of the integer in environment variable `name` (lo–hi),
// else `fallback`, read on the first call only, so the cpu schedule, the API's check and the device kernel agree.
function experimentInt(name: string, fallback: number, lo: number, hi: number): () => number {
  let value: number | undefined;
  return () => {
    if (value !== undefined) return value;
    const v = typeof process === 'undefined' ? undefined : process.env[name];
    const n = v === undefined || v === '' ? fallback : Number(v);
    if (!Number.isInteger(n) || n < lo || n > hi) throw new RangeError(`${name}: expected an integer ${lo}–${hi}, got '${v}'`);
    return (value = n);
  };
}

/**
 * The scheduler's cost of a split, in blocks: FIXED_OVERHEAD_NUM_BLOCKS (FlashMLA's 5), or for a measurement
 * FLASH_MLA_EXPERIMENT_SPLIT_OVERHEAD (an integer 1–64). Read once; the cpu schedule, the API's check of a metadata
 * tensor and the device metadata kernel (its split_overhead argument) all use this value.
 */
export const splitOverheadBlocks = experimentInt('FLASH_MLA_EXPERIMENT_SPLIT_OVERHEAD', FIXED_OVERHEAD_NUM_BLOCKS, 1, 64);

/**
 * Our second rule (scheduleTiles): an equal-length batch keeps its requests whole when that costs at most this many
 * split costs (and 1/32) of payload more than 9edee0c's walk. A split request writes fp32 partials and goes through
 * the combine, which the cost model does not count: on an H200 (session 14, perf log `whole`) b 128 × 8192 tokens over
 * 66 parts (3 blocks more per part whole) ran 3 % faster, 128 × 4096 over 33 parts 0.6 %, while 128 × 8192 over 33
 * parts (11 blocks more) ran 0.7 % slower whole.
 */
export const WHOLE_BATCH_SLACK_SPLITS = 1;
/**
 * WHOLE_BATCH_SLACK_SPLITS, or for a measurement FLASH_MLA_EXPERIMENT_WHOLE_SLACK (an integer 0–16; 0 turns the rule
 * off). Read once; the cpu schedule, the API's check of a metadata tensor and the device metadata kernel (its
 * whole_slack argument) all use this value.
 */
export const wholeSlackSplits = experimentInt('FLASH_MLA_EXPERIMENT_WHOLE_SLACK', WHOLE_BATCH_SLACK_SPLITS, 0, 16);

/**
 * Our third rule (scheduleTiles): an equal-length batch with k = floor(parts / b) ≥ 2 parts per request is cut into k
 * even pieces (payload ceil(nb / k) + the split cost) when each piece is at least this many split costs long and the
 * payload is lower than the walk's. 9edee0c's walk cuts such a batch by cost: S8 (8 × 4096 tokens over 16 parts) gets
 * pieces of 35, 29 + 1, 28 + 2, … blocks, so its longest part holds 35 blocks where 32 would do. Shorter pieces are left
 * to the other rules (S4's 4-block halves would all go through the combine; one part per request measured 13 % faster).
 * H100, session 41 (`s40e`, two rounds): S8 −6.5 % (longest part 35 → 32 blocks, 23 → 16 splits), b 4 × 8192 / 128 rows
 * −3.5 %, b 8 × 8192 / 64 rows −2.1 %, b 32 × 4096 / 16 rows −1.2 %. 0 turns it off.
 */
export const EVEN_SPLIT_MIN_SPLITS = 2;
/**
 * EVEN_SPLIT_MIN_SPLITS, or for a measurement FLASH_MLA_EXPERIMENT_EVEN_SPLIT (an integer 0–64; 0: the rule off). Read once; the
 * cpu schedule, the API's check of a metadata tensor and the device metadata kernel (its even_split argument) all
 * use this value.
 */
export const evenSplitMinSplits = experimentInt('FLASH_MLA_EXPERIMENT_EVEN_SPLIT', EVEN_SPLIT_MIN_SPLITS, 0, 64);

/**
 * Our fourth rule (scheduleTiles): the payload steps down, one block at a time and at most this many times, while the
 * walk still assigns every block to the parts — unless a whole-request rule set it. The walk's payload is the share
 * plus one split's cost, and its cuts rarely use all of that: S9 (16 requests of 2–223 blocks over 66 parts) keeps
 * every block with a payload one lower, its longest part 17 → 16 blocks, 65 parts busy instead of 62. On an H100
 * (session 40 `tight`, host-computed schedules, two rounds): S9 −2.4 %, S8 −5.7 % (the even-split rule's schedule),
 * the variable-length sweep rows 0 … −0.6 %. The metadata kernel evaluates the candidate payloads side by side (one
 * warp's chase each): batches of at most METADATA_TIGHT_MAX_REQS requests whose total cost is below 2^30 only.
 */
export const TIGHT_PAYLOAD_STEPS = 5;
/**
 * TIGHT_PAYLOAD_STEPS, or for a measurement FLASH_MLA_EXPERIMENT_TIGHT_PAYLOAD (an integer 0–METADATA_TIGHT_MAX_STEPS;
 * 0: the rule off). Read once; the cpu schedule, the API's check of a metadata tensor and the device metadata kernel
 * (its tight_steps argument) all use this value.
 */
export const tightPayloadSteps = experimentInt('FLASH_MLA_EXPERIMENT_TIGHT_PAYLOAD', TIGHT_PAYLOAD_STEPS, 0, METADATA_TIGHT_MAX_STEPS);

/**
 * Our fifth rule (scheduleTiles, packedSchedule): a variable-length batch of at most packMaxRequests(parts) requests
 * is walked in the order of a best-fit packing when that gives a cheaper longest part, counting each item of a split
 * request as PACK_PIECE_COST_BLOCKS blocks more (or the same longest part with at least 1/8 fewer split items). The walk in batch order cuts a request at almost every part boundary
 * (sweep#9, 128 requests over 132 parts: 103 requests cut, 227 split items); each split item stores partials for the
 * combine. In the packed order the same walk cuts far fewer (sweep#9 137 items, sweep#13 124 → 22). On an H100
 * (session 56 `s56p`, the order applied by the bench to the batch itself, two rounds): the var rows of the sweep −0.4 …
 * −4.8 % (sweep#9 −2.6 %, #13 −4.8 %, #29 −3.2 %; 0.986× the time over the 20 var rows), costs 3 and 6 choosing alike.
 *
 * The decode kernels read each part's requests through the order table the rows' spare ints hold (kernels/mla_work.cuh
 * request_at) and the metadata kernel packs bit for bit like this function (kernels/mla_metadata_pack.cuh). The
 * candidates are PACK_PAYLOADS payloads (one packing warp each in the metadata kernel). Off by default until measured on
 * a GPU: FLASH_MLA_EXPERIMENT_PACK=3 turns it on for both backends.
 */
export const PACK_PIECE_COST_BLOCKS = 3;
/**
 * 0 (the fifth rule off), or for a measurement FLASH_MLA_EXPERIMENT_PACK (an integer 0–64: a split item's cost in blocks,
 * PACK_PIECE_COST_BLOCKS measured best). Read once; the cpu schedule, the API's check of a metadata tensor and the device
 * metadata kernel (its pack_cost argument) use it.
 */
export const packPieceCostBlocks = experimentInt('FLASH_MLA_EXPERIMENT_PACK', 0, 0, 64);

/** Whether the walk with this payload assigns every block of `nb` (block counts) to the parts. */
function walkFits(nb: readonly number[], numSmParts: number, payload: number, overhead: number): boolean {
  let req = 0;
  let blk = 0;
  for (let p = 0; p < numSmParts && req < nb.length; p++) {
    let remain = payload;
    while (req < nb.length) {
      const rest = nb[req] - blk + overhead;
      if (remain >= rest) {
        remain -= rest;
        req++;
        blk = 0;
      } else {
        if (remain - overhead > 0) blk += remain - overhead;
        break;
      }
    }
  }
  return req === nb.length;
}

/**
 * 9edee0c's walk plus our four rules (below: when every request misses the payload by at most one split's cost, the
 * payload holds the longest whole; an equal-length batch whole within wholeSlackSplits(); an equal-length batch in
 * k even pieces, evenSplitMin; the payload up to tightMaxSteps blocks lower while the walk completes).
 * `holdLongestWhole` false (sparse decode, whose schedule stays 9edee0c's: not measured with the rules) turns all four off.
 */
export function scheduleTiles(
  seqlens: ArrayLike<number>,
  numSmParts: number,
  overhead = splitOverheadBlocks(),
  holdLongestWhole = true,
  evenSplitMin = holdLongestWhole ? evenSplitMinSplits() : 0,
  tightMaxSteps = holdLongestWhole ? tightPayloadSteps() : 0,
  packPieceCost = holdLongestWhole ? packPieceCostBlocks() : 0,
): TileSchedule {
  const b = seqlens.length;
  const nb = new Array<number>(b);
  let total = 0;
  let maxNb = 0;
  let minNb = b > 0 ? Infinity : 0;
  for (let i = 0; i < b; i++) {
    nb[i] = Math.ceil(seqlens[i] / PAGE_BLOCK_SIZE);
    total += nb[i] + overhead;
    maxNb = Math.max(maxNb, nb[i]);
    minNb = Math.min(minNb, nb[i]);
  }
  // 9edee0c keeps a floor of 10 blocks per part (later FlashMLA dropped it).
  const share = Math.ceil(total / numSmParts) + overhead;
  let payload = Math.max(share, 2 * overhead);
  const walkPayload = payload;  // 9edee0c's
  // Not in 9edee0c: when every request misses the payload, by at most one split's cost, and the payload is the batch's
  // share (not the floor), it grows to hold the longest whole. Otherwise such a batch has every request cut into a
  // large piece and a sliver, and all of it goes through the combine (S4, b 64 × 512 tokens: payload 12, requests of
  // 8 + 5: 13 % slower on an H200 than one part per request).
  if (holdLongestWhole && minNb + overhead > payload && maxNb <= payload && share >= 2 * overhead) payload = maxNb + overhead;
  // Not in 9edee0c either: an equal-length batch takes ceil(b / parts) whole requests per part when that payload is at
  // most wholeSlackSplits() split costs above this one (no split, no combine: see WHOLE_BATCH_SLACK_SPLITS).
  const slack = holdLongestWhole ? wholeSlackSplits() : 0;
  if (slack > 0 && b > 0 && minNb === maxNb && share >= 2 * overhead) {
    const whole = Math.ceil(b / numSmParts) * (maxNb + overhead);
    // (and within 1/32 of the payload: the measured batches left ≤ 3 % of the parts idle; a batch of short requests,
    // whose split cost is a large part of the payload, would leave many idle — not measured)
    if (whole <= payload + slack * overhead && 32 * whole <= 33 * payload) payload = whole;
  }
  const wholeRuleFired = payload !== walkPayload;
  // Our third rule (evenSplitMinSplits): k even pieces per request, when no piece's part is left room for a sliver of
  // the next request (then each request takes ceil(nb / piece) ≤ k parts and the walk assigns everything) and the
  // payload is lower.
  if (evenSplitMin > 0 && b > 0 && minNb === maxNb && Math.floor(numSmParts / b) >= 2) {
    const k = Math.floor(numSmParts / b);
    const piece = Math.ceil(maxNb / k);
    if (piece >= evenSplitMin * overhead && Math.ceil(maxNb / piece) * piece - maxNb <= overhead && piece + overhead < payload) payload = piece + overhead;
  }
  // Our fourth rule (tightPayloadSteps): one block lower at a time while the walk still completes (not below the floor
  // of two split costs; a payload under total / parts cannot hold the batch)
  if (tightMaxSteps > 0 && !wholeRuleFired && b <= METADATA_TIGHT_MAX_REQS && total < 2 ** 30) {
    for (let i = 0; i < Math.min(tightMaxSteps, METADATA_TIGHT_MAX_STEPS); i++) {
      const p = payload - 1;
      if (p < 2 * overhead || p * numSmParts < total || !walkFits(nb, numSmParts, p, overhead)) break;
      payload = p;
    }
  }
  const walked = walkRows(seqlens, nb, null, numSmParts, payload, overhead);
  if (!walked.complete) {
    // Cannot happen with payload ≥ total / parts + 5; kept as the kernel's device assert.
    throw new Error(`scheduleTiles: work left unassigned (${b} requests)`);
  }
  // Our fifth rule (packPieceCost): a variable-length batch in the order of a best-fit packing, when the walk over it
  // has a cheaper longest part or far fewer split items (packedSchedule).
  if (packPieceCost > 0 && holdLongestWhole && packMayFire(seqlens, numSmParts, overhead)) {
    const packed = packedSchedule(seqlens, nb, total, numSmParts, share, overhead, packPieceCost, walked);
    if (packed) return packed;
  }
  return { metadata: walked.metadata, numSplits: walked.numSplits };
}

interface WalkedSchedule extends TileSchedule {
  /** Whether every block went to a part. */
  complete: boolean;
}

/**
 * 9edee0c's greedy walk with payload `payload`: part after part takes whole requests while they fit and cuts the first
 * one that does not (`overhead` blocks per item; `nb` the requests' block counts). `order` (position → request; null:
 * the batch order) is the order the walk visits the requests in; metadata rows then hold positions, numSplits stays per
 * request.
 */
function walkRows(seqlens: ArrayLike<number>, nb: readonly number[], order: Int32Array | null, numSmParts: number, payload: number, overhead: number): WalkedSchedule {
  const b = seqlens.length;
  const metadata = new Int32Array(numSmParts * METADATA_ROW_INTS);
  const splits = new Int32Array(b); // per request
  let pos = 0;
  let blk = 0; // blocks of the request at `pos` already given to earlier parts
  let split = 0; // its splits already emitted
  // (rows written by offset, the request at a position looked up inline: a subarray per row and a closure per lookup
  // were most of this function's time, and it runs on every checked decode call's first of a step)
  for (let p = 0, row = 0; p < numSmParts; p++, row += METADATA_ROW_INTS) {
    metadata[row] = pos;
    metadata[row + 1] = blk * PAGE_BLOCK_SIZE;
    metadata[row + 4] = split;
    let remain = payload;
    while (pos < b) {
      const r = order ? order[pos] : pos;
      const rest = nb[r] - blk + overhead;
      if (remain >= rest) {
        splits[r] = split + 1;
        remain -= rest;
        pos++;
        blk = 0;
        split = 0;
      } else {
        if (remain - overhead > 0) {
          blk += remain - overhead;
          split++;
        }
        break;
      }
    }
    if (blk > 0) {
      metadata[row + 2] = pos;
      metadata[row + 3] = blk * PAGE_BLOCK_SIZE;
    } else {
      metadata[row + 2] = pos - 1;
      metadata[row + 3] = pos > 0 ? seqlens[order ? order[pos - 1] : pos - 1] : 0;
    }
  }
  const numSplits = new Int32Array(b + 1);
  for (let i = 0; i < b; i++) numSplits[i + 1] = numSplits[i] + splits[i];
  if (order) {
    for (let i = 0; i < b; i++) metadata[Math.floor(i / 3) * METADATA_ROW_INTS + 5 + (i % 3)] = order[i] + 1;
    // (the decode kernels read a part's first request here, and a zero there as the batch order: no load for it)
    for (let p = 0; p < numSmParts; p++) if (metadata[p * METADATA_ROW_INTS] < b) metadata[p * METADATA_ROW_INTS + 4] |= (order[metadata[p * METADATA_ROW_INTS]] + 1) << 16;
  }
  return { metadata, numSplits, complete: pos === b && blk === 0 && split === 0 };
}

/**
 * A schedule's cost as the fifth rule weighs it: its longest part, in blocks plus `pieceCost` per item of a split
 * request (an item's rows stored as partials, merged by the combine), and its split items in all.
 */
export function scheduleCost(s: TileSchedule, seqlens: ArrayLike<number>, numSmParts: number, pieceCost: number): { cost: number; pieces: number } {
  // (workItems' items, walked in place: the decode's value check weighs the batch order on every call with the rule on)
  const md = s.metadata;
  const b = seqlens.length;
  let cost = 0;
  let pieces = 0;
  for (let p = 0; p < numSmParts; p++) {
    const r = p * METADATA_ROW_INTS;
    const beginPos = md[r];
    const endPos = md[r + 2];
    let part = 0;
    for (let pos = beginPos; pos <= endPos && beginPos < b; pos++) {
      const seqlen = seqlens[requestAt(md, pos)];
      const start = pos === beginPos ? md[r + 1] : 0;
      const end = pos === endPos ? md[r + 3] : seqlen;
      const whole = start === 0 && end === seqlen;
      part += Math.ceil(end / PAGE_BLOCK_SIZE) - start / PAGE_BLOCK_SIZE + (whole ? 0 : pieceCost);
      if (!whole) pieces++;
    }
    cost = Math.max(cost, part);
  }
  return { cost, pieces };
}

/**
 * The request at position `pos` of a schedule's order, as the decode kernels read it (kernels/mla_work.cuh request_at):
 * the rows' spare ints hold the packed order's table (position i → request metadata[⌊i / 3⌋ · 8 + 5 + i mod 3] − 1); an
 * entry of 0 (every entry of a batch-order schedule) or a position past the table means the position itself.
 */
export function requestAt(metadata: ArrayLike<number>, pos: number): number {
  const v = pos < 3 * Math.floor(metadata.length / METADATA_ROW_INTS) ? metadata[Math.floor(pos / 3) * METADATA_ROW_INTS + 5 + (pos % 3)] : 0;
  return v === 0 ? pos : v - 1;
}

/** Whether a dense schedule walks its requests in a packed order: its table's first entry (position 0) is set. */
export function isPackedSchedule(metadata: ArrayLike<number>): boolean {
  return metadata.length > 5 && metadata[5] !== 0;
}

/**
 * Whether the fifth rule may pack this batch (it then weighs the packed order against the batch order): lengths of more
 * than one block count, at most packMaxRequests(numSmParts) requests, a total cost below 2^30 blocks. The metadata
 * kernel checks the same.
 */
export function packMayFire(seqlens: ArrayLike<number>, numSmParts: number, overhead = splitOverheadBlocks()): boolean {
  const b = seqlens.length;
  if (b > packMaxRequests(numSmParts)) return false;
  let total = 0;
  let minNb = Infinity;
  let maxNb = 0;
  for (let i = 0; i < b; i++) {
    const nb = Math.ceil(seqlens[i] / PAGE_BLOCK_SIZE);
    total += nb + overhead;
    minNb = Math.min(minNb, nb);
    maxNb = Math.max(maxNb, nb);
  }
  return b >= 2 && minNb !== maxNb && total < 2 ** 30;
}

/**
 * The most requests the fifth rule packs over `numSmParts` parts: as many as the rows' spare ints hold (three per part), at
 * most METADATA_PACK_MAX_REQS; none over more than METADATA_PACK_MAX_PARTS parts (the metadata kernel's shared memory).
 */
export function packMaxRequests(numSmParts: number): number {
  return numSmParts > METADATA_PACK_MAX_PARTS ? 0 : Math.min(3 * numSmParts, METADATA_PACK_MAX_REQS);
}

/**
 * The order of a best-fit packing at payload `payload`: a part takes the rest of the request cut at its top (all of the
 * part if the rest does not fit), then the longest whole requests that still fit, then — if more than `overhead` blocks
 * are left — the head of the longest request left, cut there. Ties in length go to the lower index. The walk over this
 * order at the same payload makes exactly these parts.
 */
export function packOrder(nb: ArrayLike<number>, numSmParts: number, payload: number, overhead: number): Int32Array {
  const b = nb.length;
  const byLength = Array.from({ length: b }, (_, i) => i).sort((x, y) => nb[y] - nb[x] || x - y);
  const used = new Uint8Array(b);
  const order = new Int32Array(b);
  let n = 0;
  let rest = -1; // blocks of the request cut at the previous part's end not yet assigned (-1: none)
  for (let p = 0; p < numSmParts && n < b; p++) {
    let room = payload;
    if (rest >= 0) {
      if (rest + overhead > room) {
        rest -= room - overhead;
        continue;
      }
      room -= rest + overhead;
      rest = -1;
    }
    for (let k = 0; k < b; k++) {
      const i = byLength[k];
      if (!used[i] && nb[i] + overhead <= room) {
        used[i] = 1;
        order[n++] = i;
        room -= nb[i] + overhead;
      }
    }
    if (room - overhead > 0) {
      const k = byLength.find((i) => !used[i]);
      if (k === undefined) break;
      used[k] = 1;
      order[n++] = k;
      rest = nb[k] - (room - overhead);
    }
  }
  for (const i of byLength) if (!used[i]) order[n++] = i;
  return order;
}

/**
 * Our fifth rule: the batch visited in packOrder's order at payloads share − PACK_PAYLOADS + 1 … share (those at least two
 * split costs and holding the batch), the one whose walk completes with the cheapest longest part (scheduleCost; fewer
 * split items, then the lower payload, on a tie) taken if it beats `walked`, the batch order's schedule, by
 * packBeatsBatchOrder.
 * Each candidate is weighed in one pass as the metadata kernel does (packWeigh: the walk over a packing's order at its
 * payload makes the packing's parts), and only the winner's rows are walked: the decode's value check computes this
 * once per step (scheduleTiles with the rule on sweep#9 / #13 / #29: ~45–50 µs in Node 20 since session 59, ~105 µs
 * before, against ~280–350 µs through packedScheduleByWalks, the rule word for word; 3–8 µs without the rule).
 */
function packedSchedule(seqlens: ArrayLike<number>, nb: readonly number[], total: number, numSmParts: number, share: number, overhead: number,
                        pieceCost: number, walked: TileSchedule): TileSchedule | null {
  const b = nb.length;
  // (blocks desc, index asc) by a plain numeric sort of index − blocks · 1024 (b ≤ METADATA_PACK_MAX_REQS ≤ 1024;
  // blocks < 2^30: exact in a double) — a comparator sort took a sixth of this function
  const keys = new Float64Array(b);
  for (let i = 0; i < b; i++) keys[i] = i - nb[i] * 1024;
  keys.sort();
  const sorted = new Int32Array(b);
  const snb = new Int32Array(b);
  for (let k = 0; k < b; k++) {
    const i = keys[k] - Math.floor(keys[k] / 1024) * 1024;
    sorted[k] = i;
    snb[k] = nb[i];
  }
  const next = new Int32Array(b + 1);  // packWeigh's scratch
  let bestCost: { cost: number; pieces: number } | null = null;
  let bestPayload = 0;
  for (let payload = share - PACK_PAYLOADS + 1; payload <= share; payload++) {
    if (payload < 2 * overhead || payload * numSmParts < total) continue;
    const c = packWeigh(snb, numSmParts, payload, overhead, pieceCost, null, next);
    if (c && (!bestCost || cheaperSchedule(c, bestCost))) {
      bestCost = c;
      bestPayload = payload;
    }
  }
  if (!bestCost || !packBeatsBatchOrder(bestCost, scheduleCost(walked, seqlens, numSmParts, pieceCost))) return null;
  const order = new Int32Array(b);
  packWeigh(snb, numSmParts, bestPayload, overhead, pieceCost, order, next);
  for (let k = 0; k < b; k++) order[k] = sorted[order[k]];
  const { metadata, numSplits } = walkRows(seqlens, nb, order, numSmParts, bestPayload, overhead);
  return { metadata, numSplits };
}

/** The fifth rule's order between two schedules: the cheaper longest part, then fewer split items. */
function cheaperSchedule(a: { cost: number; pieces: number }, b: { cost: number; pieces: number }): boolean {
  return a.cost < b.cost || (a.cost === b.cost && a.pieces < b.pieces);
}

/**
 * Whether the best packing replaces the batch order: a cheaper longest part, or the same with at most
 * PACK_TIE_PIECES_EIGHTHS eighths of its split items (a cut of a few items is not worth a new order: S9, 69 → 67 at the
 * same cost, ran 1.7 % slower packed on an H100).
 */
function packBeatsBatchOrder(packed: { cost: number; pieces: number }, batch: { cost: number; pieces: number }): boolean {
  return packed.cost < batch.cost || (packed.cost === batch.cost && packed.pieces < batch.pieces && 8 * packed.pieces <= PACK_TIE_PIECES_EIGHTHS * batch.pieces);
}

/**
 * packOrder's packing at `payload` over block counts sorted descending (`snb`), weighed as it goes: its longest part in
 * blocks plus `pieceCost` per split item, and its split items; null when the walk would not complete. `order` (if
 * given) receives the packing's order as sorted positions. The metadata kernel's pack_order, step for step
 * (kernels/mla_metadata_pack.cuh); the longest unused request that fits from a binary search and a next-unused chain.
 */
function packWeigh(snb: Int32Array, numSmParts: number, payload: number, o: number, pieceCost: number, order: Int32Array | null,
                   next: Int32Array): { cost: number; pieces: number } | null {
  const b = snb.length;
  for (let i = 0; i <= b; i++) next[i] = i;  // next[k]: toward the first unused position ≥ k (`next`: b + 1 ints of scratch)
  const c = payload - o;
  let n = 0;
  let rest = -1;
  let cost = 0;
  let pieces = 0;
  let part = 0;
  while (part < numSmParts && (n < b || rest >= 0)) {
    if (rest > c) {  // the rest fills whole parts first
      const m = Math.min(Math.floor((rest - 1) / c), numSmParts - part);
      cost = Math.max(cost, c + pieceCost);
      pieces += m;
      rest -= m * c;
      part += m;
      continue;
    }
    let room = payload;
    let partCost = 0;
    if (rest >= 0) {
      room -= rest + o;
      partCost = rest + pieceCost;
      pieces++;
      rest = -1;
    }
    for (;;) {  // the longest unused whole requests that still fit
      const thr = room - o;
      let lo = 0;
      let hi = b;  // the first sorted position with at most thr blocks
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (snb[mid] > thr) lo = mid + 1;
        else hi = mid;
      }
      const k = lo < b ? firstUnused(next, lo) : b;
      if (k >= b) break;
      n = take(next, order, n, k);
      room -= snb[k] + o;
      partCost += snb[k];
    }
    if (room - o > 0) {  // then the head of the longest one left
      const k = firstUnused(next, 0);
      if (k < b) {
        n = take(next, order, n, k);
        rest = snb[k] - (room - o);
        partCost += room - o + pieceCost;
        pieces++;
      }
    }
    cost = Math.max(cost, partCost);
    part++;
  }
  return n === b && rest < 0 ? { cost, pieces } : null;
}

/** packWeigh's step: sorted position k taken as the order's n-th (`order` given); the next n. */
function take(next: Int32Array, order: Int32Array | null, n: number, k: number): number {
  next[k] = k + 1;
  if (order) order[n] = k;
  return n + 1;
}

/** packWeigh's next-unused chain: the first unused position ≥ k (b when none), compressing the path it followed. */
function firstUnused(next: Int32Array, k: number): number {
  let r = k;
  while (next[r] !== r) r = next[r];
  while (next[k] !== r) {
    const t = next[k];
    next[k] = r;
    k = t;
  }
  return r;
}

/** The fifth rule word for word (packOrder, walkRows and scheduleCost per candidate): the reference packedSchedule is tested against. */
export function packedScheduleByWalks(seqlens: ArrayLike<number>, numSmParts: number, pieceCost: number, overhead = splitOverheadBlocks()): TileSchedule | null {
  const b = seqlens.length;
  const nb = Array.from(seqlens, (s) => Math.ceil(s / PAGE_BLOCK_SIZE));
  const total = nb.reduce((a, x) => a + x + overhead, 0);
  const share = Math.ceil(total / numSmParts) + overhead;
  const walked = scheduleTiles(seqlens, numSmParts, overhead, true, undefined, undefined, 0);
  let best: TileSchedule | null = null;
  let bestCost: { cost: number; pieces: number } | null = null;
  for (let payload = share - PACK_PAYLOADS + 1; payload <= share && b > 0; payload++) {
    if (payload < 2 * overhead || payload * numSmParts < total) continue;
    const cand = walkRows(seqlens, nb, packOrder(nb, numSmParts, payload, overhead), numSmParts, payload, overhead);
    if (!cand.complete) continue;
    const c = scheduleCost(cand, seqlens, numSmParts, pieceCost);
    if (!bestCost || cheaperSchedule(c, bestCost)) {
      best = { metadata: cand.metadata, numSplits: cand.numSplits };
      bestCost = c;
    }
  }
  return bestCost && packBeatsBatchOrder(bestCost, scheduleCost(walked, seqlens, numSmParts, pieceCost)) ? best : null;
}

/** The schedule of a sparse decode: b requests of topk positions each (9edee0c's walk, without our two whole rules). */
export function sparseScheduleTiles(b: number, topk: number, numSmParts: number): TileSchedule {
  return scheduleTiles(new Int32Array(b).fill(topk), numSmParts, splitOverheadBlocks(), false);
}

/** One (request, token range, split) unit of work, as a decode CTA reads it from a metadata row. */
export interface WorkItem {
  part: number;
  request: number;
  startToken: number;
  endToken: number;
  /** Index of this split among the request's splits. */
  splitIdx: number;
  /** True when this item covers the whole request: the output is written directly, no combine. */
  noSplit: boolean;
}

/** Expand metadata rows into work items exactly as the decode kernel interprets them. */
export function workItems(metadata: ArrayLike<number>, seqlens: ArrayLike<number>, numSmParts: number): WorkItem[] {
  const items: WorkItem[] = [];
  const b = seqlens.length;
  for (let p = 0; p < numSmParts; p++) {
    const r = p * METADATA_ROW_INTS;
    const beginReq = metadata[r];
    const endReq = metadata[r + 2];
    if (beginReq >= b) continue;
    for (let pos = beginReq; pos <= endReq; pos++) {
      const req = requestAt(metadata, pos);
      const startToken = pos === beginReq ? metadata[r + 1] : 0;
      const endToken = pos === endReq ? metadata[r + 3] : seqlens[req];
      const splitIdx = pos === beginReq ? metadata[r + 4] & 0xffff : 0;
      items.push({ part: p, request: req, startToken, endToken, splitIdx, noSplit: startToken === 0 && endToken === seqlens[req] });
    }
  }
  return items;
}
