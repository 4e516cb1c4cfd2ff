// The shared checking code of src/check/ without a GPU: the independent 16-bit formats, the problem generator
// (deterministic from its seed, the GPU profile's budget and coverage, layouts the cuda backend's rules accept,
// tensors that read back the logical problem), the float64 reference, and compareDecode: correct outputs pass,
// a simulated 16-bit tensor-core kernel passes 'kernel' (and is too coarse for 'halfUlp'), and every kind of wrong
// output fails with its row, channel and index. Last, the GPU property test's loop on the cpu backend.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, flashMlaWithKvcache, getMlaMetadata } from '../src/index.js';
import { halfDecodeTable, roundTo } from '../src/dtype.js';
import { HALF_FORMATS, halfUlp, roundToFormat } from '../src/check/formats.js';
import {
  GARBAGE_ENTRIES, GPU_ROW_KEY_BUDGET, caseSeed, caseTensors, describeCase, drawDecodeCase, makeDecodeCase, makePagedProblem, pagedProblemTensors, randomPermutation,
  type DecodeCaseProblem, type GeneratedProblem,
} from '../src/check/problem.js';
import { DEFAULT_SOFTMAX_SCALE, referenceAll, referenceDecode, visibleKeys, type PagedProblem } from '../src/check/reference.js';
import { compareDecode, type DecodeOutputs } from '../src/check/compare.js';
import { cudaCheckLayout } from '../src/cuda/layout.js';
import { rng } from '../src/util/random.js';
import { coverageGaps, runDecodeProperty } from './util/property-run.js';

// ---------------------------------------------------------------------------------------------- formats

test('formats: every 16-bit pattern decodes as the library decodes it (two independent implementations agree)', () => {
  for (const dtype of ['bf16', 'fp16'] as const) {
    const mine = HALF_FORMATS[dtype].value;
    const lib = halfDecodeTable(dtype);
    for (let h = 0; h < 65536; h++) assert.ok(Object.is(mine[h], lib[h]) || (Number.isNaN(mine[h]) && Number.isNaN(lib[h])), `${dtype} 0x${h.toString(16)}: ${mine[h]} vs ${lib[h]}`);
    assert.equal(HALF_FORMATS[dtype].maxFinite, dtype === 'bf16' ? 3.3895313892515355e38 : 65504);
    assert.ok(Number.isNaN(mine[HALF_FORMATS[dtype].nanBits]));
  }
});

test('formats: roundToFormat rounds to nearest even like the library; halfUlp bounds the rounding error and is tight', () => {
  const r = rng(7);
  for (const dtype of ['bf16', 'fp16'] as const) {
    const fmt = HALF_FORMATS[dtype];
    const xs = [0, -0, 1, -1, 65504, 65519.99, 65520, 1e-8, -3e-5, 5.96e-8, 2.98e-8, 2 ** -133, 3.4e38, 1e39, -1e39];
    for (let k = 0; k < 20000; k++) xs.push(Math.fround((r() - 0.5) * 2 ** Math.floor(r() * 60 - 30)));
    for (const x of xs) {
      const x32 = Math.fround(x); // the library rounds through float32; compare on float32 inputs
      const want = roundTo(dtype, x32);
      const got = roundToFormat(x32, fmt);
      assert.ok(Object.is(got, want), `${dtype} round(${x32}): ${got}, library ${want}`);
      if (Number.isFinite(want)) assert.ok(Math.abs(want - x32) <= halfUlp(x32, fmt), `${dtype} ${x32}: rounding error ${Math.abs(want - x32)} > half ulp ${halfUlp(x32, fmt)}`);
    }
    // exactly half an ulp away from a value with an even mantissa rounds to it (ties to even)
    assert.equal(roundToFormat(1 + halfUlp(1, fmt), fmt), 1);
    assert.equal(roundToFormat(1 + 3 * halfUlp(1, fmt), fmt), 1 + 4 * halfUlp(1, fmt));
  }
});

