// A tiny Grok-2 model for the format tests, written by the test itself (so the tests do not
// depend on g2synth): deterministic logical tensors from the layout, written as an HF set or
// a TP set in either layout kind, optionally FP8 with scale companions.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "kernels/codecs.h"
#include "libconvert/format/grok2_tp.h"
#include "libconvert/format/index.h"
#include "libconvert/format/safetensors_writer.h"
#include "libconvert/layout/scales.h"
#include "libconvert/source/source.h"
#include "tests/support/format_util.h"

namespace g2::test {

// 8 q heads, 2 KV heads of 8: tp 4 replicates each KV head twice.
inline std::string tiny_config_json(const std::string& extra = "") {
  return R"({"model_type": "grok-2", "vocab_size": 64, "hidden_size": 64, "intermediate_size": 64,
  "moe_intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 8, "num_key_value_heads": 2,
  "head_dim": 8, "num_local_experts": 2, "num_experts_per_tok": 1, "residual_moe": true,
  "max_position_embeddings": 32, "rope_theta": 10000)" + extra + "}";
}

inline ModelConfig tiny_config(const std::string& extra = "") {
  auto c = parse_model_config(tiny_config_json(extra), "tiny/config.json");
  EXPECT_TRUE(c.ok()) << c.message();
  return *c;
}

// One logical tensor: its spec (for split facts) and its bytes, row-major.
struct TinyTensor {
  TensorSpec spec;
  std::vector<uint8_t> bytes;
  // For scale companions: the weight spec and scheme (the split is derived from them).
  bool is_scale = false;
  TensorSpec weight;
  Fp8Spec kind{Fp8ScaleMode::Tensor};  // with its 8 x 8 blocks
};

inline std::vector<uint8_t> tiny_bytes(const TensorSpec& s, uint32_t seed) {
  const uint64_t n = *checked_numel(s.shape);
  std::vector<uint8_t> out(n * dtype_size(s.dtype));
  for (uint64_t i = 0; i < n; ++i) {
    const float v = float(int((i * 2654435761u + seed * 40503u) % 97) - 48) / 64.0f;
    if (s.dtype == DType::BF16) {
      bf16 b = bf16::from_float(v);
      std::memcpy(out.data() + 2 * i, &b, 2);
    } else if (s.dtype == DType::F8_E4M3) {
      out[i] = fp8_e4m3::from_float(v).bits;
    } else {
      const float f = s.dtype == DType::F32 ? std::abs(v) + 0.01f : v;
      std::memcpy(out.data() + 4 * i, &f, 4);
    }
  }
  return out;
}

// The model's logical tensors. fp8: "" (BF16), "tensor", "channel" or "block" (8 x 8 blocks).
inline std::vector<TinyTensor> tiny_tensors(const ModelConfig& c, const std::string& fp8 = "") {
  std::vector<TinyTensor> out;
  uint32_t seed = 1;
  for (TensorSpec s : grok2_layout(c)) {
    const bool q = !fp8.empty() && s.fp8_candidate;
    if (q) s.dtype = DType::F8_E4M3;
    out.push_back({s, tiny_bytes(s, seed++)});
    if (!q) continue;
    const Fp8Spec k{*fp8_scale_mode_from_name(fp8), 8, 8};
    TensorSpec ss = scale_split(s, k);
    out.push_back({ss, tiny_bytes(ss, seed++), true, s, k});
  }
  return out;
}

inline std::string fp8_config_extra(const std::string& fp8) {
  if (fp8 == "block")
    return R"(, "quantization_config": {"quant_method": "fp8", "activation_scheme": "dynamic", )"
           R"("weight_block_size": [8, 8]})";
  if (fp8 == "channel") return R"(, "quantization_config": {"quant_method": "fp8", "g2_scale_mode": "channel"})";
  if (fp8 == "tensor") return R"(, "quantization_config": {"quant_method": "fp8", "activation_scheme": "dynamic"})";
  return "";
}

// Rows [begin, end) of `axis` of a row-major tensor.
inline std::vector<uint8_t> slice(const std::vector<uint8_t>& bytes, const Shape& shape, DType dt, int axis,
                                  int64_t begin, int64_t end) {
  if (shape.empty()) return bytes;
  uint64_t outer = 1, inner = dtype_size(dt);
  for (int i = 0; i < axis; ++i) outer *= uint64_t(shape[size_t(i)]);
  for (size_t i = size_t(axis) + 1; i < shape.size(); ++i) inner *= uint64_t(shape[i]);
  const uint64_t full = uint64_t(shape[size_t(axis)]) * inner, part = uint64_t(end - begin) * inner;
  std::vector<uint8_t> out(outer * part);
  for (uint64_t o = 0; o < outer; ++o)
    std::memcpy(out.data() + o * part, bytes.data() + o * full + uint64_t(begin) * inner, part);
  return out;
}

inline void write_config(const std::string& dir, const std::string& json) { write_bytes(dir + "/config.json", json); }

