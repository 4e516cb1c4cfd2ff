// The result of a benchmark run: its JSON schema (what `--json` writes), a validator, and the stdout table.
//
// Schema 2 added per row the time with the metadata kernel (mdMs), the peers' times (peers), the first kernel's
// time (vsKernel), and per result the ratio geomeans (summary) and what each time covers (settings.timed).
// Schema 3 (this version) adds configs over an FP8 cache (config.kv 'fp8') and sparse configs (config.topk; their
// rows have no mdMs and carry `sparse`: the tokens gathered and the −1 indices), and per result `skipped`: the
// configs the backend refused, with its message; since session 65 a dense config may carry `kvPages` (the
// L2-resident probe of `--kv-pages`, whose rows match no run without it). Results of schemas 1 (docs/runs/ of
// 2026-11) and 2 are still read: what later schemas add is absent there.

import { PEER_SHORT_NAMES, type BenchConfig } from './configs.js';
import type { CheckResult } from './problem.js';
import { MEMORY_BOUND_MAX_ROWS, referenceSeriesLabel, summarizeRatios, withKernelRatios } from './compare.js';
import { fmtValue } from '../util/fmt-value.js';

export const BENCH_SCHEMA = 'flash-mla-bench/3';
/** Schemas the validator and the readers accept. */
export const READABLE_BENCH_SCHEMAS: readonly string[] = ['flash-mla-bench/1', 'flash-mla-bench/2', BENCH_SCHEMA];

/** A ceiling of the roofline and where its number comes from. */
export interface Ceiling {
  /** GB/s for bandwidth, TFLOP/s for the peak; null when unknown. */
  value: number | null;
  /**
   * measured: in this run, on this machine · user: given on the command line · reference: measured elsewhere on
   * the same card model (not this machine) · spec: computed from clocks and unit counts · none: unknown.
   */
  source: 'measured' | 'user' | 'reference' | 'spec' | 'none';
  /** How it was obtained, one line (e.g. `cuMemcpyDtoDAsync of 1 GiB, bytes read + written, median of 10`). */
  method: string;
  /** Individual measurements, when measured. */
  samples?: number[];
}

export interface DeviceRecord {
  kind: 'gpu' | 'cpu';
  name: string;
  /** CUDA version the driver supports, e.g. "13.0" (cuDriverGetVersion). */
  driverVersion: string | null;
  /** NVIDIA kernel module version, e.g. "580.159" (from /proc/driver/nvidia/version; null where unreadable). */
  nvidiaDriver: string | null;
  computeCapability: string | null;
  smCount: number | null;
  memoryBytes: number | null;
  l2CacheBytes: number | null;
}

/** A peer's time for the same workload and the ratio to ours. */
export interface PeerComparison {
  /** The anchors' id of the peer: `flashmla`, `fa3`, `flashmla_with_metadata`. */
  peer: string;
  /** The reference series the time comes from (its legend name). */
  series: string;
  ms: number;
  /** Peer ms / our ms (> 1: we are faster). */
  speedup: number;
}

/** A config (and kernel) the backend refused to run (schema 3): reported instead of measured. */
export interface SkippedRun {
  id: string;
  config: Omit<BenchConfig, 'id'>;
  kernel: string;
  /** The refusal's class, e.g. `UnsupportedFeatureError`. */
  error: string;
  /** Its message, e.g. `indices: sparse decode on cuda: not implemented yet (…)`. */
  reason: string;
}

