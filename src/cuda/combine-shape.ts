// How the combine kernel (kernels/mla_combine.cu) is launched for a decode shape: warps per row W (the entry
// point mla_combine_w<W>_*) and column chunks C (grid y). Pure, so that the choice is testable without a GPU.
//
// The combine's cost is latency: a row's split partials are read from L2 and a warp keeps 8 splits' loads in
// flight, so the time is set by how many warps work on the rows that have many splits. The host does not know
// the split counts (the metadata kernel computes them on the device), and one long request among short ones may
// hold almost every split. So: give the rows of one request about COMBINE_TARGET_WARPS warps (raising
// C first, then W), but never launch more than COMBINE_MAX_CTAS CTAs, which for large batches of short
// requests (one or two splits each, most rows returning at once) would cost more to launch than they save.

import { MLA_CONFIG } from './config.js';

const { COMBINE_WARPS, COMBINE_MAX_CHUNKS } = MLA_CONFIG;

/** Warps wanted on the rows of one request (H200: 132 SMs × 16 resident combine warps ≈ 2100). */
export const COMBINE_TARGET_WARPS = 2048;
/** Upper bound on the combine grid chosen by the rule (not by an override). */
export const COMBINE_MAX_CTAS = 1024;

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
  let shape: CombineShape = { warpsPerRow: 1, chunks: 1 };
  const ctas = (s: CombineShape) => combineGrid(b, qRows, s).reduce((x, y) => x * y, 1);
  const warpsOnOne = (s: CombineShape) => qRows * s.warpsPerRow * s.chunks;
  const steps: CombineShape[] = [];
  for (let c = 2; c <= COMBINE_MAX_CHUNKS; c *= 2) steps.push({ warpsPerRow: 1, chunks: c as 2 | 4 });
  for (let w = 2; w <= COMBINE_WARPS; w *= 2) steps.push({ warpsPerRow: w as 2 | 4 | 8, chunks: COMBINE_MAX_CHUNKS as 4 });
  for (const next of steps) {
    if (warpsOnOne(shape) >= COMBINE_TARGET_WARPS || ctas(next) > COMBINE_MAX_CTAS) break;
    shape = next;
  }
  return shape;
}

/** FLASH_MLA_COMBINE=W,C forces a shape (for measurements); empty: the rule. */
export function combineShapeOverride(value: string | undefined): CombineShape | null {
  const v = (value ?? '').trim();
  if (v === '') return null;
  const m = /^([1248]),([124])$/.exec(v);
  if (!m) throw new RangeError(`FLASH_MLA_COMBINE: expected 'W,C' with W (warps per row) in 1, 2, 4, 8 and C (column chunks) in 1, 2, 4, got '${v}'`);
  return { warpsPerRow: Number(m[1]) as 1 | 2 | 4 | 8, chunks: Number(m[2]) as 1 | 2 | 4 };
}
