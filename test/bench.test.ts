// The pure parts of `flash-mla bench`: FlashMLA's formulas, config loading and selectors (the sweep and the
// serving set), the problem and its check, peer comparisons and their geomeans, the JSON result schema (a real
// cpu run of one tiny config; older results still read), the SVG roofline, output paths, and CLI runs. The
// sparse set and the FP8 cache (--kv fp8): their formulas, problems and checks, a cpu run of sparse-small, and
// configs a backend refuses (a fake refusal on the cpu backend): reported as skipped, exit status 0.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  configBytes, configFlops, decodeBytes, decodeFlops, gbps, maxGatheredTokens, median, ridgeIntensity, roofline, rooflineFraction, sparseBytes, sparseFlops, summarize, tflops,
} from '../src/bench/metrics.js';
import {
  configFromJson, configKey, configLabel, loadConfigFile, otherKvKey, referenceCardFor, loadReference, selectConfigs, servingConfigs, shippedData, shippedReference, smallConfigs, sparseConfigs,
  sparseSmallConfigs, sweepConfigs, tinyConfigs, withKvFormat, withKvPages, type BenchConfig, type ReferenceSeries,
} from '../src/bench/configs.js';
import {
  cachePages, checkSamples, decodeFp8Token, makeBenchProblem, makeSparseBenchProblem, pickSamples, problemFootprint, sparseReferenceRow,
} from '../src/bench/problem.js';
import { fmtRatio, formatGeomeans, formatReport, formatTable, validateBenchResult, type BenchResult, type BenchRow } from '../src/bench/report.js';
import { geomean, isMemoryBoundShape, PeerIndex, referenceSeriesLabel, summarizeRatios } from '../src/bench/compare.js';
import { outputPathProblem, writeOutputs } from '../src/bench/output.js';
import { escapeXml, rooflineSvg, rooflineSvgFromResult } from '../src/bench/svg.js';
import { checkConfigsFit, estimateCpuSeconds, measureCpuPeak, runBench } from '../src/bench/run.js';
import { fromHalfBits, toHalfBits } from '../src/dtype.js';
import { dequantizeKvFp8, flashMlaWithKvcache, getBackend, getMlaMetadata, Tensor, UnsupportedFeatureError } from '../src/index.js';
import type { DecodeFeatures } from '../src/backend.js';
import { gpuSkipReason, referenceRow } from './util/problem.js';

const ANCHORS = ['/work/shared/reference/anchors-h100.json', '/work/shared/reference/anchors-h200.json'];
const SERVING = '/work/shared/reference/serving-configs.json';
const RUNS = fileURLToPath(new URL('../../docs/runs/', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'flash-mla-bench-'));

// ---------------------------------------------------------------------------------------------- formulas

test('flops and bytes match the anchors for all 32 configs', () => {
  const configs = sweepConfigs();
  assert.equal(configs.length, 32);
  const shipped = shippedData().configs;
  configs.forEach((c, i) => {
    assert.equal(decodeFlops(c), shipped[i].flops, `${c.id} flops`);
    assert.equal(decodeBytes(c), shipped[i].bytes, `${c.id} bytes`);
  });
  for (const path of ANCHORS.filter((p) => existsSync(p))) {
    const a = JSON.parse(readFileSync(path, 'utf8')) as { configs: Array<{ flops: number; bytes: number; seqlens: number[] }> };
    assert.equal(a.configs.length, 32);
    a.configs.forEach((c, i) => {
      assert.deepEqual(c.seqlens, configs[i].seqlens, `${path} config ${i} seqlens`);
      assert.equal(decodeFlops(configs[i]), c.flops, `${path} config ${i} flops`);
      assert.equal(decodeBytes(configs[i]), c.bytes, `${path} config ${i} bytes`);
    });
  }
});

test('TFLOPS and GB/s reproduce the anchors\' per-peer numbers from their ms', () => {
  const configs = sweepConfigs();
  for (const card of ['h100', 'h200']) {
    const ref = shippedReference(card);
    ref.results.forEach((r, i) => {
      for (const [peer, m] of Object.entries(r)) {
        const f = decodeFlops(configs[i]);
        const b = decodeBytes(configs[i]);
        // the anchors round ms to 4 digits and the rates to integers
        assert.ok(Math.abs(tflops(f, m.ms) - m.TFLOPS) <= 1 + 1e-3 * m.TFLOPS, `${card} ${i} ${peer} TFLOPS ${tflops(f, m.ms)} vs ${m.TFLOPS}`);
        assert.ok(Math.abs(gbps(b, m.ms) - m.GBps) <= 1 + 1e-3 * m.GBps, `${card} ${i} ${peer} GB/s ${gbps(b, m.ms)} vs ${m.GBps}`);
      }
    });
  }
});

test('roofline floor, fraction and bound', () => {
  const c = { bandwidthGBps: 3000, peakTflops: 600 };
  assert.equal(ridgeIntensity(c), 200);
  // memory-bound: 3e9 bytes at 3000 GB/s = 1 ms; 3e11 flops at 600 TFLOPS = 0.5 ms
  let r = roofline(3e11, 3e9, c);
  assert.equal(r.bound, 'memory');
  assert.ok(Math.abs(r.floorMs - 1) < 1e-12);
  assert.ok(Math.abs(r.attainableTflops - 300) < 1e-9);
  assert.ok(Math.abs(rooflineFraction(3e11, 3e9, 2, c) - 0.5) < 1e-12);
  // compute-bound
  r = roofline(1.2e12, 3e9, c);
  assert.equal(r.bound, 'compute');
  assert.ok(Math.abs(r.floorMs - 2) < 1e-12);
  // no peak: memory alone
  r = roofline(1.2e12, 3e9, { bandwidthGBps: 3000, peakTflops: null });
  assert.equal(r.bound, 'memory');
  assert.equal(r.computeMs, null);
  assert.equal(ridgeIntensity({ bandwidthGBps: 1, peakTflops: null }), null);
  // FlashMLA's sweep config 30 on the H100 anchors: compute-bound at 735 TFLOPS / 3010 GB/s
  const cfg = sweepConfigs()[30];
  assert.equal(roofline(decodeFlops(cfg), decodeBytes(cfg), { bandwidthGBps: 3010, peakTflops: 735 }).bound, 'compute');
  assert.equal(roofline(decodeFlops(sweepConfigs()[0]), decodeBytes(sweepConfigs()[0]), { bandwidthGBps: 3010, peakTflops: 735 }).bound, 'memory');
});

test('median and summary', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.throws(() => median([]), RangeError);
  const s = summarize([5, 1, 4, 2, 3]);
  assert.deepEqual([s.median, s.min, s.max], [3, 1, 5]);
  assert.ok(s.iqrRel >= 0);
});

// ---------------------------------------------------------------------------------------------- configs

test('the shipped sweep is FlashMLA\'s: b 128, s 4096/8192, h_q 16..128, s_q 1/2, fixed and variable, causal bf16', () => {
  const cs = sweepConfigs();
  assert.deepEqual([...new Set(cs.map((c) => c.s))], [4096, 8192]);
  assert.deepEqual([...new Set(cs.map((c) => c.h_q))], [16, 32, 64, 128]);
  assert.deepEqual([...new Set(cs.map((c) => c.s_q))], [1, 2]);
  for (const c of cs) {
    assert.equal(c.b, 128);
    assert.equal(c.seqlens.length, 128);
    assert.equal(c.causal, true);
    assert.equal(c.dtype, 'bf16');
    if (!c.varlen) assert.ok(c.seqlens.every((x) => x === c.s));
    else assert.ok(new Set(c.seqlens).size > 10);
  }
  assert.equal(cs.filter((c) => c.varlen).length, 16);
  assert.equal(new Set(cs.map(configKey)).size, 32);
});

test('selectors: sets, indices, ranges, filters', () => {
  assert.equal(selectConfigs(undefined, 'sweep').configs.length, 32);
  assert.equal(selectConfigs('', 'small').configs.length, 8);
  assert.equal(selectConfigs('all', 'sweep').configs.length, 32);
  assert.equal(selectConfigs('tiny', 'sweep').configs.length, 1);
  assert.deepEqual(selectConfigs('0,3,5', 'sweep').configs.map((c) => c.id), ['sweep#0', 'sweep#3', 'sweep#5']);
  assert.deepEqual(selectConfigs('small:2-4', 'sweep').configs.map((c) => c.id), ['small#2', 'small#3', 'small#4']);
  const h16 = selectConfigs('h_q=16,s_q=1', 'sweep').configs;
  assert.equal(h16.length, 4);
  assert.ok(h16.every((c) => c.h_q === 16 && c.s_q === 1));
  const or = selectConfigs('h_q=16,h_q=128,s=8192,fixed', 'sweep').configs;
  assert.equal(or.length, 4);
  assert.ok(or.every((c) => (c.h_q === 16 || c.h_q === 128) && c.s === 8192 && !c.varlen));
  assert.equal(selectConfigs('varlen=true', 'sweep').configs.length, 16);
  assert.deepEqual(selectConfigs('0-15,h_q=128', 'sweep').configs.map((c) => c.id), ['sweep#12', 'sweep#13', 'sweep#14', 'sweep#15']);
  assert.throws(() => selectConfigs('32', 'sweep'), /out of range/);
  assert.throws(() => selectConfigs('hq=16', 'sweep'), /unknown key/);
  assert.throws(() => selectConfigs('h_q=17', 'sweep'), /selects no config/);
  assert.throws(() => selectConfigs('bogus:1', 'sweep'), /unknown set/);
  assert.throws(() => selectConfigs('3-1', 'sweep'), /empty/);
  assert.throws(() => selectConfigs('/nonexistent/x.json', 'sweep'), /no such file/);
});

test('config files in the anchors format', () => {
  const path = join(tmp, 'configs.json');
  writeFileSync(path, JSON.stringify({
    configs: [
      { b: 3, s: 100, h_q: 16, s_q: 2, varlen: false },
      { b: 4, s: 256, h_q: 128, s_q: 1, varlen: true },
      { b: 2, s: 60, h_q: 16, s_q: 1, varlen: true, seqlens: [50, 70], flops: 1, flashmla: { ms: 1 } },
    ],
  }));
  const sel = selectConfigs(path, 'sweep');
  assert.equal(sel.configs.length, 3);
  assert.deepEqual(sel.configs[0].seqlens, [100, 100, 100]);
  assert.equal(sel.configs[1].seqlens.length, 4);
  assert.ok(sel.configs[1].seqlens.every((x) => x >= 1));
  assert.deepEqual(sel.configs[1].seqlens, loadConfigFile(path)[1].seqlens, 'generated variable lengths are deterministic');
  assert.deepEqual(sel.configs[2].seqlens, [50, 70]);
  assert.equal(sel.configs[2].causal, true);
  assert.throws(() => configFromJson({ b: 2, h_q: 16, s_q: 1, seqlens: [1, 2, 3] }, 'x'), /b = 2 but 3 seqlens/);
  assert.throws(() => configFromJson({ b: 2, s: 4, h_q: 0, s_q: 1 }, 'x'), /h_q/);
  assert.throws(() => configFromJson({ h_q: 16, s_q: 1 }, 'x'), /b and s/);
  for (const p of ANCHORS.filter((x) => existsSync(x))) {
    assert.deepEqual(loadConfigFile(p).map((c) => c.seqlens), sweepConfigs().map((c) => c.seqlens));
  }
});

