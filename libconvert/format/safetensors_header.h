// The safetensors header (docs/reference.md §3) as a pure function over bytes, so it can be fuzzed and
// tested without files: 8-byte little-endian length N, N bytes of JSON, then the data.
// Validation is strict: a header that passes describes every data byte exactly once.
#pragma once
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "libconvert/dtype.h"
#include "libconvert/status.h"
#include "libconvert/tensor.h"

namespace g2 {

// Largest header g2kit accepts (the reference implementation's limit).
inline constexpr uint64_t kSafetensorsMaxHeader = 100ull * 1000 * 1000;

struct SafetensorsEntry {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  uint64_t begin = 0, end = 0;  // [begin, end) relative to the start of the data section
  uint64_t nbytes() const { return end - begin; }
};

struct SafetensorsHeader {
  uint64_t header_len = 0;   // N
  uint64_t data_offset = 0;  // 8 + N: where the data section starts in the file
  uint64_t data_size = 0;    // file size - data_offset
  std::vector<SafetensorsEntry> tensors;  // in data order (by begin offset)
  std::map<std::string, std::string> metadata;  // `__metadata__`
  const SafetensorsEntry* find(std::string_view name) const;
};

// Parse and validate the header of a safetensors file whose complete contents are `file`
// (only the first 8 + N bytes are parsed; the rest is measured). `path` names the file in
// every message. Never throws; bad input returns an InvalidInput error.
Expected<SafetensorsHeader> parse_safetensors_header(std::span<const uint8_t> file, const std::string& path);

// What a writer declares for one tensor.
struct SafetensorsDecl {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
};

// The bytes that start a file holding `tensors` in the given order: the 8-byte length, the JSON
// (`__metadata__` first, then the tensors in order) padded with spaces so the data starts on an
// 8-byte boundary. Fails on duplicate or empty names, "__metadata__" as a tensor name, bad shapes,
// or strings that are not UTF-8. `data_size` receives the size of the data section.
Expected<std::string> build_safetensors_header(const std::vector<SafetensorsDecl>& tensors,
                                               const std::map<std::string, std::string>& metadata,
                                               uint64_t* data_size);

}  // namespace g2
