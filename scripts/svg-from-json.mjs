// The roofline chart of a saved bench run, drawn again from its JSON (`flash-mla bench --json`) with no GPU: the same
// chart `--svg` writes, so a README chart can follow the run its tables come from.
// Usage: node scripts/svg-from-json.mjs RUN.json OUT.svg [REFERENCE …]   (REFERENCE: h100 | h200 | FILE.json; default h200)
import { readFileSync, writeFileSync } from 'node:fs';
import { rooflineSvgFromResult } from '../dist/src/bench/svg.js';
import { loadReference } from '../dist/src/bench/configs.js';

const [input, output, ...refs] = process.argv.slice(2);
if (!input || !output) {
  console.error('usage: node scripts/svg-from-json.mjs RUN.json OUT.svg [REFERENCE …]');
  process.exit(2);
}
const result = JSON.parse(readFileSync(input, 'utf8'));
const references = (refs.length ? refs : ['h200']).filter((r) => r !== 'none').flatMap((r) => loadReference(r));
writeFileSync(output, rooflineSvgFromResult(result, references));
console.log(`wrote ${output} (${result.rows.length} rows of ${input}, references: ${references.map((r) => r.name).join('; ') || 'none'})`);
