#include "libmodel/verdict.h"

namespace g2 {

bool gate_ok(double value, double min) { return min < 0 || value >= min; }

bool layer_passes(std::span<const CompareResult> tensors, double router_agreement, const Tolerance& tol) {
  bool pass = gate_ok(router_agreement, tol.min_router_agreement);
  for (const auto& t : tensors) pass = pass && t.pass;
  return pass;
}

bool logits_pass(const CompareResult& logits, double top1, double kl, const Tolerance& tol) {
  return logits.pass && gate_ok(top1, tol.min_top1_agreement) && (tol.max_kl < 0 || kl <= tol.max_kl);
}

void RunVerdict::add_layer(int layer, bool layer_pass) {
  if (!layer_pass && first_failing_layer < 0) first_failing_layer = layer;
  pass = pass && layer_pass;
}

void RunVerdict::add_logits(bool logits_pass) { pass = pass && logits_pass; }

}  // namespace g2
