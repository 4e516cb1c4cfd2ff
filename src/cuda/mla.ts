// The cuda backend: metadata kernel → split-KV decode kernel → combine kernel, chained on one stream
// with programmatic dependent launch (PDL) where the GPU supports it (sm_90). Decodes over the FP8 cache (dense
// and sparse) go to src/cuda/fp8-decode.ts, dense decodes with h_kv > 1 or d_qk 512 to src/cuda/layout-decode.ts.

import type { AppendKvArgs, DecodeFeatures, LayoutUse, KvFormat, MlaBackend, MlaDecodeArgs } from '../backend.js';
import { registerBackend } from '../backend.js';
import { scratchForCapture } from './graph.js';
import { isCapturing } from '../capture.js';
import type { Tensor } from '../tensor.js';
import { UnsupportedDeviceError, UnsupportedFeatureError } from '../errors.js';
import { HEAD_DIM_K, METADATA_TIGHT_MAX_REQS, PACK_PAYLOADS, PAGE_BLOCK_SIZE } from '../mla/constants.js';
import { evenSplitMinSplits, packMaxRequests, splitOverheadBlocks, tightPayloadSteps, wholeSlackSplits } from '../mla/schedule.js';
import { getCudaContext, kernelSelection, loadKernel, pdlEnabled, portableArchs, requirePortable } from './context.js';
import { DECODE_KERNELS, SMALL_ROW_HOPPER_KERNEL, smallRowEntry, smallRowUnrunnable } from './kernels.js';
import { allocDeviceBuffer } from './block-cache.js';
import { CudaDevice, type DeviceBuffer, TensorMapDataType, TensorMapSwizzle, encodeTensorMap, memset, requireDevice, type DeviceInfo, type Kernel } from './runtime.js';
import { combineStageBytes, decodeParamsOf, hopperHalfPartials, launchExperiment, MLA_DECODE_PARAMS_BYTES, splitWorkspace } from './params.js';
import { cudaCheckDecode, cudaCheckKvFormat, FP8_DECODE_KERNEL_FAMILY, fp8HopperMisfit, isLayoutDecode, LAYOUT_DECODE_KERNEL_FAMILY, smallRowDefaultMaxRows, smallRowMaxRows, smallRowMisfit } from './features.js';
import { cudaMemory } from './memory.js';
import { cudaAppendKv, cudaAppendKvFp8 } from './append.js';
import { cudaFp8Decode, cudaFp8SparseSmallDecode, fp8HopperLayoutMisfit, fp8HopperTensorMaps, fp8ParamsOf, fp8SparseHopperLayoutMisfit, type DecodeResources } from './fp8-decode.js';
import { cudaLayoutDecode } from './layout-decode.js';
import { cudaCheckLayout } from './layout.js';
import { MLA_CONFIG } from './config.js';
import { combineGrid, combineShape, combineShapeOverride, type CombineShape } from './combine-shape.js';

// Launch shapes: host copies of kernels/mla_config.h (src/cuda/config.ts, checked by test/kernel-config.test.ts).
const { GEN_BLOCK_M, GEN_THREADS, SM90_THREADS, COMBINE_THREADS, METADATA_THREADS, METADATA_HEADER_BYTES, METADATA_PAR_MAX_REQS, METADATA_SMEM_MAX_REQS, METADATA_PACK_FIXED_INTS } = MLA_CONFIG;
const smemOf = (name: string) => DECODE_KERNELS.find((k) => k.name === name)!.sharedBytes;

// FLASH_MLA_COMBINE=W,C forces the combine's launch shape (measurements); read once, at the first decode.
let combineOverride: CombineShape | null | undefined;

/** Force the combine's launch shape for the following decodes (null: the rule). For tests and measurements. */
export function forceCombineShape(shape: CombineShape | null): void {
  combineOverride = shape;
}

/** The combine's launch shape for b requests of qRows folded rows: forced, or the rule. */
function combineShapeFor(b: number, qRows: number): CombineShape {
  if (combineOverride === undefined) combineOverride = combineShapeOverride(process.env.FLASH_MLA_COMBINE);
  return combineOverride ?? combineShape(b, qRows);
}

export function cudaAvailable(): boolean {
  return CudaDevice.available();
}

