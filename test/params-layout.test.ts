// MlaDecodeParams and MlaLayoutParams (kernels/mla_params.h) and the FP8 kernels' AppendKvFp8Params / MlaFp8Params
// (kernels/mla_fp8_params.h) are shared bit for bit with src/cuda/params.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  APPEND_KV_FP8_PARAMS, MLA_DECODE_PARAMS_BYTES, MLA_DECODE_PARAMS_LAYOUT, MLA_FP8_PARAMS, MLA_LAYOUT_PARAMS, encodeMlaDecodeParams, encodeStruct,
  type StructLayout,
} from '../src/cuda/params.js';
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

/** offsetof of every field and sizeof of `struct` declared in kernels/`header`, by the host compiler. */
function hostLayout(header: string, struct: string, fields: string[]): Record<string, number> {
  const dir = mkdtempSync(join(tmpdir(), 'flash-mla-layout-'));
  const src =
    `#include "${header}"\n#include <cstdio>\n#include <cstddef>\nint main(){\n` +
    fields.map((f) => `  printf("${f} %zu %zu\\n", offsetof(${struct}, ${f}), sizeof(((${struct}*)0)->${f}));`).join('\n') +
    `\n  printf("sizeof %zu 0\\n", sizeof(${struct}));\n}\n`;
  writeFileSync(join(dir, 'layout.cpp'), src);
  const build = spawnSync(cxx!, ['-std=c++17', '-I', kernelsDir, '-o', join(dir, 'layout'), join(dir, 'layout.cpp')], { encoding: 'utf8' });
  assert.equal(build.status, 0, build.stderr);
  const out = spawnSync(join(dir, 'layout'), { encoding: 'utf8' }).stdout.trim().split('\n');
  return Object.fromEntries(out.flatMap((l) => {
    const [k, off, size] = l.split(' ');
    return [[k, Number(off)], [`${k}.size`, Number(size)]];
  }));
}

const structs: [string, string, StructLayout][] = [
  ['mla_fp8_params.h', 'AppendKvFp8Params', APPEND_KV_FP8_PARAMS],
  ['mla_fp8_params.h', 'MlaFp8Params', MLA_FP8_PARAMS],
  ['mla_params.h', 'MlaLayoutParams', MLA_LAYOUT_PARAMS],
];
for (const [header, struct, layout] of structs) {
  test(`${struct}: offsets, field sizes and size match the C++ struct (host compiler)`, { skip: cxx ? false : 'no C++ compiler on PATH' }, () => {
    const got = hostLayout(header, struct, Object.keys(layout.fields));
    assert.equal(got.sizeof, layout.bytes, `sizeof(${struct})`);
    for (const [f, [off, type]] of Object.entries(layout.fields)) {
      assert.equal(got[f], off, `offset of ${f}`);
      assert.equal(got[`${f}.size`], type === 'i32' ? 4 : 8, `size of ${f}`);
    }
  });
}

test('encodeStruct writes pointers, int64 and int32 fields at their offsets, padding 0', () => {
  const buf = encodeStruct(MLA_FP8_PARAMS, { indices: 0x1234n, topk_length: 0n, attn_sink: 0x20n, indices_batch_stride: 4096, indices_seq_stride: 2048, num_slots: 2 ** 40, topk: 2048, page_size: 61, head_blocks: 2 });
  const dv = new DataView(buf.buffer);
  assert.equal(dv.getBigUint64(0, true), 0x1234n);
  assert.equal(dv.getBigUint64(16, true), 0x20n);
  assert.equal(dv.getBigInt64(40, true), 2n ** 40n);
  assert.equal(dv.getInt32(48, true), 2048);
  assert.equal(dv.getInt32(52, true), 61);
  assert.equal(dv.getInt32(60, true), 0);
  assert.throws(() => encodeStruct(MLA_FP8_PARAMS, { indices: 0n, topk_length: 0n, attn_sink: 0n, indices_batch_stride: 0, indices_seq_stride: 0, num_slots: 0, topk: 0, page_size: 0, head_blocks: 0 }, new Uint8Array(60)), /expected a buffer of 64 bytes, got 60/);
});

