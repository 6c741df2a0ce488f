// One macro family for CUDA and cuBLAS errors, with file:line. A failed call throws
// g2::DeviceError (kernels/device_error.h) carrying cudaGetErrorString / the cuBLAS status
// name: an out-of-memory or a driver problem is an environment failure the tools report with
// exit 2 (run_forward turns the exception into an Error), not a crash with signal 134.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <string>

#include <cublas_api.h>
#include <cuda_runtime.h>

#include "kernels/device_error.h"

namespace g2::cuda {

// "g2kit CUDA error: file.cc:12: cudaMalloc(...): out of memory". Clears the (non-sticky)
// last error so the next check does not report this one again.
[[noreturn]] inline void throw_cuda_error(cudaError_t e, const char* expr, const char* file, int line) {
  cudaGetLastError();
  throw DeviceError(std::string("g2kit CUDA error: ") + file + ":" + std::to_string(line) + ": " + expr + ": " +
                    cudaGetErrorString(e));
}

[[noreturn]] inline void throw_cublas_error(int st, const char* expr, const char* file, int line) {
  throw DeviceError(std::string("g2kit cuBLAS error: ") + file + ":" + std::to_string(line) + ": " + expr + ": " +
                    cublasGetStatusString(cublasStatus_t(st)) + " (status " + std::to_string(st) + ")");
}

}  // namespace g2::cuda

#define G2_CUDA_CHECK(expr)                                                            \
  do {                                                                                 \
    cudaError_t g2_err_ = (expr);                                                      \
    if (g2_err_ != cudaSuccess) ::g2::cuda::throw_cuda_error(g2_err_, #expr, __FILE__, __LINE__); \
  } while (0)

#define G2_CUBLAS_CHECK(expr)                                                          \
  do {                                                                                 \
    int g2_st_ = int(expr);                                                            \
    if (g2_st_ != 0) ::g2::cuda::throw_cublas_error(g2_st_, #expr, __FILE__, __LINE__); \
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
