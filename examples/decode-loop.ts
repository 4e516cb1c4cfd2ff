// A serving loop in miniature: a paged KV cache, a prefilled batch of requests, then decode steps over
// L layers. Per step: one reserve() for the new token of every request (blocks, copy-on-write), one
// metadata, and per layer append (the new token's latent vector) + flashMlaWithKvcache. A sample of the
// last step is checked against the float64 reference, and steps/s plus the time split are printed.
//
//   node dist/examples/decode-loop.js [--backend cuda|cpu] [--steps N] [--layers L] [--batch B] [--heads H]
//                                     [--max-prefill T] [--graph] [--metadata host|device] [--pack-order | --batch-order]
//                                     [--seed S] [--help]
//
// --graph captures each step's device work (metadata, L appends, L decodes) once as a CUDA graph and
// replays it: the cache's block table, lengths and slot mapping are fixed-capacity device tensors that
// the host rewrites between replays. Exit status as the flash-mla CLI's: 0 ok, 1 the sample check failed
// or an error, 2 a usage error.

import { parseArgs as parseArgv } from 'node:util';
import { Tensor, captureGraph, cudaAvailable, cudaDeviceInfo, flashMlaWithKvcache, getMlaMetadata, synchronize, type DecodeGraph, type MlaMetadata } from '../src/index.js';
import { PagedKvCache, appendKv } from '../src/kvcache/index.js';
import { referenceDecode } from '../src/check/reference.js';
import { compareDecode } from '../src/check/compare.js';
import { normalHalfBits } from '../src/check/problem.js';
import { getCudaContext } from '../src/cuda/context.js';
import { CudaEvent } from '../src/cuda/runtime.js';
import { rng } from '../src/util/random.js';

const W = 576;

const HELP = `decode-loop: a paged KV cache, a prefilled batch, then decode steps over L layers; a sample of the
last step is checked against the float64 reference.

Usage: node dist/examples/decode-loop.js [options]
  --backend B        cuda | cpu (default: cuda when a GPU is usable, else cpu)
  --steps N          decode steps (default cuda 128, cpu 4)
  --layers L         layers per step (default cuda 8, cpu 2)
  --batch B          requests; with B ≥ 2 the last one is a fork of the first (default cuda 32, cpu 3)
  --heads H          query heads (default cuda 128, cpu 16)
  --max-prefill T    prefill lengths are drawn from 1..T (default cuda 1024, cpu 150)
  --graph            capture each step once as a CUDA graph and replay it (needs --backend cuda)
  --metadata M       host: cache.metadata() — the schedule made on the host from the cache's lengths, no kernel,
                     nothing read back (default); device: getMlaMetadata over the cache's lengths on the device,
                     a metadata kernel per step
  --pack-order       the packed request order (packOrder: fewer requests split) — cache.metadata()'s default where
                     a batch of this size can pack; off by default with --metadata device (its kernel's cost)
  --batch-order      the batch order (FlashMLA's schedule) with either metadata
  --seed S           seed of the random data (default 1)
  --help             print this and exit

Exit status: 0 ok, 1 the sample check failed or an error, 2 usage error.
`;

/** A mistake in the command line: exit status 2, like the flash-mla CLI. */
class UsageError extends Error {
  override name = 'UsageError';
}

interface Args {
  backend: 'cpu' | 'cuda';
  steps: number;
  layers: number;
  batch: number;
  heads: number;
  maxPrefill: number;
  graph: boolean;
  metadata: 'device' | 'host';
  /** undefined: the metadata call's own default (cache.metadata: packed where it can pack; getMlaMetadata: batch order) */
  packOrder: boolean | undefined;
  seed: number;
}

