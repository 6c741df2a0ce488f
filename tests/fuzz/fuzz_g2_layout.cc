// libFuzzer target for config.json's g2_layout block (parse_g2_layout), which decides how a
// TP set is read: any text gives a layout or a Status naming the source; an accepted TP width
// is in 1..1024 (0: not given).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "libconvert/format/grok2_tp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto g = g2::parse_g2_layout(text, "fuzz/config.json");
  if (!g.ok()) {
    G2_ASSERT(g.message().find("fuzz/config.json") != std::string::npos);
    return 0;
  }
  G2_ASSERT(g->tp >= 0 && g->tp <= 1024);
  return 0;
}
