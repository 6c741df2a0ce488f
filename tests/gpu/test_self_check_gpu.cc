// The self-check g2diff --backend cuda runs, on a device (label gpu): the CUDA backend must
// agree with the CPU backend on layer 0 and the logits of random tiny models of both
// families, in both precisions. Plus the NCCL all-reduce when two or more devices exist.
#include <cuda_runtime.h>

#include <filesystem>
#include <thread>

#include "kernels/cuda/check.h"
#include "libmodel/cuda/host/self_check.h"
#include "libmodel/cuda/nccl_comm.h"
#include "libmodel/cuda/verified_backend.h"
#include "tests/gpu/gpu_util.h"
#include "tests/libmodel/model_fixtures.h"

namespace g2 {
namespace {

TEST(CudaSelfCheck, AgreesWithCpuOnRandomTinyModels) {
  G2_REQUIRE_GPU();
  const std::vector<int32_t> tokens = {3, 9, 27, 1, 40, 12, 5, 60};
  for (bool grok2 : {false, true})
    for (Precision p : {Precision::F32, Precision::Reference}) {
      const ModelConfig c = testing::tiny_config(grok2);
      MemoryWeights w = testing::random_weights(c, grok2 ? Family::Grok2 : Family::Grok1, 21);
      auto cpu = make_cpu_backend();
      auto gpu = make_cuda_backend(0);
      ASSERT_TRUE(gpu.ok()) << gpu.message();
      SelfCheckOptions o;
      o.forward.precision = p;
      auto rep = backend_self_check(w, *cpu, **gpu, tokens, o);
      ASSERT_TRUE(rep.ok()) << rep.message();
      EXPECT_TRUE(rep->pass) << (grok2 ? "grok-2 " : "grok-1 ") << precision_name(p) << "\n" << rep->summary();
    }
}

TEST(CudaSelfCheck, VerifiedBackendOrAClearRefusal) {
  const ModelConfig c = testing::tiny_config(true);
  MemoryWeights w = testing::random_weights(c, Family::Grok2, 8);
  const std::vector<int32_t> tokens = {1, 2, 3, 4};
  auto v = make_verified_cuda_backend(w, tokens, 0);
  if (cuda_device_count() == 0) {
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(v.error().kind, ErrorKind::Unsupported);
    EXPECT_EQ(v.message().rfind("no CUDA device: ", 0), 0u) << v.message();
    return;
  }
  ASSERT_TRUE(v.ok()) << v.message();
  EXPECT_TRUE(v->report.pass);
  EXPECT_EQ(v->backend->name(), "cuda");
}

TEST(CudaNccl, AllReduceAcrossDevicesInOneProcess) {
  G2_REQUIRE_GPU();
  const int world = cuda_device_count();
  if (world < 2) GTEST_SKIP() << "needs two or more devices";
  const auto id_file = std::filesystem::temp_directory_path() / ("g2_nccl_test_" + std::to_string(::getpid()));
  std::filesystem::remove(id_file);
  const size_t n = 4096;
  std::vector<std::vector<float>> results(static_cast<size_t>(world));
  std::vector<std::string> errors(static_cast<size_t>(world));
  std::vector<std::thread> ranks;
  for (int r = 0; r < world; ++r)
    ranks.emplace_back([&, r] {
      DistEnv env;
      env.launcher = Launcher::Torchrun;
      env.rank = r;
      env.world_size = world;
      env.local_rank = r;
      env.id_file = id_file.string();
      auto comm = NcclComm::create(env, 60000);
      if (!comm) {
        errors[size_t(r)] = comm.message();
        return;
      }
      std::vector<float> h(n, float(r + 1));
      float* d = nullptr;
      G2_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&d), n * sizeof(float)));
      G2_CUDA_CHECK(cudaMemcpy(d, h.data(), n * sizeof(float), cudaMemcpyHostToDevice));
      Status s = (*comm)->all_reduce_sum(d, n, nullptr);
      if (!s.ok()) errors[size_t(r)] = s.message();
      G2_CUDA_CHECK(cudaDeviceSynchronize());
      G2_CUDA_CHECK(cudaMemcpy(h.data(), d, n * sizeof(float), cudaMemcpyDeviceToHost));
      cudaFree(d);
      results[size_t(r)] = h;
    });
  for (auto& t : ranks) t.join();
  std::filesystem::remove(id_file);
  const float want = float(world * (world + 1) / 2);
  for (int r = 0; r < world; ++r) {
    EXPECT_EQ(errors[size_t(r)], "");
    ASSERT_EQ(results[size_t(r)].size(), n);
    EXPECT_EQ(results[size_t(r)][0], want);
    EXPECT_EQ(results[size_t(r)][n - 1], want);
  }
}

}  // namespace
}  // namespace g2
