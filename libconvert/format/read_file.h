// A small file (config.json, an index, a manifest, a tokenizer) read whole: the bytes, or
// nullopt when it cannot be opened (each caller words its own error).
#pragma once
#include <optional>
#include <string>

namespace g2 {

std::optional<std::string> read_file(const std::string& path);

}  // namespace g2
