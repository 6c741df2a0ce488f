// PieceReader: rectangles of a 2-D tensor made of pieces in files (stacked on axis 0 or side
// by side on axis 1, at payload offsets), read with pread, equal the logical tensor's bytes;
// narrow strided rectangles are refused without reading; a truncated file is an error.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "libconvert/source/source_pread.h"

namespace g2 {
namespace {

namespace fs = std::filesystem;

struct Fixture {
  std::string dir;
  SourceTensor t;
  std::vector<uint16_t> logical;  // [rows, cols] row-major
  int64_t rows, cols;

  // `parts` pieces of a [rows, cols] BF16 tensor along `axis`, each in its own file after a
  // `pad`-byte prefix (a stand-in for a safetensors header).
  Fixture(int64_t r, int64_t c, int axis, int parts, uint64_t pad) : rows(r), cols(c) {
    char tmpl[] = "/tmp/g2pread_test_XXXXXX";
    dir = mkdtemp(tmpl);
    logical.resize(size_t(r * c));
    for (size_t i = 0; i < logical.size(); ++i) logical[i] = uint16_t(i * 2654435761u >> 7);
    t = SourceTensor{"w", DType::BF16, {r, c}, axis, {}};
    const int64_t pr = axis == 0 ? r / parts : r, pc = axis == 1 ? c / parts : c;
    for (int p = 0; p < parts; ++p) {
      const std::string path = dir + "/p" + std::to_string(p);
      std::ofstream f(path, std::ios::binary);
      const std::string prefix(pad, 'x');
      f.write(prefix.data(), std::streamsize(pad));
      for (int64_t i = 0; i < pr; ++i)
        for (int64_t j = 0; j < pc; ++j) {
          const int64_t li = axis == 0 ? p * pr + i : i, lj = axis == 1 ? p * pc + j : j;
          f.write(reinterpret_cast<const char*>(&logical[size_t(li * c + lj)]), 2);
        }
      t.pieces.push_back(TensorPiece{TensorView{DType::BF16, {pr, pc}, {}, nullptr}, path, pad});
    }
  }
  ~Fixture() { fs::remove_all(dir); }

  std::vector<uint16_t> want(int64_t r0, int64_t r1, int64_t c0, int64_t c1) const {
    std::vector<uint16_t> w;
    for (int64_t i = r0; i < r1; ++i)
      for (int64_t j = c0; j < c1; ++j) w.push_back(logical[size_t(i * cols + j)]);
    return w;
  }
};

void expect_rect(Fixture& fx, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
  PieceReader rd(fx.t);
  std::vector<uint16_t> got(size_t((r1 - r0) * (c1 - c0)), 0xdead);
  auto ok = rd.read(r0, r1, c0, c1, reinterpret_cast<uint8_t*>(got.data()));
  ASSERT_TRUE(ok.ok()) << ok.message();
  ASSERT_TRUE(*ok) << "rect refused";
  EXPECT_EQ(got, fx.want(r0, r1, c0, c1)) << "[" << r0 << ", " << r1 << ") x [" << c0 << ", " << c1 << ")";
}

TEST(PieceReader, StackedPiecesWholeRows) {
  Fixture fx(64, 48, 0, 4, 24);
  expect_rect(fx, 0, 64, 0, 48);
  expect_rect(fx, 10, 37, 0, 48);  // spans pieces 0-2
  expect_rect(fx, 5, 6, 3, 9);     // one row: narrow is fine
}

TEST(PieceReader, SideBySidePiecesScatterIntoRows) {
  Fixture fx(40, 64, 1, 8, 100);
  expect_rect(fx, 0, 40, 0, 64);
  expect_rect(fx, 3, 29, 16, 48);  // whole pieces 2-5
  expect_rect(fx, 7, 8, 5, 61);    // one row, partial first and last piece
}

TEST(PieceReader, VectorPiecesReadAsOneRow) {
  Fixture fx(1, 96, 1, 4, 16);  // stand-in for a [96] vector in 4 pieces
  fx.t.shape = {96};
  fx.t.concat_axis = 0;
  for (auto& p : fx.t.pieces) p.view.shape = {24};
  expect_rect(fx, 0, 1, 0, 96);
  expect_rect(fx, 0, 1, 30, 70);
}

TEST(PieceReader, WideStridedRowsAreReadNarrowOnesRefused) {
  Fixture wide(4, 80 << 10, 0, 1, 8);  // rows of 160 KiB: a 64 KiB+ column slice per row is worth a pread
  expect_rect(wide, 0, 4, 1024, (80 << 10) - 7);
  Fixture narrow(64, 48, 0, 1, 8);
  PieceReader rd(narrow.t);
  std::vector<uint16_t> got(size_t(10 * 4), 0xdead);
  auto ok = rd.read(0, 10, 0, 4, reinterpret_cast<uint8_t*>(got.data()));
  ASSERT_TRUE(ok.ok());
  EXPECT_FALSE(*ok);
  EXPECT_EQ(got, std::vector<uint16_t>(40, 0xdead));  // nothing read
}

TEST(PieceReader, TruncatedFileIsAnErrorNamingIt) {
  Fixture fx(16, 32, 0, 2, 8);
  fs::resize_file(fx.t.pieces[1].file, 8 + 100);
  PieceReader rd(fx.t);
  std::vector<uint16_t> got(16 * 32);
  auto ok = rd.read(0, 16, 0, 32, reinterpret_cast<uint8_t*>(got.data()));
  ASSERT_FALSE(ok.ok());
  EXPECT_NE(ok.message().find(fx.t.pieces[1].file), std::string::npos) << ok.message();
}

}  // namespace
}  // namespace g2

