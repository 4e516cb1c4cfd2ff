// Every validation rule of flashMlaWithKvcache and getMlaMetadata on the cpu backend, each with its exact
// error class and message; a failed call must leave preallocated outputs untouched.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, flashMlaWithKvcache, getMlaMetadata, type FlashMlaOptions, type MlaMetadata } from '../src/index.js';
import { makePagedProblem, pagedProblemTensors, GARBAGE_BLOCK } from './util/problem.js';

// Base problem: b = 2, s_q = 1, h_q = 16, seqlens [70, 10] → maxBlocksPerSeq 3, numBlocks 5,
// numSmParts = 132 / ceil(16 / 64) = 132.
interface Args {
  q: unknown;
  kCache: unknown;
  blockTable: unknown;
  cacheSeqlens: unknown;
  headDimV: unknown;
  tileSchedulerMetadata: unknown;
  numSplits: unknown;
  opts: FlashMlaOptions;
}

function base(spec: { b?: number; sQ?: number; hQ?: number; seqlens?: number[]; dtype?: 'bf16' | 'fp16'; spareColumns?: number } = {}) {
  const seqlens = spec.seqlens ?? [70, 10];
  const b = spec.b ?? seqlens.length;
  const sQ = spec.sQ ?? 1;
  const hQ = spec.hQ ?? 16;
  const p = makePagedProblem({ b, sQ, hQ, seqlens, seed: 12345, dtype: spec.dtype ?? 'bf16', spareColumns: spec.spareColumns });
  const t = pagedProblemTensors(p, 'cpu');
  const md = getMlaMetadata(t.cacheSeqlens, sQ * hQ, 1);
  const args: Args = {
    q: t.q,
    kCache: t.kCache,
    blockTable: t.blockTable,
    cacheSeqlens: t.cacheSeqlens,
    headDimV: 512,
    tileSchedulerMetadata: md.tileSchedulerMetadata,
    numSplits: md.numSplits,
    opts: {},
  };
  return { p, t, md, args, b, sQ, hQ };
}

function call(a: Args) {
  return flashMlaWithKvcache(
    a.q as Tensor,
    a.kCache as Tensor,
    a.blockTable as Tensor,
    a.cacheSeqlens as Tensor,
    a.headDimV as number,
    a.tileSchedulerMetadata as Tensor,
    a.numSplits as Tensor,
    a.opts,
  );
}

const SENTINEL_OUT = 0x7fc1; // a NaN payload nobody computes
const SENTINEL_LSE = -1234.5;

function sentinelOut(b: number, sQ: number, hQ: number, dtype: 'bf16' | 'fp16' = 'bf16') {
  const out = Tensor.from(new Uint16Array(b * sQ * hQ * 512).fill(SENTINEL_OUT), [b, sQ, hQ, 512], { dtype });
  const lse = Tensor.full([b, hQ, sQ], SENTINEL_LSE, { dtype: 'fp32' });
  return { out, lse };
}

/** Snapshot of every live tensor among `ts` (raw bits), to check after a failed call. */
function snapshot(ts: unknown[]): () => void {
  const live = [...new Set(ts)].filter((t): t is Tensor => t instanceof Tensor && !t.disposed);
  const before = live.map((t) => Array.from(t.toRaw()));
  return () => {
    live.forEach((t, k) => {
      const now = Array.from(t.toRaw());
      assert.ok(
        now.every((x, i) => Object.is(x, before[k][i])),
        `${t} was written by a failed call`,
      );
    });
  };
}

/**
 * Run the base problem with `change` applied and expect exactly `err`. Unless the change replaces them,
 * sentinel-filled out/lse are passed; every output tensor involved must come back untouched.
 */
function rejects(change: (a: Args, ctx: ReturnType<typeof base>) => void, err: { name: string; message: string }, spec?: Parameters<typeof base>[0]): void {
  const ctx = base(spec);
  const a = ctx.args;
  const s = sentinelOut(ctx.b, ctx.sQ, ctx.hQ, spec?.dtype);
  a.opts = { out: s.out, lse: s.lse };
  change(a, ctx);
  const check = snapshot([a.opts.out, a.opts.lse, s.out, s.lse]);
  assert.throws(() => call(a), err);
  check();
  // the sentinels, when still live, hold exactly what was put there
  if (!s.out.disposed) assert.ok((s.out.toRaw() as Uint16Array).every((x) => x === SENTINEL_OUT), 'out was written by a failed call');
  if (!s.lse.disposed) assert.ok(s.lse.toFloat32().every((x) => x === SENTINEL_LSE), 'lse was written by a failed call');
}

const Type = (message: string) => ({ name: 'TypeError', message });
const Range = (message: string) => ({ name: 'RangeError', message });