// ---------------------------------------------------------------------------------------------- generator

test('generator: a case is a function of its seed (parameters, data, layout), and seeds differ', () => {
  for (const profile of ['cpu', 'gpu', 'sanitize'] as const) {
    for (const seed of [1, 2, 0xffffffff]) {
      const a = makeDecodeCase(seed, profile, { alignBytes: 16 });
      const b = makeDecodeCase(seed, profile, { alignBytes: 16 });
      assert.equal(describeCase(a), describeCase(b));
      assert.deepEqual(a.c, b.c);
      for (const k of ['qPhys', 'kPhys', 'tablePhys', 'seqlensPhys'] as const) assert.ok(Buffer.from(a[k].buffer).equals(Buffer.from(b[k].buffer)), `${profile} seed ${seed}: ${k} differs`);
    }
    const descriptions = new Set(Array.from({ length: 20 }, (_, k) => describeCase(makeDecodeCase(caseSeed(99, k), profile))));
    assert.ok(descriptions.size >= 19, `${profile}: 20 seeds gave only ${descriptions.size} distinct cases`);
  }
  const p = makePagedProblem({ b: 2, sQ: 1, hQ: 2, seqlens: [70, 5], seed: 3 });
  assert.deepEqual(makePagedProblem({ b: 2, sQ: 1, hQ: 2, seqlens: [70, 5], seed: 3 }).kBits, p.kBits);
  assert.notDeepEqual(makePagedProblem({ b: 2, sQ: 1, hQ: 2, seqlens: [70, 5], seed: 4 }).qBits, p.qBits);
  assert.deepEqual(Array.from(randomPermutation(6, rng(1))).sort(), [0, 1, 2, 3, 4, 5]);
});

test('generator: spec errors name the field, the expected and the given value', () => {
  assert.throws(() => makePagedProblem({ b: 2, sQ: 1, hQ: 1, seqlens: [1], seed: 1 }), /^RangeError: seqlens: expected 2 lengths \(b\), got 1$/);
  assert.throws(() => makePagedProblem({ b: 1, sQ: 0, hQ: 1, seqlens: [1], seed: 1 }), /^RangeError: sQ: expected an integer ≥ 1, got 0$/);
  assert.throws(() => makePagedProblem({ b: 1, sQ: 1, hQ: 1, seqlens: [-1], seed: 1 }), /^RangeError: seqlens\[0\]: expected an integer ≥ 0, got -1$/);
  assert.throws(() => makePagedProblem({ b: 1, sQ: 1, hQ: '2' as unknown as number, seqlens: [1], seed: 1 }), /^RangeError: hQ: expected an integer ≥ 1, got '2'$/);
});

test('generator: paged problems poison what no request owns; the mixed tail holds unused, foreign and impossible blocks', () => {
  const nan = HALF_FORMATS.bf16.nanBits;
  const kinds = { unused: 0, foreign: 0, impossible: 0 };
  for (let seed = 0; seed < 40; seed++) {
    const p = makePagedProblem({ b: 3, sQ: 1, hQ: 1, seqlens: [130, 0, 64], seed, spareBlocks: 3, spareColumns: 2, tableTail: 'mixed' });
    const used = [3, 0, 1];
    const owned = new Map<number, number>();
    for (let i = 0; i < 3; i++) for (let j = 0; j < used[i]; j++) owned.set(p.table[i * p.maxBlocksPerSeq + j], i);
    assert.equal(owned.size, 4, 'every used block distinct');
    for (let blk = 0; blk < p.numBlocks; blk++) {
      for (let t = 0; t < 64; t++) {
        const i = owned.get(blk);
        const j = i === undefined ? -1 : Array.from(p.table.subarray(i * p.maxBlocksPerSeq, (i + 1) * p.maxBlocksPerSeq)).indexOf(blk);
        const holdsData = i !== undefined && j * 64 + t < p.seqlens[i];
        assert.equal(p.kBits[(blk * 64 + t) * 576] !== nan, holdsData, `seed ${seed}: block ${blk} row ${t}`);
      }
    }
    for (let i = 0; i < 3; i++) {
      for (let j = used[i]; j < p.maxBlocksPerSeq; j++) {
        const e = p.table[i * p.maxBlocksPerSeq + j];
        if (GARBAGE_ENTRIES.includes(e)) kinds.impossible++;
        else if (owned.has(e)) kinds.foreign++;
        else if (e >= 0 && e < p.numBlocks) kinds.unused++;
        else assert.fail(`seed ${seed}: tail entry ${e}`);
      }
    }
  }
  for (const [k, n] of Object.entries(kinds)) assert.ok(n > 10, `mixed tails: only ${n} of kind ${k}`);
});

