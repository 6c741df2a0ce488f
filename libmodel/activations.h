// ActivationRecord: what each layer produced for one token sequence, the unit g2diff
// compares. Stored as safetensors (tools/reference/README.md "Activation file format"):
//   layers.L.attn_residual [T, H] F32  residual stream after the attention block
//   layers.L.router_logits [T, E] F32  router logits as the softmax sees them (after the
//                                      router softcap when the config has one)
//   layers.L.experts       [T, k] I32  chosen experts in top-k order (descending prob,
//                                      ties to the lower index)
//   layers.L.residual      [T, H] F32  residual stream after the FFN block
//   logits                 [T, V] F32  final logits (after the final softcap)
// __metadata__: "tokens" ("1,2,3"), "config_fingerprint", plus free-form keys (precision,
// source, tool, ...). A path ending in ".zst" is zstd-compressed as a whole (testdata/).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "libconvert/status.h"

namespace g2 {

struct LayerActivations {
  int layer = 0;
  std::vector<float> attn_residual;  // [T, H]
  std::vector<float> router_logits;  // [T, E]
  std::vector<int32_t> experts;      // [T, k]
  std::vector<float> residual;       // [T, H]
};

struct ActivationRecord {
  std::vector<int32_t> tokens;  // T
  int64_t hidden = 0, n_experts = 0, top_k = 0, vocab = 0;
  std::vector<LayerActivations> layers;  // in layer order, possibly a prefix of the model
  std::vector<float> logits;             // [T, V]; empty when the forward stopped early
  std::map<std::string, std::string> metadata;

  int64_t n_tokens() const { return int64_t(tokens.size()); }
  const LayerActivations* layer(int l) const {
    for (const auto& a : layers)
      if (a.layer == l) return &a;
    return nullptr;
  }
};

Status write_activations(const std::string& path, const ActivationRecord& rec);
Expected<ActivationRecord> read_activations(const std::string& path);

std::string tokens_to_string(const std::vector<int32_t>& tokens);                   // "1,2,3"
Expected<std::vector<int32_t>> tokens_from_string(const std::string& s);            // "1,2,3" or "1 2 3"

}  // namespace g2
