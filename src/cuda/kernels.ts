// Which kernel binaries ship in dist/kernels, and which of them a device runs: pure data and functions (no driver,
// no file system), so the choice is unit-tested on fake devices (test/kernel-select.test.ts) and `flash-mla info`
// can explain it.
//
// Rules:
// - A cubin `sm_XY` runs on devices of compute capability X.y with y ≥ Y (SASS is compatible within a major);
//   an arch-specific cubin `sm_XYa` only on X.Y exactly. The highest matching cubin wins.
// - PTX `compute_XY` is compiled by the driver's JIT for any device of compute capability ≥ X.Y. It is used when no
//   cubin matches (sm_100, sm_120, later GPUs), or for every kernel that has PTX when FLASH_MLA_FORCE_PTX=1.
//   Nothing is cached on disk by us (the driver keeps its own JIT cache unless CUDA_CACHE_DISABLE=1).
// - A decode kernel runs when its binary and the support kernels' (metadata, combine) resolve and its dynamic
//   shared memory fits the device's opt-in limit per block. Preference: hopper, generic, generic-small.
//   FLASH_MLA_DECODE_KERNEL=<name> (or `kernel: name` per call) picks one.
// - The other layouts (h_kv > 1 or d_qk 512; the FP8 cache) run on their own kernel files of the 'generic' family
//   (LAYOUT_DECODE_KERNELS) when those resolve and fit, whatever the preference above or FLASH_MLA_DECODE_KERNEL.
// - Dense decode over the FP8 cache with bf16 q and 64-token pages also runs on the Hopper kernel's FP8 variant
//   (FP8_HOPPER_KERNEL: kernel 'hopper', entry mla_decode_sm90_fp8_bf16 of the same cubin), the default for those
//   decodes wherever 'hopper' runs (so FLASH_MLA_DECODE_KERNEL naming another kernel leaves them to 'generic') and its
//   own shared memory fits.
// - Sparse decode over the FP8 cache with bf16 q also runs on the Hopper kernel's sparse
//   variant (FP8_SPARSE_HOPPER_KERNEL: kernel 'hopper', entry mla_decode_sm90_fp8_sparse_bf16 of the same cubin), by
//   the same rule: the default for those decodes wherever 'hopper' runs and its own shared memory fits.
// - PDL (programmatic dependent launch) needs sm_90 and kernels that execute griddepcontrol.wait: our sm_90 cubins
//   do, the compute_80 PTX does not (the instruction does not exist on sm_80), so PDL is off whenever the portable
//   kernels come from PTX.

import type { DeviceTraits } from '../backend.js';
import { MLA_CONFIG } from './config.js';

export type BinaryForm = 'cubin' | 'ptx';

/** How one kernel file is built (mirrors the `// build:` line of kernels/<file>.cu; test/kernel-artifacts checks). */
export interface KernelBuild {
  readonly file: string;
  /** cubin architectures, e.g. 'sm_80', 'sm_90a'. */
  readonly cubins: readonly string[];
  /** PTX virtual architecture shipped for the JIT, e.g. 'compute_80'; null: none. */
  readonly ptx: string | null;
  /** What it is, for `info`. */
  readonly role: string;
}

const PORTABLE = { cubins: ['sm_80', 'sm_90'], ptx: 'compute_80' } as const;

