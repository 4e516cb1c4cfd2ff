// Validation of the FP8 cache, sparse decode and GQA arguments of flashMlaWithKvcache / getMlaMetadata on the cpu
// backend (exact error class and message; a failed call leaves preallocated outputs untouched), and what the cuda
// backend runs and refuses (shape-only checks: no GPU needed).

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Tensor, flashMlaWithKvcache, getMlaMetadata, UnsupportedFeatureError, type FlashMlaOptions } from '../src/index.js';
import { CUDA_FEATURES, checkDecodeAgainst, cudaCheckDecode, fp8HopperMisfit, type CudaFeatures } from '../src/cuda/features.js';
import { fp8HopperLayoutMisfit, fp8HopperTensorMapSpecs, fp8SparseHopperLayoutMisfit } from '../src/cuda/fp8-decode.js';
import { TensorMapDataType, TensorMapSwizzle } from '../src/cuda/runtime.js';
import type { DecodeFeatures } from '../src/backend.js';
import { denseTensors, makeDenseProblem, makeSparseProblem, sparseTensors } from './util/layouts.js';

interface Args {
  q: unknown;
  kCache: unknown;
  blockTable: unknown;
  cacheSeqlens: unknown;
  tileSchedulerMetadata: unknown;
  numSplits: unknown;
  opts: FlashMlaOptions;
}

/** Sparse base: b 2, s_q 2, h_q 16, topk 64, FP8 cache of 3 pages of 64 (padded stride). */
function sparseBase(): Args {
  const p = makeSparseProblem({ b: 2, sQ: 2, hQ: 16, topk: 64, pageSize: 64, numPages: 3, dtype: 'bf16', seed: 99 });
  const t = sparseTensors(p);
  const md = getMlaMetadata(null, 32, 1, { topk: 64, batchSize: 2 });
  return { q: t.q, kCache: t.kCache, blockTable: null, cacheSeqlens: null, tileSchedulerMetadata: md.tileSchedulerMetadata, numSplits: md.numSplits, opts: { isFp8KvCache: true, indices: t.indices } };
}

/** Dense FP8 base: b 2, s_q 1, h_q 16, seqlens [70, 10]. */
function fp8Base(): Args {
  const p = makeDenseProblem({ b: 2, sQ: 1, hQ: 16, hKv: 1, d: 576, seqlens: [70, 10], dtype: 'bf16', fp8: true, seed: 5 });
  const t = denseTensors(p);
  const md = getMlaMetadata(t.cacheSeqlens, 16, 1);
  return { ...t, tileSchedulerMetadata: md.tileSchedulerMetadata, numSplits: md.numSplits, opts: { isFp8KvCache: true } };
}

function call(a: Args) {
  return flashMlaWithKvcache(a.q as Tensor, a.kCache as Tensor, a.blockTable as Tensor, a.cacheSeqlens as Tensor, 512, a.tileSchedulerMetadata as Tensor, a.numSplits as Tensor, a.opts);
}

/** Apply `change` to a base problem and expect exactly `err`; sentinel outputs must stay untouched. */
function rejects(make: () => Args, change: (a: Args) => void, err: { name: string; message: string }): void {
  const a = make();
  const q = a.q as Tensor;
  const [b, sQ, hQ] = q.shape;
  const out = Tensor.full([b, sQ, hQ, 512], -3, { dtype: 'bf16' });
  const lse = Tensor.full([b, hQ, sQ], -1234.5, { dtype: 'fp32' });
  a.opts = { ...a.opts, out, lse };
  change(a);
  assert.throws(() => call(a), err);
  assert.ok(out.toFloat32().every((x) => x === -3), 'out was written by a failed call');
  assert.ok(lse.toFloat32().every((x) => x === -1234.5), 'lse was written by a failed call');
}

const Type = (message: string) => ({ name: 'TypeError', message });
const Range = (message: string) => ({ name: 'RangeError', message });

