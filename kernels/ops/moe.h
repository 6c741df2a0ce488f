// Mixture-of-experts row math: router over one token's logits and the top-k combine.
#pragma once
#include "kernels/codecs.h"
#include "kernels/hd.h"
#include "kernels/ops/activation.h"
#include "kernels/ops/softmax_topk.h"

namespace g2 {

// One token's router: logits[E] become softcap(logits) in place (cap <= 0: unchanged; this
// is what the softmax sees, and what an activation record stores); probs[E] = softmax (f32);
// idx/gate[k] = top-k of probs, ties to the lower index; gates are NOT renormalized.
G2_HD void router_row(float* logits, int E, int k, float cap, float* probs, int* idx, float* gate) {
  for (int e = 0; e < E; ++e) {
    logits[e] = softcap(logits[e], cap);
    probs[e] = logits[e];
  }
  softmax_row(probs, E);
  topk_row(probs, E, k, idx, gate);
}

// Element i of one token's expert combine: sum_{j<k} gate[j] * slots[j * H + i] in slot order.
// round_gate: gates rounded to bf16 first (the JAX reference's `gate.astype(bf16) * out`).
G2_HD float moe_combine_element(const float* slots, const float* gate, int k, int H, int i, bool round_gate) {
  float s = 0.0f;
  for (int j = 0; j < k; ++j) s += (round_gate ? round_bf16(gate[j]) : gate[j]) * slots[(long long)j * H + i];
  return s;
}

// gelu(gate) * up; round_gelu rounds gelu(gate) to bf16 before the product (SGLang's
// gelu_and_mul kernel does; f32 everywhere else).
G2_HD float gelu_mul_element(float gate, float up, GeluKind kind, bool round_gelu) {
  const float g = gelu(gate, kind);
  return (round_gelu ? round_bf16(g) : g) * up;
}

}  // namespace g2
