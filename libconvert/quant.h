// Quantisation policies for the converter (DESIGN.md "Quantisation"): FP8 e4m3 scale modes
// (per tensor, per output channel, per block), Grok-1's int8 + bf16 scales, and the error
// statistics every quantising run reports. Everything works on row chunks of a [N, K]
// weight so the executor can stream tensors far larger than its memory budget; the
// per-element math is kernels/ops/quant.h.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "libconvert/status.h"
#include "libconvert/tensor.h"

namespace g2 {

enum class Fp8ScaleMode : uint8_t { Tensor, Channel, Block };

struct Fp8Spec {
  Fp8ScaleMode mode = Fp8ScaleMode::Block;
  int block_n = 128, block_k = 128;  // block mode only (weight_block_size [bn, bk])
  bool operator==(const Fp8Spec& o) const {
    return mode == o.mode && (mode != Fp8ScaleMode::Block || (block_n == o.block_n && block_k == o.block_k));
  }
};

std::string_view fp8_scale_mode_name(Fp8ScaleMode m);  // "tensor" | "channel" | "block"
std::optional<Fp8ScaleMode> fp8_scale_mode_from_name(std::string_view s);
// The companion's name suffix: "weight_scale" (tensor, channel) or "weight_scale_inv" (block).
std::string_view fp8_scale_suffix(Fp8ScaleMode m);
// `<base>.weight` -> `<base>.weight_scale[_inv]`.
std::string fp8_scale_name(const std::string& weight_name, Fp8ScaleMode m);
// Shape of the scale tensor of a [N, K] weight: [] | [N, 1] | [ceil(N/bn), ceil(K/bk)].
Shape fp8_scale_shape(const Fp8Spec& spec, int64_t n, int64_t k);

// The scales of one logical [N, K] weight (all of it, not a shard).
struct Fp8Scales {
  Fp8Spec spec;
  int64_t n = 0, k = 0;
  std::vector<float> s;  // laid out as fp8_scale_shape()
  float at(int64_t row, int64_t col) const {
    switch (spec.mode) {
      case Fp8ScaleMode::Tensor: return s[0];
      case Fp8ScaleMode::Channel: return s[size_t(row)];
      case Fp8ScaleMode::Block: break;
    }
    const int64_t kb = (k + spec.block_k - 1) / spec.block_k;
    return s[size_t(row / spec.block_n * kb + col / spec.block_k)];
  }
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
// `axis` (0 rows, 1 columns). Tensor: the scalar (never split); channel: rows on axis 0,
// all rows on axis 1; block: whole blocks, so the shard must start on a block boundary and
// end on one or at the edge (the message names tensor, range and block size otherwise).
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
