// Benchmark configs: the shipped sweep (data/bench-configs.json, FlashMLA's published decode sweep), the
// shipped serving-shape configs S1–S12 (same file, `serving`), FlashMLA's sparse decode grid (`sparse`, over an
// FP8 cache) and its scaled-down cpu version (`sparse-small`), a small sweep the cpu backend finishes in
// seconds, `--configs` selectors, `--kv` (the dense configs over an FP8 cache), config files in the
// anchors-file format, and reference measurements (`--reference`) to compare with.

import { existsSync, readFileSync } from 'node:fs';
import { configBytes, configFlops, sumSeqlens } from './metrics.js';
import { rng } from '../util/random.js';
import { packOrderPieceCost, packedSeqlens } from './pack-order.js';
import { expectPositiveInt } from '../mla/validate.js';

export type ConfigSetName = 'sweep' | 'serving' | 'sparse' | 'small' | 'sparse-small' | 'tiny';
export const CONFIG_SETS: readonly ConfigSetName[] = ['sweep', 'serving', 'sparse', 'small', 'sparse-small', 'tiny'];

export interface BenchConfig {
  /** Where it came from and its position there, e.g. `sweep#3`, `serving#0`, `file#2`. */
  id: string;
  /** A name when the config has one, e.g. `S1 one request, 16k, all heads`; its first word is its short name. */
  name?: string;
  b: number;
  /** Mean seqlen (nominal; the seqlens are what runs). */
  s: number;
  h_q: number;
  s_q: number;
  varlen: boolean;
  causal: boolean;
  /** q's (and out's) dtype, and the cache's unless kv says otherwise. */
  dtype: 'bf16' | 'fp16';
  /** Per request: its KV length (dense); the length of the cache its indices draw from (sparse). */
  seqlens: number[];
  /** The KV cache's format: 'fp8' = FlashMLA's V3.2 layout, 656 bytes per token; absent = 16-bit in `dtype`. */
  kv?: 'fp8';
  /**
   * Sparse decode: indices per query token (FlashMLA's `topk`); kv is then 'fp8' and causal false. The indices
   * are drawn per run: distinct random tokens of each request's seqlen tokens, −1 where a request is shorter.
   */
  topk?: number;
  /**
   * Dense only: the cache holds at most this many full pages, which every request's full blocks draw from at random
   * (a partly filled last block keeps a page of its own). Few enough pages stay in L2, so the decode runs at the
   * rate of its math instead of DRAM's — a probe of the compute-bound rate on a card whose DRAM is slower than the
   * one the numbers are for (an H100 for an H200), not a workload: no peer measured it.
   */
  kvPages?: number;
}

export interface ConfigSelection {
  configs: BenchConfig[];
  /** What was selected, in words (goes into the JSON result). */
  source: string;
}

// ---------------------------------------------------------------------------------------------- shipped data

interface ShippedData {
  what: string;
  configs: Array<Omit<BenchConfig, 'id'> & { flops: number; bytes: number }>;
  reference: Record<string, ShippedReference>;
  /** The serving-shape configs S1–S12 and the peers' times for them (H200 only). */
  serving: {
    what: string;
    configs: Array<Omit<BenchConfig, 'id'> & { name: string; flops: number; bytes: number }>;
    /** card → what was measured, and per config (same order as serving.configs) peer → time. */
    reference: Record<string, { device: string; what: string; peers: Record<string, string>; results: Array<Record<string, { ms: number }>> }>;
  };
}

export interface ShippedReference {
  device: string;
  what: string;
  peers: Record<string, string>;
  ceilings: { copy_GBps_read_plus_write?: number[]; bf16_matmul_8192_TFLOPS?: number[]; note?: string };
  /** Per config (same order as the sweep): peer → measurement. */
  results: Array<Record<string, { ms: number; GBps: number; TFLOPS: number }>>;
}

