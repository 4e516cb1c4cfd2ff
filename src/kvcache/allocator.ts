// Page-block allocator with reference counts. A block is free (count 0, on the free stack) or used
// (count ≥ 1 = the number of sequences whose block list holds it). The free stack is LIFO, so a block
// freed a moment ago is reused first (warm in L2); blocks 0, 1, 2, … are handed out first on a fresh cache.

import { OutOfBlocksError } from './errors.js';
import { fmtValue } from '../util/fmt-value.js';

export class BlockAllocator {
  readonly numBlocks: number;
  private readonly refs: Int32Array;
  private readonly stack: Int32Array;
  private top: number;

  constructor(numBlocks: number) {
    // slots (block · 64 + row) are int32 in the kernels: numBlocks · 64 must stay below 2^31
    const expected = `numBlocks: expected an integer in [1, ${2 ** 31 / 64 - 1}]`;
    if (typeof numBlocks !== 'number') throw new TypeError(`${expected}, got ${fmtValue(numBlocks)}`);
    if (!Number.isSafeInteger(numBlocks) || numBlocks < 1 || numBlocks >= 2 ** 31 / 64) throw new RangeError(`${expected}, got ${fmtValue(numBlocks)}`);
    this.numBlocks = numBlocks;
    this.refs = new Int32Array(numBlocks);
    this.stack = new Int32Array(numBlocks);
    for (let i = 0; i < numBlocks; i++) this.stack[i] = numBlocks - 1 - i;
    this.top = numBlocks;
  }

  get freeCount(): number {
    return this.top;
  }

  get usedCount(): number {
    return this.numBlocks - this.top;
  }

  refCount(block: number): number {
    this.checkIndex(block);
    return this.refs[block];
  }

  /** One block with count 1; OutOfBlocksError when none is free. */
  allocate(): number {
    if (this.top === 0) throw new OutOfBlocksError(1, 0, this.numBlocks);
    const b = this.stack[--this.top];
    this.refs[b] = 1;
    return b;
  }

  /** `n` blocks, all or nothing. */
  allocateMany(n: number): number[] {
    if (n > this.top) throw new OutOfBlocksError(n, this.top, this.numBlocks);
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) out[i] = this.allocate();
    return out;
  }

  /** One more holder of a used block. */
  retain(block: number): void {
    this.checkIndex(block);
    if (this.refs[block] < 1) throw new Error(`BlockAllocator.retain: block ${block} is free`);
    this.refs[block]++;
  }

  /** One holder less; returns true when the block became free. */
  release(block: number): boolean {
    this.checkIndex(block);
    if (this.refs[block] < 1) throw new Error(`BlockAllocator.release: block ${block} is already free`);
    if (--this.refs[block] > 0) return false;
    this.stack[this.top++] = block;
    return true;
  }

  /**
   * Throws unless: every block is either free (count 0, on the stack exactly once) or used (count ≥ 1,
   * not on the stack), and — when `holders` is given — each used block's count equals its number of holders.
   */
  checkInvariants(holders?: ReadonlyMap<number, number>): void {
    const onStack = new Uint8Array(this.numBlocks);
    for (let i = 0; i < this.top; i++) {
      const b = this.stack[i];
      if (b < 0 || b >= this.numBlocks) throw new Error(`allocator: free stack holds ${b}, not a block index`);
      if (onStack[b]) throw new Error(`allocator: block ${b} is on the free stack twice`);
      onStack[b] = 1;
      if (this.refs[b] !== 0) throw new Error(`allocator: block ${b} is on the free stack with count ${this.refs[b]}`);
    }
    for (let b = 0; b < this.numBlocks; b++) {
      if (!onStack[b] && this.refs[b] < 1) throw new Error(`allocator: block ${b} is neither free nor used (count ${this.refs[b]}): leaked`);
      if (holders) {
        const h = holders.get(b) ?? 0;
        if (h !== this.refs[b]) throw new Error(`allocator: block ${b} has count ${this.refs[b]} but ${h} holder(s)`);
      }
    }
  }

  private checkIndex(block: number): void {
    if (typeof block !== 'number') throw new TypeError(`block: expected an index in [0, ${this.numBlocks}), got ${fmtValue(block)}`);
    if (!Number.isInteger(block) || block < 0 || block >= this.numBlocks) throw new RangeError(`block: expected an index in [0, ${this.numBlocks}), got ${fmtValue(block)}`);
  }
}
