// Typed errors. Validation errors are plain TypeError/RangeError (thrown before anything runs);
// the classes here cover the driver and the machine.

/** A CUDA driver call returned something other than CUDA_SUCCESS. */
export class CudaError extends Error {
  override name = 'CudaError';
  constructor(
    /** Driver function that failed, e.g. `cuMemAlloc_v2`. */
    readonly call: string,
    /** The CUresult value. */
    readonly code: number,
    /** CUresult name, e.g. `CUDA_ERROR_OUT_OF_MEMORY`. */
    readonly codeName: string,
    detail: string,
  ) {
    super(`${call} failed: ${codeName} (${code}): ${detail}`);
  }
  /** Errors after which the CUDA context is unusable and the process must restart. */
  get isSticky(): boolean {
    // 700 illegal address (701 launch out of resources is not sticky), 702 timeout, 710 device-side assert, 714..719
    // hardware stack error, illegal instruction, misaligned address, invalid address space, invalid PC, launch failed
    return [700, 702, 710, 714, 715, 716, 717, 718, 719].includes(this.code);
  }
}

/**
 * The driver could not compile a kernel's PTX for this GPU (cuModuleLoadDataEx failed). Raised where a device has
 * no cubin of ours and the shipped compute_80 PTX goes through the driver's JIT (or FLASH_MLA_FORCE_PTX=1).
 * `log` is the JIT's error log (may be empty), `infoLog` its informational log.
 */
export class PtxJitError extends CudaError {
  override name = 'PtxJitError';
  constructor(
    /** What was being compiled, e.g. `mla_combine (compute_80 PTX, /…/mla_combine.compute_80.ptx)`. */
    readonly kernel: string,
    code: number,
    codeName: string,
    detail: string,
    readonly log: string,
    readonly infoLog: string,
  ) {
    super('cuModuleLoadDataEx', code, codeName, detail);
    this.message =
      `the driver's JIT could not compile ${kernel}: ${codeName} (${code}): ${detail}` +
      (log.trim() ? `\nJIT error log:\n${log.trim()}` : '\n(the JIT error log is empty)') +
      (codeName === 'CUDA_ERROR_UNSUPPORTED_PTX_VERSION' ? '\nThe PTX was written by CUDA 13.0: the driver must support CUDA 13.0 or newer (r580+).' : '');
  }
}

/** No usable CUDA driver or device on this machine. `reason` is one line. */
export class CudaUnavailableError extends Error {
  override name = 'CudaUnavailableError';
  constructor(readonly reason: string) {
    super(`CUDA is not available: ${reason}`);
  }
}

/** The installed driver is older than what the shipped cubins need. */
export class UnsupportedDriverError extends Error {
  override name = 'UnsupportedDriverError';
  constructor(readonly found: number, readonly needed: number) {
    super(
      `CUDA driver ${fmtVersion(found)} is too old: the kernels were built with CUDA ${fmtVersion(needed)} and need a driver ` +
        `supporting CUDA ${fmtVersion(needed)} or newer (NVIDIA driver r580+). Update the driver or use the 'cpu' backend.`,
    );
  }
}

/** A kernel cannot run on this GPU (wrong compute capability or too little shared memory). */
export class UnsupportedDeviceError extends Error {
  override name = 'UnsupportedDeviceError';
  constructor(readonly kernel: string, readonly found: string, readonly needed: string) {
    super(`kernel '${kernel}' cannot run on this GPU: found ${found}, needs ${needed}`);
  }
}

/**
 * The backend cannot run this feature (yet): thrown before anything is allocated or launched, never a silent
 * fallback to another backend. `argument` names the argument that asked for it (e.g. `kCache`, `indices`).
 */
export class UnsupportedFeatureError extends Error {
  override name = 'UnsupportedFeatureError';
  constructor(
    /** The argument that asked for the feature. */
    readonly argument: string,
    /** What was asked for, e.g. `FP8 KV cache`. */
    readonly feature: string,
    /** The backend that cannot run it. */
    readonly backend: string,
    /** What the backend does run instead (one clause), if worth saying. */
    detail?: string,
  ) {
    super(`${argument}: ${feature} on ${backend}: not implemented yet${detail ? ` (${detail})` : ''}`);
  }
}

/** An object was used after dispose(). */
export class DisposedError extends Error {
  override name = 'DisposedError';
  constructor(what: string) {
    super(`${what} was used after dispose()`);
  }
}

export function fmtVersion(v: number): string {
  return `${Math.floor(v / 1000)}.${Math.floor((v % 1000) / 10)}`;
}
