#include "pretokenize.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace g2 {

namespace {

std::string pcre2_message(int code) {
  PCRE2_UCHAR buf[256];
  pcre2_get_error_message(code, buf, sizeof buf);
  return reinterpret_cast<const char*>(buf);
}

}  // namespace

Expected<PreTokenizer> PreTokenizer::compile(const std::string& pattern) {
  int err = 0;
  PCRE2_SIZE at = 0;
  // UCP: \s, \d, \w and case folding follow Unicode properties, as in Rust's regex crates.
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP, &err, &at, nullptr);
  if (!code)
    return invalid("split pattern does not compile at offset " + std::to_string(at) + ": " + pcre2_message(err));
  PreTokenizer p;
  p.code_ = std::shared_ptr<void>(code, [](void* c) { pcre2_code_free(static_cast<pcre2_code*>(c)); });
  return p;
}

Status PreTokenizer::split(std::string_view text, std::vector<std::string_view>* pieces) const {
  auto* code = static_cast<pcre2_code*>(code_.get());
  std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> md(
      pcre2_match_data_create_from_pattern(code, nullptr), &pcre2_match_data_free);
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t pos = 0;
  uint32_t options = 0;  // UTF validity is checked once, on the first call
  while (pos <= text.size()) {
    const int rc = pcre2_match(code, subject, text.size(), pos, options, md.get(), nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      if (rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21)
        return invalid("the text is not valid UTF-8 at byte " + std::to_string(pcre2_get_ovector_pointer(md.get())[0]));
      return invalid("split pattern failed: " + pcre2_message(rc));
    }
    options = PCRE2_NO_UTF_CHECK;
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
    if (ov[1] > ov[0]) {
      pieces->push_back(text.substr(ov[0], ov[1] - ov[0]));
      pos = ov[1];
    } else {  // empty match: step over one UTF-8 character
      pos = ov[0] + 1;
      while (pos < text.size() && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) ++pos;
    }
  }
  return Status::Ok();
}

}  // namespace g2
