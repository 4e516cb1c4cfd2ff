// The decode kernels' own source run without a GPU: the fake driver built with the kernel emulator (test/util/emu/:
// kernels/*.cu compiled for the host, a CTA's threads as fibers, mma.sync / ldmatrix / shuffles / barriers emulated,
// shared-memory and global reads bounds-checked) executes the metadata, decode and combine launches of the public API
// on the cuda backend, and the outputs are compared with the cpu oracle under FlashMLA's tolerances.
//
// What it shows and what it does not: the kernels' indexing, tiling, masking, softmax and epilogue — with the launch
// shapes and parameters src/cuda/ computes — give the oracle's answer; it does not show that the real tensor cores,
// cp.async pipelining or timing behave (threads run one after another, copies land at once). The first scenario runs
// the kernels that have already passed the GPU suite on an H200 ('generic', 'generic-small'): if those failed here,
// the emulator would be at fault, not the kernels. The layout kernel (mla_decode_generic_layout.cu, FLASH_MLA_PREVIEW)
// has run nowhere else yet. The full GPU test files run the same way (slower):
//   npm run build && node dist/test/util/run-emulated.js dist/test/dense-layouts-gpu.test.js
//
// Each scenario runs in its own child process (the fake is loaded at start-up), like test/fault-injection.test.ts;
// this file is also the child when FLASH_MLA_EMULATION_SCENARIO is set.

import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { CudaError, Tensor, flashMlaWithKvcache, getBackend, getMlaMetadata, numSmPartsFor, scheduleTiles } from '../src/index.js';
import { forceCombineShape, forceMetadataKernel } from '../src/cuda/mla.js';
import { buildFakeCuda, fakeCudaEnv, fakeCudaSkipReason, runNode, type FakeCuda } from './util/fake-cuda.js';
import { checkDenseRows, denseTensors, makeDenseProblem, nanPaddedViews, type DenseSpec } from './util/layouts.js';
import { freshSeed, rng } from './util/problem.js';
import { metadataGoldenSets } from './util/metadata-sets.js';

const SCENARIO_VAR = 'FLASH_MLA_EMULATION_SCENARIO';

/**
 * One dense decode on the emulated GPU (NaN-padded views, NaN outputs) against the cpu oracle; returns a note.
 * `split`: some request must be split over SM parts (the combine runs).
 */
function decodeCase(spec: Omit<DenseSpec, 'seed'>, seed: number, causal: boolean, opts: { kernel?: string; split?: boolean } = {}): string {
  const { kernel } = opts;
  const p = makeDenseProblem({ ...spec, seed });
  const cpu = denseTensors(p);
  const gpu = { ...nanPaddedViews(p, 'cuda'), blockTable: cpu.blockTable.to('cuda'), cacheSeqlens: cpu.cacheSeqlens.to('cuda') };
  const { hKv } = p.spec;
  const rows = (spec.sQ * spec.hQ) / hKv;
  const md = getMlaMetadata(gpu.cacheSeqlens, rows, hKv); // the emulated metadata kernel (checked against the cpu scheduler by the API)
  const parts = md.tileSchedulerMetadata.shape[0];
  const mdH = getMlaMetadata(cpu.cacheSeqlens, rows, hKv, { smCount: parts * hKv * Math.ceil(rows / 64) });
  const outs = { out: Tensor.full([spec.b, spec.sQ, spec.hQ, 512], NaN, { dtype: spec.dtype, backend: 'cuda' }), lse: Tensor.full([spec.b, spec.hQ, spec.sQ], NaN, { dtype: 'fp32', backend: 'cuda' }) };
  const got = flashMlaWithKvcache(gpu.q, gpu.kCache, gpu.blockTable, gpu.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, { causal, kernel, ...outs });
  const want = flashMlaWithKvcache(cpu.q, cpu.kCache, cpu.blockTable, cpu.cacheSeqlens, 512, mdH.tileSchedulerMetadata, mdH.numSplits, { causal });
  const label = `b ${spec.b}, s_q ${spec.sQ}, h_q ${spec.hQ}, h_kv ${hKv}, d ${spec.d}, ${spec.dtype}, causal ${causal}, seqlens [${spec.seqlens}]${kernel ? `, kernel ${kernel}` : ''}`;
  checkDenseRows(label, got, want, seed);
  const splits = md.numSplits.toInt32();
  const most = Math.max(...Array.from({ length: spec.b }, (_, i) => splits[i + 1] - splits[i]));
  if (opts.split) assert.ok(most > 1, `${label}: expected a request split over SM parts, the schedule has none (${parts} parts)`);
  return `${label}: matches the oracle (${parts} SM parts, up to ${most} splits per request)`;
}

