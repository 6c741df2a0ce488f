// Tiny random models held in memory, and an independent double-precision forward written
// straight from docs/reference.md §1/§6 (loops, no Backend, no kernels/): the oracle for the f32 mode.
#pragma once
#include <cmath>
#include <random>
#include <vector>

#include "libmodel/compare.h"
#include "libmodel/weights.h"

namespace g2::testing {

// A whole-array tolerance: relative RMS error at most r (no elementwise bound).
inline Tolerance near(double r) {
  Tolerance t;
  t.name = "near";
  t.elementwise = false;
  t.max_rel_rms = r;
  return t;
}

inline ModelConfig tiny_config(bool grok2, int heads = 8, int kv = 2, int hd = 4) {
  ModelConfig c;
  c.family = grok2 ? Family::Grok2 : Family::Grok1;
  c.vocab_size = 64;
  c.num_attention_heads = heads;
  c.num_key_value_heads = kv;
  c.head_dim = hd;
  c.hidden_size = int64_t(heads) * hd;
  c.moe_intermediate_size = 16;
  c.intermediate_size = grok2 ? 24 : 0;
  c.num_hidden_layers = 2;
  c.num_local_experts = 4;
  c.num_experts_per_tok = 2;
  c.residual_moe = grok2;
  c.max_position_embeddings = 64;
  c.rope_theta = grok2 ? 208533496.0 : 10000.0;
  c.rope_type = grok2 ? RopeType::Original : RopeType::Default;
  c.attn_temperature_len = grok2 ? 3 : 0;
  c.attn_logit_softcapping = 30.0;
  c.router_logit_softcapping = grok2 ? 30.0 : 0.0;
  c.final_logit_softcapping = grok2 ? 50.0 : 0.0;
  c.embedding_multiplier_scale = std::sqrt(double(c.hidden_size));
  c.output_multiplier_scale = grok2 ? 0.5 : 0.5773502691896257;
  c.attn_output_multiplier = 1.0 / std::sqrt(double(hd));
  c.hidden_act = grok2 ? GeluKind::Erf : GeluKind::Tanh;
  c.tie_word_embeddings = !grok2;
  c.source = "tiny";
  return c;
}

inline Matrix random_matrix(std::mt19937& rng, int64_t rows, int64_t cols, float scale, float offset = 0.0f) {
  std::normal_distribution<float> nd(0.0f, 1.0f);
  Matrix m = Matrix::zeros(rows, cols);
  for (auto& v : m.data) v = offset + scale * nd(rng);
  return m;
}

inline MemoryWeights random_weights(const ModelConfig& c, Family f, uint32_t seed) {
  std::mt19937 rng(seed);
  MemoryWeights w(c, f);
  const int64_t H = c.hidden_size, M = c.moe_intermediate_size, I = c.intermediate_size;
  const float sh = 1.0f / std::sqrt(float(H));
  w.set(Role::Embedding, -1, -1, random_matrix(rng, c.vocab_size, H, 0.1f));
  if (!c.tie_word_embeddings) w.set(Role::LmHead, -1, -1, random_matrix(rng, c.vocab_size, H, sh));
  w.set(Role::FinalNorm, -1, -1, random_matrix(rng, 1, H, 0.1f, 1.0f));
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    for (Role r : {Role::PreAttnNorm, Role::PostAttnNorm, Role::PreMoeNorm, Role::PostMoeNorm})
      w.set(r, l, -1, random_matrix(rng, 1, H, 0.1f, 1.0f));
    w.set(Role::AttnQ, l, -1, random_matrix(rng, c.q_size(), H, 2 * sh));
    w.set(Role::AttnK, l, -1, random_matrix(rng, c.kv_size(), H, 2 * sh));
    w.set(Role::AttnV, l, -1, random_matrix(rng, c.kv_size(), H, sh));
    w.set(Role::AttnO, l, -1, random_matrix(rng, H, c.q_size(), sh));
    w.set(Role::Router, l, -1, random_matrix(rng, c.num_local_experts, H, 3 * sh));
    for (int e = 0; e < c.num_local_experts; ++e) {
      w.set(Role::ExpertGate, l, e, random_matrix(rng, M, H, sh));
      w.set(Role::ExpertUp, l, e, random_matrix(rng, M, H, sh));
      w.set(Role::ExpertDown, l, e, random_matrix(rng, H, M, 1.0f / std::sqrt(float(M))));
    }
    if (c.residual_moe) {
      w.set(Role::MlpGate, l, -1, random_matrix(rng, I, H, sh));
      w.set(Role::MlpUp, l, -1, random_matrix(rng, I, H, sh));
      w.set(Role::MlpDown, l, -1, random_matrix(rng, H, I, 1.0f / std::sqrt(float(I))));
    }
  }
  return w;
}

