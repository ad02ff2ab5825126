// gnet/error.hpp — errors returned by value and the Result<T> that carries them.
//
// Setup failures (bad address, port in use, permission) never abort the process: they come back
// as an Error whose message names the operation, the address and the system's reason, e.g.
// "bind tcp://127.0.0.1:9000: Address already in use".
#pragma once

#include <cassert>
#include <exception>
#include <functional>
#include <type_traits>
#include <string>
#include <system_error>
#include <utility>
#include <variant>

namespace gnet {

// Library-level error conditions that are not plain errno values.
enum class Errc {
  ok = 0,
  bad_address = 1,         // the address string could not be parsed
  connection_closed = 2,   // a ConnHandle whose connection is gone
  engine_stopped = 3,      // the engine is shutting down or not running
  shutdown_deadline = 4,   // graceful stop gave up on queued output
  timed_out = 6,           // dial or operation timeout
  handler_exception = 7,   // a callback threw; the connection was closed
  idle_timeout = 8,        // closed by Options::idle_timeout
  inbound_limit = 9,       // the handler left more than Options::max_inbound_buffered unconsumed
  not_writable = 10,       // write to a connection whose output side is shut or that has none
                           // (a pipe's read end)
  bad_listener = 11,       // an inherited descriptor (hand-over, socket activation) is not a
                           // listening socket of the kind expected, or serves no address given
  handover_failed = 12,    // the successor of a hand-over broke off or refused (gnet/upgrade.hpp)
  not_datagram = 13,       // send_to on a connection that is not an unconnected UDP socket
                           // (TCP, Unix, a dialed UDP socket, a pipe)
  bad_proxy_header = 14,   // a ?proxy_protocol=1 listener's connection sent no valid PROXY header
                           // (malformed, wrong signature, or not complete within
                           // Options::proxy_header_timeout); closed before on_open
};

const std::error_category& gnet_category() noexcept;

inline std::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), gnet_category()};
}

// An error code plus a human-readable message that says what was being done.
class Error {
 public:
  Error() = default;
  Error(std::error_code code, std::string message) : code_(code), message_(std::move(message)) {}
  Error(Errc code, std::string message) : code_(make_error_code(code)), message_(std::move(message)) {}

  // The condition: compare against std::errc values or gnet::Errc values.
  std::error_code code() const noexcept { return code_; }
  // "operation target: reason" — ready to print.
  const std::string& message() const noexcept { return message_; }
  explicit operator bool() const noexcept { return static_cast<bool>(code_); }

 private:
  std::error_code code_;
  std::string message_;
};

// Builds an Error from an errno value: "<what>: <strerror(err)>".
Error system_error(int err, const std::string& what);

// Thrown by Result::value() when the Result holds an Error (as std::expected's value() throws
// std::bad_expected_access): reading a value that is not there is never undefined behaviour.
class BadResultAccess : public std::exception {
 public:
  explicit BadResultAccess(Error error) : error_(std::move(error)) {}
  const Error& error() const noexcept { return error_; }
  const char* what() const noexcept override { return error_.message().c_str(); }

 private:
  Error error_;
};

template <class T>
class Result;

namespace detail {
template <class T>
struct is_result : std::false_type {};
template <class T>
struct is_result<Result<T>> : std::true_type {};
}  // namespace detail

// Either a T or an Error: the surface of C++23's std::expected<T, Error>, in C++20.
//   has_value(), explicit bool     which one it holds
//   value()                        the T; throws BadResultAccess (carrying the Error) if none
//   *r, r->                        the T; precondition has_value() (asserted in debug builds)
//   error()                        the Error; a default (empty) Error when there is a value
//   value_or(v)                    the T, or v
//   and_then(f)                    f(T) -> Result<U> when there is a value, else the Error
//   transform(f)                   Result<U>{f(T)} when there is a value, else the Error
//   or_else(f)                     f(Error) -> Result<T> when there is an Error, else the value
//   transform_error(f)             the Error replaced by f(Error) -> Error
template <class T>
class [[nodiscard]] Result {
 public:
  using value_type = T;

  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & {
    check();
    return std::get<0>(v_);
  }
  const T& value() const& {
    check();
    return std::get<0>(v_);
  }
  T&& value() && {
    check();
    return std::get<0>(std::move(v_));
  }

  T* operator->() { return &unchecked(); }
  const T* operator->() const { return &unchecked(); }
  T& operator*() & { return unchecked(); }
  const T& operator*() const& { return unchecked(); }
  T&& operator*() && { return std::move(unchecked()); }

  const Error& error() const noexcept {
    static const Error kNone;
    return has_value() ? kNone : std::get<1>(v_);
  }

