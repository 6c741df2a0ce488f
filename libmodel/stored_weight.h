// StoredWeight: a typed, zero-copy view of a weight where the checkpoint stores it (the
// mapped safetensors bytes), for backends that multiply by stored weights in place instead
// of by a dequantized f32 copy (Backend::matmul_stored). The logical weight is [rows = out,
// cols = in] (PyTorch order); a Grok-2 TP/rank set splits it over rank files, so the view is
// a list of rectangular blocks, each with its own pointer and leading dimension.
//
// Dequantized value of element (r, c): F32 as is, BF16 widened (kernels/codecs.h), F8_E4M3
// decode(q) * scales.at(r, c) with (r, c) in the whole logical weight (libconvert/quant/quant.h,
// the same function CheckpointWeights::matrix uses), so every path sees the same f32 weight
// bit for bit. Other dtypes (Grok-1 int8, F16...) have no view: WeightSource::stored returns
// nullopt and the forward uses WeightSource::matrix.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "libconvert/dtype.h"
#include "libconvert/quant/quant.h"

namespace g2 {

class WorkPool;  // kernels/cpu/work_pool.h

struct StoredBlock {
  int64_t row0 = 0, col0 = 0;  // position in the view's [rows, cols]
  int64_t rows = 0, cols = 0;
  const void* data = nullptr;  // element (row0 + r, col0 + c) at data[r * ld + c]
  int64_t ld = 0;              // elements between consecutive rows
};

class StoredWeight {
 public:
  StoredWeight() = default;
  StoredWeight(StoredWeight&&) noexcept = default;
  StoredWeight& operator=(StoredWeight&&) noexcept = default;
  StoredWeight(const StoredWeight&) = delete;
  StoredWeight& operator=(const StoredWeight&) = delete;
  // Runs the release hook (the source drops the pages behind the tensor, as after a read).
  ~StoredWeight();

  DType dtype = DType::BF16;  // F32, BF16 or F8_E4M3
  int64_t rows = 0, cols = 0;
  std::vector<StoredBlock> blocks;  // disjoint, together covering [rows, cols]
  // F8_E4M3 only: the whole logical weight's scales; this view's (0, 0) is the logical
  // weight's (row_origin, col_origin) (a TP shard of it).
  std::optional<Fp8Scales> scales;
  int64_t row_origin = 0, col_origin = 0;
  std::function<void()> release;  // optional, run once by the destructor

  // The part of this view that rank-style sharding keeps: [begin, end) along axis 0 (rows)
  // or 1 (cols), re-based to start at 0. Blocks are clipped, pointers offset, scales shared
  // (copied); the slice has no release hook (its parent keeps the pages).
  StoredWeight slice(int axis, int64_t begin, int64_t end) const;
  // Rows [r0, r1) (relative to the block) of block b, dequantized: out[(r - r0) * ldo + c].
  void dequantize_block_rows(const StoredBlock& b, int64_t r0, int64_t r1, float* out, int64_t ldo) const;
  // The whole view as f32 [rows, cols], row-major.
  std::vector<float> dequantize() const;
  // The same values into out[rows * cols] (row-major), split over `pool`'s threads in row
  // chunks when given (the CUDA backend fills its pinned upload buffer this way).
  void dequantize_into(float* out, WorkPool* pool = nullptr) const;
  // An F32 view that owns its f32 [rows, cols] values (a weight computed in memory, e.g. an
  // FP8 round trip): one block over `owned`.
  static StoredWeight from_f32(std::vector<float> values, int64_t rows, int64_t cols);

  std::vector<float> owned;  // from_f32's storage (a moved vector keeps its buffer)
};

}  // namespace g2