// ---- the oracle -------------------------------------------------------------------------
using Vec = std::vector<double>;

struct OracleOut {
  std::vector<Vec> attn_residual, residual;  // per layer, [T*H]
  std::vector<std::vector<int>> experts;     // per layer, [T*k]
  Vec logits;                                // [T*V]
};

inline Vec mat_vec(const Matrix& w, const double* x) {
  Vec y(size_t(w.rows), 0.0);
  for (int64_t r = 0; r < w.rows; ++r)
    for (int64_t c = 0; c < w.cols; ++c) y[size_t(r)] += double(w.at(r, c)) * x[c];
  return y;
}

inline Vec rms(const double* x, const Matrix& s, int64_t H, double eps) {
  double ss = 0;
  for (int64_t i = 0; i < H; ++i) ss += x[i] * x[i];
  const double inv = 1.0 / std::sqrt(ss / double(H) + eps);
  Vec y(static_cast<size_t>(H));
  for (int64_t i = 0; i < H; ++i) y[size_t(i)] = x[i] * inv * s.data[size_t(i)];
  return y;
}

inline double oracle_gelu(double x, GeluKind k) {
  if (k == GeluKind::Erf) return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
  return 0.5 * x * (1 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}

inline double cap(double x, double c) { return c > 0 ? c * std::tanh(x / c) : x; }

inline OracleOut oracle_forward(WeightSource& w, const std::vector<int32_t>& tokens) {
  const ModelConfig& c = w.config();
  const int64_t T = int64_t(tokens.size()), H = c.hidden_size, E = c.num_local_experts, K = c.num_experts_per_tok;
  const int nq = c.num_attention_heads, nkv = c.num_key_value_heads, d = c.head_dim;
  auto M = [&](Role r, int l, int e = -1) { return *w.matrix(r, l, e); };
  Matrix emb = *w.embedding_rows(tokens);
  Vec h(size_t(T * H));
  for (size_t i = 0; i < h.size(); ++i) h[i] = double(emb.data[i]) * c.embedding_multiplier_scale;
  OracleOut out;
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    Matrix wq = M(Role::AttnQ, l), wk = M(Role::AttnK, l), wv = M(Role::AttnV, l), wo = M(Role::AttnO, l);
    std::vector<Vec> q(static_cast<size_t>(T)), k(static_cast<size_t>(T)), v(static_cast<size_t>(T));
    for (int64_t t = 0; t < T; ++t) {
      Vec x = rms(&h[size_t(t * H)], M(Role::PreAttnNorm, l), H, c.rms_norm_eps);
      q[size_t(t)] = mat_vec(wq, x.data());
      k[size_t(t)] = mat_vec(wk, x.data());
      v[size_t(t)] = mat_vec(wv, x.data());
      for (auto* y : {&q[size_t(t)], &k[size_t(t)]})  // half-split RoPE at position t
        for (size_t head = 0; head < y->size() / size_t(d); ++head)
          for (int i = 0; i < d / 2; ++i) {
            const double a = double(t) * std::pow(c.rope_theta, -2.0 * i / d);
            double& x1 = (*y)[head * d + i];
            double& x2 = (*y)[head * d + i + d / 2];
            const double n1 = x1 * std::cos(a) - x2 * std::sin(a), n2 = x2 * std::cos(a) + x1 * std::sin(a);
            x1 = n1;
            x2 = n2;
          }
    }
    for (int64_t t = 0; t < T; ++t) {
      Vec a(size_t(nq * d), 0.0);
      const double L = double(c.attn_temperature_len);
      const double temp = (L > 1 && double(t) > L) ? std::log2(double(t)) / std::log2(L) : 1.0;
      for (int hh = 0; hh < nq; ++hh) {
        const int kh = hh / (nq / nkv);
        Vec s(static_cast<size_t>(t + 1));
        double mx = -1e300;
        for (int64_t j = 0; j <= t; ++j) {
          double dot = 0;
          for (int i = 0; i < d; ++i) dot += q[size_t(t)][size_t(hh * d + i)] * k[size_t(j)][size_t(kh * d + i)];
          s[size_t(j)] = cap(dot * c.attn_output_multiplier, c.attn_logit_softcapping) * temp;
          mx = std::max(mx, s[size_t(j)]);
        }
        double z = 0;
        for (auto& x : s) z += (x = std::exp(x - mx));
        for (int64_t j = 0; j <= t; ++j)
          for (int i = 0; i < d; ++i) a[size_t(hh * d + i)] += s[size_t(j)] / z * v[size_t(j)][size_t(kh * d + i)];
      }
      Vec o = mat_vec(wo, a.data());
      Vec y = rms(o.data(), M(Role::PostAttnNorm, l), H, c.rms_norm_eps);
      for (int64_t i = 0; i < H; ++i) h[size_t(t * H + i)] += y[size_t(i)];
    }
    out.attn_residual.push_back(h);
    std::vector<int> chosen;
    for (int64_t t = 0; t < T; ++t) {
      Vec x = rms(&h[size_t(t * H)], M(Role::PreMoeNorm, l), H, c.rms_norm_eps);
      Vec lg = mat_vec(M(Role::Router, l), x.data());
      double mx = -1e300, z = 0;
      for (auto& g : lg) mx = std::max(mx, g = cap(g, c.router_logit_softcapping));
      Vec p(static_cast<size_t>(E));
      for (int64_t e = 0; e < E; ++e) z += (p[size_t(e)] = std::exp(lg[size_t(e)] - mx));
      for (auto& g : p) g /= z;
      Vec ffn(size_t(H), 0.0);
      std::vector<bool> used(size_t(E), false);
      for (int64_t j = 0; j < K; ++j) {
        int best = -1;
        for (int e = 0; e < E; ++e)
          if (!used[size_t(e)] && (best < 0 || p[size_t(e)] > p[size_t(best)])) best = e;
        used[size_t(best)] = true;
        chosen.push_back(best);
        Vec g = mat_vec(M(Role::ExpertGate, l, best), x.data()), u = mat_vec(M(Role::ExpertUp, l, best), x.data());
        for (size_t i = 0; i < g.size(); ++i) g[i] = oracle_gelu(g[i], c.hidden_act) * u[i];
        Vec dn = mat_vec(M(Role::ExpertDown, l, best), g.data());
        for (int64_t i = 0; i < H; ++i) ffn[size_t(i)] += p[size_t(best)] * dn[size_t(i)];
      }
      if (c.residual_moe) {
        Vec g = mat_vec(M(Role::MlpGate, l), x.data()), u = mat_vec(M(Role::MlpUp, l), x.data());
        for (size_t i = 0; i < g.size(); ++i) g[i] = oracle_gelu(g[i], c.hidden_act) * u[i];
        Vec dn = mat_vec(M(Role::MlpDown, l), g.data());
        for (int64_t i = 0; i < H; ++i) ffn[size_t(i)] = (ffn[size_t(i)] + dn[size_t(i)]) / std::sqrt(2.0);
      }
      Vec y = rms(ffn.data(), M(Role::PostMoeNorm, l), H, c.rms_norm_eps);
      for (int64_t i = 0; i < H; ++i) h[size_t(t * H + i)] += y[size_t(i)];
    }
    out.residual.push_back(h);
    out.experts.push_back(chosen);
  }
  Matrix wout = *w.output_rows(0, c.vocab_size);
  for (int64_t t = 0; t < T; ++t) {
    Vec x = rms(&h[size_t(t * H)], M(Role::FinalNorm, -1), H, c.rms_norm_eps);
    Vec lg = mat_vec(wout, x.data());
    for (double g : lg) out.logits.push_back(cap(g * c.output_multiplier_scale, c.final_logit_softcapping));
  }
  return out;
}

}  // namespace g2::testing