namespace g2 {
namespace {

// contiguous_spans: pure geometry over in-memory pieces.
SourceTensor pieces_of(std::vector<uint8_t>& mem, int64_t rows, int64_t cols, int axis, int parts) {
  SourceTensor t{"w", DType::BF16, {rows, cols}, axis, {}};
  const int64_t pr = axis == 0 ? rows / parts : rows, pc = axis == 1 ? cols / parts : cols;
  mem.assign(size_t(rows * cols * 2), 0);
  for (int p = 0; p < parts; ++p)
    t.pieces.push_back(
        TensorPiece{TensorView{DType::BF16, {pr, pc}, {}, mem.data() + size_t(p * pr * pc * 2)}, "mem", 0});
  return t;
}

TEST(ContiguousSpans, WholeRowsOfStackedPiecesOneSpanPerPiece) {
  std::vector<uint8_t> mem;
  auto t = pieces_of(mem, 64, 16, 0, 4);  // pieces of 16 rows x 32 bytes
  auto s = contiguous_spans(t, 10, 40, 0, 16);
  ASSERT_TRUE(s.has_value());
  ASSERT_EQ(s->size(), 3u);
  EXPECT_EQ((*s)[0].data(), mem.data() + 10 * 32);
  EXPECT_EQ((*s)[0].size(), 6u * 32);
  EXPECT_EQ((*s)[1].data(), mem.data() + 16 * 32);
  EXPECT_EQ((*s)[1].size(), 16u * 32);
  EXPECT_EQ((*s)[2].size(), 8u * 32);
  EXPECT_FALSE(contiguous_spans(t, 10, 40, 0, 8).has_value());  // a column slice of each row
}

TEST(ContiguousSpans, OnePieceOfSideBySidePiecesIsOneSpan) {
  std::vector<uint8_t> mem;
  auto t = pieces_of(mem, 8, 64, 1, 4);  // pieces of 8 rows x 16 columns
  auto s = contiguous_spans(t, 2, 6, 32, 48);  // exactly piece 2's columns
  ASSERT_TRUE(s.has_value());
  ASSERT_EQ(s->size(), 1u);
  EXPECT_EQ((*s)[0].data(), mem.data() + 2 * (8 * 16 * 2) + 2 * 32);
  EXPECT_EQ((*s)[0].size(), 4u * 32);
  EXPECT_FALSE(contiguous_spans(t, 2, 6, 32, 64).has_value());  // rows interleave two pieces
  EXPECT_FALSE(contiguous_spans(t, 2, 6, 36, 48).has_value());  // part of a piece's row
}

}  // namespace
}  // namespace g2
