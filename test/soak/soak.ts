// Leak and soak run of the cuda backend (issue 11's reliability campaign; dev-only: built with the project into
// dist/test/soak/, not in the npm package). Three phases over one small decode problem (b 4, s_q 2, h_q 16,
// seqlens up to 300 by default) whose inputs come from a rotating set of problems made by src/check/problem.ts,
// each with its float64 reference computed once up front (src/check/reference.ts):
//
//  eager  N decode calls as a user writes them: new inputs written, getMlaMetadata and flashMlaWithKvcache
//         allocating their outputs (value checks on), the outputs freed.
//  graph  one decode step (metadata + decode) captured as a CUDA graph, replayed N times with the inputs (q, the
//         cache's contents, block table, seqlens) rewritten between replays; then the graph is freed.
//  long   the same with another captured graph, replayed N times (100 000 by default).
//
// Device memory (total − free, from cuMemGetInfo through the backend interface) and host RSS (after a garbage
// collection) are sampled at each phase's start (after its warm-up), every --sample-every calls and at its end,
// printed as a table, and judged by test/soak/memory.ts (limits by flags). Outputs are compared with the reference
// of the set that produced them (src/check/compare.ts, 'kernel' tolerance) at every sample and, in the long phase,
// every --check-every replays. Exit status: 0 ok, 1 memory grew, a check failed or an error, 2 usage error.
//
// --backend cpu runs the eager phase on the cpu backend (no device memory, no graphs): how this script is tested
// without a GPU (test/soak.test.ts), together with --inject-leak, which proves the judgement fires.

import { writeFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parseArgs } from 'node:util';
import {
  Tensor, cachedDeviceMemory, captureGraph, cudaAvailable, flashMlaWithKvcache, getBackend, getMlaMetadata, numSmPartsFor, synchronize, type BackendName, type FlashMlaOptions,
} from '../../src/index.js';
import { makePagedProblem, type GeneratedProblem } from '../../src/check/problem.js';
import { referenceDecode, type ReferenceRows } from '../../src/check/reference.js';
import { compareDecode } from '../../src/check/compare.js';
import { rng } from '../../src/util/random.js';
import { DEFAULT_LIMITS, MIB, formatMemoryTable, judgeMemory, type MemoryLimits, type MemorySample, type MemoryVerdict } from './memory.js';

const HELP = `soak: leak and soak run of the cuda backend (dev-only, not in the package).

Usage: node dist/test/soak/soak.js [options]
  --backend B             cuda (default) | cpu (the eager phase only: this script's own test without a GPU)
  --eager N               eager decode calls, each allocating and freeing its outputs (default 10000)
  --graph N               replays of a captured decode step, inputs rewritten between replays (default 10000; cpu 0)
  --long N                replays of another captured step, outputs checked every --check-every (default 100000; cpu 0)
  --sample-every N        memory sample and output check every N calls/replays (default 1000)
  --check-every N         output check of the long phase every N replays (default 1000)
  --sets N                input sets in rotation, each with its precomputed float64 reference (default 4)
  --batch B               requests (default 4)
  --heads H               query heads (default 16)
  --s-q S                 query tokens per request, causal (default 2)
  --max-seqlen T          seqlens are drawn from 0..T, page edges included (default 300)
  --kernel K              decode kernel (default: the backend's first)
  --max-device-growth-mib X   allowed device memory growth per phase (default ${DEFAULT_LIMITS.deviceBytes / MIB})
  --max-rss-growth-mib X      allowed host RSS growth per phase (default ${DEFAULT_LIMITS.rssBytes / MIB})
  --json FILE             write every sample, check and verdict as JSON
  --seed S                seed of the input sets (default 1)
  --inject-leak BYTES     test switch: keep BYTES per eager call alive (host memory on cpu, a device tensor on
                          cuda), so that the memory judgement must fail
  --help                  print this and exit

Exit status: 0 ok, 1 memory grew, a check failed or an error, 2 usage error.
`;

/** A mistake in the command line: exit status 2. */
class UsageError extends Error {
  override name = 'UsageError';
}

