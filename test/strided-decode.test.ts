// Inputs and outputs that are views, not fresh contiguous tensors: q with padded head rows, a K cache with a
// padded block stride starting at an offset (what the TMA descriptor's strides must follow), a block table
// whose row stride exceeds its width, out/lse views at an offset into larger buffers. All padding holds NaN,
// so any read of it shows. Runs on the cpu backend always and on cuda (every decode kernel) when present.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, flashMlaWithKvcache, getBackend, getMlaMetadata, type BackendName } from '../src/index.js';
import { compare, freshSeed, gpuSkipReason, makePagedProblem, referenceAll } from './util/problem.js';

const Q_PAD = 64; // extra channels per q head row (1280-byte rows: still 16-byte aligned)
const K_ROWS = 72; // rows per page block in the backing buffer (64 used)
const K_OFFSET_ROWS = 8; // the view starts 8 rows into the buffer
const T_PAD = 3; // extra block-table columns per row (never read)

function run(backend: BackendName, kernel: string | undefined, seed: number): void {
  const b = 3, sQ = 2, hQ = 20;
  const seqlens = [130, 1, 200];
  const p = makePagedProblem({ b, sQ, hQ, seqlens, seed, dtype: 'bf16' });
  const nan = 0x7fc0;
  // q: [b, sQ, hQ, 576 + pad] → view [b, sQ, hQ, 576]
  const qRow = 576 + Q_PAD;
  const qBits = new Uint16Array(b * sQ * hQ * qRow).fill(nan);
  for (let r = 0; r < b * sQ * hQ; r++) qBits.set(p.qBits.subarray(r * 576, (r + 1) * 576), r * qRow);
  const qBuf = Tensor.from(qBits, [b, sQ, hQ, qRow], { dtype: 'bf16', backend });
  const q = qBuf.view([b, sQ, hQ, 576], [sQ * hQ * qRow, hQ * qRow, qRow, 1]);
  // K cache: blocks of 72 rows, the view starting 8 rows in
  const kBits = new Uint16Array((p.numBlocks * K_ROWS + K_OFFSET_ROWS) * 576).fill(nan);
  for (let blk = 0; blk < p.numBlocks; blk++) {
    kBits.set(p.kBits.subarray(blk * 64 * 576, (blk + 1) * 64 * 576), (K_OFFSET_ROWS + blk * K_ROWS) * 576);
  }
  const kBuf = Tensor.from(kBits, [kBits.length], { dtype: 'bf16', backend });
  const kCache = kBuf.view([p.numBlocks, 64, 1, 576], [K_ROWS * 576, 576, 576, 1], K_OFFSET_ROWS * 576);
  // block table with a row stride wider than its width
  const w = p.maxBlocksPerSeq + T_PAD;
  const table = new Int32Array(b * w).fill(2147480000);
  for (let i = 0; i < b; i++) table.set(p.table.subarray(i * p.maxBlocksPerSeq, (i + 1) * p.maxBlocksPerSeq), i * w);
  const tBuf = Tensor.from(table, [b, w], { dtype: 'int32', backend });
  const blockTable = tBuf.view([b, p.maxBlocksPerSeq], [w, 1]);
  const cacheSeqlens = Tensor.from(p.seqlens, [b], { dtype: 'int32', backend });
  // outputs: views 16 bytes into NaN-filled buffers; the bytes around them must stay NaN
  const outN = b * sQ * hQ * 512;
  const outBuf = Tensor.full([outN + 16], NaN, { dtype: 'bf16', backend });
  const out = outBuf.view([b, sQ, hQ, 512], undefined, 8);
  const lseBuf = Tensor.full([b * hQ * sQ + 8], NaN, { dtype: 'fp32', backend });
  const lse = lseBuf.view([b, hQ, sQ], undefined, 4);

  const md = getMlaMetadata(cacheSeqlens, sQ * hQ, 1, { smCount: 8 }); // few parts: requests get split
  flashMlaWithKvcache(q, kCache, blockTable, cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, { causal: true, out, lse, kernel });
  const ref = referenceAll(p, true);
  const tag = `${backend}${kernel ? ` ${kernel}` : ''}`;
  const co = compare(`${tag} out`, out.toFloat32(), ref.out, 'bf16', { seed });
  const cl = compare(`${tag} lse`, lse.toFloat32(), ref.lse, 'fp32', { seed, absTol: 1e-4 });
  console.log(`  ${co.message}; ${cl.message}`);
  assert.ok(co.ok, co.message);
  assert.ok(cl.ok, cl.message);
  const whole = outBuf.toFloat32();
  assert.ok([...whole.subarray(0, 8), ...whole.subarray(8 + outN)].every(Number.isNaN), `${tag}: wrote outside the out view (seed ${seed})`);
  const lseWhole = lseBuf.toFloat32();
  assert.ok([...lseWhole.subarray(0, 4), ...lseWhole.subarray(4 + b * hQ * sQ)].every(Number.isNaN), `${tag}: wrote outside the lse view (seed ${seed})`);
  for (const t of [qBuf, kBuf, tBuf, cacheSeqlens, outBuf, lseBuf, md.tileSchedulerMetadata, md.numSplits]) t.dispose();
}

test('strided views in and out: cpu backend', () => {
  run('cpu', undefined, freshSeed());
});

const skip = await gpuSkipReason();
test('strided views in and out: cuda backend, every decode kernel', { skip }, () => {
  const seed = freshSeed();
  for (const kernel of getBackend('cuda').decodeKernels()) run('cuda', kernel, seed);
});
