// The highest token id a checkpoint's tokenizer can emit, so --vocab refuses to cut it off.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace g2 {

// Looks for tokenizer.tok.json (Grok-2 tiktoken-style), tokenizer.json (HF) and
// tokenizer.model (SentencePiece: the number of pieces) in `dir`; nullopt when none parses.
std::optional<int64_t> tokenizer_max_id(const std::string& dir, std::string* which = nullptr);

}  // namespace g2
