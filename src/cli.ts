#!/usr/bin/env node
// flash-mla command line: `flash-mla bench` (FlashMLA's decode sweep, roofline, JSON, SVG) and `flash-mla info`.
// Progress goes to stderr (one live line per config), the table to stdout. The device is reached only through the
// backend interface: getBackend() and getDeviceMeasure() (src/backend.ts).

import { parseArgs } from 'node:util';
import { cudaAvailable, getBackend } from './index.js';
import { getDeviceMeasure, type DeviceMeasure, type DeviceTraits } from './backend.js';
import { configLabel, loadReference, PEER_SHORT_NAMES, referenceCardFor, selectConfigs, withKvFormat, withKvPages, type ReferenceSeries } from './bench/configs.js';
import { fmtBytes, fmtNum, fmtRatio, formatReport } from './bench/report.js';
import { benchKernels, checkConfigsFit, fmtDriverVersion, packageVersion, refusalOf, runBench, type BenchProgress } from './bench/run.js';
import { rooflineSvgFromResult } from './bench/svg.js';
import { packPieceCostBlocks } from './mla/schedule.js';
import { outputPathProblem, writeOutputs, type OutputFile } from './bench/output.js';

const HELP = `flash-mla ${packageVersion()} — MLA decoding attention (FlashMLA semantics) on NVIDIA GPUs

Usage:
  flash-mla bench [options]     run FlashMLA's decode sweep and print a table (also: npm start)
  flash-mla info [--assume CC[,SMEM]]
                                driver, device, which kernels run here, in which binary form (cubin or PTX)
                                and why; --assume: the same choice for a GPU of compute capability CC (e.g.
                                8.6) and SMEM bytes of opt-in shared memory per block (no GPU needed)
  flash-mla --help | --version

bench options:
  --configs SEL      which configs (default: the 32-config sweep on a GPU, the small sweep on the cpu backend)
                       sweep | serving | small | tiny a whole set (serving: S1–S12, serving shapes with H200 peer times;
                                                      tiny: one config, the quickest cpu run)
                       sparse | sparse-small          sparse decode over an FP8 cache: FlashMLA's grid (s_k 32768, topk
                                                      2048, s_q 2, b 2/64/74/128, h_q 16/32/128); its cpu version
                       0,3,5 | 0-7 | sweep:8-15       indices into the default (or named) set
                       serving:S1,S7                  serving configs by name
                       h_q=16,s_q=1 | var | fixed     filters (keys b, s, h_q, s_q, varlen, causal; a repeated key ORs)
                       FILE.json                      configs in the anchors-file format ({"configs": [...]})
  --kv KV            fp8: the dense configs over an FP8 KV cache (656 B per token, V3.2 layout); bf16 (default):
                     over a 16-bit cache in q's dtype. Sparse configs always read an FP8 cache.
  --kv-pages N       dense configs over a cache of at most N distinct full pages that every request's blocks draw
                     from (a partly filled last block keeps its own): few enough stay in L2 (256 pages: 19 MB bf16,
                     11 MB FP8), so the decode runs at its math's rate, not DRAM's — a probe (an H100 standing in for
                     an H200's compute-bound rate), not a workload; no peer times apply (GB/s counts tokens read)
  --cold-code        GPU (sm_80–sm_90): before every run, after the L2 flush, 256 KB of other code runs on every SM
                     (kernels/code_evict.cu: four warps per CTA, two CTAs per SM), so each run starts with the decode's
                     code cold, as in a model where other kernels run between attention calls (default: warm code, as
                     the peers' benchmarks; so no peer times by default: --reference warm-run.json gives warm/cold)
  --pack-order       dense configs: getMlaMetadata({ packOrder: true }), a variable-length batch walked in a packed
                     request order (fewer requests split over SMs; the metadata call takes longer: see +md ms)
  --metadata M       dense configs on a GPU: device (default): the schedule by the metadata kernel from the device
                     lengths; host: from a host copy of the lengths, written to the device (no kernel; as
                     PagedKvCache.metadata) — +md ms then times its copies, md host µs the host's time per call
  --backend B        cuda | cpu (default: cuda when a GPU is usable, else cpu on the small sweep)
  --kernel K[,K2]    decode kernel(s) to time; two or more are compared config by config
  --iters N          timed runs per config (default cuda 100, cpu 3); the median is reported
  --warmup N         untimed runs before them (default cuda 10, cpu 0; on cuda, when N > 0, more until the
                     warm-up has lasted 25 ms by CUDA events, as triton's do_bench, so the clocks are up)
  --json FILE        write everything (device, driver, date, ceilings, per-config rows, geomeans) as JSON
  --svg FILE         write a roofline chart (log-log, both ceilings, one labelled point per config)
                     (both paths are checked before the run; the table is printed before they are written)
  --reference R      compare with: h100 | h200 (shipped FlashMLA/FA3 measurements) | FILE.json (an anchors
                     file or another run's --json) | none. Repeatable. Default on an H100/H200: that card's.
                     With peer measurements the table shows FlashMLA's ms (FM), the best of FlashMLA and FA3
                     per config (best), FlashMLA with its metadata call (FM+md, against +md ms), the ratios
                     (peer ms / ours, > 1: faster) and their geomeans, split at h_q·s_q ≤ 64.
  --peak-tflops X    compute ceiling to use (default: measured by a wgmma probe on Hopper, else a bf16
                     matmul rate of this card model; the output says which)
  --seed N           base seed of the random data (default: random; recorded in the JSON)
  --check-samples N  rows per config checked against the float64 oracle (default 8, 0 = off)

Columns: ms = decode + combine (metadata computed before, outside the timing, as FlashMLA's benchmark);
+md ms = metadata + decode + combine. With --kernel a,b: per config b's ratio to a (vs a).

A config the backend refuses (e.g. a layout or feature the named --kernel does not run) is
reported as skipped with the backend's reason, in the table and the JSON; it is not an error.

Exit status: 0 ok (skipped configs included), 1 a correctness check failed or an error (also: an output file that
could not be written at the end), 2 usage error.
Environment: NO_COLOR disables colour; FLASH_MLA_DEVICE picks the GPU; FLASH_MLA_FORCE_PTX=1 loads every kernel
that ships PTX through the driver's JIT (cubins ignored); FLASH_MLA_DECODE_KERNEL=NAME offers only that decode
kernel (hopper, generic, generic-small); FLASH_MLA_NO_PDL=1 turns programmatic dependent launch off.
`;