test('reference series: shipped anchors and anchors files', () => {
  const series = loadReference('h100');
  const fm = series.find((s) => s.name.startsWith('FlashMLA 9edee0c'));
  assert.ok(fm);
  assert.equal(fm.points.length, 32);
  assert.equal(fm.points[0].ms, 0.2311);
  assert.equal(loadReference('h200', ['fa3']).length, 1);
  assert.throws(() => loadReference('a100'), /no shipped measurements/);
  for (const p of ANCHORS.filter((x) => existsSync(x))) {
    const s = loadReference(p);
    assert.ok(s.length >= 3);
    assert.equal(s[0].points.length, 32);
  }
});

test('small cpu sweep: b 4, seqlens 84..1000, h_q 16/128, s_q 1/2, fixed and variable', () => {
  const cs = smallConfigs();
  assert.equal(cs.length, 8);
  assert.deepEqual([...new Set(cs.map((c) => c.h_q))], [16, 128]);
  assert.deepEqual([...new Set(cs.map((c) => c.s_q))], [1, 2]);
  assert.ok(cs.every((c) => c.b === 4 && c.seqlens.reduce((a, x) => a + x, 0) === 2048));
});

test('serving set: S1–S12 with their exact shapes, seqlens and H200 peer times, selectable by name', () => {
  const cs = servingConfigs();
  assert.equal(cs.length, 12);
  assert.deepEqual(cs.map((c) => c.name?.split(' ')[0]), Array.from({ length: 12 }, (_, i) => `S${i + 1}`));
  const shipped = shippedData().serving.configs;
  cs.forEach((c, i) => {
    assert.equal(c.id, `serving#${i}`);
    assert.equal(c.seqlens.length, c.b);
    assert.equal(decodeFlops(c), shipped[i].flops, `${c.name} flops`);
    assert.equal(decodeBytes(c), shipped[i].bytes, `${c.name} bytes`);
  });
  if (existsSync(SERVING)) {
    const src = JSON.parse(readFileSync(SERVING, 'utf8')) as { configs: Array<BenchConfig & { flops: number; bytes: number; h200: Record<string, number> }> };
    const h200 = shippedData().serving.reference.h200.results;
    src.configs.forEach((c, i) => {
      for (const k of ['name', 'b', 's', 'h_q', 's_q', 'varlen', 'causal', 'dtype'] as const) assert.equal(cs[i][k], c[k], `${c.name} ${k}`);
      assert.deepEqual(cs[i].seqlens, c.seqlens);
      assert.equal(decodeFlops(cs[i]), c.flops);
      assert.equal(decodeBytes(cs[i]), c.bytes);
      assert.deepEqual(h200[i], { flashmla: { ms: c.h200.flashmla_ms }, flashmla_with_metadata: { ms: c.h200.flashmla_with_metadata_ms }, fa3: { ms: c.h200.fa3_ms } });
    });
    // the reference file itself loads as a config file, names included
    assert.deepEqual(loadConfigFile(SERVING).map((c) => c.name), cs.map((c) => c.name));
  }
  // no serving config is a sweep config: references match by workload
  assert.equal(new Set([...sweepConfigs(), ...cs].map(configKey)).size, 44);
  assert.equal(selectConfigs('serving', 'sweep').configs.length, 12);
  assert.deepEqual(selectConfigs('serving:S1,s7', 'sweep').configs.map((c) => c.id), ['serving#0', 'serving#6']);
  assert.deepEqual(selectConfigs('serving:0-1', 'sweep').configs.map((c) => c.name?.split(' ')[0]), ['S1', 'S2']);
  assert.throws(() => selectConfigs('serving:S13', 'sweep'), /config name \(S1-S12\)/);
  assert.throws(() => selectConfigs('sweep:0,serving:S1', 'sweep'), /a selector picks from one set \('sweep' here\)/);
  assert.equal(configLabel(cs[0]), 'S1 b1 s16384 h128 q1 fix');
  assert.equal(configLabel(sweepConfigs()[0]), 'b128 s4096 h16 q1 fix');
  // --reference h200 covers the serving configs (h100 has no serving times)
  const h200 = loadReference('h200');
  assert.deepEqual(h200.map((x) => x.peer), ['flashmla', 'flashmla_with_metadata', 'fa3']);
  for (const series of h200) assert.equal(series.points.length, 32 + 12, series.name);
  const s1 = h200.find((x) => x.peer === 'fa3')?.points.find((p) => p.key === configKey(cs[0]));
  assert.equal(s1?.ms, 0.0363);
  assert.equal(s1?.label, 'S1 b1 s16384 h128 q1 fix');
  const servingKeys = new Set(cs.map(configKey));
  assert.ok(loadReference('h100').every((x) => x.points.length <= 32 && x.points.every((p) => !servingKeys.has(p.key))));
});

// ---------------------------------------------------------------------------------------------- peers, ratios, geomeans

/** A row of a fake result: what the comparison code reads. */
function fakeRow(config: BenchConfig, kernel: string, ms: number, mdMs: number): BenchRow {
  const { id, ...cfg } = config;
  const flops = decodeFlops(config);
  const bytes = decodeBytes(config);
  return {
    id, config: cfg, kernel, ms, timesMs: [ms], mdMs, mdTimesMs: [mdMs], minMs: ms, maxMs: ms, iqrRel: 0, flops, bytes, intensity: flops / bytes,
    TFLOPS: tflops(flops, ms), GBps: gbps(bytes, ms), floorMs: ms / 2, rooflineFraction: 0.5, bound: 'memory', check: null,
  };
}

function fakeResult(rows: BenchRow[], kernels: string[], references: string[] = []): BenchResult {
  return {
    schema: 'flash-mla-bench/2', tool: { name: 'flash-mla', version: '0' }, date: '2026-12-01T00:00:00.000Z', backend: 'cuda', label: 'test', references,
    device: { kind: 'gpu', name: 'NVIDIA H200', driverVersion: '13.0', nvidiaDriver: null, computeCapability: '9.0', smCount: 132, memoryBytes: 1, l2CacheBytes: 1 },
    host: { node: 'v20', platform: 'linux', arch: 'x64', cpuModel: 'x', cpus: 1 },
    settings: { configs: 'test', kernels, iters: 1, warmup: 0, seed: 0, timer: 't', timed: 't', l2Flush: 'none', checkSamples: 0 },
    ceilings: { bandwidthGBps: { value: 4000, source: 'user', method: 'x' }, peakTflops: { value: 700, source: 'user', method: 'x' } },
    rows, summary: { ratios: summarizeRatios(rows, kernels) }, totalSeconds: 1,
  };
}

test('peers: FlashMLA, the best of FlashMLA and FA3 (never FlashMLA + metadata), FlashMLA + metadata against +md ms', () => {
  const [s1, s2, s3] = servingConfigs(); // S1: FA3 faster; S2: FA3 faster; S3: FA3 faster
  const sweep0 = sweepConfigs()[0]; // h200: FA3 0.1574 < FlashMLA 0.1653
  const sweep12 = sweepConfigs()[12]; // h200: FlashMLA faster than FA3
  const peers = new PeerIndex(loadReference('h200'));
  const p = peers.compare(s1, 0.05, 0.06);
  assert.ok(p?.flashmla && p.best && p.flashmlaWithMetadata);
  assert.deepEqual([p.flashmla.ms, p.flashmla.speedup], [0.0563, 0.0563 / 0.05]);
  assert.deepEqual([p.best.peer, p.best.ms, p.best.speedup], ['fa3', 0.0363, 0.0363 / 0.05]);
  assert.deepEqual([p.flashmlaWithMetadata.ms, p.flashmlaWithMetadata.speedup], [0.0654, 0.0654 / 0.06]);
  const r12 = shippedReference('h200').results[12];
  assert.ok(r12.flashmla.ms < r12.fa3.ms);
  assert.equal(peers.compare(sweep12, 1, 1)?.best?.peer, 'flashmla');
  assert.equal(peers.compare(sweep0, 1, 1)?.best?.peer, 'fa3');
  // flashmla_with_metadata never is the best peer, even where it is the fastest series
  const fake: ReferenceSeries[] = [
    { name: 'FM', peer: 'flashmla', points: [{ key: configKey(s2), label: '', flops: 1, bytes: 1, ms: 2 }] },
    { name: 'FM+md', peer: 'flashmla_with_metadata', points: [{ key: configKey(s2), label: '', flops: 1, bytes: 1, ms: 0.5 }] },
    { name: 'FA3', peer: 'fa3', points: [{ key: configKey(s3), label: '', flops: 1, bytes: 1, ms: 3 }] },
  ];
  const f = new PeerIndex(fake);
  assert.equal(f.compare(s2, 1, 1)?.best?.peer, 'flashmla');
  assert.equal(f.compare(s3, 1, 1)?.best?.peer, 'fa3');
  assert.equal(f.compare(s3, 1, 1)?.flashmla, undefined);
  assert.equal(f.compare(tinyConfigs()[0], 1, 1), undefined);
  // a reference run (no peer ids): `reference` only
  const run: ReferenceSeries[] = [{ name: 'hopper · H100 2026-11-28', points: [{ key: configKey(s2), label: '', flops: 1, bytes: 1, ms: 2 }] }];
  assert.equal(new PeerIndex(run).compare(s2, 1, 1), undefined);
  assert.deepEqual(new PeerIndex(run).reference(s2, 1), { series: 'hopper · H100 2026-11-28', ms: 2, speedup: 2 });
});

