// libFuzzer target for model.safetensors.index.json (built with G2_FUZZ=ON): any text must
// parse or fail with a Status; every file an accepted index names must be a plain
// `*.safetensors` name inside the set's directory (no "/", no "..", not absolute), and the
// index must survive a write/parse round trip.
#include <cstddef>
#include <cstdint>
#include <string>

#include "libconvert/format/index.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto ix = g2::parse_safetensors_index(text, "fuzz/model.safetensors.index.json");
  if (!ix.ok()) return 0;
  for (const auto& [tensor, file] : ix->weight_map) {
    if (file.find('/') != std::string::npos || file.find('\\') != std::string::npos || file == ".." ||
        file.find('\0') != std::string::npos || !g2::check_set_file_name(file).ok())
      __builtin_trap();
  }
  auto again = g2::parse_safetensors_index(g2::safetensors_index_json(*ix), "fuzz/again.json");
  if (!again.ok() || again->weight_map != ix->weight_map || again->total_size != ix->total_size) __builtin_trap();
  return 0;
}