/** data/ at the package root (dist/src/bench/ → ../../../data, src/bench/ → ../../data). */
function dataPath(file: string): string {
  for (const rel of ['../../../data/', '../../data/']) {
    const u = new URL(rel + file, import.meta.url);
    if (existsSync(u)) return u.pathname;
  }
  throw new Error(`flash-mla: ${file} not found in the package's data/ folder (run \`node scripts/gen-bench-configs.mjs\`)`);
}

let shipped: ShippedData | null = null;
export function shippedData(): ShippedData {
  if (!shipped) shipped = JSON.parse(readFileSync(dataPath('bench-configs.json'), 'utf8')) as ShippedData;
  return shipped;
}

/** The 32 configs of FlashMLA's decode sweep (b = 128, s ∈ {4096, 8192}, h_q ∈ {16..128}, s_q ∈ {1, 2}, fixed/var). */
/** A shipped config as a BenchConfig of its own (the seqlens copied). */
function shippedConfig(c: Omit<BenchConfig, 'id' | 'name'>, id: string): BenchConfig {
  // EXPERIMENT (src/bench/pack-order.ts): a variable-length batch in the order that the walk cuts least
  const seqlens = c.varlen && packOrderPieceCost() > 0 ? packedSeqlens(c.seqlens, c.h_q * c.s_q, packOrderPieceCost()) : [...c.seqlens];
  return { id, b: c.b, s: c.s, h_q: c.h_q, s_q: c.s_q, varlen: c.varlen, causal: c.causal, dtype: c.dtype, seqlens };
}

export function sweepConfigs(): BenchConfig[] {
  return shippedData().configs.map((c, i) => shippedConfig(c, `sweep#${i}`));
}

/** The 12 serving-shape configs S1–S12 (single long requests, short contexts, skew, small-batch MTP, lognormal lengths). */
export function servingConfigs(): BenchConfig[] {
  return shippedData().serving.configs.map((c, i) => ({ ...shippedConfig(c, `serving#${i}`), name: c.name }));
}

/** The sparse grid's parameters (FlashMLA's, plus h_q 16 and 32). */
export const SPARSE_GRID = Object.freeze({ s_k: 32768, topk: 2048, s_q: 2, b: [2, 64, 74, 128] as const, h_q: [16, 32, 128] as const });

/**
 * FlashMLA's sparse decode benchmark grid (tests/test_flash_mla_sparse_decoding.py, the V3.2 production cases):
 * s_k 32768 (variable lengths: max(normal(32768, 16384), s_q), as FlashMLA draws them), topk 2048, s_q 2, bf16 q,
 * FP8 cache, b ∈ {2, 64, 74, 128}, at h_q 128 (FlashMLA's) and at h_q 16 and 32 (tensor-parallel shards, which
 * FlashMLA's kernel does not take). 12 configs, h_q ascending then b, like the sweep. The seqlens are fixed
 * (seeded by b, the same for every h_q); requests shorter than topk (b ≥ 64 has a few, some of 2 tokens) get −1
 * for the indices they cannot fill.
 */
export function sparseConfigs(): BenchConfig[] {
  const out: BenchConfig[] = [];
  for (const h_q of SPARSE_GRID.h_q) {
    for (const b of SPARSE_GRID.b) {
      const seqlens = variableSeqlens(b, SPARSE_GRID.s_k, SPARSE_GRID.s_q, SPARSE_GRID.s_k + b);
      out.push({ id: `sparse#${out.length}`, b, s: SPARSE_GRID.s_k, h_q, s_q: SPARSE_GRID.s_q, varlen: true, causal: false, dtype: 'bf16', seqlens, kv: 'fp8', topk: SPARSE_GRID.topk });
    }
  }
  return out;
}

/**
 * The sparse grid scaled down for the cpu backend (~0.6 GFLOP a pass): topk 128 of caches of mean length 1024,
 * s_q 2, h_q ∈ {16, 32, 128}, b ∈ {2, 4}; each b has a request of 90 tokens (< topk: 38 indices of −1 per query
 * token).
 */
