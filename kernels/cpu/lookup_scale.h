// out[i] = table[q[i]] * s: a byte-coded weight row (FP8) decoded through a 256-entry table
// that the codec itself filled (kernels/codecs.h; never a second decoder) and scaled. One f32
// multiply per element, so the values are the ones a scalar loop over the same table gives.
// AVX-512F gathers when the CPU has them (runtime check), a scalar loop otherwise.
#pragma once
#include <cstdint>

namespace g2 {

void lookup_scale_u8(const uint8_t* q, int64_t n, const float* table, float s, float* out);

}  // namespace g2
