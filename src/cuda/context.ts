// The process-wide CUDA context of the library: one device, one stream that every operation of the
// cuda backend is ordered on, and the loaded kernel modules (cubins from dist/kernels).

import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
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
