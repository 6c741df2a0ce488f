#include "libmodel/activations.h"

#include <charconv>

namespace g2 {

std::string tokens_to_string(const std::vector<int32_t>& tokens) {
  std::string s;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(tokens[i]);
  }
  return s;
}

Expected<std::vector<int32_t>> tokens_from_string(const std::string& s) {
  std::vector<int32_t> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ',' || s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r')) ++i;
    if (i >= s.size()) break;
    int32_t v = 0;
    auto [p, ec] = std::from_chars(s.data() + i, s.data() + s.size(), v);
    if (ec != std::errc() || v < 0)
      return invalid("token list: expected non-negative integers separated by commas or spaces near \"" +
                     s.substr(i, 16) + "\"");
    out.push_back(v);
    i = size_t(p - s.data());
  }
  if (out.empty()) return invalid("token list is empty");
  return out;
}

}  // namespace g2
