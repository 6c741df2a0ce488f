// The CPU backend: OpenBLAS sgemm for the GEMMs, loops over kernels/ G2_HD functions for
// everything else. All loops run in index order, so results are deterministic.
#include <cblas.h>

#include <cstring>
#include <vector>

#include "kernels/codecs.h"
#include "kernels/cpu/attention_rows.h"
#include "kernels/ops/activation.h"
#include "kernels/ops/attention.h"
#include "kernels/ops/moe.h"
#include "kernels/ops/rmsnorm.h"
#include "kernels/ops/rope.h"
#include "libconvert/status.h"
#include "libmodel/backend.h"
#include "libmodel/cpu_matmul_stored.h"
#include "libmodel/stored_weight.h"

namespace g2 {

BackendBuffer Backend::from_host(std::vector<float>&& host) {
  BackendBuffer b = alloc(host.size());
  upload(b.data(), host.data(), host.size());
  host.clear();
  host.shrink_to_fit();
  return b;
}

void Backend::matmul_stored(const float* x, int ldx, const StoredWeight& w, float* y, int ldy, int T,
                            bool accumulate) {
  BackendBuffer f = from_host(w.dequantize());  // [N, K]
  matmul(x, ldx, f.data(), int(w.cols), y, ldy, T, int(w.rows), int(w.cols), accumulate);
}

namespace {

class CpuBackend final : public Backend {
 public:
  std::string_view name() const override { return "cpu"; }

  BackendBuffer alloc(size_t n) override {
    auto* v = new std::vector<float>(n, 0.0f);
    return BackendBuffer(v->data(), n, [v](float*) { delete v; });
  }
  void upload(float* dst, const float* src, size_t n) override { std::memcpy(dst, src, n * sizeof(float)); }
  void download(float* dst, const float* src, size_t n) override { std::memcpy(dst, src, n * sizeof(float)); }
  BackendBuffer from_host(std::vector<float>&& host) override {
    auto* v = new std::vector<float>(std::move(host));
    return BackendBuffer(v->data(), v->size(), [v](float*) { delete v; });
  }

  void matmul(const float* x, int ldx, const float* w, int ldw, float* y, int ldy, int T, int N, int K,
              bool accumulate) override {
    if (T == 0 || N == 0) return;
    if (K == 0) {
      if (!accumulate)
        for (int t = 0; t < T; ++t) std::memset(y + size_t(t) * ldy, 0, size_t(N) * sizeof(float));
      return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, N, K, 1.0f, x, ldx, w, ldw, accumulate ? 1.0f : 0.0f, y,
                ldy);
  }

  void matmul_stored(const float* x, int ldx, const StoredWeight& w, float* y, int ldy, int T,
                     bool accumulate) override {
    cpu_matmul_stored(pool_, x, ldx, w, y, ldy, T, accumulate);
  }

  void rmsnorm(const float* x, const float* scale, float* y, int T, int H, float eps) override {
    for (int t = 0; t < T; ++t) rmsnorm_row(x + size_t(t) * H, scale, y + size_t(t) * H, H, eps);
  }

  void rope(float* x, int T, int n_heads, int head_dim, int pos0, float theta) override {
    const std::vector<float> inv_freq = rope_inv_freq(head_dim, theta);  // the table the CUDA backend uploads
    for (int t = 0; t < T; ++t)
      for (int h = 0; h < n_heads; ++h)
        rope_head(x + (size_t(t) * n_heads + h) * head_dim, head_dim, pos0 + t, inv_freq.data());
  }