export function sparseSmallConfigs(): BenchConfig[] {
  const out: BenchConfig[] = [];
  const lens: Record<number, number[]> = { 2: [1958, 90], 4: [1500, 90, 700, 1806] };
  for (const h_q of [16, 32, 128]) {
    for (const b of [2, 4]) {
      out.push({ id: `sparse-small#${out.length}`, b, s: 1024, h_q, s_q: 2, varlen: true, causal: false, dtype: 'bf16', seqlens: [...lens[b]], kv: 'fp8', topk: 128 });
    }
  }
  return out;
}

/**
 * The configs over another KV cache format: 'fp8' puts every dense config over an FP8 cache (656 bytes per token);
 * 'bf16' over a 16-bit one in its dtype (bf16 for every shipped set). Sparse configs read an FP8 cache only:
 * 'fp8' leaves them as they are, 'bf16' is a RangeError naming the config.
 */
export function withKvFormat(configs: readonly BenchConfig[], kv: 'fp8' | 'bf16'): BenchConfig[] {
  return configs.map((c) => {
    if (c.topk !== undefined) {
      if (kv !== 'fp8') throw new RangeError(`--kv ${kv}: config ${c.id} (${configLabel(c)}) is sparse decode, which reads an FP8 cache only`);
      return c;
    }
    const { kv: _, ...rest } = c;
    return kv === 'fp8' ? { ...rest, kv: 'fp8' as const } : rest;
  });
}

/**
 * The dense configs over a cache of at most `pages` distinct full pages (BenchConfig.kvPages: an L2-resident
 * probe); sparse configs are a RangeError naming the config (their indices pick tokens, not pages).
 */
export function withKvPages(configs: readonly BenchConfig[], pages: number): BenchConfig[] {
  expectPositiveInt('--kv-pages', pages);
  return configs.map((c) => {
    if (c.topk !== undefined) throw new RangeError(`--kv-pages: config ${c.id} (${configLabel(c)}) is sparse decode; --kv-pages applies to dense configs only`);
    return { ...c, kvPages: pages };
  });
}

/** Shipped reference measurements of a card ('h100', 'h200') for the sweep. */
export function shippedReference(card: string): ShippedReference {
  const r = shippedData().reference[card.toLowerCase()];
  if (!r) throw new RangeError(`reference: no shipped measurements for '${card}' (have ${Object.keys(shippedData().reference).join(', ')})`);
  return r;
}

/** The shipped card whose reference matches a device name ("NVIDIA H100 80GB HBM3" → 'h100'), if any. */
export function referenceCardFor(deviceName: string): string | null {
  const n = deviceName.toLowerCase();
  for (const card of Object.keys(shippedData().reference)) if (n.includes(card)) return card;
  return null;
}

// ---------------------------------------------------------------------------------------------- small sets

/**
 * The cpu sweep: b = 4, mean seqlen 512 (variable: 1000, 311, 653, 84 — a short request and ragged
 * blocks), h_q ∈ {16, 128}, s_q ∈ {1, 2}, fixed and variable, causal, bf16: 8 configs, ~3.9 GFLOP per pass,
 * in the sweep's order.
 */
export function smallConfigs(): BenchConfig[] {
  const out: BenchConfig[] = [];
  const fixed = [512, 512, 512, 512];
  const varlen = [1000, 311, 653, 84];
  for (const h_q of [16, 128]) {
    for (const s_q of [1, 2]) {
      for (const v of [false, true]) {
        out.push({ id: `small#${out.length}`, b: 4, s: 512, h_q, s_q, varlen: v, causal: true, dtype: 'bf16', seqlens: [...(v ? varlen : fixed)] });
      }
    }
  }
  return out;
}

/** One very small config (tests, smoke runs): b = 2, seqlens 130 and 67, h_q 16, s_q 2. */
export function tinyConfigs(): BenchConfig[] {
  return [{ id: 'tiny#0', b: 2, s: 98, h_q: 16, s_q: 2, varlen: true, causal: true, dtype: 'bf16', seqlens: [130, 67] }];
}

