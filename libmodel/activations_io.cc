// ActivationRecord <-> safetensors (libconvert/format), optionally zstd-compressed as a whole
// (streaming libzstd: the file is produced and consumed in chunks).
#include <zstd.h>

#include <cstring>
#include <fstream>
#include <iterator>

#include "libconvert/format/atomic_file.h"
#include "libconvert/format/safetensors.h"
#include "libconvert/format/safetensors_writer.h"
#include "libmodel/activations.h"

namespace g2 {

namespace {

bool ends_with(const std::string& s, std::string_view suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

std::string key(int l, const char* what) { return "layers." + std::to_string(l) + "." + what; }

std::vector<SafetensorsBlob> blobs_of(const ActivationRecord& r) {
  const int64_t T = r.n_tokens();
  std::vector<SafetensorsBlob> b;
  for (const auto& la : r.layers) {
    b.push_back({{key(la.layer, "attn_residual"), DType::F32, {T, r.hidden}}, la.attn_residual.data()});
    b.push_back({{key(la.layer, "router_logits"), DType::F32, {T, r.n_experts}}, la.router_logits.data()});
    b.push_back({{key(la.layer, "experts"), DType::I32, {T, r.top_k}}, la.experts.data()});
    b.push_back({{key(la.layer, "residual"), DType::F32, {T, r.hidden}}, la.residual.data()});
  }
  if (!r.logits.empty()) b.push_back({{"logits", DType::F32, {T, r.vocab}}, r.logits.data()});
  return b;
}

std::map<std::string, std::string> metadata_of(const ActivationRecord& r) {
  auto m = r.metadata;
  m["tokens"] = tokens_to_string(r.tokens);
  return m;
}

Status write_zst(const std::string& path, const ActivationRecord& r) {
  auto blobs = blobs_of(r);
  std::vector<SafetensorsDecl> decls;
  for (const auto& b : blobs) decls.push_back(b.decl);
  uint64_t data_size = 0;
  auto header = build_safetensors_header(decls, metadata_of(r), &data_size);
  if (!header) return header.error();
  auto file = AtomicFile::create(path);
  if (!file) return file.error();
  std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> cctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, 19);
  std::vector<uint8_t> out(ZSTD_CStreamOutSize());
  auto feed = [&](const void* p, size_t n, bool last) -> Status {
    ZSTD_inBuffer in{p, n, 0};
    for (;;) {
      ZSTD_outBuffer ob{out.data(), out.size(), 0};
      const size_t rem = ZSTD_compressStream2(cctx.get(), &ob, &in, last ? ZSTD_e_end : ZSTD_e_continue);
      if (ZSTD_isError(rem)) return io_error(path + ": zstd: " + ZSTD_getErrorName(rem));
      G2_TRY(file->write({out.data(), ob.pos}));
      if (last ? rem == 0 : in.pos == in.size) return Status::Ok();
    }
  };
  G2_TRY(feed(header->data(), header->size(), false));
  for (const auto& b : blobs) {
    uint64_t n = dtype_size(b.decl.dtype);
    for (auto d : b.decl.shape) n *= uint64_t(d);
    G2_TRY(feed(b.data, n, false));
  }
  G2_TRY(feed(nullptr, 0, true));
  return file->commit();
}

Expected<std::vector<uint8_t>> read_zst(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return not_found(path + ": cannot open");
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  std::vector<char> in(ZSTD_DStreamInSize());
  std::vector<uint8_t> out, chunk(ZSTD_DStreamOutSize());
  size_t last = 0;
  while (f) {
    f.read(in.data(), std::streamsize(in.size()));
    const size_t got = size_t(f.gcount());
    if (got == 0) break;
    ZSTD_inBuffer ib{in.data(), got, 0};
    while (ib.pos < ib.size) {
      ZSTD_outBuffer ob{chunk.data(), chunk.size(), 0};
      last = ZSTD_decompressStream(dctx.get(), &ob, &ib);
      if (ZSTD_isError(last)) return invalid(path + ": not a valid zstd stream: " + ZSTD_getErrorName(last));
      out.insert(out.end(), chunk.begin(), chunk.begin() + long(ob.pos));
    }
  }
  if (last != 0) return invalid(path + ": truncated zstd stream");
  return out;
}

// Build a record from a parsed header and the bytes of the whole file.
Expected<ActivationRecord> record_from(const SafetensorsHeader& h, const uint8_t* file, const std::string& path) {
  ActivationRecord r;
  auto it = h.metadata.find("tokens");
  if (it == h.metadata.end()) return invalid(path + ": __metadata__ has no \"tokens\"");
  auto tok = tokens_from_string(it->second);
  if (!tok) return invalid(path + ": " + tok.message());
  r.tokens = *tok;
  r.metadata = h.metadata;
  r.metadata.erase("tokens");
  const int64_t T = r.n_tokens();
  auto get = [&](const std::string& name, DType dt, int64_t cols, auto& out, int64_t* width) -> Status {
    const SafetensorsEntry* e = h.find(name);
    if (!e) return not_found(path + ": no tensor \"" + name + "\"");
    if (e->dtype != dt || e->shape.size() != 2 || e->shape[0] != T || (cols > 0 && e->shape[1] != cols))
      return invalid(path + ": \"" + name + "\" is " + std::string(dtype_name(e->dtype)) + " " + shape_str(e->shape) +
                     "; expected " + std::string(dtype_name(dt)) + " [" + std::to_string(T) + ", " +
                     (cols > 0 ? std::to_string(cols) : std::string("n")) + "]");
    *width = e->shape[1];
    out.resize(size_t(T * e->shape[1]));
    std::memcpy(out.data(), file + h.data_offset + e->begin, e->nbytes());
    return Status::Ok();
  };
  for (int l = 0;; ++l) {
    if (!h.find(key(l, "residual"))) break;
    LayerActivations la;
    la.layer = l;
    G2_TRY(get(key(l, "attn_residual"), DType::F32, r.hidden, la.attn_residual, &r.hidden));
    G2_TRY(get(key(l, "residual"), DType::F32, r.hidden, la.residual, &r.hidden));
    G2_TRY(get(key(l, "router_logits"), DType::F32, r.n_experts, la.router_logits, &r.n_experts));
    G2_TRY(get(key(l, "experts"), DType::I32, r.top_k, la.experts, &r.top_k));
    r.layers.push_back(std::move(la));
  }
  if (h.find("logits")) G2_TRY(get("logits", DType::F32, 0, r.logits, &r.vocab));
  if (r.layers.empty() && r.logits.empty())
    return invalid(path + ": no activation tensors (layers.0.residual, logits)");
  return r;
}

}  // namespace

Status write_activations(const std::string& path, const ActivationRecord& r) {
  if (ends_with(path, ".zst")) return write_zst(path, r);
  return write_safetensors(path, blobs_of(r), metadata_of(r));
}

Expected<ActivationRecord> read_activations(const std::string& path) {
  if (ends_with(path, ".zst")) {
    auto bytes = read_zst(path);
    if (!bytes) return bytes.error();
    auto h = parse_safetensors_header(*bytes, path);
    if (!h) return h.error();
    return record_from(*h, bytes->data(), path);
  }
  auto f = SafetensorsFile::open(path);
  if (!f) return f.error();
  return record_from(f->header(), f->mapped().data(), path);
}

}  // namespace g2
