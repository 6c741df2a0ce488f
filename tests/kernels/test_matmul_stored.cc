// The fused matmul on stored weights (kernels/cpu/matmul_rows, libmodel/cpu_matmul_stored):
// against a double-accumulated product of the dequantized weight, for odd shapes (N, K not
// multiples of 16, T 1..9 and the sgemm sizes), blocks with leading dimensions and column
// splits, every dtype with a view (F32, BF16, FP8 e4m3 with tensor/channel/block scales).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/codecs.h"
#include "kernels/cpu/matmul_rows.h"
#include "libmodel/backend.h"
#include "libmodel/cpu_matmul_stored.h"
#include "libmodel/stored_weight.h"

namespace g2 {
namespace {

// A stored [N, K] weight in memory: `storage` holds the bytes; the view splits it into a
// 2 x 2 grid of blocks at (rs, cs), each block with a leading dimension wider than itself
// (padding filled with garbage the kernel must never read into the result).
struct Fixture {
  std::vector<uint8_t> storage;
  StoredWeight w;
};

Fixture make(DType dt, int64_t N, int64_t K, int64_t rs, int64_t cs, std::mt19937& rng,
             Fp8ScaleMode mode = Fp8ScaleMode::Tensor) {
  Fixture f;
  const size_t es = dtype_size(dt);
  const int64_t pad = 5;
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::uniform_int_distribution<int> code(0, 255);
  struct Rect {
    int64_t r0, c0, rows, cols;
  };
  std::vector<Rect> rects;
  for (auto [r0, r1] : {std::pair<int64_t, int64_t>{0, rs}, {rs, N}})
    for (auto [c0, c1] : {std::pair<int64_t, int64_t>{0, cs}, {cs, K}})
      if (r1 > r0 && c1 > c0) rects.push_back({r0, c0, r1 - r0, c1 - c0});
  size_t total = 0;
  for (const Rect& r : rects) total += size_t(r.rows * (r.cols + pad)) * es;
  f.storage.resize(total + 64);
  size_t at = 0;
  for (const Rect& r : rects) {
    StoredBlock b{r.r0, r.c0, r.rows, r.cols, f.storage.data() + at, r.cols + pad};
    for (int64_t i = 0; i < r.rows * (r.cols + pad); ++i) {
      uint8_t* p = f.storage.data() + at + size_t(i) * es;
      const float v = nd(rng);
      if (dt == DType::F32) {
        std::memcpy(p, &v, 4);
      } else if (dt == DType::BF16) {
        const uint16_t h = bf16::from_float(v).bits;
        std::memcpy(p, &h, 2);
      } else {
        int c = code(rng);
        if ((c & 0x7f) == 0x7f) c &= 0xfe;  // not NaN
        *p = uint8_t(c);
      }
    }
    at += size_t(r.rows * (r.cols + pad)) * es;
    f.w.blocks.push_back(b);
  }
  f.w.dtype = dt;
  f.w.rows = N;
  f.w.cols = K;
  if (dt == DType::F8_E4M3) {
    Fp8Spec spec;
    spec.mode = mode;
    spec.block_n = 8;
    spec.block_k = 16;
    Fp8Scales sc{spec, N, K, {}};
    int64_t n = 1;
    for (auto d : fp8_scale_shape(spec, N, K)) n *= d;
    std::uniform_real_distribution<float> ud(0.001f, 0.01f);
    for (int64_t i = 0; i < n; ++i) sc.s.push_back(ud(rng));
    f.w.scales = sc;
  }
  return f;
}

std::vector<float> random_vec(size_t n, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

// y[T, N] (+)= x @ W^T in double from the dequantized weight; bound[t, n] = sum |x||w| (the
// scale of the f32 rounding error).
void reference(const std::vector<float>& x, int ldx, const std::vector<float>& W, int64_t N, int64_t K, int T,
               const std::vector<float>& y0, int ldy, bool acc, std::vector<double>& ref, std::vector<double>& bound) {
  ref.assign(size_t(T) * size_t(ldy), 0.0);
  bound.assign(ref.size(), 0.0);
  for (int t = 0; t < T; ++t)
    for (int64_t n = 0; n < N; ++n) {
      double s = acc ? double(y0[size_t(t) * ldy + n]) : 0.0, b = std::fabs(s);
      for (int64_t k = 0; k < K; ++k) {
        const double p = double(x[size_t(t) * ldx + k]) * double(W[size_t(n * K + k)]);
        s += p;
        b += std::fabs(p);
      }
      ref[size_t(t) * ldy + n] = s;
      bound[size_t(t) * ldy + n] = b;
    }
}

void check(const Fixture& f, int T, bool acc, WorkPool& pool, std::mt19937& rng) {
  const int64_t N = f.w.rows, K = f.w.cols;
  const int ldx = int(K) + 3, ldy = int(N) + 2;
  const auto x = random_vec(size_t(T) * ldx, rng);
  const auto y0 = random_vec(size_t(T) * ldy, rng);
  std::vector<float> y = y0;
  cpu_matmul_stored(pool, x.data(), ldx, f.w, y.data(), ldy, T, acc);
  std::vector<double> ref, bound;
  reference(x, ldx, f.w.dequantize(), N, K, T, y0, ldy, acc, ref, bound);
  for (int t = 0; t < T; ++t) {
    for (int64_t n = 0; n < ldy; ++n) {
      const size_t i = size_t(t) * ldy + size_t(n);
      if (n >= N) {
        ASSERT_EQ(y[i], y0[i]) << "wrote past N at t " << t << " n " << n;  // padding untouched
        continue;
      }
      ASSERT_NEAR(y[i], ref[i], 2e-6 * bound[i] + 1e-30) << "T " << T << " t " << t << " n " << n << " acc " << acc;
    }
  }
}

TEST(MatmulStored, OddShapesEveryDtypeAndTokenCount) {
  std::mt19937 rng(7);
  WorkPool pool(1);
  for (DType dt : {DType::F32, DType::BF16, DType::F8_E4M3}) {
    for (auto [N, K, rs, cs] : {std::tuple<int64_t, int64_t, int64_t, int64_t>{37, 83, 11, 29},
                                {5, 16, 5, 16},
                                {13, 7, 0, 3},
                                {1, 250, 1, 125}}) {
      const Fixture f = make(dt, N, K, rs, cs, rng);
      for (int T : {1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 17, 40, kFusedMaxTokens + 3})  // the last: sgemm panels
        for (bool acc : {false, true}) {
          SCOPED_TRACE(std::string(dtype_name(dt)) + " N " + std::to_string(N) + " K " + std::to_string(K));
          check(f, T, acc, pool, rng);
        }
    }
  }
}

TEST(MatmulStored, Fp8ScaleModesAndShardOrigins) {
  std::mt19937 rng(11);
  WorkPool pool(1);
  for (Fp8ScaleMode m : {Fp8ScaleMode::Tensor, Fp8ScaleMode::Channel, Fp8ScaleMode::Block}) {
    const Fixture f = make(DType::F8_E4M3, 41, 70, 16, 32, rng, m);
    for (int T : {1, 3, 8, 9, 20, kFusedMaxTokens + 1}) check(f, T, false, pool, rng);
    // A TP shard of the view keeps the logical weight's scale positions: its dequantized
    // values are the parent's sub-rectangle.
    const auto full = f.w.dequantize();
    for (auto [axis, b, e] : {std::tuple<int, int64_t, int64_t>{0, 8, 24}, {1, 16, 48}, {1, 5, 70}}) {
      Fixture s;
      s.w = f.w.slice(axis, b, e);
      const auto part = s.w.dequantize();
      for (int64_t r = 0; r < s.w.rows; ++r)
        for (int64_t c = 0; c < s.w.cols; ++c)
          ASSERT_EQ(part[size_t(r * s.w.cols + c)],
                    full[size_t((r + (axis == 0 ? b : 0)) * 70 + c + (axis == 1 ? b : 0))]);
      for (int T : {1, 8, 17}) check(s, T, true, pool, rng);
    }
  }
}

TEST(MatmulStored, ThreadsAndSplitsDoNotChangeTheResult) {
  // Large enough to run in parallel: every output element is the same function of one x row
  // and one weight row whatever the thread split, so 1 and 2 threads agree bit for bit.
  std::mt19937 rng(3);
  WorkPool one(0), two(1);
  const Fixture f = make(DType::BF16, 300, 1001, 150, 1001, rng);
  for (int T : {1, 5, 8}) {
    const auto x = random_vec(size_t(T) * 1001, rng);
    std::vector<float> a(size_t(T) * 300), b(a.size());
    cpu_matmul_stored(one, x.data(), 1001, f.w, a.data(), 300, T, false);
    cpu_matmul_stored(two, x.data(), 1001, f.w, b.data(), 300, T, false);
    EXPECT_EQ(a, b) << "T " << T;
    // A row slice (a column-parallel TP shard) gives the same rows bit for bit.
    Fixture s;
    s.w = f.w.slice(0, 100, 250);
    std::vector<float> c(size_t(T) * 150);
    cpu_matmul_stored(two, x.data(), 1001, s.w, c.data(), 150, T, false);
    for (int t = 0; t < T; ++t)
      for (int n = 0; n < 150; ++n) ASSERT_EQ(c[size_t(t * 150 + n)], a[size_t(t * 300 + 100 + n)]);
  }
}

TEST(MatmulStored, DefaultBackendPathMatches) {
  // Backend::matmul_stored's default (dequantize + matmul, what the CUDA backend uses) and the
  // CPU backend's fused path agree within f32 summation-order error.
  std::mt19937 rng(5);
  auto cpu = make_cpu_backend();
  struct Plain final : Backend {
    std::unique_ptr<Backend> b = make_cpu_backend();
    std::string_view name() const override { return "plain"; }
    BackendBuffer alloc(size_t n) override { return b->alloc(n); }
    void upload(float* d, const float* s, size_t n) override { b->upload(d, s, n); }
    void download(float* d, const float* s, size_t n) override { b->download(d, s, n); }
    void matmul(const float* x, int ldx, const float* w, int ldw, float* y, int ldy, int T, int N, int K,
                bool acc) override {
      b->matmul(x, ldx, w, ldw, y, ldy, T, N, K, acc);
    }
    void rmsnorm(const float*, const float*, float*, int, int, float) override {}
    void rope(float*, int, int, int, int, float) override {}
    void attention(const float*, const float*, const float*, float*, const AttentionParams&) override {}
    void router(float*, int, int, int, float, int32_t*, float*) override {}
    void add(float*, const float*, size_t) override {}
    void scale(float*, size_t, float) override {}
    void round_bf16(float*, size_t) override {}
    void softcap(float*, size_t, float) override {}
    void gelu_mul(const float*, const float*, float*, size_t, GeluKind, bool) override {}
    void gather_rows(const float*, const int32_t*, int, int, float*) override {}
    void scatter_rows(const float*, const int32_t*, int, int, float*) override {}
    void combine_topk(const float*, const float*, int, int, int, float*, bool) override {}
  } plain;
  const Fixture f = make(DType::BF16, 45, 77, 20, 40, rng);
  for (int T : {1, 8, 30}) {
    const auto x = random_vec(size_t(T) * 77, rng);
    std::vector<float> a(size_t(T) * 45), b(a.size());
    cpu->matmul_stored(x.data(), 77, f.w, a.data(), 45, T, false);
    plain.matmul_stored(x.data(), 77, f.w, b.data(), 45, T, false);
    for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-5f * (1.0f + std::fabs(b[i])));
  }
}

TEST(MatmulStored, KernelIsaIsReported) {
  const std::string isa = matmul_rows_isa();
  EXPECT_TRUE(isa == "avx512f" || isa == "avx2" || isa == "default") << isa;
}

}  // namespace
}  // namespace g2

