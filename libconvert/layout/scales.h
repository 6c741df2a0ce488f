// FP8 scale companions of layout tensors (docs/reference.md §4): their names, their logical
// spec and their share on each TP rank. The TP-set reader merges rank slices with it and the
// planner and writer cut them by the same rule (fp8_scale_range, libconvert/quant/quant.h):
//   Tensor: `<base>.weight_scale`     F32 []                         one value for the whole weight
//   Channel:`<base>.weight_scale`     F32 [N, 1]                     one per output row
//   Block:  `<base>.weight_scale_inv` F32 [ceil(N/bn), ceil(K/bk)]   one per bn x bk tile
// Split rule: a per-tensor scale is replicated (every rank holds the same scalar). A channel
// scale follows the weight when the weight splits on axis 0 (rows = channels) and is replicated
// when it splits on axis 1. A block scale follows the weight on the same axis, in block units
// (rows of blocks for axis 0, block columns for axis 1); every rank's slice must then cover
// whole blocks. KV-head replication carries over unchanged.
#pragma once
#include <string>
#include <string_view>

#include "libconvert/layout/layout.h"
#include "libconvert/quant/quant.h"

namespace g2 {

// The companion's name suffix: "weight_scale" (tensor, channel) or "weight_scale_inv" (block).
std::string_view fp8_scale_suffix(Fp8ScaleMode m);
// `<base>.weight` -> `<base>.weight_scale[_inv]`.
std::string fp8_scale_name(const std::string& weight_name, Fp8ScaleMode m);
// The weight a companion belongs to ("X.weight_scale_inv" -> "X.weight"), or "" when `name`
// is not a scale companion name. `block` says which suffix it had.
std::string scale_weight_name(const std::string& name, bool* block = nullptr);

// The companion's logical spec: its name, shape, F32 dtype, role/layer/expert/file placement of
// the weight, and its TP split per the rule above.
TensorSpec scale_split(const TensorSpec& weight, const Fp8Spec& spec);

// Rank `rank`'s range of the companion (axis, [begin, end) in scale elements). For Block, fails
// (naming the weight, the rank's slice and the block size) when the slice splits a block.
Expected<ShardRange> scale_shard_range(const TensorSpec& weight, const Fp8Spec& spec, const ModelConfig& c, int tp,
                                       int rank);

}  // namespace g2
