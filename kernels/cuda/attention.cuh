// Causal GQA attention on the device (kernels/ops/attention.h): scale, softcap, length
// temperature, f32 softmax, optional bf16 rounding of scores/probabilities (reference mode).
#pragma once
#include <cstdint>
#include <cuda_runtime.h>

namespace g2::cuda {

struct AttentionArgs {
  int n_tokens = 0, n_heads = 0, n_kv_heads = 0, head_dim = 0;
  int pos0 = 0;             // absolute position of token 0
  float scale = 1.0f;
  float softcap = 0.0f;     // <= 0: off
  int temperature_len = 0;  // <= 0: off
  bool round_scores_bf16 = false;
  bool round_probs_bf16 = false;
};

// q, out: [T, n_heads * head_dim]; k, v: [T, n_kv_heads * head_dim] (f32, device).
// Allocates a stream-ordered scratch only when one query's scores exceed shared memory.
void launch_attention(const float* q, const float* k, const float* v, float* out, const AttentionArgs& a,
                      cudaStream_t s);

}  // namespace g2::cuda
