// Rotary position embedding, half-split ("neox") form over all head_dim dimensions:
//   x' = x * cos + rotate_half(x) * sin,  rotate_half([x1, x2]) = [-x2, x1]
// with inv_freq[i] = theta^(-2i/d). Grok-1 (model.py) and SGLang's plain RotaryEmbedding
// for Grok-2's rope_type "original" both use this form.
#pragma once
#include "kernels/hd.h"

namespace g2 {

// Angle for pair i of a head of size d at position pos. Computed in f32 like the references.
G2_HD float rope_angle(int pos, int i, int d, float theta) {
  const float inv_freq = 1.0f / powf(theta, float(2 * i) / float(d));
  return float(pos) * inv_freq;
}

// Rotate the pair (x[i], x[i + d/2]) in place.
G2_HD void rope_pair(float* x, int i, int d, float cos_a, float sin_a) {
  const int h = d / 2;
  const float x1 = x[i], x2 = x[i + h];
  x[i] = x1 * cos_a - x2 * sin_a;
  x[i + h] = x2 * cos_a + x1 * sin_a;
}

// Pair i of a head at position pos: angle, then the rotation (one CUDA thread per pair).
G2_HD void rope_rotate(float* x, int i, int d, int pos, float theta) {
  const float a = rope_angle(pos, i, d, theta);
  rope_pair(x, i, d, cosf(a), sinf(a));
}

G2_HD void rope_head(float* x, int d, int pos, float theta) {
  for (int i = 0; i < d / 2; ++i) rope_rotate(x, i, d, pos, theta);
}

}  // namespace g2
