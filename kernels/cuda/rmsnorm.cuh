// RMSNorm on the device: y[T, H] = x * rsqrt(mean(x^2) + eps) * scale[H] (kernels/ops/rmsnorm.h).
#pragma once
#include <cstdint>
#include <cuda_runtime.h>

namespace g2::cuda {

// x, y: [rows, hidden] f32 (y may alias x); scale: [hidden] f32.
void launch_rmsnorm(const float* x, const float* scale, float* y, int64_t rows, int hidden, float eps,
                    cudaStream_t s);

}  // namespace g2::cuda
