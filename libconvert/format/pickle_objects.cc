// The meaning of the objects a Grok-1 tensor pickle may build: numpy arrays through
// _reconstruct / _frombuffer and BUILD state, dtypes, QuantizedWeight8bit, and the tensor the
// file finally yields. Sizes are checked against the input before anything is trusted.
#include <cstring>

#include "libconvert/format/pickle_vm.h"

namespace g2::pickle_detail {

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
  if (fn.kind != Kind::Global)
    return fail(std::string("REDUCE on a ") + kind_name(fn.kind) + ", expected an allowed global");
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
    return fail(std::string("QuantizedWeight8bit.") + field + " is a " + kind_name(v.kind) +
                ", expected a numpy array");
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
  if (stack_.size() != 1)
    return fail("STOP with " + std::to_string(stack_.size()) + " values on the stack, expected 1");
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

}  // namespace g2::pickle_detail
