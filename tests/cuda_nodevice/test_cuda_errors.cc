// The CUDA build's error paths that need no device, run in the CPU suite wherever nvcc
// exists: a failing CUDA or cuBLAS call becomes a DeviceError carrying cudaGetErrorString /
// the cuBLAS status (not abort(), signal 134), which run_forward turns into an Io error; and
// a machine without a usable device gets a refusal that says why.
#include <gtest/gtest.h>

#include <cublas_api.h>

#include <string>

#include "kernels/cuda/check.h"
#include "libmodel/cuda/cuda_backend.h"
#include "libmodel/cuda/verified_backend.h"
#include "libmodel/forward.h"
#include "tests/libmodel/delegating_backend.h"
#include "tests/libmodel/model_fixtures.h"

namespace g2 {
namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(CudaErrors, CudaCheckThrowsWithTheRuntimesMessage) {
  try {
    G2_CUDA_CHECK(cudaErrorMemoryAllocation);
    FAIL() << "no exception";
  } catch (const DeviceError& e) {
    const std::string m = e.what();
    EXPECT_TRUE(contains(m, cudaGetErrorString(cudaErrorMemoryAllocation))) << m;
    EXPECT_TRUE(contains(m, "test_cuda_errors.cc:")) << m;
    EXPECT_TRUE(contains(m, "cudaErrorMemoryAllocation")) << "the failing expression: " << m;
  }
  EXPECT_NO_THROW(G2_CUDA_CHECK(cudaSuccess));
}

TEST(CudaErrors, CublasCheckThrowsWithTheStatusName) {
  try {
    G2_CUBLAS_CHECK(CUBLAS_STATUS_ALLOC_FAILED);
    FAIL() << "no exception";
  } catch (const DeviceError& e) {
    const std::string m = e.what();
    EXPECT_TRUE(contains(m, cublasGetStatusString(CUBLAS_STATUS_ALLOC_FAILED))) << m;
    EXPECT_TRUE(contains(m, "status 3")) << m;
  }
  EXPECT_NO_THROW(G2_CUBLAS_CHECK(CUBLAS_STATUS_SUCCESS));
}

// The real macro inside a backend op, through the real forward: an Io error, not a crash.
class OutOfMemoryBackend final : public DelegatingBackend {
 public:
  std::string_view name() const override { return "oom"; }
  void rmsnorm(const float*, const float*, float*, int, int, float) override {
    G2_CUDA_CHECK(cudaErrorMemoryAllocation);
  }
};

TEST(CudaErrors, RunForwardReturnsTheCudaErrorAsIo) {
  const ModelConfig c = testing::tiny_config(false);
  MemoryWeights w = testing::random_weights(c, Family::Grok1, 2);
  OutOfMemoryBackend be;
  auto r = run_forward(w, be, std::vector<int32_t>{1, 2}, ForwardOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Io);
  EXPECT_TRUE(contains(r.message(), cudaGetErrorString(cudaErrorMemoryAllocation))) << r.message();
}

// Without a usable device the refusal is an error that says why (driver too old, no device);
// with one, an out-of-range device is InvalidInput and there is no reason to report.
TEST(CudaErrors, NoDeviceIsAnErrorThatSaysWhy) {
  if (cuda_device_count() > 0) {
    EXPECT_EQ(cuda_unavailable_reason(), "");
    auto bad = make_cuda_backend(cuda_device_count());
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().kind, ErrorKind::InvalidInput);
    return;
  }
  const std::string why = cuda_unavailable_reason();
  EXPECT_TRUE(contains(why, "cudaGetDeviceCount: ")) << why;
  EXPECT_TRUE(contains(why, "runtime " + std::to_string(CUDART_VERSION / 1000) + ".")) << why;
  auto none = make_cuda_backend(0);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().kind, ErrorKind::Unsupported);
  EXPECT_EQ(none.message(), "no CUDA device: " + why);
  const ModelConfig c = testing::tiny_config(true);
  MemoryWeights w = testing::random_weights(c, Family::Grok2, 8);
  auto v = make_verified_cuda_backend(w, std::vector<int32_t>{1, 2, 3, 4}, 0);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().kind, ErrorKind::Unsupported);
  EXPECT_TRUE(contains(v.message(), "no CUDA device")) << v.message();
}

}  // namespace
}  // namespace g2