test("generator: the 'gpu' profile stays within the oracle budget and reaches every regime of the kernels", () => {
  const n = 4000;
  const seen = { multiTile: 0, longRequest: 0, pageEdge: 0, empty: 0, fewSms: 0, manySms: 0, peaked: 0, defaultScale: 0, fp16: 0, causal: 0 };
  const hQs = new Set<number>();
  for (let k = 0; k < n; k++) {
    const c = drawDecodeCase(caseSeed(5, k), 'gpu');
    const cost = c.sQ * c.hQ * c.seqlens.reduce((a, x) => a + x, 0);
    assert.ok(cost <= GPU_ROW_KEY_BUDGET, `case ${k}: ${cost} row-keys over the budget`);
    hQs.add(c.hQ);
    if (c.sQ * c.hQ > 64) seen.multiTile++;
    if (c.seqlens.some((x) => x > 256)) seen.longRequest++;
    if (c.seqlens.some((x) => x % 64 === 0 || x % 64 === 1 || x % 64 === 63)) seen.pageEdge++;
    if (c.seqlens.includes(0)) seen.empty++;
    if (c.smCount <= 3) seen.fewSms++;
    if (c.smCount >= 132) seen.manySms++;
    if ((c.softmaxScale ?? 0) > 5) seen.peaked++;
    if (c.softmaxScale === undefined) seen.defaultScale++;
    if (c.dtype === 'fp16') seen.fp16++;
    if (c.causal) seen.causal++;
  }
  for (const [k, m] of Object.entries(seen)) assert.ok(m >= n / 50, `only ${m} of ${n} 'gpu' cases of kind ${k}`);
  for (const h of [1, 16, 64, 100, 128]) assert.ok(hQs.has(h), `h_q ${h} never drawn`);
  // the sanitize profile is smaller still
  for (let k = 0; k < 200; k++) {
    const c = drawDecodeCase(k, 'sanitize');
    assert.ok(c.sQ * c.hQ * c.seqlens.reduce((a, x) => a + x, 0) <= GPU_ROW_KEY_BUDGET / 8);
  }
});

test('generator: 16-byte layouts pass the cuda backend\'s layout rules; 1-byte layouts include ones it refuses', () => {
  let refusedUnaligned = 0;
  for (let k = 0; k < 300; k++) {
    for (const alignBytes of [16, 1] as const) {
      const cp = makeDecodeCase(caseSeed(11, k), k % 2 ? 'gpu' : 'cpu', { alignBytes });
      const t = caseTensors(cp, 'cpu');
      const uses: [string, Tensor | null, 'vectorLoad' | 'vectorStore'][] = [['q', t.q, 'vectorLoad'], ['kCache', t.kCache, 'vectorLoad'], ['out', t.out, 'vectorStore'], ['lse', t.lse, 'vectorStore']];
      try {
        for (const [name, x, use] of uses) if (x) cudaCheckLayout(name, x, use);
      } catch (e) {
        if (alignBytes === 16) assert.fail(`${describeCase(cp)}: ${(e as Error).message}`);
        refusedUnaligned++;
      }
      t.dispose();
    }
  }
  assert.ok(refusedUnaligned > 50, `only ${refusedUnaligned} of 300 unaligned layouts would be refused: the cpu cases no longer test odd layouts`);
});

