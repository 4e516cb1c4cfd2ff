// Comparisons of a run with its peers and between its kernels: per row, the peers' times for the same
// workload (FlashMLA, the best of FlashMLA and FA3, FlashMLA with its metadata call) and the first kernel's
// time; per kernel, the geometric means of those ratios over all rows and split by the rows' shape.
//
// Every ratio is theirs / ours (peer ms / our ms, first kernel's ms / this kernel's ms): > 1 means we (this
// kernel) are faster. Geometric means because ratios multiply: a 2× win and a 2× loss average to 1×.

import { configKey, otherKvKey, type ReferencePoint, type ReferenceSeries } from './configs.js';
import type { BenchRow, PeerComparison, RatioGeomean, RatioName, RatioSummary } from './report.js';

/**
 * The split of the geomeans: h_q·s_q ≤ 64 query rows per request fit one 64-row tile of the decode kernels
 * (FlashMLA's and ours), so K is read once per tile of work and time follows bandwidth (memory-bound);
 * more rows mean more tiles over the same K, and time follows the tensor cores (compute-bound).
 */
export const MEMORY_BOUND_MAX_ROWS = 64;

export function isMemoryBoundShape(c: { h_q: number; s_q: number }): boolean {
  return c.h_q * c.s_q <= MEMORY_BOUND_MAX_ROWS;
}

/** Peers whose minimum per config is the "best peer" (metadata outside the timing, like our `ms`). */
export const BEST_PEER_IDS: readonly string[] = ['flashmla', 'fa3'];

/** Per peer id, the first series that has it (in the order given) and its points by config key. */
export class PeerIndex {
  private readonly byPeer = new Map<string, { series: string; points: Map<string, ReferencePoint> }>();
  /** The first series, and with it, when it is another run, that run's other kernels' series (in file order). */
  private readonly first: { peer: boolean; series: Array<{ name: string; kernel?: string; points: Map<string, ReferencePoint> }> } | null;

  constructor(references: readonly ReferenceSeries[]) {
    for (const s of references) {
      if (s.peer && !this.byPeer.has(s.peer)) this.byPeer.set(s.peer, { series: s.name, points: new Map(s.points.map((p) => [p.key, p])) });
    }
    const f = references[0];
    const same = f === undefined ? [] : f.run === undefined ? [f] : references.filter((s) => s.run === f.run);
    this.first = f ? { peer: f.peer !== undefined, series: same.map((s) => ({ name: s.name, kernel: s.kernel, points: new Map(s.points.map((p) => [p.key, p])) })) } : null;
  }

  /** Name of the series a peer's times come from, if any reference has that peer. */
  seriesOf(peer: string): string | undefined {
    return this.byPeer.get(peer)?.series;
  }

  private point(peer: string, key: string): { series: string; ms: number } | null {
    const s = this.byPeer.get(peer);
    const p = s?.points.get(key);
    return s && p ? { series: s.series, ms: p.ms } : null;
  }

  /**
   * The first series' time for this workload (the `reference` of a row: any kind of series); when that series is
   * another run, `kernel`'s time in that run, else the first of the run's kernels that measured it (the run's rows
   * per kernel in the order they first appear). When the run has no row of this workload, a dense config takes its
   * time for the same shape over the other cache format (16-bit ↔ FP8; the series name says which): `--kv fp8
   * --reference bf16-run.json` gives the FP8 cache's speed-up over the 16-bit one, config by config. Peers (the
   * shipped anchors, all 16-bit) never stand in for an FP8 row.
   */
  reference(config: Parameters<typeof configKey>[0], ms: number, kernel?: string): BenchRow['reference'] {
    if (!this.first) return undefined;
    const key = configKey(config);
    const own = this.first.series.filter((s) => s.kernel !== undefined && s.kernel === kernel);
    const order = [...own, ...this.first.series.filter((s) => !own.includes(s))];
    for (const s of order) {
      const p = s.points.get(key);
      if (p) return { series: s.name, ms: p.ms, speedup: p.ms / ms };
    }
    const other = this.first.peer ? null : otherKvKey(key);
    if (other === null) return undefined;
    for (const s of order) {
      const q = s.points.get(other);
      if (q) return { series: `${s.name} (${other.endsWith('|fp8') ? 'FP8' : '16-bit'} cache)`, ms: q.ms, speedup: q.ms / ms };
    }
    return undefined;
  }

  /**
   * The peers' times for this workload: FlashMLA and the best of FlashMLA/FA3 against `ms` (decode + combine,
   * metadata outside, as they were measured), FlashMLA with its metadata call against `mdMs`. Undefined when
   * no peer measured it.
   */
  compare(config: Parameters<typeof configKey>[0], ms: number, mdMs: number | undefined): BenchRow['peers'] {
    const key = configKey(config);
    const out: NonNullable<BenchRow['peers']> = {};
    const fm = this.point('flashmla', key);
    if (fm) out.flashmla = { peer: 'flashmla', series: fm.series, ms: fm.ms, speedup: fm.ms / ms };
    let best: PeerComparison | undefined;
    for (const peer of BEST_PEER_IDS) {
      const p = this.point(peer, key);
      if (p && (!best || p.ms < best.ms)) best = { peer, series: p.series, ms: p.ms, speedup: p.ms / ms };
    }
    if (best) out.best = best;
    const fmMd = this.point('flashmla_with_metadata', key);
    if (fmMd && mdMs !== undefined) out.flashmlaWithMetadata = { peer: 'flashmla_with_metadata', series: fmMd.series, ms: fmMd.ms, speedup: fmMd.ms / mdMs };
    return Object.keys(out).length ? out : undefined;
  }
}

