// Paged KV cache on the cpu backend: allocator invariants under 10k random operations, append
// correctness (direct and through the cache), fork / copy-on-write, errors with exact messages, stable
// block-table capacity, and a decode through flashMlaWithKvcache on the cache's tensors.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, getMlaMetadata, flashMlaWithKvcache } from '../src/index.js';
import { PagedKvCache, BlockAllocator, appendKv, appendKvPaged, OutOfBlocksError, UnknownSequenceError } from '../src/kvcache/index.js';
import { compare, freshSeed, normal, rng } from './util/problem.js';

const W = 576;

/** Raw 16-bit pattern of channel c of token `tok` (any pattern: the append is a bit copy). */
function bitsOf(tok: number, c: number): number {
  return (Math.imul(tok + 1, 0x9e3779b1) ^ Math.imul(c + 7, 0x85ebca6b)) >>> 16;
}

/** cKv [T, 512] and kPe [T, 64] (bf16 raw bits) for token ids `toks`. */
function rowsFor(toks: readonly number[], dtype: 'bf16' | 'fp16' = 'bf16'): { cKv: Tensor; kPe: Tensor } {
  const a = new Uint16Array(toks.length * 512);
  const b = new Uint16Array(toks.length * 64);
  toks.forEach((tok, t) => {
    for (let c = 0; c < 512; c++) a[t * 512 + c] = bitsOf(tok, c);
    for (let c = 0; c < 64; c++) b[t * 64 + c] = bitsOf(tok, 512 + c);
  });
  return { cKv: Tensor.from(a, [toks.length, 512], { dtype }), kPe: Tensor.from(b, [toks.length, 64], { dtype }) };
}

/** Check that the cache holds `toks` for sequence `id` (read through its block list). */
function expectContent(cache: PagedKvCache, id: number, toks: readonly number[], layer = 0): void {
  const data = cache.kCache(layer).data as Uint16Array;
  const blocks = cache.blocks(id);
  assert.equal(cache.seqLen(id), toks.length, `sequence ${id}: length`);
  for (let p = 0; p < toks.length; p++) {
    const base = (blocks[Math.floor(p / 64)] * 64 + (p % 64)) * W;
    for (let c = 0; c < W; c++) {
      if (data[base + c] !== bitsOf(toks[p], c)) {
        assert.fail(`sequence ${id} position ${p} channel ${c}: got bits 0x${data[base + c].toString(16)}, expected 0x${bitsOf(toks[p], c).toString(16)} (token ${toks[p]})`);
      }
    }
  }
}

test('allocator: invariants hold over 10k random add/append/fork/free operations, no block leaks', () => {
  const seed = freshSeed();
  try {
    const r = rng(seed);
    const numBlocks = 40;
    const cache = new PagedKvCache({ numBlocks, maxSeqLen: 64 * 10, maxBatch: 12 });
    const model = new Map<number, number[]>();
    let nextTok = 0;
    let ooms = 0;
    let cows = 0;
    for (let op = 0; op < 10_000; op++) {
      const live = [...model.keys()];
      const pick = () => live[Math.floor(r() * live.length)];
      const x = r();
      if (x < 0.12 || live.length === 0) {
        const id = cache.addSequence();
        assert.ok(!model.has(id), `addSequence returned a live id ${id}`);
        model.set(id, []);
      } else if (x < 0.22) {
        if (live.length < 12) {
          const p = pick();
          const c = cache.fork(p);
          model.set(c, [...model.get(p)!]);
        }
      } else if (x < 0.36) {
        const id = pick();
        cache.free(id);
        model.delete(id);
        assert.throws(() => cache.seqLen(id), UnknownSequenceError);
      } else if (x < 0.9) {
        // several sequences, several tokens each, interleaved (each sequence's tokens in order)
        const chosen = [...new Set(Array.from({ length: 1 + Math.floor(r() * 3) }, pick))];
        const want = chosen.map((id) => (r() < 0.7 ? 1 + Math.floor(r() * 4) : 1 + Math.floor(r() * 90)));
        const ids: number[] = [];
        const left = [...want];
        while (left.some((n) => n > 0)) {
          const k = Math.floor(r() * chosen.length);
          if (left[k] > 0) {
            ids.push(chosen[k]);
            left[k]--;
          }
        }
        const tooLong = chosen.some((id, k) => model.get(id)!.length + want[k] > cache.maxSeqLen);
        const toks = ids.map(() => nextTok++);
        const { cKv, kPe } = rowsFor(toks);
        const before = { free: cache.freeBlocks, lens: chosen.map((id) => cache.seqLen(id)), blocks: chosen.map((id) => cache.blocks(id).join()) };
        const needed = tooLong ? 0 : cache.blocksNeeded(ids);
        const snapshot = tooLong || needed > before.free ? (cache.kCache().data as Uint16Array).slice() : null;
        if (tooLong) {
          assert.throws(() => cache.append(ids, cKv, kPe), /would grow to \d+ tokens, more than the block table holds/);
        } else if (needed > cache.freeBlocks) {
          ooms++;
          assert.throws(() => cache.append(ids, cKv, kPe), (e: unknown) => e instanceof OutOfBlocksError && e.needed === needed);
        } else {
          const cow0 = cache.stats.cowCopies;
          cache.append(ids, cKv, kPe);
          cows += cache.stats.cowCopies - cow0;
          ids.forEach((id, t) => model.get(id)!.push(toks[t]));
          assert.equal(cache.freeBlocks, before.free - needed, 'blocksNeeded() predicted the blocks taken');
        }
        if (tooLong || needed > before.free) {
          // no half-appended state
          assert.equal(cache.freeBlocks, before.free);
          assert.deepEqual(chosen.map((id) => cache.seqLen(id)), before.lens);
          assert.deepEqual(chosen.map((id) => cache.blocks(id).join()), before.blocks);
          assert.ok(Buffer.from((cache.kCache().data as Uint16Array).buffer).equals(Buffer.from(snapshot!.buffer)), 'a failed append wrote into the cache');
        }
      } else {
        // decode inputs for a random batch agree with the block lists
        const batch = live.filter(() => r() < 0.6).slice(0, 12);
        if (batch.length > 0) {
          const table = cache.blockTable(batch).toInt32();
          const lens = cache.cacheSeqlens(batch).toInt32();
          batch.forEach((id, i) => {
            assert.equal(lens[i], model.get(id)!.length);
            const bl = cache.blocks(id);
            for (let j = 0; j < cache.maxBlocksPerSeq; j++) assert.equal(table[i * cache.maxBlocksPerSeq + j], j < bl.length ? bl[j] : 0);
          });
        }
      }
      cache.checkInvariants();
      const used = new Set<number>();
      for (const id of model.keys()) for (const b of cache.blocks(id)) used.add(b);
      assert.equal(cache.usedBlocks, used.size, 'used blocks = blocks held by live sequences');
      if (op % 500 === 499) for (const [id, toks] of model) expectContent(cache, id, toks);
    }
    for (const [id, toks] of model) expectContent(cache, id, toks);
    for (const id of [...model.keys()]) cache.free(id);
    cache.checkInvariants();
    assert.equal(cache.freeBlocks, numBlocks, 'every block is free again after freeing every sequence');
    assert.ok(ooms > 0 && cows > 0, `the run exercised out-of-blocks (${ooms}) and copy-on-write (${cows})`);
  } catch (e) {
    if (e instanceof Error) e.message += ` (seed ${seed}; rerun with FLASH_MLA_SEED=${seed})`;
    throw e;
  }
});

