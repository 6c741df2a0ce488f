// FP8 scale modes against the e4m3 error bound, Grok-1 int8 dequant against an independent
// computation, zero/NaN handling, scale slicing for shards.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "kernels/codecs.h"
#include "libconvert/quant/quant.h"
#include "libconvert/layout/scales.h"

namespace g2 {
namespace {

std::vector<float> random_weight(int64_t n, int64_t k, uint32_t seed, float spread) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::uniform_real_distribution<float> ex(-spread, spread);
  std::vector<float> w(size_t(n * k));
  // Per-row magnitudes that differ by orders of magnitude, so per-tensor scales push small
  // rows into e4m3 subnormals and the bound's absolute term is exercised too.
  for (int64_t r = 0; r < n; ++r) {
    const float mag = std::exp2(ex(rng));
    for (int64_t c = 0; c < k; ++c) w[size_t(r * k + c)] = nd(rng) * mag;
  }
  return w;
}

// Rigorous e4m3 bound: with v = w/s (|v| <= 448), e4m3 RNE has 3 mantissa bits, so a normal
// |v| >= 2^-6 is off by at most half an ulp <= 2^-4 |v|; a subnormal by at most half the
// subnormal spacing 2^-9, i.e. 2^-10. Scaling back by s, plus the two f32 roundings (w/s and
// q*s, each <= 2^-24 relative): |w - dq| <= max(2^-4 |w|, 2^-10 s) + 2^-21 |w|.
double e4m3_bound(float w, float s) {
  return std::max(std::ldexp(std::fabs(double(w)), -4), std::ldexp(double(s), -10)) +
         std::ldexp(std::fabs(double(w)), -21);
}

void check_mode(Fp8Spec spec, int64_t n, int64_t k, int chunk) {
  const auto w = random_weight(n, k, 7u + uint32_t(spec.mode), 12.0f);
  Fp8ScaleBuilder b(spec, n, k, "t.weight");
  for (int64_t r = 0; r < n; r += chunk)
    ASSERT_TRUE(b.add_rows(r, std::min<int64_t>(chunk, n - r), &w[size_t(r * k)]).ok());
  const Fp8Scales sc = b.finish();
  EXPECT_EQ(int64_t(sc.s.size()), int64_t(*checked_numel(fp8_scale_shape(spec, n, k))));
  std::vector<uint8_t> q(w.size());
  std::vector<float> dq(w.size());
  fp8_quantize_rect(sc, 0, n, 0, k, w.data(), q.data());
  fp8_dequantize_rect(sc, 0, n, 0, k, q.data(), dq.data());
  double worst_ratio = 0;  // how close to the bound we get: the test must be able to fail
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; ++c) {
      const size_t i = size_t(r * k + c);
      const float s = sc.at(r, c);
      const double err = std::fabs(double(w[i]) - double(dq[i]));
      const double bound = e4m3_bound(w[i], s);
      ASSERT_LE(err, bound) << fp8_scale_mode_name(spec.mode) << " at [" << r << "," << c << "] w=" << w[i]
                            << " s=" << s;
      worst_ratio = std::max(worst_ratio, err / bound);
      ASSERT_NE(q[i] & 0x7f, 0x7f) << "NaN code produced";
    }
  EXPECT_GT(worst_ratio, 0.5) << "bound never approached: the check is too loose to mean anything";
  // The element at the amax of each group maps to +-448 exactly (scale = amax/448).
  QuantError e;
  e.add(w.data(), dq.data(), w.size());
  EXPECT_LT(e.rel_rms(), 0.05);
  EXPECT_GT(e.cosine(), 0.998);
}

TEST(Fp8, TensorModeWithinBound) { check_mode({Fp8ScaleMode::Tensor}, 24, 40, 5); }
TEST(Fp8, ChannelModeWithinBound) { check_mode({Fp8ScaleMode::Channel}, 24, 40, 7); }
TEST(Fp8, BlockModeWithinBound) { check_mode({Fp8ScaleMode::Block, 8, 8}, 24, 40, 3); }
TEST(Fp8, BlockModeRaggedEdges) { check_mode({Fp8ScaleMode::Block, 16, 16}, 37, 29, 10); }

TEST(Fp8, ScalesAreAmaxOver448AndChunkingInvariant) {
  const int64_t n = 16, k = 16;
  auto w = random_weight(n, k, 3, 4.0f);
  w[5 * k + 9] = -1000.0f;  // the block (0,1) amax
  Fp8Spec spec{Fp8ScaleMode::Block, 8, 8};
  Fp8ScaleBuilder whole(spec, n, k, "x"), rows(spec, n, k, "x");
  ASSERT_TRUE(whole.add_rows(0, n, w.data()).ok());
  for (int64_t r = n - 1; r >= 0; --r) ASSERT_TRUE(rows.add_rows(r, 1, &w[size_t(r * k)]).ok());  // any order
  const auto a = whole.finish(), b = rows.finish();
  EXPECT_EQ(a.s, b.s);
  EXPECT_EQ(a.at(5, 9), 1000.0f / 448.0f);
  uint8_t q;
  fp8_quantize_rect(a, 5, 1, 9, 1, &w[5 * k + 9], &q);
  EXPECT_EQ(q, 0xfe) << "amax element must encode as -448";
}

