// The unpickler's machine, shared by its two halves: pickle_reader.cc runs the opcode loop
// (framing, stack, memo, text, the global allow-list), pickle_objects.cc gives the allowed
// objects their meaning (numpy reconstruct/dtype/array state, QuantizedWeight8bit, the
// tensor the file yields). Internal to libconvert/format: include only from those two files.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "libconvert/format/pickle_reader.h"

namespace g2::pickle_detail {

// The callables and types a Grok-1 tensor file may name.
enum class Global : uint8_t { Reconstruct, FromBuffer, NdarrayType, DtypeType, Bf16Type, Qw8Type, CodecsEncode };

struct AllowedGlobal {
  std::string_view module, name;
  Global id;
};

// numpy 1.x pickles name numpy.core, numpy 2 numpy._core; ml_dtypes types say `ml_dtypes`
// (older builds `ml_dtypes._ml_dtypes_ext`); protocol 5 arrays go through `_frombuffer`.
inline constexpr AllowedGlobal kAllowed[] = {
    {"numpy.core.multiarray", "_reconstruct", Global::Reconstruct},
    {"numpy._core.multiarray", "_reconstruct", Global::Reconstruct},
    {"numpy.core.numeric", "_frombuffer", Global::FromBuffer},
    {"numpy._core.numeric", "_frombuffer", Global::FromBuffer},
    {"numpy", "ndarray", Global::NdarrayType},
    {"numpy.core.multiarray", "ndarray", Global::NdarrayType},
    {"numpy._core.multiarray", "ndarray", Global::NdarrayType},
    {"numpy", "dtype", Global::DtypeType},
    {"numpy.core.multiarray", "dtype", Global::DtypeType},
    {"numpy._core.multiarray", "dtype", Global::DtypeType},
    {"ml_dtypes", "bfloat16", Global::Bf16Type},
    {"ml_dtypes._ml_dtypes_ext", "bfloat16", Global::Bf16Type},
    {"__main__", "QuantizedWeight8bit", Global::Qw8Type},
    {"_codecs", "encode", Global::CodecsEncode},
};

enum class Kind : uint8_t { None, Bool, Int, Float, Str, Bytes, Tuple, List, Dict, Global, Dtype, Array, Qw8 };

inline const char* kind_name(Kind k) {
  switch (k) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::Str: return "str";
    case Kind::Bytes: return "bytes";
    case Kind::Tuple: return "tuple";
    case Kind::List: return "list";
    case Kind::Dict: return "dict";
    case Kind::Global: return "global";
    case Kind::Dtype: return "numpy dtype";
    case Kind::Array: return "numpy array";
    case Kind::Qw8: return "QuantizedWeight8bit";
  }
  return "?";
}

struct Value {
  Kind kind = Kind::None;
  bool built = false;  // Dtype / Array / Qw8: BUILD (or the constructor) has filled it
  int64_t i = 0;       // Int, Bool
  double f = 0;
  std::string_view s;                 // Str: UTF-8 text (points into the input)
  const uint8_t* bytes = nullptr;     // Bytes
  uint64_t nbytes = 0;
  int64_t offset = -1;                // Bytes: offset in the input, -1 when owned
  Global global{};                    // Global
  DType dtype = DType::F32;           // Dtype
  bool bf16_type = false;             // Dtype made from ml_dtypes.bfloat16 (itemsize 2 check)
  std::vector<uint32_t> items;        // Tuple / List; Dict as key, value pairs; Qw8: weight, scales
  PickledArray array;                 // Array
};

inline std::string op_hex(uint8_t op) {
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02x", op);
  return hex;
}

struct DescrEntry {
  std::string_view descr;
  DType dtype;
};
inline constexpr DescrEntry kDescrs[] = {
    {"f8", DType::F64}, {"f4", DType::F32}, {"f2", DType::F16}, {"i8", DType::I64}, {"i4", DType::I32},
    {"i2", DType::I16}, {"i1", DType::I8},  {"u1", DType::U8},  {"b1", DType::BOOL},
};

