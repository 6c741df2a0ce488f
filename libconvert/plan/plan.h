// The conversion plan (docs/architecture.md "Plan"): a pure function from a source description (family,
// config, tensor names/dtypes/shapes) and a target spec to every output file, its tensors in
// order, and for each tensor the recipe that makes it from source tensors. No I/O: the plan
// is what `g2convert --dry-run` prints and what the executor runs. Split axes and file
// groups come only from the layout tables (layout.h); FP8 scale shards from quant.h.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "libconvert/layout/layout.h"
#include "libconvert/model_config.h"
#include "libconvert/quant/quant.h"
#include "libconvert/plan/split.h"
#include "libconvert/status.h"
#include "libconvert/tensor.h"

namespace g2 {

enum class OutLayout { Hf, Tp, Rank };
enum class DTypeTarget { Keep, BF16, FP8 };
std::string_view out_layout_name(OutLayout l);
std::string_view dtype_target_name(DTypeTarget d);

struct SourceTensorInfo {
  std::string name;
  DType dtype;
  Shape shape;
};

struct SourceDesc {
  Family family = Family::Grok2;
  ModelConfig config;
  std::vector<SourceTensorInfo> tensors;
  int source_tp = 1;                      // a TP set's width (defaults only)
  std::optional<int64_t> tokenizer_max_id;  // highest token id the tokenizer emits, if known
  std::string root;                       // for messages
};

struct TargetSpec {
  std::optional<int> tp;              // default: the source's TP for tp/rank layouts, 1 for hf
  std::optional<OutLayout> layout;    // default: hf when tp == 1 else rank (README "Which layout")
  DTypeTarget dtype = DTypeTarget::Keep;
  Fp8Spec fp8;                        // --fp8-scale / --fp8-block
  std::optional<int64_t> vocab;       // --vocab N
  bool to_grok2 = false;
  bool force = false;                 // allow trimming below the tokenizer's highest id
  uint64_t hf_max_file_bytes = 5ull << 30;  // hf layout: start a new file past this size
};

// How source elements become values.
enum class Decode : uint8_t {
  Raw,        // bytes move unchanged (same dtype, no transpose)
  Float,      // F32/BF16/F16 -> f32
  Grok1Int8,  // int8 x bf16 scales, rounded to bf16 exactly as the reference
  Fp8,        // e4m3 x scale (tensor/channel/block) -> f32
};
// What the output tensor stores.
enum class Encode : uint8_t {
  Raw,        // source bytes (Decode::Raw)
  BF16, F32,  // cast (RNE)
  Fp8Weight,  // e4m3 of value / scale, scales from the whole logical tensor
  Fp8Scale,   // the scale tensor (its shard) of the logical weight
};

// One output tensor's recipe. The "logical" tensor is the full (unsharded) target tensor in
// target naming: a 2-D [rows, cols] matrix (1-D tensors are one row), built from `src`
// by picking `expert` on axis 0, transposing, then padding/trimming rows to the vocab.
struct Recipe {
  std::string src;        // source tensor name
  std::string src_scale;  // Grok-1 `.../scales` or the FP8 source's scale tensor ("" none)
  DType src_dtype = DType::BF16;
  Shape src_shape;
  Fp8Spec src_fp8;        // Decode::Fp8: the source's scale mode
  int expert = -1;        // Grok-1 stacked experts: index on source axis 0
  bool transpose = false; // Grok-1 [in, out] -> Grok-2 [out, in]
  int64_t rows = 1, cols = 1;  // logical 2-D geometry
  int64_t src_rows = 1;   // logical rows backed by the source; rows beyond are zero (vocab pad)
  Decode decode = Decode::Raw;
  Encode encode = Encode::Raw;
  Fp8Spec fp8;            // Fp8Weight / Fp8Scale: the target scale mode
  int slice_axis = 0;     // this output's part of the logical tensor (axis 0 rows, 1 cols)
  int64_t begin = 0, end = 1;
  std::string logical;    // target name of the logical weight: error stats and scale cache key
};

struct PlannedTensor {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t bytes = 0;
  Recipe recipe;
};

struct PlannedFile {
  std::string path;  // relative to the output dir
  int rank = -1;     // tp/rank layouts: the rank this -TP-RRR file serves; -1 for -TP-common and hf files
  std::vector<PlannedTensor> tensors;
  uint64_t payload_bytes = 0;  // sum of tensor bytes (the header comes on top)
};

struct TextFile {
  std::string path;  // relative
  std::string content;
};

struct Plan {
  Family source_family = Family::Grok2;
  int tp = 1;
  OutLayout layout = OutLayout::Hf;
  DTypeTarget dtype = DTypeTarget::Keep;
  ModelConfig out_config;
  std::vector<PlannedFile> files;       // in write order
  std::vector<TextFile> text_files;     // config.json, model.safetensors.index.json
  std::vector<std::string> notes;       // things the user must know (tokenizer, flags)
  std::optional<RankSubset> ranks;      // only these ranks' files (select_ranks, plan_split.h)
  uint64_t total_bytes() const;
  // A stable digest of everything the executor would produce (not of the command line), so
  // a resumed run can check it is the same conversion.
  std::string fingerprint() const;
};

// Metadata every g2convert safetensors file carries (`__metadata__`).
std::vector<std::pair<std::string, std::string>> plan_file_metadata();

Expected<Plan> make_plan(const SourceDesc& src, const TargetSpec& target);

// Human-readable plan for --dry-run: every file, its tensors, shapes, dtypes and bytes.
std::string plan_to_text(const Plan& p);

}  // namespace g2
