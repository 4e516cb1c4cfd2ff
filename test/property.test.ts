// Property test of flashMlaWithKvcache on the cpu backend: many small random problems against the float64
// reference, which shares nothing with the library's decode: values are made from their bit fields by arithmetic
// (src/check/formats.ts, not the library's conversions), keys are read from the generator's plain row-major
// problem (never through the tensors' layouts), outputs are decoded by that arithmetic too.
//
// The cases are src/check/problem.ts's 'cpu' profile (the GPU property test draws the same generator's 'gpu'
// profile): b, s_q, h_q, seqlens (0, page edges and random), causal or not, bf16/fp16, an SM count (so requests
// get split and combined) and a softmax scale (nearly uniform to peaked); every input is a view into a NaN-filled
// buffer with its own padding, dimension order and offset; block-table entries past each row's used blocks hold
// garbage (huge, negative, NaN blocks, other requests' blocks); unused cache rows and blocks are NaN; out/lse are
// (sometimes) views into NaN-filled buffers whose surroundings must stay NaN. Every element must be within half a
// unit in the last place of the exact result (plus float64 noise): compareDecode's 'halfUlp' tolerance.
//
//   FLASH_MLA_PROPERTY_CASES=N   cases to run (default 10 000)
//   FLASH_MLA_SEED=S             base seed: case k uses seed S + k·0x9e3779b9, so a failing case reruns
//                                alone with FLASH_MLA_SEED=<its case seed> FLASH_MLA_PROPERTY_CASES=1

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { flashMlaWithKvcache, getMlaMetadata, type FlashMlaOptions, type Tensor } from '../src/index.js';
import { caseSeed, caseTensors, describeCase, makeDecodeCase } from '../src/check/problem.js';
import { referenceDecode } from '../src/check/reference.js';
import { compareDecode } from '../src/check/compare.js';
import { freshSeed } from './util/problem.js';

interface Coverage {
  /** Cases where some request was split across SM parts (partials combined by their LSEs). */
  split: number;
  causal: number;
  /** Query rows checked, and those that saw no key (out 0, lse +inf). */
  rows: number;
  lonelyRows: number;
  /** Cases whose block tables had a request crossing a page boundary. */
  multiPage: number;
}

function checkCase(k: number, seed: number, cov: Coverage): void {
  const cp = makeDecodeCase(seed, 'cpu');
  const { c } = cp;
  const rerun = `rerun alone with FLASH_MLA_SEED=${seed} FLASH_MLA_PROPERTY_CASES=1`;
  const fail = (what: string): never => assert.fail(`${what}\n  case ${k}: ${describeCase(cp)}; ${rerun}`);
  const t = caseTensors(cp, 'cpu');
  const md = getMlaMetadata(t.cacheSeqlens, c.sQ * c.hQ, 1, { smCount: c.smCount });
  const opts: FlashMlaOptions = { causal: c.causal };
  if (c.softmaxScale !== undefined) opts.softmaxScale = c.softmaxScale;
  if (t.out && t.lse) {
    opts.out = t.out;
    opts.lse = t.lse;
  }
  let result: { out: Tensor; lse: Tensor };
  try {
    result = flashMlaWithKvcache(t.q, t.kCache, t.blockTable, t.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, opts);
  } catch (e) {
    return fail(`flashMlaWithKvcache threw ${(e as Error).name}: ${(e as Error).message}`);
  }
  const splits = md.numSplits.toInt32();
  if (splits.some((x, i) => i > 0 && x - splits[i - 1] > 1)) cov.split++;
  if (c.causal) cov.causal++;
  if (c.seqlens.some((n) => n > 64)) cov.multiPage++;
  const ref = referenceDecode(cp.problem, c.causal, c.softmaxScale);
  const cmp = compareDecode('cpu', { outBits: result.out.toRaw() as Uint16Array, lse: result.lse.toFloat32() }, ref, 'halfUlp');
  cov.rows += cmp.rows;
  cov.lonelyRows += cmp.lonelyRows;
  if (!cmp.ok) fail(cmp.message);
  const outside = t.writesOutsideViews();
  if (outside) fail(outside);
}

const CASES = process.env.FLASH_MLA_PROPERTY_CASES ? Number(process.env.FLASH_MLA_PROPERTY_CASES) : 10_000;

test(`property: ${CASES} random decode problems on the cpu backend match an independent float64 reference to half an ulp`, () => {
  assert.ok(Number.isSafeInteger(CASES) && CASES >= 1, `FLASH_MLA_PROPERTY_CASES: expected an integer ≥ 1, got '${process.env.FLASH_MLA_PROPERTY_CASES}'`);
  const base = freshSeed();
  const started = performance.now();
  const cov: Coverage = { split: 0, causal: 0, rows: 0, lonelyRows: 0, multiPage: 0 };
  try {
    for (let k = 0; k < CASES; k++) checkCase(k, caseSeed(base, k), cov);
  } catch (e) {
    console.error(`property test failed (base seed ${base}; rerun everything with FLASH_MLA_SEED=${base})`);
    throw e;
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `property: ${CASES} cases in ${seconds.toFixed(1)} s (base seed ${base}): ${cov.split} with split requests, ${cov.causal} causal, ` +
      `${cov.multiPage} with a request over several pages; ${cov.rows} query rows, ${cov.lonelyRows} of them seeing no key`,
  );
  // the generator must keep reaching every path, or the test silently weakens
  if (CASES >= 1000) {
    for (const [name, n] of Object.entries({ split: cov.split, causal: cov.causal, multiPage: cov.multiPage, lonelyRows: cov.lonelyRows })) {
      assert.ok(n >= CASES / 50, `property: only ${n} cases/rows of kind '${name}' in ${CASES} cases: the generator no longer covers it`);
    }
  }
});
