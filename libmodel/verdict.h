// The parity verdict g2diff reports, decided here so it is unit-tested without the tool
// (tests/libmodel/test_verdict.cc); tools/g2diff/report.cc only gathers the figures and prints.
// A layer passes when every tensor compared in it passes (compare()) and its router top-k
// agreement reaches the tolerance's gate. The logits pass when they compare within tolerance,
// their top-1 agreement reaches its gate and their mean KL stays within its bound. The run
// passes when every compared layer passes and, when both sides have logits, the logits do.
#pragma once
#include <span>

#include "libmodel/compare.h"

namespace g2 {

// `value` reaches the gate `min`; a negative `min` is no gate.
bool gate_ok(double value, double min);

bool layer_passes(std::span<const CompareResult> tensors, double router_agreement, const Tolerance& tol);
bool logits_pass(const CompareResult& logits, double top1, double kl, const Tolerance& tol);

// The run's verdict, fed layer by layer in forward order, then the logits.
struct RunVerdict {
  bool pass = true;
  int first_failing_layer = -1;  // -1: none (also when only the logits failed)
  void add_layer(int layer, bool layer_pass);
  void add_logits(bool logits_pass);
};

}  // namespace g2
