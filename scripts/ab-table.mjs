#!/usr/bin/env node
// The table of an A/B run of scripts/device-next.sh (its `ab_rounds`: one bench text per build, config set and round,
// named TAG-LABEL-SET-ROUND.txt), as the perf log writes it: one row per config, one column per build with its
// rounds' ms ("r1 / r2"), then each build's mean against the reference build's and the fastest build. A config whose
// value check did not say ok in a build is marked there (" ✗check"); a build that has no number for a config (the
// bench refused or timed out) shows "—".
//
//   node scripts/ab-table.mjs DIR TAG [LABEL…]
//
// LABELs: the builds in order, the first the reference (ab_rounds passes its own: the shipped build first); they
// also split the file names, whose set part may hold '-' (scripts/g32-small.json). Without them each file name is
// split at its last two '-' and the reference is "kernels" if present, else the first label in name order.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The rows of a bench text table: config name → { ms, check } (the header names the columns; runs of 2+ spaces separate them). */
export function benchRows(text) {
  const rows = new Map();
  let cols = null;
  for (const line of text.split('\n')) {
    if (/^config\s{2,}/.test(line)) {
      cols = line.trim().split(/\s{2,}/);
      continue;
    }
    if (cols === null || !/^[A-Za-z0-9_.-]+#\d+\s|^S\d+\s/.test(line)) continue;
    const cells = line.trim().split(/\s{2,}/);
    if (cells.length !== cols.length) continue;
    const at = (name) => cells[cols.indexOf(name)];
    const ms = Number(at('ms'));
    if (!Number.isFinite(ms)) continue;
    rows.set(cells[0], { ms, check: cols.includes('check') ? at('check') : undefined });
  }
  return rows;
}

const escape = (x) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Files TAG-LABEL-SET-ROUND.txt in dir → label → round → config → { ms, check } (labels: the builds, if known). */
export function abRuns(dir, tag, labels = []) {
  const runs = new Map(labels.map((l) => [l, new Map()]));
  const re = new RegExp(`^${escape(tag)}-(.+)-([^-]+)-(\\d+)\\.txt$`);
  // the longest label first, so that a label that prefixes another (a, a-b) does not take the other's files
  const known = [...labels].sort((a, b) => b.length - a.length).map((l) => [l, new RegExp(`^${escape(tag)}-${escape(l)}-(.+)-(\\d+)\\.txt$`)]);
  for (const f of readdirSync(dir).sort()) {
    let label, round;
    if (known.length > 0) {
      const hit = known.map(([l, r]) => [l, r.exec(f)]).find(([, m]) => m);
      if (!hit) continue;
      [label, round] = [hit[0], hit[1][2]];
    } else {
      const m = re.exec(f);
      if (!m) continue;
      [label, round] = [m[1], m[3]];
    }
    if (!runs.has(label)) runs.set(label, new Map());
    const byRound = runs.get(label);
    if (!byRound.has(round)) byRound.set(round, new Map());
    for (const [config, v] of benchRows(readFileSync(join(dir, f), 'utf8'))) byRound.get(round).set(config, v);
  }
  return runs;
}

/** The markdown table (see the header comment). */
export function abTable(runs, first) {
  const labels = [...runs.keys()];
  if (labels.length === 0) throw new Error('ab-table: no TAG-LABEL-SET-ROUND.txt files for that tag');
  const ref = first ?? (runs.has('kernels') ? 'kernels' : labels[0]);
  if (!runs.has(ref)) throw new Error(`ab-table: no build labelled '${ref}' (have: ${labels.join(', ')})`);
  const order = [ref, ...labels.filter((l) => l !== ref)];
  const rounds = [...new Set(order.flatMap((l) => [...runs.get(l).keys()]))].sort();
  const configs = [...new Set(order.flatMap((l) => [...runs.get(l).values()].flatMap((m) => [...m.keys()])))];
  const mean = (label, config) => {
    const v = rounds.map((r) => runs.get(label).get(r)?.get(config)?.ms).filter((x) => x !== undefined);
    return v.length ? v.reduce((a, b) => a + b, 0) / v.length : undefined;
  };
  const cell = (label, config) => {
    const vals = rounds.map((r) => runs.get(label).get(r)?.get(config));
    const text = vals.map((v) => (v ? v.ms.toFixed(4) : '—')).join(' / ');
    const bad = vals.some((v) => v?.check !== undefined && v.check !== 'ok' && v.check !== 'unchecked' && v.check !== 'u');
    return bad ? `${text} ✗check` : text;
  };
  const out = [];
  out.push(`| config | ${order.join(' | ')} | fastest (mean vs ${ref}) |`);
  out.push(`|${'---|'.repeat(order.length + 2)}`);
  for (const c of configs) {
    const base = mean(ref, c);
    let best = null;
    for (const l of order) {
      const m = mean(l, c);
      if (m !== undefined && (best === null || m < best.m)) best = { l, m };
    }
    const pct = (m) => (base === undefined || m === undefined ? '' : ` (${m <= base ? '−' : '+'}${(Math.abs(m / base - 1) * 100).toFixed(1)} %)`);
    out.push(`| ${c} | ${order.map((l) => cell(l, c)).join(' | ')} | ${best ? (best.l === ref ? ref : `${best.l}${pct(best.m)}`) : '—'} |`);
  }
  // each build's geomean of its means over the configs it has, against the reference's over the same configs
  const geo = order.map((l) => {
    const pairs = configs.map((c) => [mean(l, c), mean(ref, c)]).filter(([a, b]) => a !== undefined && b !== undefined);
    if (pairs.length === 0) return '—';
    const g = Math.exp(pairs.reduce((s, [a, b]) => s + Math.log(a / b), 0) / pairs.length);
    return `${g.toFixed(3)}×`;
  });
  out.push(`| time vs ${ref} (geomean) | ${geo.join(' | ')} | |`);
  return out.join('\n');
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const [dir, tag, ...labels] = process.argv.slice(2);
  if (!dir || !tag) {
    console.error('usage: node scripts/ab-table.mjs DIR TAG [LABEL…]');
    process.exit(2);
  }
  console.log(abTable(abRuns(dir, tag, labels), labels[0]));
}
