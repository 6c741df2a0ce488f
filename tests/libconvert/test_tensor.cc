#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "libconvert/checked.h"
#include "libconvert/dtype.h"
#include "libconvert/source/mapped_file.h"
#include "libconvert/tensor.h"

namespace g2 {
namespace {

TEST(DType, TableIsConsistent) {
  for (size_t i = 0; i < size_t(DType::kCount); ++i) {
    const auto& e = kDTypeTable[i];
    EXPECT_EQ(size_t(e.dtype), i);
    EXPECT_EQ(dtype_from_name(e.name), e.dtype);
  }
  EXPECT_EQ(dtype_size(DType::BF16), 2u);
  EXPECT_EQ(dtype_info(DType::F8_E4M3).max_finite, 448.0);
  EXPECT_FALSE(dtype_from_name("F8_E4M3FN").has_value());
}

TEST(Checked, DetectsOverflowAndNegatives) {
  const int64_t ok[] = {131072, 8192};
  EXPECT_EQ(checked_numel(ok), 131072ull * 8192);
  const int64_t huge[] = {int64_t(1) << 40, int64_t(1) << 40};
  EXPECT_FALSE(checked_numel(huge).has_value());
  const int64_t neg[] = {4, -1};
  EXPECT_FALSE(checked_numel(neg).has_value());
  const int64_t big[] = {int64_t(1) << 62};
  EXPECT_FALSE(checked_nbytes(DType::F32, big).has_value());
  EXPECT_EQ(checked_nbytes(DType::BF16, ok), 131072ull * 8192 * 2);
}

TEST(TensorView, StridesAndBuffer) {
  auto t = HostTensor::make(DType::F32, {2, 3, 4});
  EXPECT_EQ(t.view.numel(), 24u);
  EXPECT_EQ(t.view.nbytes(), 96u);
  EXPECT_TRUE(t.view.contiguous());
  EXPECT_EQ(t.view.contiguous_strides(), (Shape{12, 4, 1}));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.view.data) % 64, 0u);
  TensorView transposed = t.view;
  transposed.strides = {12, 1, 4};
  EXPECT_FALSE(transposed.contiguous());
  EXPECT_EQ(shape_str(t.view.shape), "[2, 3, 4]");
  HostBuffer moved = std::move(t.buffer);
  EXPECT_EQ(moved.size(), 96u);
}

TEST(MappedFile, MapsAndReportsErrors) {
  const std::string path = ::testing::TempDir() + "/g2_mapped.bin";
  {
    std::ofstream f(path, std::ios::binary);
    f << "hello mapped world";
  }
  auto m = MappedFile::open(path);
  ASSERT_TRUE(m.ok()) << m.message();
  EXPECT_EQ(m->size(), 18u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(m->data()), 5), "hello");
  m->release(0, 18);  // whole pages only: must not crash on a partial page
  auto missing = MappedFile::open(path + ".nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find(path + ".nope"), std::string::npos);
  auto dir = MappedFile::open(::testing::TempDir());
  EXPECT_FALSE(dir.ok());
  std::remove(path.c_str());
}

}  // namespace
}  // namespace g2
