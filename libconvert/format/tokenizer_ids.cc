#include "tokenizer_ids.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace g2 {

namespace {

std::optional<std::string> slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return std::nullopt;
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// SentencePiece ModelProto: `repeated SentencePiece pieces = 1;` — count top-level field-1
// records (wire type 2) and skip everything else.
std::optional<int64_t> sentencepiece_pieces(const std::string& b) {
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
  return pieces;
}

}  // namespace

std::optional<int64_t> tokenizer_max_id(const std::string& dir, std::string* which) {
  using nlohmann::json;
  if (auto t = slurp(dir + "/tokenizer.tok.json")) {
    json j = json::parse(*t, nullptr, false);
    if (j.is_object()) {
      int64_t mx = -1;
      for (const char* k : {"regular_tokens", "special_tokens"})
        if (j.contains(k) && j[k].is_array())
          for (const auto& e : j[k])
            if (e.is_object() && e.contains("token") && e["token"].is_number_integer()) mx = std::max(mx, e["token"].get<int64_t>());
      if (mx >= 0) {
        if (which) *which = "tokenizer.tok.json";
        return mx;
      }
    }
  }
  if (auto t = slurp(dir + "/tokenizer.json")) {
    json j = json::parse(*t, nullptr, false);
    if (j.is_object()) {
      int64_t mx = -1;
      if (j.contains("model") && j["model"].is_object() && j["model"].contains("vocab") && j["model"]["vocab"].is_object())
        for (const auto& [k, v] : j["model"]["vocab"].items())
          if (v.is_number_integer()) mx = std::max(mx, v.get<int64_t>());
      if (j.contains("added_tokens") && j["added_tokens"].is_array())
        for (const auto& e : j["added_tokens"])
          if (e.is_object() && e.contains("id") && e["id"].is_number_integer()) mx = std::max(mx, e["id"].get<int64_t>());
      if (mx >= 0) {
        if (which) *which = "tokenizer.json";
        return mx;
      }
    }
  }
  if (auto t = slurp(dir + "/tokenizer.model")) {
    if (auto n = sentencepiece_pieces(*t)) {
      if (which) *which = "tokenizer.model";
      return *n - 1;
    }
  }
  return std::nullopt;
}

}  // namespace g2