test('BlockAllocator: LIFO reuse, all-or-nothing allocateMany, counts', () => {
  const a = new BlockAllocator(4);
  assert.deepEqual(a.allocateMany(3), [0, 1, 2]);
  assert.throws(() => a.allocateMany(2), { name: 'OutOfBlocksError', message: 'out of KV cache blocks: the append needs 2 free page blocks, 1 of 4 are free; nothing was written' });
  assert.equal(a.freeCount, 1);
  a.retain(1);
  assert.equal(a.release(1), false);
  assert.equal(a.release(1), true);
  assert.equal(a.allocate(), 1, 'the block freed last is reused first');
  assert.throws(() => a.release(3), /block 3 is already free/);
  a.checkInvariants(new Map([[0, 1], [1, 1], [2, 1]]));
  assert.throws(() => a.checkInvariants(new Map([[0, 2], [1, 1], [2, 1]])), /block 0 has count 1 but 2 holder/);
});

test('appendKv: strided views, padding slots, untouched rows, same result as appendKvPaged', () => {
  const seed = freshSeed();
  const r = rng(seed);
  for (const dtype of ['bf16', 'fp16'] as const) {
    const T = 37;
    const src = new Float32Array(T * W).map(() => normal(r) * 0.1);
    const proj = Tensor.from(src, [T, W], { dtype }); // one [T, 576] projection output
    const cKv = proj.view([T, 512], [W, 1], 0);
    const kPe = proj.view([T, 64], [W, 1], 512);
    const kCache = Tensor.full([5, 64, 1, W], NaN, { dtype });
    const slots = Int32Array.from({ length: T }, (_, t) => (t === 3 ? -1 : [2, 0, 4][t % 3] * 64 + ((t * 17) % 64)));
    appendKv(kCache, Tensor.from(slots, [T]), cKv, kPe);
    const got = kCache.data as Uint16Array;
    const raw = proj.data as Uint16Array;
    const written = new Set<number>();
    for (let t = 0; t < T; t++) {
      if (slots[t] < 0) continue;
      written.add(slots[t]);
      for (let c = 0; c < W; c++) assert.equal(got[slots[t] * W + c], raw[t * W + c], `${dtype} token ${t} channel ${c} (seed ${seed})`);
    }
    for (let s = 0; s < 5 * 64; s++) if (!written.has(s)) assert.ok(Number.isNaN(kCache.view([W], [1], s * W).toFloat32()[0]), `slot ${s} was touched`);

    // slots from a block table (the device-side path): 3 requests, 2 new tokens each
    const table = Tensor.from(Int32Array.from([3, 1, 0, 4, 2, 0]), [3, 2]);
    const lens = Tensor.from(Int32Array.from([70, 2, 1]), [3]); // request 2 has one token: its first new token (position -1) is skipped
    const six = proj.view([6, 512], [W, 1], 0);
    const sixPe = proj.view([6, 64], [W, 1], 512);
    const viaTable = Tensor.full([5, 64, 1, W], NaN, { dtype });
    appendKvPaged(viaTable, table, lens, six, sixPe);
    const viaSlots = Tensor.full([5, 64, 1, W], NaN, { dtype });
    appendKv(viaSlots, Tensor.from(Int32Array.from([1 * 64 + 4, 1 * 64 + 5, 0 * 64 + 0, 0 * 64 + 1, -1, 2 * 64 + 0]), [6]), six, sixPe);
    assert.deepEqual(viaTable.data, viaSlots.data);
  }
});

