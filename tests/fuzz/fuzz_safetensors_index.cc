// libFuzzer target: model.safetensors.index.json parsing. Accepted indexes only name plain
// files inside the set's directory, and survive a write/parse round trip unchanged.
#include <cstdint>
#include <string_view>

#include "libconvert/format/index.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto idx = g2::parse_safetensors_index({reinterpret_cast<const char*>(data), size}, "fuzz-index.json");
  if (!idx.ok()) return 0;
  for (const auto& [name, file] : idx->weight_map) G2_ASSERT(g2::check_set_file_name(file).ok());
  auto back = g2::parse_safetensors_index(g2::safetensors_index_json(*idx), "re-encoded");
  G2_ASSERT(back.ok());
  G2_ASSERT(back->total_size == idx->total_size && back->weight_map == idx->weight_map);
  return 0;
}