export function cudaDeviceInfo(): DeviceInfo {
  return getCudaContext().device.info;
}

/** Wait until all work queued by the cuda backend has finished. */
export function synchronize(): void {
  getCudaContext().stream.synchronize();
}

/** How to launch one decode kernel; whether it runs on a device is kernels.ts's selectKernels(). */
interface DecodeKernelSpec {
  name: string;
  file: string;
  /** The entry point for a decode of `qRows` = s_q · h_q folded rows per request (`packed`: MlaDecodeArgs.packedOrder). */
  entry: (dtype: 'bf16' | 'fp16', qRows: number, packed: boolean) => string;
  blockM: number;
  threads: number;
  sharedBytes: number;
  /** Kernel arguments after the params struct (e.g. tensor maps). */
  extraArgs?: (a: MlaDecodeArgs) => Uint8Array[];
}

/**
 * TMA descriptor of the K cache as 64-token pages: {576 channels, 64 tokens, numBlocks}, 64×64 boxes, 128B swizzle.
 * Cached per cache tensor (one per layer in a model), so steady-state decoding encodes nothing.
 */
const kMapCache = new Map<string, Uint8Array>();
const K_MAP_CACHE_MAX = 256;
/** The last map per cache tensor object, with its address (a tensor's shape, strides and dtype never change). */
const kMapByTensor = new WeakMap<Tensor, { ptr: bigint; map: Uint8Array }>();
function kCacheTensorMap(kCache: Tensor): Uint8Array {
  const ptr = kCache.ptr;
  const mine = kMapByTensor.get(kCache);
  if (mine && mine.ptr === ptr) return mine.map;
  const key = `${ptr}:${kCache.dtype}:${kCache.shape.join(',')}:${kCache.strides.join(',')}`;
  const hit = kMapCache.get(key);
  if (hit) {
    kMapByTensor.set(kCache, { ptr, map: hit });
    return hit;
  }
  if (kMapCache.size >= K_MAP_CACHE_MAX) kMapCache.delete(kMapCache.keys().next().value!);
  const map = encodeTensorMap({
    dataType: kCache.dtype === 'bf16' ? TensorMapDataType.bf16 : TensorMapDataType.fp16,
    address: kCache.ptr,
    dims: [HEAD_DIM_K, PAGE_BLOCK_SIZE, kCache.shape[0]],
    strides: [kCache.strides[1] * 2, kCache.strides[0] * 2],
    box: [64, PAGE_BLOCK_SIZE, 1],
    swizzle: TensorMapSwizzle.b128,
  });
  kMapCache.set(key, map);
  kMapByTensor.set(kCache, { ptr, map });
  return map;
}

const decodeKernelSpecs: DecodeKernelSpec[] = [
  {
    name: 'hopper',
    file: 'mla_decode_sm90',
    // one m-block (≤ 64 rows: memory-bound): the entry whose first loads are staggered (kernels/mla_decode_sm90.cu)
    // (packed: the entries that read the order table; the others compile to the code from before it, so a batch-order
    // schedule pays nothing for the fifth rule: kernels/mla_decode_sm90.cu)
    entry: (dt, qRows, packed) => `mla_decode_sm90_${packed ? 'packed_' : ''}${qRows <= GEN_BLOCK_M ? 'membound_' : ''}${dt}`,
    blockM: GEN_BLOCK_M,
    threads: SM90_THREADS,
    sharedBytes: smemOf('hopper'),
    extraArgs: (a) => [kCacheTensorMap(a.kCache)],
  },
  {
    name: 'generic',
    file: 'mla_decode_generic',
    entry: (dt) => `mla_decode_generic_${dt}`,
    blockM: GEN_BLOCK_M,
    threads: GEN_THREADS,
    sharedBytes: smemOf('generic'),
  },
  {
    // 99 840 B of shared memory: the kernel of sm_86/sm_89/sm_120 parts (99 KB per block); runs anywhere generic does
    name: 'generic-small',
    file: 'mla_decode_generic_small',
    entry: (dt) => `mla_decode_generic_small_${dt}`,
    blockM: GEN_BLOCK_M,
    threads: GEN_THREADS,
    sharedBytes: smemOf('generic-small'),
  },
];

