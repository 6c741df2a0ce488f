// HF safetensors sets (index + shards, or one file), the index format, and open_checkpoint's
// detection.
#include <gtest/gtest.h>

#include "libconvert/format/grok1_source.h"
#include "libconvert/format/index.h"
#include "libconvert/format/safetensors_set.h"
#include "tests/support/tiny_model.h"

namespace g2 {
namespace {

using test::TempDir;

TEST(HfSet, SingleFileAndShardedSetsReadTheSameModel) {
  const ModelConfig c = test::tiny_config();
  const auto ts = test::tiny_tensors(c);
  for (int shards : {0, 1, 3}) {
    TempDir dir;
    test::write_hf_set(dir.str(), ts, shards, test::tiny_config_json());
    auto src = open_checkpoint(dir.str());
    ASSERT_TRUE(src.ok()) << src.message();
    EXPECT_EQ((*src)->format(), Format::SafetensorsSet);
    EXPECT_EQ((*src)->family(), Family::Grok2);
    EXPECT_EQ((*src)->config().hidden_size, 64);
    test::expect_source_holds(**src, ts);
    // Files: the shards plus the index and config.json.
    EXPECT_EQ((*src)->files().size(), size_t(std::max(shards, 1)) + (shards > 0 ? 2 : 1));
  }
}

TEST(HfSet, Fp8SetWithScaleCompanions) {
  for (const std::string mode : {"tensor", "channel", "block"}) {
    const std::string cj = test::tiny_config_json(test::fp8_config_extra(mode));
    auto c = parse_model_config(cj, "tiny/config.json");
    ASSERT_TRUE(c.ok()) << c.message();
    const auto ts = test::tiny_tensors(*c, mode);
    TempDir dir;
    test::write_hf_set(dir.str(), ts, 2, cj);
    auto src = open_checkpoint(dir.str());
    ASSERT_TRUE(src.ok()) << mode << ": " << src.message();
    test::expect_source_holds(**src, ts);
  }
}

// Write a 2-shard set, then let `mutate` break it; opening must fail naming `expect`.
void expect_broken_set(const std::function<void(const std::string&)>& mutate, const std::string& expect) {
  const ModelConfig c = test::tiny_config();
  TempDir dir;
  test::write_hf_set(dir.str(), test::tiny_tensors(c), 2, test::tiny_config_json());
  mutate(dir.str());
  auto src = open_checkpoint(dir.str());
  ASSERT_FALSE(src.ok()) << "expected failure: " << expect;
  EXPECT_NE(src.message().find(expect), std::string::npos) << src.message();
}

std::string index_text(const std::string& dir) { return test::read_bytes(dir + "/" + kSafetensorsIndexName); }
void replace_in_index(const std::string& dir, const std::string& from, const std::string& to) {
  std::string s = index_text(dir);
  auto p = s.find(from);
  ASSERT_NE(p, std::string::npos) << from;
  s.replace(p, from.size(), to);
  test::write_bytes(dir + "/" + kSafetensorsIndexName, s);
}

TEST(HfSet, BrokenSetsFailWithClearMessages) {
  const std::string shard2 = "model-00002-of-00002.safetensors";
  expect_broken_set([&](const std::string& d) { replace_in_index(d, "\"" + shard2, "\"../" + shard2); },
                    "names a path");
  expect_broken_set([&](const std::string& d) { replace_in_index(d, "\"" + shard2, "\"/etc/" + shard2); },
                    "is an absolute path");
  expect_broken_set([&](const std::string& d) { replace_in_index(d, "\"" + shard2, "\"sub/" + shard2); },
                    "names a path");
  expect_broken_set([&](const std::string& d) { test::fs::remove(d + "/" + shard2); },
                    "names shard \"model-00002-of-00002.safetensors\", which is not a file");
  expect_broken_set([&](const std::string& d) { replace_in_index(d, "\"lm_head.weight\"", "\"lm_head.weightX\""); },
                    "tensor \"lm_head.weight\" is not listed");
  expect_broken_set(
      [&](const std::string& d) {
        replace_in_index(d, "\"weight_map\": {", "\"weight_map\": {\"ghost.weight\": \"" + shard2 + "\",");
      },
      "lists \"ghost.weight\"");
  expect_broken_set([&](const std::string& d) { replace_in_index(d, "\"total_size\": ", "\"total_size\": 1"); },
                    "metadata.total_size is");
  expect_broken_set(
      [&](const std::string& d) {
        replace_in_index(d, "\"weight_map\": {",
                         "\"weight_map\": {\"lm_head.weight\": \"model-00001-of-00002.safetensors\",");
      },
      "weight_map lists tensor \"lm_head.weight\" twice");
  expect_broken_set([&](const std::string& d) { test::write_bytes(d + "/extra.safetensors", "x"); },
                    "extra.safetensors is not named by");
  expect_broken_set([&](const std::string& d) { test::write_bytes(d + "/" + kSafetensorsIndexName, "{\"weight"); },
                    "malformed JSON");
  expect_broken_set([&](const std::string& d) { test::fs::remove(d + "/config.json"); }, "pass the model's config");
  expect_broken_set(
      [&](const std::string& d) {
        auto s = test::read_bytes(d + "/" + shard2);
        test::write_bytes(d + "/" + shard2, s.substr(0, s.size() - 3));
      },
      "model-00002-of-00002.safetensors: invalid safetensors file");
}

TEST(HfSet, WrongShapeMissingAndUnknownTensors) {
  const ModelConfig c = test::tiny_config();
  auto ts = test::tiny_tensors(c);
  {
    TempDir dir;
    auto bad = ts;
    bad[0].spec.shape = {32, 128};  // embed [64, 64] stored as [32, 128]
    test::write_hf_set(dir.str(), bad, 0, test::tiny_config_json());
    auto s = open_checkpoint(dir.str());
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.message().find("\"model.embed_tokens.weight\" has shape [32, 128], expected [64, 64]"),
              std::string::npos)
        << s.message();
  }
  {
    TempDir dir;
    auto bad = ts;
    bad.pop_back();
    test::write_hf_set(dir.str(), bad, 0, test::tiny_config_json());
    auto s = open_checkpoint(dir.str());
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.message().find("missing 1 tensor(s) of the layout"), std::string::npos) << s.message();
  }
  {
    TempDir dir;
    auto bad = ts;
    bad[1].spec.name = "model.mystery.weight";
    test::write_hf_set(dir.str(), bad, 0, test::tiny_config_json());
    auto s = open_checkpoint(dir.str());
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.message().find("\"model.mystery.weight\" is not in the Grok-2 layout"), std::string::npos)
        << s.message();
  }
}

