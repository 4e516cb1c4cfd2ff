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
//     cudaAvailable, selectKernels…) imports src/cuda/ directly. The tools (src/cli.ts, src/bench/) use the
//     library as its users do: through the entry point, getBackend() and, to time and describe the device,
//     getDeviceMeasure() (src/backend.ts: the event timer, copy bandwidth, tensor-core probe, device record and
//     kernel report live in src/cuda/measure.ts). They import neither src/cuda/ nor koffi, and reach them only
//     through src/index.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** The entry point: registers the backends and re-exports the cuda-only API. */
const ENTRY = 'src/index.ts';

/**
 * Tools allowed to import src/cuda/ directly: none. The CLI's device report (`flash-mla info`) and the bench's
 * event timing, copy bandwidth and tensor-core peak go through getDeviceMeasure() (src/cuda/measure.ts). A module
 * named here must import src/cuda/ (a stale entry would hide a new one).
 */
const TOOLS_USING_CUDA: readonly string[] = [];

/** The tools: the `flash-mla` CLI and the bench. Nothing of the library imports them. */
const isTool = (f: string) => f === 'src/cli.ts' || f.startsWith('src/bench/');

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

/** Every module `start` reaches, with one import chain to each; the imports of `stopAt` are not followed. */
function reach(start: string, stopAt: readonly string[] = []): Map<string, string[]> {
  const seen = new Map<string, string[]>([[start, [start]]]);
  const queue = [start];
  while (queue.length) {
    const f = queue.shift()!;
    for (const d of graph.get(f) ?? []) {
      if (seen.has(d)) continue;
      seen.set(d, [...seen.get(f)!, d]);
      if (graph.has(d) && !stopAt.includes(d)) queue.push(d);
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

test('the library core and the tools reach the devices only through the backend interface', () => {
  for (const f of files) {
    if (f.startsWith('src/cuda/') || f === ENTRY || TOOLS_USING_CUDA.includes(f)) continue;
    const direct = graph.get(f)!.filter(isCuda);
    const door = isTool(f) ? 'getBackend() or getDeviceMeasure()' : 'getBackend()';
    assert.deepEqual(direct, [], `${f} imports the cuda backend directly (use ${door} from src/backend.ts)`);
    // a tool may import the entry point (which registers the backends); the library core may not
    for (const [m, chain] of reach(f, isTool(f) ? [ENTRY] : [])) assert.ok(!isCuda(m), `${chain.join(' → ')}`);
  }
  // the exceptions are real (a stale entry would hide a new one)
  for (const f of TOOLS_USING_CUDA) assert.ok(graph.get(f)?.some(isCuda), `${f} no longer imports src/cuda/: drop it from TOOLS_USING_CUDA`);
  // the tools do reach the devices, through the entry point only (so the check above is not vacuous)
  for (const f of ['src/cli.ts', 'src/bench/run.ts']) {
    assert.ok([...reach(f).keys()].some(isCuda), `${f} no longer reaches src/cuda/ at all`);
    assert.ok(graph.get(f)!.includes(ENTRY), `${f} does not import ${ENTRY}`);
  }
  // and nothing of the library imports the tools
  for (const [f, deps] of graph) {
    if (isTool(f)) continue;
    for (const d of deps) assert.ok(!isTool(d), `${f} imports the tool ${d}`);
  }
});
