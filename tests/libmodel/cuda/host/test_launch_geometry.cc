// Launch geometry of the CUDA kernels (kernels/cuda/geometry.h), checked on the host.
#include <gtest/gtest.h>

#include "kernels/cuda/geometry.h"

namespace g2::cuda {
namespace {

TEST(LaunchGeometry, ElementwiseCoversEveryElementOnce) {
  for (int64_t n : {int64_t(0), int64_t(1), int64_t(255), int64_t(256), int64_t(257), int64_t(1) << 33}) {
    const Geometry g = elementwise_geometry(n);
    EXPECT_EQ(g.threads, kElementwiseBlock);
    EXPECT_GE(g.blocks * g.threads, n);
    EXPECT_LT((g.blocks - 1) * g.threads, n == 0 ? 1 : n) << n;
    if (n == 0) {
      EXPECT_EQ(g.blocks, 0);
    }
  }
}

TEST(LaunchGeometry, RmsnormChunksCoverTheRow) {
  for (int h : {1, 7, 32, 100, 6144, 8192, 8193}) {
    const RmsnormGeometry r = rmsnorm_geometry(5, h);
    EXPECT_EQ(r.g.blocks, 5);
    // power of two in [32, 256] for the tree reduction
    EXPECT_GE(r.g.threads, 32);
    EXPECT_LE(r.g.threads, 256);
    EXPECT_EQ(r.g.threads & (r.g.threads - 1), 0);
    EXPECT_GE(int64_t(r.chunk) * r.g.threads, h);
    EXPECT_LT(int64_t(r.chunk - 1) * r.g.threads, h);
    EXPECT_EQ(r.g.smem, int64_t(r.g.threads) * 4);
  }
  EXPECT_EQ(rmsnorm_geometry(1, 8192).g.threads, 256);
  EXPECT_EQ(rmsnorm_geometry(1, 40).g.threads, 64);
}

TEST(LaunchGeometry, RopeOneThreadPerPair) {
  const Geometry g = rope_geometry(3, 48, 128);
  EXPECT_GE(g.blocks * g.threads, 3 * 48 * 64);
  EXPECT_LT((g.blocks - 1) * g.threads, 3 * 48 * 64);
}

TEST(LaunchGeometry, AttentionScoresInSharedMemoryWhenTheyFit) {
  const AttentionGeometry a = attention_geometry(1000, 64, 48 * 1024);
  EXPECT_FALSE(a.global_scores);
  EXPECT_EQ(a.g.smem, 4000);
  EXPECT_EQ(a.launches, 1);
  EXPECT_EQ(a.g.blocks, 1000 * 64);
  EXPECT_EQ(a.scratch_floats, 0);
  EXPECT_GE(a.g.threads, 128);  // one pass over head_dim 128
}

TEST(LaunchGeometry, LongSequencesChunkIntoAGlobalScratchWithinBudget) {
  const int64_t T = 100000, budget = int64_t(256) << 20;
  const AttentionGeometry a = attention_geometry(T, 64, 227 * 1024, budget);
  EXPECT_TRUE(a.global_scores);
  EXPECT_EQ(a.g.smem, 0);
  EXPECT_LE(a.scratch_floats * 4, budget);
  EXPECT_EQ(a.scratch_floats, a.chunk_tokens * 64 * T);
  EXPECT_GE(a.launches * a.chunk_tokens, T);
  EXPECT_LT((a.launches - 1) * a.chunk_tokens, T);
  // a budget too small for one token still makes progress, one token per launch
  const AttentionGeometry tiny = attention_geometry(T, 64, 1024, 16);
  EXPECT_EQ(tiny.chunk_tokens, 1);
  EXPECT_EQ(tiny.launches, T);
}

TEST(LaunchGeometry, EmptyInputsLaunchNothing) {
  EXPECT_EQ(attention_geometry(0, 8, 1 << 16).launches, 0);
  EXPECT_EQ(router_geometry(0).blocks, 0);
  EXPECT_EQ(router_geometry(129).blocks, 2);
}

}  // namespace
}  // namespace g2::cuda
