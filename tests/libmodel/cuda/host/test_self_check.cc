// Backend self-check (libmodel/cuda/host/self_check.h) on the host: two CPU backends agree;
// a backend with a deliberately wrong op is refused; only layer 0 is ever read.
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "libmodel/backend.h"
#include "libmodel/cuda/host/self_check.h"
#include "tests/libmodel/delegating_backend.h"
#include "tests/libmodel/model_fixtures.h"

namespace g2 {
namespace {

// Delegates every op to the CPU backend; `fault` selects one op to get subtly wrong.
enum class Fault { None, RmsnormScale, AttentionNoSoftcap, RouterTieToHigher, StoredGemm, RoundBf16 };

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
  // The GEMM on stored weights only (the fused path): matmul on f32 copies stays right.
  void matmul_stored(const float* x, int ldx, const StoredWeight& w, float* y, int ldy, int T, bool acc) override {
    ++stored_calls;
    cpu_->matmul_stored(x, ldx, w, y, ldy, T, acc);
    if (f_ == Fault::StoredGemm) cpu_->scale(y, size_t(T - 1) * size_t(ldy) + size_t(w.rows), 1.001f);
  }
  void matmul(const float* x, int ldx, const float* w, int ldw, float* y, int ldy, int T, int N, int K,
              bool acc) override {
    ++matmul_calls;
    cpu_->matmul(x, ldx, w, ldw, y, ldy, T, N, K, acc);
  }
  // Reference precision's bf16 rounding only (f32 precision never calls it).
  void round_bf16(float* x, size_t n) override {
    if (f_ != Fault::RoundBf16) cpu_->round_bf16(x, n);
  }
  void router(float* logits, int T, int E, int k, float cap, int32_t* idx, float* gate) override {
    cpu_->router(logits, T, E, k, cap, idx, gate);
    if (f_ == Fault::RouterTieToHigher)
      for (int t = 0; t < T; ++t) idx[size_t(t) * k] = (idx[size_t(t) * k] + 1) % E;  // wrong expert
  }

  int stored_calls = 0, matmul_calls = 0;

 private:
  Fault f_;
};

// Records which layers the forward asked for (dequantized or as stored views).
class LayerSpy final : public DelegatingWeights {
 public:
  using DelegatingWeights::DelegatingWeights;
  Expected<Matrix> matrix(Role role, int layer, int expert, bool exact) override {
    layers.insert(layer);
    return inner_.matrix(role, layer, expert, exact);
  }
  std::optional<StoredWeight> stored(Role role, int layer, int expert) override {
    layers.insert(layer);
    return inner_.stored(role, layer, expert);
  }
  std::string describe() const override { return "spy"; }
  std::set<int> layers;
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

// The self-check must run the path the real run takes: the GEMM on stored weights (the
// one-layer view forwards WeightSource::stored), so a backend whose stored-weight GEMM is
// wrong is refused; with fused_weights off (g2diff --dequantized-weights) that GEMM is not
// used by the run, nor by its self-check.
TEST(SelfCheck, ChecksTheStoredWeightGemmTheRunUses) {
  const ModelConfig c = testing::tiny_config(true);
  MemoryWeights w = testing::random_weights(c, Family::Grok2, 13);
  auto cpu = make_cpu_backend();
  FaultyBackend bad(Fault::StoredGemm);
  auto rep = backend_self_check(w, *cpu, bad, kTokens);
  ASSERT_TRUE(rep.ok()) << rep.message();
  EXPECT_GT(bad.stored_calls, 0) << "the one-layer view must hand out the stored views";
  EXPECT_FALSE(rep->pass) << "a wrong stored-weight GEMM went unnoticed:\n" << rep->summary();

  FaultyBackend bad2(Fault::StoredGemm);
  SelfCheckOptions dequantized;
  dequantized.forward.fused_weights = false;
  auto rep2 = backend_self_check(w, *cpu, bad2, kTokens, dequantized);
  ASSERT_TRUE(rep2.ok()) << rep2.message();
  EXPECT_EQ(bad2.stored_calls, 0);
  EXPECT_TRUE(rep2->pass) << rep2->summary();
}

// The run's precision and TP reach the forward the self-check runs.
TEST(SelfCheck, RunsTheRunsPrecisionAndTp) {
  const ModelConfig c = testing::tiny_config(true, 8, 8, 4);
  MemoryWeights w = testing::random_weights(c, Family::Grok2, 17);
  auto cpu = make_cpu_backend();
  FaultyBackend no_rounding(Fault::RoundBf16);
  auto f32 = backend_self_check(w, *cpu, no_rounding, kTokens);
  ASSERT_TRUE(f32.ok()) << f32.message();
  EXPECT_TRUE(f32->pass) << "f32 precision never rounds to bf16\n" << f32->summary();
  SelfCheckOptions ref;
  ref.forward.precision = Precision::Reference;
  auto r = backend_self_check(w, *cpu, no_rounding, kTokens, ref);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_FALSE(r->pass) << "reference precision must run the bf16 rounding points\n" << r->summary();

  // TP 4 rank by rank: every split weight is multiplied per rank shard, so more GEMM calls.
  FaultyBackend merged(Fault::None), ranked(Fault::None);
  SelfCheckOptions tp4;
  tp4.forward.tp = 4;
  auto a = backend_self_check(w, *cpu, merged, kTokens);
  auto b = backend_self_check(w, *cpu, ranked, kTokens, tp4);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(b->pass) << b->summary();
  EXPECT_GT(ranked.stored_calls, merged.stored_calls);
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