describe('flashMlaWithKvcache: the base problem is valid', () => {
  test('base problem runs and fills out/lse', () => {
    const ctx = base();
    const s = sentinelOut(ctx.b, ctx.sQ, ctx.hQ);
    ctx.args.opts = { out: s.out, lse: s.lse, kernel: 'reference', causal: false, softmaxScale: 0.05, checkValues: true };
    const r = call(ctx.args);
    assert.equal(r.out, s.out);
    assert.equal(r.lse, s.lse);
    assert.ok((r.out.toRaw() as Uint16Array).every((x) => x !== SENTINEL_OUT));
    assert.ok(r.lse.toFloat32().every((x) => x !== SENTINEL_LSE && Number.isFinite(x)));
  });

  test('unused block-table entries may hold garbage; a request of length 0 may have a garbage first entry', () => {
    const ctx = base({ seqlens: [70, 0, 10] });
    const table = ctx.t.blockTable.toInt32();
    assert.equal(table[1 * 3 + 0], GARBAGE_BLOCK);
    assert.equal(table[0 * 3 + 2], GARBAGE_BLOCK);
    const r = call(ctx.args);
    assert.ok(r.out.toFloat32().every((x) => Number.isFinite(x)));
  });

  test('seqlen exactly at the block table capacity is accepted', () => {
    const ctx = base({ seqlens: [192, 10], spareColumns: 0 });
    assert.deepEqual(ctx.t.blockTable.shape, [2, 3]);
    const r = call(ctx.args);
    assert.ok(r.out.toFloat32().every((x) => Number.isFinite(x)));
  });

  test('seqlen at capacity passes the seqlen check, then the block check applies to the grown tail', () => {
    const ctx = base({ seqlens: [192, 10] });
    assert.deepEqual(ctx.t.blockTable.shape, [2, 4]);
    ctx.t.cacheSeqlens.write([256, 10]); // capacity 4 · 64, but column 3 of request 0 holds garbage
    assert.throws(() => call(ctx.args), Range('blockTable[0][3]: expected a page block index in [0, 6) (token 192 of request 0 lives there), got 2147480000'));
  });
});

describe('flashMlaWithKvcache: arguments that are not (live) tensors', () => {
  test('non-tensors', () => {
    rejects((a) => (a.q = {}), Type('q: expected a Tensor, got an object'));
    rejects((a) => (a.q = new Float32Array(16 * 576)), Type('q: expected a Tensor, got a Float32Array of length 9216'));
    rejects((a) => (a.kCache = null), Type('kCache: expected a Tensor, got null'));
    rejects((a) => (a.blockTable = undefined), Type('blockTable: expected a Tensor, got undefined'));
    rejects((a) => (a.cacheSeqlens = [70, 10]), Type('cacheSeqlens: expected a Tensor, got an array of length 2'));
    rejects((a) => (a.tileSchedulerMetadata = 'md'), Type("tileSchedulerMetadata: expected a Tensor, got the string 'md'"));
    rejects((a) => (a.numSplits = 3), Type('numSplits: expected a Tensor, got 3'));
  });

  test('disposed tensors → DisposedError', () => {
    rejects((a) => (a.q as Tensor).dispose(), { name: 'DisposedError', message: 'tensor [2,1,16,576] bf16 was used after dispose()' });
    rejects((a) => (a.kCache as Tensor).dispose(), { name: 'DisposedError', message: 'tensor [5,64,1,576] bf16 was used after dispose()' });
    rejects((a) => (a.cacheSeqlens as Tensor).dispose(), { name: 'DisposedError', message: 'tensor [2] int32 was used after dispose()' });
    rejects((a) => (a.numSplits as Tensor).dispose(), { name: 'DisposedError', message: 'tensor [3] int32 was used after dispose()' });
  });
});

describe('flashMlaWithKvcache: headDimV', () => {
  test('headDimV ≠ 512', () => {
    rejects((a) => (a.headDimV = 576), Range('headDimV: expected 512, got 576'));
    rejects((a) => (a.headDimV = 256), Range('headDimV: expected 512, got 256'));
    rejects((a) => (a.headDimV = '512'), Type("headDimV: expected the number 512, got the string '512'"));
    rejects((a) => (a.headDimV = 512n), Type('headDimV: expected the number 512, got the bigint 512n'));
    rejects((a) => (a.headDimV = undefined), Type('headDimV: expected the number 512, got undefined'));
  });
});

