#include "libmodel/dequant.h"

#include <cstring>
#include <string>

#include "kernels/codecs.h"

namespace g2 {

Status convert_to_f32(DType dt, const void* src, size_t n, float* dst) {
  switch (dt) {
    case DType::F32: std::memcpy(dst, src, n * 4); return Status::Ok();
    case DType::F64:
      for (size_t i = 0; i < n; ++i) dst[i] = float(static_cast<const double*>(src)[i]);
      return Status::Ok();
    case DType::BF16:
      for (size_t i = 0; i < n; ++i) dst[i] = bf16{static_cast<const uint16_t*>(src)[i]}.to_float();
      return Status::Ok();
    case DType::F16:
      for (size_t i = 0; i < n; ++i) dst[i] = f16{static_cast<const uint16_t*>(src)[i]}.to_float();
      return Status::Ok();
    case DType::F8_E4M3:
      for (size_t i = 0; i < n; ++i) dst[i] = fp8_e4m3{static_cast<const uint8_t*>(src)[i]}.to_float();
      return Status::Ok();
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

// TODO-merge: the bf16 path equals libconvert/quant.h grok1_dequantize_rows (convert helper);
// switch to it once merged so the rule lives in one place.
void grok1_dequantize_f32(const int8_t* w, const uint16_t* scales, int64_t K, int64_t N, int G, bool round, float* out) {
  const int64_t per = K / G;
  for (int64_t k = 0; k < K; ++k) {
    const uint16_t* s = scales + (k / per) * N;
    for (int64_t n = 0; n < N; ++n) {
      const float v = float(w[k * N + n]) * bf16{s[n]}.to_float();  // exact in f32 (8 x 8 bit mantissas)
      out[k * N + n] = round ? round_bf16(v) : v;
    }
  }
}

// TODO-merge: same rule as libconvert/quant.h Fp8Scales::at (convert helper).
void apply_fp8_scales(float* w, int64_t N, int64_t K, ScaleLayout layout, const float* scale, int bn, int bk) {
  const int64_t kb = layout == ScaleLayout::Block ? (K + bk - 1) / bk : 0;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k) {
      const float s = layout == ScaleLayout::Tensor    ? scale[0]
                      : layout == ScaleLayout::Channel ? scale[n]
                                                       : scale[(n / bn) * kb + k / bk];
      w[n * K + k] *= s;
    }
}

}  // namespace g2
