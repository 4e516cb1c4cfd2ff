// MlaDecodeParams is shared bit for bit between kernels/mla_params.h and src/cuda/params.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MLA_DECODE_PARAMS_BYTES, MLA_DECODE_PARAMS_LAYOUT, encodeMlaDecodeParams } from '../src/cuda/params.js';
import { gpuSkipReason } from './util/problem.js';

const kernelsDir = fileURLToPath(new URL('../../kernels/', import.meta.url));
const cxx = ['g++', 'c++', 'clang++'].find((c) => spawnSync(c, ['--version']).status === 0);

test('offsets match the C++ struct (offsetof, compiled with the host compiler)', { skip: cxx ? false : 'no C++ compiler on PATH' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'flash-mla-layout-'));
  const fields = Object.keys(MLA_DECODE_PARAMS_LAYOUT);
  const src =
    '#include "mla_params.h"\n#include <cstdio>\n#include <cstddef>\nint main(){\n' +
    fields.map((f) => `  printf("${f} %zu\\n", offsetof(MlaDecodeParams, ${f}));`).join('\n') +
    '\n  printf("sizeof %zu\\n", sizeof(MlaDecodeParams));\n}\n';
  writeFileSync(join(dir, 'layout.cpp'), src);
  const build = spawnSync(cxx!, ['-std=c++17', '-I', kernelsDir, '-o', join(dir, 'layout'), join(dir, 'layout.cpp')], { encoding: 'utf8' });
  assert.equal(build.status, 0, build.stderr);
  const out = spawnSync(join(dir, 'layout'), { encoding: 'utf8' }).stdout.trim().split('\n');
  const got = Object.fromEntries(out.map((l) => l.split(' ')).map(([k, v]) => [k, Number(v)]));
  assert.equal(got.sizeof, MLA_DECODE_PARAMS_BYTES);
  for (const f of fields) assert.equal(got[f], MLA_DECODE_PARAMS_LAYOUT[f as keyof typeof MLA_DECODE_PARAMS_LAYOUT], `offset of ${f}`);
});

test('encoder writes each field at its offset', () => {
  const values = Object.fromEntries(Object.keys(MLA_DECODE_PARAMS_LAYOUT).map((k, i) => [k, k.startsWith('scale') ? 0.5 + i : i < 10 ? BigInt(0x1000 + i) : i + 1])) as never;
  const buf = encodeMlaDecodeParams(values);
  const dv = new DataView(buf.buffer);
  assert.equal(dv.getBigUint64(MLA_DECODE_PARAMS_LAYOUT.k_cache, true), 0x1001n);
  assert.equal(dv.getBigInt64(MLA_DECODE_PARAMS_LAYOUT.k_row_stride, true), 15n);
  assert.equal(dv.getInt32(MLA_DECODE_PARAMS_LAYOUT.causal, true), 23);
  assert.equal(dv.getFloat32(MLA_DECODE_PARAMS_LAYOUT.scale_softmax_log2, true), 24.5);
});

const skip = await gpuSkipReason();
test('the kernels (cubin or PTX, as selected here) declare a parameter of the same size', { skip }, async () => {
  const { getCudaContext, loadKernel, portableArchs } = await import('../src/cuda/context.js');
  const { device } = getCudaContext();
  const arch = portableArchs(device); // empty when the portable kernels come from PTX here
  for (const [file, entry] of [['mla_decode_generic', 'mla_decode_generic_bf16'], ['mla_decode_generic_small', 'mla_decode_generic_small_bf16'], ['mla_combine', 'mla_combine_w1_c1_bf16']]) {
    const k = loadKernel(file, arch, entry, ['bytes']);
    assert.deepEqual(k.paramSizes, [MLA_DECODE_PARAMS_BYTES], entry);
  }
  if (device.isHopper) {
    const k = loadKernel('mla_decode_sm90', ['sm_90a'], 'mla_decode_sm90_bf16', ['bytes', 'bytes']);
    assert.deepEqual(k.paramSizes, [MLA_DECODE_PARAMS_BYTES, 128], 'mla_decode_sm90_bf16: params + CUtensorMap');
  }
});
