// What the cuda backend's kernels run today, as pure functions of shapes (no device needed, so they are
// unit-tested on machines without a GPU). Everything else is refused with UnsupportedFeatureError before
// anything is allocated, read back or launched — never a silent fallback.
//
// Today: dense decode, bf16/fp16 cache [numBlocks, 64, h_kv, d_qk] with h_kv ≥ 1 and d_qk ∈ {576, 512}, any h_q
// that is a multiple of h_kv (h_kv = 1, d_qk = 576 on every decode kernel; h_kv > 1 or d_qk = 512 on the portable
// kernel kernels/mla_decode_generic_layout.cu, first run on an H200 on 2026-12-01); the FP8 cache (quantizing
// writes, dense decode) and sparse decode over it, any h_q and topk, with the portable FP8 kernel
// (kernels/mla_decode_fp8.cu); dense decode over it with bf16 q and 64-token pages also with the Hopper kernel's
// FP8 variant (mla_decode_sm90_fp8_bf16 in kernels/mla_decode_sm90.cu), and sparse decode with bf16 q (any h_q)
// also with its sparse variant (mla_decode_sm90_fp8_sparse_bf16, same file): kernel 'hopper', the
// default for those decodes where it runs. The cpu backend runs all of them.
//
// FLASH_MLA_PREVIEW is not read any more: its one preview ('layouts') is on by default, so a value left set from
// earlier changes nothing.

import type { DecodeFeatures, KvFormat } from '../backend.js';
import { UnsupportedFeatureError } from '../errors.js';
import { HEAD_DIM_K, PAGE_BLOCK_SIZE } from '../mla/constants.js';
import { MLA_CONFIG } from './config.js';

/** Decode features the cuda kernels implement; flip one when its kernel lands (the GPU tests follow this). */
export const CUDA_FEATURES = Object.freeze({
  fp8KvCache: true,
  sparse: true,
  /** h_kv > 1 (GQA grouping): kernels/mla_decode_generic_layout.cu. */
  gqa: true,
  /** d_qk 512: kernels/mla_decode_generic_layout.cu. */
  headDim512: true,
});

const CPU_RUNS_IT = "the cpu backend runs it: move the tensors with .to('cpu')";

/**
 * The decode kernel family of the portable FP8 kernel (kernels/mla_decode_fp8.cu, mma.sync like 'generic'): `kernel:
 * 'generic'` selects it for any FP8 decode, and no kernel does where the Hopper FP8 kernel does not run.
 */
export const FP8_DECODE_KERNEL_FAMILY = 'generic';

/**
 * The name of the Hopper kernel's FP8 variants (mla_decode_sm90_fp8_bf16 for dense decode and
 * mla_decode_sm90_fp8_sparse_bf16 for sparse decode, both in kernels/mla_decode_sm90.cu): `kernel: 'hopper'` selects
 * them for an FP8 decode they can run (fp8HopperMisfit), and they are the default for those on a device that runs
 * them (kernels.ts selectKernels: fp8Hopper, fp8SparseHopper).
 */
export const FP8_HOPPER_KERNEL_NAME = 'hopper';

/**
 * Why the Hopper FP8 kernels cannot run this decode, from its shapes (null: one can, on a device that runs it): the
 * dense one reads dense decodes (a block table, no indices) of bf16 q over 64-token pages; the sparse one sparse
 * decodes (indices) of bf16 q, any h_q (each CTA 64 heads of one query token, padded), any page size and topk. h_kv 1
 * and d_qk 576 are the FP8 cache's layout.
 */
export function fp8HopperMisfit(f: Pick<DecodeFeatures, 'fp8' | 'sparse' | 'dtype' | 'pageSize' | 'hQ' | 'hKv' | 'headDim'>): string | null {
  if (!f.fp8) return 'not an FP8 cache';
  if (f.hKv !== 1 || f.headDim !== HEAD_DIM_K) return `h_kv = ${f.hKv}, head dim ${f.headDim}`;
  if (f.dtype !== 'bf16') return `${f.dtype} q`;
  if (f.sparse) return null;
  if (f.pageSize !== PAGE_BLOCK_SIZE) return `pages of ${f.pageSize} tokens`;
  return null;
}

/**
 * The decode kernel family of the dense layouts h_kv > 1 and d_qk 512 (kernels/mla_decode_generic_layout.cu, the
 * generic kernel's body): `kernel: 'generic'`, or no kernel, selects it for such a decode.
 */
export const LAYOUT_DECODE_KERNEL_FAMILY = 'generic';

/**
 * The Hopper small-row kernel (kernels.ts SMALL_ROW_HOPPER_KERNEL): `kernel: 'hopper-small'`, and the default for the
 * decodes of at most smallRowDefaultMaxRows() rows it takes (the backend's decodeKernels()).
 */
