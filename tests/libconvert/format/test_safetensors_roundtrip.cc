// The streaming writer and the mmap reader: round trips are bit-exact, chunking does not
// change the bytes, misuse is reported, and an unfinished file leaves nothing behind.
#include <gtest/gtest.h>

#include <cstring>
#include <numeric>

#include "libconvert/format/safetensors.h"
#include "libconvert/format/safetensors_writer.h"
#include "tests/support/format_util.h"

namespace g2 {
namespace {

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = uint8_t(seed + i * 7 + (i >> 3));
  return v;
}

TEST(SafetensorsWriter, RoundTripKeepsOrderValuesAndMetadata) {
  test::TempDir dir;
  const auto a = pattern(5 * 3 * 2, 1), b = pattern(7, 2), c = pattern(4, 3);
  std::vector<SafetensorsBlob> ts = {{{"z.first", DType::BF16, {5, 3}}, a.data()},
                                     {{"a.second", DType::I8, {7}}, b.data()},
                                     {{"scalar", DType::F32, {}}, c.data()},
                                     {{"empty", DType::F8_E4M3, {0, 4}}, nullptr}};
  const std::string path = dir / "m.safetensors";
  ASSERT_TRUE(write_safetensors(path, ts, {{"format", "pt"}, {"tokens", "1,2,3"}}).ok());
  auto f = SafetensorsFile::open(path);
  ASSERT_TRUE(f.ok()) << f.message();
  EXPECT_EQ(f->header().data_offset % 8, 0u);
  ASSERT_EQ(f->tensors().size(), 4u);
  EXPECT_EQ(f->tensors()[0].name, "z.first");
  EXPECT_EQ(f->tensors()[1].name, "a.second");
  EXPECT_EQ(f->tensors()[2].name, "scalar");
  EXPECT_EQ(f->metadata().at("tokens"), "1,2,3");
  auto v = f->view(*f->find("z.first"));
  EXPECT_EQ(v.dtype, DType::BF16);
  EXPECT_EQ(v.shape, (Shape{5, 3}));
  EXPECT_EQ(std::memcmp(v.data, a.data(), a.size()), 0);
  // Zero-copy: the view points into the mapping.
  EXPECT_EQ(static_cast<const uint8_t*>(v.data), f->mapped().data() + f->file_offset(f->tensors()[0]));
  EXPECT_EQ(std::memcmp(f->bytes(*f->find("a.second")).data(), b.data(), b.size()), 0);
  EXPECT_EQ(f->find("scalar")->shape, Shape{});
  EXPECT_EQ(f->find("empty")->nbytes(), 0u);
  // The header is space padded JSON.
  const std::string raw = test::read_bytes(path);
  EXPECT_EQ(raw[8], '{');
  EXPECT_EQ(raw.size(), f->size());
}

TEST(SafetensorsWriter, ChunkedWriteAndRewriteAreByteIdentical) {
  test::TempDir dir;
  const auto a = pattern(6 * 10 * 4, 9), b = pattern(3 * 2, 4);
  const std::vector<SafetensorsDecl> decls = {{"w", DType::F32, {6, 10}}, {"s", DType::BF16, {3}}};
  const std::string p1 = dir / "one.safetensors", p2 = dir / "chunks.safetensors", p3 = dir / "again.safetensors";
  ASSERT_TRUE(write_safetensors(p1, {{decls[0], a.data()}, {decls[1], b.data()}}).ok());
  {
    auto w = SafetensorsWriter::create(p2, decls);
    ASSERT_TRUE(w.ok());
    for (size_t off = 0; off < a.size(); off += 7)
      ASSERT_TRUE(w->write("w", a.data() + off, std::min<size_t>(7, a.size() - off)).ok());
    ASSERT_TRUE(w->write("s", b.data(), 1).ok());
    ASSERT_TRUE(w->write("s", b.data() + 1, 5).ok());
    ASSERT_TRUE(w->finish().ok());
  }
  EXPECT_EQ(test::read_bytes(p1), test::read_bytes(p2));
  // read -> write from the mapped views -> identical bytes.
  auto f = SafetensorsFile::open(p2);
  ASSERT_TRUE(f.ok());
  std::vector<SafetensorsBlob> again;
  for (const auto& t : f->tensors()) again.push_back({{t.name, t.dtype, t.shape}, f->view(t).data});
  ASSERT_TRUE(write_safetensors(p3, again, f->metadata()).ok());
  EXPECT_EQ(test::read_bytes(p1), test::read_bytes(p3));
}

TEST(SafetensorsWriter, MisuseIsReported) {
  test::TempDir dir;
  const std::string path = dir / "x.safetensors";
  const std::vector<SafetensorsDecl> decls = {{"a", DType::F32, {2}}, {"b", DType::U8, {3}}};
  const auto bytes = pattern(16, 0);
  {
    auto w = SafetensorsWriter::create(path, decls);
    ASSERT_TRUE(w.ok());
    auto s = w->write("b", bytes.data(), 3);  // out of order
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.message().find("\"a\" has 8 of 8 bytes still to come"), std::string::npos) << s.message();
    s = w->write("a", bytes.data(), 9);  // overrun
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.message().find("overruns"), std::string::npos) << s.message();
    ASSERT_TRUE(w->write("a", bytes.data(), 8).ok());
    s = w->finish();  // b missing
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.message().find("\"b\" incomplete (0 of 3 bytes)"), std::string::npos) << s.message();
    ASSERT_TRUE(w->write("b", bytes.data(), 3).ok());
    s = w->write("c", bytes.data(), 1);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.message().find("after every declared tensor"), std::string::npos) << s.message();
    ASSERT_TRUE(w->finish().ok());
  }
  EXPECT_TRUE(SafetensorsFile::open(path).ok());
  auto dup = SafetensorsWriter::create(dir / "d.safetensors", {{"a", DType::F32, {1}}, {"a", DType::F32, {1}}});
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.message().find("duplicate tensor name \"a\""), std::string::npos);
  EXPECT_FALSE(test::fs::exists(dir / "d.safetensors"));
  auto meta = SafetensorsWriter::create(dir / "m.safetensors", {{"__metadata__", DType::F32, {1}}});
  EXPECT_FALSE(meta.ok());
  auto neg = SafetensorsWriter::create(dir / "n.safetensors", {{"a", DType::F32, {-1}}});
  EXPECT_FALSE(neg.ok());
}

TEST(SafetensorsWriter, UnfinishedWriterLeavesNothing) {
  test::TempDir dir;
  const std::string path = dir / "never.safetensors";
  {
    auto w = SafetensorsWriter::create(path, {{"a", DType::F32, {1024}}});
    ASSERT_TRUE(w.ok());
    const auto bytes = pattern(100, 0);
    ASSERT_TRUE(w->write("a", bytes.data(), bytes.size()).ok());
    // A temporary exists while writing, under <final>.tmp-<pid>.
    EXPECT_TRUE(test::fs::exists(path + ".tmp-" + std::to_string(::getpid())));
  }
  EXPECT_TRUE(test::fs::is_empty(dir.path())) << "temporary left behind";
}

TEST(SafetensorsWriter, IoErrorsNameThePathAndTheSystemError) {
  test::TempDir dir;
  auto w = SafetensorsWriter::create(dir / "no/such/dir/x.safetensors", {{"a", DType::F32, {1}}});
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().kind, ErrorKind::Io);
  EXPECT_NE(w.message().find("no/such/dir/x.safetensors.tmp-"), std::string::npos) << w.message();
  EXPECT_NE(w.message().find("No such file or directory"), std::string::npos) << w.message();
}

}  // namespace
}  // namespace g2
