// Which GEMM a CUDA device runs for a weight format: pure host logic (tests/libmodel/cuda/host).
//   F32        cublasGemmEx, f32 in/out, CUBLAS_COMPUTE_32F (the Backend's f32 arrays)
//   Bf16       cublasGemmEx, BF16 inputs, f32 output, CUBLAS_COMPUTE_32F (f32 accumulation)
//   Fp8Lt      cublasLtMatmul, E4M3 x E4M3 with per-tensor scale pointers, f32 output
//   Fp8AsBf16  FP8 weight dequantised to BF16 on the device, then the Bf16 GEMM
// cuBLASLt's FP8 kernels need compute capability >= 8.9 (Ada/Hopper: g2kit targets sm_90),
// the "TN" layout (which y = x @ w^T with row-major [N, K] weights is), K and N multiples of
// 16 (16-byte aligned leading dimensions), and one scale per operand: channel and block
// scales take the dequantising fallback, as does any device below 8.9 (sm_80).
#pragma once
#include <cstdint>
#include <string_view>

namespace g2 {

enum class GemmPath { F32, Bf16, Fp8Lt, Fp8AsBf16 };
enum class WeightFormat { F32, Bf16, Fp8Tensor, Fp8Channel, Fp8Block };

inline bool device_has_fp8_gemm(int cc_major, int cc_minor) { return cc_major > 8 || (cc_major == 8 && cc_minor >= 9); }

inline GemmPath select_gemm_path(WeightFormat w, int cc_major, int cc_minor, int64_t N, int64_t K) {
  switch (w) {
    case WeightFormat::F32: return GemmPath::F32;
    case WeightFormat::Bf16: return GemmPath::Bf16;
    case WeightFormat::Fp8Tensor:
      return device_has_fp8_gemm(cc_major, cc_minor) && N % 16 == 0 && K % 16 == 0 ? GemmPath::Fp8Lt
                                                                                    : GemmPath::Fp8AsBf16;
    case WeightFormat::Fp8Channel:
    case WeightFormat::Fp8Block: return GemmPath::Fp8AsBf16;
  }
  return GemmPath::F32;
}

inline std::string_view gemm_path_name(GemmPath p) {
  switch (p) {
    case GemmPath::F32: return "cublasGemmEx f32";
    case GemmPath::Bf16: return "cublasGemmEx bf16 (f32 accumulate)";
    case GemmPath::Fp8Lt: return "cublasLtMatmul e4m3 (per-tensor scales)";
    case GemmPath::Fp8AsBf16: return "fp8 dequantised to bf16 + cublasGemmEx";
  }
  return "?";
}

}  // namespace g2
