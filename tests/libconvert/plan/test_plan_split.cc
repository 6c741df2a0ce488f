// Splitting a plan over nodes (--ranks) and workers (--part): pure functions of the plan, so
// these run on in-memory source descriptions. A node's share holds the common files and its
// ranks' files; parts are disjoint, cover the plan, are balanced by bytes and do not depend
// on anything but the plan.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "libconvert/plan/plan_split.h"

namespace g2 {
namespace {

Plan tiny_plan(int tp, OutLayout layout) {
  auto c = load_model_config(std::string(G2_SOURCE_DIR) + "/configs/grok-2-tiny.json");
  EXPECT_TRUE(c.ok()) << c.message();
  SourceDesc d;
  d.config = *c;
  d.root = "/src";
  for (const auto& s : grok2_layout(d.config)) d.tensors.push_back({s.name, s.dtype, s.shape});
  TargetSpec t;
  t.tp = tp;
  t.layout = layout;
  auto p = make_plan(d, t);
  EXPECT_TRUE(p.ok()) << p.message();
  return *p;
}

std::set<std::string> paths(const Plan& p) {
  std::set<std::string> out;
  for (const auto& f : p.files) out.insert(f.path);
  return out;
}

TEST(PlanSplit, RanksKeepTheCommonFilesAndTheirRankFiles) {
  for (OutLayout lay : {OutLayout::Rank, OutLayout::Tp}) {
    const Plan full = tiny_plan(16, lay);
    auto node1 = select_ranks(full, 8, 15);
    ASSERT_TRUE(node1.ok()) << node1.message();
    ASSERT_TRUE(node1->ranks.has_value());
    EXPECT_EQ(*node1->ranks, (RankSubset{8, 15, 16}));
    EXPECT_EQ(node1->ranks->text(), "ranks 8-15 of 16");
    auto node0 = select_ranks(full, 0, 7);
    ASSERT_TRUE(node0.ok());
    size_t common = 0;
    for (const auto& f : full.files) {
      const bool in0 = paths(*node0).count(f.path), in1 = paths(*node1).count(f.path);
      if (f.rank < 0) {
        ++common;
        EXPECT_TRUE(in0 && in1) << f.path << ": common files go to every node";
      } else {
        EXPECT_EQ(in0, f.rank < 8) << f.path;
        EXPECT_EQ(in1, f.rank >= 8) << f.path;
      }
    }
    EXPECT_GT(common, 0u);
    EXPECT_EQ(node0->files.size() + node1->files.size(), full.files.size() + common);
    // the same tensors (and the same config.json) as the whole plan's files
    for (const auto& f : node1->files) {
      auto it =
          std::find_if(full.files.begin(), full.files.end(), [&](const PlannedFile& g) { return g.path == f.path; });
      ASSERT_NE(it, full.files.end());
      EXPECT_EQ(it->tensors.size(), f.tensors.size());
      EXPECT_EQ(it->payload_bytes, f.payload_bytes);
    }
    EXPECT_EQ(node1->text_files[0].content, full.text_files[0].content);
    // a share is a different conversion than the whole set, and than the other share
    EXPECT_NE(node1->fingerprint(), full.fingerprint());
    EXPECT_NE(node1->fingerprint(), node0->fingerprint());
    EXPECT_NE(plan_to_text(*node1).find("ranks 8-15 of 16"), std::string::npos);
  }
}

TEST(PlanSplit, RanksRefusals) {
  const Plan full = tiny_plan(16, OutLayout::Rank);
  auto all = select_ranks(full, 0, 15);
  ASSERT_TRUE(all.ok());
  EXPECT_FALSE(all->ranks.has_value()) << "every rank is the whole set";
  EXPECT_EQ(all->fingerprint(), full.fingerprint());
  auto out = select_ranks(full, 8, 16);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.message().find("outside ranks 0-15 of tp 16"), std::string::npos) << out.message();
  EXPECT_FALSE(select_ranks(full, 9, 8).ok());
  auto hf = select_ranks(tiny_plan(1, OutLayout::Hf), 0, 0);
  ASSERT_FALSE(hf.ok());
  EXPECT_NE(hf.message().find("--layout hf writes unsharded files"), std::string::npos) << hf.message();
}

TEST(PlanSplit, PartsAreDisjointCoveringAndBalanced) {
  const Plan full = tiny_plan(16, OutLayout::Rank);
  uint64_t largest = 0;
  for (const auto& f : full.files) largest = std::max(largest, f.payload_bytes);
  for (int n : {1, 2, 3, 4, 7, 16}) {
    auto parts = split_parts(full, n);
    ASSERT_TRUE(parts.ok()) << parts.message();
    ASSERT_EQ(int(parts->size()), n);
    std::vector<int> owner(full.files.size(), 0);
    uint64_t lo = UINT64_MAX, hi = 0;
    for (const auto& p : *parts) {
      uint64_t bytes = 0;
      EXPECT_TRUE(std::is_sorted(p.files.begin(), p.files.end())) << "plan order within a part";
      for (size_t i : p.files) {
        ++owner[i];
        bytes += full.files[i].payload_bytes;
      }
      EXPECT_EQ(bytes, p.bytes);
      EXPECT_EQ(p.text_files, p.part.index == 1);
      lo = std::min(lo, p.bytes);
      hi = std::max(hi, p.bytes);
    }
    for (size_t i = 0; i < owner.size(); ++i) EXPECT_EQ(owner[i], 1) << full.files[i].path << " at n = " << n;
    EXPECT_LE(hi - lo, largest) << "n = " << n;
    // deterministic: a second call (another process) deals the same files
    auto again = split_parts(full, n);
    for (int i = 0; i < n; ++i) EXPECT_EQ((*again)[size_t(i)].files, (*parts)[size_t(i)].files);
  }
  // more parts than files: the extra parts are empty, still valid
  auto many = split_parts(full, int(full.files.size()) + 3);
  ASSERT_TRUE(many.ok());
  size_t empty = 0;
  for (const auto& p : *many) empty += p.files.empty();
  EXPECT_EQ(empty, 3u);
  EXPECT_FALSE(split_parts(full, 0).ok());
}

TEST(PlanSplit, PartPlanHoldsItsFilesAndTextOnlyInPartOne) {
  const Plan full = tiny_plan(8, OutLayout::Tp);
  auto parts = split_parts(full, 3);
  ASSERT_TRUE(parts.ok());
  size_t files = 0;
  for (const auto& p : *parts) {
    const Plan share = part_plan(full, p);
    EXPECT_EQ(share.files.size(), p.files.size());
    EXPECT_EQ(share.total_bytes(), p.bytes);
    EXPECT_EQ(share.text_files.empty(), p.part.index != 1);
    files += share.files.size();
  }
  EXPECT_EQ(files, full.files.size());
  // parts of a node's share: the split works on the selected plan
  auto node = select_ranks(tiny_plan(16, OutLayout::Rank), 8, 15);
  ASSERT_TRUE(node.ok());
  auto node_parts = split_parts(*node, 4);
  ASSERT_TRUE(node_parts.ok());
  size_t n = 0;
  for (const auto& p : *node_parts) n += p.files.size();
  EXPECT_EQ(n, node->files.size());
}

}  // namespace
}  // namespace g2
