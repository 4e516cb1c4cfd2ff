// How the combine kernel (kernels/mla_combine.cu) is launched for a decode shape: warps per row W (the entry
// point mla_combine_w<W>_c<C>_*) and column chunks C (grid y). Pure, so that the choice is testable without a GPU.
//
// The combine's cost is latency: a row's split partials are read from L2, a warp keeping several splits' loads in
// flight, so the time is set by how many warps share the rows that have many splits. The host does not know the
// split counts (the metadata kernel computes them on the device); what it knows is the number of rows, b·q_rows.
// Measured on an H200 (docs/perf-log.md, "combine", 2026-12-01: S1–S12 and five sweep configs under every shape),
// the best shape gives the whole batch about COMBINE_TARGET_WARPS warps: W·C = the power of two at or below
// COMBINE_TARGET_WARPS / (b·q_rows), at most COMBINE_MAX_WARPS_PER_ROW, C raised first (no block barrier), then
// W. Past that, more CTAs cost more to launch (large batches of short requests, most rows returning at once)
// than the extra warps save: W·C = 32 on b 256 × 64 rows took 235 µs where W·C = 1 took 124.

import { MLA_CONFIG } from './config.js';

const { COMBINE_WARPS, COMBINE_MAX_CHUNKS } = MLA_CONFIG;

/** Warps wanted for the whole batch's rows (fitted: S7's 33 × 32 rows want W·C = 4, S8's 8 × 512 rows 1). */
export const COMBINE_TARGET_WARPS = 4608;
/** Largest W·C the rule picks (measured: 16 beats 32 on one request of 128 rows, ties on 16 rows). */
export const COMBINE_MAX_WARPS_PER_ROW = 16;

export interface CombineShape {
  /** Warps per output row: 1, 2, 4 or 8. */
  warpsPerRow: 1 | 2 | 4 | 8;
  /** Column chunks (grid y): 1, 2 or 4; a CTA owns 512 / chunks columns. */
  chunks: 1 | 2 | 4;
}

/** Grid of the combine for `b` requests of `qRows` folded rows each under `shape`. */
export function combineGrid(b: number, qRows: number, shape: CombineShape): [number, number, number] {
  const rowsPerCta = COMBINE_WARPS / shape.warpsPerRow;
  return [Math.ceil(qRows / rowsPerCta) * b, shape.chunks, 1];
}

/** The rule: see the file comment. */
export function combineShape(b: number, qRows: number): CombineShape {
  let perRow = 1; // W·C
  while (perRow * 2 <= COMBINE_MAX_WARPS_PER_ROW && b * qRows * perRow * 2 <= COMBINE_TARGET_WARPS) perRow *= 2;
  const chunks = Math.min(perRow, COMBINE_MAX_CHUNKS) as 1 | 2 | 4;
  const warpsPerRow = Math.min(perRow / chunks, COMBINE_WARPS) as 1 | 2 | 4 | 8;
  return { warpsPerRow, chunks };
}

/** FLASH_MLA_COMBINE=W,C forces a shape (for measurements); empty: the rule. */
export function combineShapeOverride(value: string | undefined): CombineShape | null {
  const v = (value ?? '').trim();
  if (v === '') return null;
  const m = /^([1248]),([124])$/.exec(v);
  if (!m) throw new RangeError(`FLASH_MLA_COMBINE: expected 'W,C' with W (warps per row) in 1, 2, 4, 8 and C (column chunks) in 1, 2, 4, got '${v}'`);
  return { warpsPerRow: Number(m[1]) as 1 | 2 | 4 | 8, chunks: Number(m[2]) as 1 | 2 | 4 };
}