test('--reference of a run whose rows ran on several kernels (the default selection): each row takes the time of the kernel that measured its workload', () => {
  const [s1, s2, s3, s4] = servingConfigs();
  const row = (c: (typeof s1), kernel: string, ms: number) => ({ config: c, kernel, ms, flops: 1, bytes: 1 });
  const file = join(tmp, 'reference-run-warm.json'), other = join(tmp, 'reference-run-other.json');
  // S1 and S3 on 'hopper', S2 on 'hopper-small', S3 also on 'hopper-small' (a --kernel a,b run: the first kernel's time)
  writeFileSync(file, JSON.stringify({ date: '2026-12-08T00:00:00Z', device: { name: 'H100' }, rows: [row(s1, 'hopper', 2), row(s2, 'hopper-small', 4), row(s3, 'hopper', 6), row(s3, 'hopper-small', 7)] }));
  writeFileSync(other, JSON.stringify({ device: { name: 'H200' }, rows: [row(s4, 'hopper-small', 8)] }));
  const refs = [...loadReference(file), ...loadReference(other)];
  assert.deepEqual(refs.map((s) => s.name), ['hopper · H100 2026-12-08', 'hopper-small · H100 2026-12-08', 'hopper-small · H200']);
  const idx = new PeerIndex(refs);
  assert.deepEqual(idx.reference(s1, 1), { series: 'hopper · H100 2026-12-08', ms: 2, speedup: 2 });
  assert.deepEqual(idx.reference(s2, 1), { series: 'hopper-small · H100 2026-12-08', ms: 4, speedup: 4 });
  assert.deepEqual(idx.reference(s3, 2), { series: 'hopper · H100 2026-12-08', ms: 6, speedup: 3 });
  // a row of a kernel the run measured the workload on takes that kernel's time (--kernel a,b against --kernel a,b)
  assert.deepEqual(idx.reference(s3, 7, 'hopper-small'), { series: 'hopper-small · H100 2026-12-08', ms: 7, speedup: 1 });
  assert.deepEqual(idx.reference(s2, 1, 'hopper'), { series: 'hopper-small · H100 2026-12-08', ms: 4, speedup: 4 });
  // the other cache format's fallback searches every kernel of the run too
  assert.deepEqual(idx.reference(withKvFormat([s2], 'fp8')[0], 1), { series: 'hopper-small · H100 2026-12-08 (16-bit cache)', ms: 4, speedup: 4 });
  // a second reference file is not the first run: its rows never stand in
  assert.equal(idx.reference(s4, 1), undefined);
  // the legend names every series the rows' times came from
  const rows = [s1, s2, s3].map((c) => ({ reference: idx.reference(c, 1) }) as unknown as BenchRow);
  assert.equal(referenceSeriesLabel(rows), 'hopper · H100 2026-12-08 / hopper-small · H100 2026-12-08');
});

test('geomeans: per kernel and ratio, all rows and split at h_q·s_q ≤ 64; kernel ratios config by config', () => {
  assert.equal(geomean([]), null);
  assert.deepEqual([fmtRatio(1.016), fmtRatio(3.24e-5), fmtRatio(0), fmtRatio(undefined)], ['1.02×', '3.2e-5×', '0.00×', '-']);
  assert.ok(Math.abs((geomean([2, 0.5]) as number) - 1) < 1e-12);
  assert.ok(Math.abs((geomean([1, 4]) as number) - 2) < 1e-12);
  assert.equal(isMemoryBoundShape({ h_q: 64, s_q: 1 }), true);
  assert.equal(isMemoryBoundShape({ h_q: 64, s_q: 2 }), false);
  const refs = loadReference('h200');
  const peers = new PeerIndex(refs);
  const configs = servingConfigs(); // memory-bound: S2, S3, S4, S5, S7, S10, S11; the rest compute-bound
  const rows: BenchRow[] = [];
  for (const c of configs) {
    const ref = shippedData().serving.reference.h200.results[Number(c.id.split('#')[1])];
    // kernel a: exactly FlashMLA's time (1×) on memory-bound configs, twice it on the others (0.5×); b: half a's
    const a = fakeRow(c, 'a', isMemoryBoundShape(c) ? ref.flashmla.ms : 2 * ref.flashmla.ms, ref.flashmla_with_metadata.ms);
    a.peers = peers.compare(c, a.ms, a.mdMs);
    const b = fakeRow(c, 'b', a.ms / 2, a.mdMs as number);
    b.peers = peers.compare(c, b.ms, b.mdMs);
    b.vsKernel = { kernel: 'a', ms: a.ms, speedup: a.ms / b.ms };
    rows.push(a, b);
  }
  const ratios = summarizeRatios(rows, ['a', 'b']);
  assert.deepEqual(ratios.map((x) => `${x.kernel} ${x.ratio}`), ['a flashmla', 'a best', 'a flashmlaWithMetadata', 'b flashmla', 'b best', 'b flashmlaWithMetadata', 'b kernel']);
  const aFm = ratios[0];
  assert.equal(aFm.all?.n, 12);
  assert.equal(aFm.memoryBound?.n, 7);
  assert.equal(aFm.computeBound?.n, 5);
  assert.ok(Math.abs((aFm.memoryBound?.geomean as number) - 1) < 1e-12);
  assert.ok(Math.abs((aFm.computeBound?.geomean as number) - 0.5) < 1e-12);
  assert.ok(Math.abs((aFm.all?.geomean as number) - 0.5 ** (5 / 12)) < 1e-12);
  assert.ok(Math.abs((ratios[3].memoryBound?.geomean as number) - 2) < 1e-12);
  assert.ok(Math.abs((ratios[2].all?.geomean as number) - 1) < 1e-12, 'FM+md against +md ms');
  const kernelRatio = ratios[6];
  assert.equal(kernelRatio.versus, 'kernel a (this run)');
  assert.ok(Math.abs((kernelRatio.all?.geomean as number) - 2) < 1e-12);
  // best ≥ FlashMLA's ratio nowhere: the best peer is at least as fast as FlashMLA
  for (const r of rows) assert.ok((r.peers?.best?.speedup as number) <= (r.peers?.flashmla?.speedup as number) + 1e-12);

  const res = fakeResult(rows, ['a', 'b'], refs.map((x) => x.name));
  assert.deepEqual(validateBenchResult(JSON.parse(JSON.stringify(res))), []);
  const table = formatTable(res);
  assert.match(table[0], /^config\s+b\s+s\s+h_q\s+s_q\s+len\s+kernel\s+ms\s+\+md ms\s+TFLOPS\s+GB\/s\s+roof\s+bound\s+FM ms\s+vs FM\s+best ms\s+best\s+vs best\s+FM\+md ms\s+vs FM\+md\s+vs a\s+check$/);
  assert.ok(!/ref ms/.test(table[0]), 'no duplicate FlashMLA column');
  const s1b = table.find((l) => /^S1 .* b /.test(l)) as string;
  assert.match(s1b, /0\.0563\s+1\.00×\s+0\.0363\s+FA3\s+0\.64×\s+0\.0654\s+1\.00×\s+2\.00×/);
  assert.match(table.find((l) => /^S1 .* a /.test(l)) as string, /1\.00×\s+-\s+unchecked$/);
  const geo = formatGeomeans(res);
  assert.match(geo[0], /^geomean\s+all rows\s+h_q·s_q ≤ 64 \(memory-bound\)\s+h_q·s_q > 64 \(compute-bound\)$/);
  assert.match(geo.find((l) => l.startsWith('a vs FM ')) as string, /0\.75× \(12\)\s+1\.00× \(7\)\s+0\.50× \(5\)$/);
  assert.match(geo.find((l) => l.startsWith('b vs a ')) as string, /2\.00× \(12\)\s+2\.00× \(7\)\s+2\.00× \(5\)$/);
  const report = formatReport(res);
  assert.match(report, /best = per config the faster of FM and FA3 \(FA3 = FlashAttention-3 · NVIDIA H200 \(reference\)\); compared with ms/);
  assert.match(report, /FM\+md = FlashMLA \+ metadata · NVIDIA H200 \(reference\), get_mla_metadata inside every timed call; compared with \+md ms/);
  assert.match(report, /vs a = a's ms \/ this kernel's ms on the same config/);
  // a result without a summary (schema 1) gets its geomeans from the rows
  const { summary: _, ...old } = res;
  assert.deepEqual(formatGeomeans({ ...old, schema: 'flash-mla-bench/1' } as unknown as BenchResult), geo);
});

