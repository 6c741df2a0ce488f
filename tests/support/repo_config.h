// A config of the repository's configs/ folder (configs/grok-2.json, grok-1-tiny.json, ...),
// read with load_model_config; a failure to read it fails the test that asked.
#pragma once
#include <gtest/gtest.h>

#include <string>

#include "libconvert/model_config.h"

namespace g2::test {

inline ModelConfig repo_config(const char* name) {
  auto c = load_model_config(std::string(G2_SOURCE_DIR) + "/configs/" + name);
  EXPECT_TRUE(c.ok()) << c.message();
  return *c;
}

}  // namespace g2::test