TEST(Fp8, AllZeroTensorGetsScaleOneAndExactZeros) {
  std::vector<float> w(64, 0.0f);
  for (auto mode : {Fp8ScaleMode::Tensor, Fp8ScaleMode::Channel, Fp8ScaleMode::Block}) {
    Fp8ScaleBuilder b({mode, 4, 4}, 8, 8, "zero.weight");
    ASSERT_TRUE(b.add_rows(0, 8, w.data()).ok());
    const auto sc = b.finish();
    for (float s : sc.s) EXPECT_EQ(s, 1.0f);
    std::vector<uint8_t> q(64, 0xaa);
    std::vector<float> dq(64, 1.0f);
    fp8_quantize_rect(sc, 0, 8, 0, 8, w.data(), q.data());
    fp8_dequantize_rect(sc, 0, 8, 0, 8, q.data(), dq.data());
    for (int i = 0; i < 64; ++i) {
      EXPECT_EQ(q[size_t(i)], 0);
      EXPECT_EQ(dq[size_t(i)], 0.0f);
    }
    QuantError e;
    e.add(w.data(), dq.data(), 64);
    EXPECT_EQ(e.rel_rms(), 0.0);
    EXPECT_EQ(e.cosine(), 1.0);
  }
}

TEST(Fp8, NonFiniteWeightsAreRefusedNamingTheTensor) {
  for (float bad : {NAN, INFINITY, -INFINITY}) {
    std::vector<float> w(32, 1.0f);
    w[19] = bad;
    Fp8ScaleBuilder b({Fp8ScaleMode::Tensor}, 16, 8, "model.layers.0.self_attn.q_proj.weight");
    auto st = b.add_rows(10, 4, w.data());
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.message().find("model.layers.0.self_attn.q_proj.weight"), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("[12, 3]"), std::string::npos) << st.message();
  }
}

TEST(Fp8, ScaleNamesAndShapes) {
  EXPECT_EQ(fp8_scale_name("a.b.weight", Fp8ScaleMode::Block), "a.b.weight_scale_inv");
  EXPECT_EQ(fp8_scale_name("a.b.weight", Fp8ScaleMode::Tensor), "a.b.weight_scale");
  EXPECT_EQ(fp8_scale_shape({Fp8ScaleMode::Tensor}, 10, 20), Shape{});
  EXPECT_EQ(fp8_scale_shape({Fp8ScaleMode::Channel}, 10, 20), (Shape{10, 1}));
  EXPECT_EQ(fp8_scale_shape({Fp8ScaleMode::Block, 128, 128}, 1024, 8192), (Shape{8, 64}));
  EXPECT_EQ(fp8_scale_shape({Fp8ScaleMode::Block, 8, 8}, 9, 17), (Shape{2, 3}));
}

TEST(Fp8, ScaleSlicesFollowTheShard) {
  const int64_t n = 16, k = 32;
  const auto w = random_weight(n, k, 11, 6.0f);
  Fp8Spec spec{Fp8ScaleMode::Block, 4, 8};
  Fp8ScaleBuilder b(spec, n, k, "w");
  ASSERT_TRUE(b.add_rows(0, n, w.data()).ok());
  const auto sc = b.finish();
  // rows [8, 12): block row 2; columns [16, 24): block column 2
  auto rs = fp8_scale_slice(sc, 0, 8, 12);
  EXPECT_EQ(rs.shape, (Shape{1, 4}));
  for (int c = 0; c < 4; ++c) EXPECT_EQ(rs.values[size_t(c)], sc.at(8, c * 8));
  auto cs = fp8_scale_slice(sc, 1, 16, 24);
  EXPECT_EQ(cs.shape, (Shape{4, 1}));
  for (int r = 0; r < 4; ++r) EXPECT_EQ(cs.values[size_t(r)], sc.at(r * 4, 16));
  auto bad = fp8_scale_slice_shape(spec, n, k, 0, 2, 6, "model.x.weight");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("model.x.weight"), std::string::npos);
  EXPECT_NE(bad.message().find("block 4"), std::string::npos);
  // channel: split rows on axis 0, whole column on axis 1; tensor: never split
  EXPECT_EQ(*fp8_scale_slice_shape({Fp8ScaleMode::Channel}, n, k, 0, 4, 8, "w"), (Shape{4, 1}));
  EXPECT_EQ(*fp8_scale_slice_shape({Fp8ScaleMode::Channel}, n, k, 1, 4, 8, "w"), (Shape{16, 1}));
  EXPECT_EQ(*fp8_scale_slice_shape({Fp8ScaleMode::Tensor}, n, k, 1, 4, 8, "w"), Shape{});
}

