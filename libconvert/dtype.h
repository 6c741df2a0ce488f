// The one dtype table (ggml's type_traits): safetensors spelling, byte size, max finite.
// Every switch over dtypes that only needs these facts reads this table instead.
#pragma once
#include <cstdint>
#include <optional>
#include <string_view>

#include "kernels/codecs.h"

namespace g2 {

enum class DType : uint8_t { F64, F32, F16, BF16, F8_E4M3, F8_E5M2, I64, I32, I16, I8, U8, BOOL, kCount };

struct DTypeInfo {
  DType dtype;
  std::string_view name;  // as safetensors spells it
  uint32_t size;          // bytes per element
  double max_finite;      // largest finite value (integers: max value)
  bool is_float;
};

inline constexpr DTypeInfo kDTypeTable[] = {
    {DType::F64, "F64", 8, 1.7976931348623157e308, true},
    {DType::F32, "F32", 4, 3.4028234663852886e38, true},
    {DType::F16, "F16", 2, 65504.0, true},
    {DType::BF16, "BF16", 2, 3.3895313892515355e38, true},
    {DType::F8_E4M3, "F8_E4M3", 1, fp8_e4m3::kMax, true},  // the codecs' own maxima
    {DType::F8_E5M2, "F8_E5M2", 1, fp8_e5m2::kMax, true},
    {DType::I64, "I64", 8, 9.2233720368547758e18, false},
    {DType::I32, "I32", 4, 2147483647.0, false},
    {DType::I16, "I16", 2, 32767.0, false},
    {DType::I8, "I8", 1, 127.0, false},
    {DType::U8, "U8", 1, 255.0, false},
    {DType::BOOL, "BOOL", 1, 1.0, false},
};
static_assert(sizeof(kDTypeTable) / sizeof(kDTypeTable[0]) == size_t(DType::kCount));

constexpr const DTypeInfo& dtype_info(DType t) { return kDTypeTable[size_t(t)]; }
constexpr uint32_t dtype_size(DType t) { return dtype_info(t).size; }
constexpr std::string_view dtype_name(DType t) { return dtype_info(t).name; }

constexpr std::optional<DType> dtype_from_name(std::string_view name) {
  for (const auto& e : kDTypeTable)
    if (e.name == name) return e.dtype;
  return std::nullopt;
}

}  // namespace g2
