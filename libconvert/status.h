// Errors in three tiers (docs/architecture.md): G2_ASSERT for invariants (always on), the CUDA/cuBLAS
// check macros in kernels/, and Status / Expected<T> for bad input. A bad-input message
// names the file, the tensor and what was expected. Libraries never print or exit.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace g2 {

// What kind of failure: tools map InvalidInput/NotFound/Unsupported to exit 2, Io to exit 2
// with the system error, Internal to an abort-worthy bug report.
enum class ErrorKind { InvalidInput, NotFound, Unsupported, Io, Internal };

struct Error {
  ErrorKind kind = ErrorKind::InvalidInput;
  std::string message;
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error e) : err_(std::move(e)) {}  // NOLINT: implicit so `return Error{...}` works
  bool ok() const { return !err_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return *err_; }
  const std::string& message() const {
    static const std::string empty;
    return err_ ? err_->message : empty;
  }
  static Status Ok() { return Status(); }

 private:
  std::optional<Error> err_;
};

template <class T>
class [[nodiscard]] Expected {
 public:
  Expected(T v) : v_(std::move(v)) {}      // NOLINT
  Expected(Error e) : v_(std::move(e)) {}  // NOLINT
  Expected(Status s) : v_(s.error()) {}    // NOLINT: only from a failed Status
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }
  const std::string& message() const { return error().message; }
  Status status() const { return ok() ? Status() : Status(error()); }

 private:
  std::variant<T, Error> v_;
};

inline Error invalid(std::string msg) { return Error{ErrorKind::InvalidInput, std::move(msg)}; }
inline Error not_found(std::string msg) { return Error{ErrorKind::NotFound, std::move(msg)}; }
inline Error unsupported(std::string msg) { return Error{ErrorKind::Unsupported, std::move(msg)}; }
inline Error io_error(std::string msg) { return Error{ErrorKind::Io, std::move(msg)}; }

[[noreturn]] inline void assert_fail(const char* expr, const char* file, int line, const char* msg) {
  std::fprintf(stderr, "g2kit internal error: %s:%d: %s%s%s\n", file, line, expr, msg[0] ? ": " : "", msg);
  std::abort();
}

}  // namespace g2

#define G2_ASSERT(cond, ...)                                                     \
  do {                                                                           \
    if (!(cond)) ::g2::assert_fail(#cond, __FILE__, __LINE__, "" __VA_ARGS__); \
  } while (0)

// Propagate a failed Status / Expected from the current function.
#define G2_TRY(expr)                           \
  do {                                         \
    auto g2_try_status_ = (expr);              \
    if (!g2_try_status_.ok()) return g2_try_status_.error(); \
  } while (0)
