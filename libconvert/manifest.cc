#include "libconvert/manifest.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <xxhash.h>

#include "libconvert/format/atomic_file.h"

namespace g2 {

using nlohmann::json;

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
    for (const auto& f : j.at("files")) {
      ManifestFile mf{f.at("path").get<std::string>(), f.at("bytes").get<uint64_t>(), f.at("xxh3_128").get<std::string>()};
      if (mf.path.empty() || mf.path[0] == '/' || mf.path.find("..") != std::string::npos)
        return invalid(source + ": file path \"" + mf.path + "\" must be relative and stay inside the directory");
      m.files.push_back(std::move(mf));
    }
  } catch (const json::exception& e) {
    return invalid(source + ": " + e.what());
  }
  return m;
}

Expected<Manifest> read_manifest(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return not_found(path + ": cannot open");
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_manifest(ss.str(), path);
}

Status write_manifest(const std::string& path, const Manifest& m) { return write_file_atomic(path, manifest_to_json(m)); }

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
void Xxh3Stream::update(const void* data, size_t n) { XXH3_128bits_update(static_cast<XXH3_state_t*>(state_), data, n); }
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

std::vector<std::string> verify_manifest(const std::string& dir, const Manifest& m) {
  std::vector<std::string> problems;
  for (const auto& f : m.files) {
    uint64_t bytes = 0;
    auto h = hash_file(dir + "/" + f.path, &bytes);
    if (!h) problems.push_back(h.message());
    else if (bytes != f.bytes) problems.push_back(f.path + ": " + std::to_string(bytes) + " bytes, manifest says " + std::to_string(f.bytes));
    else if (*h != f.xxh3_128) problems.push_back(f.path + ": checksum " + *h + ", manifest says " + f.xxh3_128);
  }
  return problems;
}

}  // namespace g2
