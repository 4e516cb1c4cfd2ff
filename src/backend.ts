// The small interface every backend implements, and the registry that picks one.

import type { Tensor, BackendName } from './tensor.js';

/** Everything a decode needs, already validated; outputs are allocated by the caller. */
export interface MlaDecodeArgs {
  q: Tensor;
  kCache: Tensor;
  blockTable: Tensor;
  cacheSeqlens: Tensor;
  tileSchedulerMetadata: Tensor;
  numSplits: Tensor;
  out: Tensor;
  lse: Tensor;
  softmaxScale: number;
  causal: boolean;
  /** Decode kernel to use (cuda backend); undefined = the best one for the device. */
  kernel?: string;
}

export interface MlaBackend {
  readonly name: BackendName;
  /** SMs the scheduler partitions work for. */
  smCount(): number;
  /** Fill metadata [numSmParts, 8] and numSplits [b + 1] from cacheSeqlens (all on this backend). */
  mlaMetadata(cacheSeqlens: Tensor, tileSchedulerMetadata: Tensor, numSplits: Tensor): void;
  mlaDecode(args: MlaDecodeArgs): void;
  /** Decode kernels this backend offers (first = default). */
  decodeKernels(): string[];
}

const backends = new Map<BackendName, () => MlaBackend>();
const instances = new Map<BackendName, MlaBackend>();

export function registerBackend(name: BackendName, factory: () => MlaBackend): void {
  backends.set(name, factory);
}

export function getBackend(name: BackendName): MlaBackend {
  let b = instances.get(name);
  if (!b) {
    const f = backends.get(name);
    if (!f) throw new TypeError(`backend: expected one of ${[...backends.keys()].join(', ')}, got '${name}'`);
    b = f();
    instances.set(name, b);
  }
  return b;
}
