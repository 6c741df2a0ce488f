#include <gtest/gtest.h>

#include <cmath>

#include "kernels/codecs.h"
#include "libmodel/compare.h"
#include "libmodel/forward.h"
#include "model_fixtures.h"

namespace g2 {
namespace {

using testing::near;
using testing::oracle_forward;
using testing::random_weights;
using testing::tiny_config;

std::vector<float> to_f32(const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); }

ActivationRecord run(WeightSource& w, std::vector<int32_t> tokens, ForwardOptions o = {}) {
  auto be = make_cpu_backend();
  auto r = run_forward(w, *be, tokens, o);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.message());
  return r.ok() ? std::move(*r) : ActivationRecord{};
}

// One token, one layer, hand-checkable weights: a single key means softmax = 1, so the
// attention output is v; zero router weights tie all experts (lower indices win) and zero
// expert gate weights give gelu(0) = 0, so the FFN adds rmsnorm(0) = 0.
TEST(Forward, OneTokenHandChecked) {
  ModelConfig c = tiny_config(false, 2, 1, 2);  // H = 4
  c.num_hidden_layers = 1;
  c.embedding_multiplier_scale = 2.0;
  MemoryWeights w(c, Family::Grok1);
  Matrix emb = Matrix::zeros(c.vocab_size, 4);
  for (int i = 0; i < 4; ++i) emb.at(3, i) = float(i + 1);  // token 3 -> [1, 2, 3, 4]
  w.set(Role::Embedding, -1, -1, emb);
  Matrix ones{std::vector<float>(4, 1.0f), 1, 4};
  for (Role r : {Role::PreAttnNorm, Role::PostAttnNorm, Role::PreMoeNorm, Role::PostMoeNorm}) w.set(r, 0, -1, ones);
  w.set(Role::FinalNorm, -1, -1, ones);
  Matrix wq = Matrix::zeros(4, 4), wk = Matrix::zeros(2, 4), wv = Matrix::zeros(2, 4), wo = Matrix::zeros(4, 4);
  wv.at(0, 0) = 1;  // v = [x0, x1]
  wv.at(1, 1) = 1;
  for (int i = 0; i < 4; ++i) wo.at(i, i) = 1;
  w.set(Role::AttnQ, 0, -1, wq);
  w.set(Role::AttnK, 0, -1, wk);
  w.set(Role::AttnV, 0, -1, wv);
  w.set(Role::AttnO, 0, -1, wo);
  w.set(Role::Router, 0, -1, Matrix::zeros(c.num_local_experts, 4));
  std::mt19937 rng(1);
  for (int e = 0; e < c.num_local_experts; ++e) {
    w.set(Role::ExpertGate, 0, e, Matrix::zeros(16, 4));
    w.set(Role::ExpertUp, 0, e, testing::random_matrix(rng, 16, 4, 1.0f));
    w.set(Role::ExpertDown, 0, e, Matrix::zeros(4, 16));
  }
  ActivationRecord r = run(w, {3});
  ASSERT_EQ(r.layers.size(), 1u);
  // h0 = 2 * [1,2,3,4]; x = h0 / sqrt(mean(h0^2) + eps); attention out a = [x0, x1, x0, x1]
  const double h0[4] = {2, 4, 6, 8};
  const double inv = 1.0 / std::sqrt((4 + 16 + 36 + 64) / 4.0 + 1e-5);
  const double a[4] = {2 * inv, 4 * inv, 2 * inv, 4 * inv};
  const double ainv = 1.0 / std::sqrt((a[0] * a[0] + a[1] * a[1]) / 2.0 + 1e-5);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(r.layers[0].attn_residual[size_t(i)], h0[i] + a[i] * ainv, 1e-5);
  for (float v : r.layers[0].router_logits) EXPECT_EQ(v, 0.0f);
  EXPECT_EQ(r.layers[0].experts, (std::vector<int32_t>{0, 1}));  // ties: lower index first
  EXPECT_EQ(r.layers[0].residual, r.layers[0].attn_residual);
  ASSERT_EQ(r.logits.size(), size_t(c.vocab_size));
  // Tied output: logits[v] = emb[v] . final_norm(h) * output multiplier; only token 3's row is non-zero.
  for (int64_t v = 0; v < c.vocab_size; ++v)
    if (v != 3) {
      EXPECT_EQ(r.logits[size_t(v)], 0.0f);
    }
  EXPECT_GT(r.logits[3], 0.0f);
}

void expect_matches_oracle(bool grok2, std::vector<int32_t> tokens, double tol) {
  ModelConfig c = tiny_config(grok2);
  MemoryWeights w = random_weights(c, grok2 ? Family::Grok2 : Family::Grok1, grok2 ? 7 : 11);
  auto want = oracle_forward(w, tokens);
  ActivationRecord got = run(w, tokens);
  ASSERT_EQ(got.layers.size(), size_t(c.num_hidden_layers));
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    auto a = compare(got.layers[size_t(l)].attn_residual, to_f32(want.attn_residual[size_t(l)]), near(tol));
    auto b = compare(got.layers[size_t(l)].residual, to_f32(want.residual[size_t(l)]), near(tol));
    EXPECT_TRUE(a.pass) << "layer " << l << " attn rel_rms " << a.rel_rms;
    EXPECT_TRUE(b.pass) << "layer " << l << " residual rel_rms " << b.rel_rms;
    std::vector<int32_t> e(want.experts[size_t(l)].begin(), want.experts[size_t(l)].end());
    EXPECT_EQ(got.layers[size_t(l)].experts, e) << "layer " << l;
  }
  auto lg = compare(got.logits, to_f32(want.logits), near(tol));
  EXPECT_TRUE(lg.pass) << "logits rel_rms " << lg.rel_rms;
}

