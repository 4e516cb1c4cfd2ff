// Fake devices for the kernel-selection tests: name, compute capability and the opt-in shared memory per block
// that the CUDA programming guide lists for that compute capability.

import type { DeviceTraits } from '../../src/cuda/kernels.js';

const dev = (name: string, cc: string, smem: number): DeviceTraits => {
  const [major, minor] = cc.split('.').map(Number);
  return { name, computeCapability: { major, minor }, maxSharedMemoryPerBlockOptin: smem };
};

export const FAKE_DEVICES = {
  A100: dev('NVIDIA A100-SXM4-80GB', '8.0', 166912),
  A10: dev('NVIDIA A10', '8.6', 101376),
  Orin: dev('Orin', '8.7', 166912),
  L4: dev('NVIDIA L4', '8.9', 101376),
  H100: dev('NVIDIA H100 80GB HBM3', '9.0', 232448),
  H200: dev('NVIDIA H200', '9.0', 232448),
  B200: dev('NVIDIA B200', '10.0', 232448),
  RTX5090: dev('NVIDIA GeForce RTX 5090', '12.0', 101376),
  T4: dev('Tesla T4', '7.5', 65536),
} satisfies Record<string, DeviceTraits>;

/** The device each row of the README's compatibility table stands for. */
export const COMPAT_TABLE_DEVICES: Record<string, DeviceTraits> = {
  sm_80: FAKE_DEVICES.A100,
  sm_86: FAKE_DEVICES.A10,
  sm_87: FAKE_DEVICES.Orin,
  sm_89: FAKE_DEVICES.L4,
  sm_90: FAKE_DEVICES.H100,
  sm_100: FAKE_DEVICES.B200,
  sm_120: FAKE_DEVICES.RTX5090,
};

/** Entry points the library launches, per kernel file (src/cuda/mla.ts, fp8-decode.ts, layout-decode.ts, append.ts, measure.ts). */
export const KERNEL_ENTRIES: Record<string, string[]> = {
  mla_metadata: ['mla_metadata'],
  mla_combine: [
    ...['', 'p16_'].flatMap((p) => ['1', '2', '4', '8'].flatMap((w) => ['1', '2', '4'].flatMap((c) => [`mla_combine_${p}w${w}_c${c}_bf16`, `mla_combine_${p}w${w}_c${c}_fp16`]))),
    'mla_combine_sink_bf16',
    'mla_combine_sink_fp16',
  ],
  append_kv: ['append_kv_bf16', 'append_kv_fp16'],
  append_kv_fp8: ['append_kv_fp8_bf16', 'append_kv_fp8_fp16'],
  mla_decode_fp8: ['mla_decode_fp8_dense_bf16', 'mla_decode_fp8_dense_fp16', 'mla_decode_fp8_sparse_bf16', 'mla_decode_fp8_sparse_fp16'],
  mla_decode_generic: ['mla_decode_generic_bf16', 'mla_decode_generic_fp16'],
  mla_decode_generic_layout: ['576', '512'].flatMap((d) => [`mla_decode_generic_layout_d${d}_bf16`, `mla_decode_generic_layout_d${d}_fp16`]),
  mla_decode_generic_small: ['mla_decode_generic_small_bf16', 'mla_decode_generic_small_fp16'],
  mla_decode_sm90: ['mla_decode_sm90_bf16', 'mla_decode_sm90_fp16', 'mla_decode_sm90_membound_bf16', 'mla_decode_sm90_membound_fp16', 'mla_decode_sm90_packed_bf16', 'mla_decode_sm90_packed_fp16', 'mla_decode_sm90_packed_membound_bf16', 'mla_decode_sm90_packed_membound_fp16', 'mla_decode_sm90_fp8_bf16', 'mla_decode_sm90_fp8_packed_bf16', 'mla_decode_sm90_fp8_sparse_bf16', 'mla_decode_sm90_fp8_sparse_pair_bf16'],
  mla_decode_sm90_small: ['mla_decode_sm90_small_bf16', 'mla_decode_sm90_small_r32_bf16', 'mla_decode_sm90_small_fp8_bf16', 'mla_decode_sm90_small_fp8_sparse_bf16', 'mla_decode_sm90_small_fp8_sparse_r32_bf16', 'mla_decode_sm90_small_fp8_g32_bf16'],
  tc_peak: ['tc_peak_bf16'],
  code_evict: ['code_evict'],
};

export { dev as fakeDevice };