test("generator: a case's tensors read back the logical problem; the physical padding is NaN or garbage", () => {
  for (let k = 0; k < 40; k++) {
    const cp = makeDecodeCase(caseSeed(21, k), 'cpu');
    const p = cp.problem;
    const t = caseTensors(cp, 'cpu');
    assert.deepEqual(t.q.toRaw(), p.qBits, describeCase(cp));
    assert.deepEqual(t.blockTable.toRaw(), p.table);
    assert.deepEqual(Array.from(t.cacheSeqlens.toRaw()), cp.c.seqlens);
    // every key a request sees, read through the tensor's layout and the logical table, is the logical key
    const k4 = t.kCache.toRaw() as Uint16Array; // [numBlocks, 64, 1, 576] row-major
    for (let i = 0; i < cp.c.b; i++) {
      for (let tok = 0; tok < cp.c.seqlens[i]; tok++) {
        const blk = p.table[i * p.maxBlocksPerSeq + Math.floor(tok / 64)];
        const o = (blk * 64 + (tok % 64)) * 576;
        assert.deepEqual(k4.subarray(o, o + 576), p.kBits.subarray(o, o + 576), `${describeCase(cp)}: request ${i} key ${tok}`);
      }
    }
    const nan = HALF_FORMATS[cp.c.dtype].nanBits;
    assert.ok(cp.qPhys.subarray(0, cp.layout.q.offset).every((x) => x === nan));
    assert.equal(t.writesOutsideViews(), null);
    if (t.out) {
      t.out.fill(0); // inside the view: not a write outside
      assert.equal(t.writesOutsideViews(), null);
    }
    t.dispose();
  }
  // a write next to the out view is caught
  for (let k = 0; ; k++) {
    const cp = makeDecodeCase(caseSeed(23, k), 'cpu');
    if (!cp.layout.out) continue;
    const t = caseTensors(cp, 'cpu');
    const n = cp.c.b * cp.c.sQ * cp.c.hQ * 512;
    const wider = t.out!.view([n + 1], [1], cp.layout.out.offset);
    wider.write(new Uint16Array(n + 1));
    assert.match(t.writesOutsideViews() ?? '', /^out buffer element \d+ \(the view is \d+ … \d+\) was written: bits 0x0$/);
    t.dispose();
    break;
  }
});

// ---------------------------------------------------------------------------------------------- reference

test('reference: a sample of rows equals the same rows of the whole; kernel terms change nothing; lse laid out [b, h_q, s_q]', () => {
  const p = makePagedProblem({ b: 3, sQ: 2, hQ: 3, seqlens: [0, 70, 129], seed: 8, dtype: 'fp16' });
  const all = referenceDecode(p, true);
  const withTerms = referenceDecode(p, true, undefined, { kernelTerms: true });
  assert.deepEqual(withTerms.out, all.out);
  assert.deepEqual(withTerms.lse, all.lse);
  const rows = [{ i: 2, s: 1, h: 0 }, { i: 1, s: 0, h: 2 }, { i: 2, s: 0, h: 1 }];
  const some = referenceDecode(p, true, undefined, { rows });
  rows.forEach(({ i, s, h }, k) => {
    const full = (i * 2 + s) * 3 + h;
    assert.deepEqual(some.out.subarray(k * 512, (k + 1) * 512), all.out.subarray(full * 512, (full + 1) * 512));
    assert.equal(some.lse[k], all.lse[full]);
    assert.equal(some.visible[k], visibleKeys(p.seqlens[i], 2, s, true));
  });
  assert.deepEqual(Array.from(all.visible.subarray(6, 12)), [69, 69, 69, 70, 70, 70]);
  const lay = referenceAll(p, true);
  assert.equal(lay.lse[(2 * 3 + 1) * 2 + 0], all.lse[(2 * 2 + 0) * 3 + 1]);
  assert.equal(all.lse[0], Infinity); // request 0 sees nothing
  assert.ok(all.out.subarray(0, 6 * 512).every((x) => x === 0));
  assert.throws(() => referenceDecode(p, true, undefined, { rows: [{ i: 3, s: 0, h: 0 }] }), /^RangeError: rows\[0\]: expected a row of \[3, 2, 3\], got request 3, token 0, head 0$/);
  // the softmax matches a hand computation: one key → out = its V, lse = its logit
  const one = makePagedProblem({ b: 1, sQ: 1, hQ: 1, seqlens: [1], seed: 9 });
  const r1 = referenceDecode(one, false, 0.5);
  const f = HALF_FORMATS.bf16.value;
  const blk = one.table[0];
  let dot = 0;
  for (let c = 0; c < 576; c++) dot += f[one.qBits[c]] * f[one.kBits[blk * 64 * 576 + c]];
  assert.equal(r1.lse[0], 0.5 * dot);
  for (let c = 0; c < 512; c++) assert.equal(r1.out[c], f[one.kBits[blk * 64 * 576 + c]]);
});

