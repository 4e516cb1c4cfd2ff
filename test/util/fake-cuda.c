/*
 * A fake libcuda.so.1 for flash-mla's tests: a small, consistent GPU on the host, plus fault switches.
 * Built by test/util/fake-cuda.ts with the host C compiler; the library finds it through FLASH_MLA_LIBCUDA.
 *
 * The device (environment, read when the library is loaded):
 *   FAKE_CUDA_CC=8.0  FAKE_CUDA_SMS=108  FAKE_CUDA_SMEM_OPTIN=166912  FAKE_CUDA_L2=41943040
 *   FAKE_CUDA_MEM_BYTES=1073741824  FAKE_CUDA_NAME=...  FAKE_CUDA_DRIVER_VERSION=13000  FAKE_CUDA_CLOCK_KHZ=1410000
 *   FAKE_CUDA_COPY_GBPS=1000  FAKE_CUDA_KERNEL_US=10 (the device clock, below)  FAKE_CUDA_SM_GROUP (clusters, below)
 * Memory: cuMemAlloc_v2 hands out addresses of its own range (never reused, so a freed address stays invalid)
 * backed by malloc'd host memory filled with 0xA5; allocations past FAKE_CUDA_MEM_BYTES fail with
 * CUDA_ERROR_OUT_OF_MEMORY; memcpy/memset really copy/fill and check that the range lies inside one live
 * allocation (else CUDA_ERROR_INVALID_VALUE); cuMemFree_v2 of an unknown or freed address is
 * CUDA_ERROR_INVALID_VALUE (double frees show up). cuMemGetAddressRange_v2 and cuPointerGetAttribute answer for
 * live allocations, device and page-locked host (their range, memory type; the primary context; device
 * FAKE_CUDA_POINTER_ORDINAL, default 0) and refuse other addresses, as the driver does.
 * Streams and events: cuStreamWaitEvent checks its handles (ordering nothing: work runs when it is queued).
 * Modules: cuModuleLoadData takes a cubin (ELF, EM_CUDA; the SM version in e_flags must run on the device, else
 * CUDA_ERROR_NO_BINARY_FOR_GPU) or PTX text; cuModuleLoadDataEx is the PTX JIT (error/info logs, wall time; PTX
 * containing `not_an_instruction` fails with CUDA_ERROR_INVALID_PTX and an error log). cuModuleGetFunction finds
 * the name in the image (else CUDA_ERROR_NOT_FOUND). Parameter layouts come from a table (FAKE_KERNEL_PARAMS below,
 * or FAKE_CUDA_KERNEL_PARAMS): p = pointer, i = 32-bit, P = MlaDecodeParams (pointer fields at PARAMS_PTR_OFFSETS),
 * F = MlaFp8Params, A = AppendKvFp8Params (likewise, FP8_… and APPEND_FP8_… defines), L = MlaLayoutParams
 * (LAYOUT_PARAMS_BYTES, no pointers), T = CUtensorMap (128 B; the fake's cuTensorMapEncodeTiled records the
 * descriptor in a layout of its own, emu/tensor_map.h, with the global address in its first 8 bytes).
 * Launches: check the function, grid/block sizes, dynamic shared memory against cuFuncSetAttribute and the
 * device, the stream; compute nothing. A pointer argument outside every live allocation is an illegal access:
 * like a GPU the launch itself succeeds and the context is poisoned with a sticky CUDA_ERROR_ILLEGAL_ADDRESS
 * (every later call returns it). Streams capture into graphs (launches and async copies are recorded, not run;
 * cuStreamSynchronize on a capturing stream is CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED and invalidates the capture);
 * cuGraphLaunch re-checks the recorded pointers. Calls before cuInit: CUDA_ERROR_NOT_INITIALIZED.
 * The device clock (ms), so that event timings mean something: every copy that runs advances it by the bytes it
 * reads and writes at FAKE_CUDA_COPY_GBPS, every fill by the bytes it writes, every kernel that runs (eagerly or in
 * a graph) by FAKE_CUDA_KERNEL_US; cuEventRecord notes the clock, cuEventElapsedTime_v2 is the difference of two
 * notes (CUDA_ERROR_INVALID_HANDLE when either event was never recorded, as from the driver).
 *
 * Faults: FAKE_CUDA_FAULTS (at load) or fake_cuda_arm(spec) (at run time; resets the fault counters):
 *   spec   = entry[,entry...]      (empty: no faults)
 *   entry  = FUNCTION@N[+]=CODE[!]
 * fails the Nth call of FUNCTION (counted from arming; `+`: the Nth and every later one) with CODE (a number or a
 * CUresult name). `!` makes it sticky: from then on every call returns CODE, as after a GPU fault. A failed call
 * has no effect (except that cuStreamEndCapture still ends the capture, as the driver does, and cuModuleLoadDataEx
 * writes an error log saying the failure was injected).
 *
 * Built with -DFAKE_CUDA_EMULATE and test/util/emu/ linked in, launches of the kernels the emulator has (metadata, the
 * portable decode kernels, the Hopper decode kernel, the combine) also run them on the host memory (an access outside
 * every live allocation poisons the context with CUDA_ERROR_ILLEGAL_ADDRESS, as on a GPU; a CTA whose threads all
 * wait on barriers no one will complete poisons it with CUDA_ERROR_LAUNCH_TIMEOUT, what a hung kernel ends in); the
 * append kernels still compute nothing. A shared-memory race the emulator's race detector reports (on unless
 * FAKE_CUDA_EMU_RACECHECK=off) poisons the context like an illegal access. FAKE_CUDA_EMU_WGMMA, FAKE_CUDA_EMU_TMA
 * and FAKE_CUDA_EMU_ORDER choose when the emulator's asynchronous work happens (test/util/emu/emu.cpp).
 *
 * For the tests: fake_cuda_stat("allocs" | "host_allocs" (cuMemAllocHost) | "bytes" | "streams" | "events" | "graphs" | "execs" | "modules" |
 * "kernels_run" | "sticky" | "stream_waits" (cuStreamWaitEvent calls that succeeded) | "last_record_stream" / "last_wait_stream" (the stream handle of the last cuEventRecord / successful cuStreamWaitEvent, -1 before any) | "emulated:<entry>" — launches the emulator ran as that entry point; -1 without the
 * emulator | "ran:<function>" — kernels run as that function, eagerly or in a graph; "ran:<function>:grid.x" (grid.y,
 * grid.z, block.x, block.y, block.z, smem, cluster.x, cluster.y, cluster.z) — the shape of its last run), fake_cuda_calls("cuLaunchKernelEx") (calls since load, failed ones included),
 * fake_cuda_arm(spec) (0, or -1 for a bad spec), fake_cuda_log() (the last thing the fake noted: injected faults,
 * illegal accesses, refused arguments). FAKE_CUDA_VERBOSE=1 prints each note to stderr.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu/tensor_map.h" /* the CUtensorMap contents the encoder writes and the emulator reads */

typedef int CUresult;
typedef unsigned long long CUdeviceptr;

#ifndef PARAMS_BYTES
#define PARAMS_BYTES 168
#endif
#ifndef PARAMS_PTR_OFFSETS
#define PARAMS_PTR_OFFSETS 0, 8, 16, 24, 32, 40, 48, 56, 64, 72, 80
#endif
#ifndef FP8_PARAMS_BYTES
#define FP8_PARAMS_BYTES 64
#endif
#ifndef FP8_PARAMS_PTR_OFFSETS
#define FP8_PARAMS_PTR_OFFSETS 0, 8, 16
#endif
#ifndef APPEND_FP8_PARAMS_BYTES
#define APPEND_FP8_PARAMS_BYTES 112
#endif
#ifndef APPEND_FP8_PARAMS_PTR_OFFSETS
#define APPEND_FP8_PARAMS_PTR_OFFSETS 0, 8, 16, 24, 32, 40
#endif
#ifndef LAYOUT_PARAMS_BYTES
#define LAYOUT_PARAMS_BYTES 24
#endif
#ifndef FAKE_KERNEL_PARAMS
#define FAKE_KERNEL_PARAMS                                                                                        \
  "mla_metadata=piippiiiii;append_kv_fp8_=A;append_kv_=pipipiiippiipii;mla_decode_sm90_fp8_sparse_=PF;mla_decode_sm90_fp8_=PTT;mla_decode_sm90_small_fp8_sparse_=PF;mla_decode_sm90_small_fp8_g32_=PF;mla_decode_sm90_small_fp8_=PTTTT;mla_decode_sm90_=PT;mla_decode_fp8_=PF;"       \
  "mla_decode_generic_layout_=PL;mla_decode_=P;mla_combine_sink_=PF;mla_combine=P;tc_peak_=iip;code_evict=ip"
