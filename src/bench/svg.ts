// A roofline chart as a standalone SVG string (no browser, no dependencies): log-log, arithmetic intensity
// (flop/byte) on x, TFLOP/s on y; the memory ceiling (bandwidth · intensity) and the compute ceiling
// (horizontal) meet at the ridge; one labelled point per measured config; optional unlabelled reference points
// of other series (another run, the FlashMLA anchors) with a legend.

import type { BenchResult } from './report.js';
import type { ReferenceSeries } from './configs.js';

export interface ChartPoint {
  label: string;
  /** flop / byte */
  intensity: number;
  tflops: number;
  /** Hover text (<title>). */
  tooltip?: string;
}

export interface ChartSeries {
  name: string;
  points: ChartPoint[];
  /** Measured series get labels and the `point` class; reference series are drawn smaller and unlabelled. */
  kind: 'measured' | 'reference';
}

export interface RooflineChart {
  title: string;
  subtitle?: string;
  bandwidthGBps: number;
  /** null: no compute ceiling drawn. */
  peakTflops: number | null;
  /** Ceiling captions, e.g. "3010 GB/s (measured: D2D copy)". */
  bandwidthCaption?: string;
  peakCaption?: string;
  series: ChartSeries[];
}

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

const W = 1000;
const H = 680;
const M = { left: 78, right: 210, top: 66, bottom: 58 };
const MEASURED_COLORS = ['#1f6fb4', '#d9480f', '#2b8a3e', '#7048e8', '#c2255c'];
const REFERENCE_COLORS = ['#868e96', '#e599f7', '#74c0fc', '#ffa94d', '#8ce99a'];

function fmtTick(v: number): string {
  if (v >= 1) return String(Math.round(v));
  return String(Number(v.toPrecision(1)));
}

function f(x: number): string {
  return (Math.round(x * 10) / 10).toString();
}

function marker(shape: number, x: number, y: number, r: number, attrs: string): string {
  switch (shape % 4) {
    case 0:
      return `<circle cx="${f(x)}" cy="${f(y)}" r="${r}" ${attrs}/>`;
    case 1:
      return `<rect x="${f(x - r)}" y="${f(y - r)}" width="${2 * r}" height="${2 * r}" ${attrs}/>`;
    case 2:
      return `<path d="M${f(x)} ${f(y - r * 1.3)}L${f(x + r * 1.3)} ${f(y)}L${f(x)} ${f(y + r * 1.3)}L${f(x - r * 1.3)} ${f(y)}Z" ${attrs}/>`;
    default:
      return `<path d="M${f(x)} ${f(y - r * 1.3)}L${f(x + r * 1.2)} ${f(y + r)}L${f(x - r * 1.2)} ${f(y + r)}Z" ${attrs}/>`;
  }
}

