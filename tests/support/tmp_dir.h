// A fresh directory under /tmp for one test, removed with everything in it afterwards.
#pragma once
#include <stdlib.h>

#include <filesystem>
#include <string>

namespace g2::test_exec {

struct TmpDir {
  std::string path;
  TmpDir() {
    char tmpl[] = "/tmp/g2conv_test_XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TmpDir() { std::filesystem::remove_all(path); }
  TmpDir(const TmpDir&) = delete;
  TmpDir& operator=(const TmpDir&) = delete;
};

}  // namespace g2::test_exec
