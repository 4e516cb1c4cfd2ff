// The cuda backend's decode over the FP8 KV cache (FlashMLA's DeepSeek-V3.2 layout), then the combine of split
// requests (kernels/mla_combine.cu; its sink variant when an attention sink is given). Three kernels:
// - 'generic': kernels/mla_decode_fp8.cu, portable (mma.sync, sm_80+, 160 512 B of shared memory), dense (block
//   table, causal, s_q ≥ 1) or sparse (indices, topkLength, attnSink), bf16 or fp16 q, any page size;
// - 'hopper', dense: mla_decode_sm90_fp8_bf16 of kernels/mla_decode_sm90.cu (sm_90a), dense decode with bf16 q over
//   64-token pages: the bf16 Hopper kernel's math warpgroups with a third warpgroup that dequantises the K blocks
//   TMA brings in raw (two tensor maps of the cache: its e4m3 bytes and its bf16 RoPE columns);
// - 'hopper', sparse: mla_decode_sm90_fp8_sparse_bf16 of the same file, sparse decode with bf16 q and h_q a multiple
//   of 64, any page size and topk: the same two parameter structs as the portable sparse kernel (no tensor map: its
//   producer gathers each indexed token with its own bulk copies), the dense folding's launch shape (each CTA's 64
//   folded rows are the heads of one query token), the portable sparse path's combine.
// The Hopper ones are the default for the decodes they run, on the devices that run them (kernels.ts selectKernels:
// fp8Hopper, fp8SparseHopper).

import type { MlaDecodeArgs } from '../backend.js';
import { UnsupportedDeviceError, UnsupportedFeatureError } from '../errors.js';
import { FP8_BYTES_PER_TOKEN, FP8_ROPE_OFFSET, FP8_SCALES_OFFSET, PAGE_BLOCK_SIZE } from '../mla/constants.js';
import type { Tensor } from '../tensor.js';
import { MLA_CONFIG } from './config.js';
import { getCudaContext, kernelSelection, loadKernel, portableArchs, requirePortable } from './context.js';
import { FP8_DECODE_KERNEL_FAMILY, FP8_HOPPER_KERNEL_NAME, SMALL_ROW_SPARSE_GROUP_HEADS } from './features.js';
import { FP8_HOPPER_KERNEL, FP8_SPARSE_HOPPER_KERNEL, SMALL_ROW_HOPPER_KERNEL, smallRowEntry, smallRowUnrunnable } from './kernels.js';
import { decodeParamsOf, encodeStruct, hopperHalfPartials, launchExperiment, MLA_DECODE_PARAMS_BYTES, MLA_FP8_PARAMS, splitWorkspace } from './params.js';
import { encodeTensorMap, requireDevice, TensorMapDataType, TensorMapSwizzle, type Kernel } from './runtime.js';
import type { PreparedCombine } from './mla.js';
import { combineGrid } from './combine-shape.js';

const { GEN_BLOCK_M, GEN_THREADS, F8D_SMEM_BYTES, COMBINE_THREADS } = MLA_CONFIG;

/** What a decode path outside mla.ts (this file, layout-decode.ts) borrows from the backend. */
export interface DecodeResources {
  /** Device scratch of at least `bytes` bytes for the split partials (the backend's workspace). */
  scratch(bytes: number): bigint;
  /** Launch with programmatic dependent launch. */
  pdl: boolean;
  /**
   * The combine for a decode without a sink (b requests × qRows rows), loaded before anything is launched: the W/C
   * combine (src/cuda/mla.ts prepareCombine).
   */
  combine(b: number, qRows: number, dt: 'bf16' | 'fp16', archs: string[], halfPartials?: boolean): PreparedCombine;
}

const paramBuf = new Uint8Array(MLA_DECODE_PARAMS_BYTES);
const fp8ParamBuf = new Uint8Array(MLA_FP8_PARAMS.bytes);