interface Scenario {
  title: string;
  env: Record<string, string>;
  run(seed: number): string[];
}

/**
 * The layout kernel against the oracle: h_kv ∈ {1, 2, 8, 3} × s_q 1–3, causal or not, NaN-padded views, every case
 * with a request split over SM parts (32 SMs: 4–32 parts, a 400-token request takes two). One scenario per head dim.
 */
function layoutScenarios(): Record<string, Scenario> {
  const cases: Record<number, [Omit<DenseSpec, 'seed'>, boolean][]> = {
    576: [
      [{ b: 2, sQ: 1, hQ: 4, hKv: 2, d: 576, seqlens: [400, 64], dtype: 'fp16', fp8: false }, false],
      [{ b: 2, sQ: 1, hQ: 64, hKv: 8, d: 576, seqlens: [400, 1], dtype: 'bf16', fp8: false }, false],
      [{ b: 3, sQ: 2, hQ: 9, hKv: 3, d: 576, seqlens: [1, 400, 40], dtype: 'bf16', fp8: false }, true],
    ],
    512: [
      [{ b: 3, sQ: 2, hQ: 16, hKv: 1, d: 512, seqlens: [400, 0, 65], dtype: 'bf16', fp8: false }, true],
      [{ b: 2, sQ: 3, hQ: 32, hKv: 2, d: 512, seqlens: [2, 400], dtype: 'bf16', fp8: false }, true],
      [{ b: 1, sQ: 2, hQ: 16, hKv: 8, d: 512, seqlens: [400], dtype: 'fp16', fp8: false }, true],
      [{ b: 2, sQ: 3, hQ: 9, hKv: 3, d: 512, seqlens: [400, 3], dtype: 'bf16', fp8: false }, true],
      [{ b: 1, sQ: 1, hQ: 128, hKv: 2, d: 512, seqlens: [400], dtype: 'bf16', fp8: false }, false],
    ],
  };
  return Object.fromEntries(
    Object.entries(cases).map(([d, list]) => [
      `layouts-d${d}`,
      {
        title: `FLASH_MLA_PREVIEW=layouts, d_qk ${d}: h_kv ${[...new Set(list.map(([c]) => c.hKv))].join('/')}, s_q 1–3, causal or not, split requests, NaN-padded views: the oracle`,
        env: { FLASH_MLA_PREVIEW: 'layouts', FAKE_CUDA_SMS: '32' },
        run: (seed: number) => list.map(([spec, causal], k) => decodeCase(spec, seed + k, causal, { split: true })),
      } satisfies Scenario,
    ]),
  );
}