describe('flashMlaWithKvcache: q', () => {
  test('dtype', () => {
    rejects((a) => (a.q = Tensor.zeros([2, 1, 16, 576], { dtype: 'fp32' })), Type('q: expected dtype bf16 or fp16, got fp32'));
    rejects((a) => (a.q = Tensor.zeros([2, 1, 16, 576], { dtype: 'int32' })), Type('q: expected dtype bf16 or fp16, got int32'));
  });
  test('rank', () => {
    rejects((a) => (a.q = Tensor.zeros([2, 16, 576], { dtype: 'bf16' })), Range('q: expected a rank-4 tensor [b, s_q, h_q, 576], got shape [2, 16, 576]'));
    rejects((a) => (a.q = Tensor.zeros([2, 1, 1, 16, 576], { dtype: 'bf16' })), Range('q: expected a rank-4 tensor [b, s_q, h_q, 576], got shape [2, 1, 1, 16, 576]'));
  });
  test('head dim neither 576 nor 512, or not that of kCache', () => {
    rejects((a) => (a.q = Tensor.zeros([2, 1, 16, 577], { dtype: 'bf16' })), Range('q: expected head dim = 576 or 512 (dim 3), got 577 in shape [2, 1, 16, 577]'));
    rejects((a) => (a.q = Tensor.zeros([2, 1, 16, 448], { dtype: 'bf16' })), Range('q: expected head dim = 576 or 512 (dim 3), got 448 in shape [2, 1, 16, 448]'));
    rejects((a) => (a.q = Tensor.zeros([2, 1, 16, 512], { dtype: 'bf16' })), Range('kCache: expected head dim (that of q) = 512 (dim 3), got 576 in shape [5, 64, 1, 576]'));
  });
  test('non-contiguous last dim', () => {
    rejects(
      (a) => (a.q = Tensor.zeros([2, 1, 16, 1152], { dtype: 'bf16' }).view([2, 1, 16, 576], [18432, 18432, 1152, 2])),
      Range('q: expected the last dimension to be contiguous (stride 1), got strides [18432, 18432, 1152, 2]'),
    );
  });
  test('empty dims', () => {
    rejects((a) => (a.q = Tensor.zeros([0, 1, 16, 576], { dtype: 'bf16' })), Range('q: expected batch size b ≥ 1, got shape [0, 1, 16, 576]'));
    rejects((a) => (a.q = Tensor.zeros([2, 0, 16, 576], { dtype: 'bf16' })), Range('q: expected s_q ≥ 1, got shape [2, 0, 16, 576]'));
    rejects((a) => (a.q = Tensor.zeros([2, 1, 0, 576], { dtype: 'bf16' })), Range('q: expected h_q ≥ 1, got shape [2, 1, 0, 576]'));
  });
});

describe('flashMlaWithKvcache: kCache', () => {
  test('dtype ≠ q dtype', () => {
    rejects((a) => (a.kCache = Tensor.zeros([5, 64, 1, 576], { dtype: 'fp16' })), Type('kCache: expected dtype bf16 (the dtype of q), got fp16'));
    rejects((a) => (a.kCache = Tensor.zeros([5, 64, 1, 576], { dtype: 'bf16' })), Type('kCache: expected dtype fp16 (the dtype of q), got bf16'), { dtype: 'fp16' });
    rejects((a) => (a.kCache = Tensor.zeros([5, 64, 1, 576], { dtype: 'fp8e4m3' })), Type('kCache: expected dtype bf16 (the dtype of q), got fp8e4m3'));
  });
  test('rank', () => {
    rejects((a) => (a.kCache = Tensor.zeros([5, 64, 576], { dtype: 'bf16' })), Range('kCache: expected a rank-4 tensor [numBlocks, 64, h_kv, 576], got shape [5, 64, 576]'));
  });
  test('page block size ≠ 64', () => {
    rejects((a) => (a.kCache = Tensor.zeros([10, 32, 1, 576], { dtype: 'bf16' })), Range('kCache: expected page block size = 64 (dim 1), got 32 in shape [10, 32, 1, 576]'));
    rejects((a) => (a.kCache = Tensor.zeros([5, 128, 1, 576], { dtype: 'bf16' })), Range('kCache: expected page block size = 64 (dim 1), got 128 in shape [5, 128, 1, 576]'));
  });
  test('h_kv: 0, not dividing h_q, or not the one the metadata was computed for', () => {
    rejects((a) => (a.kCache = Tensor.zeros([5, 64, 0, 576], { dtype: 'bf16' })), Range('kCache: expected h_kv ≥ 1 KV heads (dim 2), got shape [5, 64, 0, 576]'));
    rejects((a) => (a.kCache = Tensor.zeros([5, 64, 3, 576], { dtype: 'bf16' })), Range('q: expected h_q a multiple of h_kv = 3 (kCache dim 2: query heads grouped per KV head), got h_q = 16'));
    rejects(
      (a) => (a.kCache = Tensor.zeros([5, 64, 2, 576], { dtype: 'bf16' })),
      Range('tileSchedulerMetadata: computed for numHeadsPerHeadK = 16, numHeadsK = 1, but q has s_q · h_q / h_kv = 1 · 16 / 2 = 8; call getMlaMetadata(cacheSeqlens, 8, 2)'),
    );
  });
  test('head dim ≠ that of q', () => {
    rejects((a) => (a.kCache = Tensor.zeros([5, 64, 1, 512], { dtype: 'bf16' })), Range('kCache: expected head dim (that of q) = 576 (dim 3), got 512 in shape [5, 64, 1, 512]'));
  });
  test('non-contiguous last dim', () => {
    rejects(
      (a) => (a.kCache = Tensor.zeros([5, 64, 1, 1152], { dtype: 'bf16' }).view([5, 64, 1, 576], [73728, 1152, 1152, 2])),
      Range('kCache: expected the last dimension to be contiguous (stride 1), got strides [73728, 1152, 1152, 2]'),
    );
  });
  test('no page blocks', () => {
    rejects((a) => (a.kCache = Tensor.zeros([0, 64, 1, 576], { dtype: 'bf16' })), Range('kCache: expected at least one page block, got shape [0, 64, 1, 576]'));
  });
});