/**
 * Decode over an FP8 cache (arguments validated; cudaCheckDecode passed, the `kernel` asked for included) on
 * `kernel`: the backend's decodeKernels() choice for it ('hopper' or 'generic'). A cache whose layout the Hopper
 * kernel cannot read (fp8HopperLayoutMisfit: its tensor maps, dense; fp8SparseHopperLayoutMisfit: its per-token bulk
 * copies, sparse) goes to 'generic' when 'hopper' was only the default, and is refused (UnsupportedFeatureError,
 * argument kCache, nothing allocated or launched) when it was asked for.
 */
export function cudaFp8Decode(a: MlaDecodeArgs, res: DecodeResources, kernel: string): void {
  if (kernel === FP8_HOPPER_KERNEL_NAME) {
    const sparse = a.indices !== null;
    const misfit = sparse ? fp8SparseHopperLayoutMisfit(a.kCache) : fp8HopperLayoutMisfit(a.kCache);
    if (misfit === null) return sparse ? cudaFp8SparseHopperDecode(a, res) : cudaFp8HopperDecode(a, res);
    if (a.kernel === FP8_HOPPER_KERNEL_NAME) {
      throw new UnsupportedFeatureError(
        'kCache',
        `an FP8 cache with ${misfit} with decode kernel '${FP8_HOPPER_KERNEL_NAME}'${sparse ? ' (sparse decode)' : ''}`,
        'cuda',
        sparse
          ? `the Hopper sparse FP8 kernel copies each token's bytes with bulk copies (16-byte aligned row and page strides and start); pass no kernel or '${FP8_DECODE_KERNEL_FAMILY}'`
          : `the Hopper FP8 kernel reads the cache through TMA tensor maps (16-byte aligned row and page strides); pass no kernel or '${FP8_DECODE_KERNEL_FAMILY}'`,
      );
    }
  }
  cudaFp8PortableDecode(a, res);
}

/** The sparse decode's second kernel parameter (MlaFp8Params, kernels/mla_fp8_params.h); zeros for a dense decode. */
export function fp8ParamsOf(a: MlaDecodeArgs): Uint8Array {
  const [numPages, pageSize] = a.kCache.shape;
  return encodeStruct(
    MLA_FP8_PARAMS,
    {
      indices: a.indices?.ptr ?? 0n,
      topk_length: a.topkLength?.ptr ?? 0n,
      attn_sink: a.attnSink?.ptr ?? 0n,
      indices_batch_stride: a.indices?.strides[0] ?? 0,
      indices_seq_stride: a.indices?.strides[1] ?? 0,
      num_slots: numPages * pageSize,
      topk: a.indices?.shape[2] ?? 0,
      page_size: pageSize,
      head_blocks: Math.ceil(a.q.shape[2] / GEN_BLOCK_M),
    },
    fp8ParamBuf,
  );
}

/**
 * The combine after an FP8 decode (loaded before anything is launched): the sink variant (W = C = 1, params and
 * MlaFp8Params) for a sparse decode with an attention sink, else the backend's combine (params only: res.combine).
 */
function fp8Combine(a: MlaDecodeArgs, res: DecodeResources, archs: string[]): { launch(params: Uint8Array, fp8Params: Uint8Array): void } {
  const dt = a.q.dtype as 'bf16' | 'fp16';
  const [b, sQ, hQ] = a.q.shape;
  const qRows = sQ * hQ;
  let launch: (params: Uint8Array, fp8Params: Uint8Array) => void;
  if (a.indices !== null && a.attnSink !== null) {
    const kernel: Kernel = loadKernel('mla_combine', archs, `mla_combine_sink_${dt}`, ['bytes', 'bytes']);
    const shape = { warpsPerRow: 1, chunks: 1 } as const;
    const { stream } = getCudaContext();
    launch = (params, fp8Params) => kernel.launch({ grid: combineGrid(b, qRows, shape), block: [COMBINE_THREADS, 1, 1], stream, pdl: res.pdl }, params, fp8Params);
  } else {
    const plain = res.combine(b, qRows, dt, archs);
    launch = (params) => plain.launch(params);
  }
  return { launch: launchExperiment() === 'nocombine' ? () => {} : launch };
}

