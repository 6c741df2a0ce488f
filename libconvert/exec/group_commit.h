// Group commit of finished output files (docs/architecture.md "Executor"): workers hand each file they
// finished writing (a sealed temporary) to one committer thread and go on writing the next.
// The committer fsyncs each file as soon as it arrives, but renames files into place and
// records them in the resume journal in batches: one directory fsync and one journal write
// per batch instead of per file (bench/NOTES.md "Reshard TP8 -> TP4": those were 3 of the 4
// fsyncs per output file, and waiting for them dominated a reshard's wall time).
//
// The contract it keeps: a file is under its final name only once its bytes are durable
// (sync before publish); the journal never lists a file before its rename is durable (record
// after publish, which fsyncs the directory); every file submitted is synced, published and
// recorded exactly once, in submission order; after the first error nothing more is published
// (unpublished temporaries are removed, a rerun redoes those files).
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "libconvert/format/atomic_file.h"
#include "libconvert/format/manifest.h"
#include "libconvert/status.h"

namespace g2 {

// One finished output file waiting for its batch.
struct PendingCommit {
  AtomicFile file;      // sealed, not yet durable (empty in tests)
  ManifestFile record;  // what the journal will list once it is durable
};

class GroupCommitter {
 public:
  struct Ops {
    std::function<Status(PendingCommit&)> sync;                         // make the bytes durable
    std::function<Status(std::vector<PendingCommit>&)> publish;          // rename all, fsync their directory
    std::function<Status(const std::vector<ManifestFile>&)> record;     // list them in the journal
  };
  static Ops file_ops(std::function<Status(const std::vector<ManifestFile>&)> record);  // AtomicFile-based

  struct Policy {
    size_t max_pending = 16;   // files submitted but not yet published (submit() waits beyond)
    size_t batch = 8;          // publish once this many files are synced...
    std::chrono::milliseconds max_delay{1000};  // ...or the oldest synced one waited this long
  };

  GroupCommitter(Ops ops, Policy policy);
  ~GroupCommitter();  // finish()es if needed
  GroupCommitter(const GroupCommitter&) = delete;
  GroupCommitter& operator=(const GroupCommitter&) = delete;

  // Queue a file. Returns the committer's first error if there was one (the file is dropped,
  // its temporary removed).
  Status submit(PendingCommit p);
  // Sync, publish and record everything submitted, stop the thread; the first error, if any.
  Status finish();

  struct Stats {
    size_t files = 0, batches = 0, largest_batch = 0;
  };
  Stats stats() const;

 private:
  using Clock = std::chrono::steady_clock;
  void run();
  void fail(const Status& st);  // called with mu_ held

  Ops ops_;
  Policy policy_;
  mutable std::mutex mu_;
  std::condition_variable work_, space_;
  std::deque<PendingCommit> queue_;   // submitted, not yet synced
  std::vector<PendingCommit> synced_;  // synced, not yet published
  Clock::time_point oldest_synced_;
  size_t syncing_ = 0, publishing_ = 0;
  bool stopping_ = false;
  std::optional<Error> error_;
  Stats stats_;
  std::thread thread_;
};

}  // namespace g2
