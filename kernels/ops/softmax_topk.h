// Softmax of a short row (router over experts, attention over keys) and top-k selection.
#pragma once
#include "kernels/hd.h"

namespace g2 {

// In-place numerically stable softmax over n values, f32, index-ordered sums. Divides by the
// sum (as jax.nn.softmax does) instead of multiplying by its reciprocal: with bf16 rounding
// of the probabilities that makes the Grok-1 attention bit-identical to the JAX reference.
G2_HD void softmax_row(float* x, int n) {
  float m = x[0];
  for (int i = 1; i < n; ++i) m = x[i] > m ? x[i] : m;
  float s = 0.0f;
  for (int i = 0; i < n; ++i) {
    x[i] = expf(x[i] - m);
    s += x[i];
  }
  for (int i = 0; i < n; ++i) x[i] /= s;
}

// Top-k of n values (k <= n, k small): indices in descending value order; equal values
// keep the lower index first, as jax.lax.top_k does, so routing is deterministic.
G2_HD void topk_row(const float* x, int n, int k, int* idx, float* val) {
  for (int j = 0; j < k; ++j) {
    int best = -1;
    for (int i = 0; i < n; ++i) {
      bool taken = false;
      for (int t = 0; t < j; ++t) taken = taken || (idx[t] == i);
      if (taken) continue;
      if (best < 0 || x[i] > x[best]) best = i;
    }
    idx[j] = best;
    val[j] = x[best];
  }
}

}  // namespace g2