/** The small-row kernel folds the combine in when b · this ≥ its SM parts (foldsCombine). */
const SPLIT_FOLD_MIN_B_PER_PART = 2;
/** …and only in its 16-row entries (foldsCombine). */
const SPLIT_FOLD_MAX_ROWS = 16;

/**
 * Whether a small-row decode merges its splits itself (kernels/mla_fold_combine.cuh) instead of launching the combine:
 * when requests have few splits — b · 2 ≥ SM parts: at most ~3 on average, and even one long request among them is
 * split no more than ~SM parts / 2 ways (one CTA merging a request's 100+ splits, as serving S7 could ask with b 33,
 * would be slower than the combine kernel's many CTAs) — with at most 16 rows per request, and never inside a graph
 * capture (the counters' buffer is not the graph's). Measured with b · 4 ≥ parts (H200, session 7): S4 (b 64, 132
 * parts) 1 % faster folded, which this bound gives up for the skewed-batch risk. The 32-row entry merges 32 rows in
 * the tail of the CTA that arrives last — nearly every part's end in a variable-length batch — and ran 1.6–2.4 %
 * slower folded than with the combine kernel on the 4096/8192 variable-length sweep rows of 32 rows (H200, session 15,
 * perf log `varcomb`), while the 16-row rows ran the same either way.
 */
function foldsCombine(b: number, numSmParts: number, qRows: number): boolean {
  return qRows <= SPLIT_FOLD_MAX_ROWS && b * SPLIT_FOLD_MIN_B_PER_PART >= numSmParts && !isCapturing();
}

/** A combine ready to launch after its decode (DecodeResources.combine): the entry point and its launch on the params. */
export interface PreparedCombine {
  entry: string;
  launch(params: Uint8Array): void;
}

class CudaMlaBackend implements MlaBackend {
  readonly name = 'cuda' as const;
  readonly memory = cudaMemory;
  private workspace: DeviceBuffer | null = null;
  private arrivals: DeviceBuffer | null = null;
  private readonly paramBuf = new Uint8Array(MLA_DECODE_PARAMS_BYTES);

  private get dev(): CudaDevice {
    return getCudaContext().device;
  }

  smCount(): number {
    return this.dev.info.smCount;
  }

  /**
   * Runnable decode kernels, best first (kernels.ts selectKernels(); FLASH_MLA_DECODE_KERNEL narrows it to one). For
   * an FP8, sparse or other-layout decode: the family of the kernel that runs it (features.ts), not narrowed — and
   * first, for an FP8 decode a Hopper FP8 kernel can run (dense: bf16 q, 64-token pages; sparse: bf16 q), 'hopper'
   * where it runs (selectKernels: fp8DecodeKernels, sparseDecodeKernels; a narrowing to
   * another kernel leaves these to 'generic'). For a decode the small-row kernel takes: 'hopper-small' too, first for a
   * sparse one and for a dense one whose s_q is given (see below).
   */
  decodeKernels(decode?: Pick<DecodeFeatures, 'fp8' | 'sparse' | 'hQ' | 'hKv' | 'headDim' | 'dtype' | 'pageSize' | 'sQ'>): string[] {
    const sel = kernelSelection(this.dev);
    let names: string[];
    if (decode?.fp8 && fp8HopperMisfit(decode) === null) names = [...(decode.sparse ? sel.sparseDecodeKernels : sel.fp8DecodeKernels)];
    else if (decode?.fp8 || decode?.sparse) return [FP8_DECODE_KERNEL_FAMILY];
    else if (decode && isLayoutDecode(decode)) return [LAYOUT_DECODE_KERNEL_FAMILY];
    else names = [...sel.decodeKernels];
    // the small-row kernel (16-bit or FP8 entries), for a dense decode whose shapes it takes (h_q · s_q ≤ 32 over
    // either cache) or a sparse one of h_q ≤ 32: the default (faster than 'hopper' on every such shape measured,
    // docs/perf-log.md) for sparse decodes and for dense ones of at most smallRowDefaultMaxRows() rows (16 over the
    // 16-bit cache, 32 over the FP8 cache) when no FLASH_MLA_DECODE_KERNEL narrowing picks another and, for a dense
    // decode, s_q is known (the rows are h_q · s_q); else offered last
    const rows = decode?.sparse ? decode.hQ : (decode?.hQ ?? 0) * (decode?.sQ ?? 1);
    if (decode && smallRowMisfit(decode) === null && smallRowUnrunnable(sel, decode.fp8, rows, decode.sparse) === null) {
      const byDefault = (decode.sparse || (decode.sQ !== undefined && rows <= smallRowDefaultMaxRows(decode.fp8))) && sel.options.decodeKernel === undefined;
      if (byDefault) names.unshift(SMALL_ROW_HOPPER_KERNEL.name);
      else names.push(SMALL_ROW_HOPPER_KERNEL.name);
    }
    return names;
  }

