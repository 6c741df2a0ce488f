// Elementwise activations and caps. One definition each, host and device.
#pragma once
#include "kernels/hd.h"

namespace g2 {

// cap * tanh(x / cap); cap <= 0 means "no softcap" (Grok-1 router and final logits).
G2_HD float softcap(float x, float cap) { return cap > 0.0f ? cap * tanhf(x / cap) : x; }

// GELU, tanh approximation: jax.nn.gelu's default (approximate=True), torch "tanh".
G2_HD float gelu_tanh(float x) {
  const float k = 0.7978845608028654f;  // sqrt(2/pi)
  return 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));
}

// GELU, exact erf form: torch.nn.functional.gelu default.
G2_HD float gelu_erf(float x) { return 0.5f * x * (1.0f + erff(x * 0.7071067811865476f)); }

enum class GeluKind : int { Tanh = 0, Erf = 1 };

G2_HD float gelu(float x, GeluKind kind) { return kind == GeluKind::Erf ? gelu_erf(x) : gelu_tanh(x); }

}  // namespace g2
