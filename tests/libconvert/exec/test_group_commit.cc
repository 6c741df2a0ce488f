// GroupCommitter, with fake durability steps recording their order (no disk): every file is
// synced, then published, then recorded, exactly once and in submission order; batches form
// by count and by delay; submit() waits when max_pending files are in flight; after an error
// nothing more is published or recorded. Then commit_files and file_ops on real files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <set>

#include "libconvert/exec/group_commit.h"
#include "tests/support/tmp_dir.h"

namespace g2 {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct Log {
  std::mutex mu;
  std::vector<std::string> synced, published, recorded;
  std::vector<size_t> record_batches;
  std::set<std::string> fail_sync, fail_publish;
  std::shared_future<void> gate;  // sync waits for it when valid

  GroupCommitter::Ops ops() {
    GroupCommitter::Ops o;
    o.sync = [this](PendingCommit& p) -> Status {
      if (gate.valid()) gate.wait();
      std::lock_guard<std::mutex> lk(mu);
      if (fail_sync.count(p.record.path)) return io_error(p.record.path + ": fsync failed");
      synced.push_back(p.record.path);
      return Status::Ok();
    };
    o.publish = [this](std::vector<PendingCommit>& b) -> Status {
      std::lock_guard<std::mutex> lk(mu);
      for (auto& p : b) {
        if (fail_publish.count(p.record.path)) return io_error(p.record.path + ": rename failed");
        // published only once synced
        EXPECT_NE(std::find(synced.begin(), synced.end(), p.record.path), synced.end()) << p.record.path;
        published.push_back(p.record.path);
      }
      return Status::Ok();
    };
    o.record = [this](const std::vector<ManifestFile>& done) -> Status {
      std::lock_guard<std::mutex> lk(mu);
      for (const auto& f : done) {
        // recorded only once published (its rename durable)
        EXPECT_NE(std::find(published.begin(), published.end(), f.path), published.end()) << f.path;
        recorded.push_back(f.path);
      }
      record_batches.push_back(done.size());
      return Status::Ok();
    };
    return o;
  }
};

PendingCommit item(int i) {
  return PendingCommit{AtomicFile(), ManifestFile{"f" + std::to_string(i), uint64_t(i), ""}};
}

std::vector<std::string> names(int n) {
  std::vector<std::string> v;
  for (int i = 0; i < n; ++i) v.push_back("f" + std::to_string(i));
  return v;
}

TEST(GroupCommit, BatchesByCountInOrderExactlyOnce) {
  Log log;
  GroupCommitter::Policy pol;
  pol.max_pending = 16;
  pol.batch = 4;
  pol.max_delay = 1h;  // only the count (and finish) publish
  GroupCommitter c(log.ops(), pol);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(c.submit(item(i)).ok());
  ASSERT_TRUE(c.finish().ok());
  EXPECT_EQ(log.synced, names(10));
  EXPECT_EQ(log.published, names(10));
  EXPECT_EQ(log.recorded, names(10));
  EXPECT_EQ(log.record_batches, (std::vector<size_t>{4, 4, 2}));  // one journal write per batch
  EXPECT_EQ(c.stats().batches, 3u);
  EXPECT_EQ(c.stats().files, 10u);
}

TEST(GroupCommit, PublishesAfterTheDelayWithoutMoreFiles) {
  Log log;
  GroupCommitter::Policy pol;
  pol.batch = 8;
  pol.max_delay = 20ms;
  GroupCommitter c(log.ops(), pol);
  ASSERT_TRUE(c.submit(item(0)).ok());
  for (int i = 0; i < 500; ++i) {  // up to 5 s on a loaded machine
    {
      std::lock_guard<std::mutex> lk(log.mu);
      if (!log.recorded.empty()) break;
    }
    std::this_thread::sleep_for(10ms);
  }
  std::lock_guard<std::mutex> lk(log.mu);
  EXPECT_EQ(log.recorded, names(1));  // before finish()
}

TEST(GroupCommit, SubmitWaitsWhileMaxPendingAreInFlight) {
  Log log;
  std::promise<void> open;
  log.gate = open.get_future().share();
  GroupCommitter::Policy pol;
  pol.max_pending = 2;
  pol.batch = 2;
  GroupCommitter c(log.ops(), pol);
  ASSERT_TRUE(c.submit(item(0)).ok());
  ASSERT_TRUE(c.submit(item(1)).ok());
  std::atomic<bool> third{false};
  std::thread t([&] {
    EXPECT_TRUE(c.submit(item(2)).ok());
    third = true;
  });
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(third.load());  // the first file's fsync is stuck: no room
  open.set_value();
  t.join();
  EXPECT_TRUE(third.load());
  ASSERT_TRUE(c.finish().ok());
  EXPECT_EQ(log.recorded, names(3));
}

TEST(GroupCommit, NothingIsPublishedAfterASyncError) {
  Log log;
  log.fail_sync = {"f3"};
  GroupCommitter::Policy pol;
  pol.batch = 8;
  pol.max_delay = 1h;
  GroupCommitter c(log.ops(), pol);
  Status last = Status::Ok();
  for (int i = 0; i < 6 && last.ok(); ++i) last = c.submit(item(i));
  Status fin = c.finish();
  ASSERT_FALSE(fin.ok());
  EXPECT_NE(fin.message().find("f3: fsync failed"), std::string::npos) << fin.message();
  // f0-f2 were synced but waited for a batch: dropped with the rest, none under a final name
  EXPECT_TRUE(log.published.empty());
  EXPECT_TRUE(log.recorded.empty());
}

TEST(GroupCommit, AFailedPublishIsNotRecorded) {
  Log log;
  log.fail_publish = {"f5"};
  GroupCommitter::Policy pol;
  pol.batch = 4;
  pol.max_delay = 1h;
  GroupCommitter c(log.ops(), pol);
  for (int i = 0; i < 8; ++i)
    if (!c.submit(item(i)).ok()) break;
  EXPECT_FALSE(c.finish().ok());
  EXPECT_EQ(log.recorded, names(4));  // the first batch only
}

using test_exec::TmpDir;

size_t temporaries(const std::string& dir) {
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir))
    n += e.path().filename().string().find(".tmp-") != std::string::npos;
  return n;
}

