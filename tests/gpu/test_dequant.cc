// Device dequantisation and activation quantisation vs the shared host math (label gpu):
// the same G2_HD functions on both sides, so the results are bit-exact.
#include <cuda_runtime.h>

#include <cmath>
#include <cstring>

#include "kernels/codecs.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/dequant.cuh"
#include "kernels/ops/quant.h"
#include "tests/gpu/gpu_util.h"

namespace g2 {
namespace {

template <class T>
struct Dev {
  T* p = nullptr;
  size_t n = 0;
  explicit Dev(size_t count) : n(count) { G2_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&p), n * sizeof(T))); }
  explicit Dev(const std::vector<T>& h) : Dev(h.size()) {
    G2_CUDA_CHECK(cudaMemcpy(p, h.data(), n * sizeof(T), cudaMemcpyHostToDevice));
  }
  ~Dev() { cudaFree(p); }
  std::vector<T> get() const {
    std::vector<T> h(n);
    G2_CUDA_CHECK(cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost));
    return h;
  }
};

std::vector<uint8_t> random_codes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& c : v) {
    c = uint8_t(rng());
    if ((c & 0x7f) == 0x7f) c = 0x42;  // no NaN codes: compare by value
  }
  return v;
}

TEST(CudaDequant, Fp8BlockScalesWithRaggedEdges) {
  G2_REQUIRE_GPU();
  const int64_t N = 200, K = 300;
  const int bn = 128, bk = 128;
  const int64_t sn = (N + bn - 1) / bn, sk = (K + bk - 1) / bk;
  const auto q = random_codes(size_t(N * K), 1);
  std::vector<float> sc(size_t(sn * sk));
  for (size_t i = 0; i < sc.size(); ++i) sc[i] = 0.001f * float(i + 1);
  Dev<uint8_t> dq(q);
  Dev<float> ds(sc);
  Dev<float> out(size_t(N * K));
  Dev<uint16_t> outb(size_t(N * K));
  cuda::launch_dequant_fp8(dq.p, ds.p, Fp8ScaleMode::Block, N, K, bn, bk, out.p, nullptr, nullptr);
  cuda::launch_dequant_fp8(dq.p, ds.p, Fp8ScaleMode::Block, N, K, bn, bk, nullptr, outb.p, nullptr);
  const auto got = out.get();
  const auto gotb = outb.get();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k) {
      const size_t i = size_t(n * K + k);
      const float want = fp8_dequantize(q[i], sc[size_t((n / bn) * sk + k / bk)]);
      ASSERT_EQ(got[i], want) << n << "," << k;
      ASSERT_EQ(gotb[i], bf16::from_float(want).bits) << n << "," << k;
    }
}

TEST(CudaDequant, Fp8ChannelAndTensorScales) {
  G2_REQUIRE_GPU();
  const int64_t N = 64, K = 48;
  const auto q = random_codes(size_t(N * K), 2);
  std::vector<float> sc = gputest::randn(size_t(N), 3, 0.01f);
  for (auto& s : sc) s = std::fabs(s) + 1e-4f;
  Dev<uint8_t> dq(q);
  Dev<float> ds(sc);
  Dev<float> out(size_t(N * K));
  for (auto mode : {Fp8ScaleMode::Channel, Fp8ScaleMode::Tensor}) {
    cuda::launch_dequant_fp8(dq.p, ds.p, mode, N, K, 0, 0, out.p, nullptr, nullptr);
    const auto got = out.get();
    for (int64_t i = 0; i < N * K; ++i) {
      const float s = mode == Fp8ScaleMode::Channel ? sc[size_t(i / K)] : sc[0];
      ASSERT_EQ(got[size_t(i)], fp8_dequantize(q[size_t(i)], s)) << i;
    }
  }
}

TEST(CudaDequant, Grok1Int8BlockedScalesRoundToBf16) {
  G2_REQUIRE_GPU();
  const int64_t E = 2, K = 64, N = 24, G = 8;
  std::mt19937 rng(4);
  std::vector<int8_t> w(size_t(E * K * N));
  for (auto& v : w) v = int8_t(int(rng() % 255) - 127);
  std::vector<uint16_t> sc(size_t(E * G * N));
  for (auto& s : sc) s = bf16::from_float(0.001f + float(rng() % 1000) * 1e-5f).bits;
  Dev<int8_t> dw(w);
  Dev<uint16_t> ds(sc);
  Dev<float> out(w.size());
  cuda::launch_dequant_grok1_int8(dw.p, ds.p, E, K, N, G, out.p, nullptr, nullptr);
  const auto got = out.get();
  for (int64_t e = 0; e < E; ++e)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t n = 0; n < N; ++n) {
        const size_t i = size_t((e * K + k) * N + n);
        const bf16 s{sc[size_t((e * G + k / (K / G)) * N + n)]};
        ASSERT_EQ(got[i], grok1_dequantize(w[i], s).to_float()) << e << "," << k << "," << n;
      }
}

TEST(CudaDequant, DynamicActivationQuantisation) {
  G2_REQUIRE_GPU();
  const auto x = gputest::randn(10007, 5, 7.0f);
  Dev<float> dx(x);
  Dev<uint8_t> dq(x.size());
  Dev<float> scale(2);
  cuda::launch_quantize_fp8_dynamic(dx.p, int64_t(x.size()), dq.p, scale.p, scale.p + 1, nullptr);
  float amax = 0;
  for (float v : x) amax = std::max(amax, std::fabs(v));
  const float want_scale = fp8_scale_from_amax(amax);
  EXPECT_EQ(scale.get()[0], want_scale);
  const auto q = dq.get();
  for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(q[i], fp8_quantize(x[i], want_scale)) << i;
}

}  // namespace
}  // namespace g2