/** The portable FP8 kernel (kernels/mla_decode_fp8.cu): dense or sparse. */
function cudaFp8PortableDecode(a: MlaDecodeArgs, res: DecodeResources): void {
  const { device, stream } = getCudaContext();
  requirePortable(device, 'mla_decode_fp8');
  requireDevice(device, 'mla_decode_fp8', { minCcMajor: 8, sharedBytes: F8D_SMEM_BYTES });
  const sparse = a.indices !== null;
  const dt = a.q.dtype as 'bf16' | 'fp16';
  const archs = portableArchs(device);
  // everything that can fail before the launches first: a kernel that cannot load leaves nothing allocated or launched
  const decode = loadKernel('mla_decode_fp8', archs, `mla_decode_fp8_${sparse ? 'sparse' : 'dense'}_${dt}`, ['bytes', 'bytes']);
  const combine = fp8Combine(a, res, archs);
  const [b, sQ, hQ] = a.q.shape;
  const numSmParts = a.tileSchedulerMetadata.shape[0];
  const qRows = sQ * hQ;
  const params = decodeParamsOf(a, res.scratch(splitWorkspace(b, numSmParts, qRows).bytes), paramBuf);
  const fp8Params = fp8ParamsOf(a);
  // dense: m-blocks of 64 folded rows; sparse: each query token's heads in blocks of 64 (its own index list)
  const mBlocks = sparse ? sQ * Math.ceil(hQ / GEN_BLOCK_M) : Math.ceil(qRows / GEN_BLOCK_M);
  decode.launch(
    { grid: [mBlocks, numSmParts, 1], block: [GEN_THREADS, 1, 1], sharedMemBytes: F8D_SMEM_BYTES, stream, pdl: res.pdl },
    params,
    fp8Params,
  );
  combine.launch(params, fp8Params);
}

// ---------------------------------------------------------------------------------------------- the Hopper FP8 kernel

/** What the tensor maps of the Hopper FP8 kernel need of a cache view: the parts of its layout they read. */
export type Fp8CacheLayout = Pick<Tensor, 'ptr' | 'shape' | 'strides'>;

/** The page stride the raw and RoPE maps get: the cache's, or for a single page (never stepped over) its row stride · 64. */
function mapPageStride(kCache: Fp8CacheLayout): number {
  return kCache.shape[0] === 1 ? kCache.strides[1] * PAGE_BLOCK_SIZE : kCache.strides[0];
}

/**
 * Why the Hopper FP8 kernel's tensor maps cannot describe this FP8 cache view [numPages, 64, 1, 656] (uint8, strides
 * in bytes), or null: TMA needs 16-byte aligned global strides (the row and page strides; the page stride of a
 * single page is never used and is replaced) and 16-byte aligned global addresses (the RoPE map starts 528 bytes in).
 * The validation's layout rule (16-byte strides and start) already guarantees all of it; kept as the kernel's own
 * precondition.
 */
export function fp8HopperLayoutMisfit(kCache: Fp8CacheLayout): string | null {
  const [numPages, pageSize, hKv, width] = kCache.shape;
  if (pageSize !== PAGE_BLOCK_SIZE || hKv !== 1 || width !== FP8_BYTES_PER_TOKEN) return `shape [${kCache.shape.join(', ')}] (expected [numPages, 64, 1, 656])`;
  if (kCache.strides[3] !== 1) return `a channel stride of ${kCache.strides[3]} bytes`;
  if (kCache.strides[1] % 16 !== 0) return `a row stride of ${kCache.strides[1]} bytes (not a multiple of 16)`;
  if (mapPageStride(kCache) % 16 !== 0) return `a page stride of ${kCache.strides[0]} bytes (not a multiple of 16)`;
  if ((kCache.ptr + BigInt(FP8_ROPE_OFFSET)) % 16n !== 0n) return `its RoPE columns at 0x${(kCache.ptr + BigInt(FP8_ROPE_OFFSET)).toString(16)} (not 16-byte aligned)`;
  if (Math.max(kCache.strides[1], mapPageStride(kCache)) >= 2 ** 40 || numPages >= 2 ** 32) return 'strides or pages beyond what a tensor map holds';
  return null;
}

