// Where an SM part's time goes in the Hopper kernel, per phase (a timing experiment; docs/perf-log.md says what it
// showed). Needs a build of mla_decode_sm90.cu with -DMLA_SM90_TRACE (scripts/build-variant.sh trace mla_decode_sm90
// sm_90a -DMLA_SM90_TRACE), selected with FLASH_MLA_KERNEL_DIR: thread 0 of m-block 0 then sums, over the items of
// its part, the cycles of (start) item top → S of block 0 done, (loop) → its warpgroup's loop done, (epi) → the
// next item's top (prefetch, row sums, stores), and writes them into the metadata row's unused ints 5–7.
// Usage: FLASH_MLA_KERNEL_DIR=$PWD/dist/kv-trace/ node scripts/trace-sm90.mjs [serving|sweep|tiny] [GHz] [epi]
// `epi`: a build with -DMLA_SM90_TRACE=2, whose three counters split the epilogue instead (loop end → past the row-sum
// barrier: the next item's TMA issue, the row sums, the wait for the other warpgroup; the next Q's cp.async issue; the
// stores), each per item. `first`: a build with -DMLA_SM90_TRACE=3 (the start of the items after the first, per such
// item; the first item's start; the prologue from past the PDL wait to the first item's top). `timeline`: a build with
// -DMLA_SM90_TRACE=4 (each part's entry and end on the global ns timer and its SM cycles: the clock the parts ran at, how
// far apart they started, the span from the first entry to the last end); `smid`: a build with -DMLA_SM90_TRACE=5 (the
// same, each part's duration by the SM it ran on). TRACE_WITH_MD=1 runs the metadata kernel before every decode. The SM clock under load is ~1.75 GHz, not the 1.98 GHz boost (perf log, session 9).
import { Tensor, getMlaMetadata, flashMlaWithKvcache, synchronize } from '../dist/src/index.js';
import { configSet, sweepConfigs } from '../dist/src/bench/configs.js';
import { makeBenchProblem } from '../dist/src/bench/problem.js';