/** Every kernel file the library loads. */
export const KERNEL_BUILDS: Readonly<Record<string, KernelBuild>> = {
  mla_metadata: { file: 'mla_metadata', ...PORTABLE, role: 'tile scheduler' },
  mla_combine: { file: 'mla_combine', ...PORTABLE, role: 'split combine' },
  append_kv: { file: 'append_kv', ...PORTABLE, role: 'KV-cache append' },
  append_kv_fp8: { file: 'append_kv_fp8', ...PORTABLE, role: 'FP8 KV-cache append (quantizes)' },
  mla_decode_fp8: { file: 'mla_decode_fp8', ...PORTABLE, role: 'decode over the FP8 cache, dense and sparse' },
  mla_decode_generic: { file: 'mla_decode_generic', ...PORTABLE, role: "decode 'generic'" },
  mla_decode_generic_layout: { file: 'mla_decode_generic_layout', ...PORTABLE, role: "decode 'generic' for h_kv > 1 and d_qk 512" },
  mla_decode_generic_small: { file: 'mla_decode_generic_small', ...PORTABLE, role: "decode 'generic-small'" },
  mla_decode_sm90: { file: 'mla_decode_sm90', cubins: ['sm_90a'], ptx: null, role: "decode 'hopper'" },
  mla_decode_sm90_small: { file: 'mla_decode_sm90_small', cubins: ['sm_90a'], ptx: null, role: "decode 'hopper-small' (default for ≤ 16 rows)" },
  tc_peak: { file: 'tc_peak', cubins: ['sm_90a'], ptx: null, role: 'bench tensor-core probe' },
  code_evict: { file: 'code_evict', cubins: ['sm_80', 'sm_90'], ptx: null, role: 'bench --cold-code: other code on every SM before each run' },
};

/** Kernels every decode needs besides the decode kernel itself. */
export const DECODE_SUPPORT_FILES = ['mla_metadata', 'mla_combine'] as const;

export interface DecodeKernelInfo {
  readonly name: string;
  readonly file: string;
  /** Dynamic shared memory per CTA (mirrors kernels/mla_config.h). */
  readonly sharedBytes: number;
  readonly summary: string;
}

/** Decode kernels in order of preference (mirrors kernels/mla_config.h for the shared-memory sizes). */
export const DECODE_KERNELS: readonly DecodeKernelInfo[] = [
  { name: 'hopper', file: 'mla_decode_sm90', sharedBytes: MLA_CONFIG.SM90_SMEM_BYTES, summary: 'TMA + wgmma, Hopper only' },
  { name: 'generic', file: 'mla_decode_generic', sharedBytes: MLA_CONFIG.GEN_SMEM_BYTES, summary: 'mma.sync, 32-token K tiles' },
  { name: 'generic-small', file: 'mla_decode_generic_small', sharedBytes: MLA_CONFIG.GSM_SMEM_BYTES, summary: 'mma.sync, 16-token K tiles, fits 99 KB parts' },
];

export interface LayoutKernelInfo {
  /** The decodes it runs, for `info`. */
  readonly layouts: string;
  readonly file: string;
  /** Dynamic shared memory per CTA, at its largest variant (mirrors kernels/mla_config.h). */
  readonly sharedBytes: number;
}

/**
 * Decodes beyond FlashMLA 9edee0c's dense layout (16-bit cache, h_kv = 1, d_qk 576): one portable kernel file each,
 * of the 'generic' family (features.ts: no `kernel` or 'generic', other names refused). The backend runs them
 * whatever the default decode kernel is: FLASH_MLA_DECODE_KERNEL does not narrow them.
 */
export const LAYOUT_DECODE_KERNELS: readonly LayoutKernelInfo[] = [
  { layouts: 'h_kv > 1 or d_qk 512', file: 'mla_decode_generic_layout', sharedBytes: Math.max(MLA_CONFIG.GEN_SMEM_BYTES, MLA_CONFIG.GEN_D512_SMEM_BYTES) },
  { layouts: 'the FP8 cache', file: 'mla_decode_fp8', sharedBytes: MLA_CONFIG.F8D_SMEM_BYTES },
];

/**
 * The Hopper kernel's FP8 variant: dense decode over the FP8 cache, bf16 q, 64-token pages (features.ts
 * fp8HopperMisfit); kernel name 'hopper', an entry of the 'hopper' kernel's cubin (mirrors kernels/mla_config.h).
 */
