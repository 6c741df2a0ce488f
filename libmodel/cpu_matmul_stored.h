// The CPU backend's Backend::matmul_stored: y[T, N] (+)= x[T, K] @ W^T with W read where the
// checkpoint stores it (StoredWeight blocks in the mapped files).
//   T <= kFusedMaxTokens: kernels/cpu/matmul_rows (BF16 and F32 read in place, f32 FMAs),
//     output rows split over the pool's threads; FP8 rows are dequantized a few at a time
//     into a per-thread f32 panel that stays in cache, then the same kernel. Single-threaded
//     on a 4096 x 4096 BF16 weight it ran at 81 / 102 / 116 GFLOP/s for T = 8 / 16 / 128,
//     OpenBLAS sgemm on the f32 copy at 24 / 54 / 96 (T = 16 / 32 / 128).
//   Longer prompts: rows are dequantized a panel at a time (32 MiB, reused across calls)
//     and multiplied by OpenBLAS sgemm panel by panel (its K blocking suits long prompts).
// Either way no weight-sized f32 copy is made and the f32 result differs from sgemm on the
// dequantized matrix only by the summation order. Blocks that split a row across files are
// multiplied as one row (a "band"), so the result does not depend on the checkpoint's layout
// (HF vs TP8 files) nor on the stored dtype when the values agree (an FP8 set vs its
// dequantized f32 copy): g2diff's exact parity gates rely on that.
#pragma once
#include <vector>

#include "kernels/cpu/work_pool.h"
#include "libmodel/stored_weight.h"

namespace g2 {

inline constexpr int kFusedMaxTokens = 256;

void cpu_matmul_stored(WorkPool& pool, const float* x, int ldx, const StoredWeight& w, float* y, int ldy, int T,
                       bool accumulate);

}  // namespace g2
