#include "libmodel/cuda/gemm.h"

#include "kernels/cuda/check.h"
#include "kernels/cuda/convert.cuh"
#include "libconvert/status.h"

namespace g2 {

GemmContext::GemmContext(int device, cudaStream_t stream) : device_(device), stream_(stream) {
  cudaDeviceProp prop{};
  G2_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  cc_major_ = prop.major;
  cc_minor_ = prop.minor;
  G2_CUBLAS_CHECK(cublasCreate(&blas_));
  G2_CUBLAS_CHECK(cublasSetStream(blas_, stream_));
  G2_CUBLAS_CHECK(cublasLtCreate(&lt_));
  G2_CUDA_CHECK(cudaMalloc(&workspace_, workspace_bytes_));
}

GemmContext::~GemmContext() {
  cudaFree(workspace_);
  if (lt_) cublasLtDestroy(lt_);
  if (blas_) cublasDestroy(blas_);
}

void GemmContext::f32(const float* x, int ldx, const float* w, int ldw, float* y, int ldy, int T, int N, int K,
                      bool accumulate) {
  if (T == 0 || N == 0) return;
  const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
  // Pedantic: the f32 GEMM must never silently become TF32 (NVIDIA_TF32_OVERRIDE, math modes).
  G2_CUBLAS_CHECK(cublasSetMathMode(blas_, CUBLAS_PEDANTIC_MATH));
  G2_CUBLAS_CHECK(cublasGemmEx(blas_, CUBLAS_OP_T, CUBLAS_OP_N, N, T, K, &alpha, w, CUDA_R_32F, ldw, x, CUDA_R_32F, ldx,
                               &beta, y, CUDA_R_32F, ldy, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

void GemmContext::bf16(const uint16_t* x, int ldx, const uint16_t* w, int ldw, float* y, int ldy, int T, int N, int K,
                       bool accumulate) {
  if (T == 0 || N == 0) return;
  const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
  // Default math: BF16 tensor cores with f32 accumulation (pedantic would leave them unused).
  G2_CUBLAS_CHECK(cublasSetMathMode(blas_, CUBLAS_DEFAULT_MATH));
  G2_CUBLAS_CHECK(cublasGemmEx(blas_, CUBLAS_OP_T, CUBLAS_OP_N, N, T, K, &alpha, w, CUDA_R_16BF, ldw, x, CUDA_R_16BF,
                               ldx, &beta, y, CUDA_R_32F, ldy, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

bool GemmContext::fp8_lt(const uint8_t* xq, const float* x_scale, const uint8_t* w, const float* w_scale, float* y,
                         int T, int N, int K, bool accumulate) {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulPreference_t pref = nullptr;
  const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
  G2_CUBLAS_CHECK(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  G2_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
  G2_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
  // A = the weight, B = the activations: y = (a_scale * A) (b_scale * B), f32 accumulation.
  G2_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &w_scale, sizeof w_scale));
  G2_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &x_scale, sizeof x_scale));
  // Column-major views: A = W^T stored [K, N] (ld K), B = X^T [K, T] (ld K), C = Y^T [N, T] (ld N).
  G2_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&a, CUDA_R_8F_E4M3, K, N, K));
  G2_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&b, CUDA_R_8F_E4M3, K, T, K));
  G2_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&c, CUDA_R_32F, N, T, N));
  G2_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
  G2_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                       &workspace_bytes_, sizeof workspace_bytes_));
  cublasLtMatmulHeuristicResult_t heur{};
  int found = 0;
  const cublasStatus_t hs = cublasLtMatmulAlgoGetHeuristic(lt_, op, a, b, c, c, pref, 1, &heur, &found);
  bool ran = false;
  if (hs == CUBLAS_STATUS_SUCCESS && found > 0) {
    const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
    G2_CUBLAS_CHECK(cublasLtMatmul(lt_, op, &alpha, w, a, xq, b, &beta, y, c, y, c, &heur.algo, workspace_,
                                   workspace_bytes_, stream_));
    ran = true;
  }
  cublasLtMatmulPreferenceDestroy(pref);
  cublasLtMatrixLayoutDestroy(c);
  cublasLtMatrixLayoutDestroy(b);
  cublasLtMatrixLayoutDestroy(a);
  cublasLtMatmulDescDestroy(op);
  return ran;
}

GemmPath GemmContext::fp8(const float* x, const uint8_t* w, const float* w_scales, Fp8ScaleMode mode,
                          int block_n, int block_k, float* y, int T, int N, int K, bool accumulate) {
  if (T == 0 || N == 0) return GemmPath::F32;
  const WeightFormat fmt = mode == Fp8ScaleMode::Tensor    ? WeightFormat::Fp8Tensor
                           : mode == Fp8ScaleMode::Channel ? WeightFormat::Fp8Channel
                                                                 : WeightFormat::Fp8Block;
  if (select_gemm_path(fmt, cc_major_, cc_minor_, N, K) == GemmPath::Fp8Lt) {
    uint8_t* xq = nullptr;
    float* sc = nullptr;  // [0] x scale, [1] amax scratch
    G2_CUDA_CHECK(cudaMallocAsync(reinterpret_cast<void**>(&xq), size_t(T) * size_t(K), stream_));
    G2_CUDA_CHECK(cudaMallocAsync(reinterpret_cast<void**>(&sc), 2 * sizeof(float), stream_));
    cuda::launch_quantize_fp8_dynamic(x, int64_t(T) * K, xq, sc, sc + 1, stream_);
    const bool ran = fp8_lt(xq, sc, w, w_scales, y, T, N, K, accumulate);
    G2_CUDA_CHECK(cudaFreeAsync(xq, stream_));
    G2_CUDA_CHECK(cudaFreeAsync(sc, stream_));
    if (ran) return GemmPath::Fp8Lt;
  }
  // Fallback: BF16 weight and activations, f32 accumulation.
  uint16_t* wb = nullptr;
  uint16_t* xb = nullptr;
  G2_CUDA_CHECK(cudaMallocAsync(reinterpret_cast<void**>(&wb), size_t(N) * size_t(K) * 2, stream_));
  G2_CUDA_CHECK(cudaMallocAsync(reinterpret_cast<void**>(&xb), size_t(T) * size_t(K) * 2, stream_));
  cuda::launch_dequant_fp8(w, w_scales, mode, N, K, block_n, block_k, nullptr, wb, stream_);
  cuda::launch_f32_to_bf16(x, xb, int64_t(T) * K, stream_);
  bf16(xb, K, wb, K, y, N, T, N, K, accumulate);
  G2_CUDA_CHECK(cudaFreeAsync(wb, stream_));
  G2_CUDA_CHECK(cudaFreeAsync(xb, stream_));
  return GemmPath::Fp8AsBf16;
}

}  // namespace g2
