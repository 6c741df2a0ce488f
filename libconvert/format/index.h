// `model.safetensors.index.json` of a sharded safetensors set (docs/reference.md §3):
// {"metadata": {"total_size": N}, "weight_map": {tensor: file}}. File names must be plain
// names of files in the set's own directory: no paths, no "..", nothing absolute.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "libconvert/status.h"

namespace g2 {

inline constexpr const char* kSafetensorsIndexName = "model.safetensors.index.json";

struct SafetensorsIndex {
  uint64_t total_size = 0;                        // bytes of all tensors' data (not of the files)
  std::map<std::string, std::string> weight_map;  // tensor name -> file name in the set's directory
};

// Parse and validate (types, duplicate keys, file names); `path` names the file in messages.
Expected<SafetensorsIndex> parse_safetensors_index(std::string_view json_text, const std::string& path);
Expected<SafetensorsIndex> read_safetensors_index(const std::string& path);
// Pretty JSON with sorted keys (as transformers writes it).
std::string safetensors_index_json(const SafetensorsIndex& index);
Status write_safetensors_index(const std::string& path, const SafetensorsIndex& index);

// OK when `file` is a plain file name inside the set's directory ending in ".safetensors".
Status check_set_file_name(std::string_view file);

// `model-{i:05d}-of-{n:05d}.safetensors`, i counted from 1 (the transformers convention).
std::string hf_shard_name(int i, int n);

}  // namespace g2
