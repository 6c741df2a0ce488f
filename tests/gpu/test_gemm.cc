// cuBLAS / cuBLASLt GEMMs against OpenBLAS (label gpu).
#include <cblas.h>
#include <cuda_runtime.h>

#include "kernels/codecs.h"
#include "kernels/cuda/check.h"
#include "kernels/ops/quant.h"
#include "libmodel/cuda/gemm.h"
#include "tests/gpu/gpu_util.h"

namespace g2 {
namespace {

using gputest::randn;

// y[T, N] = x[T, K] @ w[N, K]^T on the CPU.
std::vector<float> cblas_ref(const std::vector<float>& x, const std::vector<float>& w, int T, int N, int K) {
  std::vector<float> y(size_t(T) * N);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, N, K, 1.0f, x.data(), K, w.data(), K, 0.0f, y.data(), N);
  return y;
}

template <class T>
T* to_device(const std::vector<T>& h) {
  T* d = nullptr;
  G2_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&d), h.size() * sizeof(T)));
  G2_CUDA_CHECK(cudaMemcpy(d, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice));
  return d;
}
std::vector<float> from_device(const float* d, size_t n) {
  std::vector<float> h(n);
  G2_CUDA_CHECK(cudaMemcpy(h.data(), d, n * sizeof(float), cudaMemcpyDeviceToHost));
  return h;
}

TEST(CudaGemm, BackendMatmulMatchesCblasWithLeadingDimsAndAccumulate) {
  G2_REQUIRE_GPU();
  auto gpu = make_cuda_backend(0);
  ASSERT_TRUE(gpu.ok());
  const int T = 7, N = 96, K = 130;
  const auto x = randn(size_t(T) * K, 1), w = randn(size_t(N) * K, 2);
  const auto ref = cblas_ref(x, w, T, N, K);
  auto bx = (*gpu)->alloc(x.size()), bw = (*gpu)->alloc(w.size()), by = (*gpu)->alloc(ref.size());
  (*gpu)->upload(bx.data(), x.data(), x.size());
  (*gpu)->upload(bw.data(), w.data(), w.size());
  (*gpu)->matmul(bx.data(), bw.data(), by.data(), T, N, K);
  gputest::expect_close(gputest::fetch(**gpu, by), ref, gputest::close_f32(), "gemm f32");
  // accumulate into y and address a K-slice in place: y += x[:, 0:64] @ w[:, 0:64]^T
  (*gpu)->matmul(bx.data(), K, bw.data(), K, by.data(), N, T, N, 64, true);
  std::vector<float> ref2(ref.size());
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, N, 64, 1.0f, x.data(), K, w.data(), K, 0.0f, ref2.data(), N);
  for (size_t i = 0; i < ref2.size(); ++i) ref2[i] += ref[i];
  gputest::expect_close(gputest::fetch(**gpu, by), ref2, gputest::close_f32(), "gemm accumulate");
}

TEST(CudaGemm, Bf16GemmIsExactOnBf16Operands) {
  G2_REQUIRE_GPU();
  CudaBackendOptions o;
  o.gemm = CudaGemmPrecision::Bf16;
  auto gpu = make_cuda_backend(0, o);
  ASSERT_TRUE(gpu.ok());
  const int T = 5, N = 64, K = 256;
  auto x = randn(size_t(T) * K, 3), w = randn(size_t(N) * K, 4);
  for (auto& v : x) v = round_bf16(v);
  for (auto& v : w) v = round_bf16(v);
  const auto ref = cblas_ref(x, w, T, N, K);
  auto bx = (*gpu)->from_host(std::vector<float>(x)), bw = (*gpu)->from_host(std::vector<float>(w));
  auto by = (*gpu)->alloc(ref.size());
  (*gpu)->matmul(bx.data(), bw.data(), by.data(), T, N, K);
  gputest::expect_close(gputest::fetch(**gpu, by), ref, gputest::close_f32(1e-5), "gemm bf16");
}

// FP8 weight GEMM in every scale mode vs the CPU on the dequantised weight.
TEST(CudaGemm, Fp8WeightsEveryScaleMode) {
  G2_REQUIRE_GPU();
  cudaStream_t s;
  G2_CUDA_CHECK(cudaStreamCreate(&s));
  {
    GemmContext ctx(0, s);
    const int T = 16, N = 256, K = 256, bn = 128, bk = 128;
    const auto x = randn(size_t(T) * K, 5), wf = randn(size_t(N) * K, 6, 0.05f);
    for (auto mode : {Fp8ScaleMode::Tensor, Fp8ScaleMode::Channel, Fp8ScaleMode::Block}) {
      // quantise on the host with the shared math: scale per group = amax / 448
      const int nsc = mode == Fp8ScaleMode::Tensor ? 1 : mode == Fp8ScaleMode::Channel ? N : (N / bn) * (K / bk);
      std::vector<float> amax(size_t(nsc), 0.0f), scales(static_cast<size_t>(nsc));
      auto group = [&](int n, int k) {
        return mode == Fp8ScaleMode::Tensor ? 0 : mode == Fp8ScaleMode::Channel ? n : (n / bn) * (K / bk) + k / bk;
      };
      for (int n = 0; n < N; ++n)
        for (int k = 0; k < K; ++k)
          amax[size_t(group(n, k))] = std::max(amax[size_t(group(n, k))], std::fabs(wf[size_t(n) * K + k]));
      for (int i = 0; i < nsc; ++i) scales[size_t(i)] = fp8_scale_from_amax(amax[size_t(i)]);
      std::vector<uint8_t> q(wf.size());
      std::vector<float> deq(wf.size());
      for (int n = 0; n < N; ++n)
        for (int k = 0; k < K; ++k) {
          const size_t i = size_t(n) * K + k;
          q[i] = fp8_quantize(wf[i], scales[size_t(group(n, k))]);
          deq[i] = fp8_dequantize(q[i], scales[size_t(group(n, k))]);
        }
      const auto ref = cblas_ref(x, deq, T, N, K);
      float* dx = to_device(x);
      uint8_t* dq = to_device(q);
      float* ds = to_device(scales);
      float* dy = nullptr;
      G2_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&dy), ref.size() * sizeof(float)));
      const GemmPath path = ctx.fp8(dx, dq, ds, mode, bn, bk, dy, T, N, K, false);
      G2_CUDA_CHECK(cudaStreamSynchronize(s));
      // Fp8Lt also quantises the activations (e4m3, ~2^-4 relative per element); the
      // fallback rounds them to bf16 (2^-9).
      const double tol = path == GemmPath::Fp8Lt ? 0.08 : 0.01;
      Tolerance t;
      t.elementwise = false;
      t.max_rel_rms = tol;
      t.min_cosine = path == GemmPath::Fp8Lt ? 0.99 : 0.9999;
      gputest::expect_close(from_device(dy, ref.size()), ref, t, gemm_path_name(path).data());
      if (mode == Fp8ScaleMode::Tensor && device_has_fp8_gemm(ctx.cc_major(), ctx.cc_minor())) {
        EXPECT_EQ(path, GemmPath::Fp8Lt) << "sm_89+ should take the cuBLASLt FP8 path";
      }
      if (mode != Fp8ScaleMode::Tensor) {
        EXPECT_EQ(path, GemmPath::Fp8AsBf16);
      }
      cudaFree(dx);
      cudaFree(dq);
      cudaFree(ds);
      cudaFree(dy);
    }
  }
  cudaStreamDestroy(s);
}

}  // namespace
}  // namespace g2
