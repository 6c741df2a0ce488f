#include "libconvert/format/pickle_reader.h"

#include <cstdio>
#include <cstring>
#include <string_view>

namespace g2 {

namespace {

// The callables and types a Grok-1 tensor file may name.
enum class Global : uint8_t { Reconstruct, FromBuffer, NdarrayType, DtypeType, Bf16Type, Qw8Type, CodecsEncode };

struct AllowedGlobal {
  std::string_view module, name;
  Global id;
};

// numpy 1.x pickles name numpy.core, numpy 2 numpy._core; ml_dtypes types say `ml_dtypes`
// (older builds `ml_dtypes._ml_dtypes_ext`); protocol 5 arrays go through `_frombuffer`.
constexpr AllowedGlobal kAllowed[] = {
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

const char* kind_name(Kind k) {
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

std::string op_hex(uint8_t op) {
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02x", op);
  return hex;
}

struct DescrEntry {
  std::string_view descr;
  DType dtype;
};
constexpr DescrEntry kDescrs[] = {
    {"f8", DType::F64}, {"f4", DType::F32}, {"f2", DType::F16}, {"i8", DType::I64}, {"i4", DType::I32},
    {"i2", DType::I16}, {"i1", DType::I8},  {"u1", DType::U8},  {"b1", DType::BOOL},
};

class Vm {
 public:
  Vm(std::span<const uint8_t> in, const std::string& file, const UnpickleLimits& lim) : in_(in), file_(file), lim_(lim) {}

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
    if (idx >= lim_.max_memo) return fail("memo index " + std::to_string(idx) + " beyond " + std::to_string(lim_.max_memo));
    if (memo_.size() <= idx) memo_.resize(size_t(idx) + 1, kUnset);
    if (memo_[size_t(idx)] == kUnset) ++memo_count_;
    memo_[size_t(idx)] = stack_.back();
    return Status::Ok();
  }
  Status memo_get(uint64_t idx) {
    if (idx >= memo_.size() || memo_[size_t(idx)] == kUnset) return fail("memo index " + std::to_string(idx) + " was never stored");
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

Status Vm::text(uint64_t n, Kind kind, bool bytearray) {
  if (!have(n))
    return fail(std::string(bytearray ? "bytearray" : kind == Kind::Str ? "string" : "bytes") + " of " +
                std::to_string(n) + " bytes runs past the end of the file (" + std::to_string(in_.size() - pos_) +
                " bytes left)");
  Value v;
  v.kind = kind;
  if (kind == Kind::Str) {
    v.s = std::string_view(reinterpret_cast<const char*>(in_.data() + pos_), size_t(n));
  } else {
    v.bytes = in_.data() + pos_;
    v.nbytes = n;
    v.offset = int64_t(pos_);
  }
  pos_ += size_t(n);
  return push_new(std::move(v));
}

Status Vm::global(std::string_view module, std::string_view name) {
  for (const auto& a : kAllowed) {
    if (a.module == module && a.name == name) {
      Value v;
      v.kind = Kind::Global;
      v.global = a.id;
      return push_new(std::move(v));
    }
  }
  auto printable = [](std::string_view s) {
    std::string o;
    for (char c : s.substr(0, 200)) o += (c >= 32 && c < 127) ? c : '?';
    return o;
  };
  return fail("global '" + printable(module) + "." + printable(name) +
              "' is not allowed (a Grok-1 tensor file may only name numpy arrays and dtypes, "
              "ml_dtypes.bfloat16 and __main__.QuantizedWeight8bit)");
}

Expected<Shape> Vm::shape_of(uint32_t ref, const char* what) {
  const Value& t = vals_[ref];
  if (t.kind != Kind::Tuple) return fail(std::string(what) + " is a " + kind_name(t.kind) + ", expected a tuple");
  Shape shape;
  for (uint32_t d : t.items) {
    if (vals_[d].kind != Kind::Int || vals_[d].i < 0)
      return fail(std::string(what) + " holds a " + kind_name(vals_[d].kind) + " that is not a dimension");
    shape.push_back(vals_[d].i);
  }
  return shape;
}

Status Vm::check_payload(const PickledArray& a, const char* what) {
  const auto need = checked_nbytes(a.dtype, a.shape);
  if (!need) return fail(std::string(what) + ": shape " + shape_str(a.shape) + " overflows");
  if (*need != a.nbytes)
    return fail(std::string(what) + ": payload is " + std::to_string(a.nbytes) + " bytes but shape " +
                shape_str(a.shape) + " of " + std::string(dtype_name(a.dtype)) + " needs " + std::to_string(*need));
  return Status::Ok();
}

Status Vm::reduce() {
  auto args_r = pop();
  if (!args_r) return args_r.error();
  auto fn_r = pop();
  if (!fn_r) return fn_r.error();
  const Value& fn = vals_[*fn_r];
  const Value& args = vals_[*args_r];
  if (fn.kind != Kind::Global) return fail(std::string("REDUCE on a ") + kind_name(fn.kind) + ", expected an allowed global");
  if (args.kind != Kind::Tuple) return fail("REDUCE arguments are not a tuple");
  const auto& a = args.items;
  auto is = [&](size_t k, Kind kind) { return k < a.size() && vals_[a[k]].kind == kind; };
  switch (fn.global) {
    case Global::Reconstruct: {  // _reconstruct(ndarray, (0,), b'b'): an empty array, filled by BUILD
      if (a.size() != 3 || !is(0, Kind::Global) || vals_[a[0]].global != Global::NdarrayType)
        return fail("_reconstruct must be called as _reconstruct(numpy.ndarray, shape, typecode)");
      Value v;
      v.kind = Kind::Array;
      return push_new(std::move(v));
    }
    case Global::DtypeType: {  // dtype(descr, align, copy); byte order comes with BUILD
      if (a.empty() || a.size() > 3) return fail("numpy.dtype called with " + std::to_string(a.size()) + " arguments");
      Value v;
      v.kind = Kind::Dtype;
      const Value& d = vals_[a[0]];
      if (d.kind == Kind::Global && d.global == Global::Bf16Type) {
        v.dtype = DType::BF16;
        v.bf16_type = true;
      } else if (d.kind == Kind::Str) {
        std::string_view s = d.s;
        if (!s.empty() && (s[0] == '<' || s[0] == '|' || s[0] == '=')) s.remove_prefix(1);
        bool found = false;
        for (const auto& e : kDescrs)
          if (e.descr == s) v.dtype = e.dtype, found = true;
        if (!found)
          return fail("numpy dtype '" + std::string(d.s.substr(0, 32)) +
                      "' is not supported (f8 f4 f2 bfloat16 i8 i4 i2 i1 u1 b1, little-endian)");
      } else {
        return fail(std::string("numpy.dtype of a ") + kind_name(d.kind));
      }
      return push_new(std::move(v));
    }
    case Global::FromBuffer: {  // protocol 5: _frombuffer(buffer, dtype, shape, order)
      if (a.size() != 4 || !is(0, Kind::Bytes) || !is(1, Kind::Dtype) || !is(3, Kind::Str))
        return fail("_frombuffer must be called as _frombuffer(bytes, dtype, shape, order)");
      const Value& dt = vals_[a[1]];
      if (!dt.built) return fail("_frombuffer with a dtype that was never built");
      auto shape = shape_of(a[2], "_frombuffer shape");
      if (!shape) return shape.error();
      const bool fortran = vals_[a[3]].s == "F";
      if (fortran && shape->size() > 1)
        return fail("array stored in Fortran (column-major) order; g2kit reads C-order arrays only "
                    "(re-save it with numpy.ascontiguousarray)");
      const Value& b = vals_[a[0]];
      Value v;
      v.kind = Kind::Array;
      v.built = true;
      v.array = PickledArray{dt.dtype, std::move(*shape), b.bytes, b.nbytes, b.offset};
      G2_TRY(check_payload(v.array, "array"));
      return push_new(std::move(v));
    }
    case Global::CodecsEncode: {  // protocol <= 2 bytes: _codecs.encode(text, 'latin1')
      if (a.size() != 2 || !is(0, Kind::Str) || !is(1, Kind::Str) ||
          (vals_[a[1]].s != "latin1" && vals_[a[1]].s != "latin-1"))
        return fail("_codecs.encode is only allowed as encode(str, 'latin1')");
      std::string_view s = vals_[a[0]].s;
      std::vector<uint8_t> out;
      out.reserve(s.size());
      for (size_t k = 0; k < s.size();) {  // UTF-8 decode; every code point must be <= 0xFF
        const uint8_t c = uint8_t(s[k]);
        if (c < 0x80) {
          out.push_back(c);
          k += 1;
        } else if ((c & 0xe0) == 0xc0 && k + 1 < s.size() && (uint8_t(s[k + 1]) & 0xc0) == 0x80 && c <= 0xc3 &&
                   c >= 0xc2) {
          out.push_back(uint8_t(((c & 0x1f) << 6) | (uint8_t(s[k + 1]) & 0x3f)));
          k += 2;
        } else {
          return fail("latin-1 payload string holds a character beyond U+00FF or invalid UTF-8");
        }
      }
      owned_.push_back(std::move(out));
      Value v;
      v.kind = Kind::Bytes;
      v.bytes = owned_.back().data();
      v.nbytes = owned_.back().size();
      return push_new(std::move(v));
    }
    default:
      return fail("global is not callable here");
  }
}

Status Vm::newobj() {
  auto args_r = pop();
  if (!args_r) return args_r.error();
  auto cls_r = pop();
  if (!cls_r) return cls_r.error();
  const Value& cls = vals_[*cls_r];
  if (cls.kind != Kind::Global || cls.global != Global::Qw8Type)
    return fail("NEWOBJ is only allowed for __main__.QuantizedWeight8bit");
  if (vals_[*args_r].kind != Kind::Tuple || !vals_[*args_r].items.empty())
    return fail("QuantizedWeight8bit created with arguments");
  Value v;
  v.kind = Kind::Qw8;
  return push_new(std::move(v));
}

Expected<PickledArray> Vm::array_of(uint32_t ref, const char* field) {
  const Value& v = vals_[ref];
  if (v.kind != Kind::Array || !v.built)
    return fail(std::string("QuantizedWeight8bit.") + field + " is a " + kind_name(v.kind) + ", expected a numpy array");
  return v.array;
}

Status Vm::build() {
  auto state_r = pop();
  if (!state_r) return state_r.error();
  if (stack_.size() <= fence()) return fail("BUILD with nothing to build");
  Value& obj = vals_[stack_.back()];
  const Value& st = vals_[*state_r];
  if (obj.built) return fail(std::string("BUILD on a ") + kind_name(obj.kind) + " that is already built");
  auto int_at = [&](size_t k) -> const Value* {
    return k < st.items.size() && vals_[st.items[k]].kind == Kind::Int ? &vals_[st.items[k]] : nullptr;
  };
  switch (obj.kind) {
    case Kind::Dtype: {
      // (version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata])
      if (st.kind != Kind::Tuple || (st.items.size() != 8 && st.items.size() != 9))
        return fail("numpy dtype state is not an 8- or 9-tuple");
      const Value& order = vals_[st.items[1]];
      if (order.kind != Kind::Str) return fail("numpy dtype byte order is not a string");
      for (size_t k = 2; k < 5; ++k)
        if (vals_[st.items[k]].kind != Kind::None)
          return fail("structured or sub-array numpy dtypes are not supported");
      if (order.s == ">" && dtype_size(obj.dtype) > 1)
        return fail("big-endian numpy dtype '>" + std::string(dtype_name(obj.dtype)) + "' is not supported");
      if (order.s != "<" && order.s != "|" && order.s != "=" && order.s != ">")
        return fail("numpy dtype byte order '" + std::string(order.s.substr(0, 8)) + "' is not understood");
      if (obj.bf16_type) {
        const Value* elsize = int_at(5);
        if (!elsize || elsize->i != 2) return fail("ml_dtypes.bfloat16 dtype without itemsize 2");
      }
      obj.built = true;
      return Status::Ok();
    }
    case Kind::Array: {
      // (version, shape, dtype, is_fortran, raw bytes)
      if (st.kind != Kind::Tuple || st.items.size() != 5) return fail("numpy array state is not a 5-tuple");
      auto shape = shape_of(st.items[1], "array shape");
      if (!shape) return shape.error();
      const Value& dt = vals_[st.items[2]];
      if (dt.kind != Kind::Dtype || !dt.built) return fail("numpy array state without a built dtype");
      const Value& fortran = vals_[st.items[3]];
      if ((fortran.kind == Kind::Bool || fortran.kind == Kind::Int) && fortran.i != 0)
        return fail("array stored in Fortran (column-major) order; g2kit reads C-order arrays only "
                    "(re-save it with numpy.ascontiguousarray)");
      const Value& raw = vals_[st.items[4]];
      if (raw.kind != Kind::Bytes)
        return fail(std::string("numpy array payload is a ") + kind_name(raw.kind) + ", expected bytes");
      obj.array = PickledArray{dt.dtype, std::move(*shape), raw.bytes, raw.nbytes, raw.offset};
      G2_TRY(check_payload(obj.array, "array"));
      obj.built = true;
      return Status::Ok();
    }
    case Kind::Qw8: {
      if (st.kind != Kind::Dict) return fail("QuantizedWeight8bit state is not a dict");
      uint32_t w = kUnset, s = kUnset;
      for (size_t k = 0; k + 1 < st.items.size(); k += 2) {
        const Value& key = vals_[st.items[k]];
        if (key.kind == Kind::Str && key.s == "weight") w = st.items[k + 1];
        else if (key.kind == Kind::Str && key.s == "scales") s = st.items[k + 1];
        else return fail("QuantizedWeight8bit has an unexpected field");
      }
      if (w == kUnset || s == kUnset) return fail("QuantizedWeight8bit lacks its weight or scales field");
      auto wa = array_of(w, "weight");
      if (!wa) return wa.error();
      auto sa = array_of(s, "scales");
      if (!sa) return sa.error();
      obj.items = {w, s};
      obj.built = true;
      return Status::Ok();
    }
    default:
      return fail(std::string("BUILD on a ") + kind_name(obj.kind));
  }
}

Status Vm::set_items(uint32_t dict, const std::vector<uint32_t>& kv) {
  if (vals_[dict].kind != Kind::Dict) return fail(std::string("SETITEM(S) on a ") + kind_name(vals_[dict].kind));
  if (kv.size() % 2) return fail("SETITEMS with an odd number of values");
  for (size_t k = 0; k < kv.size(); k += 2) {
    // Keys are compared as strings only (the state dict of the record): a later key replaces.
    auto& items = vals_[dict].items;
    bool replaced = false;
    const Value& key = vals_[kv[k]];
    for (size_t j = 0; j + 1 < items.size() && key.kind == Kind::Str; j += 2) {
      if (vals_[items[j]].kind == Kind::Str && vals_[items[j]].s == key.s) {
        items[j + 1] = kv[k + 1];
        replaced = true;
      }
    }
    if (!replaced) {
      // The only dict in a tensor file is the record's 2-field state: a cap keeps the
      // key de-duplication above from going quadratic on a hostile file.
      if (items.size() >= 2 * kMaxDictEntries)
        return fail("dict with more than " + std::to_string(kMaxDictEntries) + " entries: not a tensor file");
      items.push_back(kv[k]);
      items.push_back(kv[k + 1]);
    }
  }
  return Status::Ok();
}

Expected<PickledTensor> Vm::finish() {
  if (!marks_.empty()) return fail("STOP inside a MARK");
  if (stack_.size() != 1) return fail("STOP with " + std::to_string(stack_.size()) + " values on the stack, expected 1");
  const Value& top = vals_[stack_.back()];
  PickledTensor out;
  out.protocol = protocol_;
  if (top.kind == Kind::Array && top.built) {
    out.array = top.array;
  } else if (top.kind == Kind::Qw8 && top.built) {
    out.quantized = true;
    out.array = vals_[top.items[0]].array;
    out.scales = vals_[top.items[1]].array;
  } else {
    return fail(std::string("the file holds a ") + kind_name(top.kind) +
                ", expected a numpy array or a QuantizedWeight8bit");
  }
  out.owned = std::move(owned_);
  return out;
}

Expected<PickledTensor> Vm::run() {
  while (true) {
    op_pos_ = pos_;
    if (pos_ >= in_.size()) return fail("file ends before the STOP opcode (truncated?)");
    const uint8_t op = in_[pos_++];
    auto need = [&](uint64_t n) -> Status {
      if (!have(n)) return fail("opcode " + op_hex(op) + " runs past the end of the file (truncated?)");
      return Status::Ok();
    };
    Status st;
    switch (op) {
      case 0x80:  // PROTO
        G2_TRY(need(1));
        protocol_ = int(read_le(1));
        if (protocol_ < 2 || protocol_ > 5) return fail("pickle protocol " + std::to_string(protocol_) + " is not supported (2-5)");
        break;
      case 0x95: {  // FRAME: a length prefix only; its contents are parsed like any other bytes
        G2_TRY(need(8));
        const uint64_t n = read_le(8);
        if (!have(n)) return fail("FRAME of " + std::to_string(n) + " bytes runs past the end of the file");
        break;
      }
      case '.': return finish();  // STOP
      case '(':                    // MARK
        if (marks_.size() >= lim_.max_marks) return fail("MARKs nested deeper than " + std::to_string(lim_.max_marks));
        marks_.push_back(stack_.size());
        break;
      case 'N': st = push_new(Value{}); break;
      case 0x88:
      case 0x89: {
        Value v;
        v.kind = Kind::Bool;
        v.i = op == 0x88;
        st = push_new(std::move(v));
        break;
      }
      case 'K': case 'M': case 'J': {  // BININT1 / BININT2 / BININT
        const int n = op == 'K' ? 1 : op == 'M' ? 2 : 4;
        G2_TRY(need(uint64_t(n)));
        Value v;
        v.kind = Kind::Int;
        const uint64_t u = read_le(n);
        v.i = n == 4 ? int64_t(int32_t(uint32_t(u))) : int64_t(u);
        st = push_new(std::move(v));
        break;
      }
      case 0x8a: {  // LONG1: n little-endian two's complement bytes
        G2_TRY(need(1));
        const int n = int(read_le(1));
        if (n > 8) return fail("integer of " + std::to_string(n) + " bytes is out of range");
        G2_TRY(need(uint64_t(n)));
        uint64_t u = read_le(n);
        if (n > 0 && n < 8 && (u >> (8 * n - 1)) & 1) u |= ~uint64_t(0) << (8 * n);
        Value v;
        v.kind = Kind::Int;
        v.i = int64_t(u);
        st = push_new(std::move(v));
        break;
      }
      case 'G': {  // BINFLOAT, big-endian double
        G2_TRY(need(8));
        uint64_t u = 0;
        for (int k = 0; k < 8; ++k) u = (u << 8) | in_[pos_++];
        Value v;
        v.kind = Kind::Float;
        std::memcpy(&v.f, &u, 8);
        st = push_new(std::move(v));
        break;
      }
      case 0x8c: G2_TRY(need(1)); st = text(read_le(1), Kind::Str); break;       // SHORT_BINUNICODE
      case 'X': G2_TRY(need(4)); st = text(read_le(4), Kind::Str); break;        // BINUNICODE
      case 0x8d: G2_TRY(need(8)); st = text(read_le(8), Kind::Str); break;       // BINUNICODE8
      case 'C': G2_TRY(need(1)); st = text(read_le(1), Kind::Bytes); break;      // SHORT_BINBYTES
      case 'B': G2_TRY(need(4)); st = text(read_le(4), Kind::Bytes); break;      // BINBYTES
      case 0x8e: G2_TRY(need(8)); st = text(read_le(8), Kind::Bytes); break;     // BINBYTES8
      case 0x96: G2_TRY(need(8)); st = text(read_le(8), Kind::Bytes, true); break;  // BYTEARRAY8
      case 'c': {  // GLOBAL "module\nname\n"
        std::string_view parts[2];
        for (auto& p : parts) {
          const size_t start = pos_;
          while (pos_ < in_.size() && in_[pos_] != '\n' && pos_ - start < 256) ++pos_;
          if (pos_ >= in_.size() || in_[pos_] != '\n') return fail("GLOBAL name is unterminated or longer than 256 bytes");
          p = std::string_view(reinterpret_cast<const char*>(in_.data() + start), pos_ - start);
          ++pos_;
        }
        st = global(parts[0], parts[1]);
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        auto name = pop();
        if (!name) return name.error();
        auto module = pop();
        if (!module) return module.error();
        if (vals_[*name].kind != Kind::Str || vals_[*module].kind != Kind::Str)
          return fail("STACK_GLOBAL on values that are not strings");
        st = global(vals_[*module].s, vals_[*name].s);
        break;
      }
      case ')': case ']': case '}': {  // EMPTY_TUPLE / EMPTY_LIST / EMPTY_DICT
        Value v;
        v.kind = op == ')' ? Kind::Tuple : op == ']' ? Kind::List : Kind::Dict;
        st = push_new(std::move(v));
        break;
      }
      case 0x85: case 0x86: case 0x87: case 't': case 'l': case 'd': {  // TUPLE1-3, TUPLE, LIST, DICT
        Value v;
        v.kind = op == 'l' ? Kind::List : op == 'd' ? Kind::Dict : Kind::Tuple;
        if (op == 't' || op == 'l' || op == 'd') {
          auto items = pop_mark();
          if (!items) return items.error();
          if (op == 'd') {  // DICT: the marked values are key, value pairs
            auto r = make(std::move(v));
            if (!r) return r.error();
            G2_TRY(set_items(*r, *items));
            st = push(*r);
            break;
          }
          v.items = std::move(*items);
        } else {
          const int n = op - 0x84;
          if (stack_.size() < fence() + size_t(n)) return fail("tuple of " + std::to_string(n) + " on a short stack");
          v.items.assign(stack_.end() - n, stack_.end());
          stack_.resize(stack_.size() - size_t(n));
        }
        st = push_new(std::move(v));
        break;
      }
      case 'a': {  // APPEND
        auto x = pop();
        if (!x) return x.error();
        if (stack_.size() <= fence() || vals_[stack_.back()].kind != Kind::List) return fail("APPEND to a non-list");
        vals_[stack_.back()].items.push_back(*x);
        break;
      }
      case 'e': {  // APPENDS
        auto items = pop_mark();
        if (!items) return items.error();
        if (stack_.size() <= fence() || vals_[stack_.back()].kind != Kind::List) return fail("APPENDS to a non-list");
        auto& dst = vals_[stack_.back()].items;
        dst.insert(dst.end(), items->begin(), items->end());
        break;
      }
      case 's': {  // SETITEM
        auto v = pop();
        if (!v) return v.error();
        auto k = pop();
        if (!k) return k.error();
        if (stack_.size() <= fence()) return fail("SETITEM without a dict");
        st = set_items(stack_.back(), {*k, *v});
        break;
      }
      case 'u': {  // SETITEMS
        auto items = pop_mark();
        if (!items) return items.error();
        if (stack_.size() <= fence()) return fail("SETITEMS without a dict");
        st = set_items(stack_.back(), *items);
        break;
      }
      case '0': {  // POP
        auto x = pop();
        if (!x) return x.error();
        break;
      }
      case '1': {  // POP_MARK
        auto items = pop_mark();
        if (!items) return items.error();
        break;
      }
      case 'R': st = reduce(); break;
      case 0x81: st = newobj(); break;
      case 'b': st = build(); break;
      case 0x94: st = memo_put(memo_count_); break;                // MEMOIZE: index = entries so far
      case 'q': G2_TRY(need(1)); st = memo_put(read_le(1)); break;  // BINPUT
      case 'r': G2_TRY(need(4)); st = memo_put(read_le(4)); break;  // LONG_BINPUT
      case 'h': G2_TRY(need(1)); st = memo_get(read_le(1)); break;  // BINGET
      case 'j': G2_TRY(need(4)); st = memo_get(read_le(4)); break;  // LONG_BINGET
      default:
        return fail("opcode " + op_hex(op) + " is not supported by the restricted unpickler");
    }
    if (!st.ok()) return st.error();
  }
}

}  // namespace

Expected<PickledTensor> unpickle_tensor(std::span<const uint8_t> bytes, const std::string& file,
                                        const UnpickleLimits& limits) {
  Vm vm(bytes, file, limits);
  return vm.run();
}

}  // namespace g2
