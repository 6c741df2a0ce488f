// Hostile and broken pickles: each must fail with a message that names the file and what
// was wrong, without crashing, allocating from untrusted lengths, or recursing.
#include <gtest/gtest.h>

#include <string>

#include "libconvert/format/pickle_reader.h"
#include "libconvert/format/pickle_writer.h"

namespace g2 {
namespace {

std::vector<uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }
// String literals may hold NULs: take all N - 1 characters.
template <size_t N>
std::vector<uint8_t> bytes_of(const char (&s)[N]) {
  return {s, s + N - 1};
}

std::vector<uint8_t> valid_array() {
  HostTensor t = HostTensor::make(DType::F32, {3, 5});
  for (int i = 0; i < 15; ++i) t.view.as<float>()[i] = float(i);
  std::vector<uint8_t> out;
  ByteSink sink = [&](std::span<const uint8_t> b) { out.insert(out.end(), b.begin(), b.end()); return Status::Ok(); };
  EXPECT_TRUE(pickle_array(sink, t.view).ok());
  return out;
}

std::vector<uint8_t> valid_quantized() {
  HostTensor w = HostTensor::make(DType::I8, {4, 6});
  HostTensor s = HostTensor::make(DType::BF16, {1, 6});
  for (int i = 0; i < 24; ++i) w.view.as<int8_t>()[i] = int8_t(i - 12);
  for (int i = 0; i < 6; ++i) s.view.as<uint16_t>()[i] = uint16_t(0x3f80 + i);
  std::vector<uint8_t> out;
  ByteSink sink = [&](std::span<const uint8_t> b) { out.insert(out.end(), b.begin(), b.end()); return Status::Ok(); };
  EXPECT_TRUE(pickle_quantized(sink, w.view, s.view).ok());
  return out;
}

// Replace the first occurrence of `from` (must exist) by `to`, same length.
std::vector<uint8_t> patched(std::vector<uint8_t> b, const std::string& from, const std::string& to) {
  EXPECT_EQ(from.size(), to.size());
  const std::string s(b.begin(), b.end());
  const size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << "pattern not found";
  if (at != std::string::npos) std::copy(to.begin(), to.end(), b.begin() + ptrdiff_t(at));
  return b;
}

void expect_fails(const std::vector<uint8_t>& b, const std::string& needle, const UnpickleLimits& lim = {}) {
  auto r = unpickle_tensor(b, "ckpt-0/tensor00042_000", lim);
  ASSERT_FALSE(r.ok()) << "expected an error mentioning: " << needle;
  EXPECT_NE(r.message().find("ckpt-0/tensor00042_000"), std::string::npos) << r.message();
  EXPECT_NE(r.message().find(needle), std::string::npos) << r.message();
}

TEST(PickleMalicious, ValidFilesParse) {
  auto a = unpickle_tensor(valid_array(), "a");
  ASSERT_TRUE(a.ok()) << a.message();
  EXPECT_EQ(a->array.shape, (Shape{3, 5}));
  auto q = unpickle_tensor(valid_quantized(), "q");
  ASSERT_TRUE(q.ok()) << q.message();
  EXPECT_TRUE(q->quantized);
  EXPECT_EQ(q->scales.dtype, DType::BF16);
}

TEST(PickleMalicious, DisallowedGlobals) {
  // os.system('echo') via STACK_GLOBAL + REDUCE (protocol 4)
  expect_fails(bytes_of(std::string("\x80\x04\x8c\x02os\x94\x8c\x06system\x94\x93\x94\x8c\x04") +
                        "echo\x94\x85\x94R\x94."),
               "'os.system' is not allowed");
  // builtins.eval via GLOBAL (protocol 2)
  expect_fails(bytes_of("\x80\x02" "cbuiltins\neval\nX\x01\x00\x00\x00" "1\x85R."), "'builtins.eval' is not allowed");
  // an allowed module with a name outside the list
  expect_fails(bytes_of("\x80\x02" "cnumpy\nload\n."), "'numpy.load' is not allowed");
  // an allowed type used as a callable it is not
  expect_fails(bytes_of("\x80\x02" "cnumpy\nndarray\n)R."), "not callable");
  // NEWOBJ of anything but the record
  expect_fails(bytes_of("\x80\x02" "cnumpy\ndtype\n)\x81."), "NEWOBJ is only allowed");
  // _codecs.encode with another codec
  expect_fails(bytes_of("\x80\x02" "c_codecs\nencode\nX\x01\x00\x00\x00" "aX\x05\x00\x00\x00" "rot13\x86R."), "latin1");
}

TEST(PickleMalicious, AbsurdLengthsAreCheckedAgainstTheFile) {
  expect_fails(bytes_of(std::string("\x80\x04\x8e\xff\xff\xff\xff\xff\xff\xff\x7f", 11) + "."), "runs past the end");
  expect_fails(bytes_of(std::string("\x80\x04\x8d\x00\x00\x00\x00\x01\x00\x00\x00", 11)), "runs past the end");
  expect_fails(bytes_of(std::string("\x80\x04\x95\x00\x00\x00\x00\x00\x00\x10\x00N.", 13)), "FRAME");
  expect_fails(bytes_of(std::string("\x80\x04" "B\xff\xff\xff\x7f", 7)), "runs past the end");
}

TEST(PickleMalicious, EveryTruncationFails) {
  for (const auto& full : {valid_array(), valid_quantized()}) {
    for (size_t n = 0; n < full.size(); ++n) {
      std::vector<uint8_t> cut(full.begin(), full.begin() + ptrdiff_t(n));
      auto r = unpickle_tensor(cut, "ckpt-0/tensor00042_000");
      ASSERT_FALSE(r.ok()) << "prefix of " << n << " bytes parsed";
      EXPECT_NE(r.message().find("tensor00042_000"), std::string::npos);
    }
  }
}

TEST(PickleMalicious, BoundedStackMarksMemoAndObjects) {
  expect_fails(bytes_of("\x80\x04" + std::string(100000, '(') + "."), "MARKs nested deeper");
  expect_fails(bytes_of("\x80\x04" + std::string(100000, 'N') + "."), "stack deeper");
  // Objects are bounded even when the stack is not allowed to grow: N, POP forever
  std::string churn = "\x80\x04";
  for (int i = 0; i < 70000; ++i) churn += "N0";
  expect_fails(bytes_of(churn + "N."), "objects");
  expect_fails(bytes_of(std::string("\x80\x04Nr\xff\xff\xff\xff.", 9)), "memo index 4294967295");
  // a huge dict of distinct keys
  std::string dict = "\x80\x04}(";
  for (int i = 0; i < 1000; ++i) dict += "M" + std::string(1, char(i & 0xff)) + std::string(1, char(i >> 8)) + "N";
  expect_fails(bytes_of(dict + "u."), "dict with more than 256 entries");
  expect_fails(bytes_of("\x80\x04h\x05."), "memo index 5 was never stored");
  expect_fails(bytes_of("\x80\x04\x94."), "memo store with an empty stack");
  // A small limit holds too: the limit, not the file, decides.
  UnpickleLimits tiny;
  tiny.max_marks = 2;
  expect_fails(bytes_of("\x80\x04(((N."), "MARKs nested deeper than 2", tiny);
}

TEST(PickleMalicious, WrongContents) {
  const auto a = valid_array();
  // shape (3, 6) with a 60-byte payload
  expect_fails(patched(a, "K\x03K\x05\x86", "K\x03K\x06\x86"), "payload is 60 bytes but shape [3, 6] of F32 needs 72");
  expect_fails(patched(a, "\x94" "b\x89", "\x94" "b\x88"), "Fortran");
  expect_fails(patched(a, "\x8c\x01<", "\x8c\x01>"), "big-endian");
  expect_fails(patched(a, "\x8c\x02" "f4", "\x8c\x02" "c8"), "numpy dtype 'c8' is not supported");
  expect_fails(patched(a, "\x80\x04", "\x80\x07"), "protocol 7");
  // A record with a third field, and one whose scales is not an array
  expect_fails(patched(valid_quantized(), "\x8c\x06" "scales", "\x8c\x06" "extras"), "unexpected field");
  expect_fails(bytes_of("\x80\x04}."), "holds a dict");
  expect_fails(bytes_of("\x80\x04NN."), "2 values on the stack");
  expect_fails(bytes_of("\x80\x04" "P1\n."), "opcode 0x50 is not supported");
  expect_fails(bytes_of("\x80\x04N"), "truncated");
}

}  // namespace
}  // namespace g2
