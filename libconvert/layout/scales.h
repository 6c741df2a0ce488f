// FP8 scale companions (docs/research-notes.md §1) and how they split over TP ranks. This is
// the one place that knows it: the TP-set reader merges rank slices with it and the writer
// (g2convert) cuts them with it.
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

namespace g2 {

enum class ScaleKind { Tensor, Channel, Block };

std::string_view scale_kind_name(ScaleKind k);  // "tensor", "channel", "block"
// ".weight_scale" or ".weight_scale_inv".
std::string_view scale_suffix(ScaleKind k);
// "X.weight" -> "X.weight_scale" / "X.weight_scale_inv".
std::string scale_name(const std::string& weight_name, ScaleKind k);
// The weight a companion belongs to ("X.weight_scale_inv" -> "X.weight"), or "" when `name`
// is not a scale companion name. `block` says which suffix it had.
std::string scale_weight_name(const std::string& name, bool* block = nullptr);

// The companion's logical spec: its name, shape, F32 dtype, role/layer/expert/file placement of
// the weight, and its TP split per the rule above. `block_n`/`block_k` only matter for Block.
TensorSpec scale_split(const TensorSpec& weight, ScaleKind kind, int block_n = 128, int block_k = 128);

// Rank `rank`'s range of the companion (axis, [begin, end) in scale elements). For Block, fails
// (naming the weight, the rank's slice and the block size) when the slice splits a block.
Expected<ShardRange> scale_shard_range(const TensorSpec& weight, ScaleKind kind, const ModelConfig& c, int tp,
                                       int rank, int block_n = 128, int block_k = 128);

}  // namespace g2
