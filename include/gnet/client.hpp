// gnet/client.hpp — the client side: dial out, or adopt connected sockets, and handle them with
// the same EventHandler callbacks as a server's connections.
//
//   Client client(handler, {.num_event_loop = 2});
//   client.start();
//   auto conn = client.dial_sync("tcp://127.0.0.1:9000", 5s);   // on_open has run
//   conn->async_write("hello");
//   ...
//   client.stop();                                                // on_close for each, on_shutdown
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <string_view>
#include <system_error>

#include "gnet/conn_handle.hpp"
#include "gnet/engine.hpp"
#include "gnet/error.hpp"
#include "gnet/handler.hpp"
#include "gnet/loop.hpp"
#include "gnet/options.hpp"

namespace gnet {

namespace detail {
class EngineCore;
}

class Client {
 public:
  // Options apply as for a server (loops, buffers, write cap, idle timeout, ticker, logger).
  explicit Client(EventHandler& handler, Options options = {});
  // Stops (gracefully) if still running.
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Starts the loops on their own threads; on_boot runs before this returns (an exception from
  // it is returned as the error). A Client starts once; make a new one to start again.
  Result<void> start();
  // Graceful stop: queued output drains (up to shutdown_timeout), on_close for every connection,
  // on_shutdown, threads joined. Safe to call twice. Must not be called from a loop thread.
  void stop();

  // Connects from one of the loops (round-robin). Any thread. on_done runs on that loop: see
  // Loop::dial. The immediate return is Errc::engine_stopped when not running.
  std::error_code dial(std::string_view address, std::chrono::milliseconds timeout, Loop::DialDone on_done = {});
  // dial() and wait: the handle once on_open has run, or the error. Not from a loop thread.
  Result<ConnHandle> dial_sync(std::string_view address, std::chrono::milliseconds timeout);

  // Adopts an already-connected socket (e.g. one end of a socketpair); the Client owns it from
  // now on and closes it. Note: this sets O_NONBLOCK on the descriptor, which is shared with
  // any other process holding it. on_open runs before this returns. Not from a loop thread.
  Result<ConnHandle> enroll(int fd);

  // The engine behind the client (loops, post, count_connections). Valid while started.
  Engine& engine();

 private:
  std::unique_ptr<detail::EngineCore> core_;
  std::unique_ptr<std::thread> thread_;
  std::atomic<unsigned> next_loop_{0};
  bool started_ = false;
};

}  // namespace gnet
