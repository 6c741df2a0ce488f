// libmodel/tokenizer against the Python reference libraries: tiny tokenizers trained at test
// time (make_tokenizers.py: SentencePiece's trainer; a BPE written in Grok-2's tok.json format),
// the ids sentencepiece and tiktoken (built the way SGLang builds it) give for a set of prompts,
// and every id's text. Plus the parts that need no oracle: byte-pair merge order, malformed
// files, the folder rules, next-token ranking.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <unistd.h>

#include "libmodel/tokenizer/byte_pair.h"
#include "libmodel/tokenizer/next_tokens.h"
#include "libmodel/tokenizer/pretokenize.h"
#include "libmodel/tokenizer/tok_json.h"
#include "libmodel/tokenizer/tokenizer.h"

namespace g2 {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The fixture folder (built once per build folder by fixtures.sh).
const std::string& fixtures() {
  static const std::string dir = [] {
    const std::string build = fs::path(G2_BIN_DIR).parent_path().string();
    const std::string cmd = "bash '" G2_SOURCE_DIR "/tests/libmodel/tokenizer/fixtures.sh' '" + build + "'";
    std::string out;
    if (FILE* p = ::popen(cmd.c_str(), "r")) {
      char buf[512];
      while (std::fgets(buf, sizeof buf, p)) out += buf;
      if (::pclose(p) != 0) out.clear();
    }
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }();
  return dir;
}

const json& oracle() {
  static const json j = [] {
    std::ifstream f(fixtures() + "/oracle.json");
    return json::parse(f, nullptr, false);
  }();
  return j;
}

std::string bytes_of(const json& a) {
  std::string s;
  for (const auto& b : a) s.push_back(char(b.get<int>()));
  return s;
}

// A scratch folder removed at the end of the test.
struct Scratch {
  fs::path dir = fs::temp_directory_path() / ("g2tok-" + std::to_string(::getpid()) + "-" +
                                              ::testing::UnitTest::GetInstance()->current_test_info()->name());
  Scratch() {
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(dir / name, std::ios::binary) << text;
    return (dir / name).string();
  }
};

void expect_matches_oracle(const Tokenizer& tok, const json& side) {
  ASSERT_EQ(tok.size(), side["pieces"].get<int64_t>());
  const auto& prompts = oracle()["prompts"];
  for (size_t i = 0; i < prompts.size(); ++i) {
    const std::string p = prompts[i].get<std::string>();
    auto ids = tok.encode(p);
    ASSERT_TRUE(ids.ok()) << p << ": " << ids.message();
    EXPECT_EQ(*ids, side["ids"][i].get<std::vector<int32_t>>()) << "prompt \"" << printable(p) << "\"";
  }
  for (int32_t id = 0; id < int32_t(tok.size()); ++id)
    EXPECT_EQ(tok.token_text(id), bytes_of(side["token_bytes"][size_t(id)])) << "id " << id;
}

// The fixture tokenizer in `sub` (open_tokenizer, as g2diff finds it), of kind `sub`.
std::unique_ptr<Tokenizer> fixture_tokenizer(const std::string& sub) {
  auto tok = open_tokenizer(fixtures() + "/" + sub);
  EXPECT_TRUE(tok.ok()) << tok.message();
  if (!tok) return nullptr;
  EXPECT_EQ((*tok)->kind(), sub);
  return std::move(*tok);
}

TEST(Tokenizer, FixturesBuilt) {
  ASSERT_FALSE(fixtures().empty())
      << "tests/libmodel/tokenizer/fixtures.sh failed (needs the venv of scripts/setup-python.sh)";
  ASSERT_TRUE(oracle().is_object());
  EXPECT_GE(oracle()["prompts"].size(), 10u);
}

TEST(Tokenizer, SentencePieceIdsMatchPython) {
  ASSERT_FALSE(fixtures().empty());
  auto tok = fixture_tokenizer("sentencepiece");
  ASSERT_TRUE(tok);
  expect_matches_oracle(*tok, oracle()["sentencepiece"]);
}

TEST(Tokenizer, TokJsonIdsMatchTiktokenAsSglangBuildsIt) {
  ASSERT_FALSE(fixtures().empty());
  auto tok = fixture_tokenizer("tiktoken");
  ASSERT_TRUE(tok);
  expect_matches_oracle(*tok, oracle()["tiktoken"]);
  // SGLang's allowed set: <|separator|> is one token, <|notallowed|> is plain text.
  auto sep = tok->encode("<|separator|>");
  ASSERT_TRUE(sep.ok());
  EXPECT_EQ(sep->size(), 1u);
  auto other = tok->encode("<|notallowed|>");
  ASSERT_TRUE(other.ok());
  EXPECT_GT(other->size(), 1u);
}

TEST(Tokenizer, TextThatIsNotUtf8IsRefused) {
  ASSERT_FALSE(fixtures().empty());
  for (const char* sub : {"sentencepiece", "tiktoken"}) {
    auto tok = fixture_tokenizer(sub);
    ASSERT_TRUE(tok);
    auto ids = tok->encode(std::string("ab\xff\xfe", 4));
    ASSERT_FALSE(ids.ok()) << sub;
    EXPECT_NE(ids.message().find("not valid UTF-8"), std::string::npos) << ids.message();
  }
}

TEST(BytePair, LowestRankMergesFirstLeftmostOnTies) {
  const RankMap ranks = {{"a", 0}, {"b", 1}, {"c", 2}, {"ab", 3}, {"bc", 4}, {"abc", 5}, {"bb", 6}};
  std::vector<int32_t> ids;
  ASSERT_TRUE(byte_pair_encode("abc", ranks, &ids).ok());
  EXPECT_EQ(ids, std::vector<int32_t>({5}));  // ab (3) before bc (4), then abc
  ids.clear();
  ASSERT_TRUE(byte_pair_encode("bbb", ranks, &ids).ok());
  EXPECT_EQ(ids, std::vector<int32_t>({6, 1}));  // the leftmost bb of the tie
  ids.clear();
  ASSERT_TRUE(byte_pair_encode("cab", ranks, &ids).ok());
  EXPECT_EQ(ids, std::vector<int32_t>({2, 3}));
  ids.clear();
  Status st = byte_pair_encode("az", ranks, &ids);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("0x7a"), std::string::npos) << st.message();
}