describe('flashMlaWithKvcache: blockTable', () => {
  test('dtype', () => {
    rejects((a) => (a.blockTable = Tensor.zeros([2, 3], { dtype: 'fp32' })), Type('blockTable: expected dtype int32, got fp32'));
  });
  test('rank', () => {
    rejects((a) => (a.blockTable = Tensor.zeros([6], { dtype: 'int32' })), Range('blockTable: expected a rank-2 tensor [b, maxBlocksPerSeq], got shape [6]'));
  });
  test('batch mismatch', () => {
    rejects((a) => (a.blockTable = Tensor.zeros([3, 3], { dtype: 'int32' })), Range('blockTable: expected b (the batch size of q) = 2 (dim 0), got 3 in shape [3, 3]'));
    rejects((a) => (a.blockTable = Tensor.zeros([1, 3], { dtype: 'int32' })), Range('blockTable: expected b (the batch size of q) = 2 (dim 0), got 1 in shape [1, 3]'));
  });
  test('non-contiguous last dim', () => {
    rejects(
      (a) => (a.blockTable = Tensor.zeros([2, 6], { dtype: 'int32' }).view([2, 3], [6, 2])),
      Range('blockTable: expected the last dimension to be contiguous (stride 1), got strides [6, 2]'),
    );
  });
});

describe('flashMlaWithKvcache: cacheSeqlens', () => {
  test('dtype', () => {
    rejects((a) => (a.cacheSeqlens = Tensor.from([70, 10], [2], { dtype: 'fp32' })), Type('cacheSeqlens: expected dtype int32, got fp32'));
  });
  test('rank', () => {
    rejects((a) => (a.cacheSeqlens = Tensor.from(new Int32Array([70, 10]), [2, 1])), Range('cacheSeqlens: expected a rank-1 tensor [b], got shape [2, 1]'));
  });
  test('shape ≠ [b]', () => {
    rejects((a) => (a.cacheSeqlens = Tensor.from(new Int32Array([70, 10, 1]), [3])), Range('cacheSeqlens: expected b (the batch size of q) = 2 (dim 0), got 3 in shape [3]'));
  });
  test('non-contiguous', () => {
    rejects(
      (a) => (a.cacheSeqlens = Tensor.from(new Int32Array([70, 0, 10, 0]), [4]).view([2], [2])),
      Range('cacheSeqlens: expected a contiguous tensor, got strides [2] for shape [2]'),
    );
  });
  test('negative seqlen', () => {
    rejects((a) => (a.cacheSeqlens as Tensor).write([-1, 10]), Range('cacheSeqlens[0]: expected ≥ 0, got -1'));
    rejects((a) => (a.cacheSeqlens as Tensor).write([70, -64]), Range('cacheSeqlens[1]: expected ≥ 0, got -64'));
  });
  test('checkValues: false does not switch the value checks off on cpu', () => {
    rejects(
      (a) => {
        (a.cacheSeqlens as Tensor).write([70, -3]);
        a.opts.checkValues = false;
      },
      Range('cacheSeqlens[1]: expected ≥ 0, got -3'),
    );
  });
  test('seqlen beyond the block table capacity', () => {
    rejects((a) => (a.cacheSeqlens as Tensor).write([193, 10]), Range('cacheSeqlens[0]: expected ≤ 192 (blockTable holds 3 blocks of 64 tokens per request), got 193'));
    rejects((a) => (a.cacheSeqlens as Tensor).write([70, 100000]), Range('cacheSeqlens[1]: expected ≤ 192 (blockTable holds 3 blocks of 64 tokens per request), got 100000'));
  });
});

describe('flashMlaWithKvcache: block table values', () => {
  test('an entry of a used block out of [0, numBlocks)', () => {
    // table row 1 (seqlen 10) uses column 0 only; row 0 (seqlen 70) uses columns 0 and 1
    const set = (a: Args, i: number, j: number, v: number) => {
      const bt = a.blockTable as Tensor;
      const tab = bt.toInt32();
      tab[i * 3 + j] = v;
      bt.write(tab);
    };
    rejects((a) => set(a, 1, 0, 5), Range('blockTable[1][0]: expected a page block index in [0, 5) (token 0 of request 1 lives there), got 5'));
    rejects((a) => set(a, 1, 0, -1), Range('blockTable[1][0]: expected a page block index in [0, 5) (token 0 of request 1 lives there), got -1'));
    rejects((a) => set(a, 0, 1, 2 ** 31 - 1), Range('blockTable[0][1]: expected a page block index in [0, 5) (token 64 of request 0 lives there), got 2147483647'));
  });
  test('seqlen grown into a column that holds garbage', () => {
    rejects((a) => (a.cacheSeqlens as Tensor).write([129, 10]), Range('blockTable[0][2]: expected a page block index in [0, 5) (token 128 of request 0 lives there), got 2147480000'));
    rejects((a) => (a.cacheSeqlens as Tensor).write([70, 65]), Range('blockTable[1][1]: expected a page block index in [0, 5) (token 64 of request 1 lives there), got 2147480000'));
  });
});