test('PagedKvCache.append: several sequences and tokens per call, per-layer rows, blocks in order', () => {
  const cache = new PagedKvCache({ numBlocks: 16, numLayers: 2, maxBatch: 4 });
  const a = cache.addSequence();
  const b = cache.addSequence();
  const ids = [a, b, a, a, b, ...new Array(70).fill(a)];
  const toks = ids.map((_, i) => 1000 + i);
  const l0 = rowsFor(toks);
  const l1 = rowsFor(toks.map((t) => t + 5000));
  cache.append(ids, [l0.cKv, l1.cKv], [l0.kPe, l1.kPe]);
  const ta = toks.filter((_, i) => ids[i] === a);
  const tb = toks.filter((_, i) => ids[i] === b);
  expectContent(cache, a, ta, 0);
  expectContent(cache, b, tb, 0);
  expectContent(cache, a, ta.map((t) => t + 5000), 1);
  assert.deepEqual(cache.blocks(a), [0, 1], 'blocks go to sequences in order of first appearance');
  assert.deepEqual(cache.blocks(b), [2]);
  assert.equal(cache.seqLen(a), 73);
  assert.equal(cache.tokensThatFit(a), 64 - 9 + 13 * 64);
  assert.equal(cache.tokensThatFit(), 13 * 64);
  cache.checkInvariants();
});

test('fork: full blocks stay shared, the first write into a shared block copies it (copy-on-write)', () => {
  const cache = new PagedKvCache({ numBlocks: 8 });
  const p = cache.addSequence();
  const pt = Array.from({ length: 100 }, (_, i) => i);
  let x = rowsFor(pt);
  cache.append(new Array(100).fill(p), x.cKv, x.kPe);
  const c = cache.fork(p);
  assert.deepEqual(cache.blocks(c), cache.blocks(p));
  for (const b of cache.blocks(p)) assert.equal(cache.refCount(b), 2);
  assert.equal(cache.tokensThatFit(c), 28 + 5 * 64, 'a copy-on-write copy costs one free block');
  // child writes first: it gets a private copy of the partial block
  x = rowsFor([500]);
  cache.append([c], x.cKv, x.kPe);
  assert.equal(cache.stats.cowCopies, 1);
  const [pb0, pb1] = cache.blocks(p);
  const [cb0, cb1] = cache.blocks(c);
  assert.equal(cb0, pb0, 'the full block is still shared');
  assert.notEqual(cb1, pb1);
  assert.equal(cache.refCount(pb0), 2);
  assert.equal(cache.refCount(pb1), 1);
  expectContent(cache, p, pt);
  expectContent(cache, c, [...pt, 500]);
  // the parent now owns its partial block alone: no copy
  x = rowsFor([600, 601]);
  cache.append([p, p], x.cKv, x.kPe);
  assert.equal(cache.stats.cowCopies, 1);
  expectContent(cache, p, [...pt, 600, 601]);
  expectContent(cache, c, [...pt, 500]);
  // fork at a block boundary: the next token opens a new block, nothing is copied
  const q = cache.addSequence();
  x = rowsFor(Array.from({ length: 64 }, (_, i) => 900 + i));
  cache.append(new Array(64).fill(q), x.cKv, x.kPe);
  const q2 = cache.fork(q);
  x = rowsFor([7, 8]);
  cache.append([q, q2], x.cKv, x.kPe);
  assert.equal(cache.stats.cowCopies, 1);
  // both write into the same shared partial block in one call: one copy, the second writes in place
  const r1 = cache.fork(c);
  cache.free(p);
  x = rowsFor([11, 12]);
  const free0 = cache.freeBlocks;
  assert.equal(cache.blocksNeeded([c, r1]), 1);
  cache.append([c, r1], x.cKv, x.kPe);
  assert.equal(cache.freeBlocks, free0 - 1);
  expectContent(cache, c, [...pt, 500, 11]);
  expectContent(cache, r1, [...pt, 500, 12]);
  cache.checkInvariants();
  for (const id of cache.sequences()) cache.free(id);
  assert.equal(cache.freeBlocks, 8);
});

