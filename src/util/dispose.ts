// Cleanup on an error path: free what a failing call allocated without letting a failing free replace the error
// being thrown (after a sticky CUDA error every call fails, cuMemFree_v2 included: the error to report is the
// first one, naming the call that failed).

/** Dispose each of `items` (null/undefined skipped), ignoring errors from the disposals. */
export function disposeQuietly(...items: ({ dispose(): void } | null | undefined)[]): void {
  for (const x of items) {
    try {
      x?.dispose();
    } catch {
      // the error being thrown says more
    }
  }
}