describe('flashMlaWithKvcache: tileSchedulerMetadata / numSplits', () => {
  test('metadata dtype, rank, row width, contiguity, rows', () => {
    rejects((a) => (a.tileSchedulerMetadata = Tensor.zeros([132, 8])), Type('tileSchedulerMetadata: expected dtype int32, got fp32'));
    rejects((a) => (a.tileSchedulerMetadata = Tensor.zeros([1056], { dtype: 'int32' })), Range('tileSchedulerMetadata: expected a rank-2 tensor [numSmParts, 8], got shape [1056]'));
    rejects((a) => (a.tileSchedulerMetadata = Tensor.zeros([132, 4], { dtype: 'int32' })), Range('tileSchedulerMetadata: expected ints per row = 8 (dim 1), got 4 in shape [132, 4]'));
    rejects(
      (a) => (a.tileSchedulerMetadata = Tensor.zeros([132, 16], { dtype: 'int32' }).view([132, 8], [16, 1])),
      Range('tileSchedulerMetadata: expected a contiguous tensor, got strides [16, 1] for shape [132, 8]'),
    );
    rejects((a) => (a.tileSchedulerMetadata = Tensor.zeros([0, 8], { dtype: 'int32' })), Range('tileSchedulerMetadata: expected at least one row, got shape [0, 8]'));
  });
  test('numSplits dtype, rank, shape, contiguity', () => {
    rejects((a) => (a.numSplits = Tensor.zeros([3], { dtype: 'fp16' })), Type('numSplits: expected dtype int32, got fp16'));
    rejects((a) => (a.numSplits = Tensor.zeros([3, 1], { dtype: 'int32' })), Range('numSplits: expected a rank-1 tensor [b + 1], got shape [3, 1]'));
    rejects((a) => (a.numSplits = Tensor.zeros([2], { dtype: 'int32' })), Range('numSplits: expected b + 1 = 3 (dim 0), got 2 in shape [2]'));
    rejects((a) => (a.numSplits = Tensor.zeros([6], { dtype: 'int32' }).view([3], [2])), Range('numSplits: expected a contiguous tensor, got strides [2] for shape [3]'));
  });
  test('metadata computed for h_q instead of s_q · h_q', () => {
    rejects(
      (a, ctx) => (a.tileSchedulerMetadata = getMlaMetadata(ctx.t.cacheSeqlens, 16, 1).tileSchedulerMetadata),
      Range('tileSchedulerMetadata: computed for numHeadsPerHeadK = 16, but q has s_q · h_q / h_kv = 2 · 16 / 1 = 32; call getMlaMetadata(cacheSeqlens, 32, 1)'),
      { sQ: 2 },
    );
    // same mistake where the part count differs (66 parts for 128 rows, 33 for 256): still the provenance message
    rejects(
      (a, ctx) => {
        const md = getMlaMetadata(ctx.t.cacheSeqlens, 128, 1);
        a.tileSchedulerMetadata = md.tileSchedulerMetadata;
        a.numSplits = md.numSplits;
      },
      Range('tileSchedulerMetadata: computed for numHeadsPerHeadK = 128, but q has s_q · h_q / h_kv = 2 · 128 / 1 = 256; call getMlaMetadata(cacheSeqlens, 256, 1)'),
      { sQ: 2, hQ: 128, seqlens: [3, 1] },
    );
    // and for any other value, e.g. computed for s_q = 2 but q has s_q = 1
    rejects(
      (a, ctx) => (a.tileSchedulerMetadata = getMlaMetadata(ctx.t.cacheSeqlens, 32, 1).tileSchedulerMetadata),
      Range('tileSchedulerMetadata: computed for numHeadsPerHeadK = 32, but q has s_q · h_q / h_kv = 1 · 16 / 1 = 16; call getMlaMetadata(cacheSeqlens, 16, 1)'),
    );
  });
  test('metadata computed for another b', () => {
    rejects(
      (a) => (a.tileSchedulerMetadata = getMlaMetadata(Tensor.from(new Int32Array([70, 10, 5]), [3]), 16, 1).tileSchedulerMetadata),
      Range('tileSchedulerMetadata: computed for b = 3 requests, q has b = 2'),
    );
    rejects((a) => (a.numSplits = getMlaMetadata(Tensor.from(new Int32Array([70, 10, 5]), [3]), 16, 1).numSplits), Range('numSplits: expected b + 1 = 3 (dim 0), got 4 in shape [4]'));
  });
});

