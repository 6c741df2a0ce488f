// The layout tables: for every tensor of a model family, its canonical name, role, logical
// shape (from the config), TP split and file placement. This is the single place that knows
// where a tensor splits: the planner, the presharded writer and the runtime's per-rank
// loader all ask it (DESIGN.md "Layouts").
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "libconvert/model_config.h"
#include "libconvert/status.h"
#include "libconvert/tensor.h"

namespace g2 {

// What a tensor is, independent of the family's naming.
enum class Role {
  Embedding,   // [V, H]
  LmHead,      // [V, H] (Grok-2; Grok-1 ties it to the embedding)
  FinalNorm,   // [H]
  PreAttnNorm, PostAttnNorm, PreMoeNorm, PostMoeNorm,  // [H]
  AttnQ, AttnK, AttnV, AttnO,
  Router,
  MlpGate, MlpUp, MlpDown,        // dense residual FFN (Grok-2 residual_moe)
  ExpertGate, ExpertUp, ExpertDown,  // w1 (gelu side), w3, w2
  Scales,      // Grok-1 int8 scales companion (`<path>/scales`)
};

enum class Split {
  Replicated,  // every rank holds the whole tensor
  Axis,        // split evenly along split_axis
  KvHeads,     // split by KV head along split_axis; when tp > kv heads each head is replicated
};

struct TensorSpec {
  std::string name;  // canonical name in the family's naming
  Role role;
  int layer = -1;    // -1: not per layer
  int expert = -1;   // -1: not per expert (Grok-1 stacks experts on axis 0 instead)
  Shape shape;       // logical, unsharded shape
  DType dtype;       // the family's release dtype (Grok-1: I8 / F32 / BF16 scales; Grok-2: BF16)
  Split split = Split::Replicated;
  int split_axis = 0;
  bool fp8_candidate = false;  // a linear weight g2convert --dtype fp8 quantizes
  // File placement. Grok-2: the release's file number (pytorch_model-{group:05d}-TP-...).
  // Grok-1: the tensor file index (ckpt-0/tensor{group:05d}_000); scales share their weight's.
  int file_group = 0;
  bool per_rank_file = false;  // Grok-2 `tp` layout: stored in -TP-{r:03d} files (experts)
};

// Grok-2 naming (HF / SGLang): weights [out, in], one tensor per expert.
std::vector<TensorSpec> grok2_layout(const ModelConfig& c);
// Grok-1 naming (JAX / haiku paths): weights [in, out], experts stacked on axis 0, int8 +
// `scales` companions for the quantized linears.
std::vector<TensorSpec> grok1_layout(const ModelConfig& c);
std::vector<TensorSpec> layout_for(Family f, const ModelConfig& c);

// Grok-1's file order: JAX flattens a dict with sorted string keys, so layers sort as
// strings (0, 1, 10, 11, ..., 19, 2, 20, ...). Returns the position of layer L in that order.
int grok1_sorted_layer_rank(int layer, int num_layers);

// The range [begin, end) along spec.split_axis that rank `rank` of `tp` holds.
// Replicated: the whole axis 0. KvHeads with tp > kv heads: head rank * kv / tp.
// Fails (naming tensor, size and tp) when the size does not divide.
struct ShardRange {
  int axis = 0;
  int64_t begin = 0, end = 0;
};
Expected<ShardRange> shard_range(const TensorSpec& spec, const ModelConfig& c, int tp, int rank);
// The shape of rank `rank`'s shard.
Expected<Shape> shard_shape(const TensorSpec& spec, const ModelConfig& c, int tp, int rank);

// Checks tp is one of 1, 2, 4, 8, 16 and that every split tensor divides; the message names
// the first tensor, its size and tp.
Status check_tp(const std::vector<TensorSpec>& layout, const ModelConfig& c, int tp);

// Map a Grok-1 role/layer/expert onto the Grok-2 spec with the same meaning (for --to grok2).
const TensorSpec* find_spec(const std::vector<TensorSpec>& layout, Role role, int layer, int expert);
const TensorSpec* find_spec(const std::vector<TensorSpec>& layout, const std::string& name);

std::string_view role_name(Role r);

}  // namespace g2
