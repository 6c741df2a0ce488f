// Writes Grok-1 tensor files: a pickle (protocol 4, as the release's `fast_pickle` =
// plain `pickle.dump`) of a numpy ndarray or of a `__main__.QuantizedWeight8bit`
// {weight, scales}. The bytes are exactly what CPython's C pickler produces for those
// objects (same opcodes, memo numbering and 64 KiB framing), so Python's `pickle.load`
// with numpy and ml_dtypes reads them back, and tests can compare against Python bytewise.
// Payloads stream: a tensor of any size arrives in chunks and is never held whole.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <unordered_map>

#include "libconvert/status.h"
#include "libconvert/tensor.h"

namespace g2 {

// Which numpy module path the pickles name. numpy 1.x (and the Grok-1 release) say
// `numpy.core.multiarray`, which numpy 2 still loads; numpy 2 writes `numpy._core.multiarray`,
// which numpy 1.x cannot load.
enum class NumpyModule : uint8_t { Core, UnderscoreCore };

// Receives the pickle's bytes in order.
using ByteSink = std::function<Status(std::span<const uint8_t>)>;

// Call order: [begin_quantized()] then per array begin_array(), write_payload()..., end_array()
// (one array, or the weight then the scales of a quantized record), then finish().
class PickleStreamWriter {
 public:
  explicit PickleStreamWriter(ByteSink sink, NumpyModule numpy = NumpyModule::Core);

  Status begin_quantized();
  // Supported dtypes: F64 F32 F16 BF16 (ml_dtypes.bfloat16) I64 I32 I16 I8 U8 BOOL.
  Status begin_array(DType dtype, const Shape& shape);
  Status write_payload(std::span<const uint8_t> chunk);
  Status end_array();
  Status finish();

  uint64_t bytes_written() const { return written_; }

 private:
  enum class State { Start, InRecord, InPayload, AfterArray, Done };
  // Framing as CPython's C pickler does it: opcodes collect in a frame that is closed at
  // the container-item boundaries once it reaches 64 KiB; payloads of 64 KiB or more are
  // written outside any frame.
  void put(std::string_view bytes);
  void put_byte(uint8_t b) { put(std::string_view(reinterpret_cast<const char*>(&b), 1)); }
  Status commit_frame();
  Status boundary();
  Status emit(std::span<const uint8_t> bytes);
  // Values, memoized as CPython would (interned names and cached one-character strings
  // and one-byte bytes are stored once and fetched again).
  void str(std::string_view s, bool shared);
  void bytes_small(std::string_view b);
  void integer(int64_t v);
  void memoize() { put_byte(0x94), ++memo_count_; }
  void global(std::string_view module, std::string_view name);
  void get(uint32_t idx);

  ByteSink sink_;
  NumpyModule numpy_;
  State state_ = State::Start;
  bool quantized_ = false;
  int arrays_ = 0;
  std::string frame_;
  bool frame_open_ = false;
  bool framing_ = false;
  uint32_t memo_count_ = 0;
  std::unordered_map<std::string, uint32_t> memo_;  // key: kind tag + value
  uint64_t payload_left_ = 0;
  bool payload_direct_ = false;
  bool payload_small_ = false;  // 0 or 1 byte: written as a (possibly shared) bytes value at the end
  std::string small_payload_;
  uint64_t written_ = 0;
  Status sink_error_;
};

// Whole-buffer helpers over the stream writer.
Status pickle_array(const ByteSink& sink, const TensorView& a, NumpyModule numpy = NumpyModule::Core);
Status pickle_quantized(const ByteSink& sink, const TensorView& weight, const TensorView& scales,
                        NumpyModule numpy = NumpyModule::Core);

}  // namespace g2