// ---------------------------------------------------------------------------------------------- comparison

/** Decode a case on the cpu backend: its outputs as compareDecode takes them. */
function cpuDecode(cp: DecodeCaseProblem, causal = cp.c.causal): DecodeOutputs {
  const t = caseTensors(cp, 'cpu');
  const md = getMlaMetadata(t.cacheSeqlens, cp.c.sQ * cp.c.hQ, 1, { smCount: cp.c.smCount });
  const r = flashMlaWithKvcache(t.q, t.kCache, t.blockTable, t.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, { causal, softmaxScale: cp.c.softmaxScale });
  const got = { outBits: (r.out.toRaw() as Uint16Array).slice(), lse: r.lse.toFloat32() };
  t.dispose();
  return got;
}

/**
 * What a 16-bit tensor-core kernel computes, emulated: fp32 logits accumulated in order, exp2 under a running
 * maximum updated per 64-key block, P rounded to the dtype before P·V, fp32 accumulators rescaled per block,
 * the row sum from unrounded P, out rounded to the dtype, lse in fp32. `maxSlack` > 0: the 'hopper' kernel's
 * threshold reference (next_row_max): the running max moves only when a block's max passes it by more than that
 * (log2 units), so P reaches 2^maxSlack and the largest weight is rounded too.
 */
function emulatedKernel(p: PagedProblem, causal: boolean, scale: number, maxSlack = 0): DecodeOutputs {
  const { b, sQ, hQ } = p;
  const fmt = HALF_FORMATS[p.dtype];
  const f = fmt.value;
  const fr = Math.fround;
  const outBits = new Uint16Array(b * sQ * hQ * 512);
  const lse = new Float32Array(b * hQ * sQ);
  const enc = new Map<number, number>();
  for (let h = 0; h < 65536; h++) if (Number.isFinite(f[h]) && !enc.has(f[h])) enc.set(f[h], h);
  const scaleLog2 = fr(scale * Math.LOG2E);
  for (let i = 0; i < b; i++) {
    for (let s = 0; s < sQ; s++) {
      const visible = visibleKeys(p.seqlens[i], sQ, s, causal);
      for (let h = 0; h < hQ; h++) {
        const row = (i * sQ + s) * hQ + h;
        if (visible === 0) {
          lse[(i * hQ + h) * sQ + s] = Infinity;
          continue;
        }
        const q = p.qBits.subarray(row * 576, row * 576 + 576);
        let m = -Infinity;
        let l = 0;
        const acc = new Float64Array(512);
        for (let start = 0; start < visible; start += 64) {
          const n = Math.min(64, visible - start);
          const sv: number[] = [];
          const kOff: number[] = [];
          for (let t = start; t < start + n; t++) {
            const o = (p.table[i * p.maxBlocksPerSeq + Math.floor(t / 64)] * 64 + (t % 64)) * 576;
            let dot = 0;
            for (let c = 0; c < 576; c++) dot = fr(dot + f[q[c]] * f[p.kBits[o + c]]);
            sv.push(fr(dot * scaleLog2));
            kOff.push(o);
          }
          const blockMax = Math.max(...sv);
          const mNew = maxSlack > 0 ? (blockMax > fr(m + maxSlack) ? blockMax : m) : Math.max(m, blockMax);
          const rescale = fr(2 ** fr(m - mNew));
          l = fr(l * rescale);
          for (let c = 0; c < 512; c++) acc[c] = fr(acc[c] * rescale);
          sv.forEach((x, k) => {
            const pr = fr(2 ** fr(x - mNew));
            l = fr(l + pr);
            const pLow = roundToFormat(pr, fmt);
            for (let c = 0; c < 512; c++) acc[c] = fr(acc[c] + pLow * f[p.kBits[kOff[k] + c]]);
          });
          m = mNew;
        }
        for (let c = 0; c < 512; c++) outBits[row * 512 + c] = enc.get(roundToFormat(fr(acc[c] / l), fmt))!;
        lse[(i * hQ + h) * sQ + s] = fr(fr(m + Math.log2(l)) * Math.LN2);
      }
    }
  }
  return { outBits, lse };
}

