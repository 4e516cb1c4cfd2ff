// The metadata kernel's warp walk (kernels/mla_metadata.cu, walk_warp) modelled lane by lane in TypeScript and held
// against the cpu scheduler (scheduleTiles, the semantics of FlashMLA 9edee0c) on many random batches, so that the
// algorithm is checked here, without a GPU; the GPU suite (test/gpu-decode.test.ts, "device metadata kernel = cpu
// scheduler") checks the kernel itself bit for bit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scheduleTiles } from '../src/mla/schedule.js';
import { FIXED_OVERHEAD_NUM_BLOCKS as F, METADATA_ROW_INTS, PAGE_BLOCK_SIZE } from '../src/mla/constants.js';
import { freshSeed, rng } from './util/problem.js';

const LANES = 32;

/** walk_warp of mla_metadata.cu, one JS value per lane where the kernel has one register per lane. */
function warpWalkModel(seqlens: readonly number[], parts: number): { metadata: Int32Array; numSplits: Int32Array; fullSteps: number } {
  const b = seqlens.length;
  const prefix = new Int32Array(b + 1);
  for (let i = 0; i < b; i++) prefix[i + 1] = prefix[i] + Math.ceil(seqlens[i] / PAGE_BLOCK_SIZE) + F;
  const total = prefix[b];
  const payload = Math.max(Math.ceil(total / parts) + F, 2 * F);
  const metadata = new Int32Array(parts * METADATA_ROW_INTS);
  const numSplits = new Int32Array(b + 1);
  let req = 0, blk = 0, split = 0, cum = 0, fullSteps = 0; // fullSteps: all 32 lanes fit (another step follows)
  for (let part = 0; part < parts; part++) {
    const beginReq = req, beginToken = blk * PAGE_BLOCK_SIZE, beginSplit = split;
    let remain = payload;
    if (req < b) {
      const rest = prefix[req + 1] - prefix[req] - blk;
      if (remain >= rest) {
        cum += split + 1;
        numSplits[req + 1] = cum;
        remain -= rest;
        req++;
        blk = 0;
        split = 0;
        while (req < b) {
          const p0 = prefix[req];
          const p1 = Array.from({ length: LANES }, (_, lane) => (req + lane + 1 <= b ? prefix[req + lane + 1] : 0));
          const fits = p1.map((v, lane) => req + lane + 1 <= b && v - p0 <= remain);
          const k = fits.filter(Boolean).length; // __popc(__ballot_sync(…))
          // the kernel relies on the lanes that fit being lanes 0 … k-1
          assert.ok(fits.every((f, lane) => f === lane < k), `fits not a prefix at req ${req}`);
          for (let lane = 0; lane < k; lane++) numSplits[req + lane + 1] = cum + lane + 1;
          if (k === 0) break;
          remain -= p1[k - 1] - p0;
          cum += k;
          req += k;
          if (k < LANES) break;
          fullSteps++;
        }
      }
      if (req < b && remain - F > 0) {
        blk += remain - F;
        split++;
      }
    }
    const row = metadata.subarray(part * METADATA_ROW_INTS, (part + 1) * METADATA_ROW_INTS);
    row[0] = beginReq;
    row[1] = beginToken;
    row[2] = blk > 0 ? req : req - 1;
    row[3] = blk > 0 ? blk * PAGE_BLOCK_SIZE : req > 0 ? seqlens[req - 1] : 0;
    row[4] = beginSplit;
  }
  return { metadata, numSplits, fullSteps };
}

test('metadata warp walk = the cpu scheduler on random batches (lengths 0 … 200k, b 1 … 5000, 1 … 1000 parts)', () => {
  const seed = freshSeed();
  const r = rng(seed);
  const kinds = ['zeros', 'tiny', 'short', 'mixed', 'huge-among-tiny', 'page-edges', 'long'];
  let cases = 0;
  let fullSteps = 0;
  for (let n = 0; n < 1500; n++) {
    const b = 1 + Math.floor(r() ** 3 * 5000);
    const kind = kinds[n % kinds.length];
    const len = (): number => {
      switch (kind) {
        case 'zeros': return r() < 0.9 ? 0 : Math.floor(r() * 100);
        case 'tiny': return Math.floor(r() * 70);
        case 'short': return Math.floor(r() * 1200);
        case 'mixed': return r() < 0.2 ? 0 : Math.floor(r() * 20000);
        case 'huge-among-tiny': return r() < 0.01 ? 100000 + Math.floor(r() * 100000) : Math.floor(r() * 200);
        case 'page-edges': return [0, 1, 63, 64, 65, 127, 128, 129][Math.floor(r() * 8)];
        default: return Math.floor(r() * 200000);
      }
    };
    const seqlens = Array.from({ length: b }, len);
    const parts = [1, 2, 7, 33, 66, 132, 264, 1000][Math.floor(r() * 8)];
    const want = scheduleTiles(seqlens, parts);
    const got = warpWalkModel(seqlens, parts);
    const where = `seed ${seed}, case ${n} (${kind}, b ${b}, parts ${parts})`;
    assert.deepEqual(got.metadata, want.metadata, `metadata differs: ${where}`);
    assert.deepEqual(got.numSplits, want.numSplits, `numSplits differs: ${where}`);
    fullSteps += got.fullSteps;
    cases++;
  }
  assert.equal(cases, 1500);
  assert.ok(fullSteps > 100, `parts must take more than 32 whole requests (a second warp step) often: ${fullSteps} times`);
});
