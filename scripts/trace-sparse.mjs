// Where a 'hopper' sparse decode's blocks spend their time (a timing experiment; docs/perf-log.md, session 18): needs a
// build of mla_decode_sm90.cu with -DMLA_SM90_SPARSE_TRACE (scripts/build-variant.sh sptrace mla_decode_sm90 sm_90a
// -DMLA_SM90_SPARSE_TRACE), selected with FLASH_MLA_KERNEL_DIR. CTA (0, 0) stamps the SM clock at its producer's and
// math warpgroups' events per block into the attention-sink buffer past its h_q values (−inf there: no effect on the
// output); this prints, per block, each event's time after the producer's start (µs at the given GHz).
// `dense:N` traces sweep row N over an FP8 cache on the dense FP8 entry instead (session 34): the same stamps go into
// q's buffer past its b requests (this script hands a q view of a longer buffer).
// Usage: FLASH_MLA_KERNEL_DIR=$PWD/dist/kv-sptrace/ node scripts/trace-sparse.mjs [sparse row | dense:N, default 11] [GHz, 1.75]
import { Tensor, getMlaMetadata, flashMlaWithKvcache, synchronize } from '../dist/src/index.js';
import { configSet } from '../dist/src/bench/configs.js';
import { makeBenchProblem, makeSparseBenchProblem } from '../dist/src/bench/problem.js';

