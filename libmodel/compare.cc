#include "libmodel/compare.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace g2 {

// Preset bounds.
//  exact: a conversion that only moves bytes (reshard, layout, same dtype) must reproduce
//    every activation bit for bit.
//  int8: Grok-1 int8 -> Grok-2 bf16 upgrade. The linears are exact (bf16(int8 * scale) is
//    the reference dequantization, which the runtime uses for the int8 side too), but the
//    Grok-2 layout stores Grok-1's f32 embedding, norm scales and router in bf16, which rounds
//    them (2^-9 relative): measured on the tiny Grok-1, residual rel RMS 1.7e-3 (f32 mode),
//    logits top-1 100%. So the bounds are the bf16 ones.
//  f32: the same weights computed in a different f32 summation order (rank-by-rank TP
//    execution splits each row-parallel GEMM's K into partial sums): f32 rounding of
//    partial sums is ~2^-24 relative per add; measured on the tiny models rel RMS <= 1e-6,
//    so bound rel RMS 1e-5 and elements by 1e-4 (abs + rel). Routing must not change.
//  bf16: two computations that differ by bf16 roundings (reference mode vs f32 mode, or vs
//    recorded JAX activations): one bf16 ulp is 2^-8 relative; a few ulps accumulate per
//    layer through the residual adds, so per element rtol 2^-5 plus atol 2^-5 of O(1)
//    values, rel RMS <= 1e-2, cosine >= 0.9999. Routing may flip only on near ties.
//  fp8: bf16 <-> e4m3 weights. e4m3 has 3 mantissa bits: relative rounding error of one
//    weight is uniform in +-2^-4, RMS 2^-4/sqrt(3) = 3.6e-2 (more for small weights of a block
//    that fall to subnormals). A GEMM output's relative error is about that RMS (independent
//    errors); attention (v, o) chains two GEMMs and an expert three, so a branch carries
//    ~5-7e-2, and the sandwich RMSNorms keep it from compounding down the residual stream.
//    Measured on the tiny Grok-2 (g2convert --dtype fp8, tensor / channel / 32x32 block):
//    residual rel RMS 0.049-0.097, cosine >= 0.9953, routing agreement >= 0.875, logits top-1
//    >= 0.875, KL <= 1.2e-3. Bound: rel RMS <= 0.15 (~4x the per-GEMM figure), cosine >=
//    0.985, no element bound, >= 75% of tokens with the same expert set, top-1 >= 75%,
//    mean KL <= 0.05. A bounded gate cannot see one mis-scaled block; `g2diff --fp8-exact`
//    (A requantised with the converter's rule) holds FP8 conversions to exact parity instead.
bool tolerance_preset(const std::string& name, Tolerance* t) {
  Tolerance r;
  r.name = name;
  if (name == "exact") {
    r.atol = r.rtol = 0.0;
  } else if (name == "f32") {
    r.atol = r.rtol = 1e-4;
    r.max_rel_rms = 1e-5;
    r.min_cosine = 0.999999;
    r.max_kl = 1e-6;
  } else if (name == "bf16" || name == "int8") {
    r.atol = 1.0 / 32;
    r.rtol = 1.0 / 32;
    r.max_rel_rms = 1e-2;
    r.min_cosine = 0.9999;
    r.min_router_agreement = 0.9;
    r.min_top1_agreement = 0.9;
    r.max_kl = 1e-2;
  } else if (name == "fp8") {
    r.elementwise = false;
    r.max_rel_rms = 0.15;
    r.min_cosine = 0.985;
    r.min_router_agreement = 0.75;
    r.min_top1_agreement = 0.75;
    r.max_kl = 0.05;
  } else {
    return false;
  }
  *t = r;
  return true;
}

