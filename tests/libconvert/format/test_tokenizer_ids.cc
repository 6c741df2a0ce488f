// The tokenizer-id readers (libconvert/format/tokenizer_ids.h) on the fuzz seeds' formats:
// each file kind gives its highest id, anything else nothing; the directory lookup takes the
// first file that parses, in the documented order.
#include <gtest/gtest.h>

#include <string>

#include "libconvert/format/tokenizer_ids.h"
#include "tests/support/format_util.h"

namespace g2 {
namespace {

const std::string kTokJson =
    R"({"regular_tokens": [{"bytes": [104], "token": 0}, {"bytes": [33], "token": 7}],)"
    R"( "special_tokens": [{"bytes": [60], "token": 131071}], "word_split": "V1"})";
const std::string kHfJson = R"({"model": {"vocab": {"a": 0, "ab": 2}}, "added_tokens": [{"id": 5, "content": "<s>"}]})";
// SentencePiece ModelProto: three `pieces` (field 1) records, then a trainer_spec (field 2).
const std::string kSpModel = std::string("\x0a\x03\x0a\x01" "a" "\x0a\x03\x0a\x01" "b" "\x0a\x03\x0a\x01" "c"
                                         "\x12\x02\x08\x01", 19);

TEST(TokenizerIds, EachFormat) {
  EXPECT_EQ(tok_json_max_id(kTokJson), 131071);
  EXPECT_EQ(hf_tokenizer_max_id(kHfJson), 5);
  EXPECT_EQ(sentencepiece_max_id(kSpModel), 2);
  EXPECT_FALSE(tok_json_max_id(kHfJson));  // no regular/special tokens
  EXPECT_FALSE(tok_json_max_id("{"));
  EXPECT_FALSE(hf_tokenizer_max_id(R"({"model": {"vocab": {}}})"));
  EXPECT_FALSE(sentencepiece_max_id(kSpModel.substr(0, kSpModel.size() - 1)));  // truncated record
  EXPECT_FALSE(sentencepiece_max_id(std::string("\x12\x00", 2)));               // no pieces
  EXPECT_FALSE(sentencepiece_max_id(std::string("\x0f", 1)));                   // wire type 7
}

TEST(TokenizerIds, DirectoryOrder) {
  test::TempDir d;
  EXPECT_FALSE(tokenizer_max_id(d.str()));
  test::write_bytes(d / "tokenizer.model", kSpModel);
  std::string which;
  EXPECT_EQ(tokenizer_max_id(d.str(), &which), 2);
  EXPECT_EQ(which, "tokenizer.model");
  test::write_bytes(d / "tokenizer.json", kHfJson);
  EXPECT_EQ(tokenizer_max_id(d.str(), &which), 5);
  EXPECT_EQ(which, "tokenizer.json");
  test::write_bytes(d / "tokenizer.tok.json", "not json");  // unreadable: the next one answers
  EXPECT_EQ(tokenizer_max_id(d.str(), &which), 5);
  test::write_bytes(d / "tokenizer.tok.json", kTokJson);
  EXPECT_EQ(tokenizer_max_id(d.str(), &which), 131071);
  EXPECT_EQ(which, "tokenizer.tok.json");
}

}  // namespace
}  // namespace g2
