// TensorSource: "a model's tensors by canonical name, lazily", whatever the on-disk format.
// A logical tensor is one or more zero-copy pieces (views into mapped files) concatenated
// along one axis: a Grok-2 TP set's expert tensor is eight rank slices; everything else is
// usually one piece. Readers only build this table; reading is generic.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "libconvert/layout/layout.h"
#include "libconvert/source/mapped_file.h"
#include "libconvert/model_config.h"
#include "libconvert/plan/split.h"
#include "libconvert/status.h"
#include "libconvert/tensor.h"

namespace g2 {

struct TensorPiece {
  TensorView view;       // points into a MappedFile the source owns
  std::string file;      // for messages
  uint64_t file_offset;  // byte offset of the payload in `file`
};

struct SourceTensor {
  std::string name;  // canonical name in the family's naming (layout.h)
  DType dtype;
  Shape shape;       // logical, unsharded
  int concat_axis = 0;
  std::vector<TensorPiece> pieces;  // in order along concat_axis
};

enum class Format { Grok1Jax, SafetensorsSet, Grok2TpSet };
std::string_view format_name(Format f);

class TensorSource {
 public:
  virtual ~TensorSource() = default;
  virtual Format format() const = 0;
  virtual Family family() const = 0;
  // The model's config (config.json in the directory, or the one given when opening).
  virtual const ModelConfig& config() const = 0;
  // Every tensor, in file order.
  virtual const std::vector<SourceTensor>& tensors() const = 0;
  virtual const std::string& root() const = 0;
  // Files of the checkpoint (absolute paths) and their sizes, for fingerprints and --verify.
  virtual std::vector<std::string> files() const = 0;

  const SourceTensor* find(std::string_view name) const;
  // Copy rows [begin, end) along axis 0 of the logical tensor into `out` (contiguous, same
  // dtype). Works across pieces whatever their concat axis.
  Status read_rows(const SourceTensor& t, int64_t begin, int64_t end, void* out) const;
  Status read(const SourceTensor& t, void* out) const { return read_rows(t, 0, t.shape.empty() ? 1 : t.shape[0], out); }
  // Read a whole tensor into a new host tensor.
  Expected<HostTensor> load(const SourceTensor& t) const;
  Expected<HostTensor> load(std::string_view name) const;
  // Drop the pages behind a tensor from the resident set once it is consumed.
  virtual void release(const SourceTensor& t) const;
  // Whether every piece's `file` at `file_offset` holds exactly its view's bytes, so readers
  // may pread them instead of touching the mapping (false: in-memory or transformed pieces).
  virtual bool pieces_in_files() const { return false; }
};

// Detect the format of `dir` and open it. `config_path` overrides dir/config.json
// (a Grok-1 JAX directory has none: then configs/grok-1.json values are expected via it).
// `ranks`: the folder is one node's share of a TP set (Grok2TpSource::open), for inspection.
Expected<std::unique_ptr<TensorSource>> open_checkpoint(const std::string& dir, const std::string& config_path = "",
                                                        const std::optional<RankSubset>& ranks = std::nullopt);

}  // namespace g2
