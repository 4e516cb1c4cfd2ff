// The loop of the GPU property test (test/gpu-property.test.ts), kept apart from it so that the same code runs on
// the cpu backend in `npm test` (test/check.test.ts): random cases from src/check/problem.ts, the float64
// reference once per case, every kernel run on it and compared under compareDecode's 'kernel' tolerance, the
// device scheduler against the cpu one, writes outside the out/lse views. Failures are collected (the run goes
// on: a campaign wants the whole picture), a driver error stops it.

import { CudaError, flashMlaWithKvcache, getMlaMetadata, scheduleTiles, type BackendName, type FlashMlaOptions, type Tensor } from '../../src/index.js';
import { caseSeed, caseTensors, describeCase, makeDecodeCase, type CaseProfile } from '../../src/check/problem.js';
import { referenceDecode } from '../../src/check/reference.js';
import { compareDecode } from '../../src/check/compare.js';

export interface KernelStats {
  runs: number;
  failed: number;
  /** Largest error / bound of any compared element (≤ 1 passes): the tolerance's headroom. */
  worstRatio: number;
  maxOutErr: number;
  maxLseErr: number;
  worstCos: number;
}

export interface PropertyCoverage {
  cases: number;
  /** Cases where some request was split across SM parts (partials combined by their LSEs). */
  split: number;
  causal: number;
  /** Cases with more than one 64-row tile of query rows per request (s_q · h_q > 64). */
  multiTile: number;
  /** Cases with a request over more than two pages. */
  multiPage: number;
  /** Cases with out/lse preallocated as views into NaN-filled buffers. */
  preallocated: number;
  fp16: number;
  rows: number;
  lonelyRows: number;
}

export interface PropertyReport {
  base: number;
  stats: Map<string, KernelStats>;
  /** Per kernel: the cases it took (all of them but for an opt-in kernel's misfits, see `takes`). */
  taken: Map<string, number>;
  coverage: PropertyCoverage;
  /** One entry per failure: what failed, the case, and the command that reruns it alone. */
  failures: string[];
  failedCases: number;
  seconds: number;
  oracleSeconds: number;
}

export interface PropertyRunOptions {
  cases: number;
  profile: CaseProfile;
  backend: BackendName;
  /** Decode kernels to run each case on (passed as the `kernel` option). */
  kernels: string[];
  /** Whether `kernel` takes a case (an opt-in kernel such as 'hopper-small' takes only some shapes); default: all. */
  takes?: (kernel: string, c: { sQ: number; hQ: number; dtype: string }) => boolean;
  /** Base seed: case k is makeDecodeCase(caseSeed(base, k), profile). */
  base: number;
  /** Layout alignment of the cases (16 for cuda). */
  alignBytes: 1 | 16;
  /** Environment variables that rerun one case alone, given its seed (printed with each failure). */
  rerun: (seed: number, kernel: string) => string;
  /** Progress lines (every 250 cases) and, with `verbose`, one line per case and kernel. */
  log?: (line: string) => void;
  verbose?: boolean;
}

