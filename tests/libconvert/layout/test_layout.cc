// The layout tables: names, shapes and split geometry for both families at every TP.
#include <gtest/gtest.h>

#include <set>

#include "libconvert/layout/layout.h"
#include "tests/support/repo_config.h"

namespace g2 {
namespace {

ModelConfig load(const char* name) { return test::repo_config(name); }

TEST(Layout, Grok2CountsAndShapes) {
  const ModelConfig c = load("grok-2.json");
  const auto l = grok2_layout(c);
  // 3 global + per layer: 3 dense mlp + 8 experts x 3 + 4 attn + 4 norms + router = 36
  EXPECT_EQ(l.size(), 3u + 64u * 36u);
  std::set<std::string> names;
  for (const auto& s : l) EXPECT_TRUE(names.insert(s.name).second) << "duplicate " << s.name;
  const auto* w1 = find_spec(l, "model.layers.3.block_sparse_moe.experts.5.w1.weight");
  ASSERT_NE(w1, nullptr);
  EXPECT_EQ(w1->shape, (Shape{16384, 8192}));
  EXPECT_TRUE(w1->per_rank_file);
  EXPECT_EQ(w1->file_group, 6);
  const auto* k = find_spec(l, Role::AttnK, 0, -1);
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->shape, (Shape{1024, 8192}));
  uint64_t params = 0;
  for (const auto& s : l) params += *checked_numel(s.shape);
  // ~270B parameters (community analysis 269.5B)
  EXPECT_GT(params, 265'000'000'000ull);
  EXPECT_LT(params, 275'000'000'000ull);
}

TEST(Layout, Grok2ShardRanges) {
  const ModelConfig c = load("grok-2.json");
  const auto l = grok2_layout(c);
  const auto* q = find_spec(l, Role::AttnQ, 0, -1);
  const auto* k = find_spec(l, Role::AttnK, 0, -1);
  const auto* o = find_spec(l, Role::AttnO, 0, -1);
  const auto* w2 = find_spec(l, Role::ExpertDown, 0, 1);
  auto r = shard_range(*q, c, 8, 3);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->axis, 0);
  EXPECT_EQ(r->begin, 3 * 1024);
  EXPECT_EQ(r->end, 4 * 1024);
  // TP16: 8 KV heads replicated, rank r holds head r / 2 (SGLang's mapping)
  for (int rank = 0; rank < 16; ++rank) {
    auto kr = shard_range(*k, c, 16, rank);
    ASSERT_TRUE(kr.ok());
    EXPECT_EQ(kr->begin, (rank / 2) * 128);
    EXPECT_EQ(kr->end - kr->begin, 128);
  }
  auto orr = shard_range(*o, c, 4, 1);
  EXPECT_EQ(orr->axis, 1);
  EXPECT_EQ(orr->begin, 2048);
  auto wr = shard_range(*w2, c, 8, 7);
  EXPECT_EQ(wr->axis, 1);
  EXPECT_EQ(wr->begin, 7 * 2048);  // the release's expert slice of rank 7
  EXPECT_TRUE(check_tp(l, c, 16).ok());
  auto bad = check_tp(l, c, 3);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("--tp 3"), std::string::npos);
}

TEST(Layout, NonDividingSizeNamesTensor) {
  ModelConfig c = load("grok-2-odd.json");  // 12 q heads, 2 kv heads
  const auto l = grok2_layout(c);
  auto s = check_tp(l, c, 8);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("num_attention_heads 12"), std::string::npos) << s.message();
  c.num_attention_heads = 16;
  c.head_dim = 6;  // hidden 96 = 16 x 6; moe 48 splits 8 ways, dense 192 too; kv 2 < 8 replicated
  auto ok = check_tp(grok2_layout(c), c, 8);
  EXPECT_TRUE(ok.ok()) << ok.message();
  c.moe_intermediate_size = 44;  // 44 / 8 does not divide
  auto s2 = check_tp(grok2_layout(c), c, 8);
  ASSERT_FALSE(s2.ok());
  EXPECT_NE(s2.message().find("w1.weight: size 44 on axis 0 does not divide by tp 8"), std::string::npos)
      << s2.message();
}

TEST(Layout, Grok1FileOrderIsSortedStrings) {
  ModelConfig c = load("grok-1.json");
  EXPECT_EQ(grok1_sorted_layer_rank(0, 64), 0);
  EXPECT_EQ(grok1_sorted_layer_rank(1, 64), 1);
  EXPECT_EQ(grok1_sorted_layer_rank(10, 64), 2);
  EXPECT_EQ(grok1_sorted_layer_rank(19, 64), 11);
  EXPECT_EQ(grok1_sorted_layer_rank(2, 64), 12);
  EXPECT_EQ(grok1_sorted_layer_rank(9, 64), 63);
  const auto l = grok1_layout(c);
  std::set<int> files;
  for (const auto& s : l) files.insert(s.file_group);
  EXPECT_EQ(files.size(), 770u);  // 2 + 64 x 12, as the release
  const auto* q = find_spec(l, "transformer/decoder_layer_2/multi_head_attention/query/w");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->file_group, 2 + 12 * 12 + 5);
  EXPECT_EQ(q->dtype, DType::I8);
  EXPECT_EQ(q->shape, (Shape{6144, 6144}));
  const auto* qs = find_spec(l, "transformer/decoder_layer_2/multi_head_attention/query/scales");
  ASSERT_NE(qs, nullptr);
  EXPECT_EQ(qs->shape, (Shape{1, 6144}));
  EXPECT_EQ(qs->file_group, q->file_group);
  const auto* down = find_spec(l, "transformer/decoder_layer_0/moe/linear_1/scales");
  EXPECT_EQ(down->shape, (Shape{8, 8, 6144}));
  const auto* o = find_spec(l, "transformer/decoder_layer_0/multi_head_attention/linear/scales");
  EXPECT_EQ(o->shape, (Shape{8, 6144}));
  uint64_t params = 0;
  for (const auto& s : l)
    if (s.role != Role::Scales) params += *checked_numel(s.shape);
  EXPECT_GT(params, 310'000'000'000ull);  // 314B
  EXPECT_LT(params, 318'000'000'000ull);
}

}  // namespace
}  // namespace g2
