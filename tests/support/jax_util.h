// Helpers for the Grok-1 format tests: scratch directories, whole-file I/O, and running the
// interop venv's Python (numpy + ml_dtypes) when it exists.
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace g2::test {

namespace fs = std::filesystem;

// A fresh directory under the system temp dir, removed when the object dies.
struct ScratchDir {
  fs::path path;
  explicit ScratchDir(const std::string& tag) {
    path = fs::temp_directory_path() / ("g2jax-" + tag + "-" + std::to_string(::getpid()));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~ScratchDir() {
    if (std::getenv("G2_KEEP_SCRATCH")) return;  // debugging: leave the files behind
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

inline std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

inline void write_all(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

inline void write_text(const std::string& path, const std::string& s) {
  std::ofstream f(path, std::ios::binary);
  f << s;
}

// The interop Python (G2_PYTHON env, else the build's venv), or "" when it is missing or
// lacks numpy / ml_dtypes.
inline const std::string& python() {
  static const std::string py = [] {
    const char* env = std::getenv("G2_PYTHON");
    std::string p = env && *env ? env : G2_PYTHON;
    if (!fs::exists(p)) return std::string();
    const std::string cmd = "'" + p + "' -c 'import numpy, ml_dtypes' >/dev/null 2>&1";
    return std::system(cmd.c_str()) == 0 ? p : std::string();
  }();
  return py;
}

// Runs `script` (Python source) with args; returns the exit code; stdout+stderr into *out.
inline int run_python(const ScratchDir& dir, const std::string& script, const std::vector<std::string>& args,
                      std::string* out = nullptr) {
  static int n = 0;
  const std::string path = dir / ("script" + std::to_string(n++) + ".py");
  write_text(path, script);
  std::string cmd = "'" + python() + "' -W ignore '" + path + "'";
  for (const auto& a : args) cmd += " '" + a + "'";
  cmd += " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return -1;
  std::string text;
  char buf[4096];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, got);
  const int rc = ::pclose(p);
  if (out) *out = text;
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

#define G2_NEED_PYTHON()                                                                 \
  do {                                                                                   \
    if (::g2::test::python().empty()) GTEST_SKIP() << "no Python with numpy + ml_dtypes"; \
  } while (0)

}  // namespace g2::test