#endif
static const size_t PARAM_PTRS[] = {PARAMS_PTR_OFFSETS};
static const size_t FP8_PARAM_PTRS[] = {FP8_PARAMS_PTR_OFFSETS};
static const size_t APPEND_FP8_PARAM_PTRS[] = {APPEND_FP8_PARAMS_PTR_OFFSETS};

enum {
  OK = 0, E_INVALID_VALUE = 1, E_OUT_OF_MEMORY = 2, E_NOT_INITIALIZED = 3, E_NO_DEVICE = 100, E_INVALID_DEVICE = 101,
  E_INVALID_IMAGE = 200, E_INVALID_CONTEXT = 201, E_NO_BINARY_FOR_GPU = 209, E_INVALID_PTX = 218, E_INVALID_HANDLE = 400,
  E_ILLEGAL_STATE = 401, E_NOT_FOUND = 500, E_ILLEGAL_ADDRESS = 700, E_LAUNCH_TIMEOUT = 702, E_NOT_SUPPORTED = 801, E_CAPTURE_UNSUPPORTED = 900,
  E_CAPTURE_INVALIDATED = 901, E_CAPTURE_ISOLATION = 905,
};

static const struct { int code; const char *name, *text; } ERRORS[] = {
  {0, "CUDA_SUCCESS", "no error"},
  {1, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
  {2, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
  {3, "CUDA_ERROR_NOT_INITIALIZED", "initialization error"},
  {100, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"},
  {101, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"},
  {200, "CUDA_ERROR_INVALID_IMAGE", "device kernel image is invalid"},
  {201, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context"},
  {209, "CUDA_ERROR_NO_BINARY_FOR_GPU", "no kernel image is available for execution on the device"},
  {218, "CUDA_ERROR_INVALID_PTX", "a PTX JIT compilation failed"},
  {222, "CUDA_ERROR_UNSUPPORTED_PTX_VERSION", "the provided PTX was compiled with an unsupported toolchain."},
  {400, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"},
  {401, "CUDA_ERROR_ILLEGAL_STATE", "the operation cannot be performed in the present state"},
  {500, "CUDA_ERROR_NOT_FOUND", "named symbol not found"},
  {600, "CUDA_ERROR_NOT_READY", "device not ready"},
  {700, "CUDA_ERROR_ILLEGAL_ADDRESS", "an illegal memory access was encountered"},
  {701, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES", "too many resources requested for launch"},
  {702, "CUDA_ERROR_LAUNCH_TIMEOUT", "the launch timed out and was terminated"},
  {719, "CUDA_ERROR_LAUNCH_FAILED", "unspecified launch failure"},
  {801, "CUDA_ERROR_NOT_SUPPORTED", "operation not supported"},
  {900, "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED", "operation not permitted when stream is capturing"},
  {901, "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED", "operation failed due to a previous error during capture"},
  {905, "CUDA_ERROR_STREAM_CAPTURE_ISOLATION", "operation would make the legacy stream depend on a capturing blocking stream"},
  {999, "CUDA_ERROR_UNKNOWN", "unknown error"},
};
#define NUM_ERRORS (sizeof ERRORS / sizeof ERRORS[0])

/* ------------------------------------------------------------------------------------------ notes, counters */

static char last_note[2560]; /* room for the emulator's deadlock reports */
static int verbose;

static void note(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_note, sizeof last_note, fmt, ap);
  va_end(ap);
  if (verbose) fprintf(stderr, "[fake libcuda] %s\n", last_note);
}

#define MAX_FNS 96
static struct { const char *name; long long n; } counts[MAX_FNS];
static int num_counts;

static void count_call(const char *fn) {
  for (int i = 0; i < num_counts; i++)
    if (!strcmp(counts[i].name, fn)) { counts[i].n++; return; }
  if (num_counts < MAX_FNS) { counts[num_counts].name = fn; counts[num_counts++].n = 1; }
}

long long fake_cuda_calls(const char *fn) {
  for (int i = 0; i < num_counts; i++)
    if (!strcmp(counts[i].name, fn)) return counts[i].n;
  return 0;
}

const char *fake_cuda_log(void) { return last_note; }

/* ------------------------------------------------------------------------------------------ faults */

typedef struct { char fn[64]; long long nth, seen; int repeat, code, sticky; } Fault;
static Fault faults[32];
static int num_faults;
static int sticky_code;

static int parse_code(const char *s, const char *end, int *code) {
  if (end > s && s[0] >= '0' && s[0] <= '9') {
    char *e;
    long v = strtol(s, &e, 10);
    if (e != end) return -1;
    *code = (int)v;
    return 0;
  }
  for (size_t i = 0; i < NUM_ERRORS; i++)
    if (strlen(ERRORS[i].name) == (size_t)(end - s) && !strncmp(ERRORS[i].name, s, end - s)) { *code = ERRORS[i].code; return 0; }
  return -1;
}

/* Replace the faults with `spec` (see the header); the counters start again. 0, or -1 for a bad spec (no faults then). */
int fake_cuda_arm(const char *spec) {
  num_faults = 0;
  if (!spec) return 0;
  const char *p = spec;
  while (*p) {
    const char *end = strchr(p, ',');
    if (!end) end = p + strlen(p);
    if (end > p) {
      if (num_faults == 32) goto bad;
      Fault *f = &faults[num_faults];
      memset(f, 0, sizeof *f);
      const char *at = memchr(p, '@', end - p), *eq = memchr(p, '=', end - p);
      if (!at || !eq || eq < at || at - p >= (long)sizeof f->fn) goto bad;
      memcpy(f->fn, p, at - p);
      char *e;
      f->nth = strtoll(at + 1, &e, 10);
      if (f->nth < 1) goto bad;
      if (*e == '+') { f->repeat = 1; e++; }
      if (e != eq) goto bad;
      const char *cend = end;
      if (cend[-1] == '!') { f->sticky = 1; cend--; }
      if (parse_code(eq + 1, cend, &f->code) || f->code == 0) goto bad;
      num_faults++;
    }
    p = *end ? end + 1 : end;
  }
  return 0;
bad:
  note("bad fault spec '%s' (expected FUNCTION@N[+]=CODE[!],...)", spec);
  num_faults = 0;
  return -1;
}

/* Every entry point but cuGetErrorName/String: count the call, then the sticky error or an injected fault. */
static CUresult enter(const char *fn) {
  count_call(fn);
  if (sticky_code) return sticky_code;
  for (int i = 0; i < num_faults; i++) {
    Fault *f = &faults[i];
    if (strcmp(f->fn, fn)) continue;
    f->seen++;
    if (f->seen == f->nth || (f->repeat && f->seen > f->nth)) {
      note("injected fault: %s call %lld -> %d%s", fn, f->seen, f->code, f->sticky ? " (sticky)" : "");
      if (f->sticky) sticky_code = f->code;
      return f->code;
    }
  }
  return OK;
}

/* A fault the GPU would report asynchronously: the call that caused it succeeds, every later one fails. */
static void poison(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_note, sizeof last_note, fmt, ap);
  va_end(ap);
  if (verbose) fprintf(stderr, "[fake libcuda] %s\n", last_note);
  if (!sticky_code) sticky_code = code;
}

/* ------------------------------------------------------------------------------------------ device */

static int cc_major = 8, cc_minor = 0, sm_count = 108, smem_optin = 166912, l2_bytes = 40 << 20, driver_version = 13000, clock_khz = 1410000;
static double copy_gbps = 1000, kernel_us = 10, device_ms; /* the device clock: see the header */
static unsigned long long total_mem = 1ULL << 30;
static char device_name[256] = "Fake A100 (flash-mla test driver)";
static int initialized, ctx_current;
static int primary_ctx; /* its address is the context handle */

static long env_long(const char *name, long dflt) {
  const char *v = getenv(name);
  return v && *v ? strtol(v, 0, 0) : dflt;
}

__attribute__((constructor)) static void fake_cuda_init(void) {
  verbose = env_long("FAKE_CUDA_VERBOSE", 0) != 0;
  const char *cc = getenv("FAKE_CUDA_CC");
  if (cc && *cc) sscanf(cc, "%d.%d", &cc_major, &cc_minor);
  sm_count = (int)env_long("FAKE_CUDA_SMS", sm_count);
  smem_optin = (int)env_long("FAKE_CUDA_SMEM_OPTIN", smem_optin);
  l2_bytes = (int)env_long("FAKE_CUDA_L2", l2_bytes);
  driver_version = (int)env_long("FAKE_CUDA_DRIVER_VERSION", driver_version);
  clock_khz = (int)env_long("FAKE_CUDA_CLOCK_KHZ", clock_khz);
  copy_gbps = (double)env_long("FAKE_CUDA_COPY_GBPS", (long)copy_gbps);
  kernel_us = (double)env_long("FAKE_CUDA_KERNEL_US", (long)kernel_us);
  if (copy_gbps <= 0) {
    fprintf(stderr, "[fake libcuda] FAKE_CUDA_COPY_GBPS: expected a positive number, got %g\n", copy_gbps);
    abort();
  }
  const char *mem = getenv("FAKE_CUDA_MEM_BYTES");
  if (mem && *mem) total_mem = strtoull(mem, 0, 0);
  const char *name = getenv("FAKE_CUDA_NAME");
  if (name && *name) snprintf(device_name, sizeof device_name, "%s", name);
  if (fake_cuda_arm(getenv("FAKE_CUDA_FAULTS"))) {
    fprintf(stderr, "[fake libcuda] %s\n", last_note);
    abort();
  }
}

#define ENTER() do { CUresult r_ = enter(__func__); if (r_) return r_; } while (0)
#define NEED_INIT() do { if (!initialized) return E_NOT_INITIALIZED; } while (0)
#define NEED_CTX() do { NEED_INIT(); if (!ctx_current) return E_INVALID_CONTEXT; } while (0)

CUresult cuGetErrorName(int e, const char **s) {
  for (size_t i = 0; i < NUM_ERRORS; i++)
    if (ERRORS[i].code == e) { *s = ERRORS[i].name; return OK; }
  *s = 0;
  return E_INVALID_VALUE;
}
CUresult cuGetErrorString(int e, const char **s) {
  for (size_t i = 0; i < NUM_ERRORS; i++)
    if (ERRORS[i].code == e) { *s = ERRORS[i].text; return OK; }
  *s = 0;
  return E_INVALID_VALUE;
}
CUresult cuInit(unsigned flags) { ENTER(); if (flags) return E_INVALID_VALUE; initialized = 1; return OK; }
CUresult cuDriverGetVersion(int *v) { count_call(__func__); if (!v) return E_INVALID_VALUE; *v = driver_version; return OK; }
CUresult cuDeviceGetCount(int *c) { ENTER(); NEED_INIT(); *c = 1; return OK; }
CUresult cuDeviceGet(int *d, int ordinal) { ENTER(); NEED_INIT(); if (ordinal != 0) return E_INVALID_DEVICE; *d = 0; return OK; }
CUresult cuDeviceGetName(char *n, int len, int d) { ENTER(); NEED_INIT(); if (d != 0) return E_INVALID_DEVICE; snprintf(n, len, "%s", device_name); return OK; }
CUresult cuDeviceTotalMem_v2(size_t *b, int d) { ENTER(); NEED_INIT(); if (d != 0) return E_INVALID_DEVICE; *b = total_mem; return OK; }
CUresult cuDeviceGetAttribute(int *v, int a, int d) {
  ENTER();
  NEED_INIT();
  if (d != 0) return E_INVALID_DEVICE;
  switch (a) {
    case 1: *v = 1024; break;        /* max threads per block */
    case 8: *v = 48 << 10; break;    /* shared memory per block */
    case 13: *v = clock_khz; break;  /* clock rate, kHz */
    case 16: *v = sm_count; break;
    case 38: *v = l2_bytes; break;
    case 75: *v = cc_major; break;
    case 76: *v = cc_minor; break;
    case 97: *v = smem_optin; break;
    case 120: *v = cc_major >= 9; break; /* cluster launch */
    default: *v = 0;
  }
  return OK;
}
CUresult cuDevicePrimaryCtxRetain(void **c, int d) { ENTER(); NEED_INIT(); if (d != 0) return E_INVALID_DEVICE; *c = &primary_ctx; return OK; }
CUresult cuCtxSetCurrent(void *c) {
  ENTER();
  NEED_INIT();
  if (c && c != &primary_ctx) return E_INVALID_CONTEXT;
  ctx_current = c != 0;
  return OK;
}

/* ------------------------------------------------------------------------------------------ memory */

#define DEV_BASE 0x000d000000000000ULL
typedef struct Alloc { CUdeviceptr dptr; size_t bytes; unsigned char *host; struct Alloc *next; } Alloc;
static Alloc *allocs;
static long long live_allocs;
static unsigned long long live_bytes;
static CUdeviceptr next_dptr = DEV_BASE;

/* The live allocation holding [p, p + n) (n = 0: p may be its end), or null. */
static Alloc *find(CUdeviceptr p, size_t n) {
  for (Alloc *a = allocs; a; a = a->next)
    if (p >= a->dptr && p - a->dptr <= a->bytes && n <= a->bytes - (p - a->dptr)) return a;
  return 0;
}
static unsigned char *host_of(CUdeviceptr p, size_t n, const char *what) {
  Alloc *a = find(p, n);
  if (!a) {
    note("%s: [0x%llx, +%zu) is not inside a live allocation", what, p, n);
    return 0;
  }
  return a->host + (p - a->dptr);
}

CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytes) {
  ENTER();
  NEED_CTX();
  if (!dptr || bytes == 0) return E_INVALID_VALUE;
  if (bytes > total_mem - live_bytes) {
    note("cuMemAlloc_v2: %zu bytes asked, %llu of %llu free", bytes, total_mem - live_bytes, total_mem);
    return E_OUT_OF_MEMORY;
  }
  Alloc *a = malloc(sizeof *a);
  unsigned char *host = malloc(bytes);
  if (!a || !host) { free(a); free(host); return E_OUT_OF_MEMORY; }
  memset(host, 0xA5, bytes); /* device memory is not zeroed */
  a->dptr = next_dptr;
  a->bytes = bytes;
  a->host = host;
  a->next = allocs;
  allocs = a;
  next_dptr += ((bytes + 255) & ~(CUdeviceptr)255) + 4096; /* a gap: one past the end is nobody's memory */
  live_allocs++;
  live_bytes += bytes;
  *dptr = a->dptr;
  return OK;
}
CUresult cuMemFree_v2(CUdeviceptr p) {
  ENTER();
  NEED_CTX();
  for (Alloc **pp = &allocs; *pp; pp = &(*pp)->next) {
    Alloc *a = *pp;
    if (a->dptr != p) continue;
    *pp = a->next;
    live_allocs--;
    live_bytes -= a->bytes;
    free(a->host);
    free(a);
    return OK;
  }
  note("cuMemFree_v2: 0x%llx is not a live allocation (freed twice?)", p);
  return E_INVALID_VALUE;
}
/* Page-locked host memory: plain host memory here, kept on a list so that a free of anything else fails. */
typedef struct HostAlloc { void *p; size_t bytes; struct HostAlloc *next; } HostAlloc;
static HostAlloc *host_allocs;
static long long live_host_allocs;
CUresult cuMemAllocHost_v2(void **pp, size_t bytes) {
  ENTER();
  NEED_CTX();
  if (!pp || bytes == 0) return E_INVALID_VALUE;
  HostAlloc *a = malloc(sizeof *a);
  void *p = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
  if (!a || !p) { free(a); free(p); return E_OUT_OF_MEMORY; }
  memset(p, 0x5A, bytes);
  a->p = p;
  a->bytes = bytes;
  a->next = host_allocs;
  host_allocs = a;
  live_host_allocs++;
  *pp = p;
  return OK;
}
CUresult cuMemFreeHost(void *p) {
  ENTER();
  NEED_CTX();
  for (HostAlloc **pp = &host_allocs; *pp; pp = &(*pp)->next) {
    HostAlloc *a = *pp;
    if (a->p != p) continue;
    *pp = a->next;
    live_host_allocs--;
    free(a->p);
    free(a);
    return OK;
  }
  note("cuMemFreeHost: %p is not a live page-locked allocation", p);
  return E_INVALID_VALUE;
}
/* The page-locked host allocation holding address p, or null. */
static HostAlloc *find_host(CUdeviceptr p) {
  for (HostAlloc *a = host_allocs; a; a = a->next)
    if (p >= (CUdeviceptr)a->p && p - (CUdeviceptr)a->p < a->bytes) return a;
  return 0;
}
/* The allocation holding address p (p < its end), device or page-locked host: its first address and size;
   CUDA_ERROR_NOT_FOUND elsewhere. */
CUresult cuMemGetAddressRange_v2(CUdeviceptr *base, size_t *size, CUdeviceptr p) {
  ENTER();
  NEED_CTX();
  Alloc *a = find(p, 1);
  HostAlloc *h = a ? 0 : find_host(p);
  if (!a && !h) { note("cuMemGetAddressRange_v2: 0x%llx is not inside a live allocation", p); return E_NOT_FOUND; }
  if (base) *base = a ? a->dptr : (CUdeviceptr)h->p;
  if (size) *size = a ? a->bytes : h->bytes;
  return OK;
}
/* Pointer attributes of live allocations: CONTEXT (1, the primary context), MEMORY_TYPE (2: device, 1 for
   page-locked host memory), DEVICE_ORDINAL (9: FAKE_CUDA_POINTER_ORDINAL, read at each call, default 0 — a test's
   stand-in for another GPU's memory); CUDA_ERROR_INVALID_VALUE for any other address or attribute. */
CUresult cuPointerGetAttribute(void *data, int attribute, CUdeviceptr p) {
  ENTER();
  NEED_CTX();
  Alloc *a = find(p, 1);
  HostAlloc *h = a ? 0 : find_host(p);
  if (!data || (!a && !h)) return E_INVALID_VALUE;
  switch (attribute) {
    case 1: *(void **)data = &primary_ctx; return OK;
    case 2: *(unsigned *)data = a ? 2 : 1; return OK;
    case 9: *(int *)data = (int)env_long("FAKE_CUDA_POINTER_ORDINAL", 0); return OK;
    default: return E_INVALID_VALUE;
  }
}
CUresult cuMemGetInfo_v2(size_t *fr, size_t *total) { ENTER(); NEED_CTX(); *fr = total_mem - live_bytes; *total = total_mem; return OK; }

/* ------------------------------------------------------------------------------------------ streams, graphs */

enum { MAGIC_STREAM = 0x5354524d, MAGIC_EVENT = 0x45564e54, MAGIC_GRAPH = 0x47525048, MAGIC_EXEC = 0x45584543, MAGIC_MODULE = 0x4d4f444c, MAGIC_FUNC = 0x46554e43 };

#define MAX_PTRS 32
/* A recorded operation: the device ranges it touches, checked again when the graph is launched. */
#ifdef FAKE_CUDA_EMULATE
/* What the emulator needs to run a launch again (a graph replays it): the function, its shape and argument bytes. */
#define EMU_MAX_ARGS 12 /* the emulated kernels' parameters (mla_metadata: 10) */
typedef struct Launch { void *fn; unsigned grid[3], block[3], smem, cluster[3]; unsigned char args[EMU_MAX_ARGS][512]; } Launch;
#endif
typedef struct Node {
  int kernel, n;
  CUdeviceptr ptr[MAX_PTRS];
  size_t need[MAX_PTRS];
  char what[160];
  unsigned shape[10]; /* a kernel's grid (3), block (3), dynamic shared memory and cluster (3), for the "ran:" stats */
  struct Node *next;
#ifdef FAKE_CUDA_EMULATE
  Launch launch;
#endif
} Node;
typedef struct Graph { unsigned magic; int live; Node *nodes; } Graph;
typedef struct Exec { unsigned magic; int live; Node *nodes; } Exec;
typedef struct Stream { unsigned magic; int live; Graph *capture; int invalidated; } Stream;
typedef struct Event { unsigned magic; int live, recorded, in_capture; double at_ms; } Event;
static long long live_streams, live_events, live_graphs, live_execs, live_modules, kernels_run, stream_waits;
/* The stream handles of the last cuEventRecord and of the last cuStreamWaitEvent that succeeded (fake_cuda_stat). */
static long long last_record_stream = -1, last_wait_stream = -1;
/* Kernels run, per function name: how many times, and the shape of the last run (fake_cuda_stat "ran:…"). */
#define MAX_RAN 64
static struct { char name[128]; long long runs; unsigned shape[10]; } ran[MAX_RAN];
static void note_run(const char *name, const unsigned *shape) {
  for (int i = 0; i < MAX_RAN; i++) {
    if (ran[i].name[0] && strcmp(ran[i].name, name)) continue;
    if (!ran[i].name[0]) snprintf(ran[i].name, sizeof ran[i].name, "%s", name);
    ran[i].runs++;
    memcpy(ran[i].shape, shape, sizeof ran[i].shape);
    return;
  }
}
/* "ran:<function>" (runs), "ran:<function>:grid.x|grid.y|grid.z|block.x|block.y|block.z|smem|cluster.x|cluster.y|cluster.z"
   (its last run; cluster 1, 1, 1 without clusters); 0 if it never ran. */
static long long ran_stat(const char *what) {
  static const char *fields[10] = {"grid.x", "grid.y", "grid.z", "block.x", "block.y", "block.z", "smem", "cluster.x", "cluster.y", "cluster.z"};
  const char *colon = strchr(what, ':');
  size_t len = colon ? (size_t)(colon - what) : strlen(what);
  for (int i = 0; i < MAX_RAN && ran[i].name[0]; i++) {
    if (strlen(ran[i].name) != len || strncmp(ran[i].name, what, len)) continue;
    if (!colon) return ran[i].runs;
    for (int k = 0; k < 10; k++)
      if (!strcmp(colon + 1, fields[k])) return ran[i].shape[k];
    return -1;
  }
  return 0;
}

#ifdef FAKE_CUDA_EMULATE
long long emu_runs(const char *name); /* test/util/emu/emu.cpp */
#endif
long long fake_cuda_stat(const char *what) {
#ifdef FAKE_CUDA_EMULATE
  if (!strncmp(what, "emulated:", 9)) return emu_runs(what + 9);
#endif
  if (!strncmp(what, "ran:", 4)) return ran_stat(what + 4);
  if (!strcmp(what, "allocs")) return live_allocs;
  if (!strcmp(what, "host_allocs")) return live_host_allocs;
  if (!strcmp(what, "bytes")) return (long long)live_bytes;
  if (!strcmp(what, "streams")) return live_streams;
  if (!strcmp(what, "events")) return live_events;
  if (!strcmp(what, "graphs")) return live_graphs;
  if (!strcmp(what, "execs")) return live_execs;
  if (!strcmp(what, "modules")) return live_modules;
  if (!strcmp(what, "kernels_run")) return kernels_run;
  if (!strcmp(what, "sticky")) return sticky_code;
  if (!strcmp(what, "stream_waits")) return stream_waits;
  if (!strcmp(what, "last_record_stream")) return last_record_stream;
  if (!strcmp(what, "last_wait_stream")) return last_wait_stream;
  return -1;
}

/* 0, 1, 2 (the default streams) → *s = 0; a live stream → it; else -1. */
static int stream_of(void *h, Stream **s) {
  *s = 0;
  if ((uintptr_t)h <= 2) return 0; /* 0, CU_STREAM_LEGACY (1), CU_STREAM_PER_THREAD (2): the default streams */
  Stream *st = h;
  if (st->magic != MAGIC_STREAM || !st->live) return -1;
  *s = st;
  return 0;
}
#define STREAM(h, s) Stream *s; if (stream_of(h, &s)) return E_INVALID_HANDLE

static Node *record(Stream *s, int kernel, const char *what) {
  Node *n = calloc(1, sizeof *n);
  n->kernel = kernel;
  snprintf(n->what, sizeof n->what, "%s", what);
  Node **pp = &s->capture->nodes;
  while (*pp) pp = &(*pp)->next;
  *pp = n;
  return n;
}
static void node_ptr(Node *n, CUdeviceptr p, size_t need) {
  if (n && n->n < MAX_PTRS) { n->ptr[n->n] = p; n->need[n->n++] = need; }
}
#ifdef FAKE_CUDA_EMULATE
static void emulate(const Launch *l);
#endif
/* Replaying a node: every range must still be live, else the GPU faults (sticky, reported later). */
static void replay(Node *n) {
  for (int i = 0; i < n->n; i++)
    if (!find(n->ptr[i], n->need[i])) {
      poison(E_ILLEGAL_ADDRESS, "graph launch: %s touches 0x%llx (+%zu), not inside a live allocation", n->what, n->ptr[i], n->need[i]);
      return;
    }
  if (n->kernel) {
    kernels_run++;
    note_run(n->what + 7, n->shape); /* what = "kernel <name>" */
    device_ms += kernel_us / 1e3;
  }
#ifdef FAKE_CUDA_EMULATE
  if (n->kernel && n->launch.fn && !sticky_code) emulate(&n->launch);
#endif
}

CUresult cuStreamCreate(void **s, unsigned flags) {
  ENTER();
  NEED_CTX();
  Stream *st = calloc(1, sizeof *st);
  st->magic = MAGIC_STREAM;
  st->live = 1;
  live_streams++;
  *s = st;
  return OK;
}
CUresult cuStreamDestroy_v2(void *h) {
  ENTER();
  NEED_CTX();
  STREAM(h, s);
  if (!s) return E_INVALID_HANDLE;
  s->live = 0; /* kept (not freed): a later use is CUDA_ERROR_INVALID_HANDLE, not a crash */
  live_streams--;
  return OK;
}
CUresult cuStreamSynchronize(void *h) {
  ENTER();
  NEED_CTX();
  STREAM(h, s);
  if (s && s->capture) {
    s->invalidated = 1;
    note("cuStreamSynchronize on a capturing stream: the capture is invalidated");
    return E_CAPTURE_UNSUPPORTED;
  }
  return OK;
}

static CUresult copy(const char *fn, void *hstream, unsigned char *dst_host, CUdeviceptr dst, const unsigned char *src_host, CUdeviceptr src, size_t n) {
  Stream *s = 0;
  if (hstream && stream_of(hstream, &s)) return E_INVALID_HANDLE;
  unsigned char *d = dst_host, *from = (unsigned char *)src_host;
  if (!d && !(d = host_of(dst, n, fn))) return E_INVALID_VALUE;
  if (!from && !(from = host_of(src, n, fn))) return E_INVALID_VALUE;
  if (s && s->capture) {
    Node *node = record(s, 0, fn);
    if (!dst_host) node_ptr(node, dst, n);
    if (!src_host) node_ptr(node, src, n);
    return OK;
  }
  memmove(d, from, n);
  device_ms += 2.0 * n / (copy_gbps * 1e6); /* read and written */
  return OK;
}
CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t n) { ENTER(); NEED_CTX(); return copy(__func__, 0, 0, dst, src, 0, n); }
CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t n) { ENTER(); NEED_CTX(); return copy(__func__, 0, dst, 0, 0, src, n); }
CUresult cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t n) { ENTER(); NEED_CTX(); return copy(__func__, 0, 0, dst, 0, src, n); }
CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t n, void *st) { ENTER(); NEED_CTX(); return copy(__func__, st, 0, dst, src, 0, n); }
CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t n, void *st) { ENTER(); NEED_CTX(); return copy(__func__, st, dst, 0, 0, src, n); }
CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, void *st) { ENTER(); NEED_CTX(); return copy(__func__, st, 0, dst, 0, src, n); }

