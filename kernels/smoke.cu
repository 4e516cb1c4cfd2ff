// build: archs=sm_80,sm_90a hot
// Smoke kernel: y[i] = a * x[i] + y[i] in fp32. Proves the path cubin → driver → launch → result.
#include <cstdint>

extern "C" __global__ void smoke_axpy(float a, const float* __restrict__ x, float* __restrict__ y, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) y[i] = a * x[i] + y[i];
}
