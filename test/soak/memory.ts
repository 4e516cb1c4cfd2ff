// The soak run's memory samples and its judgement of them (pure: unit-tested by test/soak.test.ts without a GPU).
//
// A phase of the soak takes a sample at its start (after its warm-up: modules loaded, workspace grown, graph
// captured), every N calls and at its end. Memory "grew" when both hold:
//  - net growth: the last sample exceeds the first by more than the limit, and
//  - it is sustained: the lowest sample of the last third is still above the highest of the first third
//    (a leak climbs steadily; a warm-up step or a spike that comes back does not).
// Device memory is measured as used = total − free − the bytes in the library's cache of freed blocks (cuMemGetInfo:
// every allocation counts; what a dispose gives back goes to that cache, so this is flat unless something leaks); host memory as the resident set size after a garbage collection.

export interface MemorySample {
  /** Calls (or replays) of the phase done when the sample was taken. */
  calls: number;
  /** total − free device memory in bytes; null where there is no device (the cpu backend). */
  deviceUsed: number | null;
  /** Resident set size of the process in bytes. */
  rss: number;
}

export interface MemoryLimits {
  /** Allowed net growth of device memory over a phase, bytes. */
  deviceBytes: number;
  /** Allowed net growth of the resident set over a phase, bytes. */
  rssBytes: number;
}

export interface GrowthVerdict {
  /** last − first, bytes. */
  net: number;
  /** min over the last third − max over the first third, bytes (> 0: the growth persists). */
  sustained: number;
  grew: boolean;
}

export interface MemoryVerdict {
  ok: boolean;
  device: GrowthVerdict | null;
  rss: GrowthVerdict;
  /** Why it failed, one line per measure that grew (empty when ok). */
  reasons: string[];
}

export const MIB = 1 << 20;

/**
 * Default limits. Device 4 MiB: one leaked 512-byte tensor per call (an lse) adds 5 MB over 10 000 calls. Host RSS
 * 64 MiB: V8's heap settles well within it after a collection; one leaked 8 KiB per call adds 80 MB.
 */
export const DEFAULT_LIMITS: MemoryLimits = { deviceBytes: 4 * MIB, rssBytes: 64 * MIB };

function growth(values: number[], limit: number): GrowthVerdict {
  const third = Math.max(1, Math.floor(values.length / 3));
  const net = values[values.length - 1] - values[0];
  const sustained = Math.min(...values.slice(-third)) - Math.max(...values.slice(0, third));
  return { net, sustained, grew: net > limit && sustained > 0 };
}

const fmtMib = (b: number) => `${b >= 0 ? '+' : ''}${(b / MIB).toFixed(1)} MiB`;

/**
 * Did memory grow over a phase? Needs at least 2 samples (start and end): fewer is a usage error of the caller,
 * never a pass.
 */
export function judgeMemory(samples: readonly MemorySample[], limits: MemoryLimits = DEFAULT_LIMITS): MemoryVerdict {
  if (samples.length < 2) throw new RangeError(`samples: expected at least 2 (start and end), got ${samples.length}`);
  for (const [name, v] of [['deviceBytes', limits.deviceBytes], ['rssBytes', limits.rssBytes]] as const) {
    if (!(Number.isFinite(v) && v >= 0)) throw new RangeError(`limits.${name}: expected a number of bytes ≥ 0, got ${v}`);
  }
  const withDevice = samples.every((s) => s.deviceUsed !== null);
  if (!withDevice && samples.some((s) => s.deviceUsed !== null)) throw new RangeError('samples: deviceUsed must be given in every sample or in none');
  const device = withDevice ? growth(samples.map((s) => s.deviceUsed as number), limits.deviceBytes) : null;
  const rss = growth(samples.map((s) => s.rss), limits.rssBytes);
  const reasons: string[] = [];
  const span = `over ${samples[samples.length - 1].calls - samples[0].calls} calls`;
  if (device?.grew) reasons.push(`device memory grew ${fmtMib(device.net)} ${span} (limit ${fmtMib(limits.deviceBytes)}; still ${fmtMib(device.sustained)} above the first third's peak in the last third)`);
  if (rss.grew) reasons.push(`host RSS grew ${fmtMib(rss.net)} ${span} (limit ${fmtMib(limits.rssBytes)}; still ${fmtMib(rss.sustained)} above the first third's peak in the last third)`);
  return { ok: reasons.length === 0, device, rss, reasons };
}

/** Samples to show in a table of at most `rows` rows: evenly spaced, always the first and the last. */
export function tableRows<T>(samples: readonly T[], rows = 12): T[] {
  if (samples.length <= rows) return [...samples];
  const stride = Math.ceil((samples.length - 1) / (rows - 1));
  const picked = samples.filter((_, k) => k % stride === 0);
  if (picked[picked.length - 1] !== samples[samples.length - 1]) picked.push(samples[samples.length - 1]);
  return picked;
}

/** The samples of a phase as a small text table: calls, device used and its change, RSS and its change. */
export function formatMemoryTable(phase: string, samples: readonly MemorySample[], rows = 12): string[] {
  const first = samples[0];
  const lines = [`${'phase'.padEnd(6)} ${'calls'.padStart(8)} ${'device used'.padStart(13)} ${'Δ device'.padStart(11)} ${'host RSS'.padStart(11)} ${'Δ RSS'.padStart(11)}`];
  for (const s of tableRows(samples, rows)) {
    const dev = s.deviceUsed === null || first.deviceUsed === null ? ['n/a', 'n/a'] : [`${(s.deviceUsed / MIB).toFixed(1)} MiB`, fmtMib(s.deviceUsed - first.deviceUsed)];
    lines.push(`${phase.padEnd(6)} ${String(s.calls).padStart(8)} ${dev[0].padStart(13)} ${dev[1].padStart(11)} ${`${(s.rss / MIB).toFixed(1)} MiB`.padStart(11)} ${fmtMib(s.rss - first.rss).padStart(11)}`);
  }
  return lines;
}