export const FP8_HOPPER_KERNEL = {
  name: 'hopper',
  file: 'mla_decode_sm90',
  entry: 'mla_decode_sm90_fp8_bf16',
  /** The entry for schedules that may be packed (MlaDecodeArgs.packedOrder: it reads the order table). */
  packedEntry: 'mla_decode_sm90_fp8_packed_bf16',
  threads: MLA_CONFIG.SM90_FP8_THREADS,
  sharedBytes: MLA_CONFIG.SM90_FP8_SMEM_BYTES,
  layouts: 'the FP8 cache, dense, bf16 q',
} as const;

/**
 * The Hopper kernel's sparse FP8 variant: sparse decode over the FP8 cache, bf16 q, any h_q (padded to 64 heads per
 * CTA), any page size and topk (features.ts fp8HopperMisfit); kernel name 'hopper', an entry of the 'hopper' kernel's cubin, the same
 * two parameter structs as the portable sparse kernel (MlaDecodeParams, MlaFp8Params; mirrors kernels/mla_config.h).
 */
export const FP8_SPARSE_HOPPER_KERNEL = {
  name: 'hopper',
  file: 'mla_decode_sm90',
  entry: 'mla_decode_sm90_fp8_sparse_bf16',
  /** The entry for ceil(h_q / 64) even, launched as 2-CTA clusters: a token's m-blocks share each block's gather. */
  pairEntry: 'mla_decode_sm90_fp8_sparse_pair_bf16',
  threads: MLA_CONFIG.SM90_FP8_THREADS,
  sharedBytes: MLA_CONFIG.SM90_FP8S_SMEM_BYTES,
  layouts: 'sparse decode over the FP8 cache, bf16 q',
} as const;

/**
 * The Hopper small-row kernel (kernels/mla_decode_sm90_small.cu, levels 2 and 3 of docs/perf-log.md's session-7 plan):
 * dense decode of bf16 q, h_kv 1, d_qk 576, 64-token pages, the rows (h_q · s_q per request) as the wgmma's N: over
 * the 16-bit cache `entry` for ≤ `rows` rows and `r32Entry` (`r32SharedBytes` of dynamic shared memory) for up to
 * `r32Rows`; over the FP8 cache `fp8Entry` for ≤ `rows` (params and the 'hopper' FP8 kernel's two tensor maps and the
 * swizzled raw map; `fp8SharedBytes`, its raw stages; the e4m3 codes converted to f16 as the wgmma's A operand, the
 * scales folded out of the products) and `fp8G32Entry` for up to `r32Rows` (params and MlaFp8Params, `sparseThreads`,
 * `fp8SparseR32SharedBytes`). Not in DECODE_KERNELS: the backend's decodeKernels() offers it for the
 * decodes features.ts smallRowMisfit accepts — first (the default) when s_q is known and h_q · s_q ≤
 * smallRowDefaultMaxRows(fp8) (16 rows over the 16-bit cache, 32 over the FP8 cache) — so no preference list or FLASH_MLA_DECODE_KERNEL changes.
 */
