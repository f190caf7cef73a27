// Stand-in (syntax check only): torch's C10_CUDA_CHECK(expression of type cudaError_t).
#pragma once
#include <c10/util/Exception.h>
#include <cuda_runtime_api.h>
#define C10_CUDA_CHECK(EXPR)                                   \
  do {                                                         \
    const cudaError_t dyconv_stub_err = (EXPR);                \
    TORCH_CHECK(dyconv_stub_err == cudaSuccess, "CUDA error"); \
  } while (0)
