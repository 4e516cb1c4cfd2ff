// The result of a benchmark run: its JSON schema (what `--json` writes), a validator, and the stdout table.

import type { BenchConfig } from './configs.js';
import type { CheckResult } from './problem.js';

export const BENCH_SCHEMA = 'flash-mla-bench/1';

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

export interface BenchRow {
  id: string;
  config: Omit<BenchConfig, 'id'>;
  kernel: string;
  /** Median of timesMs. */
  ms: number;
  timesMs: number[];
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
  /** The same workload in the first reference series, when there is one. */
  reference?: { series: string; ms: number; speedup: number };
}

export interface BenchResult {
  schema: typeof BENCH_SCHEMA;
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
    /** How KV is kept out of L2 between timed runs. */
    l2Flush: string;
    checkSamples: number;
  };
  ceilings: { bandwidthGBps: Ceiling; peakTflops: Ceiling };
  references: string[];
  rows: BenchRow[];
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
    schema: oneOf(BENCH_SCHEMA), tool: (v) => typeof v === 'object' && v !== null, date: (v) => str(v) && !Number.isNaN(Date.parse(v as string)),
    backend: oneOf('cpu', 'cuda'), label: str, device: (v) => typeof v === 'object', host: (v) => typeof v === 'object', settings: (v) => typeof v === 'object',
    ceilings: (v) => typeof v === 'object', references: arrayOf(str), rows: Array.isArray, totalSeconds: (v) => num(v) && (v as number) >= 0,
  })) return e;
  const r = doc as BenchResult;
  fields(e, 'tool', r.tool, { name: oneOf('flash-mla'), version: str });
  fields(e, 'device', r.device, {
    kind: oneOf('gpu', 'cpu'), name: str, driverVersion: nullable(str), nvidiaDriver: nullable(str), computeCapability: nullable(str), smCount: nullable(int), memoryBytes: nullable(int), l2CacheBytes: nullable(int),
  });
  fields(e, 'host', r.host, { node: str, platform: str, arch: str, cpuModel: str, cpus: int });
  fields(e, 'settings', r.settings, {
    configs: str, kernels: arrayOf(str, true), iters: (v) => int(v) && (v as number) >= 1, warmup: (v) => int(v) && (v as number) >= 0, seed: int, timer: str, l2Flush: str, checkSamples: int,
  });
  if (fields(e, 'ceilings', r.ceilings, { bandwidthGBps: (v) => typeof v === 'object', peakTflops: (v) => typeof v === 'object' })) {
    validateCeiling(e, 'ceilings.bandwidthGBps', r.ceilings.bandwidthGBps);
    validateCeiling(e, 'ceilings.peakTflops', r.ceilings.peakTflops);
  }
  r.rows.forEach((row, i) => {
    const w = `rows[${i}]`;
    if (!fields(e, w, row, {
      id: str, config: (v) => typeof v === 'object', kernel: str, ms: pos, timesMs: arrayOf(pos, true), minMs: pos, maxMs: pos, iqrRel: (v) => num(v) && (v as number) >= 0,
      flops: pos, bytes: pos, intensity: pos, TFLOPS: pos, GBps: pos, floorMs: pos, rooflineFraction: pos, bound: oneOf('memory', 'compute'), check: (v) => v === null || typeof v === 'object',
      reference: (v) => typeof v === 'object',
    }, ['reference'])) return;
    fields(e, `${w}.config`, row.config, {
      b: int, s: int, h_q: int, s_q: int, varlen: bool, causal: bool, dtype: oneOf('bf16', 'fp16'), seqlens: arrayOf((v) => int(v) && (v as number) >= 0, true),
    });
    if (Array.isArray(row.config?.seqlens) && row.config.seqlens.length !== row.config.b) e.push(`${w}.config: b = ${row.config.b} but ${row.config.seqlens.length} seqlens`);
    if (row.check !== null) {
      fields(e, `${w}.check`, row.check, {
        ok: bool, samples: int, cosDiff: nullable(num), maxAbsErr: nullable(num), maxLseErr: nullable(num), nanOutputs: int, message: str,
      });
    }
    if (row.reference !== undefined) fields(e, `${w}.reference`, row.reference, { series: str, ms: pos, speedup: pos });
    if (num(row.ms) && num(row.minMs) && num(row.maxMs) && !(row.minMs <= row.ms && row.ms <= row.maxMs)) e.push(`${w}: ms ${row.ms} outside [minMs, maxMs]`);
  });
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
}