test('--metadata host results: the md host µs column after +md ms, the legend line, settings.metadata and mdHostUs validated', () => {
  const [s1, s2] = servingConfigs();
  const rows = [{ ...fakeRow(s1, 'hopper', 0.03, 0.032), mdHostUs: 4.25 }, { ...fakeRow(s2, 'hopper', 0.05, 0.052), mdHostUs: 12 }];
  const base = fakeResult(rows, ['hopper'], ['FlashMLA 9edee0c · NVIDIA H200 (reference)']);
  const res: BenchResult = { ...base, settings: { ...base.settings, metadata: 'host' } };
  assert.deepEqual(validateBenchResult(JSON.parse(JSON.stringify(res))), []);
  const table = formatTable(res);
  assert.match(table[0], /\s+ms\s+\+md ms\s+md host µs\s+TFLOPS\s/);
  assert.match(table.find((l) => l.startsWith('S1 ')) as string, /0\.0300\s+0\.0320\s+4\.3\s/);
  assert.match(table.find((l) => l.startsWith('S2 ')) as string, /0\.0500\s+0\.0520\s+12\.0\s/);
  assert.match(formatReport(res), /metadata from the host \(--metadata host\): .*md host µs = the host's time per metadata call/);
  // FlashMLA's +md times its metadata kernel on the GPU; ours then has none, and the legend says so
  const withPeer: BenchResult = { ...res, rows: [{ ...rows[0], peers: { flashmlaWithMetadata: { peer: 'flashmla', series: 'FM+md', ms: 0.0654, speedup: 0.0654 / 0.032 } } }, rows[1]] };
  assert.match(formatReport(withPeer), /FM\+md = FM\+md, get_mla_metadata inside every timed call; compared with \+md ms \(GPU time: ours has no metadata kernel, its host time is md host µs\)/);
  assert.doesNotMatch(formatReport({ ...withPeer, settings: base.settings, rows: withPeer.rows.map(({ mdHostUs: _, ...r }) => r) }), /GPU time: ours/);
  // the new fields agree with each other: a host time only in a cuda host run's dense rows, and on every one of them
  const invalid = (edit: (doc: BenchResult) => void) => {
    const doc = JSON.parse(JSON.stringify(res)) as BenchResult;
    edit(doc);
    return validateBenchResult(doc).join('\n');
  };
  assert.match(invalid((d) => delete d.rows[1].mdHostUs), /rows\[1\]\.mdHostUs: missing/);
  assert.match(invalid((d) => (d.settings.metadata = 'device')), /rows\[0\]\.mdHostUs: only on a dense row of a result with settings\.metadata 'host'/);
  assert.match(invalid((d) => delete d.settings.metadata), /rows\[0\]\.mdHostUs: only on/);
  assert.match(invalid((d) => (d.backend = 'cpu')), /settings\.metadata: only in a cuda result/);
  assert.doesNotMatch(formatReport(fakeResult([fakeRow(s1, 'hopper', 0.03, 0.032)], ['hopper'])), /md host µs|--metadata host/);
  const bad = JSON.parse(JSON.stringify(res));
  bad.settings.metadata = 'gpu';
  bad.rows[0].mdHostUs = -1;
  const errors = validateBenchResult(bad).join('\n');
  assert.match(errors, /settings\.metadata/);
  assert.match(errors, /rows\[0\]\.mdHostUs/);
});

test('results of schema 1 (docs/runs) still validate, format (with kernel ratios) and serve as a reference', () => {
  const files = existsSync(RUNS) ? readdirSync(RUNS).filter((f) => f.endsWith('.json')) : [];
  let schema1 = 0;
  for (const f of files) {
    const doc = JSON.parse(readFileSync(join(RUNS, f), 'utf8')) as BenchResult;
    assert.deepEqual(validateBenchResult(doc), [], f);
    assert.ok(loadReference(join(RUNS, f)).length >= 1);
    if (doc.schema !== 'flash-mla-bench/1') continue;
    schema1++;
    const text = formatReport(doc);
    if (doc.rows.some((r) => r.reference)) assert.match(text, /ref ms\s+vs ref/, f);
    if (doc.settings.kernels.length > 1) {
      const [a, b] = doc.settings.kernels;
      assert.match(text, new RegExp(`\\bvs ${a}\\s+check\\n`), f);
      assert.match(text, new RegExp(`^${b} vs ${a} +\\d\\.\\d\\d× \\(${doc.rows.length / 2}\\)`, 'm'), f);
    }
  }
  assert.ok(schema1 > 0, `no schema 1 results in ${RUNS}`);
});

// ---------------------------------------------------------------------------------------------- problem + check

test('problem: shuffled distinct blocks, NaN in unused slots, check catches wrong output', () => {
  const cfg = { id: 't', b: 3, s: 100, h_q: 16, s_q: 2, varlen: true, causal: true, dtype: 'bf16' as const, seqlens: [130, 0, 64] };
  const p = makeBenchProblem(cfg, 1234);
  const used = [3, 0, 1];
  const blocks = new Set<number>();
  for (let i = 0; i < 3; i++) for (let j = 0; j < used[i]; j++) blocks.add(p.table[i * p.maxBlocksPerSeq + j]);
  assert.equal(blocks.size, 4);
  assert.ok([...blocks].every((x) => x >= 0 && x < p.numBlocks));
  // request 0's third block holds tokens 128, 129 then NaN
  const blk = p.table[2];
  const nan = toHalfBits('bf16', NaN);
  assert.notEqual(p.kBits[(blk * 64 + 1) * 576], nan);
  assert.equal(p.kBits[(blk * 64 + 2) * 576], nan);
  // an empty request: out 0, lse +inf
  assert.equal(referenceRow(p, 1, 0, 0, cfg.causal).lse, Infinity);
  // the check against the exact reference passes, and fails on a perturbed element
  const out = new Uint16Array(3 * 2 * 16 * 512);
  const lse = new Float32Array(3 * 16 * 2);
  for (let i = 0; i < 3; i++) for (let s = 0; s < 2; s++) for (let h = 0; h < 16; h++) {
    const r = referenceRow(p, i, s, h, cfg.causal);
    for (let c = 0; c < 512; c++) out[((i * 2 + s) * 16 + h) * 512 + c] = toHalfBits('bf16', r.out[c]);
    lse[(i * 16 + h) * 2 + s] = r.lse;
  }
  const samples = pickSamples(p, 8);
  assert.equal(samples.length, 8);
  const ok = checkSamples(p, out, lse, samples);
  assert.ok(ok.ok, ok.message);
  const { i, s, h } = samples[0];
  out[((i * 2 + s) * 16 + h) * 512 + 7] = toHalfBits('bf16', 0.5);
  assert.equal(checkSamples(p, out, lse, samples).ok, false);
  out[((i * 2 + s) * 16 + h) * 512 + 7] = toHalfBits('bf16', referenceRow(p, i, s, h, cfg.causal).out[7]);
  out[5] = nan;
  const bad = checkSamples(p, out, lse, samples.slice(1));
  assert.equal(bad.ok, false);
  assert.equal(bad.nanOutputs, 1);
});

// ---------------------------------------------------------------------------------------------- a cpu run, JSON, SVG

let tinyResult: BenchResult | null = null;
async function tinyRun(): Promise<BenchResult> {
  tinyResult ??= await runBench({ backend: 'cpu', configs: tinyConfigs(), configsSource: 'tiny', iters: 2, seed: 7, references: loadReference('h100', ['flashmla']) });
  return tinyResult;
}

test('cpu run of one tiny config: valid JSON result, checked, both timings, a roofline fraction', async () => {
  const res = await tinyRun();
  const doc = JSON.parse(JSON.stringify(res)) as unknown;
  assert.deepEqual(validateBenchResult(doc), []);
  assert.equal(res.rows.length, 1);
  const row = res.rows[0];
  assert.equal(row.kernel, 'reference');
  assert.equal(row.timesMs.length, 2);
  assert.ok(row.check?.ok, row.check?.message);
  assert.equal(row.flops, decodeFlops(tinyConfigs()[0]));
  // no upper bound: the cpu compute ceiling is indicative (measureCpuPeak), a bound on it flaked
  assert.ok(row.rooflineFraction > 0 && Number.isFinite(row.rooflineFraction), String(row.rooflineFraction));
  assert.equal(row.mdTimesMs?.length, 2);
  assert.ok(row.mdMs !== undefined && row.mdMs > 0);
  assert.equal(res.schema, 'flash-mla-bench/3');
  assert.deepEqual(res.skipped, []);
  assert.match(res.settings.timed ?? '', /metadata \+ decode \+ combine/);
  assert.equal(res.ceilings.bandwidthGBps.source, 'measured');
  assert.match(res.label, /NOT a GPU measurement/);
  assert.equal(res.settings.seed, 7);
  assert.equal(row.reference, undefined, 'no reference point for a tiny config');
  assert.equal(row.peers, undefined);
  assert.deepEqual(res.summary, { ratios: [] });
  // the validator finds broken documents
  const broken = JSON.parse(JSON.stringify(res)) as Record<string, unknown> & { rows: Array<Record<string, unknown>> };
  delete broken.date;
  broken.rows[0].ms = -1;
  (broken.rows[0].config as Record<string, unknown>).seqlens = [1];
  const errs = validateBenchResult(broken);
  assert.ok(errs.some((e) => e.includes('result.date')));
  assert.ok(errs.some((e) => e.includes('rows[0].ms')));
  assert.ok(errs.some((e) => e.includes('seqlens')));
  assert.deepEqual(validateBenchResult(null), ['result: expected an object']);
  delete (broken.rows[0] as Record<string, unknown>).mdMs; // schema 2 requires the +md timing
  assert.ok(validateBenchResult(broken).some((e) => e.includes('rows[0].mdMs: missing')));
  // the table: header, rule, one line per row
  assert.equal(formatTable(res).length, 3);
  assert.match(formatTable(res)[0], /\bms  \+md ms\b/);
  assert.match(formatReport(res), /all ok/);
});

/** Minimal XML well-formedness: tags balance, attributes quoted, no stray '<' or '&'. */
function assertWellFormed(svg: string): Map<string, number> {
  const stack: string[] = [];
  const counts = new Map<string, number>();
  const body = svg.replace(/^<\?xml[^>]*\?>\s*/, '');
  const re = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/gy;
  let m: RegExpExecArray | null;
  let pos = 0;
  while (pos < body.length && (m = re.exec(body))) {
    pos = re.lastIndex;
    if (m[5] !== undefined) {
      assert.ok(!/&(?!(amp|lt|gt|quot|#39);)/.test(m[5]), `unescaped & in text: ${m[5].slice(0, 60)}`);
      continue;
    }
    const [, close, name, , self] = m;
    if (close) assert.equal(stack.pop(), name, `</${name}> closes the wrong element`);
    else {
      counts.set(name, (counts.get(name) ?? 0) + 1);
      if (!self) stack.push(name);
    }
  }
  assert.equal(pos, body.length, `cannot parse SVG at: ${body.slice(pos, pos + 80)}`);
  assert.deepEqual(stack, [], 'unclosed elements');
  return counts;
}

test('SVG roofline: well-formed, one labelled point per config, reference points, escaped text', async () => {
  const res = await tinyRun();
  const svg = rooflineSvgFromResult(res, loadReference('h100'));
  const counts = assertWellFormed(svg);
  assert.equal(counts.get('svg'), 1);
  assert.equal((svg.match(/class="point"/g) ?? []).length, 1);
  assert.match(svg, /data-label="98 h16 q2 var"/);
  assert.ok((svg.match(/class="ref-point"/g) ?? []).length >= 32 * 3);
  assert.match(svg, /class="ceiling-memory"/);
  assert.match(svg, /class="ceiling-compute"/);

  // 32 points, a nasty series name, no compute peak
  const points = sweepConfigs().map((c, i) => ({ label: `#${i} <${c.h_q}> & "q${c.s_q}"`, intensity: decodeFlops(c) / decodeBytes(c), tflops: 50 + i * 10 }));
  const svg2 = rooflineSvg({ title: 'a < b & c', bandwidthGBps: 3000, peakTflops: null, series: [{ name: `it's <x>`, kind: 'measured', points }] });
  assertWellFormed(svg2);
  assert.equal((svg2.match(/class="point"/g) ?? []).length, 32);
  assert.equal((svg2.match(/class="point-label"/g) ?? []).length, 32);
  for (const p of points) assert.ok(svg2.includes(`data-label="${escapeXml(p.label)}"`));
  assert.ok(svg2.includes('it&#39;s &lt;x&gt;'));
  assert.ok(!svg2.includes('ceiling-compute'));
});

// ---------------------------------------------------------------------------------------------- CLI

const cli = fileURLToPath(new URL('../src/cli.js', import.meta.url));

test('CLI: bench --backend cpu on a tiny config writes JSON and SVG and exits 0', () => {
  const json = join(tmp, 'x.json');
  const svg = join(tmp, 'x.svg');
  const r = spawnSync(process.execPath, [cli, 'bench', '--backend', 'cpu', '--configs', 'tiny', '--iters', '2', '--json', json, '--svg', svg], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /tiny#0/);
  assert.match(r.stderr, /\[1\/1\]/);
  assert.deepEqual(validateBenchResult(JSON.parse(readFileSync(json, 'utf8'))), []);
  const text = readFileSync(svg, 'utf8');
  assertWellFormed(text);
  assert.equal((text.match(/class="point"/g) ?? []).length, 1);
});

const gpuSkip = await gpuSkipReason();
test('GPU smoke: bench --configs <one> on cuda, every decode kernel, writes a valid JSON with checked rows', { skip: gpuSkip }, () => {
  const json = join(tmp, 'gpu.json');
  const kernels = getBackend('cuda').decodeKernels();
  const r = spawnSync(process.execPath, [cli, 'bench', '--backend', 'cuda', '--configs', 'sweep:16', '--kernel', kernels.join(','), '--iters', '5', '--warmup', '1', '--json', json], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const result = JSON.parse(readFileSync(json, 'utf8')) as BenchResult;
  assert.deepEqual(validateBenchResult(result), []);
  assert.equal(result.rows.length, kernels.length);
  for (const row of result.rows) {
    assert.ok(row.check?.ok, `${row.kernel}: ${row.check?.message}`);
    assert.ok(row.ms > 0 && row.GBps > 0, `${row.kernel}: ${row.ms} ms`);
    assert.ok(row.mdMs !== undefined && row.mdMs > 0, `${row.kernel}: +md ${row.mdMs} ms`);
    if (row.kernel === kernels[0]) assert.equal(row.vsKernel, undefined);
    else assert.deepEqual([row.vsKernel?.kernel, row.vsKernel?.ms], [kernels[0], result.rows[0].ms]);
    // on an H100/H200 the shipped anchors of that card are the default reference: FlashMLA and FA3 columns
    if (referenceCardFor(result.device.name)) assert.ok(row.peers?.flashmla && row.peers.best && row.peers.flashmlaWithMetadata, JSON.stringify(row.peers));
  }
  assert.ok(result.summary);
  console.log(r.stdout.split('\n').filter((l) => /sweep#16/.test(l)).join('\n'));
});

test('CLI: help, info, usage errors', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  let r = run('--help');
  assert.equal(r.status, 0);
  assert.match(r.stdout, /flash-mla bench/);
  r = run('info');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /cpu backend: always available/);
  r = run('bench', '--bogus');
  assert.equal(r.status, 2);
  r = run('bench', '--backend', 'tpu');
  assert.equal(r.status, 2);
  r = run('frobnicate');
  assert.equal(r.status, 2);
  r = run('bench', '--backend', 'cpu', '--configs', 'h_q=17'); // a selector matching nothing is a usage error
  assert.equal(r.status, 2);
  assert.match(r.stderr, /selects no config/);
  r = run('bench', '--backend', 'cpu', '--kernel', 'nope');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--kernel: expected one of reference on the cpu backend, got 'nope'/);
});

// ---------------------------------------------------------------------------------------------- reliability (bench and CLI)

const runCli = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });

test('output paths: checked before the run (usage error, exit 2, nothing run)', () => {
  assert.equal(outputPathProblem(join(tmp, 'fine.json')), null);
  assert.match(outputPathProblem('/nonexistent/d/x.json') ?? '', /folder \/nonexistent\/d does not exist/);
  assert.match(outputPathProblem(tmp) ?? '', /is a folder/);
  assert.match(outputPathProblem('') ?? '', /empty/);
  const file = join(tmp, 'not-a-folder');
  writeFileSync(file, '');
  assert.match(outputPathProblem(join(file, 'x.json')) ?? '', /is not a folder/);
  for (const flag of ['--json', '--svg']) {
    const r = runCli('bench', '--backend', 'cpu', '--configs', 'tiny', flag, '/nonexistent/d/x.out');
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`${flag} '/nonexistent/d/x.out': folder /nonexistent/d does not exist`));
    assert.doesNotMatch(r.stderr, /\[1\/1\]/, 'nothing ran');
    assert.equal(r.stdout, '');
  }
  const r = runCli('bench', '--backend', 'cpu', '--configs', 'tiny', '--json', '');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--json '': expected a file path/);
});

