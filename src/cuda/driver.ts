// The CUDA driver API symbol table (libcuda.so.1 through koffi) and check().
// Only versioned symbols where the unversioned export keeps a legacy ABI (cuMemAlloc_v2 …).
// Every handle is passed as a BigInt `void *`; out-parameters go through reused typed arrays
// (a BigUint64Array out is ~7x cheaper than koffi's `_Out_` JS arrays and always yields BigInt).

import { existsSync } from 'node:fs';
import koffi from 'koffi';
import { CudaError, CudaUnavailableError } from '../errors.js';

const PROTOTYPES = {
  cuGetErrorName: 'int cuGetErrorName(int error, _Out_ const char **str)',
  cuGetErrorString: 'int cuGetErrorString(int error, _Out_ const char **str)',
  cuInit: 'int cuInit(unsigned int flags)',
  cuDriverGetVersion: 'int cuDriverGetVersion(void *version)',
  cuDeviceGetCount: 'int cuDeviceGetCount(void *count)',
  cuDeviceGet: 'int cuDeviceGet(void *device, int ordinal)',
  cuDeviceGetAttribute: 'int cuDeviceGetAttribute(void *value, int attrib, int device)',
  cuDeviceGetName: 'int cuDeviceGetName(void *name, int len, int device)',
  cuDeviceTotalMem_v2: 'int cuDeviceTotalMem_v2(void *bytes, int device)',
  cuDevicePrimaryCtxRetain: 'int cuDevicePrimaryCtxRetain(void *ctx, int device)',
  cuCtxSetCurrent: 'int cuCtxSetCurrent(void *ctx)',
  cuMemAlloc_v2: 'int cuMemAlloc_v2(void *dptr, size_t bytes)',
  cuMemFree_v2: 'int cuMemFree_v2(uint64_t dptr)',
  cuMemGetInfo_v2: 'int cuMemGetInfo_v2(void *free, void *total)',
  cuMemGetAddressRange_v2: 'int cuMemGetAddressRange_v2(void *base, void *size, uint64_t dptr)',
  cuPointerGetAttribute: 'int cuPointerGetAttribute(void *data, int attribute, uint64_t ptr)',
  cuMemAllocHost_v2: 'int cuMemAllocHost_v2(void *pp, size_t bytes)',
  cuMemFreeHost: 'int cuMemFreeHost(void *p)',
  cuMemcpyHtoD_v2: 'int cuMemcpyHtoD_v2(uint64_t dst, const void *src, size_t bytes)',
  cuMemcpyDtoH_v2: 'int cuMemcpyDtoH_v2(void *dst, uint64_t src, size_t bytes)',
  cuMemcpyDtoD_v2: 'int cuMemcpyDtoD_v2(uint64_t dst, uint64_t src, size_t bytes)',
  cuMemcpyHtoDAsync_v2: 'int cuMemcpyHtoDAsync_v2(uint64_t dst, const void *src, size_t bytes, void *stream)',
  cuMemcpyDtoHAsync_v2: 'int cuMemcpyDtoHAsync_v2(void *dst, uint64_t src, size_t bytes, void *stream)',
  cuMemcpyDtoDAsync_v2: 'int cuMemcpyDtoDAsync_v2(uint64_t dst, uint64_t src, size_t bytes, void *stream)',
  cuMemsetD8Async: 'int cuMemsetD8Async(uint64_t dst, uint8_t value, size_t count, void *stream)',
  cuMemsetD16Async: 'int cuMemsetD16Async(uint64_t dst, uint16_t value, size_t count, void *stream)',
  cuMemsetD32Async: 'int cuMemsetD32Async(uint64_t dst, uint32_t value, size_t count, void *stream)',
  cuStreamCreate: 'int cuStreamCreate(void *stream, unsigned int flags)',
  cuStreamDestroy_v2: 'int cuStreamDestroy_v2(void *stream)',
  cuStreamSynchronize: 'int cuStreamSynchronize(void *stream)',
  cuStreamWaitEvent: 'int cuStreamWaitEvent(void *stream, void *event, unsigned int flags)',
  cuEventCreate: 'int cuEventCreate(void *event, unsigned int flags)',
  cuEventDestroy_v2: 'int cuEventDestroy_v2(void *event)',
  cuEventRecord: 'int cuEventRecord(void *event, void *stream)',
  cuEventSynchronize: 'int cuEventSynchronize(void *event)',
  cuEventElapsedTime_v2: 'int cuEventElapsedTime_v2(void *ms, void *start, void *end)',
  cuModuleLoadData: 'int cuModuleLoadData(void *module, const void *image)',
  cuModuleLoadDataEx: 'int cuModuleLoadDataEx(void *module, const void *image, unsigned int numOptions, const void *options, void *optionValues)',
  cuModuleGetFunction: 'int cuModuleGetFunction(void *func, void *module, const char *name)',
  cuFuncSetAttribute: 'int cuFuncSetAttribute(void *func, int attrib, int value)',
  cuFuncGetParamInfo: 'int cuFuncGetParamInfo(void *func, size_t index, void *offset, void *size)',
  cuLaunchKernelEx: 'int cuLaunchKernelEx(void *config, void *func, void *params, void *extra)',
  cuOccupancyMaxActiveClusters: 'int cuOccupancyMaxActiveClusters(void *numClusters, void *func, void *config)',
  cuTensorMapEncodeTiled:
    'int cuTensorMapEncodeTiled(void *tmap, int dtype, unsigned int rank, uint64_t addr, const void *dims, ' +
    'const void *strides, const void *box, const void *elemStrides, int interleave, int swizzle, int l2promo, int oobFill)',
  cuStreamBeginCapture_v2: 'int cuStreamBeginCapture_v2(void *stream, int mode)',
  cuStreamEndCapture: 'int cuStreamEndCapture(void *stream, void *graph)',
  cuGraphInstantiateWithFlags: 'int cuGraphInstantiateWithFlags(void *exec, void *graph, unsigned long long flags)',
  cuGraphLaunch: 'int cuGraphLaunch(void *exec, void *stream)',
  cuGraphExecDestroy: 'int cuGraphExecDestroy(void *exec)',
  cuGraphDestroy: 'int cuGraphDestroy(void *graph)',
} as const;

