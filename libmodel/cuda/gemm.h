// cuBLAS / cuBLASLt GEMMs for the CUDA backend. Every GEMM computes, row-major,
//   y[T, N] (+)= x[T, K] @ w[N, K]^T
// which in cuBLAS's column-major terms is Y^T = op_T(W) * X^T: the "TN" form, with leading
// dimensions in elements. The path per weight format is chosen by select_gemm_path
// (host/gemm_select.h) from the device's compute capability at runtime.
#pragma once
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/dequant.cuh"
#include "libmodel/cuda/host/gemm_select.h"

namespace g2 {

class GemmContext {
 public:
  GemmContext(int device, cudaStream_t stream);
  ~GemmContext();
  GemmContext(const GemmContext&) = delete;
  GemmContext& operator=(const GemmContext&) = delete;

  int cc_major() const { return cc_major_; }
  int cc_minor() const { return cc_minor_; }
  cudaStream_t stream() const { return stream_; }

  // f32 x f32 -> f32, CUBLAS_COMPUTE_32F (no TF32: bit-for-bit f32 products, f32 sums).
  void f32(const float* x, int ldx, const float* w, int ldw, float* y, int ldy, int T, int N, int K, bool accumulate);
  // bf16 x bf16 -> f32 with f32 accumulation (CUBLAS_COMPUTE_32F). x, w: bf16 bits.
  void bf16(const uint16_t* x, int ldx, const uint16_t* w, int ldw, float* y, int ldy, int T, int N, int K,
            bool accumulate);
  // FP8 e4m3 weight w[N, K] with its scales (device) in `mode`; x f32 [T, K] contiguous.
  // Fp8Lt: x is quantised per tensor on the device, then cublasLtMatmul with both scale
  // pointers; if cuBLASLt offers no algorithm, or for channel/block scales or devices below
  // 8.9, w is dequantised to BF16 and the BF16 GEMM runs. Returns the path taken.
  GemmPath fp8(const float* x, const uint8_t* w, const float* w_scales, Fp8ScaleMode mode, int block_n,
               int block_k, float* y, int T, int N, int K, bool accumulate);

 private:
  bool fp8_lt(const uint8_t* xq, const float* x_scale, const uint8_t* w, const float* w_scale, float* y, int T, int N,
              int K, bool accumulate);

  int device_ = 0, cc_major_ = 0, cc_minor_ = 0;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t blas_ = nullptr;
  cublasLtHandle_t lt_ = nullptr;
  void* workspace_ = nullptr;  // cuBLASLt workspace
  size_t workspace_bytes_ = size_t(32) << 20;
};

}  // namespace g2