test('errors: out of blocks before any write, unknown/freed ids, shapes and dtypes, with exact messages', () => {
  const cache = new PagedKvCache({ numBlocks: 4, maxSeqLen: 192, maxBatch: 2 });
  const a = cache.addSequence();
  let x = rowsFor(Array.from({ length: 130 }, (_, i) => i));
  cache.append(new Array(130).fill(a), x.cKv, x.kPe);
  const b = cache.addSequence();
  x = rowsFor(Array.from({ length: 129 }, (_, i) => i));
  const before = (cache.kCache().data as Uint16Array).slice();
  assert.throws(() => cache.append(new Array(129).fill(b), x.cKv, x.kPe), {
    name: 'OutOfBlocksError',
    message: 'out of KV cache blocks: the append needs 3 free page blocks, 1 of 4 are free; nothing was written',
  });
  assert.equal(cache.seqLen(b), 0);
  assert.equal(cache.freeBlocks, 1);
  assert.deepEqual(cache.kCache().data, before);
  assert.ok(new OutOfBlocksError(1, 0, 4) instanceof Error);

  x = rowsFor([1, 2, 3]);
  assert.throws(() => cache.append([a, 99, a], x.cKv, x.kPe), { name: 'UnknownSequenceError', message: 'seqIds[1]: expected a live sequence id, got 99 (no such sequence was added)' });
  assert.throws(() => cache.append([a, -1, a], x.cKv, x.kPe), { message: 'seqIds[1]: expected a sequence id (an integer ≥ 0), got -1' });
  cache.free(b);
  assert.throws(() => cache.free(b), { name: 'UnknownSequenceError', message: 'seqId: expected a live sequence id, got 1 (it was freed)' });
  assert.throws(() => cache.fork(b), { message: 'seqId: expected a live sequence id, got 1 (it was freed)' });
  assert.throws(() => cache.blockTable([a, b]), { message: 'seqIds[1]: expected a live sequence id, got 1 (it was freed)' });
  assert.throws(() => cache.append([a, a], x.cKv, x.kPe), { name: 'RangeError', message: 'cKv: expected T = 2 rows (one row per entry of seqIds), got shape [3, 512]' });
  const y = rowsFor([1, 2, 3], 'fp16');
  assert.throws(() => cache.append([a, a, a], y.cKv, x.kPe), { name: 'TypeError', message: 'cKv: expected dtype bf16 (the dtype of kCache), got fp16' });
  assert.throws(() => cache.append([a, a, a], x.cKv, Tensor.zeros([3, 32], { dtype: 'bf16' })), { message: 'kPe: expected channels = 64 (dim 1), got 32 in shape [3, 32]' });
  assert.throws(() => cache.append([a, a, a], x.cKv, Tensor.zeros([2, 64], { dtype: 'bf16' })), { message: 'kPe: expected T = 3 rows (the rows of cKv), got shape [2, 64]' });
  assert.throws(() => cache.append([a, a, a], [x.cKv, x.cKv], x.kPe), { message: 'cKv: expected 1 tensor (one per layer), got 2' });
  const two = new PagedKvCache({ numBlocks: 2, numLayers: 2 });
  const s2 = two.addSequence();
  assert.throws(() => two.append([s2, s2, s2], x.cKv, x.kPe), { message: 'cKv: expected an array of 2 tensors (one per layer), got a single tensor' });
  assert.throws(() => two.append([s2, s2, s2], [x.cKv, y.cKv], [x.kPe, x.kPe]), { message: 'layer 1: cKv: expected dtype bf16 (the dtype of kCache), got fp16' });
  x = rowsFor(Array.from({ length: 63 }, (_, i) => i));
  assert.throws(() => cache.append(new Array(63).fill(a), x.cKv, x.kPe), {
    message: 'seqIds: sequence 0 would grow to 193 tokens, more than the block table holds (maxBlocksPerSeq 3 × 64 = 192)',
  });
  assert.equal(cache.seqLen(a), 130, 'nothing changed');
  const c = cache.addSequence();
  const d = cache.addSequence();
  assert.throws(() => cache.cacheSeqlens([a, c, d]), { message: 'seqIds: expected at most maxBatch = 2 sequences, got 3' });
  assert.throws(() => cache.blockTable([a, a]), { message: 'seqIds[1]: sequence 0 appears twice in the batch' });
  assert.throws(() => cache.kCache(1), { message: 'layer: expected an integer in [0, 1), got 1' });
  assert.throws(() => new PagedKvCache({ numBlocks: 0 }), { message: 'numBlocks: expected an integer in [1, 33554431], got 0' });
  // direct appendKv
  const k = Tensor.zeros([4, 64, 1, W], { dtype: 'bf16' });
  x = rowsFor([1, 2]);
  assert.throws(() => appendKv(k, Tensor.from(Int32Array.from([0, 256]), [2]), x.cKv, x.kPe), {
    message: 'slotMapping[1]: expected a slot in [0, 256) (4 blocks × 64 tokens) or < 0 for padding, got 256',
  });
  assert.throws(() => appendKv(k, Tensor.from(Int32Array.from([0, 1, 2]), [3]), x.cKv, x.kPe), { message: 'slotMapping: expected 2 entries [T] (one slot per row of cKv), got shape [3]' });
  assert.throws(() => appendKv(k, Tensor.from([0, 1], [2], { dtype: 'fp32' }), x.cKv, x.kPe), { message: 'slotMapping: expected dtype int32, got fp32' });
  assert.throws(() => appendKv(Tensor.zeros([4, 32, 1, W], { dtype: 'bf16' }), Tensor.from(Int32Array.from([0, 1]), [2]), x.cKv, x.kPe), {
    message: 'kCache: expected page block size = 64 (dim 1), got 32 in shape [4, 32, 1, 576]',
  });
  cache.dispose();
  assert.throws(() => cache.addSequence(), { name: 'DisposedError', message: 'PagedKvCache was used after dispose()' });
});

