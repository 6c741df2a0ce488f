// The most likely next tokens after each position of a logits record, decoded: what g2diff
// shows next to the parity figures, so a person sees what each checkpoint would say next.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "tokenizer.h"

namespace g2 {

struct NextToken {
  int32_t id = 0;
  float logit = 0;
  double prob = 0;   // softmax over the whole row, in double
  std::string text;  // tok->token_text(id); empty without a tokenizer or past its ids
};

// For each of the T rows of `logits` [T, V]: the k largest logits, largest first (the lower
// id first on a tie).
std::vector<std::vector<NextToken>> next_tokens(std::span<const float> logits, int64_t T, int64_t V, int k,
                                                const Tokenizer* tok);

// The tokenizer of checkpoint folder `dir` (open_tokenizer), refused with InvalidInput when it
// has ids the checkpoint's `vocab_rows` embedding rows cannot look up: then it is not this
// checkpoint's tokenizer.
Expected<std::unique_ptr<Tokenizer>> checkpoint_tokenizer(const std::string& dir, int64_t vocab_rows);

}  // namespace g2
