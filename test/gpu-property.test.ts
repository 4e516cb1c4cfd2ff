// Property test of the cuda backend: random decode problems from the generator the cpu property test uses
// (src/check/problem.ts, its 'gpu' profile: h_q up to 128, s_q up to 4, seqlens at page edges and up to ~700,
// SM counts from 1 to 1000 so requests get split, softmax scales from nearly uniform to peaked, every input a
// 16-byte aligned view with its own padding, dimension order and offset into NaN-filled storage, garbage
// block-table entries past each request, out/lse half the time views into NaN-filled buffers), each run on every
// decode kernel the device offers and compared with the float64 reference, computed once per case:
// src/check/compare.ts's 'kernel' tolerance (NaN/Inf masks first, then every element against its bound; the worst
// element is reported with its row, channel and index). Also per case: the device metadata kernel equals the cpu
// scheduler bit for bit, and nothing is written outside the out/lse views. The loop is test/util/property-run.ts
// (test/check.test.ts runs it on the cpu backend).
//
//   FLASH_MLA_GPU_PROPERTY_CASES=N       cases (default 100; 4 in sanitize mode)
//   FLASH_MLA_GPU_PROPERTY_SANITIZE=1    sample mode for compute-sanitizer: the 'sanitize' profile (small shapes),
//                                        one line per case and kernel; pick the kernel with FLASH_MLA_TEST_KERNELS
//   FLASH_MLA_TEST_KERNELS=a,b           the kernels to run (default: every one this device runs, and the opt-in
//                                        'hopper-small' on the cases it takes: bf16, h_q · s_q ≤ 32)
//   FLASH_MLA_SEED=S                     base seed: case k uses caseSeed(S, k); a failing case prints the
//                                        command that reruns it alone
//   FLASH_MLA_REQUIRE_GPU=1              fail instead of skipping without a GPU
//
// Cost: the host dominates: ~30 ms of float64 reference and ~15 ms of comparisons per case on average (2-core AMD
// EPYC VM; GPU_ROW_KEY_BUDGET caps the reference), so 2000 cases × 3 kernels take ~2 minutes; the kernels are cheap.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { CaseProfile } from '../src/check/problem.js';
import { freshSeed, gpuSkipReason, optInTestKernels, smallRowTakes, testKernels } from './util/problem.js';
import { coverageGaps, formatPropertyReport, runDecodeProperty } from './util/property-run.js';

const skip = await gpuSkipReason();

const SANITIZE = process.env.FLASH_MLA_GPU_PROPERTY_SANITIZE === '1';
const PROFILE: CaseProfile = SANITIZE ? 'sanitize' : 'gpu';

function caseCount(): number {
  const v = process.env.FLASH_MLA_GPU_PROPERTY_CASES;
  if (v === undefined || v === '') return SANITIZE ? 4 : 100;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`FLASH_MLA_GPU_PROPERTY_CASES: expected an integer ≥ 1, got '${v}'`);
  return n;
}

const CASES = caseCount();

describe('GPU property: random decode problems on every cuda decode kernel vs the float64 reference', { skip }, () => {
  test(`${CASES} ${PROFILE} cases`, () => {
    // the opt-in kernels too (on the cases they take), unless FLASH_MLA_TEST_KERNELS picks
    const kernels = process.env.FLASH_MLA_TEST_KERNELS ? testKernels() : [...testKernels(), ...optInTestKernels()];
    const base = freshSeed();
    console.log(`gpu property: ${CASES} cases (profile ${PROFILE}), kernels ${kernels.join(', ')}, base seed ${base} (FLASH_MLA_SEED=${base} reruns them)`);
    const report = runDecodeProperty({
      cases: CASES,
      profile: PROFILE,
      backend: 'cuda',
      kernels,
      takes: smallRowTakes,
      base,
      alignBytes: 16,
      rerun: (seed, kernel) => `FLASH_MLA_SEED=${seed} FLASH_MLA_GPU_PROPERTY_CASES=1 FLASH_MLA_TEST_KERNELS=${kernel}${SANITIZE ? ' FLASH_MLA_GPU_PROPERTY_SANITIZE=1' : ''}`,
      log: (line) => console.log(line),
      verbose: SANITIZE,
    });
    for (const line of formatPropertyReport(report, 'gpu property')) console.log(line);
    if (report.failures.length) {
      const shown = report.failures.slice(0, 10);
      assert.fail(`gpu property: ${report.failures.length} failure(s) in ${report.failedCases} of ${CASES} cases (base seed ${base}); the first ${shown.length}:\n${shown.join('\n')}`);
    }
    for (const [kernel, s] of report.stats) assert.equal(s.runs, report.taken.get(kernel), `${kernel}: compared ${s.runs} of the ${report.taken.get(kernel)} cases it takes`);
    for (const [kernel, n] of report.taken) assert.ok(n > 0 || CASES < 50, `${kernel}: took none of ${CASES} cases (the generator no longer makes its shapes?)`);
    // the generator must keep reaching every regime, or the test silently weakens
    if (CASES >= 500) assert.deepEqual(coverageGaps(report.coverage), [], `gpu property: the generator no longer covers these (fewer than 1 in 50 cases)`);
  });
});
