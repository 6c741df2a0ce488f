#include "libconvert/model_config.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <xxhash.h>

#include "libconvert/format/read_file.h"

namespace g2 {
namespace {

using nlohmann::json;

struct Reader {
  const json& j;
  const std::string& source;
  std::optional<Error> err;

  bool has(const char* k) const { return j.contains(k) && !j[k].is_null(); }
  void fail(std::string msg) {
    if (!err) err = invalid(source + ": " + msg);
  }
  template <class T>
  void integer(const char* k, T& out, bool required) {
    if (!has(k)) {
      if (required) fail(std::string("missing required field \"") + k + "\"");
      return;
    }
    const json& v = j[k];
    if (v.is_number_integer() || v.is_number_unsigned()) {
      out = T(v.get<int64_t>());
    } else if (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>() &&
               std::fabs(v.get<double>()) < 9.0e15) {
      out = T(v.get<double>());
    } else {
      fail(std::string("field \"") + k + "\" must be an integer, got " + v.dump());
    }
  }
  void number(const char* k, double& out, bool required) {
    if (!has(k)) {
      if (required) fail(std::string("missing required field \"") + k + "\"");
      return;
    }
    if (!j[k].is_number()) return fail(std::string("field \"") + k + "\" must be a number, got " + j[k].dump());
    out = j[k].get<double>();
    if (!std::isfinite(out)) fail(std::string("field \"") + k + "\" must be finite");
  }
  void optional_number(const char* k, std::optional<double>& out) {
    if (!has(k)) return;
    double v = 0;
    number(k, v, true);
    out = v;
  }
  void optional_integer(const char* k, std::optional<int64_t>& out) {
    if (!has(k)) return;
    int64_t v = 0;
    integer(k, v, true);
    out = v;
  }
  void boolean(const char* k, bool& out) {
    if (!has(k)) return;
    if (!j[k].is_boolean()) return fail(std::string("field \"") + k + "\" must be true or false, got " + j[k].dump());
    out = j[k].get<bool>();
  }
  void string(const char* k, std::string& out) {
    if (!has(k)) return;
    if (!j[k].is_string()) return fail(std::string("field \"") + k + "\" must be a string, got " + j[k].dump());
    out = j[k].get<std::string>();
  }
};

void read_quantization(Reader& r, ModelConfig& c) {
  if (!r.has("quantization_config")) return;
  const json& q = r.j["quantization_config"];
  if (!q.is_object()) return r.fail("field \"quantization_config\" must be an object");
  std::string method = q.value("quant_method", "");
  if (method != "fp8")
    return r.fail("quantization_config.quant_method \"" + method + "\" is not supported (expected \"fp8\")");
  Fp8Spec f{Fp8ScaleMode::Tensor, 0, 0};
  if (q.contains("weight_block_size") && !q["weight_block_size"].is_null()) {
    const json& b = q["weight_block_size"];
    if (!b.is_array() || b.size() != 2 || !b[0].is_number_integer() || !b[1].is_number_integer() ||
        b[0].get<int64_t>() <= 0 || b[1].get<int64_t>() <= 0)
      return r.fail("quantization_config.weight_block_size must be two positive integers, got " + b.dump());
    f = Fp8Spec{Fp8ScaleMode::Block, b[0].get<int>(), b[1].get<int>()};
  } else if (q.value("g2_scale_mode", "") == "channel") {
    f.mode = Fp8ScaleMode::Channel;
  }
  c.fp8 = f;
}

// The family of a config.json, from what it carries. The Grok-2 release's file says
// "model_type": "git" -- transformers' GIT captioning model, a type AutoConfig knows, which is
// what lets SGLang parse the file (SGLang's configs/model_config.py keys Grok-2 on it) -- and
// "architectures": ["Grok1ForCausalLM"], the class SGLang's models/grok.py registers. So "git"
// names Grok-2 only beside that architecture. "grok-2" is what this project wrote before it
// followed the release; "grok-1" is this project's own Grok-1 config (the Grok-1 release
// ships none).
Expected<Family> config_family(Reader& r) {
  std::string type;
  r.string("model_type", type);
  std::vector<std::string> archs;
  if (r.has("architectures")) {
    const json& a = r.j["architectures"];
    if (!a.is_array())
      return invalid(r.source + ": field \"architectures\" must be a list of class names, got " + a.dump());
    for (const auto& e : a)
      if (e.is_string()) archs.push_back(e.get<std::string>());
  }
  const bool grok_class = std::find(archs.begin(), archs.end(), "Grok1ForCausalLM") != archs.end() ||
                          std::find(archs.begin(), archs.end(), "Grok1ModelForCausalLM") != archs.end();
  if (type == "grok-1") return Family::Grok1;
  if (type == "grok-2") return Family::Grok2;
  if (type == "git" && grok_class) return Family::Grok2;
  if (type == "git")
    return invalid(r.source +
                   ": model_type \"git\" without \"architectures\": [\"Grok1ForCausalLM\"] is transformers' GIT " +
                   "image-captioning model, not Grok-2 (the Grok-2 release's config.json carries both)");
  return invalid(r.source + ": model_type \"" + type + "\" is not a Grok config: expected \"git\" with architectures " +
                 "[\"Grok1ForCausalLM\"] (the Grok-2 release), \"grok-2\" (older g2kit outputs) or \"grok-1\" " +
                 "(configs/grok-1.json)");
}

}  // namespace

std::string_view model_type_for(Family f) { return f == Family::Grok1 ? "grok-1" : "git"; }
std::string_view family_name(Family f) { return f == Family::Grok1 ? "grok-1" : "grok-2"; }

std::string_view rope_type_name(RopeType t) {
  switch (t) {
    case RopeType::Default: return "default";
    case RopeType::Original: return "original";
    case RopeType::Yarn: return "yarn";
  }
  return "?";
}

std::string_view hidden_act_name(GeluKind g) { return g == GeluKind::Erf ? "gelu" : "gelu_pytorch_tanh"; }

Expected<ModelConfig> parse_model_config(const std::string& text, const std::string& source) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return invalid(source + ": not valid JSON");
  if (!j.is_object()) return invalid(source + ": expected a JSON object at the top level");
  ModelConfig c;
  c.source = source;
  Reader r{j, source, std::nullopt};
  auto family = config_family(r);
  if (!family) return family.error();
  c.family = *family;
  r.integer("vocab_size", c.vocab_size, true);
  r.integer("hidden_size", c.hidden_size, true);
  r.integer("intermediate_size", c.intermediate_size, false);
  r.integer("moe_intermediate_size", c.moe_intermediate_size, true);
  r.integer("num_hidden_layers", c.num_hidden_layers, true);
  r.integer("num_attention_heads", c.num_attention_heads, true);
  r.integer("num_key_value_heads", c.num_key_value_heads, true);
  c.head_dim = 0;
  r.integer("head_dim", c.head_dim, false);
  r.integer("num_local_experts", c.num_local_experts, true);
  r.integer("num_experts_per_tok", c.num_experts_per_tok, true);
  r.boolean("residual_moe", c.residual_moe);
  r.number("rms_norm_eps", c.rms_norm_eps, false);
  r.integer("max_position_embeddings", c.max_position_embeddings, true);
  r.number("rope_theta", c.rope_theta, false);
  std::string rope = "default";
  r.string("rope_type", rope);
  r.integer("original_max_position_embeddings", c.original_max_position_embeddings, false);
  r.number("scaling_factor", c.scaling_factor, false);
  r.optional_number("extrapolation_factor", c.extrapolation_factor);
  r.optional_number("attn_factor", c.attn_factor);
  r.optional_number("beta_fast", c.beta_fast);
  r.optional_number("beta_slow", c.beta_slow);
  r.optional_integer("sliding_window_size", c.sliding_window_size);
  r.optional_integer("global_attn_every_n", c.global_attn_every_n);
  r.integer("attn_temperature_len", c.attn_temperature_len, false);
  r.number("attn_logit_softcapping", c.attn_logit_softcapping, false);
  r.number("router_logit_softcapping", c.router_logit_softcapping, false);
  r.number("final_logit_softcapping", c.final_logit_softcapping, false);
  r.number("embedding_multiplier_scale", c.embedding_multiplier_scale, false);
  r.number("output_multiplier_scale", c.output_multiplier_scale, false);
  r.number("attn_output_multiplier", c.attn_output_multiplier, false);
  // The release's config.json has no hidden_act; SGLang's Grok runs the erf GELU (layers/
  // activation.py GeluAndMul, approximate "none") while Grok-1's JAX model.py uses jax.nn.gelu's
  // tanh default, so the default follows the family.
  std::string act = c.family == Family::Grok2 ? "gelu" : "gelu_pytorch_tanh";
  r.string("hidden_act", act);
  r.boolean("tie_word_embeddings", c.tie_word_embeddings);
  r.integer("pad_token_id", c.pad_token_id, false);
  r.integer("bos_token_id", c.bos_token_id, false);
  r.integer("eos_token_id", c.eos_token_id, false);
  read_quantization(r, c);
  if (r.err) return *r.err;

