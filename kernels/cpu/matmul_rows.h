// y[T, N] += x[T, K] @ W^T with the weight rows W[N, K] read where they are stored (a mapped
// checkpoint): F32 or BF16 (widened by a 16-bit shift, kernels/codecs.h's bf16::to_float),
// f32 multiply-adds, f32 accumulation. The activations are never rounded. This is the inner
// loop of the CPU backend's matmul_stored (libmodel/cpu_matmul_stored.cc), which splits N
// over threads and handles FP8 and large T; one call here is single-threaded.
//
// Register tiling: up to 4 token rows of x against 5-8 weight rows per pass, 16 lanes per
// vector; with more tokens, chunks of weight rows that stay in L2 meet every group of 4
// tokens, so every weight byte is read from memory once. Compiled for
// AVX-512F, AVX2 and the baseline ISA in the same binary (GCC target_clones; the loader
// picks one), so the binary runs on any x86-64.
//
// Results differ from sgemm only by the f32 summation order.
#pragma once
#include <cstdint>

namespace g2 {

// One column range of the weight rows: row n's elements [col0, col0 + cols) of the logical
// row are at data[n * ld + 0 .. cols) (dtype by the function called). A row split over
// several files (a TP set's row-parallel weight) is several segments.
struct WeightSegment {
  const void* data;
  int64_t ld;  // elements between consecutive rows
  int64_t col0, cols;
};

// y[t * ldy + n] += sum over segments s, k < s.cols of x[t * ldx + s.col0 + k] * w_s[n, k],
// for t < T, n < N. T may be any size (processed 4 tokens at a time). Segments share the
// vector accumulators, so a row cut into segments whose widths (all but the last) are
// multiples of 16 gives bit for bit the result of the same row stored contiguously: the
// result does not depend on how a checkpoint splits its tensors.
void matmul_rows_f32(const float* x, int64_t ldx, const WeightSegment* seg, int nseg, float* y, int64_t ldy, int T,
                     int64_t N);
void matmul_rows_bf16(const float* x, int64_t ldx, const WeightSegment* seg, int nseg, float* y, int64_t ldy, int T,
                      int64_t N);

// Which code path the loader picked for the functions above ("avx512f", "avx2", "default").
const char* matmul_rows_isa();

}  // namespace g2
