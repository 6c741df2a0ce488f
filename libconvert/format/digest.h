// Layout-independent digests and content checks of logical tensors.
// A tensor's digest is XXH3-128 of its full logical bytes in row-major order, streamed through
// TensorSource::read_rows in row chunks, so the same model gives the same digests in any TP
// layout or file split. The model digest is XXH3-128 over the tensors sorted by name, each
// contributing: name, NUL, dtype name, NUL, shape_str, NUL, its 16-byte canonical digest.
// Hex is the canonical (big-endian) form, 32 characters, as in g2manifest.json.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "libconvert/source/source.h"

namespace g2 {

struct Digest128 {
  uint64_t hi = 0, lo = 0;
  std::string hex() const;
  bool operator==(const Digest128&) const = default;
};

// `visit` (optional) sees every chunk of the tensor's bytes in order.
using ChunkVisitor = std::function<void(std::span<const uint8_t>)>;
Expected<Digest128> tensor_digest(const TensorSource& src, const SourceTensor& t, const ChunkVisitor& visit = {},
                                  size_t chunk_bytes = size_t(64) << 20);

struct NamedDigest {
  const SourceTensor* tensor;
  Digest128 digest;
};
Digest128 model_digest(std::vector<NamedDigest> tensors);

// NaN and infinity counts of float elements (integer dtypes count nothing).
struct NonFinite {
  uint64_t nan = 0, inf = 0;
  bool any() const { return nan || inf; }
};
void count_nonfinite(DType dt, std::span<const uint8_t> bytes, NonFinite& out);

}  // namespace g2
