// The executor's orchestration: destination checks and lock, resume journal, a thread pool
// over output files (and helpers that split each file's chunks), text and tokenizer files,
// and the manifest (last).
#include "libconvert/execute.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "libconvert/execute_tensor.h"
#include "libconvert/format/atomic_file.h"
#include "libconvert/format/safetensors_writer.h"
#include "libconvert/group_commit.h"
#include "libconvert/manifest.h"

namespace g2 {

namespace fs = std::filesystem;

const std::vector<std::string>& tokenizer_file_names() {
  static const std::vector<std::string> names = {"tokenizer.tok.json", "tokenizer.model", "tokenizer.json",
                                                 "tokenizer_config.json", "special_tokens_map.json"};
  return names;
}

namespace {

constexpr const char* kLockName = ".g2convert.lock";

// `.g2convert.lock` held with flock(2): the kernel drops the lock when its owner dies, so a
// lock left by a killed run is never mistaken for a live one, and there is no window in
// which two runs both decide a lock is stale (the O_EXCL + pid check had one: a lock created
// but not yet holding its pid read as stale and was deleted under its live owner). The pid in
// the file only serves the message.
class DirLock {
 public:
  Status acquire(const std::string& path) {
    for (int attempt = 0; attempt < 8; ++attempt) {
      const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
      if (fd < 0) return io_error(path + ": cannot create the lock file: " + std::strerror(errno));
      if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int e = errno;
        ::close(fd);
        if (e != EWOULDBLOCK) return io_error(path + ": cannot lock: " + std::strerror(e));
        std::ifstream f(path);
        long pid = 0;
        f >> pid;
        return invalid(fs::path(path).parent_path().string() + " is being written by another g2convert (pid " +
                       (pid > 0 ? std::to_string(pid) : std::string("?")) + ", lock " + path +
                       "); wait for it or stop it");
      }
      // The previous holder unlinks the file before unlocking: a lock on an unlinked inode is
      // worthless, so take the one now under the name.
      struct stat a {}, b {};
      if (::fstat(fd, &a) != 0 || ::stat(path.c_str(), &b) != 0 || a.st_ino != b.st_ino || a.st_dev != b.st_dev) {
        ::close(fd);
        continue;
      }
      const std::string pid = std::to_string(::getpid()) + "\n";
      if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) != ssize_t(pid.size())) {
        ::unlink(path.c_str());
        ::close(fd);
        return io_error(path + ": cannot write the lock file");
      }
      fd_ = fd;
      path_ = path;
      return Status::Ok();
    }
    return io_error(path + ": cannot take the lock (it keeps being replaced)");
  }
  ~DirLock() {
    if (fd_ >= 0) {
      ::unlink(path_.c_str());  // while still locked, see acquire()
      ::close(fd_);
    }
  }

 private:
  std::string path_;
  int fd_ = -1;
};

bool is_ours(const std::string& name) {
  return name == kLockName || name == kJournalName || name.find(".tmp-") != std::string::npos;
}

// Copy `from` to a sealed temporary of `to` (committed by the caller with the text files).
Status copy_file_hashed(const std::string& from, const std::string& to, ManifestFile& mf, std::vector<AtomicFile>& out_files) {
  const int fd = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error(from + ": cannot open: " + std::strerror(errno));
  auto out = AtomicFile::create(to);
  if (!out) {
    ::close(fd);
    return out.error();
  }
  Xxh3Stream h;
  std::vector<uint8_t> buf(size_t(4) << 20);
  uint64_t total = 0;
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return io_error(from + ": read failed");
    }
    if (n == 0) break;
    h.update(buf.data(), size_t(n));
    Status st = out->write({buf.data(), size_t(n)});
    if (!st.ok()) {
      ::close(fd);
      return st;
    }
    total += uint64_t(n);
  }
  ::close(fd);
  G2_TRY(out->seal());
  out_files.push_back(std::move(*out));
  mf.bytes = total;
  mf.xxh3_128 = h.hex();
  return Status::Ok();
}

