// Backend self-check (libmodel/cuda/host/self_check.h) on the host: two CPU backends agree;
// a backend with a deliberately wrong op is refused; only layer 0 is ever read.
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "libmodel/backend.h"
#include "libmodel/cuda/host/self_check.h"
#include "tests/model/delegating_backend.h"
#include "tests/model/model_fixtures.h"

namespace g2 {
namespace {

// Delegates every op to the CPU backend; `fault` selects one op to get subtly wrong.
enum class Fault { None, RmsnormScale, AttentionNoSoftcap, RouterTieToHigher };

class FaultyBackend final : public DelegatingBackend {
 public:
  explicit FaultyBackend(Fault f) : f_(f) {}
  std::string_view name() const override { return "faulty"; }
  void rmsnorm(const float* x, const float* s, float* y, int T, int H, float eps) override {
    cpu_->rmsnorm(x, s, y, T, H, eps);
    if (f_ == Fault::RmsnormScale) cpu_->scale(y, size_t(T) * H, 1.01f);
  }
  void attention(const float* q, const float* k, const float* v, float* out, const AttentionParams& p) override {
    AttentionParams pp = p;
    if (f_ == Fault::AttentionNoSoftcap) {
      pp.softcap = 0.0f;
      pp.scale *= 4.0f;  // make the missing cap matter on small random inputs
    }
    cpu_->attention(q, k, v, out, pp);
  }
  void router(float* logits, int T, int E, int k, float cap, int32_t* idx, float* gate) override {
    cpu_->router(logits, T, E, k, cap, idx, gate);
    if (f_ == Fault::RouterTieToHigher)
      for (int t = 0; t < T; ++t) idx[size_t(t) * k] = (idx[size_t(t) * k] + 1) % E;  // wrong expert
  }

 private:
  Fault f_;
};

// Records which layers the forward asked for.
class LayerSpy final : public WeightSource {
 public:
  explicit LayerSpy(WeightSource& w) : w_(w) {}
  const ModelConfig& config() const override { return w_.config(); }
  Family family() const override { return w_.family(); }
  Expected<Matrix> matrix(Role role, int layer, int expert, bool exact) override {
    layers.insert(layer);
    return w_.matrix(role, layer, expert, exact);
  }
  Expected<Matrix> embedding_rows(std::span<const int32_t> t) override { return w_.embedding_rows(t); }
  Expected<Matrix> output_rows(int64_t b, int64_t e) override { return w_.output_rows(b, e); }
  std::string describe() const override { return "spy"; }
  std::set<int> layers;

 private:
  WeightSource& w_;
};

const std::vector<int32_t> kTokens = {5, 17, 3, 42, 9, 1};

TEST(SelfCheck, IdenticalBackendsPassOnLayerZeroAndLogits) {
  for (bool grok2 : {false, true}) {
    const ModelConfig c = testing::tiny_config(grok2);
    MemoryWeights w = testing::random_weights(c, grok2 ? Family::Grok2 : Family::Grok1, 7);
    LayerSpy spy(w);
    auto a = make_cpu_backend(), b = make_cpu_backend();
    auto rep = backend_self_check(spy, *a, *b, kTokens);
    ASSERT_TRUE(rep.ok()) << rep.message();
    EXPECT_TRUE(rep->pass) << rep->summary();
    ASSERT_EQ(rep->entries.size(), 4u);
    EXPECT_EQ(rep->entries.back().name, "logits");
    for (const auto& e : rep->entries) EXPECT_EQ(e.result.max_abs, 0.0) << e.name;  // deterministic CPU
    EXPECT_EQ(rep->router_agreement, 1.0);
    EXPECT_EQ(spy.layers, (std::set<int>{-1, 0})) << "only layer 0 (and the global tensors) may be read";
    EXPECT_NE(rep->summary().find("agrees"), std::string::npos);
  }
}

TEST(SelfCheck, FaultyBackendsAreRefused) {
  const ModelConfig c = testing::tiny_config(true);
  MemoryWeights w = testing::random_weights(c, Family::Grok2, 11);
  for (Fault f : {Fault::RmsnormScale, Fault::AttentionNoSoftcap, Fault::RouterTieToHigher}) {
    auto cpu = make_cpu_backend();
    FaultyBackend bad(f);
    auto rep = backend_self_check(w, *cpu, bad, kTokens);
    ASSERT_TRUE(rep.ok()) << rep.message();
    EXPECT_FALSE(rep->pass) << "fault " << int(f) << " went unnoticed:\n" << rep->summary();
    EXPECT_NE(rep->summary().find("DISAGREES"), std::string::npos);
  }
}

TEST(SelfCheck, WithoutLogitsOnlyLayerZeroIsCompared) {
  const ModelConfig c = testing::tiny_config(false);
  MemoryWeights w = testing::random_weights(c, Family::Grok1, 3);
  auto a = make_cpu_backend(), b = make_cpu_backend();
  SelfCheckOptions o;
  o.logits = false;
  auto rep = backend_self_check(w, *a, *b, kTokens, o);
  ASSERT_TRUE(rep.ok()) << rep.message();
  EXPECT_EQ(rep->entries.size(), 3u);
  EXPECT_TRUE(rep->pass);
  EXPECT_FALSE(backend_self_check(w, *a, *b, std::vector<int32_t>{}).ok());
}

}  // namespace
}  // namespace g2

namespace g2 {
namespace {

TEST(SelfCheck, TolerancePerPrecisionAndOverride) {
  const Tolerance f = self_check_tolerance(Precision::F32), r = self_check_tolerance(Precision::Reference);
  EXPECT_LT(f.max_rel_rms, r.max_rel_rms);
  EXPECT_EQ(f.min_router_agreement, 1.0);
  // An explicit tolerance wins: a tiny fault passes a loose bound and fails the default one.
  const ModelConfig c = testing::tiny_config(true);
  MemoryWeights w = testing::random_weights(c, Family::Grok2, 5);
  auto cpu = make_cpu_backend();
  FaultyBackend bad(Fault::RmsnormScale);
  SelfCheckOptions loose;
  loose.tolerance = self_check_tolerance(Precision::F32);
  loose.tolerance->max_rel_rms = 0.5;
  loose.tolerance->min_cosine = 0.5;
  loose.tolerance->min_router_agreement = 0.0;
  loose.tolerance->min_top1_agreement = 0.0;
  auto ok = backend_self_check(w, *cpu, bad, kTokens, loose);
  ASSERT_TRUE(ok.ok()) << ok.message();
  EXPECT_TRUE(ok->pass) << ok->summary();
}

}  // namespace
}  // namespace g2