/**
 * The TMA descriptors of an FP8 cache (kernels/mla_config.h, mla_decode_sm90_fp8_bf16 and
 * mla_decode_sm90_small_fp8_bf16): `raw`, its bytes as UINT8 {656, 64, numPages} with boxes {256, 64, 1} (the kernel
 * loads x = 0 and x = 256: the 512 e4m3 bytes of a page's 64 tokens), no swizzle; `rope`, its RoPE columns as
 * BFLOAT16 {64, 64, numPages} from byte 528 of the first row, boxes {64, 64, 1}, 128B swizzle (as the 16-bit cache's K
 * map); `rawSwizzled` (the small-row kernel's register-A datapath), the bytes as `raw` in boxes {128, 64, 1} with the
 * 128B swizzle (x = 0, 128, 256, 384: one box per scale group); `scales` (the same entries, from session 25), the four
 * fp32 scales of each token as UINT8 {16, 64, numPages} from byte 512 of the first row, boxes {16, 64, 1}, no swizzle
 * (1 KB per block, loaded with its raw boxes). All with the row and page strides of the view.
 */
type TensorMapSpec = Parameters<typeof encodeTensorMap>[0];
export function fp8HopperTensorMapSpecs(kCache: Fp8CacheLayout): { raw: TensorMapSpec; rope: TensorMapSpec; rawSwizzled: TensorMapSpec; scales: TensorMapSpec } {
  const strides = [kCache.strides[1], mapPageStride(kCache)];
  const numPages = kCache.shape[0];
  return {
    raw: { dataType: TensorMapDataType.uint8, address: kCache.ptr, dims: [FP8_BYTES_PER_TOKEN, PAGE_BLOCK_SIZE, numPages], strides, box: [256, PAGE_BLOCK_SIZE, 1], swizzle: TensorMapSwizzle.none },
    rope: { dataType: TensorMapDataType.bf16, address: kCache.ptr + BigInt(FP8_ROPE_OFFSET), dims: [64, PAGE_BLOCK_SIZE, numPages], strides, box: [64, PAGE_BLOCK_SIZE, 1], swizzle: TensorMapSwizzle.b128 },
    rawSwizzled: { dataType: TensorMapDataType.uint8, address: kCache.ptr, dims: [FP8_BYTES_PER_TOKEN, PAGE_BLOCK_SIZE, numPages], strides, box: [128, PAGE_BLOCK_SIZE, 1], swizzle: TensorMapSwizzle.b128 },
    scales: { dataType: TensorMapDataType.uint8, address: kCache.ptr + BigInt(FP8_SCALES_OFFSET), dims: [16, PAGE_BLOCK_SIZE, numPages], strides, box: [16, PAGE_BLOCK_SIZE, 1], swizzle: TensorMapSwizzle.none },
  };
}

/** Encoded maps per cache view (one per layer in a model), so steady-state decoding encodes nothing. */
const mapCache = new Map<string, [Uint8Array, Uint8Array, Uint8Array, Uint8Array]>();
const MAP_CACHE_MAX = 256;
/** [raw, rope, rawSwizzled, scales] (fp8HopperTensorMapSpecs): the 'hopper' FP8 kernel takes the first two, the small-row one all four. */
export function fp8HopperTensorMaps(kCache: Tensor): [Uint8Array, Uint8Array, Uint8Array, Uint8Array] {
  const key = `${kCache.ptr}:${kCache.shape.join(',')}:${kCache.strides.join(',')}`;
  const hit = mapCache.get(key);
  if (hit) return hit;
  const specs = fp8HopperTensorMapSpecs(kCache);
  const maps: [Uint8Array, Uint8Array, Uint8Array, Uint8Array] = [encodeTensorMap(specs.raw), encodeTensorMap(specs.rope), encodeTensorMap(specs.rawSwizzled), encodeTensorMap(specs.scales)];
  if (mapCache.size >= MAP_CACHE_MAX) mapCache.delete(mapCache.keys().next().value!);
  mapCache.set(key, maps);
  return maps;
}