export interface BenchRow {
  id: string;
  config: Omit<BenchConfig, 'id'>;
  kernel: string;
  /** Median of timesMs: decode + combine, the metadata computed once before, outside the timing. */
  ms: number;
  timesMs: number[];
  /** Median of mdTimesMs: metadata + decode + combine, all three timed (schema 2; not for sparse configs). */
  mdMs?: number;
  mdTimesMs?: number[];
  /**
   * `--metadata host`: the host's time per metadata call (the schedule computed from host lengths and its copy
   * queued), µs, median of calls timed one by one — host time the timed GPU runs do not show.
   */
  mdHostUs?: number;
  minMs: number;
  maxMs: number;
  /** Interquartile range / median. */
  iqrRel: number;
  flops: number;
  bytes: number;
  /** flop / byte */
  intensity: number;
  TFLOPS: number;
  GBps: number;
  /** max(bytes / bandwidth, flops / peak) in ms. */
  floorMs: number;
  /** floorMs / ms */
  rooflineFraction: number;
  bound: 'memory' | 'compute';
  check: CheckResult | null;
  /**
   * Sparse configs (schema 3): the distinct tokens the indices name (bytes = gatheredTokens · 656 + q + out), the
   * valid indices and the −1 ones (flops count all b · s_q · topk).
   */
  sparse?: { gatheredTokens: number; validIndices: number; invalidIndices: number };
  /**
   * Dense configs: the schedule of the timed runs, read from their metadata — SM parts, pieces (numSplits' last value:
   * a request cut in n pieces counts n) and whether the parts walk the requests in the packed order (getMlaMetadata's
   * packOrder).
   */
  schedule?: { parts: number; pieces: number; packed: boolean };
  /**
   * The same workload in the first reference series, when there is one (any kind of series; another run: this row's
   * kernel's time there, else the first of its kernels that measured the workload — PeerIndex.reference).
   */
  reference?: { series: string; ms: number; speedup: number };
  /** The peers' times for the same workload, where a reference with peers (the shipped anchors) has them (schema 2). */
  peers?: {
    /** FlashMLA, its metadata outside the timing: against `ms`. */
    flashmla?: PeerComparison;
    /** The faster of FlashMLA and FA3 on this config (both with metadata outside): against `ms`. */
    best?: PeerComparison;
    /** FlashMLA with get_mla_metadata inside every timed call: against `mdMs`. */
    flashmlaWithMetadata?: PeerComparison;
  };
  /** Several kernels: the first kernel's ms on this config / this row's ms (> 1: this kernel is faster; schema 2). */
  vsKernel?: { kernel: string; ms: number; speedup: number };
}

/** The ratios the summary averages: peers' (see BenchRow.peers), the first reference's (BenchRow.reference), the first kernel's. */
export type RatioName = 'flashmla' | 'best' | 'flashmlaWithMetadata' | 'reference' | 'kernel';
export const RATIO_NAMES: readonly RatioName[] = ['flashmla', 'best', 'flashmlaWithMetadata', 'reference', 'kernel'];

export interface RatioGeomean {
  geomean: number;
  /** Rows averaged. */
  n: number;
}

/** Geomeans of one ratio of one kernel; null where no row of that kind has the ratio. */
export interface RatioSummary {
  kernel: string;
  ratio: RatioName;
  /** What the ratio compares with, in words (a series name, `kernel hopper (this run)`). */
  versus: string;
  all: RatioGeomean | null;
  /** Rows with h_q·s_q ≤ 64. */
  memoryBound: RatioGeomean | null;
  /** Rows with h_q·s_q > 64. */
  computeBound: RatioGeomean | null;
}

export interface BenchResult {
  /** What runBench writes is BENCH_SCHEMA; a result read back may be of an older readable schema. */
  schema: typeof BENCH_SCHEMA | 'flash-mla-bench/2' | 'flash-mla-bench/1';
  tool: { name: 'flash-mla'; version: string };
  /** ISO 8601, start of the run. */
  date: string;
  backend: 'cpu' | 'cuda';
  /** What this run is, in one line (says so when it is the cpu backend and not a GPU measurement). */
  label: string;
  device: DeviceRecord;
  host: { node: string; platform: string; arch: string; cpuModel: string; cpus: number };
  settings: {
    configs: string;
    kernels: string[];
    iters: number;
    warmup: number;
    seed: number;
    timer: string;
    /** What `ms` and `mdMs` time, in words (schema 2). */
    timed?: string;
    /** GPU runs: where the dense schedules were made — 'device' (the metadata kernel) or 'host' (`--metadata host`); absent before session 63: 'device'. */
    metadata?: 'device' | 'host';
    /** How KV (and with coldCode, the code) is kept out of the caches between timed runs. */
    l2Flush: string;
    /** `--cold-code`: every run started with the decode's code evicted from the SMs' instruction caches; absent: warm code. */
    coldCode?: boolean;
    checkSamples: number;
  };
  ceilings: { bandwidthGBps: Ceiling; peakTflops: Ceiling };
  references: string[];
  rows: BenchRow[];
  /** Configs the backend refused, not run (schema 3; absent in older results: nothing was skipped). */
  skipped?: SkippedRun[];
  /** Geomeans of the rows' ratios per kernel (schema 2; recomputed from the rows for older results). */
  summary?: { ratios: RatioSummary[] };
  totalSeconds: number;
}

// ---------------------------------------------------------------------------------------------- validation

