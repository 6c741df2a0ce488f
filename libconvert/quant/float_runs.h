// Runs of stored float values (F32, BF16, F16; possibly unaligned bytes, as a mapped
// safetensors tensor may be) to f32 and back, with the per-element math of kernels/codecs.h.
// The loops are written so the compiler vectorises them (AVX2 clones, vector_clones.h): the
// converter's and the runtime's decode of every stored float goes through here.
#pragma once
#include <cstddef>
#include <cstdint>

#include "libconvert/dtype.h"

namespace g2 {

// One F32, BF16 or F16 value at p.
float decode_float(DType dt, const uint8_t* p);
// n values of a float dtype (F32, BF16, F16) to f32, the dtype switch outside the loop.
void float_run_to_f32(DType dt, const uint8_t* p, size_t n, float* out);
// n f32 values to BF16 bits (RNE), and, when back is not null, back to f32 (the round trip
// the error statistics compare with).
void encode_bf16_run(const float* in, size_t n, uint16_t* out, float* back);

}  // namespace g2