// Grok-2: T = 7 > attn_temperature_len = 3, so positions 4..6 use the length temperature.
TEST(Forward, Grok2MatchesDoubleOracle) { expect_matches_oracle(true, {1, 5, 9, 13, 2, 39, 20}, 2e-5); }
TEST(Forward, Grok1MatchesDoubleOracle) { expect_matches_oracle(false, {4, 8, 15, 16, 23, 0, 31}, 2e-5); }

// The temperature must change the result (guards against the path being dead).
TEST(Forward, TemperatureIsExercised) {
  ModelConfig c = tiny_config(true);
  MemoryWeights w = random_weights(c, Family::Grok2, 7);
  ModelConfig c2 = c;
  c2.attn_temperature_len = 0;
  MemoryWeights w2 = random_weights(c2, Family::Grok2, 7);
  std::vector<int32_t> tok{1, 5, 9, 13, 2, 39, 20};
  auto a = run(w, tok), b = run(w2, tok);
  const size_t H = size_t(c.hidden_size);
  // Tokens 0..3 (positions <= L) identical, later ones differ.
  for (size_t i = 0; i < 4 * H; ++i) ASSERT_EQ(a.layers[0].attn_residual[i], b.layers[0].attn_residual[i]);
  double diff = 0;
  for (size_t i = 4 * H; i < 7 * H; ++i) diff += std::fabs(a.layers[0].attn_residual[i] - b.layers[0].attn_residual[i]);
  EXPECT_GT(diff, 0.0);
}

// Rank-by-rank execution vs merged: same math, the GEMMs' K-split partial sums are added in
// rank order, so results agree to f32 accumulation-order error (not bit-identical).
void expect_tp_matches(bool grok2, int heads, int kv, int tp) {
  ModelConfig c = tiny_config(grok2, heads, kv, 4);
  c.moe_intermediate_size = 32;
  if (grok2) c.intermediate_size = 32;
  MemoryWeights w = random_weights(c, grok2 ? Family::Grok2 : Family::Grok1, 3);
  std::vector<int32_t> tok{3, 1, 4, 1, 5, 9, 2, 6};
  auto merged = run(w, tok);
  ForwardOptions o;
  o.tp = tp;
  auto ranked = run(w, tok, o);
  ASSERT_EQ(ranked.layers.size(), merged.layers.size());
  for (size_t l = 0; l < merged.layers.size(); ++l) {
    auto r = compare(ranked.layers[l].residual, merged.layers[l].residual, near(1e-5));
    EXPECT_TRUE(r.pass) << "tp " << tp << " layer " << l << " rel_rms " << r.rel_rms;
    EXPECT_EQ(ranked.layers[l].experts, merged.layers[l].experts);
  }
  EXPECT_TRUE(compare(ranked.logits, merged.logits, near(1e-5)).pass);
}

TEST(Forward, TensorParallelGrok2) {
  for (int tp : {2, 4, 8}) expect_tp_matches(true, 8, 8, tp);
  expect_tp_matches(true, 16, 8, 16);  // tp > kv heads: each KV head replicated on 2 ranks
}
TEST(Forward, TensorParallelGrok1) { expect_tp_matches(false, 8, 8, 8); }

// Reference precision rounds the residual stream to bf16 and stays close to f32.
TEST(Forward, ReferencePrecision) {
  for (bool grok2 : {false, true}) {
    ModelConfig c = tiny_config(grok2);
    MemoryWeights w = random_weights(c, grok2 ? Family::Grok2 : Family::Grok1, 5);
    std::vector<int32_t> tok{1, 2, 3, 4, 5, 6};
    ForwardOptions o;
    o.precision = Precision::Reference;
    auto ref = run(w, tok, o), f32 = run(w, tok);
    for (const auto& la : ref.layers)
      for (float v : la.residual) ASSERT_EQ(v, round_bf16(v));
    if (!grok2) {
      for (float v : ref.logits) ASSERT_EQ(v, round_bf16(v));  // Grok-1: bf16 logits (no final softcap)
    }
    auto r = compare(ref.layers.back().residual, f32.layers.back().residual, near(3e-2));
    EXPECT_TRUE(r.pass) << r.rel_rms;
    EXPECT_GT(r.rel_rms, 0.0);  // it does round
  }
}

TEST(Forward, YarnIsRefused) {
  ModelConfig c = tiny_config(true);
  c.rope_type = RopeType::Yarn;
  c.original_max_position_embeddings = 8;
  MemoryWeights w = random_weights(c, Family::Grok2, 1);
  auto be = make_cpu_backend();
  std::vector<int32_t> tok{1};
  auto r = run_forward(w, *be, tok, {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("yarn"), std::string::npos);
}

TEST(Forward, LayerPrefixHasNoLogits) {
  ModelConfig c = tiny_config(true);
  MemoryWeights w = random_weights(c, Family::Grok2, 1);
  ForwardOptions o;
  o.num_layers = 1;
  auto r = run(w, {1, 2}, o);
  EXPECT_EQ(r.layers.size(), 1u);
  EXPECT_TRUE(r.logits.empty());
}

}  // namespace
}  // namespace g2
