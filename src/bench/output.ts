// The files a bench run writes (--json, --svg): checked before the run, so a typo in a path costs nothing,
// and written after the table is printed, so a failure at the end (disk full, a folder removed meanwhile)
// still leaves the run's results on stdout.

import { accessSync, constants, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * Why `path` cannot be written, in words, or null when it can: its folder must exist and be writable; the path
 * must not be a folder; an existing file must be writable.
 */
export function outputPathProblem(path: string): string | null {
  if (path.trim() === '') return 'expected a file path, got an empty string';
  const full = resolve(path);
  let st: ReturnType<typeof statSync> | undefined;
  try {
    st = statSync(full);
  } catch {
    st = undefined;
  }
  if (st?.isDirectory()) return `${path} is a folder, expected a file path`;
  if (st) {
    try {
      accessSync(full, constants.W_OK);
      return null;
    } catch {
      return `${path} exists and is not writable`;
    }
  }
  const dir = dirname(full);
  let dirStat: ReturnType<typeof statSync> | undefined;
  try {
    dirStat = statSync(dir);
  } catch {
    return `folder ${dir} does not exist`;
  }
  if (!dirStat.isDirectory()) return `${dir} is not a folder`;
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    return `folder ${dir} is not writable`;
  }
  return null;
}

export interface OutputFile {
  /** The option that named it, e.g. `--json`. */
  flag: string;
  path: string;
  /** The content, made only when it is written. */
  content: () => string;
}

/**
 * Write each file, the others still when one fails. Returns per file the error message, null when written.
 */
export function writeOutputs(files: readonly OutputFile[], write: (path: string, data: string) => void = (p, d) => writeFileSync(p, d)): Array<{ file: OutputFile; error: string | null }> {
  return files.map((file) => {
    try {
      write(file.path, file.content());
      return { file, error: null };
    } catch (e) {
      return { file, error: `${file.flag} ${file.path}: could not write the file: ${(e as Error).message}` };
    }
  });
}
