// make_plan: resolve defaults, build the output config, map every target tensor onto its
// source (recipe), then shard and place it (plan_place.cc).
#include "libconvert/plan/plan.h"

#include <map>

#include "libconvert/layout/serving.h"
#include "libconvert/plan/plan_internal.h"

namespace g2 {

std::string_view out_layout_name(OutLayout l) {
  switch (l) {
    case OutLayout::Hf: return "hf";
    case OutLayout::Tp: return "tp";
    case OutLayout::Rank: return "rank";
  }
  return "?";
}

std::string_view dtype_target_name(DTypeTarget d) {
  switch (d) {
    case DTypeTarget::Keep: return "keep";
    case DTypeTarget::BF16: return "bf16";
    case DTypeTarget::FP8: return "fp8";
  }
  return "?";
}

uint64_t Plan::total_bytes() const {
  uint64_t n = 0;
  for (const auto& f : files) n += f.payload_bytes;
  return n;
}

namespace {

bool is_float_dtype(DType d) { return d == DType::F32 || d == DType::BF16 || d == DType::F16; }

// Grok-1 -> Grok-2: the config that makes a Grok-2 runtime compute Grok-1's function.
ModelConfig upgraded_config(const ModelConfig& g1) {
  ModelConfig c = g1;
  c.family = Family::Grok2;  // Grok-2 layout and config.json; the fields below keep Grok-1's function
  c.intermediate_size = 0;  // no dense residual FFN
  c.residual_moe = false;
  c.rope_theta = 10000.0;
  c.rope_type = RopeType::Default;
  c.original_max_position_embeddings = 0;
  c.scaling_factor = 1.0;
  c.attn_temperature_len = 0;  // no length temperature
  c.router_logit_softcapping = 0.0;
  c.final_logit_softcapping = 0.0;
  // kept from Grok-1: attn softcap 30, embedding/output multipliers, attn_output_multiplier
  c.hidden_act = GeluKind::Tanh;  // jax.nn.gelu default (approximate=True)
  c.tie_word_embeddings = false;  // lm_head is written as a copy of the embedding
  c.fp8.reset();
  return c;
}

struct Resolved {
  int tp;
  OutLayout layout;
};

Expected<Resolved> resolve_target(const SourceDesc& src, const TargetSpec& t) {
  Resolved r{};
  if (t.layout && *t.layout == OutLayout::Hf && t.tp && *t.tp != 1)
    return invalid("--layout hf writes unsharded tensors and takes no --tp (got --tp " + std::to_string(*t.tp) +
                   "); use --layout tp or --layout rank for a TP set");
  r.tp = t.tp ? *t.tp : ((t.layout && *t.layout == OutLayout::Hf) ? 1 : src.source_tp);
  // TP > 1 defaults to the fully presharded layout: SGLang refuses it at any other TP, where it
  // loads the release-style layout silently wrong (README "Which layout").
  r.layout = t.layout ? *t.layout : (r.tp == 1 ? OutLayout::Hf : OutLayout::Rank);
  return r;
}

}  // namespace

Expected<Plan> make_plan(const SourceDesc& src, const TargetSpec& target) {
  const ModelConfig& sc = src.config;
  if (src.family == Family::Grok1 && !target.to_grok2)
    return unsupported(src.root + ": a Grok-1 JAX checkpoint can only be converted to the Grok-2 layout "
                       "(g2kit writes no Grok-1 format): add --to grok2");
  if (target.dtype == DTypeTarget::FP8 && target.fp8.mode == Fp8ScaleMode::Block &&
      (target.fp8.block_n <= 0 || target.fp8.block_k <= 0))
    return invalid("--fp8-block must be positive, got " + std::to_string(target.fp8.block_n));
  auto res = resolve_target(src, target);
  if (!res) return res.error();

  Plan plan;
  plan.source_family = src.family;
  plan.tp = res->tp;
  plan.layout = res->layout;
  plan.dtype = target.dtype;
  ModelConfig oc = src.family == Family::Grok1 ? upgraded_config(sc) : sc;
  if (target.vocab) {
    if (*target.vocab <= 0) return invalid("--vocab must be positive, got " + std::to_string(*target.vocab));
    if (src.tokenizer_max_id && *target.vocab <= *src.tokenizer_max_id && !target.force)
      return invalid("--vocab " + std::to_string(*target.vocab) + " would trim below the tokenizer's highest id " +
                     std::to_string(*src.tokenizer_max_id) + " (needs at least " +
                     std::to_string(*src.tokenizer_max_id + 1) + " rows); pass --force to trim anyway");
    oc.vocab_size = *target.vocab;
  }
  const std::optional<Fp8Spec>& src_fp8 = sc.fp8;  // the source's FP8 scheme, if its weights are FP8
  const auto out_layout = grok2_layout(oc);
  G2_TRY(check_tp(out_layout, oc, plan.tp));

  std::map<std::string, const SourceTensorInfo*> by_name;
  for (const auto& t : src.tensors) by_name[t.name] = &t;
  auto find_src = [&](const std::string& name, const std::string& wanted_by) -> Expected<const SourceTensorInfo*> {
    auto it = by_name.find(name);
    if (it == by_name.end())
      return not_found(src.root + ": source has no tensor \"" + name + "\" (needed for " + wanted_by + ")");
    return it->second;
  };
  const auto g1_layout = src.family == Family::Grok1 ? grok1_layout(sc) : std::vector<TensorSpec>{};

  bool any_fp8_out = false;
  std::vector<LogicalTensor> logicals;
  for (const TensorSpec& spec : out_layout) {
    LogicalTensor lt;
    lt.spec = &spec;
    Recipe& r = lt.recipe;
    r.logical = spec.name;
    r.rows = spec.shape.size() == 2 ? spec.shape[0] : 1;
    r.cols = spec.shape.size() == 2 ? spec.shape[1] : spec.shape[0];
    const bool vocab_role = spec.role == Role::Embedding || spec.role == Role::LmHead;
    int64_t src_vocab = sc.vocab_size;
    // Locate the source tensor and the geometry that maps it onto the logical tensor.
    if (src.family == Family::Grok2) {
      auto t = find_src(spec.name, spec.name);
      if (!t) return t.error();
      r.src = spec.name;
      r.src_dtype = (*t)->dtype;
      r.src_shape = (*t)->shape;
      Shape want = spec.shape;
      if (vocab_role) want[0] = sc.vocab_size;
      if ((*t)->shape != want)
        return invalid(src.root + ": tensor \"" + spec.name + "\" has shape " + shape_str((*t)->shape) +
                       ", expected " + shape_str(want) + " from " + sc.source);
    } else {
      const Role role = spec.role == Role::LmHead ? Role::Embedding : spec.role;  // untie: copy the embedding
      const TensorSpec* g1 = find_spec(g1_layout, role, spec.layer, -1);
      if (!g1) return unsupported("no Grok-1 tensor maps onto " + spec.name);
      auto t = find_src(g1->name, spec.name);
      if (!t) return t.error();
      r.src = g1->name;
      r.src_dtype = (*t)->dtype;
      r.src_shape = (*t)->shape;
      if ((*t)->shape != g1->shape)
        return invalid(src.root + ": tensor \"" + g1->name + "\" has shape " + shape_str((*t)->shape) +
                       ", expected " + shape_str(g1->shape) + " from " + sc.source);
      r.expert = spec.expert;  // stacked on axis 0 in Grok-1
      r.transpose = spec.shape.size() == 2 && !vocab_role;
      if ((*t)->dtype == DType::I8) {
        r.src_scale = g1->name.substr(0, g1->name.size() - 2) + "/scales";  // ".../w" -> ".../scales"
        auto s = find_src(r.src_scale, spec.name);
        if (!s) return s.error();
        const TensorSpec* gs = find_spec(g1_layout, r.src_scale);
        if ((*s)->dtype != DType::BF16 || !gs || (*s)->shape != gs->shape)
          return invalid(src.root + ": tensor \"" + r.src_scale + "\" is " + std::string(dtype_name((*s)->dtype)) +
                         " " + shape_str((*s)->shape) + ", expected BF16 " + (gs ? shape_str(gs->shape) : "?"));
      }
    }
    r.src_rows = vocab_role ? std::min(src_vocab, oc.vocab_size) : r.rows;

    // Decode / encode.
    const DType sd = r.src_dtype;
    const bool fp8_out = target.dtype == DTypeTarget::FP8 && spec.fp8_candidate && spec.shape.size() == 2;
    DType out_dtype = sd;
    if (sd == DType::F8_E4M3) {
      if (!src_fp8)
        return invalid(src.root + ": tensor \"" + r.src +
                       "\" is F8_E4M3 but config.json has no fp8 quantization_config");
      r.src_fp8 = *src_fp8;
      r.src_scale = fp8_scale_name(r.src, src_fp8->mode);
      auto s = find_src(r.src_scale, spec.name);
      if (!s) return s.error();
      const Shape want = fp8_scale_shape(*src_fp8, r.rows, r.cols);
      const bool scalar_ok = src_fp8->mode == Fp8ScaleMode::Tensor && (*checked_numel((*s)->shape)) == 1;
      if ((*s)->dtype != DType::F32 || ((*s)->shape != want && !scalar_ok))
        return invalid(src.root + ": tensor \"" + r.src_scale + "\" is " + std::string(dtype_name((*s)->dtype)) + " " +
                       shape_str((*s)->shape) + ", expected F32 " + shape_str(want));
      if (target.dtype == DTypeTarget::Keep || (fp8_out && target.fp8 == *src_fp8)) {
        r.decode = Decode::Raw;
        r.encode = Encode::Raw;
        r.fp8 = *src_fp8;
        lt.fp8_companion = true;
        out_dtype = DType::F8_E4M3;
      } else if (fp8_out) {
        r.decode = Decode::Fp8;
        r.encode = Encode::Fp8Weight;
      } else {
        r.decode = Decode::Fp8;
        r.encode = Encode::BF16;
        out_dtype = DType::BF16;
      }
    } else if (sd == DType::I8) {
      if (src.family != Family::Grok1 || r.src_scale.empty())
        return unsupported(src.root + ": tensor \"" + r.src + "\" is I8 without Grok-1 scales; cannot convert");
      r.decode = Decode::Grok1Int8;
      r.encode = fp8_out ? Encode::Fp8Weight : Encode::BF16;
      out_dtype = DType::BF16;
    } else if (is_float_dtype(sd)) {
      const bool upgrade_cast = src.family == Family::Grok1 && vocab_role;  // reference uses bf16(embed)
      if (fp8_out) {
        r.decode = Decode::Float;
        r.encode = Encode::Fp8Weight;
      } else if ((target.dtype == DTypeTarget::BF16 && sd != DType::BF16) || upgrade_cast) {
        r.decode = Decode::Float;
        r.encode = Encode::BF16;
        out_dtype = DType::BF16;
      } else if (r.transpose) {
        r.decode = Decode::Float;
        r.encode = sd == DType::BF16 ? Encode::BF16 : Encode::F32;
        out_dtype = sd == DType::BF16 ? DType::BF16 : DType::F32;
        if (sd == DType::F16)
          return unsupported(src.root + ": tensor \"" + r.src + "\" is F16 and needs a transpose; use --dtype bf16");
      } else {
        r.decode = Decode::Raw;
        r.encode = Encode::Raw;
      }
    } else {
      return unsupported(src.root + ": tensor \"" + r.src + "\" has dtype " + std::string(dtype_name(sd)) +
                         "; g2convert reads F32, BF16, F16, F8_E4M3 and Grok-1 I8 weights");
    }
    if (r.encode == Encode::Fp8Weight) {
      r.fp8 = target.fp8;
      lt.fp8_companion = true;
      out_dtype = DType::F8_E4M3;
    }
    lt.out_dtype = out_dtype;
    if (lt.fp8_companion) any_fp8_out = true;
    logicals.push_back(std::move(lt));
  }

  // Output config: storage fields follow what was written.
  oc.fp8.reset();
  if (any_fp8_out) oc.fp8 = target.dtype == DTypeTarget::FP8 ? target.fp8 : *src_fp8;
  plan.out_config = oc;
  G2_TRY(place_tensors(plan, logicals, target));
  plan.text_files.insert(plan.text_files.begin(), TextFile{"config.json", plan_config_json(plan, src)});
  if (src.family == Family::Grok1)
    plan.notes.push_back("upgraded from Grok-1: the weights keep Grok-1's vocabulary, so serve them with Grok-1's "
                         "SentencePiece tokenizer (tokenizer.model), not Grok-2's tokenizer.tok.json");
  if (plan.layout == OutLayout::Tp && plan.tp > 1) plan.notes.push_back(sglang_serving_note(true, plan.tp));
  if (target.vocab && *target.vocab < sc.vocab_size && !src.tokenizer_max_id)
    plan.notes.push_back("vocab trimmed to " + std::to_string(*target.vocab) +
                         " without a tokenizer to check against: make sure no token id reaches the cut");
  return plan;
}

}  // namespace g2