export const SMALL_ROW_HOPPER_KERNEL = {
  name: 'hopper-small',
  file: 'mla_decode_sm90_small',
  entry: 'mla_decode_sm90_small_bf16',
  r32Entry: 'mla_decode_sm90_small_r32_bf16',
  fp8Entry: 'mla_decode_sm90_small_fp8_bf16',
  /**
   * Sparse decode over the FP8 cache (level 4; the default for sparse decodes with h_q ≤ 32, but for 17–32 heads with a
   * batch large enough for `fp8SparseR32Entry`): 16 heads of one query token per CTA, grid (s_q · ceil(h_q / 16), parts);
   * the register-A datapath, as `fp8Entry`, with a third warpgroup that gathers each indexed token's row (`sparseThreads`).
   */
  fp8SparseEntry: 'mla_decode_sm90_small_fp8_sparse_bf16',
  /**
   * Sparse decode of 17–32 heads of one query token per CTA (each block's rows gathered and its codes converted once for
   * all 32 heads; the default there when the batch has work enough for it: fp8-decode.ts sparseR32), grid
   * (s_q · ceil(h_q / 32), parts), `sparseThreads` threads, `fp8SparseR32SharedBytes`, the arguments of `fp8SparseEntry`.
   */
  fp8SparseR32Entry: 'mla_decode_sm90_small_fp8_sparse_r32_bf16',
  /**
   * Dense decode of 17–32 rows over the FP8 cache (since session 29; 7–8 % faster on an H200 than the 32-row FP8 entry of
   * TMA boxes it replaced, perf log `g32`): the 32-column sparse entry's body with a gather warpgroup copying the block
   * table's rows, grid (1, parts), `sparseThreads`, `fp8SparseR32SharedBytes`, params and MlaFp8Params.
   */
  fp8G32Entry: 'mla_decode_sm90_small_fp8_g32_bf16',
  sparseThreads: MLA_CONFIG.SM90S_SPARSE_GATHER_THREADS,
  rows: MLA_CONFIG.SM90S_ROWS,
  r32Rows: MLA_CONFIG.SM90S_R32_ROWS,
  threads: MLA_CONFIG.SM90S_THREADS,
  sharedBytes: MLA_CONFIG.SM90S_SMEM_BYTES,
  r32SharedBytes: MLA_CONFIG.SM90S_R32_SMEM_BYTES,
  fp8SharedBytes: MLA_CONFIG.SM90S_F8_SMEM_BYTES,
  fp8SparseR32SharedBytes: MLA_CONFIG.SM90S_SP32_SMEM_BYTES,
} as const;

/** The small-row kernel's entry for a decode of `rows` folded rows per request (FP8 cache if `fp8`) and its dynamic shared memory. */
export function smallRowEntry(fp8: boolean, rows: number, sparse = false): { entry: string; sharedBytes: number } {
  const k = SMALL_ROW_HOPPER_KERNEL;
  if (sparse) return { entry: k.fp8SparseEntry, sharedBytes: k.fp8SharedBytes };
  if (fp8 && rows > k.rows) return { entry: k.fp8G32Entry, sharedBytes: k.fp8SparseR32SharedBytes };
  if (fp8) return { entry: k.fp8Entry, sharedBytes: k.fp8SharedBytes };
  return rows > k.rows ? { entry: k.r32Entry, sharedBytes: k.r32SharedBytes } : { entry: k.entry, sharedBytes: k.sharedBytes };
}

/**
 * Does the small-row kernel's entry for `rows` rows (its FP8 entry if `fp8`) run on `dev` (its sm_90a cubin, its
 * shared memory)? Why not, or null.
 */
export function smallRowUnrunnable(sel: Pick<KernelSelection, 'device' | 'smallRow'>, fp8 = false, rows = 1, sparse = false): string | null {
  const binary = sel.smallRow, dev = sel.device;
  if (binary.form !== 'cubin') return binary.form === null ? binary.reason : `FLASH_MLA_FORCE_PTX=1 and '${SMALL_ROW_HOPPER_KERNEL.name}' ships no PTX`;
  const bytes = smallRowEntry(fp8, rows, sparse).sharedBytes;
  if (dev.maxSharedMemoryPerBlockOptin < bytes) {
    return `needs ${bytes} B of shared memory per block, the device allows ${dev.maxSharedMemoryPerBlockOptin} B`;
  }
  return null;
}

/** What the selection needs to know about a device (backend.ts: a subset of DeviceInfo). */
export type { DeviceTraits };

export interface SelectOptions {
  /** Use PTX for every kernel that ships it, ignoring cubins (FLASH_MLA_FORCE_PTX=1). */
  forcePtx?: boolean;
  /** Offer only this decode kernel (FLASH_MLA_DECODE_KERNEL). */
  decodeKernel?: string;
  /** PDL switched off (FLASH_MLA_NO_PDL=1). */
  noPdl?: boolean;
}