export const SMALL_ROW_KERNEL_NAME = 'hopper-small';
/**
 * Rows (h_q · s_q) up to which the small-row kernel is the default for dense decodes, per cache. Over the 16-bit cache:
 * its 16-row entry only. Its 32-row entry was faster than 'hopper' when it came (session 8: 1.00–1.03×), but the
 * memory-bound entry of 'hopper' has since gained the item stagger, k0a and k1am, and at 17–32 rows (its m-block half
 * padding) it now takes 1.8–4.7 % less time on every such sweep row and S7 (H200, session 37 `s37a`, two rounds: sweep#2 0.1599 →
 * 0.1544 ms, #4 0.1602 → 0.1542, #18 0.2945 → 0.2872, S7 0.0635 → 0.0605); the 32-row entry stays offered
 * (`kernel: 'hopper-small'`). Over the FP8 cache: all it takes (16 rows, and 32 on the gather entry; session 30).
 * Sparse decodes with h_q ≤ 32 heads default to it too (1.41–1.67× 'hopper' on the sparse grid's h_q 16 rows, session 8;
 * 1.24–1.60× on its h_q 32 rows as two 16-head CTAs per token, session 28).
 */
export function smallRowDefaultMaxRows(fp8: boolean): number {
  return fp8 ? MLA_CONFIG.SM90S_R32_ROWS : MLA_CONFIG.SM90S_ROWS;
}
/** Rows (h_q · s_q) per request the small-row kernel takes over the 16-bit cache (its 32-row entry: mla_config.h SM90S_R32_ROWS). */
export const SMALL_ROW_MAX_ROWS = MLA_CONFIG.SM90S_R32_ROWS;
/** ... and over the FP8 cache (its FP8 entries: 16 rows, and 32 with the warpgroups splitting the channels for P·V: mla_config.h SM90S_R32_ROWS). */
export const SMALL_ROW_FP8_MAX_ROWS = MLA_CONFIG.SM90S_R32_ROWS;
/** Heads of one query token per CTA of its sparse entry (mla_config.h SM90S_ROWS): ceil(h_q / 16) CTAs per token. */
export const SMALL_ROW_SPARSE_GROUP_HEADS = MLA_CONFIG.SM90S_ROWS;
/**
 * Heads (h_q) its sparse entry takes: two 16-head groups per query token at most. At h_q 32 on an H200 it takes
 * 20–37 % less time than 'hopper' (one 64-row m-block per token, half of it padding) on the sparse grid, although each
 * group gathers the token's rows itself (docs/perf-log.md, session 28). Above 32 heads the sparse decode stays on
 * 'hopper' (not measured with more groups; its 64-row m-blocks are full there, and each group would repeat the
 * gather and the code conversions).
 */
export const SMALL_ROW_SPARSE_MAX_HEADS = 2 * SMALL_ROW_SPARSE_GROUP_HEADS;

/**
 * Why the small-row kernel cannot run this decode, from its shapes (null: it can, on a device that runs it; the
 * s_q part of h_q · s_q is checked at the launch too, src/cuda/mla.ts, and an FP8 cache view's strides there,
 * fp8-decode.ts fp8HopperLayoutMisfit): dense decode of bf16 q, h_kv 1, d_qk 576, 64-token pages, over the 16-bit
 * cache with h_q · s_q ≤ 32 (entries mla_decode_sm90_small_bf16 for ≤ 16 rows, mla_decode_sm90_small_r32_bf16 for
 * 17–32) or over the FP8 cache with h_q · s_q ≤ 32 (entries mla_decode_sm90_small_fp8_bf16 for ≤ 16 rows,
 * mla_decode_sm90_small_fp8_g32_bf16 for 17–32).
 */
export function smallRowMisfit(f: Pick<DecodeFeatures, 'fp8' | 'sparse' | 'dtype' | 'pageSize' | 'hQ' | 'hKv' | 'headDim' | 'sQ'>): string | null {
  if (f.sparse) {
    // sparse decode over the FP8 cache (entry mla_decode_sm90_small_fp8_sparse_bf16): 16 heads of one query token per
    // CTA (ceil(h_q / 16) ≤ 2 CTAs per token), any s_q, page size and topk
    if (!f.fp8) return 'sparse decode over a 16-bit cache';
    if (f.hKv !== 1 || f.headDim !== HEAD_DIM_K) return `h_kv = ${f.hKv}, head dim ${f.headDim}`;
    if (f.dtype !== 'bf16') return `${f.dtype} q`;
    if (f.hQ > SMALL_ROW_SPARSE_MAX_HEADS) return `sparse decode with h_q = ${f.hQ} (more than ${SMALL_ROW_SPARSE_MAX_HEADS} heads)`;
    return null;
  }
  if (f.hKv !== 1 || f.headDim !== HEAD_DIM_K) return `h_kv = ${f.hKv}, head dim ${f.headDim}`;
  if (f.dtype !== 'bf16') return `${f.dtype} q`;
  if (f.pageSize !== PAGE_BLOCK_SIZE) return `pages of ${f.pageSize} tokens`;
  const max = smallRowMaxRows(f.fp8);
  const over = f.fp8 ? ` over the FP8 KV cache (at most ${max} rows)` : ` (at most ${max} rows)`;
  if (f.hQ > max) return `h_q = ${f.hQ} (more than ${max} rows)${f.fp8 ? ' over the FP8 KV cache' : ''}`;
  if (f.sQ !== undefined && f.hQ * f.sQ > max) return `h_q · s_q = ${f.hQ} · ${f.sQ} = ${f.hQ * f.sQ} rows${over}`;
  return null;
}

