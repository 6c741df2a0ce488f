// Weight dequantisation on the device through the shared per-element math
// (kernels/ops/quant.h, kernels/codecs.h), plus the dynamic per-tensor FP8 quantisation of
// activations the cuBLASLt FP8 GEMM needs.
#pragma once
#include <cstdint>
#include <cuda_runtime.h>

#include "kernels/ops/quant.h"

namespace g2::cuda {

// Fp8ScaleMode (kernels/ops/quant.h) says how an FP8 weight's scales are laid out.

// w: e4m3 [N, K]; exactly one of out_f32 / out_bf16 (bf16 bits) is non-null, [N, K].
void launch_dequant_fp8(const uint8_t* w, const float* scales, Fp8ScaleMode mode, int64_t N, int64_t K, int block_n,
                        int block_k, float* out_f32, uint16_t* out_bf16, cudaStream_t s);

// Grok-1 int8 linears: w [E, K, N] int8, scales [E, G, N] bf16 bits; element (e, k, n) uses
// scale (e, k / (K / G), n); the product is rounded to bf16 as the JAX reference does.
// Exactly one of out_f32 / out_bf16 is non-null, [E, K, N].
void launch_dequant_grok1_int8(const int8_t* w, const uint16_t* scales, int64_t E, int64_t K, int64_t N, int64_t G,
                               float* out_f32, uint16_t* out_bf16, cudaStream_t s);

// Dynamic per-tensor activation quantisation: scale = fp8_scale_from_amax(max |x|) written to
// *scale (device), q[i] = e4m3(x[i] / scale). amax_scratch: one device float.
void launch_quantize_fp8_dynamic(const float* x, int64_t n, uint8_t* q, float* scale, float* amax_scratch,
                                 cudaStream_t s);

}  // namespace g2::cuda
