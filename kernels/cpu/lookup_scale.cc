#include "kernels/cpu/lookup_scale.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define G2_HAVE_AVX512_PATH 1
#else
#define G2_HAVE_AVX512_PATH 0
#endif

namespace g2 {
namespace {

#if G2_HAVE_AVX512_PATH
__attribute__((target("avx512f"))) void lookup_avx512(const uint8_t* q, int64_t n, const float* table, float s,
                                                      float* out) {
  const __m512 vs = _mm512_set1_ps(s);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    // The masked forms: GCC 12 warns (maybe-uninitialized) inside the unmasked ones' headers.
    const __m512i idx =
        _mm512_maskz_cvtepu8_epi32(__mmask16(0xFFFF), _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + i)));
    const __m512 v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), __mmask16(0xFFFF), idx, table, 4);
    _mm512_storeu_ps(out + i, _mm512_mul_ps(v, vs));
  }
  for (; i < n; ++i) out[i] = table[q[i]] * s;
}

bool has_avx512f() {
  static const bool yes = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0;
  }();
  return yes;
}
#endif

}  // namespace

void lookup_scale_u8(const uint8_t* q, int64_t n, const float* table, float s, float* out) {
#if G2_HAVE_AVX512_PATH  // other architectures: the portable loop below
  if (has_avx512f()) {
    lookup_avx512(q, n, table, s, out);
    return;
  }
#endif
  for (int64_t i = 0; i < n; ++i) out[i] = table[q[i]] * s;
}

}  // namespace g2
