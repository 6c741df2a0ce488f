#include "libconvert/format/read_file.h"

#include <fstream>
#include <sstream>

namespace g2 {

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return std::nullopt;
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace g2