/** Dense decode over the FP8 cache, bf16 q, 64-token pages, on mla_decode_sm90_fp8_bf16 or its packed twin (layout checked). */
function cudaFp8HopperDecode(a: MlaDecodeArgs, res: DecodeResources): void {
  const { device, stream } = getCudaContext();
  const sel = kernelSelection(device);
  const choice = sel.fp8Hopper;
  if (!choice.runnable) {
    const { major, minor } = device.info.computeCapability;
    throw new UnsupportedDeviceError(FP8_HOPPER_KERNEL_NAME, `compute capability ${major}.${minor} (${device.info.name})`, choice.reason);
  }
  requireDevice(device, FP8_HOPPER_KERNEL_NAME, { minCcMajor: 9, sharedBytes: FP8_HOPPER_KERNEL.sharedBytes });
  // everything that can fail before the launches (tensor maps, modules) first: nothing allocated or launched then
  const [rawMap, ropeMap] = fp8HopperTensorMaps(a.kCache);
  const entry = a.packedOrder ? FP8_HOPPER_KERNEL.packedEntry : FP8_HOPPER_KERNEL.entry;
  const decode = loadKernel(FP8_HOPPER_KERNEL.file, [choice.binary.arch!], entry, ['bytes', 'bytes', 'bytes']);
  const [b, sQ, hQ] = a.q.shape;
  const qRows = sQ * hQ;
  const numSmParts = a.tileSchedulerMetadata.shape[0];
  // its split partials are scaled fp16 rows, as 'hopper''s 16-bit entries write them (kernels/mla_sm90_math.cuh store_row_wide)
  const combine = res.combine(b, qRows, 'bf16', portableArchs(device), hopperHalfPartials());
  const params = decodeParamsOf(a, res.scratch(splitWorkspace(b, numSmParts, qRows).bytes), paramBuf);
  decode.launch(
    { grid: [Math.ceil(qRows / GEN_BLOCK_M), numSmParts, 1], block: [FP8_HOPPER_KERNEL.threads, 1, 1], sharedMemBytes: FP8_HOPPER_KERNEL.sharedBytes, stream, pdl: res.pdl },
    params,
    rawMap,
    ropeMap,
  );
  combine.launch(params);
}

// ---------------------------------------------------------------------------------------------- the Hopper sparse FP8 kernel

/**
 * Why the Hopper sparse FP8 kernel cannot read this FP8 cache view [numPages, pageSize, 1, 656] (uint8, strides in
 * bytes), or null: its producer copies each indexed token's 512 e4m3 bytes (from the row's start) and 128 RoPE bytes
 * (from byte 528) with bulk copies, which need 16-byte aligned global addresses: the start and every row and page
 * stride that is ever stepped over (a single page's page stride and a one-token page's row stride never are). The
 * validation's layout rule (16-byte strides and start) already guarantees all of it; kept as the kernel's own
 * precondition.
 */
export function fp8SparseHopperLayoutMisfit(kCache: Fp8CacheLayout): string | null {
  const [numPages, pageSize, hKv, width] = kCache.shape;
  if (pageSize < 1 || hKv !== 1 || width !== FP8_BYTES_PER_TOKEN) return `shape [${kCache.shape.join(', ')}] (expected [numPages, pageSize, 1, 656])`;
  if (kCache.strides[3] !== 1) return `a channel stride of ${kCache.strides[3]} bytes`;
  if (pageSize > 1 && kCache.strides[1] % 16 !== 0) return `a row stride of ${kCache.strides[1]} bytes (not a multiple of 16)`;
  if (numPages > 1 && kCache.strides[0] % 16 !== 0) return `a page stride of ${kCache.strides[0]} bytes (not a multiple of 16)`;
  if (kCache.ptr % 16n !== 0n) return `its start at 0x${kCache.ptr.toString(16)} (not 16-byte aligned)`;
  return null;
}

/**
 * Sparse decode over the FP8 cache, bf16 q, any h_q, on mla_decode_sm90_fp8_sparse_bf16 (layout checked): grid
 * (s_q · ceil(h_q / 64), SM parts) — each CTA holds 64 heads of one query token, a token's heads padded to whole
 * m-blocks (an m-block never spans two tokens' index lists) — block SM90_FP8_THREADS, the portable sparse kernel's parameters; then
 * the same combine as the portable sparse path (the sink variant when attnSink is given).
 */
