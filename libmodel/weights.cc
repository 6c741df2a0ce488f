#include "libmodel/weights.h"

#include <cstring>

#include "libconvert/layout/scales.h"
#include "libconvert/quant/quant.h"
#include "libmodel/dequant.h"

namespace g2 {

const TensorSpec* spec_for(const std::vector<TensorSpec>& layout, Role role, int layer, int expert) {
  if (const TensorSpec* s = find_spec(layout, role, layer, expert)) return s;
  if (expert >= 0) return find_spec(layout, role, layer, -1);
  return nullptr;
}

bool stored_in_out(Family f, Role r) { return f == Family::Grok1 && r != Role::Embedding; }

namespace {

std::string who(Role role, int layer, int expert) {
  std::string s(role_name(role));
  if (layer >= 0) s += " of layer " + std::to_string(layer);
  if (expert >= 0) s += ", expert " + std::to_string(expert);
  return s;
}

Matrix transpose(const Matrix& m) {
  Matrix t = Matrix::zeros(m.cols, m.rows);
  for (int64_t r = 0; r < m.rows; ++r)
    for (int64_t c = 0; c < m.cols; ++c) t.at(c, r) = m.at(r, c);
  return t;
}

}  // namespace

Expected<Matrix> shard_matrix(const Matrix& full, const std::vector<TensorSpec>& layout, Role role, int layer,
                              int expert, Family family, const ModelConfig& c, int tp, int rank) {
  const TensorSpec* spec = spec_for(layout, role, layer, expert);
  if (!spec) return not_found("the layout has no tensor for " + who(role, layer, expert));
  if (tp == 1 || spec->split == Split::Replicated) return Matrix{full.data, full.rows, full.cols};
  auto range = shard_range(*spec, c, tp, rank);
  if (!range) return range.error();
  int axis = range->axis - ((spec->expert < 0 && expert >= 0) ? 1 : 0);  // stacked experts: drop axis 0
  if (stored_in_out(family, role)) axis = 1 - axis;
  const int64_t b = range->begin, e = range->end;
  if (axis == 0) {
    if (e > full.rows) return invalid(spec->name + ": shard rows exceed the matrix");
    return Matrix{std::vector<float>(full.data.begin() + b * full.cols, full.data.begin() + e * full.cols), e - b,
                  full.cols};
  }
  if (e > full.cols) return invalid(spec->name + ": shard columns exceed the matrix");
  Matrix m = Matrix::zeros(full.rows, e - b);
  for (int64_t r = 0; r < full.rows; ++r)
    std::memcpy(&m.at(r, 0), &full.data[size_t(r * full.cols + b)], size_t(e - b) * sizeof(float));
  return m;
}

// ---- CheckpointWeights ------------------------------------------------------------------

CheckpointWeights::CheckpointWeights(std::unique_ptr<TensorSource> src)
    : src_(std::move(src)), layout_(layout_for(src_->family(), src_->config())) {}

std::string CheckpointWeights::describe() const {
  return src_->root() + " (" + std::string(format_name(src_->format())) + ")";
}

namespace {

// Rows [r0, r1) along axis 0 of a source tensor, raw bytes.
Expected<std::vector<uint8_t>> read_raw(const TensorSource& src, const SourceTensor& t, int64_t r0, int64_t r1,
                                        uint64_t* numel) {
  uint64_t n = 1;
  for (size_t i = 1; i < t.shape.size(); ++i) n *= uint64_t(t.shape[i]);
  n *= t.shape.empty() ? 1 : uint64_t(r1 - r0);
  std::vector<uint8_t> raw(n * dtype_size(t.dtype));
  G2_TRY(src.read_rows(t, r0, r1, raw.data()));
  *numel = n;
  return raw;
}

}  // namespace

Expected<Fp8Scales> CheckpointWeights::fp8_scales(const SourceTensor& st, int64_t rows, int64_t cols) const {
  // The scale tensor's name and shape say the mode.
  Fp8Spec fs;
  const SourceTensor* sc = src_->find(fp8_scale_name(st.name, Fp8ScaleMode::Block));
  if (sc) {
    const auto b = fp8_block_spec(config());
    if (!b)
      return invalid(src_->root() + ": \"" + sc->name +
                     "\" needs quantization_config.weight_block_size in config.json");
    fs = *b;
  } else {
    sc = src_->find(fp8_scale_name(st.name, Fp8ScaleMode::Tensor));
    if (!sc)
      return not_found(src_->root() + ": FP8 tensor \"" + st.name + "\" has no weight_scale or weight_scale_inv");
    uint64_t cnt = 1;
    for (auto d : sc->shape) cnt *= uint64_t(d);
    fs.mode = cnt == 1 ? Fp8ScaleMode::Tensor : Fp8ScaleMode::Channel;
  }
  const Shape want = fp8_scale_shape(fs, rows, cols);
  uint64_t cnt = 1, wcnt = 1;
  for (auto d : sc->shape) cnt *= uint64_t(d);
  for (auto d : want) wcnt *= uint64_t(d);
  if (cnt != wcnt || sc->dtype != DType::F32)
    return invalid(src_->root() + ": \"" + sc->name + "\" is " + std::string(dtype_name(sc->dtype)) + " " +
                   shape_str(sc->shape) + "; expected F32 " + shape_str(want) + " for weight " + shape_str(st.shape));
  Fp8Scales scales{fs, rows, cols, std::vector<float>(cnt)};
  G2_TRY(src_->read(*sc, scales.s.data()));
  src_->release(*sc);
  return scales;
}

Expected<Matrix> CheckpointWeights::matrix(Role role, int layer, int expert, bool exact_int8) {
  const TensorSpec* spec = spec_for(layout_, role, layer, expert);
  if (!spec) return not_found(src_->root() + ": the layout has no tensor for " + who(role, layer, expert));
  const SourceTensor* st = src_->find(spec->name);
  if (!st)
    return not_found(src_->root() + ": missing tensor \"" + spec->name + "\" (" + who(role, layer, expert) + ")");
  const bool stacked = spec->expert < 0 && expert >= 0;
  Shape inner = st->shape;
  int64_t r0 = 0, r1 = st->shape.empty() ? 1 : st->shape[0];
  if (stacked) {
    if (st->shape.size() != 3 || expert >= st->shape[0])
      return invalid(src_->root() + ": \"" + spec->name + "\" has shape " + shape_str(st->shape) +
                     "; expected experts stacked on axis 0");
    inner.erase(inner.begin());
    r0 = expert;
    r1 = expert + 1;
  }
  if (inner.size() > 2 || inner.empty())
    return invalid(src_->root() + ": \"" + spec->name + "\" has shape " + shape_str(st->shape) + "; expected a matrix");
  Matrix m;
  m.rows = inner.size() == 2 ? inner[0] : 1;
  m.cols = inner.back();
  uint64_t n = 0;
  auto raw = read_raw(*src_, *st, r0, r1, &n);
  if (!raw) return raw.error();
  m.data.resize(n);
  if (st->dtype == DType::I8) {
    // Grok-1 int8: the bf16 scales companion sits beside the weight (".../w" -> ".../scales").
    std::string sname = spec->name.substr(0, spec->name.rfind('/')) + "/scales";
    const SourceTensor* sc = src_->find(sname);
    if (!sc || sc->dtype != DType::BF16)
      return not_found(src_->root() + ": int8 tensor \"" + spec->name + "\" needs a BF16 \"" + sname + "\"");
    Shape sshape = sc->shape;
    if (stacked) sshape.erase(sshape.begin());
    if (sshape.size() != 2 || sshape[1] != m.cols || sshape[0] < 1 || m.rows % sshape[0] != 0)
      return invalid(src_->root() + ": \"" + sname + "\" has shape " + shape_str(sc->shape) + " for weight " +
                     shape_str(st->shape));
    uint64_t sn = 0;
    auto sraw = read_raw(*src_, *sc, stacked ? expert : 0, stacked ? expert + 1 : sc->shape[0], &sn);
    if (!sraw) return sraw.error();
    grok1_dequantize_f32(reinterpret_cast<const int8_t*>(raw->data()), reinterpret_cast<const uint16_t*>(sraw->data()),
                         m.rows, m.cols, int(sshape[0]), !exact_int8, m.data.data());
    src_->release(*sc);
  } else {
    if (st->dtype == DType::F8_E4M3) {
      // FP8: real = fp8 * scale (libconvert/quant/quant.h).
      auto scales = fp8_scales(*st, m.rows, m.cols);
      if (!scales) return scales.error();
      fp8_dequantize_rect(*scales, 0, m.rows, 0, m.cols, raw->data(), m.data.data());
    } else if (st->dtype == DType::F8_E5M2) {
      return unsupported(src_->root() + ": \"" + spec->name + "\" is F8_E5M2; only F8_E4M3 weights are supported");
    } else {
      G2_TRY(convert_to_f32(st->dtype, raw->data(), n, m.data.data()));
    }
  }
  src_->release(*st);
  if (stored_in_out(family(), role) && m.rows > 1) m = transpose(m);
  return m;
}

std::optional<StoredWeight> CheckpointWeights::stored(Role role, int layer, int expert) {
  const TensorSpec* spec = spec_for(layout_, role, layer, expert);
  if (!spec || (spec->expert < 0 && expert >= 0) || stored_in_out(family(), role)) return std::nullopt;
  const SourceTensor* st = src_->find(spec->name);
  if (!st || st->shape.size() != 2 || st->pieces.empty() || (st->concat_axis != 0 && st->concat_axis != 1))
    return std::nullopt;
  if (st->dtype != DType::F32 && st->dtype != DType::BF16 && st->dtype != DType::F8_E4M3) return std::nullopt;
  StoredWeight w;
  w.dtype = st->dtype;
  w.rows = st->shape[0];
  w.cols = st->shape[1];
  int64_t at = 0;  // along concat_axis
  for (const TensorPiece& p : st->pieces) {
    const TensorView& v = p.view;
    if (v.device != Device::Host || !v.data || v.dtype != st->dtype || v.rank() != 2 || !v.contiguous())
      return std::nullopt;
    StoredBlock b;
    b.rows = v.shape[0];
    b.cols = v.shape[1];
    b.ld = v.shape[1];
    b.data = v.data;
    (st->concat_axis == 0 ? b.row0 : b.col0) = at;
    at += v.shape[size_t(st->concat_axis)];
    if (b.row0 + b.rows > w.rows || b.col0 + b.cols > w.cols) return std::nullopt;
    w.blocks.push_back(b);
  }
  if (at != st->shape[size_t(st->concat_axis)]) return std::nullopt;
  if (w.dtype == DType::F8_E4M3) {
    auto sc = fp8_scales(*st, w.rows, w.cols);
    if (!sc) return std::nullopt;
    w.scales = std::move(*sc);
  }
  const TensorSource* src = src_.get();
  if (release_views_) w.release = [src, st] { src->release(*st); };
  return w;
}

Expected<Matrix> CheckpointWeights::embedding_rows(std::span<const int32_t> tokens) {
  const TensorSpec* spec = find_spec(layout_, Role::Embedding, -1, -1);
  const SourceTensor* st = spec ? src_->find(spec->name) : nullptr;
  if (!st || st->shape.size() != 2) return not_found(src_->root() + ": no embedding table");
  Matrix m = Matrix::zeros(int64_t(tokens.size()), st->shape[1]);
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] < 0 || tokens[i] >= st->shape[0])
      return invalid("token " + std::to_string(tokens[i]) + " is outside the vocabulary [0, " +
                     std::to_string(st->shape[0]) + ")");
    uint64_t n = 0;
    auto raw = read_raw(*src_, *st, tokens[i], tokens[i] + 1, &n);
    if (!raw) return raw.error();
    G2_TRY(convert_to_f32(st->dtype, raw->data(), n, &m.at(int64_t(i), 0)));
  }
  src_->release(*st);
  return m;
}

