// Rotary position embedding, half-split ("neox") form over all head_dim dimensions:
//   x' = x * cos + rotate_half(x) * sin,  rotate_half([x1, x2]) = [-x2, x1]
// with inv_freq[i] = theta^(-2i/d). Grok-1 (model.py) and SGLang's plain RotaryEmbedding
// for Grok-2's rope_type "original" both use this form.
//
// inv_freq is built once, on the host, by rope_inv_freq() and handed to every backend (the
// CPU loops read it, the CUDA backend uploads it): the device's powf and glibc's differ by an
// ulp for some i, and the angle pos * inv_freq multiplies that ulp by the position (at
// position ~1000 it exceeded an f32 comparison's tolerance). With one table both backends
// rotate by the same f32 angles; only cosf/sinf of that angle may differ by their ulps.
#pragma once
#include <vector>

#include "kernels/hd.h"

namespace g2 {

// inv_freq[i] = 1 / theta^(2i / d) for i < d / 2, in f32 like the references (host only).
inline std::vector<float> rope_inv_freq(int d, float theta) {
  std::vector<float> f(size_t(d / 2));
  for (int i = 0; i < d / 2; ++i) f[size_t(i)] = 1.0f / powf(theta, float(2 * i) / float(d));
  return f;
}

// Angle of a pair at position pos with frequency inv_freq (one f32 product on every backend).
G2_HD float rope_angle(int pos, float inv_freq) { return float(pos) * inv_freq; }

// Rotate the pair (x[i], x[i + d/2]) in place.
G2_HD void rope_pair(float* x, int i, int d, float cos_a, float sin_a) {
  const int h = d / 2;
  const float x1 = x[i], x2 = x[i + h];
  x[i] = x1 * cos_a - x2 * sin_a;
  x[i + h] = x2 * cos_a + x1 * sin_a;
}

// Pair i of a head at position pos: angle, then the rotation (one CUDA thread per pair).
G2_HD void rope_rotate(float* x, int i, int d, int pos, const float* inv_freq) {
  const float a = rope_angle(pos, inv_freq[i]);
  rope_pair(x, i, d, cosf(a), sinf(a));
}

// A whole head; inv_freq from rope_inv_freq(d, theta).
G2_HD void rope_head(float* x, int d, int pos, const float* inv_freq) {
  for (int i = 0; i < d / 2; ++i) rope_rotate(x, i, d, pos, inv_freq);
}

}  // namespace g2
