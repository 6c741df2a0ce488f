// One decoder-layer forward (libmodel run_forward, a one-layer checkpoint: layer 0 then the
// logits) on the CUDA backend and on the CPU backend, for 1, 8 and 128 tokens, next to the
// device bandwidth bound: stored weight bytes the layer touches (bench/layer_bytes.h) divided
// by the measured device-to-device copy bandwidth (cudaMemcpy D2D, bytes copied per second,
// best of 5 over 1 GiB). The GPU forward today receives f32 weights from the host
// (Backend::matmul_stored's default: dequantize on the host, upload), so the f32 bytes and the
// measured pinned host-to-device bandwidth are printed too: they explain the distance to the
// device bound. Each count also compares the GPU's layer-0 residual and logits with the CPU's
// (relative RMS): a timing of a wrong forward is no timing.
//   usage: bench_layer_gpu [--reps N] [--device D] [--keep-mapped] CHECKPOINT_DIR [TOKEN_COUNTS...]
// Prints one JSON line per token count (scripts/gpu-check.sh parses them); exit 0, 1 when
// the GPU and CPU records disagree beyond f32 summation order, 2 on bad input or no device.
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "bench/layer_bytes.h"
#include "libconvert/source/source.h"
#include "libmodel/compare.h"
#include "libmodel/cuda/cuda_backend.h"
#include "libmodel/forward.h"
#include "libmodel/weights.h"

namespace {

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// Best of 5 timed copies with events on one stream; bytes copied per second.
double copy_bandwidth(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  cudaStream_t s = nullptr;
  cudaEvent_t a = nullptr, b = nullptr;
  if (cudaStreamCreate(&s) != cudaSuccess || cudaEventCreate(&a) != cudaSuccess || cudaEventCreate(&b) != cudaSuccess)
    return 0;
  float best_ms = 1e30f;
  for (int i = 0; i < 6; ++i) {  // the first copy warms up
    cudaEventRecord(a, s);
    cudaMemcpyAsync(dst, src, bytes, kind, s);
    cudaEventRecord(b, s);
    if (cudaEventSynchronize(b) != cudaSuccess) return 0;
    float ms = 0;
    cudaEventElapsedTime(&ms, a, b);
    if (i > 0) best_ms = std::min(best_ms, ms);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  cudaStreamDestroy(s);
  return double(bytes) / (double(best_ms) * 1e-3);
}

struct Bandwidths {
  double d2d = 0, h2d = 0;
};

Bandwidths measure_bandwidths(int device) {
  Bandwidths bw;
  cudaSetDevice(device);
  const size_t n = size_t(1) << 30, h = size_t(256) << 20;
  void *x = nullptr, *y = nullptr, *pinned = nullptr;
  if (cudaMalloc(&x, n) == cudaSuccess && cudaMalloc(&y, n) == cudaSuccess) {
    cudaMemset(x, 1, n);
    bw.d2d = copy_bandwidth(y, x, n, cudaMemcpyDeviceToDevice);
    if (cudaHostAlloc(&pinned, h, cudaHostAllocDefault) == cudaSuccess) {
      std::fill_n(static_cast<char*>(pinned), h, char(1));
      bw.h2d = copy_bandwidth(y, pinned, h, cudaMemcpyHostToDevice);
      cudaFreeHost(pinned);
    }
  }
  cudaGetLastError();
  if (x) cudaFree(x);
  if (y) cudaFree(y);
  return bw;
}

struct Timed {
  double best = 1e30;
  g2::ActivationRecord rec;
};

// One warm-up run (page cache, device pool, cuBLAS heuristics), then the best of `reps`.
g2::Expected<Timed> time_forward(g2::WeightSource& w, g2::Backend& be, const std::vector<int32_t>& tokens, int reps) {
  g2::ForwardOptions opt;
  opt.num_layers = 1;
  Timed t;
  for (int rep = 0; rep <= reps; ++rep) {
    const double t0 = now_s();
    auto r = g2::run_forward(w, be, tokens, opt);
    const double dt = now_s() - t0;
    if (!r) return r.error();
    if (rep > 0) t.best = std::min(t.best, dt);
    t.rec = std::move(*r);
  }
  return t;
}

double rel_rms(const std::vector<float>& got, const std::vector<float>& ref) {
  g2::Tolerance tol;
  tol.elementwise = false;
  return g2::compare(got, ref, tol).rel_rms;
}

int usage() {
  std::fprintf(stderr,
               "usage: bench_layer_gpu [--reps N] [--device D] [--keep-mapped] CHECKPOINT_DIR [TOKEN_COUNTS...]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 2, device = 0;
  bool keep_mapped = false;
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "--reps" || a == "--device") && i + 1 < argc)
      (a == "--reps" ? reps : device) = std::atoi(argv[++i]);
    else if (a == "--keep-mapped")
      keep_mapped = true;
    else if (!a.empty() && a[0] == '-')
      return usage();
    else
      args.push_back(a);
  }
  if (args.empty() || reps < 1) return usage();
  std::vector<int> counts;
  for (size_t i = 1; i < args.size(); ++i) counts.push_back(std::atoi(args[i].c_str()));
  if (counts.empty()) counts = {1, 8, 128};