interface SoakArgs {
  backend: BackendName;
  eager: number;
  graph: number;
  long: number;
  sampleEvery: number;
  checkEvery: number;
  sets: number;
  batch: number;
  heads: number;
  sQ: number;
  maxSeqlen: number;
  kernel: string | undefined;
  limits: MemoryLimits;
  json: string | undefined;
  seed: number;
  injectLeak: number;
}

function parse(argv: string[]): SoakArgs | 'help' {
  const str = { type: 'string' } as const;
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        backend: str, eager: str, graph: str, long: str, 'sample-every': str, 'check-every': str, sets: str, batch: str, heads: str, 's-q': str, 'max-seqlen': str,
        kernel: str, 'max-device-growth-mib': str, 'max-rss-growth-mib': str, json: str, seed: str, 'inject-leak': str, help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.help) return 'help';
  const backend = (values.backend as string | undefined) ?? 'cuda';
  if (backend !== 'cuda' && backend !== 'cpu') throw new UsageError(`--backend: expected cuda or cpu, got '${backend}'`);
  const int = (name: string, dflt: number, min: number): number => {
    const v = values[name] as string | undefined;
    if (v === undefined) return dflt;
    const n = Number(v);
    if (v.trim() === '' || !Number.isSafeInteger(n) || n < min) throw new UsageError(`--${name}: expected an integer ≥ ${min}, got '${v}'`);
    return n;
  };
  const mib = (name: string, dflt: number): number => {
    const v = values[name] as string | undefined;
    if (v === undefined) return dflt;
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`--${name}: expected a number of MiB ≥ 0, got '${v}'`);
    return n * MIB;
  };
  const gpu = backend === 'cuda';
  const a: SoakArgs = {
    backend,
    eager: int('eager', 10_000, 0),
    graph: int('graph', gpu ? 10_000 : 0, 0),
    long: int('long', gpu ? 100_000 : 0, 0),
    sampleEvery: int('sample-every', 1000, 1),
    checkEvery: int('check-every', 1000, 1),
    sets: int('sets', 4, 1),
    batch: int('batch', 4, 1),
    heads: int('heads', 16, 1),
    sQ: int('s-q', 2, 1),
    maxSeqlen: int('max-seqlen', 300, 1),
    kernel: values.kernel as string | undefined,
    limits: { deviceBytes: mib('max-device-growth-mib', DEFAULT_LIMITS.deviceBytes), rssBytes: mib('max-rss-growth-mib', DEFAULT_LIMITS.rssBytes) },
    json: values.json as string | undefined,
    seed: int('seed', 1, 0),
    injectLeak: int('inject-leak', 0, 0),
  };
  if (!gpu && (a.graph > 0 || a.long > 0)) throw new UsageError(`--graph/--long: CUDA graphs need --backend cuda, got --backend cpu with --graph ${a.graph} --long ${a.long}`);
  if (a.eager + a.graph + a.long === 0) throw new UsageError('--eager, --graph, --long: nothing to run (all 0)');
  return a;
}

// ---------------------------------------------------------------------------------------------- inputs

interface InputSet {
  problem: GeneratedProblem;
  reference: ReferenceRows;
}

/**
 * `count` problems of one shape whose block tables and caches have the same size (so each can be written into the
 * same tensors), seqlens drawn from 0..maxSeqlen with page edges, each with its float64 reference (causal).
 */
function makeInputSets(a: SoakArgs): InputSet[] {
  const r = rng(a.seed);
  const edges = [0, 1, 63, 64, 65, 127, 128, 129].filter((x) => x <= a.maxSeqlen);
  const lens = Array.from({ length: a.sets }, () => Array.from({ length: a.batch }, () => (r() < 0.3 ? edges[Math.floor(r() * edges.length)] : Math.floor(r() * (a.maxSeqlen + 1)))));
  const used = lens.map((ls) => ls.map((x) => Math.ceil(x / 64)));
  const columns = Math.max(...used.map((u) => Math.max(1, ...u))) + 1;
  const blocks = Math.max(...used.map((u) => u.reduce((s, x) => s + x, 0))) + 2;
  return lens.map((seqlens, j) => {
    const problem = makePagedProblem({
      b: a.batch, sQ: a.sQ, hQ: a.heads, seqlens, seed: a.seed * 7919 + j, spareColumns: columns - Math.max(1, ...used[j]), spareBlocks: blocks - used[j].reduce((s, x) => s + x, 0),
    });
    return { problem, reference: referenceDecode(problem, true, undefined, { kernelTerms: true }) };
  });
}

