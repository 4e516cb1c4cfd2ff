// Host stand-in for cuda.h: what the kernels take from it (the CUtensorMap parameter type of mla_decode_sm90.cu).
// The contents are the fake driver's encoding (tensor_map.h), not the real driver's.
#pragma once
#include <cstdint>

struct alignas(64) CUtensorMap_st {
  uint64_t opaque[16];
};
typedef CUtensorMap_st CUtensorMap;
