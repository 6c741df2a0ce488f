#include "libconvert/layout/layout.h"

#include <algorithm>

namespace g2 {

namespace {

std::string layer_prefix2(int l) { return "model.layers." + std::to_string(l) + "."; }
std::string layer_prefix1(int l) { return "transformer/decoder_layer_" + std::to_string(l) + "/"; }

}  // namespace

std::string_view role_name(Role r) {
  switch (r) {
    case Role::Embedding: return "embedding";
    case Role::LmHead: return "lm_head";
    case Role::FinalNorm: return "final_norm";
    case Role::PreAttnNorm: return "pre_attn_norm";
    case Role::PostAttnNorm: return "post_attn_norm";
    case Role::PreMoeNorm: return "pre_moe_norm";
    case Role::PostMoeNorm: return "post_moe_norm";
    case Role::AttnQ: return "attn_q";
    case Role::AttnK: return "attn_k";
    case Role::AttnV: return "attn_v";
    case Role::AttnO: return "attn_o";
    case Role::Router: return "router";
    case Role::MlpGate: return "mlp_gate";
    case Role::MlpUp: return "mlp_up";
    case Role::MlpDown: return "mlp_down";
    case Role::ExpertGate: return "expert_w1";
    case Role::ExpertUp: return "expert_w3";
    case Role::ExpertDown: return "expert_w2";
    case Role::Scales: return "scales";
  }
  return "?";
}

// Release file numbers (pytorch_model-000NN): 00000 embed, 00001 lm_head, 00002 final norm,
// 00003/4/5 dense MLP gate/down/up, 00006/7/8 experts w1/w2/w3 (per rank), 00009-00012
// attention k/o/q/v, 00013-00016 the four norms, 00017 router (docs/research-notes.md §4).
std::vector<TensorSpec> grok2_layout(const ModelConfig& c) {
  const int64_t H = c.hidden_size, V = c.vocab_size, Q = c.q_size(), KV = c.kv_size();
  const int64_t I = c.intermediate_size, M = c.moe_intermediate_size;
  std::vector<TensorSpec> out;
  auto add = [&](std::string name, Role role, int layer, int expert, Shape shape, Split split, int axis, bool fp8,
                 int group, bool per_rank = false) {
    out.push_back(TensorSpec{std::move(name), role, layer, expert, std::move(shape), DType::BF16, split, axis, fp8,
                             group, per_rank});
  };
  add("model.embed_tokens.weight", Role::Embedding, -1, -1, {V, H}, Split::Axis, 0, false, 0);
  add("lm_head.weight", Role::LmHead, -1, -1, {V, H}, Split::Axis, 0, false, 1);
  add("model.norm.weight", Role::FinalNorm, -1, -1, {H}, Split::Replicated, 0, false, 2);
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    const std::string p = layer_prefix2(l);
    if (c.intermediate_size > 0) {
      add(p + "mlp.gate_proj.weight", Role::MlpGate, l, -1, {I, H}, Split::Axis, 0, true, 3);
      add(p + "mlp.down_proj.weight", Role::MlpDown, l, -1, {H, I}, Split::Axis, 1, true, 4);
      add(p + "mlp.up_proj.weight", Role::MlpUp, l, -1, {I, H}, Split::Axis, 0, true, 5);
    }
    for (int e = 0; e < c.num_local_experts; ++e) {
      const std::string pe = p + "block_sparse_moe.experts." + std::to_string(e) + ".";
      add(pe + "w1.weight", Role::ExpertGate, l, e, {M, H}, Split::Axis, 0, true, 6, true);
      add(pe + "w2.weight", Role::ExpertDown, l, e, {H, M}, Split::Axis, 1, true, 7, true);
      add(pe + "w3.weight", Role::ExpertUp, l, e, {M, H}, Split::Axis, 0, true, 8, true);
    }
    add(p + "self_attn.k_proj.weight", Role::AttnK, l, -1, {KV, H}, Split::KvHeads, 0, true, 9);
    add(p + "self_attn.o_proj.weight", Role::AttnO, l, -1, {H, Q}, Split::Axis, 1, true, 10);
    add(p + "self_attn.q_proj.weight", Role::AttnQ, l, -1, {Q, H}, Split::Axis, 0, true, 11);
    add(p + "self_attn.v_proj.weight", Role::AttnV, l, -1, {KV, H}, Split::KvHeads, 0, true, 12);
    // Release numbering of the norms (a loader that opens each file by name, see
    // MIGRATION.md): 00013 pre_attn, 00014 post_attn, 00015 pre_moe, 00016 post_moe.
    add(p + "pre_attn_norm.weight", Role::PreAttnNorm, l, -1, {H}, Split::Replicated, 0, false, 13);
    add(p + "post_attn_norm.weight", Role::PostAttnNorm, l, -1, {H}, Split::Replicated, 0, false, 14);
    add(p + "pre_moe_norm.weight", Role::PreMoeNorm, l, -1, {H}, Split::Replicated, 0, false, 15);
    add(p + "post_moe_norm.weight", Role::PostMoeNorm, l, -1, {H}, Split::Replicated, 0, false, 16);
    add(p + "block_sparse_moe.gate.weight", Role::Router, l, -1, {int64_t(c.num_local_experts), H},
        Split::Replicated, 0, false, 17);
  }
  return out;
}

