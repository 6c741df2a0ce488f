// A backend whose device fails mid-forward (CUDA out of memory, a TP peer that never answers)
// throws DeviceError from a void op; run_forward must return that as an Io Error (the tools
// exit 2 with the message) and leave nothing half-done behind, on every machine.
#include <gtest/gtest.h>

#include "libmodel/forward.h"
#include "delegating_backend.h"
#include "model_fixtures.h"

namespace g2 {
namespace {

// Fails the n-th GEMM (either kind) like a device would.
class FailingBackend final : public DelegatingBackend {
 public:
  explicit FailingBackend(int fail_at) : fail_at_(fail_at) {}
  std::string_view name() const override { return "failing"; }
  void matmul(const float* x, int ldx, const float* w, int ldw, float* y, int ldy, int T, int N, int K,
              bool acc) override {
    tick();
    DelegatingBackend::matmul(x, ldx, w, ldw, y, ldy, T, N, K, acc);
  }
  void matmul_stored(const float* x, int ldx, const StoredWeight& w, float* y, int ldy, int T, bool acc) override {
    tick();
    DelegatingBackend::matmul_stored(x, ldx, w, y, ldy, T, acc);
  }
  int calls = 0;

 private:
  void tick() {
    if (++calls == fail_at_) throw DeviceError("g2kit CUDA error: cuda_backend.cc:1: cudaMallocAsync: out of memory");
  }
  int fail_at_;
};

TEST(ForwardDeviceError, IsAnIoErrorWithTheDevicesMessage) {
  const ModelConfig c = testing::tiny_config(true);
  MemoryWeights w = testing::random_weights(c, Family::Grok2, 9);
  for (int at : {1, 5, 12}) {
    FailingBackend be(at);
    auto r = run_forward(w, be, std::vector<int32_t>{1, 2, 3}, ForwardOptions{});
    ASSERT_FALSE(r.ok()) << "failure at GEMM " << at << " went unnoticed";
    EXPECT_EQ(r.error().kind, ErrorKind::Io);
    EXPECT_NE(r.message().find("out of memory"), std::string::npos) << r.message();
    EXPECT_EQ(be.calls, at) << "the forward must stop at the failing op";
  }
  FailingBackend never(-1);
  EXPECT_TRUE(run_forward(w, never, std::vector<int32_t>{1, 2, 3}, ForwardOptions{}).ok());
}

TEST(ForwardDeviceError, CatchDeviceErrorsKeepsOtherResults) {
  auto ok = catch_device_errors([]() -> Expected<int> { return 7; });
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 7);
  auto bad = catch_device_errors([]() -> Status { throw DeviceError("lost device"); });
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, ErrorKind::Io);
  EXPECT_EQ(bad.message(), "lost device");
}

}  // namespace
}  // namespace g2
