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

#include "libconvert/split.h"
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

// Re-hash every file of `m` under `dir`; returns one message per mismatch (empty: verified).
std::vector<std::string> verify_manifest(const std::string& dir, const Manifest& m);

}  // namespace g2