describe('the base problems are valid', () => {
  test('sparse and dense FP8 bases run', () => {
    for (const make of [sparseBase, fp8Base]) {
      const r = call(make());
      assert.ok(r.lse.toFloat32().every((x) => !Number.isNaN(x)));
    }
  });
});

describe('isFp8KvCache and the FP8 cache', () => {
  test('the flag and the cache dtype must agree', () => {
    rejects(fp8Base, (a) => (a.opts.isFp8KvCache = undefined), Type('isFp8KvCache: expected true for a uint8 kCache (the FP8 layout, 656 bytes per token), got undefined'));
    rejects(fp8Base, (a) => (a.opts.isFp8KvCache = false), Type('isFp8KvCache: expected true for a uint8 kCache (the FP8 layout, 656 bytes per token), got the boolean false'));
    rejects(fp8Base, (a) => (a.opts.isFp8KvCache = 1 as unknown as boolean), Type('isFp8KvCache: expected a boolean, got 1'));
    rejects(fp8Base, (a) => (a.kCache = Tensor.zeros([4, 64, 1, 576], { dtype: 'bf16' })), Type('kCache: expected dtype uint8 (isFp8KvCache: the FP8 layout, 656 bytes per token), got bf16'));
  });
  test('FP8 cache shape', () => {
    rejects(fp8Base, (a) => (a.kCache = Tensor.zeros([4, 64, 656], { dtype: 'uint8' })), Range('kCache: expected a rank-4 tensor [numBlocks, 64, 1, 656] (the FP8 layout), got shape [4, 64, 656]'));
    rejects(fp8Base, (a) => (a.kCache = Tensor.zeros([8, 32, 1, 656], { dtype: 'uint8' })), Range('kCache: expected page block size = 64 (dim 1), got 32 in shape [8, 32, 1, 656]'));
    rejects(fp8Base, (a) => (a.kCache = Tensor.zeros([4, 64, 2, 656], { dtype: 'uint8' })), Range('kCache: expected h_kv (the FP8 layout has one KV head) = 1 (dim 2), got 2 in shape [4, 64, 2, 656]'));
    rejects(fp8Base, (a) => (a.kCache = Tensor.zeros([4, 64, 1, 584], { dtype: 'uint8' })), Range('kCache: expected bytes per token (the FP8 layout) = 656 (dim 3), got 584 in shape [4, 64, 1, 584]'));
    rejects(
      fp8Base,
      (a) => (a.kCache = Tensor.zeros([4, 64, 1, 1312], { dtype: 'uint8' }).view([4, 64, 1, 656], [64 * 1312, 1312, 1312, 2])),
      Range('kCache: expected the last dimension to be contiguous (stride 1), got strides [83968, 1312, 1312, 2]'),
    );
    rejects(
      fp8Base,
      (a) => (a.q = Tensor.zeros([2, 1, 16, 512], { dtype: 'bf16' })),
      Range('q: expected head dim = 576 with an FP8 kCache (the V3.2 layout holds 512 latent + 64 RoPE channels), got 512 in shape [2, 1, 16, 512]'),
    );
  });
  test('a dense decode takes no sparse-only options', () => {
    rejects(fp8Base, (a) => (a.opts.topkLength = Tensor.zeros([2], { dtype: 'int32' })), Type('topkLength: expected null or nothing (it applies to sparse decode, with indices), got a Tensor [2]'));
    rejects(fp8Base, (a) => (a.opts.attnSink = Tensor.zeros([16])), Type('attnSink: expected null or nothing (it applies to sparse decode, with indices), got a Tensor [16]'));
    rejects(fp8Base, (a) => (a.blockTable = null), Type('blockTable: expected a Tensor (null only for sparse decode, with indices), got null'));
    rejects(fp8Base, (a) => (a.cacheSeqlens = null), Type('cacheSeqlens: expected a Tensor (null only for sparse decode, with indices), got null'));
  });
});

