// What the cuda backend's kernels run today, as pure functions of shapes (no device needed, so they are
// unit-tested on machines without a GPU). Everything else is refused with UnsupportedFeatureError before
// anything is allocated, read back or launched — never a silent fallback.
//
// Today: dense decode, bf16/fp16 cache [numBlocks, 64, 1, 576], h_kv = 1, d_qk = 576, any h_q; the FP8 cache
// (quantizing writes, dense decode) and sparse decode over it, any h_q and topk, with the portable FP8 kernel
// (kernels/mla_decode_fp8.cu; the Hopper FP8 pipeline is still to come). Preview (issue 10), off unless the
// environment says FLASH_MLA_PREVIEW=layouts: h_kv > 1 and d_qk = 512 on the portable kernel
// kernels/mla_decode_generic_layout.cu — built, not yet run on a GPU. The cpu backend runs all of them.

import type { DecodeFeatures, KvFormat } from '../backend.js';
import { UnsupportedFeatureError } from '../errors.js';
import { HEAD_DIM_K } from '../mla/constants.js';

/** Previews: cuda paths that are built but have not run on a GPU yet; FLASH_MLA_PREVIEW=name[,name…] switches them on. */
export const PREVIEWS = ['layouts'] as const;
export type Preview = (typeof PREVIEWS)[number];

/** The previews a FLASH_MLA_PREVIEW value names, and what is wrong with it (null: nothing). Pure. */
export function parsePreviews(value: string | undefined): { on: ReadonlySet<Preview>; problem: string | null } {
  const names = (value ?? '').split(',').map((x) => x.trim()).filter(Boolean);
  const unknown = names.filter((n) => !(PREVIEWS as readonly string[]).includes(n));
  const on = new Set(names.filter((n): n is Preview => (PREVIEWS as readonly string[]).includes(n)));
  const problem = unknown.length ? `FLASH_MLA_PREVIEW: expected preview names from ${PREVIEWS.join(', ')} separated by commas, got '${value}' (${unknown.map((u) => `'${u}'`).join(', ')} unknown)` : null;
  return { on, problem };
}

/** Read once, when this module loads: a preview is on for the whole process or not at all. */
const PREVIEW = parsePreviews(process.env.FLASH_MLA_PREVIEW);

/** Decode features the cuda kernels implement; flip one when its kernel lands (the GPU tests follow this). */
export const CUDA_FEATURES = Object.freeze({
  fp8KvCache: true,
  sparse: true,
  /** h_kv > 1 (GQA grouping): kernels/mla_decode_generic_layout.cu, not yet run on a GPU — FLASH_MLA_PREVIEW=layouts. */
  gqa: PREVIEW.on.has('layouts'),
  /** d_qk 512: kernels/mla_decode_generic_layout.cu, not yet run on a GPU — FLASH_MLA_PREVIEW=layouts. */
  headDim512: PREVIEW.on.has('layouts'),
});

const CPU_RUNS_IT = "the cpu backend runs it: move the tensors with .to('cpu')";
const LAYOUTS_PREVIEW = 'its cuda kernel is built but has not run on a GPU yet: FLASH_MLA_PREVIEW=layouts switches it on';

/**
 * The decode kernel family of the FP8 kernel (kernels/mla_decode_fp8.cu, mma.sync like 'generic'): `kernel:
 * 'generic'`, or no kernel, selects it for an FP8 decode.
 */
export const FP8_DECODE_KERNEL_FAMILY = 'generic';

/**
 * The decode kernel family of the dense layouts h_kv > 1 and d_qk 512 (kernels/mla_decode_generic_layout.cu, the
 * generic kernel's body): `kernel: 'generic'`, or no kernel, selects it for such a decode.
 */
export const LAYOUT_DECODE_KERNEL_FAMILY = 'generic';

export type CudaFeatures = { readonly [K in keyof typeof CUDA_FEATURES]: boolean };

/**
 * Throws UnsupportedFeatureError, naming the argument, for a decode the cuda kernels cannot run (RangeError when
 * FLASH_MLA_PREVIEW names no preview).
 */
export function cudaCheckDecode(f: DecodeFeatures): void {
  if (PREVIEW.problem) throw new RangeError(PREVIEW.problem);
  checkDecodeAgainst(CUDA_FEATURES, f);
}

/** cudaCheckDecode against a given set of features (pure: the tests check both states of a preview in one process). */
export function checkDecodeAgainst(features: CudaFeatures, f: DecodeFeatures): void {
  if (f.sparse && !features.sparse) throw new UnsupportedFeatureError('indices', 'sparse decode', 'cuda', CPU_RUNS_IT);
  if (f.fp8 && !features.fp8KvCache) throw new UnsupportedFeatureError('kCache', 'FP8 KV cache', 'cuda', CPU_RUNS_IT);
  if (f.fp8 && f.kernel !== undefined && f.kernel !== FP8_DECODE_KERNEL_FAMILY) {
    // no Hopper (or generic-small) FP8 kernel yet: running the portable one under another name would mislabel timings
    throw new UnsupportedFeatureError(
      'kernel',
      `the FP8 KV cache with decode kernel '${f.kernel}'`,
      'cuda',
      `the FP8 cache and sparse decode run on the portable '${FP8_DECODE_KERNEL_FAMILY}' kernel only so far (kernels/mla_decode_fp8.cu): pass no kernel or '${FP8_DECODE_KERNEL_FAMILY}' (bench: --kernel ${FP8_DECODE_KERNEL_FAMILY})`,
    );
  }
  if (f.hKv !== 1 && !features.gqa) {
    throw new UnsupportedFeatureError('kCache', `h_kv = ${f.hKv} (dim 2)`, 'cuda', `${LAYOUTS_PREVIEW}; ${CPU_RUNS_IT}`);
  }
  if (f.headDim !== HEAD_DIM_K && !features.headDim512) {
    throw new UnsupportedFeatureError('q', `head dim ${f.headDim}`, 'cuda', `${LAYOUTS_PREVIEW}; ${CPU_RUNS_IT}`);
  }
  if (isLayoutDecode(f) && f.kernel !== undefined && f.kernel !== LAYOUT_DECODE_KERNEL_FAMILY) {
    // no Hopper (or generic-small) kernel for these layouts: running the portable one under another name would mislabel timings
    throw new UnsupportedFeatureError(
      'kernel',
      `h_kv = ${f.hKv}, head dim ${f.headDim} with decode kernel '${f.kernel}'`,
      'cuda',
      `h_kv > 1 and d_qk 512 run on the portable '${LAYOUT_DECODE_KERNEL_FAMILY}' kernel only so far (kernels/mla_decode_generic_layout.cu): pass no kernel or '${LAYOUT_DECODE_KERNEL_FAMILY}'`,
    );
  }
}

/** A dense decode over a 16-bit cache beyond FlashMLA 9edee0c's layout: h_kv > 1 or d_qk 512 (mla_decode_generic_layout). */
export function isLayoutDecode(f: Pick<DecodeFeatures, 'fp8' | 'sparse' | 'hKv' | 'headDim'>): boolean {
  return !f.fp8 && !f.sparse && (f.hKv !== 1 || f.headDim !== HEAD_DIM_K);
}

/** Throws UnsupportedFeatureError for a KV cache format the cuda backend cannot hold yet. */
export function cudaCheckKvFormat(format: KvFormat, argument: string): void {
  if (format === 'fp8' && !CUDA_FEATURES.fp8KvCache) throw new UnsupportedFeatureError(argument, 'FP8 KV cache', 'cuda', CPU_RUNS_IT);
}
