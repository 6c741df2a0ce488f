// Helpers shared by the format tests: a fresh temporary directory per test, small file I/O,
// and the interop Python (G2_PYTHON; tests skip when it is missing).
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace g2::test {

namespace fs = std::filesystem;

// A directory unique to the running test, removed when the test ends.
class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = base() / ("g2fmt-" + std::to_string(::getpid()) + "-" + info->test_suite_name() +
                                              "-" + info->name() + "-" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }
  const fs::path& path() const { return path_; }
  // tmpfs when there is one: the writers fsync every file, which costs ~5 ms each on a disk.
  static fs::path base() {
    if (::access("/dev/shm", W_OK) == 0) return "/dev/shm";
    return ::testing::TempDir();
  }
  std::string str() const { return path_.string(); }

 private:
  fs::path path_;
};

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), std::streamsize(bytes.size()));
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The interop interpreter, or "" when it (or one of numpy, safetensors, ml_dtypes) is missing.
inline std::string interop_python() {
  const char* env = std::getenv("G2_PYTHON");
  std::string py = env && *env ? env : G2_PYTHON;
  if (!fs::exists(py)) return "";
  std::string cmd = "'" + py + "' -c 'import numpy, safetensors, ml_dtypes' >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0 ? py : "";
}

// Run `script` (Python source) with args; returns the exit status.
inline int run_python(const std::string& py, const std::string& dir, const std::string& script,
                      const std::string& args) {
  const std::string path = dir + "/script.py";
  write_bytes(path, script);
  std::string cmd = "'" + py + "' '" + path + "' " + args;
  return std::system(cmd.c_str());
}

}  // namespace g2::test