static CUresult fill(const char *fn, CUdeviceptr dst, unsigned value, size_t count, int width, void *hstream) {
  STREAM(hstream, s);
  if (dst % width) { note("%s: 0x%llx is not %d-byte aligned", fn, dst, width); return E_INVALID_VALUE; }
  unsigned char *d = host_of(dst, count * width, fn);
  if (!d) return E_INVALID_VALUE;
  if (s && s->capture) { node_ptr(record(s, 0, fn), dst, count * width); return OK; }
  for (size_t i = 0; i < count; i++) {
    if (width == 1) d[i] = (unsigned char)value;
    else if (width == 2) { uint16_t v = (uint16_t)value; memcpy(d + 2 * i, &v, 2); }
    else { uint32_t v = value; memcpy(d + 4 * i, &v, 4); }
  }
  device_ms += (double)count * width / (copy_gbps * 1e6);
  return OK;
}
CUresult cuMemsetD8Async(CUdeviceptr dst, unsigned char v, size_t n, void *st) { ENTER(); NEED_CTX(); return fill(__func__, dst, v, n, 1, st); }
CUresult cuMemsetD16Async(CUdeviceptr dst, unsigned short v, size_t n, void *st) { ENTER(); NEED_CTX(); return fill(__func__, dst, v, n, 2, st); }
CUresult cuMemsetD32Async(CUdeviceptr dst, unsigned v, size_t n, void *st) { ENTER(); NEED_CTX(); return fill(__func__, dst, v, n, 4, st); }

