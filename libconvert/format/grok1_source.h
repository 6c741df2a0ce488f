// The Grok-1 JAX checkpoint (docs/reference.md §1): `<root>/ckpt-0/tensor{i:05d}_000`, one pickle per
// file (a numpy ndarray, or a QuantizedWeight8bit with an int8 weight and bf16 scales).
// Which file holds which parameter comes only from grok1_layout() (TensorSpec::file_group);
// every file's dtype and shape is checked against it on open, payloads stay in the mmap.
#pragma once
#include <memory>
#include <string>

#include "libconvert/source/source.h"

namespace g2 {

// Open a Grok-1 JAX directory. The config is `config_path` when given, else
// `<dir>/config.json` (g2kit writes one; the xAI release has none: pass configs/grok-1.json).
Expected<std::unique_ptr<TensorSource>> open_grok1_jax(const std::string& dir, const std::string& config_path);

// `tensor{index:05d}_000`, and its path under `<root>/ckpt-0/`.
std::string grok1_tensor_file_name(int index);
std::string grok1_tensor_path(const std::string& root, int index);

}  // namespace g2
