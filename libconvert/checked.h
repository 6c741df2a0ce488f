// Overflow-checked size arithmetic for shapes and byte counts read from untrusted files.
#pragma once
#include <cstdint>
#include <optional>
#include <span>

namespace g2 {

inline std::optional<uint64_t> checked_mul(uint64_t a, uint64_t b) {
  uint64_t r;
  if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
  return r;
}

inline std::optional<uint64_t> checked_add(uint64_t a, uint64_t b) {
  uint64_t r;
  if (__builtin_add_overflow(a, b, &r)) return std::nullopt;
  return r;
}

// Product of dimensions; nullopt on a negative dimension or on overflow.
inline std::optional<uint64_t> checked_numel(std::span<const int64_t> shape) {
  uint64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return std::nullopt;
    auto m = checked_mul(n, uint64_t(d));
    if (!m) return std::nullopt;
    n = *m;
  }
  return n;
}

}  // namespace g2
