// open_checkpoint (source.h): tell the three on-disk forms apart by what is in the directory.
//   Grok-1 JAX:     <dir>/ckpt-0/ (tensor00000_000, ...)
//   Grok-2 TP set:  *-TP-common*.safetensors
//   HF set:         model.safetensors.index.json or model.safetensors
#include <filesystem>

#include "libconvert/format/grok1_source.h"
#include "libconvert/format/grok2_tp.h"
#include "libconvert/format/index.h"
#include "libconvert/format/safetensors_set.h"

namespace g2 {

namespace fs = std::filesystem;

Expected<std::unique_ptr<TensorSource>> open_checkpoint(const std::string& dir, const std::string& config_path,
                                                        const std::optional<RankSubset>& ranks) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return not_found(dir + ": no such directory");
  if (!fs::is_directory(dir, ec)) return invalid(dir + ": not a directory (give the checkpoint's directory)");
  if (fs::is_directory(fs::path(dir) / "ckpt-0", ec)) {
    if (ranks)
      return invalid(dir + ": expected " + ranks->text() + " of a Grok-2 TP set, but this is a Grok-1 JAX folder");
    return open_grok1_jax(dir, config_path);
  }

  bool tp_common = false, any_safetensors = false, any_entry = false;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    any_entry = true;
    const std::string n = e.path().filename().string();
    if (n.size() > 12 && n.substr(n.size() - 12) == ".safetensors") {
      any_safetensors = true;
      if (n.find("-TP-common") != std::string::npos) tp_common = true;
    }
  }
  if (ec) return io_error(dir + ": cannot list: " + ec.message());
  if (tp_common) {
    auto s = Grok2TpSource::open(dir, config_path, ranks);
    if (!s) return s.error();
    return std::unique_ptr<TensorSource>(std::move(*s));
  }
  if (ranks)
    return invalid(dir + ": expected " + ranks->text() + " of a Grok-2 TP set, but there are no -TP-common files here");
  if (fs::exists(fs::path(dir) / kSafetensorsIndexName) || fs::exists(fs::path(dir) / "model.safetensors"))
    return open_safetensors_set(dir, config_path);
  if (!any_entry) return not_found(dir + ": empty directory, no checkpoint here");
  if (any_safetensors)
    return invalid(dir + ": has .safetensors files but neither " + kSafetensorsIndexName +
                   ", model.safetensors nor pytorch_model-*-TP-common.safetensors; cannot tell how they form a model");
  return invalid(dir + ": not a checkpoint: expected ckpt-0/ (Grok-1 JAX), pytorch_model-*-TP-*.safetensors " +
                 "(Grok-2 TP set) or " + kSafetensorsIndexName + " / model.safetensors (HF set)");
}

}  // namespace g2
