// Kernel selection (src/cuda/kernels.ts) on fake devices: which decode kernels run, in which binary form (cubin or
// PTX through the driver's JIT), with or without PDL, and what the environment forces. No GPU needed. Also: the
// README's compatibility table says what selectKernels() says, and `flash-mla info --assume` prints it.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  DECODE_KERNELS, FP8_HOPPER_KERNEL, FP8_SPARSE_HOPPER_KERNEL, KERNEL_BUILDS, LAYOUT_DECODE_KERNELS, chooseBinary, cubinRuns, ptxRuns, selectKernels, selectOptionsFromEnv, SMALL_ROW_HOPPER_KERNEL, smallRowEntry, type KernelSelection,
} from '../src/cuda/kernels.js';
import { COMPAT_TABLE_DEVICES, FAKE_DEVICES, fakeDevice as dev } from './util/devices.js';

const forms = (sel: KernelSelection) => Object.fromEntries([...sel.decode.filter((d) => d.runnable).map((d) => [d.name, d.binary.artifact]), ...sel.support.map((s) => [s.file, s.artifact])]);

describe('binary rules', () => {
  test('a cubin runs within its major, minor ≥ its own; sm_90a only on 9.0', () => {
    assert.ok(cubinRuns('sm_80', FAKE_DEVICES.A10));
    assert.ok(cubinRuns('sm_80', FAKE_DEVICES.L4));
    assert.ok(!cubinRuns('sm_90', FAKE_DEVICES.A100));
    assert.ok(!cubinRuns('sm_80', FAKE_DEVICES.H100));
    assert.ok(!cubinRuns('sm_90', FAKE_DEVICES.B200));
    assert.ok(cubinRuns('sm_90a', FAKE_DEVICES.H200));
    assert.ok(!cubinRuns('sm_90a', dev('x', '9.1', 232448)));
  });
  test('compute_80 PTX JITs for every compute capability ≥ 8.0', () => {
    for (const d of [FAKE_DEVICES.A100, FAKE_DEVICES.A10, FAKE_DEVICES.H100, FAKE_DEVICES.B200, FAKE_DEVICES.RTX5090, dev('future', '13.0', 1 << 20)]) assert.ok(ptxRuns('compute_80', d), d.name);
    assert.ok(!ptxRuns('compute_80', FAKE_DEVICES.T4));
  });
  test('the highest matching cubin wins; FLASH_MLA_FORCE_PTX takes PTX where there is one, never where there is none', () => {
    assert.equal(chooseBinary(KERNEL_BUILDS.mla_combine, FAKE_DEVICES.H100).artifact, 'mla_combine.sm_90.cubin');
    assert.equal(chooseBinary(KERNEL_BUILDS.mla_combine, FAKE_DEVICES.H100, { forcePtx: true }).artifact, 'mla_combine.compute_80.ptx');
    const hopper = chooseBinary(KERNEL_BUILDS.mla_decode_sm90, FAKE_DEVICES.H100, { forcePtx: true });
    assert.equal(hopper.artifact, 'mla_decode_sm90.sm_90a.cubin');
    assert.match(hopper.reason, /ships no PTX/);
    assert.equal(chooseBinary(KERNEL_BUILDS.tc_peak, FAKE_DEVICES.B200).form, null);
  });
});

