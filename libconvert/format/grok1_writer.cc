#include "libconvert/format/grok1_writer.h"

#include <algorithm>
#include <cmath>
#include <vector>
#include <memory>

#include "kernels/codecs.h"

namespace g2 {

Expected<Grok1FileWriter> Grok1FileWriter::create(const std::string& path, bool quantized, NumpyModule numpy) {
  auto f = AtomicFile::create(path);
  if (!f) return f.error();
  Grok1FileWriter w;
  w.file_ = std::make_unique<AtomicFile>(std::move(*f));
  AtomicFile* file = w.file_.get();
  w.pickle_ = std::make_unique<PickleStreamWriter>([file](std::span<const uint8_t> b) { return file->write(b); },
                                                   numpy);
  if (quantized) G2_TRY(w.pickle_->begin_quantized());
  return w;
}

Status Grok1FileWriter::finish() {
  G2_TRY(pickle_->finish());
  return file_->commit();
}

Status write_grok1_array_file(const std::string& path, const TensorView& a, NumpyModule numpy) {
  auto w = Grok1FileWriter::create(path, false, numpy);
  if (!w) return w.error();
  G2_TRY(w->begin_array(a.dtype, a.shape));
  G2_TRY(w->write({a.as<const uint8_t>(), size_t(a.nbytes())}));
  G2_TRY(w->end_array());
  return w->finish();
}

Status write_grok1_quantized_file(const std::string& path, const TensorView& weight, const TensorView& scales,
                                  NumpyModule numpy) {
  auto w = Grok1FileWriter::create(path, true, numpy);
  if (!w) return w.error();
  for (const TensorView* a : {&weight, &scales}) {
    G2_TRY(w->begin_array(a->dtype, a->shape));
    G2_TRY(w->write({a->as<const uint8_t>(), size_t(a->nbytes())}));
    G2_TRY(w->end_array());
  }
  return w->finish();
}

void grok1_quantize(const float* w, int64_t batch, int64_t K, int64_t N, int G, int8_t* q, uint16_t* scales) {
  G2_ASSERT(G > 0 && K % G == 0, "grok1_quantize: K must divide into the scale groups");
  const int64_t per = K / G;
  std::vector<float> amax(static_cast<size_t>(N));  // [N]
  for (int64_t b = 0; b < batch; ++b) {
    const float* wb = w + b * K * N;      // [K, N]
    int8_t* qb = q + b * K * N;           // [K, N]
    uint16_t* sb = scales + b * G * N;    // [G, N]
    for (int g = 0; g < G; ++g) {
      std::fill(amax.begin(), amax.end(), 0.0f);
      for (int64_t k = g * per; k < (g + 1) * per; ++k)
        for (int64_t n = 0; n < N; ++n) amax[size_t(n)] = std::max(amax[size_t(n)], std::fabs(wb[k * N + n]));
      for (int64_t n = 0; n < N; ++n) {
        const bf16 s = bf16::from_float(amax[size_t(n)] > 0.0f ? amax[size_t(n)] / 127.0f : 1.0f);
        sb[g * N + n] = s.bits;
        const float sf = s.to_float();
        for (int64_t k = g * per; k < (g + 1) * per; ++k) qb[k * N + n] = int8q::from_float(wb[k * N + n] / sf).bits;
      }
    }
  }
}

}  // namespace g2