/**
 * Rows with `vsKernel` filled in where a result of several kernels lacks it (schema 1 results): each row of a
 * later kernel against the first kernel's row of the same config. Rows that have it are returned as they are.
 */
export function withKernelRatios(rows: readonly BenchRow[], kernels: readonly string[]): BenchRow[] {
  const first = kernels[0];
  if (kernels.length < 2 || rows.some((r) => r.vsKernel)) return [...rows];
  const firstMs = new Map(rows.filter((r) => r.kernel === first).map((r) => [`${r.id}|${configKey(r.config)}`, r.ms]));
  return rows.map((r) => {
    const ms = firstMs.get(`${r.id}|${configKey(r.config)}`);
    return r.kernel === first || ms === undefined ? r : { ...r, vsKernel: { kernel: first, ms, speedup: ms / r.ms } };
  });
}

/** Geometric mean of positive numbers; null for none. */
export function geomean(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  let s = 0;
  for (const x of xs) s += Math.log(x);
  return Math.exp(s / xs.length);
}

function geo(xs: number[]): RatioGeomean | null {
  const g = geomean(xs);
  return g === null ? null : { geomean: g, n: xs.length };
}

/** A row's value of a ratio, if it has it. */
export function ratioOf(row: BenchRow, ratio: RatioName): number | undefined {
  switch (ratio) {
    case 'flashmla':
      return row.peers?.flashmla?.speedup;
    case 'best':
      return row.peers?.best?.speedup;
    case 'flashmlaWithMetadata':
      return row.peers?.flashmlaWithMetadata?.speedup;
    case 'reference':
      return row.reference?.speedup;
    case 'kernel':
      return row.vsKernel?.speedup;
  }
}

/**
 * The reference series the rows' `vs ref` came from: one name, or — a reference run whose rows ran on several
 * kernels — the distinct names (at most three, then a count).
 */
export function referenceSeriesLabel(rows: readonly BenchRow[]): string {
  const names = [...new Set(rows.flatMap((r) => (r.reference ? [r.reference.series] : [])))];
  return names.length <= 3 ? names.join(' / ') : `${names.slice(0, 2).join(' / ')} and ${names.length - 2} more series`;
}

function versusOf(rows: BenchRow[], ratio: RatioName): string {
  if (ratio === 'reference') return referenceSeriesLabel(rows);
  for (const r of rows) {
    switch (ratio) {
      case 'flashmla':
      case 'best':
      case 'flashmlaWithMetadata': {
        const p = r.peers?.[ratio];
        if (p) return ratio === 'best' ? 'the faster of FlashMLA and FA3 on each config' : p.series;
        break;
      }
      case 'kernel':
        if (r.vsKernel) return `kernel ${r.vsKernel.kernel} (this run)`;
        break;
    }
  }
  return '';
}

/**
 * Per kernel (in the order of `kernels`, else of the rows) and per ratio some row has: the geomean over all
 * its rows, over the h_q·s_q ≤ 64 ones and over the others. The `reference` ratio only when no peer ratio
 * exists (with the shipped anchors it is FlashMLA's again). `pooled`: every row as one series of that name — a run
 * without --kernel, where each config ran on the backend's default for it (which differs by shape).
 */
export function summarizeRatios(rows: readonly BenchRow[], kernels?: readonly string[], pooled?: string): RatioSummary[] {
  if (pooled !== undefined) rows = rows.map((r) => ({ ...r, kernel: pooled }));
  const order = pooled !== undefined ? [pooled] : kernels && kernels.length ? kernels : [...new Set(rows.map((r) => r.kernel))];
  const anyPeer = rows.some((r) => r.peers);
  const ratios: RatioName[] = ['flashmla', 'best', 'flashmlaWithMetadata', ...(anyPeer ? [] : (['reference'] as RatioName[])), 'kernel'];
  const out: RatioSummary[] = [];
  for (const kernel of order) {
    const mine = rows.filter((r) => r.kernel === kernel);
    for (const ratio of ratios) {
      const have = mine.filter((r) => ratioOf(r, ratio) !== undefined);
      if (have.length === 0) continue;
      const values = (rs: BenchRow[]) => rs.map((r) => ratioOf(r, ratio) as number);
      out.push({
        kernel,
        ratio,
        versus: versusOf(have, ratio),
        all: geo(values(have)),
        memoryBound: geo(values(have.filter((r) => isMemoryBoundShape(r.config)))),
        computeBound: geo(values(have.filter((r) => !isMemoryBoundShape(r.config)))),
      });
    }
  }
  return out;
}
