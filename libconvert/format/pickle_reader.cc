#include "libconvert/format/pickle_reader.h"

#include <cstdio>
#include <cstring>
#include <string_view>

#include "libconvert/format/pickle_vm.h"

namespace g2 {

namespace pickle_detail {

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
        if (protocol_ < 2 || protocol_ > 5)
          return fail("pickle protocol " + std::to_string(protocol_) + " is not supported (2-5)");
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
          if (pos_ >= in_.size() || in_[pos_] != '\n')
            return fail("GLOBAL name is unterminated or longer than 256 bytes");
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

}  // namespace pickle_detail

Expected<PickledTensor> unpickle_tensor(std::span<const uint8_t> bytes, const std::string& file,
                                        const UnpickleLimits& limits) {
  pickle_detail::Vm vm(bytes, file, limits);
  return vm.run();
}

}  // namespace g2
