// One comparison routine (docs/architecture.md, after llm.c check_tensor / ggml test-backend-ops): used by
// g2diff and by the tests alike.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace g2 {

// A tensor passes when every element satisfies |got - ref| <= atol + rtol * |ref| (skipped
// when `elementwise` is false) AND the aggregate bounds hold: rel_rms <= max_rel_rms and
// cosine >= min_cosine (each skipped when negative). NaN matches only NaN.
struct Tolerance {
  std::string name = "exact";
  bool elementwise = true;
  double atol = 0.0, rtol = 0.0;
  double max_rel_rms = -1.0, min_cosine = -1.0;
  // Gate figures for the whole run (g2diff): fraction of tokens whose expert sets must match,
  // fraction whose logits top-1 must match, max mean KL(ref || got). Negative: not checked.
  double min_router_agreement = 1.0, min_top1_agreement = 1.0, max_kl = -1.0;
};

// Presets (see compare.cc for how each bound is derived): "exact", "f32", "bf16", "fp8", "int8".
bool tolerance_preset(const std::string& name, Tolerance* out);

struct Mismatch {
  size_t index;
  float got, ref;
};

struct CompareResult {
  size_t count = 0;
  bool shape_ok = true;      // same element count
  double max_abs = 0.0;      // max |got - ref| (inf when a NaN mismatches)
  double max_rel = 0.0;      // max |got - ref| / max(|ref|, 1e-6 * max|ref|)
  double rel_rms = 0.0;      // sqrt(sum (got-ref)^2 / sum ref^2); 0 when both are zero
  double cosine = 1.0;       // cos(got, ref); 1 when both are zero
  size_t worst_index = 0;    // element with the largest |got - ref|
  float worst_got = 0, worst_ref = 0;
  size_t n_fail = 0;         // elements outside atol + rtol * |ref|
  std::vector<Mismatch> first_mismatches;  // up to max_mismatches, in index order
  bool pass = true;
};

CompareResult compare(std::span<const float> got, std::span<const float> ref, const Tolerance& tol,
                      size_t max_mismatches = 8);

// Fraction of tokens whose chosen expert SETS agree (order inside top-k ignored). [T, k] each.
double router_agreement(std::span<const int32_t> a, std::span<const int32_t> b, int64_t T, int64_t k);
// Fraction of tokens whose top-`k` logit index sets agree (k = 1: argmax). [T, V] each.
double logits_topk_agreement(std::span<const float> got, std::span<const float> ref, int64_t T, int64_t V, int k);
// Mean over tokens of KL(softmax(ref) || softmax(got)), in double.
double logits_kl(std::span<const float> got, std::span<const float> ref, int64_t T, int64_t V);

}  // namespace g2
