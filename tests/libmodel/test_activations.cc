#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "libmodel/activations.h"
#include "libmodel/forward.h"
#include "model_fixtures.h"

namespace g2 {
namespace {

ActivationRecord sample() {
  ModelConfig c = testing::tiny_config(true);
  MemoryWeights w = testing::random_weights(c, Family::Grok2, 2);
  auto be = make_cpu_backend();
  std::vector<int32_t> tok{1, 2, 3};
  auto r = run_forward(w, *be, tok, {});
  EXPECT_TRUE(r.ok());
  return std::move(*r);
}

void expect_same(const ActivationRecord& a, const ActivationRecord& b) {
  EXPECT_EQ(a.tokens, b.tokens);
  ASSERT_EQ(a.layers.size(), b.layers.size());
  for (size_t l = 0; l < a.layers.size(); ++l) {
    EXPECT_EQ(a.layers[l].attn_residual, b.layers[l].attn_residual);
    EXPECT_EQ(a.layers[l].router_logits, b.layers[l].router_logits);
    EXPECT_EQ(a.layers[l].experts, b.layers[l].experts);
    EXPECT_EQ(a.layers[l].residual, b.layers[l].residual);
  }
  EXPECT_EQ(a.logits, b.logits);
  EXPECT_EQ(a.metadata.at("config_fingerprint"), b.metadata.at("config_fingerprint"));
}

TEST(Activations, RoundTripPlainAndZstd) {
  const auto dir = std::filesystem::temp_directory_path() / ("g2acts-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  ActivationRecord r = sample();
  for (const char* name : {"a.safetensors", "a.safetensors.zst"}) {
    const std::string p = (dir / name).string();
    ASSERT_TRUE(write_activations(p, r).ok());
    auto back = read_activations(p);
    ASSERT_TRUE(back.ok()) << back.message();
    expect_same(r, *back);
  }
  // A truncated zstd file is an input error, not a crash.
  const std::string z = (dir / "a.safetensors.zst").string();
  std::filesystem::resize_file(z, std::filesystem::file_size(z) / 2);
  EXPECT_FALSE(read_activations(z).ok());
  std::filesystem::remove_all(dir);
}

TEST(Activations, Tokens) {
  EXPECT_EQ(*tokens_from_string("1, 2,3\n4"), (std::vector<int32_t>{1, 2, 3, 4}));
  EXPECT_FALSE(tokens_from_string("1,x").ok());
  EXPECT_FALSE(tokens_from_string("").ok());
  EXPECT_EQ(tokens_to_string({5, 6}), "5,6");
}

}  // namespace
}  // namespace g2
