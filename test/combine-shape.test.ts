// The combine's launch shape (src/cuda/combine-shape.ts): the rule's choices on the serving and sweep shapes, its
// bounds, the grid, and the FLASH_MLA_COMBINE override's validation. No GPU needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { COMBINE_MAX_CTAS, COMBINE_TARGET_WARPS, combineGrid, combineShape, combineShapeOverride } from '../src/cuda/combine-shape.js';

test('combine shape: few long rows get many warps, many rows one warp and one CTA for all columns', () => {
  assert.deepEqual(combineShape(1, 16), { warpsPerRow: 8, chunks: 4 }); // one 64k request, TP8 heads
  assert.deepEqual(combineShape(1, 128), { warpsPerRow: 4, chunks: 4 }); // one request, all heads: 2048 warps
  assert.deepEqual(combineShape(256, 64), { warpsPerRow: 1, chunks: 1 }); // 2048 CTAs already
  assert.deepEqual(combineShape(512, 16), { warpsPerRow: 1, chunks: 1 });
  assert.deepEqual(combineShape(33, 32), { warpsPerRow: 1, chunks: 4 }); // W = 2 would pass COMBINE_MAX_CTAS
});

test('combine shape: never past the CTA bound or the warp target (beyond one step), grid covers every row', () => {
  for (const b of [1, 2, 3, 7, 33, 64, 128, 132, 512, 4096]) {
    for (const qRows of [1, 3, 16, 32, 64, 128, 256, 512]) {
      const s = combineShape(b, qRows);
      const [gx, gy, gz] = combineGrid(b, qRows, s);
      const base = combineGrid(b, qRows, { warpsPerRow: 1, chunks: 1 });
      assert.ok(gx * gy * gz <= Math.max(COMBINE_MAX_CTAS, base[0]), `b ${b} q_rows ${qRows}: ${gx}×${gy} CTAs`);
      assert.ok(qRows * s.warpsPerRow * s.chunks < 2 * COMBINE_TARGET_WARPS || (s.warpsPerRow === 1 && s.chunks === 1), `b ${b} q_rows ${qRows}`);
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
