// g2synth's writers, one per output format (tools/g2synth/synth_*.cc). Each generates its
// values on every thread of `pool`; the bytes do not depend on the number of threads.
#pragma once
#include <cstdint>
#include <string>

#include "libconvert/model_config.h"
#include "libconvert/status.h"
#include "kernels/cpu/work_pool.h"

namespace g2::synth {

// `<out>/ckpt-0/tensor{i:05d}_000` + `<out>/config.json`.
Status write_grok1(const ModelConfig& c, uint64_t seed, const std::string& out, WorkPool& pool);
// The Grok-2 release layout for `tp` ranks: TP-common files + per-rank expert slices.
Status write_grok2_tp(const ModelConfig& c, uint64_t seed, int tp, const std::string& out, WorkPool& pool);
// An unsharded HF set: model-0000i-of-0000n.safetensors + model.safetensors.index.json.
Status write_hf(const ModelConfig& c, uint64_t seed, uint64_t max_shard_bytes, const std::string& out, WorkPool& pool);

}  // namespace g2::synth
