// Fp8RequantWeights: another WeightSource seen through an FP8 e4m3 round trip — every weight
// the layout marks fp8_candidate is quantised with the given scale scheme (libconvert/quant/quant.h,
// the converter's own rule) and dequantised again. Running a BF16 checkpoint through it gives
// exactly what a correct `g2convert --dtype fp8` of that checkpoint computes, so g2diff can
// hold an FP8 conversion to bit-exact parity (`--fp8-exact`) instead of only a bounded one.
#pragma once
#include <memory>

#include "libconvert/quant/quant.h"
#include "libmodel/weights.h"

namespace g2 {

class Fp8RequantWeights final : public WeightSource {
 public:
  Fp8RequantWeights(WeightSource& inner, Fp8Spec spec);
  const ModelConfig& config() const override { return inner_.config(); }
  Family family() const override { return inner_.family(); }
  Expected<Matrix> matrix(Role role, int layer, int expert, bool exact_int8 = false) override;
  // Requantised weights: an F32 view owning matrix()'s values, so the forward multiplies them
  // exactly as it multiplies an FP8 checkpoint's (dequantized panels of whole rows, the same
  // kernel): --fp8-exact parity holds on the fused path too. Other weights: the inner view.
  std::optional<StoredWeight> stored(Role role, int layer, int expert) override;
  Expected<Matrix> embedding_rows(std::span<const int32_t> tokens) override { return inner_.embedding_rows(tokens); }
  Expected<Matrix> output_rows(int64_t begin, int64_t end) override { return inner_.output_rows(begin, end); }
  std::string describe() const override;

 private:
  WeightSource& inner_;
  Fp8Spec spec_;
  std::vector<TensorSpec> layout_;
};

}  // namespace g2
