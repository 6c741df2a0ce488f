// The one FP8 scale split rule (layout/scales.h), checked against Grok-2 at real sizes.
#include <gtest/gtest.h>

#include "libconvert/layout/scales.h"

namespace g2 {
namespace {

ModelConfig grok2() {
  auto c = load_model_config(std::string(G2_SOURCE_DIR) + "/configs/grok-2.json");
  EXPECT_TRUE(c.ok()) << c.message();
  return *c;
}

TEST(Scales, NamesAndShapes) {
  EXPECT_EQ(fp8_scale_name("a.q_proj.weight", Fp8ScaleMode::Block), "a.q_proj.weight_scale_inv");
  EXPECT_EQ(fp8_scale_name("a.q_proj.weight", Fp8ScaleMode::Channel), "a.q_proj.weight_scale");
  bool block = false;
  EXPECT_EQ(scale_weight_name("a.w2.weight_scale_inv", &block), "a.w2.weight");
  EXPECT_TRUE(block);
  EXPECT_EQ(scale_weight_name("a.w2.weight_scale", &block), "a.w2.weight");
  EXPECT_FALSE(block);
  EXPECT_EQ(scale_weight_name("a.w2.weight"), "");
  const ModelConfig c = grok2();
  const auto layout = grok2_layout(c);
  const TensorSpec* q = find_spec(layout, "model.layers.0.self_attn.q_proj.weight");
  const TensorSpec* o = find_spec(layout, "model.layers.0.self_attn.o_proj.weight");
  ASSERT_TRUE(q && o);
  EXPECT_EQ(scale_split(*q, Fp8Spec{Fp8ScaleMode::Tensor}).shape, Shape{});
  EXPECT_EQ(scale_split(*q, Fp8Spec{Fp8ScaleMode::Channel}).shape, (Shape{8192, 1}));
  EXPECT_EQ(scale_split(*q, Fp8Spec{Fp8ScaleMode::Block, 128, 128}).shape, (Shape{64, 64}));
  EXPECT_EQ(scale_split(*q, Fp8Spec{Fp8ScaleMode::Block, 100, 100}).shape, (Shape{82, 82}));  // ceil
  EXPECT_EQ(scale_split(*q, Fp8Spec{Fp8ScaleMode::Tensor}).split, Split::Replicated);
  EXPECT_EQ(scale_split(*q, Fp8Spec{Fp8ScaleMode::Channel}).split, Split::Axis);
  EXPECT_EQ(scale_split(*o, Fp8Spec{Fp8ScaleMode::Channel}).split,
            Split::Replicated);  // o splits on K: all N on every rank
  EXPECT_EQ(scale_split(*o, Fp8Spec{Fp8ScaleMode::Block}).split_axis, 1);
}

TEST(Scales, RankRangesFollowTheWeightInBlocks) {
  const ModelConfig c = grok2();
  const auto layout = grok2_layout(c);
  const TensorSpec* w1 = find_spec(layout, "model.layers.3.block_sparse_moe.experts.5.w1.weight");  // [16384, 8192]
  const TensorSpec* w2 = find_spec(layout, "model.layers.3.block_sparse_moe.experts.5.w2.weight");  // [8192, 16384]
  const TensorSpec* k = find_spec(layout, "model.layers.3.self_attn.k_proj.weight");                // [1024, 8192]
  ASSERT_TRUE(w1 && w2 && k);
  auto r = scale_shard_range(*w1, Fp8Spec{Fp8ScaleMode::Block}, c, 8, 3);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->axis, 0);
  EXPECT_EQ(r->begin, 3 * 16);  // 2048 rows per rank = 16 blocks
  EXPECT_EQ(r->end, 4 * 16);
  r = scale_shard_range(*w2, Fp8Spec{Fp8ScaleMode::Block}, c, 8, 3);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->axis, 1);
  EXPECT_EQ(r->begin, 48);
  r = scale_shard_range(*w1, Fp8Spec{Fp8ScaleMode::Channel}, c, 8, 7);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->begin, 7 * 2048);
  r = scale_shard_range(*w2, Fp8Spec{Fp8ScaleMode::Channel}, c, 8, 7);  // replicated
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->begin, 0);
  EXPECT_EQ(r->end, 8192);
  // tp 16: 8 KV heads replicated twice; ranks 4 and 5 hold head 2 = block row 2.
  for (int rank : {4, 5}) {
    r = scale_shard_range(*k, Fp8Spec{Fp8ScaleMode::Block}, c, 16, rank);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->begin, 2);
    EXPECT_EQ(r->end, 3);
  }
  // A block that straddles two ranks is refused, naming the weight.
  auto bad = scale_shard_range(*k, Fp8Spec{Fp8ScaleMode::Block, 256, 128}, c, 16, 4);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("k_proj.weight: rank 4 of tp 16 holds [256, 384)"), std::string::npos) << bad.message();
}

}  // namespace
}  // namespace g2
