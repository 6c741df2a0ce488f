// Backend self-verification: before a fast backend (CUDA) is trusted for a whole
// model, run layer 0 and the logits on it and on the CPU reference backend for the same
// tokens and compare them with libmodel's compare(). Only layer 0 is executed: the model is
// presented as a one-layer model (layer 0 -> final norm -> output projection), so the CPU
// side costs one layer plus the logits GEMM, even for a 314B checkpoint.
// Backend-agnostic host code: tests/libmodel/cuda/host checks it with CPU backends (agreeing and
// deliberately faulty); g2diff --backend cuda runs it with the CPU and CUDA backends.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
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
  // The run's own options: precision, tp, only_rank, fused_weights (stored-weight GEMMs),
  // reference_shards, logits_chunk; num_layers and on_layer are ignored. The reference backend
  // runs them with only_rank = -1 (all ranks in order); the tested one exactly as given.
  ForwardOptions forward;
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

// The error a failed report becomes: the backend is not trusted, with the per-tensor table.
// `where` names the device ("NVIDIA H100 80GB HBM3, sm_90, 79.1 GiB").
Error self_check_refusal(const SelfCheckReport& rep, std::string_view where);

// Runs both backends; errors only for bad input (weights, tokens) or a failing device. A
// disagreement is a report with pass == false, not an error: the caller chooses the exit code.
Expected<SelfCheckReport> backend_self_check(WeightSource& w, Backend& reference, Backend& tested,
                                             std::span<const int32_t> tokens, const SelfCheckOptions& opt = {});

// backend_self_check's two halves, for a caller that must act between them: under --dist the
// reference half is local to each rank and the tested half is collective, so the ranks agree
// on the reference's success before any of them enters the tested forward's all-reduces.
// self_check_reference: the model cut after layer 0 on `reference`, all ranks in order.
Expected<ActivationRecord> self_check_reference(WeightSource& w, Backend& reference, std::span<const int32_t> tokens,
                                                const SelfCheckOptions& opt = {});
// self_check_tested: the same on `tested` with opt.forward as given, compared with `ref`.
Expected<SelfCheckReport> self_check_tested(WeightSource& w, const ActivationRecord& ref,
                                            std::string_view reference_name, Backend& tested,
                                            std::span<const int32_t> tokens, const SelfCheckOptions& opt = {});

}  // namespace g2
