// Per-element weight quantisation math (FP8 scales, Grok-1 int8 dequant) as G2_HD functions,
// so the converter's CPU loops and any CUDA kernel compute the same values. Codecs come from
// codecs.h; this file only says how scales combine with them.
#pragma once
#include "kernels/codecs.h"

namespace g2 {

// FP8 scale of a group of weights from its absolute maximum: amax / 448, so the largest
// element lands on the largest finite e4m3 value. amax 0 (an all-zero group) gets scale 1
// (any scale represents zeros exactly; 1 keeps the stored scale meaningful). A tiny
// non-zero amax whose quotient underflows is clamped to the smallest normal f32 so w/scale
// never divides by zero (it then stays <= 448).
G2_HD float fp8_scale_from_amax(float amax) {
  if (!(amax > 0.0f)) return 1.0f;
  const float s = amax / 448.0f;
  const float min_normal = 1.17549435e-38f;
  return s < min_normal ? min_normal : s;
}

// Stored value of weight w under `scale` (real weight = e4m3 * scale, every scale mode).
G2_HD uint8_t fp8_quantize(float w, float scale) { return fp8_e4m3::from_float(w / scale).bits; }

G2_HD float fp8_dequantize(uint8_t q, float scale) { return fp8_e4m3{q}.to_float() * scale; }

// Grok-1 reference dequantisation (model.py Linear: `w.astype(bf16) * scales` in bf16): the
// int8 -> bf16 conversion is exact and the product is rounded once to bf16 (an int8 times
// a bf16 is exact in f32, so f32 multiply + one RNE rounding equals the bf16 multiply).
G2_HD bf16 grok1_dequantize(int8_t w, bf16 scale) { return bf16::from_float(float(w) * scale.to_float()); }

}  // namespace g2
