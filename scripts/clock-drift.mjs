// Is the compute-bound rows' "slow mode" the SM clock? (a timing experiment; docs/perf-log.md, session 60, says what it
// showed). Needs the `hopper` build with -DMLA_SM90_TRACE=4 (each part's entry and end on the global ns timer and its
// SM cycles between, in the metadata row's ints 5–7), selected with FLASH_MLA_KERNEL_DIR:
//   scripts/build-variant.sh trace4 mla_decode_sm90 sm_90a -DMLA_SM90_TRACE=4
//   FLASH_MLA_KERNEL_DIR=$PWD/dist/kv-trace4/ node scripts/clock-drift.mjs [rows] [runs]
// For each row (sweep indices or serving names; default 30,28,14,8) it runs the bench's sequence — an L2 flush (256 MiB memset), then the timed
// decode between CUDA events — `runs` times back to back (default 200, after a 30-run warm-up), every run with its
// own metadata tensor so that no read-back breaks the loop, the runs alternating between the plain decode and the
// `+md` sequence (the metadata kernel into that run's tensor, then the decode), as the bench timed them in sessions
// 59–60 (PLAIN_ONLY=1: plain runs only, as the bench times `ms` again; CLOCK_DRIFT_MODE below). Per run:
// the events' ms, the parts' mean SM clock (cycles / ns), the spread of the parts' entries and the span from the
// first entry to the last end. Printed per 10 runs of each kind: medians, and ms × GHz (constant if the clock alone
// moves the time).
import { Tensor, getMlaMetadata, flashMlaWithKvcache, synchronize } from '../dist/src/index.js';
import { configSet, sweepConfigs } from '../dist/src/bench/configs.js';
import { makeBenchProblem } from '../dist/src/bench/problem.js';
import { uploadProblem } from '../dist/src/bench/run.js';
import { CudaEvent, memset } from '../dist/src/cuda/runtime.js';
import { getCudaContext } from '../dist/src/cuda/context.js';
import { allocDeviceBuffer } from '../dist/src/cuda/block-cache.js';

// rows: sweep indices (30) or serving names (S1)
const rowIds = (process.argv[2] ?? '30,28,14,8').split(',');
const runs = Number(process.argv[3] ?? 200);
// CLOCK_DRIFT_MODE: turn (default; plain and +md runs in turn), plain (PLAIN_ONLY=1 too), or plain runs in turn with
// something else in the odd slots (timed but not traced) — mdonly: the metadata kernel alone; idle: nothing (the flush
// only); tinysame: the same 'hopper' 16-bit entry on a one-block request (its code, almost none of its data);
// tinyfp8: 'hopper''s FP8 entry on a one-block request (as much other code as the metadata kernel's, other data);
// CLOCK_DRIFT_TINY_B below
const oddKinds = { turn: '+md ', plain: 'plain', mdonly: 'md   ', idle: 'idle ', tinysame: 'tiny ', tinyfp8: 'fp8  ' };
const mode = process.env.CLOCK_DRIFT_MODE ?? (process.env.PLAIN_ONLY === '1' ? 'plain' : 'turn');
if (!(mode in oddKinds)) throw new Error(`CLOCK_DRIFT_MODE: expected one of ${Object.keys(oddKinds).join(', ')}, got '${mode}'`);
// CLOCK_DRIFT_TINY_B: the one-block decodes' batch (default 1: one SM or two run them; 132: every SM does)
const tinyBatch = Number(process.env.CLOCK_DRIFT_TINY_B ?? 1);
/** Whether the odd runs are something other than a traced decode of the row. */
const oddElse = !['turn', 'plain'].includes(mode);
const sweep = sweepConfigs(), serving = configSet('serving');
const configOf = (id) => (/^S\d+$/.test(id) ? serving.find((c) => String(c.name).startsWith(`${id} `)) : sweep[Number(id)]);
const { stream } = getCudaContext();
const flushWords = (256 << 20) / 4;
const flushBuf = allocDeviceBuffer(flushWords * 4);
const flush = () => memset(flushBuf.ptr, 0, flushWords, 4, stream);
const median = (a) => { const s = [...a].sort((x, y) => x - y); return s.length ? s[(s.length - 1) >> 1] : NaN; };
const events = Array.from({ length: runs }, () => [CudaEvent.create(), CudaEvent.create()]);

