/* What the fake driver's cuTensorMapEncodeTiled (test/util/fake-cuda.c) writes into the 128-byte CUtensorMap, and
 * the emulator's TMA (emu.cpp) reads back: the real driver's encoding is opaque, so the fake keeps its own. C and
 * C++. The global address stays in the first 8 bytes: the fake's launch check treats it as the map's pointer, and
 * the emulating fake rewrites it to the host address of that memory at each launch. */
#ifndef FLASH_MLA_EMU_TENSOR_MAP_H
#define FLASH_MLA_EMU_TENSOR_MAP_H
#include <stdint.h>

#define FAKE_TMAP_MAGIC 0x50414d54u /* "TMAP" */

typedef struct FakeTensorMap {
  uint64_t address;     /* device address (host address inside an emulated launch) */
  uint32_t magic;       /* FAKE_TMAP_MAGIC: written by the fake's encoder, not garbage */
  uint32_t rank;        /* 1..5 */
  uint64_t dims[5];     /* elements, innermost first */
  uint64_t strides[4];  /* bytes, of dims 1..rank-1 */
  uint32_t box[5];      /* elements */
  uint8_t elem_strides[5];
  uint8_t elem_bytes;   /* from the data type */
  uint8_t swizzle;      /* CUtensorMapSwizzle: 0 none, 1 32B, 2 64B, 3 128B */
  uint8_t interleave;   /* CUtensorMapInterleave */
  uint8_t oob_fill;     /* CUtensorMapFloatOOBfill: 0 zeros, 1 NaN */
  uint8_t data_type;    /* CUtensorMapDataType */
  uint8_t pad_[2];
} FakeTensorMap;

#ifdef __cplusplus
static_assert(sizeof(FakeTensorMap) <= 128, "a CUtensorMap is 128 bytes");
#else
_Static_assert(sizeof(FakeTensorMap) <= 128, "a CUtensorMap is 128 bytes");
#endif

#endif
