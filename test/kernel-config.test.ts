// Kernel constants come from one source, the C++: every host copy (src/cuda/config.ts, and the problem and
// scheduler shapes of src/mla/constants.ts) is checked against kernels/mla_config.h and kernels/append_kv.cu.
// The headers' `constexpr int NAME = EXPR;` definitions are evaluated here (integer arithmetic on earlier
// names), and each `static_assert(NAME == N, …)` is checked against the evaluation, so the parser cannot
// drift from the compiler unnoticed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { APPEND_KV_CONFIG, APPEND_KV_FP8_CONFIG, MLA_CONFIG } from '../src/cuda/config.js';
import { DECODE_KERNELS } from '../src/cuda/kernels.js';
import { layoutDecodeLaunch, layoutDecodeSharedBytes } from '../src/cuda/layout-decode.js';
import {
  BLOCK_SIZE_M, FIXED_OVERHEAD_NUM_BLOCKS, FP8_BYTES_PER_TOKEN, FP8_ROPE_OFFSET, FP8_SCALES_OFFSET, FP8_TILE, HEAD_DIM_K, HEAD_DIM_V, METADATA_ROW_INTS,
  METADATA_TIGHT_MAX_REQS, METADATA_TIGHT_MAX_STEPS, METADATA_PACK_MAX_REQS, METADATA_PACK_MAX_PARTS, PACK_PAYLOADS, PACK_TIE_PIECES_EIGHTHS,
  PAGE_BLOCK_SIZE,
} from '../src/mla/constants.js';

const kernelsDir = new URL('../../kernels/', import.meta.url);
const read = (f: string) => readFileSync(fileURLToPath(new URL(f, kernelsDir)), 'utf8');