/** The device (or cpu) tensors every phase writes its inputs into. */
interface Inputs {
  q: Tensor;
  kCache: Tensor;
  blockTable: Tensor;
  cacheSeqlens: Tensor;
  /** Per set its cache on the backend, copied into kCache (device to device on cuda). */
  caches: Tensor[];
  dispose(): void;
}

function allocInputs(a: SoakArgs, sets: InputSet[]): Inputs {
  const p = sets[0].problem;
  const opts = { dtype: p.dtype, backend: a.backend } as const;
  const q = Tensor.empty([a.batch, a.sQ, a.heads, 576], opts);
  const kCache = Tensor.empty([p.numBlocks, 64, 1, 576], opts);
  const blockTable = Tensor.empty([a.batch, p.maxBlocksPerSeq], { dtype: 'int32', backend: a.backend });
  const cacheSeqlens = Tensor.empty([a.batch], { dtype: 'int32', backend: a.backend });
  const caches = sets.map((s) => Tensor.from(s.problem.kBits, [p.numBlocks, 64, 1, 576], opts));
  return { q, kCache, blockTable, cacheSeqlens, caches, dispose: () => [q, kCache, blockTable, cacheSeqlens, ...caches].forEach((t) => t.dispose()) };
}

function writeInputs(inp: Inputs, sets: InputSet[], j: number): void {
  const p = sets[j].problem;
  inp.q.write(p.qBits);
  inp.kCache.copyFrom(inp.caches[j]);
  inp.blockTable.write(p.table);
  inp.cacheSeqlens.write(p.seqlens);
}

// ---------------------------------------------------------------------------------------------- sampling

