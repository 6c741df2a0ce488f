// AtomicFile's two ways to the disk: every size around the O_DIRECT alignment and the buffer
// size, written in uneven chunks (some larger than the buffer), comes back byte for byte with
// its exact length, whichever mode; a direct file is direct wherever the filesystem accepts
// O_DIRECT (probed independently here), auto picks by size, and a dropped file leaves nothing.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include "libconvert/format/atomic_file.h"
#include "tests/support/tmp_dir.h"

namespace g2 {
namespace {

namespace fs = std::filesystem;
using test_exec::TmpDir;

std::vector<uint8_t> pattern(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = uint8_t(rng());
  return v;
}

std::vector<uint8_t> slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Whether `dir`'s filesystem takes an aligned O_DIRECT write, asked without AtomicFile.
bool direct_writes_work(const std::string& dir) {
  const std::string p = dir + "/probe";
  int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT, 0644);
  if (fd < 0) return false;
  void* buf = nullptr;
  bool ok = posix_memalign(&buf, 4096, 4096) == 0;
  if (ok) {
    std::memset(buf, 1, 4096);
    ok = ::pwrite(fd, buf, 4096, 0) == 4096;
    std::free(buf);
  }
  ::close(fd);
  ::unlink(p.c_str());
  return ok;
}

// Write `data` in chunks cycling through `steps`, commit, return what is on disk.
std::vector<uint8_t> round_trip(const std::string& path, const std::vector<uint8_t>& data, WriteMode mode,
                                const std::vector<size_t>& steps, bool* direct = nullptr) {
  auto f = AtomicFile::create(path, data.size(), mode);
  EXPECT_TRUE(f.ok()) << f.message();
  if (!f) return {};
  size_t at = 0, k = 0;
  while (at < data.size()) {
    const size_t n = std::min(steps[k++ % steps.size()], data.size() - at);
    Status st = f->write({data.data() + at, n});
    EXPECT_TRUE(st.ok()) << st.message();
    at += n;
  }
  if (direct) *direct = f->direct();
  Status st = f->commit();
  EXPECT_TRUE(st.ok()) << st.message();
  return slurp(path);
}

TEST(AtomicFileModes, EverySizeComesBackExactly) {
  TmpDir d;
  const bool can_direct = direct_writes_work(d.path);
  const size_t sizes[] = {0, 1, 4095, 4096, 4097, (1u << 20) - 1, 1u << 20, (1u << 20) + 1, (3u << 20) + 4321,
                          (5u << 20) + 7};
  const std::vector<std::vector<size_t>> chunkings = {{1u << 30}, {1, 4095, 777}, {300000, (3u << 20) + 5, 17}};
  for (WriteMode mode : {WriteMode::kDirect, WriteMode::kBuffered}) {
    for (size_t n : sizes) {
      for (size_t c = 0; c < chunkings.size(); ++c) {
        const auto data = pattern(n, uint32_t(n + c));
        const std::string path = d.path + "/f.bin";
        bool direct = false;
        const auto back = round_trip(path, data, mode, chunkings[c], &direct);
        SCOPED_TRACE("size " + std::to_string(n) + " chunking " + std::to_string(c) +
                     (mode == WriteMode::kDirect ? " direct" : " buffered"));
        ASSERT_EQ(back.size(), data.size());
        EXPECT_TRUE(back == data);
        EXPECT_EQ(direct, mode == WriteMode::kDirect && can_direct);
      }
    }
  }
  // Nothing left but the committed file.
  size_t entries = 0;
  for (const auto& e : fs::directory_iterator(d.path)) entries += e.path().filename() == "f.bin" ? 0 : 1;
  EXPECT_EQ(entries, 0u);
}

TEST(AtomicFileModes, AutoIsDirectOnlyForLargeKnownSizes) {
  TmpDir d;
  const bool can_direct = direct_writes_work(d.path);
  auto small = AtomicFile::create(d.path + "/small", 1000);
  auto unknown = AtomicFile::create(d.path + "/unknown");
  auto large = AtomicFile::create(d.path + "/large", kDirectMinBytes);
  ASSERT_TRUE(small && unknown && large);
  EXPECT_FALSE(small->direct());
  EXPECT_FALSE(unknown->direct());
  EXPECT_EQ(large->direct(), can_direct);
  // Fewer bytes than the preallocation: the file is cut to what was written.
  const auto data = pattern(10000, 3);
  ASSERT_TRUE(large->write({data.data(), data.size()}).ok());
  ASSERT_TRUE(large->commit().ok());
  EXPECT_TRUE(slurp(d.path + "/large") == data);
}

TEST(AtomicFileModes, MovedMidWriteKeepsItsPendingBytes) {
  TmpDir d;
  const auto data = pattern((2u << 20) + 999, 9);
  auto f = AtomicFile::create(d.path + "/m", data.size(), WriteMode::kDirect);
  ASSERT_TRUE(f.ok());
  const size_t half = (1u << 20) + 12345;
  ASSERT_TRUE(f->write({data.data(), half}).ok());
  AtomicFile moved = std::move(*f);
  ASSERT_TRUE(moved.write({data.data() + half, data.size() - half}).ok());
  ASSERT_TRUE(moved.commit().ok());
  EXPECT_TRUE(slurp(d.path + "/m") == data);
}

TEST(AtomicFileModes, DroppedDirectFileLeavesNothing) {
  TmpDir d;
  {
    auto f = AtomicFile::create(d.path + "/gone", 3u << 20, WriteMode::kDirect);
    ASSERT_TRUE(f.ok());
    const auto data = pattern(3u << 20, 1);
    ASSERT_TRUE(f->write({data.data(), data.size() - 1}).ok());
  }
  EXPECT_TRUE(fs::is_empty(d.path));
}

}  // namespace
}  // namespace g2
