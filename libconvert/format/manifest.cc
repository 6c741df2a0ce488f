#include "libconvert/format/manifest.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <nlohmann/json.hpp>
#include <xxhash.h>

#include "libconvert/format/atomic_file.h"
#include "libconvert/format/read_file.h"

namespace g2 {

using nlohmann::json;
namespace fs = std::filesystem;

const ManifestFile* Manifest::find(const std::string& path) const {
  for (const auto& f : files)
    if (f.path == path) return &f;
  return nullptr;
}

std::string manifest_to_json(const Manifest& m) {
  json j{{"version", m.version}, {"tool", m.tool}, {"command", m.command},
         {"source", {{"root", m.source_root}, {"fingerprint", m.source_fingerprint}}}};
  if (!m.plan.empty()) j["plan"] = m.plan;
  if (m.ranks) j["ranks"] = {{"first", m.ranks->first}, {"last", m.ranks->last}, {"tp", m.ranks->tp}};
  if (m.part)
    j["part"] = {{"index", m.part->part.index}, {"count", m.part->part.count}, {"all_files", m.part->all_files}};
  j["files"] = json::array();
  for (const auto& f : m.files) j["files"].push_back({{"path", f.path}, {"bytes", f.bytes}, {"xxh3_128", f.xxh3_128}});
  return j.dump(2) + "\n";
}

namespace {

Expected<std::vector<ManifestFile>> files_of(const json& j, const std::string& source) {
  if (!j.is_object() || !j.contains("files") || !j["files"].is_array())
    return invalid(source + ": not a g2 manifest (expected an object with a \"files\" array)");
  std::vector<ManifestFile> out;
  for (const auto& f : j["files"]) {
    if (!f.is_object() || !f.contains("path") || !f["path"].is_string() || !f.contains("bytes") ||
        !f["bytes"].is_number_unsigned() || !f.contains("xxh3_128") || !f["xxh3_128"].is_string())
      return invalid(source + ": every files[] entry needs \"path\", \"bytes\" and \"xxh3_128\", got " + f.dump());
    ManifestFile mf{f["path"].get<std::string>(), f["bytes"].get<uint64_t>(), f["xxh3_128"].get<std::string>()};
    const fs::path p(mf.path);
    bool escapes = mf.path.empty() || p.is_absolute();
    for (const auto& part : p) escapes = escapes || part == "..";
    if (escapes) return invalid(source + ": file path \"" + mf.path + "\" is not inside the directory");
    out.push_back(std::move(mf));
  }
  return out;
}

}  // namespace

Expected<std::vector<ManifestFile>> parse_manifest_files(const std::string& text, const std::string& source) {
  return files_of(json::parse(text, nullptr, false), source);
}

Expected<Manifest> parse_manifest(const std::string& text, const std::string& source) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return invalid(source + ": not a JSON object");
  Manifest m;
  try {
    m.version = j.at("version").get<int>();
    if (m.version != 1) return invalid(source + ": manifest version " + std::to_string(m.version) + ", expected 1");
    m.tool = j.at("tool").get<std::string>();
    m.command = j.at("command").get<std::vector<std::string>>();
    m.source_root = j.at("source").at("root").get<std::string>();
    m.source_fingerprint = j.at("source").at("fingerprint").get<std::string>();
    if (j.contains("plan")) m.plan = j["plan"].get<std::string>();
    if (j.contains("ranks")) {
      const auto& r = j["ranks"];
      m.ranks = RankSubset{r.at("first").get<int>(), r.at("last").get<int>(), r.at("tp").get<int>()};
      if (m.ranks->first < 0 || m.ranks->last < m.ranks->first || m.ranks->last >= m.ranks->tp)
        return invalid(source + ": \"ranks\" " + r.dump() + " is not a range inside 0..tp-1");
    }
    if (j.contains("part")) {
      const auto& p = j["part"];
      m.part = Manifest::Part{{p.at("index").get<int>(), p.at("count").get<int>()},
                              p.at("all_files").get<std::vector<std::string>>()};
      if (m.part->part.index < 1 || m.part->part.index > m.part->part.count)
        return invalid(source + ": \"part\" " + std::to_string(m.part->part.index) + "/" +
                       std::to_string(m.part->part.count) + " is not a part I/N with 1 <= I <= N");
    }
    auto files = files_of(j, source);
    if (!files) return files.error();
    m.files = std::move(*files);
  } catch (const json::exception& e) {
    return invalid(source + ": " + e.what());
  }
  return m;
}

Expected<Manifest> read_manifest(const std::string& path) {
  auto text = read_file(path);
  if (!text) return not_found(path + ": cannot open");
  return parse_manifest(*text, path);
}