class Vm {
 public:
  Vm(std::span<const uint8_t> in, const std::string& file, const UnpickleLimits& lim)
      : in_(in), file_(file), lim_(lim) {}

  Expected<PickledTensor> run();

 private:
  Error fail(const std::string& what) const {
    return invalid(file_ + ": pickle byte " + std::to_string(op_pos_) + ": " + what);
  }
  bool have(uint64_t n) const { return n <= in_.size() - pos_; }
  uint64_t read_le(int n) {
    uint64_t v = 0;
    for (int k = 0; k < n; ++k) v |= uint64_t(in_[pos_ + size_t(k)]) << (8 * k);
    pos_ += size_t(n);
    return v;
  }
  Expected<uint32_t> make(Value v) {
    if (vals_.size() >= lim_.max_objects)
      return fail("more than " + std::to_string(lim_.max_objects) + " objects: not a tensor file");
    vals_.push_back(std::move(v));
    return uint32_t(vals_.size() - 1);
  }
  Status push(uint32_t ref) {
    if (stack_.size() >= lim_.max_stack) return fail("stack deeper than " + std::to_string(lim_.max_stack));
    stack_.push_back(ref);
    return Status::Ok();
  }
  Status push_new(Value v) {
    auto r = make(std::move(v));
    if (!r) return r.error();
    return push(*r);
  }
  size_t fence() const { return marks_.empty() ? 0 : marks_.back(); }
  Expected<uint32_t> pop() {
    if (stack_.size() <= fence()) return fail(marks_.empty() ? "stack underflow" : "unexpected MARK");
    const uint32_t r = stack_.back();
    stack_.pop_back();
    return r;
  }
  Expected<std::vector<uint32_t>> pop_mark() {
    if (marks_.empty()) return fail("no MARK to pop to");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<uint32_t> items(stack_.begin() + ptrdiff_t(m), stack_.end());
    stack_.resize(m);
    return items;
  }
  Status memo_put(uint64_t idx) {
    if (stack_.size() <= fence()) return fail("memo store with an empty stack");
    if (idx >= lim_.max_memo)
      return fail("memo index " + std::to_string(idx) + " beyond " + std::to_string(lim_.max_memo));
    if (memo_.size() <= idx) memo_.resize(size_t(idx) + 1, kUnset);
    if (memo_[size_t(idx)] == kUnset) ++memo_count_;
    memo_[size_t(idx)] = stack_.back();
    return Status::Ok();
  }
  Status memo_get(uint64_t idx) {
    if (idx >= memo_.size() || memo_[size_t(idx)] == kUnset)
      return fail("memo index " + std::to_string(idx) + " was never stored");
    return push(memo_[size_t(idx)]);
  }
  Status text(uint64_t n, Kind kind, bool bytearray = false);
  Status global(std::string_view module, std::string_view name);
  Status reduce();
  Status newobj();
  Status build();
  Status set_items(uint32_t dict, const std::vector<uint32_t>& kv);
  Expected<Shape> shape_of(uint32_t tuple, const char* what);
  Status check_payload(const PickledArray& a, const char* what);
  Expected<PickledArray> array_of(uint32_t ref, const char* field);
  Expected<PickledTensor> finish();

  static constexpr uint32_t kUnset = 0xffffffffu;
  static constexpr size_t kMaxDictEntries = 256;
  std::span<const uint8_t> in_;
  const std::string& file_;
  UnpickleLimits lim_;
  size_t pos_ = 0, op_pos_ = 0;
  int protocol_ = 0;
  std::vector<Value> vals_;
  std::vector<uint32_t> stack_;
  std::vector<size_t> marks_;
  std::vector<uint32_t> memo_;
  size_t memo_count_ = 0;
  std::vector<std::vector<uint8_t>> owned_;
};

}  // namespace g2::pickle_detail
