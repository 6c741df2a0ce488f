// g2manifest.json: what a finished g2convert output holds (every file's size and XXH3-128),
// where it came from (source root + fingerprint) and the exact command, written last so its
// presence means "complete". The same file format records partial progress in the resume
// journal (g2convert.partial.json), which adds the plan fingerprint. A `--ranks` output
// records its rank subset; a `--part` worker's journal and part manifest record the part and
// the whole destination's file list, from which the last part writes g2manifest.json
// (dest_state.h).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "libconvert/plan/split.h"
#include "libconvert/status.h"

namespace g2 {

inline constexpr const char* kManifestName = "g2manifest.json";
inline constexpr const char* kJournalName = "g2convert.partial.json";

struct ManifestFile {
  std::string path;  // relative to the output dir
  uint64_t bytes = 0;
  std::string xxh3_128;  // 32 lowercase hex digits (canonical big-endian)
};

struct Manifest {
  int version = 1;
  std::string tool = "g2convert";
  std::vector<std::string> command;
  std::string source_root, source_fingerprint;
  std::string plan;  // plan fingerprint (g2kit extension: lets a rerun recognise its own output)
  std::optional<RankSubset> ranks;  // a --ranks output holds only these ranks' files
  struct Part {
    PartSpec part;
    std::vector<std::string> all_files;  // every file of the finished destination, in manifest order
  };
  std::optional<Part> part;  // a --part worker's journal or part manifest
  std::vector<ManifestFile> files;
  const ManifestFile* find(const std::string& path) const;
};

std::string manifest_to_json(const Manifest& m);
Expected<Manifest> parse_manifest(const std::string& text, const std::string& source);
// Only the "files" list, as verifying needs it: a manifest written by another tool (or by
// hand) need not carry the command, source or version. Every entry needs "path", "bytes" and
// "xxh3_128", and a path must stay inside the directory (no "..", not absolute).
Expected<std::vector<ManifestFile>> parse_manifest_files(const std::string& text, const std::string& source);
Expected<Manifest> read_manifest(const std::string& path);
Status write_manifest(const std::string& path, const Manifest& m);  // atomic

// XXH3-128 of a whole file, streamed in chunks (pages dropped as it goes). Hex as above.
Expected<std::string> hash_file(const std::string& path, uint64_t* bytes = nullptr);

// Incremental XXH3-128 (for hashing bytes while they are written).
class Xxh3Stream {
 public:
  Xxh3Stream();
  ~Xxh3Stream();
  Xxh3Stream(const Xxh3Stream&) = delete;
  Xxh3Stream& operator=(const Xxh3Stream&) = delete;
  void update(const void* data, size_t n);
  std::string hex() const;

 private:
  void* state_;
};

// A cheap fingerprint of a checkpoint: every file's relative path, size and the XXH3 of its
// first 64 KiB (which holds a safetensors header / a pickle's framing), hashed together.
Expected<std::string> source_fingerprint(const std::string& root, const std::vector<std::string>& files);

// What re-hashing a finished output against its manifest found (g2inspect --verify).
struct ManifestProblem {
  std::string path;     // as listed (relative to the checkpoint directory)
  std::string problem;  // "size 12 != 13 in the manifest", "xxh3_128 ... != ... in the manifest", "missing"
};
struct ManifestCheck {
  bool present = false;  // DIR/g2manifest.json exists
  size_t checked = 0;    // files listed and looked at
  std::vector<ManifestProblem> problems;
};

// Re-hash every listed file under `dir` (hash_file) and compare size and XXH3-128; every file
// of `checkpoint_files` (absolute paths: the files the model reads) must be listed too, or the
// manifest proves nothing about it. An unreadable file is an error, a mismatch is a problem.
Expected<ManifestCheck> verify_manifest(const std::string& dir, const std::vector<ManifestFile>& files,
                                        const std::vector<std::string>& checkpoint_files);
// The same for DIR/g2manifest.json (present = false when there is none). Bad JSON or a path
// escaping the directory is an error.
Expected<ManifestCheck> check_manifest(const std::string& dir, const std::vector<std::string>& checkpoint_files);

}  // namespace g2
