// Shared test utilities: seeds (fresh per run, printed on failure, FLASH_MLA_SEED to rerun), whether GPU tests run,
// which decode kernels they cover, and (re-exported from src/check/) the problem generator, the float64 reference
// and the comparisons that tests, the bench and the example share.

import { test } from 'node:test';
import { getBackend } from '../../src/index.js';
import { rng } from '../../src/util/random.js';
import { SMALL_ROW_KERNEL_NAME, SMALL_ROW_MAX_ROWS } from '../../src/cuda/features.js';
export { rng };
export {
  makePagedProblem, pagedProblemTensors, randomHalfBits, randomPermutation, GARBAGE_BLOCK, type GeneratedProblem, type PagedProblemSpec,
} from '../../src/check/problem.js';
export { referenceRow, referenceAll, referenceDecode } from '../../src/check/reference.js';
export { compare, compareDecode, type CompareResult } from '../../src/check/compare.js';

export function freshSeed(): number {
  return process.env.FLASH_MLA_SEED ? Number(process.env.FLASH_MLA_SEED) : (Math.random() * 2 ** 31) >>> 0;
}

let runningSeed = 0;
/** Seed of the running seededTest (all its problems derive from it), for failure messages. */
export function testSeed(): number {
  return runningSeed;
}
/**
 * A node:test test that draws a fresh seed (FLASH_MLA_SEED overrides it), hands it to `fn` and, when the test
 * fails, prints it with the command that reruns it. `file` names the test file in that message.
 */
export function seededTest(file: string, name: string, fn: (seed: number) => void): void {
  test(name, () => {
    const seed = freshSeed();
    runningSeed = seed;
    try {
      fn(seed);
    } catch (e) {
      console.error(`${file} test "${name}" failed with seed ${seed}; rerun with FLASH_MLA_SEED=${seed}`);
      throw e;
    }
  });
}

/** Standard normal (Box-Muller). */
export function normal(r: () => number): number {
  const u = Math.max(r(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

/** Whether GPU tests should run; when they cannot, the reason to print with the skip. */
export async function gpuSkipReason(): Promise<string | false> {
  const { cudaAvailable } = await import('../../src/index.js');
  if (cudaAvailable()) return false;
  let reason = 'no CUDA device';
  try {
    const { CudaDevice } = await import('../../src/cuda/runtime.js');
    CudaDevice.get();
  } catch (e) {
    reason = (e as Error).message;
  }
  if (process.env.FLASH_MLA_REQUIRE_GPU === '1') throw new Error(`FLASH_MLA_REQUIRE_GPU=1 but ${reason}`);
  return `GPU test skipped: ${reason}`;
}

/**
 * Decode kernels a GPU test covers: every one this device runs (the cuda backend's decodeKernels()), or those
 * FLASH_MLA_TEST_KERNELS=a,b names (e.g. to run a suite, or compute-sanitizer, on one kernel), which may also name
 * an opt-in kernel the device offers for some shapes ('hopper-small': see smallRowTakes).
 */
export function testKernels(): string[] {
  const want = process.env.FLASH_MLA_TEST_KERNELS;
  if (!want) return getBackend('cuda').decodeKernels();
  const all = [...getBackend('cuda').decodeKernels(), ...optInTestKernels()];
  const names = want.split(',').map((k) => k.trim()).filter(Boolean);
  if (names.length === 0) throw new RangeError(`FLASH_MLA_TEST_KERNELS: expected kernel names separated by commas, got '${want}'`);
  for (const k of names) if (!all.includes(k)) throw new RangeError(`FLASH_MLA_TEST_KERNELS: '${k}' is not a decode kernel of this device (have ${all.join(', ')})`);
  return names;
}

/** The opt-in decode kernels this device offers for some shapes (never a default; a test names them itself). */
export function optInTestKernels(): string[] {
  return getBackend('cuda').decodeKernels(SMALL_ROW_SHAPE).filter((k) => k === SMALL_ROW_KERNEL_NAME);
}

/** A decode the small-row kernel takes (features.ts smallRowMisfit) at its most rows, h_q 32: whether the device offers it. */
const SMALL_ROW_SHAPE = { fp8: false, sparse: false, hQ: SMALL_ROW_MAX_ROWS, hKv: 1, headDim: 576, dtype: 'bf16', pageSize: 64 } as const;

/**
 * Whether decode kernel `kernel` takes a dense case of the property generator (h_kv 1, d_qk 576, 64-token pages):
 * every kernel but 'hopper-small', which takes bf16 q with h_q · s_q ≤ SMALL_ROW_MAX_ROWS (32: its 16- and 32-row
 * entries; the generator makes no FP8-cache cases, where it takes ≤ 16).
 */
export function smallRowTakes(kernel: string, c: { sQ: number; hQ: number; dtype: string }): boolean {
  return kernel !== SMALL_ROW_KERNEL_NAME || (c.dtype === 'bf16' && c.sQ * c.hQ <= SMALL_ROW_MAX_ROWS);
}
