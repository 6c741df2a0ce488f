#include "libconvert/layout/scales.h"

namespace g2 {

namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

std::string_view fp8_scale_suffix(Fp8ScaleMode m) {
  return m == Fp8ScaleMode::Block ? "weight_scale_inv" : "weight_scale";
}

std::string fp8_scale_name(const std::string& weight_name, Fp8ScaleMode m) {
  std::string base = weight_name;
  const std::string suffix = "weight";
  if (ends_with(base, suffix)) base.resize(base.size() - suffix.size());
  else base += ".";
  return base + std::string(fp8_scale_suffix(m));
}

std::string scale_weight_name(const std::string& name, bool* block) {
  if (ends_with(name, ".weight_scale_inv")) {
    if (block) *block = true;
    return name.substr(0, name.size() - 17) + ".weight";
  }
  if (ends_with(name, ".weight_scale")) {
    if (block) *block = false;
    return name.substr(0, name.size() - 13) + ".weight";
  }
  return "";
}

TensorSpec scale_split(const TensorSpec& w, const Fp8Spec& spec) {
  TensorSpec s = w;
  s.name = fp8_scale_name(w.name, spec.mode);
  s.dtype = DType::F32;
  s.fp8_candidate = false;
  s.shape = fp8_scale_shape(spec, w.shape.empty() ? 1 : w.shape[0], w.shape.size() > 1 ? w.shape[1] : 1);
  switch (spec.mode) {
    case Fp8ScaleMode::Tensor:
      s.split = Split::Replicated;
      s.split_axis = 0;
      break;
    case Fp8ScaleMode::Channel:
      if (w.split != Split::Replicated && w.split_axis == 0) s.split_axis = 0;
      else s.split = Split::Replicated, s.split_axis = 0;
      break;
    case Fp8ScaleMode::Block:
      break;  // same split and axis as the weight, counted in blocks
  }
  return s;
}

Expected<ShardRange> scale_shard_range(const TensorSpec& w, const Fp8Spec& spec, const ModelConfig& c, int tp,
                                       int rank) {
  const TensorSpec s = scale_split(w, spec);
  if (s.split == Split::Replicated || tp == 1) {
    auto r = shard_range(s, c, tp, rank);  // validates tp/rank
    if (!r) return r.error();
    return ShardRange{0, 0, s.shape.empty() ? 1 : s.shape[0]};
  }
  auto wr = shard_range(w, c, tp, rank);
  if (!wr) return wr.error();
  const auto r = fp8_scale_range(spec, w.shape[0], w.shape.size() > 1 ? w.shape[1] : 1, wr->axis, wr->begin, wr->end);
  if (!r)
    return invalid(w.name + ": rank " + std::to_string(rank) + " of tp " + std::to_string(tp) + " holds [" +
                   std::to_string(wr->begin) + ", " + std::to_string(wr->end) + ") on axis " +
                   std::to_string(wr->axis) + ", which splits a " +
                   std::to_string(wr->axis == 0 ? spec.block_n : spec.block_k) +
                   "-wide scale block; choose a weight_block_size dividing the per-rank size");
  return *r;
}

}  // namespace g2