  template <class U>
  T value_or(U&& fallback) const& {
    return has_value() ? std::get<0>(v_) : static_cast<T>(std::forward<U>(fallback));
  }
  template <class U>
  T value_or(U&& fallback) && {
    return has_value() ? std::get<0>(std::move(v_)) : static_cast<T>(std::forward<U>(fallback));
  }

  template <class F>
  auto and_then(F&& f) const& {
    using R = std::remove_cvref_t<std::invoke_result_t<F, const T&>>;
    static_assert(detail::is_result<R>::value, "and_then: f must return a gnet::Result");
    return has_value() ? std::invoke(std::forward<F>(f), std::get<0>(v_)) : R(std::get<1>(v_));
  }
  template <class F>
  auto and_then(F&& f) && {
    using R = std::remove_cvref_t<std::invoke_result_t<F, T&&>>;
    static_assert(detail::is_result<R>::value, "and_then: f must return a gnet::Result");
    return has_value() ? std::invoke(std::forward<F>(f), std::get<0>(std::move(v_)))
                       : R(std::get<1>(std::move(v_)));
  }

  template <class F>
  auto transform(F&& f) const& {
    using U = std::remove_cvref_t<std::invoke_result_t<F, const T&>>;
    if (!has_value()) return Result<U>(std::get<1>(v_));
    if constexpr (std::is_void_v<U>) {
      std::invoke(std::forward<F>(f), std::get<0>(v_));
      return Result<U>();
    } else {
      return Result<U>(std::invoke(std::forward<F>(f), std::get<0>(v_)));
    }
  }
  template <class F>
  auto transform(F&& f) && {
    using U = std::remove_cvref_t<std::invoke_result_t<F, T&&>>;
    if (!has_value()) return Result<U>(std::get<1>(std::move(v_)));
    if constexpr (std::is_void_v<U>) {
      std::invoke(std::forward<F>(f), std::get<0>(std::move(v_)));
      return Result<U>();
    } else {
      return Result<U>(std::invoke(std::forward<F>(f), std::get<0>(std::move(v_))));
    }
  }

  template <class F>
  Result or_else(F&& f) const& {
    static_assert(std::is_convertible_v<std::invoke_result_t<F, const Error&>, Result>,
                  "or_else: f must return a Result of the same type");
    return has_value() ? Result(std::get<0>(v_)) : Result(std::invoke(std::forward<F>(f), std::get<1>(v_)));
  }
  template <class F>
  Result or_else(F&& f) && {
    static_assert(std::is_convertible_v<std::invoke_result_t<F, Error&&>, Result>,
                  "or_else: f must return a Result of the same type");
    return has_value() ? Result(std::get<0>(std::move(v_)))
                       : Result(std::invoke(std::forward<F>(f), std::get<1>(std::move(v_))));
  }

  template <class F>
  Result transform_error(F&& f) && {
    if (has_value()) return Result(std::get<0>(std::move(v_)));
    return Result(Error(std::invoke(std::forward<F>(f), std::get<1>(std::move(v_)))));
  }

 private:
  void check() const {
    if (!has_value()) throw BadResultAccess(std::get<1>(v_));
  }
  T& unchecked() {
    assert(has_value());
    return std::get<0>(v_);
  }
  const T& unchecked() const {
    assert(has_value());
    return std::get<0>(v_);
  }

  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  using value_type = void;

  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT: implicit by design
  bool has_value() const noexcept { return !error_; }
  explicit operator bool() const noexcept { return has_value(); }
  // Throws BadResultAccess when there is an Error (std::expected<void, E>::value()).
  void value() const {
    if (!has_value()) throw BadResultAccess(error_);
  }
  const Error& error() const noexcept { return error_; }

  template <class F>
  auto and_then(F&& f) const {
    using R = std::remove_cvref_t<std::invoke_result_t<F>>;
    static_assert(detail::is_result<R>::value, "and_then: f must return a gnet::Result");
    return has_value() ? std::invoke(std::forward<F>(f)) : R(error_);
  }
  template <class F>
  auto transform(F&& f) const {
    using U = std::remove_cvref_t<std::invoke_result_t<F>>;
    if (!has_value()) return Result<U>(error_);
    if constexpr (std::is_void_v<U>) {
      std::invoke(std::forward<F>(f));
      return Result<U>();
    } else {
      return Result<U>(std::invoke(std::forward<F>(f)));
    }
  }
  template <class F>
  Result or_else(F&& f) const {
    return has_value() ? Result() : Result(std::invoke(std::forward<F>(f), error_));
  }
  template <class F>
  Result transform_error(F&& f) const {
    return has_value() ? Result() : Result(Error(std::invoke(std::forward<F>(f), error_)));
  }

 private:
  Error error_;
};

}  // namespace gnet

template <>
struct std::is_error_code_enum<gnet::Errc> : std::true_type {};
