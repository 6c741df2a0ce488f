// A restricted unpickler for Grok-1 JAX checkpoint files (docs/reference.md §1): each file is one
// pickle of a numpy ndarray or of a `__main__.QuantizedWeight8bit` {weight, scales}. This is a
// small pickle VM that never calls Python-like code: globals resolve against a fixed
// allow-list (numpy's `_reconstruct` / `_frombuffer` / `ndarray` / `dtype` under `numpy.core`
// and `numpy._core`, `ml_dtypes.bfloat16`, `__main__.QuantizedWeight8bit`, and `_codecs.encode`
// restricted to latin-1, which protocol 2 uses for bytes); anything else is refused with the
// file and the global named. Payloads are views into the input bytes (zero copy), except a
// protocol-2 latin-1 string, which has to be decoded. Every length is checked against the
// input size before use, and the stack, marks, memo and object count are bounded, so a
// hostile file costs at most a bounded amount of memory and never recurses.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "libconvert/status.h"
#include "libconvert/tensor.h"

namespace g2 {

// One numpy array of a pickle: C-order, little-endian, `nbytes == numel * dtype size`.
struct PickledArray {
  DType dtype = DType::F32;
  Shape shape;
  const uint8_t* data = nullptr;
  uint64_t nbytes = 0;
  int64_t offset = -1;  // payload offset in the input; -1 when decoded into PickledTensor::owned

  TensorView view() const { return TensorView{dtype, shape, {}, const_cast<uint8_t*>(data), Device::Host}; }
};

// What one Grok-1 tensor file holds.
struct PickledTensor {
  bool quantized = false;  // a QuantizedWeight8bit
  PickledArray array;      // the ndarray, or the quantized weight
  PickledArray scales;     // QuantizedWeight8bit only
  int protocol = 0;        // from the PROTO opcode (0 when absent)
  // Payloads that were not views into the input (protocol <= 2 latin-1 strings); the
  // arrays' data pointers point into these, so the struct is move-only.
  std::vector<std::vector<uint8_t>> owned;

  PickledTensor() = default;
  PickledTensor(PickledTensor&&) noexcept = default;
  PickledTensor& operator=(PickledTensor&&) noexcept = default;
  PickledTensor(const PickledTensor&) = delete;
  PickledTensor& operator=(const PickledTensor&) = delete;
};

// Bounds on the VM; the real files need a few dozen of each.
struct UnpickleLimits {
  size_t max_stack = 4096;      // values on the stack
  size_t max_marks = 64;        // nested MARKs
  size_t max_memo = 1u << 16;   // memo slots (indices beyond are refused, not allocated)
  size_t max_objects = 1u << 16;  // values created in total
};

// Parse the whole pickle `bytes`; `file` names it in every message.
Expected<PickledTensor> unpickle_tensor(std::span<const uint8_t> bytes, const std::string& file,
                                        const UnpickleLimits& limits = {});

}  // namespace g2