class UsageError extends Error {}

/** A cpu run estimated to take longer than this gets a warning before it starts. */
const CPU_ESTIMATE_WARN_SECONDS = 60;

function fmtDuration(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** Errors from parsing a user's selector/file arguments are usage errors (exit 2), not failures. */
function asUsage<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw e instanceof UsageError ? e : new UsageError((e as Error).message);
  }
}

const color = process.stderr.isTTY && !process.env.NO_COLOR && process.env.TERM !== 'dumb';
const paint = (code: string) => (s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
const green = paint('32');
const red = paint('31');
const dim = paint('2');

function intOpt(name: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`--${name}: expected an integer ≥ ${min}, got '${v}'`);
  return n;
}

/** Why the cuda backend cannot be used: opening it throws the reason (CudaUnavailableError, UnsupportedDriverError, …). */
function cudaReason(): string {
  try {
    getBackend('cuda');
    return 'unknown reason';
  } catch (e) {
    return (e as Error).message;
  }
}

/** The cuda backend's device measurements (registered by src/index.ts; opening no device). */
function cudaMeasure(): DeviceMeasure {
  const measure = getDeviceMeasure('cuda');
  if (!measure) throw new Error('the cuda backend registered no device measurements (src/cuda/measure.ts)');
  return measure;
}

