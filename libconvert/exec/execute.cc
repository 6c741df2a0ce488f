// The executor's orchestration: destination checks and locks, resume journal, a thread pool
// over output files (and helpers that split each file's chunks), text and tokenizer files,
// and the manifest (last); for a part, its share of the files and the hand-over to the last
// part (dest_state.h).
#include "libconvert/exec/execute.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "libconvert/exec/execute_tensor.h"
#include "libconvert/format/atomic_file.h"
#include "libconvert/format/safetensors_writer.h"
#include "libconvert/exec/dest_lock.h"
#include "libconvert/exec/dest_state.h"
#include "libconvert/exec/group_commit.h"
#include "libconvert/format/manifest.h"
#include "libconvert/plan/plan_split.h"

namespace g2 {

namespace fs = std::filesystem;

const std::vector<std::string>& tokenizer_file_names() {
  static const std::vector<std::string> names = {"tokenizer.tok.json", "tokenizer.model", "tokenizer.json",
                                                 "tokenizer_config.json", "special_tokens_map.json"};
  return names;
}

namespace {

// Copy `from` to a sealed temporary of `to` (committed by the caller with the text files).
Status copy_file_hashed(const std::string& from, const std::string& to, ManifestFile& mf,
                        std::vector<AtomicFile>& out_files) {
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

Expected<ManifestFile> write_text_hashed(const std::string& dir, const TextFile& t,
                                         std::vector<AtomicFile>& out_files) {
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
  const Plan& plan;  // what this run writes: the whole plan, or one part's share
  const TensorSource& src;
  const std::string& dst;
  const ExecOptions& opt;
  std::string plan_fp, src_fp;  // of the whole conversion, whichever part this is
  std::string journal_name;
  std::vector<std::string> all_files;  // the finished destination's files, in manifest order
  std::vector<std::vector<std::string>> part_files;  // --part: each part's files (index 0 = part 1)
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
  G2_TRY(write_manifest(s.dst + "/" + s.journal_name, snapshot));
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
          if (t.recipe.encode == Encode::Fp8Weight || t.recipe.encode == Encode::Fp8Scale)
            s.scales.done(t.recipe.logical);
        skip_it(it->second);
        return Status::Ok();
      }
    }
  }
  std::vector<SafetensorsDecl> decls;
  for (const auto& t : f.tensors) decls.push_back({t.name, t.dtype, t.shape});
  std::map<std::string, std::string> meta;
  for (const auto& [k, v] : plan_file_metadata()) meta[k] = v;
  auto w = SafetensorsWriter::create(path, decls, meta, s.opt.write_mode);
  if (!w) return w.error();
  Xxh3Stream h;
  h.update(w->header().data(), w->header().size());
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
  const ManifestFile mf{f.path, w->file_size(), h.hex()};
  // Durable, renamed and journaled in a batch by the committer while this thread goes on.
  return s.committer->submit({std::move(*file), mf});
}

// A part rerun into a finished destination: give every other part that has no state of its
// own a part manifest cut from g2manifest.json (what it recorded when it finished), so the
// merge at the end of this part finds them all again.
Status unmerge(const Shared& s, const StateFile& finished) {
  const PartSpec mine = *s.opt.part;
  const auto states = read_state(s.dst);
  for (int j = 1; j <= mine.count; ++j) {
    const PartSpec other{j, mine.count};
    if (other == mine) continue;
    const bool has_state = std::any_of(states.begin(), states.end(), [&](const StateFile& st) {
      return st.same(s.plan_fp, s.src_fp) && st.m.part && st.m.part->part == other;
    });
    if (has_state) continue;
    Manifest pm = finished.m;
    pm.part = Manifest::Part{other, s.all_files};
    pm.files.clear();
    bool complete = true;
    for (const auto& path : s.part_files[size_t(j - 1)]) {
      if (const ManifestFile* f = finished.m.find(path)) pm.files.push_back(*f);
      else complete = false;
    }
    if (complete) G2_TRY(write_manifest(s.dst + "/" + part_manifest_name(other), pm));
  }
  return Status::Ok();
}

