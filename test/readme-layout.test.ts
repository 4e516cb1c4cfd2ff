// The README's source layout map names every folder of the repository (src/'s included) and every module
// directly under src/.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

test("the README's source layout names every folder and every module of src/", () => {
  const readme = readFileSync(`${root}README.md`, 'utf8');
  const start = readme.indexOf('### Source layout');
  assert.ok(start >= 0, 'README has no "### Source layout" section');
  const section = readme.slice(start, readme.indexOf('\n## ', start));
  const dirs = (p: string) => readdirSync(`${root}${p}`, { withFileTypes: true }).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name);
  const ignored = new Set(['node_modules', 'dist']);
  const want = [
    ...dirs('').filter((d) => !ignored.has(d)).map((d) => `\`${d}/`),
    ...dirs('src').map((d) => `\`src/${d}/`),
    ...dirs('test').map((d) => `\`test/${d}/`),
    ...readdirSync(`${root}src`).filter((f) => f.endsWith('.ts')).map((f) => `src/${f}\``),
  ];
  for (const w of want) assert.ok(section.includes(w), `README's source layout does not mention ${w}`);
});
