// The layer forward, once for both families. Rounding points of Precision::Reference are
// marked `R(n)` with the numbers of libmodel/README.md (= tools/reference/README.md's list).
#include "libmodel/forward.h"

#include <cmath>
#include <cstring>

#include "kernels/codecs.h"

namespace g2 {

std::string_view precision_name(Precision p) { return p == Precision::F32 ? "f32" : "reference"; }

namespace {

class Forward {
 public:
  Forward(WeightSource& w, Backend& be, const ForwardOptions& opt, int T)
      : w_(w), be_(be), c_(w.config()), fam_(w.family()), layout_(layout_for(fam_, c_)), opt_(opt),
        ref_(opt.precision == Precision::Reference), T_(T), H_(int(c_.hidden_size)) {}

  Expected<ActivationRecord> run(std::span<const int32_t> tokens);

 private:
  // Reference-mode bf16 rounding of a backend array; a no-op in f32 mode.
  void R(float* x, size_t n) {
    if (ref_) be_.round_bf16(x, n);
  }
  // A scalar multiplier: JAX turns a Python float times a bf16 array into a bf16 multiplier.
  float multiplier(double m) const { return ref_ ? round_bf16(float(m)) : float(m); }

  Expected<BackendBuffer> load(Role role, int layer, int expert = -1, bool exact_int8 = false) {
    auto m = w_.matrix(role, layer, expert, exact_int8);
    if (!m) return m.error();
    return be_.from_host(std::move(m->data));
  }
  // Full host matrices of a layer (sharded per rank afterwards).
  Status load_host(std::initializer_list<std::pair<Role, Matrix*>> want, int layer) {
    for (const auto& [role, m] : want) {
      auto r = w_.matrix(role, layer, -1);
      if (!r) return r.error();
      *m = std::move(*r);
    }
    return Status::Ok();
  }
  // Rank `rank`'s shard of a full host matrix, in backend memory; `rows` receives its row count.
  // Merged execution (tp 1) moves the matrix instead of copying it.
  Expected<BackendBuffer> shard(Matrix& full, Role role, int layer, int expert, int rank, int64_t* rows) {
    if (opt_.tp == 1) {
      *rows = full.rows;
      return be_.from_host(std::move(full.data));
    }
    auto s = shard_matrix(full, layout_, role, layer, expert, fam_, c_, opt_.tp, rank);
    if (!s) return s.error();
    *rows = s->rows;
    return be_.from_host(std::move(s->data));
  }

  Status attention_block(int layer, BackendBuffer& h, LayerActivations& rec);
  Status ffn_block(int layer, BackendBuffer& h, LayerActivations& rec);
  Status logits(const BackendBuffer& h, std::vector<float>& out);

