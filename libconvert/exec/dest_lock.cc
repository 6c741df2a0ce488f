#include "libconvert/exec/dest_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace g2 {

namespace {

constexpr const char* kSharedTag = "parts";

int flock_retry(int fd, int op) {
  int rc;
  do rc = ::flock(fd, op);
  while (rc != 0 && errno == EINTR);
  return rc;
}

// Who holds the lock, for the message: the pid an exclusive holder wrote, or the shared tag.
std::string holder(const std::string& path) {
  std::ifstream f(path);
  std::string word;
  f >> word;
  if (word == kSharedTag) return "--part runs";
  long pid = 0;
  try {
    pid = std::stol(word);
  } catch (...) {
  }
  return "pid " + (pid > 0 ? std::to_string(pid) : std::string("?"));
}

}  // namespace

Status DestLock::take(const std::string& path, Mode mode, bool wait, const std::string& what) {
  release();
  // A holder unlinks the file before unlocking, so a lock just won may be on an unlinked
  // inode: retry on the file now under the name (more often when waiting: others come and go).
  const int attempts = wait ? 10000 : 8;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return io_error(path + ": cannot create the lock file: " + std::strerror(errno));
    const int op = (mode == Mode::Shared ? LOCK_SH : LOCK_EX) | (wait ? 0 : LOCK_NB);
    if (flock_retry(fd, op) != 0) {
      const int e = errno;
      ::close(fd);
      if (e != EWOULDBLOCK) return io_error(path + ": cannot lock: " + std::strerror(e));
      return invalid(what + " is being written by another g2convert (" + holder(path) + ", lock " + path +
                     "); wait for it or stop it");
    }
    struct stat a {}, b {};
    if (::fstat(fd, &a) != 0 || ::stat(path.c_str(), &b) != 0 || a.st_ino != b.st_ino || a.st_dev != b.st_dev) {
      ::close(fd);
      continue;
    }
    const std::string text = mode == Mode::Shared ? std::string(kSharedTag) + "\n" : std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, text.data(), text.size(), 0) != ssize_t(text.size())) {
      if (mode == Mode::Exclusive) ::unlink(path.c_str());
      ::close(fd);
      return io_error(path + ": cannot write the lock file");
    }
    fd_ = fd;
    path_ = path;
    mode_ = mode;
    return Status::Ok();
  }
  return io_error(path + ": cannot take the lock (it keeps being replaced)");
}

Status DestLock::try_acquire(const std::string& path, Mode mode, const std::string& what) {
  return take(path, mode, false, what);
}

Status DestLock::acquire_wait(const std::string& path) { return take(path, Mode::Exclusive, true, path); }

void DestLock::release() {
  if (fd_ < 0) return;
  // A shared holder unlinks only when it can take the lock exclusively, i.e. it is the last
  // one: a failed attempt (another holder) just drops our lock, and that holder cleans up.
  if (mode_ == Mode::Exclusive || flock_retry(fd_, LOCK_EX | LOCK_NB) == 0) ::unlink(path_.c_str());
  ::close(fd_);
  fd_ = -1;
}

void DestLock::remove_if_stale(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return;
  struct stat a {}, b {};
  if (flock_retry(fd, LOCK_EX | LOCK_NB) == 0 && ::fstat(fd, &a) == 0 && ::stat(path.c_str(), &b) == 0 &&
      a.st_ino == b.st_ino && a.st_dev == b.st_dev)
    ::unlink(path.c_str());
  ::close(fd);
}

}  // namespace g2