export function configSet(name: ConfigSetName): BenchConfig[] {
  switch (name) {
    case 'sweep':
      return sweepConfigs();
    case 'serving':
      return servingConfigs();
    case 'sparse':
      return sparseConfigs();
    case 'small':
      return smallConfigs();
    case 'sparse-small':
      return sparseSmallConfigs();
    case 'tiny':
      return tinyConfigs();
  }
}

// ---------------------------------------------------------------------------------------------- files


/** FlashMLA's variable lengths: max(normal(s, s/2), s_q), rounded — deterministic for a given seed. */
export function variableSeqlens(b: number, s: number, sQ: number, seed: number): number[] {
  const r = rng(seed);
  return Array.from({ length: b }, () => {
    const n = Math.sqrt(-2 * Math.log(Math.max(r(), 1e-12))) * Math.cos(2 * Math.PI * r());
    return Math.max(Math.round(s + (n * s) / 2), sQ);
  });
}

function isPosInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 1;
}

/**
 * One config from a JSON object in the anchors-file format: {b, s, h_q, s_q, varlen, seqlens, causal?, dtype?,
 * kv?, topk?}. Missing seqlens: b × s when fixed, FlashMLA-style random lengths (seeded by the index) when
 * varlen. kv: 'fp8' (an FP8 cache) or 'bf16'/'fp16'/absent (16-bit, the dtype's). topk: sparse decode (kv fp8,
 * causal false: both may be left out).
 */
export function configFromJson(o: unknown, id: string, index = 0): BenchConfig {
  const where = `config ${id}`;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new TypeError(`${where}: expected an object`);
  const c = o as Record<string, unknown>;
  for (const k of ['h_q', 's_q']) if (!isPosInt(c[k])) throw new TypeError(`${where}: ${k} must be an integer ≥ 1, got ${JSON.stringify(c[k])}`);
  const h_q = c.h_q as number;
  const s_q = c.s_q as number;
  const varlen = c.varlen === undefined ? false : c.varlen;
  if (typeof varlen !== 'boolean') throw new TypeError(`${where}: varlen must be a boolean`);
  let topk: number | undefined;
  if (c.topk !== undefined && c.topk !== null) {
    if (!isPosInt(c.topk)) throw new TypeError(`${where}: topk must be an integer ≥ 1, got ${JSON.stringify(c.topk)}`);
    topk = c.topk;
  }
  const causal = c.causal === undefined ? topk === undefined : c.causal;
  if (typeof causal !== 'boolean') throw new TypeError(`${where}: causal must be a boolean`);
  if (topk !== undefined && causal) throw new RangeError(`${where}: sparse decode (topk) is not causal: causal must be false or left out`);
  const dtype = c.dtype === undefined ? 'bf16' : c.dtype;
  if (dtype !== 'bf16' && dtype !== 'fp16') throw new TypeError(`${where}: dtype must be 'bf16' or 'fp16', got ${JSON.stringify(dtype)}`);
  if (c.kv !== undefined && c.kv !== null && !['fp8', 'bf16', 'fp16'].includes(c.kv as string)) {
    throw new TypeError(`${where}: kv must be 'fp8' (or 'bf16'/'fp16': the dtype's 16-bit cache), got ${JSON.stringify(c.kv)}`);
  }
  if (c.kv !== undefined && c.kv !== null && c.kv !== 'fp8' && c.kv !== dtype) throw new RangeError(`${where}: a 16-bit cache is in q's dtype (${dtype}), got kv ${JSON.stringify(c.kv)}`);
  if (topk !== undefined && c.kv !== undefined && c.kv !== null && c.kv !== 'fp8') throw new RangeError(`${where}: sparse decode (topk) reads an FP8 cache: kv must be 'fp8' or left out`);
  const fp8 = c.kv === 'fp8' || topk !== undefined;
  let seqlens: number[];
  if (c.seqlens !== undefined) {
    if (!Array.isArray(c.seqlens) || c.seqlens.length === 0 || !c.seqlens.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0)) {
      throw new TypeError(`${where}: seqlens must be a non-empty array of integers ≥ 0`);
    }
    seqlens = [...(c.seqlens as number[])];
    if (c.b !== undefined && c.b !== seqlens.length) throw new RangeError(`${where}: b = ${String(c.b)} but ${seqlens.length} seqlens`);
  } else {
    if (!isPosInt(c.b) || !isPosInt(c.s)) throw new TypeError(`${where}: without seqlens, b and s (mean seqlen) must be integers ≥ 1`);
    seqlens = varlen ? variableSeqlens(c.b, c.s, s_q, 1000 + index) : new Array<number>(c.b).fill(c.s);
  }
  const b = seqlens.length;
  const s = isPosInt(c.s) ? c.s : Math.round(sumSeqlens(seqlens) / b);
  if (c.name !== undefined && (typeof c.name !== 'string' || c.name.trim() === '')) throw new TypeError(`${where}: name must be a non-empty string, got ${JSON.stringify(c.name)}`);
  return {
    id, ...(typeof c.name === 'string' ? { name: c.name.trim() } : {}), b, s, h_q, s_q, varlen, causal, dtype, seqlens,
    ...(fp8 ? { kv: 'fp8' as const } : {}), ...(topk !== undefined ? { topk } : {}),
  };
}