int grok1_sorted_layer_rank(int layer, int num_layers) {
  std::vector<std::string> names;
  for (int l = 0; l < num_layers; ++l) names.push_back(std::to_string(l));
  std::sort(names.begin(), names.end());
  const auto it = std::find(names.begin(), names.end(), std::to_string(layer));
  return int(it - names.begin());
}

// Grok-1 (xai-org/grok-1 model.py / checkpoint.py): file 0 the embedding, 1 the final norm,
// then 12 files per layer in sorted-string layer order, modules sorted by path.
// Grok-1's own JAX TP splits (q/k/v on out, o-proj on in, experts on ffn) are recorded here
// for the runtime; g2kit never writes Grok-1 sharded (the release is one host, unsharded).
std::vector<TensorSpec> grok1_layout(const ModelConfig& c) {
  const int64_t H = c.hidden_size, V = c.vocab_size, Q = c.q_size(), KV = c.kv_size(), M = c.moe_intermediate_size;
  const int64_t E = c.num_local_experts;
  std::vector<TensorSpec> out;
  auto add = [&](std::string name, Role role, int layer, Shape shape, DType dt, Split split, int axis, int file) {
    out.push_back(TensorSpec{std::move(name), role, layer, -1, std::move(shape), dt, split, axis, false, file, false});
  };
  // A quantized linear: the int8 weight and its bf16 scales companion in the same file.
  auto addq = [&](const std::string& path, Role role, int layer, Shape shape, Shape scales, Split split, int axis,
                  int file) {
    add(path + "/w", role, layer, std::move(shape), DType::I8, split, axis, file);
    out.back().fp8_candidate = true;
    add(path + "/scales", Role::Scales, layer, std::move(scales), DType::BF16, Split::Replicated, 0, file);
  };
  add("language_model/in_out_embed/embeddings", Role::Embedding, -1, {V, H}, DType::F32, Split::Axis, 1, 0);
  add("language_model/rms_norm/scale", Role::FinalNorm, -1, {H}, DType::F32, Split::Replicated, 0, 1);
  const int64_t G = 8;  // the contracting axis of o-proj and linear_1 was sharded 8 ways: 8 scale blocks
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    const int base = 2 + 12 * grok1_sorted_layer_rank(l, c.num_hidden_layers);
    const std::string p = layer_prefix1(l);
    addq(p + "moe/linear", Role::ExpertGate, l, {E, H, M}, {E, 1, M}, Split::Axis, 2, base + 0);
    addq(p + "moe/linear_1", Role::ExpertDown, l, {E, M, H}, {E, G, H}, Split::Axis, 1, base + 1);
    addq(p + "moe/linear_v", Role::ExpertUp, l, {E, H, M}, {E, 1, M}, Split::Axis, 2, base + 2);
    addq(p + "multi_head_attention/key", Role::AttnK, l, {H, KV}, {1, KV}, Split::KvHeads, 1, base + 3);
    addq(p + "multi_head_attention/linear", Role::AttnO, l, {Q, H}, {G, H}, Split::Axis, 0, base + 4);
    addq(p + "multi_head_attention/query", Role::AttnQ, l, {H, Q}, {1, Q}, Split::Axis, 1, base + 5);
    addq(p + "multi_head_attention/value", Role::AttnV, l, {H, KV}, {1, KV}, Split::KvHeads, 1, base + 6);
    add(p + "rms_norm/scale", Role::PreAttnNorm, l, {H}, DType::F32, Split::Replicated, 0, base + 7);
    add(p + "rms_norm_1/scale", Role::PostAttnNorm, l, {H}, DType::F32, Split::Replicated, 0, base + 8);
    add(p + "rms_norm_2/scale", Role::PreMoeNorm, l, {H}, DType::F32, Split::Replicated, 0, base + 9);
    add(p + "rms_norm_3/scale", Role::PostMoeNorm, l, {H}, DType::F32, Split::Replicated, 0, base + 10);
    add(p + "router/w", Role::Router, l, {H, E}, DType::F32, Split::Replicated, 0, base + 11);
  }
  return out;
}

