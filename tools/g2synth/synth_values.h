// Deterministic "looks trained" values for g2synth. Every element is a pure function of
// (seed, tensor name, element index) through a counter-based generator, so the output does
// not depend on the order tensors are written, on chunking or on threads.
#pragma once
#include <cstdint>
#include <string>

#include "libconvert/layout/layout.h"

namespace g2::synth {

// Normal(mean, std) per role, scaled so activations stay O(1) through every layer:
// linear weights N(0, 1/fan_in) (so x @ W keeps the scale of x), the embedding and lm_head
// N(0, 1/H) (the embedding multiplier sqrt(H) then gives unit activations), the router
// N(0, 1/H) (unit-scale logits: varied, rarely tied routing), norms 1 + N(0, 0.05^2).
struct Distribution {
  float mean = 0.0f;
  float std = 1.0f;
};
Distribution distribution(const TensorSpec& spec, Family family);

// The definition of every value (the first g2synth's loop, kept as the specification the
// golden model digests in testdata/golden/README.md were made with): two uniforms from
// splitmix64 of the element index keyed by XXH3(name, seed), one Box-Muller normal through
// libm's log and cos in double, rounded to f32.
uint64_t value_key(uint64_t seed, const std::string& name);
float reference_value(uint64_t key, Distribution d, uint64_t index);

// Elements [begin, begin + n) of the tensor whose value_key() is `key`, in f32: exactly
// reference_value() of each element, computed by the vectorised path below.
void fill_keyed(uint64_t key, Distribution d, uint64_t begin, uint64_t n, float* out);

// The vectorised path (synth_values_fast.cc): the same formula with polynomial log and cos
// (error ~1e-15) in double. A value whose f32 rounding the approximation cannot decide (the
// double result lies within `tolerance` x (|mean| + std x radius) of a rounding boundary) is
// recomputed by reference_value(), so the output equals the reference bit for bit whatever
// libm's last-bit behaviour. Returns the number of elements recomputed (tests). fill_keyed()
// uses kFillTolerance: ~50x the worst error of the two paths combined (3.5e-16 + 7.1e-16 of
// |mean| + std x radius against an 80-bit evaluation, 2e7 samples); ~1e-5 of the elements
// are recomputed.
constexpr double kFillTolerance = 0x1p-44;
uint64_t fill_checked(uint64_t key, Distribution d, uint64_t begin, uint64_t n, float* out, double tolerance);

}  // namespace g2::synth
