// Whether a CUDA graph capture is in progress, and whether captured graphs are alive. A module with no imports, so
// the API, the kvcache and the cpu oracle can ask without loading the cuda backend; only src/cuda/graph.ts sets them.

let capturing = false;

export function isCapturing(): boolean {
  return capturing;
}

/** Called by captureGraph (src/cuda/graph.ts) on entering and leaving a capture. */
export function setCapturing(on: boolean): void {
  capturing = on;
}

let liveGraphs = 0;

/** Called by src/cuda/graph.ts when a captured graph is made (+1) and disposed (−1). */
export function countLiveGraph(delta: 1 | -1): void {
  liveGraphs += delta;
}

/**
 * Whether a graph is being captured or a captured graph is alive: its replays write to the tensors it was captured
 * with, so the cache of freed device blocks (src/cuda/block-cache.ts) hands a block disposed meanwhile back to the
 * driver instead of to the next tensor.
 */
export function graphsAlive(): boolean {
  return capturing || liveGraphs > 0;
}
