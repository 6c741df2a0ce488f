// One rank per device (label gpu): the forward with ForwardOptions::only_rank on CUDA
// backends whose all_reduce_sum is NCCL, one thread per device in this process (the same
// calls g2diff --dist makes in one process per GPU), against the CPU rank-by-rank forward.
// NCCL sums in its own order, so the bound is f32 summation order, not bit-identity (the CPU
// thread-per-rank test, tests/libmodel/test_forward_dist.cc, is the bit-exact one).
#include <unistd.h>

#include <filesystem>
#include <optional>
#include <thread>

#include "libmodel/cuda/nccl_comm.h"
#include "libmodel/forward.h"
#include "tests/gpu/gpu_util.h"
#include "tests/libmodel/model_fixtures.h"

namespace g2 {
namespace {

TEST(CudaNccl, ForwardOneRankPerDevice) {
  G2_REQUIRE_GPU();
  int tp = 0;
  for (int t : {2, 4, 8})
    if (t <= cuda_device_count()) tp = t;
  if (tp == 0) GTEST_SKIP() << "needs two or more devices";
  ModelConfig c = testing::tiny_config(true, 8, 8, 4);
  c.moe_intermediate_size = 32;
  c.intermediate_size = 32;
  MemoryWeights w = testing::random_weights(c, Family::Grok2, 3);
  const std::vector<int32_t> tok{3, 1, 4, 1, 5, 9, 2, 6};
  ForwardOptions o;
  o.tp = tp;
  auto cpu = make_cpu_backend();
  auto want = run_forward(w, *cpu, tok, o);
  ASSERT_TRUE(want.ok()) << want.message();

  const auto id_file = std::filesystem::temp_directory_path() / ("g2_nccl_fwd_" + std::to_string(::getpid()));
  std::filesystem::remove(id_file);
  std::vector<std::optional<Expected<ActivationRecord>>> got(static_cast<size_t>(tp));
  std::vector<std::string> errors(static_cast<size_t>(tp));
  std::vector<std::thread> ranks;
  for (int r = 0; r < tp; ++r)
    ranks.emplace_back([&, r] {
      DistEnv env;
      env.launcher = Launcher::Torchrun;
      env.rank = r;
      env.world_size = tp;
      env.local_rank = r;
      env.id_file = id_file.string();
      auto comm = NcclComm::create(env, 60000);
      if (!comm) {
        errors[size_t(r)] = comm.message();
        return;
      }
      CudaBackendOptions bo;
      bo.comm = std::shared_ptr<NcclComm>(std::move(*comm));
      auto be = make_cuda_backend(r, bo);
      if (!be) {
        errors[size_t(r)] = be.message();
        return;
      }
      ForwardOptions ro = o;
      ro.only_rank = r;
      got[size_t(r)] = run_forward(w, **be, tok, ro);
    });
  for (auto& t : ranks) t.join();
  std::filesystem::remove(id_file);

  Tolerance near;
  near.name = "near";
  near.elementwise = false;
  near.max_rel_rms = 1e-5;
  for (int r = 0; r < tp; ++r) {
    ASSERT_EQ(errors[size_t(r)], "") << "rank " << r;
    ASSERT_TRUE(got[size_t(r)].has_value() && got[size_t(r)]->ok()) << "rank " << r;
    const ActivationRecord& g = **got[size_t(r)];
    ASSERT_EQ(g.layers.size(), want->layers.size());
    for (size_t l = 0; l < g.layers.size(); ++l) {
      auto cr = compare(g.layers[l].residual, want->layers[l].residual, near);
      EXPECT_TRUE(cr.pass) << "rank " << r << " layer " << l << " rel_rms " << cr.rel_rms;
      EXPECT_EQ(g.layers[l].experts, want->layers[l].experts) << "rank " << r << " layer " << l;
    }
    EXPECT_TRUE(compare(g.logits, want->logits, near).pass) << "rank " << r;
  }
}

}  // namespace
}  // namespace g2