/** The options the environment sets: FLASH_MLA_FORCE_PTX=1, FLASH_MLA_DECODE_KERNEL=name, FLASH_MLA_NO_PDL=1. */
export function selectOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): SelectOptions {
  const name = env.FLASH_MLA_DECODE_KERNEL?.trim();
  return { forcePtx: env.FLASH_MLA_FORCE_PTX === '1', decodeKernel: name ? name : undefined, noPdl: env.FLASH_MLA_NO_PDL === '1' };
}

export interface BinaryChoice {
  file: string;
  /** null: nothing we ship runs on this device. */
  form: BinaryForm | null;
  /** 'sm_90', 'sm_90a', 'compute_80'; null with form null. */
  arch: string | null;
  /** File name in dist/kernels, e.g. 'mla_combine.sm_90.cubin'; null with form null. */
  artifact: string | null;
  /** One line: why this form. */
  reason: string;
}

export interface DecodeChoice {
  name: string;
  file: string;
  sharedBytes: number;
  runnable: boolean;
  binary: BinaryChoice;
  /** One line: why it runs (with which binary) or why not. */
  reason: string;
}

export interface LayoutChoice {
  layouts: string;
  file: string;
  sharedBytes: number;
  runnable: boolean;
  binary: BinaryChoice;
  /** One line: why it runs (with which binary) or why not. */
  reason: string;
}

export interface Fp8HopperChoice {
  name: string;
  file: string;
  entry: string;
  sharedBytes: number;
  runnable: boolean;
  binary: BinaryChoice;
  /** One line: why it runs (with which binary) or why not. */
  reason: string;
}

export interface KernelSelection {
  device: DeviceTraits;
  options: SelectOptions;
  /** Every decode kernel, in preference order, with whether it runs here and why. */
  decode: DecodeChoice[];
  /** Names of the runnable decode kernels (first = default); what the backend's decodeKernels() returns. */
  decodeKernels: string[];
  /** The kernels of the other layouts (LAYOUT_DECODE_KERNELS), with whether they run here and why. */
  layouts: LayoutChoice[];
  /** The Hopper kernel's FP8 variant (FP8_HOPPER_KERNEL): runs where 'hopper' runs and its shared memory fits. */
  fp8Hopper: Fp8HopperChoice;
  /**
   * Names of the kernels that run a dense FP8 decode with bf16 q over 64-token pages (first = default): 'hopper'
   * (when fp8Hopper runs), then 'generic' (the portable FP8 kernel, whatever the options). Other FP8 decodes: 'generic'.
   */
  fp8DecodeKernels: string[];
  /** The Hopper kernel's sparse FP8 variant (FP8_SPARSE_HOPPER_KERNEL): runs where 'hopper' runs and its shared memory fits. */
  fp8SparseHopper: Fp8HopperChoice;
  /**
   * Names of the kernels that run a sparse decode with bf16 q (first = default): 'hopper' (when fp8SparseHopper runs),
   * then 'generic' (the portable FP8 kernel, whatever the options). Sparse decodes with fp16 q: 'generic'.
   */
  sparseDecodeKernels: string[];
  /** The small-row kernel's binary here (smallRowUnrunnable: whether a decode's entry runs; chosen once, not per call). */
  smallRow: BinaryChoice;
  /** metadata, combine, append_kv. */
  support: BinaryChoice[];
  /** The form the portable kernels (metadata, combine, append, generic*) take here; null: none runs. */
  portableForm: BinaryForm | null;
  /** Launch with programmatic dependent launch. */
  pdl: boolean;
  /** Problems with the options (an unknown FLASH_MLA_DECODE_KERNEL); empty when none. */
  problems: string[];
}

const ccLabel = (d: DeviceTraits) => `${d.computeCapability.major}.${d.computeCapability.minor}`;
const smOf = (d: DeviceTraits) => `sm_${d.computeCapability.major}${d.computeCapability.minor}`;

function parseArch(arch: string): { major: number; minor: number; specific: boolean } {
  const m = /^(?:sm|compute)_(\d+)(\d)(a|f)?$/.exec(arch);
  if (!m) throw new RangeError(`kernel arch: expected sm_XY[a] or compute_XY, got '${arch}'`);
  return { major: Number(m[1]), minor: Number(m[2]), specific: m[3] !== undefined };
}

