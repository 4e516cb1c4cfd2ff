// The README's TypeScript examples that name backend 'cuda', transpiled to JavaScript (types stripped) into DIR as
// line-N-cuda.js (N: the line of the block's opening fence), for a GPU machine without typescript: put DIR inside
// dist/ of a checkout (so that 'flash-mla' resolves to the build through package.json's exports) and run each with
// node. test/readme-examples.test.ts does the same in `npm run test:gpu`. Needs the build (`npm run build:ts`).
// Usage: node scripts/readme-examples-js.mjs DIR   (e.g. .variants/devdist/readme-examples, for scripts/device-next.sh s55g)

import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { namesCuda, readmeBlocks, toJavaScript } from '../dist/test/util/readme-examples.js';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node scripts/readme-examples-js.mjs DIR');
  process.exit(2);
}
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
for (const b of readmeBlocks(fileURLToPath(new URL('../', import.meta.url))).filter(namesCuda)) {
  const f = join(dir, `line-${b.line}-cuda.js`);
  writeFileSync(f, toJavaScript(b.code));
  console.log(f);
}
