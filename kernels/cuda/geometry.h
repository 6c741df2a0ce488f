// Launch geometry of every CUDA kernel as plain host functions (no CUDA headers), so the
// grid/block/shared-memory arithmetic is unit-tested on CPU-only machines
// (tests/libmodel/cuda/host) and the launchers in kernels/cuda/*.cu only consume the result.
// C++17-clean: included from .cu files.
#pragma once
#include <cstdint>

namespace g2::cuda {

inline constexpr int kElementwiseBlock = 256;
// Largest grid.x the hardware accepts (2^31 - 1).
inline constexpr int64_t kMaxGridX = 2147483647;

struct Geometry {
  int64_t blocks = 0;   // grid.x
  int threads = 0;      // block.x
  int64_t smem = 0;     // dynamic shared memory bytes
};

// One thread per element.
inline Geometry elementwise_geometry(int64_t n) {
  Geometry g;
  g.threads = kElementwiseBlock;
  g.blocks = n <= 0 ? 0 : (n + kElementwiseBlock - 1) / kElementwiseBlock;
  return g;
}

// RMSNorm: one block per row; each thread sums the squares of one contiguous chunk of the
// row, then a shared-memory tree reduction. threads is a power of two in [32, 256] so the
// tree halves evenly; chunk = ceil(H / threads).
struct RmsnormGeometry {
  Geometry g;
  int chunk = 0;
};
inline RmsnormGeometry rmsnorm_geometry(int64_t rows, int hidden) {
  RmsnormGeometry r;
  int t = 32;
  while (t < 256 && t < hidden) t *= 2;
  r.g.blocks = rows;
  r.g.threads = t;
  r.g.smem = int64_t(t) * int64_t(sizeof(float));
  r.chunk = hidden <= 0 ? 0 : (hidden + t - 1) / t;
  return r;
}

// RoPE: one thread per rotated pair (token, head, i < head_dim / 2).
inline Geometry rope_geometry(int64_t tokens, int heads, int head_dim) {
  return elementwise_geometry(tokens * heads * (head_dim / 2));
}

// Attention: one block per (query token, head). The causal scores of one query
// (at most n_tokens floats) live in dynamic shared memory when they fit in max_smem bytes;
// otherwise in a global scratch of `chunk_tokens * heads * n_tokens` floats and the launcher
// runs the queries in chunks of chunk_tokens tokens so the scratch stays under
// scratch_budget bytes. threads: 128 covers head_dim 128 in one pass.
struct AttentionGeometry {
  Geometry g;              // per launch; blocks = chunk_tokens * heads
  bool global_scores = false;
  int64_t chunk_tokens = 0;   // tokens per launch
  int64_t launches = 0;
  int64_t scratch_floats = 0; // global scratch size (0 when scores are in shared memory)
};
inline AttentionGeometry attention_geometry(int64_t tokens, int heads, int64_t max_smem,
                                            int64_t scratch_budget = int64_t(256) << 20) {
  AttentionGeometry a;
  a.g.threads = 128;
  const int64_t score_bytes = tokens * int64_t(sizeof(float));
  if (tokens <= 0 || heads <= 0) return a;
  if (score_bytes <= max_smem) {
    a.chunk_tokens = tokens;
    a.g.smem = score_bytes;
  } else {
    a.global_scores = true;
    const int64_t per_token = int64_t(heads) * score_bytes;  // scratch bytes one token needs
    int64_t c = scratch_budget / per_token;
    a.chunk_tokens = c < 1 ? 1 : (c > tokens ? tokens : c);
    a.scratch_floats = a.chunk_tokens * heads * tokens;
  }
  a.launches = (tokens + a.chunk_tokens - 1) / a.chunk_tokens;
  a.g.blocks = a.chunk_tokens * heads;
  return a;
}

// Router: one thread per token (E and k are small; the row math is sequential by design).
inline constexpr int kRouterMaxExperts = 256;
inline constexpr int kRouterMaxTopK = 16;
inline Geometry router_geometry(int64_t tokens) {
  Geometry g;
  g.threads = 128;
  g.blocks = tokens <= 0 ? 0 : (tokens + 127) / 128;
  return g;
}

}  // namespace g2::cuda
