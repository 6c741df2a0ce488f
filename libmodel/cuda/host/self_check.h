// Backend self-verification: before a fast backend (CUDA) is trusted for a whole
// model, run layer 0 and the logits on it and on the CPU reference backend for the same
// tokens and compare them with libmodel's compare(). Only layer 0 is executed: the model is
// presented as a one-layer model (layer 0 -> final norm -> output projection), so the CPU
// side costs one layer plus the logits GEMM, even for a 314B checkpoint.
// Backend-agnostic host code: tests/cuda_host checks it with CPU backends (agreeing and
// deliberately faulty); g2diff --backend cuda runs it with the CPU and CUDA backends.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "libconvert/status.h"
#include "libmodel/backend.h"
#include "libmodel/compare.h"
#include "libmodel/forward.h"
#include "libmodel/weights.h"

namespace g2 {

// Tolerance for two backends that differ only in summation order, fused multiply-adds and
// transcendental-function ulps. F32: relative RMS <= 1e-4, cosine >= 0.99999, identical
// expert sets and argmax. Reference: its bf16 rounding points can turn a 1-ulp difference
// into one bf16 step (2^-8), so relative RMS <= 1e-2, cosine >= 0.9999, and 90% router /
// top-1 agreement (a near-tie may flip).
Tolerance self_check_tolerance(Precision p);

struct SelfCheckOptions {
  ForwardOptions forward;   // precision, tp, reference_shards, logits_chunk (num_layers is ignored)
  bool logits = true;       // also compare the one-layer model's logits
  std::optional<Tolerance> tolerance;  // default: self_check_tolerance(forward.precision)
};

struct SelfCheckEntry {
  std::string name;  // "layers.0.attn_residual", ..., "logits"
  CompareResult result;
};

struct SelfCheckReport {
  std::string reference_backend, tested_backend;
  std::vector<SelfCheckEntry> entries;
  double router_agreement = 1.0;  // layer 0 expert sets
  double top1_agreement = 1.0;    // logits argmax (1 when logits are not compared)
  bool pass = true;
  // One line per entry plus the verdict, for the CLI to print.
  std::string summary() const;
};

// Runs both backends; errors only for bad input (weights, tokens). A disagreement is a
// report with pass == false, not an error: the caller chooses the exit code.
Expected<SelfCheckReport> backend_self_check(WeightSource& w, Backend& reference, Backend& tested,
                                             std::span<const int32_t> tokens, const SelfCheckOptions& opt = {});

}  // namespace g2
