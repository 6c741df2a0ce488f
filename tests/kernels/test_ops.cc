// The shared per-row math against straightforward double-precision formulas.
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/ops/activation.h"
#include "kernels/ops/attention.h"
#include "kernels/ops/rmsnorm.h"
#include "kernels/ops/rope.h"
#include "kernels/ops/softmax_topk.h"

namespace g2 {
namespace {

TEST(Ops, Softcap) {
  EXPECT_FLOAT_EQ(softcap(10.0f, 30.0f), float(30.0 * std::tanh(10.0 / 30.0)));
  EXPECT_EQ(softcap(1e6f, 0.0f), 1e6f);  // 0 = off
  EXPECT_NEAR(softcap(1e6f, 30.0f), 30.0f, 1e-5);
}

TEST(Ops, Gelu) {
  for (double x : {-3.0, -1.0, -0.1, 0.0, 0.5, 2.0}) {
    const double erf_ref = 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
    const double tanh_ref = 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
    EXPECT_NEAR(gelu(float(x), GeluKind::Erf), erf_ref, 1e-6);
    EXPECT_NEAR(gelu(float(x), GeluKind::Tanh), tanh_ref, 1e-6);
  }
}

TEST(Ops, RmsNorm) {
  float x[4] = {1, -2, 3, 0.5f}, s[4] = {1, 2, 0.5f, 1}, y[4];
  rmsnorm_row(x, s, y, 4, 1e-5f);
  double ms = (1 + 4 + 9 + 0.25) / 4;
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(y[i], x[i] / std::sqrt(ms + 1e-5) * s[i], 1e-6);
}

TEST(Ops, RopeHalfSplit) {
  float x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  rope_head(x, 8, 5, rope_inv_freq(8, 10000.0f).data());
  const double in[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  for (int i = 0; i < 4; ++i) {
    const double a = 5.0 * std::pow(10000.0, -2.0 * i / 8);
    EXPECT_NEAR(x[i], in[i] * std::cos(a) - in[i + 4] * std::sin(a), 1e-4);
    EXPECT_NEAR(x[i + 4], in[i + 4] * std::cos(a) + in[i] * std::sin(a), 1e-4);
  }
  float y[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  rope_head(y, 8, 0, rope_inv_freq(8, 10000.0f).data());  // position 0 is the identity
  for (int i = 0; i < 8; ++i) EXPECT_EQ(y[i], in[i]);
}

// The one inv_freq table both backends use: theta^(-2i/d) in f32, within an ulp of the
// exact value, and the angle is exactly one f32 product with it (what the device computes).
TEST(Ops, RopeInvFreqTableIsTheSharedF32Formula) {
  for (float theta : {10000.0f, 208533496.0f}) {
    const std::vector<float> f = rope_inv_freq(128, theta);
    ASSERT_EQ(f.size(), 64u);
    EXPECT_EQ(f[0], 1.0f);
    for (int i = 0; i < 64; ++i) {
      const double exact = std::pow(double(theta), -2.0 * i / 128.0);
      EXPECT_LE(std::fabs(f[size_t(i)] - exact), std::ldexp(std::fabs(exact), -23)) << "i " << i;
      EXPECT_EQ(rope_angle(1000, f[size_t(i)]), 1000.0f * f[size_t(i)]);
      if (i > 0) {
        EXPECT_LT(f[size_t(i)], f[size_t(i - 1)]);
      }
    }
  }
  EXPECT_TRUE(rope_inv_freq(0, 10000.0f).empty());
}

TEST(Ops, SoftmaxTopkTiesKeepLowerIndex) {
  float x[5] = {1, 3, 3, 0, 2};
  int idx[2];
  float val[2];
  topk_row(x, 5, 2, idx, val);
  EXPECT_EQ(idx[0], 1);
  EXPECT_EQ(idx[1], 2);
  softmax_row(x, 5);
  double s = 0;
  for (float v : x) s += v;
  EXPECT_NEAR(s, 1.0, 1e-6);
  EXPECT_NEAR(x[1] / x[0], std::exp(2.0), 1e-4);
}

TEST(Ops, AttentionTemperature) {
  EXPECT_EQ(attn_temperature(3, 4), 1.0f);
  EXPECT_EQ(attn_temperature(4, 4), 1.0f);
  EXPECT_NEAR(attn_temperature(16, 4), 2.0f, 1e-6);
  EXPECT_EQ(attn_temperature(100, 0), 1.0f);  // off
}

}  // namespace
}  // namespace g2