/** Does a cubin built for `arch` run on `dev`? */
export function cubinRuns(arch: string, dev: DeviceTraits): boolean {
  const a = parseArch(arch);
  const { major, minor } = dev.computeCapability;
  return a.specific ? a.major === major && a.minor === minor : a.major === major && a.minor <= minor;
}

/** Can the driver JIT PTX of virtual architecture `arch` for `dev`? */
export function ptxRuns(arch: string, dev: DeviceTraits): boolean {
  const a = parseArch(arch);
  const { major, minor } = dev.computeCapability;
  return major > a.major || (major === a.major && minor >= a.minor);
}

/** Which binary of kernel file `file` runs on `dev`, and why. */
export function chooseBinary(build: KernelBuild, dev: DeviceTraits, opts: SelectOptions = {}): BinaryChoice {
  const file = build.file;
  const cubin = [...build.cubins].filter((a) => cubinRuns(a, dev)).sort((x, y) => parseArch(y).minor - parseArch(x).minor)[0];
  const ptxOk = build.ptx !== null && ptxRuns(build.ptx, dev);
  const ptxChoice = (reason: string): BinaryChoice => ({ file, form: 'ptx', arch: build.ptx, artifact: `${file}.${build.ptx}.ptx`, reason });
  if (opts.forcePtx && ptxOk) return ptxChoice(`FLASH_MLA_FORCE_PTX=1: ${build.ptx} PTX compiled by the driver JIT, cubins ignored`);
  if (cubin) {
    const exact = cubin.replace(/a$/, '') === smOf(dev);
    const why = exact ? `built for ${smOf(dev)}` : `${cubin} code runs on compute capability ${parseArch(cubin).major}.x ≥ ${parseArch(cubin).major}.${parseArch(cubin).minor}`;
    const forced = opts.forcePtx ? ' (FLASH_MLA_FORCE_PTX=1, but this kernel ships no PTX)' : '';
    return { file, form: 'cubin', arch: cubin, artifact: `${file}.${cubin}.cubin`, reason: `${cubin} cubin: ${why}${forced}` };
  }
  if (ptxOk) return ptxChoice(`no cubin for ${smOf(dev)} (built: ${build.cubins.join(', ')}): ${build.ptx} PTX compiled by the driver JIT at first use`);
  const none = build.ptx === null ? `only built for ${build.cubins.join(', ')}, no PTX` : `built for ${build.cubins.join(', ')} and ${build.ptx} PTX: needs compute capability ≥ ${parseArch(build.ptx).major}.${parseArch(build.ptx).minor}`;
  return { file, form: null, arch: null, artifact: null, reason: `nothing runs on compute capability ${ccLabel(dev)}: ${none}` };
}

