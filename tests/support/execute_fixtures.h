// Fixtures of the executor tests: a TensorSource over host buffers, tiny Grok-1/Grok-2
// sources with random values, a temporary directory, and readers of an output's bytes.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kernels/ops/quant.h"
#include "libconvert/exec/execute.h"
#include "libconvert/format/safetensors.h"
#include "libconvert/format/manifest.h"
#include "tests/support/tmp_dir.h"

namespace g2::test_exec {

namespace fs = std::filesystem;

// A TensorSource over host buffers (or over the safetensors files of an hf-layout output).
class MemSource : public TensorSource {
 public:
  Format format() const override { return Format::SafetensorsSet; }
  Family family() const override { return family_; }
  const ModelConfig& config() const override { return config_; }
  const std::vector<SourceTensor>& tensors() const override { return tensors_; }
  const std::string& root() const override { return root_; }
  std::vector<std::string> files() const override { return files_; }

  Family family_ = Family::Grok2;
  ModelConfig config_;
  std::vector<SourceTensor> tensors_;
  std::string root_;
  std::vector<std::string> files_;
  std::vector<HostBuffer> buffers_;
  std::vector<SafetensorsFile> open_;
  bool in_files_ = false;  // pieces are exact file payloads (open_dir): read with pread
  bool pieces_in_files() const override { return in_files_; }

  void add(const std::string& name, DType dt, Shape shape, std::mt19937& rng) {
    HostBuffer b(*checked_nbytes(dt, shape));
    uint8_t* p = b.as<uint8_t>();
    const uint64_t n = *checked_numel(shape);
    std::normal_distribution<float> nd(0.0f, 0.5f);
    for (uint64_t i = 0; i < n; ++i) {
      if (dt == DType::BF16) reinterpret_cast<uint16_t*>(p)[i] = bf16::from_float(nd(rng)).bits;
      else if (dt == DType::F32) reinterpret_cast<float*>(p)[i] = nd(rng);
      else if (dt == DType::I8) reinterpret_cast<int8_t*>(p)[i] = int8_t(int(rng() % 255) - 127);
    }
    if (name.ends_with("/scales"))  // positive bf16 scales with full mantissas
      for (uint64_t i = 0; i < n; ++i) reinterpret_cast<uint16_t*>(p)[i] = uint16_t(0x3b00u + rng() % 0x400u);
    TensorView v{dt, shape, {}, p};
    tensors_.push_back(SourceTensor{name, dt, shape, 0, {TensorPiece{v, "mem", 0}}});
    buffers_.push_back(std::move(b));
  }

  // An hf-layout output directory as a source (unsharded tensors, one piece each).
  static std::unique_ptr<MemSource> open_dir(const std::string& dir) {
    auto s = std::make_unique<MemSource>();
    s->root_ = dir;
    s->in_files_ = true;
    auto c = load_model_config(dir + "/config.json");
    EXPECT_TRUE(c.ok()) << c.message();
    s->config_ = *c;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.path().extension() == ".safetensors") {
        auto f = SafetensorsFile::open(e.path().string());
        EXPECT_TRUE(f.ok()) << f.message();
        s->files_.push_back(e.path().string());
        s->open_.push_back(std::move(*f));
      }
    for (const auto& f : s->open_)
      for (const auto& t : f.tensors())
        s->tensors_.push_back(
            SourceTensor{t.name, t.dtype, t.shape, 0, {TensorPiece{f.view(t), f.path(), f.file_offset(t)}}});
    return s;
  }
};

inline ModelConfig small_config() {
  auto c = load_model_config(std::string(G2_SOURCE_DIR) + "/configs/grok-2-tiny.json");
  EXPECT_TRUE(c.ok());
  ModelConfig m = *c;
  m.vocab_size = 128;
  m.hidden_size = 64;
  m.num_attention_heads = 16;
  m.head_dim = 4;
  m.num_key_value_heads = 8;
  m.intermediate_size = 64;
  m.moe_intermediate_size = 32;
  m.num_hidden_layers = 1;
  return m;
}

inline std::unique_ptr<MemSource> grok2_source(const std::string& root) {
  auto s = std::make_unique<MemSource>();
  s->config_ = small_config();
  s->root_ = root;
  std::mt19937 rng(1);
  for (const auto& t : grok2_layout(s->config_)) s->add(t.name, DType::BF16, t.shape, rng);
  return s;
}

