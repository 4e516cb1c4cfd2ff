// Host stand-in for cuda_fp16.h: see cuda_bf16.h (one file holds both).
#pragma once
#include "cuda_bf16.h"
