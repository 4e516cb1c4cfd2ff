// Typed errors of the paged KV cache. Both are thrown before anything is written or allocated.

import { fmtValue } from '../util/fmt-value.js';

/** An append needs more free page blocks than the cache has. Nothing was written, no state changed. */
export class OutOfBlocksError extends Error {
  override name = 'OutOfBlocksError';
  constructor(
    /** Free blocks the operation needed (new pages plus copy-on-write copies). */
    readonly needed: number,
    /** Free blocks there were. */
    readonly available: number,
    /** Blocks in the cache. */
    readonly numBlocks: number,
  ) {
    super(`out of KV cache blocks: the append needs ${needed} free page block${needed === 1 ? '' : 's'}, ${available} of ${numBlocks} are free; nothing was written`);
  }
}

/** A sequence id that was never returned by addSequence()/fork(), or that was freed. */
export class UnknownSequenceError extends RangeError {
  override name = 'UnknownSequenceError';
  constructor(
    /** Name of the argument that held the id, e.g. `seqIds[3]`. */
    readonly argument: string,
    readonly seqId: unknown,
    /** Why: never added, freed, or not an id at all. */
    readonly why: 'freed' | 'unknown' | 'not an id',
  ) {
    super(
      why === 'not an id'
        ? `${argument}: expected a sequence id (an integer ≥ 0), got ${fmtValue(seqId)}`
        : `${argument}: expected a live sequence id, got ${fmtValue(seqId)} (${why === 'freed' ? 'it was freed' : 'no such sequence was added'})`,
    );
  }
}