describe('sparse decode arguments', () => {
  test('blockTable / cacheSeqlens must be absent, the FP8 flag set, causal off', () => {
    rejects(sparseBase, (a) => (a.blockTable = Tensor.zeros([2, 1], { dtype: 'int32' })), Type('blockTable: expected null or nothing (sparse decode: indices address the cache directly), got a Tensor [2, 1]'));
    rejects(sparseBase, (a) => (a.cacheSeqlens = Tensor.zeros([2], { dtype: 'int32' })), Type('cacheSeqlens: expected null or nothing (sparse decode: indices say which tokens to attend), got a Tensor [2]'));
    rejects(sparseBase, (a) => (a.opts.isFp8KvCache = undefined), Type('isFp8KvCache: expected true with indices (sparse decode reads the FP8 cache), got undefined'));
    rejects(sparseBase, (a) => (a.opts.causal = true), Range('causal: expected false for sparse decode (indices given: no causal mask), got true'));
  });
  test('indices: tensor, dtype, rank, batch, s_q, topk ≥ 1, contiguous last dim', () => {
    rejects(sparseBase, (a) => (a.opts.indices = [1, 2] as unknown as Tensor), Type('indices: expected a Tensor, got an array of length 2'));
    rejects(sparseBase, (a) => (a.opts.indices = Tensor.zeros([2, 2, 64])), Type('indices: expected dtype int32, got fp32'));
    rejects(sparseBase, (a) => (a.opts.indices = Tensor.zeros([2, 128], { dtype: 'int32' })), Range('indices: expected a rank-3 tensor [b, s_q, topk], got shape [2, 128]'));
    rejects(sparseBase, (a) => (a.opts.indices = Tensor.zeros([3, 2, 64], { dtype: 'int32' })), Range('indices: expected b (the batch size of q) = 2 (dim 0), got 3 in shape [3, 2, 64]'));
    rejects(sparseBase, (a) => (a.opts.indices = Tensor.zeros([2, 1, 64], { dtype: 'int32' })), Range('indices: expected s_q (the query tokens of q) = 2 (dim 1), got 1 in shape [2, 1, 64]'));
    rejects(sparseBase, (a) => (a.opts.indices = Tensor.zeros([2, 2, 0], { dtype: 'int32' })), Range('indices: expected topk ≥ 1 (dim 2), got shape [2, 2, 0]'));
    rejects(
      sparseBase,
      (a) => (a.opts.indices = Tensor.zeros([2, 2, 128], { dtype: 'int32' }).view([2, 2, 64], [256, 128, 2])),
      Range('indices: expected the last dimension to be contiguous (stride 1), got strides [256, 128, 2]'),
    );
  });
  test('topkLength: int32 [b], values in [0, topk]', () => {
    rejects(sparseBase, (a) => (a.opts.topkLength = Tensor.from([64, 64], [2])), Type('topkLength: expected dtype int32, got fp32'));
    rejects(sparseBase, (a) => (a.opts.topkLength = Tensor.from(new Int32Array([64, 64, 64]), [3])), Range('topkLength: expected b (the batch size of q) = 2 (dim 0), got 3 in shape [3]'));
    rejects(sparseBase, (a) => (a.opts.topkLength = Tensor.from(new Int32Array([64, 65]), [2])), Range('topkLength[1]: expected an integer in [0, 64] (topk = indices.shape[2]), got 65'));
    rejects(sparseBase, (a) => (a.opts.topkLength = Tensor.from(new Int32Array([-1, 0]), [2])), Range('topkLength[0]: expected an integer in [0, 64] (topk = indices.shape[2]), got -1'));
  });
  test('attnSink: fp32 [h_q]', () => {
    rejects(sparseBase, (a) => (a.opts.attnSink = Tensor.zeros([16], { dtype: 'bf16' })), Type('attnSink: expected dtype fp32, got bf16'));
    rejects(sparseBase, (a) => (a.opts.attnSink = Tensor.zeros([8])), Range('attnSink: expected h_q (the heads of q) = 16 (dim 0), got 8 in shape [8]'));
    rejects(sparseBase, (a) => (a.opts.attnSink = Tensor.zeros([16, 1])), Range('attnSink: expected a rank-1 tensor [h_q], got shape [16, 1]'));
  });
  test('metadata: sparse for sparse, the same topk, the same shape', () => {
    rejects(
      sparseBase,
      (a) => {
        const md = getMlaMetadata(Tensor.from(new Int32Array([64, 64]), [2]), 32, 1);
        a.tileSchedulerMetadata = md.tileSchedulerMetadata;
        a.numSplits = md.numSplits;
      },
      Range('tileSchedulerMetadata: computed for dense decode (from cacheSeqlens), but this call is sparse (indices); call getMlaMetadata(null, 32, 1, { topk: 64, batchSize: 2 })'),
    );
    rejects(
      sparseBase,
      (a) => {
        const md = getMlaMetadata(null, 32, 1, { topk: 128, batchSize: 2 });
        a.tileSchedulerMetadata = md.tileSchedulerMetadata;
        a.numSplits = md.numSplits;
      },
      Range('tileSchedulerMetadata: computed for topk = 128, but indices has topk = 64 (dim 2)'),
    );
    rejects(
      sparseBase,
      (a) => {
        const md = getMlaMetadata(null, 16, 1, { topk: 64, batchSize: 2 });
        a.tileSchedulerMetadata = md.tileSchedulerMetadata;
        a.numSplits = md.numSplits;
      },
      Range('tileSchedulerMetadata: computed for numHeadsPerHeadK = 16, but q has s_q · h_q / h_kv = 2 · 16 / 1 = 32; call getMlaMetadata(null, 32, 1, { topk: 64, batchSize: 2 })'),
    );
    rejects(
      sparseBase,
      (a) => {
        const md = getMlaMetadata(null, 32, 1, { topk: 64, batchSize: 2 });
        const raw = md.tileSchedulerMetadata.toInt32();
        raw[3] += 64; // a tampered / foreign schedule (same shape, no provenance check can tell)
        a.tileSchedulerMetadata = Tensor.from(raw, md.tileSchedulerMetadata.shape);
        a.numSplits = md.numSplits;
      },
      Range('tileSchedulerMetadata: does not match a sparse schedule of b = 2 requests of topk = 64; call getMlaMetadata(null, 32, 1, { topk: 64, batchSize: 2 })'),
    );
    rejects(
      fp8Base,
      (a) => {
        const md = getMlaMetadata(null, 16, 1, { topk: 64, batchSize: 2 });
        a.tileSchedulerMetadata = md.tileSchedulerMetadata;
        a.numSplits = md.numSplits;
      },
      Range('tileSchedulerMetadata: computed for sparse decode (topk = 64), but this call is dense (no indices); call getMlaMetadata(cacheSeqlens, 16, 1)'),
    );
  });
});

