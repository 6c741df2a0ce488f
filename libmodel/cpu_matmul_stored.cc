#include "libmodel/cpu_matmul_stored.h"

#include <cblas.h>

#include <algorithm>
#include <cstring>

#include "kernels/cpu/matmul_rows.h"

namespace g2 {
namespace {

constexpr int64_t kFp8PanelRows = 16;             // rows dequantized at once per thread (stays in L2)
constexpr int64_t kGemmPanelFloats = int64_t(1) << 20;  // 4 MiB f32 panel for the sgemm path
constexpr int64_t kMinParallelElems = int64_t(1) << 18;  // below this, splitting costs more than it saves

// Rows [r0, r1) of block b (relative to the block) times x: y[:, b.row0 + r] += ...
void block_rows(const StoredWeight& w, const StoredBlock& b, int64_t r0, int64_t r1, const float* x, int ldx, float* y,
                int ldy, int T, std::vector<float>& panel) {
  const float* xb = x + b.col0;
  float* yb = y + b.row0;
  switch (w.dtype) {
    case DType::BF16:
      matmul_rows_bf16(xb, ldx, static_cast<const uint16_t*>(b.data) + r0 * b.ld, b.ld, yb + r0, ldy, T, r1 - r0,
                       b.cols);
      return;
    case DType::F32:
      matmul_rows_f32(xb, ldx, static_cast<const float*>(b.data) + r0 * b.ld, b.ld, yb + r0, ldy, T, r1 - r0, b.cols);
      return;
    default:
      // FP8 (and anything else a view may hold): the view's own dequantizer, a panel at a time.
      panel.resize(size_t(kFp8PanelRows * b.cols));
      for (int64_t p = r0; p < r1; p += kFp8PanelRows) {
        const int64_t q = std::min(r1, p + kFp8PanelRows);
        w.dequantize_block_rows(b, p, q, panel.data(), b.cols);
        matmul_rows_f32(xb, ldx, panel.data(), b.cols, yb + p, ldy, T, q - p, b.cols);
      }
  }
}

void fused(CpuPool& pool, const float* x, int ldx, const StoredWeight& w, float* y, int ldy, int T) {
  const int64_t N = w.rows;
  // A few parts per thread: on a shared machine a descheduled thread's share is picked up by
  // the others. Each output element is computed the same way whatever the split.
  int parts = w.rows * w.cols < kMinParallelElems ? 1 : 4 * pool.size();
  // Whole 16-row groups per part, so the kernel's row tiles are rarely cut.
  const int64_t per = ((N + parts - 1) / parts + 15) / 16 * 16;
  parts = int((N + per - 1) / per);
  pool.run(parts, [&](int part) {
    thread_local std::vector<float> panel;
    const int64_t n0 = part * per, n1 = std::min(N, n0 + per);
    for (const StoredBlock& b : w.blocks) {
      const int64_t lo = std::max(n0, b.row0), hi = std::min(n1, b.row0 + b.rows);
      if (lo < hi) block_rows(w, b, lo - b.row0, hi - b.row0, x, ldx, y, ldy, T, panel);
    }
  });
}

void gemm_panels(const float* x, int ldx, const StoredWeight& w, float* y, int ldy, int T) {
  thread_local std::vector<float> panel;
  for (const StoredBlock& b : w.blocks) {
    if (b.cols == 0) continue;
    const int64_t pr = std::clamp<int64_t>(kGemmPanelFloats / b.cols, 1, b.rows);
    panel.resize(size_t(pr * b.cols));
    for (int64_t p = 0; p < b.rows; p += pr) {
      const int64_t q = std::min(b.rows, p + pr);
      w.dequantize_block_rows(b, p, q, panel.data(), b.cols);  // [q - p, b.cols]
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, int(q - p), int(b.cols), 1.0f, x + b.col0, ldx,
                  panel.data(), int(b.cols), 1.0f, y + b.row0 + p, ldy);
    }
  }
}

}  // namespace

void cpu_matmul_stored(CpuPool& pool, const float* x, int ldx, const StoredWeight& w, float* y, int ldy, int T,
                       bool accumulate) {
  if (T <= 0 || w.rows == 0) return;
  // Every block adds into y (column blocks of one row sum there), so start from zero.
  if (!accumulate)
    for (int t = 0; t < T; ++t) std::memset(y + size_t(t) * size_t(ldy), 0, size_t(w.rows) * sizeof(float));
  if (w.cols == 0) return;
  if (T <= kFusedMaxTokens)
    fused(pool, x, ldx, w, y, ldy, T);
  else
    gemm_panels(x, ldx, w, y, ldy, T);
}

}  // namespace g2
