// Half-split RoPE on the device, in place (kernels/ops/rope.h).
#pragma once
#include <cstdint>
#include <cuda_runtime.h>

namespace g2::cuda {

// x: [tokens, heads * head_dim] f32; token t sits at absolute position pos0 + t.
// inv_freq: device array [head_dim / 2], the host's rope_inv_freq(head_dim, theta).
void launch_rope(float* x, int64_t tokens, int heads, int head_dim, int pos0, const float* inv_freq, cudaStream_t s);

}  // namespace g2::cuda
