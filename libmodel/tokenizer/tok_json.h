// Grok-2's tokenizer.tok.json, read the way SGLang reads it: sgl-project/sglang
// python/sglang/srt/tokenizer/tiktoken_tokenizer.py (`TiktokenTokenizer`, the same at commits
// 1e95018 and 323c608), which builds a tiktoken.Encoding from the file:
//   - `regular_tokens` / `special_tokens`: lists of {"bytes": [b, ...], "token": id}; a regular
//     token's id is its merge rank, a special token's bytes are its UTF-8 text;
//   - `word_split` must be "V1", which selects SGLang's PAT_STR_B split pattern; a `pat_str`
//     key, when present, replaces it;
//   - `vocab_size`, when present, is tiktoken's explicit_n_vocab: regular + special tokens
//     must number exactly that many, the highest id being vocab_size - 1;
//   - `default_allowed_special` is read and then discarded by SGLang (overwritten with None);
//     the special tokens recognised inside text are SGLang's fixed set instead: <|pad|>,
//     <|eos|>, <|separator|>, <|control1|>..<|control704|>, <|reserved_3|>..<|reserved_127|>
//     (DEFAULT_CONTROL_TOKENS, CONTROL_TOKEN_TEXTS, RESERVED_TOKEN_TEXTS), when the file has them;
//     any other special token's text is encoded as ordinary text.
// Encoding follows tiktoken's CoreBPE (openai/tiktoken src/lib.rs, `_encode_native`): split
// the text at the allowed special tokens, split each stretch with the pattern, look each piece
// up whole, and byte-pair merge the pieces that are not a token.
#pragma once
#include <string>

namespace g2 {

// SGLang's PAT_STR_B (the "V1" word split: tiktoken's cl100k pattern with single digits).
extern const char* const kTokJsonPatternV1;

}  // namespace g2
