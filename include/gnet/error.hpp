// gnet/error.hpp — errors returned by value and the Result<T> that carries them.
//
// Setup failures (bad address, port in use, permission) never abort the process: they come back
// as an Error whose message names the operation, the address and the system's reason, e.g.
// "bind tcp://127.0.0.1:9000: Address already in use".
#pragma once

#include <cassert>
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

// Either a T or an Error. A small stand-in for C++23 std::expected.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }
  T& value() & { assert(has_value()); return std::get<0>(v_); }
  const T& value() const& { assert(has_value()); return std::get<0>(v_); }
  T&& value() && { assert(has_value()); return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  const Error& error() const { assert(!has_value()); return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT: implicit by design
  bool has_value() const noexcept { return !error_; }
  explicit operator bool() const noexcept { return has_value(); }
  const Error& error() const { return error_; }

 private:
  Error error_;
};

}  // namespace gnet

template <>
struct std::is_error_code_enum<gnet::Errc> : std::true_type {};