test("compare: correct cpu outputs pass 'halfUlp'; an emulated 16-bit kernel (exact or threshold running max) passes 'kernel' and is too coarse for 'halfUlp'", () => {
  let kernelTooCoarse = 0;
  let worst = 0;
  let worstThreshold = 0;
  let thresholdDiffers = 0;  // output elements where the threshold reference gave another 16-bit value
  for (let k = 0; k < 24; k++) {
    const cp = makeDecodeCase(caseSeed(31, k), 'sanitize', { alignBytes: 16 });
    const { c } = cp;
    const ref = referenceDecode(cp.problem, c.causal, c.softmaxScale, { kernelTerms: true });
    const cpu = compareDecode('cpu', cpuDecode(cp), ref, 'halfUlp');
    assert.ok(cpu.ok, `${cpu.message}\n${describeCase(cp)}`);
    assert.ok(compareDecode('cpu', cpuDecode(cp), ref, 'kernel').ok);
    const emu = emulatedKernel(cp.problem, c.causal, c.softmaxScale ?? DEFAULT_SOFTMAX_SCALE);
    const kc = compareDecode('emulated kernel', emu, ref, 'kernel');
    assert.ok(kc.ok, `${kc.message}\n${describeCase(cp)}`);
    worst = Math.max(worst, kc.worstRatio);
    if (!compareDecode('emulated kernel', emu, ref, 'halfUlp').ok) kernelTooCoarse++;
    const lazy = emulatedKernel(cp.problem, c.causal, c.softmaxScale ?? DEFAULT_SOFTMAX_SCALE, 8);
    const lc = compareDecode('emulated threshold-max kernel', lazy, ref, 'kernel');
    assert.ok(lc.ok, `${lc.message}\n${describeCase(cp)}`);
    worstThreshold = Math.max(worstThreshold, lc.worstRatio);
    for (let i = 0; i < lazy.outBits.length; i++) if (lazy.outBits[i] !== emu.outBits[i]) thresholdDiffers++;
  }
  console.log(`  emulated kernel: worst error/bound ${worst.toFixed(3)} under 'kernel' (threshold max: ${worstThreshold.toFixed(3)}, ${thresholdDiffers} elements differ from the exact max's); ${kernelTooCoarse} of 24 cases beyond half an ulp`);
  assert.ok(thresholdDiffers > 0, 'the threshold-max emulation gave the exact-max outputs everywhere: it no longer keeps a stale reference');
  assert.ok(kernelTooCoarse >= 12, `the emulated kernel met half an ulp in ${24 - kernelTooCoarse} of 24 cases: the emulation no longer rounds P`);
});

