// Plans on in-memory source descriptions (no disk): shapes per TP, KV replication, Grok-1
// upgrade, vocab pad/trim, FP8 companions, and every refusal with its message.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "libconvert/layout/scales.h"
#include "libconvert/plan/plan.h"
#include "tests/support/repo_config.h"

namespace g2 {
namespace {

ModelConfig load(const char* name) { return test::repo_config(name); }

SourceDesc desc(Family f, const char* cfg) {
  SourceDesc d;
  d.family = f;
  d.config = load(cfg);
  d.root = "/src";
  for (const auto& s : layout_for(f, d.config)) d.tensors.push_back({s.name, s.dtype, s.shape});
  return d;
}

std::map<std::string, std::vector<const PlannedTensor*>> by_name(const Plan& p) {
  std::map<std::string, std::vector<const PlannedTensor*>> m;
  for (const auto& f : p.files)
    for (const auto& t : f.tensors) m[t.name].push_back(&t);
  return m;
}

const PlannedFile* file(const Plan& p, const std::string& path) {
  for (const auto& f : p.files)
    if (f.path == path) return &f;
  return nullptr;
}

std::string refusal(const SourceDesc& d, const TargetSpec& t) {
  auto p = make_plan(d, t);
  EXPECT_FALSE(p.ok());
  return p.ok() ? "" : p.message();
}

TEST(Plan, DefaultLayoutIsRankPastTp1) {
  SourceDesc d = desc(Family::Grok2, "grok-2-tiny.json");
  d.source_tp = 8;
  auto p = make_plan(d, {});
  ASSERT_TRUE(p.ok()) << p.message();
  EXPECT_EQ(p->tp, 8);
  EXPECT_EQ(p->layout, OutLayout::Rank);
  TargetSpec one;
  one.tp = 1;
  auto hf = make_plan(d, one);
  ASSERT_TRUE(hf.ok()) << hf.message();
  EXPECT_EQ(hf->layout, OutLayout::Hf);
  // the release-style layout says where SGLang serves it; the rank layout needs no warning
  TargetSpec tp4;
  tp4.tp = 4;
  tp4.layout = OutLayout::Tp;
  auto t = make_plan(d, tp4);
  ASSERT_TRUE(t.ok()) << t.message();
  ASSERT_FALSE(t->notes.empty());
  EXPECT_NE(t->notes.back().find("serve at --tp 4 only"), std::string::npos) << t->notes.back();
  for (const auto& n : p->notes) EXPECT_EQ(n.find("serve at"), std::string::npos) << n;
}

TEST(Plan, Tp8TpLayoutMatchesTheReleaseFiles) {
  SourceDesc d = desc(Family::Grok2, "grok-2-tiny.json");
  d.source_tp = 8;
  TargetSpec release_style;
  release_style.layout = OutLayout::Tp;
  auto p = make_plan(d, release_style);
  ASSERT_TRUE(p.ok()) << p.message();
  EXPECT_EQ(p->tp, 8);
  EXPECT_EQ(p->layout, OutLayout::Tp);
  EXPECT_EQ(p->files.size(), 39u);  // 15 common + 3 expert groups x 8 ranks
  ASSERT_NE(file(*p, "pytorch_model-00006-TP-007.safetensors"), nullptr);
  ASSERT_NE(file(*p, "pytorch_model-00017-TP-common.safetensors"), nullptr);
  EXPECT_EQ(p->files.front().path, "pytorch_model-00000-TP-common.safetensors");
  const auto* f = file(*p, "pytorch_model-00007-TP-003.safetensors");
  // w2 of every layer and expert, columns [3*32, 4*32) of 256
  ASSERT_EQ(f->tensors.size(), 16u);
  EXPECT_EQ(f->tensors[0].name, "model.layers.0.block_sparse_moe.experts.0.w2.weight");
  EXPECT_EQ(f->tensors[0].shape, (Shape{512, 32}));
  EXPECT_EQ(f->tensors[0].recipe.slice_axis, 1);
  EXPECT_EQ(f->tensors[0].recipe.begin, 96);
  EXPECT_EQ(f->tensors[0].recipe.encode, Encode::Raw);
  // every tensor is a copy at the same dtype
  for (const auto& fl : p->files)
    for (const auto& t : fl.tensors) EXPECT_EQ(t.recipe.decode, Decode::Raw) << t.name;
  auto cfg = nlohmann::json::parse(p->text_files[0].content);
  EXPECT_EQ(cfg["g2_layout"]["kind"], "tp");
  EXPECT_EQ(cfg["g2_layout"]["tp"], 8);
  EXPECT_EQ(cfg["load_presharded_moe"], true);
  EXPECT_EQ(cfg["load_presharded_attn"], false);
}

TEST(Plan, ReshardShapesForEveryTp) {
  SourceDesc d = desc(Family::Grok2, "grok-2-tiny.json");
  d.source_tp = 8;
  const ModelConfig& c = d.config;
  uint64_t logical_bytes = 0;
  for (const auto& s : grok2_layout(c)) logical_bytes += *checked_numel(s.shape) * 2;
  for (int tp : {1, 2, 4, 8, 16}) {
    for (OutLayout lay : {OutLayout::Tp, OutLayout::Rank}) {
      TargetSpec t;
      t.tp = tp;
      t.layout = lay;
      auto p = make_plan(d, t);
      ASSERT_TRUE(p.ok()) << tp << ": " << p.message();
      auto m = by_name(*p);
      const auto& w1 = m["model.layers.1.block_sparse_moe.experts.7.w1.weight"];
      ASSERT_EQ(int(w1.size()), tp);
      EXPECT_EQ(w1[0]->shape, (Shape{c.moe_intermediate_size / tp, c.hidden_size}));
      const auto& q = m["model.layers.0.self_attn.q_proj.weight"];
      const auto& emb = m["model.embed_tokens.weight"];
      if (lay == OutLayout::Rank) {
        ASSERT_EQ(int(q.size()), tp);
        EXPECT_EQ(q[0]->shape, (Shape{c.q_size() / tp, c.hidden_size}));
        ASSERT_EQ(int(emb.size()), tp);
        EXPECT_EQ(emb[0]->shape, (Shape{c.vocab_size / tp, c.hidden_size}));
        EXPECT_EQ(m["model.norm.weight"].size(), 1u);
      } else {
        ASSERT_EQ(q.size(), 1u);
        EXPECT_EQ(q[0]->shape, (Shape{c.q_size(), c.hidden_size}));
      }
      // no replication except KV heads at tp > 8: bytes add up to the logical model
      uint64_t extra = 0;
      if (lay == OutLayout::Rank && tp > c.num_key_value_heads)
        extra = uint64_t(c.num_hidden_layers) * 2 * uint64_t(c.kv_size()) * uint64_t(c.hidden_size) * 2 *
                uint64_t(tp / c.num_key_value_heads - 1);
      EXPECT_EQ(p->total_bytes(), logical_bytes + extra) << tp;
    }
  }
}

TEST(Plan, KvHeadsReplicatedAtTp16) {
  SourceDesc d = desc(Family::Grok2, "grok-2-tiny.json");
  TargetSpec t;
  t.tp = 16;
  t.layout = OutLayout::Rank;
  auto p = make_plan(d, t);
  ASSERT_TRUE(p.ok()) << p.message();
  const auto k = by_name(*p)["model.layers.0.self_attn.k_proj.weight"];
  ASSERT_EQ(k.size(), 16u);
  const int64_t hd = d.config.head_dim;
  for (int r = 0; r < 16; ++r) {
    EXPECT_EQ(k[size_t(r)]->shape, (Shape{hd, d.config.hidden_size}));
    EXPECT_EQ(k[size_t(r)]->recipe.begin, (r / 2) * hd) << "rank " << r << " holds kv head r/2";
  }
  EXPECT_EQ(file(*p, "pytorch_model-00009-TP-015.safetensors")->tensors.size(), 2u);  // k of both layers
  auto cfg = nlohmann::json::parse(p->text_files[0].content);
  EXPECT_EQ(cfg["load_presharded_attn"], true);
  EXPECT_EQ(cfg["load_presharded_embedding"], true);
}

TEST(Plan, HfLayoutIsUnshardedWithIndex) {
  SourceDesc d = desc(Family::Grok2, "grok-2-tiny.json");
  d.source_tp = 8;
  TargetSpec t;
  t.tp = 1;
  t.hf_max_file_bytes = 4u << 20;
  auto p = make_plan(d, t);
  ASSERT_TRUE(p.ok()) << p.message();
  EXPECT_EQ(p->layout, OutLayout::Hf);
  ASSERT_GT(p->files.size(), 1u);
  EXPECT_EQ(p->files[0].path, "model-00001-of-0000" + std::to_string(p->files.size()) + ".safetensors");
  for (const auto& f : p->files) EXPECT_LE(f.payload_bytes, t.hf_max_file_bytes);
  ASSERT_EQ(p->text_files.size(), 2u);
  auto idx = nlohmann::json::parse(p->text_files[1].content);
  EXPECT_EQ(idx["weight_map"]["lm_head.weight"], p->files[0].path);
  EXPECT_EQ(idx["metadata"]["total_size"].get<uint64_t>(), p->total_bytes());
  auto cfg = nlohmann::json::parse(p->text_files[0].content);
  EXPECT_EQ(cfg["load_presharded_moe"], false);
  EXPECT_FALSE(cfg.contains("g2_layout"));
}

TEST(Plan, Grok1UpgradeNamesShapesAndConfig) {
  SourceDesc d = desc(Family::Grok1, "grok-1-tiny.json");
  TargetSpec t;
  t.to_grok2 = true;
  auto p = make_plan(d, t);
  ASSERT_TRUE(p.ok()) << p.message();
  const ModelConfig& g1 = d.config;
  auto m = by_name(*p);
  const auto* w1 = m["model.layers.1.block_sparse_moe.experts.3.w1.weight"].at(0);
  EXPECT_EQ(w1->recipe.src, "transformer/decoder_layer_1/moe/linear/w");
  EXPECT_EQ(w1->recipe.src_scale, "transformer/decoder_layer_1/moe/linear/scales");
  EXPECT_EQ(w1->recipe.expert, 3);
  EXPECT_TRUE(w1->recipe.transpose);
  EXPECT_EQ(w1->recipe.decode, Decode::Grok1Int8);
  EXPECT_EQ(w1->dtype, DType::BF16);
  EXPECT_EQ(w1->shape, (Shape{g1.moe_intermediate_size, g1.hidden_size}));
  EXPECT_EQ(m["model.layers.0.block_sparse_moe.experts.0.w2.weight"].at(0)->recipe.src,
            "transformer/decoder_layer_0/moe/linear_1/w");
  EXPECT_EQ(m["model.layers.0.block_sparse_moe.experts.0.w3.weight"].at(0)->recipe.src,
            "transformer/decoder_layer_0/moe/linear_v/w");
  const auto* o = m["model.layers.0.self_attn.o_proj.weight"].at(0);
  EXPECT_EQ(o->recipe.src, "transformer/decoder_layer_0/multi_head_attention/linear/w");
  EXPECT_EQ(o->shape, (Shape{g1.hidden_size, g1.q_size()}));
  const auto* gate = m["model.layers.0.block_sparse_moe.gate.weight"].at(0);
  EXPECT_EQ(gate->recipe.src, "transformer/decoder_layer_0/router/w");
  EXPECT_TRUE(gate->recipe.transpose);
  EXPECT_EQ(gate->shape, (Shape{8, g1.hidden_size}));
  EXPECT_EQ(gate->dtype, DType::F32);  // the reference routes in f32: kept exact
  const std::pair<const char*, const char*> norms[] = {{"pre_attn_norm", "rms_norm/scale"},
                                                       {"post_attn_norm", "rms_norm_1/scale"},
                                                       {"pre_moe_norm", "rms_norm_2/scale"},
                                                       {"post_moe_norm", "rms_norm_3/scale"}};
  for (auto [g2n, g1n] : norms) {
    const auto* n = m[std::string("model.layers.1.") + g2n + ".weight"].at(0);
    EXPECT_EQ(n->recipe.src, std::string("transformer/decoder_layer_1/") + g1n);
    EXPECT_EQ(n->recipe.encode, Encode::Raw);
  }
  EXPECT_EQ(m["model.norm.weight"].at(0)->recipe.src, "language_model/rms_norm/scale");
  const auto* lm = m["lm_head.weight"].at(0);
  EXPECT_EQ(lm->recipe.src, "language_model/in_out_embed/embeddings");
  EXPECT_EQ(lm->dtype, DType::BF16);
  EXPECT_FALSE(lm->recipe.transpose);
  EXPECT_EQ(m.count("model.layers.0.mlp.gate_proj.weight"), 0u);  // no dense FFN
  auto cfg = nlohmann::json::parse(p->text_files[0].content);
  EXPECT_EQ(cfg["residual_moe"], false);
  EXPECT_EQ(cfg["intermediate_size"], 0);
  EXPECT_EQ(cfg["rope_theta"], 10000.0);
  EXPECT_EQ(cfg["attn_temperature_len"], 0);
  EXPECT_EQ(cfg["router_logit_softcapping"], 0.0);
  EXPECT_EQ(cfg["final_logit_softcapping"], 0.0);
  EXPECT_EQ(cfg["attn_logit_softcapping"], 30.0);
  EXPECT_EQ(cfg["hidden_act"], "gelu_pytorch_tanh");
  EXPECT_EQ(cfg["tie_word_embeddings"], false);
  EXPECT_DOUBLE_EQ(cfg["attn_output_multiplier"].get<double>(), g1.attn_output_multiplier);
  EXPECT_DOUBLE_EQ(cfg["output_multiplier_scale"].get<double>(), g1.output_multiplier_scale);
  EXPECT_DOUBLE_EQ(cfg["embedding_multiplier_scale"].get<double>(), g1.embedding_multiplier_scale);
  EXPECT_EQ(cfg["g2_upgraded_from"], "grok-1");
  ASSERT_FALSE(p->notes.empty());
  EXPECT_NE(p->notes[0].find("tokenizer.model"), std::string::npos);
  // the upgraded config parses as a valid model config
  auto back = parse_model_config(p->text_files[0].content, "out/config.json");
  ASSERT_TRUE(back.ok()) << back.message();
}

TEST(Plan, Grok1UpgradeToFp8AndTp) {
  SourceDesc d = desc(Family::Grok1, "grok-1-tiny.json");
  TargetSpec t;
  t.to_grok2 = true;
  t.dtype = DTypeTarget::FP8;
  t.fp8 = {Fp8ScaleMode::Block, 8, 8};
  t.tp = 4;
  auto p = make_plan(d, t);
  ASSERT_TRUE(p.ok()) << p.message();
  auto m = by_name(*p);
  const auto* w1 = m["model.layers.0.block_sparse_moe.experts.0.w1.weight"].at(0);
  EXPECT_EQ(w1->dtype, DType::F8_E4M3);
  EXPECT_EQ(w1->recipe.decode, Decode::Grok1Int8);
  EXPECT_EQ(w1->recipe.encode, Encode::Fp8Weight);
  const auto s = m["model.layers.0.block_sparse_moe.experts.0.w1.weight_scale_inv"];
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[0]->shape, (Shape{256 / 4 / 8, 384 / 8}));
  EXPECT_EQ(m["model.embed_tokens.weight"].at(0)->dtype, DType::BF16);  // embeddings stay BF16
}

TEST(Plan, Fp8CompanionsAndConfig) {
  SourceDesc d = desc(Family::Grok2, "grok-2-tiny.json");
  for (auto mode : {Fp8ScaleMode::Tensor, Fp8ScaleMode::Channel, Fp8ScaleMode::Block}) {
    TargetSpec t;
    t.tp = 8;
    t.layout = OutLayout::Rank;
    t.dtype = DTypeTarget::FP8;
    t.fp8 = {mode, 8, 8};
    auto p = make_plan(d, t);
    ASSERT_TRUE(p.ok()) << p.message();
    auto m = by_name(*p);
    const std::string o = "model.layers.0.self_attn.o_proj.";
    const auto sc = m[o + std::string(fp8_scale_suffix(mode))];
    ASSERT_EQ(sc.size(), 8u);
    // o_proj splits on columns: per-channel scales stay whole on every rank
    const Shape want = mode == Fp8ScaleMode::Tensor    ? Shape{}
                       : mode == Fp8ScaleMode::Channel ? Shape{512, 1}
                                                       : Shape{64, 8};
    EXPECT_EQ(sc[0]->shape, want) << fp8_scale_mode_name(mode);
    EXPECT_EQ(m["model.layers.0.block_sparse_moe.gate.weight"].at(0)->dtype, DType::BF16);
    EXPECT_EQ(m["lm_head.weight"].at(0)->dtype, DType::BF16);
    EXPECT_EQ(m["model.layers.0.pre_attn_norm.weight"].at(0)->dtype, DType::BF16);
    auto cfg = nlohmann::json::parse(p->text_files[0].content);
    EXPECT_EQ(cfg["quantization_config"]["quant_method"], "fp8");
    EXPECT_EQ(cfg["quantization_config"].contains("weight_block_size"), mode == Fp8ScaleMode::Block);
    // the same plan read back as a source: keep -> raw copies with companions
    auto back = parse_model_config(p->text_files[0].content, "fp8/config.json");
    ASSERT_TRUE(back.ok()) << back.message();
    SourceDesc d2;
    d2.config = *back;
    for (const auto& [name, ts] : m)
      d2.tensors.push_back(
          {name, ts[0]->dtype, ts[0]->recipe.slice_axis == 0 && ts.size() == 1 ? ts[0]->shape : Shape{}});
    // shapes of sharded tensors are logical in a source: rebuild them from the layout
    const auto layout2 = grok2_layout(*back);
    for (auto& st : d2.tensors) {
      if (const TensorSpec* s = find_spec(layout2, st.name)) st.shape = s->shape;
      else if (st.name.find("weight_scale") != std::string::npos) {
        const TensorSpec* w = find_spec(layout2, st.name.substr(0, st.name.rfind('.')) + ".weight");
        ASSERT_NE(w, nullptr);
        st.shape = fp8_scale_shape(t.fp8, w->shape[0], w->shape[1]);
      }
    }
    TargetSpec keep;
    keep.tp = 2;
    keep.layout = OutLayout::Tp;
    auto p2 = make_plan(d2, keep);
    ASSERT_TRUE(p2.ok()) << p2.message();
    const auto* w = by_name(*p2)["model.layers.0.self_attn.q_proj.weight"].at(0);
    EXPECT_EQ(w->dtype, DType::F8_E4M3);
    EXPECT_EQ(w->recipe.decode, Decode::Raw);
    TargetSpec bf;
    bf.dtype = DTypeTarget::BF16;
    bf.tp = 1;
    auto p3 = make_plan(d2, bf);
    ASSERT_TRUE(p3.ok()) << p3.message();
    EXPECT_EQ(by_name(*p3)["model.layers.0.self_attn.q_proj.weight"].at(0)->recipe.decode, Decode::Fp8);
    EXPECT_FALSE(nlohmann::json::parse(p3->text_files[0].content).contains("quantization_config"));
  }
}

TEST(Plan, VocabPadAndTrim) {
  SourceDesc d = desc(Family::Grok2, "grok-2-tiny.json");
  d.tokenizer_max_id = 1000;
  TargetSpec t;
  t.tp = 8;
  t.layout = OutLayout::Rank;
  t.vocab = 1088;
  auto p = make_plan(d, t);
  ASSERT_TRUE(p.ok()) << p.message();
  auto e = by_name(*p)["model.embed_tokens.weight"];
  ASSERT_EQ(e.size(), 8u);
  EXPECT_EQ(e[7]->shape, (Shape{136, 512}));
  EXPECT_EQ(e[7]->recipe.src_rows, 1024);
  EXPECT_EQ(e[7]->recipe.rows, 1088);
  EXPECT_EQ(e[7]->recipe.begin, 952);
  EXPECT_EQ(nlohmann::json::parse(p->text_files[0].content)["vocab_size"], 1088);
  t.vocab = 1008;  // >= 1001 rows: fine
  ASSERT_TRUE(make_plan(d, t).ok());
  t.vocab = 960;
  auto msg = refusal(d, t);
  EXPECT_NE(msg.find("tokenizer's highest id 1000"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--force"), std::string::npos) << msg;
  t.force = true;
  auto forced = make_plan(d, t);
  ASSERT_TRUE(forced.ok()) << forced.message();
  EXPECT_EQ(by_name(*forced)["lm_head.weight"][0]->recipe.src_rows, 960);
  t.vocab = 1030;  // does not divide by 8
  msg = refusal(d, t);
  EXPECT_NE(msg.find("model.embed_tokens.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("1030"), std::string::npos) << msg;
}

TEST(Plan, Refusals) {
  SourceDesc d = desc(Family::Grok2, "grok-2-tiny.json");
  TargetSpec t;
  for (int bad : {3, 32, 0}) {
    t.tp = bad;
    t.layout = OutLayout::Tp;
    EXPECT_NE(refusal(d, t).find("choose 1, 2, 4, 8 or 16"), std::string::npos) << bad;
  }
  t = {};
  t.tp = 4;
  t.layout = OutLayout::Hf;
  EXPECT_NE(refusal(d, t).find("--layout hf"), std::string::npos);
  // non-dividing: a config whose expert width does not split 16 ways
  SourceDesc odd = d;
  odd.config.moe_intermediate_size = 264;
  odd.tensors.clear();
  for (const auto& s : grok2_layout(odd.config)) odd.tensors.push_back({s.name, s.dtype, s.shape});
  t = {};
  t.tp = 16;
  t.layout = OutLayout::Tp;
  auto msg = refusal(odd, t);
  EXPECT_NE(msg.find("w1.weight: size 264"), std::string::npos) << msg;
  EXPECT_NE(msg.find("tp 16"), std::string::npos) << msg;
  // Grok-1 without --to grok2
  SourceDesc g1 = desc(Family::Grok1, "grok-1-tiny.json");
  EXPECT_NE(refusal(g1, {}).find("--to grok2"), std::string::npos);
  // missing / misshapen source tensors
  SourceDesc miss = d;
  miss.tensors.erase(miss.tensors.begin() + 5);
  EXPECT_NE(refusal(miss, {}).find("source has no tensor \"" + d.tensors[5].name + "\""), std::string::npos);
  SourceDesc shp = d;
  shp.tensors[0].shape = {1024, 500};
  msg = refusal(shp, {});
  EXPECT_NE(msg.find("model.embed_tokens.weight\" has shape [1024, 500], expected [1024, 512]"), std::string::npos)
      << msg;
  // unsupported source dtype
  SourceDesc dt = d;
  dt.tensors[3].dtype = DType::I32;
  EXPECT_NE(refusal(dt, {}).find("has dtype I32"), std::string::npos);
  // FP8 blocks that do not fall on shard boundaries
  t = {};
  t.tp = 16;
  t.layout = OutLayout::Rank;
  t.dtype = DTypeTarget::FP8;
  t.fp8 = {Fp8ScaleMode::Block, 128, 128};
  msg = refusal(d, t);
  EXPECT_NE(msg.find("FP8 block boundaries"), std::string::npos) << msg;
}

TEST(Plan, FingerprintIsStableAndDiscriminating) {
  SourceDesc d = desc(Family::Grok2, "grok-2-tiny.json");
  TargetSpec a;
  a.tp = 4;
  a.layout = OutLayout::Tp;
  TargetSpec b = a;
  b.layout = OutLayout::Rank;
  const auto fa = make_plan(d, a)->fingerprint();
  EXPECT_EQ(fa.size(), 32u);
  EXPECT_EQ(fa, make_plan(d, a)->fingerprint());
  EXPECT_NE(fa, make_plan(d, b)->fingerprint());
  const std::string text = plan_to_text(*make_plan(d, a));
  EXPECT_NE(text.find("pytorch_model-00006-TP-003.safetensors"), std::string::npos);
  EXPECT_NE(text.find("rows [192:256]"), std::string::npos) << text.substr(0, 2000);
}

}  // namespace
}  // namespace g2

// The planner's FP8 companion shards must agree with layout/scales.h, the rule the TP-set
// reader uses to merge them back.
namespace g2 {
namespace {
TEST(Plan, Fp8CompanionShardsAgreeWithScaleSplit) {
  SourceDesc d = desc(Family::Grok2, "grok-2-tiny.json");
  const auto layout = grok2_layout(d.config);
  for (auto mode : {Fp8ScaleMode::Tensor, Fp8ScaleMode::Channel, Fp8ScaleMode::Block})
    for (int tp : {1, 2, 4, 8, 16}) {
      TargetSpec t;
      t.tp = tp;
      t.layout = OutLayout::Rank;
      t.dtype = DTypeTarget::FP8;
      t.fp8 = {mode, 8, 8};
      auto p = make_plan(d, t);
      ASSERT_TRUE(p.ok()) << p.message();
      int checked = 0;
      for (const auto& [name, ts] : by_name(*p)) {
        const std::string wname = scale_weight_name(name);
        if (wname.empty()) continue;
        const TensorSpec* w = find_spec(layout, wname);
        ASSERT_NE(w, nullptr) << name;
        const TensorSpec ss = scale_split(*w, t.fp8);
        EXPECT_EQ(ss.name, name);
        for (size_t r = 0; r < ts.size(); ++r) {
          const int rank = ts.size() == 1 ? 0 : int(r);
          auto range = scale_shard_range(*w, t.fp8, d.config, ts.size() == 1 ? 1 : tp, rank);
          ASSERT_TRUE(range.ok()) << range.message();
          Shape want = ss.shape;
          if (!want.empty()) want[size_t(range->axis)] = range->end - range->begin;
          EXPECT_EQ(ts[r]->shape, want) << name << " tp " << tp << " rank " << rank;
          ++checked;
        }
      }
      EXPECT_GT(checked, 0);
    }
}
}  // namespace
}  // namespace g2
