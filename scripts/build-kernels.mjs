#!/usr/bin/env node
// Compiles kernels/*.cu to cubins in dist/kernels/<name>.<arch>.cubin (and, where asked, PTX in
// dist/kernels/<name>.<compute arch>.ptx) with nvcc, printing ptxas resource usage. Each .cu declares what to
// build in a first-lines comment:
//   // build: archs=sm_80,sm_90 ptx=compute_80 hot
// `archs` lists cubin targets (sm_90a means -gencode arch=compute_90a,code=sm_90a); `ptx` (optional) ships that
// virtual architecture's PTX for the driver to JIT on GPUs with no cubin of ours (sm_100, sm_120, later ones).
// Every PTX is also assembled here, for each of JIT_CHECK_ARCHS (sm_90, sm_100, sm_120), into a throw-away cubin:
// the check that it compiles for those GPUs (and, for `hot` kernels, without spills) before anyone runs it there.
// `hot` makes register spills, stack frames or local memory a build failure. Cubins carry source lines (-lineinfo)
// unless `nolineinfo` is given.
// Without nvcc it says so and exits 0 (the cpu backend needs no kernels); FLASH_MLA_REQUIRE_NVCC=1 makes
// that an error. Up-to-date outputs (newer than the .cu, every header in kernels/ and this script) are not rebuilt.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpus, tmpdir } from 'node:os';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = join(root, 'kernels');
const outDir = join(root, 'dist', 'kernels');
/**
 * GPUs the shipped PTX is test-assembled for: those the README's compatibility table promises run it by JIT
 * (sm_100, sm_120), and sm_90, where the GPU suite runs it with FLASH_MLA_FORCE_PTX=1.
 */
const JIT_CHECK_ARCHS = ['sm_90', 'sm_100', 'sm_120'];

function findNvcc() {
  const candidates = [process.env.NVCC, 'nvcc', '/usr/local/cuda/bin/nvcc'].filter(Boolean);
  for (const c of candidates) {
    const r = spawnSync(c, ['--version'], { encoding: 'utf8' });
    if (r.status === 0) return { path: c, version: (r.stdout.match(/release ([\d.]+)/) ?? [])[1] ?? '?' };
  }
  return null;
}

const nvcc = findNvcc();
if (!nvcc) {
  const msg = 'build-kernels: nvcc not found on PATH: skipping the CUDA kernels (the cpu backend works without them; GPU tests will skip).';
  if (process.env.FLASH_MLA_REQUIRE_NVCC === '1') {
    console.error(msg);
    process.exit(1);
  }
  console.log(msg);
  process.exit(0);
}

mkdirSync(outDir, { recursive: true });
const headers = readdirSync(srcDir).filter((f) => /\.(cuh|h)$/.test(f));
const newestHeader = Math.max(0, ...headers.map((h) => statSync(join(srcDir, h)).mtimeMs));
const only = process.argv.slice(2);

const jobs = [];
const jitDir = mkdtempSync(join(tmpdir(), 'flash-mla-jit-check-'));
process.on('exit', () => rmSync(jitDir, { recursive: true, force: true }));
for (const file of readdirSync(srcDir).filter((f) => f.endsWith('.cu')).sort()) {
  const name = file.slice(0, -3);
  if (only.length && !only.includes(name)) continue;
  const text = readFileSync(join(srcDir, file), 'utf8');
  const m = text.split('\n').slice(0, 10).join('\n').match(/\/\/\s*build:\s*archs=([\w,]+)(.*)/);
  if (!m) {
    console.error(`build-kernels: ${file} has no '// build: archs=…' line`);
    process.exit(1);
  }
  const hot = /\bhot\b/.test(m[2]);
  // nolineinfo: no source lines in the cubin (code_evict: 16 384 instructions of one source line, 1.1 MB with them)
  const lineinfo = /\bnolineinfo\b/.test(m[2]) ? [] : ['-lineinfo'];
  const ptx = (m[2].match(/\bptx=(compute_\w+)/) ?? [])[1];
  const srcTime = Math.max(statSync(join(srcDir, file)).mtimeMs, newestHeader, statSync(fileURLToPath(import.meta.url)).mtimeMs);
  const stale = (out) => !existsSync(out) || statSync(out).mtimeMs <= srcTime || !!process.env.FLASH_MLA_REBUILD;
  for (const arch of m[1].split(',')) {
    const out = join(outDir, `${name}.${arch}.cubin`);
    if (!stale(out)) continue;
    const num = arch.replace(/^sm_/, '');
    const gencode = `arch=compute_${num},code=sm_${num}`;
    const args = ['-cubin', '-O3', '-std=c++17', '-gencode', gencode, '-Xptxas', '-v', '--use_fast_math', ...lineinfo, '-I', srcDir, '-o', out, join(srcDir, file)];
    jobs.push({ file, arch, hot, out, args });
  }
  if (ptx) {
    // No -lineinfo: the PTX stays small (the driver compiles all of it at load) and names no build-machine paths.
    const out = join(outDir, `${name}.${ptx}.ptx`);
    if (!stale(out)) continue;
    // -DFLASH_MLA_PTX lets a kernel adjust what only the JIT sees (mla_combine.cu: its launch bounds).
    const args = ['-ptx', '-O3', '-std=c++17', `-arch=${ptx}`, '--use_fast_math', '-DFLASH_MLA_PTX', '-I', srcDir, '-o', out, join(srcDir, file)];
    const checks = JIT_CHECK_ARCHS.map((arch) => ({
      file,
      arch: `${ptx} → ${arch} JIT check`,
      hot,
      out: null,
      args: ['-cubin', `-arch=${arch}`, '-Xptxas', '-v', '-o', join(jitDir, `${name}.${arch}.cubin`), out],
      ptxOut: out,
    }));
    jobs.push({ file, arch: ptx, hot, out, args, then: checks });
  }
}

