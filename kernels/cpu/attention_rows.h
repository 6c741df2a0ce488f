// The CPU loop of one query head's attention (the CPU backend's prefill), in an order that
// vectorises: the keys of the causal window are read transposed (kt: element i of key j at
// kt[i * kt_stride + j]), so the dot products advance 8-16 keys at once, and the values are
// accumulated key by key into all d outputs at once. Each score still sums q[i] * k_j[i] in
// index order and each output sums p[j] * v_j[i] in key order, from 0.0f, with the per-score
// math of kernels/ops/attention.h (attention_dot_logit, softmax_row, round_bf16): the result equals
// attention_query's bit for bit (tests/kernels/test_attention_rows.cc). attention_query reads
// one key row per score and strides through V per output element, which held a 1032-token
// prompt of the real Grok-2 layer at ~1 GFLOP/s per core (bench/NOTES.md).
#pragma once
#include <cstdint>

namespace g2 {

// scores: scratch of n_keys floats. No FMA contraction (kernels/CMakeLists.txt), as in the
// scalar loop it replaces.
void attention_query_keys_major(const float* q, const float* kt, int64_t kt_stride, const float* v, int64_t v_stride,
                                int n_keys, int d, float scale, float cap, float temperature, bool round_scores,
                                bool round_probs, float* scores, float* out);

}  // namespace g2
