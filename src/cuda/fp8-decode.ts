// The cuda backend's decode over the FP8 KV cache (FlashMLA's DeepSeek-V3.2 layout): kernels/mla_decode_fp8.cu,
// dense (block table, causal, s_q ≥ 1) or sparse (indices, topkLength, attnSink), then the combine of split
// requests (kernels/mla_combine.cu; its sink variant when an attention sink is given). One portable kernel
// (mma.sync, sm_80+, 160 512 B of shared memory) for both: the Hopper FP8 pipeline is still to come.

import type { MlaDecodeArgs } from '../backend.js';
import { MLA_CONFIG } from './config.js';
import { getCudaContext, loadKernel, portableArchs, requirePortable } from './context.js';
import { decodeParamsOf, encodeStruct, MLA_DECODE_PARAMS_BYTES, MLA_FP8_PARAMS, splitWorkspace } from './params.js';
import { requireDevice } from './runtime.js';
import { combineGrid, type CombineShape } from './combine-shape.js';

const { GEN_BLOCK_M, GEN_THREADS, F8D_SMEM_BYTES, COMBINE_THREADS } = MLA_CONFIG;

/** What a decode path outside mla.ts (this file, layout-decode.ts) borrows from the backend. */
export interface DecodeResources {
  /** Device scratch of at least `bytes` bytes for the split partials (the backend's workspace). */
  scratch(bytes: number): bigint;
  /** Launch with programmatic dependent launch. */
  pdl: boolean;
  /** The combine's launch shape for a decode without a sink (the sink variant has W = C = 1). */
  combineShape(b: number, qRows: number): CombineShape;
}

const paramBuf = new Uint8Array(MLA_DECODE_PARAMS_BYTES);
const fp8ParamBuf = new Uint8Array(MLA_FP8_PARAMS.bytes);

/** Decode over an FP8 cache (arguments validated; cudaCheckDecode passed, the `kernel` asked for included). */
export function cudaFp8Decode(a: MlaDecodeArgs, res: DecodeResources): void {
  const { device, stream } = getCudaContext();
  requirePortable(device, 'mla_decode_fp8');
  requireDevice(device, 'mla_decode_fp8', { minCcMajor: 8, sharedBytes: F8D_SMEM_BYTES });
  const sparse = a.indices !== null;
  const sink = sparse && a.attnSink !== null;
  const dt = a.q.dtype as 'bf16' | 'fp16';
  const archs = portableArchs(device);
  // everything that can fail before the launches first: a kernel that cannot load leaves nothing allocated or launched
  const decode = loadKernel('mla_decode_fp8', archs, `mla_decode_fp8_${sparse ? 'sparse' : 'dense'}_${dt}`, ['bytes', 'bytes']);
  const [b, sQ, hQ] = a.q.shape;
  const cShape: CombineShape = sink ? { warpsPerRow: 1, chunks: 1 } : res.combineShape(b, sQ * hQ);
  const combine = sink
    ? loadKernel('mla_combine', archs, `mla_combine_sink_${dt}`, ['bytes', 'bytes'])
    : loadKernel('mla_combine', archs, `mla_combine_w${cShape.warpsPerRow}_c${cShape.chunks}_${dt}`, ['bytes']);
  const [numPages, pageSize] = a.kCache.shape;
  const numSmParts = a.tileSchedulerMetadata.shape[0];
  const qRows = sQ * hQ;
  const params = decodeParamsOf(a, res.scratch(splitWorkspace(b, numSmParts, qRows).bytes), paramBuf);
  const headBlocks = Math.ceil(hQ / GEN_BLOCK_M);
  const fp8Params = encodeStruct(
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
      head_blocks: headBlocks,
    },
    fp8ParamBuf,
  );
  // dense: m-blocks of 64 folded rows; sparse: each query token's heads in blocks of 64 (its own index list)
  const mBlocks = sparse ? sQ * headBlocks : Math.ceil(qRows / GEN_BLOCK_M);
  decode.launch(
    { grid: [mBlocks, numSmParts, 1], block: [GEN_THREADS, 1, 1], sharedMemBytes: F8D_SMEM_BYTES, stream, pdl: res.pdl },
    params,
    fp8Params,
  );
  combine.launch(
    { grid: combineGrid(b, qRows, cShape), block: [COMBINE_THREADS, 1, 1], stream, pdl: res.pdl },
    ...(sink ? [params, fp8Params] : [params]),
  );
}
