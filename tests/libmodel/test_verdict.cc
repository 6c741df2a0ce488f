// g2diff's run-level verdict (libmodel/verdict.h): which layer is named first failing, when a
// router or logits gate fails a run whose tensors are within tolerance, and what a negative
// gate means.
#include <gtest/gtest.h>

#include "libmodel/verdict.h"

namespace g2 {
namespace {

CompareResult result(bool pass) {
  CompareResult r;
  r.pass = pass;
  return r;
}

TEST(Verdict, GatesAreInclusiveAndNegativeMeansNone) {
  EXPECT_TRUE(gate_ok(0.75, 0.75));
  EXPECT_FALSE(gate_ok(0.7499, 0.75));
  EXPECT_TRUE(gate_ok(0.0, -1.0));
}

TEST(Verdict, LayerNeedsEveryTensorAndTheRouterGate) {
  Tolerance tol;
  tol.min_router_agreement = 0.75;
  const CompareResult ok[] = {result(true), result(true)};
  const CompareResult one_bad[] = {result(true), result(false)};
  EXPECT_TRUE(layer_passes(ok, 1.0, tol));
  EXPECT_FALSE(layer_passes(one_bad, 1.0, tol));
  EXPECT_FALSE(layer_passes(ok, 0.5, tol));  // tensors within tolerance, routing not
  tol.min_router_agreement = -1;
  EXPECT_TRUE(layer_passes(ok, 0.0, tol));
}

TEST(Verdict, LogitsNeedTheCompareTop1AndKl) {
  Tolerance tol;
  tol.min_top1_agreement = 0.9;
  tol.max_kl = 0.05;
  EXPECT_TRUE(logits_pass(result(true), 0.9, 0.05, tol));
  EXPECT_FALSE(logits_pass(result(false), 1.0, 0.0, tol));
  EXPECT_FALSE(logits_pass(result(true), 0.875, 0.0, tol));
  EXPECT_FALSE(logits_pass(result(true), 1.0, 0.06, tol));
  tol.max_kl = -1;  // no KL bound
  EXPECT_TRUE(logits_pass(result(true), 1.0, 1e9, tol));
}

TEST(Verdict, RunNamesTheFirstFailingLayerAndFailsOnLogitsAlone) {
  RunVerdict all_ok;
  for (int l = 0; l < 4; ++l) all_ok.add_layer(l, true);
  all_ok.add_logits(true);
  EXPECT_TRUE(all_ok.pass);
  EXPECT_EQ(all_ok.first_failing_layer, -1);

  RunVerdict two_bad;  // layers 2..4 of a --layers run, 3 and 4 failing
  two_bad.add_layer(2, true);
  two_bad.add_layer(3, false);
  two_bad.add_layer(4, false);
  EXPECT_FALSE(two_bad.pass);
  EXPECT_EQ(two_bad.first_failing_layer, 3);

  RunVerdict logits_only;  // every layer within tolerance, the output not
  logits_only.add_layer(0, true);
  logits_only.add_logits(false);
  EXPECT_FALSE(logits_only.pass);
  EXPECT_EQ(logits_only.first_failing_layer, -1);
}

}  // namespace
}  // namespace g2