TEST(GroupCommit, CommitFilesRenamesOnlySealedSyncedFiles) {
  TmpDir tmp;
  std::vector<AtomicFile> files;
  for (int i = 0; i < 3; ++i) {
    auto f = AtomicFile::create(tmp.path + "/x" + std::to_string(i), 1 << 20);  // preallocated, trimmed on seal
    ASSERT_TRUE(f.ok()) << f.message();
    ASSERT_TRUE(f->write(std::string(100 + size_t(i), char('a' + i))).ok());
    files.push_back(std::move(*f));
  }
  ASSERT_TRUE(files[0].seal().ok());
  ASSERT_TRUE(files[0].seal().ok());  // idempotent
  EXPECT_FALSE(files[0].write(std::string("late")).ok());
  EXPECT_FALSE(fs::exists(tmp.path + "/x0"));
  std::vector<AtomicFile*> ptrs;
  for (auto& f : files) ptrs.push_back(&f);
  ASSERT_TRUE(commit_files(ptrs).ok());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(fs::file_size(tmp.path + "/x" + std::to_string(i)), 100u + uint64_t(i));
  EXPECT_EQ(temporaries(tmp.path), 0u);
}

TEST(GroupCommit, FileOpsCommitRealFilesThenRecord) {
  TmpDir tmp;
  std::vector<std::string> recorded;
  GroupCommitter::Policy pol;
  pol.batch = 2;
  GroupCommitter c(GroupCommitter::file_ops([&](const std::vector<ManifestFile>& done) {
                     for (const auto& f : done) {
                       EXPECT_TRUE(fs::exists(tmp.path + "/" + f.path)) << f.path;  // renamed before recorded
                       recorded.push_back(f.path);
                     }
                     return Status::Ok();
                   }),
                   pol);
  for (int i = 0; i < 5; ++i) {
    auto f = AtomicFile::create(tmp.path + "/f" + std::to_string(i));
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE(f->write(std::string("payload")).ok());
    ASSERT_TRUE(f->seal().ok());
    ASSERT_TRUE(c.submit({std::move(*f), ManifestFile{"f" + std::to_string(i), 7, ""}}).ok());
  }
  ASSERT_TRUE(c.finish().ok());
  EXPECT_EQ(recorded, names(5));
  EXPECT_EQ(temporaries(tmp.path), 0u);
}

}  // namespace
}  // namespace g2
