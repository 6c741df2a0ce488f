// g2synth's Grok-1 output through the Grok-1 source: synth -> read -> write gives identical
// bytes for every file, values are finite and non-zero, scales have the release's shapes,
// and the int8 values use the full symmetric range.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>

#include "kernels/codecs.h"
#include "libconvert/format/grok1_source.h"
#include "libconvert/format/grok1_writer.h"
#include "tests/support/jax_util.h"

namespace g2 {
namespace {

using test::ScratchDir;

std::string synth(const ScratchDir& dir, const std::string& config, int seed) {
  const std::string bin = std::string(G2_BIN_DIR) + "/g2synth";
  if (!std::filesystem::exists(bin)) return "";
  const std::string out = dir / ("synth" + std::to_string(seed));
  const std::string cmd = "'" + bin + "' --config '" + std::string(G2_SOURCE_DIR) + "/configs/" + config +
                          "' --format grok1-jax --seed " + std::to_string(seed) + " --out '" + out + "' >/dev/null";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  return out;
}

TEST(SynthGrok1, ReadWriteIsBitExactAndValuesLookTrained) {
  ScratchDir dir("synth1");
  const std::string out = synth(dir, "grok-1-tiny.json", 5);
  if (out.empty()) GTEST_SKIP() << "g2synth not built";
  auto src = open_grok1_jax(out, "");  // uses the config.json g2synth wrote
  ASSERT_TRUE(src.ok()) << src.message();
  auto detected = open_checkpoint(out);  // format detection reaches the same reader
  ASSERT_TRUE(detected.ok()) << detected.message();
  EXPECT_EQ((*detected)->format(), Format::Grok1Jax);
  EXPECT_EQ((*detected)->tensors().size(), (*src)->tensors().size());

  // Rewrite every file from what the source read: the bytes must not change.
  const auto& ts = (*src)->tensors();
  std::filesystem::create_directories(dir / "again/ckpt-0");
  int index = 0;
  for (size_t i = 0; i < ts.size(); ++index) {
    const std::string path = grok1_tensor_path(dir / "again", index);
    const bool quantized = ts[i].dtype == DType::I8;  // an int8 weight is followed by its scales
    auto a = (*src)->load(ts[i]);
    ASSERT_TRUE(a.ok());
    if (quantized) {
      auto s = (*src)->load(ts[i + 1]);
      ASSERT_TRUE(s.ok());
      ASSERT_TRUE(write_grok1_quantized_file(path, a->view, s->view).ok());
      i += 2;
    } else {
      ASSERT_TRUE(write_grok1_array_file(path, a->view).ok());
      i += 1;
    }
    EXPECT_EQ(test::read_all(path), test::read_all(grok1_tensor_path(out, index))) << path;
  }
  EXPECT_EQ(index, 26);

  // Values: dequantised weights finite, non-zero, with roughly 1/sqrt(fan_in) spread.
  const ModelConfig& c = (*src)->config();
  for (size_t i = 0; i < ts.size(); ++i) {
    const SourceTensor& t = ts[i];
    SCOPED_TRACE(t.name);
    auto a = (*src)->load(t);
    ASSERT_TRUE(a.ok());
    const uint64_t n = a->view.numel();
    double sum_sq = 0, mean = 0;
    if (t.dtype == DType::I8) {
      auto s = (*src)->load(ts[i + 1]);
      ASSERT_TRUE(s.ok());
      const Shape& ws = t.shape;
      const int r = int(ws.size());
      const int64_t K = ws[size_t(r - 2)], N = ws[size_t(r - 1)], G = s->view.shape[size_t(r - 2)];
      EXPECT_TRUE(G == 1 || G == 8);
      int max_abs = 0;
      for (uint64_t e = 0; e < n; ++e) {
        const int64_t k = int64_t(e / uint64_t(N)) % K, col = int64_t(e % uint64_t(N)),
                      b = int64_t(e / uint64_t(K * N));
        const float sc = s->view.as<bf16>()[(b * G + k / (K / G)) * N + col].to_float();
        const float w = float(a->view.as<int8_t>()[e]) * sc;
        ASSERT_TRUE(std::isfinite(w));
        sum_sq += double(w) * w;
        max_abs = std::max(max_abs, std::abs(int(a->view.as<int8_t>()[e])));
      }
      EXPECT_EQ(max_abs, 127);
      const double rms = std::sqrt(sum_sq / double(n));
      const double want = 1.0 / std::sqrt(double(K));
      EXPECT_NEAR(rms, want, 0.1 * want);
      ++i;  // scales checked through the weight
    } else {
      ASSERT_EQ(t.dtype, DType::F32);
      for (uint64_t e = 0; e < n; ++e) {
        const float v = a->view.as<float>()[e];
        ASSERT_TRUE(std::isfinite(v));
        sum_sq += double(v) * v;
        mean += v;
      }
      mean /= double(n);
      EXPECT_GT(sum_sq, 0.0);
      if (t.name.find("rms_norm") != std::string::npos) {
        EXPECT_NEAR(mean, 1.0, 0.02);
      }
      if (t.name.find("embeddings") != std::string::npos) {
        const double want = 1.0 / std::sqrt(double(c.hidden_size));
        EXPECT_NEAR(std::sqrt(sum_sq / double(n)), want, 0.05 * want);
      }
    }
  }
}

TEST(SynthGrok1, SeedsChangeValuesNotStructure) {
  ScratchDir dir("synth2");
  const std::string a = synth(dir, "grok-1-tiny.json", 1), b = synth(dir, "grok-1-tiny.json", 2);
  if (a.empty()) GTEST_SKIP() << "g2synth not built";
  auto sa = open_grok1_jax(a, ""), sb = open_grok1_jax(b, "");
  ASSERT_TRUE(sa.ok() && sb.ok());
  ASSERT_EQ((*sa)->tensors().size(), (*sb)->tensors().size());
  for (size_t i = 0; i < (*sa)->tensors().size(); ++i) {
    const auto& ta = (*sa)->tensors()[i];
    const auto& tb = (*sb)->tensors()[i];
    EXPECT_EQ(ta.name, tb.name);
    EXPECT_EQ(ta.shape, tb.shape);
    auto x = (*sa)->load(ta), y = (*sb)->load(tb);
    ASSERT_TRUE(x.ok() && y.ok());
    EXPECT_NE(std::memcmp(x->view.data, y->view.data, x->view.nbytes()), 0) << ta.name;
  }
}

}  // namespace
}  // namespace g2
