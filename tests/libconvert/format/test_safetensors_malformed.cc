// Every malformed safetensors input we can think of fails with a message naming the file and
// what was wrong, and never crashes (run under ASan+UBSan with the asan preset).
#include <gtest/gtest.h>

#include <cstring>

#include "libconvert/format/safetensors.h"
#include "libconvert/format/safetensors_writer.h"
#include "tests/support/format_util.h"

namespace g2 {
namespace {

std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[size_t(i)] = char((n >> (8 * i)) & 0xff);
  return s;
}

// A file: 8-byte length of `json` (or `len_override`), the JSON, then `data_bytes` zero bytes.
std::string file_bytes(const std::string& json, size_t data_bytes, int64_t len_override = -1) {
  return le64(len_override >= 0 ? uint64_t(len_override) : json.size()) + json + std::string(data_bytes, '\0');
}

Expected<SafetensorsHeader> parse(const std::string& bytes) {
  return parse_safetensors_header({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, "bad.safetensors");
}

struct BadCase {
  const char* what;
  std::string bytes;
  const char* expect;  // a fragment the message must contain
};

std::vector<BadCase> catalogue() {
  const std::string ok1 = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  return {
      {"empty file", "", "only 0 bytes"},
      {"truncated length", std::string(5, '\0'), "only 5 bytes"},
      {"header longer than file", file_bytes(ok1, 8, 4096), "runs past the end"},
      {"header over 100 MB", le64(200'000'000) + "{}", "100 MB"},
      {"zero header length", file_bytes("", 0), "must start with '{'"},
      {"header not an object", file_bytes("[1,2]   ", 0), "must start with '{'"},
      {"leading space", file_bytes(" {}", 0), "must start with '{'"},
      {"unterminated JSON", file_bytes(R"({"a":{"dtype":"F32")", 0), "malformed JSON"},
      {"garbage after JSON", file_bytes("{} x", 0), "malformed JSON"},
      {"NUL in header", file_bytes(std::string("{}\0\0", 4), 0), "NUL byte in the header at offset 10"},
      {"invalid UTF-8 name", file_bytes("{\"\xff\":{}}", 0), "malformed JSON"},
      {"entry not an object", file_bytes(R"({"a":1})", 0), "entry \"a\" must be an object"},
      {"unknown dtype", file_bytes(R"({"a":{"dtype":"F8_E4M3FN","shape":[2],"data_offsets":[0,2]}})", 2),
       "unknown dtype \"F8_E4M3FN\""},
      {"dtype not a string", file_bytes(R"({"a":{"dtype":4,"shape":[2],"data_offsets":[0,8]}})", 8), "\"dtype\""},
      {"wrong dtype size", file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 4),
       "is 8 bytes but data_offsets [0, 4) span 4"},
      {"BF16 sized as F32", file_bytes(R"({"a":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,16]}})", 16),
       "is 8 bytes"},
      {"negative dimension", file_bytes(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8),
       "non-negative"},
      {"float dimension", file_bytes(R"({"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", 8), "integers"},
      {"nested shape", file_bytes(R"({"a":{"dtype":"F32","shape":[[2]],"data_offsets":[0,8]}})", 8), "shape"},
      {"shape overflow", file_bytes(R"({"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}})", 8),
       "overflows"},
      {"dimension beyond int64",
       file_bytes(R"({"a":{"dtype":"U8","shape":[18446744073709551615],"data_offsets":[0,8]}})", 8), "too large"},
      {"three offsets", file_bytes(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2,4]}})", 4),
       "data_offsets must be [begin, end]"},
      {"end before begin", file_bytes(R"({"a":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}})", 4),
       "end before they begin"},
      {"range past data", file_bytes(R"({"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]}})", 4),
       "past the data section"},
      {"overlap",
       file_bytes(
           R"({"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},)"
           R"("b":{"dtype":"U8","shape":[8],"data_offsets":[4,12]}})",
           12),
       "overlaps tensor \"a\""},
      {"gap",
       file_bytes(
           R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
           R"("b":{"dtype":"U8","shape":[4],"data_offsets":[8,12]}})",
           12),
       "gap of 4 unused bytes"},
      {"data not starting at 0", file_bytes(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}})", 8), "gap of 4"},
      {"trailing data", file_bytes(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}})", 7),
       "3 bytes after the last tensor"},
      {"duplicate name",
       file_bytes(
           R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
           R"("a":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}})",
           8),
       "duplicate tensor name \"a\""},
      {"duplicate field", file_bytes(R"({"a":{"dtype":"U8","dtype":"I8","shape":[4],"data_offsets":[0,4]}})", 4),
       "duplicate field \"dtype\""},
      {"missing field", file_bytes(R"({"a":{"dtype":"U8","shape":[4]}})", 4), "needs \"dtype\""},
      {"unknown field", file_bytes(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4],"x":1}})", 4),
       "unknown field \"x\""},
      {"empty name", file_bytes(R"({"":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}})", 0), "empty tensor name"},
      {"metadata value not a string", file_bytes(R"({"__metadata__":{"k":1}})", 0),
       "__metadata__ values must be strings"},
      {"metadata nested object", file_bytes(R"({"__metadata__":{"k":{}}})", 0), "__metadata__ values must be strings"},
      {"metadata not an object", file_bytes(R"({"__metadata__":"x"})", 0), "must be an object"},
      {"duplicate metadata key", file_bytes(R"({"__metadata__":{"k":"a","k":"b"}})", 0), "duplicate key \"k\""},
      {"deep nesting", file_bytes("{\"a\":{\"shape\":" + std::string(100000, '[') + "}}", 0), "shape"},
  };
}