describe('getMlaMetadata for sparse decode', () => {
  test('topk, batchSize, backend, and null cacheSeqlens only with topk', () => {
    assert.throws(() => getMlaMetadata(null, 16, 1), Type('cacheSeqlens: expected a Tensor (null only for sparse decode, with { topk, batchSize }), got null'));
    assert.throws(() => getMlaMetadata(null, 16, 1, { topk: 0, batchSize: 2 }), Range('topk: expected an integer ≥ 1, got 0'));
    assert.throws(() => getMlaMetadata(null, 16, 1, { topk: '64' as unknown as number, batchSize: 2 }), Type("topk: expected an integer ≥ 1, got the string '64'"));
    assert.throws(() => getMlaMetadata(null, 16, 1, { topk: 64 }), Type('batchSize: expected an integer ≥ 1, got undefined'));
    assert.throws(() => getMlaMetadata(null, 16, 1, { topk: 64, batchSize: 2.5 }), Range('batchSize: expected an integer ≥ 1, got 2.5'));
    assert.throws(() => getMlaMetadata(null, 16, 1, { topk: 64, batchSize: 2, backend: 'gpu' as 'cuda' }), Type("backend: expected 'cpu' or 'cuda', got the string 'gpu'"));
    const lens = Tensor.from(new Int32Array([5, 6]), [2]);
    assert.throws(() => getMlaMetadata(lens, 16, 1, { topk: 64, batchSize: 3 }), Range('batchSize: expected 2 (the length of cacheSeqlens) or nothing, got 3'));
    const cpuOut = { tileSchedulerMetadata: Tensor.empty([132, 8], { dtype: 'int32' }), numSplits: Tensor.empty([3], { dtype: 'int32' }) };
    assert.throws(() => getMlaMetadata(lens, 16, 1, { topk: 64, out: cpuOut, backend: 'cuda' }), Type("backend: expected 'cpu' (the backend of out.tileSchedulerMetadata) or nothing, got the string 'cuda'"));
    assert.throws(() => getMlaMetadata(lens, 16, 1, { topk: 64, backend: 'tpu' as never }), Type("backend: expected 'cpu' or 'cuda', got the string 'tpu'"));
    // with topk the seqlen values are not read: negative ones do not matter
    assert.doesNotThrow(() => getMlaMetadata(Tensor.from(new Int32Array([-5, 6]), [2]), 16, 1, { topk: 64 }));
  });
});

