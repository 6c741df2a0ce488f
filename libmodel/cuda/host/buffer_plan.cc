#include "libmodel/cuda/host/buffer_plan.h"

#include <algorithm>
#include <string>

namespace g2 {
namespace {

bool is_expert_role(Role r) { return r == Role::ExpertGate || r == Role::ExpertUp || r == Role::ExpertDown; }

uint64_t numel(const Shape& s, size_t from = 0) {
  uint64_t n = 1;
  for (size_t i = from; i < s.size(); ++i) n *= uint64_t(s[i]);
  return n;
}

uint64_t align_up(uint64_t v, uint64_t a) { return a <= 1 ? v : (v + a - 1) / a * a; }

}  // namespace

bool is_stacked_expert_tensor(const std::vector<TensorSpec>& layout, const TensorSpec& spec, const ModelConfig& c) {
  if (spec.expert >= 0 || spec.shape.empty() || spec.shape[0] != c.num_local_experts) return false;
  if (is_expert_role(spec.role)) return true;
  if (spec.role != Role::Scales) return false;
  // A scales companion `<path>/scales` belongs to the weight `<path>/w`.
  const std::string suffix = "/scales";
  if (spec.name.size() <= suffix.size() || spec.name.compare(spec.name.size() - suffix.size(), suffix.size(), suffix))
    return false;
  const TensorSpec* w = find_spec(layout, spec.name.substr(0, spec.name.size() - suffix.size()) + "/w");
  return w && is_expert_role(w->role);
}

Expected<LayerBufferPlan> plan_layer_buffer(const std::vector<TensorSpec>& layout, const ModelConfig& c, int layer,
                                            std::span<const int> routed, int tp, int rank,
                                            const BufferPlanOptions& opt) {
  if (layer < 0 || layer >= c.num_hidden_layers)
    return invalid("buffer plan: layer " + std::to_string(layer) + " out of range [0, " +
                   std::to_string(c.num_hidden_layers) + ") (" + c.source + ")");
  for (size_t i = 0; i < routed.size(); ++i) {
    if (routed[i] < 0 || routed[i] >= c.num_local_experts)
      return invalid("buffer plan: routed expert " + std::to_string(routed[i]) + " out of range [0, " +
                     std::to_string(c.num_local_experts) + ")");
    if (std::find(routed.begin(), routed.begin() + long(i), routed[i]) != routed.begin() + long(i))
      return invalid("buffer plan: routed expert " + std::to_string(routed[i]) + " listed twice");
  }
  LayerBufferPlan plan;
  plan.layer = layer;
  uint64_t cursor = 0;
  auto push = [&](StreamSlice s) {
    s.dst_offset = align_up(cursor, opt.alignment);
    cursor = s.dst_offset + s.bytes;
    plan.slices.push_back(std::move(s));
  };
  for (const TensorSpec& spec : layout) {
    if (spec.layer != layer) continue;
    if (spec.expert >= 0 && std::find(routed.begin(), routed.end(), spec.expert) == routed.end()) continue;
    auto range = shard_range(spec, c, tp, rank);
    if (!range) return range.error();
    auto shape = shard_shape(spec, c, tp, rank);
    if (!shape) return shape.error();
    StreamSlice s;
    s.spec = &spec;
    s.range = *range;
    s.shard_shape = *shape;
    s.dtype = opt.stored_dtype ? opt.stored_dtype(spec) : spec.dtype;
    const uint64_t esize = dtype_size(s.dtype);
    if (is_stacked_expert_tensor(layout, spec, c)) {
      if (range->axis == 0 && spec.split != Split::Replicated && tp > 1)
        return invalid(spec.name + ": stacked experts split on the expert axis cannot be streamed per expert");
      const uint64_t per_expert = numel(*shape, 1) * esize;  // one expert's contiguous slice of the shard
      for (int e : routed) {
        StreamSlice x = s;
        x.expert = e;
        x.src_offset = uint64_t(e) * per_expert;
        x.bytes = per_expert;
        push(std::move(x));
      }
      continue;
    }
    s.expert = spec.expert;
    s.bytes = numel(*shape) * esize;
    push(std::move(s));
  }
  plan.total_bytes = align_up(cursor, opt.alignment);
  return plan;
}

Expected<uint64_t> max_layer_buffer_bytes(const std::vector<TensorSpec>& layout, const ModelConfig& c, int tp,
                                          int rank, const BufferPlanOptions& opt) {
  std::vector<int> all(size_t(c.num_local_experts));
  for (int e = 0; e < c.num_local_experts; ++e) all[size_t(e)] = e;
  uint64_t best = 0;
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    auto p = plan_layer_buffer(layout, c, l, all, tp, rank, opt);
    if (!p) return p.error();
    best = std::max(best, p->total_bytes);
  }
  return best;
}

}  // namespace g2
