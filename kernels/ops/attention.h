// Per-score attention math shared by the CPU loops and the CUDA kernels.
#pragma once
#include "kernels/hd.h"
#include "kernels/ops/activation.h"

namespace g2 {

// Grok-2 length temperature for a query at absolute position pos (0-based):
// scores are multiplied by log2(pos) / log2(L) when pos > L (L = attn_temperature_len).
// L <= 0 disables it (Grok-1). See MIGRATION.md for where SGLang implements it.
G2_HD float attn_temperature(int pos, int len) {
  if (len <= 1 || pos <= len) return 1.0f;
  return log2f(float(pos)) / log2f(float(len));
}

// One raw q.k score to the pre-softmax logit: scale, softcap, then temperature.
G2_HD float attn_logit(float qk, float scale, float cap, float temperature) {
  return softcap(qk * scale, cap) * temperature;
}

}  // namespace g2