// The one split rule and the one index: every scale element a slice's range names is the one
// fp8_scale_index gives the slice's elements, and a slice that cuts a block has no range.
TEST(Fp8, ScaleRangeAndIndexAgree) {
  const int64_t n = 20, k = 36;  // ragged: 3 x 5 blocks of 8 x 8
  for (const Fp8Spec spec : {Fp8Spec{Fp8ScaleMode::Tensor}, Fp8Spec{Fp8ScaleMode::Channel},
                             Fp8Spec{Fp8ScaleMode::Block, 8, 8}}) {
    SCOPED_TRACE(fp8_spec_name(spec));
    const Shape shape = fp8_scale_shape(spec, n, k);
    const int64_t cols = shape.size() == 2 ? shape[1] : 1;
    for (int axis : {0, 1})
      for (auto [b, e] : {std::pair<int64_t, int64_t>{0, 8}, {8, 16}, {16, axis == 0 ? n : 24}}) {
        const auto r = fp8_scale_range(spec, n, k, axis, b, e);
        ASSERT_TRUE(r.has_value());
        for (int64_t i = axis == 0 ? b : 0; i < (axis == 0 ? e : n); ++i)
          for (int64_t j = axis == 1 ? b : 0; j < (axis == 1 ? e : k); ++j) {
            const int64_t at = fp8_scale_index(spec, k, i, j);
            const int64_t along = r->axis == 0 ? at / cols : at % cols;
            ASSERT_TRUE(along >= r->begin && along < r->end)
                << axis << " [" << b << ", " << e << ") (" << i << ", " << j << ")";
          }
      }
  }
  const Fp8Spec block{Fp8ScaleMode::Block, 8, 8};
  EXPECT_EQ(fp8_scale_index(block, k, 19, 35), 2 * 5 + 4);
  EXPECT_FALSE(fp8_scale_range(block, n, k, 0, 4, 12));  // starts inside a block
  EXPECT_FALSE(fp8_scale_range(block, n, k, 1, 8, 20));  // ends inside one, not at the edge
  EXPECT_TRUE(fp8_scale_range(block, n, k, 1, 32, 36));  // ends at the edge
  EXPECT_EQ(fp8_spec_name(block), "block 8x8");
  EXPECT_EQ(fp8_spec_name({Fp8ScaleMode::Channel, 8, 8}), "channel");
}

// Independent bf16 rounding: pick the nearer of the two bf16 neighbours of an exactly
// representable double, ties to the even mantissa.
uint16_t bf16_nearest(double p) {
  const float f = float(p);  // exact: int8 x bf16 has at most 16 significant bits
  EXPECT_EQ(double(f), p);
  uint32_t u;
  std::memcpy(&u, &f, 4);
  const uint32_t lo = u & 0xffff0000u, hi = lo + 0x10000u;
  float flo, fhi;
  std::memcpy(&flo, &lo, 4);
  std::memcpy(&fhi, &hi, 4);
  const double dlo = std::fabs(p - flo), dhi = std::fabs(double(fhi) - p);
  if (dlo < dhi) return uint16_t(lo >> 16);
  if (dhi < dlo) return uint16_t(hi >> 16);
  return ((lo >> 16) & 1u) ? uint16_t(hi >> 16) : uint16_t(lo >> 16);
}

TEST(Grok1Int8, DequantMatchesIndependentBf16ProductBitForBit) {
  const int64_t K = 16, N = 24;
  std::mt19937 rng(5);
  for (int G : {1, 8}) {
    std::vector<int8_t> w(size_t(K * N));
    std::vector<uint16_t> s(size_t(G * N));
    for (auto& x : w) x = int8_t(int(rng() % 255) - 127);
    for (auto& x : s) {
      // scales with full bf16 mantissas and a range of exponents (so products round)
      x = uint16_t(0x3800u + rng() % 0x1000u);
      if (rng() % 2) x |= 0x8000u;
    }
    std::vector<uint16_t> out(w.size());
    // in two row chunks, as the executor streams
    grok1_dequantize_rows(w.data(), s.data(), K, N, G, 0, 5, out.data());
    grok1_dequantize_rows(w.data() + 5 * N, s.data(), K, N, G, 5, K - 5, out.data() + 5 * N);
    int rounded = 0;
    for (int64_t k = 0; k < K; ++k)
      for (int64_t n = 0; n < N; ++n) {
        const uint32_t sb = uint32_t(s[size_t((k / (K / G)) * N + n)]) << 16;
        float sf;
        std::memcpy(&sf, &sb, 4);
        const double p = double(w[size_t(k * N + n)]) * double(sf);
        const uint16_t want = bf16_nearest(p);
        ASSERT_EQ(out[size_t(k * N + n)], want) << "G=" << G << " k=" << k << " n=" << n;
        uint32_t ob = uint32_t(want) << 16;
        float of;
        std::memcpy(&of, &ob, 4);
        rounded += double(of) != p;
      }
    EXPECT_GT(rounded, 0) << "no product needed rounding: the data does not exercise bf16 rounding";
  }
}

