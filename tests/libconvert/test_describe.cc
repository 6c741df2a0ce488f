// describe_checkpoint: what each tool is told about a directory (format, family, TP width and
// layout, linear dtype, FP8 scheme, manifest, a --ranks share), from real files.
#include <gtest/gtest.h>

#include "libconvert/describe.h"
#include "tests/support/tiny_model.h"

namespace g2 {
namespace {

TEST(Describe, Fp8TpSet) {
  for (const TpLayoutKind kind : {TpLayoutKind::Tp, TpLayoutKind::Rank})
    for (const bool g2_layout : {true, false}) {
      SCOPED_TRACE(std::string(tp_layout_kind_name(kind)) + (g2_layout ? " with g2_layout" : " without"));
      const std::string cj = test::tiny_config_json(test::fp8_config_extra("block"));
      auto c = parse_model_config(cj, "tiny/config.json");
      ASSERT_TRUE(c.ok());
      test::TempDir dir;
      test::write_tp_set(dir.str(), test::tiny_tensors(*c, "block"), *c, 4, kind, cj, g2_layout);
      auto d = describe_checkpoint(dir.str());
      ASSERT_TRUE(d.ok()) << d.message();
      const CheckpointInfo& i = d->info;
      EXPECT_EQ(i.format, Format::Grok2TpSet);
      EXPECT_EQ(i.family, Family::Grok2);
      EXPECT_EQ(i.tp, 4);
      EXPECT_EQ(i.layout, kind);
      EXPECT_EQ(i.linear_dtype, DType::F8_E4M3);
      EXPECT_EQ(i.fp8, (Fp8Spec{Fp8ScaleMode::Block, 8, 8}));
      EXPECT_FALSE(i.manifest);
      EXPECT_FALSE(i.ranks);
      EXPECT_EQ(d->source->tensors().size(), test::tiny_tensors(*c, "block").size());
    }
}

TEST(Describe, HfSetWithManifest) {
  const ModelConfig c = test::tiny_config();
  test::TempDir dir;
  test::write_hf_set(dir.str(), test::tiny_tensors(c), 0, test::tiny_config_json());
  auto d = describe_checkpoint(dir.str());
  ASSERT_TRUE(d.ok()) << d.message();
  EXPECT_EQ(d->info.format, Format::SafetensorsSet);
  EXPECT_EQ(d->info.tp, 1);
  EXPECT_FALSE(d->info.layout);
  EXPECT_EQ(d->info.linear_dtype, DType::BF16);
  EXPECT_FALSE(d->info.fp8);
  EXPECT_FALSE(d->info.manifest);
  // A well-formed manifest is read; a broken one is left to --verify, not an open error.
  Manifest m;
  m.command = {"g2convert"};
  m.files.push_back({"model.safetensors", 1, std::string(32, '0')});
  ASSERT_TRUE(write_manifest(dir.str() + "/" + kManifestName, m).ok());
  d = describe_checkpoint(dir.str());
  ASSERT_TRUE(d.ok() && d->info.manifest);
  EXPECT_EQ(d->info.manifest->files.size(), 1u);
  test::write_bytes(dir.str() + "/" + kManifestName, "{\"files\": 3");
  d = describe_checkpoint(dir.str());
  ASSERT_TRUE(d.ok()) << d.message();
  EXPECT_FALSE(d->info.manifest);
}

// A folder holding ranks 2-3 of a TP-4 set: refused as a model, opened as a share on request.
TEST(Describe, RankShareFromItsManifest) {
  const ModelConfig c = test::tiny_config();
  test::TempDir dir;
  test::write_tp_set(dir.str(), test::tiny_tensors(c), c, 4, TpLayoutKind::Rank, test::tiny_config_json());
  for (const auto& e : std::filesystem::directory_iterator(dir.str())) {
    const auto n = parse_tp_file_name(e.path().filename().string());
    if (n && (n->rank == 0 || n->rank == 1)) std::filesystem::remove(e.path());
  }
  Manifest m;
  m.ranks = RankSubset{2, 3, 4};
  ASSERT_TRUE(write_manifest(dir.str() + "/" + kManifestName, m).ok());
  auto whole = describe_checkpoint(dir.str());
  ASSERT_FALSE(whole.ok());
  EXPECT_NE(whole.message().find("holds only ranks 2-3 of tp 4"), std::string::npos) << whole.message();
  auto share = describe_checkpoint(dir.str(), "", /*open_share=*/true);
  ASSERT_TRUE(share.ok()) << share.message();
  EXPECT_EQ(share->info.ranks, (RankSubset{2, 3, 4}));
  EXPECT_EQ(share->info.tp, 4);
  EXPECT_EQ(share->info.layout, TpLayoutKind::Rank);
}

TEST(Describe, MissingDirectory) {
  auto d = describe_checkpoint("/nonexistent-g2kit-dir");
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.message().find("no such directory"), std::string::npos);
}

}  // namespace
}  // namespace g2
