#!/usr/bin/env node
// Compares the machine code of the kernels two builds share, without cuobjdump/nvdisasm (not shipped with every
// toolkit install): reads each cubin's ELF section table and hashes, per kernel, the sections that make up what runs —
// .text.<kernel> (the SASS), .rel/.rela.text.<kernel> (its relocations), .nv.info.<kernel> (register count, parameter
// layout, barriers, exit offsets), .nv.constant0.<kernel> (its parameter bank), .nv.shared.<kernel> (static smem).
// Line tables and other debug sections are left out on purpose: moving source between files changes them, not the code.
// PTX files are compared per `.entry` (its text up to the next `.entry` or the end of the file), with the names of the
// file's `.extern .shared` arrays (the dynamic shared memory; named after the C++ namespace that declares them)
// replaced by their declaration order, and the hashes nvcc puts in anonymous-namespace names (they follow the source
// file's path: two checkouts differ) blanked: renaming a symbol changes no instruction.
//
//   node scripts/compare-cubins.mjs OLD_DIR NEW_DIR [FILE_PREFIX…]
//
// Prints one line per kernel present in both builds (`same` or what differs) and the kernels only one build has;
// exits 1 if any shared kernel differs.

import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const KERNEL_SECTIONS = ['.text.', '.rel.text.', '.rela.text.', '.nv.info.', '.nv.constant0.', '.nv.shared.'];

/** Section name → bytes of a 64-bit little-endian ELF file. */
export function elfSections(buf) {
  if (buf.readUInt32BE(0) !== 0x7f454c46) throw new Error('not an ELF file');
  if (buf[4] !== 2 || buf[5] !== 1) throw new Error(`expected ELF64 little-endian, got class ${buf[4]}, data ${buf[5]}`);
  const shoff = Number(buf.readBigUInt64LE(0x28));
  const shentsize = buf.readUInt16LE(0x3a);
  const shnum = buf.readUInt16LE(0x3c);
  const shstrndx = buf.readUInt16LE(0x3e);
  const header = (i) => {
    const o = shoff + i * shentsize;
    return { name: buf.readUInt32LE(o), type: buf.readUInt32LE(o + 4), offset: Number(buf.readBigUInt64LE(o + 0x18)), size: Number(buf.readBigUInt64LE(o + 0x20)) };
  };
  const strtab = header(shstrndx);
  const nameAt = (off) => {
    const start = strtab.offset + off;
    return buf.toString('latin1', start, buf.indexOf(0, start));
  };
  const out = new Map();
  for (let i = 1; i < shnum; i++) {
    const h = header(i);
    const bytes = h.type === 8 /* SHT_NOBITS */ ? Buffer.from(`nobits:${h.size}`) : buf.subarray(h.offset, h.offset + h.size);
    out.set(nameAt(h.name), bytes);
  }
  return out;
}

const sha = (b) => createHash('sha256').update(b).digest('hex').slice(0, 16);

/** kernel → { section kind → hash } of one cubin. */
function cubinKernels(path) {
  const kernels = new Map();
  for (const [name, bytes] of elfSections(readFileSync(path))) {
    const kind = KERNEL_SECTIONS.find((k) => name.startsWith(k));
    if (!kind) continue;
    const kernel = name.slice(kind.length);
    if (!kernels.has(kernel)) kernels.set(kernel, {});
    kernels.get(kernel)[kind.slice(0, -1)] = sha(bytes);
  }
  return kernels;
}

/** kernel → { ptx: hash } of one PTX file. */
function ptxKernels(path) {
  let text = readFileSync(path, 'utf8');
  text = text.replace(/(_INTERNAL_|_GLOBAL__N__)[0-9a-f]{8}(_\d+_\w+?_cu_)[0-9a-f]{8}/g, '$1xxxxxxxx$2xxxxxxxx');
  [...text.matchAll(/^\.extern \.shared [^\n]*?(\w+)\[\];$/gm)].forEach((m, i) => {
    text = text.replaceAll(m[1], `extern_shared_${i}`);
  });
  const kernels = new Map();
  const re = /\.entry\s+(\w+)/g;
  const starts = [...text.matchAll(re)];
  starts.forEach((m, i) => {
    const body = text.slice(m.index, i + 1 < starts.length ? starts[i + 1].index : text.length);
    kernels.set(m[1], { ptx: sha(body) });
  });
  return kernels;
}

function main() {
  const [oldDir, newDir, ...prefixes] = process.argv.slice(2);
  if (!oldDir || !newDir || !existsSync(oldDir) || !existsSync(newDir)) {
    console.error('usage: node scripts/compare-cubins.mjs OLD_DIR NEW_DIR [FILE_PREFIX…] (two dist/kernels folders)');
    process.exit(2);
  }
  const files = readdirSync(oldDir).filter((f) => /\.(cubin|ptx)$/.test(f) && (!prefixes.length || prefixes.some((p) => f.startsWith(p))));
  let differ = 0;
  let same = 0;
  for (const f of files.sort()) {
    if (!existsSync(join(newDir, f))) {
      console.log(`${f}: only in ${oldDir}`);
      continue;
    }
    const read = f.endsWith('.ptx') ? ptxKernels : cubinKernels;
    const a = read(join(oldDir, f));
    const b = read(join(newDir, f));
    for (const [k, ha] of a) {
      const hb = b.get(k);
      if (!hb) {
        console.log(`${f} ${k}: only in ${oldDir}`);
        continue;
      }
      const kinds = [...new Set([...Object.keys(ha), ...Object.keys(hb)])];
      const bad = kinds.filter((s) => ha[s] !== hb[s]);
      if (bad.length) differ++;
      else same++;
      console.log(`${f} ${k}: ${bad.length ? `DIFFERS in ${bad.join(', ')}` : `same (${kinds.join(', ')})`}`);
    }
    for (const k of b.keys()) if (!a.has(k)) console.log(`${f} ${k}: only in ${newDir}`);
  }
  console.log(`compare-cubins: ${same} kernel(s) the same, ${differ} differ`);
  process.exit(differ ? 1 : 0);
}

main();
