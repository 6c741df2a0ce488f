// Locks inside a destination directory, held with flock(2): the kernel drops a lock when its
// owner dies, so a lock left by a killed run is never mistaken for a live one, and there is
// no window in which two runs both decide a lock is stale (an O_EXCL + pid check had one: a
// lock created but not yet holding its pid read as stale and was deleted under its live
// owner). The text in the file (a pid, or "parts" for shared holders) only serves messages.
//
// g2convert takes: the destination lock `.g2convert.lock`, exclusive for a one-process run
// and shared by `--part` workers (so the two kinds exclude each other while N parts run side
// by side); one lock per part, exclusive (two writers of the same part are refused); and a
// short-lived state lock around reading and writing the resume state (dest_state.h).
// A released lock file is unlinked (by its last holder), so a finished destination holds none.
#pragma once
#include <string>

#include "libconvert/status.h"

namespace g2 {

class DestLock {
 public:
  enum class Mode { Exclusive, Shared };
  DestLock() = default;
  DestLock(const DestLock&) = delete;
  DestLock& operator=(const DestLock&) = delete;
  ~DestLock() { release(); }

  // Take the lock at `path` without waiting. When another process holds it, fails with
  // "<what> is being written by another g2convert (pid N, lock PATH); wait for it or stop it".
  Status try_acquire(const std::string& path, Mode mode, const std::string& what);
  // Wait for the exclusive lock (for short critical sections).
  Status acquire_wait(const std::string& path);
  // Unlock; the file is unlinked first when no one else holds it.
  void release();
  bool held() const { return fd_ >= 0; }

  // Remove the lock file at `path` if no one holds it (a lock left by a killed run).
  static void remove_if_stale(const std::string& path);

 private:
  Status take(const std::string& path, Mode mode, bool wait, const std::string& what);
  std::string path_;
  Mode mode_ = Mode::Exclusive;
  int fd_ = -1;
};

}  // namespace g2
