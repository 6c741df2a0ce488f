// g2synth's Grok-2 outputs read back through open_checkpoint: the HF set (several shards +
// index) and TP sets at tp 1, 2, 8 and 16 are the same model, tensor for tensor, byte for byte;
// values are finite, non-zero and scaled per role.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "kernels/codecs.h"
#include "libconvert/format/safetensors.h"
#include "libconvert/format/safetensors_writer.h"
#include "libconvert/source/source.h"
#include "tests/support/jax_util.h"

namespace g2 {
namespace {

using test::ScratchDir;

std::string synth(const ScratchDir& dir, const std::string& args, const std::string& tag) {
  const std::string bin = std::string(G2_BIN_DIR) + "/g2synth";
  if (!std::filesystem::exists(bin)) return "";
  const std::string out = dir / tag;
  const std::string cmd = "'" + bin + "' --config '" + std::string(G2_SOURCE_DIR) +
                          "/configs/grok-2-tiny.json' --seed 11 --out '" + out + "' " + args + " >/dev/null";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  return out;
}

TEST(SynthGrok2, EveryLayoutIsTheSameModel) {
  ScratchDir dir("synth2");
  const std::string hf = synth(dir, "--format hf --max-shard-mb 4", "hf");
  if (hf.empty()) GTEST_SKIP() << "g2synth not built";
  auto ref = open_checkpoint(hf);
  ASSERT_TRUE(ref.ok()) << ref.message();
  EXPECT_EQ((*ref)->format(), Format::SafetensorsSet);
  int shards = 0;
  for (const auto& f : (*ref)->files()) shards += f.find("-of-") != std::string::npos;
  EXPECT_GE(shards, 3);  // --max-shard-mb 4 splits the ~19 MB tiny model

  for (int tp : {1, 2, 8, 16}) {
    SCOPED_TRACE("tp " + std::to_string(tp));
    const std::string d = synth(dir, "--format grok2-tp --tp " + std::to_string(tp), "tp" + std::to_string(tp));
    EXPECT_TRUE(std::filesystem::exists(d + "/pytorch_model-00006-TP-" +
                                        std::string(tp > 10 ? "0" : "00") + std::to_string(tp - 1) + ".safetensors"));
    EXPECT_TRUE(std::filesystem::exists(d + "/pytorch_model-00000-TP-common.safetensors"));
    auto src = open_checkpoint(d);
    ASSERT_TRUE(src.ok()) << src.message();
    EXPECT_EQ((*src)->format(), Format::Grok2TpSet);
    ASSERT_EQ((*src)->tensors().size(), (*ref)->tensors().size());
    for (const auto& t : (*ref)->tensors()) {
      auto a = (*ref)->load(t);
      auto b = (*src)->load(t.name);
      ASSERT_TRUE(a.ok() && b.ok()) << t.name << ": " << b.message();
      ASSERT_EQ(a->view.shape, b->view.shape) << t.name;
      EXPECT_EQ(std::memcmp(a->view.data, b->view.data, a->view.nbytes()), 0) << t.name;
    }
  }

  // values: finite, non-zero, norms near 1, weights ~ 1/sqrt(fan_in)
  for (const auto& t : (*ref)->tensors()) {
    auto a = (*ref)->load(t);
    ASSERT_TRUE(a.ok());
    ASSERT_EQ(a->view.dtype, DType::BF16);
    double sum = 0, sum_sq = 0;
    const uint64_t n = a->view.numel();
    for (uint64_t i = 0; i < n; ++i) {
      const float v = a->view.as<bf16>()[i].to_float();
      ASSERT_TRUE(std::isfinite(v)) << t.name;
      sum += v;
      sum_sq += double(v) * v;
    }
    const double mean = sum / double(n), rms = std::sqrt(sum_sq / double(n));
    if (t.name.find("norm") != std::string::npos) {
      EXPECT_NEAR(mean, 1.0, 0.02) << t.name;
    } else {
      const int64_t fan_in = t.shape.back();  // [out, in]; the embedding's is the hidden size too
      EXPECT_NEAR(rms, 1.0 / std::sqrt(double(fan_in)), 0.1 / std::sqrt(double(fan_in))) << t.name;
    }
  }
}

// synth -> read -> write: every safetensors file of a TP-8 set and an HF set, re-written from
// what the reader returns, is byte-identical.
TEST(SynthGrok2, ReadWriteIsBitExact) {
  ScratchDir dir("synth2rw");
  const std::string tp = synth(dir, "--format grok2-tp --tp 8", "tp8");
  if (tp.empty()) GTEST_SKIP() << "g2synth not built";
  const std::string hf = synth(dir, "--format hf --max-shard-mb 4", "hf");
  int files = 0;
  for (const std::string& d : {tp, hf}) {
    for (const auto& e : std::filesystem::directory_iterator(d)) {
      if (e.path().extension() != ".safetensors") continue;
      auto f = SafetensorsFile::open(e.path().string());
      ASSERT_TRUE(f.ok()) << f.message();
      std::vector<SafetensorsBlob> blobs;
      for (const auto& t : f->tensors()) blobs.push_back({{t.name, t.dtype, t.shape}, f->bytes(t).data()});
      const std::string again = dir / "again.safetensors";
      ASSERT_TRUE(write_safetensors(again, blobs, f->metadata()).ok());
      EXPECT_EQ(test::read_all(again), test::read_all(e.path().string())) << e.path();
      ++files;
    }
  }
  EXPECT_GE(files, 15 + 3 * 8 + 3);  // the TP set, and an HF set of several shards
}

}  // namespace
}  // namespace g2
