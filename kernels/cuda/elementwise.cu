// Kernels: one thread per element. Grouped in one file because each is a single line around
// a shared function; the formulas are in kernels/codecs.h and kernels/ops/{activation,moe}.h.
#include "kernels/codecs.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/elementwise.cuh"
#include "kernels/cuda/geometry.h"
#include "kernels/ops/activation.h"
#include "kernels/ops/moe.h"

namespace g2::cuda {
namespace {

__device__ __forceinline__ int64_t gid() { return int64_t(blockIdx.x) * blockDim.x + threadIdx.x; }

__global__ void add_kernel(float* y, const float* x, int64_t n) {
  const int64_t i = gid();
  if (i < n) y[i] += x[i];
}
__global__ void scale_kernel(float* x, int64_t n, float f) {
  const int64_t i = gid();
  if (i < n) x[i] *= f;
}
__global__ void round_bf16_kernel(float* x, int64_t n) {
  const int64_t i = gid();
  if (i < n) x[i] = round_bf16(x[i]);
}
__global__ void softcap_kernel(float* x, int64_t n, float cap) {
  const int64_t i = gid();
  if (i < n) x[i] = softcap(x[i], cap);
}
__global__ void gelu_mul_kernel(const float* gate, const float* up, float* out, int64_t n, GeluKind kind,
                                bool round_gelu) {
  const int64_t i = gid();
  if (i < n) out[i] = gelu_mul_element(gate[i], up[i], kind, round_gelu);
}

// Returns false when there is nothing to launch.
bool grid(int64_t n, Geometry& g) {
  G2_KERNEL_REQUIRE(n >= 0);
  g = elementwise_geometry(n);
  G2_KERNEL_REQUIRE(g.blocks <= kMaxGridX);
  return g.blocks > 0;
}

}  // namespace

void launch_add(float* y, const float* x, int64_t n, cudaStream_t s) {
  Geometry g;
  if (!grid(n, g)) return;
  add_kernel<<<unsigned(g.blocks), unsigned(g.threads), 0, s>>>(y, x, n);
  G2_CUDA_CHECK(cudaGetLastError());
}
void launch_scale(float* x, int64_t n, float factor, cudaStream_t s) {
  Geometry g;
  if (!grid(n, g)) return;
  scale_kernel<<<unsigned(g.blocks), unsigned(g.threads), 0, s>>>(x, n, factor);
  G2_CUDA_CHECK(cudaGetLastError());
}
void launch_round_bf16(float* x, int64_t n, cudaStream_t s) {
  Geometry g;
  if (!grid(n, g)) return;
  round_bf16_kernel<<<unsigned(g.blocks), unsigned(g.threads), 0, s>>>(x, n);
  G2_CUDA_CHECK(cudaGetLastError());
}
void launch_softcap(float* x, int64_t n, float cap, cudaStream_t s) {
  Geometry g;
  if (!grid(n, g)) return;
  softcap_kernel<<<unsigned(g.blocks), unsigned(g.threads), 0, s>>>(x, n, cap);
  G2_CUDA_CHECK(cudaGetLastError());
}
void launch_gelu_mul(const float* gate, const float* up, float* out, int64_t n, int gelu_kind, bool round_gelu,
                     cudaStream_t s) {
  G2_KERNEL_REQUIRE(gelu_kind == int(GeluKind::Tanh) || gelu_kind == int(GeluKind::Erf));
  Geometry g;
  if (!grid(n, g)) return;
  gelu_mul_kernel<<<unsigned(g.blocks), unsigned(g.threads), 0, s>>>(gate, up, out, n, GeluKind(gelu_kind),
                                                                    round_gelu);
  G2_CUDA_CHECK(cudaGetLastError());
}

}  // namespace g2::cuda
