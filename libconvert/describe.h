// What a checkpoint directory holds, described once for every tool: its format and family,
// the TP width and layout a TP set was written for, the dtype of its linear weights (what a
// conversion changed), its FP8 scheme and its g2manifest.json. g2convert plans from it,
// g2diff picks its tolerance and rank-by-rank execution from it, g2inspect prints it.
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "libconvert/format/grok2_tp.h"
#include "libconvert/format/manifest.h"
#include "libconvert/source/source.h"

namespace g2 {

struct CheckpointInfo {
  Format format = Format::SafetensorsSet;
  Family family = Family::Grok2;
  // The TP width a TP set was written for (config.json g2_layout.tp, else its rank files); 1
  // for the other formats.
  int tp = 1;
  std::optional<TpLayoutKind> layout;  // TP sets: `tp` (experts per rank) or `rank` (every split tensor)
  DType linear_dtype = DType::BF16;    // layer 0's q projection (Grok-1: I8)
  std::optional<Fp8Spec> fp8;          // config.json quantization_config
  std::optional<Manifest> manifest;    // g2manifest.json, when present and well-formed
  std::optional<RankSubset> ranks;     // a g2convert --ranks share, opened as such
};

struct DescribedCheckpoint {
  std::unique_ptr<TensorSource> source;
  CheckpointInfo info;
};

// Open `dir` (`config_path` overrides dir/config.json) and describe it. With `open_share`, a
// folder whose manifest records a rank subset (g2convert --ranks) is opened as that share, a
// view of what one node holds (g2inspect); without, such a folder is refused as not a whole
// model, naming the missing ranks (g2convert, g2diff).
Expected<DescribedCheckpoint> describe_checkpoint(const std::string& dir, const std::string& config_path = "",
                                                  bool open_share = false);

}  // namespace g2
