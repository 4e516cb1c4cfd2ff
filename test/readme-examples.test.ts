// Every TypeScript block of the README is a whole program a user can paste: it imports what it uses from
// 'flash-mla', type-checks under this project's compiler settings (strict) against the built package, and runs:
// - on the cpu backend (the blocks written for backend 'cuda' with 'cpu' in its place; not the CUDA-graph one);
// - as written against the fake CUDA driver of an H200 with the kernel emulator (test/util/fake-cuda.ts: the
//   metadata, decode and combine kernels run on the host), so the 'cuda' blocks' host side — allocations, value
//   checks, launches, the graph capture and replays — runs without a GPU;
// - as written on a GPU, when there is one.
//
// The blocks are written to dist/readme-examples/ (inside the package, so that 'flash-mla' resolves to the build
// through package.json's "exports", as it does for a user) and each runs in its own node process.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { gpuSkipReason } from './util/problem.js';
import { namesCuda, readmeBlocks, toJavaScript, type ReadmeBlock } from './util/readme-examples.js';
import { buildFakeCuda, fakeCudaEnv, fakeCudaSkipReason, type FakeCuda } from './util/fake-cuda.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = join(root, 'dist', 'readme-examples');

const blocks = readmeBlocks(root);
const name = (b: ReadmeBlock) => `README line ${b.line}`;
const needsDevice = (b: ReadmeBlock) => /\bcaptureGraph\b/.test(b.code); // a graph is captured on a CUDA stream
/** The block as run without a GPU: its 'cuda' backend replaced by 'cpu' (the API is the same on both). */
const onCpu = (b: ReadmeBlock) => b.code.replace(/'cuda'/g, "'cpu'");

test('the README has TypeScript examples, each importing from the package', () => {
  assert.ok(blocks.length >= 7, `expected the README's 7 examples (API, graphs, paged cache, FP8, sparse, layouts), found ${blocks.length}`);
  for (const b of blocks) assert.match(b.code, /^import \{[^}]+\} from 'flash-mla';$/m, `${name(b)}: a README example imports what it uses from 'flash-mla'`);
});

test('every README example type-checks (strict) against the built package', () => {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const files = blocks.map((b) => {
    const f = join(dir, `line-${b.line}.ts`);
    writeFileSync(f, b.code);
    return f;
  });
  const config = ts.readConfigFile(join(root, 'tsconfig.json'), (p) => readFileSync(p, 'utf8'));
  const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, root);
  const program = ts.createProgram(files, { ...options, noEmit: true, declaration: false, sourceMap: false });
  const problems = ts.getPreEmitDiagnostics(program).map((d) => {
    const msg = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (!d.file || d.start === undefined) return msg;
    const { line } = d.file.getLineAndCharacterOfPosition(d.start);
    const m = /line-(\d+)\.ts$/.exec(d.file.fileName);
    // README line of the error: the fence's line + 1 + the line within the block
    return m ? `README line ${Number(m[1]) + 1 + line}: ${msg}` : `${d.file.fileName}:${line + 1}: ${msg}`;
  });
  assert.deepEqual(problems, []);
});

/** Transpile a block to JavaScript (types stripped), write it beside the package and run it in a fresh node. */
function run(b: ReadmeBlock, code: string, tag: string, env: NodeJS.ProcessEnv = process.env): void {
  mkdirSync(dir, { recursive: true });
  const js = toJavaScript(code);
  const f = join(dir, `line-${b.line}-${tag}.js`);
  writeFileSync(f, js);
  const r = spawnSync(process.execPath, [f], { encoding: 'utf8', timeout: 120_000, env });
  assert.equal(r.status, 0, `${name(b)} (${tag}) exited ${r.status}${r.signal ? ` (${r.signal})` : ''}:\n${r.stderr}`);
}

for (const b of blocks) {
  const cpuSkip = needsDevice(b) ? 'needs a CUDA device (type-checked above, run on the fake H200 below)' : false;
  test(`${name(b)} runs on the cpu backend`, { skip: cpuSkip }, () => run(b, onCpu(b), 'cpu'));
}

const cudaBlocks = blocks.filter(namesCuda);
const fakeSkip = fakeCudaSkipReason({ emulate: true });
let fake: FakeCuda | undefined;
/** An H200 as the fake driver describes it: its compute capability, SMs and opt-in shared memory per block. */
const fakeH200 = () => ({ FAKE_CUDA_CC: '9.0', FAKE_CUDA_SMS: '132', FAKE_CUDA_SMEM_OPTIN: '232448', FAKE_CUDA_NAME: 'NVIDIA H200', FAKE_CUDA_MEM_BYTES: String(2 ** 31) });
for (const b of cudaBlocks) {
  test(`${name(b)} runs as written on a fake H200 (emulated kernels)`, { skip: fakeSkip }, () => {
    fake ??= buildFakeCuda({ emulate: true });
    run(b, b.code, 'fake-h200', fakeCudaEnv(fake, fakeH200()));
  });
}

const gpuSkip = await gpuSkipReason();
for (const b of blocks) {
  const skip = gpuSkip || (!cudaBlocks.includes(b) ? 'written for the default backend (run above)' : false);
  test(`${name(b)} runs as written on the GPU`, { skip }, () => run(b, b.code, 'cuda'));
}