/** Lines of the stdout table (no colour). */
export function formatTable(res: BenchResult): string[] {
  const kernels = new Set(res.rows.map((r) => r.kernel));
  const hasRef = res.rows.some((r) => r.reference);
  const cols: Column[] = [
    { head: 'config', align: 'l', cell: (r) => r.id },
    { head: 'b', align: 'r', cell: (r) => String(r.config.b) },
    { head: 's', align: 'r', cell: (r) => String(r.config.s) },
    { head: 'h_q', align: 'r', cell: (r) => String(r.config.h_q) },
    { head: 's_q', align: 'r', cell: (r) => String(r.config.s_q) },
    { head: 'len', align: 'l', cell: (r) => (r.config.varlen ? 'var' : 'fixed') },
    ...(kernels.size > 1 || res.backend === 'cuda' ? [{ head: 'kernel', align: 'l' as const, cell: (r: BenchRow) => r.kernel }] : []),
    { head: 'ms', align: 'r', cell: (r) => r.ms.toFixed(r.ms < 10 ? 4 : 1) },
    { head: 'TFLOPS', align: 'r', cell: (r) => fmtNum(r.TFLOPS) },
    { head: 'GB/s', align: 'r', cell: (r) => fmtNum(r.GBps) },
    { head: 'roof', align: 'r', cell: (r) => `${(r.rooflineFraction * 100).toFixed(1)}%` },
    { head: 'bound', align: 'l', cell: (r) => r.bound },
    ...(hasRef
      ? [
          { head: 'ref ms', align: 'r' as const, cell: (r: BenchRow) => (r.reference ? r.reference.ms.toFixed(4) : '-') },
          { head: 'vs ref', align: 'r' as const, cell: (r: BenchRow) => (r.reference ? `${r.reference.speedup.toFixed(2)}×` : '-') },
        ]
      : []),
    { head: 'check', align: 'l', cell: (r) => (r.check === null ? 'skipped' : r.check.ok ? 'ok' : 'FAIL') },
  ];
  const cells = res.rows.map((r) => cols.map((c) => c.cell(r)));
  const widths = cols.map((c, i) => Math.max(c.head.length, ...cells.map((row) => row[i].length)));
  const line = (vals: string[]) => vals.map((v, i) => (cols[i].align === 'r' ? v.padStart(widths[i]) : v.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(cols.map((c) => c.head)), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)];
}

/** Everything printed to stdout for a run: header, table, failed checks. */
export function formatReport(res: BenchResult): string {
  const d = res.device;
  const dev =
    d.kind === 'gpu'
      ? `${d.name} (sm_${d.computeCapability?.replace('.', '')}, ${d.smCount} SMs, ${fmtBytes(d.memoryBytes)}, L2 ${fmtBytes(d.l2CacheBytes)}), driver ${d.nvidiaDriver ?? '?'} (CUDA ${d.driverVersion})`
      : `${d.name}`;
  const out = [
    `flash-mla ${res.tool.version} bench — ${res.label}`,
    `device: ${dev}`,
    `date: ${res.date}; seed ${res.settings.seed}; timer: ${res.settings.timer}`,
    `runs per config and kernel: 1 value-checked + ${res.settings.warmup} warm-up + ${res.settings.iters} timed; the median is reported`,
    `L2: ${res.settings.l2Flush}`,
    describeCeiling('bandwidth ceiling', res.ceilings.bandwidthGBps, 'GB/s'),
    describeCeiling('compute ceiling', res.ceilings.peakTflops, 'TFLOPS'),
    ...(res.references.length ? [`reference: ${res.references[0]}${res.references.length > 1 ? ` (+${res.references.length - 1} more series in the chart)` : ''}`] : []),
    '',
    ...formatTable(res),
  ];
  const failed = res.rows.filter((r) => r.check && !r.check.ok);
  out.push('');
  if (res.rows.some((r) => r.reference)) out.push(`vs ref = reference ms / ms (> 1: faster than ${res.rows.find((r) => r.reference)?.reference?.series})`);
  if (failed.length) {
    out.push(`${failed.length} correctness check(s) FAILED:`);
    for (const r of failed) out.push(`  ${r.id} ${r.kernel}: ${r.check?.message}`);
  } else {
    const checked = res.rows.filter((r) => r.check).length;
    out.push(`${res.rows.length} rows in ${res.totalSeconds.toFixed(1)} s; correctness: ${checked} of ${res.rows.length} checked against the float64 oracle, all ok`);
  }
  return out.join('\n');
}
