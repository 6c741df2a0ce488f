// libFuzzer target for the safetensors header parser (built with G2_FUZZ=ON, clang): any bytes
// must parse or fail with a Status; a header that parses must describe every data byte exactly
// once (entries sorted, contiguous, inside the data section, sized by dtype x shape).
#include <cstddef>
#include <cstdint>

#include "libconvert/format/safetensors_header.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto h = g2::parse_safetensors_header({data, size}, "fuzz.safetensors");
  if (!h.ok()) return 0;
  if (h->data_offset != 8 + h->header_len || h->data_offset + h->data_size != size) __builtin_trap();
  uint64_t at = 0;
  for (const auto& e : h->tensors) {
    if (e.begin != at || e.end < e.begin || e.end > h->data_size) __builtin_trap();
    if (h->find(e.name) != &e) __builtin_trap();
    at = e.end;
  }
  if (at != h->data_size) __builtin_trap();
  // Round trip: the writer's header for the same declarations must parse back to the same entries.
  std::vector<g2::SafetensorsDecl> decls;
  for (const auto& e : h->tensors) decls.push_back({e.name, e.dtype, e.shape});
  uint64_t data_size = 0;
  auto built = g2::build_safetensors_header(decls, h->metadata, &data_size);
  if (built.ok() && data_size != h->data_size) __builtin_trap();
  return 0;
}
