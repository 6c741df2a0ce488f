#include "libconvert/format/safetensors_header.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "libconvert/checked.h"

namespace g2 {

const SafetensorsEntry* SafetensorsHeader::find(std::string_view name) const {
  for (const auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

namespace {

using nlohmann::json;

std::string qstr(const std::string& s) { return "\"" + s + "\""; }

// A SAX handler that accepts exactly the safetensors header grammar, so nothing but the
// result is ever built (no DOM, no recursion, no exceptions) and duplicate keys, which a DOM
// parse would silently merge, are caught. Depth: 1 inside the top object, 2 inside an entry,
// 3 inside an entry's array.
class HeaderSax {
 public:
  explicit HeaderSax(const std::string& path) : path_(path) {}

  std::string error;
  std::vector<SafetensorsEntry> entries;
  std::map<std::string, std::string> metadata;

  bool null() { return scalar("null"); }
  bool boolean(bool) { return scalar("a boolean"); }
  bool number_integer(json::number_integer_t v) {
    if (depth_ == 3) return fail(what() + " must hold non-negative integers, got " + std::to_string(v));
    return scalar("a number");
  }
  bool number_unsigned(json::number_unsigned_t v) {
    if (depth_ != 3) return scalar("a number");
    if (field_ == Field::Shape) {
      if (v > uint64_t(INT64_MAX)) return fail(what() + " has a dimension too large: " + std::to_string(v));
      cur_.shape.push_back(int64_t(v));
    } else {
      offsets_.push_back(v);
    }
    return true;
  }
  bool number_float(json::number_float_t, const json::string_t& s) {
    if (depth_ == 3) return fail(what() + " must hold integers, got " + s);
    return scalar("a number");
  }
  bool binary(json::binary_t&) { return scalar("binary"); }
  bool string(json::string_t& s) {
    if (depth_ == 2 && in_meta_) {
      metadata[meta_key_] = s;
      return true;
    }
    if (depth_ == 2 && field_ == Field::Dtype) {
      auto dt = dtype_from_name(s);
      if (!dt) return fail("tensor " + qstr(cur_.name) + ": unknown dtype " + qstr(s));
      cur_.dtype = *dt;
      return true;
    }
    return scalar("a string");
  }
  bool start_object(std::size_t) {
    if (depth_ == 0) return ++depth_, true;
    if (depth_ == 1) {
      depth_ = 2;
      if (!in_meta_) cur_ = SafetensorsEntry{name_, DType::F32, {}, 0, 0};
      seen_fields_ = 0;
      field_ = Field::None;
      return true;
    }
    return scalar("an object");
  }
  bool key(json::string_t& k) {
    if (depth_ == 1) {
      if (!names_.insert(k).second) return fail("duplicate tensor name " + qstr(k));
      if (k.empty()) return fail("empty tensor name");
      name_ = k;
      in_meta_ = (k == "__metadata__");
      return true;
    }
    // depth 2
    if (in_meta_) {
      if (metadata.count(k)) return fail("__metadata__: duplicate key " + qstr(k));
      meta_key_ = k;
      return true;
    }
    unsigned bit = 0;
    if (k == "dtype") field_ = Field::Dtype, bit = 1;
    else if (k == "shape") field_ = Field::Shape, bit = 2;
    else if (k == "data_offsets") field_ = Field::Offsets, bit = 4;
    else return fail("tensor " + qstr(name_) + ": unknown field " + qstr(k));
    if (seen_fields_ & bit) return fail("tensor " + qstr(name_) + ": duplicate field " + qstr(k));
    seen_fields_ |= bit;
    return true;
  }
  bool end_object() {
    if (depth_ == 2) {
      depth_ = 1;
      if (in_meta_) return in_meta_ = false, true;
      if (seen_fields_ != 7)
        return fail("tensor " + qstr(name_) + ": needs \"dtype\", \"shape\" and \"data_offsets\"");
      entries.push_back(std::move(cur_));
      return true;
    }
    depth_ = 0;  // the top object closed
    return true;
  }
  bool start_array(std::size_t) {
    if (depth_ == 2 && !in_meta_ && (field_ == Field::Shape || field_ == Field::Offsets)) {
      depth_ = 3;
      if (field_ == Field::Offsets) offsets_.clear();
      return true;
    }
    return scalar("an array");
  }
  bool end_array() {
    depth_ = 2;
    if (field_ == Field::Offsets) {
      if (offsets_.size() != 2) return fail("tensor " + qstr(name_) + ": data_offsets must be [begin, end]");
      cur_.begin = offsets_[0];
      cur_.end = offsets_[1];
    }
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& ex) {
    return fail(std::string("malformed JSON: ") + ex.what());
  }

 private:
  enum class Field { None, Dtype, Shape, Offsets };
  const std::string& path_;
  int depth_ = 0;
  bool in_meta_ = false;
  std::string name_, meta_key_;
  std::set<std::string> names_;
  SafetensorsEntry cur_;
  Field field_ = Field::None;
  unsigned seen_fields_ = 0;
  std::vector<uint64_t> offsets_;

  std::string what() const {
    return "tensor " + qstr(name_) + ": " + (field_ == Field::Shape ? "shape" : "data_offsets");
  }
  bool fail(std::string msg) {
    if (error.empty()) error = std::move(msg);
    return false;
  }
  // A value where the grammar does not allow it: say where.
  bool scalar(const char* got) {
    if (depth_ == 0) return fail(std::string("the header must be a JSON object, got ") + got);
    if (depth_ == 1) return fail("entry " + qstr(name_) + " must be an object, got " + got);
    if (in_meta_) return fail("__metadata__ values must be strings; " + qstr(meta_key_) + " is " + got);
    if (depth_ == 2) {
      const char* f = field_ == Field::Dtype ? "dtype" : field_ == Field::Shape ? "shape" : "data_offsets";
      return fail("tensor " + qstr(name_) + ": field " + qstr(f) + " has the wrong type (" + got + ")");
    }
    return fail(what() + " must hold integers, got " + got);
  }
};

uint64_t read_le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

Expected<SafetensorsHeader> parse_safetensors_header(std::span<const uint8_t> file, const std::string& path) {
  auto bad = [&](const std::string& msg) { return invalid(path + ": invalid safetensors file: " + msg); };
  if (file.size() < 8)
    return bad("only " + std::to_string(file.size()) +
               " bytes; a safetensors file starts with an 8-byte header length");
  SafetensorsHeader h;
  h.header_len = read_le64(file.data());
  if (h.header_len > kSafetensorsMaxHeader)
    return bad("header length " + std::to_string(h.header_len) + " exceeds the 100 MB limit");
  if (h.header_len > file.size() - 8)
    return bad("header length " + std::to_string(h.header_len) + " runs past the end of the file (" +
               std::to_string(file.size()) + " bytes)");
  if (h.header_len < 2 || file[8] != '{') return bad("the header must start with '{'");
  h.data_offset = 8 + h.header_len;
  h.data_size = file.size() - h.data_offset;

  const uint8_t* json_begin = file.data() + 8;
  // nlohmann's lexer takes a NUL byte for the end of input, which would hide what follows.
  if (const void* nul = std::memchr(json_begin, 0, h.header_len))
    return bad("NUL byte in the header at offset " + std::to_string(static_cast<const uint8_t*>(nul) - file.data()));
  HeaderSax sax(path);
  const bool ok = json::sax_parse(json_begin, json_begin + h.header_len, &sax, nlohmann::json::input_format_t::json,
                                  /*strict=*/true);
  if (!ok || !sax.error.empty()) return bad(sax.error.empty() ? "malformed JSON header" : sax.error);

  for (const auto& e : sax.entries) {
    auto want = checked_nbytes(e.dtype, e.shape);
    if (!want) return bad("tensor " + qstr(e.name) + ": shape " + shape_str(e.shape) + " overflows");
    if (e.end < e.begin)
      return bad("tensor " + qstr(e.name) + ": data_offsets [" + std::to_string(e.begin) + ", " +
                 std::to_string(e.end) + ") end before they begin");
    if (e.end - e.begin != *want)
      return bad("tensor " + qstr(e.name) + ": shape " + shape_str(e.shape) + " in " +
                 std::string(dtype_name(e.dtype)) + " is " + std::to_string(*want) + " bytes but data_offsets [" +
                 std::to_string(e.begin) + ", " + std::to_string(e.end) + ") span " + std::to_string(e.end - e.begin));
    if (e.end > h.data_size)
      return bad("tensor " + qstr(e.name) + ": data_offsets end " + std::to_string(e.end) +
                 " is past the data section (" + std::to_string(h.data_size) + " bytes)");
  }
  h.tensors = std::move(sax.entries);
  h.metadata = std::move(sax.metadata);
  std::stable_sort(h.tensors.begin(), h.tensors.end(), [](const SafetensorsEntry& a, const SafetensorsEntry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  // Sorted by offset, the ranges must tile [0, data_size) exactly.
  uint64_t at = 0;
  const std::string* prev = nullptr;
  for (const auto& e : h.tensors) {
    if (e.begin < at)
      return bad("tensor " + qstr(e.name) + " [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                 ") overlaps tensor " + qstr(*prev) + " (which ends at " + std::to_string(at) + ")");
    if (e.begin > at)
      return bad("gap of " + std::to_string(e.begin - at) + " unused bytes at data offset " + std::to_string(at) +
                 " before tensor " + qstr(e.name));
    at = e.end;
    prev = &e.name;
  }
  if (at != h.data_size)
    return bad(std::to_string(h.data_size - at) + " bytes after the last tensor are not described by the header");
  return h;
}

Expected<std::string> build_safetensors_header(const std::vector<SafetensorsDecl>& tensors,
                                               const std::map<std::string, std::string>& metadata,
                                               uint64_t* data_size) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json m = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata) m[k] = v;
    j["__metadata__"] = std::move(m);
  }
  uint64_t at = 0;
  for (const auto& t : tensors) {
    if (t.name.empty()) return invalid("safetensors writer: empty tensor name");
    if (t.name == "__metadata__") return invalid("safetensors writer: \"__metadata__\" is not a tensor name");
    if (j.contains(t.name)) return invalid("safetensors writer: duplicate tensor name " + qstr(t.name));
    auto n = checked_nbytes(t.dtype, t.shape);
    auto end = n ? checked_add(at, *n) : std::nullopt;
    if (!end) return invalid("safetensors writer: tensor " + qstr(t.name) + ": invalid shape " + shape_str(t.shape));
    j[t.name] = {{"dtype", std::string(dtype_name(t.dtype))}, {"shape", t.shape}, {"data_offsets", {at, *end}}};
    at = *end;
  }
  std::string text;
  try {
    text = j.dump();
  } catch (const nlohmann::json::exception& e) {  // strings that are not UTF-8
    return invalid(std::string("safetensors writer: cannot encode the header: ") + e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  if (text.size() > kSafetensorsMaxHeader) return invalid("safetensors writer: header exceeds 100 MB");
  std::string out(8, '\0');
  uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) out[size_t(i)] = char((n >> (8 * i)) & 0xff);
  out += text;
  if (data_size) *data_size = at;
  return out;
}

}  // namespace g2