describe('selectKernels on fake devices', () => {
  test('A100 (sm_80, 163 KB): generic then generic-small, sm_80 cubins, no PDL', () => {
    const s = selectKernels(FAKE_DEVICES.A100);
    assert.deepEqual(s.decodeKernels, ['generic', 'generic-small']);
    assert.equal(s.portableForm, 'cubin');
    assert.equal(s.pdl, false);
    assert.deepEqual(forms(s), {
      generic: 'mla_decode_generic.sm_80.cubin', 'generic-small': 'mla_decode_generic_small.sm_80.cubin',
      mla_metadata: 'mla_metadata.sm_80.cubin', mla_combine: 'mla_combine.sm_80.cubin', append_kv: 'append_kv.sm_80.cubin',
    });
    assert.match(s.decode[0].reason, /sm_90a/);
  });
  for (const name of ['A10', 'L4'] as const) {
    test(`${name} (${FAKE_DEVICES[name].computeCapability.major}.${FAKE_DEVICES[name].computeCapability.minor}, 99 KB): generic-small only, as sm_80 cubins`, () => {
      const s = selectKernels(FAKE_DEVICES[name]);
      assert.deepEqual(s.decodeKernels, ['generic-small']);
      assert.equal(s.decode.find((d) => d.name === 'generic-small')!.binary.artifact, 'mla_decode_generic_small.sm_80.cubin');
      assert.match(s.decode.find((d) => d.name === 'generic')!.reason, /needs 155648 B of shared memory per block, the device allows 101376 B/);
      assert.equal(s.portableForm, 'cubin');
      assert.match(s.support[0].reason, /sm_80 code runs on compute capability 8\.x/);
    });
  }
  for (const name of ['H100', 'H200'] as const) {
    test(`${name} (sm_90): hopper, generic, generic-small; sm_90a + sm_90 cubins; PDL on`, () => {
      const s = selectKernels(FAKE_DEVICES[name]);
      assert.deepEqual(s.decodeKernels, ['hopper', 'generic', 'generic-small']);
      assert.deepEqual(forms(s), {
        hopper: 'mla_decode_sm90.sm_90a.cubin', generic: 'mla_decode_generic.sm_90.cubin', 'generic-small': 'mla_decode_generic_small.sm_90.cubin',
        mla_metadata: 'mla_metadata.sm_90.cubin', mla_combine: 'mla_combine.sm_90.cubin', append_kv: 'append_kv.sm_90.cubin',
      });
      assert.equal(s.pdl, true);
      assert.deepEqual(s.problems, []);
    });
  }
  test('B200 (sm_100, 227 KB): generic then generic-small from compute_80 PTX; no PDL (the PTX has no griddepcontrol)', () => {
    const s = selectKernels(FAKE_DEVICES.B200);
    assert.deepEqual(s.decodeKernels, ['generic', 'generic-small']);
    assert.equal(s.portableForm, 'ptx');
    assert.equal(s.pdl, false);
    for (const a of Object.values(forms(s))) assert.match(a as string, /\.compute_80\.ptx$/);
    assert.match(s.decode[0].reason, /only built for sm_90a/);
    assert.match(s.support[0].reason, /no cubin for sm_100/);
  });
  test('RTX 5090 (sm_120, 99 KB): generic-small from PTX', () => {
    const s = selectKernels(FAKE_DEVICES.RTX5090);
    assert.deepEqual(s.decodeKernels, ['generic-small']);
    assert.equal(s.decode[2].binary.artifact, 'mla_decode_generic_small.compute_80.ptx');
    assert.equal(s.pdl, false);
  });
  test('T4 (sm_75): nothing runs, and each kernel says why', () => {
    const s = selectKernels(FAKE_DEVICES.T4);
    assert.deepEqual(s.decodeKernels, []);
    assert.equal(s.portableForm, null);
    for (const d of s.decode) assert.match(d.reason, /nothing runs on compute capability 7\.5/);
  });
});

