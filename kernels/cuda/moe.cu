// Kernels: one thread per output element. The combine calls the shared
// moe_combine_element (kernels/ops/moe.h); gather/scatter only move rows.
#include "kernels/cuda/check.h"
#include "kernels/cuda/geometry.h"
#include "kernels/cuda/moe.cuh"
#include "kernels/ops/moe.h"

namespace g2::cuda {
namespace {

__global__ void gather_kernel(const float* src, const int32_t* rows, int64_t n_elems, int H, float* dst) {
  const int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= n_elems) return;
  const int64_t i = e / H, c = e % H;
  dst[e] = src[int64_t(rows[i]) * H + c];
}
__global__ void scatter_kernel(const float* src, const int32_t* rows, int64_t n_elems, int H, float* dst) {
  const int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= n_elems) return;
  const int64_t i = e / H, c = e % H;
  dst[int64_t(rows[i]) * H + c] = src[e];
}
__global__ void combine_kernel(const float* slots, const float* gate, int64_t n_elems, int k, int H, float* out,
                               bool round_gate) {
  const int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= n_elems) return;
  const int64_t t = e / H;
  const int i = int(e % H);
  out[e] = moe_combine_element(slots + t * k * H, gate + t * k, k, H, i, round_gate);
}

Geometry checked_grid(int64_t n_elems) {
  const Geometry g = elementwise_geometry(n_elems);
  G2_KERNEL_REQUIRE(g.blocks <= kMaxGridX);
  return g;
}

}  // namespace

void launch_gather_rows(const float* src, const int32_t* rows, int64_t n, int H, float* dst, cudaStream_t s) {
  G2_KERNEL_REQUIRE(n >= 0 && H > 0);
  const Geometry g = checked_grid(n * H);
  if (g.blocks == 0) return;
  gather_kernel<<<unsigned(g.blocks), unsigned(g.threads), 0, s>>>(src, rows, n * H, H, dst);
  G2_CUDA_CHECK(cudaGetLastError());
}
void launch_scatter_rows(const float* src, const int32_t* rows, int64_t n, int H, float* dst, cudaStream_t s) {
  G2_KERNEL_REQUIRE(n >= 0 && H > 0);
  const Geometry g = checked_grid(n * H);
  if (g.blocks == 0) return;
  scatter_kernel<<<unsigned(g.blocks), unsigned(g.threads), 0, s>>>(src, rows, n * H, H, dst);
  G2_CUDA_CHECK(cudaGetLastError());
}
void launch_combine_topk(const float* slots, const float* gate, int64_t T, int k, int H, float* out,
                         bool round_gate_bf16, cudaStream_t s) {
  G2_KERNEL_REQUIRE(T >= 0 && k > 0 && H > 0);
  const Geometry g = checked_grid(T * H);
  if (g.blocks == 0) return;
  combine_kernel<<<unsigned(g.blocks), unsigned(g.threads), 0, s>>>(slots, gate, T * H, k, H, out, round_gate_bf16);
  G2_CUDA_CHECK(cudaGetLastError());
}

}  // namespace g2::cuda