TEST(PreTokenizer, SplitsLikeTheV1Pattern) {
  auto p = PreTokenizer::compile(kTokJsonPatternV1);
  ASSERT_TRUE(p.ok()) << p.message();
  std::vector<std::string_view> pieces;
  ASSERT_TRUE(p->split("I'LL pay 42 now!!\n\n  ok", &pieces).ok());
  const std::vector<std::string_view> want = {"I", "'LL", " pay", " ", "4", "2", " now", "!!\n\n", " ", " ok"};
  EXPECT_EQ(pieces, want);
  EXPECT_FALSE(PreTokenizer::compile("(unclosed").ok());
}

TEST(TokJson, MalformedFilesNameWhatIsWrong) {
  Scratch s;
  const std::string good =
      R"({"regular_tokens": [{"bytes": [97], "token": 0}, {"bytes": [98], "token": 1}], )"
      R"("special_tokens": [{"bytes": [60, 124, 101, 111, 115, 124, 62], "token": 2}], "word_split": "V1")";
  auto ok = load_tok_json(s.write("ok.json", good + "}"));
  ASSERT_TRUE(ok.ok()) << ok.message();
  EXPECT_EQ((*ok)->size(), 3);
  EXPECT_EQ((*ok)->token_text(2), "<|eos|>");
  struct Case {
    std::string text, expect;
  } cases[] = {
      {"[1, 2]", "not a JSON object"},
      {R"({"special_tokens": [], "word_split": "V1"})", "no \"regular_tokens\""},
      {good + R"(, "word_split": "V2"})", "word_split \"V2\" is unknown"},
      {good + R"(, "vocab_size": 4})", "vocab_size 4 but the file holds 3 tokens"},
      {R"({"regular_tokens": [{"bytes": [300], "token": 0}], "special_tokens": [], "word_split": "V1"})", "byte value"},
      {R"({"regular_tokens": [{"bytes": [97], "token": 0}, {"bytes": [98], "token": 0}], )"
       R"("special_tokens": [], "word_split": "V1"})",
       "used by two regular tokens"},
      {R"({"regular_tokens": [{"bytes": [97], "token": 0}], )"
       R"("special_tokens": [{"bytes": [255], "token": 1}], "word_split": "V1"})",
       "not valid UTF-8"},
      {good + R"(, "pat_str": "(unclosed"})", "pat_str"},
  };
  for (const auto& c : cases) {
    auto t = load_tok_json(s.write("bad.json", c.text));
    ASSERT_FALSE(t.ok()) << c.text;
    EXPECT_NE(t.message().find(c.expect), std::string::npos) << t.message();
    EXPECT_NE(t.message().find("bad.json"), std::string::npos) << t.message();
  }
}

TEST(Tokenizer, FolderRules) {
  Scratch s;
  auto none = open_tokenizer(s.dir.string());
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().kind, ErrorKind::NotFound);
  EXPECT_NE(none.message().find("has no tokenizer"), std::string::npos);
  s.write("tokenizer.json", "{}");
  auto hf = open_tokenizer(s.dir.string());
  ASSERT_FALSE(hf.ok());
  EXPECT_EQ(hf.error().kind, ErrorKind::Unsupported);
  s.write("tokenizer.model", "not a model");
  auto bad = open_tokenizer(s.dir.string());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("not a SentencePiece model"), std::string::npos) << bad.message();
  s.write("tokenizer.tok.json", "{}");
  auto both = open_tokenizer(s.dir.string());
  ASSERT_FALSE(both.ok());
  EXPECT_NE(both.message().find("holds both"), std::string::npos) << both.message();
}

