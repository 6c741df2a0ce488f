// One tensor view type (ggml's ne/nb, cute's view engine): non-owning, passed by value.
// Ownership lives in move-only buffers (HostBuffer here, MappedFile in mapped_file.h,
// DeviceBuffer in the CUDA backend). Views never free.
#pragma once
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "libconvert/checked.h"
#include "libconvert/dtype.h"
#include "libconvert/status.h"

namespace g2 {

using Shape = std::vector<int64_t>;

std::string shape_str(std::span<const int64_t> shape);  // "[2, 3]"

enum class Device : uint8_t { Host, Cuda };

struct TensorView {
  DType dtype = DType::F32;
  Shape shape;
  Shape strides;  // in elements; empty means contiguous row-major
  void* data = nullptr;
  Device device = Device::Host;

  int rank() const { return int(shape.size()); }
  // Shapes of views come from validated headers, so numel cannot overflow here.
  uint64_t numel() const;
  uint64_t nbytes() const { return numel() * dtype_size(dtype); }
  bool contiguous() const;
  Shape contiguous_strides() const;
  template <class T>
  T* as() const { return static_cast<T*>(data); }
};

// Byte count of a shape in a dtype, checked (untrusted shapes come from files).
std::optional<uint64_t> checked_nbytes(DType dtype, std::span<const int64_t> shape);

// Move-only, 64-byte aligned host allocation.
class HostBuffer {
 public:
  HostBuffer() = default;
  explicit HostBuffer(size_t bytes);
  HostBuffer(HostBuffer&&) noexcept = default;
  HostBuffer& operator=(HostBuffer&&) noexcept = default;
  HostBuffer(const HostBuffer&) = delete;
  HostBuffer& operator=(const HostBuffer&) = delete;

  void* data() const { return ptr_.get(); }
  size_t size() const { return size_; }
  template <class T>
  T* as() const { return static_cast<T*>(data()); }
  // A contiguous view of the whole buffer with the given dtype and shape (must fit).
  TensorView view(DType dtype, Shape shape) const;

 private:
  struct Free {
    void operator()(void* p) const;
  };
  std::unique_ptr<void, Free> ptr_;
  size_t size_ = 0;
};

// A host tensor that owns its storage: a buffer plus the view over it.
struct HostTensor {
  HostBuffer buffer;
  TensorView view;
  static HostTensor make(DType dtype, Shape shape);
};

}  // namespace g2
