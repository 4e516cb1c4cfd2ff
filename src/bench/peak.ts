// The tensor-core ceiling measured on this GPU: kernels/tc_peak.cu (back-to-back bf16 wgmma from shared
// memory on every SM, random operands). Hopper only; elsewhere the caller falls back to other sources.

import { getCudaContext, loadKernel } from '../cuda/context.js';
import { CudaEvent, DeviceBuffer } from '../cuda/runtime.js';

const WARPGROUPS = 2;
const BATCH = 16;
const FLOP_PER_WGMMA = 64 * 128 * 16 * 2;

/** Median dense bf16 TFLOPS of the wgmma probe, or null when the GPU is not sm_90. */
export function measureTensorCorePeakCuda(reps = 7): number | null {
  const { device, stream } = getCudaContext();
  if (!device.isHopper) return null;
  const k = loadKernel('tc_peak', ['sm_90a'], 'tc_peak_bf16', ['i32', 'u32', 'ptr']);
  const grid = device.info.smCount;
  const sink = DeviceBuffer.alloc(grid * WARPGROUPS * 128 * 4);
  const start = CudaEvent.create();
  const end = CudaEvent.create();
  try {
    const launch = (iters: number) => k.launch({ grid: [grid, 1, 1], block: [WARPGROUPS * 128, 1, 1], stream }, iters, 0x1234567 + iters, sink.ptr);
    launch(64); // warm-up (module load, clocks up)
    const iters = 4096; // 4.5 TFLOP on 132 SMs: ~6 ms at ~700 TFLOPS, long against event resolution
    const rates: number[] = [];
    for (let r = 0; r < reps; r++) {
      start.record(stream);
      launch(iters);
      end.record(stream);
      end.synchronize();
      const ms = end.elapsedSince(start);
      rates.push((grid * WARPGROUPS * iters * BATCH * FLOP_PER_WGMMA) / (ms * 1e-3) / 1e12);
    }
    rates.sort((a, b) => a - b);
    return rates[Math.floor(rates.length / 2)];
  } finally {
    start.dispose();
    end.dispose();
    sink.dispose();
  }
}
