// The backend interface (src/backend.ts) is the only door between the API and the devices. These rules are
// checked on the sources' import statements (static `import … from '…'`, `export … from '…'` and bare
// `import '…'`, type-only imports included: a type import today is a value import tomorrow).
//
//  1. src/cpu/ (the float64 oracle) reaches nothing under src/cuda/ and not koffi, directly or transitively.
//  2. A module under src/mla/ (API, validation, scheduler) imports only src/mla/, src/util/ and the core
//     modules below the API: errors.ts, dtype.ts, tensor.ts, backend.ts and capture.ts (the capture flag: the
//     API skips its value checks while a graph is captured). Never kvcache/, cpu/, cuda/, bench/.
//     That core imports only itself and src/util/ (nothing of the API, kvcache or backends is below it).
//  3. koffi is imported only under src/cuda/.
//  5. The float64 reference (src/check/) reaches neither backend (src/cpu/, src/cuda/) nor the API: it must not
//     share the data flow of what it checks.
//  4. The library core (every module but src/cuda/, the entry point and the tools) reaches neither src/cuda/
//     nor koffi, directly or transitively: tensors, the KV cache and the API use devices through
//     getBackend(). Only src/index.ts (registers the backends, re-exports the cuda-only API: captureGraph,
//     cudaAvailable, selectKernels…) and the cuda tools listed in TOOLS_USING_CUDA import src/cuda/ directly.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Tools that measure the cuda device itself and so import src/cuda/ directly: the CLI's device report
 * (`flash-mla info`) and the bench's event timing and tensor-core peak. Nothing of the library imports them.
 */
const TOOLS_USING_CUDA = ['src/cli.ts', 'src/bench/run.ts', 'src/bench/peak.ts'];

/** Core modules below the API that src/mla/ may use. */
const MLA_MAY_IMPORT = ['src/errors.ts', 'src/dtype.ts', 'src/tensor.ts', 'src/backend.ts', 'src/capture.ts'];

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
    const p = posix.join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out.sort();
}

/** Module specifiers of a source file's static imports and re-exports. */
function importSpecifiers(text: string): string[] {
  const noComments = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const specs: string[] = [];
  const re = /(?:^|[;\s])(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,$]+?\s+from\s+)?['"]([^'"]+)['"]/g;
  for (const m of noComments.matchAll(re)) specs.push(m[1]);
  const dynamic = /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g;
  for (const m of noComments.matchAll(dynamic)) specs.push(m[1]);
  return specs;
}

/** A specifier → repo-relative .ts path (relative imports) or the package name (bare imports). */
function resolve(from: string, spec: string): string {
  if (!spec.startsWith('.')) return spec.startsWith('node:') ? spec : spec.split('/')[0];
  const p = posix.normalize(posix.join(posix.dirname(from), spec));
  return p.replace(/\.js$/, '.ts');
}

const files = sourceFiles('src');
const graph = new Map<string, string[]>(files.map((f) => [f, importSpecifiers(readFileSync(join(root, f), 'utf8')).map((s) => resolve(f, s))]));

/** Every module `start` reaches, with one import chain to each. */
function reach(start: string): Map<string, string[]> {
  const seen = new Map<string, string[]>([[start, [start]]]);
  const queue = [start];
  while (queue.length) {
    const f = queue.shift()!;
    for (const d of graph.get(f) ?? []) {
      if (seen.has(d)) continue;
      seen.set(d, [...seen.get(f)!, d]);
      if (graph.has(d)) queue.push(d);
    }
  }
  return seen;
}

const isCuda = (m: string) => m.startsWith('src/cuda/') || m === 'koffi';

