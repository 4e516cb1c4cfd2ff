// What dist/kernels holds after the build against what we promise: the table of kernel builds (src/cuda/kernels.ts)
// mirrors each kernels/*.cu `// build:` line, and every binary that selectKernels() picks for an architecture of
// the README's compatibility table exists — as a cubin with the entry points the library launches, or as PTX for
// the right virtual architecture with them. Skipped, with the reason, when nvcc is absent (the build skips too).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { KERNEL_BUILDS, selectKernels } from '../src/cuda/kernels.js';
import { COMPAT_TABLE_DEVICES, KERNEL_ENTRIES as ENTRIES } from './util/devices.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const srcDir = `${root}kernels/`;
const outDir = `${root}dist/kernels/`;

/** Kernels built for tests only, never shipped (package.json "files" excludes them). */
const TEST_ONLY = ['smoke'];

function nvccSkipReason(): string | false {
  const candidates = [process.env.NVCC, 'nvcc', '/usr/local/cuda/bin/nvcc'].filter(Boolean) as string[];
  if (candidates.some((c) => spawnSync(c, ['--version']).status === 0)) return false;
  return 'nvcc not found on PATH: the build skipped the kernels, so there is nothing in dist/kernels to check';
}

function buildLine(file: string): { cubins: string[]; ptx: string | null } {
  const text = readFileSync(`${srcDir}${file}.cu`, 'utf8');
  const m = text.split('\n').slice(0, 10).join('\n').match(/\/\/\s*build:\s*archs=([\w,]+)(.*)/);
  assert.ok(m, `${file}.cu has no build line`);
  return { cubins: m[1].split(','), ptx: (m[2].match(/\bptx=(compute_\w+)/) ?? [])[1] ?? null };
}

test('the table of kernel builds mirrors the // build: line of every kernels/*.cu', () => {
  const files = readdirSync(srcDir).filter((f) => f.endsWith('.cu')).map((f) => f.slice(0, -3));
  assert.deepEqual(files.filter((f) => !TEST_ONLY.includes(f)).sort(), Object.keys(KERNEL_BUILDS).sort());
  for (const [file, b] of Object.entries(KERNEL_BUILDS)) {
    const line = buildLine(file);
    assert.deepEqual(line.cubins, [...b.cubins], `${file}: cubin archs`);
    assert.equal(line.ptx, b.ptx, `${file}: PTX`);
  }
  assert.deepEqual(Object.keys(ENTRIES).sort(), Object.keys(KERNEL_BUILDS).sort());
});

describe('dist/kernels after the build', { skip: nvccSkipReason() }, () => {
  const present = existsSync(outDir) ? readdirSync(outDir) : [];

  test('every declared cubin and PTX exists, and nothing undeclared is there', () => {
    const want = new Set<string>();
    for (const b of Object.values(KERNEL_BUILDS)) {
      for (const a of b.cubins) want.add(`${b.file}.${a}.cubin`);
      if (b.ptx) want.add(`${b.file}.${b.ptx}.ptx`);
    }
    for (const f of TEST_ONLY) for (const a of buildLine(f).cubins) want.add(`${f}.${a}.cubin`);
    assert.deepEqual([...want].filter((f) => !present.includes(f)), [], 'declared but not built');
    assert.deepEqual(present.filter((f) => !want.has(f)), [], 'in dist/kernels but declared by no build line: stale files npm pack would ship (delete them)');
  });

  test('every built cubin and PTX holds the entry points we launch from it (picked by a selection or not)', () => {
    for (const b of Object.values(KERNEL_BUILDS)) {
      for (const a of b.cubins) {
        const bytes = readFileSync(`${outDir}${b.file}.${a}.cubin`);
        for (const e of ENTRIES[b.file]) assert.ok(bytes.includes(Buffer.from(`.text.${e}\0`)), `${b.file}.${a}.cubin: no code section for ${e}`);
      }
      if (b.ptx) {
        const text = readFileSync(`${outDir}${b.file}.${b.ptx}.ptx`, 'utf8');
        for (const e of ENTRIES[b.file]) assert.match(text, new RegExp(`^\\.visible \\.entry ${e}\\(`, 'm'), `${b.file}.${b.ptx}.ptx: entry ${e}`);
        assert.doesNotMatch(text, /griddepcontrol/, `${b.file}.${b.ptx}.ptx: compute_80 PTX with griddepcontrol`);
      }
    }
  });

  for (const [arch, device] of Object.entries(COMPAT_TABLE_DEVICES)) {
    test(`${arch} (${device.name}): every binary the selection picks is there, with the entry points we launch`, () => {
      const sel = selectKernels(device);
      const forced = selectKernels(device, { forcePtx: true });
      assert.ok(sel.decodeKernels.length > 0, `${arch}: the compatibility table promises a decode kernel`);
      const picks = [sel, forced].flatMap((s) => [
        ...s.decode.filter((d) => d.runnable).map((d) => d.binary), ...s.layouts.filter((l) => l.runnable).map((l) => l.binary),
        ...(s.fp8Hopper.runnable ? [s.fp8Hopper.binary] : []), ...s.support,
      ]);
      for (const b of picks) {
        assert.ok(b.artifact && present.includes(b.artifact), `${arch}: ${b.artifact ?? b.file} is missing (${b.reason})`);
        const bytes = readFileSync(`${outDir}${b.artifact}`);
        if (b.form === 'ptx') {
          const text = bytes.toString('utf8');
          assert.match(text, new RegExp(`^\\.target ${b.arch!.replace('compute_', 'sm_')}$`, 'm'), `${b.artifact}: .target`);
          for (const e of ENTRIES[b.file]) assert.match(text, new RegExp(`^\\.visible \\.entry ${e}\\(`, 'm'), `${b.artifact}: entry ${e}`);
          // the PDL rule of kernels.ts: compute_80 code cannot wait on a preceding grid, so it must never launch early
          assert.doesNotMatch(text, /griddepcontrol/, `${b.artifact}: compute_80 PTX with griddepcontrol`);
        } else {
          assert.equal(bytes.readUInt32BE(0), 0x7f454c46, `${b.artifact}: not an ELF file`);
          for (const e of ENTRIES[b.file]) assert.ok(bytes.includes(Buffer.from(`.text.${e}\0`)), `${b.artifact}: no code section for ${e}`);
        }
      }
    });
  }
});
