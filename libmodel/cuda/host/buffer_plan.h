// Weight-streaming buffer plan: which bytes of one layer go to the device, and where.
// Pure host function (unit-tested on CPU, tests/libmodel/cuda/host): given the layout, the config, a
// layer, the experts the router chose for this batch and this rank's TP position, it lists
// the slices to copy with their byte offsets in the layer's device buffer. Only routed
// experts are planned: for Grok-2 the chosen per-expert tensors, for Grok-1 the chosen
// expert slices of the stacked [E, ...] tensors (and their stacked scales). Shard sizes come
// from the layout's shard_range (libconvert/layout/layout.h): nothing is re-derived here.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "libconvert/layout/layout.h"
#include "libconvert/model_config.h"
#include "libconvert/status.h"

namespace g2 {

struct StreamSlice {
  const TensorSpec* spec = nullptr;  // points into the layout passed to plan_layer_buffer
  int expert = -1;                   // the routed expert this slice holds, -1: not an expert tensor
  ShardRange range;                  // this rank's shard of the tensor (layout's shard_range)
  Shape shard_shape;                 // the rank shard's shape (whole stacked tensor for Grok-1)
  DType dtype = DType::BF16;         // stored dtype of the bytes
  uint64_t src_offset = 0;  // byte offset of the slice inside the rank shard (Grok-1: e * expert bytes)
  uint64_t bytes = 0;
  uint64_t dst_offset = 0;  // byte offset in the layer's device buffer, `alignment`-aligned
};

struct LayerBufferPlan {
  int layer = 0;
  std::vector<StreamSlice> slices;  // layout order, experts in routed order
  uint64_t total_bytes = 0;         // device buffer bytes this layer needs
};

struct BufferPlanOptions {
  uint64_t alignment = 256;  // cudaMalloc alignment: every slice starts on it
  // Stored dtype of a tensor (an FP8 conversion stores linears as F8_E4M3); default spec.dtype.
  std::function<DType(const TensorSpec&)> stored_dtype;
  // Extra per-tensor companions to plan (e.g. an FP8 scale tensor), none by default.
};

// Errors: layer out of range, a routed expert out of range or repeated, shard_range failures.
Expected<LayerBufferPlan> plan_layer_buffer(const std::vector<TensorSpec>& layout, const ModelConfig& c, int layer,
                                            std::span<const int> routed_experts, int tp, int rank,
                                            const BufferPlanOptions& opt = {});

// The largest layer buffer any routing can need (every expert routed): the size of each of
// the two device buffers the double-buffered streamer allocates once.
Expected<uint64_t> max_layer_buffer_bytes(const std::vector<TensorSpec>& layout, const ModelConfig& c, int tp,
                                          int rank, const BufferPlanOptions& opt = {});

// True when `spec` holds all experts stacked on axis 0 (Grok-1 moe/* weights and their scales).
bool is_stacked_expert_tensor(const std::vector<TensorSpec>& layout, const TensorSpec& spec, const ModelConfig& c);

}  // namespace g2
