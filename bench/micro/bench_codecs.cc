// Codec throughput (GB/s of input bytes): the inner loops of every conversion.
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/codecs.h"

namespace {

constexpr size_t kN = 1 << 22;  // 4M elements: larger than L2, like a tensor row chunk

std::vector<float> random_floats() {
  std::vector<float> v(kN);
  std::mt19937 rng(1);
  std::normal_distribution<float> d(0.0f, 0.05f);
  for (auto& x : v) x = d(rng);
  return v;
}

void BM_f32_to_bf16(benchmark::State& st) {
  auto in = random_floats();
  std::vector<uint16_t> out(kN);
  for (auto _ : st) {
    for (size_t i = 0; i < kN; ++i) out[i] = g2::bf16::from_float(in[i]).bits;
    benchmark::DoNotOptimize(out.data());
  }
  st.SetBytesProcessed(int64_t(st.iterations()) * kN * 4);
}

void BM_bf16_to_f32(benchmark::State& st) {
  std::vector<uint16_t> in(kN);
  for (size_t i = 0; i < kN; ++i) in[i] = uint16_t(0x3c00 + (i & 0xff));
  std::vector<float> out(kN);
  for (auto _ : st) {
    for (size_t i = 0; i < kN; ++i) out[i] = g2::bf16{in[i]}.to_float();
    benchmark::DoNotOptimize(out.data());
  }
  st.SetBytesProcessed(int64_t(st.iterations()) * kN * 2);
}

void BM_f32_to_e4m3(benchmark::State& st) {
  auto in = random_floats();
  std::vector<uint8_t> out(kN);
  const float inv_scale = 448.0f / 0.3f;
  for (auto _ : st) {
    for (size_t i = 0; i < kN; ++i) out[i] = g2::fp8_e4m3::from_float(in[i] * inv_scale).bits;
    benchmark::DoNotOptimize(out.data());
  }
  st.SetBytesProcessed(int64_t(st.iterations()) * kN * 4);
}

void BM_e4m3_to_f32(benchmark::State& st) {
  std::vector<uint8_t> in(kN);
  for (size_t i = 0; i < kN; ++i) in[i] = uint8_t(i * 7) & 0x7e;
  std::vector<float> out(kN);
  for (auto _ : st) {
    for (size_t i = 0; i < kN; ++i) out[i] = g2::fp8_e4m3{in[i]}.to_float() * 0.01f;
    benchmark::DoNotOptimize(out.data());
  }
  st.SetBytesProcessed(int64_t(st.iterations()) * kN);
}

// Grok-1 dequant: bf16(int8 * bf16 scale), per output channel.
void BM_int8_dequant_bf16(benchmark::State& st) {
  const size_t cols = 4096, rows = kN / cols;
  std::vector<int8_t> w(kN);
  for (size_t i = 0; i < kN; ++i) w[i] = int8_t((i * 31) & 0xff);
  std::vector<uint16_t> scales(cols, g2::bf16::from_float(0.01f).bits), out(kN);
  for (auto _ : st) {
    for (size_t r = 0; r < rows; ++r)
      for (size_t c = 0; c < cols; ++c)
        out[r * cols + c] = g2::bf16::from_float(float(w[r * cols + c]) * g2::bf16{scales[c]}.to_float()).bits;
    benchmark::DoNotOptimize(out.data());
  }
  st.SetBytesProcessed(int64_t(st.iterations()) * kN);
}

void BM_amax(benchmark::State& st) {
  auto in = random_floats();
  for (auto _ : st) {
    float m = 0.0f;
    for (size_t i = 0; i < kN; ++i) m = std::fmax(m, std::fabs(in[i]));
    benchmark::DoNotOptimize(m);
  }
  st.SetBytesProcessed(int64_t(st.iterations()) * kN * 4);
}

}  // namespace

BENCHMARK(BM_f32_to_bf16);
BENCHMARK(BM_bf16_to_f32);
BENCHMARK(BM_f32_to_e4m3);
BENCHMARK(BM_e4m3_to_f32);
BENCHMARK(BM_int8_dequant_bf16);
BENCHMARK(BM_amax);
BENCHMARK_MAIN();