test('a disposed cache: every method and getter throws DisposedError; dispose() stays idempotent', () => {
  const cache = new PagedKvCache({ numBlocks: 4, numLayers: 2, maxBatch: 2 });
  const a = cache.addSequence();
  const x = rowsFor([1, 2, 3]);
  cache.append([a, a, a], [x.cKv, x.cKv], [x.kPe, x.kPe]);
  const b = cache.fork(a);
  assert.equal(cache.disposed, false);
  cache.dispose();
  assert.equal(cache.disposed, true);
  cache.dispose();
  cache[Symbol.dispose]();
  // every public member, called as a user would with arguments that were valid before dispose()
  const calls: Record<string, () => unknown> = {
    kCache: () => cache.kCache(0),
    maxSeqLen: () => cache.maxSeqLen,
    addSequence: () => cache.addSequence(),
    sequences: () => cache.sequences(),
    numSequences: () => cache.numSequences,
    has: () => cache.has(a),
    seqLen: () => cache.seqLen(a),
    blocks: () => cache.blocks(a),
    fork: () => cache.fork(a),
    free: () => cache.free(b),
    freeBlocks: () => cache.freeBlocks,
    usedBlocks: () => cache.usedBlocks,
    refCount: () => cache.refCount(0),
    tokensThatFit: () => cache.tokensThatFit(a),
    blocksNeeded: () => cache.blocksNeeded([a]),
    reserve: () => cache.reserve([a]),
    append: () => cache.append([a, a, a], [x.cKv, x.cKv], [x.kPe, x.kPe]),
    blockTable: () => cache.blockTable([a, b]),
    cacheSeqlens: () => cache.cacheSeqlens([a, b]),
    metadata: () => cache.metadata([a, b], 16),
    checkInvariants: () => cache.checkInvariants(),
  };
  for (const [name, call] of Object.entries(calls)) {
    assert.throws(call, { name: 'DisposedError', message: 'PagedKvCache was used after dispose()' }, name);
  }
  assert.throws(() => cache.tokensThatFit(), { name: 'DisposedError' }, 'tokensThatFit()');
  assert.throws(() => cache.blockTable(), { name: 'DisposedError' }, 'blockTable()');
  // a member added later must be added above: the prototype holds exactly these, dispose and the internals
  const internals = ['constructor', 'dispose', 'disposed', 'assertLive', 'assertNotCapturing', 'lookup', 'checkIds', 'batch', 'perLayer', 'plan', 'commit', 'copyRows', 'uploadSlots'];
  const members = Object.getOwnPropertyNames(PagedKvCache.prototype).filter((n) => !internals.includes(n));
  assert.deepEqual(members.sort(), Object.keys(calls).sort());
  // the configuration stays readable
  assert.deepEqual([cache.backend, cache.dtype, cache.numBlocks, cache.numLayers, cache.maxBatch], ['cpu', 'bf16', 4, 2, 2]);
});

test('errors name the type of a wrong value: sequence ids, options, cache sizes that cannot be allocated', () => {
  const cache = new PagedKvCache({ numBlocks: 2 });
  const a = cache.addSequence();
  assert.equal(a, 0);
  const notAnId = (arg: string, got: string) => ({ name: 'UnknownSequenceError', message: `${arg}: expected a sequence id (an integer ≥ 0), got ${got}` });
  assert.throws(() => cache.seqLen('0' as unknown as number), notAnId('seqId', "the string '0'"));
  assert.throws(() => cache.blocks(null as unknown as number), notAnId('seqId', 'null'));
  assert.throws(() => cache.fork(1.5), notAnId('seqId', '1.5'));
  assert.throws(() => cache.blockTable([a, '0' as unknown as number]), notAnId('seqIds[1]', "the string '0'"));
  assert.throws(() => cache.reserve('00' as unknown as number[]), { name: 'TypeError', message: "seqIds: expected an array of sequence ids (one per token), got the string '00'" });
  assert.throws(() => new PagedKvCache({ numBlocks: '4' as unknown as number }), { name: 'TypeError', message: "numBlocks: expected an integer in [1, 33554431], got the string '4'" });
  assert.throws(() => new PagedKvCache({ numBlocks: 4, numLayers: '2' as unknown as number }), { name: 'TypeError', message: "numLayers: expected an integer ≥ 1, got the string '2'" });
  assert.throws(() => new PagedKvCache({ numBlocks: 4, dtype: 'fp8e4m3' as never }), { name: 'TypeError', message: "dtype: expected 'bf16' or 'fp16', got the string 'fp8e4m3'" });
  assert.throws(() => new PagedKvCache({ numBlocks: 4, backend: 'gpu' as never }), { name: 'TypeError', message: "backend: expected 'cpu' or 'cuda', got the string 'gpu'" });
  assert.throws(() => new PagedKvCache(4 as never), { name: 'TypeError', message: 'options: expected an object, got 4' });
  assert.throws(() => cache.kCache('0' as unknown as number), { name: 'TypeError', message: "layer: expected an integer in [0, 1), got the string '0'" });
  // the largest cache the block indices allow: 2.47 TB per layer, more than any host has
  assert.throws(() => new PagedKvCache({ numBlocks: 2 ** 25 - 1, numLayers: 2 }), (e: unknown) => {
    assert.ok(e instanceof RangeError, String(e));
    assert.match(e.message, /^numBlocks: 33554431 page blocks × 2 layers need 4947802177536 bytes \(4\.50 TiB\) of host memory for kCache \(73728 bytes per block and layer\), /);
    return true;
  });
});