static Event *event_of(void *h) {
  Event *e = h;
  return e && e->magic == MAGIC_EVENT && e->live ? e : 0;
}
CUresult cuEventCreate(void **e, unsigned flags) {
  ENTER();
  NEED_CTX();
  Event *ev = calloc(1, sizeof *ev);
  ev->magic = MAGIC_EVENT;
  ev->live = 1;
  live_events++;
  *e = ev;
  return OK;
}
CUresult cuEventDestroy_v2(void *h) { ENTER(); NEED_CTX(); Event *e = event_of(h); if (!e) return E_INVALID_HANDLE; e->live = 0; live_events--; return OK; }
CUresult cuEventRecord(void *h, void *st) {
  ENTER();
  NEED_CTX();
  STREAM(st, s);
  (void)s;
  Event *e = event_of(h);
  if (!e) return E_INVALID_HANDLE;
  e->recorded = 1;
  last_record_stream = (long long)(uintptr_t)st;
  e->in_capture = s && s->capture; /* recorded as a node of a capture (a wait on it joins that capture) */
  e->at_ms = device_ms;
  return OK;
}
/* Work runs when it is queued here, so a wait orders nothing; it checks its handles, and a capturing stream may only
   wait on an event recorded inside a capture (else CUDA_ERROR_STREAM_CAPTURE_ISOLATION, the capture invalidated).
   fake_cuda_stat("stream_waits") counts the waits that succeeded. */
