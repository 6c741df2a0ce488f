// A test WeightSource that hands every call to another one: tests derive from it and override
// only what they watch or break (a spy on the layers read, a read error to inject), like
// DelegatingBackend for backends.
#pragma once
#include <optional>
#include <span>
#include <string>

#include "libmodel/weights.h"

namespace g2 {

class DelegatingWeights : public WeightSource {
 public:
  explicit DelegatingWeights(WeightSource& inner) : inner_(inner) {}
  const ModelConfig& config() const override { return inner_.config(); }
  Family family() const override { return inner_.family(); }
  Expected<Matrix> matrix(Role role, int layer, int expert, bool exact_int8) override {
    return inner_.matrix(role, layer, expert, exact_int8);
  }
  std::optional<StoredWeight> stored(Role role, int layer, int expert) override {
    return inner_.stored(role, layer, expert);
  }
  Expected<Matrix> embedding_rows(std::span<const int32_t> t) override { return inner_.embedding_rows(t); }
  Expected<Matrix> output_rows(int64_t b, int64_t e) override { return inner_.output_rows(b, e); }
  std::string describe() const override { return inner_.describe(); }

 protected:
  WeightSource& inner_;
};

}  // namespace g2