TEST(Grok1Int8, F32RunEqualsRowsDequant) {
  // grok1_dequantize_f32 (the transposed reader's loop) gives the bf16 values of
  // grok1_dequantize_rows, at any offset and length (vector body and scalar tail)
  const int64_t N = 203;
  std::mt19937 rng(9);
  std::vector<int8_t> w(static_cast<size_t>(N));
  std::vector<uint16_t> s(static_cast<size_t>(N)), rows(static_cast<size_t>(N));
  for (auto& x : w) x = int8_t(int(rng() % 256) - 128);
  for (auto& x : s) x = uint16_t(0x3000u + rng() % 0x2000u) | uint16_t(rng() % 2 ? 0x8000u : 0u);
  grok1_dequantize_rows(w.data(), s.data(), 1, N, 1, 0, 1, rows.data());
  for (int64_t off : {0, 1, 7}) {
    std::vector<float> f(size_t(N - off), -1.0f);
    grok1_dequantize_f32(w.data() + off, s.data() + off, N - off, f.data());
    for (int64_t i = 0; i < N - off; ++i)
      ASSERT_EQ(bf16::from_float(f[size_t(i)]).bits, rows[size_t(off + i)]) << off << " " << i;
    for (int64_t i = 0; i < N - off; ++i) ASSERT_EQ(bf16{rows[size_t(off + i)]}.to_float(), f[size_t(i)]);
  }
}

TEST(QuantError, LaneSumsMatchSequentialSums) {
  // add() keeps partial sums in lanes: the statistics must agree with plain sequential sums
  // to rounding (relative 1e-12), max_abs exactly, for lengths with and without a tail, and
  // the same input must give the same bits every time.
  std::mt19937 rng(4);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (size_t n : {size_t(0), size_t(3), size_t(4), size_t(1003)}) {
    std::vector<float> ref(n), out(n);
    for (size_t i = 0; i < n; ++i) {
      ref[i] = nd(rng) * std::exp2(float(int(rng() % 20) - 10));
      out[i] = ref[i] * (1.0f + 0.01f * nd(rng));
    }
    long double mx = 0, se = 0, sr = 0, so = 0, dt = 0;
    for (size_t i = 0; i < n; ++i) {
      const long double a = ref[i], b = out[i], d = b - a;
      mx = std::max(mx, std::fabs(d));
      se += d * d, sr += a * a, so += b * b, dt += a * b;
    }
    QuantError e, again;
    e.add(ref.data(), out.data(), n);
    again.add(ref.data(), out.data(), n);
    EXPECT_EQ(e.count, n);
    EXPECT_EQ(e.max_abs, double(mx));
    auto near = [](double got, long double want) {
      return std::fabs(got - double(want)) <= 1e-12 * std::fabs(double(want));
    };
    EXPECT_TRUE(near(e.sum_sq_err, se)) << n;
    EXPECT_TRUE(near(e.sum_sq_ref, sr)) << n;
    EXPECT_TRUE(near(e.sum_sq_out, so)) << n;
    EXPECT_TRUE(near(e.dot, dt)) << n;
    EXPECT_EQ(std::memcmp(&e, &again, sizeof e), 0) << "not deterministic";
  }
}

TEST(QuantError, MergesAcrossChunks) {
  const float ref[4] = {1, -2, 3, 0}, out[4] = {1.5f, -2, 2, 0};
  QuantError a, b, all;
  a.add(ref, out, 2);
  b.add(ref + 2, out + 2, 2);
  a.merge(b);
  all.add(ref, out, 4);
  EXPECT_EQ(a.count, 4u);
  EXPECT_DOUBLE_EQ(a.max_abs, 1.0);
  EXPECT_DOUBLE_EQ(a.rel_rms(), all.rel_rms());
  EXPECT_DOUBLE_EQ(a.rel_rms(), std::sqrt(1.25 / 14.0));
  EXPECT_DOUBLE_EQ(a.cosine(), all.cosine());
}

}  // namespace
}  // namespace g2