TEST(Tokenizer, RefusedWhenItHasMoreIdsThanTheEmbeddingRows) {
  ASSERT_FALSE(fixtures().empty());
  auto fits = checkpoint_tokenizer(fixtures() + "/sentencepiece", 600);
  EXPECT_TRUE(fits.ok()) << fits.message();
  auto too_big = checkpoint_tokenizer(fixtures() + "/sentencepiece", 599);
  ASSERT_FALSE(too_big.ok());
  EXPECT_NE(too_big.message().find("ids up to 599 but the checkpoint's embedding has 599 rows"), std::string::npos)
      << too_big.message();
}

TEST(NextTokens, LargestFirstLowerIdOnTiesProbabilitiesFromTheWholeRow) {
  const std::vector<float> logits = {0.f, 2.f, 1.f, 2.f, NAN, -1.f, /* row 2 */ 5.f, 0.f, 0.f, 0.f, 0.f, 0.f};
  auto top = next_tokens(logits, 2, 6, 3, nullptr);
  ASSERT_EQ(top.size(), 2u);
  ASSERT_EQ(top[0].size(), 3u);
  EXPECT_EQ(top[0][0].id, 1);
  EXPECT_EQ(top[0][1].id, 3);
  EXPECT_EQ(top[0][2].id, 2);
  const double denom = std::exp(5.0) + 5;
  EXPECT_NEAR(top[1][0].prob, std::exp(5.0) / denom, 1e-12);
  EXPECT_EQ(top[1][1].id, 1);
}

TEST(Printable, EscapesWhatATerminalCannotShow) {
  EXPECT_EQ(printable("caf\xC3\xA9\n\t\\"), "caf\xC3\xA9\\n\\t\\\\");
  EXPECT_EQ(printable(std::string("\xE6\x9D", 2)), "\\xe6\\x9d");  // a character cut in two
  EXPECT_EQ(printable(std::string("\x01\x7F", 2)), "\\x01\\x7f");
  EXPECT_TRUE(valid_utf8("\xF0\x9F\x99\x82"));
  EXPECT_FALSE(valid_utf8("\xC0\xAF"));      // overlong
  EXPECT_FALSE(valid_utf8("\xED\xA0\x80"));  // surrogate
}

}  // namespace
}  // namespace g2
