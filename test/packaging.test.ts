// What a user gets: the file list of `npm pack --dry-run --json` (no source maps pointing at sources that are
// not shipped, no test-only cubins, every relative import and every documented dist/ path present) and the
// shipped example's command line (the CLI's conventions: --help exits 0, usage errors exit 2).

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, normalize, posix } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (this file runs as dist/test/packaging.test.js). */
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, unknown>;

function packedFiles(): string[] {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', shell: process.platform === 'win32' });
  assert.equal(r.status, 0, `npm pack --dry-run failed: ${r.stderr}`);
  const out = JSON.parse(r.stdout) as { files: { path: string }[] }[];
  return out[0].files.map((f) => f.path.split('\\').join('/'));
}

describe('npm pack', () => {
  const files = packedFiles();
  const shipped = new Set(files);

  test('the package holds the entry points of package.json (exports, types, bin)', () => {
    const exp = (pkg.exports as Record<string, Record<string, string> | string>)['.'] as Record<string, string>;
    const bin = pkg.bin as Record<string, string>;
    for (const p of [exp.types, exp.default, pkg.types as string, ...Object.values(bin)]) {
      assert.ok(shipped.has(posix.normalize(p)), `${p} is named in package.json but not in the package`);
    }
  });

  test('no source map points at a source that is not shipped', () => {
    for (const f of files.filter((p) => p.endsWith('.map'))) {
      const map = JSON.parse(readFileSync(join(root, f), 'utf8')) as { sources: string[]; sourceRoot?: string };
      for (const s of map.sources) {
        const target = posix.normalize(posix.join(posix.dirname(f), map.sourceRoot ?? '', s));
        assert.ok(shipped.has(target), `${f} points at ${target}, which is not in the package`);
      }
    }
  });

  test('no test-only cubin: every shipped cubin is named by the shipped library code', () => {
    const code = files.filter((p) => p.startsWith('dist/src/') && p.endsWith('.js')).map((p) => readFileSync(join(root, p), 'utf8')).join('\n');
    const cubins = files.filter((p) => p.endsWith('.cubin'));
    for (const c of cubins) {
      const name = posix.basename(c).split('.')[0];
      assert.ok(code.includes(`'${name}'`), `${c} is shipped, but no file of dist/src loads a kernel '${name}' (a test-only kernel?)`);
    }
    assert.ok(!files.some((p) => /(^|\/)smoke\.[^/]*$/.test(p)), 'the smoke-test kernel is shipped');
  });

  test('every relative import of a shipped module resolves to a shipped file', () => {
    for (const f of files.filter((p) => p.endsWith('.js'))) {
      const text = readFileSync(join(root, f), 'utf8');
      for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)) {
        const target = posix.normalize(posix.join(posix.dirname(f), m[1]));
        assert.ok(shipped.has(target), `${f} imports ${m[1]} (${target}), which is not in the package`);
      }
    }
  });

  test('every dist/ path the README tells a user to run is shipped (dev tools under dist/test/: built, not shipped)', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const paths = [...readme.matchAll(/node (dist\/[\w./-]+\.js)/g)].map((m) => m[1]);
    assert.ok(paths.length > 0, 'the README documents no `node dist/….js` command (this test looks for them)');
    for (const p of paths) {
      // the soak run and other dev tools are run from a clone: they must exist after the build
      if (p.startsWith('dist/test/')) assert.ok(existsSync(join(root, p)), `README documents the dev tool \`node ${p}\`, which the build does not produce`);
      else assert.ok(shipped.has(p), `README documents \`node ${p}\`, which is not in the package`);
    }
  });

  test('nothing from test/ or the TypeScript sources is shipped', () => {
    const stray = files.filter((p) => p.startsWith('dist/test/') || p.startsWith('src/') || p.startsWith('test/') || p.startsWith('kernels/'));
    assert.deepEqual(stray, []);
  });
});

