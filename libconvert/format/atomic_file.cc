#include "libconvert/format/atomic_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace g2 {

namespace {

constexpr size_t kBufSize = size_t(4) << 20;
// O_DIRECT needs the buffer's address, the file offset and the length aligned to the device's
// logical block: 4096 covers every block size Linux filesystems use. Full buffers keep every
// offset aligned; only the tail is padded (and cut back by seal()'s ftruncate).
constexpr size_t kDirectAlign = 4096;
// A direct file's buffer: each full one is one synchronous write. At 1 MiB the disk here ran
// within 10% of 4 MiB writes (docs/architecture.md, "Writing to disk"), and a converter's
// several open files keep their resident buffers small.
constexpr size_t kDirectBufSize = size_t(1) << 20;
static_assert(kBufSize % kDirectAlign == 0 && kDirectBufSize % kDirectAlign == 0);
// Writes of at least this much go to the kernel directly (after what is buffered): copying
// them through the buffer first would cost a copy and save no syscalls worth having.
constexpr size_t kDirectWrite = size_t(256) << 10;
// Start the writeback of every such run of written bytes at once (Linux sync_file_range), so
// the disk works while the converter computes the next chunk and commit()'s fsync only waits
// for the tail instead of the whole file (bench/NOTES.md: per-file fsync of a fully dirty
// file made a reshard 6-9x slower than `cp -r` + one `sync`). Durability is unchanged: commit()
// still fsyncs before the rename.
constexpr uint64_t kWritebackRun = uint64_t(16) << 20;

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

void UnmapBuffer::operator()(uint8_t* p) const {
  if (p) ::munmap(p, bytes);
}

Expected<AtomicFile> AtomicFile::create(const std::string& final_path, uint64_t expected_size, WriteMode mode) {
  AtomicFile f;
  f.final_ = final_path;
  f.temp_ = final_path + ".tmp-" + std::to_string(::getpid());
  f.fd_ = ::open(f.temp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (f.fd_ < 0) return io_error(f.temp_ + ": cannot create: " + std::strerror(errno));
  if (mode == WriteMode::kAuto) mode = expected_size >= kDirectMinBytes ? WriteMode::kDirect : WriteMode::kBuffered;
#ifdef O_DIRECT
  // Filesystems without O_DIRECT refuse the flag here (EINVAL) or at the first write; either
  // way the file is written buffered.
  if (mode == WriteMode::kDirect) f.direct_ = fcntl(f.fd_, F_SETFL, O_DIRECT) == 0;
#endif
  const size_t cap = f.direct_ ? kDirectBufSize : kBufSize;
  void* buf = ::mmap(nullptr, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (buf == MAP_FAILED) {
    Status s = f.fail("cannot map the write buffer", errno);
    return s.error();
  }
  f.buf_ = std::unique_ptr<uint8_t, UnmapBuffer>(static_cast<uint8_t*>(buf), UnmapBuffer{cap});
  if (expected_size > 0) {
    int e = posix_fallocate(f.fd_, 0, off_t(expected_size));
    // Filesystems without preallocation (EOPNOTSUPP, EINVAL) still get the writes checked.
    if (e == ENOSPC || e == EFBIG || e == EDQUOT) {
      Status s = f.fail("cannot reserve space", e);
      return s.error();
    }
  }
  return f;
}

AtomicFile::AtomicFile(AtomicFile&& o) noexcept
    : final_(std::move(o.final_)),
      temp_(std::move(o.temp_)),
      fd_(std::exchange(o.fd_, -1)),
      buf_(std::move(o.buf_)),
      buf_len_(std::exchange(o.buf_len_, 0)),
      direct_(o.direct_),
      written_(o.written_),
      queued_(o.queued_),
      on_disk_(o.on_disk_),
      failed_(o.failed_),
      sealed_(o.sealed_),
      synced_(o.synced_) {}

AtomicFile& AtomicFile::operator=(AtomicFile&& o) noexcept {
  if (this != &o) {
    abort();
    final_ = std::move(o.final_);
    temp_ = std::move(o.temp_);
    fd_ = std::exchange(o.fd_, -1);
    buf_ = std::move(o.buf_);
    buf_len_ = std::exchange(o.buf_len_, 0);
    direct_ = o.direct_;
    written_ = o.written_;
    queued_ = o.queued_;
    on_disk_ = o.on_disk_;
    failed_ = o.failed_;
    sealed_ = o.sealed_;
    synced_ = o.synced_;
  }
  return *this;
}

AtomicFile::~AtomicFile() { abort(); }

void AtomicFile::abort() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
    ::unlink(temp_.c_str());
  }
  buf_.reset();
  buf_len_ = 0;
}

Status AtomicFile::fail(const char* what, int err) {
  failed_ = true;
  std::string msg = temp_ + ": " + what + ": " + std::strerror(err) + " (writing " + final_ + ")";
  abort();
  return io_error(std::move(msg));
}

Status AtomicFile::write_fd(const uint8_t* p, size_t left) {
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("write failed", errno);
    }
    p += n;
    left -= size_t(n);
    queued_ += uint64_t(n);
  }
