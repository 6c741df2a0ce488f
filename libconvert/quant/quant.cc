#include "libconvert/quant/quant.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "kernels/ops/quant.h"
#include "kernels/cpu/vector_clones.h"

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

std::string fp8_spec_name(const Fp8Spec& spec) {
  std::string s(fp8_scale_mode_name(spec.mode));
  if (spec.mode == Fp8ScaleMode::Block) s += " " + std::to_string(spec.block_n) + "x" + std::to_string(spec.block_k);
  return s;
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

std::optional<ShardRange> fp8_scale_range(const Fp8Spec& spec, int64_t n, int64_t k, int axis, int64_t begin,
                                          int64_t end) {
  switch (spec.mode) {
    case Fp8ScaleMode::Tensor: return ShardRange{0, 0, 1};
    case Fp8ScaleMode::Channel: return axis == 0 ? ShardRange{0, begin, end} : ShardRange{0, 0, n};
    case Fp8ScaleMode::Block: break;
  }
  const int64_t b = axis == 0 ? spec.block_n : spec.block_k;
  const int64_t size = axis == 0 ? n : k;
  if (begin % b != 0 || (end % b != 0 && end != size)) return std::nullopt;
  return ShardRange{axis, begin / b, ceil_div(end, b)};
}

namespace {

// max |x| over n finite floats. Eight independent running maxima (max is exact and order
// independent on finite values, so the result equals the sequential loop) let the compiler
// vectorise what a single std::max chain cannot.
G2_VECTOR_CLONES float amax_of(const float* x, int64_t n) {
  float m[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) {
      const float v = std::fabs(x[i + j]);
      m[j] = m[j] < v ? v : m[j];
    }
  float r = 0.0f;
  for (; i < n; ++i) r = std::max(r, std::fabs(x[i]));
  for (float v : m) r = std::max(r, v);
  return r;
}

}  // namespace

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
    float* a = &amax_[size_t(fp8_scale_index(spec_, k_, row0 + r, 0))];  // the row's first scale
    if (spec_.mode == Fp8ScaleMode::Block) {
      for (int64_t b = 0; b < kb; ++b) {
        const int64_t end = std::min(k_, (b + 1) * spec_.block_k);
        a[b] = std::max(a[b], amax_of(row + b * spec_.block_k, end - b * spec_.block_k));
      }
    } else {
      a[0] = std::max(a[0], amax_of(row, k_));
    }
  }
  return Status::Ok();
}

void Fp8ScaleBuilder::merge(const Fp8ScaleBuilder& other) {
  G2_ASSERT(other.amax_.size() == amax_.size(), "merging scale builders of different tensors");
  for (size_t i = 0; i < amax_.size(); ++i) amax_[i] = std::max(amax_[i], other.amax_[i]);
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

// The per-element loops of one scale run, each its own function so that the AVX2 clone holds
// the whole loop (a lambda called from a clone is compiled for the baseline only).
G2_VECTOR_CLONES void fp8_quantize_run(const float* __restrict w, int64_t n, float s, uint8_t* __restrict q) {
  for (int64_t c = 0; c < n; ++c) q[c] = fp8_quantize(w[c], s);
}

G2_VECTOR_CLONES void fp8_dequantize_run(const uint8_t* __restrict q, int64_t n, float s,
                                         const float* __restrict decoded, float* __restrict w) {
  for (int64_t c = 0; c < n; ++c) w[c] = decoded[q[c]] * s;
}

}  // namespace

void fp8_quantize_rect(const Fp8Scales& sc, int64_t row0, int64_t rows, int64_t col0, int64_t cols, const float* w,
                       uint8_t* q) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* wr = w + r * cols;
    uint8_t* qr = q + r * cols;
    for_each_scale_run(sc, row0 + r, col0, cols, [&](int64_t a, int64_t b, float s) {
      fp8_quantize_run(wr + a, b - a, s, qr + a);
    });
  }
}

