// TensorSources over safetensors files: the Hugging Face set (model.safetensors.index.json +
// shards, or one model.safetensors) here, the Grok-2 TP set in grok2_tp.h. Tensor names in both
// follow the Grok-2 (HF) naming of grok2_layout(config) whatever the family: family() comes from
// the config (ModelConfig::family, judged from its model_type and architectures) and says which
// forward the weights are for.
#pragma once
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "libconvert/format/safetensors.h"
#include "libconvert/layout/scales.h"
#include "libconvert/source/source.h"

namespace g2 {

// Shared by every safetensors-backed source: owns the mapped files and the tensor table.
class SafetensorsBackedSource : public TensorSource {
 public:
  Format format() const override { return format_; }
  Family family() const override { return family_; }
  const ModelConfig& config() const override { return config_; }
  const std::vector<SourceTensor>& tensors() const override { return tensors_; }
  const std::string& root() const override { return root_; }
  // Tensor files, then the index and config.json when they are in the directory.
  std::vector<std::string> files() const override;
  void release(const SourceTensor& t) const override;
  bool pieces_in_files() const override { return true; }  // raw safetensors payloads
  const std::vector<std::unique_ptr<SafetensorsFile>>& safetensors_files() const { return files_; }

 protected:
  // The part of opening every safetensors-backed format shares: root, format, config (from
  // config_path, else dir/config.json, which then counts among files()) and family.
  Status open_config(const std::string& dir, const std::string& config_path, Format format);

  Format format_ = Format::SafetensorsSet;
  Family family_ = Family::Grok2;
  ModelConfig config_;
  std::string root_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;  // stable addresses: pieces point into them
  std::vector<std::string> extra_files_;
  std::vector<SourceTensor> tensors_;
};

// config_path if given, else dir/config.json; the error says to pass --config when missing.
Expected<ModelConfig> load_set_config(const std::string& dir, const std::string& config_path);

// What a tensor name is in the Grok-2 layout of a config: a layout tensor, or the FP8 scale
// companion of one (then `scale` says which scheme, judged from the suffix and shape, with the
// config's block size).
struct LayoutMatch {
  const TensorSpec* weight = nullptr;  // the layout tensor (for a companion: its weight)
  bool is_scale = false;
  Fp8Spec scale{Fp8ScaleMode::Tensor};
  TensorSpec spec;  // the tensor's own logical spec (the weight's, or scale_split of it)
};
class LayoutIndex {
 public:
  explicit LayoutIndex(const ModelConfig& c);
  // `shape` is the stored shape (whole, or one rank's slice: only the rank tells a per-tensor
  // [] / [1] scale from a channel [n, 1] one). Errors name the tensor and `where`.
  Expected<LayoutMatch> match(const std::string& name, const Shape& shape, const std::string& where) const;
  const std::vector<TensorSpec>& layout() const { return layout_; }
  // Names of layout tensors not in `present` (lm_head is optional when embeddings are tied).
  std::vector<std::string> missing(const std::unordered_map<std::string, size_t>& present) const;

 private:
  const ModelConfig& c_;
  std::vector<TensorSpec> layout_;
  std::unordered_map<std::string, size_t> by_name_;
};

// A whole (unsharded) tensor's stored shape agrees with the match's logical spec (a per-tensor
// scale may be stored as [] or [1]).
bool matches_logical_shape(const LayoutMatch& m, const Shape& got);

// Open dir/model.safetensors.index.json and its shards, or a single dir/model.safetensors.
Expected<std::unique_ptr<TensorSource>> open_safetensors_set(const std::string& dir,
                                                             const std::string& config_path = "");

}  // namespace g2