test('output files that fail at the end: the table is printed first, then the error, exit 1', { skip: existsSync('/dev/full') ? false : 'needs /dev/full (Linux)' }, () => {
  const json = join(tmp, 'ok.json');
  // /dev/full passes the check (a writable file) and fails the write (ENOSPC), like a full disk
  const r = runCli('bench', '--backend', 'cpu', '--configs', 'tiny', '--iters', '1', '--svg', '/dev/full', '--json', json);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stdout, /tiny#0/);
  assert.match(r.stderr, /--svg \/dev\/full: could not write the file: ENOSPC/);
  assert.deepEqual(validateBenchResult(JSON.parse(readFileSync(json, 'utf8'))), [], 'the other file is still written');
  // one failure does not stop the other file
  const written = writeOutputs(
    [{ flag: '--json', path: 'a.json', content: () => '{}' }, { flag: '--svg', path: 'b.svg', content: () => '<svg/>' }],
    (path) => {
      if (path === 'a.json') throw new Error('EACCES: permission denied');
    },
  );
  assert.deepEqual(written.map((w) => w.error), ['--json a.json: could not write the file: EACCES: permission denied', null]);
});

test('impossible configs are refused up front, naming the config and the limit', () => {
  const huge = join(tmp, 'huge.json');
  writeFileSync(huge, JSON.stringify({ configs: [{ b: 1, h_q: 16, s_q: 1, seqlens: [1e12] }] }));
  const r = runCli('bench', '--backend', 'cpu', '--configs', huge);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /config file#0 \(b1 s1000000000000 h16 q1 fix\): needs about [\d.]+ TiB of host memory .*this machine has [\d.]+ GiB \(os\.totalmem\(\)\)/);
  assert.doesNotMatch(r.stderr, /Invalid typed array length/);
  // the limits, one by one
  const cfg = (seqlens: number[]): BenchConfig => ({ id: 'x#0', b: seqlens.length, s: seqlens[0], h_q: 16, s_q: 1, varlen: false, causal: true, dtype: 'bf16', seqlens });
  const big = { hostBytes: 2 ** 60, hostSource: 'test' };
  assert.throws(() => checkConfigsFit([cfg([2 ** 31])], 'cpu', big), /int32/);
  assert.throws(() => checkConfigsFit([cfg([2 ** 23])], 'cpu', big), /longer than a typed array/);
  const sweep = sweepConfigs()[31];
  const f = problemFootprint(sweep, 'cuda');
  assert.ok(f.hostBytes >= sweep.seqlens.reduce((a, x) => a + x, 0) * 576 * 2);
  assert.doesNotThrow(() => checkConfigsFit([sweep], 'cuda', { hostBytes: f.hostBytes, hostSource: 't', deviceBytes: f.deviceBytes }));
  assert.throws(() => checkConfigsFit([sweep], 'cuda', { hostBytes: f.hostBytes, hostSource: 't', deviceBytes: f.deviceBytes - 1, deviceSource: 'test device' }), /config sweep#31 .*device memory.*test device/);
  assert.throws(() => checkConfigsFit([sweep], 'cpu', { hostBytes: f.hostBytes, hostSource: 'test host' }), /held ~3 times by the cpu backend\), this machine has .*test host/);
  assert.doesNotThrow(() => checkConfigsFit([...sweepConfigs(), ...servingConfigs(), ...smallConfigs()], 'cpu', { hostBytes: 16 * 2 ** 30, hostSource: 't' }));
});

test('cpu compute ceiling: the best of several repetitions of the decode\'s own inner loop, labelled indicative', () => {
  const c = measureCpuPeak(5);
  assert.equal(c.samples?.length, 5);
  assert.equal(c.value, Math.max(...(c.samples as number[])), 'the fastest repetition, not the median');
  assert.match(c.method, /partialAttention.*best of 5.*indicative/);
});

test('--check-samples 0 says "not checked"; --configs \'\' is a usage error', () => {
  let r = runCli('bench', '--backend', 'cpu', '--configs', 'tiny', '--iters', '1', '--check-samples', '0');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /correctness: not checked \(--check-samples 0\)/);
  assert.doesNotMatch(r.stdout, /all ok/);
  r = runCli('bench', '--backend', 'cpu', '--configs', '');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--configs: expected a set name, a selector or a FILE\.json, got ''/);
  r = runCli('bench', '--backend', 'cpu', '--configs', '  ');
  assert.equal(r.status, 2);
});

test('--pack-order: the dense configs\' metadata with getMlaMetadata({ packOrder: true }), said in the header; checked as usual', () => {
  const r = runCli('bench', '--backend', 'cpu', '--configs', 'tiny', '--iters', '1', '--pack-order');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /packed request order \(--pack-order\)/);
  assert.match(r.stdout, /all ok/);
});

test('--metadata: device or host, anything else a usage error (exit 2) before a run; on the cpu backend host changes nothing', () => {
  let r = runCli('bench', '--backend', 'cpu', '--configs', 'tiny', '--iters', '1', '--metadata', 'gpu');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--metadata: expected device or host, got 'gpu'/);
  r = runCli('bench', '--backend', 'cpu', '--configs', 'tiny', '--iters', '1', '--metadata', 'host');
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /md host µs|metadata from/);
  assert.match(r.stdout, /all ok/);
});

test('--cold-code: the cuda backend only (usage error on the cpu backend, nothing run)', () => {
  const r = runCli('bench', '--backend', 'cpu', '--configs', 'tiny', '--iters', '1', '--cold-code');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--cold-code: expected the cuda backend/);
});

test("each dense row's schedule in the JSON: packed with --pack-order or FLASH_MLA_EXPERIMENT_PACK, the batch order without either", () => {
  // (63 requests of 9–1391 tokens over 132 parts: the fifth rule packs them, 135 → 125 pieces; h_q 1 keeps the cpu
  // runs short. From session 57 to 60 the bench passed packOrder: false without the flag, so the variable was ignored.)
  const lens = [1084, 787, 892, 655, 335, 372, 997, 11, 1202, 543, 282, 1372, 72, 214, 837, 678, 736, 841, 786, 813, 1256, 1200, 1006, 20, 688, 82, 1276,
    1153, 699, 488, 435, 122, 635, 922, 1250, 1233, 986, 338, 107, 806, 990, 49, 232, 837, 19, 285, 1391, 1255, 707, 863, 884, 135, 9, 1210, 420, 1194,
    1027, 697, 398, 317, 59, 193, 646];
  const file = join(tmp, 'packs.json');
  writeFileSync(file, JSON.stringify({ configs: [{ name: 'packs', b: lens.length, s: 667, h_q: 1, s_q: 1, varlen: true, causal: true, dtype: 'bf16', seqlens: lens }] }));
  const scheduleOf = (pack: string, ...extra: string[]) => {
    const json = join(tmp, `packs-${pack}-${extra.length}.json`);
    const r = spawnSync(process.execPath, [cli, 'bench', '--backend', 'cpu', '--configs', file, '--iters', '1', '--check-samples', '0', '--json', json, ...extra],
      { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', FLASH_MLA_EXPERIMENT_PACK: pack } });
    assert.equal(r.status, 0, r.stderr);
    const doc = JSON.parse(readFileSync(json, 'utf8'));
    assert.deepEqual(validateBenchResult(doc), []);
    return { schedule: doc.rows[0].schedule, header: doc.settings.configs };
  };
  assert.deepEqual(scheduleOf('0'), { schedule: { parts: 132, pieces: 135, packed: false }, header: `file ${file}` });
  assert.deepEqual(scheduleOf('3'), { schedule: { parts: 132, pieces: 125, packed: true }, header: `file ${file}, packed request order (FLASH_MLA_EXPERIMENT_PACK=3)` });
  assert.deepEqual(scheduleOf('0', '--pack-order'), { schedule: { parts: 132, pieces: 125, packed: true }, header: `file ${file}, packed request order (--pack-order)` });
});

/** Start a cpu bench of `configs`, read its stderr until the long-run warning (or exit, or 30 s), then stop it. */
async function cpuRunWarning(configs: string): Promise<{ warned: boolean; stderr: string }> {
  const child = spawn(process.execPath, [cli, 'bench', '--backend', 'cpu', '--configs', configs], { env: { ...process.env, NO_COLOR: '1' } });
  let stderr = '';
  const warned = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 30_000);
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (/warning: the cpu backend will need about/.test(stderr)) {
        clearTimeout(timer);
        resolve(true);
      }
    });
    child.on('exit', () => {
      clearTimeout(timer);
      resolve(/warning/.test(stderr));
    });
  });
  child.kill();
  return { warned, stderr };
}

test('a long cpu run is announced on stderr with an estimate before it starts', async () => {
  // the estimate: every run at the compute ceiling
  const c = sweepConfigs()[0];
  assert.ok(Math.abs(estimateCpuSeconds([c], 1, 3, 0, 0.0015) - (decodeFlops(c) * 7) / 1.5e9) < 1e-6);
  // the CLI says so before the first config: read stderr until the warning, then stop the run
  const { warned, stderr } = await cpuRunWarning('sweep:0');
  assert.ok(warned, stderr);
  assert.match(stderr, /1 config\(s\) × 1 kernel\(s\) × 7 runs/);
  assert.doesNotMatch(stderr, /\[1\/1\].*ms/, 'announced before the config ran');
  // a quick run says nothing of the kind
  const quick = runCli('bench', '--backend', 'cpu', '--configs', 'tiny', '--iters', '1');
  assert.doesNotMatch(quick.stderr, /warning/);
});

