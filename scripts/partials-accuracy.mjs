// How close 'hopper''s outputs stay to the oracle (FlashMLA's cos diff, the worst element's error) on shapes where
// one request is split over every SM part, over many seeds: the accuracy side of the 16-bit split partials (perf log,
// session 47). Run on a GPU from the project root after `npm run build`:
//   node scripts/partials-accuracy.mjs [seeds] [first seed]
// FLASH_MLA_KERNEL_DIR with FLASH_MLA_EXPERIMENT_PARTIALS=fp32 (src/cuda/params.ts) runs a build with fp32 partials.
import { flashMlaWithKvcache, getMlaMetadata } from '../dist/src/index.js';
import { makeDenseProblem, denseTensors, nanPaddedQ, nanPaddedFp8Cache } from '../dist/test/util/layouts.js';

const seeds = Number(process.argv[2] ?? 12), first = Number(process.argv[3] ?? 1177623575);
const SHAPES = [
  { label: 'FP8, h_q 1, 20000 tokens, K spread 2^±3', spec: { b: 1, sQ: 1, hQ: 1, hKv: 1, d: 576, seqlens: [20000], dtype: 'bf16', fp8: true, kSpread: 3 } },
  { label: 'FP8, h_q 1, 20000 tokens', spec: { b: 1, sQ: 1, hQ: 1, hKv: 1, d: 576, seqlens: [20000], dtype: 'bf16', fp8: true } },
  { label: 'bf16, h_q 1, 20000 tokens, K spread 2^±3', spec: { b: 1, sQ: 1, hQ: 1, hKv: 1, d: 576, seqlens: [20000], dtype: 'bf16', fp8: false, kSpread: 3 } },
  { label: 'bf16, h_q 1, 20000 tokens', spec: { b: 1, sQ: 1, hQ: 1, hKv: 1, d: 576, seqlens: [20000], dtype: 'bf16', fp8: false } },
];
// the cos diff without the early return of flashMlaClose on an element past its tolerance
function cosDiff(got, ref) {
  let sgr = 0, sum = 0, srr = 0, worst = 0;
  for (let i = 0; i < got.length; i++) {
    sgr += got[i] * ref[i]; sum += got[i] * got[i] + ref[i] * ref[i]; srr += ref[i] * ref[i];
    worst = Math.max(worst, Math.abs(got[i] - ref[i]));
  }
  return { cos: srr < 1e-12 ? 0 : 1 - (2 * sgr) / sum, worst };
}
for (const { label, spec } of SHAPES) {
  const cos = [];
  let worst = 0;
  for (let k = 0; k < seeds; k++) {
    const p = makeDenseProblem({ ...spec, seed: first + k, scale: 0.5 });
    const cpu = denseTensors(p);
    const kCache = spec.fp8 ? nanPaddedFp8Cache(p, 'cuda') : cpu.kCache.to('cuda');
    const gpu = { q: nanPaddedQ(p, 'cuda'), kCache, blockTable: cpu.blockTable.to('cuda'), cacheSeqlens: cpu.cacheSeqlens.to('cuda') };
    const rows = spec.sQ * spec.hQ;
    const md = getMlaMetadata(gpu.cacheSeqlens, rows, 1);
    const mdH = getMlaMetadata(cpu.cacheSeqlens, rows, 1, { smCount: md.tileSchedulerMetadata.shape[0] * Math.ceil(rows / 64) });
    const opts = { isFp8KvCache: spec.fp8 };
    const got = flashMlaWithKvcache(gpu.q, gpu.kCache, gpu.blockTable, gpu.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, { ...opts, kernel: 'hopper' });
    const want = flashMlaWithKvcache(cpu.q, cpu.kCache, cpu.blockTable, cpu.cacheSeqlens, 512, mdH.tileSchedulerMetadata, mdH.numSplits, opts);
    const r = cosDiff(got.out.toFloat32(), want.out.toFloat32());
    cos.push(r.cos);
    worst = Math.max(worst, r.worst);
  }
  cos.sort((a, b) => a - b);
  const over = cos.filter((c) => c > 5e-6).length;
  console.log(`${label}: cos diff median ${cos[cos.length >> 1].toExponential(2)}, max ${cos[cos.length - 1].toExponential(2)}, ${over}/${seeds} over 5e-6; worst |err| ${worst.toExponential(2)}`);
}