  mlaMetadata(cacheSeqlens: Tensor, tileSchedulerMetadata: Tensor, numSplits: Tensor, packCost: number): void {
    const dev = this.dev;
    requirePortable(dev, 'mla_metadata');
    const k = loadKernel('mla_metadata', portableArchs(dev), 'mla_metadata', ['ptr', 'i32', 'i32', 'ptr', 'ptr', 'i32', 'i32', 'i32', 'i32', 'i32']);
    const b = cacheSeqlens.shape[0];
    const parts = tileSchedulerMetadata.shape[0];
    k.launch(
      { grid: [1, 1, 1], block: [METADATA_THREADS, 1, 1], sharedMemBytes: metadataSharedBytes(b, parts, packCost), stream: getCudaContext().stream, pdl: this.pdl },
      cacheSeqlens.ptr,
      b,
      tileSchedulerMetadata.shape[0],
      tileSchedulerMetadata.ptr,
      numSplits.ptr,
      splitOverheadBlocks(), // the split cost of the cpu schedule the API checks metadata against
      wholeSlackSplits(), // and its slack for keeping an equal-length batch whole
      evenSplitMinSplits(), // and its shortest even piece (0: that rule off)
      tightPayloadSteps(), // and its steps below the payload (0: that rule off)
      packCost, // the fifth rule's split-item cost (getMlaMetadata's packOrder; 0: off)
    );
  }

  private get pdl(): boolean {
    return pdlEnabled(this.dev);
  }

  /** Scratch for split partials: o_accum and lse_accum. Grow-only outside capture; per-graph inside. */
  private scratch(bytes: number): bigint {
    const owned = scratchForCapture(bytes);
    if (owned) return owned.ptr;
    if (!this.workspace || this.workspace.bytes < bytes) {
      if (this.workspace) {
        getCudaContext().stream.synchronize(); // in-flight kernels may still use the old one
        const old = this.workspace;
        this.workspace = null; // if the larger one cannot be had, a later call must not reuse the freed one
        old.dispose();
      }
      this.workspace = allocDeviceBuffer(Math.ceil(bytes * 1.25));
    }
    return this.workspace.ptr;
  }

  /**
   * The split fold's counters (kernels/mla_fold_combine.cuh): [b] uint32, zero between decodes (the kernel returns
   * each to 0), grow-only; zeroed on the stream when (re)allocated. Never used inside a capture (the combine kernel
   * merges there), so no graph holds a pointer to a buffer a later call frees.
   */
  private splitArrivals(b: number): bigint {
    if (!this.arrivals || this.arrivals.bytes < 4 * b) {
      const stream = getCudaContext().stream;
      if (this.arrivals) {
        stream.synchronize(); // in-flight kernels may still count on the old one
        const old = this.arrivals;
        this.arrivals = null;
        old.dispose();
      }
      const n = Math.max(b, 1024);
      this.arrivals = allocDeviceBuffer(4 * n);
      memset(this.arrivals.ptr, 0, n, 4, stream);
    }
    return this.arrivals.ptr;
  }

