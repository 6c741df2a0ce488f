// Elementwise ops on the device, one thread per element, each through its shared function:
// softcap and GELU-times-up (kernels/ops/activation.h, moe.h), round-to-bf16 (codecs.h),
// plus the two trivial streams (y += x, x *= s) the layer forward needs on the device.
#pragma once
#include <cstdint>
#include <cuda_runtime.h>

namespace g2::cuda {

void launch_add(float* y, const float* x, int64_t n, cudaStream_t s);             // y += x
void launch_scale(float* x, int64_t n, float factor, cudaStream_t s);             // x *= factor
void launch_round_bf16(float* x, int64_t n, cudaStream_t s);                      // x = bf16(x), RNE
void launch_softcap(float* x, int64_t n, float cap, cudaStream_t s);              // cap * tanh(x / cap)
// out = gelu(gate) * up; gelu_kind: 0 tanh, 1 erf (g2::GeluKind); round_gelu: bf16(gelu) first.
void launch_gelu_mul(const float* gate, const float* up, float* out, int64_t n, int gelu_kind, bool round_gelu,
                     cudaStream_t s);

}  // namespace g2::cuda
