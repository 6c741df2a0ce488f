// ModelConfig: one struct for both families, read from an HF-style config.json.
// Field names are those of the Grok-2 release's config.json, as SGLang reads them
// (docs/release-config.md lists every field and where it was confirmed); Grok-1's constants
// map onto the same fields (softcap 0 = off, residual_moe false, rope_theta 10000,
// attn_temperature_len 0).
// It lives in libconvert (not libmodel) because the layout tables need its sizes to
// derive every tensor's shape; libmodel uses the same struct.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "kernels/ops/activation.h"
#include "libconvert/status.h"

namespace g2 {

enum class RopeType { Default, Original, Yarn };

// Which checkpoint family a config describes, judged from what the file carries
// (config_family in model_config.cc): the Grok-2 release says `"model_type": "git"` with
// `"architectures": ["Grok1ForCausalLM"]`; Grok-1 (which ships no config.json) is described by
// this project's configs/grok-1.json, `"model_type": "grok-1"`.
enum class Family { Grok1, Grok2 };

// The model_type a config of `f` is written with: the release's "git" for Grok-2 (a type
// transformers' AutoConfig knows, so SGLang parses the file), "grok-1" for Grok-1.
std::string_view model_type_for(Family f);
std::string_view family_name(Family f);  // "grok-1" / "grok-2"

struct Fp8Quantization {
  bool present = false;
  std::string scale_mode;  // "tensor", "channel" or "block"
  int block_n = 0, block_k = 0;  // weight_block_size, block mode only
};

struct ModelConfig {
  Family family = Family::Grok2;
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;      // dense residual FFN width; 0 when there is none
  int64_t moe_intermediate_size = 0;  // one expert's width
  int num_hidden_layers = 0;
  int num_attention_heads = 0;
  int num_key_value_heads = 0;
  int head_dim = 0;
  int num_local_experts = 0;
  int num_experts_per_tok = 0;
  bool residual_moe = false;
  double rms_norm_eps = 1e-5;
  int64_t max_position_embeddings = 0;
  double rope_theta = 10000.0;
  RopeType rope_type = RopeType::Default;
  int64_t original_max_position_embeddings = 0;
  double scaling_factor = 1.0;
  // The release's YaRN parameters and window fields: SGLang's "original" RoPE ignores them and
  // g2kit computes no YaRN (refused) nor sliding window (refused unless off), but a
  // conversion writes them back as read so the output config stays the release's.
  std::optional<double> extrapolation_factor, attn_factor, beta_fast, beta_slow;
  std::optional<int64_t> sliding_window_size, global_attn_every_n;
  int64_t attn_temperature_len = 0;  // 0: no length temperature
  double attn_logit_softcapping = 0.0;
  double router_logit_softcapping = 0.0;
  double final_logit_softcapping = 0.0;
  double embedding_multiplier_scale = 1.0;
  double output_multiplier_scale = 1.0;
  double attn_output_multiplier = 0.0;  // defaults to head_dim^-0.5
  GeluKind hidden_act = GeluKind::Tanh;
  bool tie_word_embeddings = false;
  int64_t pad_token_id = 0, bos_token_id = 1, eos_token_id = 2;
  Fp8Quantization fp8;
  std::string source;  // the file it was read from, for messages

  int kv_group() const { return num_attention_heads / num_key_value_heads; }
  int64_t q_size() const { return int64_t(num_attention_heads) * head_dim; }
  int64_t kv_size() const { return int64_t(num_key_value_heads) * head_dim; }
};

// Parse and validate; errors name the field and `source`.
Expected<ModelConfig> parse_model_config(const std::string& json_text, const std::string& source);
Expected<ModelConfig> load_model_config(const std::string& path);
Status validate(const ModelConfig& c);
// HF-style JSON (the fields above, SGLang spellings), pretty-printed.
std::string model_config_to_json(const ModelConfig& c);
// A short stable digest of the fields that change the model function.
std::string model_config_fingerprint(const ModelConfig& c);

std::string_view rope_type_name(RopeType t);
std::string_view hidden_act_name(GeluKind g);

}  // namespace g2
