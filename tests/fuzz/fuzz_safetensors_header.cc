// libFuzzer target: the safetensors header parser over arbitrary bytes. Beyond "no crash",
// an accepted header must describe every data byte exactly once, and re-encoding its tensor
// list must give a header that parses to the same entries (writer and reader agree).
#include <cstdint>
#include <cstring>

#include "libconvert/format/safetensors_header.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto h = g2::parse_safetensors_header({data, size}, "fuzz-input");
  if (!h.ok()) {
    G2_ASSERT(!h.message().empty());
    return 0;
  }
  uint64_t at = 0;
  for (const auto& t : h->tensors) {
    G2_ASSERT(t.begin == at, "tensors must tile the data section");
    G2_ASSERT(g2::checked_nbytes(t.dtype, t.shape) == t.nbytes());
    at = t.end;
  }
  G2_ASSERT(at == h->data_size);
  G2_ASSERT(h->data_offset + h->data_size == size);

  std::vector<g2::SafetensorsDecl> decls;
  for (const auto& t : h->tensors) decls.push_back({t.name, t.dtype, t.shape});
  uint64_t data_size = 0;
  auto again = g2::build_safetensors_header(decls, h->metadata, &data_size);
  G2_ASSERT(again.ok(), "whatever parses must re-encode");
  G2_ASSERT(data_size == h->data_size);
  std::string file = *again;
  file.append(size_t(data_size), '\0');
  auto back = g2::parse_safetensors_header({reinterpret_cast<const uint8_t*>(file.data()), file.size()}, "re-encoded");
  G2_ASSERT(back.ok(), "a re-encoded header must parse");
  G2_ASSERT(back->tensors.size() == h->tensors.size());
  for (size_t i = 0; i < h->tensors.size(); ++i) {
    G2_ASSERT(back->tensors[i].name == h->tensors[i].name);
    G2_ASSERT(back->tensors[i].shape == h->tensors[i].shape);
    G2_ASSERT(back->tensors[i].begin == h->tensors[i].begin);
  }
  G2_ASSERT(back->metadata == h->metadata);
  return 0;
}
