#include "tok_json.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <unordered_set>

#include "byte_pair.h"
#include "pretokenize.h"
#include "tokenizer.h"

namespace g2 {

const char* const kTokJsonPatternV1 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

namespace {

using nlohmann::json;

// The special tokens SGLang lets encode() recognise in text (see tok_json.h).
const std::unordered_set<std::string>& sglang_allowed_special() {
  static const std::unordered_set<std::string> s = [] {
    std::unordered_set<std::string> a = {"<|pad|>", "<|eos|>", "<|separator|>"};
    for (int i = 1; i < 705; ++i) a.insert("<|control" + std::to_string(i) + "|>");
    for (int i = 3; i < 128; ++i) a.insert("<|reserved_" + std::to_string(i) + "|>");
    return a;
  }();
  return s;
}

class TokJsonTokenizer final : public Tokenizer {
 public:
  std::string_view kind() const override { return "tiktoken"; }
  const std::string& path() const override { return path_; }
  int64_t size() const override { return int64_t(text_.size()); }

  Expected<std::vector<int32_t>> encode(std::string_view text) const override {
    std::vector<int32_t> ids;
    std::vector<std::string_view> pieces;
    size_t start = 0;
    while (true) {
      // The next allowed special token (the longest one where several start at the same byte).
      size_t at = std::string_view::npos;
      const std::pair<std::string, int32_t>* hit = nullptr;
      for (const auto& s : specials_) {
        const size_t p = text.find(s.first, start);
        if (p < at || (p == at && p != std::string_view::npos && s.first.size() > hit->first.size())) at = p, hit = &s;
      }
      const std::string_view stretch = text.substr(start, (at == std::string_view::npos ? text.size() : at) - start);
      pieces.clear();
      if (Status st = split_.split(stretch, &pieces); !st) return invalid(path_ + ": " + st.message());
      for (std::string_view piece : pieces) {
        if (auto it = ranks_.find(std::string(piece)); it != ranks_.end()) {
          ids.push_back(it->second);
        } else if (Status st = byte_pair_encode(piece, ranks_, &ids); !st) {
          return invalid(path_ + ": " + st.message());
        }
      }
      if (!hit) break;
      ids.push_back(hit->second);
      start = at + hit->first.size();
    }
    return ids;
  }

  std::string token_text(int32_t id) const override {
    return id >= 0 && size_t(id) < text_.size() ? text_[size_t(id)] : std::string();
  }

  static Expected<std::unique_ptr<Tokenizer>> load(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return io_error(path + ": cannot open");
    json j = json::parse(f, nullptr, false);
    if (!j.is_object()) return invalid(path + ": not a JSON object (expected Grok-2's tokenizer.tok.json)");
    for (const char* key : {"regular_tokens", "special_tokens"})
      if (!j.contains(key) || !j[key].is_array()) return invalid(path + ": no \"" + std::string(key) + "\" list");
    if (!j.contains("word_split") || !j["word_split"].is_string())
      return invalid(path + ": no \"word_split\" (SGLang requires \"V1\")");
    if (j["word_split"] != "V1")
      return unsupported(path + ": word_split \"" + j["word_split"].get<std::string>() +
                         "\" is unknown (SGLang knows only \"V1\")");
    std::string pattern = kTokJsonPatternV1;
    if (j.contains("pat_str")) {
      if (!j["pat_str"].is_string()) return invalid(path + ": \"pat_str\" is not a string");
      pattern = j["pat_str"].get<std::string>();
    }
    auto split = PreTokenizer::compile(pattern);
    if (!split) return invalid(path + ": pat_str: " + split.message());

    auto t = std::make_unique<TokJsonTokenizer>();
    t->path_ = path;
    t->split_ = std::move(*split);
    std::vector<std::pair<int32_t, std::string>> regular, special;
    for (const char* key : {"regular_tokens", "special_tokens"}) {
      auto& into = key[0] == 'r' ? regular : special;
      size_t i = 0;
      for (const auto& e : j[key]) {
        const std::string where = path + ": " + key + "[" + std::to_string(i++) + "]";
        if (!e.is_object() || !e.contains("bytes") || !e["bytes"].is_array() || !e.contains("token") ||
            !e["token"].is_number_integer())
          return invalid(where + ": expected {\"bytes\": [0-255, ...], \"token\": id}");
        const int64_t id = e["token"].get<int64_t>();
        if (id < 0 || id > INT32_MAX) return invalid(where + ": token id " + std::to_string(id) + " is out of range");
        std::string bytes;
        for (const auto& b : e["bytes"]) {
          if (!b.is_number_integer() || b.get<int64_t>() < 0 || b.get<int64_t>() > 255)
            return invalid(where + ": \"bytes\" holds something other than a byte value 0-255");
          bytes.push_back(char(b.get<int>()));
        }
        if (bytes.empty()) return invalid(where + ": empty \"bytes\"");
        into.emplace_back(int32_t(id), std::move(bytes));
      }
    }
    if (regular.empty()) return invalid(path + ": \"regular_tokens\" is empty");
    // As Python builds mergeable_ranks (a dict: the last entry for the same bytes wins) and
    // tiktoken's CoreBPE checks it (one bytes per id).
    for (const auto& [id, bytes] : regular) t->ranks_[bytes] = id;
    int32_t max_id = 0;
    std::vector<const std::string*> by_id;
    auto place = [&](int32_t id, const std::string& bytes, bool regular_token) -> Status {
      if (size_t(id) >= by_id.size()) by_id.resize(size_t(id) + 1, nullptr);
      if (by_id[size_t(id)] && regular_token)
        return invalid(path + ": token id " + std::to_string(id) + " is used by two regular tokens");
      if (!by_id[size_t(id)]) by_id[size_t(id)] = &bytes;  // a regular token's text wins over a special's
      max_id = std::max(max_id, id);
      return Status::Ok();
    };
    for (const auto& [bytes, id] : t->ranks_) G2_TRY(place(id, bytes, true));
    for (const auto& [id, text] : special) {
      // SGLang decodes a special token's bytes as UTF-8 (`bytes(...).decode()`).
      if (!valid_utf8(text)) return invalid(path + ": special token " + std::to_string(id) + " is not valid UTF-8");
      G2_TRY(place(id, text, false));
      if (sglang_allowed_special().count(text)) t->specials_.emplace_back(text, id);
    }
    if (j.contains("vocab_size")) {
      if (!j["vocab_size"].is_number_integer()) return invalid(path + ": \"vocab_size\" is not an integer");
      const int64_t n = j["vocab_size"].get<int64_t>();
      const size_t count = t->ranks_.size() + special.size();
      if (int64_t(count) != n || int64_t(max_id) != n - 1)
        return invalid(path + ": vocab_size " + std::to_string(n) + " but the file holds " + std::to_string(count) +
                       " tokens with ids up to " + std::to_string(max_id) +
                       " (tiktoken requires exactly vocab_size tokens, ids 0 .. vocab_size - 1)");
    }
    t->text_.resize(size_t(max_id) + 1);
    for (size_t id = 0; id < by_id.size(); ++id)
      if (by_id[id]) t->text_[id] = *by_id[id];
    return std::unique_ptr<Tokenizer>(std::move(t));
  }

 private:
  std::string path_;
  RankMap ranks_;
  std::vector<std::string> text_;                         // id -> bytes ("" for an unused id)
  std::vector<std::pair<std::string, int32_t>> specials_;  // recognised in text
  PreTokenizer split_;
};

}  // namespace

Expected<std::unique_ptr<Tokenizer>> load_tok_json(const std::string& path) { return TokJsonTokenizer::load(path); }

}  // namespace g2