function cudaFp8SparseHopperDecode(a: MlaDecodeArgs, res: DecodeResources): void {
  const { device, stream } = getCudaContext();
  const choice = kernelSelection(device).fp8SparseHopper;
  if (!choice.runnable) {
    const { major, minor } = device.info.computeCapability;
    throw new UnsupportedDeviceError(FP8_HOPPER_KERNEL_NAME, `compute capability ${major}.${minor} (${device.info.name})`, choice.reason);
  }
  requireDevice(device, FP8_HOPPER_KERNEL_NAME, { minCcMajor: 9, sharedBytes: FP8_SPARSE_HOPPER_KERNEL.sharedBytes });
  // everything that can fail before the launches (modules) first: nothing allocated or launched then
  const [b, sQ, hQ] = a.q.shape;
  // a token's m-blocks in pairs: 2-CTA clusters sharing each block's gather (FLASH_MLA_EXPERIMENT_SPARSE_PAIR=0: not;
  // read per decode, only for such shapes, so that a test can compare the two entries bit for bit in one process)
  // (and its clusters all fit at once, as the plain grid's CTAs do: Kernel.clustersFit)
  const numSmParts = a.tileSchedulerMetadata.shape[0];
  const launch = { grid: [sQ * Math.ceil(hQ / GEN_BLOCK_M), numSmParts, 1] as [number, number, number], block: [FP8_SPARSE_HOPPER_KERNEL.threads, 1, 1] as [number, number, number], sharedMemBytes: FP8_SPARSE_HOPPER_KERNEL.sharedBytes, stream, pdl: res.pdl };
  const pairLaunch = { ...launch, cluster: [2, 1, 1] as [number, number, number] };
  let decode = Math.ceil(hQ / GEN_BLOCK_M) % 2 === 0 && device.clusterLaunch && process.env.FLASH_MLA_EXPERIMENT_SPARSE_PAIR !== '0'
    ? loadKernel(FP8_SPARSE_HOPPER_KERNEL.file, [choice.binary.arch!], FP8_SPARSE_HOPPER_KERNEL.pairEntry, ['bytes', 'bytes'])
    : null;
  if (decode && !decode.clustersFit(pairLaunch, device.info.smCount)) decode = null;
  const pair = decode !== null;
  decode ??= loadKernel(FP8_SPARSE_HOPPER_KERNEL.file, [choice.binary.arch!], FP8_SPARSE_HOPPER_KERNEL.entry, ['bytes', 'bytes']);
  const combine = fp8Combine(a, res, portableArchs(device));
  const qRows = sQ * hQ;
  const params = decodeParamsOf(a, res.scratch(splitWorkspace(b, numSmParts, qRows).bytes), paramBuf);
  const fp8Params = fp8ParamsOf(a);
  decode.launch(pair ? pairLaunch : launch, params, fp8Params);
  combine.launch(params, fp8Params);
}

// ---------------------------------------------------------------------------------------------- the small-row sparse kernel

/**
 * Sparse decode over the FP8 cache, bf16 q, h_q ≤ 32 (features.ts smallRowMisfit), on the small-row kernel's entry
 * mla_decode_sm90_small_fp8_sparse_bf16 ('hopper-small', the default for sparse decodes with h_q ≤ 32; level 4 of
 * docs/perf-log.md's plan): grid (s_q · ceil(h_q / 16), SM parts) — each CTA's columns are 16 heads of one query token
 * — the FP8 small-row entry's block and shared memory (17–32 heads with work enough, sparseR32: its 32-column entry,
 * grid (s_q, SM parts), its own shared memory),
 * params and MlaFp8Params (its warpgroups gather each indexed token with bulk copies: the Hopper sparse kernel's
 * layout rule, fp8SparseHopperLayoutMisfit); then the portable sparse path's combine (the sink variant when attnSink
 * is given).
 */