test('CLI: --configs serving:S4 --reference h200 on the cpu: S-name in the table, peer columns, geomeans', () => {
  const r = runCli('bench', '--backend', 'cpu', '--configs', 'serving:S4', '--reference', 'h200', '--iters', '1', '--check-samples', '2');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^S4 +64 +512 +16 +1 +fixed .* 0\.0289 .* 0\.0289 +FM .* 0\.0478 /m);
  // the cpu against an H200: ratios far below 0.01 keep their digits
  assert.match(r.stdout, /vs FM\s+\d\.\de-\d+× \(1\)\s+\d\.\de-\d+× \(1\)\s+-$/m);
});

// ---------------------------------------------------------------------------------------------- sparse decode, FP8 cache

test('sparse set: FlashMLA\'s grid (s_k 32768, topk 2048, s_q 2, b 2/64/74/128) at h_q 16, 32 and 128; FlashMLA\'s flop count', () => {
  const cs = sparseConfigs();
  assert.equal(cs.length, 12);
  assert.deepEqual(cs.map((c) => `${c.h_q}/${c.b}`), ['16/2', '16/64', '16/74', '16/128', '32/2', '32/64', '32/74', '32/128', '128/2', '128/64', '128/74', '128/128']);
  for (const c of cs) {
    assert.deepEqual([c.s, c.s_q, c.topk, c.kv, c.causal, c.varlen, c.dtype], [32768, 2, 2048, 'fp8', false, true, 'bf16'], c.id);
    assert.equal(c.seqlens.length, c.b);
    assert.ok(c.seqlens.every((x) => x >= 2), 'FlashMLA clamps a drawn length at s_q');
    assert.deepEqual(c.seqlens, cs.find((x) => x.b === c.b)?.seqlens, 'the same lengths at every h_q');
  }
  // b ≥ 64 holds requests shorter than topk: their query tokens get −1 for what they cannot fill
  assert.ok(cs.filter((c) => c.b >= 64).every((c) => c.seqlens.some((x) => x < 2048)));
  assert.deepEqual(sparseConfigs(), cs, 'deterministic');
  // flops = 2·b·s_q·h_q·topk·(d_qk + d_v): FlashMLA's headline config is 146.0 GFLOP (0.356 ms at its 410 TFLOPS)
  const head = cs[11];
  assert.equal(sparseFlops({ b: 128, s_q: 2, h_q: 128, topk: 2048 }), 2 * 128 * 2 * 128 * 2048 * 1088);
  assert.equal(configFlops(head), 146_028_888_064);
  assert.ok(Math.abs(tflops(configFlops(head), 0.35617) - 410) < 0.01);
  // bytes: 656 per gathered token + q + out (16-bit); without a draw, the most a draw can gather
  assert.equal(sparseBytes({ b: 2, s_q: 2, h_q: 16 }, 1000), 1000 * 656 + 2 * 2 * 16 * (576 + 512) * 2);
  assert.equal(maxGatheredTokens({ s_q: 2, seqlens: [5000, 100], topk: 2048 }), 2 * 2048 + 2 * 100);
  assert.equal(configBytes(head, 12345), sparseBytes(head, 12345));
  assert.equal(configBytes(head), sparseBytes(head, maxGatheredTokens({ ...head, topk: 2048 })));
  // dense over an FP8 cache: 656 bytes per token instead of 576 × 2; the flops do not change
  const sweep = sweepConfigs()[0];
  const fp8 = withKvFormat([sweep], 'fp8')[0];
  assert.equal(decodeBytes(fp8), 128 * 4096 * 656 + 128 * 16 * (576 + 512) * 2);
  assert.equal(configBytes(fp8), decodeBytes(fp8));
  assert.equal(configFlops(fp8), decodeFlops(sweep));
  assert.equal(decodeBytes(sweep), shippedData().configs[0].bytes, 'the 16-bit count is unchanged');
  // labels and keys: the format shows, and an FP8 or sparse workload never matches a 16-bit one
  assert.equal(configLabel(head), 'b128 s32768 h128 q2 var topk2048');
  assert.equal(configLabel(fp8), 'b128 s4096 h16 q1 fix fp8');
  assert.notEqual(configKey(fp8), configKey(sweep));
  assert.equal(new Set([...sweepConfigs(), ...withKvFormat(sweepConfigs(), 'fp8'), ...cs].map(configKey)).size, 32 + 32 + 12);
  assert.equal(new PeerIndex(loadReference('h200')).compare(fp8, 1, 1), undefined, 'FlashMLA\'s bf16 times are not an FP8 row\'s peers');
  // --kv: dense configs only; sparse ones are FP8 already
  assert.deepEqual(withKvFormat(withKvFormat([sweep], 'fp8'), 'bf16'), [sweep]);
  assert.deepEqual(withKvFormat(cs, 'fp8'), cs);
  assert.throws(() => withKvFormat(cs, 'bf16'), /--kv bf16: config sparse#0 \(b2 s32768 h16 q2 var topk2048\) is sparse decode, which reads an FP8 cache only/);
  // selectors and config files
  assert.equal(selectConfigs('sparse', 'sweep').configs.length, 12);
  assert.deepEqual(selectConfigs('sparse:h_q=128', 'sweep').configs.map((c) => c.id), ['sparse#8', 'sparse#9', 'sparse#10', 'sparse#11']);
  assert.equal(selectConfigs('sparse-small:b=4', 'sweep').configs.length, 3);
  const file = configFromJson({ b: 2, h_q: 16, s_q: 2, seqlens: [300, 40], topk: 64 }, 'f');
  assert.deepEqual([file.topk, file.kv, file.causal], [64, 'fp8', false]);
  assert.deepEqual(configFromJson({ b: 1, s: 64, h_q: 16, s_q: 1, kv: 'fp8' }, 'f').kv, 'fp8');
  assert.equal(configFromJson({ b: 1, s: 64, h_q: 16, s_q: 1, kv: 'bf16' }, 'f').kv, undefined);
  assert.throws(() => configFromJson({ b: 1, s: 64, h_q: 16, s_q: 1, topk: 8, causal: true }, 'f'), /not causal/);
  assert.throws(() => configFromJson({ b: 1, s: 64, h_q: 16, s_q: 1, topk: 8, kv: 'bf16' }, 'f'), /reads an FP8 cache/);
  assert.throws(() => configFromJson({ b: 1, s: 64, h_q: 16, s_q: 1, kv: 'fp4' }, 'f'), /kv must be 'fp8'/);
  assert.throws(() => configFromJson({ b: 1, s: 64, h_q: 16, s_q: 1, topk: 0 }, 'f'), /topk must be an integer ≥ 1/);
});

test('sparse problem: distinct tokens of each request, −1 where a request is shorter than topk, NaN in every slot no index names', () => {
  const cfg: BenchConfig = { id: 'sp', b: 3, s: 200, h_q: 16, s_q: 2, varlen: true, causal: false, dtype: 'bf16', seqlens: [300, 40, 0], kv: 'fp8', topk: 64 };
  const p = makeSparseBenchProblem(cfg, 99);
  assert.equal(p.numBlocks, 5 + 1 + 0 + 2);
  const pageOf = (slot: number) => Math.floor(slot / 64);
  const pagesOf: Array<Set<number>> = [new Set(), new Set(), new Set()];
  let valid = 0;
  const named = new Set<number>();
  for (let i = 0; i < 3; i++) {
    for (let s = 0; s < 2; s++) {
      const row = Array.from(p.indices.subarray((i * 2 + s) * 64, (i * 2 + s + 1) * 64));
      const ok = row.filter((v) => v >= 0);
      assert.equal(ok.length, Math.min(64, cfg.seqlens[i]), `request ${i} token ${s}`);
      assert.equal(new Set(ok).size, ok.length, 'distinct');
      assert.ok(row.slice(0, ok.length).some((v) => v < 0) || ok.length === 64 || ok.length === 0 || row.indexOf(-1) < ok.length, 'the −1 are shuffled in');
      for (const v of ok) {
        pagesOf[i].add(pageOf(v));
        named.add(v);
      }
      valid += ok.length;
    }
  }
  // each request's tokens lie in its own pages, all of them (request 1: 40 tokens, both query tokens name all)
  assert.ok(pagesOf[0].size <= 5 && pagesOf[1].size === 1 && pagesOf[2].size === 0);
  assert.equal([...pagesOf[0]].filter((x) => pagesOf[1].has(x)).length, 0);
  assert.deepEqual([p.validIndices, p.invalidIndices, p.gatheredTokens], [valid, 3 * 2 * 64 - valid, named.size]);
  assert.equal(p.invalidIndices, 2 * 24 + 2 * 64);
  // named slots decode to finite values, every other slot is NaN
  const row = new Float64Array(576);
  for (let slot = 0; slot < p.numBlocks * 64; slot++) {
    decodeFp8Token(p.kBytes, slot * 656, 'bf16', row);
    assert.equal(row.every((x) => Number.isFinite(x)), named.has(slot), `slot ${slot}`);
    if (!named.has(slot)) assert.ok(row.every((x) => Number.isNaN(x)), `slot ${slot}`);
  }
  // the bench's FP8 decoder agrees with the library's reader
  const cache = Tensor.from(p.kBytes, [p.numBlocks * 64, 656], { dtype: 'uint8' });
  const lib = dequantizeKvFp8(cache).toRaw() as Uint16Array;
  for (const slot of [...named].slice(0, 20)) {
    decodeFp8Token(p.kBytes, slot * 656, 'bf16', row);
    for (let c = 0; c < 576; c++) assert.equal(fromHalfBits('bf16', lib[slot * 576 + c]), row[c], `slot ${slot} channel ${c}`);
  }
  // an empty request: out 0, lse +inf; the cpu decode matches the reference; the check catches a wrong output
  assert.equal(sparseReferenceRow(p, 2, 0, 0).lse, Infinity);
  const md = getMlaMetadata(null, 2 * 16, 1, { topk: 64, batchSize: 3 });
  const q = Tensor.from(p.qBits, [3, 2, 16, 576], { dtype: 'bf16' });
  const indices = Tensor.from(p.indices, [3, 2, 64], { dtype: 'int32' });
  const kCache = Tensor.from(p.kBytes, [p.numBlocks, 64, 1, 656], { dtype: 'uint8' });
  const { out, lse } = flashMlaWithKvcache(q, kCache, null, null, 512, md.tileSchedulerMetadata, md.numSplits, { isFp8KvCache: true, indices });
  const all = Array.from({ length: 3 * 2 * 16 }, (_, k) => ({ i: Math.floor(k / 32), s: Math.floor(k / 16) % 2, h: k % 16 }));
  const good = checkSamples(p, out.toRaw() as Uint16Array, lse.toRaw() as Float32Array, all);
  assert.ok(good.ok, good.message);
  // a decode that attends one index too few (the last valid one of request 0, token 0) fails the check
  const fewer = Int32Array.from(p.indices);
  const k = Array.from(fewer.subarray(0, 64)).map((v, j) => (v >= 0 ? j : -1)).reduce((a, j) => Math.max(a, j), -1);
  fewer[k] = -1;
  const wrong = flashMlaWithKvcache(q, kCache, null, null, 512, md.tileSchedulerMetadata, md.numSplits, { isFp8KvCache: true, indices: Tensor.from(fewer, [3, 2, 64], { dtype: 'int32' }) });
  const bad = checkSamples(p, wrong.out.toRaw() as Uint16Array, wrong.lse.toRaw() as Float32Array, all.slice(0, 16));
  assert.equal(bad.ok, false);
  assert.match(bad.message, /^lse at request 0, token 0, head \d+ /);
});

test('dense problem over an FP8 cache: blocks of FP8 rows, NaN rows where nothing is, the 16-bit K is what they read back as', () => {
  const cfg: BenchConfig = { ...tinyConfigs()[0], id: 'f8', kv: 'fp8' };
  const p = makeBenchProblem(cfg, 5);
  assert.ok(p.kBytes);
  assert.equal(p.kBytes.length, p.numBlocks * 64 * 656);
  const back = dequantizeKvFp8(Tensor.from(p.kBytes, [p.numBlocks * 64, 656], { dtype: 'uint8' })).toRaw() as Uint16Array;
  const nan = toHalfBits('bf16', NaN);
  for (let k = 0; k < back.length; k++) {
    const a = back[k];
    const b = p.kBits[k];
    assert.ok(a === b || (Number.isNaN(fromHalfBits('bf16', a)) && b === nan), `element ${k}: ${a} vs ${b}`);
  }
  // request 0 (130 tokens): token 129 is data, 130 is a NaN row
  const blk = p.table[2];
  assert.notEqual(p.kBits[(blk * 64 + 1) * 576], nan);
  assert.equal(p.kBits[(blk * 64 + 2) * 576], nan);
  // the same seed without --kv fp8 draws what it always drew
  assert.deepEqual(makeBenchProblem(tinyConfigs()[0], 5).kBits.subarray(0, 1000), makeBenchProblem(tinyConfigs()[0], 5).kBits.subarray(0, 1000));
  assert.equal(makeBenchProblem(tinyConfigs()[0], 5).kBytes, undefined);
  assert.throws(() => makeBenchProblem(sparseSmallConfigs()[0], 1), /use makeSparseBenchProblem/);
  // footprints: the FP8 cache's bytes on the device, the pools on the host
  const dense = problemFootprint(sweepConfigs()[31], 'cuda');
  const f8 = problemFootprint(withKvFormat([sweepConfigs()[31]], 'fp8')[0], 'cuda');
  assert.ok(f8.deviceBytes < dense.deviceBytes && f8.hostBytes > dense.hostBytes);
  const sp = problemFootprint(sparseConfigs()[11], 'cuda');
  assert.ok(sp.deviceBytes > sparseConfigs()[11].seqlens.reduce((a, x) => a + x, 0) * 656);
  assert.doesNotThrow(() => checkConfigsFit([...sparseConfigs(), ...withKvFormat(sweepConfigs(), 'fp8')], 'cpu', { hostBytes: 16 * 2 ** 30, hostSource: 't' }));
});

test('--kv-pages: full blocks drawn from at most N pages, a page of its own per partly filled block, NaN past the lengths; keys and labels; checked on the cpu', () => {
  const cfg: BenchConfig = { id: 't', b: 3, s: 300, h_q: 16, s_q: 1, varlen: true, causal: true, dtype: 'bf16', seqlens: [640, 130, 384] };
  const [paged] = withKvPages([cfg], 3);
  assert.deepEqual(cachePages(paged), { numBlocks: 3 + 1 + 2, poolPages: 3 });
  assert.deepEqual(cachePages(cfg), { numBlocks: 10 + 3 + 6 + 2, poolPages: 0 });
  assert.deepEqual(cachePages({ seqlens: [10, 20], kvPages: 8 }), { numBlocks: 0 + 2 + 2, poolPages: 0 });
  for (const kv of [undefined, 'fp8' as const]) {
    const p = makeBenchProblem({ ...paged, ...(kv ? { kv } : {}) }, 77);
    assert.equal(p.numBlocks, 6);
    const full = new Set<number>();
    for (const [i, s] of cfg.seqlens.entries()) for (let j = 0; j < Math.floor(s / 64); j++) full.add(p.table[i * p.maxBlocksPerSeq + j]);
    assert.ok(full.size <= 3, `full blocks on ${full.size} pages`);
    const partial = p.table[1 * p.maxBlocksPerSeq + 2]; // request 1's third block: tokens 128, 129
    assert.ok(!full.has(partial), 'a partly filled block shares a page with full blocks');
    const nan = toHalfBits('bf16', NaN);
    assert.notEqual(p.kBits[(partial * 64 + 1) * 576], nan);
    assert.equal(p.kBits[(partial * 64 + 2) * 576], nan);
    for (const blk of full) assert.notEqual(p.kBits[(blk * 64 + 63) * 576], nan, `pool page ${blk} holds NaN`);
  }
  assert.equal(configLabel(paged), 'b3 s300 h16 q1 var pages3');
  assert.notEqual(configKey(paged), configKey(cfg));
  assert.equal(otherKvKey(configKey(withKvFormat([paged], 'fp8')[0])), configKey(paged));
  assert.throws(() => withKvPages(sparseSmallConfigs(), 4), /--kv-pages: config sparse-small#0 .* is sparse decode/);
  assert.throws(() => withKvPages([cfg], 0), /--kv-pages: expected an integer ≥ 1, got 0/);
  assert.ok(problemFootprint(withKvPages([sweepConfigs()[31]], 256)[0], 'cuda').deviceBytes < problemFootprint(sweepConfigs()[31], 'cuda').deviceBytes / 4);
  const r = runCli('bench', '--backend', 'cpu', '--configs', 'tiny', '--iters', '1', '--kv-pages', '2');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /--kv-pages 2\)/);
  assert.match(r.stdout, /^config .* pages .* ms/m); // the pages column
  assert.doesNotMatch(runCli('bench', '--backend', 'cpu', '--configs', 'tiny', '--iters', '1').stdout, /^config .* pages /m);
  assert.match(r.stdout, /all ok/);
  assert.equal(runCli('bench', '--backend', 'cpu', '--configs', 'tiny', '--kv-pages', '0').status, 2);
  assert.equal(runCli('bench', '--backend', 'cpu', '--configs', 'sparse-small', '--kv-pages', '4').status, 2);
});

