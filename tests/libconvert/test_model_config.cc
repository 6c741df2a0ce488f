// ModelConfig: the shipped configs load, and every validation error names field and file.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <fstream>
#include <functional>
#include <string>

#include "libconvert/model_config.h"

namespace g2 {
namespace {

using nlohmann::json;

std::string cfg(const char* name) { return std::string(G2_SOURCE_DIR) + "/configs/" + name; }

TEST(ModelConfig, ShippedConfigsLoad) {
  auto g1 = load_model_config(cfg("grok-1.json"));
  ASSERT_TRUE(g1.ok()) << g1.message();
  EXPECT_EQ(g1->num_attention_heads, 48);
  EXPECT_EQ(g1->kv_group(), 6);
  EXPECT_FALSE(g1->residual_moe);
  EXPECT_EQ(g1->router_logit_softcapping, 0.0);
  EXPECT_EQ(g1->hidden_act, GeluKind::Tanh);
  EXPECT_TRUE(g1->tie_word_embeddings);
  EXPECT_NEAR(g1->attn_output_multiplier, 0.08838834764831845, 1e-15);

  auto g2 = load_model_config(cfg("grok-2.json"));
  ASSERT_TRUE(g2.ok()) << g2.message();
  EXPECT_EQ(g2->hidden_size, 8192);
  EXPECT_EQ(g2->rope_type, RopeType::Original);
  EXPECT_EQ(g2->attn_temperature_len, 1024);
  EXPECT_EQ(g2->hidden_act, GeluKind::Erf);
  EXPECT_NEAR(g2->attn_output_multiplier, 1.0 / std::sqrt(128.0), 1e-15);

  for (const char* n : {"grok-1-tiny.json", "grok-2-tiny.json", "grok-2-odd.json"}) {
    auto c = load_model_config(cfg(n));
    ASSERT_TRUE(c.ok()) << n << ": " << c.message();
    EXPECT_EQ(c->num_local_experts, 8);
  }
}

TEST(ModelConfig, RoundTripsThroughJson) {
  auto a = load_model_config(cfg("grok-2-tiny.json"));
  ASSERT_TRUE(a.ok());
  auto b = parse_model_config(model_config_to_json(*a), "roundtrip");
  ASSERT_TRUE(b.ok()) << b.message();
  EXPECT_EQ(model_config_fingerprint(*a), model_config_fingerprint(*b));
  auto g1 = load_model_config(cfg("grok-1-tiny.json"));
  EXPECT_NE(model_config_fingerprint(*a), model_config_fingerprint(*g1));
}

json base() {
  return json::parse(
      R"({"architectures":["Grok1ForCausalLM"],"model_type":"git","vocab_size":1024,"hidden_size":64,
    "intermediate_size":128,"moe_intermediate_size":32,
    "num_hidden_layers":2,"num_attention_heads":8,"num_key_value_heads":2,"head_dim":8,"num_local_experts":4,
    "num_experts_per_tok":2,"max_position_embeddings":64})");
}

struct Case {
  const char* what;
  std::function<void(json&)> edit;
  const char* expect;  // substring of the message
};

TEST(ModelConfig, EveryValidationErrorIsClear) {
  const Case cases[] = {
      {"missing field", [](json& j) { j.erase("hidden_size"); }, "missing required field \"hidden_size\""},
      {"missing layers", [](json& j) { j.erase("num_hidden_layers"); }, "\"num_hidden_layers\""},
      {"non-integer", [](json& j) { j["vocab_size"] = "many"; }, "\"vocab_size\" must be an integer"},
      {"fractional", [](json& j) { j["num_local_experts"] = 2.5; }, "\"num_local_experts\" must be an integer"},
      {"zero size", [](json& j) { j["vocab_size"] = 0; }, "\"vocab_size\" must be positive"},
      {"negative", [](json& j) { j["num_key_value_heads"] = -2; }, "\"num_key_value_heads\" must be positive"},
      {"heads x dim", [](json& j) { j["head_dim"] = 16; },
       "num_attention_heads (8) x head_dim (16) != hidden_size (64)"},
      {"kv divides q", [](json& j) { j["num_key_value_heads"] = 3; }, "does not divide num_attention_heads"},
      {"top-k", [](json& j) { j["num_experts_per_tok"] = 5; }, "num_experts_per_tok (5) > num_local_experts (4)"},
      {"rope type", [](json& j) { j["rope_type"] = "dynamic"; }, "\"rope_type\" is \"dynamic\""},
      {"act", [](json& j) { j["hidden_act"] = "relu"; }, "\"hidden_act\" is \"relu\""},
      {"residual w/o mlp",
       [](json& j) {
         j["residual_moe"] = true;
         j["intermediate_size"] = 0;
       },
       "residual_moe is true"},
      {"eps", [](json& j) { j["rms_norm_eps"] = 0; }, "rms_norm_eps"},
      {"theta", [](json& j) { j["rope_theta"] = 0.5; }, "rope_theta"},
      {"bool type", [](json& j) { j["residual_moe"] = "yes"; }, "\"residual_moe\" must be true or false"},
      {"softcap", [](json& j) { j["attn_logit_softcapping"] = -1; }, "softcapping"},
      {"yarn", [](json& j) { j["rope_type"] = "yarn"; }, "yarn"},
      {"odd head_dim",
       [](json& j) {
         j["head_dim"] = 7;
         j["hidden_size"] = 56;
       },
       "head_dim must be even"},
      {"quant method",
       [](json& j) {
         j["quantization_config"] = {{"quant_method", "awq"}};
       },
       "quant_method \"awq\""},
      {"block size",
       [](json& j) {
         j["quantization_config"] = {{"quant_method", "fp8"}, {"weight_block_size", {128}}};
       },
       "weight_block_size"},
      {"no model_type", [](json& j) { j.erase("model_type"); }, "model_type \"\" is not a Grok config"},
      {"other model_type", [](json& j) { j["model_type"] = "llama"; }, "model_type \"llama\" is not a Grok config"},
      {"GIT captioning", [](json& j) { j["architectures"] = {"GitForCausalLM"}; },
       "transformers' GIT image-captioning model"},
      {"git, no class", [](json& j) { j.erase("architectures"); }, "without \"architectures\""},
      {"architectures", [](json& j) { j["architectures"] = "Grok1ForCausalLM"; }, "\"architectures\" must be a list"},
      {"sliding window", [](json& j) { j["sliding_window_size"] = 4096; },
       "sliding-window attention is not implemented"},
      {"beta_fast type", [](json& j) { j["beta_fast"] = "8"; }, "\"beta_fast\" must be a number"},
  };
  ASSERT_TRUE(parse_model_config(base().dump(), "base.json").ok());
  for (const auto& c : cases) {
    json j = base();
    c.edit(j);
    auto r = parse_model_config(j.dump(), "/x/config.json");
    ASSERT_FALSE(r.ok()) << c.what;
    EXPECT_NE(r.message().find(c.expect), std::string::npos) << c.what << ": " << r.message();
    EXPECT_EQ(r.message().rfind("/x/config.json: ", 0), 0u) << "names the file: " << r.message();
  }
  auto bad = parse_model_config("{not json", "broken.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("broken.json: not valid JSON"), std::string::npos);
  EXPECT_FALSE(parse_model_config("[1,2]", "arr.json").ok());
  EXPECT_FALSE(load_model_config("/nonexistent/config.json").ok());
}

TEST(ModelConfig, Fp8QuantizationConfig) {
  json j = base();
  j["quantization_config"] = {
      {"quant_method", "fp8"}, {"activation_scheme", "dynamic"}, {"weight_block_size", {128, 128}}};
  auto c = parse_model_config(j.dump(), "q.json");
  ASSERT_TRUE(c.ok()) << c.message();
  ASSERT_TRUE(c->fp8.has_value());
  EXPECT_EQ(c->fp8->mode, Fp8ScaleMode::Block);
  EXPECT_EQ(c->fp8->block_n, 128);
  EXPECT_EQ(fp8_block_spec(*c), c->fp8);
  auto back = parse_model_config(model_config_to_json(*c), "again");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->fp8, c->fp8);
  // Without weight_block_size: per tensor, or per channel with g2kit's key; no block scheme.
  j["quantization_config"].erase("weight_block_size");
  c = parse_model_config(j.dump(), "t.json");
  ASSERT_TRUE(c.ok() && c->fp8);
  EXPECT_EQ(c->fp8->mode, Fp8ScaleMode::Tensor);
  EXPECT_FALSE(fp8_block_spec(*c));
  j["quantization_config"]["g2_scale_mode"] = "channel";
  c = parse_model_config(j.dump(), "c.json");
  ASSERT_TRUE(c.ok() && c->fp8);
  EXPECT_EQ(c->fp8->mode, Fp8ScaleMode::Channel);
  back = parse_model_config(model_config_to_json(*c), "again");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->fp8, c->fp8);
}