/** A garbage collection before each RSS sample: without --expose-gc, through V8's flag and a fresh context. */
const collectGarbage: () => void = (() => {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

function sample(a: SoakArgs, calls: number): MemorySample {
  if (a.backend === 'cuda') synchronize();
  collectGarbage();
  const memory = getBackend(a.backend).memory;
  const info = memory ? memory.info() : null;
  // (less what the library's cache of freed blocks holds: memory that disposed tensors gave back to it)
  return { calls, deviceUsed: info ? info.total - info.free - cachedDeviceMemory().cachedBytes : null, rss: process.memoryUsage.rss() };
}

interface CheckRecord {
  calls: number;
  set: number;
  ok: boolean;
  message: string;
}

interface PhaseResult {
  name: string;
  calls: number;
  seconds: number;
  samples: MemorySample[];
  checks: CheckRecord[];
  verdict: MemoryVerdict;
}

function check(name: string, calls: number, sets: InputSet[], j: number, out: Tensor, lse: Tensor): CheckRecord {
  const c = compareDecode(`${name} call ${calls} (set ${j})`, { outBits: out.toRaw() as Uint16Array, lse: lse.toFloat32() }, sets[j].reference, 'kernel');
  return { calls, set: j, ok: c.ok, message: c.message };
}

// ---------------------------------------------------------------------------------------------- phases

function eagerPhase(a: SoakArgs, sets: InputSet[], inp: Inputs): PhaseResult {
  const leaked: unknown[] = [];
  const decode = (n: number, keep: boolean): { out: Tensor; lse: Tensor; j: number } => {
    const j = n % sets.length;
    writeInputs(inp, sets, j);
    const md = getMlaMetadata(inp.cacheSeqlens, a.sQ * a.heads, 1);
    const opts: FlashMlaOptions = { causal: true };
    if (a.kernel !== undefined) opts.kernel = a.kernel;
    const r = flashMlaWithKvcache(inp.q, inp.kCache, inp.blockTable, inp.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, opts);
    md.tileSchedulerMetadata.dispose();
    md.numSplits.dispose();
    if (!keep) {
      r.out.dispose();
      r.lse.dispose();
    }
    if (a.injectLeak > 0) {
      leaked.push(a.backend === 'cuda' ? Tensor.empty([a.injectLeak], { dtype: 'uint8', backend: 'cuda' }) : new Uint8Array(a.injectLeak).fill(1));
    }
    return { ...r, j };
  };
  for (let j = 0; j < sets.length; j++) decode(j, false); // warm-up: modules, workspace, every set's shape once
  leaked.length = 0; // (device tensors of the warm-up's injected leak stay allocated: before the first sample)
  const samples = [sample(a, 0)];
  const checks: CheckRecord[] = [];
  const t0 = performance.now();
  for (let n = 0; n < a.eager; n++) {
    const at = (n + 1) % a.sampleEvery === 0 || n + 1 === a.eager;
    const r = decode(n, at);
    if (at) {
      checks.push(check('eager', n + 1, sets, r.j, r.out, r.lse));
      r.out.dispose();
      r.lse.dispose();
      samples.push(sample(a, n + 1));
    }
  }
  return { name: 'eager', calls: a.eager, seconds: (performance.now() - t0) / 1000, samples, checks, verdict: judgeMemory(samples, a.limits) };
}

function graphPhase(name: string, replays: number, checkEvery: number, a: SoakArgs, sets: InputSet[], inp: Inputs): PhaseResult {
  const rows = a.sQ * a.heads;
  const parts = numSmPartsFor(getBackend('cuda').smCount(), rows, 1);
  const cuda = { backend: 'cuda' } as const;
  const md = { tileSchedulerMetadata: Tensor.empty([parts, 8], { dtype: 'int32', ...cuda }), numSplits: Tensor.empty([a.batch + 1], { dtype: 'int32', ...cuda }) };
  const out = Tensor.empty([a.batch, a.sQ, a.heads, 512], { dtype: sets[0].problem.dtype, ...cuda });
  const lse = Tensor.empty([a.batch, a.heads, a.sQ], { dtype: 'fp32', ...cuda });
  const opts: FlashMlaOptions = { causal: true, out, lse };
  if (a.kernel !== undefined) opts.kernel = a.kernel;
  writeInputs(inp, sets, 0);
  synchronize(); // nothing of ours pending on the stream when its capture begins
  const step = captureGraph(() => {
    getMlaMetadata(inp.cacheSeqlens, rows, 1, { out: md });
    flashMlaWithKvcache(inp.q, inp.kCache, inp.blockTable, inp.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, opts);
  });
  try {
    // warm-up: one replay per set (the graph's first launches upload it), checked
    const checks: CheckRecord[] = [];
    for (let j = 0; j < sets.length; j++) {
      writeInputs(inp, sets, j);
      step.replay();
      step.synchronize();
      checks.push(check(`${name} warm-up`, 0, sets, j, out, lse));
    }
    const samples = [sample(a, 0)];
    const t0 = performance.now();
    for (let n = 0; n < replays; n++) {
      const j = n % sets.length;
      writeInputs(inp, sets, j);
      step.replay();
      const done = n + 1;
      const atSample = done % a.sampleEvery === 0 || done === replays;
      if (atSample || done % checkEvery === 0) {
        step.synchronize();
        checks.push(check(name, done, sets, j, out, lse));
        out.fill(NaN); // the next check must see the next replay's writes, not these
      }
      if (atSample) samples.push(sample(a, done));
    }
    return { name, calls: replays, seconds: (performance.now() - t0) / 1000, samples, checks, verdict: judgeMemory(samples, a.limits) };
  } finally {
    step.dispose();
    for (const t of [md.tileSchedulerMetadata, md.numSplits, out, lse]) t.dispose();
  }
}

// ---------------------------------------------------------------------------------------------- main

function main(argv: string[]): number {
  const parsed = parse(argv);
  if (parsed === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  const a = parsed;
  if (a.backend === 'cuda' && !cudaAvailable()) {
    let reason = 'no usable GPU';
    try {
      getBackend('cuda'); // throws the reason (CudaUnavailableError, UnsupportedDriverError, …)
    } catch (e) {
      reason = (e as Error).message;
    }
    console.error(`soak: the cuda backend is not available: ${reason}\n(--backend cpu runs the eager phase on the cpu)`);
    return 1;
  }
  console.log(
    `soak: ${a.backend}, b ${a.batch}, s_q ${a.sQ}, h_q ${a.heads}, seqlens 0..${a.maxSeqlen}, ${a.sets} input sets, kernel ${a.kernel ?? getBackend(a.backend).decodeKernels()[0]}; ` +
      `eager ${a.eager}, graph ${a.graph}, long ${a.long} (checked every ${a.checkEvery}); samples every ${a.sampleEvery}; limits: device ${a.limits.deviceBytes / MIB} MiB, RSS ${a.limits.rssBytes / MIB} MiB` +
      (a.injectLeak ? `; INJECTED LEAK of ${a.injectLeak} B per eager call` : ''),
  );
  const tSets = performance.now();
  const sets = makeInputSets(a);
  console.log(`inputs: ${sets.length} sets, seqlens ${sets.map((s) => `[${Array.from(s.problem.seqlens).join(', ')}]`).join(' ')}; references in ${((performance.now() - tSets) / 1000).toFixed(2)} s`);
  const inp = allocInputs(a, sets);
  const phases: PhaseResult[] = [];
  try {
    if (a.eager > 0) phases.push(eagerPhase(a, sets, inp));
    if (a.graph > 0) phases.push(graphPhase('graph', a.graph, a.sampleEvery, a, sets, inp));
    if (a.long > 0) phases.push(graphPhase('long', a.long, a.checkEvery, a, sets, inp));
  } finally {
    inp.dispose();
  }
  let ok = true;
  for (const p of phases) {
    const failed = p.checks.filter((c) => !c.ok);
    console.log('');
    for (const line of formatMemoryTable(p.name, p.samples)) console.log(line);
    const dev = p.verdict.device ? `device ${(p.verdict.device.net / MIB).toFixed(1)} MiB` : 'device n/a';
    console.log(
      `${p.name}: ${p.calls} calls in ${p.seconds.toFixed(1)} s (${((p.seconds * 1e6) / Math.max(p.calls, 1)).toFixed(1)} µs each); growth ${dev}, RSS ${(p.verdict.rss.net / MIB).toFixed(1)} MiB: ` +
        `${p.verdict.ok ? 'flat' : 'GREW'}; ${p.checks.length} output checks, ${failed.length} failed`,
    );
    for (const r of p.verdict.reasons) console.log(`  ${r}`);
    for (const c of failed.slice(0, 5)) console.log(`  check FAILED: ${c.message}`);
    if (!p.verdict.ok || failed.length > 0) ok = false;
  }
  const summary = {
    schema: 'flash-mla-soak/1',
    ok,
    settings: { ...a, limits: { deviceMiB: a.limits.deviceBytes / MIB, rssMiB: a.limits.rssBytes / MIB } },
    phases: phases.map((p) => ({
      name: p.name, calls: p.calls, seconds: p.seconds, ok: p.verdict.ok && p.checks.every((c) => c.ok),
      deviceGrowthMiB: p.verdict.device ? p.verdict.device.net / MIB : null, rssGrowthMiB: p.verdict.rss.net / MIB,
      checks: p.checks.length, failedChecks: p.checks.filter((c) => !c.ok).length, reasons: p.verdict.reasons,
    })),
  };
  console.log(`\nsoak-json ${JSON.stringify(summary)}`);
  if (a.json) writeFileSync(a.json, `${JSON.stringify({ ...summary, detail: phases }, null, 1)}\n`);
  console.log(`soak: ${ok ? 'OK' : 'FAILED'}`);
  return ok ? 0 : 1;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (e) {
  if (e instanceof UsageError) {
    console.error(`soak: ${e.message}\nrun with --help for usage`);
    process.exitCode = 2;
  } else {
    console.error(e instanceof Error ? `soak: ${e.name}: ${e.message}` : e);
    process.exitCode = 1;
  }
}