// HF set: one model.safetensors (shards == 0) or `shards` files plus the index.
inline void write_hf_set(const std::string& dir, const std::vector<TinyTensor>& ts, int shards,
                         const std::string& cfg_json) {
  write_config(dir, cfg_json);
  const int n = std::max(shards, 1);
  SafetensorsIndex idx;
  for (int s = 0; s < n; ++s) {
    std::vector<SafetensorsBlob> blobs;
    const std::string file = shards == 0 ? "model.safetensors" : hf_shard_name(s + 1, n);
    for (size_t i = size_t(s); i < ts.size(); i += size_t(n)) {
      blobs.push_back({{ts[i].spec.name, ts[i].spec.dtype, ts[i].spec.shape}, ts[i].bytes.data()});
      idx.weight_map[ts[i].spec.name] = file;
      idx.total_size += ts[i].bytes.size();
    }
    ASSERT_TRUE(write_safetensors(dir + "/" + file, blobs).ok());
  }
  if (shards > 0) {
    ASSERT_TRUE(write_safetensors_index(dir + "/" + kSafetensorsIndexName, idx).ok());
  }
}

// TP set: `tp` layout puts only experts (per_rank_file) in rank files, `rank` every split tensor.
inline void write_tp_set(const std::string& dir, const std::vector<TinyTensor>& ts, const ModelConfig& c, int tp,
                         TpLayoutKind kind, const std::string& cfg_json, bool with_g2_layout = true) {
  std::string cj = cfg_json;
  if (with_g2_layout) {
    cj.pop_back();
    cj += std::string(R"(, "g2_layout": {"kind": ")") + std::string(tp_layout_kind_name(kind)) + R"(", "tp": )" +
          std::to_string(tp) + "}}";
  }
  write_config(dir, cj);
  // file name -> tensors (names, shapes, owned bytes)
  std::map<std::string, std::vector<std::pair<SafetensorsDecl, std::vector<uint8_t>>>> files;
  for (const auto& t : ts) {
    const TensorSpec& w = t.is_scale ? t.weight : t.spec;
    const bool ranked = kind == TpLayoutKind::Tp ? w.per_rank_file : (w.split != Split::Replicated && tp > 1);
    if (!ranked) {
      files[tp_common_file_name(w.file_group)].push_back({{t.spec.name, t.spec.dtype, t.spec.shape}, t.bytes});
      continue;
    }
    for (int r = 0; r < tp; ++r) {
      auto rng = t.is_scale ? scale_shard_range(t.weight, t.kind, c, tp, r) : shard_range(t.spec, c, tp, r);
      ASSERT_TRUE(rng.ok()) << rng.message();
      const bool whole = t.spec.shape.empty() || t.spec.split == Split::Replicated;
      Shape shape = t.spec.shape;
      std::vector<uint8_t> b = t.bytes;
      if (!whole) {
        shape[size_t(rng->axis)] = rng->end - rng->begin;
        b = slice(t.bytes, t.spec.shape, t.spec.dtype, rng->axis, rng->begin, rng->end);
      }
      files[tp_rank_file_name(w.file_group, r)].push_back({{t.spec.name, t.spec.dtype, shape}, std::move(b)});
    }
  }
  for (const auto& [name, list] : files) {
    std::vector<SafetensorsBlob> blobs;
    for (const auto& [d, b] : list) blobs.push_back({d, b.data()});
    ASSERT_TRUE(write_safetensors(dir + "/" + name, blobs).ok()) << name;
  }
}

// src holds exactly the tensors ts: names, dtypes, shapes and bytes, whole and as row chunks.
inline void expect_source_holds(const TensorSource& src, const std::vector<TinyTensor>& ts) {
  ASSERT_EQ(src.tensors().size(), ts.size());
  for (const auto& t : ts) {
    const SourceTensor* s = src.find(t.spec.name);
    ASSERT_NE(s, nullptr) << t.spec.name;
    EXPECT_EQ(s->dtype, t.spec.dtype) << t.spec.name;
    EXPECT_EQ(s->shape, t.spec.shape) << t.spec.name;
    auto h = src.load(*s);
    ASSERT_TRUE(h.ok()) << h.message();
    ASSERT_EQ(h->view.nbytes(), t.bytes.size()) << t.spec.name;
    EXPECT_EQ(std::memcmp(h->view.data, t.bytes.data(), t.bytes.size()), 0) << t.spec.name;
    // Row chunks agree with the whole read.
    if (!s->shape.empty() && s->shape[0] > 1) {
      const size_t row = t.bytes.size() / size_t(s->shape[0]);
      std::vector<uint8_t> part(row * 2);
      ASSERT_TRUE(src.read_rows(*s, 1, 3 > s->shape[0] ? s->shape[0] : 3, part.data()).ok());
      EXPECT_EQ(std::memcmp(part.data(), t.bytes.data() + row, row * size_t(std::min<int64_t>(2, s->shape[0] - 1))), 0)
          << t.spec.name;
    }
  }
}

}  // namespace g2::test