  WeightSource& w_;
  Backend& be_;
  const ModelConfig& c_;
  Family fam_;
  std::vector<TensorSpec> layout_;
  const ForwardOptions& opt_;
  bool ref_;
  int T_, H_;
};

Status Forward::attention_block(int layer, BackendBuffer& h, LayerActivations& rec) {
  const int T = T_, H = H_, d = c_.head_dim;
  auto pre = load(Role::PreAttnNorm, layer);
  if (!pre) return pre.error();
  BackendBuffer x = be_.alloc(size_t(T) * H);  // [T, H]
  be_.rmsnorm(h.data(), pre->data(), x.data(), T, H, float(c_.rms_norm_eps));
  R(x.data(), x.size());  // R(2)

  Matrix wq, wk, wv, wo;  // full [out, in]; sharded per rank below
  G2_TRY(load_host({{Role::AttnQ, &wq}, {Role::AttnK, &wk}, {Role::AttnV, &wv}, {Role::AttnO, &wo}}, layer));
  BackendBuffer o = be_.alloc(size_t(T) * H);  // [T, H] all-reduced o-proj output
  for (int rank = 0; rank < opt_.tp; ++rank) {
    int64_t qr = 0, kr = 0, vr = 0, orows = 0;
    auto q_w = shard(wq, Role::AttnQ, layer, -1, rank, &qr);
    auto k_w = shard(wk, Role::AttnK, layer, -1, rank, &kr);
    auto v_w = shard(wv, Role::AttnV, layer, -1, rank, &vr);
    auto o_w = shard(wo, Role::AttnO, layer, -1, rank, &orows);
    for (auto* e : {&q_w, &k_w, &v_w, &o_w})
      if (!*e) return e->error();
    const int nq = int(qr / d), nkv = int(kr / d);
    if (nq * d != qr || nkv * d != kr || kr != vr || nkv == 0 || nq % nkv != 0)
      return invalid("layer " + std::to_string(layer) + ": attention shard of rank " + std::to_string(rank) +
                     " has q rows " + std::to_string(qr) + ", k/v rows " + std::to_string(kr) + "/" +
                     std::to_string(vr) + " for head_dim " + std::to_string(d));
    BackendBuffer q = be_.alloc(size_t(T) * qr), k = be_.alloc(size_t(T) * kr), v = be_.alloc(size_t(T) * kr);
    be_.matmul(x.data(), q_w->data(), q.data(), T, int(qr), H);  // [T, nq*d]
    be_.matmul(x.data(), k_w->data(), k.data(), T, int(kr), H);  // [T, nkv*d]
    be_.matmul(x.data(), v_w->data(), v.data(), T, int(kr), H);
    R(q.data(), q.size());  // R(4)
    R(k.data(), k.size());
    R(v.data(), v.size());
    be_.rope(q.data(), T, nq, d, 0, float(c_.rope_theta));
    be_.rope(k.data(), T, nkv, d, 0, float(c_.rope_theta));
    R(q.data(), q.size());  // R(5)
    R(k.data(), k.size());
    AttentionParams p;
    p.n_tokens = T;
    p.n_heads = nq;
    p.n_kv_heads = nkv;
    p.head_dim = d;
    p.pos0 = 0;
    p.scale = float(c_.attn_output_multiplier);
    p.softcap = float(c_.attn_logit_softcapping);
    p.temperature_len = int(c_.attn_temperature_len);
    p.round_scores_bf16 = ref_;  // R(6)
    p.round_probs_bf16 = ref_;
    BackendBuffer a = be_.alloc(size_t(T) * qr);  // [T, nq*d]
    be_.attention(q.data(), k.data(), v.data(), a.data(), p);
    R(a.data(), a.size());  // R(7)
    // o-proj: rank r's columns; partial sums added in rank order (the explicit all-reduce).
    be_.matmul(a.data(), int(qr), o_w->data(), int(qr), o.data(), H, T, H, int(qr), rank > 0);
  }
  R(o.data(), o.size());  // R(4): one rounding of the reduced o-proj output
  auto post = load(Role::PostAttnNorm, layer);
  if (!post) return post.error();
  be_.rmsnorm(o.data(), post->data(), o.data(), T, H, float(c_.rms_norm_eps));
  R(o.data(), o.size());  // R(2)
  be_.add(h.data(), o.data(), o.size());
  R(h.data(), h.size());  // R(8)
  rec.attn_residual.resize(h.size());
  be_.download(rec.attn_residual.data(), h.data(), h.size());
  return Status::Ok();
}

Status Forward::ffn_block(int layer, BackendBuffer& h, LayerActivations& rec) {
  const int T = T_, H = H_, E = c_.num_local_experts, K = c_.num_experts_per_tok, tp = opt_.tp;
  auto pre = load(Role::PreMoeNorm, layer);
  if (!pre) return pre.error();
  BackendBuffer x = be_.alloc(size_t(T) * H);  // [T, H]
  be_.rmsnorm(h.data(), pre->data(), x.data(), T, H, float(c_.rms_norm_eps));
  R(x.data(), x.size());  // R(2)

  // Router: replicated, f32 (R(9): its input is the bf16 norm output, everything else f32).
  auto router_w = load(Role::Router, layer);
  if (!router_w) return router_w.error();
  if (router_w->size() != size_t(E) * H)
    return invalid("layer " + std::to_string(layer) + ": router weight has " + std::to_string(router_w->size()) +
                   " values; expected " + std::to_string(E) + " x " + std::to_string(H));
  BackendBuffer logits = be_.alloc(size_t(T) * E);  // [T, E]
  be_.matmul(x.data(), router_w->data(), logits.data(), T, E, H);
  std::vector<int32_t> idx(size_t(T) * K);  // [T, k]
  std::vector<float> gate(size_t(T) * K);   // [T, k]
  be_.router(logits.data(), T, E, K, float(c_.router_logit_softcapping), idx.data(), gate.data());
  rec.router_logits.resize(logits.size());
  be_.download(rec.router_logits.data(), logits.data(), logits.size());
  rec.experts = idx;

  // Experts, each loaded only if routed; rank r's partial outputs go to slots[r] at row t*k+j.
  std::vector<BackendBuffer> slots;  // tp x [T*k, H]
  for (int r = 0; r < tp; ++r) slots.push_back(be_.alloc(size_t(T) * K * H));
  for (int e = 0; e < E; ++e) {
    std::vector<int32_t> tok, slot;
    for (int t = 0; t < T; ++t)
      for (int j = 0; j < K; ++j)
        if (idx[size_t(t) * K + j] == e) {
          tok.push_back(t);
          slot.push_back(t * K + j);
        }
    if (tok.empty()) continue;
    const int n = int(tok.size());
    auto w1 = w_.matrix(Role::ExpertGate, layer, e);
    auto w3 = w_.matrix(Role::ExpertUp, layer, e);
    auto w2 = w_.matrix(Role::ExpertDown, layer, e, /*exact_int8=*/ref_);  // R(12)
    for (auto* m : {&w1, &w3, &w2})
      if (!*m) return m->error();
    BackendBuffer xe = be_.alloc(size_t(n) * H);  // [n, H]
    be_.gather_rows(x.data(), tok.data(), n, H, xe.data());
    for (int r = 0; r < tp; ++r) {
      int64_t m1 = 0, m3 = 0, h2 = 0;
      auto g_w = shard(*w1, Role::ExpertGate, layer, e, r, &m1);
      auto u_w = shard(*w3, Role::ExpertUp, layer, e, r, &m3);
      auto d_w = shard(*w2, Role::ExpertDown, layer, e, r, &h2);
      for (auto* b : {&g_w, &u_w, &d_w})
        if (!*b) return b->error();
      const int M = int(m1);
      if (m3 != m1 || h2 != H || d_w->size() != size_t(H) * M)
        return invalid("layer " + std::to_string(layer) + " expert " + std::to_string(e) + ": w1/w3/w2 shapes disagree");
      BackendBuffer g = be_.alloc(size_t(n) * M), u = be_.alloc(size_t(n) * M), dn = be_.alloc(size_t(n) * H);
      be_.matmul(xe.data(), g_w->data(), g.data(), n, M, H);  // [n, M]
      be_.matmul(xe.data(), u_w->data(), u.data(), n, M, H);
      R(g.data(), g.size());  // R(10)
      R(u.data(), u.size());
      be_.gelu_mul(g.data(), u.data(), g.data(), g.size(), c_.hidden_act, false);  // R(11): f32
      be_.matmul(g.data(), d_w->data(), dn.data(), n, H, M);  // [n, H], f32 (R(12))
      be_.scatter_rows(dn.data(), slot.data(), n, H, slots[size_t(r)].data());
    }
  }
  // Combine (R(13): gates rounded to bf16, f32 sum in slot order) per rank, then the
  // explicit all-reduce over ranks in order.
  BackendBuffer moe = be_.alloc(size_t(T) * H), part = be_.alloc(size_t(T) * H);  // [T, H]
  for (int r = 0; r < tp; ++r) {
    be_.combine_topk(slots[size_t(r)].data(), gate.data(), T, K, H, r == 0 ? moe.data() : part.data(), ref_);
    if (r > 0) be_.add(moe.data(), part.data(), moe.size());
  }
  slots.clear();
  R(moe.data(), moe.size());  // R(13): one cast of the combined expert output

  if (c_.residual_moe) {
    // Dense residual FFN (Grok-2): (mlp + moe) / sqrt(2). Same math as an expert.
    Matrix wg, wu, wd;
    G2_TRY(load_host({{Role::MlpGate, &wg}, {Role::MlpUp, &wu}, {Role::MlpDown, &wd}}, layer));
    BackendBuffer mlp = be_.alloc(size_t(T) * H);  // [T, H]
    for (int r = 0; r < tp; ++r) {
      int64_t ig = 0, iu = 0, hd = 0;
      auto g_w = shard(wg, Role::MlpGate, layer, -1, r, &ig);
      auto u_w = shard(wu, Role::MlpUp, layer, -1, r, &iu);
      auto d_w = shard(wd, Role::MlpDown, layer, -1, r, &hd);
      for (auto* b : {&g_w, &u_w, &d_w})
        if (!*b) return b->error();
      const int I = int(ig);
      if (iu != ig || hd != H || d_w->size() != size_t(H) * I)
        return invalid("layer " + std::to_string(layer) + ": dense MLP gate/up/down shapes disagree");
      BackendBuffer g = be_.alloc(size_t(T) * I), u = be_.alloc(size_t(T) * I);
      be_.matmul(x.data(), g_w->data(), g.data(), T, I, H);  // [T, I]
      be_.matmul(x.data(), u_w->data(), u.data(), T, I, H);
      R(g.data(), g.size());
      R(u.data(), u.size());
      be_.gelu_mul(g.data(), u.data(), g.data(), g.size(), c_.hidden_act, false);
      be_.matmul(g.data(), I, d_w->data(), I, mlp.data(), H, T, H, I, r > 0);  // rank partials summed in order
    }
    R(mlp.data(), mlp.size());
    be_.add(moe.data(), mlp.data(), moe.size());
    be_.scale(moe.data(), moe.size(), float(1.0 / std::sqrt(2.0)));
    R(moe.data(), moe.size());
  }
  auto post = load(Role::PostMoeNorm, layer);
  if (!post) return post.error();
  be_.rmsnorm(moe.data(), post->data(), moe.data(), T, H, float(c_.rms_norm_eps));
  R(moe.data(), moe.size());  // R(2)
  be_.add(h.data(), moe.data(), moe.size());
  R(h.data(), h.size());  // R(8)
  rec.residual.resize(h.size());
  be_.download(rec.residual.data(), h.data(), h.size());
  return Status::Ok();
}

Status Forward::logits(const BackendBuffer& h, std::vector<float>& out) {
  const int T = T_, H = H_;
  const int64_t V = c_.vocab_size;
  auto fnorm = load(Role::FinalNorm, -1);
  if (!fnorm) return fnorm.error();
  BackendBuffer x = be_.alloc(size_t(T) * H);  // [T, H]
  be_.rmsnorm(h.data(), fnorm->data(), x.data(), T, H, float(c_.rms_norm_eps));
  R(x.data(), x.size());  // R(14) final norm as R(2)
  // R(14): the JAX run's tied decode is sharded on the hidden axis: per-shard partial dots
  // rounded to bf16, summed in f32. Applies when the output weight splits on hidden.
  const bool tied = c_.tie_word_embeddings || !find_spec(layout_, Role::LmHead, -1, -1);
  const TensorSpec* ospec = find_spec(layout_, tied ? Role::Embedding : Role::LmHead, -1, -1);
  const int G = (ref_ && ospec && ospec->split == Split::Axis && ospec->split_axis == 1 && opt_.reference_shards > 1 &&
                 H % opt_.reference_shards == 0)
                    ? opt_.reference_shards
                    : 1;
  const float mult = multiplier(c_.output_multiplier_scale);
  out.assign(size_t(T) * size_t(V), 0.0f);
  const int64_t chunk = std::max<int64_t>(1, opt_.logits_chunk);
  std::vector<float> host;
  for (int64_t v0 = 0; v0 < V; v0 += chunk) {
    const int64_t v1 = std::min(V, v0 + chunk);
    const int n = int(v1 - v0);
    auto wm = w_.output_rows(v0, v1);
    if (!wm) return wm.error();
    if (wm->cols != H) return invalid("output projection has width " + std::to_string(wm->cols));
    BackendBuffer w = be_.from_host(std::move(wm->data));  // [n, H]
    R(w.data(), w.size());  // the tied table is cast to bf16 (Grok-2's is bf16 already)
    BackendBuffer y = be_.alloc(size_t(T) * n);  // [T, n]
    if (G == 1) {
      be_.matmul(x.data(), w.data(), y.data(), T, n, H);
    } else {
      const int hb = H / G;
      BackendBuffer p = be_.alloc(size_t(T) * n);
      for (int g = 0; g < G; ++g) {
        be_.matmul(x.data() + size_t(g) * hb, H, w.data() + size_t(g) * hb, H, p.data(), n, T, n, hb, false);
        R(p.data(), p.size());
        be_.add(y.data(), p.data(), p.size());
      }
    }
    R(y.data(), y.size());
    be_.scale(y.data(), y.size(), mult);
    R(y.data(), y.size());
    if (c_.final_logit_softcapping > 0) be_.softcap(y.data(), y.size(), float(c_.final_logit_softcapping));
    host.resize(y.size());
    be_.download(host.data(), y.data(), y.size());
    for (int t = 0; t < T; ++t)
      std::memcpy(&out[size_t(t) * size_t(V) + size_t(v0)], &host[size_t(t) * n], size_t(n) * sizeof(float));
  }
  return Status::Ok();
}

Expected<ActivationRecord> Forward::run(std::span<const int32_t> tokens) {
  G2_TRY(validate(c_));
  if (c_.rope_type == RopeType::Yarn)
    return unsupported(c_.source + ": rope_type \"yarn\" is not implemented by the verifying runtime (SGLang runs "
                       "Grok-2's \"original\" as plain RoPE)");
  if (c_.residual_moe && c_.intermediate_size <= 0)
    return invalid(c_.source + ": residual_moe needs intermediate_size > 0");
  if (opt_.tp < 1) return invalid("tp must be >= 1");
  if (opt_.tp > 1) G2_TRY(check_tp(layout_, c_, opt_.tp));
  if (tokens.empty()) return invalid("no tokens to run");
  const int L = opt_.num_layers < 0 ? c_.num_hidden_layers : std::min(opt_.num_layers, c_.num_hidden_layers);

  ActivationRecord rec;
  rec.tokens.assign(tokens.begin(), tokens.end());
  rec.hidden = H_;
  rec.n_experts = c_.num_local_experts;
  rec.top_k = c_.num_experts_per_tok;
  rec.vocab = c_.vocab_size;
  rec.metadata["config_fingerprint"] = model_config_fingerprint(c_);
  rec.metadata["precision"] = std::string(precision_name(opt_.precision));
  rec.metadata["tp_exec"] = std::to_string(opt_.tp);
  rec.metadata["source"] = w_.describe();

  // Embedding: R(1) row -> bf16, times bf16(multiplier) -> bf16.
  auto emb = w_.embedding_rows(tokens);
  if (!emb) return emb.error();
  if (emb->cols != H_) return invalid("embedding width " + std::to_string(emb->cols) + " != hidden_size");
  BackendBuffer h = be_.from_host(std::move(emb->data));  // [T, H] residual stream
  R(h.data(), h.size());
  be_.scale(h.data(), h.size(), multiplier(c_.embedding_multiplier_scale));
  R(h.data(), h.size());

  for (int l = 0; l < L; ++l) {
    LayerActivations la;
    la.layer = l;
    G2_TRY(attention_block(l, h, la));
    G2_TRY(ffn_block(l, h, la));
    rec.layers.push_back(std::move(la));
    if (opt_.on_layer) opt_.on_layer(l);
  }
  if (L == c_.num_hidden_layers) G2_TRY(logits(h, rec.logits));
  be_.sync();
  return rec;
}

}  // namespace

Expected<ActivationRecord> run_forward(WeightSource& w, Backend& be, std::span<const int32_t> tokens,
                                       const ForwardOptions& opt) {
  Forward f(w, be, opt, int(tokens.size()));
  return f.run(tokens);
}

}  // namespace g2
