// Stored dtypes to the f32 the forward computes in. Per-element math is kernels/codecs.h;
// the scale rules are libconvert/quant/quant.h's (Grok-1 int8 x bf16 scales with G blocks along K,
// FP8 per-tensor / per-channel / per-block scales, real = fp8 * scale).
#pragma once
#include <cstddef>
#include <cstdint>

#include "libconvert/dtype.h"
#include "libconvert/status.h"

namespace g2 {

// dst[i] = float(src[i]) for a float or integer dtype (F32, F16, BF16, F8_*, I8, I32...).
Status convert_to_f32(DType dt, const void* src, size_t n, float* dst);

// Grok-1: W[k, n] = int8[k, n] * S[k / (K / G), n], one expert's [K, N] int8 and [G, N] bf16
// scales. round_bf16: the product rounded to bf16 (what the JAX reference's bf16 multiply
// does); otherwise the exact f32 product (what XLA uses in moe_slow_matmul2).
void grok1_dequantize_f32(const int8_t* w, const uint16_t* scales_bf16, int64_t K, int64_t N, int G, bool round_bf16,
                          float* out);

}  // namespace g2
