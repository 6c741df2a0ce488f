#include "libmodel/cuda/host/self_check.h"

#include <cstdio>
#include <memory>

namespace g2 {
namespace {

// The model cut after layer 0: same weights (stored views included: without them the
// forward would fall back to matrix() and the self-check would never run
// Backend::matmul_stored, the path the real run multiplies by), a config with one layer, so
// run_forward goes layer 0 -> final norm -> logits.
class FirstLayerWeights final : public DelegatingWeights {
 public:
  explicit FirstLayerWeights(WeightSource& inner) : DelegatingWeights(inner), c_(inner.config()) {
    c_.num_hidden_layers = 1;
  }
  const ModelConfig& config() const override { return c_; }
  std::string describe() const override { return inner_.describe() + " (layer 0 only)"; }

 private:
  ModelConfig c_;
};

}  // namespace

Tolerance self_check_tolerance(Precision p) {
  Tolerance t;
  t.name = "backend-self-check";
  t.elementwise = false;
  const bool ref = p == Precision::Reference;
  t.max_rel_rms = ref ? 1e-2 : 1e-4;
  t.min_cosine = ref ? 0.9999 : 0.99999;
  t.min_router_agreement = ref ? 0.9 : 1.0;
  t.min_top1_agreement = ref ? 0.9 : 1.0;
  return t;
}

std::string SelfCheckReport::summary() const {
  std::string s;
  char line[512];
  for (const auto& e : entries) {
    std::snprintf(line, sizeof line, "%-26s %s  max_abs %.3g  rel_rms %.3g  cosine %.8f\n", e.name.c_str(),
                  e.result.pass ? "ok  " : "FAIL", e.result.max_abs, e.result.rel_rms, e.result.cosine);
    s += line;
  }
  std::snprintf(line, sizeof line, "router agreement %.4f, logits top-1 agreement %.4f\n", router_agreement,
                top1_agreement);
  s += line;
  s += pass ? tested_backend + " agrees with " + reference_backend + " on layer 0 and the logits\n"
            : tested_backend + " DISAGREES with " + reference_backend + " beyond tolerance: not trusted\n";
  return s;
}

Error self_check_refusal(const SelfCheckReport& rep, std::string_view where) {
  return invalid(rep.tested_backend + " self-check failed on " + std::string(where) +
                 ": layer 0 / logits disagree with the " + rep.reference_backend +
                 " backend beyond tolerance; refusing to continue\n" + rep.summary());
}

namespace {

// The forward options of the self-check: one layer (plus the logits), no progress callback.
ForwardOptions check_options(const SelfCheckOptions& opt) {
  ForwardOptions fo = opt.forward;
  fo.num_layers = opt.logits ? -1 : 1;
  fo.on_layer = nullptr;
  return fo;
}

}  // namespace

Expected<ActivationRecord> self_check_reference(WeightSource& w, Backend& reference, std::span<const int32_t> tokens,
                                                const SelfCheckOptions& opt) {
  if (tokens.empty()) return invalid("self-check: no tokens");
  FirstLayerWeights one(w);
  // The reference computes every rank itself (rank by rank, in-order sums): it has no TP
  // group, whatever only_rank the tested backend runs with.
  ForwardOptions fo = check_options(opt);
  fo.only_rank = -1;
  return run_forward(one, reference, tokens, fo);
}

Expected<SelfCheckReport> self_check_tested(WeightSource& w, const ActivationRecord& ref,
                                            std::string_view reference_name, Backend& tested,
                                            std::span<const int32_t> tokens, const SelfCheckOptions& opt) {
  if (tokens.empty()) return invalid("self-check: no tokens");
  FirstLayerWeights one(w);
  // Exactly as the real run will go, only_rank included (its all-reduces then go through the
  // tested backend's group: under --dist this half is collective).
  auto got = run_forward(one, tested, tokens, check_options(opt));
  if (!got) return got.error();

  SelfCheckReport rep;
  rep.reference_backend = std::string(reference_name);
  rep.tested_backend = std::string(tested.name());
  const LayerActivations* a = got->layer(0);
  const LayerActivations* b = ref.layer(0);
  if (!a || !b) return Error{ErrorKind::Internal, "self-check: the forward produced no layer 0 record"};
  const Tolerance tol = opt.tolerance ? *opt.tolerance : self_check_tolerance(opt.forward.precision);
  auto add = [&](std::string name, std::span<const float> g, std::span<const float> r) {
    CompareResult c = compare(g, r, tol);
    rep.pass = rep.pass && c.pass;
    rep.entries.push_back({std::move(name), std::move(c)});
  };
  add("layers.0.attn_residual", a->attn_residual, b->attn_residual);
  add("layers.0.router_logits", a->router_logits, b->router_logits);
  add("layers.0.residual", a->residual, b->residual);
  rep.router_agreement = router_agreement(a->experts, b->experts, ref.n_tokens(), ref.top_k);
  if (tol.min_router_agreement >= 0 && rep.router_agreement < tol.min_router_agreement) rep.pass = false;
  if (opt.logits) {
    add("logits", got->logits, ref.logits);
    rep.top1_agreement = logits_topk_agreement(got->logits, ref.logits, ref.n_tokens(), ref.vocab, 1);
    if (tol.min_top1_agreement >= 0 && rep.top1_agreement < tol.min_top1_agreement) rep.pass = false;
  }
  return rep;
}

Expected<SelfCheckReport> backend_self_check(WeightSource& w, Backend& reference, Backend& tested,
                                             std::span<const int32_t> tokens, const SelfCheckOptions& opt) {
  auto ref = self_check_reference(w, reference, tokens, opt);
  if (!ref) return ref.error();
  return self_check_tested(w, *ref, reference.name(), tested, tokens, opt);
}

}  // namespace g2
