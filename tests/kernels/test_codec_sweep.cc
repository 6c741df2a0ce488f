// The branch-free small-float encoder (kernels/codecs.h) against the branchy one it replaced,
// kept here only as a test oracle: both must give the same code for every f32 bit pattern.
// CI sweeps a strided sample of all 2^32 patterns (the stride is odd and not a power of two,
// so every low-bit residue and every exponent is hit) plus the neighbourhood of every code and
// every midpoint; G2_CODEC_SWEEP_ALL=1 sweeps all 2^32 patterns (~1 min in Release).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string_view>

#include "kernels/codecs.h"

namespace g2 {
namespace {

// The encoder as of commit 642d608 (rintf for subnormals, branches for each case).
template <int EXP, int MAN, bool FN>
uint8_t previous_encode(float f) {
  using C = small_float_codec<EXP, MAN, FN>;
  const uint32_t u = f32_bits(f);
  const uint8_t sign = uint8_t((u >> 24) & 0x80u);
  const uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return uint8_t(sign | C::kNaN);
  const uint32_t min_normal_bits = uint32_t(127 + 1 - C::kBias) << 23;
  uint32_t code;
  if (a < min_normal_bits) {
    const float scaled = f32_from_bits(a) * f32_from_bits(uint32_t(127 - (1 - C::kBias - MAN)) << 23);
    code = uint32_t(rintf(scaled));
  } else if (a >= 0x7f800000u) {
    code = 0xffffffffu;
  } else {
    const int shift = 23 - MAN;
    uint32_t r = a + ((1u << (shift - 1)) - 1u) + ((a >> shift) & 1u);
    const int e = int(r >> 23) - 127 + C::kBias;
    code = (e >= (1 << EXP)) ? 0xffffffffu : ((uint32_t(e) << MAN) | ((r >> shift) & ((1u << MAN) - 1u)));
  }
  if (code > C::kMaxCode) return uint8_t(sign | C::kInf);
  return uint8_t(sign | code);
}

// Compares both encoders on bit patterns start, start + stride, ... (mod 2^32, `count` of
// them); returns the number of mismatches and reports the first few.
template <int EXP, int MAN, bool FN>
uint64_t sweep(uint32_t start, uint32_t stride, uint64_t count) {
  uint64_t bad = 0;
  uint32_t u = start;
  for (uint64_t i = 0; i < count; ++i, u += stride) {
    const float f = f32_from_bits(u);
    const uint8_t got = small_float_codec<EXP, MAN, FN>::encode(f), want = previous_encode<EXP, MAN, FN>(f);
    if (got != want && ++bad <= 5)
      ADD_FAILURE() << "e" << EXP << "m" << MAN << " bits 0x" << std::hex << u << ": got 0x" << int(got) << ", was 0x"
                    << int(want);
  }
  return bad;
}

// Every code, every midpoint between adjacent codes and the overflow boundary, each +-8
// f32 ulps, both signs: where rounding decisions are made.
template <int EXP, int MAN, bool FN>
uint64_t boundaries() {
  using C = small_float_codec<EXP, MAN, FN>;
  uint64_t bad = 0;
  for (uint32_t c = 0; c < 0x80u; ++c) {
    const float v = C::decode(uint8_t(c));
    if (std::isnan(v) || std::isinf(v)) continue;
    // past the largest finite code: the value the next code would have (the overflow midpoint)
    float next = c + 1 < 0x80u ? C::decode(uint8_t(c + 1)) : NAN;
    if (!std::isfinite(next)) next = 2.0f * v - C::decode(uint8_t(c - 1));
    for (float x : {v, (v + next) / 2.0f}) {
      const uint32_t b = f32_bits(x);
      bad += sweep<EXP, MAN, FN>(b - 8, 1, 17);
      bad += sweep<EXP, MAN, FN>((b | 0x80000000u) - 8, 1, 17);
    }
  }
  return bad;
}

TEST(SmallFloatEncode, E4M3MatchesPreviousEncoder) {
  EXPECT_EQ((boundaries<4, 3, true>()), 0u);
  EXPECT_EQ((sweep<4, 3, true>(0, 251, (uint64_t(1) << 32) / 251 + 1)), 0u);
  // the f32 range e4m3 actually encodes (|x| < 2^10), denser: every 7th pattern
  EXPECT_EQ((sweep<4, 3, true>(0, 7, 0x44800000u / 7)), 0u);
}

TEST(SmallFloatEncode, E5M2MatchesPreviousEncoder) {
  EXPECT_EQ((boundaries<5, 2, false>()), 0u);
  EXPECT_EQ((sweep<5, 2, false>(3, 251, (uint64_t(1) << 32) / 251 + 1)), 0u);
}

TEST(SmallFloatEncode, AllPatternsWhenAsked) {
  const char* all = std::getenv("G2_CODEC_SWEEP_ALL");
  if (!all || std::string_view(all) != "1") GTEST_SKIP() << "set G2_CODEC_SWEEP_ALL=1 to sweep all 2^32 patterns";
  EXPECT_EQ((sweep<4, 3, true>(0, 1, uint64_t(1) << 32)), 0u);
  EXPECT_EQ((sweep<5, 2, false>(0, 1, uint64_t(1) << 32)), 0u);
}

}  // namespace
}  // namespace g2
