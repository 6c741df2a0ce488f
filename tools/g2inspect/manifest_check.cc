#include "tools/g2inspect/manifest_check.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "libconvert/format/digest.h"

namespace g2 {

namespace fs = std::filesystem;

Expected<ManifestCheck> check_manifest(const std::string& dir, const std::vector<std::string>& checkpoint_files) {
  ManifestCheck out;
  const std::string path = (fs::path(dir) / "g2manifest.json").string();
  if (!fs::exists(path)) return out;
  out.present = true;
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  auto j = nlohmann::json::parse(ss.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("files") || !j["files"].is_array())
    return invalid(path + ": not a g2 manifest (expected an object with a \"files\" array)");
  std::set<std::string> listed;
  for (const auto& f : j["files"]) {
    if (!f.is_object() || !f.contains("path") || !f["path"].is_string() || !f.contains("bytes") ||
        !f["bytes"].is_number_unsigned() || !f.contains("xxh3_128") || !f["xxh3_128"].is_string())
      return invalid(path + ": every files[] entry needs \"path\", \"bytes\" and \"xxh3_128\", got " + f.dump());
    const std::string rel = f["path"].get<std::string>();
    const fs::path p(rel);
    bool escapes = rel.empty() || p.is_absolute();
    for (const auto& part : p) escapes = escapes || part == "..";
    if (escapes)
      return invalid(path + ": file path \"" + rel + "\" is not inside the directory");
    listed.insert(fs::weakly_canonical(fs::path(dir) / p).string());
    ++out.checked;
    const std::string full = (fs::path(dir) / p).string();
    if (!fs::exists(full)) {
      out.problems.push_back({rel, "missing"});
      continue;
    }
    uint64_t size = 0;
    auto d = file_digest(full, &size);
    if (!d) return d.error();
    const uint64_t want = f["bytes"].get<uint64_t>();
    if (size != want)
      out.problems.push_back({rel, "size " + std::to_string(size) + " != " + std::to_string(want) + " in the manifest"});
    else if (d->hex() != f["xxh3_128"].get<std::string>())
      out.problems.push_back({rel, "xxh3_128 " + d->hex() + " != " + f["xxh3_128"].get<std::string>() + " in the manifest"});
  }
  // Every file the model reads must be covered, or the manifest proves nothing about it.
  for (const auto& f : checkpoint_files)
    if (!listed.count(fs::weakly_canonical(f).string()))
      out.problems.push_back({fs::relative(f, dir).string(), "not listed in g2manifest.json"});
  return out;
}

}  // namespace g2