/** Live progress on stderr: on a TTY one line rewritten in place per config; otherwise one line per result. */
function progressPrinter(): (p: BenchProgress) => void {
  const tty = process.stderr.isTTY === true;
  let live = false;
  const clear = () => {
    if (live) process.stderr.write('\r\x1b[K');
    live = false;
  };
  return (p) => {
    if (p.phase === 'estimate') {
      // a full sweep on the cpu backend runs for hours: say so before it starts
      if (p.seconds > CPU_ESTIMATE_WARN_SECONDS) {
        clear();
        process.stderr.write(`flash-mla bench: warning: the cpu backend will need about ${fmtDuration(p.seconds)} for this (${p.message}); pick fewer configs (--configs tiny|small|…) or runs (--iters 1) for a quicker run\n`);
      }
      return;
    }
    if (p.phase === 'ceilings') {
      if (tty) {
        clear();
        process.stderr.write(dim(`${p.message}…`));
        live = true;
      }
      return;
    }
    const n = `[${p.index + 1}/${p.total}]`;
    if (p.phase === 'skip') {
      clear();
      process.stderr.write(`${n} ${configLabel(p.skipped.config)} ${p.skipped.kernel}: ${dim(`skipped: ${p.skipped.reason}`)}\n`);
      return;
    }
    if (p.phase === 'config') {
      if (!tty) return;
      clear();
      process.stderr.write(`${n} ${configLabel(p.config)}${p.kernel ? ` ${p.kernel}` : ''} ${dim(p.step + '…')}`);
      live = true;
      return;
    }
    const r = p.row;
    const check = r.check === null ? dim('unchecked') : r.check.ok ? green('ok') : red(`FAIL: ${r.check.message}`);
    const vs: string[] = [];
    if (r.peers?.flashmla) vs.push(`${fmtRatio(r.peers.flashmla.speedup)} FM`);
    if (r.peers?.best) vs.push(`${fmtRatio(r.peers.best.speedup)} best (${PEER_SHORT_NAMES[r.peers.best.peer] ?? r.peers.best.peer})`);
    if (r.peers?.flashmlaWithMetadata) vs.push(`${fmtRatio(r.peers.flashmlaWithMetadata.speedup)} FM+md`);
    if (!r.peers && r.reference) vs.push(`${fmtRatio(r.reference.speedup)} ref`);
    if (r.vsKernel) vs.push(`${fmtRatio(r.vsKernel.speedup)} vs ${r.vsKernel.kernel}`);
    clear();
    process.stderr.write(
      `${n} ${configLabel(r.config)} ${r.kernel}: ${r.ms.toFixed(4)} ms${r.mdMs === undefined ? '' : ` (+md ${r.mdMs.toFixed(4)} ms)`}, ${fmtNum(r.TFLOPS)} TFLOPS, ${fmtNum(r.GBps)} GB/s, ` +
        `${(r.rooflineFraction * 100).toFixed(1)}% of roofline${vs.length ? `, ${vs.join(', ')}` : ''}, ${check}\n`,
    );
  };
}