type Check = (v: unknown) => boolean;
const num: Check = (v) => typeof v === 'number' && Number.isFinite(v);
const pos: Check = (v) => num(v) && (v as number) > 0;
const int: Check = (v) => Number.isSafeInteger(v);
const str: Check = (v) => typeof v === 'string';
const bool: Check = (v) => typeof v === 'boolean';
const nullable = (c: Check): Check => (v) => v === null || c(v);
const arrayOf = (c: Check, nonEmpty = false): Check => (v) => Array.isArray(v) && (!nonEmpty || v.length > 0) && v.every(c);
const oneOf = (...xs: unknown[]): Check => (v) => xs.includes(v);
const object: Check = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);

function fields(errors: string[], where: string, o: unknown, spec: Record<string, Check>, optional: string[] = []): boolean {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) {
    errors.push(`${where}: expected an object`);
    return false;
  }
  const r = o as Record<string, unknown>;
  for (const [k, c] of Object.entries(spec)) {
    if (!(k in r)) {
      if (!optional.includes(k)) errors.push(`${where}.${k}: missing`);
    } else if (!c(r[k])) errors.push(`${where}.${k}: invalid value ${JSON.stringify(r[k])?.slice(0, 80)}`);
  }
  return true;
}

function validateCeiling(errors: string[], where: string, c: unknown): void {
  fields(errors, where, c, { value: nullable(pos), source: oneOf('measured', 'user', 'reference', 'spec', 'none'), method: str, samples: arrayOf(pos) }, ['samples']);
}