export function cudaFp8SparseSmallDecode(a: MlaDecodeArgs, res: DecodeResources): void {
  const { device, stream } = getCudaContext();
  const k = SMALL_ROW_HOPPER_KERNEL;
  const [b, sQ, hQ] = a.q.shape;
  const why = smallRowUnrunnable(kernelSelection(device), true, hQ, true);
  if (why !== null) {
    const { major, minor } = device.info.computeCapability;
    throw new UnsupportedDeviceError(k.name, `compute capability ${major}.${minor} (${device.info.name})`, why);
  }
  const misfit = fp8SparseHopperLayoutMisfit(a.kCache);
  if (misfit !== null) {
    throw new UnsupportedFeatureError(
      'kCache',
      `an FP8 cache with ${misfit} with decode kernel '${k.name}' (sparse decode)`,
      'cuda',
      `'${k.name}' copies each indexed token's bytes with bulk copies (16-byte aligned row and page strides and start): pass no kernel or '${FP8_DECODE_KERNEL_FAMILY}'`,
    );
  }
  const numSmParts = a.tileSchedulerMetadata.shape[0];
  // 17–32 heads: one CTA of 32 heads per query token (the 32-column entry) once the batch has work enough for it
  const r32 = hQ > SMALL_ROW_SPARSE_GROUP_HEADS && sparseR32(b, sQ, a.indices!.shape[2], numSmParts);
  const { entry, sharedBytes } = r32 ? { entry: k.fp8SparseR32Entry, sharedBytes: k.fp8SparseR32SharedBytes } : smallRowEntry(true, hQ, true);
  requireDevice(device, k.name, { minCcMajor: 9, sharedBytes });
  // everything that can fail before the launches (modules) first: nothing allocated or launched then
  const decode = loadKernel(k.file, ['sm_90a'], entry, ['bytes', 'bytes']);
  const qRows = sQ * hQ;
  // ceil(h_q / 16) CTAs per query token, 16 heads each (blockIdx.x = token · groups + group); the 32-column entry's 32
  const headGroups = Math.ceil(hQ / (r32 ? 2 * SMALL_ROW_SPARSE_GROUP_HEADS : SMALL_ROW_SPARSE_GROUP_HEADS));
  const gridX = sQ * headGroups;
  const combine = fp8Combine(a, res, portableArchs(device));
  const params = decodeParamsOf(a, res.scratch(splitWorkspace(b, numSmParts, qRows).bytes), paramBuf);
  const fp8Params = fp8ParamsOf(a);
  decode.launch({ grid: [gridX, numSmParts, 1], block: [k.sparseThreads, 1, 1], sharedMemBytes: sharedBytes, stream, pdl: res.pdl }, params, fp8Params);
  combine.launch(params, fp8Params);
}

/**
 * Does a sparse decode of 17–32 heads run on the small-row kernel's 32-column entry (kernels/mla_sm90_small_sparse_r32.cuh:
 * one CTA per query token, each block's rows gathered and its codes converted once for all 32 heads) rather than as two
 * 16-head CTAs per query token? When the batch gives the SM parts SPARSE_R32_MIN_BLOCKS_PER_PART of its 64-position
 * blocks each or more: on an H200 (perf log, session 29) the 32-column entry took h_q 32, s_q 2, topk 2048 at b 8 to
 * 128 in 0.76–0.81× the head groups' time, but at b 2 and 4 (and s_q 1 at b 8: ~1.9 blocks per part) 1.15–1.22× — there a
 * part has about one block per query token, which two CTAs on two SMs finish sooner than one CTA. The
 * FLASH_MLA_EXPERIMENT_SPARSE_R32 variable overrides the rule for A/B runs: '1' always, '0' never (read once).
 */
export function sparseR32(b: number, sQ: number, topk: number, numSmParts: number): boolean {
  if (sparseR32Override === undefined) {
    const v = typeof process !== 'undefined' ? process.env.FLASH_MLA_EXPERIMENT_SPARSE_R32 : undefined;
    sparseR32Override = v === '1' ? true : v === '0' ? false : null;
  }
  return sparseR32Override ?? b * sQ * Math.ceil(topk / 64) >= SPARSE_R32_MIN_BLOCKS_PER_PART * numSmParts;
}
let sparseR32Override: boolean | null | undefined;
export const SPARSE_R32_MIN_BLOCKS_PER_PART = 3;