/** Configs of a JSON file: {configs: [...]} (anchors file, bench-configs.json, a bench result's rows) or a bare array. */
export function loadConfigFile(path: string): BenchConfig[] {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`--configs ${path}: ${(e as Error).message}`);
  }
  let list: unknown = Array.isArray(doc) ? doc : (doc as Record<string, unknown>)?.configs;
  // a bench result: its rows carry their configs, and so do the runs it skipped (schema 3)
  if (list === undefined && Array.isArray((doc as Record<string, unknown>)?.rows)) {
    const seen = new Set<string>();
    const result = doc as { rows: Array<{ config: unknown }>; skipped?: Array<{ config: unknown }> };
    list = [...result.rows, ...(Array.isArray(result.skipped) ? result.skipped : [])].map((r) => r.config).filter((c) => {
      const k = JSON.stringify(c);
      return seen.has(k) ? false : (seen.add(k), true);
    });
  }
  if (!Array.isArray(list) || list.length === 0) throw new TypeError(`--configs ${path}: expected a non-empty "configs" array (anchors-file format) or an array of configs`);
  return list.map((o, i) => configFromJson(o, `file#${i}`, i));
}

// ---------------------------------------------------------------------------------------------- selectors

const FILTER_KEYS = ['b', 's', 'h_q', 's_q', 'varlen', 'causal'] as const;
type FilterKey = (typeof FILTER_KEYS)[number];

function parseFilterValue(key: FilterKey, v: string): number | boolean {
  if (key === 'varlen' || key === 'causal') {
    if (['true', '1', 'yes', 'var'].includes(v)) return true;
    if (['false', '0', 'no', 'fixed'].includes(v)) return false;
    throw new RangeError(`--configs: ${key}=${v}: expected true or false`);
  }
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new RangeError(`--configs: ${key}=${v}: expected an integer`);
  return n;
}

/**
 * Pick configs. `spec`:
 *   (empty) | all                 the default set (`sweep` on a GPU, `small` on the cpu backend)
 *   sweep | serving | small | tiny   a whole named set
 *   [set:]0,3,5 | [set:]0-7       indices (ranges inclusive) into the set
 *   [set:]S1,S7                   configs by short name (the first word of their name: serving's S1–S12)
 *   [set:]h_q=16,s_q=1            filters: keys b, s, h_q, s_q, varlen, causal; different keys AND, a repeated key ORs
 *                                 (h_q=16,h_q=32); `fixed` / `var` are short for varlen=false / true
 *   [set:]0-15,h_q=128            indices, then filtered
 *   path/to/file.json             configs of a file in the anchors format (selectors don't apply)
 */