test('cpu run of sparse-small: every config runs and matches the oracle; flops, bytes and the gathered tokens in the JSON; no +md timing', async () => {
  const bandwidth = { value: 20, source: 'user' as const, method: 'test' };
  const peak = { value: 0.002, source: 'user' as const, method: 'test' };
  const res = await runBench({ backend: 'cpu', configs: sparseSmallConfigs(), configsSource: 'sparse-small', iters: 1, seed: 11, checkSamples: 6, bandwidth, peak });
  assert.deepEqual(validateBenchResult(JSON.parse(JSON.stringify(res))), []);
  assert.equal(res.rows.length, 6);
  assert.deepEqual(res.skipped, []);
  for (const row of res.rows) {
    assert.ok(row.check?.ok, `${row.id}: ${row.check?.message}`);
    assert.equal(row.check?.samples, 6);
    assert.equal(row.mdMs, undefined);
    assert.equal(row.mdTimesMs, undefined);
    assert.equal(row.flops, sparseFlops({ ...row.config, topk: 128 }));
    const sp = row.sparse;
    assert.ok(sp);
    assert.equal(row.bytes, sparseBytes(row.config, sp.gatheredTokens));
    assert.equal(sp.validIndices + sp.invalidIndices, row.config.b * 2 * 128);
    assert.equal(sp.invalidIndices, 2 * (128 - 90), 'the 90-token request leaves 38 indices of −1 per query token');
    assert.ok(sp.gatheredTokens <= sp.validIndices && sp.gatheredTokens > sp.validIndices / 2);
  }
  const text = formatReport(res);
  assert.match(text, /^config +b +s +h_q +s_q +len +kv +topk +ms +TFLOPS/m);
  assert.match(text, /^sparse-small#5 +4 +1024 +128 +2 +var +fp8 +128 /m);
  assert.match(text, /topk = sparse decode over an FP8 cache: flops 2·b·s_q·h_q·topk·\(576 \+ 512\)/);
  assert.match(text, /6 rows in [\d.]+ s; correctness: 6 of 6 checked against the float64 oracle, all ok/);
  // a validator that knows the new fields
  const broken = JSON.parse(JSON.stringify(res)) as { rows: Array<Record<string, unknown>>; skipped?: unknown };
  delete broken.rows[0].sparse;
  (broken.rows[1].config as Record<string, unknown>).causal = true;
  delete broken.skipped;
  const errs = validateBenchResult(broken);
  assert.ok(errs.some((e) => e.includes('rows[0].sparse: missing')), errs.join('\n'));
  assert.ok(errs.some((e) => e.includes('rows[1].config: a sparse config')), errs.join('\n'));
  assert.ok(errs.some((e) => e.includes('result.skipped: missing')), errs.join('\n'));
  // the SVG labels its points with the format
  assert.match(rooflineSvgFromResult(res), /data-label="1k h16 q2 var top128"/);
});

/** Refuse what `refuse` says on the cpu backend while `fn` runs (a stand-in for the cuda backend's refusals). */
async function withRefusals<T>(refuse: (f: DecodeFeatures, call: number) => UnsupportedFeatureError | null, fn: () => Promise<T>): Promise<T> {
  const be = getBackend('cpu');
  const original = be.checkDecode;
  let calls = 0;
  be.checkDecode = (f) => {
    const e = refuse(f, calls++);
    if (e) throw e;
    original(f);
  };
  try {
    return await fn();
  } finally {
    be.checkDecode = original;
  }
}

test('configs the backend refuses are skipped with its reason, not run: table, JSON, later kernels and configs still run', async () => {
  const sparseRefusal = () => new UnsupportedFeatureError('indices', 'sparse decode', 'cpu', 'a test refusal');
  const bandwidth = { value: 20, source: 'user' as const, method: 'test' };
  const peak = { value: 0.002, source: 'user' as const, method: 'test' };
  const configs = [tinyConfigs()[0], sparseSmallConfigs()[0], withKvFormat(tinyConfigs(), 'fp8')[0]];
  const res = await withRefusals((f) => (f.sparse ? sparseRefusal() : null), () =>
    runBench({ backend: 'cpu', configs, configsSource: 'mixed', iters: 1, seed: 3, checkSamples: 2, bandwidth, peak }));
  assert.deepEqual(validateBenchResult(JSON.parse(JSON.stringify(res))), []);
  assert.deepEqual(res.rows.map((r) => r.id), ['tiny#0', 'tiny#0']);
  assert.deepEqual(res.rows.map((r) => r.config.kv), [undefined, 'fp8']);
  assert.ok(res.rows.every((r) => r.check?.ok), res.rows.map((r) => r.check?.message).join('; '));
  assert.equal(res.rows[1].bytes, decodeBytes({ ...tinyConfigs()[0], kv: 'fp8' }));
  assert.equal(res.skipped?.length, 1);
  const [x] = res.skipped ?? [];
  assert.deepEqual([x.id, x.kernel, x.error, x.config.topk], ['sparse-small#0', 'reference', 'UnsupportedFeatureError', 128]);
  assert.equal(x.reason, 'indices: sparse decode on cpu: not implemented yet (a test refusal)');
  const table = formatTable(res);
  assert.match(table[0], /^config +b +s +h_q +s_q +len +kv +topk +ms +\+md ms +TFLOPS +GB\/s +roof +bound +check$/);
  assert.match(table[table.length - 1], /^sparse-small#0 +2 +1024 +16 +2 +var +fp8 +128 +- +- +- +- +- +- +skipped$/);
  const text = formatReport(res);
  assert.match(text, /1 config\(s\) skipped: the cpu backend refuses them \(UnsupportedFeatureError\); nothing was run for them:\n  sparse-small#0 \(reference\): indices: sparse decode on cpu: not implemented yet \(a test refusal\)/);
  assert.match(text, /2 rows, 1 skipped \(refused by the backend\) in [\d.]+ s; correctness: 2 of 2 checked/);
  // a refusal at the decode (after the config's check passed): that kernel is skipped, the run goes on
  let checked = 0;
  const late = await withRefusals((f, call) => (f.fp8 && call > 0 ? new UnsupportedFeatureError('kCache', 'FP8 KV cache', 'cpu', 'late') : null), async () => {
    checked++;
    return runBench({ backend: 'cpu', configs: [configs[2], configs[0]], iters: 1, seed: 3, checkSamples: 1, bandwidth, peak });
  });
  assert.equal(checked, 1);
  assert.deepEqual([late.rows.map((r) => r.id), late.skipped?.map((s) => s.reason)], [['tiny#0'], ['kCache: FP8 KV cache on cpu: not implemented yet (late)']]);
  assert.equal(late.rows[0].config.kv, undefined);
  // everything refused: no rows, a valid result that says so
  const none = await withRefusals(() => sparseRefusal(), () => runBench({ backend: 'cpu', configs: sparseSmallConfigs().slice(0, 2), iters: 1, bandwidth, peak }));
  assert.deepEqual([none.rows.length, none.skipped?.length], [0, 2]);
  assert.deepEqual(validateBenchResult(JSON.parse(JSON.stringify(none))), []);
  assert.match(formatReport(none), /0 rows, 2 skipped \(refused by the backend\) in [\d.]+ s; correctness: nothing ran/);
  assertWellFormed(rooflineSvgFromResult(none));
  // a result's skipped configs can be run again from its JSON (--configs FILE)
  const path = join(tmp, 'skipped.json');
  writeFileSync(path, JSON.stringify(none));
  assert.deepEqual(loadConfigFile(path).map((c) => [c.topk, c.kv, c.causal, c.seqlens.join()]), sparseSmallConfigs().slice(0, 2).map((c) => [128, 'fp8', false, c.seqlens.join()]));
});

test('no --kernel: a config the first kernel refuses (argument kernel) runs on the next one; with --kernel it is skipped', async () => {
  // a cpu backend with two kernels, the first refusing the FP8 cache as `hopper` does on cuda for sparse decode or fp16 q
  const be = getBackend('cpu');
  const originalKernels = be.decodeKernels;
  be.decodeKernels = () => ['fast', ...originalKernels.call(be)];
  const bandwidth = { value: 20, source: 'user' as const, method: 'test' };
  const peak = { value: 0.002, source: 'user' as const, method: 'test' };
  const configs = [tinyConfigs()[0], withKvFormat(tinyConfigs(), 'fp8')[0]];
  try {
    const refuse = (f: DecodeFeatures) =>
      f.fp8 && f.kernel === 'fast' ? new UnsupportedFeatureError('kernel', `the FP8 KV cache with decode kernel 'fast'`, 'cpu', 'test') : null;
    const plain = await withRefusals(refuse, () => runBench({ backend: 'cpu', configs, iters: 1, seed: 5, checkSamples: 1, bandwidth, peak }));
    assert.deepEqual(plain.rows.map((r) => [r.config.kv, r.kernel]), [[undefined, 'fast'], ['fp8', 'reference']]);
    assert.deepEqual(plain.skipped, []);
    assert.ok(plain.rows.every((r) => r.check?.ok && r.vsKernel === undefined));
    const named = await withRefusals(refuse, () => runBench({ backend: 'cpu', configs, kernels: ['fast'], iters: 1, seed: 5, checkSamples: 1, bandwidth, peak }));
    assert.deepEqual(named.rows.map((r) => r.kernel), ['fast']);
    assert.deepEqual(named.skipped?.map((x) => [x.kernel, x.reason]), [['fast', "kernel: the FP8 KV cache with decode kernel 'fast' on cpu: not implemented yet (test)"]]);
    // another refusal (not of the kernel) is not passed on: skipped under the first kernel
    const other = await withRefusals((f) => (f.fp8 ? new UnsupportedFeatureError('kCache', 'FP8 KV cache', 'cpu', 'test') : null), () =>
      runBench({ backend: 'cpu', configs: [configs[1]], iters: 1, seed: 5, checkSamples: 1, bandwidth, peak }));
    assert.deepEqual([other.rows.length, other.skipped?.map((x) => x.kernel)], [0, ['fast']]);
  } finally {
    be.decodeKernels = originalKernels;
  }
});

test('CLI: a backend that refuses sparse decode and the FP8 cache: skipped rows with the reason, exit 0', () => {
  // a preload that makes the cpu backend refuse both, as the cuda backend does until its kernels land
  const preload = join(tmp, 'refuse.mjs');
  const dist = fileURLToPath(new URL('../src/', import.meta.url));
  writeFileSync(preload, [
    `import { cpuBackend } from ${JSON.stringify(join(dist, 'cpu/mla.js'))};`,
    `import { UnsupportedFeatureError } from ${JSON.stringify(join(dist, 'errors.js'))};`,
    'const original = cpuBackend.checkDecode;',
    "cpuBackend.checkDecode = (f) => { if (f.sparse) throw new UnsupportedFeatureError('indices', 'sparse decode', 'cpu', 'test'); if (f.fp8) throw new UnsupportedFeatureError('kCache', 'FP8 KV cache', 'cpu', 'test'); original(f); };",
  ].join('\n'));
  const json = join(tmp, 'refused.json');
  const run = (...args: string[]) => spawnSync(process.execPath, ['--import', preload, cli, 'bench', '--backend', 'cpu', '--iters', '1', ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  let r = run('--configs', 'sparse', '--json', json);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /\[12\/12\] b128 s32768 h128 q2 var topk2048 reference: skipped: indices: sparse decode on cpu: not implemented yet \(test\)/);
  assert.doesNotMatch(r.stderr, /warning/, 'nothing to run, nothing to announce');
  assert.equal((r.stdout.match(/ skipped$/gm) ?? []).length, 12);
  assert.match(r.stdout, /12 config\(s\) skipped: the cpu backend refuses them \(UnsupportedFeatureError\); nothing was run for them:\n  sparse#0, sparse#1, .*, sparse#11 \(reference\): indices: sparse decode on cpu: not implemented yet \(test\)/);
  const doc = JSON.parse(readFileSync(json, 'utf8')) as BenchResult;
  assert.deepEqual(validateBenchResult(doc), []);
  assert.deepEqual([doc.rows.length, doc.skipped?.length], [0, 12]);
  // --kv fp8: the dense configs skipped, the rest of the run unaffected
  r = run('--configs', 'tiny', '--kv', 'fp8');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^tiny#0 +2 +98 +16 +2 +var +fp8 +- .* skipped$/m);
  assert.match(r.stdout, /kCache: FP8 KV cache on cpu: not implemented yet \(test\)/);
  assert.match(r.stdout, /tiny \(all 1\), over an FP8 KV cache \(--kv fp8\)/);
});

test('CLI: --kv fp8 on the cpu runs and checks the dense configs over an FP8 cache; --kv usage errors; the sparse set\'s time is announced', async () => {
  let r = runCli('bench', '--backend', 'cpu', '--configs', 'tiny', '--kv', 'fp8', '--iters', '1');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^tiny#0 +2 +98 +16 +2 +var +fp8 +[\d.]+ +[\d.]+ .* ok$/m);
  assert.match(r.stdout, /kv fp8 = dense decode over an FP8 cache \(V3\.2 layout\): bytes count 656 per token/);
  assert.match(r.stderr, /\[1\/1\] b2 s98 h16 q2 var fp8 reference: .* ok/);
  r = runCli('bench', '--backend', 'cpu', '--configs', 'sparse-small', '--kv', 'bf16');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--kv bf16: config sparse-small#0 .* is sparse decode, which reads an FP8 cache only/);
  r = runCli('bench', '--backend', 'cpu', '--configs', 'tiny', '--kv', 'fp4');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--kv: expected fp8 or bf16, got 'fp4'/);
  // the whole sparse grid on the cpu: announced before it starts, like the sweep
  const { warned, stderr } = await cpuRunWarning('sparse');
  assert.ok(warned, stderr);
  assert.match(stderr, /12 config\(s\) × 1 kernel\(s\) × 4 runs \(1 checked \+ 0 warm-up \+ 3 timed; sparse decode has no \+md timing\)/);
});

test('--reference of a run over the other cache format: FP8 rows compare with the 16-bit run config by config', () => {
  const sweep = sweepConfigs().slice(0, 2);
  const fp8 = withKvFormat(sweep, 'fp8');
  const bf16Run: ReferenceSeries[] = [{ name: 'hopper · H200 2026-12-02', points: sweep.map((c) => ({ key: configKey(c), label: configLabel(c), flops: 1, bytes: 1, ms: 2 })) }];
  const idx = new PeerIndex(bf16Run);
  assert.deepEqual(idx.reference(fp8[0], 1), { series: 'hopper · H200 2026-12-02 (16-bit cache)', ms: 2, speedup: 2 });
  assert.deepEqual(idx.reference(sweep[0], 1), { series: 'hopper · H200 2026-12-02', ms: 2, speedup: 2 });
  const fp8Run: ReferenceSeries[] = [{ name: 'fp8 run', points: fp8.map((c) => ({ key: configKey(c), label: configLabel(c), flops: 1, bytes: 1, ms: 1 })) }];
  assert.equal(new PeerIndex(fp8Run).reference(sweep[1], 2)?.series, 'fp8 run (FP8 cache)');
  // never for sparse configs, never from the peers' (16-bit) anchors
  assert.equal(idx.reference(sparseConfigs()[0], 1), undefined);
  const anchors = loadReference('h200');
  assert.equal(new PeerIndex(anchors).reference(withKvFormat([sweepConfigs()[0]], 'fp8')[0], 1), undefined);
});
