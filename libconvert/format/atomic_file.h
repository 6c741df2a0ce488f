// A file written under a temporary name (`<final>.tmp-<pid>`) and renamed into place only by
// commit(), after an fsync, so a crash or an error never leaves a half-written file under the
// final name. Dropped without commit(), it removes the temporary. Writes are buffered.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "libconvert/status.h"

namespace g2 {

class AtomicFile {
 public:
  // Create the temporary. `expected_size` > 0 preallocates it, so a full disk is reported
  // before the first byte is written rather than hours later.
  static Expected<AtomicFile> create(const std::string& final_path, uint64_t expected_size = 0);
  AtomicFile() = default;
  AtomicFile(AtomicFile&& o) noexcept;
  AtomicFile& operator=(AtomicFile&& o) noexcept;
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();

  Status write(std::span<const uint8_t> bytes);
  Status write(std::string_view s) { return write({reinterpret_cast<const uint8_t*>(s.data()), s.size()}); }
  // Flush, fsync, rename to the final name, fsync the directory.
  Status commit();
  // Remove the temporary (idempotent); commit() after abort() fails.
  void abort();

  const std::string& final_path() const { return final_; }
  const std::string& temp_path() const { return temp_; }
  uint64_t bytes_written() const { return written_; }

 private:
  Status flush();
  Status write_fd(const uint8_t* p, size_t n);
  Status fail(const char* what, int err);

  std::string final_, temp_;
  int fd_ = -1;
  std::string buf_;  // pending bytes, flushed at kBufSize
  uint64_t written_ = 0;
  uint64_t queued_ = 0;  // bytes handed to the kernel; [0, queued_) is being or has been written back
  uint64_t on_disk_ = 0;  // writeback started for [0, on_disk_) (sync_file_range)
  bool failed_ = false;
};

// Write a whole small file atomically (configs, indexes, manifests).
Status write_file_atomic(const std::string& path, std::string_view contents);

}  // namespace g2
