#include "libconvert/exec/dest_state.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>

#include "libconvert/exec/dest_lock.h"

namespace g2 {

namespace fs = std::filesystem;

namespace {

std::string part_name(const PartSpec& p, const char* prefix, const char* suffix) {
  return std::string(prefix) + "g2convert.part-" + std::to_string(p.index) + "-of-" + std::to_string(p.count) + suffix;
}

// "g2convert.part-I-of-N.json" / ".partial.json" -> the part and whether it is the journal.
std::optional<std::pair<PartSpec, bool>> parse_part_state(const std::string& name) {
  int i = 0, n = 0, len = 0;
  if (std::sscanf(name.c_str(), "g2convert.part-%d-of-%d%n", &i, &n, &len) != 2 || i < 1 || i > n) return std::nullopt;
  const PartSpec p{i, n};
  if (name == part_manifest_name(p)) return std::make_pair(p, false);
  if (name == part_journal_name(p)) return std::make_pair(p, true);
  return std::nullopt;
}

}  // namespace

std::string part_lock_name(const PartSpec& p) { return part_name(p, ".", ".lock"); }
std::string part_journal_name(const PartSpec& p) { return part_name(p, "", ".partial.json"); }
std::string part_manifest_name(const PartSpec& p) { return part_name(p, "", ".json"); }

bool is_state_name(const std::string& name) {
  return name.starts_with(".g2convert.") || name == kJournalName || parse_part_state(name) ||
         name.find(".tmp-") != std::string::npos;
}

std::vector<StateFile> read_state(const std::string& dst) {
  std::vector<StateFile> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dst, ec)) {
    const std::string name = e.path().filename().string();
    StateFile s;
    s.name = name;
    std::optional<PartSpec> part;
    if (name == kManifestName) s.kind = StateFile::Kind::Finished;
    else if (name == kJournalName) s.kind = StateFile::Kind::Journal;
    else if (auto p = parse_part_state(name)) {
      s.kind = p->second ? StateFile::Kind::PartJournal : StateFile::Kind::PartManifest;
      part = p->first;
    } else continue;
    auto m = read_manifest(e.path().string());
    if (!m) continue;
    if (part.has_value() != m->part.has_value() || (part && m->part->part != *part)) continue;  // not ours
    s.m = std::move(*m);
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const StateFile& a, const StateFile& b) { return a.name < b.name; });
  return out;
}

void remove_finished_state(const std::string& dst, const std::string& plan_fp, const std::string& source_fp) {
  std::error_code ec;
  for (const auto& s : read_state(dst))
    if (s.kind != StateFile::Kind::Finished && s.same(plan_fp, source_fp)) fs::remove(fs::path(dst) / s.name, ec);
  std::vector<fs::path> temps, part_locks;
  for (const auto& e : fs::directory_iterator(dst, ec)) {
    const std::string name = e.path().filename().string();
    if (name.find(".tmp-") != std::string::npos) temps.push_back(e.path());
    else if (name.starts_with(".g2convert.part-") && name.ends_with(".lock")) part_locks.push_back(e.path());
  }
  for (const auto& p : temps) fs::remove(p, ec);
  for (const auto& p : part_locks) DestLock::remove_if_stale(p.string());
}

Expected<MergeResult> merge_parts_locked(const std::string& dst, const std::string& plan_fp,
                                         const std::string& source_fp, int count) {
  MergeResult r;
  r.count = count;
  const auto states = read_state(dst);
  std::vector<const StateFile*> done(size_t(count) + 1, nullptr), journal(size_t(count) + 1, nullptr);
  for (const auto& s : states) {
    if (!s.same(plan_fp, source_fp) || !s.m.part || s.m.part->part.count != count) continue;
    (s.kind == StateFile::Kind::PartManifest ? done : journal)[size_t(s.m.part->part.index)] = &s;
  }
  for (int i = 1; i <= count; ++i) {
    if (done[size_t(i)]) continue;
    const StateFile* j = journal[size_t(i)];
    r.waiting.push_back(PartSpec{i, count}.text() +
                        (j ? " (unfinished: its journal lists " + std::to_string(j->m.files.size()) + " files done)"
                           : " (no journal: not started yet)"));
  }
  if (!r.waiting.empty()) return r;

  const StateFile& first = *done[1];
  std::map<std::string, std::pair<const ManifestFile*, const StateFile*>> recorded;
  for (int i = 1; i <= count; ++i) {
    const StateFile& s = *done[size_t(i)];
    if (s.m.part->all_files != first.m.part->all_files || s.m.ranks != first.m.ranks)
      return invalid(dst + ": " + s.name + " and " + first.name +
                     " describe different destinations (file lists or ranks differ); rerun the parts with one command");
    for (const auto& f : s.m.files) recorded[f.path] = {&f, &s};
  }
  Manifest out;
  out.command = first.m.command;  // part 1's, less --part: the one-process run's command
  out.source_root = first.m.source_root;
  out.source_fingerprint = first.m.source_fingerprint;
  out.plan = first.m.plan;
  out.ranks = first.m.ranks;
  for (const auto& path : first.m.part->all_files) {
    auto it = recorded.find(path);
    if (it == recorded.end())
      return invalid(dst + "/" + path + ": listed by none of the " + std::to_string(count) + " part manifests");
    const auto [f, by] = it->second;
    std::error_code ec;
    const auto size = fs::file_size(fs::path(dst) / path, ec);
    if (ec || size != f->bytes)
      return invalid(dst + "/" + path + ": " + (ec ? std::string("missing") : std::to_string(size) + " bytes") +
                     ", but " + by->name + " records " + std::to_string(f->bytes) + " bytes; rerun " +
                     by->m.part->part.text());
    out.files.push_back(*f);
  }
  G2_TRY(write_manifest(dst + "/" + kManifestName, out));
  remove_finished_state(dst, plan_fp, source_fp);
  r.merged = true;
  r.files = out.files.size();
  return r;
}

Expected<MergeResult> merge_manifest(const std::string& dst) {
  std::error_code ec;
  if (!fs::is_directory(dst, ec)) return not_found(dst + ": no such directory");
  DestLock dir, state;
  G2_TRY(dir.try_acquire(dst + "/" + kLockName, DestLock::Mode::Exclusive, dst));
  G2_TRY(state.acquire_wait(dst + "/" + kStateLockName));
  const auto states = read_state(dst);
  const StateFile* part = nullptr;
  const StateFile* finished = nullptr;
  for (const auto& s : states) {
    if (s.kind == StateFile::Kind::Finished) finished = &s;
    if (!s.m.part) continue;
    if (part && (!s.same(part->m.plan, part->m.source_fingerprint) || s.m.part->part.count != part->m.part->part.count))
      return invalid(dst + ": " + part->name + " and " + s.name +
                     " belong to different conversions; remove the stale one or rerun its parts");
    if (!part) part = &s;
  }
  if (!part) {
    if (!finished)
      return invalid(dst + ": nothing to merge: no part manifests (g2convert.part-I-of-N.json) here; "
                     "--merge-manifest finishes a destination written by g2convert --part I/N");
    MergeResult r;
    r.already_merged = true;
    r.files = finished->m.files.size();
    return r;
  }
  return merge_parts_locked(dst, part->m.plan, part->m.source_fingerprint, part->m.part->part.count);
}

}  // namespace g2