CUresult cuStreamWaitEvent(void *h, void *ev, unsigned flags) {
  ENTER();
  NEED_CTX();
  STREAM(h, s);
  Event *e = event_of(ev);
  if (!e) return E_INVALID_HANDLE;
  if (flags & ~1u) return E_INVALID_VALUE;
  if (s && s->capture && !e->in_capture) {
    s->invalidated = 1;
    note("cuStreamWaitEvent: a capturing stream waits on an event recorded outside the capture");
    return E_CAPTURE_ISOLATION;
  }
  stream_waits++;
  last_wait_stream = (long long)(uintptr_t)h;
  return OK;
}
CUresult cuEventQuery(void *h) { ENTER(); NEED_CTX(); return event_of(h) ? OK : E_INVALID_HANDLE; }
CUresult cuEventSynchronize(void *h) { ENTER(); NEED_CTX(); return event_of(h) ? OK : E_INVALID_HANDLE; }
CUresult cuEventElapsedTime_v2(float *ms, void *a, void *b) {
  ENTER();
  NEED_CTX();
  Event *start = event_of(a), *end = event_of(b);
  if (!start || !end) return E_INVALID_HANDLE;
  if (!start->recorded || !end->recorded) { note("cuEventElapsedTime_v2: an event that was never recorded"); return E_INVALID_HANDLE; }
  *ms = (float)(end->at_ms - start->at_ms);
  return OK;
}