/** The options, or 'help' when --help was given (nothing else is checked then). */
function parseArgs(argv: string[]): Args | 'help' {
  const str = { type: 'string' } as const;
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgv({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: { backend: str, steps: str, layers: str, batch: str, heads: str, 'max-prefill': str, seed: str, metadata: str, 'pack-order': { type: 'boolean' }, 'batch-order': { type: 'boolean' }, graph: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (e) {
    throw new UsageError((e as Error).message); // unknown option, missing value, stray positional
  }
  if (values.help) return 'help';
  const backendArg = (values.backend as string | undefined) ?? (cudaAvailable() ? 'cuda' : 'cpu');
  if (backendArg !== 'cpu' && backendArg !== 'cuda') throw new UsageError(`--backend: expected cuda or cpu, got '${backendArg}'`);
  const backend = backendArg;
  const int = (name: string, dflt: number, min = 1): number => {
    const v = values[name] as string | undefined;
    if (v === undefined) return dflt;
    const n = Number(v);
    if (v.trim() === '' || !Number.isSafeInteger(n) || n < min) throw new UsageError(`--${name}: expected an integer ≥ ${min}, got '${v}'`);
    return n;
  };
  const gpu = backend === 'cuda';
  const metadata = (values.metadata as string | undefined) ?? 'host';
  if (metadata !== 'device' && metadata !== 'host') throw new UsageError(`--metadata: expected device or host, got '${metadata}'`);
  const args: Args = {
    backend,
    steps: int('steps', gpu ? 128 : 4),
    layers: int('layers', gpu ? 8 : 2),
    batch: int('batch', gpu ? 32 : 3),
    heads: int('heads', gpu ? 128 : 16),
    maxPrefill: int('max-prefill', gpu ? 1024 : 150),
    graph: values.graph === true,
    metadata,
    packOrder: values['pack-order'] === true ? true : values['batch-order'] === true ? false : undefined,
    seed: int('seed', 1, 0),
  };
  if (args.graph && backend !== 'cuda') throw new UsageError('--graph: CUDA graphs need --backend cuda');
  if (values['pack-order'] === true && values['batch-order'] === true) throw new UsageError('--pack-order, --batch-order: expected one of them, got both');
  return args;
}


/** The request order the step's schedule asks for, as the header line says it. */
function orderNote(a: Args): string {
  if (a.packOrder !== undefined) return a.packOrder ? ' (packed order)' : ' (batch order)';
  return a.metadata === 'host' ? ' (packed order where the batch can pack: its default)' : ' (batch order)';
}

/** A pool of random bf16 patterns (normal · 0.1); windows of it stand in for model activations. */
class Pool {
  readonly bits: Uint16Array;
  private cursor = 0;
  constructor(size: number, r: () => number) {
    this.bits = normalHalfBits('bf16', size, r, 0.1);
  }
  /** n values (a view when it fits, else a copy), at a moving offset. */
  take(n: number): Uint16Array {
    const size = this.bits.length;
    this.cursor = (this.cursor + 7919 * W) % size;
    if (n <= size - this.cursor) return this.bits.subarray(this.cursor, this.cursor + n);
    const out = new Uint16Array(n);
    for (let o = 0; o < n; ) {
      const k = Math.min(n - o, size - this.cursor);
      out.set(this.bits.subarray(this.cursor, this.cursor + k), o);
      o += k;
      this.cursor = (this.cursor + k) % size;
    }
    return out;
  }
}

function main(): number {
  const a = parseArgs(process.argv.slice(2));
  if (a === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  const { backend, layers: L, batch: B, heads: H, steps } = a;
  const r = rng(a.seed);
  const pool = new Pool(backend === 'cuda' ? 1 << 23 : 1 << 18, r);
  const dtype = 'bf16';
  const profileSteps = Math.min(4, steps);
  const forked = B >= 2; // the last request is a parallel sample of request 0
  const prefilled = forked ? B - 1 : B;
  const lens = Array.from({ length: prefilled }, () => 1 + Math.floor(r() * a.maxPrefill));
  const finalLens = [...lens, ...(forked ? [lens[0]] : [])].map((n) => n + steps + profileSteps);
  const numBlocks = finalLens.reduce((s, n) => s + Math.ceil(n / 64), 0) + B + 4;
  const device = backend === 'cuda' ? cudaDeviceInfo().name : 'TypeScript';
  console.log(
    `decode-loop: ${backend} (${device}), ${dtype}, batch ${B}${forked ? ' (1 forked)' : ''}, ${L} layers, ${H} heads, ` +
      `prefill 1..${a.maxPrefill} tokens, ${steps} steps, graph ${a.graph ? 'on' : 'off'}, metadata by ${a.metadata === 'host' ? 'cache.metadata() on the host' : 'getMlaMetadata'}${orderNote(a)}, seed ${a.seed}`,
  );

  const cache = new PagedKvCache({ backend, dtype, numBlocks, numLayers: L, maxBatch: B, maxSeqLen: Math.max(...finalLens) + 64 });
  const checkLayer = L - 1;
  /** Rows of the check layer appended to each sequence, kept on the host for the reference. */
  const record = new Map<number, Uint16Array[]>();
  const ids: number[] = [];
  for (let i = 0; i < prefilled; i++) {
    const id = cache.addSequence();
    ids.push(id);
    record.set(id, []);
  }

  // ---- prefill: chunks of up to 128 tokens of every request per append call
  const t0 = performance.now();
  let calls = 0;
  let prefillTokens = 0;
  for (let start = 0; start < a.maxPrefill; start += 128) {
    const chunk: number[] = [];
    for (let i = 0; i < prefilled; i++) for (let p = start; p < Math.min(lens[i], start + 128); p++) chunk.push(ids[i]);
    if (chunk.length === 0) break;
    const T = chunk.length;
    const proj: Tensor[] = [];
    for (let l = 0; l < L; l++) {
      const bits = pool.take(T * W);
      if (l === checkLayer) chunk.forEach((id, t) => record.get(id)!.push(bits.subarray(t * W, (t + 1) * W)));
      proj.push(Tensor.from(bits, [T, W], { dtype, backend }));
    }
    cache.append(chunk, proj.map((p) => p.view([T, 512], [W, 1], 0)), proj.map((p) => p.view([T, 64], [W, 1], 512)));
    for (const p of proj) p.dispose();
    calls++;
    prefillTokens += T;
  }
  if (forked) {
    const child = cache.fork(ids[0]);
    ids.push(child);
    record.set(child, [...record.get(ids[0])!]);
  }
  if (backend === 'cuda') synchronize();
  console.log(`prefill: ${prefillTokens} tokens in ${calls} append call${calls === 1 ? '' : 's'}, ${((performance.now() - t0) / 1000).toFixed(2)} s; ${cache.usedBlocks} of ${numBlocks} blocks used`);

  // ---- decode inputs: q per layer (fixed), the new tokens' latent vectors [L, B, 576], outputs
  const qBits: Uint16Array[] = [];
  const q: Tensor[] = [];
  for (let l = 0; l < L; l++) {
    qBits.push(pool.take(B * H * W).slice());
    q.push(Tensor.from(qBits[l], [B, 1, H, W], { dtype, backend }));
  }
  const stepKv = Tensor.zeros([L, B, W], { dtype, backend });
  const cKv = Array.from({ length: L }, (_, l) => stepKv.view([B, 512], [W, 1], l * B * W));
  const kPe = Array.from({ length: L }, (_, l) => stepKv.view([B, 64], [W, 1], l * B * W + 512));
  const out = Array.from({ length: L }, () => Tensor.empty([B, 1, H, 512], { dtype, backend }));
  const lse = Array.from({ length: L }, () => Tensor.empty([B, H, 1], { dtype: 'fp32', backend }));
  let md: MlaMetadata | null = null;
  let slots!: Tensor;

  /** Host side of a step: room for one token per request, its vectors, the tables (never inside a graph). */
  const hostTimes = { cache: 0, input: 0 };
  const hostStep = () => {
    const h0 = performance.now();
    slots = cache.reserve(ids);
    cache.blockTable(ids);
    cache.cacheSeqlens(ids);
    if (a.metadata === 'host') md = cache.metadata(ids, H, 1, { packOrder: a.packOrder });  // the step's schedule, written before the step's device work
    const h1 = performance.now();
    const bits = pool.take(L * B * W);
    for (let i = 0; i < B; i++) record.get(ids[i])!.push(bits.subarray((checkLayer * B + i) * W, (checkLayer * B + i + 1) * W));
    stepKv.write(bits);
    hostTimes.cache += h1 - h0;
    hostTimes.input += performance.now() - h1;
  };
  const mark = backend === 'cuda' ? (e: CudaEvent) => e.record(getCudaContext().stream) : null;
  /** Device side: metadata once (--metadata device), then append + attention per layer. `ev` (profiling): 2L + 1 events. */
  const deviceStep = (ev?: CudaEvent[], cpuTimes?: number[]) => {
    const seqlens = cache.cacheSeqlens(ids);
    const table = cache.blockTable(ids);
    let t = performance.now();
    const lap = (k: number) => {
      if (ev && mark) mark(ev[k]);
      if (cpuTimes) {
        const now = performance.now();
        cpuTimes[k] = now - t;
        t = now;
      }
    };
    if (a.metadata === 'device') md = getMlaMetadata(seqlens, H, 1, { packOrder: a.packOrder, ...(md ? { out: md } : {}) });
    lap(0);
    for (let l = 0; l < L; l++) {
      appendKv(cache.kCache(l), slots, cKv[l], kPe[l], { checkValues: false });
      lap(1 + 2 * l);
      flashMlaWithKvcache(q[l], cache.kCache(l), table, seqlens, 512, md!.tileSchedulerMetadata, md!.numSplits, { causal: true, out: out[l], lse: lse[l], checkValues: false });
      lap(2 + 2 * l);
    }
  };

  // ---- decode loop
  let graph: DecodeGraph<void> | null = null;
  const t1 = performance.now();
  for (let step = 0; step < steps; step++) {
    hostStep();
    if (a.graph) {
      if (!graph) {
        deviceStep(); // allocates the metadata buffers eagerly, then capture reuses them
        graph = captureGraph(() => deviceStep());
      } else graph.replay();
    } else deviceStep();
  }
  if (backend === 'cuda') synchronize();
  const loopS = (performance.now() - t1) / 1000;
  console.log(
    `decode: ${steps} steps in ${loopS.toFixed(3)} s: ${(steps / loopS).toFixed(1)} steps/s, ${((steps * B) / loopS).toFixed(0)} tokens/s, ` +
      `${((loopS * 1e6) / steps / L).toFixed(1)} µs per layer-step`,
  );

  // ---- check a sample of the last step against the float64 reference (independent copy of the appended rows)
  const ok = check(a, ids, record, qBits[checkLayer], out[checkLayer], lse[checkLayer], checkLayer);

  // ---- profile a few more steps eagerly: device time of appends vs attention, host bookkeeping
  let appendMs = 0;
  let attnMs = 0;
  hostTimes.cache = hostTimes.input = 0;
  for (let p = 0; p < profileSteps; p++) {
    hostStep();
    if (backend === 'cuda') {
      const ev = Array.from({ length: 2 * L + 2 }, () => CudaEvent.create());
      mark!(ev[2 * L + 1]);
      deviceStep(ev);
      ev[2 * L].synchronize();
      attnMs += ev[0].elapsedSince(ev[2 * L + 1]);
      for (let l = 0; l < L; l++) {
        appendMs += ev[1 + 2 * l].elapsedSince(ev[2 * l]);
        attnMs += ev[2 + 2 * l].elapsedSince(ev[1 + 2 * l]);
      }
      for (const e of ev) e.dispose();
    } else {
      const times = new Array<number>(2 * L + 1).fill(0);
      deviceStep(undefined, times);
      attnMs += times[0];
      for (let l = 0; l < L; l++) {
        appendMs += times[1 + 2 * l];
        attnMs += times[2 + 2 * l];
      }
    }
  }
  const hostMs = hostTimes.cache + hostTimes.input;
  const total = appendMs + attnMs + hostMs;
  const pct = (x: number) => `${((100 * x) / total).toFixed(1)} %`;
  console.log(
    `time split (${profileSteps} eager steps, ${backend === 'cuda' ? 'device time by events' : 'wall time'}): append ${pct(appendMs)} ` +
      `(${((1000 * appendMs) / profileSteps / L).toFixed(1)} µs per layer), attention ${pct(attnMs)} (${((1000 * attnMs) / profileSteps / L).toFixed(1)} µs per layer${a.metadata === 'device' ? ' incl. metadata' : ''}), ` +
      `host ${pct(hostMs)}: cache bookkeeping ${((1000 * hostTimes.cache) / profileSteps).toFixed(1)} µs per step (reserve, block table, lengths${a.metadata === 'host' ? ', metadata' : ''}), ` +
      `this example's input upload ${((1000 * hostTimes.input) / profileSteps).toFixed(1)} µs per step`,
  );
  console.log(`cache: ${cache.usedBlocks} of ${numBlocks} blocks used, ${cache.stats.cowCopies} copy-on-write cop${cache.stats.cowCopies === 1 ? 'y' : 'ies'}, ${cache.stats.blockTableWrites} block-table writes`);

  graph?.dispose();
  for (const t of [...q, ...out, ...lse, stepKv]) t.dispose();
  cache.dispose();
  return ok ? 0 : 1;
}

/**
 * Recompute up to 3 requests of layer `layer` from the host copies of what was appended, with the float64
 * reference of src/check (the one the tests and the bench use), and compare under its 'kernel' tolerance.
 */
function check(a: Args, ids: number[], record: Map<number, Uint16Array[]>, qBits: Uint16Array, out: Tensor, lse: Tensor, layer: number): boolean {
  const { batch: B, heads: H } = a;
  const sample = [...new Set([0, Math.floor(B / 2), B - 1])];
  const rows = sample.map((i) => record.get(ids[i])!);
  const blocksPer = rows.map((r) => Math.ceil(r.length / 64));
  const maxBlocksPerSeq = Math.max(...blocksPer);
  const numBlocks = blocksPer.reduce((s, n) => s + n, 0);
  const kBits = new Uint16Array(numBlocks * 64 * W).fill(0x7fc0); // NaN in unused rows
  const table = new Int32Array(sample.length * maxBlocksPerSeq);
  let next = 0;
  rows.forEach((rs, k) => {
    for (let j = 0; j < blocksPer[k]; j++) table[k * maxBlocksPerSeq + j] = next + j;
    rs.forEach((row, p) => kBits.set(row, (next * 64 + p) * W));
    next += blocksPer[k];
  });
  const qs = new Uint16Array(sample.length * H * W);
  sample.forEach((i, k) => qs.set(qBits.subarray(i * H * W, (i + 1) * H * W), k * H * W));
  const problem = { dtype: 'bf16' as const, b: sample.length, sQ: 1, hQ: H, qBits: qs, kBits, table, maxBlocksPerSeq, seqlens: Int32Array.from(rows.map((r) => r.length)) };
  const ref = referenceDecode(problem, true, undefined, { kernelTerms: true });
  // the sampled requests' rows of the outputs: out [B, 1, H, 512], lse [B, H, 1]
  const allOut = out.toRaw() as Uint16Array;
  const allLse = lse.toFloat32();
  const gotOut = new Uint16Array(sample.length * H * 512);
  const gotLse = new Float32Array(sample.length * H);
  sample.forEach((i, k) => {
    gotOut.set(allOut.subarray(i * H * 512, (i + 1) * H * 512), k * H * 512);
    gotLse.set(allLse.subarray(i * H, (i + 1) * H), k * H);
  });
  const c = compareDecode('out/lse vs the float64 reference', { outBits: gotOut, lse: gotLse }, ref, 'kernel');
  console.log(`check: layer ${layer}, requests [${sample.join(', ')}] (lengths ${rows.map((r) => r.length).join(', ')}), ${c.message}: ${c.ok ? 'OK' : 'FAILED'}`);
  return c.ok;
}

try {
  process.exitCode = main();
} catch (e) {
  if (e instanceof UsageError) {
    console.error(`decode-loop: ${e.message}\nrun with --help for usage`);
    process.exitCode = 2;
  } else {
    console.error(e instanceof Error ? `decode-loop: ${e.name}: ${e.message}` : e);
    process.exitCode = 1;
  }
}
