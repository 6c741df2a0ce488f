// Kernels: one block per row. Each thread sums the squares of a contiguous chunk with the
// shared sum_squares, a shared-memory tree adds the partials, then every element goes
// through the shared rms_inverse / rmsnorm_element (kernels/ops/rmsnorm.h).
#include "kernels/cuda/check.h"
#include "kernels/cuda/geometry.h"
#include "kernels/cuda/rmsnorm.cuh"
#include "kernels/ops/rmsnorm.h"

namespace g2::cuda {
namespace {

__global__ void rmsnorm_kernel(const float* x, const float* scale, float* y, int hidden, int chunk, float eps) {
  extern __shared__ float partial[];  // [blockDim.x]
  const float* row = x + int64_t(blockIdx.x) * hidden;
  float* out = y + int64_t(blockIdx.x) * hidden;
  const int begin = int(threadIdx.x) * chunk;
  const int len = begin >= hidden ? 0 : (hidden - begin < chunk ? hidden - begin : chunk);
  partial[threadIdx.x] = sum_squares(row + begin, len);
  __syncthreads();
  for (int stride = int(blockDim.x) / 2; stride > 0; stride /= 2) {
    if (int(threadIdx.x) < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
    __syncthreads();
  }
  const float inv = rms_inverse(partial[0], hidden, eps);
  for (int i = int(threadIdx.x); i < hidden; i += int(blockDim.x)) out[i] = rmsnorm_element(row[i], inv, scale[i]);
}

}  // namespace

void launch_rmsnorm(const float* x, const float* scale, float* y, int64_t rows, int hidden, float eps,
                    cudaStream_t s) {
  G2_KERNEL_REQUIRE(rows >= 0 && hidden > 0 && rows <= kMaxGridX);
  if (rows == 0) return;
  const RmsnormGeometry r = rmsnorm_geometry(rows, hidden);
  rmsnorm_kernel<<<unsigned(r.g.blocks), unsigned(r.g.threads), size_t(r.g.smem), s>>>(x, scale, y, hidden, r.chunk,
                                                                                      eps);
  G2_CUDA_CHECK(cudaGetLastError());
}

}  // namespace g2::cuda
