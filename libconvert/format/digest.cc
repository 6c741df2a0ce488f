#include "libconvert/format/digest.h"

#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <type_traits>

#include "kernels/codecs.h"

namespace g2 {

namespace {

struct StateFree {
  void operator()(XXH3_state_t* s) const { XXH3_freeState(s); }
};
using State = std::unique_ptr<XXH3_state_t, StateFree>;

State new_state() {
  State s(XXH3_createState());
  G2_ASSERT(s != nullptr, "out of memory");
  XXH3_128bits_reset(s.get());
  return s;
}

Digest128 finish(XXH3_state_t* s) {
  XXH128_hash_t h = XXH3_128bits_digest(s);
  return Digest128{h.high64, h.low64};
}

// NaN and Inf among the elements of a native float type or of a codec struct (to_float()).
template <class T>
void count_as(std::span<const uint8_t> b, NonFinite& out) {
  const size_t n = b.size() / sizeof(T);
  for (size_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, b.data() + i * sizeof(T), sizeof(T));
    const auto f = [&] {
      if constexpr (std::is_floating_point_v<T>) return v;
      else return v.to_float();
    }();
    out.nan += std::isnan(f);
    out.inf += std::isinf(f);
  }
}

}  // namespace

std::string Digest128::hex() const {
  XXH128_canonical_t c;
  XXH128_canonicalFromHash(&c, XXH128_hash_t{lo, hi});
  static const char* d = "0123456789abcdef";
  std::string s;
  for (unsigned char ch : c.digest) {
    s += d[ch >> 4];
    s += d[ch & 15];
  }
  return s;
}

Expected<Digest128> tensor_digest(const TensorSource& src, const SourceTensor& t, const ChunkVisitor& visit,
                                  size_t chunk_bytes) {
  State st = new_state();
  const int64_t rows = t.shape.empty() ? 1 : t.shape[0];
  auto total = checked_nbytes(t.dtype, t.shape);
  if (!total) return invalid(t.name + ": invalid shape " + shape_str(t.shape));
  if (*total > 0) {
    const uint64_t row_bytes = *total / uint64_t(rows);
    const int64_t per = int64_t(std::max<uint64_t>(1, chunk_bytes / row_bytes));
    HostBuffer buf(size_t(std::min<uint64_t>(*total, uint64_t(per) * row_bytes)));
    for (int64_t r = 0; r < rows; r += per) {
      const int64_t end = std::min(rows, r + per);
      G2_TRY(src.read_rows(t, r, end, buf.data()));
      const std::span<const uint8_t> chunk(buf.as<uint8_t>(), size_t(uint64_t(end - r) * row_bytes));
      XXH3_128bits_update(st.get(), chunk.data(), chunk.size());
      if (visit) visit(chunk);
    }
  }
  src.release(t);
  return finish(st.get());
}

Digest128 model_digest(std::vector<NamedDigest> ts) {
  std::sort(ts.begin(), ts.end(),
            [](const NamedDigest& a, const NamedDigest& b) { return a.tensor->name < b.tensor->name; });
  State st = new_state();
  auto add = [&](const std::string& s) { XXH3_128bits_update(st.get(), s.data(), s.size() + 1); };  // with the NUL
  for (const auto& t : ts) {
    add(t.tensor->name);
    add(std::string(dtype_name(t.tensor->dtype)));
    add(shape_str(t.tensor->shape));
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH128_hash_t{t.digest.lo, t.digest.hi});
    XXH3_128bits_update(st.get(), c.digest, sizeof c.digest);
  }
  return finish(st.get());
}

void count_nonfinite(DType dt, std::span<const uint8_t> b, NonFinite& out) {
  switch (dt) {
    case DType::F64: return count_as<double>(b, out);
    case DType::F32: return count_as<float>(b, out);
    case DType::F16: return count_as<f16>(b, out);
    case DType::BF16: return count_as<bf16>(b, out);
    case DType::F8_E4M3: return count_as<fp8_e4m3>(b, out);
    case DType::F8_E5M2: return count_as<fp8_e5m2>(b, out);
    default: return;  // integers and bool have no non-finite values
  }
}

}  // namespace g2