describe("the other layouts' kernels (h_kv > 1 or d_qk 512; the FP8 cache): the 'generic' family's own files", () => {
  const layoutForms = (sel: KernelSelection) => Object.fromEntries(sel.layouts.map((l) => [l.file, l.runnable ? l.binary.artifact : null]));
  test('one entry each, with the shared memory of kernels/mla_config.h (the larger d_qk variant for the layout kernel)', () => {
    assert.deepEqual(LAYOUT_DECODE_KERNELS.map((k) => [k.file, k.sharedBytes]), [['mla_decode_generic_layout', 155648], ['mla_decode_fp8', 160512]]);
  });
  test('H200: sm_90 cubins, whatever FLASH_MLA_DECODE_KERNEL says; from PTX with FLASH_MLA_FORCE_PTX=1', () => {
    const want = { mla_decode_generic_layout: 'mla_decode_generic_layout.sm_90.cubin', mla_decode_fp8: 'mla_decode_fp8.sm_90.cubin' };
    assert.deepEqual(layoutForms(selectKernels(FAKE_DEVICES.H200)), want);
    for (const decodeKernel of ['hopper', 'generic-small']) assert.deepEqual(layoutForms(selectKernels(FAKE_DEVICES.H200, { decodeKernel })), want, decodeKernel);
    assert.deepEqual(layoutForms(selectKernels(FAKE_DEVICES.H200, { forcePtx: true })), {
      mla_decode_generic_layout: 'mla_decode_generic_layout.compute_80.ptx', mla_decode_fp8: 'mla_decode_fp8.compute_80.ptx',
    });
  });
  test('A100: sm_80 cubins; B200: compute_80 PTX; the 99 KB parts and T4: none, each saying why', () => {
    assert.deepEqual(layoutForms(selectKernels(FAKE_DEVICES.A100)), { mla_decode_generic_layout: 'mla_decode_generic_layout.sm_80.cubin', mla_decode_fp8: 'mla_decode_fp8.sm_80.cubin' });
    assert.deepEqual(layoutForms(selectKernels(FAKE_DEVICES.B200)), { mla_decode_generic_layout: 'mla_decode_generic_layout.compute_80.ptx', mla_decode_fp8: 'mla_decode_fp8.compute_80.ptx' });
    for (const d of [FAKE_DEVICES.A10, FAKE_DEVICES.RTX5090]) {
      const s = selectKernels(d);
      assert.deepEqual(layoutForms(s), { mla_decode_generic_layout: null, mla_decode_fp8: null }, d.name);
      assert.match(s.layouts[0].reason, /needs 155648 B of shared memory per block, the device allows 101376 B/);
      assert.match(s.layouts[1].reason, /needs 160512 B of shared memory per block, the device allows 101376 B/);
    }
    for (const l of selectKernels(FAKE_DEVICES.T4).layouts) assert.match(l.reason, /nothing runs on compute capability 7\.5/);
  });
});

