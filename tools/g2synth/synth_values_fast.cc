// The vectorised path of fill() (synth_values.h): reference_value() for 8 elements at a time
// in GCC vector extensions (one zmm, two ymm or four xmm registers per vector: one source for
// every target_clones ISA). log and cos are polynomials whose error is far below f32's
// resolution; the rare element whose f32 rounding they cannot decide is recomputed by the
// reference, so the bytes are exactly the reference's (the first g2synth's) on any machine.
// Built with -fno-math-errno so that the per-lane sqrt becomes one vector instruction.
#include <cmath>
#include <cstring>

#include "tools/g2synth/synth_values.h"

#pragma GCC diagnostic ignored "-Wpsabi"  // vectors are only passed to always-inlined helpers

#define G2_ALWAYS_INLINE inline __attribute__((always_inline))
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__ELF__) && !defined(G2_NO_VECTOR_CLONES)
// x86-64-v4 (AVX-512 F/DQ/BW/VL) for its 64-bit integer multiply; v3 is AVX2 + FMA.
#define G2_SYNTH_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define G2_SYNTH_CLONES
#endif

namespace g2::synth {

namespace {

using v8d = double __attribute__((vector_size(64)));
using v8u = uint64_t __attribute__((vector_size(64)));
using v8f = float __attribute__((vector_size(32)));
using v8w = uint32_t __attribute__((vector_size(32)));

G2_ALWAYS_INLINE v8u splitmix64(v8u x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// a < 2^52 exactly as a double: the integer as the mantissa of 2^52, minus 2^52 (no 64-bit
// integer conversion instruction needed below AVX-512DQ).
G2_ALWAYS_INLINE v8d small_to_double(v8u a) { return (v8d)(a | 0x4330000000000000ull) - 0x1p52; }

// ln(u) for u in (0, 1). u = m 2^e with m in [sqrt(1/2), sqrt(2)); ln m = 2 atanh(s),
// s = (m - 1) / (m + 1) (m - 1 is exact), |s| <= 0.1716, the series to s^21: truncation
// < 3e-17 relative. Relative error of the result ~1e-15 (u >= 2^-25: no cancellation worse
// than the e = 0 / e = -1 boundary).
G2_ALWAYS_INLINE v8d log_unit(v8d u) {
  // Selections are integer masks, not `?:` on double vectors: GCC's clones lowered those to
  // a branch per lane.
  const v8u bits = (v8u)u;
  const v8u mb = (bits & 0x000fffffffffffffull) | 0x3ff0000000000000ull;  // m in [1, 2)
  const v8u big = (v8u)(mb > 0x3ff6a09e667f3bcdull);  // m > sqrt(2) (bits of positive doubles order as integers)
  const v8d m = (v8d)(mb - (big & (1ull << 52)));     // halved when big
  const v8d e = small_to_double((bits >> 52) + (big & 1u)) - 1023.0;
  const v8d f = m - 1.0;
  const v8d s = f / (2.0 + f), s2 = s * s;
  v8d p = s2 * (1.0 / 21) + 1.0 / 19;
  p = p * s2 + 1.0 / 17;
  p = p * s2 + 1.0 / 15;
  p = p * s2 + 1.0 / 13;
  p = p * s2 + 1.0 / 11;
  p = p * s2 + 1.0 / 9;
  p = p * s2 + 1.0 / 7;
  p = p * s2 + 1.0 / 5;
  p = p * s2 + 1.0 / 3;
  return e * 0.69314718055994530942 + 2.0 * (s + s * (s2 * p));
}

// cos(2 pi b / 2^24) for integers b < 2^24, reduced exactly: b = k 2^22 + j with j in
// [-2^21, 2^21), angle = k pi/2 + a, a = j pi/2^23 in [-pi/4, pi/4); Taylor series of cos a
// to a^16 and sin a to a^17 (truncation < 3e-18). Absolute error ~3e-16.
G2_ALWAYS_INLINE v8d cos_turn(v8u b) {
  const v8u k = (b + (1u << 21)) >> 22;                            // 0..4
  const v8d j = small_to_double(b + (1u << 21) - (k << 22)) - 0x1p21;  // exact
  const v8d a = j * (1.5707963267948966 / 0x1p22), a2 = a * a;
  v8d c = a2 * (1.0 / 20922789888000.0) - 1.0 / 87178291200.0;
  c = c * a2 + 1.0 / 479001600.0;
  c = c * a2 - 1.0 / 3628800.0;
  c = c * a2 + 1.0 / 40320.0;
  c = c * a2 - 1.0 / 720.0;
  c = c * a2 + 1.0 / 24.0;
  c = c * a2 - 0.5;
  c = c * a2 + 1.0;
  v8d s = a2 * (1.0 / 355687428096000.0) - 1.0 / 1307674368000.0;
  s = s * a2 + 1.0 / 6227020800.0;
  s = s * a2 - 1.0 / 39916800.0;
  s = s * a2 + 1.0 / 362880.0;
  s = s * a2 - 1.0 / 5040.0;
  s = s * a2 + 1.0 / 120.0;
  s = s * a2 - 1.0 / 6.0;
  s = (s * a2 + 1.0) * a;
  // k mod 4 = 0, 1, 2, 3: cos a, -sin a, -cos a, sin a (integer masks, as in log_unit)
  const v8u odd = 0u - (k & 1u), sign = ((k + 1u) & 2u) << 62;
  return (v8d)((((v8u)s & odd) | ((v8u)c & ~odd)) ^ sign);
}

}  // namespace

G2_SYNTH_CLONES uint64_t fill_checked(uint64_t key, Distribution d, uint64_t begin, uint64_t n, float* out,
                                      double tolerance) {
  const double mean = d.mean, sd = d.std;
  const double tol_mean = std::fabs(mean) * tolerance, tol_sd = std::fabs(sd) * tolerance;
  const v8u lane = {0, 1, 2, 3, 4, 5, 6, 7};
  uint64_t redone = 0, i = 0;
  for (; i + 8 <= n; i += 8) {
    const v8u x = splitmix64(key ^ splitmix64(begin + i + lane));
    const v8d u1 = (small_to_double(x >> 40) + 0.5) * 0x1p-24;
    const v8d t = -2.0 * log_unit(u1);
    v8d r;
    for (int l = 0; l < 8; ++l) r[l] = std::sqrt(t[l]);
    const v8d v = mean + sd * (r * cos_turn(x & 0xffffffu));
    // v within e of the exact value, and so is the reference's; if both ends round to the
    // same f32, so does the reference
    const v8d e = tol_mean + tol_sd * r;
    const v8f f = __builtin_convertvector(v, v8f);
    const v8w fb = (v8w)f, lo = (v8w)__builtin_convertvector(v - e, v8f), hi = (v8w)__builtin_convertvector(v + e, v8f);
    const auto bad = (lo != fb) | (hi != fb);
    std::memcpy(out + i, &f, sizeof f);
    int any = 0;
    for (int l = 0; l < 8; ++l) any |= bad[l];
    if (any)
      for (int l = 0; l < 8; ++l)
        if (bad[l]) {
          out[i + uint64_t(l)] = reference_value(key, d, begin + i + uint64_t(l));
          ++redone;
        }
  }
  for (; i < n; ++i) out[i] = reference_value(key, d, begin + i);
  return redone;
}

}  // namespace g2::synth
