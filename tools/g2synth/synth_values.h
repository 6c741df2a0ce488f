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

// Elements [begin, begin + n) of the tensor `name`, in f32.
void fill(uint64_t seed, const std::string& name, Distribution d, uint64_t begin, uint64_t n, float* out);

}  // namespace g2::synth
