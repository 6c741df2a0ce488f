// One macro family for CUDA and cuBLAS errors, with file:line (docs/architecture.md, errors tier 2).
#pragma once
#include <cstdio>
#include <cstdlib>
#include <cuda_runtime.h>

#define G2_CUDA_CHECK(expr)                                                                    \
  do {                                                                                         \
    cudaError_t g2_err_ = (expr);                                                              \
    if (g2_err_ != cudaSuccess) {                                                              \
      std::fprintf(stderr, "g2kit CUDA error: %s:%d: %s: %s\n", __FILE__, __LINE__, #expr,     \
                   cudaGetErrorString(g2_err_));                                               \
      std::abort();                                                                            \
    }                                                                                          \
  } while (0)

#define G2_CUBLAS_CHECK(expr)                                                                  \
  do {                                                                                         \
    int g2_st_ = int(expr);                                                                    \
    if (g2_st_ != 0) {                                                                         \
      std::fprintf(stderr, "g2kit cuBLAS error: %s:%d: %s: status %d\n", __FILE__, __LINE__,   \
                   #expr, g2_st_);                                                             \
      std::abort();                                                                            \
    }                                                                                          \
  } while (0)

// Launcher precondition (shapes, sizes): an invariant the caller must hold, so it aborts
// with file:line like G2_ASSERT (kernels/ cannot depend on libconvert/status.h).
#define G2_KERNEL_REQUIRE(cond)                                                                \
  do {                                                                                         \
    if (!(cond)) {                                                                             \
      std::fprintf(stderr, "g2kit kernel precondition failed: %s:%d: %s\n", __FILE__, __LINE__, \
                   #cond);                                                                     \
      std::abort();                                                                            \
    }                                                                                          \
  } while (0)
