// The --dist self-check and verdict (libmodel/cuda/host/dist_check.h) with one CPU thread per
// rank: the calls g2diff --dist makes per GPU, with the thread group's all-reduce in place of
// NCCL. Every scenario must end on every rank (no hang): all pass, or all stop and name the
// rank that failed, whether it failed the comparison, its CPU reference, or half-way through
// its collective forward.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "libmodel/cuda/host/dist_check.h"
#include "tests/libmodel/model_fixtures.h"
#include "tests/libmodel/thread_group.h"

namespace g2 {
namespace {

using testing::ThreadGroup;
using testing::ThreadRankBackend;

// WrongLogitCap: the final logit softcap (replicated work after the last all-reduce) is off
// by 0.1% on that rank only, so only its verdict differs; DeviceErrorInGemm: a CUDA-style failure.
enum class Trouble { None, WrongLogitCap, DeviceErrorInGemm };

// A rank's backend: the group's all-reduce, optionally with one kind of trouble.
class RankBackend final : public ThreadRankBackend {
 public:
  RankBackend(ThreadGroup* g, int rank, Trouble t) : ThreadRankBackend(g, rank), t_(t) {}
  std::string_view name() const override { return "rank"; }
  void softcap(float* x, size_t n, float cap) override {
    ThreadRankBackend::softcap(x, n, cap);
    if (t_ == Trouble::WrongLogitCap) scale(x, n, 1.001f);
  }
  void matmul_stored(const float* x, int ldx, const StoredWeight& w, float* y, int ldy, int T, bool acc) override {
    // The third weight multiply fails like a CUDA out-of-memory (after the first all-reduce
    // partners have started: the group's collective sequence is broken half-way).
    if (t_ == Trouble::DeviceErrorInGemm && ++gemms_ == 3) throw DeviceError("g2kit CUDA error: out of memory");
    ThreadRankBackend::matmul_stored(x, ldx, w, y, ldy, T, acc);
  }

