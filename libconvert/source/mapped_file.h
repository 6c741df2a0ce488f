// Read-only memory map of a whole file (move-only owner). Readers hand out views into it,
// so tensor payloads are never copied on the way in.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "libconvert/status.h"

namespace g2 {

class MappedFile {
 public:
  static Expected<MappedFile> open(const std::string& path);
  MappedFile() = default;
  MappedFile(MappedFile&& o) noexcept;
  MappedFile& operator=(MappedFile&& o) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  const std::string& path() const { return path_; }
  // Tell the kernel the pages of [offset, offset+len) will not be needed again, so
  // streaming over a 500 GB checkpoint does not grow the resident set.
  void release(size_t offset, size_t len) const;

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace g2
