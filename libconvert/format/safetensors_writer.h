// Streaming safetensors writer. The tensor list is declared up front, so the header (and
// every offset) is written first; then each tensor's bytes arrive in order, in chunks of any
// size, so a caller never holds a whole file or even a whole tensor. The file appears under
// its final name only when finish() succeeds (AtomicFile); dropped unfinished, nothing is left.
#pragma once
#include <map>
#include <span>
#include <string>
#include <vector>

#include "libconvert/format/atomic_file.h"
#include "libconvert/format/safetensors_header.h"

namespace g2 {

class SafetensorsWriter {
 public:
  // Tensors are stored in the file in the order given, back to back (the format allows no
  // gaps). The data section starts 8-byte aligned; a tensor's own alignment then depends on
  // the sizes before it, so readers copy (read_rows) rather than cast misaligned views.
  static Expected<SafetensorsWriter> create(const std::string& path, std::vector<SafetensorsDecl> tensors,
                                            const std::map<std::string, std::string>& metadata = {},
                                            WriteMode mode = WriteMode::kAuto);

  // Append the next `chunk` of tensor `name`'s bytes (little-endian, row-major). `name` must be
  // the tensor being filled, or the next one once it is complete; a chunk never spans tensors.
  Status write(std::string_view name, std::span<const uint8_t> chunk);
  Status write(std::string_view name, const void* data, size_t bytes) {
    return write(name, {static_cast<const uint8_t*>(data), bytes});
  }
  // All bytes of all tensors must have arrived. Fsyncs and renames into place.
  Status finish();
  // Like finish(), but hands the sealed, not yet durable temporary to the caller, who commits
  // it (commit_files, possibly in a batch with others). The writer is empty afterwards.
  Expected<AtomicFile> finish_uncommitted();

  const std::string& path() const { return file_.final_path(); }
  uint64_t file_size() const { return header_.size() + data_size_; }
  // The file's first bytes (length prefix and JSON header), as written by create().
  const std::string& header() const { return header_; }
  const std::vector<SafetensorsDecl>& tensors() const { return decls_; }

 private:
  AtomicFile file_;
  std::vector<SafetensorsDecl> decls_;
  std::vector<uint64_t> sizes_;  // bytes of each tensor
  std::string header_;
  uint64_t data_size_ = 0;
  size_t cur_ = 0;         // tensor being filled
  uint64_t cur_done_ = 0;  // its bytes written so far
};

// One tensor and its contiguous bytes, for writing small files in one call.
struct SafetensorsBlob {
  SafetensorsDecl decl;
  const void* data = nullptr;
};
Status write_safetensors(const std::string& path, const std::vector<SafetensorsBlob>& tensors,
                         const std::map<std::string, std::string>& metadata = {});

}  // namespace g2
