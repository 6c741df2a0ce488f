// g2synth's writers, one per output format (tools/g2synth/synth_*.cc).
#pragma once
#include <cstdint>
#include <string>

#include "libconvert/model_config.h"
#include "libconvert/status.h"

namespace g2::synth {

// `<out>/ckpt-0/tensor{i:05d}_000` + `<out>/config.json`.
Status write_grok1(const ModelConfig& c, uint64_t seed, const std::string& out);

}  // namespace g2::synth
