#include "libconvert/exec/group_commit.h"

#include <algorithm>

namespace g2 {

GroupCommitter::Ops GroupCommitter::file_ops(std::function<Status(const std::vector<ManifestFile>&)> record) {
  Ops ops;
  ops.sync = [](PendingCommit& p) { return p.file.sync(); };
  ops.publish = [](std::vector<PendingCommit>& batch) {
    std::vector<AtomicFile*> files;
    files.reserve(batch.size());
    for (auto& p : batch) files.push_back(&p.file);
    return commit_files(files);  // already synced: renames, then one fsync per directory
  };
  ops.record = std::move(record);
  return ops;
}

GroupCommitter::GroupCommitter(Ops ops, Policy policy) : ops_(std::move(ops)), policy_(policy) {
  policy_.max_pending = std::max<size_t>(1, policy_.max_pending);
  policy_.batch = std::clamp<size_t>(policy_.batch, 1, policy_.max_pending);
  thread_ = std::thread([this] { run(); });
}

GroupCommitter::~GroupCommitter() { (void)finish(); }

Status GroupCommitter::submit(PendingCommit p) {
  std::unique_lock<std::mutex> lk(mu_);
  space_.wait(lk, [&] {
    return error_ || stopping_ || queue_.size() + syncing_ + synced_.size() + publishing_ < policy_.max_pending;
  });
  if (error_) return *error_;
  G2_ASSERT(!stopping_, "submit() after finish()");
  queue_.push_back(std::move(p));
  work_.notify_one();
  return Status::Ok();
}

void GroupCommitter::fail(const Status& st) {
  if (!error_) error_ = st.error();
}

void GroupCommitter::run() {
  std::unique_lock<std::mutex> lk(mu_);
  for (;;) {
    // Publish when a batch is full, when a waiting worker needs the room, when the oldest
    // synced file has waited long enough (a crash then loses little), or at the end.
    auto publish_due = [&] {
      if (synced_.empty()) return false;
      return synced_.size() >= policy_.batch || queue_.size() + synced_.size() >= policy_.max_pending ||
             (stopping_ && queue_.empty()) || Clock::now() >= oldest_synced_ + policy_.max_delay;
    };
    if (synced_.empty()) work_.wait(lk, [&] { return stopping_ || !queue_.empty(); });
    else work_.wait_until(lk, oldest_synced_ + policy_.max_delay, [&] { return !queue_.empty() || publish_due(); });

    if (error_) {  // nothing more is published; dropping the files removes their temporaries
      std::deque<PendingCommit> q;
      std::vector<PendingCommit> s;
      q.swap(queue_);
      s.swap(synced_);
      space_.notify_all();
      lk.unlock();
      q.clear();
      s.clear();
      lk.lock();
      if (stopping_) return;
      continue;
    }
    if (!queue_.empty()) {
      // fsync the next file while the workers write the following ones
      PendingCommit p = std::move(queue_.front());
      queue_.pop_front();
      syncing_ = 1;
      lk.unlock();
      Status st = ops_.sync(p);
      lk.lock();
      syncing_ = 0;
      if (!st.ok()) {
        fail(st);
        continue;
      }
      if (synced_.empty()) oldest_synced_ = Clock::now();
      synced_.push_back(std::move(p));
    }
    if (publish_due()) {
      std::vector<PendingCommit> batch;
      batch.swap(synced_);
      publishing_ = batch.size();
      lk.unlock();
      Status st = ops_.publish(batch);
      if (st.ok()) {
        std::vector<ManifestFile> done;
        done.reserve(batch.size());
        for (const auto& p : batch) done.push_back(p.record);
        st = ops_.record(done);
      }
      const size_t n = batch.size();
      batch.clear();
      lk.lock();
      publishing_ = 0;
      if (st.ok()) {
        stats_.files += n;
        ++stats_.batches;
        stats_.largest_batch = std::max(stats_.largest_batch, n);
      } else {
        fail(st);
      }
      space_.notify_all();
    }
    if (stopping_ && queue_.empty() && synced_.empty()) return;
  }
}

Status GroupCommitter::finish() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stopping_ = true;
    work_.notify_one();
    space_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lk(mu_);
  if (error_) return *error_;
  return Status::Ok();
}

GroupCommitter::Stats GroupCommitter::stats() const {
  std::lock_guard<std::mutex> lk(mu_);
  return stats_;
}

}  // namespace g2