export function selectConfigs(spec: string | undefined, defaultSet: ConfigSetName): ConfigSelection {
  const raw = (spec ?? '').trim();
  if (raw.endsWith('.json') || (raw.includes('/') && existsSync(raw))) {
    if (!existsSync(raw)) throw new Error(`--configs ${raw}: no such file`);
    return { configs: loadConfigFile(raw), source: `file ${raw}` };
  }
  let setName = defaultSet;
  let rest = raw;
  const colon = raw.indexOf(':');
  const head = colon >= 0 ? raw.slice(0, colon) : raw;
  if (CONFIG_SETS.includes(head as ConfigSetName)) {
    setName = head as ConfigSetName;
    rest = colon >= 0 ? raw.slice(colon + 1) : '';
  } else if (colon >= 0) {
    throw new RangeError(`--configs: unknown set '${head}' (expected ${CONFIG_SETS.join(', ')})`);
  }
  const all = configSet(setName);
  if (rest === '' || rest === 'all') return { configs: all, source: `${setName} (all ${all.length})` };
  const indices: number[] = [];
  const filters = new Map<FilterKey, Array<number | boolean>>();
  for (const term of rest.split(',').map((t) => t.trim()).filter(Boolean)) {
    let m: RegExpExecArray | null;
    if ((m = /^(\d+)(?:-(\d+))?$/.exec(term))) {
      const lo = Number(m[1]);
      const hi = m[2] === undefined ? lo : Number(m[2]);
      if (hi < lo) throw new RangeError(`--configs: range ${term} is empty`);
      for (let i = lo; i <= hi; i++) {
        if (i >= all.length) throw new RangeError(`--configs: index ${i} is out of range (set '${setName}' has ${all.length} configs: 0-${all.length - 1})`);
        if (!indices.includes(i)) indices.push(i);
      }
    } else if ((m = /^[A-Za-z][\w.-]*$/.exec(term)) && all.some((c) => shortName(c)?.toLowerCase() === term.toLowerCase())) {
      const i = all.findIndex((c) => shortName(c)?.toLowerCase() === term.toLowerCase());
      if (!indices.includes(i)) indices.push(i);
    } else if (term === 'fixed' || term === 'var') {
      filters.set('varlen', [...(filters.get('varlen') ?? []), term === 'var']);
    } else if ((m = /^([a-z_]+)=(.+)$/.exec(term))) {
      const key = m[1] as FilterKey;
      if (!FILTER_KEYS.includes(key)) throw new RangeError(`--configs: unknown key '${m[1]}' (expected ${FILTER_KEYS.join(', ')})`);
      filters.set(key, [...(filters.get(key) ?? []), parseFilterValue(key, m[2])]);
    } else if ((m = /^([a-z-]+):/.exec(term)) && CONFIG_SETS.includes(m[1] as ConfigSetName)) {
      throw new RangeError(`--configs: '${term}': a selector picks from one set ('${setName}' here); run the sets separately`);
    } else {
      const names = all.map(shortName).filter((n): n is string => n !== undefined);
      const byName = names.length ? `, a config name (${names[0]}-${names[names.length - 1]})` : '';
      throw new RangeError(`--configs: cannot read '${term}' (expected an index, a range a-b, key=value${byName}, a set name or a .json file)`);
    }
  }
  let picked = indices.length > 0 ? indices.map((i) => all[i]) : all;
  picked = picked.filter((c) => [...filters].every(([k, vs]) => vs.includes(c[k])));
  if (picked.length === 0) throw new RangeError(`--configs ${raw}: selects no config of set '${setName}'`);
  return { configs: picked, source: `${setName} [${rest}] (${picked.length} of ${all.length})` };
}

