// Batches on which the device metadata kernel must equal the cpu scheduler (scheduleTiles) bit for bit: edge sizes,
// zeros, one huge among tiny, many short requests per SM part, b = 7 000, a total cost ≥ 2^30 blocks (near the int32
// range: the kernel sums in 64 bits), batches on which our two whole-request rules fire, and for the kernel's parallel
// schedule the largest batch it takes (2 400 requests) and the next (the serial walk), long runs of cut parts (finished
// by its chase), and a total cost near 2^30 over few parts. Used by the GPU suite (test/gpu-decode.test.ts) and the emulator (test/kernel-emulation.test.ts).

export function metadataGoldenSets(r: () => number): number[][] {
  return [
    [0],
    [5],
    [0, 0, 0],
    Array.from({ length: 1024 }, () => Math.floor(r() * 10000)),
    Array.from({ length: 1024 }, (_, i) => (i === 500 ? 1 << 20 : Math.floor(r() * 64))),
    Array.from({ length: 1024 }, () => 0),
    Array.from({ length: 333 }, () => (r() < 0.5 ? 0 : Math.floor(r() * 70000))),
    [8192, 8192],
    Array.from({ length: 4000 }, () => Math.floor(r() * 300)),
    Array.from({ length: 40 }, (_, i) => (i % 13 === 0 ? 200000 : 1 + Math.floor(r() * 200))),
    Array.from({ length: 7000 }, () => Math.floor(r() * 5000)),
    Array.from({ length: 40 }, () => 2 ** 31 - 1 - Math.floor(r() * 1000)),
    // batches where our whole-request rule fires (every request just misses the payload): 8 blocks each at 132 parts
    // (S4), 7 blocks each at 66 parts, 60 blocks each at 8 parts
    Array.from({ length: 64 }, () => 449 + Math.floor(r() * 64)),
    Array.from({ length: 33 }, () => 385 + Math.floor(r() * 64)),
    Array.from({ length: 7 }, () => 3777 + Math.floor(r() * 64)),
    // batches where the equal-length rule changes the walk (ceil(b / parts) whole requests per part within one split
    // cost): b 128 of 128 blocks each at 66 parts (sweep#28) — lengths varied inside the last block, the block counts
    // equal; at the emulator's other part counts (132, 16) the walk already keeps them whole
    Array.from({ length: 128 }, () => 8129 + Math.floor(r() * 64)),
    // the parallel schedule's capacity (kernels/mla_config.h METADATA_PAR_MAX_REQS) and one past it
    Array.from({ length: 2400 }, () => Math.floor(r() * 3000)),
    Array.from({ length: 2401 }, () => Math.floor(r() * 3000)),
    // requests of ~1.5 parts each: runs of cut parts cross many request starts before one ends near the next start
    Array.from({ length: 279 }, () => Math.floor(r() * 70000)),
    Array.from({ length: 60 }, () => 20000 + Math.floor(r() * 40000)),
    // a total cost just under 2^30 over few parts: the chase's lanes past the batch's end would pass 2^31
    Array.from({ length: 40 }, () => 2 ** 29 + Math.floor(r() * 2 ** 29)),
  ];
}

// Batches on which the third rule (src/mla/schedule.ts evenSplitMinSplits, EVEN_SPLIT_MIN_SPLITS = 2) cuts every request into k
// even pieces at the emulator's and the GPU suite's part counts (132, 66 and 8 for rows 1 / 16, 128, 1024): 33 × 48
// blocks (k 4 at 132 parts, 2 at 66), 4 × 300 blocks (k 2 at 8 parts), 66 × 20 blocks (k 2 at 132), lengths varied
// inside the last block; and batches next to them where it must not fire (a longer request, 18 × 64 blocks: k 7).
export function metadataEvenSplitSets(r: () => number): number[][] {
  const within = (nb: number) => (nb - 1) * 64 + 1 + Math.floor(r() * 64);
  return [
    Array.from({ length: 33 }, () => within(48)),
    Array.from({ length: 4 }, () => within(300)),
    Array.from({ length: 66 }, () => within(20)),
    [...Array.from({ length: 32 }, () => within(48)), within(49)],
    Array.from({ length: 18 }, () => within(64)),
    [8192, 8192],
    Array.from({ length: 8 }, () => 4096),
  ];
}


// Batches on which the fourth rule (src/mla/schedule.ts tightPayloadSteps, TIGHT_PAYLOAD_STEPS = 5) lowers the payload
// at the emulator's and the GPU suite's part counts, through each of the kernel's paths: S9 (16 requests, the parallel
// schedule at 66 and 132 parts), short batches over 8 parts (the serial walk, one lane per candidate), equal block
// counts (the chase by one lane), the rule's largest batch (METADATA_TIGHT_MAX_REQS = 256) and the next.
export function metadataTightSets(r: () => number): number[][] {
  return [
    [862, 4727, 123, 2306, 945, 3990, 11787, 2461, 1989, 3233, 617, 2544, 14253, 997, 3953, 7657],
    ...Array.from({ length: 8 }, () => Array.from({ length: 3 + Math.floor(r() * 12) }, () => 1 + Math.floor(r() * 6000))),
    Array.from({ length: 100 }, () => 3137 + Math.floor(r() * 64)),
    Array.from({ length: 300 }, () => 4033 + Math.floor(r() * 64)),
    ...Array.from({ length: 3 }, () => Array.from({ length: 256 }, () => 1 + Math.floor(r() * 8000))),
    Array.from({ length: 257 }, () => 1 + Math.floor(r() * 8000)),
    Array.from({ length: 40 }, () => 1 + Math.floor(r() * 30000)),
  ];
}

/**
 * Batches for the fifth rule (the packed order, src/mla/schedule.ts packedSchedule): variable lengths at and around its
 * bounds over 132 / 66 / 33 parts (b ≤ 3 · parts and ≤ 256, one past them), the sweep's shapes (b 128 of ~2 × mean),
 * short and long requests mixed, zero-length requests, a few equal-length batches (not packed) and tiny ones.
 */
export function metadataPackSets(r: () => number): number[][] {
  const batch = (b: number, max: number, min = 1) => Array.from({ length: b }, () => min + Math.floor(r() * (max - min + 1)));
  return [
    [0, 64, 65, 4096],
    batch(2, 9000),
    ...[128, 128, 256, 99, 100, 198, 199, 257].map((b) => batch(b, 8192)),
    ...Array.from({ length: 4 }, () => batch(128, 16384, 1024)),
    ...Array.from({ length: 6 }, () => batch(2 + Math.floor(r() * 60), 30000)),
    [...batch(30, 200), ...batch(3, 60000, 20000)],
    [...batch(40, 4096), 0, 0, ...batch(20, 100)],
    Array.from({ length: 64 }, () => 4096),
    batch(16, 14000, 100),
  ];
}