Expected<ManifestFile> write_text_hashed(const std::string& dir, const TextFile& t, std::vector<AtomicFile>& out_files) {
  auto f = AtomicFile::create(dir + "/" + t.path);
  if (!f) return f.error();
  G2_TRY(f->write(t.content));
  G2_TRY(f->seal());
  out_files.push_back(std::move(*f));
  Xxh3Stream h;
  h.update(t.content.data(), t.content.size());
  return ManifestFile{t.path, t.content.size(), h.hex()};
}

struct Shared {
  const Plan& plan;
  const TensorSource& src;
  const std::string& dst;
  const ExecOptions& opt;
  ScaleCache scales;
  QuantStats stats;
  std::mutex mu;  // guards everything below
  Manifest journal;
  ExecProgress progress;
  ExecReport report;
  std::optional<Error> error;
  std::map<std::string, ManifestFile> resumable;  // recorded by an earlier run of the same plan
  GroupCommitter* committer = nullptr;  // makes finished files durable, then journals them
  WorkPool* parts = nullptr;            // helpers that split each chunk of a tensor (execute_tensor.h)
};

void report_progress(Shared& s) {
  if (s.opt.progress) s.opt.progress(s.progress);
}

// The committer's record step: list a batch of durable files in the journal. Only the
// committer thread writes the journal (after the initial write), so the snapshot is written
// outside the lock and the workers' progress updates never wait for its fsync.
Status record_done(Shared& s, const std::vector<ManifestFile>& done) {
  Manifest snapshot;
  {
    std::lock_guard<std::mutex> lk(s.mu);
    for (const auto& mf : done) {
      std::erase_if(s.journal.files, [&](const ManifestFile& x) { return x.path == mf.path; });
      s.journal.files.push_back(mf);
    }
    snapshot = s.journal;
  }
  G2_TRY(write_manifest(s.dst + "/" + kJournalName, snapshot));
  std::lock_guard<std::mutex> lk(s.mu);
  for (const auto& mf : done) {  // one report per file, as before batching
    ++s.report.files_written;
    ++s.progress.files_done;
    s.progress.last_file = mf.path;
    report_progress(s);
  }
  return Status::Ok();
}

// Write one output file (or verify and skip it when an earlier run finished it).
Status run_file(Shared& s, const PlannedFile& f, uint64_t chunk_bytes, ChunkScratch& scratch) {
  const std::string path = s.dst + "/" + f.path;
  auto skip_it = [&](const ManifestFile& mf) {
    std::lock_guard<std::mutex> lk(s.mu);
    (void)mf;  // already in the journal, seeded from the earlier run
    ++s.report.files_skipped;
    ++s.progress.files_done;
    s.progress.bytes_done += f.payload_bytes;
    s.progress.last_file = f.path + " (verified, kept)";
    report_progress(s);
  };
  if (auto it = s.resumable.find(f.path); it != s.resumable.end()) {
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    if (!ec && size == it->second.bytes) {
      auto h = hash_file(path);
      if (h && *h == it->second.xxh3_128) {
        for (const auto& t : f.tensors)
          if (t.recipe.encode == Encode::Fp8Weight || t.recipe.encode == Encode::Fp8Scale) s.scales.done(t.recipe.logical);
        skip_it(it->second);
        return Status::Ok();
      }
    }
  }
  std::vector<SafetensorsDecl> decls;
  for (const auto& t : f.tensors) decls.push_back({t.name, t.dtype, t.shape});
  std::map<std::string, std::string> meta;
  for (const auto& [k, v] : plan_file_metadata()) meta[k] = v;
  uint64_t data_size = 0;
  auto header = build_safetensors_header(decls, meta, &data_size);
  if (!header) return header.error();
  auto w = SafetensorsWriter::create(path, decls, meta);
  if (!w) return w.error();
  Xxh3Stream h;
  h.update(header->data(), header->size());
  for (const auto& t : f.tensors) {
    TensorJob job{s.src, t, s.scales, s.stats, chunk_bytes, scratch, *s.parts};
    Status st = produce_tensor(job, [&](std::span<const uint8_t> bytes) -> Status {
      G2_TRY(w->write(t.name, bytes));
      h.update(bytes.data(), bytes.size());
      std::lock_guard<std::mutex> lk(s.mu);
      s.progress.bytes_done += bytes.size();
      s.report.bytes_written += bytes.size();
      report_progress(s);
      return Status::Ok();
    });
    if (!st.ok()) return Error{st.error().kind, f.path + ": " + t.name + ": " + st.message()};
    if (const SourceTensor* st2 = s.src.find(t.recipe.src)) s.src.release(*st2);
  }
  auto file = w->finish_uncommitted();
  if (!file) return file.error();
  const ManifestFile mf{f.path, header->size() + data_size, h.hex()};
  G2_ASSERT(mf.bytes == w->file_size(), "hashed bytes disagree with the written file");
  // Durable, renamed and journaled in a batch by the committer while this thread goes on.
  return s.committer->submit({std::move(*file), mf});
}