// A one-layer Grok-1 tiny model (configs/grok-1-tiny.json, vocab 64) with random values from
// `seed`; ffn > 0 overrides moe_intermediate_size. nullptr if the config does not load.
inline std::unique_ptr<MemSource> grok1_source(const std::string& root, unsigned seed, int64_t ffn = 0) {
  auto c = load_model_config(std::string(G2_SOURCE_DIR) + "/configs/grok-1-tiny.json");
  if (!c.ok()) return nullptr;
  auto s = std::make_unique<MemSource>();
  s->config_ = *c;
  s->config_.num_hidden_layers = 1;
  s->config_.vocab_size = 64;
  if (ffn > 0) s->config_.moe_intermediate_size = ffn;
  s->family_ = Family::Grok1;
  s->root_ = root;
  std::mt19937 rng(seed);
  for (const auto& t : grok1_layout(s->config_)) s->add(t.name, t.dtype, t.shape, rng);
  return s;
}

// Every tensor's bytes, by name (a MemSource holds each tensor in one piece).
inline std::map<std::string, std::vector<uint8_t>> tensor_bytes(const MemSource& src) {
  std::map<std::string, std::vector<uint8_t>> out;
  for (const auto& t : src.tensors_) {
    auto p = t.pieces[0].view.as<const uint8_t>();
    out[t.name] = std::vector<uint8_t>(p, p + t.pieces[0].view.nbytes());
  }
  return out;
}

// Every file the manifest lists re-hashes to its recorded size and checksum.
inline bool manifest_verifies(const std::string& dir, const Manifest& m) {
  auto c = verify_manifest(dir, m.files, {});
  return c.ok() && c->problems.empty();
}

inline SourceDesc describe(const TensorSource& s, Family f) {
  SourceDesc d;
  d.family = f;
  d.config = s.config();
  d.root = s.root();
  for (const auto& t : s.tensors()) d.tensors.push_back({t.name, t.dtype, t.shape});
  return d;
}

// Every logical tensor reassembled from an output dir's files (concatenating rank shards).
inline std::map<std::string, std::vector<uint8_t>> logical_bytes(const std::string& dir, const ModelConfig& c, int tp) {
  std::map<std::string, std::vector<std::vector<uint8_t>>> shards;
  std::vector<std::string> paths;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".safetensors") paths.push_back(e.path().string());
  std::sort(paths.begin(), paths.end());  // rank files in rank order
  for (const auto& p : paths) {
    auto f = SafetensorsFile::open(p);
    EXPECT_TRUE(f.ok()) << f.message();
    for (const auto& t : f->tensors()) {
      auto b = f->bytes(t);
      shards[t.name].emplace_back(b.begin(), b.end());
    }
  }
  std::map<std::string, std::vector<uint8_t>> out;
  const auto layout = grok2_layout(c);
  for (auto& [name, parts] : shards) {
    const TensorSpec* s = find_spec(layout, name);
    if (parts.size() == 1 || !s) {
      out[name] = parts[0];
      continue;
    }
    EXPECT_EQ(int(parts.size()), tp) << name;
    if (s->split == Split::KvHeads && tp > c.num_key_value_heads) {  // drop replicas
      std::vector<std::vector<uint8_t>> uniq;
      for (int r = 0; r < tp; r += tp / c.num_key_value_heads) uniq.push_back(parts[size_t(r)]);
      parts = uniq;
    }
    std::vector<uint8_t> all;
    if (s->split_axis == 0) {
      for (auto& p : parts) all.insert(all.end(), p.begin(), p.end());
    } else {  // columns: interleave row by row
      const size_t rows = size_t(s->shape[0]), pw = parts[0].size() / rows;
      for (size_t r = 0; r < rows; ++r)
        for (auto& p : parts) all.insert(all.end(), p.begin() + long(r * pw), p.begin() + long((r + 1) * pw));
    }
    out[name] = all;
  }
  return out;
}

inline Expected<ExecReport> convert(const TensorSource& src, Family fam, const TargetSpec& t, const std::string& dst,
                             ExecOptions opt = {}) {
  auto plan = make_plan(describe(src, fam), t);
  if (!plan) return plan.error();
  return execute_plan(*plan, src, dst, opt);
}

}  // namespace g2::test_exec
