// GEMM path selection by weight format and compute capability (libmodel/cuda/host/gemm_select.h).
#include <gtest/gtest.h>

#include "libmodel/cuda/host/gemm_select.h"

namespace g2 {
namespace {

TEST(GemmSelect, Fp8TensorScalesUseCublasLtFromSm89) {
  EXPECT_EQ(select_gemm_path(WeightFormat::Fp8Tensor, 9, 0, 8192, 8192), GemmPath::Fp8Lt);    // H100
  EXPECT_EQ(select_gemm_path(WeightFormat::Fp8Tensor, 8, 9, 1024, 8192), GemmPath::Fp8Lt);    // L40S / Ada
  EXPECT_EQ(select_gemm_path(WeightFormat::Fp8Tensor, 10, 0, 2048, 8192), GemmPath::Fp8Lt);   // Blackwell
  EXPECT_EQ(select_gemm_path(WeightFormat::Fp8Tensor, 8, 0, 8192, 8192), GemmPath::Fp8AsBf16);  // A100: no FP8
  EXPECT_EQ(select_gemm_path(WeightFormat::Fp8Tensor, 8, 6, 8192, 8192), GemmPath::Fp8AsBf16);
}

TEST(GemmSelect, UnalignedOrNonTensorScalesFallBack) {
  EXPECT_EQ(select_gemm_path(WeightFormat::Fp8Tensor, 9, 0, 8192, 8200), GemmPath::Fp8AsBf16);  // K % 16
  EXPECT_EQ(select_gemm_path(WeightFormat::Fp8Tensor, 9, 0, 1000, 8192), GemmPath::Fp8AsBf16);  // N % 16
  EXPECT_EQ(select_gemm_path(WeightFormat::Fp8Channel, 9, 0, 8192, 8192), GemmPath::Fp8AsBf16);
  EXPECT_EQ(select_gemm_path(WeightFormat::Fp8Block, 9, 0, 8192, 8192), GemmPath::Fp8AsBf16);
}

TEST(GemmSelect, NonFp8FormatsKeepTheirGemm) {
  EXPECT_EQ(select_gemm_path(WeightFormat::Bf16, 8, 0, 3, 5), GemmPath::Bf16);
  EXPECT_EQ(select_gemm_path(WeightFormat::F32, 9, 0, 3, 5), GemmPath::F32);
  EXPECT_FALSE(device_has_fp8_gemm(8, 0));
  EXPECT_TRUE(device_has_fp8_gemm(9, 0));
  EXPECT_NE(gemm_path_name(GemmPath::Fp8Lt).find("cublasLt"), std::string_view::npos);
}

}  // namespace
}  // namespace g2
