#include "libconvert/source/source.h"

#include <cstring>

namespace g2 {

std::string_view format_name(Format f) {
  switch (f) {
    case Format::Grok1Jax: return "grok1-jax";
    case Format::SafetensorsSet: return "safetensors";
    case Format::Grok2TpSet: return "grok2-tp";
  }
  return "?";
}

const SourceTensor* TensorSource::find(std::string_view name) const {
  for (const auto& t : tensors())
    if (t.name == name) return &t;
  return nullptr;
}

namespace {

// Bytes of one "row" (index along axis 0) restricted to dims [axis, rank) of a piece.
uint64_t inner_bytes(const Shape& shape, int from_axis, DType dt) {
  uint64_t n = dtype_size(dt);
  for (size_t i = size_t(from_axis); i < shape.size(); ++i) n *= uint64_t(shape[i]);
  return n;
}

}  // namespace

Status TensorSource::read_rows(const SourceTensor& t, int64_t begin, int64_t end, void* out) const {
  const int64_t rows = t.shape.empty() ? 1 : t.shape[0];
  if (begin < 0 || end > rows || begin > end)
    return invalid(t.name + ": row range [" + std::to_string(begin) + ", " + std::to_string(end) + ") outside " +
                   shape_str(t.shape));
  auto* dst = static_cast<uint8_t*>(out);
  if (t.pieces.size() == 1 || t.concat_axis == 0) {
    // Pieces stacked along axis 0: copy the overlap of each piece with [begin, end).
    const uint64_t row_bytes = t.shape.empty() ? dtype_size(t.dtype) : inner_bytes(t.shape, 1, t.dtype);
    int64_t at = 0;
    for (const auto& p : t.pieces) {
      const int64_t prow = p.view.shape.empty() ? 1 : p.view.shape[0];
      const int64_t lo = std::max(begin, at), hi = std::min(end, at + prow);
      if (lo < hi) {
        std::memcpy(dst + uint64_t(lo - begin) * row_bytes, p.view.as<uint8_t>() + uint64_t(lo - at) * row_bytes,
                    uint64_t(hi - lo) * row_bytes);
      }
      at += prow;
    }
    return Status::Ok();
  }
  // Pieces side by side along axis a > 0: for every outer index (dims < a) interleave the
  // pieces' contiguous blocks.
  const int a = t.concat_axis;
  const uint64_t out_inner = inner_bytes(t.shape, a, t.dtype);  // bytes per outer index in the output
  uint64_t outer_per_row = 1;  // outer indices per axis-0 row (dims 1..a-1)
  for (int i = 1; i < a; ++i) outer_per_row *= uint64_t(t.shape[size_t(i)]);
  for (int64_t r = begin; r < end; ++r) {
    for (uint64_t o = 0; o < outer_per_row; ++o) {
      const uint64_t outer = uint64_t(r) * outer_per_row + o;
      uint8_t* row_dst = dst + (uint64_t(r - begin) * outer_per_row + o) * out_inner;
      uint64_t off = 0;
      for (const auto& p : t.pieces) {
        const uint64_t pin = inner_bytes(p.view.shape, a, t.dtype);
        std::memcpy(row_dst + off, p.view.as<uint8_t>() + outer * pin, pin);
        off += pin;
      }
    }
  }
  return Status::Ok();
}

Expected<HostTensor> TensorSource::load(const SourceTensor& t) const {
  HostTensor h = HostTensor::make(t.dtype, t.shape);
  G2_TRY(read(t, h.view.data));
  return h;
}

Expected<HostTensor> TensorSource::load(std::string_view name) const {
  const SourceTensor* t = find(name);
  if (!t) return not_found(root() + ": no tensor named \"" + std::string(name) + "\"");
  return load(*t);
}

void TensorSource::release(const SourceTensor&) const {
  // Pieces are views into mappings the concrete source owns; formats that can map a
  // piece back to its file override the page dropping through MappedFile::release.
}

}  // namespace g2
