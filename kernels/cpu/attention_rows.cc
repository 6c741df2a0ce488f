#include "kernels/cpu/attention_rows.h"

#include "kernels/cpu/vector_clones.h"
#include "kernels/ops/attention.h"

namespace g2 {

G2_VECTOR_CLONES void attention_query_keys_major(const float* q, const float* kt, int64_t kt_stride, const float* v,
                                                 int64_t v_stride, int n_keys, int d, float scale, float cap,
                                                 float temperature, bool round_scores, bool round_probs,
                                                 float* __restrict scores, float* __restrict out) {
  for (int j = 0; j < n_keys; ++j) scores[j] = 0.0f;
  for (int i = 0; i < d; ++i) {
    const float qi = q[i];
    const float* __restrict row = kt + int64_t(i) * kt_stride;
    for (int j = 0; j < n_keys; ++j) scores[j] += qi * row[j];
  }
  for (int j = 0; j < n_keys; ++j) scores[j] = attention_dot_logit(scores[j], scale, cap, temperature, round_scores);
  softmax_row(scores, n_keys);
  if (round_probs)
    for (int j = 0; j < n_keys; ++j) scores[j] = round_bf16(scores[j]);
  for (int i = 0; i < d; ++i) out[i] = 0.0f;
  for (int j = 0; j < n_keys; ++j) {
    const float pj = scores[j];
    const float* __restrict vj = v + int64_t(j) * v_stride;
    for (int i = 0; i < d; ++i) out[i] += pj * vj[i];
  }
}

}  // namespace g2