function parseUsage(log) {
  // ptxas info    : Used 168 registers, used 1 barriers, 40960 bytes smem, 400 bytes cmem[0]
  // ptxas info    : Function properties for k\n    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
  const fns = [];
  let cur = null;
  for (const line of log.split('\n')) {
    let m = line.match(/Compiling entry function '(\w+)'/) || line.match(/Function properties for (\w+)/);
    if (m) {
      cur = fns.find((f) => f.name === m[1]) ?? { name: m[1], regs: 0, stack: 0, spillSt: 0, spillLd: 0, smem: 0, lmem: 0 };
      if (!fns.includes(cur)) fns.push(cur);
    }
    if (!cur) continue;
    if ((m = line.match(/(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads/))) {
      cur.stack = +m[1];
      cur.spillSt = +m[2];
      cur.spillLd = +m[3];
    }
    if ((m = line.match(/Used (\d+) registers/))) cur.regs = +m[1];
    if ((m = line.match(/(\d+) bytes smem/))) cur.smem = +m[1];
    if ((m = line.match(/(\d+) bytes lmem/))) cur.lmem = +m[1];
  }
  return fns;
}

let failed = false;
// A failed or rejected build step leaves nothing that looks up to date: its output (and, for a JIT check, the PTX it
// checked) is removed, so the next build runs it again instead of skipping it as fresh.
function discard(job) {
  for (const f of [job.out, job.ptxOut]) if (f && existsSync(f)) unlinkSync(f);
}
async function run(job) {
  return new Promise((resolve) => {
    const p = spawn(nvcc.path, job.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    p.stdout.on('data', (d) => (log += d));
    p.stderr.on('data', (d) => (log += d));
    p.on('close', (code) => resolve({ code, log }));
  });
}

const t0 = Date.now();
const queue = [...jobs];
// every task: the jobs and the JIT checks that a PTX job queues once its PTX exists
let remaining = jobs.reduce((n, j) => n + 1 + (j.then?.length ?? 0), 0);
const workers = Array.from({ length: Math.max(1, Math.min(cpus().length, 4)) }, async () => {
  while (remaining > 0) {
    if (!queue.length) {
      // the rest is running elsewhere; a PTX job there may still queue its checks
      await new Promise((r) => setTimeout(r, 20));
      continue;
    }
    const job = queue.shift();
    const { code, log } = await run(job);
    remaining--;
    const label = `${job.file} [${job.arch}${job.hot ? ', hot' : ''}]`;
    if (code !== 0) {
      console.error(`build-kernels: ${label} FAILED\n${log}`);
      failed = true;
      discard(job);
      if (job.then) remaining -= job.then.length;
      continue;
    }
    if (job.then) queue.push(...job.then);  // the PTX exists now: assemble it for the JIT-only GPUs
    for (const f of parseUsage(log)) {
      const bad = job.hot && (f.spillSt > 0 || f.spillLd > 0 || f.stack > 0 || f.lmem > 0);
      console.log(
        `  ${label} ${f.name}: ${f.regs} regs, ${f.smem} B static smem, stack ${f.stack} B, spills ${f.spillSt}/${f.spillLd} B` +
          (bad ? '  <-- spills/local memory in a hot kernel' : ''),
      );
      if (bad) {
        failed = true;
        discard(job);
      }
    }
    const warn = log.split('\n').filter((l) => /warning/i.test(l));
    if (warn.length) console.log(warn.map((w) => `    ${w}`).join('\n'));
  }
});
await Promise.all(workers);
const nCubin = jobs.filter((j) => !j.then).length;
const nPtx = jobs.length - nCubin;
const nChecks = jobs.reduce((n, j) => n + (j.then?.length ?? 0), 0);
if (jobs.length) {
  console.log(
    `build-kernels: nvcc ${nvcc.version}, ${nCubin} cubin(s), ${nPtx} PTX (each assembled for ${JIT_CHECK_ARCHS.join(', ')}: ${nChecks} JIT check(s)) ` +
      `in ${((Date.now() - t0) / 1000).toFixed(1)} s → ${outDir}`,
  );
} else console.log(`build-kernels: nvcc ${nvcc.version}, cubins and PTX up to date in ${outDir}`);
if (failed) process.exit(1);