CUresult cuStreamBeginCapture_v2(void *h, int mode) {
  ENTER();
  NEED_CTX();
  STREAM(h, s);
  if (!s) return E_CAPTURE_UNSUPPORTED; /* the legacy stream cannot be captured */
  if (s->capture) return E_ILLEGAL_STATE;
  s->capture = calloc(1, sizeof(Graph));
  s->capture->magic = MAGIC_GRAPH;
  s->invalidated = 0;
  return OK;
}
CUresult cuStreamEndCapture(void *h, void **graph) {
  int was_sticky = sticky_code;
  CUresult r = enter(__func__);
  if (was_sticky) return r;
  NEED_CTX();
  STREAM(h, s);
  if (!s || !s->capture) return r ? r : E_ILLEGAL_STATE;
  Graph *g = s->capture;
  s->capture = 0; /* the capture ends whatever happens */
  if (r || s->invalidated) {
    *graph = 0;
    return r ? r : E_CAPTURE_INVALIDATED;
  }
  g->live = 1;
  live_graphs++;
  *graph = g;
  return OK;
}
CUresult cuGraphInstantiateWithFlags(void **exec, void *graph, unsigned long long flags) {
  ENTER();
  NEED_CTX();
  Graph *g = graph;
  if (!g || g->magic != MAGIC_GRAPH || !g->live) return E_INVALID_HANDLE;
  Exec *e = calloc(1, sizeof *e);
  e->magic = MAGIC_EXEC;
  e->live = 1;
  e->nodes = g->nodes; /* nodes are never freed: an exec outlives its graph */
  live_execs++;
  *exec = e;
  return OK;
}
CUresult cuGraphLaunch(void *exec, void *h) {
  ENTER();
  NEED_CTX();
  STREAM(h, s);
  Exec *e = exec;
  if (!e || e->magic != MAGIC_EXEC || !e->live) return E_INVALID_HANDLE;
  if (s && s->capture) return E_NOT_SUPPORTED;
  for (Node *n = e->nodes; n; n = n->next) replay(n);
  return OK;
}
CUresult cuGraphExecDestroy(void *exec) { ENTER(); NEED_CTX(); Exec *e = exec; if (!e || e->magic != MAGIC_EXEC || !e->live) return E_INVALID_HANDLE; e->live = 0; live_execs--; return OK; }
CUresult cuGraphDestroy(void *graph) { ENTER(); NEED_CTX(); Graph *g = graph; if (!g || g->magic != MAGIC_GRAPH || !g->live) return E_INVALID_HANDLE; g->live = 0; live_graphs--; return OK; }

/* ------------------------------------------------------------------------------------------ modules */

typedef struct Module { unsigned magic; int ptx; unsigned char *image; size_t size; } Module;
typedef struct Func { unsigned magic; char name[128]; char kinds[32]; size_t off[32], size[32]; int nparams, max_dyn_smem; } Func;

static int is_elf(const unsigned char *b) { return b[0] == 0x7f && b[1] == 'E' && b[2] == 'L' && b[3] == 'F'; }

static uint64_t rd64(const unsigned char *b, size_t off) { uint64_t v; memcpy(&v, b + off, 8); return v; }
static uint32_t rd32(const unsigned char *b, size_t off) { uint32_t v; memcpy(&v, b + off, 4); return v; }
static uint16_t rd16(const unsigned char *b, size_t off) { uint16_t v; memcpy(&v, b + off, 2); return v; }

/* A cubin: 64-bit little-endian ELF for EM_CUDA (190); its size from the section and program header tables. */
static CUresult check_cubin(const unsigned char *b, size_t *size) {
  if (b[4] != 2 || b[5] != 1 || rd16(b, 0x12) != 190) { note("cuModuleLoadData: not a 64-bit CUDA ELF"); return E_INVALID_IMAGE; }
  uint64_t sh = rd64(b, 0x28) + (uint64_t)rd16(b, 0x3a) * rd16(b, 0x3c), ph = rd64(b, 0x20) + (uint64_t)rd16(b, 0x36) * rd16(b, 0x38);
  *size = sh > ph ? sh : ph;
  if (*size < 64) *size = 64;
  if (*size > (1u << 30)) return E_INVALID_IMAGE;
  unsigned sm = (rd32(b, 0x30) >> 8) & 0xff; /* e.g. 80 for sm_80, 90 for sm_90 and sm_90a */
  if ((int)sm / 10 != cc_major || (int)sm % 10 > cc_minor) {
    note("cuModuleLoadData: a cubin for sm_%u does not run on compute capability %d.%d", sm, cc_major, cc_minor);
    return E_NO_BINARY_FOR_GPU;
  }
  return OK;
}

static Module *new_module(const void *image, size_t size, int ptx) {
  Module *m = calloc(1, sizeof *m);
  m->magic = MAGIC_MODULE;
  m->ptx = ptx;
  m->size = size;
  m->image = malloc(size);
  memcpy(m->image, image, size);
  live_modules++;
  return m;
}

/* The JIT: `.target sm_XY` must not be newer than the device; `not_an_instruction` is a compile error. */
static CUresult jit(const char *ptx, char *err, size_t err_cap, size_t *err_len) {
  const char *t = strstr(ptx, ".target sm_");
  if (t && atoi(t + 11) > cc_major * 10 + cc_minor) {
    *err_len = (size_t)snprintf(err, err_cap, "ptxas fatal   : SM version specified by .target is higher than default SM version assumed") + 1;
    return E_INVALID_PTX;
  }
  if (strstr(ptx, "not_an_instruction")) {
    *err_len = (size_t)snprintf(err, err_cap, "ptxas application ptx input, line 5; error   : Not a name of any known instruction: 'not_an_instruction'") + 1;
    return E_INVALID_PTX;
  }
  *err_len = 0;
  return OK;
}

CUresult cuModuleLoadData(void **module, const void *image) {
  ENTER();
  NEED_CTX();
  if (!module || !image) return E_INVALID_VALUE;
  const unsigned char *b = image;
  if (is_elf(b)) {
    size_t size;
    CUresult r = check_cubin(b, &size);
    if (r) return r;
    *module = new_module(image, size, 0);
    return OK;
  }
  if (strstr((const char *)image, ".version") && strstr((const char *)image, ".target")) {
    char err[256];
    size_t n;
    CUresult r = jit(image, err, sizeof err, &n);
    if (r) { note("%s", err); return r; }
    *module = new_module(image, strlen(image) + 1, 1);
    return OK;
  }
  note("cuModuleLoadData: neither a cubin nor PTX");
  return E_INVALID_IMAGE;
}

CUresult cuModuleLoadDataEx(void **module, const void *image, unsigned n, int *opts, void **vals) {
  int was_sticky = sticky_code;
  CUresult injected = enter(__func__);
  if (was_sticky) return injected;
  if (!injected) NEED_CTX();
  const char *ptx = image;
  char *err = 0, *info = 0;
  int err_sz = -1, info_sz = -1, verbose_flag = 0, wall = -1;
  for (unsigned i = 0; i < n; i++) {
    switch (opts[i]) {
      case 5: err = (char *)vals[i]; break;
      case 6: err_sz = (int)i; break;
      case 3: info = (char *)vals[i]; break;
      case 4: info_sz = (int)i; break;
      case 12: verbose_flag = (int)(uintptr_t)vals[i]; break;
      case 2: wall = (int)i; break;
    }
  }
  if (!err || !info || err_sz < 0 || info_sz < 0 || wall < 0) return E_INVALID_VALUE;
  unsigned err_cap = (unsigned)(uintptr_t)vals[err_sz], info_cap = (unsigned)(uintptr_t)vals[info_sz];
  float ms = 12.5f;
  vals[wall] = 0;
  memcpy(&vals[wall], &ms, sizeof ms);
  if (injected) {
    int k = snprintf(err, err_cap, "ptxas fatal   : fake driver: injected failure (FAKE_CUDA_FAULTS / fake_cuda_arm)");
    vals[err_sz] = (void *)(uintptr_t)(k + 1);
    vals[info_sz] = 0;
    return injected;
  }
  size_t err_len;
  CUresult r = jit(ptx, err, err_cap, &err_len);
  if (r) {
    vals[err_sz] = (void *)(uintptr_t)err_len;
    vals[info_sz] = 0;
    note("cuModuleLoadDataEx: %s", err);
    return r;
  }
  int k = snprintf(info, info_cap, "fake JIT: %zu bytes of PTX text, verbose=%d\nptxas info    : Used 42 registers, 0 bytes spill stores, 0 bytes spill loads", strlen(ptx), verbose_flag);
  vals[info_sz] = (void *)(uintptr_t)(k + 1);
  vals[err_sz] = 0;
  *module = new_module(image, strlen(ptx) + 1, 1);
  return OK;
}

