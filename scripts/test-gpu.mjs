#!/usr/bin/env node
// `npm run test:gpu`: the whole suite on a machine with a GPU, failing if none is found (FLASH_MLA_REQUIRE_GPU=1).
// The files whose tests touch the device (those that ask test/util/problem.ts's gpuSkipReason) run one at a time, so
// their timings and memory are their own; the rest (cpu, kernel emulator, fake driver) run side by side, as many as
// the machine has cores — one file at a time they took ~190 s of an H100 machine's 16 cores before a GPU test began.
// Then the decode-loop example, eager and through a CUDA graph (its defaults: the metadata from the host, packed where the
// batch can pack), and through a graph with the metadata kernel in packed order.
// Every part runs; the exit status fails if any did.
// Usage: node scripts/test-gpu.mjs [--gpu-only] [--skip FILE]… [--list]
//   --gpu-only   the GPU files and the examples only (`npm test` runs the rest on any machine)
//   --skip FILE  leave out that test file (e.g. readme-examples.test.js on a machine without the dev dependencies:
//                it type-checks the README with typescript; scripts/device-next.sh runs its blocks another way)
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const testDir = join(root, 'dist', 'test');
const args = new Set();
const skip = new Set();
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--skip' && i + 1 < process.argv.length) skip.add(process.argv[++i]);
  else if (a === '--gpu-only' || a === '--list') args.add(a);
  else { console.error(`test-gpu: unknown argument '${a}' (expected --gpu-only, --skip FILE or --list)`); process.exit(2); }
}

let files;
try {
  files = readdirSync(testDir).filter((f) => f.endsWith('.test.js')).sort();
} catch {
  console.error(`test-gpu: no compiled tests in ${testDir}; run npm run build first`);
  process.exit(2);
}
if (files.length === 0) { console.error(`test-gpu: no *.test.js in ${testDir}`); process.exit(2); }
for (const f of skip) if (!files.includes(f)) { console.error(`test-gpu: --skip ${f}: no such test file in ${testDir}`); process.exit(2); }
files = files.filter((f) => !skip.has(f));
const gpuFiles = files.filter((f) => /\bgpuSkipReason\b/.test(readFileSync(join(testDir, f), 'utf8')));
const otherFiles = args.has('--gpu-only') ? [] : files.filter((f) => !gpuFiles.includes(f));
if (args.has('--list')) {
  console.log(`one at a time (GPU): ${gpuFiles.join(' ')}\nside by side: ${otherFiles.join(' ')}`);
  process.exit(0);
}

const env = { ...process.env, FLASH_MLA_REQUIRE_GPU: '1' };
const failed = [];
function run(label, cmd, cmdArgs) {
  const t0 = Date.now();
  console.log(`\n== test-gpu: ${label}`);
  const r = spawnSync(cmd, cmdArgs, { cwd: root, env, stdio: 'inherit' });
  const ok = r.status === 0;
  console.log(`== test-gpu: ${label}: ${ok ? 'ok' : r.error ? `failed to start (${r.error.message})` : `exit ${r.status ?? r.signal}`} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  if (!ok) failed.push(label);
}
const node = process.execPath;
const nodeTest = (conc, list) => ['--test', '--test-reporter=spec', `--test-concurrency=${conc}`, ...list.map((f) => join('dist', 'test', f))];
if (otherFiles.length > 0) {
  const conc = Math.max(2, Math.min(8, availableParallelism()));
  run(`${otherFiles.length} files without the GPU, ${conc} at a time`, node, nodeTest(conc, otherFiles));
}
run(`${gpuFiles.length} GPU files, one at a time`, node, nodeTest(1, gpuFiles));
run('decode-loop example (eager)', node, [join('dist', 'examples', 'decode-loop.js'), '--backend', 'cuda']);
run('decode-loop example (CUDA graph)', node, [join('dist', 'examples', 'decode-loop.js'), '--backend', 'cuda', '--graph']);
run('decode-loop example (CUDA graph, the metadata kernel, packed order)', node, [join('dist', 'examples', 'decode-loop.js'), '--backend', 'cuda', '--graph', '--metadata', 'device', '--pack-order']);
console.log(failed.length === 0 ? '\ntest-gpu: all parts passed' : `\ntest-gpu: failed: ${failed.join('; ')}`);
process.exit(failed.length === 0 ? 0 : 1);