// Decide what an existing destination means: fresh, resumable, or refused.
Status prepare_destination(Shared& s, const std::string& plan_fp, const std::string& src_fp) {
  const std::string& dst = s.dst;
  std::vector<std::string> others;
  for (const auto& e : fs::directory_iterator(dst)) {
    const std::string name = e.path().filename().string();
    if (!is_ours(name)) others.push_back(name);
  }
  auto previous = [&](const char* name) -> std::optional<Manifest> {
    auto m = read_manifest(dst + "/" + name);
    if (!m) return std::nullopt;
    return *m;
  };
  std::optional<Manifest> prev = previous(kJournalName);
  if (!prev) prev = previous(kManifestName);
  if (prev && prev->plan == plan_fp && prev->source_fingerprint == src_fp) {
    for (const auto& f : prev->files) s.resumable[f.path] = f;
    s.report.resumed = true;
  } else if (prev && !s.opt.force) {
    return invalid(dst + " holds " + (prev->plan == plan_fp ? "a conversion of a different source" : "a different conversion") +
                   " (" + (previous(kJournalName) ? "partial" : "finished") +
                   "); rerun its exact command to resume, choose another destination, or pass --force to overwrite");
  } else if (!prev && !others.empty() && !s.opt.force) {
    return invalid(dst + " is not empty (" + others.front() + (others.size() > 1 ? ", ..." : "") +
                   "); choose an empty destination or pass --force to overwrite");
  }
  if (s.opt.force && !s.report.resumed) {
    // remove what would confuse a loader globbing *.safetensors, and earlier g2convert state
    for (const auto& e : fs::directory_iterator(dst)) {
      const std::string name = e.path().filename().string();
      const bool stale = name.ends_with(".safetensors") || name == "model.safetensors.index.json" ||
                         name == kManifestName || name == kJournalName;
      if (stale && e.is_regular_file()) fs::remove(e.path());
    }
  }
  // leftovers of a killed run: temporaries never finished
  for (const auto& e : fs::directory_iterator(dst)) {
    const std::string name = e.path().filename().string();
    if (name.find(".tmp-") != std::string::npos && e.is_regular_file()) fs::remove(e.path());
  }
  fs::remove(dst + "/" + kManifestName);  // nothing may look finished until the end
  return Status::Ok();
}

}  // namespace