test('encoder writes each field at its offset', () => {
  const pointers = Object.values(MLA_DECODE_PARAMS_LAYOUT).filter((o) => o < MLA_DECODE_PARAMS_LAYOUT.q_batch_stride).length;
  const values = Object.fromEntries(Object.keys(MLA_DECODE_PARAMS_LAYOUT).map((k, i) => [k, k.startsWith('scale') ? 0.5 + i : i < pointers ? BigInt(0x1000 + i) : i + 1])) as never;
  const buf = encodeMlaDecodeParams(values);
  const dv = new DataView(buf.buffer);
  assert.equal(dv.getBigUint64(MLA_DECODE_PARAMS_LAYOUT.k_cache, true), 0x1001n);
  assert.equal(dv.getBigUint64(MLA_DECODE_PARAMS_LAYOUT.split_arrivals, true), 0x100an);
  assert.equal(dv.getBigInt64(MLA_DECODE_PARAMS_LAYOUT.k_row_stride, true), 16n);
  assert.equal(dv.getInt32(MLA_DECODE_PARAMS_LAYOUT.causal, true), 24);
  assert.equal(dv.getFloat32(MLA_DECODE_PARAMS_LAYOUT.scale_softmax_log2, true), 25.5);
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
  for (const entry of ['mla_decode_fp8_dense_bf16', 'mla_decode_fp8_sparse_fp16']) {
    const k = loadKernel('mla_decode_fp8', arch, entry, ['bytes', 'bytes']);
    assert.deepEqual(k.paramSizes, [MLA_DECODE_PARAMS_BYTES, MLA_FP8_PARAMS.bytes], entry);
  }
  for (const entry of ['mla_decode_generic_layout_d576_bf16', 'mla_decode_generic_layout_d512_fp16']) {
    const k = loadKernel('mla_decode_generic_layout', arch, entry, ['bytes', 'bytes']);
    assert.deepEqual(k.paramSizes, [MLA_DECODE_PARAMS_BYTES, MLA_LAYOUT_PARAMS.bytes], entry);
  }
  const sink = loadKernel('mla_combine', arch, 'mla_combine_sink_bf16', ['bytes', 'bytes']);
  assert.deepEqual(sink.paramSizes, [MLA_DECODE_PARAMS_BYTES, MLA_FP8_PARAMS.bytes], 'mla_combine_sink_bf16');
  const append = loadKernel('append_kv_fp8', arch, 'append_kv_fp8_fp16', ['bytes']);
  assert.deepEqual(append.paramSizes, [APPEND_KV_FP8_PARAMS.bytes], 'append_kv_fp8_fp16');
  if (device.isHopper) {
    const k = loadKernel('mla_decode_sm90', ['sm_90a'], 'mla_decode_sm90_bf16', ['bytes', 'bytes']);
    assert.deepEqual(k.paramSizes, [MLA_DECODE_PARAMS_BYTES, 128], 'mla_decode_sm90_bf16: params + CUtensorMap');
    for (const entry of ['mla_decode_sm90_fp8_bf16', 'mla_decode_sm90_fp8_packed_bf16']) {
      const f8 = loadKernel('mla_decode_sm90', ['sm_90a'], entry, ['bytes', 'bytes', 'bytes']);
      assert.deepEqual(f8.paramSizes, [MLA_DECODE_PARAMS_BYTES, 128, 128], `${entry}: params + two CUtensorMaps`);
    }
    const f8s = loadKernel('mla_decode_sm90', ['sm_90a'], 'mla_decode_sm90_fp8_sparse_bf16', ['bytes', 'bytes']);
    assert.deepEqual(f8s.paramSizes, [MLA_DECODE_PARAMS_BYTES, MLA_FP8_PARAMS.bytes], 'mla_decode_sm90_fp8_sparse_bf16: params + MlaFp8Params');
  }
});
