// The PTX path's host side without a GPU: the fake libcuda.so.1 of test/util/fake-cuda.c (compiled with the host C
// compiler) stands in for the driver of a compute-capability-12.0 GPU with 99 KB of shared memory, with the real PTX
// of dist/kernels. Checks the cuModuleLoadDataEx marshalling (NUL-terminated PTX text, log buffers and sizes, verbose flag, wall time read back), PtxJitError with
// the JIT's error log, and that loadKernel() takes PTX where the selection says so. The real JIT is exercised by
// test/portable-gpu.test.ts on a GPU.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildFakeCuda, fakeCudaEnv, fakeCudaSkipReason } from './util/fake-cuda.js';
import { MLA_DECODE_PARAMS_BYTES } from '../src/cuda/params.js';

const kernelDir = fileURLToPath(new URL('../../dist/kernels/', import.meta.url));
const ptxFile = `${kernelDir}mla_combine.compute_80.ptx`;
let skip: string | false = fakeCudaSkipReason();
if (!skip) {
  try {
    statSync(ptxFile);
  } catch {
    skip = `${ptxFile} is not built (nvcc absent: the build skipped the kernels)`;
  }
}

const SCRIPT = (dist: string) => `
import { readFileSync } from 'node:fs';
const { Module } = await import('${dist}src/cuda/runtime.js');
const { loadKernel, loadedModules, getCudaContext, kernelSelection, portableArchs } = await import('${dist}src/cuda/context.js');
const { PtxJitError } = await import('${dist}src/errors.js');
const out = {};
const { device } = getCudaContext();
const sel = kernelSelection(device);
out.decodeKernels = sel.decodeKernels;
out.portableArchs = portableArchs(device);
const m = Module.loadPtx('.version 8.0\\n.target sm_80\\n.address_size 64\\n', 'tiny');
out.tiny = { jitMs: m.jitMs, jitLog: m.jitLog };
try {
  Module.loadPtx('.visible .entry broken() { not_an_instruction.b32 %r1; }', 'broken (test)');
  out.broken = 'no error';
} catch (e) {
  out.broken = { isPtxJitError: e instanceof PtxJitError, name: e.name, code: e.code, codeName: e.codeName, call: e.call, log: e.log, message: e.message };
}
const k = loadKernel('mla_combine', portableArchs(device), 'mla_combine_w1_c1_bf16', ['bytes']);
out.paramSizes = k.paramSizes;
out.loaded = loadedModules().map((x) => ({ file: x.file, form: x.form, path: x.path, jitMs: x.jitMs, jitLog: x.jitLog }));
console.log(JSON.stringify(out));
`;

test('PTX JIT through cuModuleLoadDataEx against a fake sm_120 driver: logs, wall time, PtxJitError, loadKernel picks PTX', { skip }, () => {
  const fake = buildFakeCuda();
  const dir = mkdtempSync(join(tmpdir(), 'flash-mla-jit-'));
  const dist = fileURLToPath(new URL('../../dist/', import.meta.url));
  writeFileSync(join(dir, 'run.mjs'), SCRIPT(dist));
  // an sm_120 part with 99 KB of shared memory per block, on which nothing may load a cubin
  const env = fakeCudaEnv(fake, {
    FAKE_CUDA_CC: '12.0', FAKE_CUDA_SMS: '170', FAKE_CUDA_SMEM_OPTIN: '101376', FAKE_CUDA_L2: String(96 << 20), FAKE_CUDA_NAME: 'Fake sm_120 GPU',
    FAKE_CUDA_FAULTS: 'cuModuleLoadData@1+=CUDA_ERROR_UNKNOWN', FLASH_MLA_KERNEL_DIR: kernelDir,
  });
  const r = spawnSync(process.execPath, [join(dir, 'run.mjs')], { encoding: 'utf8', env });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.deepEqual(out.decodeKernels, ['generic-small']);
  assert.deepEqual(out.portableArchs, []);
  // success: the info log and its size came back, the verbose flag went in, the wall time was read as a float
  assert.equal(out.tiny.jitMs, 12.5);
  assert.match(out.tiny.jitLog, /^fake JIT: 44 bytes of PTX text, verbose=1\n/); // '.version 8.0\n.target sm_80\n.address_size 64\n'
  // failure: a typed error with the JIT's log
  assert.equal(out.broken.isPtxJitError, true, JSON.stringify(out.broken));
  assert.deepEqual([out.broken.name, out.broken.code, out.broken.codeName, out.broken.call], ['PtxJitError', 218, 'CUDA_ERROR_INVALID_PTX', 'cuModuleLoadDataEx']);
  assert.match(out.broken.log, /Not a name of any known instruction: 'not_an_instruction'/);
  assert.match(out.broken.message, /^the driver's JIT could not compile broken \(test\): CUDA_ERROR_INVALID_PTX \(218\): a PTX JIT compilation failed\nJIT error log:\nptxas application ptx input/);
  // loadKernel on this device: the combine kernel from its PTX, the whole file as one NUL-terminated string
  assert.deepEqual(out.paramSizes, [MLA_DECODE_PARAMS_BYTES]);
  assert.equal(out.loaded.length, 1);
  assert.equal(out.loaded[0].form, 'ptx');
  assert.equal(out.loaded[0].path, ptxFile);
  assert.match(out.loaded[0].jitLog, new RegExp(`^fake JIT: ${statSync(ptxFile).size} bytes of PTX text`));
});