const scenarios: Record<string, Scenario> = {
  'proven-kernels': {
    title: "the kernels that passed the GPU suite on an H200 ('generic', 'generic-small'; h_kv 1, d_qk 576) match the oracle here too",
    env: { FAKE_CUDA_SMS: '32' },
    run(seed) {
      const notes: string[] = [];
      for (const kernel of ['generic', 'generic-small']) {
        notes.push(decodeCase({ b: 3, sQ: 2, hQ: 16, hKv: 1, d: 576, seqlens: [400, 1, 64], dtype: 'bf16', fp8: false }, seed, true, { kernel, split: true }));
      }
      notes.push(decodeCase({ b: 2, sQ: 1, hQ: 64, hKv: 1, d: 576, seqlens: [130, 5], dtype: 'fp16', fp8: false }, seed + 1, false, { kernel: 'generic' }));
      return notes;
    },
  },

  ...layoutScenarios(),

  'group-bits': {
    title: "FLASH_MLA_PREVIEW=layouts: each KV head's group decodes bit for bit like its own h_kv = 1 problem (d_qk 576 on 'generic', 512 on the layout kernel)",
    env: { FLASH_MLA_PREVIEW: 'layouts', FAKE_CUDA_SMS: '24' },
    run(seed) {
      const notes: string[] = [];
      const hQ = 12, hKv = 3, sQ = 2, hpk = 4, b = 2;
      forceCombineShape({ warpsPerRow: 1, chunks: 1 });
      for (const d of [576, 512]) {
        const p = makeDenseProblem({ b, sQ, hQ, hKv, d, seqlens: [400, 33], dtype: 'bf16', fp8: false, seed: seed + d });
        const cpu = denseTensors(p);
        const gpu = { q: cpu.q.to('cuda'), kCache: cpu.kCache.to('cuda'), blockTable: cpu.blockTable.to('cuda'), cacheSeqlens: cpu.cacheSeqlens.to('cuda') };
        const md = getMlaMetadata(gpu.cacheSeqlens, sQ * hpk, hKv);
        const parts = md.tileSchedulerMetadata.shape[0];
        const whole = flashMlaWithKvcache(gpu.q, gpu.kCache, gpu.blockTable, gpu.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, { causal: true });
        const wholeBits = whole.out.toRaw() as Uint16Array;
        const m1 = getMlaMetadata(gpu.cacheSeqlens, sQ * hpk, 1, { smCount: parts });
        for (let kh = 0; kh < hKv; kh++) {
          const q = gpu.q.view([b, sQ, hpk, d], [sQ * hQ * d, hQ * d, d, 1], kh * hpk * d);
          const kCache = gpu.kCache.view([p.numBlocks, 64, 1, d], [64 * hKv * d, hKv * d, d, 1], kh * d);
          const one = flashMlaWithKvcache(q, kCache, gpu.blockTable, gpu.cacheSeqlens, 512, m1.tileSchedulerMetadata, m1.numSplits, { causal: true, kernel: d === 576 ? 'generic' : undefined });
          const bits = one.out.toRaw() as Uint16Array;
          for (let i = 0; i < b; i++) for (let s = 0; s < sQ; s++) for (let g = 0; g < hpk; g++) {
            const h = kh * hpk + g;
            assert.deepEqual(bits.subarray(((i * sQ + s) * hpk + g) * 512, ((i * sQ + s) * hpk + g + 1) * 512), wholeBits.subarray(((i * sQ + s) * hQ + h) * 512, ((i * sQ + s) * hQ + h + 1) * 512), `d ${d}, request ${i}, token ${s}, head ${h}`);
          }
        }
        notes.push(`d_qk ${d}: h_kv 3 decode = three h_kv 1 decodes, bit for bit (${parts} SM parts, requests split ${Array.from(md.numSplits.toInt32()).join(',')})`);
      }
      return notes;
    },
  },

  'metadata-kernels': {
    title: 'both metadata kernels (mla_metadata, and mla_metadata_warp: FLASH_MLA_METADATA=warp) = the cpu scheduler, bit for bit, on batches that take the warp walk and both serial fallbacks',
    env: { FAKE_CUDA_SMS: '132' },
    run(seed) {
      const r = rng(seed);
      const sets = metadataGoldenSets(r);
      const notes: string[] = [];
      try {
        for (const kind of ['serial', 'warp'] as const) {
          forceMetadataKernel(kind);
          let runs = 0;
          for (const lens of sets) {
            for (const rowsPerKv of [1, 16, 128, 1024]) {
              const parts = numSmPartsFor(getBackend('cuda').smCount(), rowsPerKv, 1);
              const sl = Tensor.from(Int32Array.from(lens), [lens.length], { dtype: 'int32', backend: 'cuda' });
              const md = getMlaMetadata(sl, rowsPerKv, 1);
              const e = scheduleTiles(lens, parts);
              const where = `${kind} kernel, b ${lens.length}, ${parts} parts, seed ${seed}`;
              assert.deepEqual(md.tileSchedulerMetadata.toInt32(), e.metadata, where);
              assert.deepEqual(md.numSplits.toInt32(), e.numSplits, where);
              for (const x of [sl, md.tileSchedulerMetadata, md.numSplits]) x.dispose();
              runs++;
            }
          }
          notes.push(`${kind}: ${runs} batches (b 1 … 7000, test/util/metadata-sets.ts) = scheduleTiles, metadata rows and num_splits bit for bit`);
        }
      } finally {
        forceMetadataKernel(undefined);
      }
      return notes;
    },
  },

  'out-of-bounds': {
    title: 'the emulator faults like a GPU: a block-table entry past the cache (value checks off) → sticky CudaError ILLEGAL_ADDRESS',
    env: { FLASH_MLA_PREVIEW: 'layouts', FAKE_CUDA_SMS: '8' },
    run(seed) {
      assert.equal(getBackend('cuda').decodeKernels()[0], 'generic');
      const p = makeDenseProblem({ b: 1, sQ: 1, hQ: 4, hKv: 2, d: 512, seqlens: [100], dtype: 'bf16', fp8: false, seed });
      const cpu = denseTensors(p);
      const table = cpu.blockTable.toInt32();
      table[1] = p.numBlocks + 1000; // the request's second page: far past the cache
      const gpu = { q: cpu.q.to('cuda'), kCache: cpu.kCache.to('cuda'), blockTable: Tensor.from(table, cpu.blockTable.shape, { backend: 'cuda' }), cacheSeqlens: cpu.cacheSeqlens.to('cuda') };
      const md = getMlaMetadata(gpu.cacheSeqlens, 2, 2);
      let err: unknown = null;
      try {
        const r = flashMlaWithKvcache(gpu.q, gpu.kCache, gpu.blockTable, gpu.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, { checkValues: false });
        r.lse.toFloat32(); // a read-back reports the fault
      } catch (e) {
        err = e;
      }
      assert.ok(err instanceof CudaError, `expected a CudaError, got ${err}`);
      assert.equal(err.codeName, 'CUDA_ERROR_ILLEGAL_ADDRESS');
      return [`reported: ${err.message.slice(0, 160)}`];
    },
  },
};

