// libFuzzer target for config.json (parse_model_config + validate, built with G2_FUZZ=ON):
// any text must parse or fail with a Status naming the source; a config that validates must
// survive a JSON round trip with the same fingerprint.
#include <cstddef>
#include <cstdint>
#include <string>

#include "libconvert/model_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto c = g2::parse_model_config(text, "fuzz/config.json");
  if (!c.ok()) {
    if (c.status().message().find("fuzz/config.json") == std::string::npos) __builtin_trap();
    return 0;
  }
  if (!g2::validate(*c).ok()) return 0;
  auto again = g2::parse_model_config(g2::model_config_to_json(*c), "fuzz/again.json");
  if (!again.ok() || g2::model_config_fingerprint(*again) != g2::model_config_fingerprint(*c)) __builtin_trap();
  return 0;
}