/** The whole choice for one device: decode kernels, support kernels, binary forms, PDL. Pure. */
export function selectKernels(dev: DeviceTraits, opts: SelectOptions = {}): KernelSelection {
  const support = (['mla_metadata', 'mla_combine', 'append_kv'] as const).map((f) => chooseBinary(KERNEL_BUILDS[f], dev, opts));
  const supportMissing = support.filter((s) => (DECODE_SUPPORT_FILES as readonly string[]).includes(s.file) && s.form === null);
  const problems: string[] = [];
  const names = DECODE_KERNELS.map((k) => k.name);
  if (opts.decodeKernel !== undefined && !names.includes(opts.decodeKernel)) {
    problems.push(`FLASH_MLA_DECODE_KERNEL='${opts.decodeKernel}' is not a decode kernel (expected one of ${names.join(', ')})`);
  }
  const optin = dev.maxSharedMemoryPerBlockOptin;
  const decode = DECODE_KERNELS.map((k): DecodeChoice => {
    const binary = chooseBinary(KERNEL_BUILDS[k.file], dev, opts);
    const base = { name: k.name, file: k.file, sharedBytes: k.sharedBytes, binary };
    let why: string | null = null;
    if (binary.form === null) why = binary.reason;
    else if (opts.forcePtx && binary.form !== 'ptx') why = `FLASH_MLA_FORCE_PTX=1 and '${k.name}' ships no PTX (only ${KERNEL_BUILDS[k.file].cubins.join(', ')} cubins)`;
    else if (supportMissing.length) why = `no binary of ${supportMissing.map((s) => s.file).join(', ')} runs here`;
    else if (optin < k.sharedBytes) why = `needs ${k.sharedBytes} B of shared memory per block, the device allows ${optin} B`;
    else if (opts.decodeKernel !== undefined && names.includes(opts.decodeKernel) && opts.decodeKernel !== k.name) why = `FLASH_MLA_DECODE_KERNEL=${opts.decodeKernel} selects another kernel`;
    if (why !== null) return { ...base, runnable: false, reason: why };
    const form = binary.form === 'ptx' ? `${binary.arch} PTX (driver JIT)` : `${binary.arch} cubin`;
    return { ...base, runnable: true, reason: `${form}, ${k.sharedBytes} B shared memory of ${optin} B` };
  });
  if (opts.decodeKernel !== undefined && names.includes(opts.decodeKernel) && !decode.find((d) => d.name === opts.decodeKernel)!.runnable) {
    problems.push(`FLASH_MLA_DECODE_KERNEL=${opts.decodeKernel} cannot run on ${dev.name}: ${decode.find((d) => d.name === opts.decodeKernel)!.reason}`);
  }
  const layouts = LAYOUT_DECODE_KERNELS.map((k): LayoutChoice => {
    const binary = chooseBinary(KERNEL_BUILDS[k.file], dev, opts);
    const base = { layouts: k.layouts, file: k.file, sharedBytes: k.sharedBytes, binary };
    if (binary.form === null) return { ...base, runnable: false, reason: binary.reason };
    if (supportMissing.length) return { ...base, runnable: false, reason: `no binary of ${supportMissing.map((s) => s.file).join(', ')} runs here` };
    if (optin < k.sharedBytes) return { ...base, runnable: false, reason: `needs ${k.sharedBytes} B of shared memory per block, the device allows ${optin} B` };
    const form = binary.form === 'ptx' ? `${binary.arch} PTX (driver JIT)` : `${binary.arch} cubin`;
    return { ...base, runnable: true, reason: `${form}, ${k.sharedBytes} B shared memory of ${optin} B` };
  });
  const hopper = decode.find((d) => d.name === FP8_HOPPER_KERNEL.name)!;
  // an FP8 entry of the 'hopper' cubin: runs where 'hopper' runs and its own shared memory fits
  const hopperEntry = (k: typeof FP8_HOPPER_KERNEL | typeof FP8_SPARSE_HOPPER_KERNEL): Fp8HopperChoice => {
    const f8 = { name: k.name, file: k.file, entry: k.entry, sharedBytes: k.sharedBytes, binary: hopper.binary };
    return !hopper.runnable
      ? { ...f8, runnable: false, reason: hopper.reason }
      : optin < f8.sharedBytes
        ? { ...f8, runnable: false, reason: `needs ${f8.sharedBytes} B of shared memory per block, the device allows ${optin} B` }
        : { ...f8, runnable: true, reason: `${hopper.binary.arch} cubin (entry ${f8.entry}), ${f8.sharedBytes} B shared memory of ${optin} B` };
  };
  const fp8Hopper = hopperEntry(FP8_HOPPER_KERNEL);
  const fp8SparseHopper = hopperEntry(FP8_SPARSE_HOPPER_KERNEL);
  const portable = support.map((s) => s.form);
  const portableForm = portable.every((f) => f === 'cubin') ? 'cubin' : portable.every((f) => f === 'ptx') ? 'ptx' : null;
  // PDL only when every kernel of the chain executes griddepcontrol.wait: sm_90+ cubins (the hopper cubin included).
  const sm90Cubin = (b: BinaryChoice) => b.form === 'cubin' && parseArch(b.arch!).major >= 9;
  const pdl = dev.computeCapability.major >= 9 && !opts.noPdl && support.every(sm90Cubin) && decode.every((d) => !d.runnable || sm90Cubin(d.binary));
  const fp8DecodeKernels = fp8Hopper.runnable ? [fp8Hopper.name, 'generic'] : ['generic'];
  // the Hopper sparse kernel: 1.9× the portable one at h_q 128 on an H200 (docs/perf-log.md, session 6)
  const sparseDecodeKernels = fp8SparseHopper.runnable ? [fp8SparseHopper.name, 'generic'] : ['generic'];
  return {
    device: dev, options: opts, smallRow: chooseBinary(KERNEL_BUILDS[SMALL_ROW_HOPPER_KERNEL.file], dev, opts), decode, decodeKernels: decode.filter((d) => d.runnable).map((d) => d.name), layouts, fp8Hopper, fp8DecodeKernels, fp8SparseHopper, sparseDecodeKernels,
    support, portableForm, pdl, problems,
  };
}

