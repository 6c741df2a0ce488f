#include "libmodel/stored_weight.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "kernels/codecs.h"
#include "kernels/cpu/lookup_scale.h"
#include "kernels/cpu/work_pool.h"

namespace g2 {

StoredWeight::~StoredWeight() {
  if (release) release();
}

StoredWeight StoredWeight::slice(int axis, int64_t begin, int64_t end) const {
  G2_ASSERT(axis == 0 || axis == 1);
  G2_ASSERT(0 <= begin && begin <= end && end <= (axis == 0 ? rows : cols));
  StoredWeight s;
  s.dtype = dtype;
  s.rows = axis == 0 ? end - begin : rows;
  s.cols = axis == 1 ? end - begin : cols;
  s.scales = scales;
  s.row_origin = row_origin + (axis == 0 ? begin : 0);
  s.col_origin = col_origin + (axis == 1 ? begin : 0);
  const size_t esize = dtype_size(dtype);
  for (const StoredBlock& b : blocks) {
    const int64_t lo = std::max(begin, axis == 0 ? b.row0 : b.col0);
    const int64_t hi = std::min(end, (axis == 0 ? b.row0 + b.rows : b.col0 + b.cols));
    if (lo >= hi) continue;
    StoredBlock c = b;
    const auto* p = static_cast<const uint8_t*>(b.data);
    if (axis == 0) {
      c.row0 = lo - begin;
      c.rows = hi - lo;
      c.data = p + size_t(lo - b.row0) * size_t(b.ld) * esize;
    } else {
      c.col0 = lo - begin;
      c.cols = hi - lo;
      c.data = p + size_t(lo - b.col0) * esize;
    }
    s.blocks.push_back(c);
  }
  return s;
}

void StoredWeight::dequantize_block_rows(const StoredBlock& b, int64_t r0, int64_t r1, float* out, int64_t ldo) const {
  G2_ASSERT(0 <= r0 && r0 <= r1 && r1 <= b.rows);
  for (int64_t r = r0; r < r1; ++r) {
    float* o = out + (r - r0) * ldo;
    switch (dtype) {
      case DType::F32:
        std::memcpy(o, static_cast<const float*>(b.data) + r * b.ld, size_t(b.cols) * sizeof(float));
        break;
      case DType::BF16: {
        const uint16_t* w = static_cast<const uint16_t*>(b.data) + r * b.ld;
        for (int64_t c = 0; c < b.cols; ++c) o[c] = bf16{w[c]}.to_float();
        break;
      }
      case DType::F8_E4M3: {
        G2_ASSERT(scales.has_value());
        // decode(q) * scale(row, col), as the converter's fp8_dequantize_rect computes it (a
        // codec-filled table times the scale of the element's run; Fp8Scales::at is the scale
        // rule), gathered 16 at a time. Tested bit for bit against CheckpointWeights::matrix.
        const float* decoded = e4m3_decode_table();
        const uint8_t* q = static_cast<const uint8_t*>(b.data) + r * b.ld;
        const int64_t grow = row_origin + b.row0 + r, gcol = col_origin + b.col0;
        // Columns sharing one scale: the whole row unless block scales cut it every block_k.
        const int64_t run = scales->spec.mode == Fp8ScaleMode::Block ? scales->spec.block_k : b.cols;
        for (int64_t c = 0; c < b.cols;) {
          const int64_t n = std::min(b.cols - c, run - (gcol + c) % run);
          lookup_scale_u8(q + c, n, decoded, scales->at(grow, gcol + c), o + c);
          c += n;
        }
        break;
      }
      default: G2_ASSERT(false && "StoredWeight holds F32, BF16 or F8_E4M3 only");
    }
  }
}

StoredWeight StoredWeight::from_f32(std::vector<float> values, int64_t rows, int64_t cols) {
  G2_ASSERT(values.size() == size_t(rows) * size_t(cols));
  StoredWeight w;
  w.dtype = DType::F32;
  w.rows = rows;
  w.cols = cols;
  w.owned = std::move(values);
  w.blocks.push_back(StoredBlock{0, 0, rows, cols, w.owned.data(), cols});
  return w;
}

std::vector<float> StoredWeight::dequantize() const {
  std::vector<float> m(size_t(rows) * size_t(cols));  // [rows, cols]
  dequantize_into(m.data());
  return m;
}

void StoredWeight::dequantize_into(float* out, WorkPool* pool) const {
  // Work items of up to 64 rows of one block: rows of a block are independent, and 64 rows of
  // a Grok-2 weight are 0.5-2 MB, enough to amortise the hand-off.
  constexpr int64_t kRows = 64;
  std::vector<std::pair<size_t, int64_t>> items;  // (block, first row)
  for (size_t i = 0; i < blocks.size(); ++i)
    for (int64_t r = 0; r < blocks[i].rows; r += kRows) items.push_back({i, r});
  auto part = [&](int k, int /*participant*/) {
    const auto [i, r0] = items[size_t(k)];
    const StoredBlock& b = blocks[i];
    dequantize_block_rows(b, r0, std::min(b.rows, r0 + kRows),
                          out + size_t(b.row0 + r0) * size_t(cols) + size_t(b.col0), cols);
  };
  if (pool && pool->max_participants() > 1 && items.size() > 1) {
    pool->run(int(items.size()), part);
  } else {
    for (size_t k = 0; k < items.size(); ++k) part(int(k), 0);
  }
}

}  // namespace g2
