// WeightSource: a model's weights as the forward consumes them — f32, [out, in] (PyTorch
// order), one tensor at a time, dequantized on the fly. The forward asks for one layer's
// dense weights at a time and for an expert's weights only when a token is routed to it, so
// only the current layer (plus one expert) is ever resident.
//
// CheckpointWeights reads any TensorSource (libconvert/source/source.h) and asks the layout tables
// (libconvert/layout/layout.h) which tensor holds a role; it never spells a tensor name.
// MemoryWeights holds matrices built in memory (tests, hand-checkable cases).
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "libconvert/layout/layout.h"
#include "libconvert/model_config.h"
#include "libconvert/source/source.h"
#include "libconvert/status.h"
#include "libmodel/stored_weight.h"

namespace g2 {

// A weight as the forward uses it: f32, row-major [rows = out, cols = in]. Vectors (norm
// scales) are [1, n].
struct Matrix {
  std::vector<float> data;
  int64_t rows = 0, cols = 0;
  static Matrix zeros(int64_t rows, int64_t cols) {
    return Matrix{std::vector<float>(size_t(rows * cols), 0.0f), rows, cols};
  }
  float& at(int64_t r, int64_t c) { return data[size_t(r * cols + c)]; }
  float at(int64_t r, int64_t c) const { return data[size_t(r * cols + c)]; }
};

class WeightSource {
 public:
  virtual ~WeightSource() = default;
  virtual const ModelConfig& config() const = 0;
  virtual Family family() const = 0;
  // The whole (unsharded) weight of (role, layer, expert) as f32 [out, in]; expert = -1 for
  // non-expert roles, layer = -1 for global ones (final norm).
  // exact_int8: a Grok-1 int8 weight dequantized as the exact f32 product int8 * scale
  // instead of bf16(int8 * scale) (the JAX reference's down projection, see README.md).
  virtual Expected<Matrix> matrix(Role role, int layer, int expert, bool exact_int8 = false) = 0;
  // The same weight as a zero-copy view of where it is stored (Backend::matmul_stored), or
  // nullopt when there is none: a dtype without a view (Grok-1 int8, F16...), a stored
  // orientation other than [out, in], anything unexpected. nullopt is never an error: the
  // caller falls back to matrix(), which reports what is wrong. The view is valid while this
  // source lives; dequantized, it equals matrix() bit for bit.
  virtual std::optional<StoredWeight> stored(Role role, int layer, int expert) {
    (void)role;
    (void)layer;
    (void)expert;
    return std::nullopt;
  }
  // Embedding rows of `tokens`: [T, H] (table values, before the multiplier).
  virtual Expected<Matrix> embedding_rows(std::span<const int32_t> tokens) = 0;
  // Rows [begin, end) of the output projection: lm_head, or the embedding when tied. [n, H]
  virtual Expected<Matrix> output_rows(int64_t begin, int64_t end) = 0;
  virtual std::string describe() const = 0;
};

// A WeightSource that hands every call to another one: wrappers derive from it and override
// only what they change (the self-check's one-layer view, test spies and faults).
class DelegatingWeights : public WeightSource {
 public:
  explicit DelegatingWeights(WeightSource& inner) : inner_(inner) {}
  const ModelConfig& config() const override { return inner_.config(); }
  Family family() const override { return inner_.family(); }
  Expected<Matrix> matrix(Role role, int layer, int expert, bool exact_int8 = false) override {
    return inner_.matrix(role, layer, expert, exact_int8);
  }
  std::optional<StoredWeight> stored(Role role, int layer, int expert) override {
    return inner_.stored(role, layer, expert);
  }
  Expected<Matrix> embedding_rows(std::span<const int32_t> tokens) override { return inner_.embedding_rows(tokens); }
  Expected<Matrix> output_rows(int64_t begin, int64_t end) override { return inner_.output_rows(begin, end); }
  std::string describe() const override { return inner_.describe(); }

 protected:
  WeightSource& inner_;
};

// Rank `rank` of `tp`'s shard of a full [out, in] weight, as the layout splits the tensor
// that holds `role` (KV heads replicated when tp > kv heads, like SGLang). Returns the whole
// matrix for replicated roles. The split axis is translated from the stored orientation
// (Grok-1 stores [in, out] and stacks experts on axis 0) to [out, in].
Expected<Matrix> shard_matrix(const Matrix& full, const std::vector<TensorSpec>& layout, Role role, int layer,
                              int expert, Family family, const ModelConfig& c, int tp, int rank);
// The spec holding (role, layer, expert): Grok-2 has one per expert, Grok-1 one stacked
// tensor per layer (expert -1 in the layout, experts on axis 0).
const TensorSpec* spec_for(const std::vector<TensorSpec>& layout, Role role, int layer, int expert);
// Grok-1 stores linear weights [in, out] (y = x @ W); Grok-2 [out, in].
bool stored_in_out(Family f, Role r);

// Weights read from a checkpoint (any format open_checkpoint() reads).
class CheckpointWeights final : public WeightSource {
 public:
  explicit CheckpointWeights(std::unique_ptr<TensorSource> src);
  const ModelConfig& config() const override { return src_->config(); }
  Family family() const override { return src_->family(); }
  Expected<Matrix> matrix(Role role, int layer, int expert, bool exact_int8 = false) override;
  // Grok-2 [out, in] weights stored as F32, BF16 or F8_E4M3: one block per piece of the
  // tensor (a TP set's rank slices), pages released when the view is destroyed.
  std::optional<StoredWeight> stored(Role role, int layer, int expert) override;
  Expected<Matrix> embedding_rows(std::span<const int32_t> tokens) override;
  Expected<Matrix> output_rows(int64_t begin, int64_t end) override;
  std::string describe() const override;
  const TensorSource& source() const { return *src_; }
  // true (default): a view drops the pages behind its tensor when destroyed, like matrix()
  // after its read, so one forward keeps only the current weight mapped. false: the pages
  // stay mapped for the next forward (repeated forwards over a model that fits in memory;
  // no re-faulting of every page, bench_layer --keep-mapped). Clean file pages either way.
  void set_release_views(bool release) { release_views_ = release; }

 private:
  // The scales of FP8 tensor `st` ([rows, cols]); the companion's name and shape say the mode.
  Expected<Fp8Scales> fp8_scales(const SourceTensor& st, int64_t rows, int64_t cols) const;
  std::unique_ptr<TensorSource> src_;
  std::vector<TensorSpec> layout_;
  bool release_views_ = true;
};

// Weights held in memory, keyed like the layout: (role, layer, expert).
class MemoryWeights final : public WeightSource {
 public:
  MemoryWeights(ModelConfig c, Family f) : c_(std::move(c)), f_(f) {}
  void set(Role role, int layer, int expert, Matrix m) { w_[{role, layer, expert}] = std::move(m); }
  const ModelConfig& config() const override { return c_; }
  Family family() const override { return f_; }
  Expected<Matrix> matrix(Role role, int layer, int expert, bool exact_int8 = false) override;
  // An F32 view of the held matrix (one block).
  std::optional<StoredWeight> stored(Role role, int layer, int expert) override;
  Expected<Matrix> embedding_rows(std::span<const int32_t> tokens) override;
  Expected<Matrix> output_rows(int64_t begin, int64_t end) override;
  std::string describe() const override { return "in-memory weights"; }

 private:
  ModelConfig c_;
  Family f_;
  std::map<std::tuple<Role, int, int>, Matrix> w_;
};

}  // namespace g2