/** Problems with a parsed `--json` result, as messages (empty: valid). */
export function validateBenchResult(doc: unknown): string[] {
  const e: string[] = [];
  if (!fields(e, 'result', doc, {
    schema: oneOf(...READABLE_BENCH_SCHEMAS), tool: (v) => typeof v === 'object' && v !== null, date: (v) => str(v) && !Number.isNaN(Date.parse(v as string)),
    backend: oneOf('cpu', 'cuda'), label: str, device: (v) => typeof v === 'object', host: (v) => typeof v === 'object', settings: (v) => typeof v === 'object',
    ceilings: (v) => typeof v === 'object', references: arrayOf(str), rows: Array.isArray, totalSeconds: (v) => num(v) && (v as number) >= 0,
  })) return e;
  const r = doc as BenchResult;
  // what schema 2 adds is required from schema 2 on and absent (optional) in schema 1; the same for schema 3
  const v2 = r.schema !== 'flash-mla-bench/1';
  const v3 = r.schema === BENCH_SCHEMA;
  const v2Required = (...names: string[]) => (v2 ? [] : names);
  fields(e, 'tool', r.tool, { name: oneOf('flash-mla'), version: str });
  fields(e, 'device', r.device, {
    kind: oneOf('gpu', 'cpu'), name: str, driverVersion: nullable(str), nvidiaDriver: nullable(str), computeCapability: nullable(str), smCount: nullable(int), memoryBytes: nullable(int), l2CacheBytes: nullable(int),
  });
  fields(e, 'host', r.host, { node: str, platform: str, arch: str, cpuModel: str, cpus: int });
  fields(e, 'settings', r.settings, {
    configs: str, kernels: arrayOf(str, true), iters: (v) => int(v) && (v as number) >= 1, warmup: (v) => int(v) && (v as number) >= 0, seed: int, timer: str, timed: str, l2Flush: str, checkSamples: int,
    metadata: oneOf('device', 'host'), coldCode: bool,
  }, ['metadata', 'coldCode', ...v2Required('timed')]);
  if (fields(e, 'ceilings', r.ceilings, { bandwidthGBps: (v) => typeof v === 'object', peakTflops: (v) => typeof v === 'object' })) {
    validateCeiling(e, 'ceilings.bandwidthGBps', r.ceilings.bandwidthGBps);
    validateCeiling(e, 'ceilings.peakTflops', r.ceilings.peakTflops);
  }
  const configFields = (w: string, c: BenchRow['config'] | undefined) => {
    fields(e, `${w}.config`, c, {
      name: str, b: int, s: int, h_q: int, s_q: int, varlen: bool, causal: bool, dtype: oneOf('bf16', 'fp16'), seqlens: arrayOf((v) => int(v) && (v as number) >= 0, true),
      kv: oneOf('fp8'), topk: (v) => int(v) && (v as number) >= 1, kvPages: (v) => int(v) && (v as number) >= 1,
    }, ['name', 'kv', 'topk', 'kvPages']);
    if (Array.isArray(c?.seqlens) && c.seqlens.length !== c.b) e.push(`${w}.config: b = ${c.b} but ${c.seqlens.length} seqlens`);
    if (c?.topk !== undefined && (c.kv !== 'fp8' || c.causal !== false)) e.push(`${w}.config: a sparse config (topk) has kv 'fp8' and causal false`);
    if (c?.topk !== undefined && c.kvPages !== undefined) e.push(`${w}.config: kvPages is for dense configs, this one is sparse (topk)`);
  };
  r.rows.forEach((row, i) => {
    const w = `rows[${i}]`;
    const sparse = row?.config?.topk !== undefined;
    if (!fields(e, w, row, {
      id: str, config: (v) => typeof v === 'object', kernel: str, ms: pos, timesMs: arrayOf(pos, true), minMs: pos, maxMs: pos, iqrRel: (v) => num(v) && (v as number) >= 0,
      flops: pos, bytes: pos, intensity: pos, TFLOPS: pos, GBps: pos, floorMs: pos, rooflineFraction: pos, bound: oneOf('memory', 'compute'), check: (v) => v === null || typeof v === 'object',
      mdMs: pos, mdTimesMs: arrayOf(pos, true), mdHostUs: pos, reference: object, peers: object, vsKernel: object, sparse: object, schedule: object,
    }, ['reference', 'peers', 'vsKernel', 'schedule', 'mdHostUs', ...(sparse ? ['mdMs', 'mdTimesMs'] : ['sparse']), ...v2Required('mdMs', 'mdTimesMs')])) return;
    if (row.schedule !== undefined) fields(e, `${w}.schedule`, row.schedule, { parts: (v) => int(v) && (v as number) >= 1, pieces: (v) => int(v) && (v as number) >= 0, packed: bool });
    configFields(w, row.config);
    if (sparse && row.sparse !== undefined) {
      const count = (v: unknown) => int(v) && (v as number) >= 0;
      fields(e, `${w}.sparse`, row.sparse, { gatheredTokens: count, validIndices: count, invalidIndices: count });
    }
    if (row.check !== null) {
      fields(e, `${w}.check`, row.check, {
        ok: bool, samples: int, cosDiff: nullable(num), maxAbsErr: nullable(num), maxLseErr: nullable(num), nanOutputs: int, message: str,
      });
    }
    if (row.reference !== undefined) fields(e, `${w}.reference`, row.reference, { series: str, ms: pos, speedup: pos });
    if (row.peers !== undefined && fields(e, `${w}.peers`, row.peers, { flashmla: object, best: object, flashmlaWithMetadata: object }, ['flashmla', 'best', 'flashmlaWithMetadata'])) {
      for (const k of ['flashmla', 'best', 'flashmlaWithMetadata'] as const) {
        if (row.peers[k] !== undefined) fields(e, `${w}.peers.${k}`, row.peers[k], { peer: str, series: str, ms: pos, speedup: pos });
      }
    }
    if (row.vsKernel !== undefined) fields(e, `${w}.vsKernel`, row.vsKernel, { kernel: str, ms: pos, speedup: pos });
    if (num(row.ms) && num(row.minMs) && num(row.maxMs) && !(row.minMs <= row.ms && row.ms <= row.maxMs)) e.push(`${w}: ms ${row.ms} outside [minMs, maxMs]`);
    // (a --metadata host run times each dense row's host metadata; nothing else has a host time)
    const hostMd = r.settings?.metadata === 'host';
    if (row.mdHostUs !== undefined && (!hostMd || sparse)) e.push(`${w}.mdHostUs: only on a dense row of a result with settings.metadata 'host', got it on a ${sparse ? 'sparse row' : `result with settings.metadata ${fmtValue(r.settings?.metadata)}`}`);
    if (row.mdHostUs === undefined && hostMd && !sparse) e.push(`${w}.mdHostUs: missing (settings.metadata is 'host': every dense row has its host time)`);
  });
  if (r.settings?.metadata !== undefined && r.backend !== 'cuda') e.push(`settings.metadata: only in a cuda result (where the schedule is made), got it in a ${fmtValue(r.backend)} result`);
  if (v3 && !Array.isArray(r.skipped)) e.push('result.skipped: missing (an array, empty when nothing was skipped)');
  (Array.isArray(r.skipped) ? r.skipped : []).forEach((x, i) => {
    if (fields(e, `skipped[${i}]`, x, { id: str, config: object, kernel: str, error: str, reason: str })) configFields(`skipped[${i}]`, x.config);
  });
  if (r.summary !== undefined || v2) {
    if (fields(e, 'summary', r.summary, { ratios: Array.isArray })) {
      const geo = (v: unknown) => v === null || (typeof v === 'object' && pos((v as RatioGeomean).geomean) && int((v as RatioGeomean).n) && (v as RatioGeomean).n >= 1);
      r.summary?.ratios.forEach((x, i) => {
        fields(e, `summary.ratios[${i}]`, x, { kernel: str, ratio: oneOf(...RATIO_NAMES), versus: str, all: geo, memoryBound: geo, computeBound: geo });
      });
    }
  }
  return e;
}

