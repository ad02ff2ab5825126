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
  bool distribute = false;  // hand accepted sockets to other loops via the balancer
  bool paused = false;      // out of descriptors: waiting before accepting again
  bool warned = false;      // this out-of-descriptors episode was logged already
  bool accept_armed = false;  // completion drivers: a multishot accept is outstanding
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

 private:
  void pause(Listener& listener, int err);
  static void adopt_on(EventLoop& loop, int fd, Network network, int index, const SocketAddress& remote, bool tls);

  EventLoop& loop_;
  std::vector<Listener*> listeners_;
};

}  // namespace gnet::detail
