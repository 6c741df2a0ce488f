// Quantisation policies for the converter (docs/architecture.md "Quantisation"): FP8 e4m3 scale
// schemes (Fp8Spec: per tensor, per output channel, per block), Grok-1's int8 + bf16 scales,
// and the error statistics every quantising run reports. Everything works on row chunks of a
// [N, K] weight so the executor can stream tensors far larger than its memory budget; the
// per-element math, Fp8Spec and the scale index are kernels/ops/quant.h. Companion names and
// the TP split of a layout tensor's scales: layout/scales.h.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/ops/quant.h"
#include "libconvert/layout/layout.h"
#include "libconvert/status.h"
#include "libconvert/tensor.h"

namespace g2 {

std::string_view fp8_scale_mode_name(Fp8ScaleMode m);  // "tensor" | "channel" | "block"
std::optional<Fp8ScaleMode> fp8_scale_mode_from_name(std::string_view s);
// "tensor", "channel" or "block 128x128": how reports and descriptions name a scheme.
std::string fp8_spec_name(const Fp8Spec& spec);
// Shape of the scale tensor of a [N, K] weight: [] | [N, 1] | [ceil(N/bn), ceil(K/bk)].
Shape fp8_scale_shape(const Fp8Spec& spec, int64_t n, int64_t k);

// The split rule of FP8 scales, in one place (docs/reference.md §5): which elements of the
// scale tensor of an [n, k] weight belong to the weight's slice [begin, end) along `axis`
// (0 rows, 1 columns), as a range on the scale's own axis. A tensor scale is whole ([0, 1) of
// axis 0); a channel scale follows the rows on axis 0 and is whole on axis 1; a block scale
// follows the slice in block units on the same axis. nullopt when the slice splits a block:
// it must start on a block boundary and end on one or at the weight's edge.
std::optional<ShardRange> fp8_scale_range(const Fp8Spec& spec, int64_t n, int64_t k, int axis, int64_t begin,
                                          int64_t end);

// The scales of one logical [N, K] weight (all of it, not a shard).
struct Fp8Scales {
  Fp8Spec spec;
  int64_t n = 0, k = 0;
  std::vector<float> s;  // laid out as fp8_scale_shape()
  float at(int64_t row, int64_t col) const { return s[size_t(fp8_scale_index(spec, k, row, col))]; }
};

// Builds Fp8Scales from row chunks of the f32 weight, in any order and any chunking.
// NaN/Inf weights are refused with a message naming the tensor (an FP8 scale cannot
// represent them, and they mean the source is broken).
class Fp8ScaleBuilder {
 public:
  Fp8ScaleBuilder(Fp8Spec spec, int64_t n, int64_t k, std::string tensor);
  // rows [row0, row0 + rows) of the weight, full width: w is [rows, k]
  Status add_rows(int64_t row0, int64_t rows, const float* w);
  // Takes in another builder's rows (same tensor and spec): amax is a max, so builders fed
  // disjoint row ranges by different threads merge into exactly the sequential result.
  void merge(const Fp8ScaleBuilder& other);
  Fp8Scales finish() const;

 private:
  Fp8Spec spec_;
  int64_t n_, k_;
  std::string tensor_;
  std::vector<float> amax_;  // one per scale
};

// Quantise / dequantise a rectangle [row0, row0+rows) x [col0, col0+cols) of the logical
// weight whose scales are `sc`. Buffers are [rows, cols], row-major.
void fp8_quantize_rect(const Fp8Scales& sc, int64_t row0, int64_t rows, int64_t col0, int64_t cols, const float* w,
                       uint8_t* q);
void fp8_dequantize_rect(const Fp8Scales& sc, int64_t row0, int64_t rows, int64_t col0, int64_t cols, const uint8_t* q,
                         float* w);
// Every e4m3 code decoded once by the codec (kernels/codecs.h): table[q] is exactly
// fp8_e4m3{q}.to_float(), a lookup instead of the codec's branchy per-element decode.
const float* e4m3_decode_table();

// The part of the scale tensor that belongs to a shard [begin, end) of the weight along
// `axis` (0 rows, 1 columns), by fp8_scale_range; the message names tensor, range and block
// size when the shard splits a block.
struct ScaleSlice {
  Shape shape;
  std::vector<float> values;
};
Expected<Shape> fp8_scale_slice_shape(const Fp8Spec& spec, int64_t n, int64_t k, int axis, int64_t begin, int64_t end,
                                      const std::string& tensor);
ScaleSlice fp8_scale_slice(const Fp8Scales& sc, int axis, int64_t begin, int64_t end);

// Grok-1 int8 weight [K, N] (one expert) with bf16 scales [G, N] (G = 1 per channel, or
// G = 8 blocks along K for o-proj and linear_1): rows [k0, k0 + rows) dequantised exactly as
// the reference, W[k, n] = bf16(int8[k, n] * S[k / (K / G), n]). Output bf16 bits.
void grok1_dequantize_rows(const int8_t* w, const uint16_t* scales, int64_t K, int64_t N, int G, int64_t k0,
                           int64_t rows, uint16_t* out);
// n consecutive elements of one row of such a weight with their scales (the row's group),
// as f32 (each value is a bf16, exactly) or as the bf16 bits: the same values as
// grok1_dequantize_rows.
void grok1_dequantize_f32(const int8_t* w, const uint16_t* scales, int64_t n, float* out);
void grok1_dequantize_bf16(const int8_t* w, const uint16_t* scales, int64_t n, uint16_t* out);
// The scale of element (k, n) of such a weight.
inline int64_t grok1_scale_group(int64_t k, int64_t K, int G) { return k / (K / G); }

// Error of a lossy conversion, accumulated in double over chunks and shards.
struct QuantError {
  uint64_t count = 0;
  double max_abs = 0, sum_sq_err = 0, sum_sq_ref = 0, sum_sq_out = 0, dot = 0;
  void add(const float* ref, const float* out, size_t n);
  void merge(const QuantError& o);
  // sqrt(sum (out-ref)^2 / sum ref^2); 0 when both are zero.
  double rel_rms() const;
  // cosine(ref, out); 1 when both are all zero.
  double cosine() const;
};

// Refuses NaN/Inf in an f32 chunk (any lossy target): names tensor, row and column.
Status check_finite(const float* w, int64_t rows, int64_t cols, int64_t row0, const std::string& tensor);

}  // namespace g2