/** The most rows (h_q · s_q) per request the small-row kernel takes over the FP8 cache (`fp8`) or the 16-bit one. */
export function smallRowMaxRows(fp8: boolean): number {
  return fp8 ? SMALL_ROW_FP8_MAX_ROWS : SMALL_ROW_MAX_ROWS;
}

export type CudaFeatures = { readonly [K in keyof typeof CUDA_FEATURES]: boolean };

/** Throws UnsupportedFeatureError, naming the argument, for a decode the cuda kernels cannot run. */
export function cudaCheckDecode(f: DecodeFeatures): void {
  checkDecodeAgainst(CUDA_FEATURES, f);
}

/** cudaCheckDecode against a given set of features (pure: the tests check the refusals of a feature switched off). */
export function checkDecodeAgainst(features: CudaFeatures, f: DecodeFeatures): void {
  if (f.kernel === SMALL_ROW_KERNEL_NAME) {
    const misfit = smallRowMisfit(f);
    if (misfit !== null) {
      throw new UnsupportedFeatureError(
        'kernel',
        `${misfit} with decode kernel '${f.kernel}'`,
        'cuda',
        `'${SMALL_ROW_KERNEL_NAME}' runs dense decode of bf16 q (h_kv 1, d_qk 576, 64-token pages) over the 16-bit cache with h_q · s_q ≤ ${SMALL_ROW_MAX_ROWS} and over the FP8 cache with h_q · s_q ≤ ${SMALL_ROW_FP8_MAX_ROWS}, and sparse decode of bf16 q over the FP8 cache with h_q ≤ ${SMALL_ROW_SPARSE_MAX_HEADS}: pass no kernel for the others`,
      );
    }
  }
  if (f.sparse && !features.sparse) throw new UnsupportedFeatureError('indices', 'sparse decode', 'cuda', CPU_RUNS_IT);
  if (f.fp8 && !features.fp8KvCache) throw new UnsupportedFeatureError('kCache', 'FP8 KV cache', 'cuda', CPU_RUNS_IT);
  if (f.fp8 && f.kernel !== undefined && f.kernel !== FP8_DECODE_KERNEL_FAMILY && f.kernel !== SMALL_ROW_KERNEL_NAME) {
    // the portable FP8 kernel runs under its own name only (another name would mislabel timings); the Hopper FP8
    // kernel under 'hopper' where its shapes fit (whether the device runs it: the backend's decodeKernels)
    const misfit = fp8HopperMisfit(f);
    if (f.kernel === FP8_HOPPER_KERNEL_NAME && misfit !== null) {
      throw new UnsupportedFeatureError(
        'kernel',
        `${f.sparse ? 'sparse decode over the FP8 KV cache' : 'the FP8 KV cache'} with ${misfit} with decode kernel '${f.kernel}'`,
        'cuda',
        `the Hopper FP8 kernels run dense decode with bf16 q over 64-token pages and sparse decode with bf16 q; the rest of the FP8 cache and sparse decode run on the portable '${FP8_DECODE_KERNEL_FAMILY}' kernel (kernels/mla_decode_fp8.cu): pass no kernel or '${FP8_DECODE_KERNEL_FAMILY}' (bench: --kernel ${FP8_DECODE_KERNEL_FAMILY})`,
      );
    }
    if (f.kernel !== FP8_HOPPER_KERNEL_NAME) {
      throw new UnsupportedFeatureError(
        'kernel',
        `the FP8 KV cache with decode kernel '${f.kernel}'`,
        'cuda',
        `the FP8 cache and sparse decode run on the portable '${FP8_DECODE_KERNEL_FAMILY}' kernel (kernels/mla_decode_fp8.cu), dense decode with bf16 q over 64-token pages and sparse decode with bf16 q also on '${FP8_HOPPER_KERNEL_NAME}' (Hopper GPUs): pass no kernel, '${FP8_DECODE_KERNEL_FAMILY}' or '${FP8_HOPPER_KERNEL_NAME}' (bench: --kernel ${FP8_DECODE_KERNEL_FAMILY})`,
      );
    }
  }
  if (f.hKv !== 1 && !features.gqa) {
    throw new UnsupportedFeatureError('kCache', `h_kv = ${f.hKv} (dim 2)`, 'cuda', CPU_RUNS_IT);
  }
  if (f.headDim !== HEAD_DIM_K && !features.headDim512) {
    throw new UnsupportedFeatureError('q', `head dim ${f.headDim}`, 'cuda', CPU_RUNS_IT);
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