describe("the Hopper FP8 kernel (dense FP8 decode, bf16 q: kernel 'hopper', entry mla_decode_sm90_fp8_bf16)", () => {
  test('H100/H200: runs from the sm_90a cubin, first for those decodes; generic after it', () => {
    for (const d of [FAKE_DEVICES.H100, FAKE_DEVICES.H200]) {
      const s = selectKernels(d);
      assert.equal(s.fp8Hopper.runnable, true, s.fp8Hopper.reason);
      assert.equal(s.fp8Hopper.binary.artifact, 'mla_decode_sm90.sm_90a.cubin');
      assert.equal(s.fp8Hopper.reason, 'sm_90a cubin (entry mla_decode_sm90_fp8_bf16), 231872 B shared memory of 232448 B');
      assert.deepEqual(s.fp8DecodeKernels, ['hopper', 'generic']);
    }
  });
  test("elsewhere, or where 'hopper' is forced off or narrowed out: generic only, saying why", () => {
    for (const d of [FAKE_DEVICES.A100, FAKE_DEVICES.A10, FAKE_DEVICES.B200, FAKE_DEVICES.RTX5090, FAKE_DEVICES.T4]) {
      const s = selectKernels(d);
      assert.deepEqual([s.fp8Hopper.runnable, s.fp8DecodeKernels], [false, ['generic']], d.name);
      assert.equal(s.fp8Hopper.reason, s.decode[0].reason, d.name);
    }
    const ptx = selectKernels(FAKE_DEVICES.H200, { forcePtx: true });
    assert.deepEqual(ptx.fp8DecodeKernels, ['generic']);
    assert.match(ptx.fp8Hopper.reason, /FLASH_MLA_FORCE_PTX=1 and 'hopper' ships no PTX/);
    const narrowed = selectKernels(FAKE_DEVICES.H200, { decodeKernel: 'generic-small' });
    assert.deepEqual(narrowed.fp8DecodeKernels, ['generic']);
    assert.match(narrowed.fp8Hopper.reason, /FLASH_MLA_DECODE_KERNEL=generic-small selects another kernel/);
    assert.deepEqual(selectKernels(FAKE_DEVICES.H200, { decodeKernel: 'generic' }).fp8DecodeKernels, ['generic']);
    assert.deepEqual(selectKernels(FAKE_DEVICES.H200, { decodeKernel: 'hopper' }).fp8DecodeKernels, ['hopper', 'generic']);
    // sm_90 with room for the bf16 kernel (231 824 B) but not its FP8 variant (231 872 B)
    const tight = selectKernels(dev('tight', '9.0', 231840));
    assert.deepEqual([tight.decodeKernels[0], tight.fp8DecodeKernels], ['hopper', ['generic']]);
    assert.equal(tight.fp8Hopper.reason, 'needs 231872 B of shared memory per block, the device allows 231840 B');
  });
  test('its shared memory and threads are the header\'s (kernels/mla_config.h), its entry one of the Hopper cubin', () => {
    const h = readFileSync(`${root}kernels/mla_config.h`, 'utf8');
    assert.equal(FP8_HOPPER_KERNEL.sharedBytes, Number(/static_assert\(SM90_FP8_SMEM_BYTES == (\d+)/.exec(h)?.[1]));
    assert.equal(FP8_HOPPER_KERNEL.threads, 384);
    assert.equal(FP8_HOPPER_KERNEL.file, DECODE_KERNELS.find((k) => k.name === 'hopper')!.file);
    assert.match(readFileSync(`${root}kernels/mla_decode_sm90.cu`, 'utf8'), /__launch_bounds__\(SM90_FP8_THREADS, 1\)\s+mla_decode_sm90_fp8_bf16\(/);
  });
});

describe("the Hopper sparse FP8 kernel (sparse decode, bf16 q, any h_q: kernel 'hopper', entry mla_decode_sm90_fp8_sparse_bf16)", () => {
  test('H100/H200: runs from the sm_90a cubin, the default (then generic)', () => {
    for (const d of [FAKE_DEVICES.H100, FAKE_DEVICES.H200]) {
      const s = selectKernels(d);
      assert.equal(s.fp8SparseHopper.runnable, true, s.fp8SparseHopper.reason);
      assert.equal(s.fp8SparseHopper.binary.artifact, 'mla_decode_sm90.sm_90a.cubin');
      assert.equal(s.fp8SparseHopper.reason, `sm_90a cubin (entry mla_decode_sm90_fp8_sparse_bf16), ${FP8_SPARSE_HOPPER_KERNEL.sharedBytes} B shared memory of 232448 B`);
      assert.deepEqual(s.sparseDecodeKernels, ['hopper', 'generic']);
    }
  });
  test("elsewhere, or where 'hopper' is forced off or narrowed out: generic only, saying why", () => {
    for (const d of [FAKE_DEVICES.A100, FAKE_DEVICES.A10, FAKE_DEVICES.B200, FAKE_DEVICES.RTX5090, FAKE_DEVICES.T4]) {
      const s = selectKernels(d);
      assert.deepEqual([s.fp8SparseHopper.runnable, s.sparseDecodeKernels], [false, ['generic']], d.name);
      assert.equal(s.fp8SparseHopper.reason, s.decode[0].reason, d.name);
    }
    const ptx = selectKernels(FAKE_DEVICES.H200, { forcePtx: true });
    assert.deepEqual(ptx.sparseDecodeKernels, ['generic']);
    assert.match(ptx.fp8SparseHopper.reason, /FLASH_MLA_FORCE_PTX=1 and 'hopper' ships no PTX/);
    const narrowed = selectKernels(FAKE_DEVICES.H200, { decodeKernel: 'generic-small' });
    assert.deepEqual(narrowed.sparseDecodeKernels, ['generic']);
    assert.match(narrowed.fp8SparseHopper.reason, /FLASH_MLA_DECODE_KERNEL=generic-small selects another kernel/);
    assert.deepEqual(selectKernels(FAKE_DEVICES.H200, { decodeKernel: 'hopper' }).sparseDecodeKernels, ['hopper', 'generic']);
    // sm_90 with room for the bf16 kernel but not the sparse variant
    const optin = FP8_SPARSE_HOPPER_KERNEL.sharedBytes - 8;
    const tight = selectKernels(dev('tight', '9.0', optin));
    assert.deepEqual([tight.decodeKernels[0], tight.sparseDecodeKernels], ['hopper', ['generic']]);
    assert.equal(tight.fp8SparseHopper.reason, `needs ${FP8_SPARSE_HOPPER_KERNEL.sharedBytes} B of shared memory per block, the device allows ${optin} B`);
  });
  test("its shared memory and threads are the header's (kernels/mla_config.h), its entry one of the Hopper cubin", () => {
    const h = readFileSync(`${root}kernels/mla_config.h`, 'utf8');
    assert.equal(FP8_SPARSE_HOPPER_KERNEL.sharedBytes, Number(/static_assert\(SM90_FP8S_SMEM_BYTES == (\d+)/.exec(h)?.[1]));
    assert.ok(FP8_SPARSE_HOPPER_KERNEL.sharedBytes <= 232448, 'fits the Hopper opt-in shared memory');
    assert.equal(FP8_SPARSE_HOPPER_KERNEL.threads, 384);
    assert.equal(FP8_SPARSE_HOPPER_KERNEL.file, DECODE_KERNELS.find((k) => k.name === 'hopper')!.file);
    assert.match(readFileSync(`${root}kernels/mla_decode_sm90.cu`, 'utf8'), /__launch_bounds__\((?:384|SM90_FP8\w*_THREADS), 1\)\s+mla_decode_sm90_fp8_sparse_bf16\(\s*const __grid_constant__ MlaDecodeParams \w+,\s*const __grid_constant__ MlaFp8Params \w+\)/);
  });
});

describe('forcing a path (what the GPU suite uses on an H200)', () => {
  test('FLASH_MLA_FORCE_PTX=1 on an H200: the portable kernels from PTX, hopper off, PDL off', () => {
    const s = selectKernels(FAKE_DEVICES.H200, { forcePtx: true });
    assert.deepEqual(s.decodeKernels, ['generic', 'generic-small']);
    assert.equal(s.portableForm, 'ptx');
    assert.equal(s.pdl, false);
    assert.match(s.decode[0].reason, /FLASH_MLA_FORCE_PTX=1 and 'hopper' ships no PTX/);
    for (const a of Object.values(forms(s))) assert.match(a as string, /\.compute_80\.ptx$/);
  });
  test('FLASH_MLA_DECODE_KERNEL=generic-small on an H200: only it, sm_90 cubin, PDL on', () => {
    const s = selectKernels(FAKE_DEVICES.H200, { decodeKernel: 'generic-small' });
    assert.deepEqual(s.decodeKernels, ['generic-small']);
    assert.equal(s.pdl, true);
    assert.match(s.decode[0].reason, /selects another kernel/);
  });
  test('both together: generic-small from PTX', () => {
    const s = selectKernels(FAKE_DEVICES.H200, { decodeKernel: 'generic-small', forcePtx: true });
    assert.deepEqual(s.decodeKernels, ['generic-small']);
    assert.equal(s.decode[2].binary.form, 'ptx');
    assert.equal(s.pdl, false);
  });
  test('a forced kernel that cannot run, or an unknown name, leaves nothing and says why', () => {
    const s = selectKernels(FAKE_DEVICES.A10, { decodeKernel: 'generic' });
    assert.deepEqual(s.decodeKernels, []);
    assert.match(s.problems.join(), /FLASH_MLA_DECODE_KERNEL=generic cannot run on NVIDIA A10: needs 155648 B/);
    const u = selectKernels(FAKE_DEVICES.H200, { decodeKernel: 'fast' });
    assert.deepEqual(u.decodeKernels, ['hopper', 'generic', 'generic-small']);
    assert.match(u.problems.join(), /'fast' is not a decode kernel \(expected one of hopper, generic, generic-small\)/);
  });
  test('FLASH_MLA_NO_PDL=1 turns PDL off on Hopper', () => {
    assert.equal(selectKernels(FAKE_DEVICES.H100, { noPdl: true }).pdl, false);
  });
  test('selectOptionsFromEnv reads the three variables', () => {
    assert.deepEqual(selectOptionsFromEnv({}), { forcePtx: false, decodeKernel: undefined, noPdl: false });
    assert.deepEqual(selectOptionsFromEnv({ FLASH_MLA_FORCE_PTX: '1', FLASH_MLA_DECODE_KERNEL: ' generic-small ', FLASH_MLA_NO_PDL: '1' }), {
      forcePtx: true, decodeKernel: 'generic-small', noPdl: true,
    });
    assert.equal(selectOptionsFromEnv({ FLASH_MLA_FORCE_PTX: '0', FLASH_MLA_DECODE_KERNEL: '' }).forcePtx, false);
    assert.equal(selectOptionsFromEnv({ FLASH_MLA_DECODE_KERNEL: '' }).decodeKernel, undefined);
  });
});

const root = fileURLToPath(new URL('../../', import.meta.url));

test('shared-memory sizes of DECODE_KERNELS match kernels/mla_config.h', () => {
  const h = readFileSync(`${root}kernels/mla_config.h`, 'utf8');
  const asserted = (name: string) => Number(new RegExp(`static_assert\\(${name} == (\\d+)`).exec(h)?.[1]);
  const want: Record<string, string> = { hopper: 'SM90_SMEM_BYTES', generic: 'GEN_SMEM_BYTES', 'generic-small': 'GSM_SMEM_BYTES' };
  for (const k of DECODE_KERNELS) assert.equal(k.sharedBytes, asserted(want[k.name]), k.name);
  assert.ok(DECODE_KERNELS.find((k) => k.name === 'generic-small')!.sharedBytes <= FAKE_DEVICES.A10.maxSharedMemoryPerBlockOptin);
});

/** Rows of the README's compatibility table: first cell `sm_XY`, then GPUs, decode kernels, binary form, run status. */
function readmeCompatRows(): Array<{ arch: string; cells: string[] }> {
  const readme = readFileSync(`${root}README.md`, 'utf8');
  const start = readme.indexOf('| architecture |');
  assert.ok(start >= 0, 'README has no compatibility table (a row starting "| architecture |")');
  const lines = readme.slice(start).split('\n');
  const rows: Array<{ arch: string; cells: string[] }> = [];
  for (const line of lines.slice(2)) {
    if (!line.startsWith('|')) break;
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    const m = /^`?(sm_\d+)`?/.exec(cells[0]);
    if (m) rows.push({ arch: m[1], cells });
  }
  return rows;
}

test('the README compatibility table says what selectKernels() says', () => {
  const rows = readmeCompatRows();
  const byArch = COMPAT_TABLE_DEVICES;
  assert.deepEqual(rows.map((r) => r.arch), Object.keys(byArch));
  for (const { arch, cells } of rows) {
    const s = selectKernels(byArch[arch]);
    const kernels = [...cells[2].matchAll(/`([\w-]+)`/g)].map((m) => m[1]);
    assert.deepEqual(kernels, s.decodeKernels, `${arch}: decode kernels column`);
    const artifacts = [...s.decode.filter((d) => d.runnable).map((d) => d.binary), ...s.support];
    for (const b of artifacts) assert.ok(cells[3].includes(b.form === 'ptx' ? `${b.arch} PTX` : `${b.arch} cubin`), `${arch}: binary form column lacks ${b.arch} ${b.form}: '${cells[3]}'`);
    // only sm_90 has been run; every other row must say so
    if (arch !== 'sm_90') assert.match(cells[4], /^built only/, `${arch}: run status`);
  }
});

test('flash-mla info --assume CC explains the choice without a GPU', () => {
  const cli = fileURLToPath(new URL('../src/cli.js', import.meta.url));
  const run = (...args: string[]) => spawnSync(process.execPath, [cli, 'info', ...args], { encoding: 'utf8', env: { ...process.env, FLASH_MLA_FORCE_PTX: '', FLASH_MLA_DECODE_KERNEL: '' } });
  let r = run('--assume', '8.6');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /decode kernels that can run here: generic-small \(default\)/);
  assert.match(r.stdout, /no {6}generic {8}needs 155648 B/);
  assert.match(r.stdout, /cubin {3}mla_combine {4}sm_80 cubin/);
  assert.match(r.stdout, /FP8-cache decode kernels: dense with bf16 q over 64-token pages: none; sparse with bf16 q: none; sparse with fp16 q: none/);
  assert.match(r.stdout, /\n {2}no {6}hopper {9}mla_decode_sm90: nothing runs on compute capability 8\.6/);
  r = run('--assume', '12.0');
  assert.match(r.stdout, /default generic-small {2}compute_80 PTX \(driver JIT\)/);
  assert.match(r.stdout, /programmatic dependent launch: off/);
  assert.match(r.stdout, /no {6}h_kv > 1 or d_qk 512 {2}mla_decode_generic_layout: needs 155648 B/);
  r = run('--assume', '9.0');
  assert.match(r.stdout, /hopper \(default\), generic, generic-small/);
  assert.match(r.stdout, /other layouts \(the 'generic' family's own kernels, whatever the default above\):\n {2}runs {4}h_kv > 1 or d_qk 512 {2}mla_decode_generic_layout: sm_90 cubin, 155648 B shared memory of 232448 B\n {2}runs {4}the FP8 cache {9}mla_decode_fp8: sm_90 cubin/);
  assert.match(
    r.stdout,
    /FP8-cache decode kernels: dense with bf16 q over 64-token pages: hopper \(default\), generic; sparse with bf16 q: hopper \(default\), generic; sparse with fp16 q: generic \(default\)/,
  );
  assert.match(r.stdout, /the FP8 cache, dense, bf16 q, 64-token pages \(kernel 'hopper' where it runs, else 'generic' above; 'generic' on request\):\n {2}default hopper {9}mla_decode_sm90: sm_90a cubin \(entry mla_decode_sm90_fp8_bf16\), 231872 B shared memory of 232448 B/);
  assert.match(
    r.stdout,
    /sparse decode over the FP8 cache, bf16 q, any page size \(kernel 'hopper' where it runs, else 'generic' above; 'generic' on request\):\n {2}default hopper {9}mla_decode_sm90: sm_90a cubin \(entry mla_decode_sm90_fp8_sparse_bf16\), \d+ B shared memory of 232448 B/,
  );
  r = spawnSync(process.execPath, [cli, 'info', '--assume', '9.0'], { encoding: 'utf8', env: { ...process.env, FLASH_MLA_FORCE_PTX: '1', FLASH_MLA_DECODE_KERNEL: '' } });
  assert.match(r.stdout, /forced by the environment: FLASH_MLA_FORCE_PTX=1/);
  assert.match(r.stdout, /generic \(default\), generic-small/);
  r = run('--assume', '11.0');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /give the opt-in shared memory per block too/);
  r = run('--assume', '11.0,232448');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /generic \(default\), generic-small/);
});

test("smallRowEntry: hopper-small's one sparse entry for sparse decodes, its FP8 entry for dense FP8, the 16-row or 32-row entry for the 16-bit cache", () => {
  const k = SMALL_ROW_HOPPER_KERNEL;
  assert.deepEqual(smallRowEntry(true, 16, true), { entry: 'mla_decode_sm90_small_fp8_sparse_bf16', sharedBytes: k.fp8SharedBytes });
  assert.deepEqual(smallRowEntry(true, 16), { entry: k.fp8Entry, sharedBytes: k.fp8SharedBytes });
  assert.deepEqual(smallRowEntry(false, 16), { entry: k.entry, sharedBytes: k.sharedBytes });
  assert.deepEqual(smallRowEntry(false, 17), { entry: k.r32Entry, sharedBytes: k.r32SharedBytes });
  // 17–32 rows over the FP8 cache: the gather entry (session 29)
  assert.deepEqual(smallRowEntry(true, 17), { entry: k.fp8G32Entry, sharedBytes: k.fp8SparseR32SharedBytes });
});