describe('flashMlaWithKvcache: options', () => {
  test('softmaxScale not finite or ≤ 0', () => {
    for (const [v, s] of [
      [NaN, 'NaN'],
      [Infinity, 'Infinity'],
      [-Infinity, '-Infinity'],
      [0, '0'],
      [-0, '-0'],
      [-0.5, '-0.5'],
    ] as const) {
      rejects((a) => (a.opts.softmaxScale = v as number), Range(`softmaxScale: expected a finite number > 0, got ${s}`));
    }
    // not numbers: the type is named and strings are quoted ('0.1' printed as 0.1 would hide the mistake)
    for (const [v, s] of [
      ['0.1', "the string '0.1'"],
      [null, 'null'],
      [true, 'the boolean true'],
    ] as const) {
      rejects((a) => (a.opts.softmaxScale = v as unknown as number), Type(`softmaxScale: expected a finite number > 0, got ${s}`));
    }
  });
  test('causal not a boolean', () => {
    rejects((a) => (a.opts.causal = 'yes' as unknown as boolean), Type("causal: expected a boolean, got the string 'yes'"));
    rejects((a) => (a.opts.causal = 1 as unknown as boolean), Type('causal: expected a boolean, got 1'));
  });
  test('unknown kernel', () => {
    rejects((a) => (a.opts.kernel = 'fast'), Range("kernel: expected one of reference on 'cpu', got 'fast'"));
  });
});

describe('flashMlaWithKvcache: preallocated out / lse', () => {
  test('out with the wrong shape / dtype / layout', () => {
    rejects((a) => (a.opts.out = Tensor.zeros([2, 1, 16, 576], { dtype: 'bf16' })), Range('out: expected shape [2, 1, 16, 512], got [2, 1, 16, 576]'));
    rejects((a) => (a.opts.out = Tensor.zeros([2, 16, 1, 512], { dtype: 'bf16' })), Range('out: expected shape [2, 1, 16, 512], got [2, 16, 1, 512]'));
    rejects((a) => (a.opts.out = Tensor.zeros([2, 1, 16, 512])), Type('out: expected dtype bf16, got fp32'));
    rejects((a) => (a.opts.out = Tensor.zeros([2, 1, 16, 512], { dtype: 'fp16' })), Type('out: expected dtype bf16, got fp16'));
    rejects(
      (a) => (a.opts.out = Tensor.zeros([2, 1, 16, 1024], { dtype: 'bf16' }).view([2, 1, 16, 512], [16384, 16384, 1024, 1])),
      Range('out: expected a contiguous tensor, got strides [16384, 16384, 1024, 1] for shape [2, 1, 16, 512]'),
    );
    rejects((a) => (a.opts.out = {} as Tensor), Type('out: expected a Tensor, got an object'));
    rejects((a) => (a.opts.out as Tensor).dispose(), { name: 'DisposedError', message: 'tensor [2,1,16,512] bf16 was used after dispose()' });
  });
  test('lse with the wrong shape / dtype / layout (out stays untouched)', () => {
    rejects((a) => (a.opts.lse = Tensor.zeros([2, 1, 16])), Range('lse: expected shape [2, 16, 1], got [2, 1, 16]'));
    rejects((a) => (a.opts.lse = Tensor.zeros([2, 16, 1], { dtype: 'bf16' })), Type('lse: expected dtype fp32, got bf16'));
    rejects(
      (a) => (a.opts.lse = Tensor.zeros([2, 16, 2]).view([2, 16, 1], [32, 2, 1])),
      Range('lse: expected a contiguous tensor, got strides [32, 2, 1] for shape [2, 16, 1]'),
    );
    rejects((a) => (a.opts.lse = Tensor.zeros([2, 16, 1], { dtype: 'bf16' })), Type('lse: expected dtype fp32, got bf16'), { dtype: 'fp16' });
  });
  test('s_q > 1 shapes in the messages', () => {
    rejects((a) => (a.opts.lse = Tensor.zeros([2, 3, 16])), Range('lse: expected shape [2, 16, 3], got [2, 3, 16]'), { sQ: 3 });
    rejects((a) => (a.opts.out = Tensor.zeros([2, 16, 3, 512], { dtype: 'bf16' })), Range('out: expected shape [2, 3, 16, 512], got [2, 16, 3, 512]'), { sQ: 3 });
  });
});

describe('flashMlaWithKvcache: backends', () => {
  test.skip('mixing cpu and cuda tensors is rejected (needs a GPU to create cuda tensors)', () => {});
});

// ---------------------------------------------------------------------------------------------------

