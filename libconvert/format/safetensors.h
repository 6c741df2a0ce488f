// A safetensors file opened over mmap: the validated header plus zero-copy views of every
// tensor. Nothing is read until a caller touches a view's bytes.
#pragma once
#include <string>
#include <vector>

#include "libconvert/format/safetensors_header.h"
#include "libconvert/source/mapped_file.h"
#include "libconvert/tensor.h"

namespace g2 {

class SafetensorsFile {
 public:
  // Map and validate `path` (every check of parse_safetensors_header).
  static Expected<SafetensorsFile> open(const std::string& path);

  const std::string& path() const { return file_.path(); }
  const SafetensorsHeader& header() const { return header_; }
  const std::vector<SafetensorsEntry>& tensors() const { return header_.tensors; }  // data order
  const std::map<std::string, std::string>& metadata() const { return header_.metadata; }
  const SafetensorsEntry* find(std::string_view name) const { return header_.find(name); }
  // Zero-copy view of an entry's bytes in the mapping (valid while this object lives).
  TensorView view(const SafetensorsEntry& e) const;
  std::span<const uint8_t> bytes(const SafetensorsEntry& e) const;
  // Byte offset of the entry's payload in the file.
  uint64_t file_offset(const SafetensorsEntry& e) const { return header_.data_offset + e.begin; }
  const MappedFile& mapped() const { return file_; }
  uint64_t size() const { return file_.size(); }

 private:
  MappedFile file_;
  SafetensorsHeader header_;
};

}  // namespace g2
