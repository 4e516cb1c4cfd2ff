// Which source lines a kernel entry's SASS runs once per item, per block or not at all — for the cold-code study
// (perf log, session 65: a cold SM fetches every instruction it runs once). Dev-only; reads the text of
// `nvdisasm -g -c <cubin>` (source line comments; the device has nvdisasm, this workstation does not: device-next s64c).
// Usage: node scripts/sass-depth.mjs FILE.sass ENTRY [DEPTH] [TOP]
//   ENTRY  the .text section's entry name, e.g. mla_decode_sm90_membound_bf16
//   DEPTH  list the instructions at this loop depth by source line (default 1: inside the item loop, outside the
//          block loops); the loops are the backward branches of the body before its last EXIT — after it come the
//          out-of-line retry stubs of the mbarrier waits and the divergent-shuffle paths, which branch back into it
//   TOP    how many source lines (default 40)
import { readFileSync } from 'node:fs';

const [file, entry, depthArg = '1', topArg = '40'] = process.argv.slice(2);
if (!file || !entry) {
  console.error('usage: node scripts/sass-depth.mjs FILE.sass ENTRY [DEPTH] [TOP]');
  process.exit(2);
}
const text = readFileSync(file, 'utf8').split('\n');
const start = text.findIndex((l) => l.startsWith(`.text.${entry}:`));
if (start < 0) throw new Error(`no .text.${entry} in ${file}`);
let end = text.findIndex((l, i) => i > start && /^\.text\./.test(l) && !l.startsWith(`.text.${entry}:`));
if (end < 0) end = text.length;
const ins = [];
const labels = new Map();
let cur = '?:0';
for (const l of text.slice(start, end)) {
  let m = /^\s*\/\/## File "([^"]+)", line (\d+)/.exec(l);
  if (m) {
    cur = `${m[1].split('/').pop()}:${m[2]}`;
    continue;
  }
  m = /^(\.L_x_\d+):/.exec(l.trim());
  if (m) {
    labels.set(m[1], ins.length);
    continue;
  }
  m = /^\s+\/\*([0-9a-f]{4,5})\*\/\s+(.*?)\s*;/.exec(l);
  if (m) ins.push({ addr: parseInt(m[1], 16), op: m[2], src: cur });
}
const bodyEnd = ins.reduce((last, x, i) => (x.op === 'EXIT' ? i + 1 : last), ins.length);
const depth = new Array(ins.length).fill(0);
for (let i = 0; i < bodyEnd; i++) {
  const m = /BRA.*`\((\.L_x_\d+)\)/.exec(ins[i].op);
  const to = m ? labels.get(m[1]) : undefined;
  if (to !== undefined && to <= i) for (let k = to; k <= i; k++) depth[k]++;
}
const kb = (n) => `${((n * 16) / 1024).toFixed(0)} KB`;
console.log(`${entry}: ${ins.length} instructions (${kb(ins.length)}), body ${bodyEnd} (${kb(bodyEnd)}), after its last EXIT ${ins.length - bodyEnd} (${kb(ins.length - bodyEnd)})`);
const hist = new Map();
for (let i = 0; i < bodyEnd; i++) hist.set(depth[i], (hist.get(depth[i]) ?? 0) + 1);
console.log(`loop depth: ${[...hist].sort((a, b) => a[0] - b[0]).map(([d, n]) => `${d}: ${n} (${kb(n)})`).join(', ')}`);
const want = Number(depthArg);
const by = new Map();
for (let i = 0; i < bodyEnd; i++) if (depth[i] === want) by.set(ins[i].src, (by.get(ins[i].src) ?? 0) + 1);
console.log(`depth ${want}, by source line:`);
for (const [src, n] of [...by].sort((a, b) => b[1] - a[1]).slice(0, Number(topArg))) console.log(`${String(n).padStart(6)}  ${src}`);
