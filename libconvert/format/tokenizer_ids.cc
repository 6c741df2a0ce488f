#include "libconvert/format/tokenizer_ids.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "libconvert/format/read_file.h"

namespace g2 {

using nlohmann::json;

std::optional<int64_t> tok_json_max_id(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  int64_t mx = -1;
  for (const char* k : {"regular_tokens", "special_tokens"})
    if (j.contains(k) && j[k].is_array())
      for (const auto& e : j[k])
        if (e.is_object() && e.contains("token") && e["token"].is_number_integer())
          mx = std::max(mx, e["token"].get<int64_t>());
  if (mx < 0) return std::nullopt;
  return mx;
}

std::optional<int64_t> hf_tokenizer_max_id(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  int64_t mx = -1;
  if (j.contains("model") && j["model"].is_object() && j["model"].contains("vocab") && j["model"]["vocab"].is_object())
    for (const auto& [k, v] : j["model"]["vocab"].items())
      if (v.is_number_integer()) mx = std::max(mx, v.get<int64_t>());
  if (j.contains("added_tokens") && j["added_tokens"].is_array())
    for (const auto& e : j["added_tokens"])
      if (e.is_object() && e.contains("id") && e["id"].is_number_integer()) mx = std::max(mx, e["id"].get<int64_t>());
  if (mx < 0) return std::nullopt;
  return mx;
}

// SentencePiece ModelProto: `repeated SentencePiece pieces = 1;` — count top-level field-1
// records (wire type 2) and skip everything else.
std::optional<int64_t> sentencepiece_max_id(std::string_view b) {
  size_t i = 0;
  auto varint = [&](uint64_t& v) {
    v = 0;
    for (int shift = 0; i < b.size() && shift < 64; shift += 7) {
      const uint8_t c = uint8_t(b[i++]);
      v |= uint64_t(c & 0x7f) << shift;
      if (!(c & 0x80)) return true;
    }
    return false;
  };
  int64_t pieces = 0;
  while (i < b.size()) {
    uint64_t key, v;
    if (!varint(key)) return std::nullopt;
    switch (key & 7) {
      case 0: if (!varint(v)) return std::nullopt; break;
      case 1: i += 8; break;
      case 5: i += 4; break;
      case 2:
        if (!varint(v) || v > b.size() - i) return std::nullopt;
        i += v;
        if ((key >> 3) == 1) ++pieces;
        break;
      default: return std::nullopt;
    }
  }
  if (i != b.size() || pieces == 0) return std::nullopt;
  return pieces - 1;
}

std::optional<int64_t> tokenizer_max_id(const std::string& dir, std::string* which) {
  using Reader = std::optional<int64_t> (*)(std::string_view);
  const std::pair<const char*, Reader> readers[] = {{"tokenizer.tok.json", tok_json_max_id},
                                                    {"tokenizer.json", hf_tokenizer_max_id},
                                                    {"tokenizer.model", sentencepiece_max_id}};
  for (const auto& [name, read] : readers)
    if (auto text = read_file(dir + "/" + name))
      if (auto id = read(*text)) {
        if (which) *which = name;
        return id;
      }
  return std::nullopt;
}

}  // namespace g2