static int has_name(const Module *m, const char *name) {
  size_t len = strlen(name);
  if (m->ptx) {
    for (const char *p = (const char *)m->image; (p = strstr(p, ".entry ")); p += 7) {
      const char *q = p + 7;
      while (*q == ' ') q++;
      if (!strncmp(q, name, len) && (q[len] == '(' || q[len] == ' ' || q[len] == '\n' || q[len] == '\r' || q[len] == '\t')) return 1;
    }
    return 0;
  }
  /* a cubin: the name NUL-terminated in a string table, after a NUL or a '.' (".text.<name>") */
  for (size_t i = 1; i + len < m->size; i++)
    if ((m->image[i - 1] == 0 || m->image[i - 1] == '.') && !memcmp(m->image + i, name, len) && m->image[i + len] == 0) return 1;
  return 0;
}

/* The parameter kinds of `name` from the table "prefix=kinds;..." (first matching prefix); 0 when none matches. */
static int param_kinds(const char *name, char *kinds, size_t cap) {
  const char *table = getenv("FAKE_CUDA_KERNEL_PARAMS");
  if (!table || !*table) table = FAKE_KERNEL_PARAMS;
  for (const char *p = table; *p;) {
    const char *eq = strchr(p, '='), *end = strchr(p, ';');
    if (!end) end = p + strlen(p);
    if (eq && eq < end && !strncmp(name, p, eq - p)) {
      size_t n = end - eq - 1;
      if (n >= cap) n = cap - 1;
      memcpy(kinds, eq + 1, n);
      kinds[n] = 0;
      return 1;
    }
    p = *end ? end + 1 : end;
  }
  return 0;
}

CUresult cuModuleGetFunction(void **f, void *module, const char *name) {
  ENTER();
  NEED_CTX();
  Module *m = module;
  if (!m || m->magic != MAGIC_MODULE) return E_INVALID_HANDLE;
  if (!has_name(m, name)) { note("cuModuleGetFunction: no kernel '%s' in the module", name); return E_NOT_FOUND; }
  Func *fn = calloc(1, sizeof *fn);
  fn->magic = MAGIC_FUNC;
  snprintf(fn->name, sizeof fn->name, "%s", name);
  if (param_kinds(name, fn->kinds, sizeof fn->kinds)) {
    size_t off = 0;
    for (int i = 0; fn->kinds[i]; i++) {
      size_t size = 0, align = 0;
      switch (fn->kinds[i]) {
        case 'p': size = 8; align = 8; break;
        case 'i': size = 4; align = 4; break;
        case 'P': size = PARAMS_BYTES; align = 8; break;
        case 'F': size = FP8_PARAMS_BYTES; align = 8; break;
        case 'A': size = APPEND_FP8_PARAMS_BYTES; align = 8; break;
        case 'L': size = LAYOUT_PARAMS_BYTES; align = 8; break;
        case 'T': size = 128; align = 64; break;
      }
      off = (off + align - 1) / align * align;
      fn->off[i] = off;
      fn->size[i] = size;
      off += size;
      fn->nparams++;
    }
  }
  *f = fn;
  return OK;
}

static Func *func_of(void *h) {
  Func *f = h;
  return f && f->magic == MAGIC_FUNC ? f : 0;
}

CUresult cuFuncGetParamInfo(void *f, size_t i, size_t *off, size_t *size) {
  ENTER();
  NEED_CTX();
  Func *fn = func_of(f);
  if (!fn) return E_INVALID_HANDLE;
  if (i >= (size_t)fn->nparams) { note("cuFuncGetParamInfo: %s has %d parameters, asked for #%zu", fn->name, fn->nparams, i); return E_INVALID_VALUE; }
  *off = fn->off[i];
  *size = fn->size[i];
  return OK;
}

CUresult cuFuncSetAttribute(void *f, int attr, int value) {
  ENTER();
  NEED_CTX();
  Func *fn = func_of(f);
  if (!fn) return E_INVALID_HANDLE;
  if (attr == 8) { /* CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES */
    if (value < 0 || value > smem_optin) { note("cuFuncSetAttribute: %d B of dynamic shared memory, the device allows %d", value, smem_optin); return E_INVALID_VALUE; }
    fn->max_dyn_smem = value;
  }
  return OK;
}

/* Checks what the driver checks (alignment, extents, strides, the box's inner extent against the swizzle span) and
 * records the descriptor in the fake's own layout (emu/tensor_map.h), which the emulator's TMA reads. */
CUresult cuTensorMapEncodeTiled(void *tmap, int dtype, unsigned rank, CUdeviceptr addr, const uint64_t *dims, const uint64_t *strides, const unsigned *box,
                                const unsigned *elem, int interleave, int swizzle, int l2, int oob) {
  static const unsigned char elem_bytes[] = {1, 2, 4, 4, 8, 8, 2, 4, 8, 2, 4, 4, 4}; /* CUtensorMapDataType 0..12 */
  ENTER();
  NEED_CTX();
  if (!tmap || (uintptr_t)tmap % 64 || rank < 1 || rank > 5 || dtype < 0 || dtype > 12 || !addr || addr % 16) return E_INVALID_VALUE;
  if (swizzle < 0 || swizzle > 3 || interleave < 0 || interleave > 2 || oob < 0 || oob > 1) return E_INVALID_VALUE;
  for (unsigned i = 0; i < rank; i++) {
    if (!dims[i] || !box[i] || box[i] > 256 || !elem[i] || elem[i] > 8) return E_INVALID_VALUE;
    if (i + 1 < rank && strides[i] % 16) return E_INVALID_VALUE;
  }
  const unsigned inner = box[0] * elem_bytes[dtype];
  if (interleave == 0 && (inner % 16 || (swizzle && inner > (16u << swizzle)))) {
    note("cuTensorMapEncodeTiled: a box row of %u B with swizzle mode %d", inner, swizzle);
    return E_INVALID_VALUE;
  }
  FakeTensorMap m;
  memset(&m, 0, sizeof m);
  m.address = addr;
  m.magic = FAKE_TMAP_MAGIC;
  m.rank = rank;
  for (unsigned i = 0; i < rank; i++) {
    m.dims[i] = dims[i];
    m.box[i] = box[i];
    m.elem_strides[i] = (uint8_t)elem[i];
    if (i + 1 < rank) m.strides[i] = strides[i];
  }
  m.elem_bytes = elem_bytes[dtype];
  m.swizzle = (uint8_t)swizzle;
  m.interleave = (uint8_t)interleave;
  m.oob_fill = (uint8_t)oob;
  m.data_type = (uint8_t)dtype;
  (void)l2;
  memset(tmap, 0, 128);
  memcpy(tmap, &m, sizeof m);
  return OK;
}

#ifdef FAKE_CUDA_EMULATE
/* The emulated kernels (test/util/emu/): they run on host memory, so MlaDecodeParams' pointers are translated. */
int emu_launch(const char *name, const unsigned *grid, const unsigned *block, unsigned smem, void *const *args, const unsigned *cluster, char *err, size_t err_cap);

/* For the emulator: whether [p, p + n) lies inside the host memory of a live allocation. */
int fake_cuda_host_range_ok(const void *p, size_t n) {
  const unsigned char *q = p;
  for (Alloc *a = allocs; a; a = a->next)
    if (q >= a->host && q - a->host <= (long long)a->bytes && n <= a->bytes - (size_t)(q - a->host)) return 1;
  return 0;
}

