// Per-element weight quantisation math (FP8 scales, Grok-1 int8 dequant) as G2_HD functions,
// so the converter's CPU loops and any CUDA kernel compute the same values. Codecs come from
// codecs.h; this file only says how scales combine with them, and names the FP8 scale schemes
// once for the converter, the runtime and the CUDA kernels (Fp8Spec).
#pragma once
#include <cstdint>

#include "kernels/codecs.h"

namespace g2 {

// How an FP8 weight's scales are laid out (docs/reference.md §4). Real weight = e4m3 * scale.
// The values are recorded in plan fingerprints: keep them.
enum class Fp8ScaleMode : uint8_t {
  Tensor = 0,   // one scale: `weight_scale` []
  Channel = 1,  // one per output row: `weight_scale` [N, 1]
  Block = 2,    // one per block_n x block_k tile: `weight_scale_inv` [ceil(N/bn), ceil(K/bk)]
};

// An FP8 scale scheme: the mode and, in block mode, the tile (config.json's
// `weight_block_size` [block_n, block_k]). The block sizes mean nothing in the other modes.
struct Fp8Spec {
  Fp8ScaleMode mode = Fp8ScaleMode::Block;
  int block_n = 128, block_k = 128;
  bool operator==(const Fp8Spec& o) const {
    return mode == o.mode && (mode != Fp8ScaleMode::Block || (block_n == o.block_n && block_k == o.block_k));
  }
};

// Index, in the scales of an [N, K] weight under `spec` (laid out as above, row-major), of
// the scale of element (row, col). Only K enters: the block grid is ceil(K/bk) wide.
G2_HD int64_t fp8_scale_index(const Fp8Spec& spec, int64_t K, int64_t row, int64_t col) {
  switch (spec.mode) {
    case Fp8ScaleMode::Tensor: return 0;
    case Fp8ScaleMode::Channel: return row;
    case Fp8ScaleMode::Block: break;
  }
  return row / spec.block_n * ((K + spec.block_k - 1) / spec.block_k) + col / spec.block_k;
}

// FP8 scale of a group of weights from its absolute maximum: amax / 448 (fp8_e4m3::kMax),
// so the largest element lands on the largest finite e4m3 value. amax 0 (an all-zero group)
// gets scale 1 (any scale represents zeros exactly; 1 keeps the stored scale meaningful). A
// tiny non-zero amax whose quotient underflows is clamped to the smallest normal f32 so
// w/scale never divides by zero (it then stays <= 448).
G2_HD float fp8_scale_from_amax(float amax) {
  if (!(amax > 0.0f)) return 1.0f;
  const float s = amax / fp8_e4m3::kMax;
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
