#include "libconvert/format/pickle_writer.h"

#include <cstring>

namespace g2 {

namespace {

constexpr uint64_t kFrameTarget = 64 * 1024;  // CPython's FRAME_SIZE_TARGET
constexpr uint64_t kFrameMin = 4;              // shorter frames lose their header

struct NumpyDescr {
  DType dtype;
  const char* descr;  // numpy's dtype.str without the byte order
  char order;         // '<' multi-byte, '|' single byte
};
constexpr NumpyDescr kDescrs[] = {
    {DType::F64, "f8", '<'}, {DType::F32, "f4", '<'}, {DType::F16, "f2", '<'}, {DType::I64, "i8", '<'},
    {DType::I32, "i4", '<'}, {DType::I16, "i2", '<'}, {DType::I8, "i1", '|'},  {DType::U8, "u1", '|'},
    {DType::BOOL, "b1", '|'},
};

void le(std::string& out, uint64_t v, int n) {
  for (int k = 0; k < n; ++k) out.push_back(char((v >> (8 * k)) & 0xff));
}

}  // namespace

PickleStreamWriter::PickleStreamWriter(ByteSink sink, NumpyModule numpy) : sink_(std::move(sink)), numpy_(numpy) {}

Status PickleStreamWriter::emit(std::span<const uint8_t> bytes) {
  if (bytes.empty()) return Status::Ok();
  written_ += bytes.size();
  return sink_(bytes);
}

void PickleStreamWriter::put(std::string_view bytes) {
  if (framing_ && !frame_open_) {
    frame_.clear();
    frame_open_ = true;
  }
  if (frame_open_) {
    frame_.append(bytes);
  } else if (sink_error_.ok()) {
    sink_error_ = emit({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
  }
}

Status PickleStreamWriter::commit_frame() {
  if (!frame_open_) return Status::Ok();
  frame_open_ = false;
  std::string out;
  if (frame_.size() >= kFrameMin) {
    out.push_back(char(0x95));
    le(out, frame_.size(), 8);
  }
  out += frame_;
  frame_.clear();
  return emit({reinterpret_cast<const uint8_t*>(out.data()), out.size()});
}

Status PickleStreamWriter::boundary() {
  if (frame_open_ && frame_.size() >= kFrameTarget) return commit_frame();
  return Status::Ok();
}

void PickleStreamWriter::get(uint32_t idx) {
  if (idx < 256) {
    const char op[2] = {'h', char(idx)};
    put({op, 2});
  } else {
    std::string op = "j";
    le(op, idx, 4);
    put(op);
  }
}

void PickleStreamWriter::str(std::string_view s, bool shared) {
  const std::string key = "s" + std::string(s);
  if (shared) {
    auto it = memo_.find(key);
    if (it != memo_.end()) return get(it->second);
  }
  std::string op;
  if (s.size() < 256) {
    op.push_back(char(0x8c));
    le(op, s.size(), 1);
  } else {
    op.push_back('X');
    le(op, s.size(), 4);
  }
  op += s;
  put(op);
  if (shared) memo_[key] = memo_count_;
  memoize();
}

void PickleStreamWriter::bytes_small(std::string_view b) {
  // CPython caches empty and one-byte bytes objects, so the pickler's memo (keyed by object
  // identity) finds them again.
  const bool shared = b.size() <= 1;
  const std::string key = "b" + std::string(b);
  if (shared) {
    auto it = memo_.find(key);
    if (it != memo_.end()) return get(it->second);
  }
  std::string op = "C";
  le(op, b.size(), 1);
  op += b;
  put(op);
  if (shared) memo_[key] = memo_count_;
  memoize();
}

void PickleStreamWriter::integer(int64_t v) {
  std::string op;
  if (v >= 0 && v <= 0xff) {
    op = "K";
    le(op, uint64_t(v), 1);
  } else if (v >= 0 && v <= 0xffff) {
    op = "M";
    le(op, uint64_t(v), 2);
  } else if (v >= INT32_MIN && v <= INT32_MAX) {
    op = "J";
    le(op, uint64_t(uint32_t(int32_t(v))), 4);
  } else {  // LONG1: minimal little-endian two's complement, as pickle's encode_long
    int n = 8;
    while (n > 1) {
      const int64_t top = v >> (8 * (n - 1) - 1);  // the bits a shorter encoding would drop, plus its sign bit
      if (top != 0 && top != -1) break;
      --n;
    }
    op.push_back(char(0x8a));
    op.push_back(char(n));
    le(op, uint64_t(v), n);
  }
  put(op);
}

void PickleStreamWriter::global(std::string_view module, std::string_view name) {
  const std::string key = "g" + std::string(module) + "." + std::string(name);
  auto it = memo_.find(key);
  if (it != memo_.end()) return get(it->second);
  str(module, true);
  str(name, true);
  put_byte(0x93);  // STACK_GLOBAL
  memo_[key] = memo_count_;
  memoize();
}

Status PickleStreamWriter::begin_quantized() {
  if (state_ != State::Start) return invalid("pickle writer: begin_quantized() must come first");
  put("\x80\x04");  // PROTO 4, before framing starts
  framing_ = true;
  global("__main__", "QuantizedWeight8bit");
  put(")\x81");  // EMPTY_TUPLE NEWOBJ
  memoize();
  put("}");  // EMPTY_DICT
  memoize();
  put("(");  // MARK
  quantized_ = true;
  state_ = State::InRecord;
  return sink_error_;
}

Status PickleStreamWriter::begin_array(DType dtype, const Shape& shape) {
  if (state_ == State::Start) {
    put("\x80\x04");
    framing_ = true;
  } else if (!(state_ == State::InRecord && arrays_ < 2)) {
    return invalid("pickle writer: begin_array() out of order");
  }
  const NumpyDescr* nd = nullptr;
  for (const auto& d : kDescrs)
    if (d.dtype == dtype) nd = &d;
  if (!nd && dtype != DType::BF16)
    return unsupported("pickle writer: dtype " + std::string(dtype_name(dtype)) + " has no numpy pickle form here");
  const auto nbytes = checked_nbytes(dtype, shape);
  if (!nbytes) return invalid("pickle writer: shape " + shape_str(shape) + " overflows");
  if (quantized_) {
    // CPython may close the frame between the record's items (never after the last one).
    if (arrays_ == 1) G2_TRY(boundary());
    str(arrays_ == 0 ? "weight" : "scales", true);
  }
  const char* mod = numpy_ == NumpyModule::Core ? "numpy.core.multiarray" : "numpy._core.multiarray";
  // _reconstruct(ndarray, (0,), b'b')
  global(mod, "_reconstruct");
  global("numpy", "ndarray");
  integer(0);
  put_byte(0x85);  // TUPLE1 (a fresh tuple each time: not shared)
  memoize();
  bytes_small("b");
  put_byte(0x87);  // TUPLE3
  memoize();
  put_byte('R');
  memoize();
  // state: (1, shape, dtype, is_fortran, raw)
  put_byte('(');
  integer(1);
  if (shape.empty()) {
    put_byte(')');
  } else {
    if (shape.size() > 3) put_byte('(');
    for (int64_t d : shape) integer(d);
    put_byte(shape.size() > 3 ? uint8_t('t') : uint8_t(0x84 + shape.size()));
    memoize();
  }
  // dtype(descr, False, True) + state (3, order, None, None, None, elsize, alignment, flags)
  global("numpy", "dtype");
  if (dtype == DType::BF16) global("ml_dtypes", "bfloat16");
  else str(nd->descr, false);  // numpy builds a new string each time: never memo-shared
  put("\x89\x88\x87");  // NEWFALSE NEWTRUE TUPLE3
  memoize();
  put_byte('R');
  memoize();
  put_byte('(');
  integer(3);
  str(dtype == DType::BF16 ? "<" : std::string_view(&nd->order, 1), true);
  put("NNN");
  if (dtype == DType::BF16) {  // a user-defined dtype: numpy records its size, alignment, flags
    integer(2);
    integer(2);
    integer(64);
  } else {
    integer(-1);
    integer(-1);
    integer(0);
  }
  put_byte('t');
  memoize();
  put_byte('b');   // BUILD the dtype
  put_byte(0x89);  // is_fortran = False
  // payload
  if (*nbytes <= 1) {
    payload_left_ = *nbytes;
    payload_direct_ = false;
    small_payload_.clear();
  } else {
    std::string op;
    if (*nbytes < 256) {
      op = "C";
      le(op, *nbytes, 1);
    } else if (*nbytes <= 0xffffffffull) {
      op = "B";
      le(op, *nbytes, 4);
    } else {
      op.push_back(char(0x8e));
      le(op, *nbytes, 8);
    }
    payload_direct_ = *nbytes >= kFrameTarget;
    if (payload_direct_) {  // outside any frame, streamed straight to the sink
      G2_TRY(commit_frame());
      G2_TRY(emit({reinterpret_cast<const uint8_t*>(op.data()), op.size()}));
    } else {
      put(op);
    }
    payload_left_ = *nbytes;
  }
  payload_small_ = *nbytes <= 1;
  state_ = State::InPayload;
  return sink_error_;
}

Status PickleStreamWriter::write_payload(std::span<const uint8_t> chunk) {
  if (state_ != State::InPayload) return invalid("pickle writer: write_payload() outside an array");
  if (chunk.size() > payload_left_)
    return invalid("pickle writer: " + std::to_string(chunk.size()) + " payload bytes given, only " +
                   std::to_string(payload_left_) + " expected");
  payload_left_ -= chunk.size();
  if (payload_small_) {
    small_payload_.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
    return Status::Ok();
  }
  if (payload_direct_) return emit(chunk);
  put({reinterpret_cast<const char*>(chunk.data()), chunk.size()});
  return sink_error_;
}

Status PickleStreamWriter::end_array() {
  if (state_ != State::InPayload) return invalid("pickle writer: end_array() outside an array");
  if (payload_left_ != 0)
    return invalid("pickle writer: array ended with " + std::to_string(payload_left_) + " payload bytes missing");
  if (payload_small_) bytes_small(small_payload_);
  else memoize();
  put_byte('t');
  memoize();
  put_byte('b');  // BUILD the array
  ++arrays_;
  state_ = quantized_ && arrays_ < 2 ? State::InRecord : State::AfterArray;
  return sink_error_;
}

Status PickleStreamWriter::finish() {
  if (state_ != State::AfterArray) return invalid("pickle writer: finish() before the arrays are complete");
  if (quantized_) put("ub");  // SETITEMS, BUILD the record
  put_byte('.');
  G2_TRY(sink_error_);
  G2_TRY(commit_frame());
  state_ = State::Done;
  return Status::Ok();
}

Status pickle_array(const ByteSink& sink, const TensorView& a, NumpyModule numpy) {
  if (!a.contiguous()) return invalid("pickle writer: array is not contiguous");
  PickleStreamWriter w(sink, numpy);
  G2_TRY(w.begin_array(a.dtype, a.shape));
  G2_TRY(w.write_payload({a.as<const uint8_t>(), size_t(a.nbytes())}));
  G2_TRY(w.end_array());
  return w.finish();
}

Status pickle_quantized(const ByteSink& sink, const TensorView& weight, const TensorView& scales, NumpyModule numpy) {
  if (!weight.contiguous() || !scales.contiguous()) return invalid("pickle writer: array is not contiguous");
  PickleStreamWriter w(sink, numpy);
  G2_TRY(w.begin_quantized());
  for (const TensorView* a : {&weight, &scales}) {
    G2_TRY(w.begin_array(a->dtype, a->shape));
    G2_TRY(w.write_payload({a->as<const uint8_t>(), size_t(a->nbytes())}));
    G2_TRY(w.end_array());
  }
  return w.finish();
}

}  // namespace g2
