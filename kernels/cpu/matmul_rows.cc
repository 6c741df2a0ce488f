// See matmul_rows.h. Written with GCC vector extensions (16 floats = one zmm, two ymm or four
// xmm registers) rather than intrinsics, so one source compiles for every target_clones ISA.
#include "kernels/cpu/matmul_rows.h"

#include <cmath>
#include <cstring>

#include "kernels/codecs.h"

// Every helper taking or returning a vector is always inlined into its clone, so the ABI
// note about 64-byte vector arguments without AVX-512 never applies.
#pragma GCC diagnostic ignored "-Wpsabi"

#define G2_ALWAYS_INLINE inline __attribute__((always_inline))
// x86-64 ELF GCC/clang: one clone per ISA, picked by an ifunc at load time. Elsewhere, or with
// G2_NO_VECTOR_CLONES (as kernels/cpu/vector_clones.h; e.g. ThreadSanitizer builds, whose runtime
// is not up yet when ifunc resolvers run), the baseline ISA only.
#if defined(__x86_64__) && defined(__GNUC__) && defined(__ELF__) && !defined(G2_NO_VECTOR_CLONES)
#define G2_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#define G2_HAVE_CLONES 1
#else
#define G2_CLONES
#define G2_HAVE_CLONES 0
#endif

namespace g2 {
namespace {

using v16f = float __attribute__((vector_size(64)));
using v16u = uint32_t __attribute__((vector_size(64)));
using v16h = uint16_t __attribute__((vector_size(32)));

G2_ALWAYS_INLINE v16f load_f32(const float* p) {
  v16f v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

struct F32Weights {
  using E = float;
  static G2_ALWAYS_INLINE v16f load(const float* p) { return load_f32(p); }
  static G2_ALWAYS_INLINE float one(const float* p) { return *p; }
};

struct Bf16Weights {
  using E = uint16_t;
  // bf16 -> f32 is the 16-bit left shift of bf16::to_float, 16 lanes at a time.
  static G2_ALWAYS_INLINE v16f load(const uint16_t* p) {
    v16h h;
    std::memcpy(&h, p, sizeof h);
    const v16u u = __builtin_convertvector(h, v16u) << 16;
    v16f f;
    std::memcpy(&f, &u, sizeof f);
    return f;
  }
  static G2_ALWAYS_INLINE float one(const uint16_t* p) { return bf16{*p}.to_float(); }
};

G2_ALWAYS_INLINE float hsum(const v16f& v) {
  // Pairwise, fixed order: deterministic for a given ISA.
  float s[16];
  std::memcpy(s, &v, sizeof s);
  for (int w = 8; w > 0; w /= 2)
    for (int i = 0; i < w; ++i) s[i] += s[i + w];
  return s[0];
}

// R weight rows x TT token rows: y[t, r] += dot(x[t, :], w[r, :]) over every segment. R * TT
// accumulators of 16 lanes stay in registers (at most 20 of the 32 zmm registers); lane j
// sums the products at logical columns = j (mod 16) in column order, across segments.
template <class L, int TT, int R>
G2_ALWAYS_INLINE void tile(const float* x, int64_t ldx, const WeightSegment* seg, int nseg, int64_t n, float* y,
                           int64_t ldy) {
  using E = typename L::E;
  v16f acc[R][TT];
  float tail[R][TT];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int t = 0; t < TT; ++t) {
      acc[r][t] = v16f{};
      tail[r][t] = 0.0f;
    }
  for (int s = 0; s < nseg; ++s) {
    const E* w = static_cast<const E*>(seg[s].data) + n * seg[s].ld;
    const int64_t ldw = seg[s].ld, K = seg[s].cols;
    const float* xs = x + seg[s].col0;
    int64_t k = 0;
    for (; k + 16 <= K; k += 16) {
      v16f wv[R];
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) wv[r] = L::load(w + r * ldw + k);
#pragma GCC unroll 8
      for (int t = 0; t < TT; ++t) {
        const v16f xv = load_f32(xs + t * ldx + k);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) acc[r][t] += wv[r] * xv;
      }
    }
    // Explicit fma: left to contraction, some tile shapes fused these and others did not, and
    // a row's result then depended on which tile it fell in (i.e. on the thread split).
    for (; k < K; ++k)
      for (int r = 0; r < R; ++r)
        for (int t = 0; t < TT; ++t) tail[r][t] = std::fma(L::one(w + r * ldw + k), xs[t * ldx + k], tail[r][t]);
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < TT; ++t) y[t * ldy + r] += hsum(acc[r][t]) + tail[r][t];
}

