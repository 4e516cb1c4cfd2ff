// The combine kernel under every launch shape (W warps per row × C column chunks, src/cuda/combine-shape.ts) on
// the GPU, against the float64 reference: a long request split over every SM, a long request among short ones
// with s_q 2, a batch of short requests (one or two splits each), and serving S7's shape (one long request among 32
// short). Outputs poisoned with NaN before each run. Each case on the default kernel (fp32 split partials, except where
// it is 'hopper') and, where this GPU runs it, on 'hopper' (16-bit split partials: the mla_combine_p16_* entries).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, flashMlaWithKvcache, getBackend, getMlaMetadata } from '../src/index.js';
import { forceCombineShape } from '../src/cuda/mla.js';
import type { CombineShape } from '../src/cuda/combine-shape.js';
import { compare, freshSeed, gpuSkipReason, makePagedProblem, pagedProblemTensors, referenceRow, rng } from './util/problem.js';

const skip = await gpuSkipReason();

const SHAPES: CombineShape[] = [];
for (const warpsPerRow of [1, 2, 4, 8] as const) for (const chunks of [1, 2, 4] as const) SHAPES.push({ warpsPerRow, chunks });

const CASES = [
  { label: 'one long request', b: 1, sQ: 1, hQ: 16, seqlens: () => [20000], causal: false },
  { label: 'long among short, s_q 2', b: 3, sQ: 2, hQ: 24, seqlens: () => [5, 9000, 300], causal: true },
  { label: 'many short', b: 40, sQ: 1, hQ: 8, seqlens: (r: () => number) => Array.from({ length: 40 }, () => Math.floor(r() * 2000)), causal: false },
  { label: 'one long among 32 short (S7)', b: 33, sQ: 1, hQ: 16, seqlens: (r: () => number) => [30000, ...Array.from({ length: 32 }, () => Math.floor(r() * 600))], causal: false },
];

const hopper = !skip && getBackend('cuda').decodeKernels().includes('hopper');

describe('combine: every launch shape matches the float64 reference', { skip }, () => {
  for (const c of CASES) for (const kernel of [undefined, 'hopper'] as const) {
    test(`${c.label}${kernel ? `, kernel '${kernel}' (16-bit partials)` : ''}`, { skip: kernel && !hopper ? "this GPU does not run 'hopper'" : false }, () => {
      const seed = freshSeed();
      const r = rng(seed);
      const p = makePagedProblem({ b: c.b, sQ: c.sQ, hQ: c.hQ, seqlens: c.seqlens(r), seed });
      const t = pagedProblemTensors(p, 'cuda');
      const md = getMlaMetadata(t.cacheSeqlens, c.sQ * c.hQ, 1);
      const splits = md.numSplits.toInt32();
      const maxSplits = Math.max(...Array.from({ length: c.b }, (_, i) => splits[i + 1] - splits[i]));
      assert.ok(maxSplits > 1, `the case must split a request (max splits ${maxSplits}, seed ${seed})`);
      const rows = c.b * c.sQ * c.hQ;
      const refOut = new Float64Array(rows * 512);
      const refLse = new Float64Array(rows);
      for (let i = 0; i < c.b; i++) for (let s = 0; s < c.sQ; s++) for (let h = 0; h < c.hQ; h++) {
        const ref = referenceRow(p, i, s, h, c.causal && c.sQ > 1);
        const k = (i * c.sQ + s) * c.hQ + h;
        refOut.set(ref.out, k * 512);
        refLse[(i * c.hQ + h) * c.sQ + s] = ref.lse;
      }
      const out = Tensor.empty([c.b, c.sQ, c.hQ, 512], { dtype: 'bf16', backend: 'cuda' });
      const lse = Tensor.empty([c.b, c.hQ, c.sQ], { dtype: 'fp32', backend: 'cuda' });
      try {
        for (const shape of SHAPES) {
          forceCombineShape(shape);
          out.fill(NaN);
          lse.fill(NaN);
          flashMlaWithKvcache(t.q, t.kCache, t.blockTable, t.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, { causal: c.causal, out, lse, kernel });
          const name = `W ${shape.warpsPerRow} C ${shape.chunks}`;
          const gotOut = out.toFloat32();
          const gotLse = lse.toFloat32();
          assert.equal(gotOut.findIndex(Number.isNaN), -1, `${name}: out has NaN (not written) at ${gotOut.findIndex(Number.isNaN)} (seed ${seed})`);
          assert.equal(gotLse.findIndex(Number.isNaN), -1, `${name}: lse has NaN at ${gotLse.findIndex(Number.isNaN)} (seed ${seed})`);
          const co = compare(`${name} out`, gotOut, refOut, 'bf16', { seed });
          const cl = compare(`${name} lse`, gotLse, refLse, 'fp32', { seed, absTol: 1e-4 });
          assert.ok(co.ok, co.message);
          assert.ok(cl.ok, cl.message);
        }
        console.log(`  ${c.label}${kernel ? ` on '${kernel}'` : ''}: max splits ${maxSplits}, ${SHAPES.length} launch shapes match (seed ${seed})`);
      } finally {
        forceCombineShape(null);
        for (const x of [out, lse, md.tileSchedulerMetadata, md.numSplits]) x.dispose();
        t.dispose();
      }
    });
  }
});
