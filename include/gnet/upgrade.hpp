// gnet/upgrade.hpp — serve on listening sockets this process did not bind: handed over by a
// predecessor (zero-downtime restart) or passed by systemd (socket activation).
//
// Restart without a refused connection (the nginx binary-upgrade shape; docs/deploy.md):
//
//   old process                                 new process (started by the old one)
//   -----------                                 -----------
//   engine.hand_over(path, 10s)  -- blocks --.  auto inherited = gnet::receive_listeners(path);
//     listens on `path`, waits for the new   |  gnet::run(handler, address, options,
//     process, sends every listening socket  |            std::move(*inherited));
//     (SCM_RIGHTS) with its address, waits   |    binds nothing the old one handed over; tells
//     for "serving"                       <--'    the old one "serving" once its loops own the
//                                                 sockets
//   returns: accepting has stopped; the open connections run on until they close by themselves
//   (Engine::handed_over() tells handlers to wind them up) or Options::shutdown_timeout passes,
//   then the ordinary graceful stop closes what is left, and run() returns.
//
// Both processes hold the same sockets (not copies of their addresses): a connection waiting in
// a listen backlog is accepted by whichever process accepts next, never refused or reset.
//
// Socket activation: `gnet::run(handler, "tcp://:8080", options,
// std::move(*gnet::listen_fds_from_systemd()))` serves on the socket systemd bound (docs/deploy.md
// has a unit file).
//
// Matching: run()/rotate() take their addresses as always. For each address the engine uses the
// inherited sockets whose name() is that exact address text (a hand-over from a process started
// with the same addresses), else those whose network and bound address match it (socket
// activation; a wildcard host, 0.0.0.0 or :: matches either wildcard), else it binds the
// address itself. An
// inherited socket that matches no address is an error (Errc::bad_listener): nobody would ever
// accept on it. With one inherited socket per loop (reuse_port), socket i goes to loop i;
// otherwise the sockets are shared out over the loops and accepted connections are balanced.
// The engine makes inherited sockets non-blocking and close-on-exec (their open file
// descriptions are shared with the sender, which no longer reads them).
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "gnet/address.hpp"
#include "gnet/error.hpp"
#include "gnet/handler.hpp"
#include "gnet/options.hpp"

namespace gnet {

// One listening socket received from outside. Checked on arrival: a socket (SO_DOMAIN, SO_TYPE
// tell its network), and for stream networks listening (SO_ACCEPTCONN).
struct InheritedListener {
  int fd = -1;            // owned by the InheritedListeners set until an engine adopts it
  Network network = Network::tcp;
  SocketAddress address;  // getsockname()
  std::string name;       // hand-over: the address text the sender served it under (e.g.
                          // "tcp://127.0.0.1:8080"); systemd: its LISTEN_FDNAMES entry
  std::size_t listener = 0;  // hand-over: the sender's listener index (Conn::listener_index())
};

// A set of inherited listening sockets, owned: the descriptors no engine adopted are closed with
// it. Move-only. Not thread-safe (hand it to run()/rotate() from the thread that got it).
class InheritedListeners {
 public:
  InheritedListeners() = default;
  InheritedListeners(InheritedListeners&& other) noexcept;
  InheritedListeners& operator=(InheritedListeners&& other) noexcept;
  InheritedListeners(const InheritedListeners&) = delete;
  InheritedListeners& operator=(const InheritedListeners&) = delete;
  // Closes the descriptors left, and a hand-over channel not yet answered: the sender then
  // hears that the successor failed, and keeps serving.
  ~InheritedListeners();

  const std::vector<InheritedListener>& listeners() const noexcept { return listeners_; }
  bool empty() const noexcept { return listeners_.empty(); }
  std::size_t size() const noexcept { return listeners_.size(); }

  // Adds a descriptor the caller got some other way (the set owns it from now on; it is closed
  // on failure). Errc::bad_listener when fd is not a socket, or a stream socket not listening.
  Result<void> add(int fd, std::string name = {});

 private:
  friend struct InheritedAccess;
  void reset() noexcept;
  std::vector<InheritedListener> listeners_;
  std::vector<bool> owns_path_;  // hand-over: a Unix socket file the sender would have removed
  int channel_ = -1;             // hand-over: the sender waits for "serving" on it
};

// Socket activation: the descriptors systemd passed (LISTEN_PID = this process, LISTEN_FDS = n:
// descriptors 3 .. 3+n-1, named by LISTEN_FDNAMES). An empty set when LISTEN_PID/LISTEN_FDS are
// absent or meant for another process. Errc::bad_listener when one of them is not a socket or a
// stream socket that is not listening. Unsets the three variables (as sd_listen_fds(1) does), so
// child processes do not take them for theirs: call it once, early, from one thread (setenv and
// unsetenv are not thread-safe).
Result<InheritedListeners> listen_fds_from_systemd();

// systemd's notification protocol (sd_notify(3), without libsystemd): sends `state`, e.g.
// "READY=1", "MAINPID=<pid>\nREADY=1" or "STOPPING=1", as one datagram to the Unix socket
// named by $NOTIFY_SOCKET (a path, or "@name" in the abstract namespace). Returns false when
// NOTIFY_SOCKET is unset (not a Type=notify service: nothing to tell), true when sent, an Error
// naming the socket and the reason otherwise. Unlike libsystemd's, it never unsets the variable:
// a successor started by a binary upgrade needs it to report its own MAINPID, which is how
// systemd follows a SIGUSR2 upgrade (NotifyAccess=all; docs/deploy.md). Any thread; does not
// block (a full socket fails with EAGAIN).
Result<bool> sd_notify(std::string_view state);

// Hand-over, receiving side: connects to the Unix socket a predecessor's Engine::hand_over(path)
// listens on (retrying until it exists, for up to `timeout`), and receives its listening sockets.
// The predecessor keeps accepting until the engine that adopts them is running (run()/rotate()
// with this set tell it), so no moment passes with nobody accepting. Errc::timed_out when no
// predecessor answered in time; Errc::bad_listener when what arrived is not listening sockets.
// Blocks; any thread.
Result<InheritedListeners> receive_listeners(std::string_view path,
                                             std::chrono::milliseconds timeout = std::chrono::seconds(10));

// run()/rotate() (gnet/engine.hpp) on inherited sockets where they match (see above), binding
// the addresses that have none. The sockets are checked before anything runs: a mismatch fails
// setup with Errc::bad_listener naming the descriptor and its address. (The set comes last, after
// the options, so that run(handler, address, {}) keeps meaning the plain overload.)
Result<void> run(EventHandler& handler, std::string_view address, const Options& options,
                 InheritedListeners inherited);
Result<void> rotate(EventHandler& handler, const std::vector<std::string>& addresses, const Options& options,
                    InheritedListeners inherited);

}  // namespace gnet
