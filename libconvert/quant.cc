#include "libconvert/quant.h"

#include <algorithm>
#include <cmath>

#include "kernels/ops/quant.h"

namespace g2 {

std::string_view fp8_scale_mode_name(Fp8ScaleMode m) {
  switch (m) {
    case Fp8ScaleMode::Tensor: return "tensor";
    case Fp8ScaleMode::Channel: return "channel";
    case Fp8ScaleMode::Block: return "block";
  }
  return "?";
}

std::optional<Fp8ScaleMode> fp8_scale_mode_from_name(std::string_view s) {
  if (s == "tensor") return Fp8ScaleMode::Tensor;
  if (s == "channel") return Fp8ScaleMode::Channel;
  if (s == "block") return Fp8ScaleMode::Block;
  return std::nullopt;
}

std::string_view fp8_scale_suffix(Fp8ScaleMode m) {
  return m == Fp8ScaleMode::Block ? "weight_scale_inv" : "weight_scale";
}

std::string fp8_scale_name(const std::string& weight_name, Fp8ScaleMode m) {
  std::string base = weight_name;
  const std::string suffix = "weight";
  if (base.size() >= suffix.size() && base.compare(base.size() - suffix.size(), suffix.size(), suffix) == 0)
    base.resize(base.size() - suffix.size());
  else
    base += ".";
  return base + std::string(fp8_scale_suffix(m));
}

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

Shape fp8_scale_shape(const Fp8Spec& spec, int64_t n, int64_t k) {
  switch (spec.mode) {
    case Fp8ScaleMode::Tensor: return {};
    case Fp8ScaleMode::Channel: return {n, 1};
    case Fp8ScaleMode::Block: break;
  }
  return {ceil_div(n, spec.block_n), ceil_div(k, spec.block_k)};
}

Fp8ScaleBuilder::Fp8ScaleBuilder(Fp8Spec spec, int64_t n, int64_t k, std::string tensor)
    : spec_(spec), n_(n), k_(k), tensor_(std::move(tensor)) {
  const uint64_t count = *checked_numel(fp8_scale_shape(spec, n, k));
  amax_.assign(size_t(count), 0.0f);
}

Status Fp8ScaleBuilder::add_rows(int64_t row0, int64_t rows, const float* w) {
  G2_ASSERT(row0 >= 0 && row0 + rows <= n_);
  G2_TRY(check_finite(w, rows, k_, row0, tensor_));
  const int64_t kb = spec_.mode == Fp8ScaleMode::Block ? ceil_div(k_, spec_.block_k) : 1;
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = w + r * k_;
    const int64_t gr = row0 + r;
    if (spec_.mode == Fp8ScaleMode::Block) {
      float* a = &amax_[size_t(gr / spec_.block_n * kb)];
      for (int64_t b = 0; b < kb; ++b) {
        float m = a[b];
        const int64_t end = std::min(k_, (b + 1) * spec_.block_k);
        for (int64_t c = b * spec_.block_k; c < end; ++c) m = std::max(m, std::fabs(row[c]));
        a[b] = m;
      }
    } else {
      float m = 0.0f;
      for (int64_t c = 0; c < k_; ++c) m = std::max(m, std::fabs(row[c]));
      float& dst = spec_.mode == Fp8ScaleMode::Channel ? amax_[size_t(gr)] : amax_[0];
      dst = std::max(dst, m);
    }
  }
  return Status::Ok();
}

Fp8Scales Fp8ScaleBuilder::finish() const {
  Fp8Scales sc{spec_, n_, k_, {}};
  sc.s.resize(amax_.size());
  for (size_t i = 0; i < amax_.size(); ++i) sc.s[i] = fp8_scale_from_amax(amax_[i]);
  return sc;
}

namespace {

// Calls fn(c_begin, c_end, scale) over the runs of columns of row `row` that share a scale
// (one run per block column in block mode), so the per-element loop does no index math.
template <class Fn>
void for_each_scale_run(const Fp8Scales& sc, int64_t row, int64_t col0, int64_t cols, Fn&& fn) {
  if (sc.spec.mode != Fp8ScaleMode::Block) {
    fn(int64_t(0), cols, sc.at(row, col0));
    return;
  }
  const int64_t bk = sc.spec.block_k;
  for (int64_t c = 0; c < cols;) {
    const int64_t gc = col0 + c;
    const int64_t run = std::min(cols - c, bk - gc % bk);
    fn(c, c + run, sc.at(row, gc));
    c += run;
  }
}

}  // namespace

void fp8_quantize_rect(const Fp8Scales& sc, int64_t row0, int64_t rows, int64_t col0, int64_t cols, const float* w,
                       uint8_t* q) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* wr = w + r * cols;
    uint8_t* qr = q + r * cols;
    for_each_scale_run(sc, row0 + r, col0, cols, [&](int64_t a, int64_t b, float s) {
      for (int64_t c = a; c < b; ++c) qr[c] = fp8_quantize(wr[c], s);
    });
  }
}

