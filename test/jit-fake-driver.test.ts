// The PTX path's host side without a GPU: a fake libcuda.so.1 (compiled here with the host C compiler) stands in
// for the driver of a compute-capability-12.0 GPU with 99 KB of shared memory. Checks the cuModuleLoadDataEx
// marshalling (NUL-terminated PTX text, log buffers and sizes, verbose flag, wall time read back), PtxJitError with
// the JIT's error log, and that loadKernel() takes PTX where the selection says so. The real JIT is exercised by
// test/portable-gpu.test.ts on a GPU.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const cc = ['cc', 'gcc', 'clang'].find((c) => spawnSync(c, ['--version']).status === 0);
const kernelDir = fileURLToPath(new URL('../../dist/kernels/', import.meta.url));
const ptxFile = `${kernelDir}mla_combine.compute_80.ptx`;
let skip: string | false = false;
if (!cc) skip = 'no C compiler on PATH (cc, gcc or clang) to build the fake libcuda';
else if (process.platform !== 'linux') skip = 'the cuda backend is Linux only';
else {
  try {
    statSync(ptxFile);
  } catch {
    skip = `${ptxFile} is not built (nvcc absent: the build skipped the kernels)`;
  }
}

const FAKE_LIBCUDA = String.raw`
#include <stdint.h>
#include <stdio.h>
#include <string.h>
typedef int CUresult;
CUresult cuInit(unsigned f) { return 0; }
CUresult cuDriverGetVersion(int *v) { *v = 13000; return 0; }
CUresult cuDeviceGetCount(int *c) { *c = 1; return 0; }
CUresult cuDeviceGet(int *d, int o) { *d = 0; return 0; }
CUresult cuDeviceGetName(char *n, int len, int d) { snprintf(n, len, "Fake sm_120 GPU"); return 0; }
CUresult cuDeviceTotalMem_v2(size_t *b, int d) { *b = (size_t)1 << 34; return 0; }
CUresult cuDeviceGetAttribute(int *v, int a, int d) {
  switch (a) {
    case 16: *v = 170; break;      /* SMs */
    case 75: *v = 12; break;       /* cc major */
    case 76: *v = 0; break;        /* cc minor */
    case 38: *v = 96 << 20; break; /* L2 */
    case 97: *v = 101376; break;   /* opt-in smem per block */
    default: *v = 0;
  }
  return 0;
}
CUresult cuDevicePrimaryCtxRetain(void **c, int d) { *c = (void *)0x1000; return 0; }
CUresult cuCtxSetCurrent(void *c) { return 0; }
CUresult cuStreamCreate(void **s, unsigned f) { *s = (void *)0x2000; return 0; }
CUresult cuGetErrorName(int e, const char **s) { *s = e == 218 ? "CUDA_ERROR_INVALID_PTX" : "CUDA_ERROR_UNKNOWN"; return 0; }
CUresult cuGetErrorString(int e, const char **s) { *s = "a PTX JIT compilation failed"; return 0; }
CUresult cuModuleLoadData(void **m, const void *image) { return 999; } /* cubins must not be loaded here */
CUresult cuModuleLoadDataEx(void **m, const void *image, unsigned n, int *opts, void **vals) {
  const char *ptx = (const char *)image;
  char *err = 0, *info = 0;
  int err_sz = -1, info_sz = -1, verbose = 0, wall = -1;
  for (unsigned i = 0; i < n; i++) {
    switch (opts[i]) {
      case 5: err = (char *)vals[i]; break;
      case 6: err_sz = (int)i; break;
      case 3: info = (char *)vals[i]; break;
      case 4: info_sz = (int)i; break;
      case 12: verbose = (int)(uintptr_t)vals[i]; break;
      case 2: wall = (int)i; break;
    }
  }
  if (!err || !info || err_sz < 0 || info_sz < 0 || wall < 0) return 1; /* CUDA_ERROR_INVALID_VALUE */
  unsigned err_cap = (unsigned)(uintptr_t)vals[err_sz], info_cap = (unsigned)(uintptr_t)vals[info_sz];
  float ms = 12.5f;
  vals[wall] = 0;
  memcpy(&vals[wall], &ms, sizeof ms);
  if (strstr(ptx, "not_an_instruction")) {
    int k = snprintf(err, err_cap, "ptxas application ptx input, line 5; error   : Not a name of any known instruction: 'not_an_instruction'");
    vals[err_sz] = (void *)(uintptr_t)(k + 1);
    vals[info_sz] = 0;
    return 218;
  }
  int k = snprintf(info, info_cap, "fake JIT: %zu bytes of PTX text, verbose=%d\nptxas info    : Used 42 registers, 0 bytes spill stores, 0 bytes spill loads", strlen(ptx), verbose);
  vals[info_sz] = (void *)(uintptr_t)(k + 1);
  vals[err_sz] = 0;
  *m = (void *)0x3000;
  return 0;
}
CUresult cuModuleGetFunction(void **f, void *m, const char *name) { *f = (void *)0x4000; return 0; }
CUresult cuFuncGetParamInfo(void *f, size_t i, size_t *off, size_t *size) { *off = 0; *size = 160; return 0; }
`;

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
const k = loadKernel('mla_combine', portableArchs(device), 'mla_combine_bf16', ['bytes']);
out.paramSizes = k.paramSizes;
out.loaded = loadedModules().map((x) => ({ file: x.file, form: x.form, path: x.path, jitMs: x.jitMs, jitLog: x.jitLog }));
console.log(JSON.stringify(out));
`;

test('PTX JIT through cuModuleLoadDataEx against a fake sm_120 driver: logs, wall time, PtxJitError, loadKernel picks PTX', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'flash-mla-fake-cuda-'));
  writeFileSync(join(dir, 'fake.c'), FAKE_LIBCUDA);
  const lib = join(dir, 'libcuda.so.1');
  const b = spawnSync(cc!, ['-shared', '-fPIC', '-O1', '-o', lib, join(dir, 'fake.c')], { encoding: 'utf8' });
  assert.equal(b.status, 0, b.stderr);
  const dist = fileURLToPath(new URL('../../dist/', import.meta.url));
  writeFileSync(join(dir, 'run.mjs'), SCRIPT(dist));
  const env = { ...process.env, FLASH_MLA_LIBCUDA: lib, FLASH_MLA_DISABLE_CUDA: '', FLASH_MLA_FORCE_PTX: '', FLASH_MLA_DECODE_KERNEL: '', FLASH_MLA_KERNEL_DIR: kernelDir };
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
  assert.deepEqual(out.paramSizes, [160]);
  assert.equal(out.loaded.length, 1);
  assert.equal(out.loaded[0].form, 'ptx');
  assert.equal(out.loaded[0].path, ptxFile);
  assert.match(out.loaded[0].jitLog, new RegExp(`^fake JIT: ${statSync(ptxFile).size} bytes of PTX text`));
});