/** Decode a plain problem on the cpu backend. */
function cpuDecodeProblem(p: GeneratedProblem, causal: boolean, softmaxScale?: number): DecodeOutputs {
  const t = pagedProblemTensors(p, 'cpu');
  const md = getMlaMetadata(t.cacheSeqlens, p.sQ * p.hQ, 1, { smCount: 4 });
  const r = flashMlaWithKvcache(t.q, t.kCache, t.blockTable, t.cacheSeqlens, 512, md.tileSchedulerMetadata, md.numSplits, { causal, softmaxScale });
  const got = { outBits: (r.out.toRaw() as Uint16Array).slice(), lse: r.lse.toFloat32() };
  t.dispose();
  return got;
}

test('compare: every kind of wrong output fails, naming the row, channel and element', () => {
  // request 0 sees no key; 1 and 2 several pages; s_q 2, causal
  const b = 3, sQ = 2, hQ = 4;
  const p = makePagedProblem({ b, sQ, hQ, seqlens: [0, 150, 90], seed: 5, dtype: 'bf16', scale: 1 });
  const fmt = HALF_FORMATS.bf16;
  const ref = referenceDecode(p, true, undefined, { kernelTerms: true });
  const got = cpuDecodeProblem(p, true);
  const outIndex = (i: number, s: number, h: number, c: number) => ((i * sQ + s) * hQ + h) * 512 + c;
  const lseIndex = (i: number, s: number, h: number) => (i * hQ + h) * sQ + s;
  const withOut = (i: number, bits: number) => {
    const o = got.outBits.slice();
    o[i] = bits;
    return { outBits: o, lse: got.lse };
  };
  const withLse = (i: number, v: number) => {
    const l = got.lse.slice();
    l[i] = v;
    return { outBits: got.outBits, lse: l };
  };
  for (const tol of ['halfUlp', 'kernel'] as const) {
    assert.ok(compareDecode('x', got, ref, tol).ok, tol);
    // an element far off (its exponent bit flipped: twice or half the value)
    const e = outIndex(1, 0, 1, 17);
    let m = compareDecode('x', withOut(e, got.outBits[e] ^ 0x0080), ref, tol);
    assert.equal(m.ok, false);
    assert.match(m.message, new RegExp(`^x: out at request 1, token 0, head 1, channel 17 \\(element ${e}\\): got .*, reference .*: \\|err\\| .* > bound `));
    assert.equal(m.mismatch?.index, e);
    // NaN in a row the sample does not compare: still caught (masks first, over the whole output)
    const sample = referenceDecode(p, true, undefined, { rows: [{ i: 1, s: 0, h: 0 }], kernelTerms: true });
    assert.ok(compareDecode('x', got, sample, tol).ok);
    const nanAt = outIndex(2, 1, 3, 511);
    m = compareDecode('x', withOut(nanAt, fmt.nanBits), sample, tol);
    assert.equal(m.ok, false);
    assert.equal(m.nanOutputs, 1);
    assert.match(m.message, /^x: out at request 2, token 1, head 3, channel 511 .*: 1 NaN element\(s\) in out; the reference has no NaN or ±Inf \(NaN\/Inf mask differs\)/);
    assert.equal(m.mismatch?.index, nanAt);
    assert.match(compareDecode('x', withOut(outIndex(1, 0, 0, 3), 0x7f80 /* +Inf */), ref, tol).message, /NaN\/Inf mask differs/);
    // a row that sees no key must give out 0 and lse +inf
    m = compareDecode('x', withOut(outIndex(0, 1, 2, 5), 0x3f80 /* 1.0 */), ref, tol);
    assert.match(m.message, /^x: out at request 0, token 1, head 2, channel 5 .*: the row sees no key: out must be /);
    m = compareDecode('x', withLse(lseIndex(0, 0, 0), 3), ref, tol);
    assert.match(m.message, /the row sees no key: lse must be \+Infinity/);
    m = compareDecode('x', withLse(lseIndex(2, 1, 1), Infinity), ref, tol);
    assert.match(m.message, /^x: lse at request 2, token 1, head 1 .*the row sees 90 keys: lse must be finite/);
    m = compareDecode('x', withLse(lseIndex(1, 0, 0), NaN), ref, tol);
    assert.match(m.message, /^x: lse at request 1, token 0, head 0 \(element \d+\): got NaN/);
    // lse beyond its bound
    const li = lseIndex(1, 0, 1);
    m = compareDecode('x', withLse(li, got.lse[li] * (1 + (tol === 'kernel' ? 1e-3 : 2 ** -20))), ref, tol);
    assert.equal(m.ok, false, `${tol}: lse`);
    assert.equal(m.mismatch?.what, 'lse');
  }
  // a -0 where +0 is due: only 'halfUlp' (the cpu backend's exactness) insists on the sign
  const negZero = withOut(outIndex(0, 0, 0, 0), 0x8000);
  assert.equal(compareDecode('x', negZero, ref, 'halfUlp').ok, false);
  assert.equal(compareDecode('x', negZero, ref, 'kernel').ok, true);
  // the wrong mask, another request's page, a scale 10 % off: each fails
  assert.equal(compareDecode('x', cpuDecodeProblem(p, false), ref, 'kernel').ok, false, 'not causal');
  const swapped = { ...p, table: p.table.slice() };
  const [a1, a2] = [1 * p.maxBlocksPerSeq, 2 * p.maxBlocksPerSeq];
  [swapped.table[a1], swapped.table[a2]] = [swapped.table[a2], swapped.table[a1]];
  assert.equal(compareDecode('x', got, referenceDecode(swapped, true, undefined, { kernelTerms: true }), 'kernel').ok, false, 'pages of two requests swapped');
  assert.equal(compareDecode('x', cpuDecodeProblem(p, true, DEFAULT_SOFTMAX_SCALE * 1.1), ref, 'kernel').ok, false, 'scale 10 % off');
  // a reference that itself reads a NaN slot (a broken problem) passes nothing
  const poisoned = { ...p, table: p.table.slice() };
  poisoned.table[a1] = Array.from({ length: p.numBlocks }, (_, k) => k).find((k) => !p.table.includes(k))!; // a spare (NaN) block
  const r = compareDecode('x', got, referenceDecode(poisoned, true, undefined, { kernelTerms: true }), 'kernel');
  assert.equal(r.ok, false);
  assert.match(r.message, /the reference is NaN or ±Inf/);
  // misuse
  assert.throws(() => compareDecode('x', got, referenceDecode(p, true), 'kernel'), /^TypeError: x: tolerance 'kernel' needs a reference computed with kernelTerms: true$/);
  assert.throws(() => compareDecode('x', { outBits: got.outBits.subarray(1), lse: got.lse }, ref, 'kernel'), /^RangeError: x: expected out of 12288 and lse of 24 elements \(\[3, 2, 4\]\), got 12287 and 24$/);
});

// ---------------------------------------------------------------------------------------------- the GPU property loop

test("the GPU property test's loop, on the cpu backend: 'gpu' cases, 16-byte layouts, no failure, every case compared", () => {
  const cases = 12;
  const report = runDecodeProperty({ cases, profile: 'gpu', backend: 'cpu', kernels: ['reference'], base: 77, alignBytes: 16, rerun: (s) => `FLASH_MLA_SEED=${s}` });
  assert.deepEqual(report.failures, []);
  assert.equal(report.stats.get('reference')!.runs, cases);
  assert.equal(report.coverage.cases, cases);
  assert.ok(report.coverage.rows > 100);
  assert.ok(report.stats.get('reference')!.worstRatio > 0 && report.stats.get('reference')!.worstRatio <= 1);
  const full = { cases: 100, split: 9, causal: 50, multiTile: 9, multiPage: 9, preallocated: 50, fp16: 50, rows: 900, lonelyRows: 9 };
  assert.deepEqual(coverageGaps(full), []);
  assert.deepEqual(coverageGaps({ ...full, split: 1, fp16: 0 }), ['split (1 of 100 cases)', 'fp16 (0 of 100 cases)']);
});
