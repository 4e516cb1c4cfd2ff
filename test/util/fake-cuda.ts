// The fake CUDA driver of the tests (test/util/fake-cuda.c: a small consistent GPU on the host with fault
// switches), built with the host C compiler, and a kernel directory of synthetic binaries for it (cubins that are
// bare CUDA ELF headers plus the entry names, PTX with empty entries), so no nvcc is needed. A child process
// points the library at it with FLASH_MLA_LIBCUDA and FLASH_MLA_KERNEL_DIR (fakeCudaEnv), and reads the fake's
// counters and arms faults through koffi (bindFakeCuda).

import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import koffi from 'koffi';
import { APPEND_KV_FP8_PARAMS, MLA_DECODE_PARAMS_BYTES, MLA_DECODE_PARAMS_LAYOUT, MLA_FP8_PARAMS, MLA_LAYOUT_PARAMS, type StructLayout } from '../../src/cuda/params.js';
import { KERNEL_BUILDS } from '../../src/cuda/kernels.js';
import { KERNEL_ENTRIES } from './devices.js';

/** The C source (next to this file in the source tree; the tests run from dist/test/util). */
export const FAKE_CUDA_SOURCE = fileURLToPath(new URL('../../../test/util/fake-cuda.c', import.meta.url));

const cc = ['cc', 'gcc', 'clang'].find((c) => spawnSync(c, ['--version']).status === 0);
const cxx = ['g++', 'c++', 'clang++'].find((c) => spawnSync(c, ['--version']).status === 0);

/** The kernel emulator's sources (test/util/emu/) and the kernels it compiles (kernels/), in the source tree. */
const EMU_DIR = fileURLToPath(new URL('../../../test/util/emu/', import.meta.url));
const KERNELS_DIR = fileURLToPath(new URL('../../../kernels/', import.meta.url));

/** Why the fake cannot be used here, or false. `emulate`: the build that runs the kernels (needs a C++ compiler too). */
export function fakeCudaSkipReason(opts: { emulate?: boolean } = {}): string | false {
  if (process.platform !== 'linux') return 'the cuda backend is Linux only';
  if (!cc) return 'no C compiler on PATH (cc, gcc or clang) to build the fake libcuda';
  if (opts.emulate && !cxx) return 'no C++ compiler on PATH (g++, c++ or clang++) to build the kernel emulator';
  return false;
}

/** Entry points per kernel file: those the library launches (devices.ts). */
const ENTRIES: Record<string, string[]> = KERNEL_ENTRIES;

/** A cubin the fake accepts: a 64-bit CUDA ELF header (SM version in e_flags, as nvcc writes it) and the names. */
function syntheticCubin(arch: string, names: string[]): Uint8Array {
  const sm = Number(arch.replace(/^sm_(\d+)a?$/, '$1'));
  const strtab = new TextEncoder().encode(`\0${names.join('\0')}\0`);
  const b = new Uint8Array(64 + strtab.length);
  const dv = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0x41]);
  dv.setUint16(0x10, 2, true); // ET_EXEC
  dv.setUint16(0x12, 190, true); // EM_CUDA
  dv.setUint32(0x14, 1, true);
  dv.setBigUint64(0x28, BigInt(b.length), true); // e_shoff: the "section table" (empty) ends the file
  dv.setUint32(0x30, 0x0a000004 | (sm << 8), true);
  dv.setUint16(0x34, 64, true);
  dv.setUint16(0x36, 56, true);
  dv.setUint16(0x3a, 64, true);
  b.set(strtab, 64);
  return b;
}

function syntheticPtx(arch: string, names: string[]): string {
  const target = arch.replace('compute_', 'sm_');
  return `// synthetic PTX for the fake driver\n.version 8.0\n.target ${target}\n.address_size 64\n\n` + names.map((n) => `.visible .entry ${n}(\n)\n{\n\tret;\n}\n`).join('\n');
}

export interface FakeCuda {
  /** The fake libcuda.so.1. */
  lib: string;
  /** Synthetic cubins and PTX of every kernel file the library loads. */
  kernelDir: string;
}

/** A text edit of the emulator's copy of a kernel file: [file in kernels/, text, replacement] (every occurrence). */
export type KernelEdit = [file: string, from: string, to: string];

