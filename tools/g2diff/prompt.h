// g2diff --prompt / --prompt-file: text to ids with the checkpoints' own tokenizers
// (libmodel/tokenizer), and the tokenizers that decode the report's next tokens.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "libconvert/status.h"
#include "libmodel/tokenizer/tokenizer.h"

namespace g2 {

struct SideTokenizer {
  std::unique_ptr<Tokenizer> tok;  // null: none, or not this checkpoint's (`why`)
  std::string why;
};

// The tokenizer of checkpoint `dir` for decoding the report; never fails the run.
SideTokenizer report_tokenizer(const std::string& dir, int64_t vocab_rows);

// The ids of the --prompt text (or of --prompt-file's contents) with A's tokenizer, which
// must exist and fit A's vocabulary (else an error: exit 2). Fills `a`.
Expected<std::vector<int32_t>> encode_prompt(const std::string& text, const std::string& file,
                                             const std::string& a_dir, int64_t a_rows, SideTokenizer* a,
                                             std::string* prompt);

// With a prompt, B's tokenizer (when B has one) must give the same ids as A's.
Status check_prompt_b(const std::string& prompt, const std::vector<int32_t>& ids, const SideTokenizer& a,
                      const SideTokenizer& b, const std::string& b_dir);

}  // namespace g2
