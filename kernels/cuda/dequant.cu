// Kernels: one thread per element around the shared fp8_dequantize / grok1_dequantize /
// fp8_scale_from_amax / fp8_quantize (kernels/ops/quant.h). Only index arithmetic here.
#include "kernels/codecs.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/dequant.cuh"
#include "kernels/cuda/geometry.h"
#include "kernels/ops/quant.h"

namespace g2::cuda {
namespace {

__device__ __forceinline__ void store(float v, int64_t i, float* out_f32, uint16_t* out_bf16) {
  if (out_f32) out_f32[i] = v;
  else out_bf16[i] = bf16::from_float(v).bits;
}

__global__ void dequant_fp8_kernel(const uint8_t* w, const float* scales, Fp8ScaleMode mode, int64_t N, int64_t K,
                                   int bn, int bk, float* out_f32, uint16_t* out_bf16) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= N * K) return;
  const int64_t n = i / K, k = i % K;
  const float scale = scales[fp8_scale_index(Fp8Spec{mode, bn, bk}, K, n, k)];
  store(fp8_dequantize(w[i], scale), i, out_f32, out_bf16);
}

__global__ void dequant_grok1_kernel(const int8_t* w, const uint16_t* scales, int64_t E, int64_t K, int64_t N,
                                     int64_t G, float* out_f32, uint16_t* out_bf16) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= E * K * N) return;
  const int64_t n = i % N, k = (i / N) % K, e = i / (N * K);
  const bf16 sc{scales[(e * G + k / (K / G)) * N + n]};
  const bf16 v = grok1_dequantize(w[i], sc);
  if (out_f32) out_f32[i] = v.to_float();
  else out_bf16[i] = v.bits;
}

// |x| is non-negative, so its f32 bit pattern orders like an unsigned integer: atomicMax
// on the bits is a float max. NaN inputs are ignored (they never compare greater).
__global__ void absmax_kernel(const float* x, int64_t n, float* amax) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float a = fabsf(x[i]);
  if (a == a) atomicMax(reinterpret_cast<unsigned int*>(amax), __float_as_uint(a));
}

__global__ void scale_from_amax_kernel(const float* amax, float* scale) { *scale = fp8_scale_from_amax(*amax); }

__global__ void quantize_fp8_kernel(const float* x, int64_t n, const float* scale, uint8_t* q) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) q[i] = fp8_quantize(x[i], *scale);
}

Geometry checked_grid(int64_t n) {
  G2_KERNEL_REQUIRE(n >= 0);
  const Geometry g = elementwise_geometry(n);
  G2_KERNEL_REQUIRE(g.blocks <= kMaxGridX);
  return g;
}

}  // namespace

void launch_dequant_fp8(const uint8_t* w, const float* scales, Fp8ScaleMode mode, int64_t N, int64_t K, int block_n,
                        int block_k, float* out_f32, uint16_t* out_bf16, cudaStream_t s) {
  G2_KERNEL_REQUIRE((out_f32 == nullptr) != (out_bf16 == nullptr));
  G2_KERNEL_REQUIRE(mode != Fp8ScaleMode::Block || (block_n > 0 && block_k > 0));
  const Geometry g = checked_grid(N * K);
  if (g.blocks == 0) return;
  dequant_fp8_kernel<<<unsigned(g.blocks), unsigned(g.threads), 0, s>>>(w, scales, mode, N, K, block_n, block_k,
                                                                        out_f32, out_bf16);
  G2_CUDA_CHECK(cudaGetLastError());
}

void launch_dequant_grok1_int8(const int8_t* w, const uint16_t* scales, int64_t E, int64_t K, int64_t N, int64_t G,
                               float* out_f32, uint16_t* out_bf16, cudaStream_t s) {
  G2_KERNEL_REQUIRE((out_f32 == nullptr) != (out_bf16 == nullptr));
  G2_KERNEL_REQUIRE(G > 0 && K % G == 0);
  const Geometry g = checked_grid(E * K * N);
  if (g.blocks == 0) return;
  dequant_grok1_kernel<<<unsigned(g.blocks), unsigned(g.threads), 0, s>>>(w, scales, E, K, N, G, out_f32, out_bf16);
  G2_CUDA_CHECK(cudaGetLastError());
}

void launch_quantize_fp8_dynamic(const float* x, int64_t n, uint8_t* q, float* scale, float* amax_scratch,
                                 cudaStream_t s) {
  const Geometry g = checked_grid(n);
  G2_CUDA_CHECK(cudaMemsetAsync(amax_scratch, 0, sizeof(float), s));
  if (g.blocks > 0) {
    absmax_kernel<<<unsigned(g.blocks), unsigned(g.threads), 0, s>>>(x, n, amax_scratch);
    G2_CUDA_CHECK(cudaGetLastError());
  }
  scale_from_amax_kernel<<<1, 1, 0, s>>>(amax_scratch, scale);
  G2_CUDA_CHECK(cudaGetLastError());
  if (g.blocks > 0) {
    quantize_fp8_kernel<<<unsigned(g.blocks), unsigned(g.threads), 0, s>>>(x, n, scale, q);
    G2_CUDA_CHECK(cudaGetLastError());
  }
}

}  // namespace g2::cuda
