// The process-wide CUDA context of the library: one device, one stream that every operation of the
// cuda backend is ordered on, and the loaded kernel modules (cubins, or PTX through the driver's JIT, from
// dist/kernels; which one is decided by selectKernels() in kernels.ts).

import { readFileSync, existsSync } from 'node:fs';
import { UnsupportedDeviceError } from '../errors.js';
import { fileURLToPath } from 'node:url';
import { KERNEL_BUILDS, chooseBinary, selectKernels, selectOptionsFromEnv, type BinaryForm, type KernelSelection, type SelectOptions } from './kernels.js';
import { CudaDevice, Kernel, Module, Stream, type ArgKind } from './runtime.js';

export interface CudaContext {
  device: CudaDevice;
  stream: Stream;
}

let ctx: CudaContext | null = null;

export function getCudaContext(): CudaContext {
  if (!ctx) {
    const device = CudaDevice.get();
    ctx = { device, stream: Stream.create() };
  }
  return ctx;
}

/** Directory holding the cubins and PTX (dist/kernels next to dist/src). */
export function kernelDir(): string {
  return process.env.FLASH_MLA_KERNEL_DIR ?? fileURLToPath(new URL('../../kernels/', import.meta.url));
}

let envOptions: SelectOptions | null = null;
const selections = new Map<number, KernelSelection>();

/** FLASH_MLA_FORCE_PTX, FLASH_MLA_DECODE_KERNEL and FLASH_MLA_NO_PDL, read once per process (at the first kernel choice). */
function envSelectOptions(): SelectOptions {
  return (envOptions ??= selectOptionsFromEnv());
}

/**
 * The kernel choice for `dev` under the environment's options (FLASH_MLA_FORCE_PTX, FLASH_MLA_DECODE_KERNEL,
 * FLASH_MLA_NO_PDL: read once per process, since loaded modules stay loaded), memoised per device: it is asked on
 * every launch.
 */
export function kernelSelection(dev: CudaDevice): KernelSelection {
  let sel = selections.get(dev.info.ordinal);
  if (!sel) {
    sel = selectKernels(dev.info, envSelectOptions());
    selections.set(dev.info.ordinal, sel);
  }
  return sel;
}

const modules = new Map<string, Module>();
const kernels = new Map<string, Kernel>();

/** One loaded module: where it came from (for `info`, tests and error messages). */
export interface LoadedModule {
  file: string;
  form: BinaryForm;
  path: string;
  /** Driver JIT wall time in ms (PTX only). */
  jitMs?: number;
  /** The driver JIT's informational log (PTX only): registers, spills per function. */
  jitLog?: string;
}
const loaded: LoadedModule[] = [];

/** Modules loaded so far in this process, in load order. */
export function loadedModules(): readonly LoadedModule[] {
  return loaded;
}

/** Path of a cubin for the current device: `<name>.<arch>.cubin` for the first of `archs` that exists. */
export function cubinPath(name: string, archs: readonly string[]): string | null {
  for (const arch of archs) {
    const p = `${kernelDir()}${name}.${arch}.cubin`;
    if (existsSync(p)) return p;
  }
  return null;
}

/**
 * Load (once) kernel `fn` of kernel file `file`. Files of the shipped table (kernels.ts) take the binary the
 * selection picks for this device: PTX → driver JIT (PtxJitError with the JIT log on failure), cubin → the first
 * of `archs` present. Other files (test kernels) load the first of `archs` present.
 */
export function loadKernel(file: string, archs: readonly string[], fn: string, signature: readonly ArgKind[]): Kernel {
  const key = `${file}:${fn}`;
  let k = kernels.get(key);
  if (k) return k;
  const { device } = getCudaContext();
  const build = KERNEL_BUILDS[file];
  const choice = build ? chooseBinary(build, device.info, envSelectOptions()) : null;
  let path: string | null;
  let form: BinaryForm;
  if (choice?.form === 'ptx') {
    form = 'ptx';
    path = `${kernelDir()}${choice.artifact}`;
    if (!existsSync(path)) {
      throw new Error(`kernel ${file}: ${choice.artifact} is not built in ${kernelDir()} (${choice.reason}): run \`npm run build:kernels\` (needs nvcc)`);
    }
  } else {
    form = 'cubin';
    path = cubinPath(file, archs);
    if (!path) {
      if (choice && choice.form === null) {
        const { major, minor } = device.info.computeCapability;
        throw new UnsupportedDeviceError(file, `compute capability ${major}.${minor} (${device.info.name})`, choice.reason);
      }
      throw new Error(`kernel ${file} (${archs.join(' or ') || 'no cubin arch for this device'}) is not built in ${kernelDir()}: run \`npm run build:kernels\` (needs nvcc)`);
    }
  }
  let mod = modules.get(path);
  if (!mod) {
    if (form === 'ptx') {
      mod = Module.loadPtx(readFileSync(path), `${file} (${choice!.arch} PTX, ${path})`);
      loaded.push({ file, form, path, jitMs: mod.jitMs, jitLog: mod.jitLog });
    } else {
      mod = Module.load(readFileSync(path), path);
      loaded.push({ file, form, path });
    }
    modules.set(path, mod);
  }
  k = new Kernel(mod, fn, signature);
  kernels.set(key, k);
  return k;
}

/**
 * cubin archs of the portable kernels (built for sm_80 and sm_90) that run on `dev`: SASS of one major. Empty when
 * they come from PTX here (no cubin for this architecture, or FLASH_MLA_FORCE_PTX=1): loadKernel() then JITs.
 */
export function portableArchs(dev: CudaDevice): string[] {
  const b = kernelSelection(dev).support.find((s) => s.file === 'mla_combine')!;
  return b.form === 'cubin' ? [b.arch!] : [];
}

/** Programmatic dependent launch between our kernels: sm_90 cubins only (see kernels.ts); FLASH_MLA_NO_PDL=1 turns it off. */
export function pdlEnabled(dev: CudaDevice): boolean {
  return kernelSelection(dev).pdl;
}

/** Throw UnsupportedDeviceError unless the portable kernels (cubin or PTX) run on this device. */
export function requirePortable(dev: CudaDevice, kernel: string): void {
  const sel = kernelSelection(dev);
  if (sel.portableForm === null) {
    const { major, minor } = dev.info.computeCapability;
    throw new UnsupportedDeviceError(kernel, `compute capability ${major}.${minor} (${dev.info.name})`, 'compute capability 8.0 or newer (sm_80/sm_90 cubins, compute_80 PTX for later GPUs)');
  }
}
