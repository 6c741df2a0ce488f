// Per-score attention math shared by the CPU loops and the CUDA kernels.
#pragma once
#include "kernels/hd.h"
#include "kernels/codecs.h"
#include "kernels/ops/activation.h"
#include "kernels/ops/softmax_topk.h"

namespace g2 {

// Grok-2 length temperature for a query at absolute position pos (0-based):
// scores are multiplied by log2(pos) / log2(L) when pos > L (L = attn_temperature_len).
// L <= 0 disables it (Grok-1). See MIGRATION.md for where SGLang implements it.
G2_HD float attn_temperature(int pos, int len) {
  if (len <= 1 || pos <= len) return 1.0f;
  return log2f(float(pos)) / log2f(float(len));
}

// A finished q . k dot to its pre-softmax logit: round_scores rounds the raw dot to bf16
// first (as the JAX reference's bf16 einsum does), then scale, softcap and temperature.
G2_HD float attention_dot_logit(float dot, float scale, float cap, float temperature, bool round_scores) {
  if (round_scores) dot = round_bf16(dot);
  return softcap(dot * scale, cap) * temperature;
}

// The pre-softmax logit of one query/key pair: q . k summed in f32 in index order, then
// attention_dot_logit. The CUDA kernel calls it once per key from different threads.
G2_HD float attention_score(const float* q, const float* kj, int d, float scale, float cap, float temperature,
                            bool round_scores) {
  float s = 0.0f;
  for (int i = 0; i < d; ++i) s += q[i] * kj[i];
  return attention_dot_logit(s, scale, cap, temperature, round_scores);
}

// Output element i of one query head: sum_j p[j] * v_j[i] in key order (f32).
G2_HD float attention_value_element(const float* p, const float* v, int v_stride, int n_keys, int i) {
  float o = 0.0f;
  for (int j = 0; j < n_keys; ++j) o += p[j] * v[(long long)j * v_stride + i];
  return o;
}

// One query head against keys 0..n_keys-1 (the causal window of that query; masked keys
// are simply absent, which equals the references' -1e30 mask after exp underflow).
//   scores[j] = attention_score(q, k_j)
//   p = softmax(scores) (f32; round_probs rounds p to bf16 as the reference's probs cast)
//   out[d] = attention_value_element(p, v, ., d)
// k and v rows are `k_stride` / `v_stride` floats apart. scores: scratch of n_keys floats.
G2_HD void attention_query(const float* q, const float* k, int k_stride, const float* v, int v_stride, int n_keys,
                           int d, float scale, float cap, float temperature, bool round_scores, bool round_probs,
                           float* scores, float* out) {
  for (int j = 0; j < n_keys; ++j)
    scores[j] = attention_score(q, k + (long long)j * k_stride, d, scale, cap, temperature, round_scores);
  softmax_row(scores, n_keys);
  if (round_probs)
    for (int j = 0; j < n_keys; ++j) scores[j] = round_bf16(scores[j]);
  for (int i = 0; i < d; ++i) out[i] = attention_value_element(scores, v, v_stride, n_keys, i);
}

}  // namespace g2
