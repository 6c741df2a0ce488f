// The Grok-1 JAX checkpoint (`<root>/ckpt-0/tensor{i:05d}_000`) as a TensorSource.
// Declared here so format detection can dispatch to it; defined by the Grok-1 reader
// (until that lands, grok1_source_missing.cc defines it as a clear "not built yet" error).
#pragma once
#include <memory>
#include <string>

#include "libconvert/source.h"

namespace g2 {

// `config_path`: our configs/grok-1*.json format; "" reads <dir>/config.json.
Expected<std::unique_ptr<TensorSource>> open_grok1_jax(const std::string& dir, const std::string& config_path);

}  // namespace g2
