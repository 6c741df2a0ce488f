// Kernels: one thread per element, calling the same codec the CPU uses.
#include "kernels/codecs.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/convert.cuh"

namespace g2::cuda {
namespace {

__global__ void f32_to_bf16_kernel(const float* in, uint16_t* out, int64_t n) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = bf16::from_float(in[i]).bits;
}
__global__ void bf16_to_f32_kernel(const uint16_t* in, float* out, int64_t n) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = bf16{in[i]}.to_float();
}
__global__ void f32_to_e4m3_kernel(const float* in, uint8_t* out, int64_t n, float inv_scale) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = fp8_e4m3::from_float(in[i] * inv_scale).bits;
}
__global__ void e4m3_to_f32_kernel(const uint8_t* in, float* out, int64_t n, float scale) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = fp8_e4m3{in[i]}.to_float() * scale;
}

constexpr int kBlock = 256;
unsigned grid_for(int64_t n) { return unsigned((n + kBlock - 1) / kBlock); }

}  // namespace

// Launchers: check, size the grid, launch, check the launch.
void launch_f32_to_bf16(const float* in, uint16_t* out, int64_t n, cudaStream_t s) {
  if (n <= 0) return;
  f32_to_bf16_kernel<<<grid_for(n), kBlock, 0, s>>>(in, out, n);
  G2_CUDA_CHECK(cudaGetLastError());
}
void launch_bf16_to_f32(const uint16_t* in, float* out, int64_t n, cudaStream_t s) {
  if (n <= 0) return;
  bf16_to_f32_kernel<<<grid_for(n), kBlock, 0, s>>>(in, out, n);
  G2_CUDA_CHECK(cudaGetLastError());
}
void launch_f32_to_e4m3(const float* in, uint8_t* out, int64_t n, float scale, cudaStream_t s) {
  if (n <= 0) return;
  f32_to_e4m3_kernel<<<grid_for(n), kBlock, 0, s>>>(in, out, n, 1.0f / scale);
  G2_CUDA_CHECK(cudaGetLastError());
}
void launch_e4m3_to_f32(const uint8_t* in, float* out, int64_t n, float scale, cudaStream_t s) {
  if (n <= 0) return;
  e4m3_to_f32_kernel<<<grid_for(n), kBlock, 0, s>>>(in, out, n, scale);
  G2_CUDA_CHECK(cudaGetLastError());
}

}  // namespace g2::cuda