// ---------------------------------------------------------------------------------------------- text output

export function fmtNum(x: number | null | undefined, digits = 3): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '-';
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1000) return Math.round(x).toString();
  return x.toPrecision(digits).replace(/\.?0+$/, (m) => (m.includes('.') ? '' : m));
}

export function fmtBytes(n: number | null): string {
  if (n === null) return '-';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let x = n;
  while (x >= 1024 && i < u.length - 1) {
    x /= 1024;
    i++;
  }
  return `${x.toFixed(x >= 100 || i === 0 ? 0 : 1)} ${u[i]}`;
}

export function describeCeiling(name: string, c: Ceiling, unit: string): string {
  return `${name}: ${c.value === null ? 'unknown' : `${fmtNum(c.value, 4)} ${unit}`} (${c.source}: ${c.method})`;
}

interface Column {
  head: string;
  align: 'l' | 'r';
  cell: (r: BenchRow) => string;
  /** The cell of a skipped run (default `-`). */
  skipped?: (x: SkippedRun) => string;
}

/** `1.02×` (`3.2e-5×` below 0.01: the cpu backend against a GPU), or `-` when absent. */
export function fmtRatio(x: number | undefined | null): string {
  if (x === undefined || x === null || !Number.isFinite(x)) return '-';
  return `${x >= 0.01 || x === 0 ? x.toFixed(2) : x.toExponential(1)}×`;
}

function fmtMs(ms: number | undefined): string {
  return ms === undefined ? '-' : ms.toFixed(ms < 10 ? 4 : 1);
}

/** The config column: a named config's short name (`S1`), else its id (`sweep#3`). */
export function configTag(r: Pick<BenchRow, 'id' | 'config'>): string {
  return r.config.name?.split(/\s+/)[0] || r.id;
}

/** The KV cache format of a config: `fp8`, or the dtype of its 16-bit cache. */
export function kvFormat(c: Pick<BenchConfig, 'dtype' | 'kv' | 'topk'>): string {
  return c.kv === 'fp8' || c.topk !== undefined ? 'fp8' : c.dtype;
}

/** The first kernel of a result (what `vs <kernel>` compares with). */
function firstKernel(res: BenchResult): string {
  return res.settings.kernels[0] ?? res.rows[0]?.kernel ?? '';
}

function peerShort(peer: string): string {
  return PEER_SHORT_NAMES[peer] ?? peer;
}

