// Kernels: one thread per token calling the shared router_row (E and k are tiny).
#include "kernels/cuda/check.h"
#include "kernels/cuda/geometry.h"
#include "kernels/cuda/router.cuh"
#include "kernels/ops/moe.h"

namespace g2::cuda {
namespace {

__global__ void router_kernel(float* logits, int64_t tokens, int E, int k, float cap, int32_t* idx, float* gate) {
  const int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= tokens) return;
  float probs[kRouterMaxExperts];
  int id[kRouterMaxTopK];
  router_row(logits + t * E, E, k, cap, probs, id, gate + t * k);
  for (int j = 0; j < k; ++j) idx[t * k + j] = id[j];
}

}  // namespace

void launch_router(float* logits, int64_t tokens, int experts, int k, float softcap, int32_t* idx, float* gate,
                   cudaStream_t s) {
  G2_KERNEL_REQUIRE(tokens >= 0 && experts > 0 && experts <= kRouterMaxExperts);
  G2_KERNEL_REQUIRE(k > 0 && k <= experts && k <= kRouterMaxTopK);
  const Geometry g = router_geometry(tokens);
  if (g.blocks == 0) return;
  router_kernel<<<unsigned(g.blocks), unsigned(g.threads), 0, s>>>(logits, tokens, experts, k, softcap, idx, gate);
  G2_CUDA_CHECK(cudaGetLastError());
}

}  // namespace g2::cuda