test('the import parser sees every kind of import (and resolves each relative one to a source file)', () => {
  const text = `// import x from 'commented';
import { a, b } from './a.js';
import type { T } from '../b.js';
import './side.js';
export { c } from './c.js';
export * from './d.js';
import koffi from 'koffi';
import {
  multi,
  line,
} from './e.js';
const m = await import('./f.js');`;
  assert.deepEqual(importSpecifiers(text), ['./a.js', '../b.js', './side.js', './c.js', './d.js', 'koffi', './e.js', './f.js']);
  assert.ok(files.length > 30, `found only ${files.length} sources`);
  for (const [f, deps] of graph) {
    for (const d of deps) if (d.startsWith('src/')) assert.ok(existsSync(join(root, d)), `${f} imports ${d}, which is not a source file`);
  }
  // the parser finds what we know is there
  assert.ok(graph.get('src/index.ts')!.includes('src/cpu/mla.ts'));
  assert.ok(graph.get('src/cuda/driver.ts')!.includes('koffi'));
});

test('src/cpu/ reaches neither src/cuda/ nor koffi, directly or transitively', () => {
  for (const f of files.filter((f) => f.startsWith('src/cpu/'))) {
    for (const [m, chain] of reach(f)) assert.ok(!isCuda(m), `${chain.join(' → ')}`);
  }
});

test('src/mla/ imports only src/mla/, src/util/ and the core below the API', () => {
  for (const f of files.filter((f) => f.startsWith('src/mla/'))) {
    for (const d of graph.get(f)!) {
      const ok = d.startsWith('src/mla/') || d.startsWith('src/util/') || MLA_MAY_IMPORT.includes(d) || d.startsWith('node:');
      assert.ok(ok, `${f} imports ${d}`);
    }
  }
});

test('the core below the API imports only itself and src/util/', () => {
  for (const f of [...MLA_MAY_IMPORT, ...files.filter((f) => f.startsWith('src/util/'))]) {
    for (const d of graph.get(f)!) {
      assert.ok(MLA_MAY_IMPORT.includes(d) || d.startsWith('src/util/') || d.startsWith('node:'), `${f} imports ${d}`);
    }
  }
});

test('src/check/ (the float64 reference) reaches neither backend nor the API', () => {
  const checked = files.filter((f) => f.startsWith('src/check/'));
  assert.ok(checked.length > 0);
  for (const f of checked) {
    for (const [m, chain] of reach(f)) {
      const bad = m.startsWith('src/cpu/') || m.startsWith('src/kvcache/') || isCuda(m) || (m.startsWith('src/mla/') && m !== 'src/mla/constants.ts');
      assert.ok(!bad, chain.join(' → '));
    }
  }
});

test('koffi is imported only under src/cuda/', () => {
  for (const [f, deps] of graph) if (deps.includes('koffi')) assert.ok(f.startsWith('src/cuda/'), `${f} imports koffi`);
});

test('the library core reaches the devices only through the backend interface', () => {
  const entryAndTools = ['src/index.ts', ...TOOLS_USING_CUDA];
  for (const f of files) {
    if (f.startsWith('src/cuda/')) continue;
    const direct = graph.get(f)!.filter(isCuda);
    if (entryAndTools.includes(f)) continue;
    assert.deepEqual(direct, [], `${f} imports the cuda backend directly (use getBackend() from src/backend.ts)`);
    if (f.startsWith('src/bench/')) continue; // the bench's own modules may import bench/run.ts (a tool)
    for (const [m, chain] of reach(f)) assert.ok(!isCuda(m), `${chain.join(' → ')}`);
  }
  // the exceptions are real (a stale entry would hide a new one)
  for (const f of TOOLS_USING_CUDA) assert.ok(graph.get(f)?.some(isCuda), `${f} no longer imports src/cuda/: drop it from TOOLS_USING_CUDA`);
  // and nothing of the library imports the tools
  for (const [f, deps] of graph) {
    if (f === 'src/cli.ts' || f.startsWith('src/bench/')) continue;
    for (const d of deps) assert.ok(d !== 'src/cli.ts' && !d.startsWith('src/bench/'), `${f} imports the tool ${d}`);
  }
});
