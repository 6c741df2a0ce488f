// A file written under a temporary name (`<final>.tmp-<pid>`) and renamed into place only by
// commit(), after an fsync, so a crash or an error never leaves a half-written file under the
// final name. Dropped without commit(), it removes the temporary. Writes collect in a buffer.
// Large files (a known size of at least kDirectMinBytes) are written with O_DIRECT from an
// aligned buffer where the filesystem allows it: the bytes go from that buffer to the disk,
// not through the page cache, which a conversion never reads back (docs/architecture.md,
// "Writing to disk"). Anything else, or a filesystem that refuses O_DIRECT, is buffered.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "libconvert/status.h"

namespace g2 {

// How an AtomicFile hands its bytes to the kernel.
enum class WriteMode {
  kAuto,      // direct for a known size >= kDirectMinBytes, else buffered
  kBuffered,  // through the page cache
  kDirect,    // O_DIRECT where the filesystem accepts it, else buffered
};
inline constexpr uint64_t kDirectMinBytes = uint64_t(64) << 20;

// An AtomicFile's buffer is its own mapping, unmapped when the file is sealed or dropped: from
// malloc, the freed buffers of files written by different threads stayed resident in glibc's
// per-thread arenas (+8-12 MiB peak RSS on a TP8 -> TP4 reshard at 2 threads).
struct UnmapBuffer {
  size_t bytes = 0;
  void operator()(uint8_t* p) const;
};

class AtomicFile {
 public:
  // Create the temporary. `expected_size` > 0 preallocates it, so a full disk is reported
  // before the first byte is written rather than hours later.
  static Expected<AtomicFile> create(const std::string& final_path, uint64_t expected_size = 0,
                                     WriteMode mode = WriteMode::kAuto);
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
  // The steps of commit(), for committing files in batches (commit_files):
  // seal() flushes the buffer, trims a preallocation and frees the buffer (no more writes);
  // sync() fsyncs the sealed temporary; publish() closes and renames it to the final name (the
  // caller then fsyncs the directory: sync_directory()). seal() and sync() are idempotent; on an
  // error the temporary is removed.
  Status seal();
  Status sync();
  Status publish();
  // Remove the temporary (idempotent); commit() after abort() fails.
  void abort();

  const std::string& final_path() const { return final_; }
  const std::string& temp_path() const { return temp_; }
  uint64_t bytes_written() const { return written_; }
  // Whether the bytes go to the disk with O_DIRECT (false after a fallback to buffered).
  bool direct() const { return direct_; }

 private:
  size_t buf_cap() const { return buf_.get_deleter().bytes; }  // the mapping's size
  Status flush();
  Status flush_direct(bool tail);
  Status write_fd(const uint8_t* p, size_t n);
  Status fail(const char* what, int err);

  std::string final_, temp_;
  int fd_ = -1;
  std::unique_ptr<uint8_t, UnmapBuffer> buf_;  // pending bytes, page-aligned, flushed when full
  size_t buf_len_ = 0;
  bool direct_ = false;
  uint64_t written_ = 0;
  uint64_t queued_ = 0;  // bytes handed to the kernel; [0, queued_) is being or has been written back
  uint64_t on_disk_ = 0;  // writeback started for [0, on_disk_) (sync_file_range)
  bool failed_ = false;
  bool sealed_ = false, synced_ = false;
};

// fsync a directory, making the renames into it durable.
Status sync_directory(const std::string& dir);

// Commit every file: fsync each, then rename each, then fsync each distinct directory once.
// A file is under its final name only once its bytes are durable; the names are durable when
// this returns Ok. On an error, files not yet renamed are removed (temporaries only).
Status commit_files(std::span<AtomicFile* const> files);

// Write a whole small file atomically (configs, indexes, manifests).
Status write_file_atomic(const std::string& path, std::string_view contents);

}  // namespace g2