/**
 * Compile the fake (the params struct's size and pointer fields from src/cuda/params.ts) and write the synthetic
 * kernel directory, in a fresh temporary directory. `emulate`: link in the kernel emulator (test/util/emu/), which
 * runs the metadata kernel, the portable decode kernels, the Hopper kernel and the combine — kernels/*.cu compiled for
 * the host — at their launches, under its shared-memory race detector (and its own test kernels, emu_selftest.cpp). `plant`: edits of the emulator's copy of kernels/ (never of kernels/ itself), for tests that
 * show a planted bug fails.
 */
export function buildFakeCuda(opts: { emulate?: boolean; plant?: KernelEdit[] } = {}): FakeCuda {
  const dir = mkdtempSync(join(tmpdir(), 'flash-mla-fake-cuda-'));
  const lib = join(dir, 'libcuda.so.1');
  // the encoder writes the fields below q_batch_stride as 64-bit device addresses (src/cuda/params.ts)
  const ptrOffsets = Object.values(MLA_DECODE_PARAMS_LAYOUT).filter((o) => o < MLA_DECODE_PARAMS_LAYOUT.q_batch_stride);
  const ptrsOf = (l: StructLayout) => Object.values(l.fields).filter(([, type]) => type === 'ptr').map(([off]) => off).join(',');
  // the fake's L kind has no pointer fields to check: a pointer added to MlaLayoutParams must get them
  if (ptrsOf(MLA_LAYOUT_PARAMS) !== '') throw new Error('MlaLayoutParams has pointer fields: give the fake\'s L parameter kind their offsets');
  const args = [
    '-shared', '-fPIC', '-O1', `-DPARAMS_BYTES=${MLA_DECODE_PARAMS_BYTES}`, `-DPARAMS_PTR_OFFSETS=${ptrOffsets.join(',')}`,
    `-DFP8_PARAMS_BYTES=${MLA_FP8_PARAMS.bytes}`, `-DFP8_PARAMS_PTR_OFFSETS=${ptrsOf(MLA_FP8_PARAMS)}`,
    `-DAPPEND_FP8_PARAMS_BYTES=${APPEND_KV_FP8_PARAMS.bytes}`, `-DAPPEND_FP8_PARAMS_PTR_OFFSETS=${ptrsOf(APPEND_KV_FP8_PARAMS)}`,
    `-DLAYOUT_PARAMS_BYTES=${MLA_LAYOUT_PARAMS.bytes}`,
  ];
  if (opts.emulate) buildEmulating(dir, lib, args, opts.plant ?? []);
  else {
    const b = spawnSync(cc!, [...args, '-o', lib, FAKE_CUDA_SOURCE], { encoding: 'utf8' });
    if (b.status !== 0) throw new Error(`building the fake libcuda failed:\n${b.stderr}`);
  }
  const kernelDir = join(dir, 'kernels') + '/';
  mkdirSync(kernelDir);
  for (const build of Object.values(KERNEL_BUILDS)) {
    const names = ENTRIES[build.file] ?? [];
    for (const arch of build.cubins) writeFileSync(`${kernelDir}${build.file}.${arch}.cubin`, syntheticCubin(arch, names));
    if (build.ptx) writeFileSync(`${kernelDir}${build.file}.${build.ptx}.ptx`, syntheticPtx(build.ptx, names));
  }
  return { lib, kernelDir };
}

/** Replace each `from` of a copied kernel file by its `to`, failing the build when the kernel no longer has it. */
function replaceInKernel(kernels: string, file: string, edits: [from: string, to: string][]): void {
  const path = join(kernels, file);
  let source = readFileSync(path, 'utf8');
  for (const [from, to] of edits) {
    if (!source.includes(from)) throw new Error(`kernels/${file} no longer contains '${from}': update the emulator build (test/util/fake-cuda.ts)`);
    source = source.split(from).join(to);
  }
  writeFileSync(path, source);
}

/**
 * The emulator's reading of each wgmma wrapper (test/util/emu/ptx_wgmma.cuh) checked against the generated PTX
 * (kernels/ptx_wgmma.cuh): name → shape and type; a scale_d parameter ↔ a runtime scale-d predicate (else 1);
 * imm-scale-a/b 1; tnsp-a = the _ta suffix and tnsp-b = the _tb suffix. Throws at the first wrapper that differs or is missing.
 */
