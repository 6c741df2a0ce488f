// The forward pass of both Grok families, written once against Backend and driven by
// ModelConfig alone (docs/reference.md §6, docs/research-notes.md §2, 3, 6). See libmodel/README.md
// for the exact list of bf16 rounding points of the `reference` precision.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <string_view>

#include "libmodel/activations.h"
#include "libmodel/backend.h"
#include "libmodel/weights.h"

namespace g2 {

enum class Precision {
  F32,        // every op in f32 on f32 weights (Grok-1 int8: bf16(int8 * scale), as NumPy --mode f32)
  Reference,  // bf16 rounding where the Grok-1 JAX reference rounds (README.md)
};
std::string_view precision_name(Precision p);

struct ForwardOptions {
  Precision precision = Precision::F32;
  // > 1: execute rank by rank with this tensor-parallel degree, each rank on its shards (the
  // layout's shard_range), all-reduces as explicit sums over ranks 0..tp-1 in order
  // (attention o-proj partials, FFN partials). 1: merged execution.
  int tp = 1;
  // >= 0 (needs tp > 1): compute only this rank's shards, one rank per process (or worker);
  // each all-reduce above becomes Backend::all_reduce_sum over the TP group instead of the
  // in-order sum. Everything replicated (norms, router, embedding, logits) runs on every
  // rank, so every rank ends with the same record. -1: all ranks in this process.
  int only_rank = -1;
  int num_layers = -1;  // run layers [0, num_layers); -1: all (logits only then)
  // Reference precision, tied output projection split on the hidden axis (Grok-1): the JAX
  // run's model-axis size; the logits GEMM is computed as that many hidden-block partial
  // sums, each rounded to bf16 (README.md point 14). 1 disables.
  int reference_shards = 8;
  int64_t logits_chunk = 4096;  // vocab rows of the output projection resident at once
  // Multiply by weights where the checkpoint stores them (WeightSource::stored,
  // Backend::matmul_stored) whenever a view exists; false: always the dequantized f32 copy
  // (WeightSource::matrix + Backend::matmul), the path before the fused one. The two differ
  // only by f32 summation order.
  bool fused_weights = true;
  std::function<void(int layer)> on_layer;  // progress callback after each layer
};

// Runs `tokens` (positions 0..T-1) through the model. Errors name the weight or the option.
Expected<ActivationRecord> run_forward(WeightSource& w, Backend& be, std::span<const int32_t> tokens,
                                       const ForwardOptions& opt);

}  // namespace g2
