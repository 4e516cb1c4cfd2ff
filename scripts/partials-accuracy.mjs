// How close 'hopper''s outputs stay to the oracle (FlashMLA's cos diff, the worst element's error) on shapes where
// one request is split over every SM part, over many seeds: the accuracy side of the split partials' format (perf
// log, session 47; test/util/split-accuracy.ts). Run on a GPU from the project root after `npm run build`:
//   node scripts/partials-accuracy.mjs [seeds] [first seed]
// FLASH_MLA_KERNEL_DIR with FLASH_MLA_EXPERIMENT_PARTIALS=fp32 (src/cuda/params.ts) runs a build with fp32 partials.
import { SPLIT_ROW_SHAPES, splitRowAccuracy } from '../dist/test/util/split-accuracy.js';

const seeds = Number(process.argv[2] ?? 12), first = Number(process.argv[3] ?? 1177623575);
for (const shape of SPLIT_ROW_SHAPES) {
  const { cos, worst } = splitRowAccuracy(shape, seeds, first);
  const over = cos.filter((c) => c > 5e-6).length;
  console.log(`${shape.label}: cos diff median ${cos[cos.length >> 1].toExponential(2)}, max ${cos[cos.length - 1].toExponential(2)}, ${over}/${seeds} over 5e-6; worst |err| ${worst.toExponential(2)}`);
}
