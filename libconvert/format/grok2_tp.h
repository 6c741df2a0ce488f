// The Grok-2 TP set (docs/reference.md §2): `pytorch_model-{group:05d}-TP-common.safetensors`
// (whole tensors) and `pytorch_model-{group:05d}-TP-{rank:03d}.safetensors` (rank slices), read
// as ONE logical model. A tensor found in rank files is merged along its split axis from the
// layout (shard_range / scale_shard_range place each rank's slice; KV heads replicated over
// ranks are deduplicated after checking they are identical), as zero-copy pieces. Handles the
// release `tp` layout (only experts in rank files) and the fully presharded `rank` layout.
// A rank subset (one node's share, `g2convert --ranks`) opens only when the caller names the
// subset it expects (g2inspect, from g2manifest.json); every other caller gets an error that
// names the missing ranks.
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "libconvert/format/safetensors_set.h"
#include "libconvert/plan/split.h"

namespace g2 {

enum class TpLayoutKind { Tp, Rank };
std::string_view tp_layout_kind_name(TpLayoutKind k);  // "tp" / "rank"

// File names of a TP set.
std::string tp_common_file_name(int group);
std::string tp_rank_file_name(int group, int rank);
// Parses either form; rank = -1 for TP-common. nullopt for any other name.
struct TpFileName {
  int group = 0;
  int rank = -1;
};
std::optional<TpFileName> parse_tp_file_name(std::string_view name);

// config.json's `"g2_layout": {"kind": "tp"|"rank", "tp": N}` (absent in the xAI release).
struct G2LayoutInfo {
  std::optional<TpLayoutKind> kind;
  int tp = 0;  // 0: not given
};
// From the config's text (`source` names it in messages: a pure function, fuzzed), or its file.
Expected<G2LayoutInfo> parse_g2_layout(std::string_view json_text, const std::string& source);
Expected<G2LayoutInfo> read_g2_layout(const std::string& config_path);

class Grok2TpSource final : public SafetensorsBackedSource {
 public:
  // Open `dir` as a TP set; `config_path` overrides dir/config.json. With `ranks`, the files
  // must hold exactly that subset in every group: then a tensor split over ranks is listed
  // once per held rank, as that rank's slice (its shape, its file) -- a view for checking
  // what a node holds, not a model (find() returns the first slice).
  static Expected<std::unique_ptr<Grok2TpSource>> open(const std::string& dir, const std::string& config_path = "",
                                                       const std::optional<RankSubset>& ranks = std::nullopt);
  int tp() const { return tp_; }
  TpLayoutKind kind() const { return kind_; }
  const std::optional<RankSubset>& rank_subset() const { return ranks_; }

 private:
  Status open_impl(const std::string& dir, const std::string& config_path);
  int tp_ = 1;
  std::optional<RankSubset> ranks_;
  TpLayoutKind kind_ = TpLayoutKind::Tp;
};

}  // namespace g2