export function rooflineSvg(chart: RooflineChart): string {
  const pts = chart.series.flatMap((s) => s.points).filter((p) => p.intensity > 0 && p.tflops > 0 && Number.isFinite(p.intensity) && Number.isFinite(p.tflops));
  const bw = chart.bandwidthGBps * 1e9 / 1e12; // TFLOP/s per (flop/byte)
  const ridge = chart.peakTflops !== null ? chart.peakTflops / bw : null;
  const xs = pts.map((p) => p.intensity).concat(ridge !== null ? [ridge] : []);
  const ys = pts.map((p) => p.tflops).concat(chart.peakTflops !== null ? [chart.peakTflops] : []);
  const minX = xs.length ? Math.min(...xs) : 1;
  const maxX = xs.length ? Math.max(...xs) : 1000;
  const minY = ys.length ? Math.min(...ys) : 1;
  const maxY = ys.length ? Math.max(...ys) : 1000;
  const x0 = Math.floor(Math.log10(minX / 1.5));
  const x1 = Math.max(Math.ceil(Math.log10(maxX * 1.5)), x0 + 1);
  const y0 = Math.floor(Math.log10(minY / 1.5));
  const y1 = Math.max(Math.ceil(Math.log10(maxY * 1.15)), y0 + 1);
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const px = (v: number) => M.left + ((Math.log10(v) - x0) / (x1 - x0)) * pw;
  const py = (v: number) => M.top + ph - ((Math.log10(v) - y0) / (y1 - y0)) * ph;

  const o: string[] = [];
  o.push(`<?xml version="1.0" encoding="UTF-8"?>`);
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  o.push(`<title>${escapeXml(chart.title)}</title>`);
  o.push(`<defs><clipPath id="plot"><rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}"/></clipPath></defs>`);
  o.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  o.push(`<text x="${M.left}" y="24" font-size="16" font-weight="bold">${escapeXml(chart.title)}</text>`);
  if (chart.subtitle) o.push(`<text x="${M.left}" y="44" fill="#495057">${escapeXml(chart.subtitle)}</text>`);

  // grid and axes
  o.push(`<g class="grid" stroke="#e9ecef" stroke-width="1">`);
  for (let k = x0; k < x1; k++) for (let m = 2; m < 10; m++) o.push(`<line x1="${f(px(m * 10 ** k))}" y1="${M.top}" x2="${f(px(m * 10 ** k))}" y2="${M.top + ph}"/>`);
  for (let k = y0; k < y1; k++) for (let m = 2; m < 10; m++) o.push(`<line x1="${M.left}" y1="${f(py(m * 10 ** k))}" x2="${M.left + pw}" y2="${f(py(m * 10 ** k))}"/>`);
  o.push(`</g>`);
  o.push(`<g class="axes" stroke="#adb5bd" stroke-width="1">`);
  for (let k = x0; k <= x1; k++) o.push(`<line x1="${f(px(10 ** k))}" y1="${M.top}" x2="${f(px(10 ** k))}" y2="${M.top + ph}"/>`);
  for (let k = y0; k <= y1; k++) o.push(`<line x1="${M.left}" y1="${f(py(10 ** k))}" x2="${M.left + pw}" y2="${f(py(10 ** k))}"/>`);
  o.push(`</g>`);
  o.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#495057"/>`);
  o.push(`<g class="ticks" fill="#495057">`);
  for (let k = x0; k <= x1; k++) o.push(`<text x="${f(px(10 ** k))}" y="${M.top + ph + 18}" text-anchor="middle">${fmtTick(10 ** k)}</text>`);
  for (let k = y0; k <= y1; k++) o.push(`<text x="${M.left - 8}" y="${f(py(10 ** k) + 4)}" text-anchor="end">${fmtTick(10 ** k)}</text>`);
  o.push(`</g>`);
  o.push(`<text x="${f(M.left + pw / 2)}" y="${H - 14}" text-anchor="middle">arithmetic intensity (flop / byte, FlashMLA's formulas)</text>`);
  o.push(`<text transform="translate(18 ${f(M.top + ph / 2)}) rotate(-90)" text-anchor="middle">TFLOP/s</text>`);

  // ceilings
  const xa = 10 ** x0;
  const xb = 10 ** x1;
  o.push(`<g class="ceilings" clip-path="url(#plot)" fill="none" stroke="#212529" stroke-width="2">`);
  const xEnd = ridge !== null ? Math.min(ridge, xb) : xb;
  o.push(`<line class="ceiling-memory" x1="${f(px(xa))}" y1="${f(py(bw * xa))}" x2="${f(px(xEnd))}" y2="${f(py(bw * xEnd))}"/>`);
  if (chart.peakTflops !== null) {
    o.push(`<line class="ceiling-compute" x1="${f(px(Math.max(ridge as number, xa)))}" y1="${f(py(chart.peakTflops))}" x2="${f(px(xb))}" y2="${f(py(chart.peakTflops))}"/>`);
  }
  o.push(`</g>`);
  const memCaption = chart.bandwidthCaption ?? `${Math.round(chart.bandwidthGBps)} GB/s`;
  {
    // caption along the memory line, near its lower-left end inside the plot
    const xl = Math.max(xa * 1.3, (10 ** y0 * 2) / bw);
    const angle = (-Math.atan((ph / (y1 - y0)) / (pw / (x1 - x0))) * 180) / Math.PI;
    if (xl < xEnd) o.push(`<text class="ceiling-label" transform="translate(${f(px(xl))} ${f(py(bw * xl) - 6)}) rotate(${f(angle)})" fill="#212529">memory: ${escapeXml(memCaption)}</text>`);
  }
  if (chart.peakTflops !== null) {
    const cap = chart.peakCaption ?? `${Math.round(chart.peakTflops)} TFLOP/s`;
    o.push(`<text class="ceiling-label" x="${f(M.left + pw - 6)}" y="${f(py(chart.peakTflops) - 6)}" text-anchor="end" fill="#212529">compute: ${escapeXml(cap)}</text>`);
  }

  // reference series first (underneath), then measured ones with labels
  const refs = chart.series.filter((s) => s.kind === 'reference');
  const measured = chart.series.filter((s) => s.kind === 'measured');
  const legend: Array<{ name: string; color: string; shape: number; r: number }> = [];
  refs.forEach((s, si) => {
    const color = REFERENCE_COLORS[si % REFERENCE_COLORS.length];
    const shape = (si % 3) + 1;
    legend.push({ name: s.name, color, shape, r: 4 });
    o.push(`<g class="series reference" data-series="${escapeXml(s.name)}" clip-path="url(#plot)">`);
    for (const p of s.points) {
      if (!(p.intensity > 0 && p.tflops > 0)) continue;
      o.push(`<g class="ref-point">${marker(shape, px(p.intensity), py(p.tflops), 4, `fill="${color}" fill-opacity="0.75" stroke="#ffffff" stroke-width="0.5"`)}<title>${escapeXml(`${s.name}: ${p.tooltip ?? p.label}`)}</title></g>`);
    }
    o.push(`</g>`);
  });
  const labels: Array<{ x: number; y: number; ly: number; text: string; color: string }> = [];
  measured.forEach((s, si) => {
    const color = MEASURED_COLORS[si % MEASURED_COLORS.length];
    legend.push({ name: s.name, color, shape: 0, r: 5 });
    o.push(`<g class="series measured" data-series="${escapeXml(s.name)}">`);
    for (const p of s.points) {
      const x = px(p.intensity);
      const y = py(p.tflops);
      o.push(`<g class="point" data-label="${escapeXml(p.label)}">${marker(0, x, y, 5, `fill="${color}" stroke="#ffffff" stroke-width="1"`)}<title>${escapeXml(p.tooltip ?? p.label)}</title></g>`);
      labels.push({ x, y, ly: y, text: p.label, color });
    }
    o.push(`</g>`);
  });

  // labels right of their points, placed greedily (left to right) on the nearest free line above or below
  const LINE = 12;
  const CHAR = 5.6; // width of a character at font-size 10, roughly
  const placed: Array<{ x0: number; x1: number; y0: number; y1: number }> = [];
  // measured points and the compute caption are obstacles too
  for (const l of labels) placed.push({ x0: l.x - 5, x1: l.x + 5, y0: l.y - 5, y1: l.y + 5 });
  if (chart.peakTflops !== null) {
    const capLen = `compute: ${chart.peakCaption ?? ''}`.length * 6.2;
    placed.push({ x0: M.left + pw - 6 - capLen, x1: M.left + pw, y0: py(chart.peakTflops) - 18, y1: py(chart.peakTflops) });
  }
  const free = (b: { x0: number; x1: number; y0: number; y1: number }) => !placed.some((q) => b.x0 < q.x1 && q.x0 < b.x1 && b.y0 < q.y1 && q.y0 < b.y1);
  for (const l of [...labels].sort((a, b) => a.x - b.x || a.y - b.y)) {
    const box = (ly: number) => ({ x0: l.x + 9, x1: l.x + 9 + l.text.length * CHAR, y0: ly - LINE / 2, y1: ly + LINE / 2 });
    let best = l.y;
    for (let k = 0; k <= 60; k++) {
      const ly = l.y + (k % 2 ? 1 : -1) * Math.ceil(k / 2) * (LINE / 2);
      if (ly < M.top + 4 || ly > M.top + ph - 4) continue;
      if (free(box(ly))) {
        best = ly;
        break;
      }
    }
    l.ly = best;
    placed.push(box(best));
  }
  o.push(`<g class="labels" font-size="10">`);
  for (const l of labels) {
    const lx = l.x + 9;
    if (Math.abs(l.ly - l.y) > 3) o.push(`<line x1="${f(l.x + 5)}" y1="${f(l.y)}" x2="${f(lx - 1)}" y2="${f(l.ly)}" stroke="${l.color}" stroke-width="0.6"/>`);
    o.push(`<text class="point-label" x="${f(lx)}" y="${f(l.ly + 3.5)}" fill="${l.color}">${escapeXml(l.text)}</text>`);
  }
  o.push(`</g>`);

  // legend, right of the plot
  const lx = M.left + pw + 14;
  let ly = M.top + 8;
  o.push(`<g class="legend" font-size="11">`);
  const wrap = (s: string, n: number) => {
    const words = s.split(' ');
    const lines: string[] = [];
    let cur = '';
    for (const w of words) {
      if (cur && (cur + ' ' + w).length > n) {
        lines.push(cur);
        cur = w;
      } else cur = cur ? `${cur} ${w}` : w;
    }
    if (cur) lines.push(cur);
    return lines;
  };
  for (const e of legend) {
    o.push(marker(e.shape, lx + 6, ly, e.r, `fill="${e.color}"`));
    for (const [i, line] of wrap(e.name, 24).entries()) o.push(`<text x="${lx + 16}" y="${f(ly + 4 + i * 13)}">${escapeXml(line)}</text>`);
    ly += 13 * wrap(e.name, 24).length + 8;
  }
  o.push(`</g>`);
  o.push(`</svg>`);
  return o.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------- from a result


function shortLabel(c: { s: number; h_q: number; s_q: number; varlen: boolean; name?: string; kv?: 'fp8'; topk?: number }): string {
  const s = c.s >= 1024 && c.s % 1024 === 0 ? `${c.s / 1024}k` : String(c.s);
  const name = c.name?.split(/\s+/)[0];
  const format = c.topk !== undefined ? ` top${c.topk}` : c.kv === 'fp8' ? ' fp8' : '';
  return `${name ? `${name} ` : ''}${s} h${c.h_q} q${c.s_q}${c.varlen ? ' var' : ''}${format}`;
}

/** The roofline chart of a run: one series per kernel (labelled points), then the reference series. */
export function rooflineSvgFromResult(res: BenchResult, references: readonly ReferenceSeries[] = []): string {
  const kernels = [...new Set(res.rows.map((r) => r.kernel))];
  const measured: ChartSeries[] = kernels.map((k) => ({
    name: `${k} · ${res.device.kind === 'gpu' ? res.device.name : 'cpu backend'} (this run)`,
    kind: 'measured',
    points: res.rows
      .filter((r) => r.kernel === k)
      .map((r) => ({
        label: shortLabel(r.config),
        intensity: r.intensity,
        tflops: r.TFLOPS,
        tooltip: `${r.config.name ?? r.id} b=${r.config.b} s=${r.config.s} h_q=${r.config.h_q} s_q=${r.config.s_q} ${r.config.varlen ? 'var' : 'fixed'}` +
          `${r.config.topk !== undefined ? ` topk=${r.config.topk} (sparse, FP8)` : r.config.kv === 'fp8' ? ' FP8 cache' : ''} ${r.kernel}: ` +
          `${r.ms.toFixed(4)} ms, ${r.TFLOPS.toFixed(1)} TFLOPS, ${r.GBps.toFixed(0)} GB/s, ${(r.rooflineFraction * 100).toFixed(1)}% of roofline`,
      })),
  }));
  const refs: ChartSeries[] = references.map((s) => ({
    name: s.name,
    kind: 'reference',
    points: s.points.map((p) => ({
      label: p.label,
      intensity: p.flops / p.bytes,
      tflops: p.flops / (p.ms * 1e-3) / 1e12,
      tooltip: `${p.label}: ${p.ms} ms`,
    })),
  }));
  const bw = res.ceilings.bandwidthGBps;
  const pk = res.ceilings.peakTflops;
  return rooflineSvg({
    title: `MLA decode roofline — ${res.device.kind === 'gpu' ? res.device.name : 'cpu backend (not a GPU measurement)'}`,
    subtitle: `${res.settings.configs}; ${res.date.slice(0, 10)}; median of ${res.settings.iters} runs; flops and bytes by FlashMLA's formulas`,
    bandwidthGBps: bw.value as number,
    peakTflops: pk.value,
    bandwidthCaption: `${Math.round(bw.value as number)} GB/s (${bw.source})`,
    peakCaption: pk.value === null ? undefined : `${pk.value >= 10 ? Math.round(pk.value) : pk.value.toPrecision(3)} TFLOP/s (${pk.source})`,
    series: [...refs, ...measured],
  });
}
