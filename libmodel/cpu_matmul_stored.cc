#include "libmodel/cpu_matmul_stored.h"

#include <cblas.h>

#include <algorithm>
#include <cstring>

#include "kernels/cpu/matmul_rows.h"

namespace g2 {
namespace {

constexpr int64_t kFp8PanelRows = 16;                     // rows dequantized at once per thread (stays in L2)
// The sgemm path's f32 panel: 32 MiB. sgemm packs all of x for every call, so a panel of few
// rows spends its time packing (a 4 MiB panel, 128 rows of a Grok-2 weight against 1032 tokens:
// 11% of the forward's samples in OpenBLAS's sgemm_oncopy, bench/NOTES.md).
constexpr int64_t kGemmPanelFloats = int64_t(1) << 23;
constexpr int64_t kMinParallelElems = int64_t(1) << 18;   // below this, splitting costs more than it saves

// Blocks sharing one row range, side by side in column order with no gaps: one logical row
// band of the weight (a TP set's row-parallel weight is one band of tp blocks; a
// column-parallel one tp bands of one block). Multiplying a band as a whole makes the result
// independent of how the files split it (kernels/cpu/matmul_rows.h).
struct Band {
  int64_t row0, rows, col0, cols;
  std::vector<const StoredBlock*> blocks;
};

std::vector<Band> bands_of(const StoredWeight& w) {
  std::vector<const StoredBlock*> bs;
  for (const StoredBlock& b : w.blocks)
    if (b.rows > 0 && b.cols > 0) bs.push_back(&b);
  std::stable_sort(bs.begin(), bs.end(), [](const StoredBlock* a, const StoredBlock* b) {
    return a->row0 != b->row0 ? a->row0 < b->row0 : a->rows != b->rows ? a->rows < b->rows : a->col0 < b->col0;
  });
  std::vector<Band> out;
  for (const StoredBlock* b : bs) {
    Band* last = out.empty() ? nullptr : &out.back();
    if (last && last->row0 == b->row0 && last->rows == b->rows && last->col0 + last->cols == b->col0) {
      last->cols += b->cols;
      last->blocks.push_back(b);
    } else {
      out.push_back(Band{b->row0, b->rows, b->col0, b->cols, {b}});
    }
  }
  return out;
}

// Rows [r0, r1) (relative to the band) of a band, dequantized: out[(r - r0) * band.cols + c].
void dequantize_band_rows(const StoredWeight& w, const Band& band, int64_t r0, int64_t r1, float* out) {
  for (const StoredBlock* b : band.blocks) w.dequantize_block_rows(*b, r0, r1, out + (b->col0 - band.col0), band.cols);
}

// Rows [r0, r1) of a band times x: y[:, band.row0 + r] += ...
void band_rows(const StoredWeight& w, const Band& band, int64_t r0, int64_t r1, const float* x, int ldx, float* y,
               int ldy, int T, std::vector<float>& panel) {
  float* yb = y + band.row0 + r0;
  if (w.dtype == DType::BF16 || w.dtype == DType::F32) {
    WeightSegment seg[64];
    std::vector<WeightSegment> many;
    WeightSegment* s = band.blocks.size() <= 64 ? seg : (many.resize(band.blocks.size()), many.data());
    const size_t es = dtype_size(w.dtype);
    for (size_t i = 0; i < band.blocks.size(); ++i) {
      const StoredBlock& b = *band.blocks[i];
      s[i] = WeightSegment{static_cast<const uint8_t*>(b.data) + size_t(r0) * size_t(b.ld) * es, b.ld, b.col0, b.cols};
    }
    const int n = int(band.blocks.size());
    if (w.dtype == DType::BF16)
      matmul_rows_bf16(x, ldx, s, n, yb, ldy, T, r1 - r0);
    else
      matmul_rows_f32(x, ldx, s, n, yb, ldy, T, r1 - r0);
    return;
  }
  // FP8: the view's own dequantizer, a panel of whole band rows at a time, then the f32 kernel
  // on the panel (one contiguous segment: the same arithmetic as an f32 copy of the weight).
  panel.resize(size_t(kFp8PanelRows * band.cols));
  for (int64_t p = r0; p < r1; p += kFp8PanelRows) {
    const int64_t q = std::min(r1, p + kFp8PanelRows);
    dequantize_band_rows(w, band, p, q, panel.data());
    const WeightSegment seg{panel.data(), band.cols, band.col0, band.cols};
    matmul_rows_f32(x, ldx, &seg, 1, y + band.row0 + p, ldy, T, q - p);
  }
}

void fused(WorkPool& pool, const float* x, int ldx, const StoredWeight& w, const std::vector<Band>& bands, float* y,
           int ldy, int T) {
  const int64_t N = w.rows;
  // A few parts per thread: on a shared machine a descheduled thread's share is picked up by
  // the others. Each output element is computed the same way whatever the split.
  int parts = w.rows * w.cols < kMinParallelElems ? 1 : 4 * pool.max_participants();
  // Whole 16-row groups per part, so the kernel's row tiles are rarely cut.
  const int64_t per = ((N + parts - 1) / parts + 15) / 16 * 16;
  parts = int((N + per - 1) / per);
  pool.run(parts, [&](int part, int /*participant*/) {
    thread_local std::vector<float> panel;
    const int64_t n0 = part * per, n1 = std::min(N, n0 + per);
    for (const Band& b : bands) {
      const int64_t lo = std::max(n0, b.row0), hi = std::min(n1, b.row0 + b.rows);
      if (lo < hi) band_rows(w, b, lo - b.row0, hi - b.row0, x, ldx, y, ldy, T, panel);
    }
  });
}

void gemm_panels(const float* x, int ldx, const StoredWeight& w, const std::vector<Band>& bands, float* y, int ldy,
                 int T) {
  thread_local std::vector<float> panel;
  for (const Band& b : bands) {
    const int64_t pr = std::clamp<int64_t>(kGemmPanelFloats / b.cols, 1, b.rows);
    panel.resize(size_t(pr * b.cols));
    for (int64_t p = 0; p < b.rows; p += pr) {
      const int64_t q = std::min(b.rows, p + pr);
      dequantize_band_rows(w, b, p, q, panel.data());  // [q - p, b.cols]
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, int(q - p), int(b.cols), 1.0f, x + b.col0, ldx,
                  panel.data(), int(b.cols), 1.0f, y + b.row0 + p, ldy);
    }
  }
}

}  // namespace

void cpu_matmul_stored(WorkPool& pool, const float* x, int ldx, const StoredWeight& w, float* y, int ldy, int T,
                       bool accumulate) {
  if (T <= 0 || w.rows == 0) return;
  // Every band adds into y, so start from zero.
  if (!accumulate)
    for (int t = 0; t < T; ++t) std::memset(y + size_t(t) * size_t(ldy), 0, size_t(w.rows) * sizeof(float));
  if (w.cols == 0) return;
  const std::vector<Band> bands = bands_of(w);
  if (T <= kFusedMaxTokens)
    fused(pool, x, ldx, w, bands, y, ldy, T);
  else
    gemm_panels(x, ldx, w, bands, y, ldy, T);
}

}  // namespace g2
