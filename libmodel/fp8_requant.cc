#include "libmodel/fp8_requant.h"

namespace g2 {

Fp8RequantWeights::Fp8RequantWeights(WeightSource& inner, Fp8Spec spec)
    : inner_(inner), spec_(spec), layout_(layout_for(inner.family(), inner.config())) {}

std::string Fp8RequantWeights::describe() const {
  return inner_.describe() + " requantised to FP8 (" + fp8_spec_name(spec_) + " scales)";
}

Expected<Matrix> Fp8RequantWeights::matrix(Role role, int layer, int expert, bool exact_int8) {
  auto m = inner_.matrix(role, layer, expert, exact_int8);
  if (!m) return m;
  const TensorSpec* spec = spec_for(layout_, role, layer, expert);
  if (!spec || !spec->fp8_candidate || m->rows <= 1) return m;
  // The converter quantises the logical [out, in] weight (scales over the whole tensor).
  Fp8ScaleBuilder b(spec_, m->rows, m->cols, spec->name);
  G2_TRY(b.add_rows(0, m->rows, m->data.data()));
  const Fp8Scales sc = b.finish();
  std::vector<uint8_t> q(m->data.size());
  fp8_quantize_rect(sc, 0, m->rows, 0, m->cols, m->data.data(), q.data());
  fp8_dequantize_rect(sc, 0, m->rows, 0, m->cols, q.data(), m->data.data());
  return m;
}

std::optional<StoredWeight> Fp8RequantWeights::stored(Role role, int layer, int expert) {
  const TensorSpec* spec = spec_for(layout_, role, layer, expert);
  auto inner = inner_.stored(role, layer, expert);
  if (!inner || !spec || !spec->fp8_candidate) return inner;  // no inner view (Grok-1 int8): matrix() path
  inner.reset();
  auto m = matrix(role, layer, expert);
  if (!m || m->rows <= 1) return std::nullopt;  // matrix() reports the error / keeps vectors
  return StoredWeight::from_f32(std::move(m->data), m->rows, m->cols);
}

}  // namespace g2
