// The combine's launch shape (src/cuda/combine-shape.ts): the rule's choices on the serving and sweep shapes, its
// bounds, the grid, and the FLASH_MLA_COMBINE override's validation. No GPU needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { COMBINE_MAX_WARPS_PER_ROW, COMBINE_TARGET_WARPS, combineGrid, combineShape, combineShapeOverride } from '../src/cuda/combine-shape.js';

test('combine shape: the measured best shapes of the serving set (H200, docs/perf-log.md)', () => {
  const shape = (w: 1 | 2 | 4 | 8, c: 1 | 2 | 4) => ({ warpsPerRow: w, chunks: c });
  assert.deepEqual(combineShape(1, 16), shape(4, 4)); // S2 one 64k request, TP8 heads (8,4 within 2 %)
  assert.deepEqual(combineShape(1, 128), shape(4, 4)); // S1
  assert.deepEqual(combineShape(2, 64), shape(4, 4)); // S3
  assert.deepEqual(combineShape(3, 128), shape(2, 4)); // S12
  assert.deepEqual(combineShape(33, 32), shape(1, 4)); // S7: one 100k request among 32 short
  assert.deepEqual(combineShape(16, 128), shape(1, 2)); // S9
  for (const [b, qRows] of [[8, 512], [64, 256], [256, 64], [512, 16], [128, 32], [128, 256]]) assert.deepEqual(combineShape(b, qRows), shape(1, 1), `b ${b} q_rows ${qRows}`);
});

test('combine shape: W·C is a power of two ≤ 16, C raised first, more rows never more warps per row; grid covers every row', () => {
  for (const b of [1, 2, 3, 7, 33, 64, 128, 132, 512, 4096]) {
    let prev = Infinity;
    for (const qRows of [1, 3, 16, 32, 64, 128, 256, 512]) {
      const s = combineShape(b, qRows);
      const perRow = s.warpsPerRow * s.chunks;
      assert.ok(perRow <= COMBINE_MAX_WARPS_PER_ROW && (perRow & (perRow - 1)) === 0, `b ${b} q_rows ${qRows}`);
      assert.ok(s.warpsPerRow === 1 || s.chunks === 4, 'W > 1 only with every column chunk');
      assert.ok(perRow === 1 || b * qRows * perRow <= COMBINE_TARGET_WARPS, `b ${b} q_rows ${qRows}: ${perRow} warps per row`);
      assert.ok(perRow <= prev, `b ${b}: q_rows ${qRows} got more warps per row than fewer rows`);
      prev = perRow;
      const [gx, gy] = combineGrid(b, qRows, s);
      assert.equal(gy, s.chunks);
      assert.ok(gx * (8 / s.warpsPerRow) >= b * qRows, 'every row has a warp group');
    }
  }
});

test('FLASH_MLA_COMBINE override: W,C or empty; anything else names the variable and the value', () => {
  assert.equal(combineShapeOverride(undefined), null);
  assert.equal(combineShapeOverride(' '), null);
  assert.deepEqual(combineShapeOverride('8,4'), { warpsPerRow: 8, chunks: 4 });
  assert.deepEqual(combineShapeOverride('1,1'), { warpsPerRow: 1, chunks: 1 });
  for (const bad of ['wide', '3,1', '8', '8,8', '1,3']) assert.throws(() => combineShapeOverride(bad), new RegExp(`FLASH_MLA_COMBINE: expected 'W,C'.*got '${bad}'`));
});
