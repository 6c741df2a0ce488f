#include "tokenizer.h"

#include <cstdio>
#include <filesystem>

namespace g2 {

namespace fs = std::filesystem;

Expected<std::unique_ptr<Tokenizer>> open_tokenizer(const std::string& dir) {
  const fs::path tok_json = fs::path(dir) / "tokenizer.tok.json", model = fs::path(dir) / "tokenizer.model";
  std::error_code ec;
  const bool has_json = fs::is_regular_file(tok_json, ec), has_model = fs::is_regular_file(model, ec);
  if (has_json && has_model)
    return invalid(dir + " holds both tokenizer.tok.json (Grok-2) and tokenizer.model (Grok-1): the weights belong "
                   "to one of them; remove the other");
  if (has_json) return load_tok_json(tok_json.string());
  if (has_model) return load_sentencepiece(model.string());
  if (fs::is_regular_file(fs::path(dir) / "tokenizer.json", ec))
    return unsupported(dir + ": only a Hugging Face tokenizer.json, which g2kit does not read (it reads "
                       "tokenizer.model and tokenizer.tok.json); pass token ids instead");
  return not_found(dir + " has no tokenizer (tokenizer.model or tokenizer.tok.json)");
}

bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t k = 1; k < n; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    // no overlong forms, no surrogates, nothing past U+10FFFF
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[n] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return false;
    i += n;
  }
  return true;
}

std::string printable(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {  // keep a whole valid UTF-8 character, escape a stray byte
      size_t n = (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
      if (n && i + n <= s.size() && valid_utf8(s.substr(i, n))) {
        out.append(s.substr(i, n));
        i += n;
        continue;
      }
    }
    char buf[8];
    switch (c) {
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      case '\\': out += "\\\\"; break;
      default:
        if (c < 0x20 || c >= 0x7F) {
          std::snprintf(buf, sizeof buf, "\\x%02x", unsigned(c));
          out += buf;
        } else {
          out += char(c);
        }
    }
    ++i;
  }
  return out;
}

}  // namespace g2