void fp8_dequantize_rect(const Fp8Scales& sc, int64_t row0, int64_t rows, int64_t col0, int64_t cols, const uint8_t* q,
                         float* w) {
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* qr = q + r * cols;
    float* wr = w + r * cols;
    for_each_scale_run(sc, row0 + r, col0, cols, [&](int64_t a, int64_t b, float s) {
      for (int64_t c = a; c < b; ++c) wr[c] = fp8_dequantize(qr[c], s);
    });
  }
}

Expected<Shape> fp8_scale_slice_shape(const Fp8Spec& spec, int64_t n, int64_t k, int axis, int64_t begin, int64_t end,
                                      const std::string& tensor) {
  Shape full = fp8_scale_shape(spec, n, k);
  if (spec.mode == Fp8ScaleMode::Tensor) return full;
  if (spec.mode == Fp8ScaleMode::Channel) {
    if (axis == 0) full[0] = end - begin;
    return full;
  }
  const int64_t b = axis == 0 ? spec.block_n : spec.block_k;
  const int64_t size = axis == 0 ? n : k;
  if (begin % b != 0 || (end % b != 0 && end != size))
    return invalid(tensor + ": shard [" + std::to_string(begin) + ", " + std::to_string(end) + ") on axis " +
                   std::to_string(axis) + " does not fall on FP8 block boundaries (block " + std::to_string(b) +
                   "); choose a smaller --fp8-block or another --tp");
  full[size_t(axis)] = ceil_div(end, b) - begin / b;
  return full;
}

ScaleSlice fp8_scale_slice(const Fp8Scales& sc, int axis, int64_t begin, int64_t end) {
  auto shape = fp8_scale_slice_shape(sc.spec, sc.n, sc.k, axis, begin, end, "");
  G2_ASSERT(shape.ok(), "scale slice must be validated by the planner");
  ScaleSlice out{*shape, {}};
  if (sc.spec.mode == Fp8ScaleMode::Tensor) {
    out.values = sc.s;
  } else if (sc.spec.mode == Fp8ScaleMode::Channel) {
    if (axis == 0) out.values.assign(sc.s.begin() + begin, sc.s.begin() + end);
    else out.values = sc.s;
  } else {
    const int64_t kb = ceil_div(sc.k, sc.spec.block_k);
    const int64_t rb0 = axis == 0 ? begin / sc.spec.block_n : 0, rbn = out.shape[0];
    const int64_t cb0 = axis == 1 ? begin / sc.spec.block_k : 0, cbn = out.shape[1];
    for (int64_t r = 0; r < rbn; ++r)
      for (int64_t c = 0; c < cbn; ++c) out.values.push_back(sc.s[size_t((rb0 + r) * kb + cb0 + c)]);
  }
  return out;
}

void grok1_dequantize_rows(const int8_t* w, const uint16_t* scales, int64_t K, int64_t N, int G, int64_t k0,
                           int64_t rows, uint16_t* out) {
  G2_ASSERT(G > 0 && K % G == 0, "Grok-1 scale groups must divide the contracting axis");
  for (int64_t r = 0; r < rows; ++r) {
    const uint16_t* s = scales + grok1_scale_group(k0 + r, K, G) * N;
    for (int64_t n = 0; n < N; ++n) out[r * N + n] = grok1_dequantize(w[r * N + n], bf16{s[n]}).bits;
  }
}

void QuantError::add(const float* ref, const float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const double a = ref[i], b = out[i], d = b - a;
    max_abs = std::max(max_abs, std::fabs(d));
    sum_sq_err += d * d;
    sum_sq_ref += a * a;
    sum_sq_out += b * b;
    dot += a * b;
  }
  count += n;
}

void QuantError::merge(const QuantError& o) {
  count += o.count;
  max_abs = std::max(max_abs, o.max_abs);
  sum_sq_err += o.sum_sq_err;
  sum_sq_ref += o.sum_sq_ref;
  sum_sq_out += o.sum_sq_out;
  dot += o.dot;
}

double QuantError::rel_rms() const {
  if (sum_sq_ref == 0) return sum_sq_err == 0 ? 0.0 : INFINITY;
  return std::sqrt(sum_sq_err / sum_sq_ref);
}

double QuantError::cosine() const {
  if (sum_sq_ref == 0 && sum_sq_out == 0) return 1.0;
  if (sum_sq_ref == 0 || sum_sq_out == 0) return 0.0;
  return dot / std::sqrt(sum_sq_ref * sum_sq_out);
}

Status check_finite(const float* w, int64_t rows, int64_t cols, int64_t row0, const std::string& tensor) {
  for (int64_t i = 0; i < rows * cols; ++i)
    if (!std::isfinite(w[i]))
      return invalid(tensor + ": element [" + std::to_string(row0 + i / cols) + ", " + std::to_string(i % cols) +
                     "] is " + (std::isnan(w[i]) ? "NaN" : "infinite") +
                     "; refusing to quantise a tensor with non-finite values");
  return Status::Ok();
}

}  // namespace g2