const set = process.argv[2] ?? 'serving';
const ghz = Number(process.argv[3] ?? 1.98);
const epiMode = process.argv[4] === 'epi', firstMode = process.argv[4] === 'first', smidMode = process.argv[4] === 'smid', timelineMode = process.argv[4] === 'timeline' || smidMode;
// TRACE_ROWS=6,8,…: the sweep rows to trace (default 0, 12, 16, 28, 30)
const sweepRows = (process.env.TRACE_ROWS ?? '0,12,16,28,30').split(',').map(Number);
const configs = set === 'sweep' ? sweepConfigs().filter((_, i) => sweepRows.includes(i)) : configSet(set);
const us = (cycles) => cycles / ghz / 1000;
console.log(`per SM part (m-block 0, thread 0), µs at ${ghz} GHz: mean over parts; items and blocks per part from the schedule`);
console.log('config'.padEnd(12), 'parts', 'items/part', 'blocks/part', ...(timelineMode ? ['  GHz', ' entry spread µs', ' part µs mean / max', ' span µs'] : firstMode ? [' later start/item', ' first start', '  prologue'] : epiMode ? ['  sums+wait', '   Q issue', '    stores', '  epilogue total / item'] : [' start/item', ' loop/block', '  epi/item', '  part total: mean / max']), '  call ms');
for (const config of configs) {
  const p = makeBenchProblem(config, 1234);
  const { b, s_q: sQ, h_q: hQ } = config;
  const q = Tensor.from(p.qBits, [b, sQ, hQ, 576], { dtype: 'bf16', backend: 'cuda' });
  const k = Tensor.from(p.kBits, [p.numBlocks, 64, 1, 576], { dtype: 'bf16', backend: 'cuda' });
  const table = Tensor.from(p.table, [b, p.maxBlocksPerSeq], { dtype: 'int32', backend: 'cuda' });
  const seqlens = Tensor.from(p.seqlens, [b], { dtype: 'int32', backend: 'cuda' });
  const md = getMlaMetadata(seqlens, sQ * hQ, 1);
  // TRACE_WITH_MD=1: the metadata kernel before every decode (the bench's `+md` sequence; its rows' ints 5–7 are
  // rewritten as 0 each time, then the traced decode fills them)
  const decode = () => flashMlaWithKvcache(q, k, table, seqlens, 512, md.tileSchedulerMetadata, md.numSplits, { causal: config.causal, kernel: 'hopper', checkValues: false });
  const run = process.env.TRACE_WITH_MD === '1' ? () => { getMlaMetadata(seqlens, sQ * hQ, 1, { out: md, checkValues: false }); decode(); } : decode;
  for (let i = 0; i < 5; ++i) run();
  synchronize();
  const t0 = performance.now();
  for (let i = 0; i < 20; ++i) run();
  synchronize();
  const callMs = (performance.now() - t0) / 20;
  const rows = md.tileSchedulerMetadata.toRaw();
  const parts = rows.length / 8;
  let later = 0, n = 0, items = 0, blocks = 0, start = 0, loop = 0, epi = 0, sumTot = 0, maxTot = 0;
  for (let i = 0; i < parts; ++i) {
    const [br, bt, er, et] = rows.slice(8 * i, 8 * i + 4);
    if (br >= b) continue;
    let nb = 0;
    for (let r = br; r <= er; ++r) {
      const s0 = r === br ? bt : 0, s1 = r === er ? et : p.seqlens[r];
      nb += Math.max(0, Math.ceil(s1 / 64) - Math.floor(s0 / 64));
    }
    const [cs, cl, ce] = [rows[8 * i + 5], rows[8 * i + 6], rows[8 * i + 7]];
    later += er - br; n += 1; items += er - br + 1; blocks += nb; start += cs; loop += cl; epi += ce;
    const tot = us(cs + cl + ce); sumTot += tot; maxTot = Math.max(maxTot, tot);
  }
  const head = [String(config.name ?? config.id).split(' ')[0].slice(0, 12).padEnd(12), String(n).padStart(5), (items / n).toFixed(2).padStart(10), (blocks / n).toFixed(1).padStart(11)];
  if (timelineMode) {
    // ints 5–7 of each used part's row: entry ns (low 32 bits), end ns, SM cycles between (signed 32-bit differences)
    const used = [];
    for (let i = 0; i < parts; ++i) if (rows[8 * i] < b) used.push([rows[8 * i + 5], rows[8 * i + 6], rows[8 * i + 7]]);
    const e0 = used[0][0], rel = (t) => (t - e0) | 0;
    const entries = used.map((u) => rel(u[0])), ends = used.map((u) => rel(u[1]));
    const durs = used.map((u) => (u[1] - u[0]) | 0), ghzs = used.map((u, i) => u[2] / durs[i]);
    const lo = Math.min(...entries), span = Math.max(...ends) - lo;
    const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length;
    if (smidMode) {  // -DMLA_SM90_TRACE=5: int 7 is the SM's id; each part's duration by SM, and by groups of 16 SM ids
      const bySm = used.map((u, i) => [u[2], durs[i] / 1000]).sort((x, y) => x[0] - y[0]);
      const groups = new Map();
      for (const [sm, d] of bySm) groups.set(sm >> 4, [...(groups.get(sm >> 4) ?? []), d]);
      console.log(...head, `parts µs mean ${mean(durs.map((d) => d / 1000)).toFixed(1)}, by SM id / 16:`, [...groups].map(([g, ds]) => `${g}: ${mean(ds).toFixed(1)} (${ds.length})`).join(', '));
      console.log('  slowest:', [...bySm].sort((x, y) => y[1] - x[1]).slice(0, 12).map(([sm, d]) => `sm${sm} ${d.toFixed(1)}`).join(', '));
      console.log('  fastest:', [...bySm].sort((x, y) => x[1] - y[1]).slice(0, 12).map(([sm, d]) => `sm${sm} ${d.toFixed(1)}`).join(', '));
      console.log('  all (sm:µs):', bySm.map(([sm, d]) => `${sm}:${d.toFixed(1)}`).join(' '));
    } else
    console.log(...head, mean(ghzs).toFixed(3).padStart(5), ((Math.max(...entries) - lo) / 1000).toFixed(2).padStart(16),
      `${(mean(durs) / 1000).toFixed(1)} / ${(Math.max(...durs) / 1000).toFixed(1)}`.padStart(19), (span / 1000).toFixed(1).padStart(8), callMs.toFixed(4).padStart(9));
  } else if (firstMode) {
    // start = the later items' starts (summed), loop = the first item's start, epi = the prologue
    console.log(...head, (later ? us(start / later).toFixed(2) : '—').padStart(17), us(loop / n).toFixed(2).padStart(12), us(epi / n).toFixed(2).padStart(10), callMs.toFixed(4).padStart(9));
  } else if (epiMode) {
    // the three counters are per item (each item's epilogue): start = sums + wait, loop = Q issue, epi = stores
    console.log(...head, us(start / items).toFixed(2).padStart(11), us(loop / items).toFixed(2).padStart(10), us(epi / items).toFixed(2).padStart(10),
      us((start + loop + epi) / items).toFixed(2).padStart(23), callMs.toFixed(4).padStart(9));
  } else {
    console.log(...head, us(start / items).toFixed(2).padStart(11), us(loop / blocks).toFixed(3).padStart(11), us(epi / items).toFixed(2).padStart(10),
      `${(sumTot / n).toFixed(1)} / ${maxTot.toFixed(1)}`.padStart(25), callMs.toFixed(4).padStart(9));
  }
  for (const t of [q, k, table, seqlens, md.tileSchedulerMetadata, md.numSplits]) t.dispose();
}
