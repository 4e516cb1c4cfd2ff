// The README's TypeScript examples: its ```ts blocks, and each as JavaScript (types stripped) for node to run.
// Used by test/readme-examples.test.ts and scripts/readme-examples-js.mjs (the same files for a GPU machine that
// has no typescript).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

export interface ReadmeBlock {
  /** The line of the opening fence (1-based). */
  line: number;
  code: string;
}

/** The ```ts blocks of README.md in the checkout at `root`. */
export function readmeBlocks(root: string): ReadmeBlock[] {
  const lines = readFileSync(join(root, 'README.md'), 'utf8').split('\n');
  const blocks: ReadmeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '```ts') continue;
    const end = lines.indexOf('```', i + 1);
    assert.ok(end > i, `README line ${i + 1}: a \`\`\`ts block without its closing fence`);
    blocks.push({ line: i + 1, code: lines.slice(i + 1, end).join('\n') + '\n' });
    i = end;
  }
  return blocks;
}

/** Whether a block is written for the cuda backend (it names 'cuda'). */
export const namesCuda = (b: ReadmeBlock): boolean => /'cuda'/.test(b.code);

/** TypeScript source as an ES module in JavaScript (types stripped, nothing checked). */
export function toJavaScript(code: string): string {
  return ts.transpileModule(code, { compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 } }).outputText;
}
