// Runs GPU test files without a GPU, on the fake driver with the kernel emulator (test/util/emu/, see
// test/kernel-emulation.test.ts): the metadata, portable decode, Hopper decode (its FP8 entries too) and combine kernels
// execute on the host (the portable FP8 kernel too, since session 42); the append kernels do not (tests of those fail here). Slow — minutes per file — and a dry run only: it
// checks the tests and the kernels' logic, not a GPU. The environment passes through (FLASH_MLA_SEED,
// FAKE_CUDA_SMS, default 24: fewer SM parts, faster; the fake is an A100 unless FAKE_CUDA_CC=9.0
// FAKE_CUDA_SMEM_OPTIN=232448 make it a Hopper part, where 'hopper' is the default kernel; FAKE_CUDA_EMU_WGMMA / _TMA /
// _ORDER / _RACECHECK, test/util/emu/emu.cpp). A launch the emulator fails (a fault, a shared-memory race, a deadlock)
// surfaces as the driver error it poisons the context with; FAKE_CUDA_VERBOSE=1 prints the emulator's report.
//
//   npm run build && node dist/test/util/run-emulated.js dist/test/dense-layouts-gpu.test.js
// Arguments starting with -- go to `node --test` (e.g. --test-name-pattern='h_kv').

import { spawnSync } from 'node:child_process';
import { buildFakeCuda, fakeCudaSkipReason } from './fake-cuda.js';

const testArgs = process.argv.slice(2).filter((a) => a.startsWith('--'));
const files = process.argv.slice(2).filter((a) => !a.startsWith('--'));
if (files.length === 0) {
  console.error('usage: node dist/test/util/run-emulated.js [--NODE_TEST_OPTION…] TEST_FILE.js [...] (GPU test files, run on the emulating fake driver)');
  process.exit(2);
}
const why = fakeCudaSkipReason({ emulate: true });
if (why) {
  console.error(`run-emulated: ${why}`);
  process.exit(1);
}
const fake = buildFakeCuda({ emulate: true });
const env = { ...process.env, FLASH_MLA_LIBCUDA: fake.lib, FLASH_MLA_KERNEL_DIR: fake.kernelDir, FAKE_CUDA_SMS: process.env.FAKE_CUDA_SMS ?? '24' };
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...testArgs, ...files], { env, stdio: 'inherit' });
process.exit(r.status ?? 1);
