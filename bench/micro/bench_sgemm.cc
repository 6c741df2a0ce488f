// OpenBLAS sgemm throughput at the shapes of one real Grok-2 layer's linears for T tokens
// (the CPU backend's path beyond 256 tokens is f32 panels + sgemm), so bench/run.sh can set a
// forward's GFLOP/s against what sgemm does on the same machine in the same run. Prints one
// JSON line: the best of 2 timed calls per shape (after a warm-up call) and their FLOP-weighted
// throughput. Not a Google Benchmark: bench/run.sh parses the line.
//   usage: bench_sgemm [TOKENS] [HIDDEN] [EXPERT_FFN]   (default 1032 8192 16384)
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// y[T, N] = x[T, K] * W[N, K]^T, as the backend multiplies activations by [out, in] weights.
double best_seconds(int T, int N, int K) {
  std::vector<float> x(size_t(T) * size_t(K), 0.5f), w(size_t(N) * size_t(K), 0.25f), y(size_t(T) * size_t(N));
  double best = 1e30;
  for (int rep = 0; rep < 3; ++rep) {
    const double t0 = now_s();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, N, K, 1.0f, x.data(), K, w.data(), K, 0.0f, y.data(), N);
    if (rep > 0) best = std::min(best, now_s() - t0);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const int T = argc > 1 ? std::atoi(argv[1]) : 1032;
  const int H = argc > 2 ? std::atoi(argv[2]) : 8192;
  const int M = argc > 3 ? std::atoi(argv[3]) : 16384;
  struct Shape {
    const char* what;
    int n, k;
  };
  // a q/o projection, an expert's (or the dense FFN's) up and its down projection
  const Shape shapes[] = {{"attn_q", H, H}, {"ffn_up", M, H}, {"ffn_down", H, M}};
  double flops = 0, secs = 0;
  std::printf("{\"tokens\": %d, \"shapes\": [", T);
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; ++i) {
    const Shape& s = shapes[i];
    const double t = best_seconds(T, s.n, s.k), f = 2.0 * T * s.n * double(s.k);
    flops += f;
    secs += t;
    std::printf("%s{\"what\": \"%s\", \"n\": %d, \"k\": %d, \"seconds\": %.4f, \"gflop_per_s\": %.1f}", i ? ", " : "",
                s.what, s.n, s.k, t, f / t / 1e9);
  }
  std::printf("], \"gflop_per_s\": %.1f, \"threads\": %d}\n", flops / secs / 1e9, openblas_get_num_threads());
  return 0;
}
