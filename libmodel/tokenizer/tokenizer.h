// Text to token ids with a checkpoint's own tokenizer, and token ids back to text: Grok-1's
// SentencePiece `tokenizer.model` (through Debian's libsentencepiece) and Grok-2's tiktoken-style
// `tokenizer.tok.json` (read as SGLang reads it: tok_json.h). g2diff --prompt is the user.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "libconvert/status.h"

namespace g2 {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual std::string_view kind() const = 0;  // "sentencepiece" or "tiktoken"
  virtual const std::string& path() const = 0;
  // Ids run 0 .. size() - 1 (every id below size() has a token).
  virtual int64_t size() const = 0;
  // The ids the serving stack feeds the model for `text` (no BOS added: xai-org/grok-1
  // runners.py encodes prompts with a plain `tokenizer.encode(prompt)`; SGLang's tiktoken
  // tokenizer adds none either).
  virtual Expected<std::vector<int32_t>> encode(std::string_view text) const = 0;
  // The bytes token `id` adds when it is appended to a text (SentencePiece's U+2581 is a
  // space, a byte-fallback piece its byte); control and special tokens give their own name.
  // Not necessarily valid UTF-8 (a BPE token may hold part of a character): see printable().
  virtual std::string token_text(int32_t id) const = 0;
};

// The tokenizer in checkpoint folder `dir`: tokenizer.tok.json or tokenizer.model. NotFound
// when it holds neither; InvalidInput when both are there (the weights belong to one of them)
// or the file does not parse; Unsupported for a Hugging Face tokenizer.json alone.
Expected<std::unique_ptr<Tokenizer>> open_tokenizer(const std::string& dir);
Expected<std::unique_ptr<Tokenizer>> load_sentencepiece(const std::string& path);
Expected<std::unique_ptr<Tokenizer>> load_tok_json(const std::string& path);

// `bytes` for a report or a terminal: valid UTF-8 is kept, control characters and bytes that
// are not valid UTF-8 become \n, \t, \xNN escapes, a backslash is doubled.
std::string printable(std::string_view bytes);
bool valid_utf8(std::string_view bytes);

}  // namespace g2
