// Host side of a decode loop without CUDA graphs (dev-only; node scripts/host-loop.mjs after npm run build, on a GPU):
// steps of L decode calls (one per layer) on the library stream, timed by the wall clock from the first call to the
// synchronize that ends the step, and by CUDA events around the step (the GPU's time). Three modes:
//   prealloc — { out, lse } given each call (the README's advice)
//   alloc    — each call allocates out and lse, disposed once the step's calls are queued (the natural loop)
//   checked  — as prealloc with checkValues left at its default (on outside a capture: every call reads the seqlens,
//              block table and metadata back, a stream sync each — the README's API example)
// with the cache of freed blocks as configured (FLASH_MLA_CUDA_CACHE_BYTES=0 turns it off: run the script twice).
// checkValues false but in 'checked' (no read-back). The cache pages and queries are filled with a constant nonzero
// value: this measures the host and the launches, not the kernels' numerics (their time does not depend on values).
// Prints one line per shape and mode: wall µs per call, GPU µs per call, and their ratio.
import { Tensor, getMlaMetadata, flashMlaWithKvcache, synchronize, cachedDeviceMemory } from '../dist/src/index.js';
import { getCudaContext } from '../dist/src/cuda/context.js';
import { CudaEvent } from '../dist/src/cuda/runtime.js';

const LAYERS = Number(process.env.LAYERS ?? 61);
const STEPS = Number(process.env.STEPS ?? 20);
const shapes = [
  // name, seqlens, h_q
  ['S9-like b16 h128', [862, 4727, 123, 2306, 945, 3990, 11787, 2461, 1989, 3233, 617, 2544, 14253, 997, 3953, 7657], 128],
  ['S2 b1 64k h16', [65536], 16],
  ['b64 s2048 h16', new Array(64).fill(2048), 16],
  ['b128 s4096 h64', new Array(128).fill(4096), 64],
];

const only = process.env.SHAPES ? process.env.SHAPES.split(',').map(Number) : null;  // (indices into shapes)
for (const [name, lens, hQ] of shapes.filter((_, i) => !only || only.includes(i))) {
  const b = lens.length;
  const pages = lens.map((l) => Math.ceil(l / 64));
  const maxPages = Math.max(...pages);
  const totalPages = pages.reduce((a, x) => a + x, 0);
  const kCache = Tensor.empty([totalPages, 64, 1, 576], { dtype: 'bf16', backend: 'cuda' });
  kCache.fill(0.03125);
  const table = new Int32Array(b * maxPages);
  let next = 0;
  for (let i = 0; i < b; i++) for (let j = 0; j < pages[i]; j++) table[i * maxPages + j] = next++;
  const blockTable = Tensor.from(table, [b, maxPages], { dtype: 'int32', backend: 'cuda' });
  const seqlens = Tensor.from(Int32Array.from(lens), [b], { dtype: 'int32', backend: 'cuda' });
  const q = Tensor.empty([b, 1, hQ, 576], { dtype: 'bf16', backend: 'cuda' });
  q.fill(0.03125);
  const md = getMlaMetadata(seqlens, hQ, 1);
  const out = Tensor.empty([b, 1, hQ, 512], { dtype: 'bf16', backend: 'cuda' });
  const lse = Tensor.empty([b, hQ, 1], { dtype: 'fp32', backend: 'cuda' });
  const stream = getCudaContext().stream;
  const [e0, e1] = [CudaEvent.create(), CudaEvent.create()];
  for (const mode of ['prealloc', 'alloc', 'checked']) {
    const step = () => {
      const made = [];
      for (let l = 0; l < LAYERS; l++) {
        const opts = { causal: true, ...(mode === 'checked' ? {} : { checkValues: false }), ...(mode === 'alloc' ? {} : { out, lse }) };
        const r = flashMlaWithKvcache(q, kCache, blockTable, seqlens, 512, md.tileSchedulerMetadata, md.numSplits, opts);
        if (mode === 'alloc') made.push(r.out, r.lse);
      }
      for (const t of made) t.dispose();
    };
    step();
    synchronize();
    const walls = [];
    const gpus = [];
    for (let s = 0; s < STEPS; s++) {
      const t0 = process.hrtime.bigint();
      e0.record(stream);
      step();
      e1.record(stream);
      synchronize();
      walls.push(Number(process.hrtime.bigint() - t0) / 1e3 / LAYERS);
      gpus.push((e1.elapsedSince(e0) * 1e3) / LAYERS);
    }
    const med = (a) => a.sort((x, y) => x - y)[a.length >> 1];
    const w = med(walls);
    const g = med(gpus);
    console.log(`${name.padEnd(18)} ${mode.padEnd(8)} cache ${String(cachedDeviceMemory().limitBytes).padStart(10)} B: wall ${w.toFixed(1)} µs/call, GPU ${g.toFixed(1)} µs/call, wall/GPU ${(w / g).toFixed(2)}`);
  }
  for (const t of [kCache, blockTable, seqlens, q, out, lse, md.tileSchedulerMetadata, md.numSplits]) t.dispose();
  e0.dispose();
  e1.dispose();
}
