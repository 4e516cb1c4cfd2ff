#!/usr/bin/env node
// The README's measured tables, written from the runs' JSON (`flash-mla bench --json`, kept in docs/runs/), so that a
// table is never typed by hand. Each README table carries the command that makes it in a comment on the line above,
// `<!-- readme-tables: KIND ARGS -->`, and test/readme-tables.test.ts checks that the table is that command's output.
//
//   node scripts/readme-tables.mjs sweep RUN.json [RUN2.json] [--rows sweep#0,sweep#1,…]
//       the sweep rows: kernel, ms, TFLOPS, GB/s, FlashMLA ms, vs best peer (bold when ≥ 1), and RUN2's ms (vs best)
//   node scripts/readme-tables.mjs serving RUN.json [RUN2.json] [--rows S1,S2,…]
//       the serving rows by name: kernel, ms, +md ms, FlashMLA ms, vs best peer, and RUN2's ms (vs best)
//   node scripts/readme-tables.mjs fp8 BF16_RUN.json FP8_RUN.json [--rows …]
//       dense rows over the 16-bit and the FP8 cache: each one's kernel and ms, bf16 ms / FP8 ms (bold when < 1)
//   node scripts/readme-tables.mjs sparse RUN.json [--rows sparse#0,…]
//       sparse rows: b, h_q, kernel, ms, TFLOPS, gathered GB/s
//
// Rows are taken in --rows order (ids such as sweep#4, or serving names' first word such as S4); default: every row.
// Exit status: 0, or 2 on a usage error or a file that is not a bench result.
import { readFileSync } from 'node:fs';

const USAGE = 'usage: node scripts/readme-tables.mjs sweep|serving|fp8|sparse RUN.json [RUN2.json] [--rows ID,…]';

function fail(message) {
  console.error(`readme-tables: ${message}\n${USAGE}`);
  process.exit(2);
}

function load(path) {
  let doc;
  try {
    doc = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    fail(`${path}: ${e.message}`);
  }
  if (!Array.isArray(doc?.rows) || typeof doc.schema !== 'string' || !doc.schema.startsWith('flash-mla-bench/')) fail(`${path}: not a flash-mla bench result`);
  return doc;
}

/** A row's short id: `sweep#4`, or a serving config's first word (`S4`). */
const shortId = (row) => (row.config.name ? row.config.name.split(' ')[0] : row.id);

function pick(doc, ids, path) {
  if (!ids) return doc.rows;
  return ids.map((id) => doc.rows.find((r) => shortId(r) === id || r.id === id) ?? fail(`${path}: no row ${id}`));
}

/** The same config in another run (same id), or null. */
const twin = (doc, row) => (doc ? doc.rows.find((r) => r.id === row.id && r.kernel === row.kernel) ?? null : null);

const fixed = (x, d) => x.toFixed(d);
/** Three significant digits below 1000 (117, 28.3), whole numbers above (3912): the bench's own rounding. */
function sig3(x) {
  if (Math.abs(x) >= 1000) return String(Math.round(x));
  return x.toPrecision(3).replace(/\.?0+$/, (m) => (m.includes('.') ? '' : m));
}
const ratio = (x) => `${fixed(x, 2)}×`;
const bestOf = (row) => row.peers?.best?.speedup ?? fail(`row ${row.id}: no best-peer time (run with --reference h200 or h100)`);
const label = (c) => `seqlen ${c.s}${c.varlen ? ' (var)' : ''}, h_q ${c.h_q}, s_q ${c.s_q}`;
const table = (head, rows) => [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');

const args = process.argv.slice(2);
const kind = args.shift();
let ids = null;
const files = [];
while (args.length) {
  const a = args.shift();
  if (a === '--rows') ids = (args.shift() ?? fail('--rows: expected ID,…')).split(',').map((s) => s.trim()).filter(Boolean);
  else if (a.startsWith('--')) fail(`unknown option ${a}`);
  else files.push(a);
}

let out;
if (kind === 'sweep' || kind === 'serving') {
  if (files.length < 1 || files.length > 2) fail(`${kind}: expected one or two runs, got ${files.length}`);
  const [run, run2] = files.map(load);
  const sweep = kind === 'sweep';
  const d = sweep ? 3 : 4;
  const rows = pick(run, ids, files[0]).map((r) => {
    const best = bestOf(r);
    const cells = [
      sweep ? label(r.config) : r.config.name,
      `\`${r.kernel}\``,
      fixed(r.ms, d),
      ...(sweep ? [sig3(r.TFLOPS), String(Math.round(r.GBps))] : [r.mdMs === undefined ? '-' : fixed(r.mdMs, d)]),
      r.peers?.flashmla ? fixed(r.peers.flashmla.ms, d) : '-',
      best >= 1 ? `**${ratio(best)}**` : ratio(best),
    ];
    if (run2) {
      const t = twin(run2, r) ?? fail(`${files[1]}: no row ${r.id} on ${r.kernel}`);
      cells.push(`${fixed(t.ms, d)} (${ratio(bestOf(t))})`);
    }
    return cells;
  });
  const head = sweep
    ? ['config (b = 128, causal, bf16)', 'kernel', 'ms', 'TFLOPS', 'GB/s', 'FlashMLA ms', 'vs best peer']
    : ['config', 'kernel', 'ms', '+md ms', 'FlashMLA ms', 'vs best peer'];
  out = table(run2 ? [...head, 'run 2: ms (vs best)'] : head, rows);
} else if (kind === 'fp8') {
  if (files.length !== 2) fail(`fp8: expected the 16-bit run and the FP8 run, got ${files.length} file(s)`);
  const [bf16, fp8] = files.map(load);
  const rows = pick(fp8, ids, files[1]).map((r) => {
    if (r.config.kv !== 'fp8') fail(`${files[1]}: row ${r.id} is not over the FP8 cache (run with --kv fp8)`);
    const b = bf16.rows.find((x) => x.id === r.id && x.config.kv === undefined) ?? fail(`${files[0]}: no 16-bit row ${r.id}`);
    const x = b.ms / r.ms;
    return [label(r.config), `\`${b.kernel}\` ${fixed(b.ms, 3)}`, `\`${r.kernel}\` ${fixed(r.ms, 3)}`, x < 1 ? `**${ratio(x)}**` : ratio(x)];
  });
  out = table(['config (b = 128, causal, bf16 q)', 'bf16 ms', 'FP8 ms', 'FP8 / bf16'], rows);
} else if (kind === 'sparse') {
  if (files.length !== 1) fail(`sparse: expected one run, got ${files.length}`);
  const run = load(files[0]);
  const rows = pick(run, ids, files[0]).map((r) => {
    if (!r.sparse) fail(`${files[0]}: row ${r.id} is not a sparse decode`);
    return [String(r.config.b), String(r.config.h_q), `\`${r.kernel}\``, fixed(r.ms, 3), sig3(r.TFLOPS), String(Math.round(r.GBps))];
  });
  out = table(['b', 'h_q', 'kernel', 'ms', 'TFLOPS', 'gathered GB/s'], rows);
} else {
  fail(kind === undefined ? 'no table kind' : `unknown table kind '${kind}'`);
}
console.log(out);