test('blockTable/cacheSeqlens: fixed capacity, same storage every call, rewritten only when something changed', () => {
  const cache = new PagedKvCache({ numBlocks: 32, maxSeqLen: 64 * 8, maxBatch: 4 });
  const ids = [cache.addSequence(), cache.addSequence(), cache.addSequence()];
  let x = rowsFor([1, 2, 3]);
  cache.append(ids, x.cKv, x.kPe);
  const t1 = cache.blockTable(ids);
  const s1 = cache.cacheSeqlens(ids);
  assert.deepEqual(t1.shape, [3, 8]);
  assert.deepEqual(s1.shape, [3]);
  const writes = { ...cache.stats };
  assert.equal(cache.blockTable(ids), t1, 'same Tensor object');
  assert.equal(cache.cacheSeqlens(ids), s1);
  assert.deepEqual(cache.stats, writes, 'nothing changed: nothing written');
  // a decode step inside a block: lengths change, the table does not
  x = rowsFor([4, 5, 6]);
  cache.append(ids, x.cKv, x.kPe);
  assert.equal(cache.blockTable(ids), t1);
  assert.equal(cache.cacheSeqlens(ids), s1);
  assert.equal(cache.stats.blockTableWrites, writes.blockTableWrites);
  assert.equal(cache.stats.seqlenWrites, writes.seqlenWrites + 1);
  assert.deepEqual([...s1.toInt32()], [2, 2, 2]);
  // crossing a block boundary rewrites one row
  x = rowsFor(Array.from({ length: 63 }, (_, i) => i));
  cache.append(new Array(63).fill(ids[1]), x.cKv, x.kPe);
  const t2 = cache.blockTable(ids);
  assert.equal(t2, t1);
  assert.equal(cache.stats.blockTableWrites, writes.blockTableWrites + 1);
  assert.deepEqual([...t2.toInt32()].slice(8, 10), cache.blocks(ids[1]));
  // a smaller batch is a view of the same storage
  const t3 = cache.blockTable([ids[2]]);
  assert.equal(t3.data.buffer, t1.data.buffer);
  assert.deepEqual([...t3.toInt32()].slice(0, 1), cache.blocks(ids[2]));
  assert.deepEqual(cache.blockTable(ids).toInt32(), t1.toInt32());
  // the slot mapping buffer keeps its storage for T within capacity
  const s = cache.reserve(ids);
  const s2 = cache.reserve(ids);
  assert.equal(s.data.buffer, s2.data.buffer);
  assert.deepEqual(cache.sequences(), ids);
});

/**
 * Naive attention of one query row over `rows` (the tokens appended to a sequence, recorded on the host
 * independently of the cache): float64 softmax, like test/util/problem.ts's referenceRow.
 */
function naiveRow(q: Float32Array, qOff: number, rows: Float32Array[], scale = 1 / Math.sqrt(W)): { out: Float64Array; lse: number } {
  const logits = rows.map((k) => {
    let dot = 0;
    for (let c = 0; c < W; c++) dot += q[qOff + c] * k[c];
    return dot * scale;
  });
  const m = Math.max(...logits);
  const w = logits.map((x) => Math.exp(x - m));
  const sum = w.reduce((a, x) => a + x, 0);
  const out = new Float64Array(512);
  rows.forEach((k, t) => {
    for (let c = 0; c < 512; c++) out[c] += (w[t] / sum) * k[c];
  });
  return { out, lse: m + Math.log(sum) };
}