TEST(SafetensorsMalformed, EveryCaseFailsNamingFileAndProblem) {
  for (const auto& c : catalogue()) {
    auto h = parse(c.bytes);
    ASSERT_FALSE(h.ok()) << c.what;
    EXPECT_NE(h.message().find("bad.safetensors"), std::string::npos) << c.what << ": " << h.message();
    EXPECT_NE(h.message().find(c.expect), std::string::npos) << c.what << ": " << h.message();
    EXPECT_EQ(h.error().kind, ErrorKind::InvalidInput) << c.what;
  }
}

TEST(SafetensorsMalformed, OpenReportsPathOfBadFile) {
  test::TempDir dir;
  const std::string path = dir / "broken.safetensors";
  test::write_bytes(path, file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 4));
  auto f = SafetensorsFile::open(path);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.message().find(path), std::string::npos) << f.message();
  auto missing = SafetensorsFile::open(dir / "nope.safetensors");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("nope.safetensors"), std::string::npos);
  EXPECT_NE(missing.message().find("No such file"), std::string::npos) << missing.message();
}

TEST(SafetensorsMalformed, ValidEdgeCasesParse) {
  // No tensors at all.
  ASSERT_TRUE(parse(file_bytes("{}", 0)).ok());
  // Space padding, metadata only, scalars and empty tensors, JSON order != data order.
  auto h = parse(file_bytes(
      R"({"__metadata__":{"k":"v"},"z":{"dtype":"F32","shape":[],"data_offsets":[0,4]},)"
      R"("e":{"dtype":"BF16","shape":[0,3],"data_offsets":[4,4]},)"
      R"("a":{"dtype":"F8_E5M2","shape":[3],"data_offsets":[4,7]}})"
      "     ",
      7));
  ASSERT_TRUE(h.ok()) << h.message();
  ASSERT_EQ(h->tensors.size(), 3u);
  EXPECT_EQ(h->tensors[0].name, "z");  // data order
  EXPECT_EQ(h->tensors[0].shape, Shape{});
  EXPECT_EQ(h->tensors[2].name, "a");
  EXPECT_EQ(h->tensors[2].dtype, DType::F8_E5M2);
  EXPECT_EQ(h->metadata.at("k"), "v");
}

// A small but complete valid file, made by our writer.
std::string valid_file(const test::TempDir& dir) {
  const float f[3] = {1.f, -2.f, 3.5f};
  const uint16_t b[4] = {0x3f80, 0x4000, 0xc040, 0x0000};
  const uint8_t e[5] = {0x38, 0x40, 0x7e, 0x01, 0x80};
  std::vector<SafetensorsBlob> ts = {{{"f", DType::F32, {3}}, f}, {{"b", DType::BF16, {2, 2}}, b},
                                     {{"e", DType::F8_E4M3, {5}}, e}};
  const std::string path = dir / "valid.safetensors";
  EXPECT_TRUE(write_safetensors(path, ts, {{"format", "pt"}}).ok());
  return test::read_bytes(path);
}

TEST(SafetensorsMalformed, EveryTruncationFails) {
  test::TempDir dir;
  const std::string full = valid_file(dir);
  ASSERT_TRUE(parse(full).ok());
  for (size_t n = 0; n < full.size(); ++n) EXPECT_FALSE(parse(full.substr(0, n)).ok()) << "prefix " << n;
  EXPECT_FALSE(parse(full + "x").ok());
}

TEST(SafetensorsMalformed, EveryHeaderByteFlipIsSafe) {
  test::TempDir dir;
  const std::string full = valid_file(dir);
  auto h = parse(full);
  ASSERT_TRUE(h.ok());
  int accepted = 0;
  for (size_t i = 0; i < h->data_offset; ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string m = full;
      m[i] = char(m[i] ^ (1 << bit));
      auto r = parse(m);  // must not crash; a flip inside a name or metadata may stay valid
      if (r.ok()) {
        ++accepted;
        uint64_t covered = 0;
        for (const auto& t : r->tensors) covered += t.nbytes();
        EXPECT_EQ(covered, r->data_size);
      }
    }
  }
  EXPECT_LT(accepted, int(h->data_offset) * 8);
}

}  // namespace
}  // namespace g2
