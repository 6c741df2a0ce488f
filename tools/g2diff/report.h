// g2diff's report: per-layer figures, the logits summary, and the three renderings (table on
// stdout, --json, --junit).
#pragma once
#include <string>
#include <vector>

#include "libmodel/activations.h"
#include "libmodel/compare.h"
#include "libmodel/tokenizer/next_tokens.h"

namespace g2 {

struct TensorDiff {
  std::string tensor;  // "attn_residual", "residual", "logits"
  CompareResult r;
};

struct LayerDiff {
  int layer = 0;
  std::vector<TensorDiff> tensors;  // attn_residual, residual
  double router_agreement = 1.0;
  double router_logits_rel_rms = 0.0;
  bool pass = true;
  const TensorDiff& worst() const;  // first failing tensor in forward order, else largest rel RMS
};

struct DiffReport {
  std::string a, b;  // descriptions of the two sides (B = "got", A = "reference")
  std::string mode, tolerance_desc;
  Tolerance tol;
  std::vector<int32_t> tokens;
  int64_t hidden = 0, vocab = 0;
  std::vector<LayerDiff> layers;
  bool have_logits = false;
  TensorDiff logits;
  double top1 = 1.0, top5 = 1.0, kl = 0.0;
  bool logits_pass = true;
  bool pass = true;
  int first_failing_layer = -1;  // -1: none (or only the logits failed)
  // Top-5 next tokens after every position, reference (A) and compared (B) side, decoded by
  // each side's tokenizer (tokenizer_note says why there is no text).
  std::vector<std::vector<NextToken>> next_ref, next_got;
  std::string tokenizer_note;
};

// Fill the report by comparing `got` against `ref` on the layers both hold.
void build_report(const ActivationRecord& got, const ActivationRecord& ref, const Tolerance& tol,
                  const std::vector<int>& layers, DiffReport* rep);

// The decoded top-5 next tokens of both sides (needs the logits; a tokenizer may be null).
void add_next_tokens(const ActivationRecord& got, const ActivationRecord& ref, const Tokenizer* got_tok,
                     const Tokenizer* ref_tok, DiffReport* rep);

std::string render_table(const DiffReport& rep);
std::string render_json(const DiffReport& rep);
std::string render_junit(const DiffReport& rep);

}  // namespace g2
