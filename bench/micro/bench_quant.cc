// The converter's own quantisation loops (libconvert/quant/quant.h), GB/s of f32 (or int8) input:
// what g2convert --dtype fp8 and the Grok-1 upgrade spend their CPU time in. bench_codecs.cc
// times the bare per-element codecs; these time the library functions that call them.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "kernels/codecs.h"
#include "libconvert/quant/quant.h"

namespace {

constexpr int64_t kRows = 1024, kCols = 4096;  // one 16 MiB f32 row chunk of a hidden-4096 weight
constexpr size_t kN = size_t(kRows * kCols);

std::vector<float> weights() {
  std::vector<float> v(kN);
  std::mt19937 rng(1);
  std::normal_distribution<float> d(0.0f, 0.02f);
  for (auto& x : v) x = d(rng);
  return v;
}

g2::Fp8Scales block_scales(const std::vector<float>& w) {
  g2::Fp8ScaleBuilder b(g2::Fp8Spec{}, kRows, kCols, "bench");
  (void)b.add_rows(0, kRows, w.data());
  return b.finish();
}

// amax per 128x128 block + the finite check (pass 1 of an FP8 conversion)
void BM_fp8_block_amax(benchmark::State& st) {
  auto w = weights();
  for (auto _ : st) {
    g2::Fp8ScaleBuilder b(g2::Fp8Spec{}, kRows, kCols, "bench");
    benchmark::DoNotOptimize(b.add_rows(0, kRows, w.data()).ok());
  }
  st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(kN) * 4);
}

void BM_fp8_block_quantize(benchmark::State& st) {
  auto w = weights();
  auto sc = block_scales(w);
  std::vector<uint8_t> q(kN);
  for (auto _ : st) {
    g2::fp8_quantize_rect(sc, 0, kRows, 0, kCols, w.data(), q.data());
    benchmark::DoNotOptimize(q.data());
  }
  st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(kN) * 4);
}

void BM_fp8_block_dequantize(benchmark::State& st) {
  auto w = weights();
  auto sc = block_scales(w);
  std::vector<uint8_t> q(kN);
  g2::fp8_quantize_rect(sc, 0, kRows, 0, kCols, w.data(), q.data());
  std::vector<float> back(kN);
  for (auto _ : st) {
    g2::fp8_dequantize_rect(sc, 0, kRows, 0, kCols, q.data(), back.data());
    benchmark::DoNotOptimize(back.data());
  }
  st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(kN));
}

// the round-trip error statistics every lossy conversion reports
void BM_quant_error(benchmark::State& st) {
  auto w = weights();
  auto back = w;
  for (auto& x : back) x *= 1.001f;
  for (auto _ : st) {
    g2::QuantError e;
    e.add(w.data(), back.data(), kN);
    benchmark::DoNotOptimize(e.sum_sq_err);
  }
  st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(kN) * 4);
}

// Grok-1 int8 -> bf16 with per-channel bf16 scales, 8 scale groups (the upgrade's inner loop)
void BM_grok1_dequantize_rows(benchmark::State& st) {
  std::vector<int8_t> w(kN);
  for (size_t i = 0; i < kN; ++i) w[i] = int8_t((i * 31) & 0xff);
  const int G = 8;
  std::vector<uint16_t> scales(size_t(G * kCols), g2::bf16::from_float(0.01f).bits), out(kN);
  for (auto _ : st) {
    g2::grok1_dequantize_rows(w.data(), scales.data(), kRows, kCols, G, 0, kRows, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(kN));
}

}  // namespace

BENCHMARK(BM_fp8_block_amax);
BENCHMARK(BM_fp8_block_quantize);
BENCHMARK(BM_fp8_block_dequantize);
BENCHMARK(BM_quant_error);
BENCHMARK(BM_grok1_dequantize_rows);
BENCHMARK_MAIN();
