// The README's measured tables are written by scripts/readme-tables.mjs from the runs' JSON in docs/runs/: each
// carries the command on the line above (`<!-- readme-tables: KIND ARGS -->`), and the table below it must be exactly
// that command's output — so a table is never typed by hand, and one that no longer matches its run fails here.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const script = `${root}scripts/readme-tables.mjs`;
const run = (args: string[]) => spawnSync(process.execPath, [script, ...args], { cwd: root, encoding: 'utf8' });

test("every README table marked readme-tables is its command's output, from the run JSON in docs/runs/", () => {
  const lines = readFileSync(`${root}README.md`, 'utf8').split('\n');
  let checked = 0;
  lines.forEach((line, i) => {
    const m = /^<!-- readme-tables: (.+) -->$/.exec(line);
    if (!m) return;
    let j = i + 1;
    while (j < lines.length && lines[j].trim() === '') j++;
    let k = j;
    while (k < lines.length && lines[k].startsWith('|')) k++;
    assert.ok(k > j, `README line ${i + 1}: no table after the readme-tables comment`);
    const r = run(m[1].split(/\s+/));
    assert.equal(r.status, 0, `README line ${i + 1}: node scripts/readme-tables.mjs ${m[1]}: ${r.stderr}`);
    assert.equal(lines.slice(j, k).join('\n'), r.stdout.trimEnd(), `README line ${j + 1}: the table is not the output of node scripts/readme-tables.mjs ${m[1]}`);
    checked++;
  });
  assert.ok(checked >= 4, `${checked} readme-tables comments in the README (the H200 sweep, serving, FP8 and sparse tables)`);
});

test('readme-tables: usage errors exit 2 with the reason', () => {
  const sweep = 'docs/runs/2026-12-06-h200-s43-sweep-1.json';
  for (const [args, why] of [
    [[], /no table kind/],
    [['rows', sweep], /unknown table kind 'rows'/],
    [['sweep', sweep, '--rows', 'sweep#99'], /no row sweep#99/],
    [['fp8', sweep, sweep], /is not over the FP8 cache/],
    [['sparse', sweep], /is not a sparse decode/],
    [['sweep', 'package.json'], /not a flash-mla bench result/],
  ] as const) {
    const r = run([...args]);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stdout}`);
    assert.match(r.stderr, why);
  }
});