static void emulate(const Launch *l) {
  const Func *fn = l->fn;
  _Alignas(64) unsigned char copies[EMU_MAX_ARGS][512]; /* a CUtensorMap parameter is 64-byte aligned */
  void *args[EMU_MAX_ARGS];
  for (int i = 0; i < fn->nparams && i < EMU_MAX_ARGS; i++) {
    memcpy(copies[i], l->args[i], sizeof copies[i]);
    args[i] = copies[i];
    /* pointers to translate: MlaDecodeParams' and MlaFp8Params' fields, a pointer argument, a tensor map's global
       address (offset 0) */
    const char kind = fn->kinds[i];
    const size_t *offs = kind == 'P' ? PARAM_PTRS : kind == 'F' ? FP8_PARAM_PTRS : kind == 'p' || kind == 'T' ? (const size_t[]){0} : 0;
    const size_t n = kind == 'P' ? sizeof PARAM_PTRS / sizeof PARAM_PTRS[0] : kind == 'F' ? sizeof FP8_PARAM_PTRS / sizeof FP8_PARAM_PTRS[0] : offs ? 1 : 0;
    for (size_t k = 0; k < n; k++) {
      CUdeviceptr d = rd64(copies[i], offs[k]);
      Alloc *a = d ? find(d, 0) : 0;
      uint64_t h = a ? (uint64_t)(uintptr_t)(a->host + (d - a->dptr)) : 0;
      memcpy(copies[i] + offs[k], &h, 8);
    }
  }
  char err[2400];
  const int r = emu_launch(fn->name, l->grid, l->block, l->smem, args, l->cluster, err, sizeof err);
  if (r == -2) poison(E_LAUNCH_TIMEOUT, "emulated %s", err);
  else if (r < 0) poison(E_ILLEGAL_ADDRESS, "emulated %s", err);
}
#endif

/* CUlaunchConfig: grid (0, 4, 8), block (12, 16, 20), sharedMemBytes (24), hStream (32), attrs (40), numAttrs (48). */
/* Clusters of the config's shape that fit on the device at once: one CTA per SM (the decode kernels' shared memory),
   so the SMs (FAKE_CUDA_SMS) over the cluster's CTAs; FAKE_CUDA_SM_GROUP=G models SMs placed in groups of G (GPCs), a
   cluster within one group: (SMs / G) · (G / cluster CTAs) — the fallback of a grid that would not fit in one wave. */
CUresult cuOccupancyMaxActiveClusters(int *num, void *f, const void *config) {
  ENTER();
  NEED_CTX();
  Func *fn = func_of(f);
  if (!config || !fn || !num) return E_INVALID_HANDLE;
  const unsigned char *c = config;
  const unsigned char *attrs = (const unsigned char *)(uintptr_t)rd64(c, 40);
  unsigned num_attrs = rd32(c, 48), ctas = 1;
  for (unsigned i = 0; i < num_attrs; i++)
    if (rd32(attrs, i * 72) == 4) ctas = rd32(attrs, i * 72 + 8) * rd32(attrs, i * 72 + 12) * rd32(attrs, i * 72 + 16);
  if (cc_major < 9) return E_NOT_SUPPORTED;
  if (!ctas || ctas > 8) return E_INVALID_VALUE;
  long group = env_long("FAKE_CUDA_SM_GROUP", sm_count);
  if (group <= 0 || group > sm_count) group = sm_count;
  *num = (int)((sm_count / group) * (group / ctas));
  return OK;
}

CUresult cuLaunchKernelEx(const void *config, void *f, void **params, void **extra) {
  ENTER();
  NEED_CTX();
  Func *fn = func_of(f);
  if (!config || !fn) return E_INVALID_HANDLE;
  const unsigned char *c = config;
  unsigned g[3] = {rd32(c, 0), rd32(c, 4), rd32(c, 8)}, b[3] = {rd32(c, 12), rd32(c, 16), rd32(c, 20)}, smem = rd32(c, 24);
  void *hstream = (void *)(uintptr_t)rd64(c, 32);
  const unsigned char *attrs = (const unsigned char *)(uintptr_t)rd64(c, 40);
  unsigned num_attrs = rd32(c, 48);
  STREAM(hstream, s);
  if (!g[0] || !g[1] || !g[2] || g[1] > 65535 || g[2] > 65535 || !b[0] || !b[1] || !b[2] || (unsigned long long)b[0] * b[1] * b[2] > 1024) {
    note("cuLaunchKernelEx: %s with grid (%u, %u, %u), block (%u, %u, %u)", fn->name, g[0], g[1], g[2], b[0], b[1], b[2]);
    return E_INVALID_VALUE;
  }
  int smem_limit = fn->max_dyn_smem > 48 << 10 ? fn->max_dyn_smem : 48 << 10;
  if ((int)smem > smem_limit) {
    note("cuLaunchKernelEx: %s asks for %u B of dynamic shared memory, its limit is %d B (cuFuncSetAttribute)", fn->name, smem, smem_limit);
    return E_INVALID_VALUE;
  }
  unsigned cluster[3] = {1, 1, 1};
  for (unsigned i = 0; i < num_attrs; i++) {
    unsigned id = rd32(attrs, i * 72);
    if (id == 4) { /* thread block clusters: sm_90 and later; the grid a multiple of the cluster shape */
      if (cc_major < 9) return E_NOT_SUPPORTED;
      for (int k = 0; k < 3; k++) cluster[k] = rd32(attrs, i * 72 + 8 + 4 * k);
      if (!cluster[0] || !cluster[1] || !cluster[2] || g[0] % cluster[0] || g[1] % cluster[1] || g[2] % cluster[2] || cluster[0] * cluster[1] * cluster[2] > 8) {
        note("cuLaunchKernelEx: %s with grid (%u, %u, %u), cluster (%u, %u, %u)", fn->name, g[0], g[1], g[2], cluster[0], cluster[1], cluster[2]);
        return E_INVALID_VALUE;
      }
    }
  }
  if (fn->nparams && !params) return E_INVALID_VALUE;
  if (extra) return E_INVALID_VALUE; /* never used by the library */
  CUdeviceptr ptrs[MAX_PTRS];
  int np = 0;
  for (int i = 0; i < fn->nparams; i++) {
    const unsigned char *v = params[i];
    switch (fn->kinds[i]) {
      case 'p': ptrs[np++] = rd64(v, 0); break;
      case 'T': ptrs[np++] = rd64(v, 0); break;
      case 'P':
        for (size_t k = 0; k < sizeof PARAM_PTRS / sizeof PARAM_PTRS[0] && np < MAX_PTRS; k++) ptrs[np++] = rd64(v, PARAM_PTRS[k]);
        break;
      case 'F':
        for (size_t k = 0; k < sizeof FP8_PARAM_PTRS / sizeof FP8_PARAM_PTRS[0] && np < MAX_PTRS; k++) ptrs[np++] = rd64(v, FP8_PARAM_PTRS[k]);
        break;
      case 'A':
        for (size_t k = 0; k < sizeof APPEND_FP8_PARAM_PTRS / sizeof APPEND_FP8_PARAM_PTRS[0] && np < MAX_PTRS; k++) ptrs[np++] = rd64(v, APPEND_FP8_PARAM_PTRS[k]);
        break;
    }
  }
  Node tmp = {0}, *node = s && s->capture ? record(s, 1, fn->name) : &tmp;
  snprintf(node->what, sizeof node->what, "kernel %s", fn->name);
  node->kernel = 1;
  memcpy(node->shape, g, sizeof g);
  memcpy(node->shape + 3, b, sizeof b);
  node->shape[6] = smem;
  memcpy(node->shape + 7, cluster, sizeof cluster);
  for (int i = 0; i < np; i++)
    if (ptrs[i]) node_ptr(node, ptrs[i], 0);
#ifdef FAKE_CUDA_EMULATE
  node->launch.fn = fn;
  memcpy(node->launch.grid, g, sizeof g);
  memcpy(node->launch.block, b, sizeof b);
  node->launch.smem = smem;
  memcpy(node->launch.cluster, cluster, sizeof cluster);
  for (int i = 0; i < fn->nparams && i < EMU_MAX_ARGS; i++) memcpy(node->launch.args[i], params[i], fn->size[i] < 512 ? fn->size[i] : 512);
#endif
  if (node != &tmp) return OK; /* recorded: checked (and emulated) when the graph is launched */
  replay(node);
  return OK;
}