  auto src = g2::open_checkpoint(args[0], "");
  if (!src) {
    std::fprintf(stderr, "bench_layer_gpu: %s\n", src.message().c_str());
    return 2;
  }
  g2::CheckpointWeights w(std::move(*src));
  w.set_release_views(!keep_mapped);
  const g2::ModelConfig& c = w.config();
  auto gpu = g2::make_cuda_backend(device);
  if (!gpu) {
    std::fprintf(stderr, "bench_layer_gpu: %s\n", gpu.message().c_str());
    return 2;
  }
  auto cpu = g2::make_cpu_backend();
  const Bandwidths bw = measure_bandwidths(device);
  if (bw.d2d <= 0) {
    std::fprintf(stderr, "bench_layer_gpu: could not measure the device copy bandwidth\n");
    return 2;
  }
  const auto layout = g2::layout_for(w.family(), c);
  const g2::bench::Touched dense = g2::bench::dense_layer0(w.source(), layout, c);
  const g2::bench::Touched emb_row = g2::bench::embedding_row(w.source(), layout);

  bool all_agree = true;
  for (int T : counts) {
    if (T < 1) return usage();
    std::vector<int32_t> tokens(static_cast<size_t>(T));
    for (int i = 0; i < T; ++i) tokens[size_t(i)] = int32_t((int64_t(i) * 7919 + 3) % c.vocab_size);
    auto g = time_forward(w, **gpu, tokens, reps);
    if (!g) {
      std::fprintf(stderr, "bench_layer_gpu: cuda, %d tokens: %s\n", T, g.message().c_str());
      return 2;
    }
    auto h = time_forward(w, *cpu, tokens, reps);
    if (!h) {
      std::fprintf(stderr, "bench_layer_gpu: cpu, %d tokens: %s\n", T, h.message().c_str());
      return 2;
    }
    const auto& gl = g->rec.layers.at(0);
    const std::set<int32_t> used(gl.experts.begin(), gl.experts.end());
    g2::bench::Touched t = dense;
    t += g2::bench::experts_layer0(w.source(), layout, used);
    const double bytes = t.bytes + double(T) * emb_row.bytes;
    const double f32_bytes = 4.0 * t.elements;  // what reaches the device today (f32 copies)
    const double bound = bytes / bw.d2d;
    const double rr = rel_rms(gl.residual, h->rec.layers.at(0).residual);
    const double rl = rel_rms(g->rec.logits, h->rec.logits);
    // f32 on both sides: only summation order differs (the self-check's f32 bound).
    const bool agree = rr <= 1e-4 && rl <= 1e-4 && gl.experts == h->rec.layers.at(0).experts;
    all_agree = all_agree && agree;
    std::printf(
        "{\"tokens\": %d, \"gpu_seconds\": %.6f, \"cpu_seconds\": %.6f, \"weight_bytes\": %.0f, "
        "\"f32_weight_bytes\": %.0f, \"experts_touched\": %zu, \"d2d_bytes_per_s\": %.0f, \"bound_seconds\": %.6f, "
        "\"gpu_over_bound\": %.2f, \"h2d_bytes_per_s\": %.0f, \"h2d_f32_seconds\": %.6f, \"cpu_over_gpu\": %.3f, "
        "\"rel_rms_residual\": %.3g, \"rel_rms_logits\": %.3g, \"agree\": %s, \"reps\": %d, \"device\": \"%s\"}\n",
        T, g->best, h->best, bytes, f32_bytes, used.size(), bw.d2d, bound, g->best / bound, bw.h2d,
        bw.h2d > 0 ? f32_bytes / bw.h2d : 0.0, h->best / g->best, rr, rl, agree ? "true" : "false", reps,
        g2::cuda_device_description(device).c_str());
    std::fflush(stdout);
  }
  return all_agree ? 0 : 1;
}