export function checkWgmmaStandIn(real: string, standIn: string): number {
  const fns = [...real.matchAll(/void (wgmma_m64n(\d+)k16_(bf16|f16)_(ss|rs)(_ta)?(_tb)?)\((.*)\) \{\s*asm volatile\("([^"]*)"/g)];
  if (fns.length === 0) throw new Error('kernels/ptx_wgmma.cuh: no wgmma wrappers found (the generator changed its output?)');
  for (const [, name, n, type, src, ta, tb, params, ptx] of fns) {
    const scaleD = /int scale_d/.test(params);
    const imm = src === 'ss' ? `1, 1, ${ta ? 1 : 0}, ${tb ? 1 : 0}` : `1, 1, ${tb ? 1 : 0}`;
    const want = new RegExp(`wgmma\\.mma_async\\.sync\\.aligned\\.m64n${n}k16\\.f32\\.${type}\\.${type} \\{[^}]*\\}, (?:%\\d+|\\{[^}]*\\}), %\\d+, ${scaleD ? 'p' : '1'}, ${imm};`);
    if (!want.test(ptx)) throw new Error(`kernels/ptx_wgmma.cuh: ${name}'s PTX is not what test/util/emu/ptx_wgmma.cuh assumes (${want}): update the stand-in`);
    const call = `emu::wgmma(${n}, ${type === 'bf16'}, d, ${src === 'ss' ? 'a, nullptr' : '0, a'}, b, ${ta ? 'true' : 'false'}, ${tb ? 'true' : 'false'}, ${scaleD ? 'scale_d' : '1'});`;
    if (!standIn.includes(`void ${name}(`) || !standIn.split(`void ${name}(`)[1].split('\n')[0].includes(call)) {
      throw new Error(`test/util/emu/ptx_wgmma.cuh: ${name} missing or not '${call}'`);
    }
  }
  // the e4m3 wrappers (k32, A from registers, no transpose immediates)
  const f8 = [...real.matchAll(/void (wgmma_m64n(\d+)k32_e4m3_rs)\((.*)\) \{\s*asm volatile\("([^"]*)"/g)];
  for (const [, name, n, params, ptx] of f8) {
    const scaleD = /int scale_d/.test(params);
    const want = new RegExp(`wgmma\\.mma_async\\.sync\\.aligned\\.m64n${n}k32\\.f32\\.e4m3\\.e4m3 \\{[^}]*\\}, \\{[^}]*\\}, %\\d+, ${scaleD ? 'p' : '1'}, 1, 1;`);
    if (!want.test(ptx)) throw new Error(`kernels/ptx_wgmma.cuh: ${name}'s PTX is not what test/util/emu/ptx_wgmma.cuh assumes (${want}): update the stand-in`);
    const call = `emu::wgmma_e4m3(${n}, d, a, b, ${scaleD ? 'scale_d' : '1'});`;
    if (!standIn.includes(`void ${name}(`) || !standIn.split(`void ${name}(`)[1].split('\n')[0].includes(call)) {
      throw new Error(`test/util/emu/ptx_wgmma.cuh: ${name} missing or not '${call}'`);
    }
  }
  return fns.length + f8.length;
}

/**
 * Extra preprocessor switches for the emulator's compile of kernels/ (an experiment's variant build, e.g.
 * FLASH_MLA_EMU_DEFINES=-DMLA_EXPERIMENT_NO_O_STORE): whitespace-separated -D/-U flags, read from the
 * environment of the process that builds the fake (the test file, not the scenario children). Empty: the shipped code.
 * The planted-bug tests (FLASH_MLA_EMULATION=full) plant text of the shipped code and may not apply to an experiment.
 */
function emuDefines(): string[] {
  const flags = (process.env.FLASH_MLA_EMU_DEFINES ?? '').split(/\s+/).filter((f) => f !== '');
  for (const f of flags) if (!/^-[DU][A-Za-z_][A-Za-z0-9_]*(=[A-Za-z0-9_.+-]*)?$/.test(f)) throw new Error(`FLASH_MLA_EMU_DEFINES: '${f}' is not a -DNAME[=VALUE] or -UNAME flag`);
  return flags;
}

/** The fake with the kernel emulator: kernels/ copied with the emulator's ptx*.cuh in place of the real ones, then linked. */
function buildEmulating(dir: string, lib: string, fakeArgs: string[], plant: KernelEdit[]): void {
  const kernels = join(dir, 'emu-kernels');
  cpSync(KERNELS_DIR, kernels, { recursive: true });
  // the Hopper stand-ins: the descriptor encoding must be the real one, the wgmma wrappers must mean what the real do
  const realSm90 = readFileSync(join(KERNELS_DIR, 'ptx_sm90.cuh'), 'utf8');
  const descFn = (src: string) => /__device__ __forceinline__ uint64_t wgmma_desc\([\s\S]*?\n\}/.exec(src)?.[0];
  if (!descFn(realSm90) || descFn(realSm90) !== descFn(readFileSync(join(EMU_DIR, 'ptx_sm90.cuh'), 'utf8'))) {
    throw new Error("kernels/ptx_sm90.cuh's wgmma_desc differs from test/util/emu/ptx_sm90.cuh's copy: update the stand-in");
  }
  checkWgmmaStandIn(readFileSync(join(KERNELS_DIR, 'ptx_wgmma.cuh'), 'utf8'), readFileSync(join(EMU_DIR, 'ptx_wgmma.cuh'), 'utf8'));
  for (const header of ['ptx.cuh', 'ptx_sm90.cuh', 'ptx_wgmma.cuh']) copyFileSync(join(EMU_DIR, header), join(kernels, header));
  // the metadata kernel's one inline-PTX statement (emu.cpp)
  replaceInKernel(kernels, 'mla_metadata.cu', [['asm("mov.u32 %0, %%dynamic_smem_size;" : "=r"(smem_bytes));', 'smem_bytes = emu::dynamic_smem_bytes();']]);
  // every shared array as a stand-in of emu_runtime.h, so that each access goes through the race detector: the
  // dynamic ones as SharedWindow (only its address can be taken; the combine's is its C = 4 entries' stage), the
  // metadata's seqlen cache and the combine's static partial sums as Shared arrays (indexing them is an instrumented
  // ld.shared / st.shared)
  for (const file of ['mla_generic_decode.cuh', 'mla_decode_generic_small.cu', 'mla_decode_fp8.cu', 'mla_combine.cu']) {
    replaceInKernel(kernels, file, [['extern __shared__ __align__(128) uint8_t smem[];', 'const emu::SharedWindow smem{};']]);
  }
  for (const file of ['mla_decode_sm90.cu', 'mla_decode_sm90_small.cu', 'mla_sm90_small_sparse_r32.cuh']) {
    replaceInKernel(kernels, file, [['extern __shared__ uint8_t smem_raw[];', 'const emu::SharedWindow smem_raw{};']]);
  }
  replaceInKernel(kernels, 'mla_metadata.cu', [['extern __shared__ int s_cache[];', 'const emu::Shared<int[]> s_cache{0, "s_cache[] (mla_metadata.cu)"};']]);
  replaceInKernel(kernels, 'mla_combine.cu', [[
    '__shared__ float4 partial[COMBINE_WARPS][kSub][32];',
    'const emu::Shared<float4[COMBINE_WARPS][kSub][32]> partial{emu::static_shared(sizeof(float4[COMBINE_WARPS][kSub][32]), __LINE__), "partial[][][] (mla_combine.cu)"};',
  ]]);
  for (const [file, from, to] of plant) replaceInKernel(kernels, file, [[from, to]]);
  // the Hopper kernel and the headers only it includes (its math pieces, its FP8 producers) may hold no inline PTX
  for (const file of ['mla_decode_sm90.cu', 'mla_decode_sm90_small.cu', 'mla_sm90_math.cuh', 'mla_sm90_kbuffers.cuh', 'mla_sm90_part_trace.cuh', 'mla_sm90_policy.cuh', 'mla_sm90_fp8_producer.cuh', 'mla_sm90_fp8_dequant.cuh', 'mla_sm90_small_fp8.cuh', 'mla_sm90_small_merge.cuh', 'mla_sm90_small_sparse.cuh', 'mla_fold_combine.cuh']) {
    if (/\basm\b/.test(readFileSync(join(kernels, file), 'utf8'))) throw new Error(`kernels/${file} has inline PTX the emulator build does not replace: update test/util/fake-cuda.ts`);
  }
  const run = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`building the emulating fake libcuda failed: ${cmd} ${args.join(' ')}\n${r.stderr}`);
  };
  const defines = emuDefines();
  const objects = ['emu', 'emu_race', 'emu_combine', 'emu_sm90', 'emu_sm90_small', 'emu_fp8', 'emu_selftest'].map((name) => {
    const obj = join(dir, `${name}.o`);
    // the kernels' headers first (their quoted includes find the stand-in ptx*.cuh beside them), then cuda_bf16.h etc.
    run(cxx!, ['-c', '-fPIC', '-O2', '-std=c++17', '-w', ...defines, '-I', kernels, '-I', EMU_DIR, '-o', obj, join(EMU_DIR, `${name}.cpp`)]);
    return obj;
  });
  const fake = join(dir, 'fake-cuda.o');
  run(cc!, [...fakeArgs.filter((a) => a !== '-shared'), '-c', '-DFAKE_CUDA_EMULATE', ...defines, '-o', fake, FAKE_CUDA_SOURCE]);
  run(cxx!, ['-shared', '-o', lib, fake, ...objects]);
}

/**
 * The environment of a child process that uses the fake: the library's own switches cleared, the fake's device
 * and faults from `vars` (FAKE_CUDA_*, FLASH_MLA_FORCE_PTX, ...).
 */
export function fakeCudaEnv(fake: FakeCuda, vars: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // (FLASH_MLA_EXPERIMENT_* pass through: a measurement switch is emulated under the scenarios as it will run)
  for (const k of Object.keys(env)) if (k.startsWith('FAKE_CUDA_') || (k.startsWith('FLASH_MLA_') && !k.startsWith('FLASH_MLA_EXPERIMENT_')) || k.startsWith('NODE_TEST')) delete env[k];
  return { ...env, FLASH_MLA_LIBCUDA: fake.lib, FLASH_MLA_KERNEL_DIR: fake.kernelDir, ...vars };
}

export interface ChildResult {
  status: number | null;
  /** The signal that ended the child (its own crash, or the timeout's SIGTERM), when status is null. */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run `node script args…` with `env`, without blocking the event loop (children may run side by side). */
export function runNode(script: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 30_000): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
}

/** The fake's own functions, for a child process the library was pointed at it (FLASH_MLA_LIBCUDA). */
export interface FakeCudaControl {
  /**
   * Live allocations ('allocs'), page-locked host allocations ('host_allocs'), bytes, streams, events, graphs, execs, modules; 'kernels_run'; 'sticky' (the sticky
   * CUresult, 0 when none); 'stream_waits' (cuStreamWaitEvent calls that succeeded); 'last_record_stream' / 'last_wait_stream' (the stream handle of the last event record / successful wait, -1 before any); 'emulated:<entry>' (launches the emulator ran as that entry point, -1 without it);
   * 'ran:<function>' (kernels run as that function, eagerly or in a graph; 0 if never) and
   * 'ran:<function>:grid.x' (grid.y, grid.z, block.x, block.y, block.z, smem: the shape of its last run).
   */
  stat(what: 'allocs' | 'host_allocs' | 'bytes' | 'streams' | 'events' | 'graphs' | 'execs' | 'modules' | 'kernels_run' | 'sticky' | 'stream_waits' | 'last_record_stream' | 'last_wait_stream' | `emulated:${string}` | `ran:${string}`): number;
  /** Calls of a driver function since the library was loaded (failed ones included). */
  calls(fn: string): number;
  /** Replace the faults (FUNCTION@N[+]=CODE[!],…; '' for none); counting starts again. */
  arm(spec: string): void;
  /** The last thing the fake noted (an injected fault, an illegal access, a refused argument). */
  log(): string;
}

export function bindFakeCuda(lib = process.env.FLASH_MLA_LIBCUDA): FakeCudaControl {
  if (!lib) throw new Error('FLASH_MLA_LIBCUDA is not set: not a child process of the fake driver');
  const l = koffi.load(lib); // the library loaded the same file: one copy, shared state
  const stat = l.func('long long fake_cuda_stat(const char *what)');
  const calls = l.func('long long fake_cuda_calls(const char *fn)');
  const arm = l.func('int fake_cuda_arm(const char *spec)');
  const log = l.func('const char *fake_cuda_log(void)');
  return {
    stat: (what) => Number(stat(what)),
    calls: (fn) => Number(calls(fn)),
    arm: (spec) => {
      if (arm(spec) !== 0) throw new Error(`fake libcuda: ${log()}`);
    },
    log: () => String(log() ?? ''),
  };
}

/**
 * The kernel emulator's entry point in an emulating fake (test/util/emu/emu.cpp emu_launch), for its own test kernels
 * (test/util/emu/emu_selftest.cpp: no parameters, no global memory): 0 ran, -1 faulted (a race among others), -2
 * deadlocked, 1 no such kernel; `message` says what the emulator reported. The environment (FAKE_CUDA_EMU_*) is read
 * at each launch.
 */
export function bindEmulator(lib = process.env.FLASH_MLA_LIBCUDA): (name: string, threads: number, smemBytes: number) => { code: number; message: string } {
  if (!lib) throw new Error('FLASH_MLA_LIBCUDA is not set: not a child process of the fake driver');
  const launch = koffi.load(lib).func('int emu_launch(const char *name, const uint32_t *grid, const uint32_t *block, uint32_t smem, void *args, const uint32_t *cluster, _Out_ uint8_t *err, size_t cap)');
  return (name, threads, smemBytes) => {
    const err = Buffer.alloc(4096);
    const code = launch(name, new Uint32Array([1, 1, 1]), new Uint32Array([threads, 1, 1]), smemBytes, null, null, err, err.length) as number;
    return { code, message: err.toString('utf8', 0, Math.max(0, err.indexOf(0))) };
  };
}

/** One scenario against the fake driver, run in a child process of its own (its own device and faults). */
export interface FakeCudaScenario {
  title: string;
  /** The fake's device and faults at load (FAKE_CUDA_*), library switches (FLASH_MLA_*). */
  env?: Record<string, string>;
  /** Throws on failure; returns notes for the test's diagnostics. */
  run(f: FakeCudaControl): string[] | Promise<string[]>;
}

/** Set in the child: the scenario it runs. */
const SCENARIO_VAR = 'FLASH_MLA_FAKE_SCENARIO';

/**
 * A test file of scenarios against the fake driver; `file` is its import.meta.url, as it is also the child. In the
 * child (FLASH_MLA_FAKE_SCENARIO set) run that scenario and print its notes as a JSON line. Otherwise build the fake
 * and a describe() suite `suite` with one test per scenario (each spawning the child), then the tests `more` adds
 * (`fake()`: the fake, once built).
 */
export async function fakeCudaScenarios(file: string, suite: string, scenarios: Record<string, FakeCudaScenario>, more?: (fake: () => FakeCuda) => void): Promise<void> {
  const name = process.env[SCENARIO_VAR];
  if (name) {
    const f = bindFakeCuda();
    const s = scenarios[name];
    if (!s) throw new Error(`${SCENARIO_VAR}: no scenario '${name}'`);
    try {
      console.log(JSON.stringify({ notes: await s.run(f) }));
    } catch (e) {
      console.error(`scenario '${name}' failed: ${(e as Error).stack ?? e}\nthe fake driver's last note: ${f.log()}`);
      process.exitCode = 1;
    }
    return;
  }
  const self = fileURLToPath(file);
  describe(suite, { skip: fakeCudaSkipReason(), concurrency: 4 }, () => {
    let fake: FakeCuda;
    before(() => {
      fake = buildFakeCuda();
    });
    for (const [name, s] of Object.entries(scenarios)) {
      it(`${name}: ${s.title}`, async (t) => {
        const r = await runNode(self, [], fakeCudaEnv(fake, { ...s.env, [SCENARIO_VAR]: name }));
        assert.equal(r.status, 0, `${r.stderr}${r.stdout}`);
        const { notes } = JSON.parse(r.stdout.trim().split('\n').pop()!) as { notes: string[] };
        for (const n of notes) t.diagnostic(n);
      });
    }
    more?.(() => fake);
  });
}
