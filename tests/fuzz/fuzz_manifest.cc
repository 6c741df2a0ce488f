// libFuzzer target for g2manifest.json and the resume journal (parse_manifest, and the
// files-only parse_manifest_files that --verify uses): any text parses or fails with a Status
// naming the source; no accepted file path leaves the directory; an accepted manifest survives
// a write/parse round trip byte for byte, and both parsers agree on its files.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include "libconvert/format/manifest.h"

namespace {

bool inside(const std::string& path) {
  const std::filesystem::path p(path);
  if (path.empty() || p.is_absolute()) return false;
  for (const auto& part : p)
    if (part == "..") return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto files = g2::parse_manifest_files(text, "fuzz/g2manifest.json");
  if (!files.ok()) {
    G2_ASSERT(files.message().find("fuzz/g2manifest.json") != std::string::npos);
  } else {
    for (const auto& f : *files) G2_ASSERT(inside(f.path));
  }
  auto m = g2::parse_manifest(text, "fuzz/journal.json");
  if (!m.ok()) {
    G2_ASSERT(m.message().find("fuzz/journal.json") != std::string::npos);
    return 0;
  }
  G2_ASSERT(files.ok() && files->size() == m->files.size());
  const std::string back = g2::manifest_to_json(*m);
  auto again = g2::parse_manifest(back, "re-encoded");
  G2_ASSERT(again.ok());
  G2_ASSERT(g2::manifest_to_json(*again) == back);
  return 0;
}
