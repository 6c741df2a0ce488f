// Writes Grok-1 JAX checkpoints: `<root>/ckpt-0/tensor{i:05d}_000` pickles (pickle_writer.h,
// byte-identical to Python's pickle.dump) through a temporary name and a rename, plus the
// int8 quantiser that produces the release's scale shapes.
#pragma once
#include <cstdint>
#include <string>

#include "libconvert/format/atomic_file.h"
#include "libconvert/format/pickle_writer.h"
#include "libconvert/layout/layout.h"

namespace g2 {

// One tensor file, streamed: the pickle goes through an AtomicFile, so the file appears
// under its final name only when finish() succeeds.
class Grok1FileWriter {
 public:
  // `quantized`: the file holds a QuantizedWeight8bit (weight, then scales) instead of one array.
  static Expected<Grok1FileWriter> create(const std::string& path, bool quantized,
                                          NumpyModule numpy = NumpyModule::Core);
  Status begin_array(DType dtype, const Shape& shape) { return pickle_->begin_array(dtype, shape); }
  Status write(std::span<const uint8_t> chunk) { return pickle_->write_payload(chunk); }
  Status end_array() { return pickle_->end_array(); }
  Status finish();

 private:
  std::unique_ptr<AtomicFile> file_;  // heap: the pickle's sink holds its address
  std::unique_ptr<PickleStreamWriter> pickle_;
};

// Whole-tensor conveniences.
Status write_grok1_array_file(const std::string& path, const TensorView& a, NumpyModule numpy = NumpyModule::Core);
Status write_grok1_quantized_file(const std::string& path, const TensorView& weight, const TensorView& scales,
                                  NumpyModule numpy = NumpyModule::Core);

// Grok-1 int8 quantisation of `batch` f32 matrices [K, N] (experts stacked) into int8 [K, N]
// and bf16 scales [G, N]: G = 1 is per output channel, G = 8 blocks the contracting axis K
// (o-proj, moe/linear_1). Symmetric: scale = bf16(amax / 127) over the group (1 for an
// all-zero group), q = RNE(w / scale) saturated to [-127, 127] (codecs.h int8q).
// Requires K % G == 0.
void grok1_quantize(const float* w, int64_t batch, int64_t K, int64_t N, int G, int8_t* q, uint16_t* scales);

}  // namespace g2
