#include "libconvert/quant/float_runs.h"

#include <cstring>

#include "kernels/codecs.h"
#include "libconvert/status.h"
#include "kernels/cpu/vector_clones.h"

namespace g2 {

namespace {

// n BF16 values (possibly unaligned bytes) to f32, without a dtype switch per element: a loop
// the compiler vectorises.
G2_VECTOR_CLONES void bf16_run_to_f32(const uint8_t* p, size_t n, float* out) {
  for (size_t i = 0; i < n; ++i) {
    uint16_t b;
    std::memcpy(&b, p + 2 * i, 2);
    out[i] = bf16{b}.to_float();
  }
}

}  // namespace

float decode_float(DType dt, const uint8_t* p) {
  switch (dt) {
    case DType::F32: {
      float f;
      std::memcpy(&f, p, 4);
      return f;
    }
    case DType::BF16: {
      uint16_t b;
      std::memcpy(&b, p, 2);
      return bf16{b}.to_float();
    }
    case DType::F16: {
      uint16_t b;
      std::memcpy(&b, p, 2);
      return f16{b}.to_float();
    }
    default: G2_ASSERT(false, "not a float dtype");
  }
  return 0;
}

void float_run_to_f32(DType dt, const uint8_t* p, size_t n, float* out) {
  switch (dt) {
    case DType::BF16: bf16_run_to_f32(p, n, out); return;
    case DType::F32: std::memcpy(out, p, n * 4); return;
    default:
      for (size_t i = 0; i < n; ++i) out[i] = decode_float(dt, p + i * dtype_size(dt));
  }
}

G2_VECTOR_CLONES void encode_bf16_run(const float* in, size_t n, uint16_t* out, float* back) {
  for (size_t i = 0; i < n; ++i) out[i] = bf16::from_float(in[i]).bits;
  if (back)
    for (size_t i = 0; i < n; ++i) back[i] = bf16{out[i]}.to_float();
}

}  // namespace g2
