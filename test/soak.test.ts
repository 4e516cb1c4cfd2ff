// The soak run (test/soak/) without a GPU: its memory judgement as a pure function (leaks fail, warm-up steps,
// spikes and noise pass, nothing passes on too few samples), its table, and the script itself: --help, usage
// errors (exit 2), a short eager run on the cpu backend that passes its output checks and writes its JSON, and
// the same run with an injected host leak, which must fail (exit 1) naming the growth.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cudaAvailable } from '../src/index.js';
import { DEFAULT_LIMITS, MIB, formatMemoryTable, judgeMemory, tableRows, type MemorySample } from './soak/memory.js';

/** Samples every 1000 calls of a phase of `n` samples: device and RSS values (MiB) from functions of the index. */
function series(n: number, device: ((k: number) => number) | null, rss: (k: number) => number): MemorySample[] {
  return Array.from({ length: n }, (_, k) => ({ calls: k * 1000, deviceUsed: device ? 1000 * MIB + device(k) * MIB : null, rss: 200 * MIB + rss(k) * MIB }));
}

describe('memory judgement', () => {
  test('flat memory, noise, a warm-up step and a spike that comes back pass', () => {
    const noise = (k: number) => [0, 3, -2, 5, 1, -4, 2, 6, -1, 3, 0][k % 11];
    for (const [name, s] of [
      ['flat', series(11, () => 0, () => 0)],
      ['noise', series(11, (k) => (k % 2 ? 2 : 0), noise)],
      ['warm-up step', series(11, (k) => (k === 0 ? 0 : 30), (k) => (k === 0 ? 0 : 120))],
      ['spike', series(11, (k) => (k === 5 ? 500 : 0), (k) => (k === 5 ? 500 : 0))],
      ['shrinking', series(11, (k) => -k, (k) => -10 * k)],
      ['cpu (no device)', series(11, null, noise)],
    ] as const) {
      const v = judgeMemory(s);
      assert.ok(v.ok, `${name}: ${v.reasons.join('; ')}`);
      assert.deepEqual(v.reasons, []);
    }
    assert.equal(judgeMemory(series(3, null, () => 0)).device, null);
  });

  test('steady growth beyond the limit fails, naming the measure, the growth and the limit', () => {
    // 1 MiB of device memory per 1000 calls: 10 MiB over 10 000 calls
    const dev = judgeMemory(series(11, (k) => k, () => 0));
    assert.equal(dev.ok, false);
    assert.equal(dev.device?.net, 10 * MIB);
    assert.deepEqual(dev.reasons, ['device memory grew +10.0 MiB over 10000 calls (limit +4.0 MiB; still +6.0 MiB above the first third\'s peak in the last third)']);
    // host: 10 MiB per 1000 calls
    const host = judgeMemory(series(11, () => 0, (k) => 10 * k));
    assert.equal(host.ok, false);
    assert.equal(host.reasons.length, 1);
    assert.match(host.reasons[0], /^host RSS grew \+100\.0 MiB over 10000 calls \(limit \+64\.0 MiB/);
    // both
    assert.equal(judgeMemory(series(11, (k) => k, (k) => 10 * k)).reasons.length, 2);
    // growth that stops half way is still growth (net above the limit, the last third above the first)
    assert.equal(judgeMemory(series(11, (k) => Math.min(k, 5) * 2, () => 0)).ok, false);
    // just within the limit passes; the same growth fails under a smaller limit
    const within = series(11, (k) => 0.39 * k, () => 0);
    assert.ok(judgeMemory(within).ok);
    assert.equal(judgeMemory(within, { ...DEFAULT_LIMITS, deviceBytes: 2 * MIB }).ok, false);
    // two samples (start and end) are enough to judge
    assert.equal(judgeMemory(series(2, (k) => 100 * k, () => 0)).ok, false);
  });

  test('nothing passes on too few samples or bad limits', () => {
    assert.throws(() => judgeMemory(series(1, () => 0, () => 0)), /^RangeError: samples: expected at least 2 \(start and end\), got 1$/);
    assert.throws(() => judgeMemory([]), /got 0$/);
    assert.throws(() => judgeMemory(series(3, () => 0, () => 0), { deviceBytes: -1, rssBytes: 0 }), /^RangeError: limits.deviceBytes: expected a number of bytes ≥ 0, got -1$/);
    const mixed = series(3, () => 0, () => 0);
    mixed[1] = { ...mixed[1], deviceUsed: null };
    assert.throws(() => judgeMemory(mixed), /deviceUsed must be given in every sample or in none/);
  });

  test('the table shows at most 12 rows, always the first and the last sample', () => {
    const s = series(101, (k) => k / 100, () => 0);
    const rows = tableRows(s);
    assert.ok(rows.length <= 12 && rows.length >= 10, `${rows.length} rows`);
    assert.equal(rows[0], s[0]);
    assert.equal(rows[rows.length - 1], s[100]);
    assert.deepEqual(tableRows(s.slice(0, 5)), s.slice(0, 5));
    const lines = formatMemoryTable('long', s);
    assert.equal(lines.length, rows.length + 1);
    assert.match(lines[0], /^phase +calls +device used +Δ device +host RSS +Δ RSS$/);
    assert.match(lines[lines.length - 1], /^long +100000 +1001\.0 MiB +\+1\.0 MiB +200\.0 MiB +\+0\.0 MiB$/);
    assert.match(formatMemoryTable('eager', series(2, null, () => 1))[2], /^eager +1000 +n\/a +n\/a +201\.0 MiB +\+0\.0 MiB$/);
  });
});

describe('soak script', () => {
  const script = join(dirname(fileURLToPath(import.meta.url)), 'soak', 'soak.js');
  const run = (...args: string[]) => spawnSync(process.execPath, [script, ...args], { encoding: 'utf8', timeout: 60_000 });
  const small = ['--backend', 'cpu', '--eager', '40', '--sample-every', '10', '--batch', '2', '--heads', '2', '--max-seqlen', '70'];

  test('--help prints the usage and exits 0', () => {
    const r = run('--help');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^soak: leak and soak run/);
    assert.match(r.stdout, /--inject-leak BYTES/);
    assert.match(r.stdout, /Exit status: 0 ok, 1 memory grew, a check failed or an error, 2 usage error/);
  });

  test('usage errors exit 2 with the reason', () => {
    for (const [args, reason] of [
      [['--bogus'], "Unknown option '--bogus'"],
      [['--eager', 'x'], "--eager: expected an integer ≥ 0, got 'x'"],
      [['--sample-every', '0'], "--sample-every: expected an integer ≥ 1, got '0'"],
      [['--backend', 'gpu'], "--backend: expected cuda or cpu, got 'gpu'"],
      [['--backend', 'cpu', '--graph', '5'], '--graph/--long: CUDA graphs need --backend cuda, got --backend cpu with --graph 5 --long 0'],
      [['--backend', 'cpu', '--eager', '0'], '--eager, --graph, --long: nothing to run (all 0)'],
      [['--max-rss-growth-mib=-1'], "--max-rss-growth-mib: expected a number of MiB ≥ 0, got '-1'"],
    ] as const) {
      const r = run(...args);
      assert.equal(r.status, 2, `${args.join(' ')}: exit ${r.status}, stderr ${r.stderr}`);
      assert.ok(r.stderr.includes(reason), `${args.join(' ')}: stderr ${JSON.stringify(r.stderr)}`);
    }
  });

  test('without a GPU the default (cuda) run says why and exits 1', { skip: cudaAvailable() ? 'a GPU is present' : false }, () => {
    const r = run('--eager', '1');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^soak: the cuda backend is not available: /);
  });

  test('a short eager run on the cpu: flat, every output check passes, the table and the JSON', () => {
    const json = join(mkdtempSync(join(tmpdir(), 'soak-')), 'soak.json');
    const r = run(...small, '--json', json);
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^eager +40 +n\/a +n\/a +[\d.]+ MiB/m);
    assert.match(r.stdout, /^eager: 40 calls in .*: flat; 4 output checks, 0 failed$/m);
    assert.match(r.stdout, /^soak: OK$/m);
    const line = r.stdout.split('\n').find((l) => l.startsWith('soak-json '));
    assert.ok(line, 'no soak-json line');
    const summary = JSON.parse(line.slice('soak-json '.length));
    const file = JSON.parse(readFileSync(json, 'utf8'));
    assert.equal(summary.ok, true);
    assert.deepEqual(file.phases, summary.phases);
    assert.equal(file.detail[0].samples.length, 5);
    assert.equal(file.detail[0].checks.length, 4);
    assert.ok(file.detail[0].checks.every((c: { ok: boolean }) => c.ok));
  });

  test('an injected host leak makes it fail with exit 1, naming the growth', () => {
    const r = run(...small, '--eager', '60', '--inject-leak', String(2 * MIB), '--max-rss-growth-mib', '32');
    assert.equal(r.status, 1, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /INJECTED LEAK of 2097152 B per eager call/);
    assert.match(r.stdout, /^eager: 60 calls in .*: GREW; 6 output checks, 0 failed$/m);
    assert.match(r.stdout, /^ {2}host RSS grew \+\d+\.\d MiB over 60 calls \(limit \+32\.0 MiB/m);
    assert.match(r.stdout, /^soak: FAILED$/m);
  });
});
