#!/usr/bin/env node
// Generates data/bench-configs.json, the decode configs `flash-mla bench` runs, from the reference
// measurements of FlashMLA's published benchmark (anchors-h100.json / anchors-h200.json) and the serving-shape
// configs measured on an H200 (serving-configs.json):
//   - configs: the 32 sweep configs (b, mean seqlen s, h_q, s_q, fixed/variable length, causal, bf16) with their
//     exact per-request seqlens and FlashMLA's flops/bytes for them;
//   - reference.<card>: what was measured where (device, peers, ceilings) and, per config, each peer's
//     ms / GB/s / TFLOPS (same order as configs);
//   - serving: the 12 serving configs S1–S12 (name, shape, exact seqlens, flops/bytes) and serving.reference.h200:
//     per config each peer's ms (flashmla, flashmla_with_metadata, fa3; same order as serving.configs). Only
//     the times are copied: the rates follow from them and the formulas.
// Usage: node scripts/gen-bench-configs.mjs [dir with anchors-*.json and serving-configs.json] (default /work/shared/reference)
// Checks while generating: both anchor files hold the same configs, flops/bytes match FlashMLA's formulas, and
// each serving config's b, mean seqlen and name are consistent.

import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = process.argv[2] ?? '/work/shared/reference';
const cards = ['h100', 'h200'];
const CONFIG_KEYS = new Set(['b', 's', 'h_q', 's_q', 'varlen', 'seqlens', 'flops', 'bytes']);

const flopsOf = (c) => c.s_q * sum(c.seqlens) * c.h_q * (576 + 512) * 2;
const bytesOf = (c) => (sum(c.seqlens) * 576 + c.b * c.s_q * c.h_q * 576 + c.b * c.s_q * c.h_q * 512) * 2;
function sum(a) {
  return a.reduce((x, y) => x + y, 0);
}
function fail(msg) {
  console.error(`gen-bench-configs: ${msg}`);
  process.exit(1);
}

const anchors = Object.fromEntries(cards.map((card) => [card, JSON.parse(readFileSync(join(srcDir, `anchors-${card}.json`), 'utf8'))]));
const base = anchors.h100.configs;
const configs = base.map((c, i) => {
  if (c.seqlens.length !== c.b) fail(`config ${i}: ${c.seqlens.length} seqlens for b = ${c.b}`);
  if (flopsOf(c) !== c.flops) fail(`config ${i}: flops ${c.flops} ≠ formula ${flopsOf(c)}`);
  if (bytesOf(c) !== c.bytes) fail(`config ${i}: bytes ${c.bytes} ≠ formula ${bytesOf(c)}`);
  for (const card of cards) {
    const o = anchors[card].configs[i];
    for (const k of ['b', 's', 'h_q', 's_q', 'varlen', 'flops', 'bytes']) if (o[k] !== c[k]) fail(`config ${i}: ${card} ${k} = ${o[k]}, h100 has ${c[k]}`);
    if (o.seqlens.join() !== c.seqlens.join()) fail(`config ${i}: ${card} seqlens differ from h100's`);
  }
  return { b: c.b, s: c.s, h_q: c.h_q, s_q: c.s_q, varlen: c.varlen, causal: true, dtype: 'bf16', seqlens: c.seqlens, flops: c.flops, bytes: c.bytes };
});
if (configs.length !== 32) fail(`expected 32 configs, got ${configs.length}`);

