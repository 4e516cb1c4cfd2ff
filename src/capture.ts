// Whether a CUDA graph capture is in progress. A module with no imports, so the API, the kvcache and the
// cpu oracle can ask without loading the cuda backend; only src/cuda/graph.ts sets it.

let capturing = false;

export function isCapturing(): boolean {
  return capturing;
}

/** Called by captureGraph (src/cuda/graph.ts) on entering and leaving a capture. */
export function setCapturing(on: boolean): void {
  capturing = on;
}