async function bench(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      configs: { type: 'string' },
      kv: { type: 'string' },
      'kv-pages': { type: 'string' },
      'cold-code': { type: 'boolean' },
      'pack-order': { type: 'boolean' },
      metadata: { type: 'string' },
      backend: { type: 'string' },
      kernel: { type: 'string', multiple: true },
      iters: { type: 'string' },
      warmup: { type: 'string' },
      json: { type: 'string' },
      svg: { type: 'string' },
      reference: { type: 'string', multiple: true },
      'peak-tflops': { type: 'string' },
      seed: { type: 'string' },
      'check-samples': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  let backend: 'cpu' | 'cuda';
  if (values.backend === undefined) {
    if (cudaAvailable()) backend = 'cuda';
    else {
      backend = 'cpu';
      process.stderr.write(`flash-mla bench: no usable GPU (${cudaReason()}); running the cpu backend (a correctness oracle, not a GPU measurement)\n`);
    }
  } else if (values.backend === 'cpu' || values.backend === 'cuda') {
    backend = values.backend;
    if (backend === 'cuda' && !cudaAvailable()) throw new Error(`--backend cuda: ${cudaReason()}`);
  } else throw new UsageError(`--backend: expected cpu or cuda, got '${values.backend}'`);

  // an empty value is a mistake (an unset variable in a script), not a request for the default set
  if (values.configs !== undefined && values.configs.trim() === '') throw new UsageError(`--configs: expected a set name, a selector or a FILE.json, got ''`);
  const outputs: Array<{ flag: string; path: string }> = [];
  for (const flag of ['json', 'svg'] as const) {
    const path = values[flag];
    if (path === undefined) continue;
    const problem = outputPathProblem(path);
    if (problem) throw new UsageError(`--${flag} '${path}': ${problem}`);
    outputs.push({ flag: `--${flag}`, path });
  }
  if (values.kv !== undefined && values.kv !== 'fp8' && values.kv !== 'bf16') throw new UsageError(`--kv: expected fp8 or bf16, got '${values.kv}'`);
  const sel = asUsage(() => selectConfigs(values.configs, backend === 'cuda' ? 'sweep' : 'small'));
  if (values.kv !== undefined) {
    const kv = values.kv;
    sel.configs = asUsage(() => withKvFormat(sel.configs, kv));
    if (kv === 'fp8') sel.source += ', over an FP8 KV cache (--kv fp8)';
  }
  if (values['kv-pages'] !== undefined) {
    const pages = intOpt('kv-pages', values['kv-pages'], 1)!;
    sel.configs = asUsage(() => withKvPages(sel.configs, pages));
    sel.source += `, KV from at most ${pages} distinct full pages (in L2 where they fit): a compute-rate probe (--kv-pages ${pages})`;
  }
  if (values.metadata !== undefined && values.metadata !== 'device' && values.metadata !== 'host') throw new UsageError(`--metadata: expected device or host, got '${values.metadata}'`);
  if (values.metadata === 'host' && backend === 'cuda') sel.source += ', metadata from host lengths (--metadata host)';
  if (values['cold-code'] && backend !== 'cuda') throw new UsageError('--cold-code: expected the cuda backend (the cpu backend has no GPU instruction caches to evict)');
  if (values['cold-code']) sel.source += ', code cold before every run (--cold-code)';
  if (values['pack-order']) sel.source += ', packed request order (--pack-order)';
  // without the flag getMlaMetadata's default applies, which FLASH_MLA_EXPERIMENT_PACK turns on (the device steps'
  // A/B arms set it; from session 57 to 60 the bench passed packOrder: false and so ignored it)
  else if (packPieceCostBlocks() > 0) sel.source += `, packed request order (FLASH_MLA_EXPERIMENT_PACK=${packPieceCostBlocks()})`;
  // what the backend refuses is skipped (reported, not run): only the others must fit
  const be = getBackend(backend);
  asUsage(() => checkConfigsFit(sel.configs.filter((c) => refusalOf(be, c) === null), backend));
  const kernels = (values.kernel ?? []).flatMap((k) => k.split(',')).map((k) => k.trim()).filter(Boolean);
  const peakArg = values['peak-tflops'];
  const peakTflops = peakArg === undefined ? undefined : Number(peakArg);
  if (peakTflops !== undefined && !(peakTflops > 0)) throw new UsageError(`--peak-tflops: expected a positive number, got '${peakArg}'`);

  // references: explicit, or by default the shipped measurements of this card model
  let refSpecs = values.reference ?? [];
  // (the shipped peer times are warm-code times: not the default reference of a --cold-code run)
  if (refSpecs.length === 0 && backend === 'cuda' && !values['cold-code']) {
    const card = referenceCardFor(cudaMeasure().device().name);
    if (card) refSpecs = [card];
  }
  const references: ReferenceSeries[] = asUsage(() => refSpecs.filter((r) => r !== 'none').flatMap((r) => loadReference(r)));
  const known = benchKernels(be, sel.configs);
  const unknown = kernels.find((k) => !known.includes(k));
  if (unknown) throw new UsageError(`--kernel: expected one of ${known.join(', ')} on the ${backend} backend, got '${unknown}'`);

  const result = await runBench({
    backend,
    configs: sel.configs,
    configsSource: sel.source,
    kernels: kernels.length ? kernels : undefined,
    iters: intOpt('iters', values.iters, 1),
    warmup: intOpt('warmup', values.warmup, 0),
    seed: intOpt('seed', values.seed, 0),
    checkSamples: intOpt('check-samples', values['check-samples'], 0),
    packOrder: values['pack-order'] === true ? true : undefined,
    metadata: values.metadata as 'device' | 'host' | undefined,
    coldCode: values['cold-code'] === true ? true : undefined,
    peakTflops,
    references,
    onProgress: progressPrinter(),
  });
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');

  // the table first: whatever happens to the files, the run's results are on stdout
  process.stdout.write(formatReport(result) + '\n');
  const files: OutputFile[] = outputs.map(({ flag, path }) => ({
    flag,
    path,
    content: () => (flag === '--json' ? JSON.stringify(result, null, 1) + '\n' : rooflineSvgFromResult(result, references)),
  }));
  const written = writeOutputs(files);
  for (const { file, error } of written) process.stderr.write(error === null ? `wrote ${file.path}\n` : `flash-mla bench: ${error}\n`);
  return written.some((w) => w.error !== null) || result.rows.some((r) => r.check && !r.check.ok) ? 1 : 0;
}