/** Lines of the stdout table (no colour): the measured rows, then the skipped runs (`-` cells, `skipped`). */
export function formatTable(res: BenchResult): string[] {
  const skipped = res.skipped ?? [];
  const configs = [...res.rows, ...skipped].map((r) => r.config);
  const hasKv = configs.some((c) => kvFormat(c) !== 'bf16');
  const hasTopk = configs.some((c) => c.topk !== undefined);
  const kernels = new Set([...res.rows, ...skipped].map((r) => r.kernel));
  const hasMd = res.rows.some((r) => r.mdMs !== undefined);
  const hasFm = res.rows.some((r) => r.peers?.flashmla);
  const hasBest = res.rows.some((r) => r.peers?.best);
  const hasFmMd = res.rows.some((r) => r.peers?.flashmlaWithMetadata);
  // the first series' columns only when it is no peer (another run): with the anchors it is FlashMLA again
  const hasRef = res.rows.some((r) => r.reference) && !res.rows.some((r) => r.peers);
  const hasVsKernel = res.rows.some((r) => r.vsKernel);
  const cols: Column[] = [
    { head: 'config', align: 'l', cell: (r) => configTag(r) },
    { head: 'b', align: 'r', cell: (r) => String(r.config.b) },
    { head: 's', align: 'r', cell: (r) => String(r.config.s) },
    { head: 'h_q', align: 'r', cell: (r) => String(r.config.h_q) },
    { head: 's_q', align: 'r', cell: (r) => String(r.config.s_q) },
    { head: 'len', align: 'l', cell: (r) => (r.config.varlen ? 'var' : 'fixed') },
    ...(hasKv ? [{ head: 'kv', align: 'l' as const, cell: (r: BenchRow) => kvFormat(r.config), skipped: (x: SkippedRun) => kvFormat(x.config) }] : []),
    ...(configs.some((c) => c.kvPages !== undefined) ? [{ head: 'pages', align: 'r' as const, cell: (r: BenchRow) => String(r.config.kvPages ?? '-'), skipped: (x: SkippedRun) => String(x.config.kvPages ?? '-') }] : []),
    ...(hasTopk ? [{ head: 'topk', align: 'r' as const, cell: (r: BenchRow) => String(r.config.topk ?? '-'), skipped: (x: SkippedRun) => String(x.config.topk ?? '-') }] : []),
    ...(kernels.size > 1 || res.backend === 'cuda' ? [{ head: 'kernel', align: 'l' as const, cell: (r: BenchRow) => r.kernel, skipped: (x: SkippedRun) => x.kernel }] : []),
    { head: 'ms', align: 'r', cell: (r) => fmtMs(r.ms) },
    ...(hasMd ? [{ head: '+md ms', align: 'r' as const, cell: (r: BenchRow) => fmtMs(r.mdMs) }] : []),
    ...(res.rows.some((r) => r.mdHostUs !== undefined) ? [{ head: 'md host µs', align: 'r' as const, cell: (r: BenchRow) => (r.mdHostUs === undefined ? '-' : r.mdHostUs.toFixed(1)) }] : []),
    { head: 'TFLOPS', align: 'r', cell: (r) => fmtNum(r.TFLOPS) },
    { head: 'GB/s', align: 'r', cell: (r) => fmtNum(r.GBps) },
    { head: 'roof', align: 'r', cell: (r) => `${(r.rooflineFraction * 100).toFixed(1)}%` },
    { head: 'bound', align: 'l', cell: (r) => r.bound },
    ...(hasFm
      ? [
          { head: 'FM ms', align: 'r' as const, cell: (r: BenchRow) => fmtMs(r.peers?.flashmla?.ms) },
          { head: 'vs FM', align: 'r' as const, cell: (r: BenchRow) => fmtRatio(r.peers?.flashmla?.speedup) },
        ]
      : []),
    ...(hasBest
      ? [
          { head: 'best ms', align: 'r' as const, cell: (r: BenchRow) => fmtMs(r.peers?.best?.ms) },
          { head: 'best', align: 'l' as const, cell: (r: BenchRow) => (r.peers?.best ? peerShort(r.peers.best.peer) : '-') },
          { head: 'vs best', align: 'r' as const, cell: (r: BenchRow) => fmtRatio(r.peers?.best?.speedup) },
        ]
      : []),
    ...(hasFmMd
      ? [
          { head: 'FM+md ms', align: 'r' as const, cell: (r: BenchRow) => fmtMs(r.peers?.flashmlaWithMetadata?.ms) },
          { head: 'vs FM+md', align: 'r' as const, cell: (r: BenchRow) => fmtRatio(r.peers?.flashmlaWithMetadata?.speedup) },
        ]
      : []),
    ...(hasRef
      ? [
          { head: 'ref ms', align: 'r' as const, cell: (r: BenchRow) => fmtMs(r.reference?.ms) },
          { head: 'vs ref', align: 'r' as const, cell: (r: BenchRow) => fmtRatio(r.reference?.speedup) },
        ]
      : []),
    ...(hasVsKernel ? [{ head: `vs ${firstKernel(res)}`, align: 'r' as const, cell: (r: BenchRow) => fmtRatio(r.vsKernel?.speedup) }] : []),
    { head: 'check', align: 'l', cell: (r) => (r.check === null ? 'unchecked' : r.check.ok ? 'ok' : 'FAIL'), skipped: () => 'skipped' },
  ];
  // the shape columns of a skipped run are its config's; everything measured is '-'
  const shape = new Set(['config', 'b', 's', 'h_q', 's_q', 'len']);
  const asRow = (x: SkippedRun) => ({ id: x.id, config: x.config }) as BenchRow;
  const cells = [
    ...res.rows.map((r) => cols.map((c) => c.cell(r))),
    ...skipped.map((x) => cols.map((c) => (c.skipped ? c.skipped(x) : shape.has(c.head) ? c.cell(asRow(x)) : '-'))),
  ];
  return layout(cols, cells);
}

/**
 * The lines under the table on skipped runs: per reason, which configs (and kernels) it refused. Empty when
 * nothing was skipped.
 */
