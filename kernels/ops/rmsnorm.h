// RMSNorm of one row, in f32: y = x * rsqrt(mean(x^2) + eps) * scale  (no "1 + scale").
#pragma once
#include "kernels/hd.h"

namespace g2 {

// Sum of squares of a row, accumulated in f32 in index order (deterministic).
G2_HD float sum_squares(const float* x, int n) {
  float s = 0.0f;
  for (int i = 0; i < n; ++i) s += x[i] * x[i];
  return s;
}

G2_HD float rms_inverse(float sum_sq, int n, float eps) { return 1.0f / sqrtf(sum_sq / float(n) + eps); }

G2_HD float rmsnorm_element(float x, float inv_rms, float scale) { return x * inv_rms * scale; }

G2_HD void rmsnorm_row(const float* x, const float* scale, float* y, int n, float eps) {
  const float inv = rms_inverse(sum_squares(x, n), n, eps);
  for (int i = 0; i < n; ++i) y[i] = rmsnorm_element(x[i], inv, scale[i]);
}

}  // namespace g2