test('metadata(): the packed order by default where a batch of that size can pack (shape only), the batch order with packOrder false', () => {
  // 53 requests of mixed lengths over 66 parts (128 rows): the fifth rule packs them (and their content does not matter)
  const lens = [156, 183, 87, 531, 133, 89, 169, 1, 992, 59, 49, 101, 116, 96, 198, 126, 903, 188, 15, 844, 113, 91, 4, 191, 102, 70, 194, 157, 870, 6, 1255, 9,
    46, 59, 151, 361, 140, 105, 580, 1053, 174, 123, 141, 137, 77, 152, 197, 61, 20, 58, 38, 62, 169];
  const cache = new PagedKvCache({ numBlocks: 240, maxBatch: 64 });
  const ids = lens.map(() => cache.addSequence());
  const tokens = ids.flatMap((id, i) => Array<number>(lens[i]).fill(id));
  cache.append(tokens, Tensor.zeros([tokens.length, 512], { dtype: 'bf16' }), Tensor.zeros([tokens.length, 64], { dtype: 'bf16' }));
  const rowsOf = (m: { tileSchedulerMetadata: Tensor }) => m.tileSchedulerMetadata.toInt32();
  const want = (packOrder: boolean, b = ids.length) => rowsOf(getMlaMetadata(cache.cacheSeqlens(ids.slice(0, b)), 128, 1, { packOrder }));
  const packed = want(true);
  assert.notEqual(packed[5], 0, 'these lengths no longer pack: the test needs a batch the rule packs');
  assert.deepEqual(rowsOf(cache.metadata(ids, 128)), packed, 'the default: the packed order');
  assert.deepEqual(rowsOf(cache.metadata(ids, 128, 1, { packOrder: false })), want(false), 'packOrder false: the batch order');
  assert.equal(want(false)[5], 0);
  // each order has buffers of its own (a graph captured over one order never sees the other written there): the default
  // takes the packed order's for 2 ≤ b ≤ packMaxRequests(parts), the batch order's for one request or more than that
  const storage = (m: { tileSchedulerMetadata: Tensor }) => (m.tileSchedulerMetadata.data as Int32Array).buffer;
  const packedBufs = storage(cache.metadata(ids, 128, 1, { packOrder: true }));
  const batchBufs = storage(cache.metadata(ids, 128, 1, { packOrder: false }));
  assert.notEqual(packedBufs, batchBufs);
  assert.equal(storage(cache.metadata(ids, 128)), packedBufs, 'b 53: the packed order');
  assert.equal(storage(cache.metadata(ids.slice(0, 1), 128)), batchBufs, 'b 1: the batch order (the rule needs two requests)');
  assert.deepEqual(rowsOf(cache.metadata(ids.slice(0, 1), 128)), want(false, 1));
  // 256 rows over the cpu's 132 SMs: 33 parts, at most 99 requests packed — a batch of 100 takes the batch order
  const big = new PagedKvCache({ numBlocks: 8, maxBatch: 100 });
  const many = Array.from({ length: 100 }, () => big.addSequence());
  const bigBatch = storage(big.metadata(many, 256, 1, { packOrder: false }));
  assert.equal(storage(big.metadata(many, 256)), bigBatch, 'b 100 over 33 parts: the batch order');
  assert.equal(storage(big.metadata(many.slice(0, 99), 256)), storage(big.metadata(many, 256, 1, { packOrder: true })), 'b 99: the packed order');
  big.dispose();
});