  if (rope == "default") c.rope_type = RopeType::Default;
  else if (rope == "original") c.rope_type = RopeType::Original;
  else if (rope == "yarn") c.rope_type = RopeType::Yarn;
  else
    return invalid(source + ": field \"rope_type\" is \"" + rope +
                   "\"; expected \"default\", \"original\" or \"yarn\"");

  if (act == "gelu") c.hidden_act = GeluKind::Erf;
  else if (act == "gelu_pytorch_tanh" || act == "gelu_tanh" || act == "gelu_new") c.hidden_act = GeluKind::Tanh;
  else
    return invalid(source + ": field \"hidden_act\" is \"" + act +
                   "\"; expected \"gelu\" (erf) or \"gelu_pytorch_tanh\" (tanh)");

  if (c.head_dim == 0 && c.num_attention_heads > 0) c.head_dim = int(c.hidden_size / c.num_attention_heads);
  if (c.attn_output_multiplier == 0.0 && c.head_dim > 0) c.attn_output_multiplier = 1.0 / std::sqrt(double(c.head_dim));
  G2_TRY(validate(c));
  return c;
}

Status validate(const ModelConfig& c) {
  auto bad = [&](const std::string& m) { return Status(invalid(c.source + ": " + m)); };
  struct Pos { const char* name; int64_t v; };
  const Pos positive[] = {{"vocab_size", c.vocab_size},
                          {"hidden_size", c.hidden_size},
                          {"moe_intermediate_size", c.moe_intermediate_size},
                          {"num_hidden_layers", c.num_hidden_layers},
                          {"num_attention_heads", c.num_attention_heads},
                          {"num_key_value_heads", c.num_key_value_heads},
                          {"head_dim", c.head_dim},
                          {"num_local_experts", c.num_local_experts},
                          {"num_experts_per_tok", c.num_experts_per_tok},
                          {"max_position_embeddings", c.max_position_embeddings}};
  for (const auto& p : positive)
    if (p.v <= 0) return bad(std::string("field \"") + p.name + "\" must be positive, got " + std::to_string(p.v));
  if (c.intermediate_size < 0) return bad("field \"intermediate_size\" must not be negative");
  if (int64_t(c.num_attention_heads) * c.head_dim != c.hidden_size)
    return bad("num_attention_heads (" + std::to_string(c.num_attention_heads) + ") x head_dim (" +
               std::to_string(c.head_dim) + ") != hidden_size (" + std::to_string(c.hidden_size) + ")");
  if (c.head_dim % 2 != 0) return bad("head_dim must be even for RoPE, got " + std::to_string(c.head_dim));
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    return bad("num_key_value_heads (" + std::to_string(c.num_key_value_heads) +
               ") does not divide num_attention_heads (" + std::to_string(c.num_attention_heads) + ")");
  if (c.num_experts_per_tok > c.num_local_experts)
    return bad("num_experts_per_tok (" + std::to_string(c.num_experts_per_tok) + ") > num_local_experts (" +
               std::to_string(c.num_local_experts) + ")");
  if (c.residual_moe && c.intermediate_size <= 0)
    return bad("residual_moe is true but intermediate_size is " + std::to_string(c.intermediate_size) +
               " (the dense FFN needs a positive width)");
  if (!(c.rms_norm_eps > 0)) return bad("field \"rms_norm_eps\" must be positive");
  if (!(c.rope_theta > 1)) return bad("field \"rope_theta\" must be > 1");
  if (c.attn_temperature_len < 0) return bad("field \"attn_temperature_len\" must not be negative");
  const double caps[] = {c.attn_logit_softcapping, c.router_logit_softcapping, c.final_logit_softcapping};
  for (double cap : caps)
    if (cap < 0) return bad("softcapping values must be >= 0 (0 = off)");
  if (c.sliding_window_size && *c.sliding_window_size > 0)
    return bad("sliding_window_size " + std::to_string(*c.sliding_window_size) +
               ": sliding-window attention is not implemented (the Grok-2 release has -1, off)");
  if (c.rope_type == RopeType::Yarn && (c.original_max_position_embeddings <= 0 || c.scaling_factor <= 0))
    return bad("rope_type \"yarn\" needs original_max_position_embeddings and scaling_factor > 0");
  return Status::Ok();
}

