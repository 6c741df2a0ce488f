// --verify's manifest half: recompute every file listed in DIR/g2manifest.json.
#pragma once
#include <string>
#include <vector>

#include "libconvert/status.h"

namespace g2 {

struct ManifestProblem {
  std::string path;     // as listed (relative to the checkpoint directory)
  std::string problem;  // "size 12 != 13", "xxh3_128 ... != ...", "missing"
};

struct ManifestCheck {
  bool present = false;
  size_t checked = 0;
  std::vector<ManifestProblem> problems;
};

// Bad JSON or a path escaping the directory is an input error (exit 2); mismatches are data.
Expected<ManifestCheck> check_manifest(const std::string& dir, const std::vector<std::string>& checkpoint_files);

}  // namespace g2