// The family comes from what the file carries: the release's "git" + Grok1ForCausalLM, the
// "grok-2" this project wrote before, and this project's "grok-1". Defaults follow the family
// where the release leaves a field out (hidden_act: SGLang's erf GELU for Grok-2).
TEST(ModelConfig, FamilyFromWhatTheFileCarries) {
  auto release = parse_model_config(base().dump(), "release.json");
  ASSERT_TRUE(release.ok()) << release.message();
  EXPECT_EQ(release->family, Family::Grok2);
  EXPECT_EQ(release->hidden_act, GeluKind::Erf);
  json legacy = base();
  legacy["model_type"] = "grok-2";
  legacy.erase("architectures");
  auto old = parse_model_config(legacy.dump(), "old.json");
  ASSERT_TRUE(old.ok()) << old.message();
  EXPECT_EQ(old->family, Family::Grok2);
  json g1 = base();
  g1["model_type"] = "grok-1";
  g1["architectures"] = {"Grok1ModelForCausalLM"};
  auto one = parse_model_config(g1.dump(), "g1.json");
  ASSERT_TRUE(one.ok()) << one.message();
  EXPECT_EQ(one->family, Family::Grok1);
  EXPECT_EQ(one->hidden_act, GeluKind::Tanh);  // jax.nn.gelu's default
  // Grok-2 output configs carry the release's model_type, Grok-1 ones this project's
  EXPECT_EQ(json::parse(model_config_to_json(*old))["model_type"], "git");
  EXPECT_EQ(json::parse(model_config_to_json(*one))["model_type"], "grok-1");
}

// configs/grok-2.json is the release's config.json field for field (docs/release-config.md):
// every field is read, and a conversion writes every one of them back with the same value.
TEST(ModelConfig, ReleaseConfigFieldsSurviveAWrite) {
  std::ifstream f(cfg("grok-2.json"));
  const json release = json::parse(f);
  EXPECT_EQ(release.size(), 32u);
  auto c = load_model_config(cfg("grok-2.json"));
  ASSERT_TRUE(c.ok()) << c.message();
  const json out = json::parse(model_config_to_json(*c));
  for (const auto& [k, v] : release.items()) {
    ASSERT_TRUE(out.contains(k)) << k;
    if (v.is_number()) EXPECT_EQ(out[k].get<double>(), v.get<double>()) << k;
    else EXPECT_EQ(out[k], v) << k;
  }
  EXPECT_EQ(c->beta_fast, 8.0);
  EXPECT_EQ(c->sliding_window_size, -1);
}

}  // namespace
}  // namespace g2