// Decide what an existing destination means: fresh, resumable, or refused. Runs under the
// state lock: every part's workers read and change the shared state one at a time.
Status prepare_destination(Shared& s) {
  const std::string& dst = s.dst;
  const std::optional<PartSpec>& part = s.opt.part;
  std::vector<std::string> others;
  for (const auto& e : fs::directory_iterator(dst)) {
    const std::string name = e.path().filename().string();
    if (!is_state_name(name)) others.push_back(name);
  }
  const auto states = read_state(dst);
  const StateFile* foreign = nullptr;
  const StateFile* finished = nullptr;
  bool ours = false;  // state of this conversion (this run's or other parts')
  for (const auto& st : states) {
    if (!st.same(s.plan_fp, s.src_fp)) {
      if (!foreign) foreign = &st;
      continue;
    }
    if (st.kind == StateFile::Kind::Finished) finished = &st;
    if (part && st.m.part && st.m.part->part.count != part->count)
      return invalid(dst + " is being converted in " + std::to_string(st.m.part->part.count) + " parts (" + st.name +
                     "): run every part as --part I/" + std::to_string(st.m.part->part.count) +
                     ", or finish it with one g2convert run without --part");
    for (const auto& f : st.m.files) s.resumable.emplace(f.path, f);
    ours = true;
  }
  // resumed: an earlier run recorded some of the files this run writes
  s.report.resumed = std::any_of(s.plan.files.begin(), s.plan.files.end(),
                                 [&](const PlannedFile& f) { return s.resumable.count(f.path) > 0; });
  if (foreign && !s.opt.force) {
    const bool partial = foreign->kind == StateFile::Kind::Journal || foreign->kind == StateFile::Kind::PartJournal;
    return invalid(dst + " holds " +
                   (foreign->m.plan == s.plan_fp ? "a conversion of a different source" : "a different conversion") +
                   " (" + (partial ? "partial" : "finished") +
                   "); rerun its exact command to resume, choose another destination, or " +
                   (part ? "empty it (--force does not combine with --part)" : "pass --force to overwrite"));
  } else if (!ours && !foreign && !others.empty() && !s.opt.force) {
    return invalid(dst + " is not empty (" + others.front() + (others.size() > 1 ? ", ..." : "") +
                   "); choose an empty destination or pass --force to overwrite");
  }
  if (s.opt.force) {
    // remove what would confuse a loader globbing *.safetensors, and earlier g2convert state
    for (const auto& st : states)
      if (!st.same(s.plan_fp, s.src_fp)) fs::remove(dst + "/" + st.name);
    if (!ours)
      for (const auto& e : fs::directory_iterator(dst)) {
        const std::string name = e.path().filename().string();
        if ((name.ends_with(".safetensors") || name == "model.safetensors.index.json") && e.is_regular_file())
          fs::remove(e.path());
      }
  }
  // Leftovers of a killed run: temporaries never finished. A part removes only its own and
  // those of the state files written under the state lock: the other parts are writing theirs.
  std::set<std::string> removable;
  if (part) {
    for (const auto& path : s.part_files[size_t(part->index - 1)]) removable.insert(path);
    removable.insert(s.journal_name);
    removable.insert(kManifestName);
    for (int j = 1; j <= part->count; ++j) removable.insert(part_manifest_name({j, part->count}));
  }
  for (const auto& e : fs::directory_iterator(dst)) {
    const std::string name = e.path().filename().string();
    const auto tmp = name.find(".tmp-");
    if (tmp != std::string::npos && e.is_regular_file() && (!part || removable.count(name.substr(0, tmp))))
      fs::remove(e.path());
  }
  if (part) {
    if (finished) G2_TRY(unmerge(s, *finished));
    fs::remove(dst + "/" + part_manifest_name(*part));  // this part is not finished until it says so again
  }
  fs::remove(dst + "/" + kManifestName);  // nothing may look finished until the end
  return Status::Ok();
}