/** The first word of a config's name (`S1`), if it has one. */
export function shortName(c: { name?: string }): string | undefined {
  return c.name?.split(/\s+/)[0] || undefined;
}

/**
 * Short label: `b128 s4096 h16 q1 var`, after the short name when the config has one (`S1 b1 s16384 h128 q1 fix`),
 * with ` fp8` over an FP8 cache and ` topk2048` for sparse decode (`b2 s32768 h128 q2 var topk2048`, always FP8).
 */
export function configLabel(c: Pick<BenchConfig, 'b' | 's' | 'h_q' | 's_q' | 'varlen'> & { name?: string; kv?: 'fp8'; topk?: number; kvPages?: number }): string {
  const n = shortName(c);
  const format = c.topk !== undefined ? ` topk${c.topk}` : c.kv === 'fp8' ? ' fp8' : '';
  const pages = c.kvPages !== undefined ? ` pages${c.kvPages}` : '';
  return `${n ? `${n} ` : ''}b${c.b} s${c.s} h${c.h_q} q${c.s_q} ${c.varlen ? 'var' : 'fix'}${format}${pages}`;
}

/**
 * Identity of a workload for matching against reference measurements: the shape and seqlens, then `|fp8` over
 * an FP8 cache and `|topk<n>` for sparse decode (a 16-bit dense config's key is what it always was, so the
 * shipped anchors, all bf16 dense, match those only).
 */
export function configKey(c: Pick<BenchConfig, 'b' | 's_q' | 'h_q' | 'seqlens'> & { causal?: boolean; kv?: 'fp8'; topk?: number; kvPages?: number }): string {
  const format = `${c.kv === 'fp8' || c.topk !== undefined ? '|fp8' : ''}${c.topk !== undefined ? `|topk${c.topk}` : ''}`;
  // (the pages before the format: otherKvKey swaps a trailing |fp8; no anchor has pages, so none matches a probe)
  const pages = c.kvPages !== undefined ? `|pages${c.kvPages}` : '';
  return `${c.b}|${c.s_q}|${c.h_q}|${c.causal === false ? 'nc' : 'c'}|${c.seqlens.join(',')}${pages}${format}`;
}

/**
 * The key of the same dense workload over the other cache format (16-bit ↔ FP8), to compare a run over one with
 * a run over the other (`--kv fp8 --reference bf16-run.json`); null for sparse decode (no 16-bit counterpart).
 */
export function otherKvKey(key: string): string | null {
  if (key.includes('|topk')) return null;
  return key.endsWith('|fp8') ? key.slice(0, -'|fp8'.length) : `${key}|fp8`;
}

// ---------------------------------------------------------------------------------------------- reference series

export interface ReferencePoint {
  key: string;
  label: string;
  flops: number;
  bytes: number;
  ms: number;
}

export interface ReferenceSeries {
  /** Legend text, e.g. `FlashMLA 9edee0c · NVIDIA H100 80GB HBM3 (reference)`. */
  name: string;
  /**
   * Which implementation measured it, as the anchors name it (`flashmla`, `flashmla_with_metadata`, `fa3`,
   * `triton`); absent for another flash-mla run. The bench's peer columns pick series by this id.
   */
  peer?: string;
  /**
   * Another flash-mla run: the file it came from. Its rows make one series per kernel, all with this file; a row's
   * reference time is its own kernel's where that kernel measured its workload, else the first of the run's kernels
   * that did (a run of the default selection measured each config on the kernel chosen for its shape).
   */
  run?: string;
  /** Another flash-mla run: the kernel whose rows these are (a row of the same kernel looks here first). */
  kernel?: string;
  points: ReferencePoint[];
}

/** Peers as the anchors name them → legend names. */
export const PEER_NAMES: Record<string, string> = {
  flashmla: 'FlashMLA 9edee0c',
  flashmla_with_metadata: 'FlashMLA + metadata',
  fa3: 'FlashAttention-3',
  triton: 'Triton MLA',
};

