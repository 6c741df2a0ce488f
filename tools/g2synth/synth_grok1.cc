// g2synth --format grok1-jax: every tensor of grok1_layout() as the release stores it:
// f32 embedding / norms / router, int8 linears with bf16 scales quantised from f32 values.
#include <filesystem>
#include <map>

#include "kernels/codecs.h"
#include "libconvert/format/grok1_source.h"
#include "libconvert/format/grok1_writer.h"
#include "tools/g2synth/synth.h"
#include "tools/g2synth/synth_values.h"

namespace g2::synth {

Status write_grok1(const ModelConfig& c, uint64_t seed, const std::string& out) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(out) / "ckpt-0", ec);
  if (ec) return io_error(out + "/ckpt-0: cannot create: " + ec.message());
  const std::vector<TensorSpec> layout = grok1_layout(c);
  std::map<int, std::vector<const TensorSpec*>> files;  // file index -> [tensor] or [w, scales]
  for (const auto& s : layout) files[s.file_group].push_back(&s);

  for (const auto& [index, specs] : files) {
    const TensorSpec& s = *specs[0];
    const std::string path = grok1_tensor_path(out, index);
    HostTensor f = HostTensor::make(DType::F32, s.shape);
    fill(seed, s.name, distribution(s, Family::Grok1), 0, f.view.numel(), f.view.as<float>());
    if (specs.size() == 1) {
      if (s.dtype != DType::F32) return unsupported(s.name + ": g2synth writes plain Grok-1 tensors as F32 only");
      G2_TRY(write_grok1_array_file(path, f.view));
      continue;
    }
    // [E, K, N] or [K, N] weight, [E, G, N] or [G, N] scales
    const TensorSpec& sc = *specs[1];
    const int r = int(s.shape.size());
    const int64_t batch = r == 3 ? s.shape[0] : 1, K = s.shape[size_t(r - 2)], N = s.shape[size_t(r - 1)];
    const int G = int(sc.shape[size_t(r - 2)]);
    HostTensor q = HostTensor::make(DType::I8, s.shape);
    HostTensor scales = HostTensor::make(DType::BF16, sc.shape);
    grok1_quantize(f.view.as<float>(), batch, K, N, G, q.view.as<int8_t>(), scales.view.as<uint16_t>());
    G2_TRY(write_grok1_quantized_file(path, q.view, scales.view));
  }
  return write_file_atomic((std::filesystem::path(out) / "config.json").string(), model_config_to_json(c));
}

}  // namespace g2::synth