const float* e4m3_decode_table() {
  static const std::array<float, 256> table = [] {
    std::array<float, 256> t{};
    for (int c = 0; c < 256; ++c) t[size_t(c)] = fp8_e4m3{uint8_t(c)}.to_float();
    return t;
  }();
  return table.data();
}

void fp8_dequantize_rect(const Fp8Scales& sc, int64_t row0, int64_t rows, int64_t col0, int64_t cols, const uint8_t* q,
                         float* w) {
  // The per-element decode is branchy and ran at ~1 GB/s; the table gives the same float,
  // times the same scale, as fp8_dequantize() (bench/micro/bench_quant.cc BM_fp8_block_dequantize).
  const float* decoded = e4m3_decode_table();
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* qr = q + r * cols;
    float* wr = w + r * cols;
    for_each_scale_run(sc, row0 + r, col0, cols, [&](int64_t a, int64_t b, float s) {
      fp8_dequantize_run(qr + a, b - a, s, decoded, wr + a);
    });
  }
}

Expected<Shape> fp8_scale_slice_shape(const Fp8Spec& spec, int64_t n, int64_t k, int axis, int64_t begin, int64_t end,
                                      const std::string& tensor) {
  const auto r = fp8_scale_range(spec, n, k, axis, begin, end);
  if (!r)
    return invalid(tensor + ": shard [" + std::to_string(begin) + ", " + std::to_string(end) + ") on axis " +
                   std::to_string(axis) + " does not fall on FP8 block boundaries (block " +
                   std::to_string(axis == 0 ? spec.block_n : spec.block_k) +
                   "); choose a smaller --fp8-block or another --tp");
  Shape shape = fp8_scale_shape(spec, n, k);
  if (!shape.empty()) shape[size_t(r->axis)] = r->end - r->begin;
  return shape;
}

ScaleSlice fp8_scale_slice(const Fp8Scales& sc, int axis, int64_t begin, int64_t end) {
  auto shape = fp8_scale_slice_shape(sc.spec, sc.n, sc.k, axis, begin, end, "");
  G2_ASSERT(shape.ok(), "scale slice must be validated by the planner");
  const ShardRange r = *fp8_scale_range(sc.spec, sc.n, sc.k, axis, begin, end);
  // The scales as a row-major [rows, cols] matrix ([] and [N, 1] included), cut along r.axis.
  const Shape full = fp8_scale_shape(sc.spec, sc.n, sc.k);
  const int64_t cols = full.size() == 2 ? full[1] : 1;
  const int64_t r0 = r.axis == 0 ? r.begin : 0, r1 = r.axis == 0 ? r.end : int64_t(sc.s.size()) / cols;
  const int64_t c0 = r.axis == 1 ? r.begin : 0, c1 = r.axis == 1 ? r.end : cols;
  ScaleSlice out{*shape, {}};
  for (int64_t i = r0; i < r1; ++i)
    for (int64_t j = c0; j < c1; ++j) out.values.push_back(sc.s[size_t(i * cols + j)]);
  return out;
}

namespace {

// The per-element loops behind the Grok-1 functions, with restrict pointers: int8_t is a
// character type, so without them GCC must assume every store may change the weights or
// scales and does not vectorise.
G2_VECTOR_CLONES void grok1_run_bf16(const int8_t* __restrict w, const uint16_t* __restrict s, int64_t n,
                                     uint16_t* __restrict out) {
  for (int64_t i = 0; i < n; ++i) out[i] = grok1_dequantize(w[i], bf16{s[i]}).bits;
}

G2_VECTOR_CLONES void grok1_run_f32(const int8_t* __restrict w, const uint16_t* __restrict s, int64_t n,
                                    float* __restrict out) {
  for (int64_t i = 0; i < n; ++i) out[i] = grok1_dequantize(w[i], bf16{s[i]}).to_float();
}

}  // namespace