Expected<Matrix> CheckpointWeights::output_rows(int64_t begin, int64_t end) {
  const TensorSpec* spec = config().tie_word_embeddings ? nullptr : find_spec(layout_, Role::LmHead, -1, -1);
  if (!spec) spec = find_spec(layout_, Role::Embedding, -1, -1);
  const SourceTensor* st = spec ? src_->find(spec->name) : nullptr;
  if (!st || st->shape.size() != 2) return not_found(src_->root() + ": no output projection (lm_head / embedding)");
  uint64_t n = 0;
  auto raw = read_raw(*src_, *st, begin, end, &n);
  if (!raw) return raw.error();
  Matrix m = Matrix::zeros(end - begin, st->shape[1]);
  G2_TRY(convert_to_f32(st->dtype, raw->data(), n, m.data.data()));
  src_->release(*st);  // the forward streams the table in chunks: keep none of it resident
  return m;
}

// ---- MemoryWeights ----------------------------------------------------------------------

Expected<Matrix> MemoryWeights::matrix(Role role, int layer, int expert, bool) {
  auto it = w_.find({role, layer, expert});
  if (it == w_.end()) return not_found("in-memory weights: no " + who(role, layer, expert));
  return Matrix{it->second.data, it->second.rows, it->second.cols};
}

