#!/usr/bin/env node
// Generates data/bench-configs.json, the decode sweep `flash-mla bench` runs, from the reference
// measurements of FlashMLA's published benchmark (anchors-h100.json / anchors-h200.json):
//   - configs: the 32 configs (b, mean seqlen s, h_q, s_q, fixed/variable length, causal, bf16) with their
//     exact per-request seqlens and FlashMLA's flops/bytes for them;
//   - reference.<card>: what was measured where (device, peers, ceilings) and, per config, each peer's
//     ms / GB/s / TFLOPS (same order as configs).
// Usage: node scripts/gen-bench-configs.mjs [dir with anchors-*.json] (default /work/shared/reference)
// Checks while generating: both anchor files hold the same configs, and flops/bytes match FlashMLA's formulas.

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
};

// One config / one result per line: readable diffs, small file.
let text = JSON.stringify({ ...out, configs: '@CONFIGS@', reference: '@REFERENCE@' }, null, 2);
text = text.replace('"@CONFIGS@"', '[\n' + configs.map((c) => '    ' + JSON.stringify(c)).join(',\n') + '\n  ]');
const refText = '{\n' + cards.map((card) => {
  const { results, ...rest } = reference[card];
  const head = Object.entries(rest).map(([k, v]) => `      ${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(',\n');
  return `    ${JSON.stringify(card)}: {\n${head},\n      "results": [\n${results.map((r) => '        ' + JSON.stringify(r)).join(',\n')}\n      ]\n    }`;
}).join(',\n') + '\n  }';
text = text.replace('"@REFERENCE@"', refText);
if (JSON.stringify(JSON.parse(text)) !== JSON.stringify(out)) fail('formatting changed the data');
mkdirSync(join(root, 'data'), { recursive: true });
writeFileSync(join(root, 'data', 'bench-configs.json'), text + '\n');
console.log(`wrote data/bench-configs.json: ${configs.length} configs, reference ${cards.join(', ')}`);