namespace g2 {
namespace {

// Layout independence (what g2diff's exact parity gates between an HF set and its TP8 copy,
// or an FP8 set and its in-memory round trip, rely on): a row stored as column blocks whose
// widths are multiples of 16 multiplies bit for bit like the same row stored contiguously,
// and an FP8 weight like an F32 copy of its dequantized values.
TEST(MatmulStored, ResultDoesNotDependOnTheFileSplitOrDtype) {
  std::mt19937 rng(9);
  WorkPool pool(1);
  for (DType dt : {DType::BF16, DType::F8_E4M3}) {
    const Fixture split = make(dt, 70, 96, 70, 32, rng, Fp8ScaleMode::Block);  // one band, blocks of 32 + 64
    const auto values = split.w.dequantize();
    StoredWeight f32 = StoredWeight::from_f32(values, 70, 96);
    for (int T : {1, 4, 8, 9, 16, 33, kFusedMaxTokens + 2}) {
      const auto x = random_vec(size_t(T) * 96, rng);
      std::vector<float> a(size_t(T) * 70), b(a.size());
      cpu_matmul_stored(pool, x.data(), 96, split.w, a.data(), 70, T, false);
      cpu_matmul_stored(pool, x.data(), 96, f32, b.data(), 70, T, false);
      EXPECT_EQ(a, b) << dtype_name(dt) << " T " << T;
    }
  }
}

}  // namespace
}  // namespace g2

#include "kernels/cpu/lookup_scale.h"

namespace g2 {
namespace {

TEST(LookupScale, EveryCodeAndLengthMatchesTheScalarProduct) {
  float table[256];
  for (int c = 0; c < 256; ++c) table[c] = fp8_e4m3{uint8_t(c)}.to_float();
  std::vector<uint8_t> q(300);
  for (size_t i = 0; i < q.size(); ++i) q[i] = uint8_t(i * 37 + 11);  // every code, shuffled
  for (int64_t n : {0, 1, 15, 16, 17, 31, 256, 300}) {
    std::vector<float> out(size_t(n) + 1, -7.0f);
    lookup_scale_u8(q.data(), n, table, 0.0123f, out.data());
    for (int64_t i = 0; i < n; ++i) {
      const float want = table[q[size_t(i)]] * 0.0123f;
      if (std::isnan(want))
        ASSERT_TRUE(std::isnan(out[size_t(i)])) << i;
      else
        ASSERT_EQ(out[size_t(i)], want) << "n " << n << " i " << i;
    }
    EXPECT_EQ(out[size_t(n)], -7.0f);  // nothing written past n
  }
}

}  // namespace
}  // namespace g2
