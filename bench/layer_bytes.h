// What one decoder-layer forward touches in a checkpoint, for the bandwidth bounds of
// bench_layer (CPU) and bench_layer_gpu: stored bytes (any stored dtype, FP8 scale companions
// included) and logical weight elements, of layer 0's dense weights, of the routed experts,
// and of the final norm + output projection when the model has a single layer (the forward
// then computes the logits too). A Grok-1 stacked expert tensor counts one expert's share.
#pragma once
#include <set>
#include <string>
#include <vector>

#include "libconvert/layout/layout.h"
#include "libconvert/source/source.h"

namespace g2::bench {

struct Touched {
  double bytes = 0;     // as stored
  double elements = 0;  // logical weight elements (what an f32 copy holds)
  Touched& operator+=(const Touched& o) {
    bytes += o.bytes;
    elements += o.elements;
    return *this;
  }
};

// The tensor(s) holding (role, layer, expert).
inline Touched touched(const TensorSource& src, const std::vector<TensorSpec>& layout, Role role, int layer,
                       int expert) {
  Touched t;
  const TensorSpec* spec = find_spec(layout, role, layer, expert);
  const bool stacked = !spec && expert >= 0;
  if (stacked) spec = find_spec(layout, role, layer, -1);
  if (!spec) return t;
  for (const std::string& name : {spec->name, spec->name + "_scale", spec->name + "_scale_inv"})
    if (const SourceTensor* s = src.find(name))
      for (const auto& p : s->pieces) t.bytes += double(p.view.nbytes());
  t.elements = 1;
  for (int64_t d : spec->shape) t.elements *= double(d);
  if (stacked) {
    if (const SourceTensor* s = src.find(spec->name.substr(0, spec->name.rfind('/')) + "/scales"))
      for (const auto& p : s->pieces) t.bytes += double(p.view.nbytes());
    const SourceTensor* s = src.find(spec->name);
    if (s && !s->shape.empty() && s->shape[0] > 0) {
      t.bytes /= double(s->shape[0]);
      t.elements /= double(s->shape[0]);
    }
  }
  return t;
}

// Layer 0's attention, dense FFN, router and norms, plus the logits' weights for a one-layer model.
inline Touched dense_layer0(const TensorSource& src, const std::vector<TensorSpec>& layout, const ModelConfig& c) {
  Touched t;
  for (Role r : {Role::PreAttnNorm, Role::PostAttnNorm, Role::PreMoeNorm, Role::PostMoeNorm, Role::AttnQ, Role::AttnK,
                 Role::AttnV, Role::AttnO, Role::Router, Role::MlpGate, Role::MlpUp, Role::MlpDown})
    t += touched(src, layout, r, 0, -1);
  if (c.num_hidden_layers == 1) {
    t += touched(src, layout, Role::FinalNorm, -1, -1);
    const bool tied = c.tie_word_embeddings || !find_spec(layout, Role::LmHead, -1, -1);
    t += touched(src, layout, tied ? Role::Embedding : Role::LmHead, -1, -1);
  }
  return t;
}

// Gate, up and down projections of the experts in `used` (layer 0).
inline Touched experts_layer0(const TensorSource& src, const std::vector<TensorSpec>& layout,
                              const std::set<int32_t>& used) {
  Touched t;
  for (int32_t e : used)
    for (Role r : {Role::ExpertGate, Role::ExpertUp, Role::ExpertDown}) t += touched(src, layout, r, 0, e);
  return t;
}

// One embedding row (the forward reads one per token).
inline Touched embedding_row(const TensorSource& src, const std::vector<TensorSpec>& layout) {
  const TensorSpec* emb = find_spec(layout, Role::Embedding, -1, -1);
  if (!emb || emb->shape.empty() || emb->shape[0] <= 0) return {};
  Touched t = touched(src, layout, Role::Embedding, -1, -1);
  t.bytes /= double(emb->shape[0]);
  t.elements /= double(emb->shape[0]);
  return t;
}

}  // namespace g2::bench