 private:
  Trouble t_;
  int gemms_ = 0;
};

// Fails every read of the q projection: the rank cannot even run the CPU reference.
class BrokenWeights final : public DelegatingWeights {
 public:
  using DelegatingWeights::DelegatingWeights;
  Expected<Matrix> matrix(Role role, int layer, int expert, bool exact) override {
    if (role == Role::AttnQ) return io_error("q_proj.weight: read error (test)");
    return inner_.matrix(role, layer, expert, exact);
  }
  std::optional<StoredWeight> stored(Role role, int layer, int expert) override {
    if (role == Role::AttnQ) return std::nullopt;  // falls back to matrix(), which fails
    return inner_.stored(role, layer, expert);
  }
};

struct Outcome {
  std::vector<Status> status;
  std::vector<int> reduces;
};

// Runs dist_self_check on `tp` threads; rank `bad` gets `trouble` (or broken weights).
Outcome run_group(int tp, int bad, Trouble trouble, bool broken_weights = false) {
  ModelConfig c = testing::tiny_config(true, 8, 8, 4);
  MemoryWeights w = testing::random_weights(c, Family::Grok2, 4);
  BrokenWeights broken(w);
  const std::vector<int32_t> tok{2, 7, 1, 8, 2, 8};
  ThreadGroup group(tp);
  std::vector<std::unique_ptr<RankBackend>> be;
  for (int r = 0; r < tp; ++r)
    be.push_back(std::make_unique<RankBackend>(&group, r, r == bad ? trouble : Trouble::None));
  Outcome out;
  out.status.resize(size_t(tp));
  std::vector<std::thread> threads;
  for (int r = 0; r < tp; ++r)
    threads.emplace_back([&, r] {
      SelfCheckOptions o;
      o.forward.tp = tp;
      o.forward.only_rank = r;
      WeightSource& mine = broken_weights && r == bad ? static_cast<WeightSource&>(broken) : w;
      out.status[size_t(r)] = dist_self_check(mine, *be[size_t(r)], tok, o, r, tp, "thread " + std::to_string(r));
    });
  for (auto& t : threads) t.join();
  for (auto& b : be) out.reduces.push_back(b->reduces);
  return out;
}

TEST(DistCheck, HealthyRanksAllGoOn) {
  const Outcome o = run_group(4, -1, Trouble::None);
  for (int r = 0; r < 4; ++r) {
    EXPECT_TRUE(o.status[size_t(r)].ok()) << "rank " << r << ": " << o.status[size_t(r)].message();
    // the tested forward's all-reduces (o-proj, dense MLP, routed experts) plus two verdicts
    EXPECT_GT(o.reduces[size_t(r)], 4) << "rank " << r;
    EXPECT_EQ(o.reduces[size_t(r)], o.reduces[0]) << "every rank runs the same collective sequence";
  }
}

TEST(DistCheck, ARankThatDisagreesStopsEveryRank) {
  const Outcome o = run_group(4, 2, Trouble::WrongLogitCap);
  ASSERT_FALSE(o.status[2].ok());
  EXPECT_NE(o.status[2].message().find("self-check failed on thread 2"), std::string::npos) << o.status[2].message();
  for (int r : {0, 1, 3}) {
    ASSERT_FALSE(o.status[size_t(r)].ok()) << "rank " << r << " went on without rank 2";
    EXPECT_NE(o.status[size_t(r)].message().find("passed here, but rank 2 failed"), std::string::npos)
        << o.status[size_t(r)].message();
  }
}

TEST(DistCheck, ARankThatCannotReadItsWeightsStopsEveryRankBeforeAnyCollectiveForward) {
  const Outcome o = run_group(2, 1, Trouble::None, /*broken_weights=*/true);
  ASSERT_FALSE(o.status[1].ok());
  EXPECT_NE(o.status[1].message().find("q_proj.weight: read error"), std::string::npos) << o.status[1].message();
  ASSERT_FALSE(o.status[0].ok());
  EXPECT_NE(o.status[0].message().find("rank 1 could not run the self-check's CPU reference"), std::string::npos)
      << o.status[0].message();
  // Only the one verdict all-reduce ran: nobody entered the tested forward's collectives.
  EXPECT_EQ(o.reduces[0], 1);
  EXPECT_EQ(o.reduces[1], 1);
}

TEST(DistCheck, ADeviceFailureHalfWayEndsEveryRankWithAnError) {
  const Outcome o = run_group(4, 3, Trouble::DeviceErrorInGemm);
  ASSERT_FALSE(o.status[3].ok());
  EXPECT_EQ(o.status[3].error().kind, ErrorKind::Io);
  EXPECT_NE(o.status[3].message().find("out of memory"), std::string::npos) << o.status[3].message();
  for (int r : {0, 1, 2}) EXPECT_FALSE(o.status[size_t(r)].ok()) << "rank " << r << " must not go on";
}

TEST(DistCheck, VerdictListsTheFailedRanks) {
  ThreadGroup group(3);
  std::vector<std::unique_ptr<ThreadRankBackend>> be;
  for (int r = 0; r < 3; ++r) be.push_back(std::make_unique<ThreadRankBackend>(&group, r));
  std::vector<std::optional<Expected<std::vector<int>>>> got(3);
  std::vector<std::thread> threads;
  for (int r = 0; r < 3; ++r)
    threads.emplace_back([&, r] { got[size_t(r)] = agree_on_verdict(*be[size_t(r)], r, 3, r != 1 && r != 2); });
  for (auto& t : threads) t.join();
  for (int r = 0; r < 3; ++r) {
    ASSERT_TRUE(got[size_t(r)]->ok()) << got[size_t(r)]->message();
    EXPECT_EQ(**got[size_t(r)], (std::vector<int>{1, 2}));
  }
  EXPECT_EQ(rank_list({1, 2}), "ranks 1, 2");
  EXPECT_EQ(rank_list({3}), "rank 3");
  auto cpu = make_cpu_backend();
  EXPECT_FALSE(agree_on_verdict(*cpu, 3, 3, true).ok());
  auto alone = agree_on_verdict(*cpu, 0, 1, false);  // no group: only its own verdict
  ASSERT_TRUE(alone.ok());
  EXPECT_EQ(*alone, std::vector<int>{0});
}

}  // namespace
}  // namespace g2
