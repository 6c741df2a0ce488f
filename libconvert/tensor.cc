#include "libconvert/tensor.h"

#include <cstdlib>
#include <new>

namespace g2 {

std::string shape_str(std::span<const int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

uint64_t TensorView::numel() const {
  auto n = checked_numel(shape);
  G2_ASSERT(n.has_value(), "tensor view with an invalid shape");
  return *n;
}

Shape TensorView::contiguous_strides() const {
  Shape s(shape.size());
  int64_t acc = 1;
  for (int i = rank() - 1; i >= 0; --i) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

bool TensorView::contiguous() const { return strides.empty() || strides == contiguous_strides(); }

std::optional<uint64_t> checked_nbytes(DType dtype, std::span<const int64_t> shape) {
  auto n = checked_numel(shape);
  if (!n) return std::nullopt;
  return checked_mul(*n, dtype_size(dtype));
}

void HostBuffer::Free::operator()(void* p) const { std::free(p); }

HostBuffer::HostBuffer(size_t bytes) : size_(bytes) {
  const size_t rounded = (bytes + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded ? rounded : 64);
  if (!p) throw std::bad_alloc();
  ptr_.reset(p);
}

TensorView HostBuffer::view(DType dtype, Shape shape) const {
  TensorView v{dtype, std::move(shape), {}, data(), Device::Host};
  G2_ASSERT(v.nbytes() <= size_, "view larger than its buffer");
  return v;
}

HostTensor HostTensor::make(DType dtype, Shape shape) {
  auto bytes = checked_nbytes(dtype, shape);
  G2_ASSERT(bytes.has_value(), "tensor too large");
  HostTensor t;
  t.buffer = HostBuffer(*bytes);
  t.view = t.buffer.view(dtype, std::move(shape));
  return t;
}

}  // namespace g2
