// The process-wide CUDA context of the library: one device, one stream that every operation of the
// cuda backend is ordered on, and the loaded kernel modules (cubins from dist/kernels).

import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UnsupportedDeviceError } from '../errors.js';
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

/** Directory holding the cubins (dist/kernels next to dist/src). */
export function kernelDir(): string {
  return process.env.FLASH_MLA_KERNEL_DIR ?? fileURLToPath(new URL('../../kernels/', import.meta.url));
}

const modules = new Map<string, Module>();
const kernels = new Map<string, Kernel>();

/** Path of a cubin for the current device: `<name>.sm_<cc>.cubin`, falling back to lower archs of the same major. */
export function cubinPath(name: string, archs: readonly string[]): string | null {
  for (const arch of archs) {
    const p = `${kernelDir()}${name}.${arch}.cubin`;
    if (existsSync(p)) return p;
  }
  return null;
}

/** Load (once) kernel `fn` from the cubin `file` built for one of `archs` (first match wins). */
export function loadKernel(file: string, archs: readonly string[], fn: string, signature: readonly ArgKind[]): Kernel {
  const key = `${file}:${fn}`;
  let k = kernels.get(key);
  if (k) return k;
  const path = cubinPath(file, archs);
  if (!path) {
    throw new Error(`kernel ${file} (${archs.join(' or ')}) is not built in ${kernelDir()}: run \`npm run build:kernels\` (needs nvcc)`);
  }
  let mod = modules.get(path);
  if (!mod) {
    getCudaContext();
    mod = Module.load(readFileSync(path), path);
    modules.set(path, mod);
  }
  k = new Kernel(mod, fn, signature);
  kernels.set(key, k);
  return k;
}

/** cubin archs of the portable kernels (built for sm_80 and sm_90) that run on `dev`: SASS of one major. */
export function portableArchs(dev: CudaDevice): string[] {
  const { major } = dev.info.computeCapability;
  if (major === 9) return ['sm_90'];
  if (major === 8) return ['sm_80'];
  return [];
}

/** Programmatic dependent launch between our kernels: needs sm_90; FLASH_MLA_NO_PDL=1 turns it off (debugging). */
export function pdlEnabled(dev: CudaDevice): boolean {
  return dev.info.computeCapability.major >= 9 && process.env.FLASH_MLA_NO_PDL !== '1';
}

/** Throw UnsupportedDeviceError unless a portable kernel has a cubin for this device. */
export function requirePortable(dev: CudaDevice, kernel: string): void {
  if (portableArchs(dev).length === 0) {
    const { major, minor } = dev.info.computeCapability;
    throw new UnsupportedDeviceError(kernel, `compute capability ${major}.${minor} (${dev.info.name})`, 'compute capability 8.x or 9.0 (the cubins are built for sm_80 and sm_90)');
  }
}
