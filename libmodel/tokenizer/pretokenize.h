// The regex split tiktoken applies before byte-pair merging (fancy_regex in tiktoken; PCRE2,
// Debian's libpcre2-8, here: both are backtracking, leftmost-first engines with \p{L}, \p{N},
// possessive quantifiers and look-ahead).
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "libconvert/status.h"

namespace g2 {

class PreTokenizer {
 public:
  // `pattern` in tiktoken's pat_str syntax, compiled for UTF-8 with Unicode properties.
  static Expected<PreTokenizer> compile(const std::string& pattern);
  // Appends every match of the pattern in `text`, left to right, as tiktoken's find_iter
  // does (characters no alternative matches are skipped; an empty match advances one
  // character). InvalidInput when `text` is not valid UTF-8.
  Status split(std::string_view text, std::vector<std::string_view>* pieces) const;

 private:
  std::shared_ptr<void> code_;  // pcre2_code_8, freed with pcre2_code_free_8
};

}  // namespace g2