Status write_manifest(const std::string& path, const Manifest& m) {
  return write_file_atomic(path, manifest_to_json(m));
}

static std::string hex128(XXH128_hash_t h) {
  XXH128_canonical_t c;
  XXH128_canonicalFromHash(&c, h);
  static const char* d = "0123456789abcdef";
  std::string s(32, '0');
  for (int i = 0; i < 16; ++i) {
    s[size_t(2 * i)] = d[c.digest[i] >> 4];
    s[size_t(2 * i + 1)] = d[c.digest[i] & 15];
  }
  return s;
}

Xxh3Stream::Xxh3Stream() : state_(XXH3_createState()) {
  G2_ASSERT(state_ != nullptr);
  XXH3_128bits_reset(static_cast<XXH3_state_t*>(state_));
}
Xxh3Stream::~Xxh3Stream() { XXH3_freeState(static_cast<XXH3_state_t*>(state_)); }
void Xxh3Stream::update(const void* data, size_t n) {
  XXH3_128bits_update(static_cast<XXH3_state_t*>(state_), data, n);
}
std::string Xxh3Stream::hex() const { return hex128(XXH3_128bits_digest(static_cast<const XXH3_state_t*>(state_))); }

Expected<std::string> hash_file(const std::string& path, uint64_t* bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error(path + ": cannot open: " + std::strerror(errno));
  Xxh3Stream h;
  std::vector<uint8_t> buf(size_t(8) << 20);
  uint64_t total = 0;
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      ::close(fd);
      return io_error(path + ": read failed: " + std::strerror(e));
    }
    if (n == 0) break;
    h.update(buf.data(), size_t(n));
    // a hash pass over hundreds of GB must not fill the page cache at the expense of others
    ::posix_fadvise(fd, off_t(total), n, POSIX_FADV_DONTNEED);
    total += uint64_t(n);
  }
  ::close(fd);
  if (bytes) *bytes = total;
  return h.hex();
}

Expected<std::string> source_fingerprint(const std::string& root, const std::vector<std::string>& files) {
  std::vector<std::string> sorted = files;
  std::sort(sorted.begin(), sorted.end());
  Xxh3Stream h;
  std::vector<uint8_t> buf(64 * 1024);
  for (const auto& path : sorted) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return io_error(path + ": cannot open: " + std::strerror(errno));
    const off_t size = ::lseek(fd, 0, SEEK_END);
    const ssize_t n = ::pread(fd, buf.data(), buf.size(), 0);
    ::close(fd);
    if (size < 0 || n < 0) return io_error(path + ": cannot read");
    const std::string rel = path.rfind(root, 0) == 0 ? path.substr(root.size()) : path;
    h.update(rel.data(), rel.size() + 1);
    const uint64_t sz = uint64_t(size);
    h.update(&sz, sizeof sz);
    h.update(buf.data(), size_t(n));
  }
  return h.hex();
}

Expected<ManifestCheck> verify_manifest(const std::string& dir, const std::vector<ManifestFile>& files,
                                        const std::vector<std::string>& checkpoint_files) {
  ManifestCheck out;
  out.present = true;
  std::set<std::string> listed;
  for (const auto& f : files) {
    const fs::path p = fs::path(dir) / f.path;
    listed.insert(fs::weakly_canonical(p).string());
    ++out.checked;
    if (!fs::exists(p)) {
      out.problems.push_back({f.path, "missing"});
      continue;
    }
    uint64_t size = 0;
    auto h = hash_file(p.string(), &size);
    if (!h) return h.error();
    if (size != f.bytes)
      out.problems.push_back(
          {f.path, "size " + std::to_string(size) + " != " + std::to_string(f.bytes) + " in the manifest"});
    else if (*h != f.xxh3_128)
      out.problems.push_back({f.path, "xxh3_128 " + *h + " != " + f.xxh3_128 + " in the manifest"});
  }
  for (const auto& f : checkpoint_files)
    if (!listed.count(fs::weakly_canonical(f).string()))
      out.problems.push_back({fs::relative(f, dir).string(), "not listed in g2manifest.json"});
  return out;
}

Expected<ManifestCheck> check_manifest(const std::string& dir, const std::vector<std::string>& checkpoint_files) {
  const std::string path = (fs::path(dir) / kManifestName).string();
  if (!fs::exists(path)) return ManifestCheck{};
  auto files = parse_manifest_files(read_file(path).value_or(""), path);
  if (!files) return files.error();
  return verify_manifest(dir, *files, checkpoint_files);
}

}  // namespace g2
