#include "tools/g2synth/synth_values.h"

#include <xxhash.h>

#include <cmath>

namespace g2::synth {

namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

Distribution distribution(const TensorSpec& s, Family family) {
  const int r = int(s.shape.size());
  switch (s.role) {
    case Role::FinalNorm: case Role::PreAttnNorm: case Role::PostAttnNorm: case Role::PreMoeNorm:
    case Role::PostMoeNorm:
      return {1.0f, 0.05f};
    case Role::Embedding: case Role::LmHead:
      return {0.0f, float(1.0 / std::sqrt(double(s.shape[1])))};  // [V, H] in both families
    case Role::Router: {
      const int64_t h = family == Family::Grok1 ? s.shape[0] : s.shape[1];  // Grok-1 [H, E], Grok-2 [E, H]
      return {0.0f, float(1.0 / std::sqrt(double(h)))};
    }
    default: {
      // Grok-1 weights are [..., in, out], Grok-2 [out, in].
      const int64_t fan_in = family == Family::Grok1 ? s.shape[size_t(r - 2)] : s.shape[size_t(r - 1)];
      return {0.0f, float(1.0 / std::sqrt(double(fan_in)))};
    }
  }
}

uint64_t value_key(uint64_t seed, const std::string& name) {
  return XXH3_64bits_withSeed(name.data(), name.size(), seed);
}

float reference_value(uint64_t key, Distribution d, uint64_t index) {
  constexpr double kTwoPi = 6.283185307179586;
  const uint64_t x = splitmix64(key ^ splitmix64(index));
  const double u1 = (double(x >> 40) + 0.5) / 16777216.0;  // (0, 1): 24 bits
  const double u2 = double(x & 0xffffffu) / 16777216.0;     // [0, 1)
  const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(kTwoPi * u2);  // Box-Muller
  return float(d.mean + d.std * z);
}

void fill_keyed(uint64_t key, Distribution d, uint64_t begin, uint64_t n, float* out) {
  fill_checked(key, d, begin, n, out, kFillTolerance);
}

}  // namespace g2::synth