/** Peers → the short names of the table (`best` column, legend). */
export const PEER_SHORT_NAMES: Record<string, string> = {
  flashmla: 'FM',
  flashmla_with_metadata: 'FM+md',
  fa3: 'FA3',
  triton: 'Triton',
};

function seriesFromAnchors(configs: BenchConfig[], results: Array<Record<string, unknown>>, device: string, peers?: string[]): ReferenceSeries[] {
  const byPeer = new Map<string, ReferencePoint[]>();
  configs.forEach((c, i) => {
    const r = results[i] ?? {};
    for (const [peer, v] of Object.entries(r)) {
      if (peers && !peers.includes(peer)) continue;
      const ms = (v as { ms?: unknown })?.ms;
      if (typeof ms !== 'number' || !(ms > 0)) continue;
      const pts = byPeer.get(peer) ?? [];
      pts.push({ key: configKey(c), label: configLabel(c), flops: configFlops(c), bytes: configBytes(c), ms });
      byPeer.set(peer, pts);
    }
  });
  return [...byPeer].map(([peer, points]) => ({ name: `${PEER_NAMES[peer] ?? peer} · ${device}`, peer, points }));
}

/**
 * Reference measurements to compare with:
 *   h100 | h200                     the shipped measurements of that card: one series per peer, covering FlashMLA's
 *                                   sweep and, where measured on that card (h200), the serving configs S1–S12
 *   file.json                       an anchors-format file (per-config peer objects with ms), or the --json of another run
 * `peers` limits anchors peers (default: all).
 */
export function loadReference(spec: string, peers?: string[]): ReferenceSeries[] {
  if (!spec.endsWith('.json') && !existsSync(spec)) {
    const r = shippedReference(spec);
    const series = seriesFromAnchors(sweepConfigs(), r.results, `${r.device} (reference)`, peers);
    const serving = shippedData().serving.reference[spec.toLowerCase()];
    if (serving) {
      // the same peers measured on the serving shapes: one series per peer over both sets
      for (const s of seriesFromAnchors(servingConfigs(), serving.results, `${r.device} (reference)`, peers)) {
        const same = series.find((x) => x.peer === s.peer);
        if (same) same.points.push(...s.points);
        else series.push(s);
      }
    }
    return series;
  }
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(readFileSync(spec, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`--reference ${spec}: ${(e as Error).message}`);
  }
  if (Array.isArray(doc.rows)) {
    // another flash-mla bench run
    const dev = (doc.device as { name?: string } | undefined)?.name ?? 'unknown device';
    const byKernel = new Map<string, ReferencePoint[]>();
    for (const row of doc.rows as Array<{ config: BenchConfig; kernel: string; ms: number; flops: number; bytes: number }>) {
      if (!(row.ms > 0)) continue;
      const pts = byKernel.get(row.kernel) ?? [];
      pts.push({ key: configKey(row.config), label: configLabel(row.config), flops: row.flops, bytes: row.bytes, ms: row.ms });
      byKernel.set(row.kernel, pts);
    }
    const date = typeof doc.date === 'string' ? ` ${doc.date.slice(0, 10)}` : '';
    return [...byKernel].map(([k, points]) => ({ name: `${k} · ${dev}${date}`, run: spec, kernel: k, points }));
  }
  if (!Array.isArray(doc.configs)) throw new TypeError(`--reference ${spec}: expected an anchors file ({configs: [...]}) or a flash-mla bench --json result ({rows: [...]})`);
  const configs = (doc.configs as unknown[]).map((o, i) => configFromJson(o, `ref#${i}`, i));
  const what = typeof doc.what === 'string' ? doc.what : '';
  const device = /on one (NVIDIA [^,(]+)/.exec(what)?.[1]?.trim() ?? spec.replace(/^.*\//, '');
  return seriesFromAnchors(configs, doc.configs as Array<Record<string, unknown>>, device, peers);
}
