// The layer forward, once for both families. Rounding points of Precision::Reference are
// marked `R(n)` with the numbers of libmodel/README.md (= tools/reference/README.md's list).
#include "libmodel/forward.h"

#include <cmath>
#include <cstring>
#include <optional>

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
  // The ranks this process computes: all tp of them in order, or only opt_.only_rank. Per-rank
  // vectors below are indexed by position i, rank_of(i) names the rank.
  int n_local() const { return opt_.only_rank >= 0 ? 1 : opt_.tp; }
  int rank_of(int i) const { return opt_.only_rank >= 0 ? opt_.only_rank : i; }

  Expected<BackendBuffer> load(Role role, int layer, int expert = -1, bool exact_int8 = false) {
    auto m = w_.matrix(role, layer, expert, exact_int8);
    if (!m) return m.error();
    return be_.from_host(std::move(m->data));
  }
  // The stored view of (role, layer, expert) for Backend::matmul_stored, or nullopt: then the
  // dequantized f32 copy (WeightSource::matrix) is used, as with fused_weights off.
  std::optional<StoredWeight> stored(Role role, int layer, int expert) {
    if (!opt_.fused_weights) return std::nullopt;
    return w_.stored(role, layer, expert);
  }
  // Rank `rank`'s part of a stored view ([out, in] like matrix()): the layout's shard range,
  // its axis translated from the stored orientation as shard_matrix does. Replicated roles:
  // the whole view.
  Expected<StoredWeight> shard_view(const StoredWeight& full, Role role, int layer, int expert, int rank) {
    const TensorSpec* spec = spec_for(layout_, role, layer, expert);
    if (!spec) return not_found("the layout has no tensor for " + std::string(role_name(role)));
    if (spec->split == Split::Replicated) return full.slice(0, 0, full.rows);
    auto range = shard_range(*spec, c_, opt_.tp, rank);
    if (!range) return range.error();
    int axis = range->axis - ((spec->expert < 0 && expert >= 0) ? 1 : 0);  // stacked experts: drop axis 0
    if (stored_in_out(fam_, role)) axis = 1 - axis;
    if (axis < 0 || axis > 1 || range->end > (axis == 0 ? full.rows : full.cols))
      return invalid(spec->name + ": shard range exceeds the " + std::to_string(full.rows) + " x " +
                     std::to_string(full.cols) + " weight");
    return full.slice(axis, range->begin, range->end);
  }
  // The view rank `rank` multiplies: the whole view in merged execution, else its shard
  // (kept in `part`).
  Expected<const StoredWeight*> rank_view(const StoredWeight& full, StoredWeight& part, Role role, int layer,
                                          int expert, int rank) {
    if (opt_.tp == 1) return &full;
    auto p = shard_view(full, role, layer, expert, rank);
    if (!p) return p.error();
    part = std::move(*p);
    return &part;
  }
  // A weight's extent (input columns / output rows) must be what the activations expect.
  static Status expect_extent(Role role, int layer, int64_t got, int64_t want, const char* what) {
    if (got == want) return Status::Ok();
    return invalid(std::string(role_name(role)) + " of layer " + std::to_string(layer) + " has " +
                   std::to_string(got) + " " + what + "; expected " + std::to_string(want));
  }
  // One weight at a time (only one matrix is ever resident): load (role, layer, expert), and
  // for every rank r compute out[r][n, rows_r] = x[n, K] @ shard_r(W)^T (column-parallel:
  // q/k/v, gate/up, w1/w3). tp 1 moves the matrix into the backend instead of copying it.
  // With a stored view the backend multiplies by the checkpoint's bytes in place.
  Status project(Role role, int layer, int expert, const float* x, int n, int K, std::vector<BackendBuffer>& out,
                 std::vector<int>& rows) {
    if (auto sv = stored(role, layer, expert)) {
      G2_TRY(expect_extent(role, layer, sv->cols, K, "input columns"));
      out.clear();
      rows.clear();
      for (int i = 0; i < n_local(); ++i) {
        StoredWeight part;
        auto wp = rank_view(*sv, part, role, layer, expert, rank_of(i));
        if (!wp) return wp.error();
        const StoredWeight& w = **wp;
        out.push_back(be_.alloc(size_t(n) * size_t(w.rows)));
        rows.push_back(int(w.rows));
        be_.matmul_stored(x, K, w, out.back().data(), int(w.rows), n, false);
      }
      return Status::Ok();
    }
    auto full = w_.matrix(role, layer, expert);
    if (!full) return full.error();
    G2_TRY(expect_extent(role, layer, full->cols, K, "input columns"));
    out.clear();
    rows.clear();
    for (int i = 0; i < n_local(); ++i) {
      int64_t nr = 0;
      auto w = shard(*full, role, layer, expert, rank_of(i), &nr);
      if (!w) return w.error();
      out.push_back(be_.alloc(size_t(n) * size_t(nr)));
      rows.push_back(int(nr));
      be_.matmul(x, w->data(), out.back().data(), n, int(nr), K);
    }
    return Status::Ok();
  }
  // Row-parallel projection with the explicit all-reduce: y[n, N] = sum over r in rank order
  // of in[r][n, cols_r] @ shard_r(W)^T (o-proj, down, w2). exact_int8: see WeightSource.
  // With only_rank: this rank's partial, then the backend's all-reduce over the TP group.
  Status project_reduce(Role role, int layer, int expert, bool exact_int8, const std::vector<BackendBuffer>& in,
                        const std::vector<int>& cols, float* y, int n, int N) {
    // exact_int8 concerns Grok-1 int8 weights, which have no view; never trade it for one.
    if (auto sv = exact_int8 ? std::nullopt : stored(role, layer, expert)) {
      G2_TRY(expect_extent(role, layer, sv->rows, N, "output rows"));
      for (int i = 0; i < n_local(); ++i) {
        const int r = rank_of(i);
        const size_t k = size_t(i);
        StoredWeight part;
        auto wp = rank_view(*sv, part, role, layer, expert, r);
        if (!wp) return wp.error();
        const StoredWeight& w = **wp;
        if (w.rows != N || w.cols != cols[k])
          return invalid(std::string(role_name(role)) + " of layer " + std::to_string(layer) + ": rank " +
                         std::to_string(r) + "'s shard does not match its inputs");
        be_.matmul_stored(in[k].data(), cols[k], w, y, N, n, i > 0);
      }
      if (opt_.only_rank >= 0) return be_.all_reduce_sum(y, size_t(n) * size_t(N));
      return Status::Ok();
    }
    auto full = w_.matrix(role, layer, expert, exact_int8);
    if (!full) return full.error();
    G2_TRY(expect_extent(role, layer, full->rows, N, "output rows"));
    for (int i = 0; i < n_local(); ++i) {
      const int r = rank_of(i);
      const size_t k = size_t(i);
      int64_t nr = 0;
      auto w = shard(*full, role, layer, expert, r, &nr);
      if (!w) return w.error();
      if (nr != N || w->size() != size_t(N) * size_t(cols[k]))
        return invalid(std::string(role_name(role)) + " of layer " + std::to_string(layer) + ": rank " +
                       std::to_string(r) + "'s shard does not match its inputs");
      be_.matmul(in[k].data(), cols[k], w->data(), cols[k], y, N, n, N, cols[k], i > 0);
    }
    if (opt_.only_rank >= 0) return be_.all_reduce_sum(y, size_t(n) * size_t(N));
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
  // The dense-FFN shape shared by experts and the residual MLP: per rank
  // act_r = gelu(R(x W_gate_r^T)) * R(x W_up_r^T) (R(10), R(11)); then the reduced down
  // projection into y [n, H] (R(12)).
  Status gated_ffn(Role gate, Role up, Role down, int layer, int expert, bool exact_down, const float* x, int n,
                   float* y) {
    std::vector<BackendBuffer> g, u;
    std::vector<int> gr, ur;
    G2_TRY(project(gate, layer, expert, x, n, H_, g, gr));
    G2_TRY(project(up, layer, expert, x, n, H_, u, ur));
    for (int r = 0; r < n_local(); ++r) {
      if (gr[size_t(r)] != ur[size_t(r)])
        return invalid("layer " + std::to_string(layer) + ": " + std::string(role_name(gate)) + " and " +
                       std::string(role_name(up)) + " widths disagree");
      BackendBuffer& gb = g[size_t(r)];
      R(gb.data(), gb.size());
      R(u[size_t(r)].data(), u[size_t(r)].size());
      be_.gelu_mul(gb.data(), u[size_t(r)].data(), gb.data(), gb.size(), c_.hidden_act, false);  // f32
    }
    u.clear();
    return project_reduce(down, layer, expert, exact_down, g, gr, y, n, H_);
  }

  // The sandwich norms around each block: the block reads x = R(pre_norm(h)) [T, H], and its
  // output `out` [T, H] joins the residual as h += R(post_norm(out)), h then recorded.
  Expected<BackendBuffer> pre_norm(Role norm, int layer, const BackendBuffer& h) {
    auto w = load(norm, layer);
    if (!w) return w.error();
    BackendBuffer x = be_.alloc(size_t(T_) * H_);  // [T, H]
    be_.rmsnorm(h.data(), w->data(), x.data(), T_, H_, float(c_.rms_norm_eps));
    R(x.data(), x.size());  // R(2)
    return x;
  }
  Status post_norm_add(Role norm, int layer, BackendBuffer& out, BackendBuffer& h, std::vector<float>& record) {
    auto w = load(norm, layer);
    if (!w) return w.error();
    be_.rmsnorm(out.data(), w->data(), out.data(), T_, H_, float(c_.rms_norm_eps));
    R(out.data(), out.size());  // R(2)
    be_.add(h.data(), out.data(), out.size());
    R(h.data(), h.size());  // R(8)
    record.resize(h.size());
    be_.download(record.data(), h.data(), h.size());
    return Status::Ok();
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
  auto xn = pre_norm(Role::PreAttnNorm, layer, h);
  if (!xn) return xn.error();
  BackendBuffer& x = *xn;

  std::vector<BackendBuffer> q, k, v;  // per rank: [T, nq_r*d], [T, nkv_r*d]
  std::vector<int> qr, kr, vr;
  G2_TRY(project(Role::AttnQ, layer, -1, x.data(), T, H, q, qr));
  G2_TRY(project(Role::AttnK, layer, -1, x.data(), T, H, k, kr));
  G2_TRY(project(Role::AttnV, layer, -1, x.data(), T, H, v, vr));
  std::vector<BackendBuffer> a;  // per rank: [T, nq_r*d]
  for (int i = 0; i < n_local(); ++i) {
    const size_t r = size_t(i);
    const int rank = rank_of(i);
    const int nq = qr[r] / d, nkv = kr[r] / d;
    if (nq * d != qr[r] || nkv * d != kr[r] || kr[r] != vr[r] || nkv == 0 || nq % nkv != 0)
      return invalid("layer " + std::to_string(layer) + ": attention shard of rank " + std::to_string(rank) +
                     " has q rows " + std::to_string(qr[r]) + ", k/v rows " + std::to_string(kr[r]) + "/" +
                     std::to_string(vr[r]) + " for head_dim " + std::to_string(d));
    R(q[r].data(), q[r].size());  // R(4)
    R(k[r].data(), k[r].size());
    R(v[r].data(), v[r].size());
    be_.rope(q[r].data(), T, nq, d, 0, float(c_.rope_theta));
    be_.rope(k[r].data(), T, nkv, d, 0, float(c_.rope_theta));
    R(q[r].data(), q[r].size());  // R(5)
    R(k[r].data(), k[r].size());
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
    a.push_back(be_.alloc(size_t(T) * size_t(qr[r])));
    be_.attention(q[r].data(), k[r].data(), v[r].data(), a.back().data(), p);
    R(a.back().data(), a.back().size());  // R(7)
  }
  q.clear();
  k.clear();
  v.clear();
  // o-proj: rank r's columns; partial sums added in rank order (the explicit all-reduce).
  BackendBuffer o = be_.alloc(size_t(T) * H);  // [T, H]
  G2_TRY(project_reduce(Role::AttnO, layer, -1, false, a, qr, o.data(), T, H));
  R(o.data(), o.size());  // R(4): one rounding of the reduced o-proj output
  return post_norm_add(Role::PostAttnNorm, layer, o, h, rec.attn_residual);
}

Status Forward::ffn_block(int layer, BackendBuffer& h, LayerActivations& rec) {
  const int T = T_, H = H_, E = c_.num_local_experts, K = c_.num_experts_per_tok;
  auto xn = pre_norm(Role::PreMoeNorm, layer, h);
  if (!xn) return xn.error();
  BackendBuffer& x = *xn;

  // Router: replicated, f32 (R(9): its input is the bf16 norm output, everything else f32).
  BackendBuffer logits = be_.alloc(size_t(T) * E);  // [T, E]
  if (auto sv = stored(Role::Router, layer, -1); sv && sv->rows == E && sv->cols == H) {
    be_.matmul_stored(x.data(), H, *sv, logits.data(), E, T, false);
  } else {
    auto router_w = load(Role::Router, layer);
    if (!router_w) return router_w.error();
    if (router_w->size() != size_t(E) * H)
      return invalid("layer " + std::to_string(layer) + ": router weight has " + std::to_string(router_w->size()) +
                     " values; expected " + std::to_string(E) + " x " + std::to_string(H));
    be_.matmul(x.data(), router_w->data(), logits.data(), T, E, H);
  }
  std::vector<int32_t> idx(size_t(T) * K);  // [T, k]
  std::vector<float> gate(size_t(T) * K);   // [T, k]
  be_.router(logits.data(), T, E, K, float(c_.router_logit_softcapping), idx.data(), gate.data());
  rec.router_logits.resize(logits.size());
  be_.download(rec.router_logits.data(), logits.data(), logits.size());
  rec.experts = idx;

  // Experts, each loaded only if routed (one matrix at a time); the rank-reduced output for
  // token t's j-th choice goes to slot row t*k + j.
  BackendBuffer slots = be_.alloc(size_t(T) * K * H);  // [T*k, H]
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
    BackendBuffer xe = be_.alloc(size_t(n) * H), dn = be_.alloc(size_t(n) * H);  // [n, H]
    be_.gather_rows(x.data(), tok.data(), n, H, xe.data());
    // One rank-reduced expert output per slot (R(12): the down projection keeps the exact
    // int8 product in reference precision).
    G2_TRY(gated_ffn(Role::ExpertGate, Role::ExpertUp, Role::ExpertDown, layer, e, ref_, xe.data(), n, dn.data()));
    be_.scatter_rows(dn.data(), slot.data(), n, H, slots.data());
  }
  // Combine (R(13): gates rounded to bf16, f32 sum in slot order).
  BackendBuffer moe = be_.alloc(size_t(T) * H);  // [T, H]
  be_.combine_topk(slots.data(), gate.data(), T, K, H, moe.data(), ref_);
  R(moe.data(), moe.size());  // R(13): one cast of the combined expert output

  if (c_.residual_moe) {
    // Dense residual FFN (Grok-2): (mlp + moe) / sqrt(2). Same math as an expert.
    BackendBuffer mlp = be_.alloc(size_t(T) * H);  // [T, H]
    G2_TRY(gated_ffn(Role::MlpGate, Role::MlpUp, Role::MlpDown, layer, -1, false, x.data(), T, mlp.data()));
    R(mlp.data(), mlp.size());
    be_.add(moe.data(), mlp.data(), moe.size());
    be_.scale(moe.data(), moe.size(), float(1.0 / std::sqrt(2.0)));
    R(moe.data(), moe.size());
  }
  return post_norm_add(Role::PostMoeNorm, layer, moe, h, rec.residual);
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
  if (opt_.only_rank >= 0 && (opt_.tp < 2 || opt_.only_rank >= opt_.tp))
    return invalid("only_rank " + std::to_string(opt_.only_rank) + " needs tp > 1 and a rank below tp (tp " +
                   std::to_string(opt_.tp) + ")");
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
  if (opt_.only_rank >= 0) rec.metadata["tp_rank"] = std::to_string(opt_.only_rank);
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
  // A device failure inside any op (CUDA out of memory, a lost TP peer) is an Error, not a crash.
  return catch_device_errors([&]() -> Expected<ActivationRecord> {
    Forward f(w, be, opt, int(tokens.size()));
    return f.run(tokens);
  });
}

}  // namespace g2