for (const id of rowIds) {
  const config = configOf(id);
  if (!config) throw new Error(`clock-drift: no config ${id}`);
  const p = makeBenchProblem(config, 4321);
  const { b, s_q: sQ, h_q: hQ } = config;
  const t = uploadProblem(p, 'cuda');
  const { q, kCache: k, blockTable: table, cacheSeqlens: seqlens } = t;
  const out = Tensor.empty([b, sQ, hQ, 512], { dtype: 'bf16', backend: 'cuda' });
  const lse = Tensor.empty([b, hQ, sQ], { dtype: 'fp32', backend: 'cuda' });
  const mds = Array.from({ length: runs }, () => getMlaMetadata(seqlens, sQ * hQ, 1));
  const decode = (md) => flashMlaWithKvcache(q, k, table, seqlens, 512, md.tileSchedulerMetadata, md.numSplits, { causal: config.causal, kernel: 'hopper', checkValues: false, out, lse });
  // (mode plain: every run plain — the odd runs are printed as the second kind all the same; the other modes: the odd
  // runs are not this row's decode — whether a plain run after them is slowed, and by what: the metadata kernel's
  // code, other code of the same size, or the same code)
  const tiny = mode === 'tinysame' || mode === 'tinyfp8' ? tinyDecode(mode === 'tinyfp8', sQ, hQ) : null;
  const run = (i) => {
    if (i % 2 === 0 || mode === 'plain') return decode(mds[i]);
    if (mode === 'turn' || mode === 'mdonly') getMlaMetadata(seqlens, sQ * hQ, 1, { out: mds[i], checkValues: false });
    if (mode === 'turn') decode(mds[i]);
    if (tiny) tiny.run();
  };
  for (let i = 0; i < 30; ++i) (flush(), run(i % 2));
  for (let i = 0; i < 4; ++i) flush();
  for (let i = 0; i < runs; ++i) {
    flush();
    events[i][0].record(stream);
    run(i);
    events[i][1].record(stream);
  }
  synchronize();
  const per = [];
  for (let i = 0; i < runs; ++i) {
    if (oddElse && i % 2 === 1) { per.push({ ms: events[i][1].elapsedSince(events[i][0]), ghz: NaN, spreadUs: NaN, spanUs: NaN }); continue; }
    const rows = mds[i].tileSchedulerMetadata.toRaw();
    const used = [];
    for (let r = 0; r < rows.length / 8; ++r) if (rows[8 * r] < b) used.push([rows[8 * r + 5], rows[8 * r + 6], rows[8 * r + 7]]);
    const e0 = used[0][0], rel = (t) => (t - e0) | 0;
    const entries = used.map((u) => rel(u[0])), ends = used.map((u) => rel(u[1]));
    const ghz = used.map((u) => u[2] / ((u[1] - u[0]) | 0));
    const lo = Math.min(...entries);
    per.push({ ms: events[i][1].elapsedSince(events[i][0]), ghz: ghz.reduce((x, y) => x + y, 0) / ghz.length, spreadUs: (Math.max(...entries) - lo) / 1000, spanUs: (Math.max(...ends) - lo) / 1000 });
  }
  console.log(`${config.id} ${config.name ?? ""} (b ${b}, h_q ${hQ}, s_q ${sQ}): per 10 runs of each kind — ms, GHz, ms·GHz, entry spread µs, span µs`);
  for (const kind of [0, 1]) {
    const mine = per.filter((_, i) => (i % 2) === kind);
    const cells = [];
    for (let j = 0; j < mine.length; j += 10) {
      const g = mine.slice(j, j + 10);
      const ms = median(g.map((x) => x.ms)), ghz = median(g.map((x) => x.ghz));
      cells.push(`${(ms * 1000).toFixed(0)}µs ${ghz.toFixed(3)} ${(ms * ghz * 1000).toFixed(0)} ${median(g.map((x) => x.spreadUs)).toFixed(1)} ${median(g.map((x) => x.spanUs)).toFixed(0)}`);
    }
    console.log(kind ? `  ${oddKinds[mode]}` : '  plain', cells.join(' | '));
  }
  const first = per.slice(0, 8).map((x) => `${(x.ms * 1000).toFixed(0)}/${x.ghz.toFixed(2)}`).join(' ');
  console.log('  first 8 runs (µs/GHz):', first);
  t.dispose();
  out.dispose();
  lse.dispose();
  for (const md of mds) (md.tileSchedulerMetadata.dispose(), md.numSplits.dispose());
  tiny?.dispose();
}
for (const [s, e] of events) (s.dispose(), e.dispose());
flushBuf.dispose();

/** One-block requests (CLOCK_DRIFT_TINY_B of them) decoded on 'hopper' with the row's head shape (16-bit cache, or FP8 with fp8 true). */
function tinyDecode(fp8, sQ, hQ) {
  const b = tinyBatch;
  const config = { id: 'tiny', b, s: 64, h_q: hQ, s_q: sQ, varlen: false, causal: false, dtype: 'bf16', seqlens: Array(b).fill(64), ...(fp8 ? { kv: 'fp8' } : {}) };
  const t = uploadProblem(makeBenchProblem(config, 99), 'cuda');
  const md = getMlaMetadata(t.cacheSeqlens, sQ * hQ, 1);
  const out = Tensor.empty([b, sQ, hQ, 512], { dtype: 'bf16', backend: 'cuda' });
  const lse = Tensor.empty([b, hQ, sQ], { dtype: 'fp32', backend: 'cuda' });
  const opts = { kernel: 'hopper', checkValues: false, isFp8KvCache: fp8, out, lse };
  return {
    run: () => flashMlaWithKvcache(t.q, t.kCache, t.blockTable, t.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, opts),
    dispose: () => (t.dispose(), out.dispose(), lse.dispose(), md.tileSchedulerMetadata.dispose(), md.numSplits.dispose()),
  };
}
