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

#include <any>
#include <atomic>
#include <chrono>
#include <cstdint>
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

// How Client::enroll serves a descriptor that is not a socket: a pipe, a FIFO or a terminal.
enum class Sharing : std::uint8_t {
  // shared for a terminal and for descriptors 0, 1 and 2 (inherited: the parent shell holds
  // them too); owned otherwise.
  automatic,
  // This process alone uses the open file: it is switched to O_NONBLOCK and the loop serves it
  // directly (read/write; one-shot polls on io_uring).
  owned,
  // Another process may hold the same open file, so its flags are never changed (O_NONBLOCK
  // would make that process's blocking reads fail). A dedicated thread does the blocking reads
  // and another the blocking writes, relaying through a socket pair the loop serves.
  shared,
};

struct EnrollOptions {
  Sharing sharing = Sharing::automatic;
  // The connection's context (Conn::context<T>()), already set when on_open runs (gnet's
  // EnrollContext).
  std::any context;
};

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
  // `context` is the connection's context, already set when on_open runs (gnet's DialContext).
  std::error_code dial(std::string_view address, std::chrono::milliseconds timeout, Loop::DialDone on_done = {},
                       std::any context = {});
  // dial() and wait: the handle once on_open has run, or the error. Not from a loop thread.
  Result<ConnHandle> dial_sync(std::string_view address, std::chrono::milliseconds timeout);

  // Adopts an already-connected socket (e.g. one end of a socketpair), a pipe end, a FIFO, a
  // terminal or a regular file (stdin, stdout, whatever they were redirected to) as a stream
  // connection; the Client owns the descriptor from now on and closes it. on_open runs before
  // this returns, and from then on the enroll succeeded, as a dial does: the handle is returned
  // even if on_open closed the connection again (on_close has run then, and the handle is
  // stale: async_write reports Errc::connection_closed). Not from a loop thread.
  //  - A socket is switched to O_NONBLOCK (options.sharing does not apply to sockets).
  //  - A pipe, FIFO or terminal is served as options.sharing says. Conn::network() is
  //    Network::pipe; remote_addr() is empty. A read-only end refuses write() with
  //    Errc::not_writable; a write-only end never calls on_traffic or on_eof, and closes with
  //    EPIPE in on_close when its reader goes away (never SIGPIPE).
  //  - An owned FIFO opened read-only is reopened read-write (a new open file of the same
  //    FIFO): writers may then come and go, each one's bytes arrive, and its input never ends
  //    (close it yourself).
  //  - A terminal (shared): Ctrl-D at the start of a line calls on_eof and reading goes on if
  //    the handler returns Action::none (the default, Action::close, closes as cat(1) would);
  //    a hang-up is the final end of input.
  //  - A regular file is always relayed (its reads wait for the disk), read or written from its
  //    current position on, as cat(1) would; for reads and writes at chosen offsets use
  //    gnet::File.
  // Errors (on_open did not run): std::errc::operation_not_permitted for a directory,
  // Errc::engine_stopped, the I/O driver's refusal to watch the descriptor, or the system call
  // that failed.
  Result<ConnHandle> enroll(int fd, EnrollOptions options = {});

  // The engine behind the client (loops, post, count_connections). Valid while started.
  Engine& engine();

 private:
  std::unique_ptr<detail::EngineCore> core_;
  std::unique_ptr<std::thread> thread_;
  std::atomic<unsigned> next_loop_{0};
  bool started_ = false;
};

}  // namespace gnet