/** Opt-in shared memory per block of the compute capabilities `info --assume CC` knows without SMEM. */
const KNOWN_OPTIN_SMEM: Record<string, number> = { '8.0': 166912, '8.6': 101376, '8.7': 166912, '8.9': 101376, '9.0': 232448, '10.0': 232448, '12.0': 101376 };

function assumedDevice(v: string): DeviceTraits {
  const m = /^(\d+)\.(\d)(?:,(\d+))?$/.exec(v.trim());
  if (!m) throw new UsageError(`--assume: expected CC[,SMEM] such as 8.6 or 8.6,101376, got '${v}'`);
  const cc = `${m[1]}.${m[2]}`;
  const smem = m[3] !== undefined ? Number(m[3]) : KNOWN_OPTIN_SMEM[cc];
  if (smem === undefined) throw new UsageError(`--assume ${cc}: give the opt-in shared memory per block too (${cc},BYTES); known without it: ${Object.keys(KNOWN_OPTIN_SMEM).join(', ')}`);
  return { name: `assumed GPU of compute capability ${cc}`, computeCapability: { major: Number(m[1]), minor: Number(m[2]) }, maxSharedMemoryPerBlockOptin: smem };
}

function info(args: string[]): number {
  const { values } = parseArgs({ args, strict: true, allowPositionals: false, options: { assume: { type: 'string' } } });
  const out: string[] = [`flash-mla ${packageVersion()} (node ${process.version}, ${process.platform} ${process.arch})`];
  if (values.assume !== undefined) {
    const dev = assumedDevice(values.assume);
    out.push(`${dev.name}, ${dev.maxSharedMemoryPerBlockOptin} B shared memory per block (opt-in)`, ...cudaMeasure().kernelReport(dev));
    process.stdout.write(out.join('\n') + '\n');
    return 0;
  }
  if (!cudaAvailable()) {
    out.push(`CUDA: not available — ${cudaReason()}`);
  } else {
    const measure = cudaMeasure();
    const i = measure.device();
    out.push(
      `driver: ${measure.driverRelease() ?? '(version unreadable)'}, supports CUDA ${fmtDriverVersion(i.driverVersion)}`,
      `device ${i.ordinal}: ${i.name}`,
      `  compute capability ${i.computeCapability.major}.${i.computeCapability.minor}, ${i.smCount} SMs`,
      `  memory ${fmtBytes(i.totalMemoryBytes)} (${fmtBytes(getBackend('cuda').memory!.info().free)} free), L2 ${fmtBytes(i.l2CacheBytes)}, shared memory per block (opt-in) ${fmtBytes(i.maxSharedMemoryPerBlockOptin)}`,
      ...measure.kernelReport(),
    );
  }
  out.push(`cpu backend: always available (kernel: ${getBackend('cpu').decodeKernels().join(', ')})`);
  process.stdout.write(out.join('\n') + '\n');
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(HELP);
        return 0;
      case '--version':
      case '-v':
        process.stdout.write(`${packageVersion()}\n`);
        return 0;
      case 'bench':
        return await bench(rest);
      case 'info':
        return info(rest);
      default:
        throw new UsageError(`unknown command '${cmd}'`);
    }
  } catch (e) {
    const err = e as Error & { code?: string };
    const usage = e instanceof UsageError || (typeof err.code === 'string' && err.code.startsWith('ERR_PARSE_ARGS'));
    process.stderr.write(`${process.stderr.isTTY ? '\r\x1b[K' : ''}flash-mla${cmd ? ` ${cmd}` : ''}: ${err.message}\n`);
    if (usage) {
      process.stderr.write('run `flash-mla --help` for usage\n');
      return 2;
    }
    if (process.env.FLASH_MLA_DEBUG) process.stderr.write(`${err.stack}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