describe('getMlaMetadata', () => {
  const seqlens = () => Tensor.from(new Int32Array([70, 10]), [2]);

  test('valid calls: allocates [numSmParts, 8] and [b + 1] int32 on the backend of cacheSeqlens', () => {
    const md = getMlaMetadata(seqlens(), 128, 1);
    assert.deepEqual(md.tileSchedulerMetadata.shape, [66, 8]);
    assert.deepEqual(md.numSplits.shape, [3]);
    assert.equal(md.tileSchedulerMetadata.dtype, 'int32');
    assert.equal(md.numSplits.backend, 'cpu');
    assert.deepEqual(getMlaMetadata(seqlens(), 16, 1, { smCount: 7 }).tileSchedulerMetadata.shape, [7, 8]);
    assert.deepEqual(getMlaMetadata(seqlens(), 1e6, 1).tileSchedulerMetadata.shape, [1, 8]);
  });

  test('cacheSeqlens not a tensor / disposed / wrong dtype / rank / layout / empty', () => {
    assert.throws(() => getMlaMetadata([70, 10] as unknown as Tensor, 16, 1), Type('cacheSeqlens: expected a Tensor, got an array of length 2'));
    assert.throws(() => getMlaMetadata(undefined as unknown as Tensor, 16, 1), Type('cacheSeqlens: expected a Tensor, got undefined'));
    const d = seqlens();
    d.dispose();
    assert.throws(() => getMlaMetadata(d, 16, 1), { name: 'DisposedError', message: 'tensor [2] int32 was used after dispose()' });
    assert.throws(() => getMlaMetadata(Tensor.from([70, 10], [2]), 16, 1), Type('cacheSeqlens: expected dtype int32, got fp32'));
    assert.throws(() => getMlaMetadata(Tensor.from(new Int32Array([70, 10]), [2, 1]), 16, 1), Range('cacheSeqlens: expected a rank-1 tensor [b], got shape [2, 1]'));
    assert.throws(() => getMlaMetadata(Tensor.from(new Int32Array([70, 0, 10, 0]), [4]).view([2], [2]), 16, 1), Range('cacheSeqlens: expected a contiguous tensor, got strides [2] for shape [2]'));
    assert.throws(() => getMlaMetadata(Tensor.zeros([0], { dtype: 'int32' }), 16, 1), Range('cacheSeqlens: expected b ≥ 1 requests, got shape [0]'));
  });

  test('numHeadsPerHeadK not a positive integer', () => {
    for (const [v, s] of [
      [0, '0'],
      [-16, '-16'],
      [1.5, '1.5'],
      [NaN, 'NaN'],
      [Infinity, 'Infinity'],
      [2 ** 53, String(2 ** 53)],
    ] as const) {
      assert.throws(() => getMlaMetadata(seqlens(), v as number, 1), Range(`numHeadsPerHeadK: expected an integer ≥ 1, got ${s}`));
    }
    for (const [v, s] of [
      ['16', "the string '16'"],
      [undefined, 'undefined'],
    ] as const) {
      assert.throws(() => getMlaMetadata(seqlens(), v as unknown as number, 1), Type(`numHeadsPerHeadK: expected an integer ≥ 1, got ${s}`));
    }
    assert.throws(() => getMlaMetadata(seqlens(), 16, 1, { smCount: '132' as unknown as number }), Type("smCount: expected an integer ≥ 1, got the string '132'"));
  });

  test('numHeadsK: an integer ≥ 1; h_kv > 1 divides the SM parts as in FlashMLA', () => {
    assert.throws(() => getMlaMetadata(seqlens(), 16, 0), Range('numHeadsK: expected an integer ≥ 1, got 0'));
    assert.throws(() => getMlaMetadata(seqlens(), 16, 1.5), Range('numHeadsK: expected an integer ≥ 1, got 1.5'));
    // numSmParts = max(smCount / h_kv / ceil(numHeadsPerHeadK / 64), 1)
    assert.deepEqual(getMlaMetadata(seqlens(), 8, 2).tileSchedulerMetadata.shape, [66, 8]);
    assert.deepEqual(getMlaMetadata(seqlens(), 16, 8).tileSchedulerMetadata.shape, [16, 8]);
    assert.deepEqual(getMlaMetadata(seqlens(), 128, 8, { smCount: 132 }).tileSchedulerMetadata.shape, [8, 8]);
    assert.deepEqual(getMlaMetadata(seqlens(), 1024, 8, { smCount: 132 }).tileSchedulerMetadata.shape, [1, 8]);
  });

  test('smCount not a positive integer', () => {
    assert.throws(() => getMlaMetadata(seqlens(), 16, 1, { smCount: 0 }), Range('smCount: expected an integer ≥ 1, got 0'));
    assert.throws(() => getMlaMetadata(seqlens(), 16, 1, { smCount: 2.5 }), Range('smCount: expected an integer ≥ 1, got 2.5'));
    assert.throws(() => getMlaMetadata(seqlens(), 16, 1, { smCount: -132 }), Range('smCount: expected an integer ≥ 1, got -132'));
  });

  test('preallocated out: written in place when valid', () => {
    const out: MlaMetadata = { tileSchedulerMetadata: Tensor.full([66, 8], -5, { dtype: 'int32' }), numSplits: Tensor.full([3], -5, { dtype: 'int32' }) };
    const md = getMlaMetadata(seqlens(), 128, 1, { out });
    assert.equal(md, out);
    assert.equal(md.tileSchedulerMetadata, out.tileSchedulerMetadata);
    const fresh = getMlaMetadata(seqlens(), 128, 1);
    assert.deepEqual(Array.from(out.tileSchedulerMetadata.toInt32()), Array.from(fresh.tileSchedulerMetadata.toInt32()));
    assert.deepEqual(Array.from(out.numSplits.toInt32()), [0, 1, 2]);
  });

  test('preallocated out with the wrong shape / dtype / layout / missing part (and left untouched)', () => {
    const good = () => ({ tileSchedulerMetadata: Tensor.full([66, 8], -5, { dtype: 'int32' }), numSplits: Tensor.full([3], -5, { dtype: 'int32' }) });
    const cases: [(o: MlaMetadata) => void, { name: string; message: string }][] = [
      [(o) => (o.tileSchedulerMetadata = Tensor.full([65, 8], -5, { dtype: 'int32' })), Range('out.tileSchedulerMetadata: expected shape [66, 8], got [65, 8]')],
      [(o) => (o.tileSchedulerMetadata = Tensor.full([132, 8], -5, { dtype: 'int32' })), Range('out.tileSchedulerMetadata: expected shape [66, 8], got [132, 8]')],
      [(o) => (o.numSplits = Tensor.full([2], -5, { dtype: 'int32' })), Range('out.numSplits: expected shape [3], got [2]')],
      [(o) => (o.tileSchedulerMetadata = Tensor.full([66, 8], -5)), Type('out.tileSchedulerMetadata: expected dtype int32, got fp32')],
      [(o) => (o.numSplits = Tensor.full([6], -5, { dtype: 'int32' }).view([3], [2])), Range('out.numSplits: expected a contiguous tensor, got strides [2] for shape [3]')],
      [(o) => (o.numSplits = undefined as unknown as Tensor), Type('out.numSplits: expected a Tensor, got undefined')],
    ];
    for (const [change, err] of cases) {
      const o = good();
      change(o);
      assert.throws(() => getMlaMetadata(seqlens(), 128, 1, { out: o }), err);
      for (const t of [o.tileSchedulerMetadata, o.numSplits]) {
        if (t instanceof Tensor && t.dtype === 'int32') assert.ok(t.toInt32().every((x) => x === -5), `${err.message}: out was written`);
      }
    }
  });
});