const arg = String(process.argv[2] ?? 11);
// `bf16:N` / `bf16:SNAME` (session 37): sweep row N or serving config SNAME over the 16-bit cache on 'hopper' (the
// math warpgroups' stamps only: no producer there)
const bf16 = arg.startsWith('bf16:');
const dense = arg.startsWith('dense:') || bf16;
const sel = arg.slice(dense ? (bf16 ? 5 : 6) : 0);
const serving = /^S\d+$/.test(sel);
const row = serving ? configSet('serving').findIndex((c) => c.name?.startsWith(`${sel} `)) : Number(sel);
const ghz = Number(process.argv[3] ?? 1.75);
const TRACE_WORDS = 4096;
let config, hQ, words, run;
if (dense) {
  config = { ...configSet(serving ? 'serving' : 'sweep')[row], kv: bf16 ? 'bf16' : 'fp8' };
  // (FLASH_MLA_TRACE_B=n: the row's first n requests only — a dry run on the kernel emulator)
  const nb = Number(process.env.FLASH_MLA_TRACE_B ?? 0);
  if (nb > 0) config = { ...config, b: nb, seqlens: config.seqlens.slice(0, nb) };
  const p = makeBenchProblem(config, 1234);
  hQ = p.hQ;
  const qElems = p.b * p.sQ * p.hQ * 576;
  const qHost = new Uint16Array(qElems + 2 * TRACE_WORDS);
  qHost.set(p.qBits);
  const qBuf = Tensor.from(qHost, [qHost.length], { dtype: 'bf16', backend: 'cuda' });
  const q = qBuf.view([p.b, p.sQ, p.hQ, 576]);
  const kCache = bf16
    ? Tensor.from(p.kBits, [p.numBlocks, 64, 1, 576], { dtype: p.dtype, backend: 'cuda' })
    : Tensor.from(p.kBytes, [p.numBlocks, 64, 1, 656], { dtype: 'uint8', backend: 'cuda' });
  const blockTable = Tensor.from(p.table, [p.b, p.maxBlocksPerSeq], { dtype: 'int32', backend: 'cuda' });
  const cacheSeqlens = Tensor.from(p.seqlens, [p.b], { dtype: 'int32', backend: 'cuda' });
  const md = getMlaMetadata(cacheSeqlens, p.sQ * p.hQ, 1);
  // CTA (0, 0)'s blocks (metadata row 0: begin request, begin token, end request, end token): the producer's words end
  // at 2048 (254 blocks), each warpgroup's at 128 iterations; past that the regions would overlap
  const [br, bt, er, et] = md.tileSchedulerMetadata.toInt32().subarray(0, 4);
  let blocks = 0;
  for (let i = br; i <= er && i < p.b; ++i) {
    const lo = i === br ? bt : 0, hi = i === er ? et : p.seqlens[i];
    if (hi > lo) blocks += Math.ceil(hi / 64) - Math.floor(lo / 64);
  }
  if (blocks > 254) throw new RangeError(`trace: ${sel}'s SM part 0 takes ${blocks} blocks, more than the 254 the trace words hold (FLASH_MLA_TRACE_B to take fewer requests)`);
  run = () => flashMlaWithKvcache(q, kCache, blockTable, cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, { causal: true, isFp8KvCache: !bf16, kernel: 'hopper', checkValues: false });
  for (let i = 0; i < 5; ++i) run();
  synchronize();
  const raw = qBuf.toRaw();
  words = new Uint32Array(raw.buffer, raw.byteOffset + 2 * qElems, TRACE_WORDS);
} else {
  config = configSet('sparse')[row];
  const p = makeSparseBenchProblem(config, 1234);
  const { b, sQ, topk } = p;
  hQ = p.hQ;
  const q = Tensor.from(p.qBits, [b, sQ, hQ, 576], { dtype: 'bf16', backend: 'cuda' });
  const kCache = Tensor.from(p.kBytes, [p.numBlocks, 64, 1, 656], { dtype: 'uint8', backend: 'cuda' });
  const indices = Tensor.from(p.indices, [b, sQ, topk], { dtype: 'int32', backend: 'cuda' });
  const md = getMlaMetadata(null, sQ * hQ, 1, { topk, batchSize: b, backend: 'cuda' });
  const host = new Float32Array(hQ + TRACE_WORDS);
  host.fill(-Infinity, 0, hQ);
  const sinkBuf = Tensor.from(host, [hQ + TRACE_WORDS], { dtype: 'fp32', backend: 'cuda' });
  const attnSink = sinkBuf.view([hQ]);
  run = () => flashMlaWithKvcache(q, kCache, null, null, 512, md.tileSchedulerMetadata, md.numSplits, { causal: false, isFp8KvCache: true, indices, attnSink, kernel: 'hopper', checkValues: false });
  for (let i = 0; i < 5; ++i) run();
  synchronize();
  const raw = sinkBuf.toRaw();
  words = new Uint32Array(raw.buffer, raw.byteOffset, raw.length).subarray(hQ);
}
const t0 = bf16 ? words[2048] : words[0];
const us = (w) => (((w - t0) | 0) / ghz / 1000);  // (signed: an item start stamps before t0)
const nBlk = Math.min(120, Math.floor((2048 - 16) / 8));
console.log(`${bf16 ? `${sel} (16-bit cache)` : dense ? `sweep#${row} --kv fp8` : `sparse#${row}`} (${config.name ?? ''}): CTA (0, 0), µs after ${bf16 ? "warpgroup 0's first iteration" : "the producer's start"} at ${ghz} GHz`);
if (!bf16) console.log('producer per block: top, then the end of each phase (steady-state line below names them)');
const prod = [];
for (let k = 0; k < nBlk; ++k) {
  const e = Array.from({ length: 6 }, (_, i) => words[16 + 8 * k + i]);
  if (e.every((x) => x === 0)) break;
  prod.push(e.map(us));
}
const wg = (base) => {
  const out = [];
  for (let k = 0; k < 128; ++k) {
    const e = Array.from({ length: 5 }, (_, i) => words[base + 8 * k + i]);
    if (e.every((x) => x === 0)) break;
    out.push(e.map(us));
  }
  return out;
};
const w0 = wg(2048), w1 = wg(3072);
const f = (x) => x.toFixed(2).padStart(8);
const avgw = (arr, fn) => arr.reduce((a, e) => a + fn(e), 0) / arr.length;
if (bf16) {
  // 16-bit cache: WG0 stamps its iteration's top, past Scale1, past P1Ready, past S(j+2)'s A half (its P·V1L waited),
  // the end (S(j+2) done); WG1 its top, past Scale0, past P0Ready, past its two refills (both P·V done), the end
  // (S(j+3) done)
  const n = Math.min(w0.length, w1.length);
  for (let k = 0; k < n; ++k)
    console.log(`it ${String(k).padStart(3)} | WG0 top,Sc1,P1,S-A,end${w0[k].map(f).join('')} | WG1 top,Sc0,P0,refills,end${w1[k].map(f).join('')}`);
  // item changes (slots 5–7 of an iteration's record): an item's last iteration holds its epilogue's stamps (next Q
  // issued, past the row sums' barrier, rows stored), an item's first iteration its start's (top, past the first
  // barrier, Q landed with both warpgroups there) — told apart by whether they come before the iteration's top
  for (const [name, base] of [['WG0', 2048], ['WG1', 3072]]) {
    for (let k = 0; k < n; ++k) {
      const e = [5, 6, 7].map((i) => words[base + 8 * k + i]);
      if (e.every((x) => x === 0)) continue;
      const t = e.map(us), top = us(words[base + 8 * k]);
      if (t[0] <= top) console.log(`  ${name} it ${k}: item start: top ${f(t[0])}, past barrier 1 ${f(t[1])}, Q landed ${f(t[2])}, first S done (it top) ${f(top)}`);
      else console.log(`  ${name} it ${k}: item end: past the sums' barrier ${f(t[1])}, next Q issued ${f(t[0])}, rows stored ${f(t[2])}`);
    }
  }
  const m0 = w0.slice(4, Math.max(5, n - 4)), m1 = w1.slice(4, Math.max(5, n - 4));
  const per = (arr) => (arr[arr.length - 1][0] - arr[0][0]) / (arr.length - 1) / 2;
  console.log(`\nsteady state over ${m0.length} iterations: ${per(m0).toFixed(3)} µs per block (WG0's tops), ${per(m1).toFixed(3)} (WG1's)`);
  console.log(`WG0 per iteration: top→Scale1 ${avgw(m0, (e) => e[1] - e[0]).toFixed(3)}, →P1 ${avgw(m0, (e) => e[2] - e[1]).toFixed(3)}, →S(j+2) A half ${avgw(m0, (e) => e[3] - e[2]).toFixed(3)}, →end ${avgw(m0, (e) => e[4] - e[3]).toFixed(3)}, end→next top ${avgw(m0.slice(0, -1).map((e, i) => m0[i + 1][0] - e[4]), (x) => x).toFixed(3)}`);
  console.log(`WG1 per iteration: top→Scale0 ${avgw(m1, (e) => e[1] - e[0]).toFixed(3)}, →P0 ${avgw(m1, (e) => e[2] - e[1]).toFixed(3)}, →refills ${avgw(m1, (e) => e[3] - e[2]).toFixed(3)}, →end (S of j+3) ${avgw(m1, (e) => e[4] - e[3]).toFixed(3)}`);
  console.log(`cross: WG1 Scale0 pass − WG0 top ${avgw(m0.map((e, i) => [e, m1[i]]), ([a, b]) => b[1] - a[0]).toFixed(3)}; WG0 Scale1 pass − WG1 top ${avgw(m0.map((e, i) => [e, m1[i]]), ([a, b]) => a[1] - b[0]).toFixed(3)}`);
  process.exit(0);
}
for (let k = 0; k < prod.length; ++k) {
  const line = [`blk ${String(k).padStart(3)}`, ...prod[k].map(f)];
  const it = k >> 1;
  if ((k & 1) === 0 && w0[it]) line.push(' | WG0 top,Sc1,P1,S-A,end', ...w0[it].map(f));
  if ((k & 1) === 1 && w1[it]) line.push(dense ? ' | WG1 top,Sc0,PV0R,rel,end' : ' | WG1 top,Sc0,P0,rel,end', ...w1[it].map(f));
  console.log(line.join(''));
}
// steady-state averages (blocks 8 … n−8): durations of each producer phase, and the gaps
const mid = prod.slice(8, Math.max(9, prod.length - 8));
const avg = (fn) => mid.reduce((a, e, i) => a + fn(e, i), 0) / mid.length;
// the paired entry (two m-blocks per token, unless switched off) stamps the same points in its own order of work
const pair = !dense && Math.ceil(hQ / 64) % 2 === 0 && process.env.FLASH_MLA_EXPERIMENT_SPARSE_PAIR !== '0';
const phases = dense
  ? ['group A wait (+ raw issue)', 'group B wait + RoPE issue', 'raw wait', 'step B', 'steps A1, A2']
  : pair
    ? ['group A waits', 'raw issue, group B waits, RoPE (here and st.async)', 'gather wait', 'step B + B pushes', 'step A + A pushes']
    : ['wait empties', 'issue', 'gather wait', 'step B', 'RoPE + step A'];
console.log(`\nsteady state over ${mid.length} blocks (µs): per block ${((mid[mid.length - 1][0] - mid[0][0]) / (mid.length - 1)).toFixed(2)};` +
  ` producer${pair ? ' (pair)' : ''}: ` + phases.map((name, i) => `${name} ${avg((e) => e[i + 1] - e[i]).toFixed(2)}`).join(', '));
const mid0 = w0.slice(4, Math.max(5, w0.length - 4)), mid1 = w1.slice(4, Math.max(5, w1.length - 4));
console.log(`WG0 per iteration: top→Scale1 ${avgw(mid0, (e) => e[1] - e[0]).toFixed(2)}, →P1 ${avgw(mid0, (e) => e[2] - e[1]).toFixed(2)}, →S(j+2) A half ${avgw(mid0, (e) => e[3] - e[2]).toFixed(2)}, →end ${avgw(mid0, (e) => e[4] - e[3]).toFixed(2)}`);
if (dense) // (the dense FP8 entry's warpgroup 1 runs P0·V0R and K0.B's release first: event 2 before event 1)
  console.log(`WG1 per iteration: top→P0·V0R + K0.B released ${avgw(mid1, (e) => e[2] - e[0]).toFixed(2)}, →softmax of j+1 ${avgw(mid1, (e) => e[1] - e[2]).toFixed(2)}, →releases ${avgw(mid1, (e) => e[3] - e[1]).toFixed(2)}, →end ${avgw(mid1, (e) => e[4] - e[3]).toFixed(2)}`);
else
  console.log(`WG1 per iteration: top→Scale0 ${avgw(mid1, (e) => e[1] - e[0]).toFixed(2)}, →P0 ${avgw(mid1, (e) => e[2] - e[1]).toFixed(2)}, →releases ${avgw(mid1, (e) => e[3] - e[2]).toFixed(2)}, →end ${avgw(mid1, (e) => e[4] - e[3]).toFixed(2)}`);
if (dense) {
  const early = mid.length ? mid.filter((_, i) => words[16 + 8 * (i + 8) + 6] === 1).length : 0;
  console.log(`dense: raw bytes requested during the block before for ${early} of ${mid.length} steady-state blocks`);
}
