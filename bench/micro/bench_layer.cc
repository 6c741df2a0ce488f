// One decoder layer forward on the CPU backend (libmodel run_forward, num_layers = 1) for 1, 8
// and 128 tokens, next to the memory-bandwidth bound: bytes of stored weights the layer touches
// (attention, dense FFN, router, norms, the experts the tokens were routed to, the embedding
// rows) divided by a measured memcpy bandwidth. Not a Google Benchmark: bench/run.sh parses
// the one JSON line per token count this prints.
//   usage: bench_layer CHECKPOINT_DIR [CONFIG] [TOKEN_COUNTS...]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "libconvert/source.h"
#include "libmodel/backend.h"
#include "libmodel/forward.h"
#include "libmodel/weights.h"

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
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

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_layer CHECKPOINT_DIR [CONFIG] [TOKEN_COUNTS...]\n");
    return 2;
  }
  std::string config = argc > 2 ? argv[2] : "";
  std::vector<int> counts;
  for (int i = 3; i < argc; ++i) counts.push_back(std::atoi(argv[i]));
  if (counts.empty()) counts = {1, 8, 128};

  auto src = g2::open_checkpoint(argv[1], config);
  if (!src) {
    std::fprintf(stderr, "bench_layer: %s\n", src.message().c_str());
    return 2;
  }
  const int64_t stored_bytes_per_elem = 2;  // the bench sets are BF16
  g2::CheckpointWeights w(std::move(*src));
  const auto& c = w.config();
  auto be = g2::make_cpu_backend();
  const double bw = memcpy_bandwidth();

  const int64_t H = c.hidden_size;
  const int64_t dense = c.q_size() * H + 2 * c.kv_size() * H + H * c.q_size() + 3 * c.intermediate_size * H +
                        int64_t(c.num_local_experts) * H + 4 * H;
  const int64_t expert = 3 * c.moe_intermediate_size * H;

  for (int T : counts) {
    std::vector<int32_t> tokens(static_cast<size_t>(T), 0);
    for (int i = 0; i < T; ++i) tokens[size_t(i)] = int32_t((i * 7919 + 3) % c.vocab_size);
    g2::ForwardOptions opt;
    opt.num_layers = 1;
    double best = 1e30;
    int64_t touched_experts = 0;
    for (int rep = 0; rep < 3; ++rep) {  // rep 0 warms the page cache
      double t0 = now_s();
      auto rec = g2::run_forward(w, *be, tokens, opt);
      double dt = now_s() - t0;
      if (!rec) {
        std::fprintf(stderr, "bench_layer: %s\n", rec.message().c_str());
        return 1;
      }
      std::set<int32_t> used(rec->layers[0].experts.begin(), rec->layers[0].experts.end());
      touched_experts = int64_t(used.size());
      if (rep > 0) best = std::min(best, dt);
    }
    const double bytes = double((dense + touched_experts * expert + int64_t(T) * H) * stored_bytes_per_elem);
    const double bound = bytes / bw;
    std::printf(
        "{\"tokens\": %d, \"seconds\": %.6f, \"weight_bytes\": %.0f, \"experts_touched\": %lld, "
        "\"memcpy_bytes_per_s\": %.0f, \"bound_seconds\": %.6f, \"ratio\": %.3f}\n",
        T, best, bytes, static_cast<long long>(touched_experts), bw, bound, best / bound);
    std::fflush(stdout);
  }
  return 0;
}