export function formatSkipped(res: Pick<BenchResult, 'skipped' | 'backend'>): string[] {
  const skipped = res.skipped ?? [];
  if (skipped.length === 0) return [];
  const byReason = new Map<string, SkippedRun[]>();
  for (const x of skipped) byReason.set(x.reason, [...(byReason.get(x.reason) ?? []), x]);
  const configs = new Set(skipped.map((x) => `${x.id}|${JSON.stringify(x.config)}`)).size;
  const errors = [...new Set(skipped.map((x) => x.error))].join(', ');
  const out = [`${configs} config(s) skipped: the ${res.backend} backend refuses them (${errors}); nothing was run for them:`];
  for (const [reason, xs] of byReason) {
    const kernels = [...new Set(xs.map((x) => x.kernel))];
    const tags = [...new Set(xs.map((x) => configTag(x)))];
    out.push(`  ${tags.join(', ')}${kernels.length ? ` (${kernels.join(', ')})` : ''}: ${reason}`);
  }
  return out;
}

function layout(cols: ReadonlyArray<Pick<Column, 'head' | 'align'>>, cells: string[][]): string[] {
  const widths = cols.map((c, i) => Math.max(c.head.length, ...cells.map((row) => row[i].length)));
  const line = (vals: string[]) => vals.map((v, i) => (cols[i].align === 'r' ? v.padStart(widths[i]) : v.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(cols.map((c) => c.head)), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)];
}

const RATIO_LABELS: Record<RatioName, string> = {
  flashmla: 'vs FM',
  best: 'vs best',
  flashmlaWithMetadata: 'vs FM+md',
  reference: 'vs ref',
  kernel: 'vs',
};

/** The geomean lines under the table: one per kernel and ratio; all rows, h_q·s_q ≤ 64, > 64. */
export function formatGeomeans(res: BenchResult): string[] {
  const ratios = res.summary?.ratios ?? summarizeRatios(res.rows, res.settings.kernels);
  if (ratios.length === 0) return [];
  const multi = new Set(res.rows.map((r) => r.kernel)).size > 1;
  const g = (x: RatioGeomean | null) => (x === null ? '-' : `${fmtRatio(x.geomean)} (${x.n})`);
  const cols = [
    { head: 'geomean', align: 'l' as const },
    { head: 'all rows', align: 'r' as const },
    { head: `h_q·s_q ≤ ${MEMORY_BOUND_MAX_ROWS} (memory-bound)`, align: 'r' as const },
    { head: `h_q·s_q > ${MEMORY_BOUND_MAX_ROWS} (compute-bound)`, align: 'r' as const },
  ];
  const cells = ratios.map((x) => {
    const what = x.ratio === 'kernel' ? `vs ${x.versus.replace(/^kernel (\S+).*$/, '$1')}` : RATIO_LABELS[x.ratio];
    return [`${multi || res.backend === 'cuda' ? `${x.kernel} ` : ''}${what}`, g(x.all), g(x.memoryBound), g(x.computeBound)];
  });
  return layout(cols, cells);
}

/** What the table's comparison columns mean, for the lines under it. */
function legend(res: BenchResult): string[] {
  const out: string[] = [];
  const series = (pick: (r: BenchRow) => PeerComparison | undefined) => res.rows.map(pick).find((p) => p)?.series;
  if (res.rows.some((r) => r.mdMs !== undefined)) {
    out.push('ms = decode + combine (metadata computed once before, outside the timing); +md ms = metadata + decode + combine (timed after the ms runs)');
  }
  if (res.settings.metadata === 'host' && res.rows.some((r) => r.mdHostUs !== undefined)) {
    out.push(
      'metadata from the host (--metadata host): the schedule made from host lengths and written to the device, no metadata kernel; ' +
        '+md ms times its host→device copy with the decode, md host µs = the host\'s time per metadata call (median, not in any ms)',
    );
  }
  if (res.rows.some((r) => r.config.kv === 'fp8' && r.config.topk === undefined)) {
    out.push('kv fp8 = dense decode over an FP8 cache (V3.2 layout): bytes count 656 per token instead of 576 × 2');
  }
  if (res.rows.some((r) => r.config.topk !== undefined)) {
    out.push(
      'topk = sparse decode over an FP8 cache: flops 2·b·s_q·h_q·topk·(576 + 512) (every index, as FlashMLA counts them), ' +
        'bytes 656 per distinct token the indices gather + q + out; no +md ms (its metadata depends on the shape alone)',
    );
  }
  const fm = series((r) => r.peers?.flashmla);
  const fmMd = series((r) => r.peers?.flashmlaWithMetadata);
  const hasBest = res.rows.some((r) => r.peers?.best);
  const fa3 = res.rows.map((r) => r.peers?.best).find((p) => p?.peer === 'fa3')?.series;
  if (fm || hasBest || fmMd) {
    out.push('vs X = X ms / ours (> 1: we are faster)');
    if (fm) out.push(`  FM = ${fm}, metadata outside the timing; compared with ms`);
    if (hasBest) out.push(`  best = per config the faster of FM and FA3${fa3 ? ` (FA3 = ${fa3})` : ''}; compared with ms`);
    if (fmMd) {
      out.push(
        `  FM+md = ${fmMd}, get_mla_metadata inside every timed call; compared with +md ms` +
          (res.settings.metadata === 'host' ? ' (GPU time: ours has no metadata kernel, its host time is md host µs)' : ''),
      );
    }
  } else if (res.rows.some((r) => r.reference)) {
    out.push(`vs ref = reference ms / ms (> 1: faster than ${referenceSeriesLabel(res.rows)})`);
  }
  if (res.rows.some((r) => r.vsKernel)) {
    const k = firstKernel(res);
    out.push(`vs ${k} = ${k}'s ms / this kernel's ms on the same config (> 1: this kernel is faster)`);
  }
  return out;
}

