#include "libconvert/describe.h"

#include <filesystem>

namespace g2 {

Expected<DescribedCheckpoint> describe_checkpoint(const std::string& dir, const std::string& config_path,
                                                  bool open_share) {
  CheckpointInfo info;
  // A manifest that does not parse is not an error here: g2inspect --verify reports it.
  if (auto m = read_manifest((std::filesystem::path(dir) / kManifestName).string())) info.manifest = std::move(*m);
  if (open_share && info.manifest && info.manifest->ranks && !info.manifest->ranks->whole())
    info.ranks = info.manifest->ranks;
  auto src = open_checkpoint(dir, config_path, info.ranks);
  if (!src) return src.error();
  const TensorSource& s = **src;
  info.format = s.format();
  info.family = s.family();
  info.fp8 = s.config().fp8;
  if (const auto* tp = dynamic_cast<const Grok2TpSource*>(&s)) {
    info.tp = tp->tp();
    info.layout = tp->kind();
  }
  const auto layout = layout_for(info.family, s.config());
  if (const TensorSpec* q = find_spec(layout, Role::AttnQ, 0, -1))
    if (const SourceTensor* t = s.find(q->name)) info.linear_dtype = t->dtype;
  return DescribedCheckpoint{std::move(*src), std::move(info)};
}

}  // namespace g2