  /**
   * The combine after a decode of b requests × qRows rows, loaded before anything is launched: the W/C combine in the
   * shape combineShapeFor gives, over fp32 split partials or (`halfPartials`: 'hopper''s dense entries write them so,
   * kernels/mla_sm90_math.cuh store_row_wide) scaled fp16 ones (PARTIAL16_ROW_ELEMS) — the mla_combine_p16_* entries.
   */
  private prepareCombine(b: number, qRows: number, dt: 'bf16' | 'fp16', archs: string[], halfPartials = false): PreparedCombine {
    const stream = getCudaContext().stream;
    const pdl = this.pdl;
    const shape = combineShapeFor(b, qRows);
    const entry = `mla_combine_${halfPartials ? 'p16_' : ''}w${shape.warpsPerRow}_c${shape.chunks}_${dt}`;
    const k = loadKernel('mla_combine', archs, entry, ['bytes']);
    const sharedMemBytes = combineStageBytes(shape.chunks); // C = 4: its stage
    return { entry, launch: (params) => k.launch({ grid: combineGrid(b, qRows, shape), block: [COMBINE_THREADS, 1, 1], stream, pdl, sharedMemBytes }, params) };
  }

  checkDecode(f: DecodeFeatures): void {
    cudaCheckDecode(f);
  }

  checkLayout(name: string, t: Tensor, use: LayoutUse): void {
    cudaCheckLayout(name, t, use);
  }

  checkKvFormat(format: KvFormat, argument: string): void {
    cudaCheckKvFormat(format, argument);
  }

  appendKv(a: AppendKvArgs): void {
    if (a.kCache.dtype !== 'uint8') {
      cudaAppendKv(a);
      return;
    }
    cudaCheckKvFormat('fp8', 'kCache');
    cudaAppendKvFp8(a);
  }

  mlaDecode(a: MlaDecodeArgs): void {
    const dev = this.dev;
    const [, , hQ0, headDim] = a.q.shape;
    const features = {
      dtype: a.q.dtype as 'bf16' | 'fp16', hQ: hQ0, sQ: a.q.shape[1], hKv: a.isFp8KvCache ? 1 : a.kCache.shape[2], headDim, pageSize: a.kCache.shape[1],
      fp8: a.isFp8KvCache, sparse: a.indices !== null, topk: a.indices?.shape[2] ?? 0, topkLength: a.topkLength !== null, attnSink: a.attnSink !== null,
      kernel: a.kernel,
    };
    cudaCheckDecode(features);
    const res: DecodeResources = { scratch: (bytes) => this.scratch(bytes), pdl: this.pdl, combine: (...args) => this.prepareCombine(...args) };
    const offered = this.decodeKernels(features);
    // by default the small-row kernel where it takes the decode, but not an FP8 cache view it cannot read (dense: its
    // tensor maps, fp8HopperLayoutMisfit; sparse: its bulk copies, fp8SparseHopperLayoutMisfit): the next kernel then
    const smallMisfit = () => (a.indices !== null ? fp8SparseHopperLayoutMisfit : fp8HopperLayoutMisfit)(a.kCache);
    const chosen = a.kernel ?? (offered[0] === SMALL_ROW_HOPPER_KERNEL.name && a.isFp8KvCache && smallMisfit() !== null ? offered[1] : offered[0]);
    if (chosen === SMALL_ROW_HOPPER_KERNEL.name) {
      // dense, h_kv 1, d_qk 576, bf16 q, 64-token pages, h_q · s_q ≤ 32 (either cache; cudaCheckDecode: smallRowMisfit)
      if (a.indices !== null) cudaFp8SparseSmallDecode(a, res); // sparse, FP8 cache, bf16 q, h_q ≤ 32 (src/cuda/fp8-decode.ts)
      else this.smallRowDecode(a);
      return;
    }
    if (a.isFp8KvCache) {
      // dense and sparse decode over the FP8 cache: the Hopper FP8 kernel or the portable one (src/cuda/fp8-decode.ts)
      cudaFp8Decode(a, res, chosen);
      return;
    }
    if (isLayoutDecode(features)) {
      // h_kv > 1 or d_qk 512: the generic kernel's body with FlashMLA's GQA folding (src/cuda/layout-decode.ts)
      cudaLayoutDecode(a, res);
      return;
    }
    if (a.indices || a.kCache.shape[2] !== 1 || headDim !== HEAD_DIM_K) {
      // unreachable: sparse decode is FP8 (validated), the other layouts went to cudaLayoutDecode; the kernels below read bf16/fp16 [.., 64, 1, 576] only
      throw new Error('mlaDecode: no cuda kernel for this layout is wired (src/cuda/mla.ts)');
    }
    const sel = kernelSelection(dev);
    const name = chosen;
    const spec = decodeKernelSpecs.find((s) => s.name === name);
    if (!spec) {
      if (sel.problems.length) throw new RangeError(sel.problems.join('; '));
      const { major, minor } = dev.info.computeCapability;
      const why = sel.decode.map((d) => `${d.name}: ${d.reason}`).join('; ');
      throw new UnsupportedDeviceError('decode', `compute capability ${major}.${minor} (${dev.info.name}), ${dev.info.maxSharedMemoryPerBlockOptin} B shared memory per block`, `a decode kernel that runs here (${why})`);
    }
    const choice = sel.decode.find((d) => d.name === spec.name)!;
    if (!choice.runnable) {
      const { major, minor } = dev.info.computeCapability;
      throw new UnsupportedDeviceError(spec.name, `compute capability ${major}.${minor} (${dev.info.name})`, choice.reason);
    }
    requireDevice(dev, spec.name, { minCcMajor: 8, sharedBytes: spec.sharedBytes });
    const dt = a.q.dtype as 'bf16' | 'fp16';
    const [b, sQ, hQ] = a.q.shape;
    const numSmParts = a.tileSchedulerMetadata.shape[0];
    // everything that can fail before the launches (modules, tensor map) first: a kernel that cannot load leaves
    // no workspace allocated and nothing launched
    const extra = spec.extraArgs?.(a) ?? [];
    const cubinArchs = choice.binary.form === 'cubin' ? [choice.binary.arch!] : [];
    const qRows = sQ * hQ;
    const decode: Kernel = loadKernel(spec.file, cubinArchs, spec.entry(dt, qRows, a.packedOrder), ['bytes', ...extra.map(() => 'bytes' as const)]);
    // 'hopper' writes its split partials as scaled fp16 rows (half the bytes its combine reads: perf log `s46e`, `s47s`)
    const combine = this.prepareCombine(b, qRows, dt, portableArchs(dev), spec.name === 'hopper' && hopperHalfPartials());
    // (the combine is not folded in here: folding it into 'hopper' was slower on the H200 — its merges of 64 rows land
    // in the kernel's tail, and the loop compiled worse — docs/perf-log.md, session 7)
    const params = decodeParamsOf(a, this.scratch(splitWorkspace(b, numSmParts, qRows).bytes), this.paramBuf);
    const stream = getCudaContext().stream;
    decode.launch(
      { grid: [Math.ceil(qRows / spec.blockM), numSmParts, 1], block: [spec.threads, 1, 1], sharedMemBytes: spec.sharedBytes, stream, pdl: this.pdl },
      params,
      ...extra,
    );
    if (launchExperiment() !== 'nocombine') combine.launch(params);
  }

