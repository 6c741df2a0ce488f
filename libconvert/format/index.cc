#include "libconvert/format/index.h"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>

#include "libconvert/format/atomic_file.h"
#include "libconvert/format/read_file.h"

namespace g2 {

Status check_set_file_name(std::string_view f) {
  const std::string q = "\"" + std::string(f) + "\"";
  if (f.empty()) return invalid("empty file name");
  if (f.front() == '/') return invalid(q + " is an absolute path; files must be inside the set's directory");
  if (f.find('/') != std::string_view::npos || f.find('\\') != std::string_view::npos)
    return invalid(q + " names a path; files must be plain names in the set's directory");
  if (f == "." || f == ".." || f.find('\0') != std::string_view::npos) return invalid(q + " is not a file name");
  if (f.size() <= 12 || f.substr(f.size() - 12) != ".safetensors")
    return invalid(q + " does not end in .safetensors");
  return Status::Ok();
}

std::string hf_shard_name(int i, int n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "model-%05d-of-%05d.safetensors", i, n);
  return buf;
}

Expected<SafetensorsIndex> parse_safetensors_index(std::string_view text, const std::string& path) {
  using nlohmann::json;
  auto bad = [&](const std::string& m) { return invalid(path + ": " + m); };
  // A DOM parse merges duplicate keys silently; the callback sees them first.
  std::string top_key, dup;
  std::set<std::string> names;
  auto cb = [&](int depth, json::parse_event_t ev, json& parsed) {
    if (ev == json::parse_event_t::key) {
      if (depth == 1) top_key = parsed.is_string() ? parsed.get<std::string>() : "";
      else if (depth == 2 && top_key == "weight_map" && dup.empty() && !names.insert(parsed.get<std::string>()).second)
        dup = parsed.get<std::string>();
    }
    return true;
  };
  json j = json::parse(text.begin(), text.end(), cb, /*allow_exceptions=*/false);
  if (j.is_discarded()) return bad("malformed JSON");
  if (!dup.empty()) return bad("weight_map lists tensor \"" + dup + "\" twice");
  if (!j.is_object()) return bad("the index must be a JSON object");
  SafetensorsIndex idx;
  if (j.contains("metadata")) {
    const json& m = j["metadata"];
    if (!m.is_object()) return bad("\"metadata\" must be an object");
    if (m.contains("total_size")) {
      const json& t = m["total_size"];
      if (t.is_number_unsigned()) idx.total_size = t.get<uint64_t>();
      else if (t.is_number_float() && t.get<double>() >= 0 && t.get<double>() < 9.0e15 &&
               double(uint64_t(t.get<double>())) == t.get<double>())
        idx.total_size = uint64_t(t.get<double>());  // some writers emit 123.0
      else return bad("metadata.total_size must be a non-negative integer, got " + t.dump());
    }
  }
  if (!j.contains("weight_map") || !j["weight_map"].is_object()) return bad("missing \"weight_map\" object");
  for (const auto& [name, file] : j["weight_map"].items()) {
    if (!file.is_string()) return bad("weight_map[\"" + name + "\"] must be a file name string, got " + file.dump());
    const std::string f = file.get<std::string>();
    Status s = check_set_file_name(f);
    if (!s) return bad("weight_map[\"" + name + "\"]: " + s.message());
    idx.weight_map[name] = f;
  }
  return idx;
}

Expected<SafetensorsIndex> read_safetensors_index(const std::string& path) {
  auto text = read_file(path);
  if (!text) return io_error(path + ": cannot read");
  return parse_safetensors_index(*text, path);
}

std::string safetensors_index_json(const SafetensorsIndex& index) {
  nlohmann::json j;
  j["metadata"]["total_size"] = index.total_size;
  j["weight_map"] = nlohmann::json::object();
  for (const auto& [k, v] : index.weight_map) j["weight_map"][k] = v;
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Status write_safetensors_index(const std::string& path, const SafetensorsIndex& index) {
  for (const auto& [name, file] : index.weight_map) {
    Status s = check_set_file_name(file);
    if (!s) return invalid(path + ": weight_map[\"" + name + "\"]: " + s.message());
  }
  return write_file_atomic(path, safetensors_index_json(index));
}

}  // namespace g2
