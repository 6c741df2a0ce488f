// Weight-streaming buffer plan (libmodel/cuda/host/buffer_plan.h), on the tiny configs.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "libconvert/layout/layout.h"
#include "libconvert/model_config.h"
#include "libmodel/cuda/host/buffer_plan.h"
#include "tests/support/repo_config.h"

namespace g2 {
namespace {

ModelConfig load(const char* name) { return test::repo_config(name); }

// Slices are aligned, disjoint, in increasing order and inside total_bytes.
void expect_well_formed(const LayerBufferPlan& p, uint64_t alignment) {
  uint64_t end = 0;
  for (const auto& s : p.slices) {
    EXPECT_EQ(s.dst_offset % alignment, 0u) << s.spec->name;
    EXPECT_GE(s.dst_offset, end) << s.spec->name << " overlaps the previous slice";
    EXPECT_GT(s.bytes, 0u);
    end = s.dst_offset + s.bytes;
  }
  EXPECT_GE(p.total_bytes, end);
  EXPECT_LT(p.total_bytes - end, alignment);
}

TEST(BufferPlan, Grok2OnlyRoutedExpertsAreCopied) {
  const ModelConfig c = load("grok-2-tiny.json");
  const auto layout = grok2_layout(c);
  const std::vector<int> routed = {5, 3};
  auto p = plan_layer_buffer(layout, c, 1, routed, 1, 0);
  ASSERT_TRUE(p.ok()) << p.message();
  expect_well_formed(*p, 256);
  std::set<int> experts;
  uint64_t expert_bytes = 0, other_bytes = 0;
  for (const auto& s : p->slices) {
    EXPECT_EQ(s.spec->layer, 1);
    if (s.expert >= 0) {
      experts.insert(s.expert);
      expert_bytes += s.bytes;
    } else {
      other_bytes += s.bytes;
    }
  }
  EXPECT_EQ(experts, (std::set<int>{3, 5}));
  // w1, w3 [256, 512] and w2 [512, 256] in bf16, per routed expert
  EXPECT_EQ(expert_bytes, 2u * 3u * 256u * 512u * 2u);
  // q, o [512, 512]; k, v [64, 512]; 4 norms [512]; router [8, 512]; dense gate/up [1024, 512], down [512, 1024]
  const uint64_t dense = 2 * 512 * 512 + 2 * 64 * 512 + 4 * 512 + 8 * 512 + 3 * 1024 * 512;
  EXPECT_EQ(other_bytes, dense * 2);
  // experts appear in routed order within each tensor role
  auto all = plan_layer_buffer(layout, c, 1, std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}, 1, 0);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->total_bytes - p->total_bytes >= 6u * 3u * 256u * 512u * 2u, true);
  auto mx = max_layer_buffer_bytes(layout, c, 1, 0);
  ASSERT_TRUE(mx.ok());
  EXPECT_EQ(*mx, all->total_bytes);
}

TEST(BufferPlan, Grok2TpShardsFollowTheLayout) {
  const ModelConfig c = load("grok-2-tiny.json");
  const auto layout = grok2_layout(c);
  const std::vector<int> routed = {0};
  uint64_t sum_q = 0;
  for (int r = 0; r < 4; ++r) {
    auto p = plan_layer_buffer(layout, c, 0, routed, 4, r);
    ASSERT_TRUE(p.ok()) << p.message();
    expect_well_formed(*p, 256);
    for (const auto& s : p->slices) {
      auto want = shard_shape(*s.spec, c, 4, r);
      ASSERT_TRUE(want.ok());
      EXPECT_EQ(s.shard_shape, *want) << s.spec->name;
      if (s.spec->role == Role::AttnQ) {
        EXPECT_EQ(s.range.begin, r * 128);  // 512 rows / 4
        sum_q += s.bytes;
      }
      if (s.spec->role == Role::ExpertUp) {
        EXPECT_EQ(s.bytes, 64u * 512u * 2u);  // 256 / 4 rows
      }
    }
  }
  EXPECT_EQ(sum_q, 512u * 512u * 2u);
}

TEST(BufferPlan, Grok1StackedExpertsAreSlicedPerRoutedExpert) {
  const ModelConfig c = load("grok-1-tiny.json");
  const auto layout = grok1_layout(c);
  const std::vector<int> routed = {6, 1};
  auto p = plan_layer_buffer(layout, c, 0, routed, 2, 1);
  ASSERT_TRUE(p.ok()) << p.message();
  expect_well_formed(*p, 256);
  int gate_slices = 0, gate_scale_slices = 0;
  for (const auto& s : p->slices) {
    if (s.spec->name == "transformer/decoder_layer_0/moe/linear/w") {
      // [8, 384, 256] int8 split on the ffn axis: rank shard [8, 384, 128]
      EXPECT_EQ(s.shard_shape, (Shape{8, 384, 128}));
      EXPECT_EQ(s.bytes, 384u * 128u);
      EXPECT_EQ(s.src_offset, uint64_t(s.expert) * 384u * 128u);
      EXPECT_EQ(s.expert, routed[size_t(gate_slices)]);
      ++gate_slices;
    }
    if (s.spec->name == "transformer/decoder_layer_0/moe/linear/scales") {
      EXPECT_EQ(s.bytes, 256u * 2u);  // [8, 1, 256] bf16, replicated: one expert's row
      EXPECT_EQ(s.src_offset, uint64_t(s.expert) * 512u);
      ++gate_scale_slices;
    }
    if (s.spec->role == Role::AttnQ) {
      EXPECT_EQ(s.expert, -1);
    }
  }
  EXPECT_EQ(gate_slices, 2);
  EXPECT_EQ(gate_scale_slices, 2);
  const TensorSpec* attn_scales = find_spec(layout, "transformer/decoder_layer_0/multi_head_attention/query/scales");
  ASSERT_NE(attn_scales, nullptr);
  EXPECT_FALSE(is_stacked_expert_tensor(layout, *attn_scales, c));
}

TEST(BufferPlan, StoredDtypeOverrideChangesBytes) {
  const ModelConfig c = load("grok-2-tiny.json");
  const auto layout = grok2_layout(c);
  BufferPlanOptions fp8;
  fp8.stored_dtype = [](const TensorSpec& s) { return s.fp8_candidate ? DType::F8_E4M3 : s.dtype; };
  const std::vector<int> routed = {2};
  auto a = plan_layer_buffer(layout, c, 0, routed, 1, 0);
  auto b = plan_layer_buffer(layout, c, 0, routed, 1, 0, fp8);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_LT(b->total_bytes, a->total_bytes);
  for (const auto& s : b->slices)
    if (s.spec->role == Role::AttnQ) {
      EXPECT_EQ(s.bytes, 512u * 512u);
    }
}

TEST(BufferPlan, BadRoutingIsAnError) {
  const ModelConfig c = load("grok-2-tiny.json");
  const auto layout = grok2_layout(c);
  EXPECT_FALSE(plan_layer_buffer(layout, c, 0, std::vector<int>{8}, 1, 0).ok());
  EXPECT_FALSE(plan_layer_buffer(layout, c, 0, std::vector<int>{1, 1}, 1, 0).ok());
  EXPECT_FALSE(plan_layer_buffer(layout, c, 2, std::vector<int>{1}, 1, 0).ok());
  auto bad_tp = plan_layer_buffer(layout, c, 0, std::vector<int>{1}, 3, 0);
  ASSERT_FALSE(bad_tp.ok());
  EXPECT_NE(bad_tp.message().find("tp 3"), std::string::npos) << bad_tp.message();
}

}  // namespace
}  // namespace g2
