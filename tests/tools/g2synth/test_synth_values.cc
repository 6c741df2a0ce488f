// g2synth's value generator: the vectorised path (polynomial log/cos, 8 lanes) gives exactly
// the scalar definition's f32 bits (libm log/cos), for every distribution g2synth uses, at
// small and large element indices, for any run length and start; the fallback to the
// definition is exercised by forcing a wide tolerance; different seeds and names differ.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "tools/g2synth/synth_values.h"

namespace g2::synth {
namespace {

// Elements of fill_checked / fill_keyed that differ bitwise from reference_value.
uint64_t mismatches(uint64_t key, Distribution d, uint64_t begin, const std::vector<float>& got) {
  uint64_t bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const float want = reference_value(key, d, begin + i);
    bad += std::memcmp(&want, &got[i], 4) != 0;
  }
  return bad;
}

const Distribution kDists[] = {
    {0.0f, 0.0110485435f},  // a linear weight, fan-in 8192
    {1.0f, 0.05f},          // a norm
    {0.0f, 1.0f},
};

TEST(SynthValues, VectorisedPathEqualsTheDefinition) {
  for (const Distribution& d : kDists) {
    for (uint64_t begin : {uint64_t(0), uint64_t(5), (uint64_t(1) << 40) + 3}) {
      const uint64_t key = value_key(7, "model.layers.0.block_sparse_moe.experts.3.w1.weight");
      std::vector<float> out(1 << 20);
      const uint64_t redone = fill_checked(key, d, begin, out.size(), out.data(), kFillTolerance);
      EXPECT_EQ(mismatches(key, d, begin, out), 0u) << "mean " << d.mean << " std " << d.std << " begin " << begin;
      // the polynomial path decides nearly every element (~1e-5 fall back)
      EXPECT_LT(redone, out.size() / 1000) << "mean " << d.mean << " std " << d.std;
    }
  }
}

TEST(SynthValues, FallbackToTheDefinitionIsExact) {
  // A wide tolerance sends most elements through the fallback; the result must not change.
  const Distribution d = kDists[0];
  const uint64_t key = value_key(3, "w");
  std::vector<float> wide(100003), exact(wide.size());
  const uint64_t redone = fill_checked(key, d, 17, wide.size(), wide.data(), 1e-3);
  EXPECT_GT(redone, wide.size() / 2);
  fill_keyed(key, d, 17, exact.size(), exact.data());
  EXPECT_EQ(std::memcmp(wide.data(), exact.data(), wide.size() * 4), 0);
  EXPECT_EQ(mismatches(key, d, 17, wide), 0u);
}

TEST(SynthValues, RunsOfAnyLengthAndStartAgree) {
  // Element i is the same whether it is produced in one long run or in short odd ones
  // (vector body plus scalar tail).
  const Distribution d = kDists[1];
  const uint64_t key = value_key(1, "norm");
  std::vector<float> whole(1000), pieces(whole.size());
  fill_keyed(key, d, 100, whole.size(), whole.data());
  for (size_t at = 0, n = 1; at < pieces.size(); at += n, n = n % 13 + 1)
    fill_keyed(key, d, 100 + at, std::min(n, pieces.size() - at), pieces.data() + at);
  EXPECT_EQ(std::memcmp(whole.data(), pieces.data(), whole.size() * 4), 0);
}

TEST(SynthValues, KeysSeparateSeedsAndNames) {
  EXPECT_NE(value_key(1, "a"), value_key(2, "a"));
  EXPECT_NE(value_key(1, "a"), value_key(1, "b"));
  std::vector<float> a(64), b(64);
  fill_keyed(value_key(1, "a"), kDists[2], 0, a.size(), a.data());
  fill_keyed(value_key(2, "a"), kDists[2], 0, b.size(), b.data());
  EXPECT_NE(std::memcmp(a.data(), b.data(), a.size() * 4), 0);
}

}  // namespace
}  // namespace g2::synth