describe('cuda: what its kernels run; what they do not is refused before anything runs (UnsupportedFeatureError)', () => {
  const base: DecodeFeatures = { dtype: 'bf16', hQ: 16, hKv: 1, headDim: 576, pageSize: 64, fp8: false, sparse: false, topk: 0, topkLength: false, attnSink: false };
  const isError = (argument: string, message: string) => (e: unknown) => {
    assert.ok(e instanceof UnsupportedFeatureError, `expected UnsupportedFeatureError, got ${e}`);
    assert.equal(e.argument, argument);
    assert.equal(e.message, message);
    return true;
  };
  const refused = (f: Partial<DecodeFeatures>, argument: string, message: string) => assert.throws(() => cudaCheckDecode({ ...base, ...f }), isError(argument, message));
  const CPU = "the cpu backend runs it: move the tensors with .to('cpu')";
  const layoutsOff: CudaFeatures = { ...CUDA_FEATURES, gqa: false, headDim512: false };
  const LAYOUT_KERNEL = "h_kv > 1 and d_qk 512 run on the portable 'generic' kernel only so far (kernels/mla_decode_generic_layout.cu): pass no kernel or 'generic'";

  test("today's kernels: h_kv ≥ 1, d_qk 576 or 512, bf16/fp16 cache, dense; the FP8 cache dense and sparse (any h_q, topk, page size)", () => {
    cudaCheckDecode(base);
    cudaCheckDecode({ ...base, dtype: 'fp16', hQ: 128 });
    cudaCheckDecode({ ...base, hQ: 128, hKv: 8, headDim: 512 });
    cudaCheckDecode({ ...base, fp8: true });
    cudaCheckDecode({ ...base, fp8: true, kernel: 'generic' });
    for (const hQ of [1, 3, 16, 64, 128]) {
      for (const topk of [1, 64, 100, 576, 2048]) cudaCheckDecode({ ...base, hQ, fp8: true, sparse: true, topk, pageSize: 61, topkLength: true, attnSink: true });
    }
    assert.deepEqual(
      { ...CUDA_FEATURES },
      { fp8KvCache: true, sparse: true, gqa: true, headDim512: true },
      'a feature was switched: update the GPU tests and README',
    );
  });

  test('a feature switched off is refused naming its argument (h_kv > 1: kCache, d_qk 512: q); an FP8 decode on another kernel than the portable one too', () => {
    const refusedWithout = (f: Partial<DecodeFeatures>, argument: string, message: string) =>
      assert.throws(() => checkDecodeAgainst(layoutsOff, { ...base, ...f }), isError(argument, message));
    refusedWithout({ hKv: 2 }, 'kCache', `kCache: h_kv = 2 (dim 2) on cuda: not implemented yet (${CPU})`);
    refusedWithout({ headDim: 512 }, 'q', `q: head dim 512 on cuda: not implemented yet (${CPU})`);
    refusedWithout({ hKv: 8, headDim: 512, kernel: 'generic' }, 'kCache', `kCache: h_kv = 8 (dim 2) on cuda: not implemented yet (${CPU})`);
    checkDecodeAgainst(layoutsOff, base);
    const portable =
      "the FP8 cache and sparse decode run on the portable 'generic' kernel (kernels/mla_decode_fp8.cu), dense decode with bf16 q over 64-token pages and sparse decode with bf16 q also on 'hopper' (Hopper GPUs): pass no kernel, 'generic' or 'hopper' (bench: --kernel generic)";
    refused({ fp8: true, kernel: 'generic-small' }, 'kernel', `kernel: the FP8 KV cache with decode kernel 'generic-small' on cuda: not implemented yet (${portable})`);
    refused({ fp8: true, sparse: true, topk: 2048, kernel: 'generic-small' }, 'kernel', `kernel: the FP8 KV cache with decode kernel 'generic-small' on cuda: not implemented yet (${portable})`);
    // the 16-bit cache keeps every kernel
    cudaCheckDecode({ ...base, kernel: 'hopper' });
  });

  test("the FP8 cache with kernel 'hopper': dense decode with bf16 q over 64-token pages, sparse decode with bf16 q (any h_q) pass (the device decides: decodeKernels), the rest is refused naming kernel", () => {
    const hopperOnly =
      "the Hopper FP8 kernels run dense decode with bf16 q over 64-token pages and sparse decode with bf16 q; the rest of the FP8 cache and sparse decode run on the portable 'generic' kernel (kernels/mla_decode_fp8.cu): pass no kernel or 'generic' (bench: --kernel generic)";
    for (const hQ of [1, 16, 64, 128, 200]) cudaCheckDecode({ ...base, hQ, fp8: true, kernel: 'hopper' });
    // sparse: any h_q (padded to whole m-blocks of 64 per query token) at any topk and page size, with or without
    // topkLength and sinks
    for (const hQ of [1, 16, 32, 64, 100, 128, 192, 256]) {
      for (const [topk, pageSize] of [[1, 1], [64, 64], [300, 61], [2048, 2]]) {
        cudaCheckDecode({ ...base, hQ, fp8: true, sparse: true, topk, pageSize, kernel: 'hopper' });
        cudaCheckDecode({ ...base, hQ, fp8: true, sparse: true, topk, pageSize, topkLength: true, attnSink: true, kernel: 'hopper' });
      }
    }
    refused({ fp8: true, dtype: 'fp16', kernel: 'hopper' }, 'kernel', `kernel: the FP8 KV cache with fp16 q with decode kernel 'hopper' on cuda: not implemented yet (${hopperOnly})`);
    refused({ fp8: true, sparse: true, hQ: 128, dtype: 'fp16', topk: 64, kernel: 'hopper' }, 'kernel', `kernel: sparse decode over the FP8 KV cache with fp16 q with decode kernel 'hopper' on cuda: not implemented yet (${hopperOnly})`);
    refused({ fp8: true, pageSize: 32, kernel: 'hopper' }, 'kernel', `kernel: the FP8 KV cache with pages of 32 tokens with decode kernel 'hopper' on cuda: not implemented yet (${hopperOnly})`);
    const fp8 = { fp8: true, sparse: false, hQ: 16, hKv: 1, headDim: 576, dtype: 'bf16', pageSize: 64 } as const;
    assert.equal(fp8HopperMisfit(fp8), null);
    assert.equal(fp8HopperMisfit({ ...fp8, dtype: 'fp16' }), 'fp16 q');
    assert.equal(fp8HopperMisfit({ ...fp8, pageSize: 61 }), 'pages of 61 tokens');
    assert.equal(fp8HopperMisfit({ ...fp8, fp8: false }), 'not an FP8 cache');
    for (const hQ of [1, 16, 96, 64, 128, 192]) for (const pageSize of [1, 2, 61, 64]) assert.equal(fp8HopperMisfit({ ...fp8, sparse: true, hQ, pageSize }), null, `sparse h_q ${hQ}, page size ${pageSize}`);
    assert.equal(fp8HopperMisfit({ ...fp8, sparse: true, hQ: 128, dtype: 'fp16' }), 'fp16 q');
    assert.equal(fp8HopperMisfit({ ...fp8, hKv: 2 }), 'h_kv = 2, head dim 576');
  });

  test("the Hopper sparse FP8 kernel's per-token bulk copies: 16-byte aligned start, row and page strides (those ever stepped over)", () => {
    const view = { ptr: 0x7f0000000130n, shape: [5, 61, 1, 656], strides: [62 * 672, 672, 672, 1] };
    assert.equal(fp8SparseHopperLayoutMisfit(view), null);
    assert.equal(fp8SparseHopperLayoutMisfit({ ...view, shape: [5, 2, 1, 656], strides: [3 * 656, 656, 656, 1] }), null);
    // a single page's page stride and a one-token page's row stride are never stepped over
    assert.equal(fp8SparseHopperLayoutMisfit({ ...view, shape: [1, 61, 1, 656], strides: [7, 672, 672, 1] }), null);
    assert.equal(fp8SparseHopperLayoutMisfit({ ...view, shape: [5, 1, 1, 656], strides: [672, 8, 8, 1] }), null);
    assert.equal(fp8SparseHopperLayoutMisfit({ ...view, strides: [62 * 672, 664, 664, 1] }), 'a row stride of 664 bytes (not a multiple of 16)');
    assert.equal(fp8SparseHopperLayoutMisfit({ ...view, strides: [62 * 672 + 8, 672, 672, 1] }), `a page stride of ${62 * 672 + 8} bytes (not a multiple of 16)`);
    assert.equal(fp8SparseHopperLayoutMisfit({ ...view, ptr: 0x1008n }), 'its start at 0x1008 (not 16-byte aligned)');
    assert.equal(fp8SparseHopperLayoutMisfit({ ...view, shape: [5, 61, 1, 576] }), 'shape [5, 61, 1, 576] (expected [numPages, pageSize, 1, 656])');
  });

  test("the Hopper FP8 kernels' tensor maps: raw bytes (UINT8 {656, 64, pages}, boxes of 256 × 64, no swizzle), RoPE (bf16 from byte 528, boxes of 64 × 64, 128B swizzle), the raw bytes in 128-byte swizzled boxes and the scales (from byte 512, boxes of 16 × 64), the view's strides", () => {
    const view = { ptr: 0x7f0000000120n, shape: [5, 64, 1, 656], strides: [65 * 672, 672, 672, 1] };
    assert.equal(fp8HopperLayoutMisfit(view), null);
    assert.deepEqual(fp8HopperTensorMapSpecs(view), {
      raw: { dataType: TensorMapDataType.uint8, address: 0x7f0000000120n, dims: [656, 64, 5], strides: [672, 65 * 672], box: [256, 64, 1], swizzle: TensorMapSwizzle.none },
      rope: { dataType: TensorMapDataType.bf16, address: 0x7f0000000120n + 528n, dims: [64, 64, 5], strides: [672, 65 * 672], box: [64, 64, 1], swizzle: TensorMapSwizzle.b128 },
      rawSwizzled: { dataType: TensorMapDataType.uint8, address: 0x7f0000000120n, dims: [656, 64, 5], strides: [672, 65 * 672], box: [128, 64, 1], swizzle: TensorMapSwizzle.b128 },
      scales: { dataType: TensorMapDataType.uint8, address: 0x7f0000000120n + 512n, dims: [16, 64, 5], strides: [672, 65 * 672], box: [16, 64, 1], swizzle: TensorMapSwizzle.none },
    });
    assert.equal(TensorMapDataType.uint8, 0);
    assert.equal(TensorMapDataType.bf16, 9);
    // a single page: its page stride is never stepped over, the maps get 64 rows' worth
    const one = { ptr: 0x1000n, shape: [1, 64, 1, 656], strides: [7, 656, 656, 1] };
    assert.equal(fp8HopperLayoutMisfit(one), null);
    assert.deepEqual(fp8HopperTensorMapSpecs(one).raw.strides, [656, 64 * 656]);
    // what TMA cannot describe (the validation's 16-byte rule already refuses these views)
    assert.equal(fp8HopperLayoutMisfit({ ...view, strides: [65 * 672, 664, 664, 1] }), 'a row stride of 664 bytes (not a multiple of 16)');
    assert.equal(fp8HopperLayoutMisfit({ ...view, strides: [65 * 672 + 8, 672, 672, 1] }), `a page stride of ${65 * 672 + 8} bytes (not a multiple of 16)`);
    assert.equal(fp8HopperLayoutMisfit({ ...view, ptr: 0x1008n }), 'its RoPE columns at 0x1218 (not 16-byte aligned)');
    assert.equal(fp8HopperLayoutMisfit({ ...view, shape: [5, 61, 1, 656] }), 'shape [5, 61, 1, 656] (expected [numPages, 64, 1, 656])');
  });

  test("by default (no environment variable): h_kv ≥ 1 and d_qk 512 run on 'generic' (no kernel or 'generic'); 'hopper' / 'generic-small' are refused naming kernel", () => {
    for (const [hQ, hKv] of [[2, 2], [128, 2], [9, 3], [64, 8], [16, 1]]) {
      for (const headDim of [576, 512]) {
        if (hKv === 1 && headDim === 576) continue; // FlashMLA 9edee0c's layout: every kernel
        for (const kernel of [undefined, 'generic']) cudaCheckDecode({ ...base, hQ, hKv, headDim, kernel });
        for (const kernel of ['hopper', 'generic-small']) {
          refused({ hQ, hKv, headDim, kernel }, 'kernel', `kernel: h_kv = ${hKv}, head dim ${headDim} with decode kernel '${kernel}' on cuda: not implemented yet (${LAYOUT_KERNEL})`);
        }
      }
    }
    cudaCheckDecode({ ...base, kernel: 'hopper' });
    cudaCheckDecode({ ...base, kernel: 'generic-small' });
  });

  test('FLASH_MLA_PREVIEW is ignored: left set to layouts (or to anything) it changes nothing and throws nothing', () => {
    const features = fileURLToPath(new URL('../src/cuda/features.js', import.meta.url));
    const script = `
      const { CUDA_FEATURES, cudaCheckDecode } = await import(${JSON.stringify(pathToFileURL(features).href)});
      const base = ${JSON.stringify(base)};
      cudaCheckDecode({ ...base, hKv: 2 });
      cudaCheckDecode({ ...base, hQ: 64, hKv: 8, headDim: 512 });
      console.log(JSON.stringify(CUDA_FEATURES));`;
    for (const value of ['layouts', ' layouts , ', 'layout,nope', '']) {
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, FLASH_MLA_PREVIEW: value } });
      assert.equal(r.status, 0, `FLASH_MLA_PREVIEW='${value}': ${r.stderr}`);
      assert.deepEqual(JSON.parse(r.stdout), { fp8KvCache: true, sparse: true, gqa: true, headDim512: true }, `FLASH_MLA_PREVIEW='${value}'`);
    }
  });
});
