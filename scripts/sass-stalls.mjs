#!/usr/bin/env node
// Where a kernel's warps stall, from ncu's SASS source page (`ncu -i R --page source --csv --print-source sass`,
// optionally gzipped; scripts/device-next.sh `spprof` writes them): stall samples summed by reason, by opcode and by
// address window, and the instructions with the most samples. A diagnostic for the perf log, not shipped.
// Usage: node scripts/sass-stalls.mjs FILE.csv[.gz] [--top N] [--window N]
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--'));
if (!file) {
  console.error('usage: node scripts/sass-stalls.mjs FILE.csv[.gz] [--top N] [--window N]');
  process.exit(2);
}
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const top = opt('--top', 30);
const window = opt('--window', 64);

const raw = readFileSync(file);
const text = (file.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8');

// one CSV record per line (ncu quotes every field; no embedded newlines in the SASS page)
function fields(line) {
  const out = [];
  let cur = '', q = false;
  for (let i = 0; i < line.length; ++i) {
    const c = line[i];
    if (q) {
      if (c === '"' && line[i + 1] === '"') (cur += '"'), ++i;
      else if (c === '"') q = false;
      else cur += c;
    } else if (c === '"') q = true;
    else if (c === ',') out.push(cur), (cur = '');
    else cur += c;
  }
  out.push(cur);
  return out;
}

const lines = text.split('\n').filter((l) => l.length > 0);
const hdrAt = lines.findIndex((l) => l.startsWith('"Address"'));
if (hdrAt < 0) throw new Error(`${file}: no "Address" header row`);
const hdr = fields(lines[hdrAt]);
const col = (name) => hdr.indexOf(name);
const cAddr = col('Address'), cSrc = col('Source'), cAll = col('Warp Stall Sampling (All Samples)'), cExec = col('Instructions Executed');
const stallCols = hdr.map((h, i) => [h, i]).filter(([h]) => h.startsWith('stall_') && !h.includes('Not Issued'));

const rows = lines.slice(hdrAt + 1).map(fields).filter((f) => f.length >= hdr.length - 1 && f[cAddr].startsWith('0x'));
const num = (s) => (s === '' || s === '-' ? 0 : Number(s));
let total = 0, totalExec = 0;
const byReason = new Map(), byOp = new Map();
const insts = rows.map((f, k) => {
  const samples = num(f[cAll]);
  const exec = num(f[cExec]);
  total += samples;
  totalExec += exec;
  const src = f[cSrc].trim();
  const op = src.replace(/^@!?U?P\w+\s+/, '').split(/[\s.]/)[0];
  const reasons = {};
  for (const [h, i] of stallCols) {
    const v = num(f[i]);
    if (v > 0) {
      reasons[h.slice(6)] = v;
      byReason.set(h.slice(6), (byReason.get(h.slice(6)) ?? 0) + v);
    }
  }
  const o = byOp.get(op) ?? { samples: 0, exec: 0 };
  o.samples += samples;
  o.exec += exec;
  byOp.set(op, o);
  return { k, addr: f[cAddr], src, op, samples, exec, reasons };
});

const pct = (v, t) => ((100 * v) / t).toFixed(1).padStart(5);
console.log(`${file}: ${rows.length} instructions, ${total} stall samples, ${totalExec} warp instructions executed`);
console.log('\nby reason (share of all samples):');
for (const [r, v] of [...byReason].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`  ${pct(v, total)} %  ${r}`);
console.log('\nby opcode (samples %, executed %):');
for (const [op, o] of [...byOp].sort((a, b) => b[1].samples - a[1].samples).slice(0, 16)) console.log(`  ${pct(o.samples, total)} %  ${pct(o.exec, totalExec)} %  ${op}`);
console.log(`\nby window of ${window} instructions (samples %; first instruction):`);
const wins = [];
for (let s = 0; s < insts.length; s += window) {
  const w = insts.slice(s, s + window);
  wins.push({ s, samples: w.reduce((a, i) => a + i.samples, 0), first: w[0] });
}
for (const w of wins.filter((x) => x.samples > 0.02 * total)) console.log(`  ${pct(w.samples, total)} %  #${w.s} ${w.first.addr.slice(-5)} ${w.first.src.slice(0, 60)}`);
console.log(`\ntop ${top} instructions (samples %, #index, reasons):`);
for (const i of [...insts].sort((a, b) => b.samples - a.samples).slice(0, top)) {
  const rs = Object.entries(i.reasons).sort((a, b) => b[1] - a[1]).slice(0, 3).map(([r, v]) => `${r} ${v}`).join(', ');
  console.log(`  ${pct(i.samples, total)} %  #${String(i.k).padStart(5)}  ${i.src.slice(0, 70).padEnd(70)}  ${rs}`);
}