  void attention(const float* q, const float* k, const float* v, float* out, const AttentionParams& p) override {
    G2_ASSERT(p.n_kv_heads > 0 && p.n_heads % p.n_kv_heads == 0);
    const int group = p.n_heads / p.n_kv_heads, d = p.head_dim;
    const int qs = p.n_heads * d, kvs = p.n_kv_heads * d;
    // Queries on every thread of the pool (a 1032-token prompt of the real geometry spent most
    // of its layer here on one core, bench/NOTES.md): part j takes tokens j, j + parts, ... so
    // the causal rows' growing lengths spread evenly. Each (token, head) is computed exactly as
    // before, so the output does not depend on the split.
    // The keys transposed per KV head (kt[kh][i][j] = k[j][kh][i]) for the vectorised loop of
    // kernels/cpu/attention_rows.h, which equals attention_query bit for bit.
    const size_t T = size_t(p.n_tokens);
    std::vector<float> kt(size_t(p.n_kv_heads) * size_t(d) * T);
    for (size_t j = 0; j < T; ++j)
      for (int kh = 0; kh < p.n_kv_heads; ++kh)
        for (int i = 0; i < d; ++i)
          kt[(size_t(kh) * size_t(d) + size_t(i)) * T + j] = k[j * size_t(kvs) + size_t(kh) * d + i];
    const int parts = std::min(p.n_tokens, 4 * pool_.max_participants());
    pool_.run(parts, [&](int j, int /*participant*/) {
      std::vector<float> scores(T);
      for (int t = j; t < p.n_tokens; t += parts) {
        const int pos = p.pos0 + t;
        const float temp = attn_temperature(pos, p.temperature_len);
        for (int h = 0; h < p.n_heads; ++h) {
          const int kh = h / group;
          attention_query_keys_major(q + size_t(t) * qs + size_t(h) * d, kt.data() + size_t(kh) * size_t(d) * T,
                                     int64_t(T), v + size_t(kh) * d, kvs, t + 1, d, p.scale, p.softcap, temp,
                                     p.round_scores_bf16, p.round_probs_bf16, scores.data(),
                                     out + size_t(t) * qs + size_t(h) * d);
        }
      }
    });
  }

  void router(float* logits, int T, int E, int k, float cap, int32_t* idx, float* gate) override {
    std::vector<float> probs(static_cast<size_t>(E));
    std::vector<int> id(static_cast<size_t>(k));
    for (int t = 0; t < T; ++t) {
      router_row(logits + size_t(t) * E, E, k, cap, probs.data(), id.data(), gate + size_t(t) * k);
      for (int j = 0; j < k; ++j) idx[size_t(t) * k + j] = id[size_t(j)];
    }
  }

  void add(float* y, const float* x, size_t n) override {
    for (size_t i = 0; i < n; ++i) y[i] += x[i];
  }
  void scale(float* x, size_t n, float s) override {
    for (size_t i = 0; i < n; ++i) x[i] *= s;
  }
  void round_bf16(float* x, size_t n) override {
    for (size_t i = 0; i < n; ++i) x[i] = g2::round_bf16(x[i]);
  }
  void softcap(float* x, size_t n, float cap) override {
    for (size_t i = 0; i < n; ++i) x[i] = g2::softcap(x[i], cap);
  }
  void gelu_mul(const float* gate, const float* up, float* out, size_t n, GeluKind kind, bool round_gelu) override {
    for (size_t i = 0; i < n; ++i) out[i] = gelu_mul_element(gate[i], up[i], kind, round_gelu);
  }

  void gather_rows(const float* src, const int32_t* rows, int n, int H, float* dst) override {
    for (int i = 0; i < n; ++i)
      std::memcpy(dst + size_t(i) * H, src + size_t(rows[i]) * H, size_t(H) * sizeof(float));
  }
  void scatter_rows(const float* src, const int32_t* rows, int n, int H, float* dst) override {
    for (int i = 0; i < n; ++i)
      std::memcpy(dst + size_t(rows[i]) * H, src + size_t(i) * H, size_t(H) * sizeof(float));
  }
  void combine_topk(const float* slots, const float* gate, int T, int k, int H, float* out, bool round_gate) override {
    for (int t = 0; t < T; ++t)
      for (int i = 0; i < H; ++i)
        out[size_t(t) * H + i] =
            moe_combine_element(slots + size_t(t) * k * H, gate + size_t(t) * k, k, H, i, round_gate);
  }

 private:
  WorkPool pool_{WorkPool::all_core_helpers()};  // matmul_stored and attention threads
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<CpuBackend>(); }

}  // namespace g2
