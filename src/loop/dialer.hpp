// Internal: outbound connects started on a loop (Loop::dial). A non-blocking connect() is
// watched by the driver until the socket is writable (or the timeout fires); then the socket
// becomes a Connection on this loop and on_done hears the result.
#pragma once

#include <any>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "gnet/address.hpp"
#include "gnet/conn_handle.hpp"
#include "loop/io_watcher.hpp"

namespace gnet::detail {

class EventLoop;

// A socket whose non-blocking connect() is in progress.
struct Connecting : IoWatcher {
  Connecting() noexcept : IoWatcher(Kind::connecting) {}
  int fd = -1;
  Network network = Network::tcp;
  SocketAddress remote;
  bool tls = false;        // tls://: a client handshake follows the connect
  std::string host;        // tls://: the name (or address) dialed, for SNI and verification
  std::string peer_key;    // tls://: host:port, under which sessions are cached for resumption
  std::uint64_t timer = 0;
  UniqueFunction<void(std::error_code, ConnHandle)> on_done;
  std::any context;              // the connection's context from its start (before on_open)
  void* driver_token = nullptr;  // the driver's handle on its watch (completion drivers)
};

class Dialer {
 public:
  explicit Dialer(EventLoop& loop) noexcept : loop_(loop) {}
  ~Dialer();

  // The Loop::dial implementation.
  std::error_code dial(std::string_view address, std::chrono::milliseconds timeout,
                       UniqueFunction<void(std::error_code, ConnHandle)> on_done, std::any context = {});
  // The driver saw the socket writable (or hung up): SO_ERROR says how the connect ended.
  void connect_ready(Connecting& pending);
  // Draining: every dial in progress fails with error.
  void fail_all(std::error_code error);

 private:
  void finish(Connecting* pending, std::error_code error);

  EventLoop& loop_;
  std::vector<std::unique_ptr<Connecting>> pending_;
};

}  // namespace gnet::detail
