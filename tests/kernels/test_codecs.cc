// Exhaustive and randomized tests of the dtype codecs against an independent slow
// implementation written from the IEEE definitions: decode by the value formula in double,
// encode by searching the nearest representable value (ties to the even code).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/codecs.h"

namespace g2 {
namespace {

// ---- independent reference -------------------------------------------------------------

struct SmallFormat {
  int exp_bits, man_bits;
  bool fn;  // finite-only, NaN = all ones (e4m3fn)
  int bias() const { return (1 << (exp_bits - 1)) - 1; }
  int code_bits() const { return 1 + exp_bits + man_bits; }
};

// Value of a code per the definition (double, exact). NaN for NaN codes, +-inf for inf codes.
double ref_decode(const SmallFormat& f, uint32_t code) {
  const uint32_t sign = code >> (f.exp_bits + f.man_bits);
  const uint32_t e = (code >> f.man_bits) & ((1u << f.exp_bits) - 1);
  const uint32_t m = code & ((1u << f.man_bits) - 1);
  const uint32_t e_max = (1u << f.exp_bits) - 1;
  double v;
  if (f.fn) {
    if (e == e_max && m == (1u << f.man_bits) - 1) return std::numeric_limits<double>::quiet_NaN();
  } else if (e == e_max) {
    if (m) return std::numeric_limits<double>::quiet_NaN();
    return sign ? -INFINITY : INFINITY;
  }
  if (e == 0) v = std::ldexp(double(m), 1 - f.bias() - f.man_bits);
  else v = std::ldexp(1.0 + double(m) / double(1u << f.man_bits), int(e) - f.bias());
  return sign ? -v : v;
}

// Nearest code to x by exhaustive search over the non-negative codes; ties pick the even
// code. IEEE-like formats round to inf past the largest finite value + half an ulp (the
// inf code is treated as the value 2^(emax+1)); finite-only formats saturate.
uint32_t ref_encode(const SmallFormat& f, double x) {
  const uint32_t sign_bit = 1u << (f.exp_bits + f.man_bits);
  if (std::isnan(x)) return f.fn ? (sign_bit | (sign_bit - 1)) : 0;  // caller checks NaN-ness for e5m2
  const bool neg = std::signbit(x);
  const double a = std::fabs(x);
  uint32_t best = 0;
  double best_d = INFINITY;
  double max_finite = 0;
  uint32_t max_code = 0;
  for (uint32_t c = 0; c < sign_bit; ++c) {
    double v = ref_decode(f, c);
    if (std::isnan(v)) continue;
    if (std::isinf(v)) v = std::ldexp(1.0, (1 << (f.exp_bits - 1)));  // 2^(emax+1)
    else if (v > max_finite) { max_finite = v; max_code = c; }
    const double d = std::fabs(a - v);
    if (d < best_d || (d == best_d && (c & 1) == 0)) { best_d = d; best = c; }
  }
  if (f.fn && a > max_finite) best = max_code;
  return neg ? (best | sign_bit) : best;
}

// bf16 / f16 reference by the same nearest-value rule over all 2^15 magnitudes.
struct Wide {
  std::vector<double> values;  // non-negative codes' values (inf as 2^(emax+1)), NaN marked
  int exp_bits, man_bits;
  explicit Wide(int e, int m) : exp_bits(e), man_bits(m) {
    SmallFormat f{e, m, false};
    values.resize(size_t(1) << (e + m));
    for (uint32_t c = 0; c < values.size(); ++c) {
      double v = ref_decode(f, c);
      if (std::isinf(v)) v = std::ldexp(1.0, 1 << (e - 1));
      values[c] = v;
    }
  }
  uint32_t encode(double x) const {
    const uint32_t sign_bit = 1u << (exp_bits + man_bits);
    const double a = std::fabs(x);
    // values are increasing over the finite + inf codes: binary search the neighbours
    const uint32_t inf_code = ((1u << exp_bits) - 1) << man_bits;
    auto it = std::lower_bound(values.begin(), values.begin() + inf_code + 1, a);
    uint32_t hi = uint32_t(it - values.begin());
    uint32_t c;
    if (hi > inf_code) c = inf_code;
    else if (hi == 0) c = 0;
    else {
      const uint32_t lo = hi - 1;
      const double dl = a - values[lo], dh = values[hi] - a;
      c = (dl < dh || (dl == dh && (lo & 1) == 0)) ? lo : hi;
    }
    return std::signbit(x) ? (c | sign_bit) : c;
  }
};

float rand_float(std::mt19937& rng) {
  // Mix of raw bit patterns (all exponents) and values near the formats' ranges.
  std::uniform_int_distribution<uint32_t> bits;
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::uniform_int_distribution<int> ex(-30, 20);
  switch (rng() % 3) {
    case 0: return f32_from_bits(bits(rng));
    case 1: return std::ldexp(u(rng), ex(rng));
    default: return u(rng) * 600.0f;
  }
}

// ---- fp8 ------------------------------------------------------------------------------

const SmallFormat kE4M3{4, 3, true};
const SmallFormat kE5M2{5, 2, false};

TEST(Fp8E4M3, AllCodesDecode) {
  for (uint32_t c = 0; c < 256; ++c) {
    const double ref = ref_decode(kE4M3, c);
    const float got = fp8_e4m3{uint8_t(c)}.to_float();
    if (std::isnan(ref)) {
      EXPECT_TRUE(std::isnan(got)) << "code " << c;
      EXPECT_TRUE(c == 0x7f || c == 0xff);
    } else {
      EXPECT_EQ(double(got), ref) << "code " << c;
      EXPECT_EQ(std::signbit(got), bool(c & 0x80)) << "code " << c;
    }
  }
  EXPECT_EQ(fp8_e4m3{0x7e}.to_float(), 448.0f);
  EXPECT_EQ(fp8_e4m3{0x01}.to_float(), std::ldexp(1.0f, -9));
}

TEST(Fp8E4M3, AllCodesRoundTrip) {
  for (uint32_t c = 0; c < 256; ++c) {
    const float v = fp8_e4m3{uint8_t(c)}.to_float();
    if (std::isnan(v)) {
      EXPECT_EQ(fp8_e4m3::from_float(v).bits & 0x7f, 0x7f);
      continue;
    }
    EXPECT_EQ(fp8_e4m3::from_float(v).bits, c) << "code " << c;
  }
}

TEST(Fp8E4M3, MidpointsRoundToEven) {
  for (uint32_t c = 0; c < 0x7e; ++c) {
    const double lo = ref_decode(kE4M3, c), hi = ref_decode(kE4M3, c + 1);
    const float mid = float((lo + hi) / 2);  // exact in f32
    ASSERT_EQ(double(mid), (lo + hi) / 2);
    const uint32_t want = (c & 1) == 0 ? c : c + 1;
    EXPECT_EQ(fp8_e4m3::from_float(mid).bits, want) << "between codes " << c << " and " << c + 1;
    EXPECT_EQ(fp8_e4m3::from_float(-mid).bits, want | 0x80);
  }
}

TEST(Fp8E4M3, Saturates) {
  EXPECT_EQ(fp8_e4m3::from_float(449.0f).bits, 0x7e);
  EXPECT_EQ(fp8_e4m3::from_float(464.0f).bits, 0x7e);
  EXPECT_EQ(fp8_e4m3::from_float(1e30f).bits, 0x7e);
  EXPECT_EQ(fp8_e4m3::from_float(INFINITY).bits, 0x7e);
  EXPECT_EQ(fp8_e4m3::from_float(-INFINITY).bits, 0xfe);
  EXPECT_EQ(fp8_e4m3::from_float(NAN).bits, 0x7f);
  EXPECT_EQ(fp8_e4m3::from_float(-NAN).bits, 0xff);
}

TEST(Fp8E4M3, RandomAgainstReference) {
  std::mt19937 rng(1234);
  for (int i = 0; i < 300000; ++i) {
    const float x = rand_float(rng);
    if (std::isnan(x)) continue;
    ASSERT_EQ(fp8_e4m3::from_float(x).bits, ref_encode(kE4M3, x)) << "x=" << x;
  }
}

TEST(Fp8E5M2, AllCodesBothWays) {
  for (uint32_t c = 0; c < 256; ++c) {
    const double ref = ref_decode(kE5M2, c);
    const float got = fp8_e5m2{uint8_t(c)}.to_float();
    if (std::isnan(ref)) {
      EXPECT_TRUE(std::isnan(got)) << c;
      EXPECT_TRUE(std::isnan(fp8_e5m2{fp8_e5m2::from_float(got).bits}.to_float()));
      continue;
    }
    EXPECT_EQ(double(got), ref) << c;
    EXPECT_EQ(fp8_e5m2::from_float(got).bits, c) << c;
  }
  EXPECT_EQ(fp8_e5m2{0x7b}.to_float(), 57344.0f);
}

TEST(Fp8E5M2, RandomAgainstReferenceAndOverflow) {
  std::mt19937 rng(99);
  for (int i = 0; i < 300000; ++i) {
    const float x = rand_float(rng);
    if (std::isnan(x)) continue;
    ASSERT_EQ(fp8_e5m2::from_float(x).bits, ref_encode(kE5M2, x)) << "x=" << x;
  }
  EXPECT_EQ(fp8_e5m2::from_float(61439.0f).bits, 0x7b);
  EXPECT_EQ(fp8_e5m2::from_float(61440.0f).bits, 0x7c);  // tie to even: inf
  EXPECT_EQ(fp8_e5m2::from_float(-1e10f).bits, 0xfc);
}

// ---- bf16 / f16 -----------------------------------------------------------------------

TEST(Bf16, AllCodesBothWays) {
  for (uint32_t c = 0; c < 65536; ++c) {
    const float v = bf16{uint16_t(c)}.to_float();
    EXPECT_EQ(f32_bits(v), c << 16);
    const uint16_t back = bf16::from_float(v).bits;
    if (std::isnan(v)) {
      EXPECT_TRUE(std::isnan(bf16{back}.to_float())) << c;
      EXPECT_EQ(back & 0x8000, c & 0x8000) << "NaN keeps its sign";
    } else {
      EXPECT_EQ(back, c) << c;
    }
  }
}

TEST(Bf16, RandomAgainstReference) {
  static const Wide ref(8, 7);
  std::mt19937 rng(7);
  for (int i = 0; i < 1000000; ++i) {
    const float x = rand_float(rng);
    if (std::isnan(x)) {
      EXPECT_TRUE(std::isnan(bf16::from_float(x).to_float()));
      continue;
    }
    ASSERT_EQ(bf16::from_float(x).bits, ref.encode(x)) << "x=" << x << " bits=" << std::hex << f32_bits(x);
  }
  // NaN whose payload lives only in the low 16 bits must stay NaN, not become inf.
  EXPECT_TRUE(std::isnan(bf16::from_float(f32_from_bits(0x7f800001u)).to_float()));
  EXPECT_EQ(bf16::from_float(3.4e38f).bits, 0x7f80);  // rounds up past max to inf
}

TEST(F16, AllCodesBothWays) {
  const SmallFormat f{5, 10, false};
  for (uint32_t c = 0; c < 65536; ++c) {
    const double ref = ref_decode(f, c);
    const float v = f16{uint16_t(c)}.to_float();
    if (std::isnan(ref)) {
      EXPECT_TRUE(std::isnan(v));
      EXPECT_TRUE(std::isnan(f16{f16::from_float(v).bits}.to_float()));
      continue;
    }
    EXPECT_EQ(double(v), ref) << c;
    EXPECT_EQ(f16::from_float(v).bits, c) << c;
  }
}

TEST(F16, RandomAgainstReference) {
  static const Wide ref(5, 10);
  std::mt19937 rng(11);
  for (int i = 0; i < 1000000; ++i) {
    const float x = rand_float(rng);
    if (std::isnan(x)) continue;
    ASSERT_EQ(f16::from_float(x).bits, ref.encode(x)) << "x=" << x;
  }
}

TEST(Int8, RoundsHalfEvenAndSaturates) {
  EXPECT_EQ(int8q::from_float(2.5f).bits, 2);
  EXPECT_EQ(int8q::from_float(3.5f).bits, 4);
  EXPECT_EQ(int8q::from_float(-2.5f).bits, -2);
  EXPECT_EQ(int8q::from_float(300.0f).bits, 127);
  EXPECT_EQ(int8q::from_float(-300.0f).bits, -127);
  EXPECT_EQ(int8q::from_float(NAN).bits, 0);
  for (int c = -128; c < 128; ++c) EXPECT_EQ(int8q{int8_t(c)}.to_float(), float(c));
}

}  // namespace
}  // namespace g2
