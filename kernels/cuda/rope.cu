// Kernels: one thread per rotated pair, through the shared rope_rotate, with the inv_freq
// table the host built (rope_inv_freq, kernels/ops/rope.h): no powf on the device.
#include "kernels/cuda/check.h"
#include "kernels/cuda/geometry.h"
#include "kernels/cuda/rope.cuh"
#include "kernels/ops/rope.h"

namespace g2::cuda {
namespace {

__global__ void rope_kernel(float* x, int64_t n_pairs, int heads, int head_dim, int pos0, const float* inv_freq) {
  const int64_t p = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (p >= n_pairs) return;
  const int half = head_dim / 2;
  const int i = int(p % half);
  const int64_t head_row = p / half;          // token * heads + head
  const int token = int(head_row / heads);
  rope_rotate(x + head_row * head_dim, i, head_dim, pos0 + token, inv_freq);
}

}  // namespace

void launch_rope(float* x, int64_t tokens, int heads, int head_dim, int pos0, const float* inv_freq, cudaStream_t s) {
  G2_KERNEL_REQUIRE(tokens >= 0 && heads > 0 && head_dim > 0 && head_dim % 2 == 0 && inv_freq != nullptr);
  const Geometry g = rope_geometry(tokens, heads, head_dim);
  if (g.blocks == 0) return;
  G2_KERNEL_REQUIRE(g.blocks <= kMaxGridX);
  rope_kernel<<<unsigned(g.blocks), unsigned(g.threads), 0, s>>>(x, tokens * heads * (head_dim / 2), heads, head_dim,
                                                                 pos0, inv_freq);
  G2_CUDA_CHECK(cudaGetLastError());
}

}  // namespace g2::cuda
