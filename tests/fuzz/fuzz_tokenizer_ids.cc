// libFuzzer target for the tokenizer-id readers g2convert --vocab trusts (tokenizer.tok.json,
// tokenizer.json, SentencePiece tokenizer.model): any bytes give an id or nothing, never a
// crash, and an id is never negative.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "libconvert/format/tokenizer_ids.h"
#include "libconvert/status.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  for (auto read : {g2::tok_json_max_id, g2::hf_tokenizer_max_id, g2::sentencepiece_max_id})
    if (const auto id = read(bytes)) G2_ASSERT(*id >= 0);
  return 0;
}
