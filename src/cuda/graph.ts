// CUDA graph capture of a decode step: capture once, then write new inputs into the same tensors and
// replay. Launch overhead of the three kernels (metadata, decode, combine) per layer disappears.
//
//   const step = captureGraph(() => {
//     const md = getMlaMetadata(seqlens, sQ * hQ, 1, { out: metadataBuffers });
//     flashMlaWithKvcache(q, kCache, blockTable, seqlens, 512, md.tileSchedulerMetadata, md.numSplits, { causal: true, out, lse });
//   });
//   q.write(nextQ); seqlens.write(nextLens); step.replay(); … step.dispose();
//
// Rules: inputs and outputs used inside must exist before capture (allocate them first): a tensor created
// inside is a normal tensor that replays keep writing, so it must outlive the graph. Nothing inside may read
// device data back to the host (flashMlaWithKvcache skips its value checks while capturing), and cpu-backend
// work cannot be captured (it throws). The backends' scratch (split partials) belongs to the graph: one
// buffer per graph, shared by every captured call (they run one after another on one stream).

import { countLiveGraph, setCapturing } from '../capture.js';
import { DisposedError } from '../errors.js';
import { getCudaContext } from './context.js';
import { allocDeviceBuffer } from './block-cache.js';
import { type DeviceBuffer, Graph } from './runtime.js';
import { disposeQuietly } from '../util/dispose.js';

/** Scratch buffers of the graph being captured; the last one is the largest so far. */
let active: DeviceBuffer[] | null = null;

/**
 * Device scratch owned by the graph being captured (null when not capturing), so a captured graph never
 * points at memory that a later eager call reallocates. Calls of one capture share one buffer; a call that
 * needs more than any before it gets a larger one (the earlier calls keep theirs).
 */
export function scratchForCapture(bytes: number): DeviceBuffer | null {
  if (!active) return null;
  const last = active[active.length - 1];
  if (last && last.bytes >= bytes) return last;
  const buf = allocDeviceBuffer(bytes);
  active.push(buf);
  return buf;
}

export class DecodeGraph<T> {
  private graph: Graph | null;
  constructor(graph: Graph, private owned: DeviceBuffer[], /** What the captured function returned. */ readonly result: T) {
    this.graph = graph;
    countLiveGraph(1);
  }
  /** Launch the captured work on the library's stream (asynchronous). */
  replay(): void {
    if (!this.graph) throw new DisposedError('DecodeGraph');
    this.graph.launch(getCudaContext().stream);
  }
  /** Wait for everything launched so far. */
  synchronize(): void {
    getCudaContext().stream.synchronize();
  }
  dispose(): void {
    if (!this.graph) return;
    getCudaContext().stream.synchronize();
    this.graph.dispose();
    for (const b of this.owned) b.dispose();
    this.graph = null;
    countLiveGraph(-1);
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** Capture everything `fn` runs on the cuda backend into a replayable graph (fn runs once, not executed). */
export function captureGraph<T>(fn: () => T): DecodeGraph<T> {
  if (active) throw new Error('captureGraph: already capturing (captures do not nest)');
  const { stream } = getCudaContext();
  const owned: DeviceBuffer[] = [];
  active = owned;
  setCapturing(true);
  let result!: T;
  try {
    const graph = Graph.capture(stream, () => {
      result = fn();
    });
    return new DecodeGraph(graph, owned, result);
  } catch (e) {
    disposeQuietly(...owned); // a failing free (a sticky error) does not hide the error of the capture
    throw e;
  } finally {
    active = null;
    setCapturing(false);
  }
}