/** Values of a source's `constexpr int NAME = EXPR;` (EXPR: integers, earlier names, + − * / % and parentheses). */
function evalConstexprs(text: string): Map<string, number> {
  const values = new Map<string, number>();
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
  for (const m of code.matchAll(/constexpr\s+int\s+(\w+)\s*=\s*([^;]+);/g)) {
    const [, name, expr] = m;
    const tokens = expr.match(/\d+|\w+|[-+*/%()]|\S/g)!;
    let i = 0;
    const peek = () => tokens[i];
    const primary = (): number => {
      const t = tokens[i++];
      if (t === '(') {
        const v = sum();
        assert.equal(tokens[i++], ')', `${name}: unbalanced parentheses in ${expr}`);
        return v;
      }
      if (t === '-') return -primary();
      if (/^\d+$/.test(t)) return Number(t);
      const v = values.get(t);
      assert.ok(v !== undefined, `${name}: unknown name or token '${t}' in ${expr}`);
      return v;
    };
    const product = (): number => {
      let v = primary();
      while (peek() === '*' || peek() === '/' || peek() === '%') {
        const op = tokens[i++];
        const r = primary();
        v = op === '*' ? v * r : op === '/' ? Math.trunc(v / r) : v % r;
      }
      return v;
    };
    const sum = (): number => {
      let v = product();
      while (peek() === '+' || peek() === '-') v = tokens[i++] === '+' ? v + product() : v - product();
      return v;
    };
    const v = sum();
    assert.equal(i, tokens.length, `${name}: could not parse ${expr}`);
    assert.ok(Number.isSafeInteger(v) && Math.abs(v) < 2 ** 31, `${name} = ${v} is not an int`);
    assert.ok(!values.has(name) || values.get(name) === v, `${name} defined twice with different values`);
    values.set(name, v);
  }
  // the static_asserts that pin a value agree with the evaluation
  for (const m of code.matchAll(/static_assert\(\s*(\w+)\s*==\s*(\d+)\s*,/g)) {
    assert.equal(values.get(m[1]), Number(m[2]), `static_assert(${m[1]} == ${m[2]})`);
  }
  return values;
}

const config = evalConstexprs(read('mla_config.h'));
const append = evalConstexprs(read('append_kv.cu'));
const appendFp8 = evalConstexprs(read('append_kv_fp8.cu'));

test('the evaluator reads mla_config.h (spot checks against its own comments)', () => {
  assert.equal(config.get('GEN_QK_PITCH'), 584);
  assert.equal(config.get('GSM_Q_REG_KSTEPS'), 8);
  assert.equal(config.get('SM90_OFF_P1'), 221184);
  assert.ok(config.size > 40, `only ${config.size} constants found`);
});

test('src/cuda/config.ts MLA_CONFIG equals kernels/mla_config.h', () => {
  for (const [name, v] of Object.entries(MLA_CONFIG)) assert.equal(v, config.get(name), `${name}: host ${v}, mla_config.h ${config.get(name)}`);
  // every value the header pins for the host ("HOST mirrors this number") has a host copy
  for (const m of read('mla_config.h').matchAll(/static_assert\(\s*(\w+)\s*==\s*\d+\s*,\s*"HOST mirrors/g)) {
    assert.ok(m[1] in MLA_CONFIG, `${m[1]} is marked HOST in mla_config.h but has no copy in src/cuda/config.ts`);
  }
});

test('the decode kernels are launched with the header shared-memory sizes', () => {
  const smem = Object.fromEntries(DECODE_KERNELS.map((k) => [k.name, k.sharedBytes]));
  assert.deepEqual(smem, { hopper: config.get('SM90_SMEM_BYTES'), generic: config.get('GEN_SMEM_BYTES'), 'generic-small': config.get('GSM_SMEM_BYTES') });
});

test('the layout kernel (h_kv > 1, d_qk 512) is launched with the header shared-memory sizes and a KV-head grid dimension', () => {
  assert.equal(layoutDecodeSharedBytes(576), config.get('GEN_SMEM_BYTES'));
  assert.equal(layoutDecodeSharedBytes(512), config.get('GEN_D512_SMEM_BYTES'));
  assert.equal(config.get('HEAD_DIM_K_MODEL1'), 512);
  // grid (ceil(s_q · h_q / h_kv / 64), SM parts, h_kv): FlashMLA's GQA folding
  assert.deepEqual(layoutDecodeLaunch(2, 9, 3, 44), { grid: [1, 44, 3], headsPerKv: 3, rowsPerKv: 6 });
  assert.deepEqual(layoutDecodeLaunch(2, 128, 2, 33), { grid: [2, 33, 2], headsPerKv: 64, rowsPerKv: 128 });
  assert.deepEqual(layoutDecodeLaunch(3, 126, 2, 16), { grid: [3, 16, 2], headsPerKv: 63, rowsPerKv: 189 });
  assert.deepEqual(layoutDecodeLaunch(1, 16, 1, 132), { grid: [1, 132, 1], headsPerKv: 16, rowsPerKv: 16 });
  assert.throws(() => layoutDecodeLaunch(1, 9, 2, 8), /layoutDecodeLaunch: expected h_q a multiple of h_kv = 2, got h_q = 9/);
});

test('src/mla/constants.ts (problem and scheduler shapes) equals kernels/mla_config.h', () => {
  assert.equal(HEAD_DIM_K, config.get('HEAD_DIM_K'));
  assert.equal(HEAD_DIM_V, config.get('HEAD_DIM_V'));
  assert.equal(PAGE_BLOCK_SIZE, config.get('PAGE_BLOCK_SIZE'));
  assert.equal(FIXED_OVERHEAD_NUM_BLOCKS, config.get('FIXED_OVERHEAD_NUM_BLOCKS'));
  assert.equal(METADATA_ROW_INTS, config.get('METADATA_ROW_INTS'));
  assert.equal(METADATA_TIGHT_MAX_REQS, config.get('METADATA_TIGHT_MAX_REQS'));
  assert.equal(METADATA_TIGHT_MAX_STEPS, config.get('METADATA_TIGHT_MAX_STEPS'));
  assert.equal(METADATA_PACK_MAX_REQS, config.get('METADATA_PACK_MAX_REQS'));
  assert.equal(METADATA_PACK_MAX_PARTS, config.get('METADATA_PACK_MAX_PARTS'));
  assert.equal(PACK_PAYLOADS, config.get('PACK_PAYLOADS'));
  assert.equal(PACK_TIE_PIECES_EIGHTHS, config.get('PACK_TIE_PIECES_EIGHTHS'));
  assert.equal(BLOCK_SIZE_M, config.get('GEN_BLOCK_M'), "the scheduler's BLOCK_SIZE_M is the decode kernels' rows per CTA");
  // the FP8 cache layout (FlashMLA's DeepSeek-V3.2 rows)
  assert.equal(FP8_BYTES_PER_TOKEN, config.get('FP8_BYTES_PER_TOKEN'));
  assert.equal(FP8_TILE, config.get('FP8_TILE'));
  assert.equal(FP8_SCALES_OFFSET, config.get('FP8_SCALES_OFFSET'));
  assert.equal(FP8_ROPE_OFFSET, config.get('FP8_ROPE_OFFSET'));
});

test('src/cuda/config.ts APPEND_KV_FP8_CONFIG equals kernels/append_kv_fp8.cu (and its row offsets the FP8 layout)', () => {
  for (const [name, v] of Object.entries(APPEND_KV_FP8_CONFIG)) assert.equal(v, appendFp8.get(name), `${name}: host ${v}, append_kv_fp8.cu ${appendFp8.get(name)}`);
  assert.equal(appendFp8.get('kTokensPerCta'), appendFp8.get('kThreads')! / 32, 'one warp per token');
  assert.equal(appendFp8.get('kBlockTablePage'), PAGE_BLOCK_SIZE);
  assert.equal(appendFp8.get('kScalesOffset'), FP8_SCALES_OFFSET);
  assert.equal(appendFp8.get('kRopeOffset'), FP8_ROPE_OFFSET);
});

test('src/cuda/config.ts APPEND_KV_CONFIG equals kernels/append_kv.cu', () => {
  for (const [name, v] of Object.entries(APPEND_KV_CONFIG)) assert.equal(v, append.get(name), `${name}: host ${v}, append_kv.cu ${append.get(name)}`);
  assert.equal(append.get('kPage'), PAGE_BLOCK_SIZE);
  assert.equal(append.get('kChunksRow'), (HEAD_DIM_K * 2) / 16);
  assert.equal(append.get('kChunksCkv'), (HEAD_DIM_V * 2) / 16);
});
