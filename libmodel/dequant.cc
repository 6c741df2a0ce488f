#include "libmodel/dequant.h"

#include <cstring>
#include <string>

#include <vector>

#include "kernels/codecs.h"
#include "libconvert/quant/float_runs.h"
#include "libconvert/quant/quant.h"

namespace g2 {

Status convert_to_f32(DType dt, const void* src, size_t n, float* dst) {
  switch (dt) {
    case DType::F32:
    case DType::BF16:
    case DType::F16: float_run_to_f32(dt, static_cast<const uint8_t*>(src), n, dst); return Status::Ok();
    case DType::F64:
      for (size_t i = 0; i < n; ++i) dst[i] = float(static_cast<const double*>(src)[i]);
      return Status::Ok();
    case DType::F8_E4M3: {
      const float* table = e4m3_decode_table();
      for (size_t i = 0; i < n; ++i) dst[i] = table[static_cast<const uint8_t*>(src)[i]];
      return Status::Ok();
    }
    case DType::F8_E5M2:
      for (size_t i = 0; i < n; ++i) dst[i] = fp8_e5m2{static_cast<const uint8_t*>(src)[i]}.to_float();
      return Status::Ok();
    case DType::I8:
      for (size_t i = 0; i < n; ++i) dst[i] = float(static_cast<const int8_t*>(src)[i]);
      return Status::Ok();
    case DType::I32:
      for (size_t i = 0; i < n; ++i) dst[i] = float(static_cast<const int32_t*>(src)[i]);
      return Status::Ok();
    default: break;
  }
  return unsupported("cannot use a " + std::string(dtype_name(dt)) + " tensor as a model weight");
}

void grok1_dequantize_f32(const int8_t* w, const uint16_t* scales, int64_t K, int64_t N, int G, bool round,
                          float* out) {
  if (round) {
    // The reference rule (libconvert/quant/quant.h): bf16(int8 * scale), then widened to f32.
    std::vector<uint16_t> b(size_t(K * N));
    grok1_dequantize_rows(w, scales, K, N, G, 0, K, b.data());
    for (size_t i = 0; i < b.size(); ++i) out[i] = bf16{b[i]}.to_float();
    return;
  }
  // Same product without the final rounding (exact in f32: 8-bit x 8-bit mantissas).
  for (int64_t k = 0; k < K; ++k) {
    const uint16_t* s = scales + grok1_scale_group(k, K, G) * N;
    for (int64_t n = 0; n < N; ++n) out[k * N + n] = float(w[k * N + n]) * bf16{s[n]}.to_float();
  }
}

}  // namespace g2