std::vector<TensorSpec> layout_for(Family f, const ModelConfig& c) {
  return f == Family::Grok1 ? grok1_layout(c) : grok2_layout(c);
}

Expected<ShardRange> shard_range(const TensorSpec& s, const ModelConfig& c, int tp, int rank) {
  if (tp < 1 || rank < 0 || rank >= tp)
    return invalid("invalid tp/rank " + std::to_string(tp) + "/" + std::to_string(rank));
  if (s.split == Split::Replicated || tp == 1) {
    const int64_t n = s.shape.empty() ? 1 : s.shape[0];
    return ShardRange{0, 0, n};
  }
  const int64_t size = s.shape[size_t(s.split_axis)];
  if (s.split == Split::KvHeads) {
    const int kv = c.num_key_value_heads;
    const int64_t d = size / kv;  // head_dim
    if (tp > kv) {
      if (tp % kv != 0)
        return invalid(s.name + ": " + std::to_string(kv) + " KV heads cannot be replicated evenly over tp " +
                       std::to_string(tp));
      const int64_t head = int64_t(rank) * kv / tp;  // SGLang: rank r holds head r / (tp / kv)
      return ShardRange{s.split_axis, head * d, (head + 1) * d};
    }
    if (kv % tp != 0)
      return invalid(s.name + ": " + std::to_string(kv) + " KV heads do not divide over tp " + std::to_string(tp));
    const int64_t per = size / tp;
    return ShardRange{s.split_axis, rank * per, (rank + 1) * per};
  }
  if (size % tp != 0)
    return invalid(s.name + ": size " + std::to_string(size) + " on axis " + std::to_string(s.split_axis) +
                   " does not divide by tp " + std::to_string(tp));
  const int64_t per = size / tp;
  return ShardRange{s.split_axis, rank * per, (rank + 1) * per};
}

Expected<Shape> shard_shape(const TensorSpec& s, const ModelConfig& c, int tp, int rank) {
  auto r = shard_range(s, c, tp, rank);
  if (!r) return r.error();
  Shape shape = s.shape;
  if (!shape.empty()) shape[size_t(r->axis)] = r->end - r->begin;
  return shape;
}

Status check_tp(const std::vector<TensorSpec>& layout, const ModelConfig& c, int tp) {
  if (tp != 1 && tp != 2 && tp != 4 && tp != 8 && tp != 16)
    return invalid("--tp " + std::to_string(tp) + " is not supported: choose 1, 2, 4, 8 or 16");
  if (c.num_attention_heads % tp != 0)
    return invalid("num_attention_heads " + std::to_string(c.num_attention_heads) + " does not divide by tp " +
                   std::to_string(tp) + " (" + c.source + ")");
  for (const auto& s : layout)
    for (int r = 0; r < tp; ++r) G2_TRY(shard_range(s, c, tp, r));
  return Status::Ok();
}

const TensorSpec* find_spec(const std::vector<TensorSpec>& layout, Role role, int layer, int expert) {
  for (const auto& s : layout)
    if (s.role == role && s.layer == layer && s.expert == expert) return &s;
  return nullptr;
}

const TensorSpec* find_spec(const std::vector<TensorSpec>& layout, const std::string& name) {
  for (const auto& s : layout)
    if (s.name == name) return &s;
  return nullptr;
}

}  // namespace g2