// Rows per pass for TT tokens: as many weight rows as the registers hold next to R * TT
// accumulators (T = 1, 2 are bandwidth-bound: 8 independent rows keep the loads in flight).
template <int TT>
constexpr int rows_per_pass() {
  return TT <= 2 ? 8 : 5;
}

template <class L, int TT>
G2_ALWAYS_INLINE void rows_tt(const float* x, int64_t ldx, const WeightSegment* seg, int nseg, int64_t n0, int64_t n1,
                              float* y, int64_t ldy) {
  constexpr int R = rows_per_pass<TT>();
  int64_t n = n0;
  for (; n + R <= n1; n += R) tile<L, TT, R>(x, ldx, seg, nseg, n, y + n, ldy);
  for (; n < n1; ++n) tile<L, TT, 1>(x, ldx, seg, nseg, n, y + n, ldy);
}

template <class L>
G2_ALWAYS_INLINE void rows(const float* x, int64_t ldx, const WeightSegment* seg, int nseg, float* y, int64_t ldy,
                           int T, int64_t N) {
  // Up to 4 tokens per register tile (20 accumulators next to 5 weight rows). More tokens: a
  // chunk of weight rows small enough to stay in L2 (~256 KiB) meets every 4-token group
  // before the next rows are read, so memory sees each weight byte once. 4-token groups
  // measured faster than 8-token ones with 3 rows (85 vs 50-67 GFLOP/s single-threaded at
  // T = 8 on the AVX-512 EPYC here): fewer x loads from L2 per FMA.
  constexpr int G = 4;
  int64_t row_bytes = 0;
  for (int s = 0; s < nseg; ++s) row_bytes += seg[s].cols * int64_t(sizeof(typename L::E));
  int64_t chunk = N;
  if (T > G) {
    chunk = (int64_t(256) << 10) / (row_bytes > 0 ? row_bytes : 1);
    chunk = chunk < 8 ? 8 : chunk;
  }
  for (int64_t n0 = 0; n0 < N; n0 += chunk) {
    const int64_t n1 = N - n0 < chunk ? N : n0 + chunk;
    for (int t0 = 0; t0 < T; t0 += G) {
      const float* xt = x + t0 * ldx;
      float* yt = y + t0 * ldy;
      switch (T - t0 < G ? T - t0 : G) {
        case 1: rows_tt<L, 1>(xt, ldx, seg, nseg, n0, n1, yt, ldy); break;
        case 2: rows_tt<L, 2>(xt, ldx, seg, nseg, n0, n1, yt, ldy); break;
        case 3: rows_tt<L, 3>(xt, ldx, seg, nseg, n0, n1, yt, ldy); break;
        default: rows_tt<L, 4>(xt, ldx, seg, nseg, n0, n1, yt, ldy); break;
      }
    }
  }
}

}  // namespace

G2_CLONES void matmul_rows_f32(const float* x, int64_t ldx, const WeightSegment* seg, int nseg, float* y, int64_t ldy,
                               int T, int64_t N) {
  rows<F32Weights>(x, ldx, seg, nseg, y, ldy, T, N);
}

G2_CLONES void matmul_rows_bf16(const float* x, int64_t ldx, const WeightSegment* seg, int nseg, float* y,
                                int64_t ldy, int T, int64_t N) {
  rows<Bf16Weights>(x, ldx, seg, nseg, y, ldy, T, N);
}

// The order target_clones' resolver uses: the highest supported ISA first.
const char* matmul_rows_isa() {
  if (!G2_HAVE_CLONES) return "default";
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return "avx512f";
  if (__builtin_cpu_supports("avx2")) return "avx2";
  return "default";
}

}  // namespace g2