TEST(Index, RoundTripAndNameRules) {
  SafetensorsIndex idx;
  idx.total_size = 1234;
  idx.weight_map = {{"a", hf_shard_name(1, 2)}, {"b", hf_shard_name(2, 2)}};
  EXPECT_EQ(hf_shard_name(1, 2), "model-00001-of-00002.safetensors");
  auto back = parse_safetensors_index(safetensors_index_json(idx), "i.json");
  ASSERT_TRUE(back.ok()) << back.message();
  EXPECT_EQ(back->total_size, 1234u);
  EXPECT_EQ(back->weight_map, idx.weight_map);
  for (const char* bad : {"", "..", "/abs.safetensors", "a/b.safetensors", "a\\b.safetensors", "x.bin", ".safetensors"})
    EXPECT_FALSE(check_set_file_name(bad).ok()) << bad;
  EXPECT_TRUE(check_set_file_name("model.safetensors").ok());
  TempDir dir;
  idx.weight_map["c"] = "../escape.safetensors";
  EXPECT_FALSE(write_safetensors_index(dir / "i.json", idx).ok());
  for (const char* bad : {"[]", "{}", R"({"weight_map": []})", R"({"weight_map": {"a": 1}})",
                          R"({"metadata": {"total_size": -1}, "weight_map": {}})",
                          R"({"metadata": {"total_size": "12"}, "weight_map": {}})"}) {
    auto r = parse_safetensors_index(bad, "i.json");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.message().rfind("i.json: ", 0), 0u) << r.message();
  }
}

TEST(Detect, EmptyUnknownAndGrok1Directories) {
  TempDir dir;
  auto s = open_checkpoint(dir.str());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("empty directory"), std::string::npos) << s.message();
  test::write_bytes(dir / "notes.txt", "hi");
  s = open_checkpoint(dir.str());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("not a checkpoint"), std::string::npos) << s.message();
  test::write_bytes(dir / "weights.safetensors", "hi");
  s = open_checkpoint(dir.str());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("cannot tell how they form a model"), std::string::npos) << s.message();
  s = open_checkpoint(dir / "nope");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("no such directory"), std::string::npos) << s.message();
  s = open_checkpoint(dir / "notes.txt");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("not a directory"), std::string::npos) << s.message();
  // A Grok-1 JAX directory is routed to open_grok1_jax (whatever that build provides).
  TempDir g1;
  test::fs::create_directories(g1.path() / "ckpt-0");
  auto direct = open_grok1_jax(g1.str(), "");
  auto detected = open_checkpoint(g1.str());
  ASSERT_FALSE(detected.ok());  // an empty ckpt-0 is never a valid checkpoint
  EXPECT_EQ(detected.message(), direct.message());
}

}  // namespace
}  // namespace g2