Expected<ExecReport> execute_plan(const Plan& plan, const TensorSource& src, const std::string& dst,
                                  const ExecOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  std::error_code ec;
  fs::create_directories(dst, ec);
  if (ec) return io_error(dst + ": cannot create the destination: " + ec.message());
  if (fs::equivalent(dst, src.root(), ec))
    return invalid(dst + " is the source checkpoint itself; choose another destination");
  DirLock lock;
  G2_TRY(lock.acquire(dst + "/" + kLockName));

  auto src_fp = source_fingerprint(src.root(), src.files());
  if (!src_fp) return src_fp.error();
  const std::string plan_fp = plan.fingerprint();
  Shared s{plan, src, dst, opt, ScaleCache(plan), {}, {}, {}, {}, {}, {}, {}, {}};
  try {
    G2_TRY(prepare_destination(s, plan_fp, *src_fp));
  } catch (const fs::filesystem_error& e) {
    return io_error(dst + ": " + e.what());
  }
  s.journal.command = opt.command;
  s.journal.source_root = src.root();
  s.journal.source_fingerprint = *src_fp;
  s.journal.plan = plan_fp;
  // Keep the earlier run's record until each file is re-verified or rewritten, so a crash
  // right after a restart does not forget what was already done.
  for (const auto& [path, mf] : s.resumable) s.journal.files.push_back(mf);
  G2_TRY(write_manifest(dst + "/" + kJournalName, s.journal));
  s.progress.files_total = plan.files.size();
  s.progress.bytes_total = plan.total_bytes();

  const int threads = std::max(1, std::min<int>(opt.threads, int(plan.files.size())));
  // Chunk scratch per thread: the budget minus the writer's buffer and a fixed reserve.
  const uint64_t per_thread = opt.mem_limit / uint64_t(std::max(1, opt.threads));
  // Three quarters of each thread's share go to chunk buffers: the rest covers the writer's
  // 4 MiB buffer, allocator slack and source pages between reading and dropping them.
  const uint64_t chunk_bytes = std::max<uint64_t>(per_thread / 4 * 3 > (8u << 20) ? per_thread / 4 * 3 - (8u << 20) : per_thread / 4, 64u << 10);
  // Files waiting for their batch: enough for the workers to keep writing while files are
  // synced, few enough to bound open descriptors and unsynced bytes.
  GroupCommitter::Policy policy;
  policy.max_pending = size_t(std::max(16, 4 * threads));
  GroupCommitter committer(GroupCommitter::file_ops([&s](const std::vector<ManifestFile>& done) { return record_done(s, done); }),
                           policy);
  s.committer = &committer;
  // opt.threads - 1 helpers: a worker alone on a large file (the last files, or the one
  // computing FP8 scales that the others wait for) still gets every core for its chunks.
  WorkPool parts(std::max(0, opt.threads - 1));
  s.parts = &parts;
  std::atomic<size_t> next{0};
  auto worker = [&] {
    ChunkScratch scratch;
    for (;;) {
      {
        std::lock_guard<std::mutex> lk(s.mu);
        if (s.error) return;
      }
      const size_t i = next.fetch_add(1);
      if (i >= plan.files.size()) return;
      Status st = run_file(s, plan.files[i], chunk_bytes, scratch);
      if (!st.ok()) {
        std::lock_guard<std::mutex> lk(s.mu);
        if (!s.error) s.error = st.error();
        return;
      }
    }
  };
  std::vector<std::thread> workers;
  for (int t = 1; t < threads; ++t) workers.emplace_back(worker);
  worker();
  for (auto& t : workers) t.join();
  // Files finished before an error are still committed and journaled, so a rerun keeps them.
  Status committed = committer.finish();
  if (s.error) return *s.error;
  G2_TRY(committed);

  // Text files, tokenizer files, then the manifest, last.
  Manifest m = s.journal;
  std::map<std::string, size_t> order;
  for (size_t i = 0; i < plan.files.size(); ++i) order[plan.files[i].path] = i;
  std::erase_if(m.files, [&](const ManifestFile& f) { return !order.count(f.path); });  // text files come next
  std::sort(m.files.begin(), m.files.end(), [&](const ManifestFile& a, const ManifestFile& b) { return order[a.path] < order[b.path]; });
  std::vector<AtomicFile> small;  // committed together, before the manifest
  for (const auto& t : plan.text_files) {
    auto mf = write_text_hashed(dst, t, small);
    if (!mf) return mf.error();
    m.files.push_back(*mf);
  }
  for (const auto& name : tokenizer_file_names()) {
    const std::string from = src.root() + "/" + name;
    if (!fs::is_regular_file(from, ec)) continue;
    ManifestFile mf{name, 0, ""};
    G2_TRY(copy_file_hashed(from, dst + "/" + name, mf, small));
    m.files.push_back(mf);
    s.report.copied.push_back(name);
  }
  std::vector<AtomicFile*> small_ptrs;
  for (auto& f : small) small_ptrs.push_back(&f);
  G2_TRY(commit_files(small_ptrs));
  G2_TRY(write_manifest(dst + "/" + kManifestName, m));
  fs::remove(dst + "/" + kJournalName, ec);

  for (auto& [name, v] : s.stats.take()) s.report.quant.push_back({name, v.first, v.second});
  std::sort(s.report.quant.begin(), s.report.quant.end(),
            [](const TensorQuantReport& a, const TensorQuantReport& b) { return a.err.rel_rms() > b.err.rel_rms(); });
  s.report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return std::move(s.report);
}

}  // namespace g2
