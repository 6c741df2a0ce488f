#include "libconvert/layout/scales.h"

namespace g2 {

namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace

std::string_view scale_kind_name(ScaleKind k) {
  switch (k) {
    case ScaleKind::Tensor: return "tensor";
    case ScaleKind::Channel: return "channel";
    case ScaleKind::Block: return "block";
  }
  return "?";
}

std::string_view scale_suffix(ScaleKind k) { return k == ScaleKind::Block ? ".weight_scale_inv" : ".weight_scale"; }

std::string scale_name(const std::string& weight_name, ScaleKind k) {
  std::string base = ends_with(weight_name, ".weight") ? weight_name.substr(0, weight_name.size() - 7) : weight_name;
  return base + std::string(scale_suffix(k));
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

TensorSpec scale_split(const TensorSpec& w, ScaleKind kind, int block_n, int block_k) {
  TensorSpec s = w;
  s.name = scale_name(w.name, kind);
  s.dtype = DType::F32;
  s.fp8_candidate = false;
  const int64_t N = w.shape.empty() ? 1 : w.shape[0];
  const int64_t K = w.shape.size() > 1 ? w.shape[1] : 1;
  switch (kind) {
    case ScaleKind::Tensor:
      s.shape = {};
      s.split = Split::Replicated;
      s.split_axis = 0;
      break;
    case ScaleKind::Channel:
      s.shape = {N, 1};
      if (w.split != Split::Replicated && w.split_axis == 0) s.split_axis = 0;
      else s.split = Split::Replicated, s.split_axis = 0;
      break;
    case ScaleKind::Block:
      s.shape = {ceil_div(N, block_n), ceil_div(K, block_k)};
      break;  // same split and axis as the weight, counted in blocks
  }
  return s;
}

Expected<ShardRange> scale_shard_range(const TensorSpec& w, ScaleKind kind, const ModelConfig& c, int tp, int rank,
                                       int block_n, int block_k) {
  const TensorSpec s = scale_split(w, kind, block_n, block_k);
  if (s.split == Split::Replicated || tp == 1) {
    auto r = shard_range(s, c, tp, rank);  // validates tp/rank
    if (!r) return r.error();
    return ShardRange{0, 0, s.shape.empty() ? 1 : s.shape[0]};
  }
  auto wr = shard_range(w, c, tp, rank);
  if (!wr) return wr.error();
  const int64_t b = kind == ScaleKind::Channel ? 1 : (wr->axis == 0 ? block_n : block_k);
  const int64_t size = w.shape[size_t(wr->axis)];
  if (wr->begin % b != 0 || (wr->end % b != 0 && wr->end != size))
    return invalid(w.name + ": rank " + std::to_string(rank) + " of tp " + std::to_string(tp) + " holds [" +
                   std::to_string(wr->begin) + ", " + std::to_string(wr->end) + ") on axis " +
                   std::to_string(wr->axis) + ", which splits a " + std::to_string(b) +
                   "-wide scale block; choose a weight_block_size dividing the per-rank size");
  return ShardRange{wr->axis, wr->begin / b, ceil_div(wr->end, b)};
}

}  // namespace g2