Expected<ModelConfig> load_model_config(const std::string& path) {
  auto text = read_file(path);
  if (!text) return not_found(path + ": cannot open config");
  return parse_model_config(*text, path);
}

static json to_json(const ModelConfig& c) {
  json j;
  j["architectures"] = json::array({"Grok1ForCausalLM"});
  j["model_type"] = model_type_for(c.family);
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size;
  j["moe_intermediate_size"] = c.moe_intermediate_size;
  j["num_hidden_layers"] = c.num_hidden_layers;
  j["num_attention_heads"] = c.num_attention_heads;
  j["num_key_value_heads"] = c.num_key_value_heads;
  j["head_dim"] = c.head_dim;
  j["num_local_experts"] = c.num_local_experts;
  j["num_experts_per_tok"] = c.num_experts_per_tok;
  j["residual_moe"] = c.residual_moe;
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["rope_theta"] = c.rope_theta;
  // SGLang reads any non-empty rope_type as a scaling request and fails on "default", so the
  // plain RoPE of Grok-1 is written by leaving the field out (MIGRATION.md).
  if (c.rope_type != RopeType::Default) j["rope_type"] = rope_type_name(c.rope_type);
  if (c.original_max_position_embeddings) j["original_max_position_embeddings"] = c.original_max_position_embeddings;
  j["scaling_factor"] = c.scaling_factor;
  const std::pair<const char*, const std::optional<double>*> passed[] = {
      {"extrapolation_factor", &c.extrapolation_factor}, {"attn_factor", &c.attn_factor},
      {"beta_fast", &c.beta_fast}, {"beta_slow", &c.beta_slow}};
  for (const auto& [k, v] : passed)
    if (*v) j[k] = **v;
  if (c.sliding_window_size) j["sliding_window_size"] = *c.sliding_window_size;
  if (c.global_attn_every_n) j["global_attn_every_n"] = *c.global_attn_every_n;
  j["attn_temperature_len"] = c.attn_temperature_len;
  j["attn_logit_softcapping"] = c.attn_logit_softcapping;
  j["router_logit_softcapping"] = c.router_logit_softcapping;
  j["final_logit_softcapping"] = c.final_logit_softcapping;
  j["embedding_multiplier_scale"] = c.embedding_multiplier_scale;
  j["output_multiplier_scale"] = c.output_multiplier_scale;
  j["attn_output_multiplier"] = c.attn_output_multiplier;
  j["hidden_act"] = hidden_act_name(c.hidden_act);
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  j["pad_token_id"] = c.pad_token_id;
  j["bos_token_id"] = c.bos_token_id;
  j["eos_token_id"] = c.eos_token_id;
  j["torch_dtype"] = "bfloat16";
  if (c.fp8) {
    json q{{"quant_method", "fp8"}, {"activation_scheme", "dynamic"}};
    if (c.fp8->mode == Fp8ScaleMode::Block) q["weight_block_size"] = json::array({c.fp8->block_n, c.fp8->block_k});
    if (c.fp8->mode == Fp8ScaleMode::Channel) q["g2_scale_mode"] = "channel";
    j["quantization_config"] = q;
  }
  return j;
}

std::optional<Fp8Spec> fp8_block_spec(const ModelConfig& c) {
  if (!c.fp8 || c.fp8->mode != Fp8ScaleMode::Block) return std::nullopt;
  return c.fp8;
}

std::string model_config_to_json(const ModelConfig& c) { return to_json(c).dump(2) + "\n"; }

std::string model_config_fingerprint(const ModelConfig& c) {
  json j = to_json(c);
  j.erase("quantization_config");  // storage, not function
  j.erase("architectures");
  const std::string s = j.dump();
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", (unsigned long long)XXH3_64bits(s.data(), s.size()));
  return buf;
}

}  // namespace g2
