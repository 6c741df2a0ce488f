// The highest token id a checkpoint's tokenizer can emit, so g2convert --vocab refuses to cut
// it off. Each reader is a pure function over the file's bytes (fuzzed: tests/fuzz/).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace g2 {

// tokenizer.tok.json (Grok-2, tiktoken-style): the largest "token" of regular_tokens and
// special_tokens.
std::optional<int64_t> tok_json_max_id(std::string_view text);
// tokenizer.json (Hugging Face): the largest id of model.vocab and added_tokens.
std::optional<int64_t> hf_tokenizer_max_id(std::string_view text);
// tokenizer.model (SentencePiece ModelProto): the number of pieces minus one.
std::optional<int64_t> sentencepiece_max_id(std::string_view bytes);

// Looks for tokenizer.tok.json, tokenizer.json and tokenizer.model in `dir`, in that order;
// the first that parses answers (`which` names it). nullopt when none does.
std::optional<int64_t> tokenizer_max_id(const std::string& dir, std::string* which = nullptr);

}  // namespace g2