/** Everything printed to stdout for a run: header, table, comparisons, failed checks. */
export function formatReport(result: BenchResult): string {
  // a schema 1 result of several kernels gets its kernel ratios (and their geomeans) from its rows
  const rows = withKernelRatios(result.rows, result.settings.kernels);
  const res = rows.some((r, i) => r !== result.rows[i]) ? { ...result, rows, summary: undefined } : result;
  const d = res.device;
  const dev =
    d.kind === 'gpu'
      ? `${d.name} (sm_${d.computeCapability?.replace('.', '')}, ${d.smCount} SMs, ${fmtBytes(d.memoryBytes)}, L2 ${fmtBytes(d.l2CacheBytes)}), driver ${d.nvidiaDriver ?? '?'} (CUDA ${d.driverVersion})`
      : `${d.name}`;
  const out = [
    `flash-mla ${res.tool.version} bench — ${res.label}`,
    `device: ${dev}`,
    `date: ${res.date}; seed ${res.settings.seed}; timer: ${res.settings.timer}`,
    `runs per config and kernel: 1 value-checked + ${res.settings.warmup} warm-up + ${res.settings.iters} timed${res.rows.some((r) => r.mdMs !== undefined) ? ` (ms), then ${res.settings.warmup} warm-up + ${res.settings.iters} timed (+md ms)` : ''}; the median is reported`,
    `L2: ${res.settings.l2Flush}`,
    describeCeiling('bandwidth ceiling', res.ceilings.bandwidthGBps, 'GB/s'),
    describeCeiling('compute ceiling', res.ceilings.peakTflops, 'TFLOPS'),
    ...(res.references.length ? [`reference: ${res.references[0]}${res.references.length > 1 ? ` (+${res.references.length - 1} more series in the chart)` : ''}`] : []),
    '',
    ...formatTable(res),
  ];
  const failed = res.rows.filter((r) => r.check && !r.check.ok);
  out.push('');
  const skippedLines = formatSkipped(res);
  if (skippedLines.length) out.push(...skippedLines, '');
  const notes = legend(res);
  if (notes.length) out.push(...notes);
  const geo = formatGeomeans(res);
  if (geo.length) out.push('', ...geo, '');
  else if (notes.length) out.push('');
  if (failed.length) {
    out.push(`${failed.length} correctness check(s) FAILED:`);
    for (const r of failed) out.push(`  ${configTag(r)} ${r.kernel}: ${r.check?.message}`);
  } else {
    const checked = res.rows.filter((r) => r.check).length;
    const correctness =
      res.rows.length === 0
        ? 'correctness: nothing ran'
        : checked === 0
          ? `correctness: not checked (--check-samples ${res.settings.checkSamples})`
          : `correctness: ${checked} of ${res.rows.length} checked against the float64 oracle, all ok`;
    const nSkipped = res.skipped?.length ?? 0;
    out.push(`${res.rows.length} rows${nSkipped ? `, ${nSkipped} skipped (refused by the backend)` : ''} in ${res.totalSeconds.toFixed(1)} s; ${correctness}`);
  }
  return out.join('\n');
}
