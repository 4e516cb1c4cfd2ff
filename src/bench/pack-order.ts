// EXPERIMENT (session 56; a measurement, not a feature yet): a request order under which the scheduler's walk cuts
// fewer requests. The walk (src/mla/schedule.ts) fills each SM part with requests in batch order and cuts one at
// every part boundary that does not land within a split's cost of a request start: a variable-length batch of 128
// requests over 132 parts has ~100 requests cut in 2–3 pieces (sweep#9: 227 pieces), and each piece pays the split
// rows' store phase and the combine (perf log s44c / s45w: the var rows' whole gap to their fixed twins). Ordered by
// a best-fit packing — a part takes the tail of the request cut at its top, then the longest whole requests that
// still fit, then the head of the longest request left — the same walk over the same payload cuts far fewer
// (sweep#13: 124 → ~20 pieces; the memory-bound var rows ~227 → ~140).
//
// FLASH_MLA_EXPERIMENT_PACK_ORDER=<piece cost> makes the bench's variable-length configs run their seqlens in that order (the
// multiset of lengths is the config's, so the peers' times still apply). Read once. The scheduler's fifth rule
// (src/mla/schedule.ts) is the same packing done by the schedule itself, on the user's batch order.

import { FIXED_OVERHEAD_NUM_BLOCKS, PAGE_BLOCK_SIZE } from '../mla/constants.js';
import { numSmPartsFor, packOrder, scheduleCost, scheduleTiles } from '../mla/schedule.js';

// the weight the scheduler's fifth rule gives the walk's schedule of this order
const cutOf = (seqlens: readonly number[], numSmParts: number, pieceCost: number) =>
  scheduleCost(scheduleTiles(seqlens, numSmParts), seqlens, numSmParts, pieceCost);

/**
 * `seqlens` reordered so that the scheduler's own walk gives the cheapest longest part (blocks plus `pieceCost` blocks
 * a split piece: its rows' store phase and its share of the combine; fewer pieces on a tie) — the packing tried at
 * payloads around the batch's share, the batch order kept when none is cheaper.
 */
export function packedSeqlens(seqlens: readonly number[], foldedRows: number, pieceCost: number, smCount = 132): number[] {
  const numSmParts = numSmPartsFor(smCount, foldedRows, 1);
  const overhead = FIXED_OVERHEAD_NUM_BLOCKS;
  const nb = seqlens.map((s) => Math.ceil(s / PAGE_BLOCK_SIZE));
  const share = Math.ceil(nb.reduce((a, x) => a + x + overhead, 0) / numSmParts) + overhead;
  let best = seqlens.slice();
  let bestCut = cutOf(best, numSmParts, pieceCost);
  for (let payload = share - 12; payload <= share + 2; payload++) {
    if (payload < 2 * overhead) continue;
    const cand = Array.from(packOrder(nb, numSmParts, payload, overhead), (i) => seqlens[i]);
    const cut = cutOf(cand, numSmParts, pieceCost);
    if (cut.cost < bestCut.cost || (cut.cost === bestCut.cost && cut.pieces < bestCut.pieces)) {
      best = cand;
      bestCut = cut;
    }
  }
  return best;
}

let pieceCostSetting: number | undefined;
/** FLASH_MLA_EXPERIMENT_PACK_ORDER: a split piece's cost in blocks (a number 0.5–16) turns the reordering on; 0 when unset. Read once. */
export function packOrderPieceCost(): number {
  if (pieceCostSetting === undefined) {
    const v = typeof process === 'undefined' ? undefined : process.env.FLASH_MLA_EXPERIMENT_PACK_ORDER;
    const n = v === undefined || v === '' ? 0 : Number(v);
    if (!(n === 0 || (n >= 0.5 && n <= 16))) throw new RangeError(`FLASH_MLA_EXPERIMENT_PACK_ORDER: expected a piece cost in blocks, 0.5–16 (or 0: off), got '${v}'`);
    pieceCostSetting = n;
  }
  return pieceCostSetting;
}