describe('examples/decode-loop command line', () => {
  const script = join(root, 'dist', 'examples', 'decode-loop.js');
  const run = (...args: string[]) => spawnSync(process.execPath, [script, ...args], { encoding: 'utf8' });

  test('--help prints the usage and exits 0', () => {
    assert.ok(existsSync(normalize(script)));
    for (const flag of ['--help', '-h']) {
      const r = run(flag);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^decode-loop: /);
      assert.match(r.stdout, /--max-prefill T/);
      assert.match(r.stdout, /Exit status: 0 ok, 1 .*, 2 usage error/);
    }
  });

  test('usage errors exit 2 with the reason and a pointer to --help', () => {
    for (const [args, reason] of [
      [['--bogus'], "Unknown option '--bogus'"],
      [['--steps', '0'], "--steps: expected an integer ≥ 1, got '0'"],
      [['--steps', '1.5'], "--steps: expected an integer ≥ 1, got '1.5'"],
      [['--steps'], "Option '--steps <value>' argument missing"],
      [['--backend', 'gpu'], "--backend: expected cuda or cpu, got 'gpu'"],
      [['--graph', '--backend', 'cpu'], '--graph: CUDA graphs need --backend cuda'],
      [['--metadata', 'gpu'], "--metadata: expected device or host, got 'gpu'"],
      [['--pack-order', '--batch-order'], '--pack-order, --batch-order: expected one of them, got both'],
      [['stray'], "Unexpected argument 'stray'"],
    ] as const) {
      const r = run(...args);
      assert.equal(r.status, 2, `${args.join(' ')}: exit ${r.status}, stderr ${r.stderr}`);
      assert.ok(r.stderr.includes(reason), `${args.join(' ')}: stderr ${JSON.stringify(r.stderr)}`);
      assert.match(r.stderr, /run with --help for usage/);
      assert.equal(r.stdout, '');
    }
  });

  test('a small cpu run passes its check against the oracle and exits 0, with the metadata from either side (host by default) in either order', () => {
    for (const [args, header] of [
      [[], /metadata by cache\.metadata\(\) on the host \(packed order where the batch can pack: its default\)/],
      [['--metadata', 'host', '--batch-order'], /metadata by cache\.metadata\(\) on the host \(batch order\)/],
      [['--metadata', 'device'], /metadata by getMlaMetadata \(batch order\)/],
      [['--metadata', 'device', '--pack-order'], /metadata by getMlaMetadata \(packed order\)/],
    ] as const) {
      const r = run('--backend', 'cpu', '--steps', '2', '--batch', '2', '--heads', '4', '--max-prefill', '70', ...args);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /check: .*: OK/);
      assert.match(r.stdout, header, args.join(' '));
    }
  });
});

describe('npm run test:gpu (scripts/test-gpu.mjs)', () => {
  const script = join(root, 'scripts', 'test-gpu.mjs');
  const list = () => {
    const r = spawnSync(process.execPath, [script, '--list'], { cwd: root, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const [gpu, other] = r.stdout.trim().split('\n').map((l) => l.replace(/^[^:]*: ?/, '').split(' ').filter(Boolean));
    return { gpu, other };
  };

  test('package.json runs it; every test file is in one group, the files that run kernels one at a time', () => {
    assert.equal((pkg.scripts as Record<string, string>)['test:gpu'], 'node scripts/test-gpu.mjs');
    const { gpu, other } = list();
    const all = [...gpu, ...other].sort();
    assert.equal(new Set(all).size, all.length, `a file in both groups: ${all.join(' ')}`);
    // (the test files next to this one, as compiled)
    const here = dirname(fileURLToPath(import.meta.url));
    const compiled = readdirSync(here).filter((f) => f.endsWith('.test.js')).sort();
    assert.deepEqual(all, compiled);
    for (const f of ['gpu-decode.test.js', 'fp8-sparse-gpu.test.js', 'combine-gpu.test.js', 'gpu-property.test.js', 'readme-examples.test.js']) assert.ok(gpu.includes(f), `${f} should run alone: ${gpu.join(' ')}`);
    for (const f of ['kernel-emulation.test.js', 'fault-injection.test.js', 'cpu-decode.test.js', 'packaging.test.js']) assert.ok(other.includes(f), `${f} needs no GPU: ${other.join(' ')}`);
  });

  test('an unknown argument, or --skip of a file that is not there, exits 2 and runs nothing', () => {
    for (const [args, reason] of [
      [['--bogus'], /unknown argument '--bogus'/],
      [['--skip'], /unknown argument '--skip'/],
      [['--skip', 'nope.test.js'], /--skip nope\.test\.js: no such test file/],
    ] as const) {
      const r = spawnSync(process.execPath, [script, ...args], { cwd: root, encoding: 'utf8' });
      assert.equal(r.status, 2, args.join(' '));
      assert.match(r.stderr, reason);
      assert.equal(r.stdout, '');
    }
  });

  test('--skip leaves a file out of the run', () => {
    const r = spawnSync(process.execPath, [script, '--gpu-only', '--skip', 'readme-examples.test.js', '--list'], { cwd: root, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /readme-examples\.test\.js/);
    assert.match(r.stdout, /gpu-decode\.test\.js/);
    assert.match(r.stdout, /side by side: $/m, '--gpu-only lists no other files');
  });
});