std::optional<StoredWeight> MemoryWeights::stored(Role role, int layer, int expert) {
  auto it = w_.find({role, layer, expert});
  if (it == w_.end()) return std::nullopt;
  const Matrix& m = it->second;
  StoredWeight w;
  w.dtype = DType::F32;
  w.rows = m.rows;
  w.cols = m.cols;
  w.blocks.push_back(StoredBlock{0, 0, m.rows, m.cols, m.data.data(), m.cols});
  return w;
}

Expected<Matrix> MemoryWeights::embedding_rows(std::span<const int32_t> tokens) {
  auto it = w_.find({Role::Embedding, -1, -1});
  if (it == w_.end()) return not_found("in-memory weights: no embedding");
  const Matrix& e = it->second;
  Matrix m = Matrix::zeros(int64_t(tokens.size()), e.cols);
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] < 0 || tokens[i] >= e.rows) return invalid("token " + std::to_string(tokens[i]) + " out of range");
    std::memcpy(&m.at(int64_t(i), 0), &e.data[size_t(tokens[i]) * size_t(e.cols)], size_t(e.cols) * sizeof(float));
  }
  return m;
}

Expected<Matrix> MemoryWeights::output_rows(int64_t begin, int64_t end) {
  auto it = c_.tie_word_embeddings ? w_.end() : w_.find({Role::LmHead, -1, -1});
  if (it == w_.end()) it = w_.find({Role::Embedding, -1, -1});
  if (it == w_.end()) return not_found("in-memory weights: no output projection");
  const Matrix& e = it->second;
  return Matrix{std::vector<float>(e.data.begin() + begin * e.cols, e.data.begin() + end * e.cols), end - begin,
                e.cols};
}

}  // namespace g2
