// Elementwise dtype conversion on the device through the shared codecs (kernels/codecs.h).
#pragma once
#include <cstdint>
#include <cuda_runtime.h>

namespace g2::cuda {

// out[i] = bf16(in[i])
void launch_f32_to_bf16(const float* in, uint16_t* out, int64_t n, cudaStream_t s);
// out[i] = float(in[i] as bf16)
void launch_bf16_to_f32(const uint16_t* in, float* out, int64_t n, cudaStream_t s);
// out[i] = e4m3(in[i] / scale), saturating
void launch_f32_to_e4m3(const float* in, uint8_t* out, int64_t n, float scale, cudaStream_t s);
// out[i] = float(e4m3(in[i])) * scale
void launch_e4m3_to_f32(const uint8_t* in, float* out, int64_t n, float scale, cudaStream_t s);

}  // namespace g2::cuda
