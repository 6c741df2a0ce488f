#include "libconvert/format/safetensors.h"

namespace g2 {

Expected<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  auto m = MappedFile::open(path);
  if (!m) return m.error();
  auto h = parse_safetensors_header(m->bytes(), path);
  if (!h) return h.error();
  // Unmap what reading the header faulted in: with large page-cache folios (ext4, Linux 6.x) a
  // fault maps up to 2 MiB around the header, which stayed in the resident set for the whole
  // run, once per file, so a converter's peak RSS grew with the number of files.
  m->release(0, m->size());
  SafetensorsFile f;
  f.file_ = std::move(*m);
  f.header_ = std::move(*h);
  return f;
}

std::span<const uint8_t> SafetensorsFile::bytes(const SafetensorsEntry& e) const {
  return {file_.data() + header_.data_offset + e.begin, e.nbytes()};
}

TensorView SafetensorsFile::view(const SafetensorsEntry& e) const {
  TensorView v;
  v.dtype = e.dtype;
  v.shape = e.shape;
  // Views are non-const by type; the mapping is read-only (PROT_READ), so a write would fault.
  v.data = const_cast<uint8_t*>(file_.data() + header_.data_offset + e.begin);
  return v;
}

}  // namespace g2
