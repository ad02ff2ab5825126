// Internal: a loop's listening sockets. The driver reports "readable" (readiness: accept_ready
// accepts a burst) or "this socket was accepted" (completion: accepted); the acceptor applies
// the connection options, picks the loop (the balancer, when the listener is shared) and hands
// the socket over. Out of descriptors, it stops accepting for kAcceptRetry instead of spinning.
#pragma once

#include <chrono>
#include <vector>

#include "gnet/address.hpp"
#include "loop/io_watcher.hpp"

namespace gnet::detail {

class EventLoop;

// A listening socket registered on a loop (owned by the engine).
struct Listener : IoWatcher {
  Listener() noexcept : IoWatcher(Kind::listener) {}
  int fd = -1;
  int index = 0;            // position in the engine's address list
  Network network = Network::tcp;
  bool tls = false;         // tls://: every connection starts with a server handshake
  bool proxy_protocol = false;  // ?proxy_protocol=1: ... preceded by a PROXY header
  bool distribute = false;  // hand accepted sockets to other loops via the balancer
  bool paused = false;      // out of descriptors: waiting before accepting again
  bool warned = false;      // this out-of-descriptors episode was logged already
  bool accept_armed = false;  // completion drivers: a multishot accept is outstanding
  bool retired = false;       // handed over to another process: never accepted on again here
};

class Acceptor {
 public:
  static constexpr int kAcceptBurst = 64;  // accepts per readiness event: one listener can't starve I/O
  static constexpr std::chrono::milliseconds kAcceptRetry{50};  // after EMFILE

  explicit Acceptor(EventLoop& loop) noexcept : loop_(loop) {}

  void add(Listener* listener);
  // Readiness: accept up to kAcceptBurst sockets.
  void accept_ready(Listener& listener);
  // One socket accepted (either backend). remote may be empty: it is looked up when needed.
  void accepted(Listener& listener, int fd, const SocketAddress& remote);
  // accept failed with errno err. Returns true when accepting was paused (out of descriptors).
  bool accept_failed(Listener& listener, int err);
  // Draining: stop listening on this loop.
  void stop();
  // Hand-over: stop accepting for good without touching the sockets (another process accepts
  // on them now). A completion driver's accept is cancelled; what it accepted before the
  // cancellation took effect still arrives through accepted() and is served.
  void retire();
  // No accept is outstanding in the kernel (after retire(): nothing more can arrive).
  bool quiet() const noexcept;
  // A completion driver's accept on a retired listener has ended: accept, here, what waits in
  // the backlog. The kernel wakes one accept waiter per connection (io_uring accepts wait
  // exclusively): a connection whose wake-up went to the accept just cancelled would otherwise
  // sit in the backlog, unseen by the other process's waiter, until the next one arrives.
  void drain_retired(Listener& listener);

 private:
  void pause(Listener& listener, int err);
  // How the listener wants its connections served, carried to the loop that takes them.
  struct Serve {
    Network network;
    int index;
    bool tls;
    bool proxy_protocol;
  };
  static void adopt_on(EventLoop& loop, int fd, const Serve& serve, const SocketAddress& remote);

  EventLoop& loop_;
  std::vector<Listener*> listeners_;
};

}  // namespace gnet::detail