export type DriverFn = (...args: unknown[]) => number;
export type Driver = { [K in keyof typeof PROTOTYPES]: DriverFn };

/** Where libcuda.so.1 may live. The soname first (ld.so's own search), then places drivers are mounted. */
function libcudaCandidates(): string[] {
  const fromEnv = process.env.FLASH_MLA_LIBCUDA;
  const dirs = [
    ...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean),
    '/usr/local/nvidia/lib64',
    '/usr/local/nvidia/lib',
    '/usr/lib/x86_64-linux-gnu',
    '/usr/lib/aarch64-linux-gnu',
    '/usr/lib64',
    '/usr/lib',
    '/usr/lib/wsl/lib',
  ];
  return [
    ...(fromEnv ? [fromEnv] : []),
    'libcuda.so.1',
    ...dirs.map((d) => `${d}/libcuda.so.1`).filter((p) => existsSync(p)),
  ];
}

let driver: Driver | null = null;
let loadFailure: CudaUnavailableError | null = null;

/** The bound driver. Throws CudaUnavailableError (one-line reason) when there is none. */
export function getDriver(): Driver {
  if (driver) return driver;
  if (loadFailure) throw loadFailure;
  if (process.env.FLASH_MLA_DISABLE_CUDA === '1') {
    loadFailure = new CudaUnavailableError('disabled by FLASH_MLA_DISABLE_CUDA=1');
    throw loadFailure;
  }
  if (process.platform !== 'linux') {
    loadFailure = new CudaUnavailableError(`platform ${process.platform} is not supported (Linux only)`);
    throw loadFailure;
  }
  let lib: ReturnType<typeof koffi.load> | null = null;
  for (const path of libcudaCandidates()) {
    try {
      lib = koffi.load(path);
      break;
    } catch {
      // try the next place
    }
  }
  if (!lib) {
    loadFailure = new CudaUnavailableError('libcuda.so.1 was not found (no NVIDIA driver installed)');
    throw loadFailure;
  }
  const table: Record<string, DriverFn> = {};
  for (const [name, proto] of Object.entries(PROTOTYPES)) {
    try {
      table[name] = lib.func(proto) as DriverFn;
    } catch {
      // A missing symbol means a driver too old for us; report on use with the driver version.
      table[name] = () => {
        throw new CudaUnavailableError(`the installed libcuda has no ${name} (driver too old)`);
      };
    }
  }
  driver = table as Driver;
  return driver;
}

export function errorName(code: number): string {
  const d = getDriver();
  const name: [string | null] = [null];
  const msg: [string | null] = [null];
  d.cuGetErrorName(code, name);
  d.cuGetErrorString(code, msg);
  return `${name[0] ?? 'CUDA_ERROR_UNKNOWN'}\u0000${msg[0] ?? 'unknown error'}`;
}

let sticky = false;

/** Throw CudaError unless `code` is CUDA_SUCCESS. */
export function check(call: string, code: number): void {
  if (code === 0) return;
  const [name, msg] = errorName(code).split('\u0000');
  const e = new CudaError(call, code, name, msg);
  if (e.isSticky) sticky = true;
  throw e;
}

/** Whether a driver call has failed with a sticky error (the context is unusable: every later call fails). */
export function stickyErrorSeen(): boolean {
  return sticky;
}

/** Call a driver function by name and check its result. */
export function call(name: keyof Driver, ...args: unknown[]): void {
  check(name, getDriver()[name](...args));
}

// Scratch out-parameters (all driver calls happen on the main thread).
export const outU64 = new BigUint64Array(1);
export const outU64b = new BigUint64Array(1);
export const outI32 = new Int32Array(1);
export const outF32 = new Float32Array(1);