CompareResult compare(std::span<const float> got, std::span<const float> ref, const Tolerance& tol,
                      size_t max_mismatches) {
  CompareResult r;
  r.count = std::min(got.size(), ref.size());
  r.shape_ok = got.size() == ref.size();
  double ref_max = 0;
  for (float v : ref)
    if (std::isfinite(v)) ref_max = std::max(ref_max, double(std::fabs(v)));
  const double floor = std::max(1e-6 * ref_max, 1e-30);
  double se = 0, sr = 0, sg = 0, dot = 0;
  for (size_t i = 0; i < r.count; ++i) {
    const double g = got[i], f = ref[i];
    const bool gn = std::isnan(g), fn = std::isnan(f);
    double err = 0.0;
    bool fail = false;
    if (gn || fn) {
      err = (gn && fn) ? 0.0 : std::numeric_limits<double>::infinity();
      fail = !(gn && fn);
    } else if (g != f) {  // equal values (and equal infinities) are exact
      err = std::fabs(g - f);
      fail = tol.elementwise && !(err <= tol.atol + tol.rtol * std::fabs(f));
    }
    if (std::isfinite(g) && std::isfinite(f)) {
      se += (g - f) * (g - f);
      sr += f * f;
      sg += g * g;
      dot += g * f;
    }
    if (i == 0 || err > r.max_abs) {
      r.max_abs = err;
      r.worst_index = i;
      r.worst_got = got[i];
      r.worst_ref = ref[i];
    }
    if (std::isfinite(err)) r.max_rel = std::max(r.max_rel, err / std::max(std::fabs(f), floor));
    else r.max_rel = err;
    if (fail) {
      ++r.n_fail;
      if (r.first_mismatches.size() < max_mismatches) r.first_mismatches.push_back({i, got[i], ref[i]});
    }
  }
  r.rel_rms = sr > 0 ? std::sqrt(se / sr) : (se > 0 ? std::numeric_limits<double>::infinity() : 0.0);
  r.cosine = (sr > 0 && sg > 0) ? dot / std::sqrt(sr * sg) : (sr == 0 && sg == 0 ? 1.0 : 0.0);
  r.pass = r.shape_ok && r.n_fail == 0 && !(tol.max_rel_rms >= 0 && !(r.rel_rms <= tol.max_rel_rms)) &&
           !(tol.min_cosine >= 0 && !(r.cosine >= tol.min_cosine));
  return r;
}

double router_agreement(std::span<const int32_t> a, std::span<const int32_t> b, int64_t T, int64_t k) {
  if (T == 0) return 1.0;
  if (a.size() != size_t(T * k) || b.size() != size_t(T * k)) return 0.0;
  int64_t same = 0;
  for (int64_t t = 0; t < T; ++t) {
    std::vector<int32_t> x(a.begin() + t * k, a.begin() + (t + 1) * k), y(b.begin() + t * k, b.begin() + (t + 1) * k);
    std::sort(x.begin(), x.end());
    std::sort(y.begin(), y.end());
    same += x == y;
  }
  return double(same) / double(T);
}

namespace {
std::vector<int64_t> topk_set(const float* x, int64_t V, int k) {
  std::vector<int64_t> idx(static_cast<size_t>(V));
  std::iota(idx.begin(), idx.end(), 0);
  k = int(std::min<int64_t>(k, V));
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                    [&](int64_t i, int64_t j) { return x[i] > x[j] || (x[i] == x[j] && i < j); });
  idx.resize(size_t(k));
  std::sort(idx.begin(), idx.end());
  return idx;
}
}  // namespace

double logits_topk_agreement(std::span<const float> got, std::span<const float> ref, int64_t T, int64_t V, int k) {
  if (T == 0) return 1.0;
  if (got.size() != size_t(T * V) || ref.size() != size_t(T * V)) return 0.0;
  int64_t same = 0;
  for (int64_t t = 0; t < T; ++t) same += topk_set(got.data() + t * V, V, k) == topk_set(ref.data() + t * V, V, k);
  return double(same) / double(T);
}

double logits_kl(std::span<const float> got, std::span<const float> ref, int64_t T, int64_t V) {
  if (T == 0) return 0.0;
  if (got.size() != size_t(T * V) || ref.size() != size_t(T * V)) return std::numeric_limits<double>::infinity();
  double total = 0;
  for (int64_t t = 0; t < T; ++t) {
    const float* p = ref.data() + t * V;
    const float* q = got.data() + t * V;
    const double mp = *std::max_element(p, p + V), mq = *std::max_element(q, q + V);
    double zp = 0, zq = 0;
    for (int64_t i = 0; i < V; ++i) {
      zp += std::exp(double(p[i]) - mp);
      zq += std::exp(double(q[i]) - mq);
    }
    const double lzp = std::log(zp) + mp, lzq = std::log(zq) + mq;
    double kl = 0;
    for (int64_t i = 0; i < V; ++i) {
      const double lp = double(p[i]) - lzp, lq = double(q[i]) - lzq;
      kl += std::exp(lp) * (lp - lq);
    }
    total += std::max(0.0, kl);
  }
  return total / double(T);
}

}  // namespace g2