#ifdef __linux__
  if (queued_ - on_disk_ >= kWritebackRun) {
    // Errors surface at commit()'s fsync; this is only a hint to start now.
    (void)sync_file_range(fd_, off_t(on_disk_), off_t(queued_ - on_disk_), SYNC_FILE_RANGE_WRITE);
    on_disk_ = queued_;
  }
#endif
  return Status::Ok();
}

Status AtomicFile::flush() {
  if (direct_) return flush_direct(/*tail=*/true);
  G2_TRY(write_fd(buf_.get(), buf_len_));
  buf_len_ = 0;
  return Status::Ok();
}

// Write the buffer with O_DIRECT: a full one, or (tail) whatever it holds, zero-padded to the
// alignment; the padding is cut off by seal()'s ftruncate and only ever follows the last byte.
Status AtomicFile::flush_direct(bool tail) {
  if (buf_len_ == 0) return Status::Ok();
  size_t n = buf_len_;
  if (tail) {
    n = (buf_len_ + kDirectAlign - 1) / kDirectAlign * kDirectAlign;
    std::memset(buf_.get() + buf_len_, 0, n - buf_len_);
  }
  const uint8_t* p = buf_.get();
  size_t left = n;
  while (left > 0) {
    ssize_t w = ::pwrite(fd_, p, left, off_t(queued_));
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EINVAL && queued_ == 0) {
      // The filesystem took the flag but refuses direct writes: write this file buffered.
      if (fcntl(fd_, F_SETFL, 0) != 0) return fail("cannot leave O_DIRECT", errno);
      direct_ = false;
      return flush();
    }
    if (w < 0) return fail("write failed", errno);
    if (size_t(w) % kDirectAlign != 0 && size_t(w) != left) return fail("short direct write", EIO);
    p += w;
    left -= size_t(w);
    queued_ += uint64_t(w);
  }
  buf_len_ = 0;
  return Status::Ok();
}

Status AtomicFile::write(std::span<const uint8_t> bytes) {
  if (sealed_ && fd_ >= 0) return io_error(final_ + ": write after the file was sealed for commit");
  if (fd_ < 0) return io_error(final_ + ": write after the file was " + (failed_ ? "abandoned on an error" : "closed"));
  written_ += bytes.size();
  if (!direct_ && bytes.size() >= kDirectWrite) {  // large chunk: no copy through the buffer
    G2_TRY(flush());
    return write_fd(bytes.data(), bytes.size());
  }
  while (!bytes.empty()) {
    const size_t n = std::min(bytes.size(), buf_cap() - buf_len_);
    std::memcpy(buf_.get() + buf_len_, bytes.data(), n);
    buf_len_ += n;
    bytes = bytes.subspan(n);
    if (buf_len_ == buf_cap()) G2_TRY(direct_ ? flush_direct(/*tail=*/false) : flush());
  }
  return Status::Ok();
}

Status AtomicFile::seal() {
  if (sealed_ && fd_ >= 0) return Status::Ok();
  if (fd_ < 0)
    return io_error(final_ + ": commit after the file was " + (failed_ ? "abandoned on an error" : "closed"));
  G2_TRY(flush());
  // Preallocation may have reserved more than was written.
  if (ftruncate(fd_, off_t(written_)) != 0) return fail("cannot truncate", errno);
  buf_.reset();  // a sealed file waiting for its batch holds no buffer
  sealed_ = true;
  return Status::Ok();
}

Status AtomicFile::sync() {
  G2_TRY(seal());
  if (synced_) return Status::Ok();
  if (fsync(fd_) != 0) return fail("fsync failed", errno);
  synced_ = true;
  return Status::Ok();
}

Status AtomicFile::publish() {
  G2_TRY(sync());
  if (::close(fd_) != 0) {
    fd_ = -1;
    int e = errno;
    ::unlink(temp_.c_str());
    return io_error(temp_ + ": close failed: " + std::strerror(e));
  }
  fd_ = -1;
  if (::rename(temp_.c_str(), final_.c_str()) != 0) {
    int e = errno;
    ::unlink(temp_.c_str());
    return io_error(temp_ + ": cannot rename to " + final_ + ": " + std::strerror(e));
  }
  return Status::Ok();
}

Status AtomicFile::commit() {
  AtomicFile* self = this;
  return commit_files({&self, 1});
}

Status sync_directory(const std::string& dir) {
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)fsync(dfd);  // best effort, as some filesystems refuse a directory fsync
    ::close(dfd);
  }
  return Status::Ok();
}

Status commit_files(std::span<AtomicFile* const> files) {
  // Every file durable before any is renamed: a crash in between leaves only temporaries.
  for (AtomicFile* f : files) G2_TRY(f->sync());
  std::vector<std::string> dirs;
  for (AtomicFile* f : files) {
    G2_TRY(f->publish());
    std::string d = dir_of(f->final_path());
    if (std::find(dirs.begin(), dirs.end(), d) == dirs.end()) dirs.push_back(std::move(d));
  }
  // Make the renames themselves durable, once per directory.
  for (const auto& d : dirs) G2_TRY(sync_directory(d));
  return Status::Ok();
}

Status write_file_atomic(const std::string& path, std::string_view contents) {
  auto f = AtomicFile::create(path);
  if (!f) return f.status();
  G2_TRY(f->write(contents));
  return f->commit();
}

}  // namespace g2
