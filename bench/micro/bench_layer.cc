// One decoder layer forward on the CPU backend (libmodel run_forward, num_layers = 1) for 1, 8
// and 128 tokens, next to the memory-bandwidth bound: bytes of stored weights the layer touches
// (attention, dense FFN, router, norms, the experts the tokens were routed to, the embedding
// rows, and the final norm + output projection when the model has a single layer, since the
// forward then computes the logits too), counted from the checkpoint's own tensors (any stored
// dtype), divided by a measured memcpy bandwidth. Not a Google Benchmark: bench/run.sh parses
// the one JSON line per token count this prints.
//   usage: bench_layer [--old-path] [--keep-mapped] CHECKPOINT_DIR [CONFIG] [TOKEN_COUNTS...]
//   --old-path: ForwardOptions::fused_weights = false (dequantized f32 copies + sgemm, the
//   path before the fused matmul on stored weights), for before/after figures.
//   --keep-mapped: CheckpointWeights::set_release_views(false): the weights' pages stay mapped
//   between the reps (steady-state decode) instead of being dropped after each use and
//   faulted back in by the next forward (the runtime's default memory contract).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "bench/layer_bytes.h"
#include "kernels/cpu/matmul_rows.h"
#include "kernels/cpu/work_pool.h"
#include "libconvert/layout/layout.h"
#include "libconvert/source/source.h"
#include "libmodel/backend.h"
#include "libmodel/forward.h"
#include "libmodel/weights.h"

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// CPU seconds of the whole process (all threads): on a shared machine wall time includes
// waiting for a core; this does not.
double cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// Copy bandwidth in bytes/s (bytes copied, i.e. read once + written once), best of 5 over
// 256 MiB: far larger than any cache.
double memcpy_bandwidth() {
  const size_t n = size_t(256) << 20;
  std::vector<char> a(n, 1), b(n, 2);
  double best = 1e30;
  for (int i = 0; i < 5; ++i) {
    double t0 = now_s();
    std::memcpy(b.data(), a.data(), n);
    double dt = now_s() - t0;
    best = std::min(best, dt);
    a[size_t(i)] = b[n - 1 - size_t(i)];  // keep both buffers live
  }
  return double(n) / best;
}

// Read-only streaming bandwidth in bytes/s with `threads` threads each summing its share of a
// 512 MiB buffer (best of 5): what a kernel that only reads its weights can reach at most. The
// target's bound (bench/collect.py) uses memcpy (each byte read and written), which such a kernel can beat; this
// second, stricter bound is reported next to it.
double read_bandwidth(int threads) {
  const size_t n = size_t(512) << 20, words = n / sizeof(uint64_t);
  std::vector<uint64_t> a(words, 1);
  std::vector<uint64_t> sums(size_t(threads), 0);
  double best = 1e30;
  for (int i = 0; i < 5; ++i) {
    double t0 = now_s();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        const size_t b = words * size_t(t) / size_t(threads), e = words * size_t(t + 1) / size_t(threads);
        uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        size_t k = b;
        for (; k + 4 <= e; k += 4) {
          s0 += a[k];
          s1 += a[k + 1];
          s2 += a[k + 2];
          s3 += a[k + 3];
        }
        for (; k < e; ++k) s0 += a[k];
        sums[size_t(t)] += s0 + s1 + s2 + s3;
      });
    for (auto& th : pool) th.join();
    best = std::min(best, now_s() - t0);
  }
  uint64_t total = 0;
  for (uint64_t s : sums) total += s;
  if (total != uint64_t(words) * 5) std::fprintf(stderr, "bench_layer: read bandwidth check failed\n");
  return double(n) / best;
}

}  // namespace

double load_average() {
  double l = -1;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &l) != 1) l = -1;
    std::fclose(f);
  }
  return l;
}

int main(int argc, char** argv) {
  bool old_path = false, keep_mapped = false;
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--old-path")
      old_path = true;
    else if (std::string(argv[i]) == "--keep-mapped")
      keep_mapped = true;
    else
      args.push_back(argv[i]);
  }
  if (args.empty()) {
    std::fprintf(stderr, "usage: bench_layer [--old-path] [--keep-mapped] CHECKPOINT_DIR [CONFIG] [TOKEN_COUNTS...]\n");
    return 2;
  }
  std::string config = args.size() > 1 ? args[1] : "";
  std::vector<int> counts;
  for (size_t i = 2; i < args.size(); ++i) counts.push_back(std::atoi(args[i].c_str()));
  if (counts.empty()) counts = {1, 8, 128};

  auto src = g2::open_checkpoint(args[0], config);
  if (!src) {
    std::fprintf(stderr, "bench_layer: %s\n", src.message().c_str());
    return 2;
  }
  g2::CheckpointWeights w(std::move(*src));
  w.set_release_views(!keep_mapped);
  const auto& c = w.config();
  auto be = g2::make_cpu_backend();
  const double bw = memcpy_bandwidth();
  const int threads = g2::WorkPool::cores();  // the CPU backend's pool size
  const double read_bw = read_bandwidth(threads);

  const auto layout = g2::layout_for(w.family(), c);
  const double dense = g2::bench::dense_layer0(w.source(), layout, c).bytes;
  const double emb_row = g2::bench::embedding_row(w.source(), layout).bytes;

  for (int T : counts) {
    std::vector<int32_t> tokens(static_cast<size_t>(T), 0);
    for (int i = 0; i < T; ++i) tokens[size_t(i)] = int32_t((i * 7919 + 3) % c.vocab_size);
    g2::ForwardOptions opt;
    opt.num_layers = 1;
    opt.fused_weights = !old_path;
    double best = 1e30, best_cpu = 0;
    int64_t touched_experts = 0;
    double expert_bytes = 0;
    for (int rep = 0; rep < 5; ++rep) {  // rep 0 warms the page cache; best of the other 4
      double t0 = now_s(), c0 = cpu_s();
      auto rec = g2::run_forward(w, *be, tokens, opt);
      double dt = now_s() - t0, dc = cpu_s() - c0;
      if (!rec) {
        std::fprintf(stderr, "bench_layer: %s\n", rec.message().c_str());
        return 1;
      }
      std::set<int32_t> used(rec->layers[0].experts.begin(), rec->layers[0].experts.end());
      touched_experts = int64_t(used.size());
      expert_bytes = g2::bench::experts_layer0(w.source(), layout, used).bytes;
      if (rep > 0 && dt < best) {
        best = dt;
        best_cpu = dc;
      }
    }
    const double bytes = dense + expert_bytes + double(T) * emb_row;
    const double bound = bytes / bw;
    std::printf(
        "{\"tokens\": %d, \"seconds\": %.6f, \"cpu_seconds\": %.6f, \"weight_bytes\": %.0f, \"experts_touched\": %lld, "
        "\"memcpy_bytes_per_s\": %.0f, \"bound_seconds\": %.6f, \"ratio\": %.3f, \"path\": \"%s\", "
        "\"keep_mapped\": %s, \"isa\": \"%s\", \"loadavg1\": %.2f, \"read_threads\": %d, "
        "\"read_bytes_per_s\": %.0f, \"read_bound_seconds\": %.6f, \"read_ratio\": %.3f}\n",
        T, best, best_cpu, bytes, static_cast<long long>(touched_experts), bw, bound, best / bound,
        old_path ? "dequantized" : "fused", keep_mapped ? "true" : "false", g2::matmul_rows_isa(), load_average(),
        threads, read_bw, bytes / read_bw, best / (bytes / read_bw));
    std::fflush(stdout);
  }
  return 0;
}
