// The README's TypeScript examples that name backend 'cuda', transpiled to JavaScript (types stripped) into DIR as
// line-N-cuda.js (N: the line of the block's opening fence), for a GPU machine without typescript: put DIR inside
// dist/ of a checkout (so that 'flash-mla' resolves to the build through package.json's exports) and run each with
// node. test/readme-examples.test.ts does the same in `npm run test:gpu`.
// Usage: node scripts/readme-examples-js.mjs DIR   (e.g. .variants/devdist/readme-examples, for scripts/device-next.sh s55g)

import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node scripts/readme-examples-js.mjs DIR');
  process.exit(2);
}
const root = fileURLToPath(new URL('../', import.meta.url));
const lines = readFileSync(join(root, 'README.md'), 'utf8').split('\n');
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
for (let i = 0; i < lines.length; i++) {
  if (lines[i] !== '```ts') continue;
  const end = lines.indexOf('```', i + 1);
  const code = lines.slice(i + 1, end).join('\n') + '\n';
  if (code.includes("'cuda'")) {
    const js = ts.transpileModule(code, { compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 } }).outputText;
    const f = join(dir, `line-${i + 1}-cuda.js`);
    writeFileSync(f, js);
    console.log(f);
  }
  i = end;
}