// The small files next to the tensor files: the plan's text files, then the tokenizer files
// the source has (written by the one run, or by part 1).
std::vector<std::string> small_file_names(const Plan& plan, const TensorSource& src) {
  std::vector<std::string> out;
  for (const auto& t : plan.text_files) out.push_back(t.path);
  std::error_code ec;
  for (const auto& name : tokenizer_file_names())
    if (fs::is_regular_file(src.root() + "/" + name, ec)) out.push_back(name);
  return out;
}

// The files of the finished destination, in manifest order.
std::vector<std::string> destination_files(const Plan& plan, const TensorSource& src) {
  std::vector<std::string> out;
  for (const auto& f : plan.files) out.push_back(f.path);
  for (auto& name : small_file_names(plan, src)) out.push_back(std::move(name));
  return out;
}

}  // namespace

Expected<ExecReport> execute_plan(const Plan& full_plan, const TensorSource& src, const std::string& dst,
                                  const ExecOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::optional<PartSpec>& part = opt.part;
  if (part && (part->count < 1 || part->index < 1 || part->index > part->count))
    return invalid("--part " + std::to_string(part->index) + "/" + std::to_string(part->count) +
                   ": expected I/N with 1 <= I <= N");
  if (part && opt.force)
    return invalid("--force does not combine with --part: the parts share the destination, and one part must not "
                   "delete what the others write; empty the destination first");
  std::error_code ec;
  fs::create_directories(dst, ec);
  if (ec) return io_error(dst + ": cannot create the destination: " + ec.message());
  if (fs::equivalent(dst, src.root(), ec))
    return invalid(dst + " is the source checkpoint itself; choose another destination");
  // One run: the destination lock alone. Parts share it (so no one-process run starts while
  // they work) and each takes its own part's lock (so no part has two writers).
  DestLock dir_lock, part_lock;
  G2_TRY(dir_lock.try_acquire(dst + "/" + kLockName, part ? DestLock::Mode::Shared : DestLock::Mode::Exclusive, dst));
  if (part)
    G2_TRY(
        part_lock.try_acquire(dst + "/" + part_lock_name(*part), DestLock::Mode::Exclusive, dst + ": " + part->text()));

  auto src_fp = source_fingerprint(src.root(), src.files());
  if (!src_fp) return src_fp.error();
  // A part executes its share of the plan; fingerprints and the file list stay the whole one's.
  std::vector<std::vector<std::string>> part_files;
  std::optional<Plan> share;
  bool writes_text = true;  // the text and tokenizer files: the one run, or the part split_parts gives them to
  if (part) {
    auto parts = split_parts(full_plan, part->count);
    if (!parts) return parts.error();
    for (const auto& p : *parts) {
      std::vector<std::string> paths;
      for (size_t i : p.files) paths.push_back(full_plan.files[i].path);
      if (p.text_files)
        for (auto& name : small_file_names(full_plan, src)) paths.push_back(std::move(name));
      part_files.push_back(std::move(paths));
    }
    const PlanPart& mine = (*parts)[size_t(part->index - 1)];
    share = part_plan(full_plan, mine);
    writes_text = mine.text_files;
  }
  const Plan& plan = share ? *share : full_plan;
  Shared s{plan,
           src,
           dst,
           opt,
           full_plan.fingerprint(),
           *src_fp,
           part ? part_journal_name(*part) : std::string(kJournalName),
           destination_files(full_plan, src),
           std::move(part_files),
           ScaleCache(plan),
           {},
           {},
           {},
           {},
           {},
           {},
           {},
           {}};
  {
    DestLock state_lock;
    G2_TRY(state_lock.acquire_wait(dst + "/" + kStateLockName));
    try {
      G2_TRY(prepare_destination(s));
    } catch (const fs::filesystem_error& e) {
      return io_error(dst + ": " + e.what());
    }
    s.journal.command = opt.command;
    s.journal.source_root = src.root();
    s.journal.source_fingerprint = *src_fp;
    s.journal.plan = s.plan_fp;
    s.journal.ranks = full_plan.ranks;
    if (part) s.journal.part = Manifest::Part{*part, s.all_files};
    // Keep the earlier run's record until each file is re-verified or rewritten, so a crash
    // right after a restart does not forget what was already done.
    for (const auto& f : plan.files)
      if (auto it = s.resumable.find(f.path); it != s.resumable.end()) s.journal.files.push_back(it->second);
    G2_TRY(write_manifest(dst + "/" + s.journal_name, s.journal));
  }
  s.progress.files_total = plan.files.size();
  s.progress.bytes_total = plan.total_bytes();

  const int threads = std::max(1, std::min<int>(opt.threads, int(plan.files.size())));
  // Chunk scratch per thread: the budget minus the writer's buffer and a fixed reserve.
  const uint64_t per_thread = opt.mem_limit / uint64_t(std::max(1, opt.threads));
  // Three quarters of each thread's share go to chunk buffers: the rest covers the writer's
  // 4 MiB buffer, allocator slack and source pages between reading and dropping them.
  const uint64_t chunk_bytes =
      std::max<uint64_t>(per_thread / 4 * 3 > (8u << 20) ? per_thread / 4 * 3 - (8u << 20) : per_thread / 4, 64u << 10);
  // Files waiting for their batch: enough for the workers to keep writing while files are
  // synced, few enough to bound open descriptors and unsynced bytes.
  GroupCommitter::Policy policy;
  policy.max_pending = size_t(std::max(16, 4 * threads));
  GroupCommitter committer(
      GroupCommitter::file_ops([&s](const std::vector<ManifestFile>& done) { return record_done(s, done); }), policy);
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

  // Text files, tokenizer files (the one run, or part 1), then the manifest, last.
  Manifest m = s.journal;
  std::map<std::string, size_t> order;
  for (size_t i = 0; i < plan.files.size(); ++i) order[plan.files[i].path] = i;
  std::erase_if(m.files, [&](const ManifestFile& f) { return !order.count(f.path); });  // text files come next
  std::sort(m.files.begin(), m.files.end(),
            [&](const ManifestFile& a, const ManifestFile& b) { return order[a.path] < order[b.path]; });
  std::vector<AtomicFile> small;  // committed together, before the manifest
  if (writes_text) {
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
  }
  std::vector<AtomicFile*> small_ptrs;
  for (auto& f : small) small_ptrs.push_back(&f);
  G2_TRY(commit_files(small_ptrs));
  if (!part) {
    G2_TRY(write_manifest(dst + "/" + kManifestName, m));
    remove_finished_state(dst, s.plan_fp, s.src_fp);  // the journal, and any parts' state it resumed from
    s.report.manifest_written = true;
  } else {
    // Say this part is done, then see whether it is the last: under the state lock, so two
    // parts finishing together cannot both miss (or both write) the merge.
    DestLock state_lock;
    G2_TRY(state_lock.acquire_wait(dst + "/" + kStateLockName));
    G2_TRY(write_manifest(dst + "/" + part_manifest_name(*part), m));
    fs::remove(dst + "/" + s.journal_name, ec);
    auto merged = merge_parts_locked(dst, s.plan_fp, s.src_fp, part->count);
    if (!merged)
      return Error{merged.error().kind, part->text() + " is written, but g2manifest.json is not: " + merged.message()};
    s.report.manifest_written = merged->merged;
    s.report.parts_waiting = merged->waiting;
  }

  for (auto& [name, v] : s.stats.take()) s.report.quant.push_back({name, v.first, v.second});
  std::sort(s.report.quant.begin(), s.report.quant.end(),
            [](const TensorQuantReport& a, const TensorQuantReport& b) { return a.err.rel_rms() > b.err.rel_rms(); });
  s.report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return std::move(s.report);
}

}  // namespace g2