export function runDecodeProperty(o: PropertyRunOptions): PropertyReport {
  const log = o.log ?? (() => {});
  const stats = new Map<string, KernelStats>(o.kernels.map((k) => [k, { runs: 0, failed: 0, worstRatio: 0, maxOutErr: 0, maxLseErr: 0, worstCos: 0 }]));
  const cov: PropertyCoverage = { cases: 0, split: 0, causal: 0, multiTile: 0, multiPage: 0, preallocated: 0, fp16: 0, rows: 0, lonelyRows: 0 };
  const taken = new Map<string, number>(o.kernels.map((k) => [k, 0]));
  const failures: string[] = [];
  let failedCases = 0;
  let oracleMs = 0;
  const started = performance.now();
  for (let k = 0; k < o.cases; k++) {
    const seed = caseSeed(o.base, k);
    const cp = makeDecodeCase(seed, o.profile, { alignBytes: o.alignBytes });
    const { c } = cp;
    const where = (kernel: string) => `case ${k}: ${describeCase(cp)}\n    rerun alone: ${o.rerun(seed, kernel)}`;
    const t0 = performance.now();
    const ref = referenceDecode(cp.problem, c.causal, c.softmaxScale, { kernelTerms: true });
    oracleMs += performance.now() - t0;
    let caseFailed = false;
    /** `label`: a kernel, or 'metadata' for the scheduler (counted per kernel only for kernels). */
    const fail = (label: string, what: string) => {
      caseFailed = true;
      const s = stats.get(label);
      if (s) s.failed++;
      failures.push(`${label}: ${what}\n  ${where(s ? label : o.kernels.join(','))}`);
    };
    const t = caseTensors(cp, o.backend);
    // outputs the calls allocate stay alive until the case ends, so that no kernel is handed memory that still
    // holds another kernel's correct output of this case (an unwritten element must show)
    const allocated: Tensor[] = [];
    try {
      const md = getMlaMetadata(t.cacheSeqlens, c.sQ * c.hQ, 1, { smCount: c.smCount });
      allocated.push(md.tileSchedulerMetadata, md.numSplits);
      const expected = scheduleTiles(c.seqlens, md.tileSchedulerMetadata.shape[0]);
      const splits = md.numSplits.toInt32();
      const metadata = md.tileSchedulerMetadata.toInt32();
      if (metadata.some((x, i) => x !== expected.metadata[i]) || splits.some((x, i) => x !== expected.numSplits[i])) {
        fail('metadata', `the ${o.backend} scheduler differs from scheduleTiles: numSplits [${splits}], expected [${expected.numSplits}]`);
      }
      if (splits.some((x, i) => i > 0 && x - splits[i - 1] > 1)) cov.split++;
      for (const kernel of o.kernels) {
        if (o.takes && !o.takes(kernel, c)) continue;
        taken.set(kernel, taken.get(kernel)! + 1);
        t.poisonOutputs();
        const opts: FlashMlaOptions = { causal: c.causal, kernel };
        if (c.softmaxScale !== undefined) opts.softmaxScale = c.softmaxScale;
        if (t.out && t.lse) {
          opts.out = t.out;
          opts.lse = t.lse;
        }
        let got;
        try {
          const r = flashMlaWithKvcache(t.q, t.kCache, t.blockTable, t.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, opts);
          if (!t.out) allocated.push(r.out, r.lse);
          got = { outBits: r.out.toRaw() as Uint16Array, lse: r.lse.toFloat32() };
        } catch (e) {
          if (e instanceof CudaError) throw e; // the context may be gone: stop, naming the case
          fail(kernel, `flashMlaWithKvcache threw ${(e as Error).name}: ${(e as Error).message}`);
          continue;
        }
        const cmp = compareDecode(kernel, got, ref, 'kernel');
        const s = stats.get(kernel)!;
        s.runs++;
        s.worstRatio = Math.max(s.worstRatio, cmp.worstRatio);
        s.maxOutErr = Math.max(s.maxOutErr, cmp.maxOutErr);
        s.maxLseErr = Math.max(s.maxLseErr, cmp.maxLseErr);
        s.worstCos = Math.max(s.worstCos, cmp.cosDiff);
        if (!cmp.ok) fail(kernel, cmp.message);
        const outside = t.writesOutsideViews();
        if (outside) fail(kernel, outside);
        if (o.verbose) log(`  case ${k} ${kernel}: ${cmp.message}`);
      }
    } catch (e) {
      log(`property run: an error stopped the run at ${where(o.kernels.join(','))}`);
      throw e;
    } finally {
      t.dispose();
      for (const x of allocated) x.dispose();
    }
    if (caseFailed) failedCases++;
    cov.cases++;
    if (c.causal) cov.causal++;
    if (c.sQ * c.hQ > 64) cov.multiTile++;
    if (c.seqlens.some((n) => n > 128)) cov.multiPage++;
    if (t.out) cov.preallocated++;
    if (c.dtype === 'fp16') cov.fp16++;
    cov.rows += ref.rows.length;
    for (const x of ref.lse) if (x === Infinity) cov.lonelyRows++;
    if ((k + 1) % 250 === 0 && k + 1 < o.cases) log(`  ${k + 1} cases, ${failedCases} failed, ${((performance.now() - started) / 1000).toFixed(0)} s`);
  }
  return { base: o.base, stats, taken, coverage: cov, failures, failedCases, seconds: (performance.now() - started) / 1000, oracleSeconds: oracleMs / 1000 };
}

/** The report as lines: totals, one line per kernel, the coverage. */
export function formatPropertyReport(r: PropertyReport, label: string): string[] {
  const c = r.coverage;
  return [
    `${label}: ${c.cases} cases in ${r.seconds.toFixed(1)} s (float64 reference ${r.oracleSeconds.toFixed(1)} s), ${r.failedCases} failed; base seed ${r.base}`,
    ...[...r.stats].map(
      ([kernel, s]) =>
        `  ${kernel.padEnd(14)} ${s.runs} runs, ${s.failed} failed; worst error/bound ${s.worstRatio.toFixed(3)}, max out |err| ${s.maxOutErr.toExponential(2)}, ` +
        `max lse |err| ${s.maxLseErr.toExponential(2)}, worst cos diff ${s.worstCos.toExponential(2)}`,
    ),
    `  coverage: ${c.split} with split requests, ${c.causal} causal, ${c.multiTile} with s_q·h_q > 64, ${c.multiPage} with a request over 2 pages, ` +
      `${c.preallocated} with preallocated out/lse views, ${c.fp16} fp16; ${c.rows} query rows, ${c.lonelyRows} seeing no key`,
  ];
}

/** Coverage kinds a run of `cases` cases must reach (≥ cases / 50 each), or the names it misses. */
export function coverageGaps(c: PropertyCoverage): string[] {
  const kinds = { split: c.split, causal: c.causal, multiTile: c.multiTile, multiPage: c.multiPage, preallocated: c.preallocated, fp16: c.fp16, lonelyRows: c.lonelyRows };
  return Object.entries(kinds).filter(([, n]) => n < c.cases / 50).map(([name, n]) => `${name} (${n} of ${c.cases} cases)`);
}