const reference = {};
for (const card of cards) {
  const a = anchors[card];
  const device = /measured [^,]*on one (NVIDIA [^,(]+)/.exec(a.what)?.[1]?.trim() ?? card.toUpperCase();
  reference[card] = {
    device,
    what: a.what,
    peers: a.peers,
    ceilings: a.ceilings,
    results: a.configs.map((c) => Object.fromEntries(Object.entries(c).filter(([k]) => !CONFIG_KEYS.has(k)))),
  };
}

// ---------------------------------------------------------------------------------------------- serving configs

const servingDoc = JSON.parse(readFileSync(join(srcDir, 'serving-configs.json'), 'utf8'));
// serving-configs.json keeps the times per card as <peer>_ms; the shipped data uses the anchors' peer ids
const SERVING_CARDS = ['h200'];
const SERVING_PEERS = ['flashmla', 'flashmla_with_metadata', 'fa3'];
const servingNames = new Set();
const servingConfigs = servingDoc.configs.map((c, i) => {
  const where = `serving config ${i} (${c.name})`;
  if (typeof c.name !== 'string' || !/^S\d+ /.test(c.name)) fail(`${where}: name should start with S<n>, got ${JSON.stringify(c.name)}`);
  const short = c.name.split(' ')[0];
  if (servingNames.has(short)) fail(`${where}: ${short} appears twice`);
  servingNames.add(short);
  if (c.seqlens.length !== c.b) fail(`${where}: ${c.seqlens.length} seqlens for b = ${c.b}`);
  if (Math.round(sum(c.seqlens) / c.b) !== c.s) fail(`${where}: s = ${c.s} but the mean seqlen is ${sum(c.seqlens) / c.b}`);
  if (flopsOf(c) !== c.flops) fail(`${where}: flops ${c.flops} ≠ formula ${flopsOf(c)}`);
  if (bytesOf(c) !== c.bytes) fail(`${where}: bytes ${c.bytes} ≠ formula ${bytesOf(c)}`);
  if (c.causal !== true || c.dtype !== 'bf16') fail(`${where}: expected causal bf16`);
  return { name: c.name, b: c.b, s: c.s, h_q: c.h_q, s_q: c.s_q, varlen: c.varlen, causal: c.causal, dtype: c.dtype, seqlens: c.seqlens, flops: c.flops, bytes: c.bytes };
});
if (servingConfigs.length !== 12) fail(`expected 12 serving configs, got ${servingConfigs.length}`);
const servingReference = {};
for (const card of SERVING_CARDS) {
  const device = /on one (NVIDIA [^,(]+)/.exec(servingDoc.what)?.[1]?.trim() ?? card.toUpperCase();
  servingReference[card] = {
    device,
    what: servingDoc.what,
    // the same revisions as the sweep's anchors on this card (serving-configs.json names them in its `what`)
    peers: Object.fromEntries(SERVING_PEERS.map((p) => [p, anchors[card].peers[p]])),
    results: servingDoc.configs.map((c, i) => {
      const times = c[card];
      return Object.fromEntries(SERVING_PEERS.map((p) => {
        const ms = times?.[`${p}_ms`];
        if (typeof ms !== 'number' || !(ms > 0)) fail(`serving config ${i}: ${card}.${p}_ms = ${ms}`);
        return [p, { ms }];
      }));
    }),
  };
}

const out = {
  what:
    "The MLA decode sweep of FlashMLA's published benchmark (deepseek-ai/FlashMLA 9edee0c, benchmark/bench_flash_mla.py): " +
    'b = 128, mean seqlen 4096 and 8192, h_q in {16, 32, 64, 128}, s_q in {1, 2}, fixed and variable length, causal, bf16, ' +
    'head dims 576/512, h_kv = 1, page block 64, shuffled block table. Variable seqlens are the exact ones of the reference run.',
  generatedBy: 'scripts/gen-bench-configs.mjs from anchors-h100.json and anchors-h200.json',
  formulas: {
    flops: 's_q * sum(seqlens) * h_q * (576 + 512) * 2',
    bytes: '(sum(seqlens) * 576 + b * s_q * h_q * 576 + b * s_q * h_q * 512) * 2',
  },
  configs,
  reference,
  serving: {
    what: servingDoc.what,
    generatedBy: 'scripts/gen-bench-configs.mjs from serving-configs.json',
    configs: servingConfigs,
    reference: servingReference,
  },
};

// One config / one result per line: readable diffs, small file.
const configsText = (list, indent) => '[\n' + list.map((c) => indent + '  ' + JSON.stringify(c)).join(',\n') + '\n' + indent + ']';
const referenceText = (ref, indent) => '{\n' + Object.keys(ref).map((card) => {
  const { results, ...rest } = ref[card];
  const head = Object.entries(rest).map(([k, v]) => `${indent}    ${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(',\n');
  return `${indent}  ${JSON.stringify(card)}: {\n${head},\n${indent}    "results": [\n${results.map((r) => indent + '      ' + JSON.stringify(r)).join(',\n')}\n${indent}    ]\n${indent}  }`;
}).join(',\n') + '\n' + indent + '}';
let text = JSON.stringify({
  ...out,
  configs: '@CONFIGS@',
  reference: '@REFERENCE@',
  serving: { ...out.serving, configs: '@SERVING_CONFIGS@', reference: '@SERVING_REFERENCE@' },
}, null, 2);
text = text.replace('"@CONFIGS@"', configsText(configs, '  '));
text = text.replace('"@REFERENCE@"', referenceText(reference, '  '));
text = text.replace('"@SERVING_CONFIGS@"', configsText(servingConfigs, '    '));
text = text.replace('"@SERVING_REFERENCE@"', referenceText(servingReference, '    '));
if (JSON.stringify(JSON.parse(text)) !== JSON.stringify(out)) fail('formatting changed the data');
mkdirSync(join(root, 'data'), { recursive: true });
writeFileSync(join(root, 'data', 'bench-configs.json'), text + '\n');
console.log(`wrote data/bench-configs.json: ${configs.length} sweep configs, reference ${cards.join(', ')}; ${servingConfigs.length} serving configs, reference ${SERVING_CARDS.join(', ')}`);
