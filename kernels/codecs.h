// Storage types as tiny structs (cutlass style): one codec per format, used by the CPU
// loops, the converters and the CUDA kernels alike. Never write a second implementation.
//
// Rounding: every encoder is round-to-nearest-even from f32.
//   bf16  : NaN stays NaN (quiet bit set, sign kept); overflow rounds to +-inf as IEEE does.
//   f16   : IEEE binary16, overflow -> +-inf, subnormals kept.
//   e4m3fn: no infinities, max 448, NaN = 0x7F/0xFF. Encoding SATURATES: any finite value
//           beyond 448 and +-inf become +-448 (CUDA's __NV_SATFINITE). NaN -> NaN.
//   e5m2  : IEEE-like (has inf), max 57344; overflow -> +-inf, NaN -> 0x7F/0xFF.
//   int8  : symmetric, RNE, saturating to [-127, 127] (the Grok-1 quantiser never uses -128).
#pragma once
#include "kernels/hd.h"

namespace g2 {

struct bf16 {
  uint16_t bits;
  G2_HD static bf16 from_float(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return bf16{uint16_t((u >> 16) | 0x0040u)};
    u += 0x7fffu + ((u >> 16) & 1u);
    return bf16{uint16_t(u >> 16)};
  }
  G2_HD float to_float() const { return f32_from_bits(uint32_t(bits) << 16); }
};

struct f16 {
  uint16_t bits;
  G2_HD static f16 from_float(float f) {
    const uint32_t u = f32_bits(f);
    const uint16_t sign = uint16_t((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return f16{uint16_t(sign | 0x7e00u | ((a >> 13) & 0x3ffu))};
    if (a >= 0x477ff000u) return f16{uint16_t(sign | 0x7c00u)};  // >= 65520 rounds to inf
    if (a >= 0x38800000u) {                                     // normal: |f| >= 2^-14
      a += 0xc8000fffu + ((a >> 13) & 1u);                      // rebias exponent, RNE
      return f16{uint16_t(sign | (a >> 13))};
    }
    // subnormal or zero: |f| * 2^24 is exact, rintf rounds half to even
    return f16{uint16_t(sign | uint16_t(rintf(f32_from_bits(a) * 16777216.0f)))};
  }
  G2_HD float to_float() const {
    const uint32_t sign = uint32_t(bits & 0x8000u) << 16;
    const uint32_t e = (bits >> 10) & 0x1fu, m = bits & 0x3ffu;
    if (e == 0x1f) return f32_from_bits(sign | 0x7f800000u | (m << 13));
    if (e == 0) {
      const float v = float(m) * (1.0f / 16777216.0f);
      return sign ? -v : v;
    }
    return f32_from_bits(sign | ((e + 112u) << 23) | (m << 13));
  }
};

// Small floats with `EXP` exponent bits and `MAN` mantissa bits (bias 2^(EXP-1)-1).
// `FN` selects the "finite, NaN = all ones" variant (e4m3fn) versus IEEE-like (e5m2).
template <int EXP, int MAN, bool FN>
struct small_float_codec {
  static constexpr int kBias = (1 << (EXP - 1)) - 1;
  static constexpr uint8_t kMaxCode = FN ? uint8_t(((1 << (EXP + MAN)) - 1) - 1)
                                         : uint8_t((((1 << EXP) - 2) << MAN) | ((1 << MAN) - 1));
  static constexpr uint8_t kNaN = 0x7f;  // all ones: 0x7F, or 0xFF with the sign
  static constexpr uint8_t kInf = FN ? kMaxCode : uint8_t(((1 << EXP) - 1) << MAN);

  // Branch-free (selects only, no table) so that GCC vectorises the quantise loops and a CUDA
  // warp never diverges. Every path is computed and the right one selected:
  //  - normal (|f| >= 2^(1-bias)): round the f32 mantissa to MAN bits with RNE by an integer
  //    add (half an ulp minus one, plus the lowest kept bit), then rebias the exponent; a
  //    mantissa carry lands in the next binade, which is the correctly rounded code.
  //  - subnormal: adding 2^(1-bias-MAN+23) makes the f32 ulp equal the small format's
  //    subnormal step, so the FPU's round-to-nearest-even does the rounding and the low bits
  //    of the sum are the code (it may reach 2^MAN, the smallest normal code: correct).
  //  - codes past kMaxCode (and +-inf) become kInf: +-448 for e4m3fn, inf for e5m2.
  //  - NaN stays NaN with its sign.
  // All compares are on int32 values < 2^31 (SSE2 has no unsigned compare). Bit-identical to
  // the previous branchy encoder for all 2^32 inputs (tests/kernels/test_codec_sweep.cc).
  G2_HD static uint8_t encode(float f) {
    constexpr int kShift = 23 - MAN;
    constexpr int32_t kMinNormalBits = int32_t(127 + 1 - kBias) << 23;
    constexpr uint32_t kMagicBits = uint32_t(127 + 23 + 1 - kBias - MAN) << 23;
    const uint32_t u = f32_bits(f);
    const uint32_t sign = (u >> 24) & 0x80u;
    const uint32_t a = u & 0x7fffffffu;
    const uint32_t r = a + ((1u << (kShift - 1)) - 1u) + ((a >> kShift) & 1u);  // < 2^32 even for NaN
    const int32_t normal = int32_t(r >> kShift) - ((127 - kBias) << MAN);
    const int32_t sub = int32_t(f32_bits(f32_from_bits(a) + f32_from_bits(kMagicBits)) - kMagicBits);
    // Bit masks, not ?:, wherever an arm holds the float add: GCC sinks a value used by only
    // one arm of a select into a branch, and a float add (it may trap) is never speculated
    // back, which kills vectorisation. kNaN is all ones in the low 7 bits, so OR sets it.
    const int32_t is_sub = -int32_t(int32_t(a) < kMinNormalBits);
    int32_t code = (sub & is_sub) | (normal & ~is_sub);
    code = code > int32_t(kMaxCode) ? int32_t(kInf) : code;
    code |= -int32_t(int32_t(a) > 0x7f800000) & int32_t(kNaN);
    return uint8_t(sign | uint32_t(code));
  }

  G2_HD static float decode(uint8_t c) {
    const uint32_t sign = uint32_t(c & 0x80u) << 24;
    const uint32_t e = (c >> MAN) & ((1u << EXP) - 1u), m = c & ((1u << MAN) - 1u);
    if (FN) {
      if ((c & 0x7fu) == 0x7fu) return f32_from_bits(sign | 0x7fc00000u);
    } else if (e == (1u << EXP) - 1u) {
      return f32_from_bits(sign | (m ? 0x7fc00000u : 0x7f800000u));
    }
    if (e == 0) {
      const float v = float(m) * f32_from_bits(uint32_t(127 + (1 - kBias - MAN)) << 23);
      return sign ? -v : v;
    }
    return f32_from_bits(sign | ((e - kBias + 127u) << 23) | (m << (23 - MAN)));
  }
};

using e4m3_codec = small_float_codec<4, 3, true>;
using e5m2_codec = small_float_codec<5, 2, false>;

struct fp8_e4m3 {
  uint8_t bits;
  static constexpr float kMax = 448.0f;
  G2_HD static fp8_e4m3 from_float(float f) { return fp8_e4m3{e4m3_codec::encode(f)}; }
  G2_HD float to_float() const { return e4m3_codec::decode(bits); }
};

struct fp8_e5m2 {
  uint8_t bits;
  static constexpr float kMax = 57344.0f;
  G2_HD static fp8_e5m2 from_float(float f) { return fp8_e5m2{e5m2_codec::encode(f)}; }
  G2_HD float to_float() const { return e5m2_codec::decode(bits); }
};

struct int8q {
  int8_t bits;
  G2_HD static int8q from_float(float f) {
    if (!(f == f)) return int8q{0};
    const float r = rintf(f);
    return int8q{int8_t(r > 127.0f ? 127 : (r < -127.0f ? -127 : r))};
  }
  G2_HD float to_float() const { return float(bits); }
};

// Round an f32 to the nearest bf16 value and back: the "cast to bf16" of the reference.
G2_HD float round_bf16(float f) { return bf16::from_float(f).to_float(); }

}  // namespace g2
