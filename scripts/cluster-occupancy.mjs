#!/usr/bin/env node
// How many thread-block clusters of the 'hopper' cluster entries fit on this GPU at once (cuOccupancyMaxActiveClusters),
// for clusters of 2, 3 and 4 CTAs at the decode's block and shared memory, against what a grid of one CTA per SM needs
// (SMs / cluster size): the host runs an entry only where its clusters all fit (Kernel.clustersFit, src/cuda/runtime.ts).
// Usage (after `npm run build`, on a GPU): node scripts/cluster-occupancy.mjs
import { getCudaContext, loadKernel } from '../dist/src/cuda/context.js';
import { MLA_CONFIG } from '../dist/src/cuda/config.js';

const { device, stream } = getCudaContext();
const sms = device.info.smCount;
console.log(`${device.info.name}: ${sms} SMs, cluster launch ${device.clusterLaunch ? 'yes' : 'no'}`);
for (const [size, entry] of [[2, 'mla_decode_sm90_mc_bf16'], [3, 'mla_decode_sm90_mc3_bf16'], [4, 'mla_decode_sm90_mc4_bf16']]) {
  const k = loadKernel('mla_decode_sm90', ['sm_90a'], entry, ['bytes', 'bytes']);
  const grid = [size, Math.floor(sms / size), 1];
  const opts = { grid, block: [MLA_CONFIG.SM90_THREADS, 1, 1], sharedMemBytes: MLA_CONFIG.SM90_MC_SMEM_BYTES, stream, cluster: [size, 1, 1] };
  const active = k.maxActiveClusters(opts);
  console.log(`clusters of ${size} (${entry}): ${active} at once, ${Math.floor(sms / size)} for one CTA per SM — ${active * size >= sms - (sms % size) ? 'fits' : 'does NOT fit in one wave'}`);
}