test('metadata(): the schedule getMlaMetadata makes of cacheSeqlens, in the cache\'s own buffers; packOrder; errors', () => {
  const cache = new PagedKvCache({ numBlocks: 64, maxBatch: 8 });
  const ids = Array.from({ length: 6 }, () => cache.addSequence());
  // lengths that split requests over the cpu's 132 parts at 128 rows (66 parts) only when long: a mix
  const lens = [700, 40, 1900, 5, 333, 64];
  const seed = freshSeed();
  const r = rng(seed);
  const tokens = ids.flatMap((id, i) => Array(lens[i]).fill(id));
  const x = rowsFor(tokens.map(() => Math.floor(r() * 1000)));
  cache.append(tokens, x.cKv, x.kPe);
  for (const rows of [16, 128]) {
    for (const packOrder of [false, true]) {
      const want = getMlaMetadata(cache.cacheSeqlens(ids), rows, 1, { packOrder, smCount: 132 });
      const got = cache.metadata(ids, rows, 1, { packOrder });
      assert.equal(got.tileSchedulerMetadata.backend, 'cpu');
      assert.deepEqual(got.tileSchedulerMetadata.toInt32(), want.tileSchedulerMetadata.toInt32(), `${rows} rows, packOrder ${packOrder}`);
      assert.deepEqual(got.numSplits.toInt32(), want.numSplits.toInt32(), `${rows} rows, packOrder ${packOrder}`);
    }
  }
  // the same storage every call, per SM-part count; a smaller batch is a view of the same buffer
  const m1 = cache.metadata(ids, 128);
  const m2 = cache.metadata(ids.slice(0, 3), 128);
  const storage = (t: Tensor) => (t.data as Int32Array).buffer;
  assert.equal(storage(m2.tileSchedulerMetadata), storage(m1.tileSchedulerMetadata));
  assert.equal(storage(m2.numSplits), storage(m1.numSplits));
  assert.deepEqual(m2.numSplits.shape, [4]);
  assert.notEqual(storage(cache.metadata(ids, 256).tileSchedulerMetadata), storage(m1.tileSchedulerMetadata), '256 rows: other parts, other buffers');
  // a decode with it: the value check (on for cpu tensors) accepts it, and the result is the getMlaMetadata one's
  const q = Tensor.from(Float32Array.from({ length: 6 * 16 * 576 }, () => r() - 0.5), [6, 1, 16, 576], { dtype: 'bf16' });
  const md = cache.metadata(ids, 16);
  const mdRef = getMlaMetadata(cache.cacheSeqlens(ids), 16, 1);
  const got = flashMlaWithKvcache(q, cache.kCache(), cache.blockTable(ids), cache.cacheSeqlens(ids), 512, md.tileSchedulerMetadata, md.numSplits);
  const want = flashMlaWithKvcache(q, cache.kCache(), cache.blockTable(ids), cache.cacheSeqlens(ids), 512, mdRef.tileSchedulerMetadata, mdRef.numSplits);
  assert.deepEqual(got.out.toFloat32(), want.out.toFloat32(), `seed ${seed}`);
  // disposing a handed-out tensor retires that view only
  md.tileSchedulerMetadata.dispose();
  assert.deepEqual(cache.metadata(ids, 16).tileSchedulerMetadata.toInt32(), mdRef.tileSchedulerMetadata.toInt32());
  // errors
  assert.throws(() => cache.metadata(ids, 0), { name: 'RangeError', message: 'numHeadsPerHeadK: expected an integer ≥ 1, got 0' });
  assert.throws(() => cache.metadata(ids, 16, 1.5), { name: 'RangeError', message: 'numHeadsK: expected an integer ≥ 1, got 1.5' });
  assert.throws(() => cache.metadata(ids, '16' as never), { name: 'TypeError', message: "numHeadsPerHeadK: expected an integer ≥ 1, got the string '16'" });
  assert.throws(() => cache.metadata([ids[0], ids[0]], 16), { name: 'RangeError', message: `seqIds[1]: sequence ${ids[0]} appears twice in the batch` });
  assert.throws(() => cache.metadata(ids, 16, 1, { packOrder: 1 as never }), { name: 'TypeError', message: 'packOrder: expected a boolean, got 1' });
  cache.dispose();
});

test('decode through flashMlaWithKvcache on the cache tensors matches a naive reference', () => {
  const seed = freshSeed();
  const r = rng(seed);
  for (const dtype of ['bf16', 'fp16'] as const) {
    const cache = new PagedKvCache({ numBlocks: 24, dtype, maxSeqLen: 64 * 6, maxBatch: 4, fill: NaN });
    const a = cache.addSequence();
    const b = cache.addSequence();
    const record = new Map<number, Float32Array[]>([
      [a, []],
      [b, []],
    ]);
    const append = (ids: number[]) => {
      const proj = Tensor.from(new Float32Array(ids.length * W).map(() => Math.max(-1, Math.min(1, normal(r) * 0.1))), [ids.length, W], { dtype });
      const vals = proj.toFloat32();
      ids.forEach((id, t) => record.get(id)!.push(vals.slice(t * W, (t + 1) * W)));
      cache.append(ids, proj.view([ids.length, 512], [W, 1], 0), proj.view([ids.length, 64], [W, 1], 512));
    };
    // prefill a (150 tokens) and b (40) in two chunks, then a parallel sample of a, then 3 decode steps
    append([...new Array(100).fill(a), ...new Array(20).fill(b)]);
    append([...new Array(50).fill(a), ...new Array(20).fill(b)]);
    const c = cache.fork(a);
    record.set(c, [...record.get(a)!]);
    const ids = [a, b, c];
    for (let step = 0; step < 3; step++) append(ids);
    const hQ = 16;
    const q = Tensor.from(new Float32Array(3 * hQ * W).map(() => Math.max(-1, Math.min(1, normal(r) * 0.1))), [3, 1, hQ, W], { dtype });
    const seqlens = cache.cacheSeqlens(ids);
    const table = cache.blockTable(ids);
    assert.deepEqual([...seqlens.toInt32()], [153, 43, 153]);
    const md = getMlaMetadata(seqlens, hQ, 1);
    const { out, lse } = flashMlaWithKvcache(q, cache.kCache(), table, seqlens, 512, md.tileSchedulerMetadata, md.numSplits, { causal: true });
    const qv = q.toFloat32();
    const refOut = new Float64Array(3 * hQ * 512);
    const refLse = new Float64Array(3 * hQ);
    ids.forEach((id, i) => {
      for (let h = 0; h < hQ; h++) {
        const row = naiveRow(qv, (i * hQ + h) * W, record.get(id)!);
        refOut.set(row.out, (i * hQ + h) * 512);
        refLse[i * hQ + h] = row.lse;
      }
    });
    const o = compare(`out (${dtype})`, out.toFloat32(), refOut, dtype, { seed });
    assert.ok(o.ok, o.message);
    const l = compare(`lse (${dtype})`, lse.toFloat32(), refLse, 'fp32', { seed, absTol: 1e-4 });
    assert.ok(l.ok, l.message);
  }
});
