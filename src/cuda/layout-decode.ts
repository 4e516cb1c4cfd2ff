// The cuda backend's dense decode for the layouts FlashMLA added after 9edee0c (issue 10): h_kv > 1 KV heads (query
// heads grouped per KV head as in GQA) and d_qk 512 (V = the whole K row), bf16/fp16 cache [numBlocks, 64, h_kv, d_qk].
// One portable kernel (kernels/mla_decode_generic_layout.cu: the 'generic' kernel's body, mma.sync, sm_80+) with
// FlashMLA's GQA folding — the s_q · h_q / h_kv rows of one KV head form its m-blocks, grid z = KV head — then the
// unchanged combine over all s_q · h_q rows. Ran on an H200 on 2026-12-01 (test/dense-layouts-gpu.test.ts and
// test/fp8-sparse-gpu.test.ts); on by default since (src/cuda/features.ts).

import type { MlaDecodeArgs } from '../backend.js';
import { HEAD_DIM_K } from '../mla/constants.js';
import { MLA_CONFIG } from './config.js';
import { getCudaContext, loadKernel, portableArchs, requirePortable } from './context.js';
import type { DecodeResources } from './fp8-decode.js';
import { decodeParamsOf, encodeStruct, MLA_DECODE_PARAMS_BYTES, MLA_LAYOUT_PARAMS, splitWorkspace } from './params.js';
import { requireDevice } from './runtime.js';

const { GEN_BLOCK_M, GEN_THREADS, GEN_SMEM_BYTES, GEN_D512_SMEM_BYTES } = MLA_CONFIG;

const KERNEL_FILE = 'mla_decode_generic_layout';
const paramBuf = new Uint8Array(MLA_DECODE_PARAMS_BYTES);
const layoutParamBuf = new Uint8Array(MLA_LAYOUT_PARAMS.bytes);

/** Dynamic shared memory of the layout kernel for q / K rows of `headDim` channels (576 or 512). */
export function layoutDecodeSharedBytes(headDim: number): number {
  return headDim === HEAD_DIM_K ? GEN_SMEM_BYTES : GEN_D512_SMEM_BYTES;
}

/** Launch shape and second parameter of the layout kernel for q [b, s_q, h_q, d], h_kv KV heads, numSmParts parts. */
export function layoutDecodeLaunch(sQ: number, hQ: number, hKv: number, numSmParts: number): { grid: [number, number, number]; headsPerKv: number; rowsPerKv: number } {
  if (hQ % hKv !== 0) throw new RangeError(`layoutDecodeLaunch: expected h_q a multiple of h_kv = ${hKv}, got h_q = ${hQ}`);
  const headsPerKv = hQ / hKv;
  const rowsPerKv = sQ * headsPerKv;
  return { grid: [Math.ceil(rowsPerKv / GEN_BLOCK_M), numSmParts, hKv], headsPerKv, rowsPerKv };
}

/** Dense decode of a 16-bit cache with h_kv > 1 or d_qk 512 (arguments validated; cudaCheckDecode passed, `kernel` included). */
export function cudaLayoutDecode(a: MlaDecodeArgs, res: DecodeResources): void {
  const { device, stream } = getCudaContext();
  const headDim = a.q.shape[3];
  const sharedBytes = layoutDecodeSharedBytes(headDim);
  requirePortable(device, KERNEL_FILE);
  requireDevice(device, KERNEL_FILE, { minCcMajor: 8, sharedBytes });
  const dt = a.q.dtype as 'bf16' | 'fp16';
  const archs = portableArchs(device);
  // everything that can fail before the launches first: a kernel that cannot load leaves nothing allocated or launched
  const decode = loadKernel(KERNEL_FILE, archs, `${KERNEL_FILE}_d${headDim}_${dt}`, ['bytes', 'bytes']);
  const [b, sQ, hQ] = a.q.shape;
  const qRows = sQ * hQ; // the combine and the split workspace cover every head's rows
  const hKv = a.kCache.shape[2];
  const numSmParts = a.tileSchedulerMetadata.shape[0];
  const combine = res.combine(b, qRows, dt, archs);
  const launch = layoutDecodeLaunch(sQ, hQ, hKv, numSmParts);
  const params = decodeParamsOf(a, res.scratch(splitWorkspace(b, numSmParts, qRows).bytes), paramBuf);
  const layoutParams = encodeStruct(
    MLA_LAYOUT_PARAMS,
    { k_head_stride: a.kCache.strides[2], h_kv: hKv, heads_per_kv: launch.headsPerKv, rows_per_kv: launch.rowsPerKv },
    layoutParamBuf,
  );
  decode.launch({ grid: launch.grid, block: [GEN_THREADS, 1, 1], sharedMemBytes: sharedBytes, stream, pdl: res.pdl }, params, layoutParams);
  combine.launch(params);
}
