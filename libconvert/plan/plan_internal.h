// Between make_plan's two halves (plan.cc maps tensors, plan_place.cc shards and places them).
#pragma once
#include <vector>

#include "libconvert/layout/scales.h"
#include "libconvert/plan/plan.h"

namespace g2 {

// One target tensor before sharding: its layout entry, the recipe for the whole logical
// tensor, the stored dtype, and whether an FP8 scale companion follows it.
struct LogicalTensor {
  const TensorSpec* spec = nullptr;
  Recipe recipe;
  DType out_dtype = DType::BF16;
  bool fp8_companion = false;
};

// Shards every logical tensor for plan.tp / plan.layout and fills plan.files (+ the hf index).
Status place_tensors(Plan& plan, const std::vector<LogicalTensor>& logicals, const TargetSpec& target);
// config.json of the output: the model config plus layout and SGLang loader flags.
std::string plan_config_json(const Plan& plan, const SourceDesc& src);

}  // namespace g2
