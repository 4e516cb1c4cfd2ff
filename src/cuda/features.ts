// What the cuda backend's kernels run today, as pure functions of shapes (no device needed, so they are
// unit-tested on machines without a GPU). Everything else is refused with UnsupportedFeatureError before
// anything is allocated, read back or launched — never a silent fallback.
//
// Today: dense decode, bf16/fp16 cache [numBlocks, 64, 1, 576], h_kv = 1, d_qk = 576, any h_q; the FP8 cache
// (quantizing writes, dense decode) and sparse decode over it, any h_q and topk, with the portable FP8 kernel
// (kernels/mla_decode_fp8.cu; the Hopper FP8 pipeline is still to come). Not yet (issue 10): h_kv > 1 and
// d_qk = 512. The cpu backend runs all of them.

import type { DecodeFeatures, KvFormat } from '../backend.js';
import { UnsupportedFeatureError } from '../errors.js';
import { HEAD_DIM_K } from '../mla/constants.js';

/** Decode features the cuda kernels implement; flip one when its kernel lands (the GPU tests follow this). */
export const CUDA_FEATURES = Object.freeze({
  fp8KvCache: true,
  sparse: true,
  gqa: false,
  headDim512: false,
});

const CPU_RUNS_IT = "the cpu backend runs it: move the tensors with .to('cpu')";

/**
 * The decode kernel family of the FP8 kernel (kernels/mla_decode_fp8.cu, mma.sync like 'generic'): `kernel:
 * 'generic'`, or no kernel, selects it for an FP8 decode.
 */
export const FP8_DECODE_KERNEL_FAMILY = 'generic';

/** Throws UnsupportedFeatureError, naming the argument, for a decode the cuda kernels cannot run. */
export function cudaCheckDecode(f: DecodeFeatures): void {
  if (f.sparse && !CUDA_FEATURES.sparse) throw new UnsupportedFeatureError('indices', 'sparse decode', 'cuda', CPU_RUNS_IT);
  if (f.fp8 && !CUDA_FEATURES.fp8KvCache) throw new UnsupportedFeatureError('kCache', 'FP8 KV cache', 'cuda', CPU_RUNS_IT);
  if (f.fp8 && f.kernel !== undefined && f.kernel !== FP8_DECODE_KERNEL_FAMILY) {
    // no Hopper (or generic-small) FP8 kernel yet: running the portable one under another name would mislabel timings
    throw new UnsupportedFeatureError(
      'kernel',
      `the FP8 KV cache with decode kernel '${f.kernel}'`,
      'cuda',
      `the FP8 cache and sparse decode run on the portable '${FP8_DECODE_KERNEL_FAMILY}' kernel only so far (kernels/mla_decode_fp8.cu): pass no kernel or '${FP8_DECODE_KERNEL_FAMILY}' (bench: --kernel ${FP8_DECODE_KERNEL_FAMILY})`,
    );
  }
  if (f.hKv !== 1 && !CUDA_FEATURES.gqa) {
    throw new UnsupportedFeatureError('kCache', `h_kv = ${f.hKv} (dim 2)`, 'cuda', `the cuda kernels take h_kv = 1; ${CPU_RUNS_IT}`);
  }
  if (f.headDim !== HEAD_DIM_K && !CUDA_FEATURES.headDim512) {
    throw new UnsupportedFeatureError('q', `head dim ${f.headDim}`, 'cuda', `the cuda kernels take ${HEAD_DIM_K}; ${CPU_RUNS_IT}`);
  }
}

/** Throws UnsupportedFeatureError for a KV cache format the cuda backend cannot hold yet. */
export function cudaCheckKvFormat(format: KvFormat, argument: string): void {
  if (format === 'fp8' && !CUDA_FEATURES.fp8KvCache) throw new UnsupportedFeatureError(argument, 'FP8 KV cache', 'cuda', CPU_RUNS_IT);
}