  /**
   * The small-row kernel (kernels/mla_decode_sm90_small.cu): one CTA of two warpgroups per SM part for all of a
   * request's folded rows (≤ 16: entry mla_decode_sm90_small_bf16, 17–32: mla_decode_sm90_small_r32_bf16; FP8 cache:
   * mla_decode_sm90_small_fp8_bf16 and, 17–32, mla_decode_sm90_small_fp8_g32_bf16 — the gather entry, 384 threads, params
   * and MlaFp8Params, bulk copies of the block table's rows: fp8SparseHopperLayoutMisfit), grid (1, num_sm_parts, 1); over the 16-bit
   * cache the 'hopper' kernel's K tensor map, over the FP8 cache the 'hopper' FP8 kernel's raw and RoPE maps and the raw
   * bytes in 128B-swizzled boxes (a view
   * they cannot describe is refused: fp8HopperLayoutMisfit); the combine folded in or launched (foldsCombine: 16-row
   * entries only, so never the gather entry).
   */
  private smallRowDecode(a: MlaDecodeArgs): void {
    const dev = this.dev;
    const k = SMALL_ROW_HOPPER_KERNEL;
    const [b, sQ, hQ] = a.q.shape;
    const qRows = sQ * hQ;
    const maxRows = smallRowMaxRows(a.isFp8KvCache);
    if (qRows > maxRows) {
      const cache = a.isFp8KvCache ? ' over the FP8 KV cache' : '';
      throw new UnsupportedFeatureError('kernel', `h_q · s_q = ${hQ} · ${sQ} = ${qRows} rows${cache} with decode kernel '${k.name}'`, 'cuda', `'${k.name}' takes up to ${maxRows} rows per request${cache}: pass no kernel`);
    }
    const why = smallRowUnrunnable(kernelSelection(dev), a.isFp8KvCache, qRows);
    if (why !== null) {
      const { major, minor } = dev.info.computeCapability;
      throw new UnsupportedDeviceError(k.name, `compute capability ${major}.${minor} (${dev.info.name})`, why);
    }
    const { entry, sharedBytes } = smallRowEntry(a.isFp8KvCache, qRows);
    // 17–32 rows over the FP8 cache: the gather entry (params and MlaFp8Params, 384 threads)
    const g32 = entry === k.fp8G32Entry;
    requireDevice(dev, k.name, { minCcMajor: 9, sharedBytes });
    const numSmParts = a.tileSchedulerMetadata.shape[0];
    // everything that can fail before the launches (tensor maps, modules) first: nothing allocated or launched then
    let maps: Uint8Array[];
    if (g32) {
      const misfit = fp8SparseHopperLayoutMisfit(a.kCache);
      if (misfit !== null) throw new UnsupportedFeatureError('kCache', `an FP8 cache with ${misfit} with decode kernel '${k.name}'`, 'cuda', `'${k.name}' copies the FP8 cache's rows with bulk copies (16-byte aligned row and page strides and start): pass no kernel`);
      maps = [fp8ParamsOf(a)];
    } else if (a.isFp8KvCache) {
      const misfit = fp8HopperLayoutMisfit(a.kCache);
      if (misfit !== null) {
        throw new UnsupportedFeatureError('kCache', `an FP8 cache with ${misfit} with decode kernel '${k.name}'`, 'cuda', `'${k.name}' reads the FP8 cache through TMA tensor maps (16-byte aligned row and page strides): pass no kernel`);
      }
      maps = fp8HopperTensorMaps(a.kCache);
    } else {
      maps = [kCacheTensorMap(a.kCache)];
    }
    const decode: Kernel = loadKernel(k.file, ['sm_90a'], entry, ['bytes', ...maps.map(() => 'bytes' as const)]);
    // the combine folded into the decode (its last CTA per request merges) when requests have few splits
    const fold = foldsCombine(b, numSmParts, qRows);
    const combine = fold ? null : this.prepareCombine(b, qRows, 'bf16', portableArchs(dev));
    const params = decodeParamsOf(a, this.scratch(splitWorkspace(b, numSmParts, qRows).bytes), this.paramBuf, fold ? this.splitArrivals(b) : 0n);
    const stream = getCudaContext().stream;
    decode.launch({ grid: [1, numSmParts, 1], block: [g32 ? k.sparseThreads : k.threads, 1, 1], sharedMemBytes: sharedBytes, stream, pdl: this.pdl }, params, ...maps);
    if (launchExperiment() !== 'nocombine') combine?.launch(params);
  }
}

