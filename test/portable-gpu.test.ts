// The PTX path and kernel selection on a real GPU: the driver's JIT compiles every shipped compute_80 PTX for this
// device (no spills in its log), a broken PTX fails with PtxJitError carrying the JIT log, and a decode loads the
// binaries the selection names (under FLASH_MLA_FORCE_PTX=1: PTX; FLASH_MLA_DECODE_KERNEL=…: that kernel).
// Skipped without a GPU. Run it under each forced path (README "Compatibility": what the GPU session runs).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CudaError, PtxJitError, flashMlaWithKvcache, getBackend, getMlaMetadata } from '../src/index.js';
import { gpuSkipReason, compare, freshSeed, makePagedProblem, pagedProblemTensors, referenceAll } from './util/problem.js';
import { KERNEL_ENTRIES } from './util/devices.js';

const skip = await gpuSkipReason();

test('the driver JIT compiles every shipped PTX for this GPU, every entry point resolves, no spills', { skip }, async () => {
  const { getCudaContext, kernelDir } = await import('../src/cuda/context.js');
  const { KERNEL_BUILDS } = await import('../src/cuda/kernels.js');
  const { Module } = await import('../src/cuda/runtime.js');
  const { device } = getCudaContext();
  const cc = `${device.info.computeCapability.major}.${device.info.computeCapability.minor}`;
  for (const b of Object.values(KERNEL_BUILDS).filter((x) => x.ptx !== null)) {
    const path = `${kernelDir()}${b.file}.${b.ptx}.ptx`;
    const m = Module.loadPtx(readFileSync(path), `${b.file} (test)`);
    for (const e of KERNEL_ENTRIES[b.file]) assert.ok(m.getFunction(e) !== 0n, `${b.file}: ${e}`);
    const log = (m.jitLog ?? '').split('\n').filter((l) => /registers|spill|stack/i.test(l));
    console.log(`  ${b.file}.${b.ptx}.ptx → cc ${cc}: JIT ${m.jitMs?.toFixed(0)} ms${log.length ? `\n    ${log.join('\n    ')}` : ' (no resource lines in the JIT log)'}`);
    for (const l of log.filter((x) => /spill/.test(x))) assert.match(l, /\b0 bytes spill stores, 0 bytes spill loads/, `${b.file}: ${l}`);
  }
});

test('a PTX the driver cannot compile fails with PtxJitError and the JIT error log', { skip }, async () => {
  const { getCudaContext } = await import('../src/cuda/context.js');
  const { Module } = await import('../src/cuda/runtime.js');
  getCudaContext();
  const bad = '.version 8.0\n.target sm_80\n.address_size 64\n.visible .entry broken() {\n  not_an_instruction.b32 %r1;\n  ret;\n}\n';
  assert.throws(
    () => Module.loadPtx(bad, 'broken (test)'),
    (e: unknown) => {
      assert.ok(e instanceof PtxJitError && e instanceof CudaError, String(e));
      assert.equal(e.call, 'cuModuleLoadDataEx');
      assert.equal(e.codeName, 'CUDA_ERROR_INVALID_PTX');
      assert.ok(e.log.length > 0, 'empty JIT error log');
      assert.match(e.message, /the driver's JIT could not compile broken \(test\): CUDA_ERROR_INVALID_PTX/);
      assert.match(e.message, /JIT error log:\n/);
      console.log(`  ${e.message.split('\n').join('\n  ')}`);
      return true;
    },
  );
});

test('a decode loads the binaries the selection names (cubin or PTX), with PDL as the selection says', { skip }, async () => {
  const { getCudaContext, kernelSelection, loadedModules, pdlEnabled } = await import('../src/cuda/context.js');
  const { device } = getCudaContext();
  const sel = kernelSelection(device);
  assert.deepEqual(getBackend('cuda').decodeKernels(), sel.decodeKernels);
  assert.equal(pdlEnabled(device), sel.pdl);
  console.log(`  ${device.info.name}: ${sel.decodeKernels.join(', ')}; portable kernels as ${sel.portableForm}; PDL ${sel.pdl ? 'on' : 'off'}`);
  const seed = freshSeed();
  const p = makePagedProblem({ b: 3, sQ: 2, hQ: 16, seqlens: [1, 130, 700], seed, dtype: 'bf16' });
  const t = pagedProblemTensors(p, 'cuda');
  const ref = referenceAll(p, true);
  for (const kernel of sel.decodeKernels) {
    const md = getMlaMetadata(t.cacheSeqlens, 2 * 16, 1, { smCount: 4 });
    const { out } = flashMlaWithKvcache(t.q, t.kCache, t.blockTable, t.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, { causal: true, kernel });
    const c = compare(`cuda ${kernel} out`, out.toFloat32(), ref.out, 'bf16', { seed });
    assert.ok(c.ok, c.message);
    const d = sel.decode.find((x) => x.name === kernel)!;
    const mod = loadedModules().find((m) => m.file === d.file);
    assert.ok(mod, `${kernel}: ${d.file} was not loaded`);
    assert.equal(mod.form, d.binary.form, `${kernel}: loaded as ${mod.form}, the selection says ${d.binary.form}`);
    assert.ok(mod.path.endsWith(d.binary.artifact!), `${kernel}: loaded ${mod.path}, the selection says ${d.binary.artifact}`);
  }
  for (const s of sel.support.filter((x) => x.file !== 'append_kv')) {
    const mod = loadedModules().find((m) => m.file === s.file);
    assert.ok(mod && mod.form === s.form && mod.path.endsWith(s.artifact!), `${s.file}: loaded ${mod?.path}, the selection says ${s.artifact}`);
  }
  for (const m of loadedModules()) console.log(`  loaded ${m.file} as ${m.form}${m.jitMs !== undefined ? ` (JIT ${m.jitMs.toFixed(0)} ms)` : ''}`);
  t.dispose();
});
