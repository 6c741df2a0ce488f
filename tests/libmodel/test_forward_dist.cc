// One rank per worker: ForwardOptions::only_rank with a real all-reduce, on the CPU.
// Each TP rank runs in its own thread on its own backend; Backend::all_reduce_sum meets the
// other threads at a barrier and sums the ranks' partials in rank order 0..tp-1, the order
// the single-process rank-by-rank forward adds them in. So the one-process-per-GPU path of
// the forward (the one NCCL drives on GPUs) is executed here for real, and must reproduce
// the rank-by-rank forward bit for bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <thread>

#include "libmodel/forward.h"
#include "model_fixtures.h"
#include "thread_group.h"

namespace g2 {
namespace {

using testing::random_weights;
using testing::ThreadGroup;
using testing::ThreadRankBackend;
using testing::tiny_config;

void expect_same(const ActivationRecord& got, const ActivationRecord& want, const std::string& who) {
  ASSERT_EQ(got.layers.size(), want.layers.size()) << who;
  for (size_t l = 0; l < want.layers.size(); ++l) {
    EXPECT_EQ(got.layers[l].attn_residual, want.layers[l].attn_residual) << who << " layer " << l;
    EXPECT_EQ(got.layers[l].router_logits, want.layers[l].router_logits) << who << " layer " << l;
    EXPECT_EQ(got.layers[l].experts, want.layers[l].experts) << who << " layer " << l;
    EXPECT_EQ(got.layers[l].residual, want.layers[l].residual) << who << " layer " << l;
  }
  EXPECT_EQ(got.logits, want.logits) << who;
}

// Runs the tiny model at `tp` with one thread per rank and checks every rank's record equals
// the single-process rank-by-rank forward bit for bit, and that each rank multiplied only its
// 1/tp share of the split weights (MemoryWeights serves stored views, which a rank slices to
// its shard) plus the whole replicated router.
void expect_thread_ranks_match(bool grok2, int heads, int kv, int tp, Precision prec) {
  ModelConfig c = tiny_config(grok2, heads, kv, 4);
  c.moe_intermediate_size = 32;
  if (grok2) c.intermediate_size = 32;
  MemoryWeights w = random_weights(c, grok2 ? Family::Grok2 : Family::Grok1, 3);
  const std::vector<int32_t> tok{3, 1, 4, 1, 5, 9, 2, 6};
  ForwardOptions o;
  o.precision = prec;
  o.tp = tp;
  ThreadGroup solo(1);
  ThreadRankBackend counting(&solo, 0);  // rank-by-rank in one process, counting view elements
  auto ranked = run_forward(w, counting, tok, o);
  ASSERT_TRUE(ranked.ok()) << ranked.message();
  // the router [E, H], replicated: computed once per layer by every rank and by the
  // rank-by-rank run alike
  const int64_t router = int64_t(c.num_local_experts) * c.hidden_size * c.num_hidden_layers;
  ASSERT_GT(counting.view_elements, router);

  ThreadGroup group(tp);
  std::vector<std::unique_ptr<ThreadRankBackend>> be;
  for (int r = 0; r < tp; ++r) be.push_back(std::make_unique<ThreadRankBackend>(&group, r));
  auto out = std::vector<std::optional<Expected<ActivationRecord>>>(size_t(tp));
  std::vector<std::thread> threads;
  for (int r = 0; r < tp; ++r)
    threads.emplace_back([&, r] {
      ForwardOptions ro = o;
      ro.only_rank = r;
      out[size_t(r)] = run_forward(w, *be[size_t(r)], tok, ro);
      if (!out[size_t(r)]->ok()) group.leave();
    });
  for (auto& t : threads) t.join();

  // 2 layers: o-proj + the routed experts' down projections (+ the dense MLP on Grok-2).
  int want_reduces = 0;
  for (const auto& la : ranked->layers) {
    std::vector<int32_t> e = la.experts;
    std::sort(e.begin(), e.end());
    want_reduces += 1 + int(std::unique(e.begin(), e.end()) - e.begin()) + (grok2 ? 1 : 0);
  }
  for (int r = 0; r < tp; ++r) {
    const std::string who = "tp " + std::to_string(tp) + " rank " + std::to_string(r);
    ASSERT_TRUE(out[size_t(r)]->ok()) << who << ": " << out[size_t(r)]->message();
    EXPECT_EQ(be[size_t(r)]->reduces, want_reduces) << who;
    EXPECT_EQ((**out[size_t(r)]).metadata.at("tp_rank"), std::to_string(r));
    expect_same(**out[size_t(r)], *ranked, who);
    // only its own shard of each split weight (host reads divided by tp), and the router
    EXPECT_EQ((be[size_t(r)]->view_elements - router) * tp, counting.view_elements - router) << who;
  }
}

TEST(ForwardDist, Grok2ThreadPerRankF32) {
  for (int tp : {2, 4, 8}) expect_thread_ranks_match(true, 8, 8, tp, Precision::F32);
  expect_thread_ranks_match(true, 16, 8, 16, Precision::F32);  // KV heads replicated on 2 ranks
}
TEST(ForwardDist, Grok2ThreadPerRankReference) { expect_thread_ranks_match(true, 8, 8, 4, Precision::Reference); }
TEST(ForwardDist, Grok1ThreadPerRank) { expect_thread_ranks_match(false, 8, 8, 8, Precision::F32); }

// The hook is what makes it right: a backend without a group (the default no-op) leaves each
// rank with only its own partial sums, and the result must be wrong.
TEST(ForwardDist, NoOpAllReduceIsWrong) {
  ModelConfig c = tiny_config(true);
  MemoryWeights w = random_weights(c, Family::Grok2, 3);
  const std::vector<int32_t> tok{3, 1, 4, 1};
  ForwardOptions o;
  o.tp = 2;
  auto cpu = make_cpu_backend();
  auto ranked = run_forward(w, *cpu, tok, o);
  o.only_rank = 1;
  auto alone = run_forward(w, *cpu, tok, o);
  ASSERT_TRUE(ranked.ok() && alone.ok());
  EXPECT_NE(alone->layers[0].attn_residual, ranked->layers[0].attn_residual);
}

TEST(ForwardDist, OnlyRankNeedsARankBelowTp) {
  ModelConfig c = tiny_config(true);
  MemoryWeights w = random_weights(c, Family::Grok2, 3);
  auto cpu = make_cpu_backend();
  ForwardOptions o;
  o.tp = 2;
  o.only_rank = 2;
  auto r = run_forward(w, *cpu, std::vector<int32_t>{1, 2}, o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("only_rank 2"), std::string::npos) << r.message();
  o.tp = 1;
  o.only_rank = 0;
  EXPECT_FALSE(run_forward(w, *cpu, std::vector<int32_t>{1, 2}, o).ok());
}

}  // namespace
}  // namespace g2