const scenarioName = process.env[SCENARIO_VAR];
if (scenarioName) {
  const s = scenarios[scenarioName];
  if (!s) throw new Error(`${SCENARIO_VAR}: no scenario '${scenarioName}'`);
  try {
    console.log(JSON.stringify({ notes: s.run(Number(process.env.FLASH_MLA_SEED)) }));
  } catch (e) {
    console.error(`scenario '${scenarioName}' failed (seed ${process.env.FLASH_MLA_SEED}): ${(e as Error).stack ?? e}`);
    process.exitCode = 1;
  }
} else {
  const self = fileURLToPath(import.meta.url);
  describe('the kernels emulated on the host through the fake driver, against the cpu oracle', { skip: fakeCudaSkipReason({ emulate: true }), concurrency: 2 }, () => {
    let fake: FakeCuda;
    before(() => {
      fake = buildFakeCuda({ emulate: true });
    });
    for (const [name, s] of Object.entries(scenarios)) {
      it(`${name}: ${s.title}`, async (t) => {
        const seed = freshSeed();
        const r = await runNode(self, [], fakeCudaEnv(fake, { ...s.env, [SCENARIO_VAR]: name, FLASH_MLA_SEED: String(seed) }), 180_000);
        assert.equal(r.status, 0, `${r.stderr}${r.stdout}`);
        const { notes } = JSON.parse(r.stdout.trim().split('\n').pop()!) as { notes: string[] };
        for (const n of notes) t.diagnostic(n);
      });
    }
  });
}
