#include "libmodel/cuda/host/self_check.h"

#include <cstdio>
#include <memory>

namespace g2 {
namespace {

// The model cut after layer 0: same weights, a config with one layer, so run_forward goes
// layer 0 -> final norm -> logits.
class FirstLayerWeights final : public WeightSource {
 public:
  explicit FirstLayerWeights(WeightSource& inner) : inner_(inner), c_(inner.config()) { c_.num_hidden_layers = 1; }
  const ModelConfig& config() const override { return c_; }
  Family family() const override { return inner_.family(); }
  Expected<Matrix> matrix(Role role, int layer, int expert, bool exact_int8) override {
    return inner_.matrix(role, layer, expert, exact_int8);
  }
  Expected<Matrix> embedding_rows(std::span<const int32_t> tokens) override { return inner_.embedding_rows(tokens); }
  Expected<Matrix> output_rows(int64_t begin, int64_t end) override { return inner_.output_rows(begin, end); }
  std::string describe() const override { return inner_.describe() + " (layer 0 only)"; }

 private:
  WeightSource& inner_;
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

Expected<SelfCheckReport> backend_self_check(WeightSource& w, Backend& reference, Backend& tested,
                                             std::span<const int32_t> tokens, const SelfCheckOptions& opt) {
  if (tokens.empty()) return invalid("self-check: no tokens");
  FirstLayerWeights one(w);
  ForwardOptions fo = opt.forward;
  fo.num_layers = opt.logits ? -1 : 1;
  fo.on_layer = nullptr;
  auto ref = run_forward(one, reference, tokens, fo);
  if (!ref) return ref.error();
  auto got = run_forward(one, tested, tokens, fo);
  if (!got) return got.error();

  SelfCheckReport rep;
  rep.reference_backend = std::string(reference.name());
  rep.tested_backend = std::string(tested.name());
  const LayerActivations* a = got->layer(0);
  const LayerActivations* b = ref->layer(0);
  if (!a || !b) return Error{ErrorKind::Internal, "self-check: the forward produced no layer 0 record"};
  const Tolerance tol = opt.tolerance ? *opt.tolerance : self_check_tolerance(fo.precision);
  auto add = [&](std::string name, std::span<const float> g, std::span<const float> r) {
    CompareResult c = compare(g, r, tol);
    rep.pass = rep.pass && c.pass;
    rep.entries.push_back({std::move(name), std::move(c)});
  };
  add("layers.0.attn_residual", a->attn_residual, b->attn_residual);
  add("layers.0.router_logits", a->router_logits, b->router_logits);
  add("layers.0.residual", a->residual, b->residual);
  rep.router_agreement = router_agreement(a->experts, b->experts, ref->n_tokens(), ref->top_k);
  if (tol.min_router_agreement >= 0 && rep.router_agreement < tol.min_router_agreement) rep.pass = false;
  if (opt.logits) {
    add("logits", got->logits, ref->logits);
    rep.top1_agreement = logits_topk_agreement(got->logits, ref->logits, ref->n_tokens(), ref->vocab, 1);
    if (tol.min_top1_agreement >= 0 && rep.top1_agreement < tol.min_top1_agreement) rep.pass = false;
  }
  return rep;
}

}  // namespace g2
