#pragma once
// Result<T>: a value or an Error, returned at every fallible boundary (STYLE.md "Errors").
// Exceptions are kept to process edges; anything that can fail in an expected way returns this.

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace kv::core {

enum class Errc {
  invalid,       // the caller's input is wrong (a user's spec, a flag, a file's content)
  not_found,     // the thing asked for does not exist (HTTP 404, missing file, no such domain)
  conflict,      // optimistic-concurrency loss (HTTP 409 on update)
  exists,        // create of something already present (HTTP 409 AlreadyExists)
  gone,          // a watch's resourceVersion is too old (HTTP 410)
  unauthorized,  // HTTP 401/403, bad credentials
  unavailable,   // the peer is down or refused: retry later
  timeout,       // a deadline passed
  io,            // the OS said no (errno in context)
  parse,         // malformed bytes from a peer or a file
  unsupported,   // valid but not implemented by us: say so plainly
  internal,      // a bug or a third-party library failure without a better class
};

std::string_view errc_name(Errc code);

struct Error {
  Errc code = Errc::internal;
  std::string message;
  // Key/value facts that travel with the error: http_status, errno, virErrorNumber, path, ...
  std::vector<std::pair<std::string, std::string>> context;

  Error() = default;
  Error(Errc c, std::string msg) : code(c), message(std::move(msg)) {}

  // Adds a context entry; chainable: `return Error{...}.with("path", p);`
  Error& with(std::string key, std::string value) & {
    context.emplace_back(std::move(key), std::move(value));
    return *this;
  }
  Error&& with(std::string key, std::string value) && {
    context.emplace_back(std::move(key), std::move(value));
    return std::move(*this);
  }
  // Returns the value of a context key, or "" when absent.
  std::string_view get(std::string_view key) const;
  // "message (key=value, ...)" for logs and CLI output.
  std::string to_string() const;
};

// Errors built from errno: message "<what>: <strerror>", context errno=<n>.
Error errno_error(std::string what, int err);

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& {
    assert(!ok());
    return std::get<1>(v_);
  }
  Error&& error() && {
    assert(!ok());
    return std::get<1>(std::move(v_));
  }

  T value_or(T fallback) const& { return ok() ? std::get<0>(v_) : std::move(fallback); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const& {
    assert(!ok_);
    return error_;
  }
  Error&& error() && {
    assert(!ok_);
    return std::move(error_);
  }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace kv::core

// Propagates an error from a Result-returning expression; yields nothing on success.
#define KV_CHECK(expr)                       \
  do {                                       \
    auto kv_check_r_ = (expr);               \
    if (!kv_check_r_.ok()) {                 \
      return std::move(kv_check_r_).error(); \
    }                                        \
  } while (0)