void grok1_dequantize_rows(const int8_t* w, const uint16_t* scales, int64_t K, int64_t N, int G, int64_t k0,
                           int64_t rows, uint16_t* out) {
  G2_ASSERT(G > 0 && K % G == 0, "Grok-1 scale groups must divide the contracting axis");
  for (int64_t r = 0; r < rows; ++r)
    grok1_run_bf16(w + r * N, scales + grok1_scale_group(k0 + r, K, G) * N, N, out + r * N);
}

void grok1_dequantize_f32(const int8_t* w, const uint16_t* scales, int64_t n, float* out) {
  grok1_run_f32(w, scales, n, out);
}

void grok1_dequantize_bf16(const int8_t* w, const uint16_t* scales, int64_t n, uint16_t* out) {
  grok1_run_bf16(w, scales, n, out);
}

G2_VECTOR_CLONES void QuantError::add(const float* ref, const float* out, size_t n) {
  // Four independent partial sums per statistic (element i goes to lane i % 4), added in
  // lane order at the end of the call, held in one four-double vector (GCC vector extension:
  // one ymm in the AVX2 clone, two xmm in the baseline; the same lane-wise operations either
  // way). One running sum per statistic was a serial chain of dependent double adds
  // (~3.4 GB/s). The sums differ from strictly sequential ones only in their last bits and are
  // deterministic for a given chunking; max is exact in any order.
  using v4d = double __attribute__((vector_size(32)));
  v4d mx = {}, se = {}, sr = {}, so = {}, dt = {};
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const v4d a = {double(ref[i]), double(ref[i + 1]), double(ref[i + 2]), double(ref[i + 3])};
    const v4d b = {double(out[i]), double(out[i + 1]), double(out[i + 2]), double(out[i + 3])};
    const v4d d = b - a, ad = d < 0 ? -d : d;
    mx = mx < ad ? ad : mx;
    se += d * d;
    sr += a * a;
    so += b * b;
    dt += a * b;
  }
  double lane[5][4];
  for (int j = 0; j < 4; ++j)
    lane[0][j] = mx[j], lane[1][j] = se[j], lane[2][j] = sr[j], lane[3][j] = so[j], lane[4][j] = dt[j];
  for (int j = 0; i < n; ++i, ++j) {
    const double a = ref[i], b = out[i], d = b - a;
    lane[0][j] = std::max(lane[0][j], std::fabs(d));
    lane[1][j] += d * d;
    lane[2][j] += a * a;
    lane[3][j] += b * b;
    lane[4][j] += a * b;
  }
  double s_e = 0, s_r = 0, s_o = 0, s_d = 0;
  for (int j = 0; j < 4; ++j) {
    max_abs = std::max(max_abs, lane[0][j]);
    s_e += lane[1][j];
    s_r += lane[2][j];
    s_o += lane[3][j];
    s_d += lane[4][j];
  }
  sum_sq_err += s_e;
  sum_sq_ref += s_r;
  sum_sq_out += s_o;
  dot += s_d;
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

G2_VECTOR_CLONES Status check_finite(const float* w, int64_t rows, int64_t cols, int64_t row0,
                                     const std::string& tensor) {
  // x * 0 is 0 for finite x and NaN for inf/NaN: one branch-free pass (vectorised) decides,
  // the loop below only runs to name the first bad element.
  const int64_t n = rows * cols;
  float probe[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i0 = 0;
  for (; i0 + 8 <= n; i0 += 8)
    for (int j = 0; j < 8; ++j) probe[j] += w[i0 + j] * 0.0f;
  float any = 0.0f;
  for (; i0 < n; ++i0) any += w[i0] * 0.0f;
  for (float p : probe) any += p;
  if (any == 0.0f) return Status::Ok();
  for (int64_t i = 0; i < rows * cols; ++i)
    if (!std::isfinite(w[i]))
      return invalid(tensor + ": element [" + std::to_string(row0 + i / cols) + ", " + std::to_string(i % cols) +
                     "] is " + (std::isnan(w[i]) ? "NaN" : "infinite") +
                     "; refusing to quantise a tensor with non-finite values");
  return Status::Ok();
}

}  // namespace g2
