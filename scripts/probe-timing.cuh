// What the CUDA-runtime probes in scripts/ (loop-mix-probe.cu, wgmma-rate-probe.cu) share: a launch timed by CUDA events.
#pragma once
#include <algorithm>
#include <vector>

#include <cuda_runtime.h>

// `runs` calls of launch(r), r = 0, 1, …, each timed by CUDA events; the times in ms of all but the first (a warm-up),
// sorted.
template <typename Launch>
std::vector<float> timed_runs(int runs, Launch&& launch) {
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0), cudaEventCreate(&e1);
  std::vector<float> ms;
  for (int r = 0; r < runs; ++r) {
    cudaEventRecord(e0);
    launch(r);
    cudaEventRecord(e1);
    cudaEventSynchronize(e1);
    float t;
    cudaEventElapsedTime(&t, e0, e1);
    if (r > 0) ms.push_back(t);
  }
  std::sort(ms.begin(), ms.end());
  cudaEventDestroy(e0), cudaEventDestroy(e1);
  return ms;
}
