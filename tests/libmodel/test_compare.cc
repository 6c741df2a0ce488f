#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "libmodel/compare.h"

namespace g2 {
namespace {

TEST(Compare, ExactAndWorstElement) {
  Tolerance t;  // exact
  std::vector<float> a{1, 2, 3, 4}, b{1, 2, 3, 4};
  auto r = compare(a, b, t);
  EXPECT_TRUE(r.pass);
  EXPECT_EQ(r.max_abs, 0.0);
  EXPECT_EQ(r.cosine, 1.0);
  b[2] = 3.5f;
  b[1] = 2.25f;
  r = compare(a, b, t);
  EXPECT_FALSE(r.pass);
  EXPECT_EQ(r.n_fail, 2u);
  EXPECT_EQ(r.worst_index, 2u);
  EXPECT_DOUBLE_EQ(r.max_abs, 0.5);
  EXPECT_DOUBLE_EQ(r.max_rel, 0.5 / 3.5);
  ASSERT_EQ(r.first_mismatches.size(), 2u);
  EXPECT_EQ(r.first_mismatches[0].index, 1u);
  EXPECT_NEAR(r.rel_rms, std::sqrt((0.25 + 0.0625) / (1 + 2.25 * 2.25 + 3.5 * 3.5 + 16)), 1e-12);
}

TEST(Compare, AtolRtolAndAggregates) {
  Tolerance t;
  t.atol = 0.1;
  t.rtol = 0.01;
  std::vector<float> ref{10, -10, 0}, got{10.19f, -10.25f, 0.09f};
  auto r = compare(got, ref, t);
  ASSERT_EQ(r.n_fail, 1u);  // -10.25: 0.25 > 0.1 + 0.1
  EXPECT_EQ(r.first_mismatches[0].index, 1u);
  t.atol = 0.16;
  EXPECT_TRUE(compare(got, ref, t).pass);
  t.max_rel_rms = 1e-3;
  EXPECT_FALSE(compare(got, ref, t).pass);
}

TEST(Compare, NaNAndShape) {
  Tolerance t;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> a{nan, 1}, b{nan, 1};
  EXPECT_TRUE(compare(a, b, t).pass);
  b[0] = 0;
  auto r = compare(a, b, t);
  EXPECT_FALSE(r.pass);
  EXPECT_TRUE(std::isinf(r.max_abs));
  std::vector<float> c{1};
  EXPECT_FALSE(compare(a, c, t).pass);
}

TEST(Compare, RouterAndLogitsMetrics) {
  std::vector<int32_t> a{0, 1, 2, 3}, b{1, 0, 2, 4};
  EXPECT_DOUBLE_EQ(router_agreement(a, b, 2, 2), 0.5);
  std::vector<float> l1{0, 1, 2, 5, 4, 3}, l2{0, 2, 1, 3, 4, 5};
  EXPECT_DOUBLE_EQ(logits_topk_agreement(l1, l2, 2, 3, 1), 0.0);
  EXPECT_DOUBLE_EQ(logits_topk_agreement(l1, l1, 2, 3, 1), 1.0);
  EXPECT_DOUBLE_EQ(logits_topk_agreement(l1, l2, 2, 3, 3), 1.0);
  EXPECT_NEAR(logits_kl(l1, l1, 2, 3), 0.0, 1e-12);
  EXPECT_GT(logits_kl(l1, l2, 2, 3), 0.01);
}

TEST(Compare, Presets) {
  Tolerance t;
  EXPECT_TRUE(tolerance_preset("fp8", &t));
  EXPECT_FALSE(t.elementwise);
  EXPECT_TRUE(tolerance_preset("exact", &t));
  EXPECT_EQ(t.atol, 0.0);
  EXPECT_EQ(t.rtol, 0.0);
  EXPECT_TRUE(tolerance_preset("int8", &t));
  EXPECT_GT(t.max_rel_rms, 0.0);
  EXPECT_FALSE(tolerance_preset("nope", &t));
}

}  // namespace
}  // namespace g2