describe('values the schedule depends on', () => {
  test('getMlaMetadata rejects a negative seqlen', () => {
    const lens = Tensor.from(new Int32Array([-1, 100]), [2], { dtype: 'int32' });
    assert.throws(() => getMlaMetadata(lens, 16, 1), { name: 'RangeError', message: 'cacheSeqlens[0]: expected ≥ 0, got -1' });
  });

  test('metadata computed for other seqlens (same b) is rejected instead of leaving outputs unwritten', () => {
    const { t, args } = base({ seqlens: [100, 1000, 64] });
    const stale = getMlaMetadata(t.cacheSeqlens, 16, 1, { smCount: 4 });
    t.cacheSeqlens.write(new Int32Array([100, 1000, 60]));
    assert.throws(() => call({ ...args, tileSchedulerMetadata: stale.tileSchedulerMetadata, numSplits: stale.numSplits }), {
      name: 'RangeError',
      message: 'tileSchedulerMetadata: does not match cacheSeqlens (was it computed before cacheSeqlens changed?); call getMlaMetadata again for these seqlens',
    });
  });

  test('the check reuses its schedule only for the same seqlens and compares the metadata it reads on every call', () => {
    // (the check remembers the schedule it computed per metadata tensor: a step's layers share it)
    const stale = /tileSchedulerMetadata: does not match cacheSeqlens/;
    const { t, args } = base({ seqlens: [100, 1000, 64] });
    const md = getMlaMetadata(t.cacheSeqlens, 16, 1, { smCount: 4 });
    const a = { ...args, tileSchedulerMetadata: md.tileSchedulerMetadata, numSplits: md.numSplits };
    const first = md.tileSchedulerMetadata.toInt32();
    call(a);
    call(a); // (the remembered schedule)
    t.cacheSeqlens.write(new Int32Array([100, 1000, 60])); // other seqlens, the metadata not recomputed
    assert.throws(() => call(a), stale);
    getMlaMetadata(t.cacheSeqlens, 16, 1, { smCount: 4, out: md }); // recomputed into the same tensors
    assert.notDeepEqual(md.tileSchedulerMetadata.toInt32(), first, 'the two seqlens must schedule differently');
    call(a);
    md.tileSchedulerMetadata.write(first); // the metadata overwritten, the seqlens as remembered
    assert.throws(() => call(a), stale);
    getMlaMetadata(t.cacheSeqlens, 16, 1, { smCount: 4, out: md });
    call(a);
    t.cacheSeqlens.write(new Int32Array([100, 1000, 64])); // back to the first seqlens: the remembered schedule is the second's
    assert.throws(() => call(a), stale);
  });
});