/** One line for each kernel of a selection: what `flash-mla info` prints. */
export function describeSelection(sel: KernelSelection): string[] {
  const out: string[] = [];
  const forced: string[] = [];
  if (sel.options.forcePtx) forced.push('FLASH_MLA_FORCE_PTX=1');
  if (sel.options.decodeKernel !== undefined) forced.push(`FLASH_MLA_DECODE_KERNEL=${sel.options.decodeKernel}`);
  if (sel.options.noPdl) forced.push('FLASH_MLA_NO_PDL=1');
  if (forced.length) out.push(`forced by the environment: ${forced.join(', ')}`);
  const def = sel.decodeKernels[0];
  for (const d of sel.decode) {
    out.push(`  ${d.runnable ? (d.name === def ? 'default' : 'runs   ') : 'no     '} ${d.name.padEnd(14)} ${d.reason}`);
  }
  out.push("other layouts (the 'generic' family's own kernels, whatever the default above):");
  for (const l of sel.layouts) out.push(`  ${l.runnable ? 'runs   ' : 'no     '} ${l.layouts.padEnd(21)} ${l.file}: ${l.reason}`);
  const f8 = sel.fp8Hopper;
  out.push(`${FP8_HOPPER_KERNEL.layouts}, 64-token pages (kernel '${f8.name}' where it runs, else 'generic' above; 'generic' on request):`);
  out.push(`  ${f8.runnable ? 'default' : 'no     '} ${f8.name.padEnd(14)} ${f8.file}: ${f8.reason}`);
  const f8s = sel.fp8SparseHopper;
  out.push(`${FP8_SPARSE_HOPPER_KERNEL.layouts}, any page size (kernel '${f8s.name}' where it runs, else 'generic' above; 'generic' on request):`);
  out.push(`  ${f8s.runnable ? 'default' : 'no     '} ${f8s.name.padEnd(14)} ${f8s.file}: ${f8s.reason}`);
  out.push('support kernels:');
  for (const s of sel.support) out.push(`  ${s.form === null ? 'no     ' : (s.form === 'ptx' ? 'ptx    ' : 'cubin  ')} ${s.file.padEnd(14)} ${s.reason}`);
  out.push(`programmatic dependent launch: ${sel.pdl ? 'on' : 'off'}${sel.pdl ? '' : pdlOffReason(sel)}`);
  for (const p of sel.problems) out.push(`problem: ${p}`);
  return out;
}

function pdlOffReason(sel: KernelSelection): string {
  if (sel.device.computeCapability.major < 9) return ' (needs sm_90)';
  if (sel.options.noPdl) return ' (FLASH_MLA_NO_PDL=1)';
  return ' (the compute_80 PTX has no griddepcontrol.wait: kernels from PTX are never launched early)';
}