/** The metadata kernel's dynamic shared memory (kernels/mla_config.h): the parallel schedule's arrays (Q, then 4 int32
 * per request for each candidate payload of the fourth rule, up to METADATA_TIGHT_MAX_REQS requests; else 5 int32 per
 * request) while they fit in 48 KB, else the serial walk's cache (seqlen and block count per request). */
function metadataSharedBytes(b: number, parts: number, packCost: number): number {
  // the fifth rule's slots (kernels/mla_metadata_pack.cuh pack_smem_ints) whenever it may fire: the kernel packs only
  // with them, and the cpu schedule does not know about shared memory
  const pack = packCost > 0 && b <= packMaxRequests(parts) ? METADATA_HEADER_BYTES + 4 * (METADATA_PACK_FIXED_INTS + PACK_PAYLOADS * (2 * b + 4 * parts)) : 0;
  if (b <= METADATA_TIGHT_MAX_REQS) return Math.max(pack, METADATA_HEADER_BYTES + 4 * ((1 + 4 * (1 + tightPayloadSteps())) * b + 1));
  return METADATA_HEADER_BYTES + (b <= METADATA_PAR_MAX_REQS ? 4 * (5 * b + 1) : 8 * Math.min(b, METADATA_SMEM_MAX_REQS));
}

registerBackend('cuda', () => {
  getCudaContext();
  return new CudaMlaBackend();
});
