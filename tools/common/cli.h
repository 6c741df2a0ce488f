// Shared argument handling for the CLIs: one place decides what --help and a usage error
// exit with (0 and 2, the exit-code contract every tool documents).
#pragma once
#include <CLI/CLI.hpp>
#include <optional>

namespace g2 {

// Parses argv. Returns nullopt to go on, or the code to exit with: 0 after --help or
// --version, 2 after a usage error (CLI11 has already printed the message).
inline std::optional<int> parse_args(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return std::nullopt;
}

}  // namespace g2
