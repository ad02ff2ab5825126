#include "loop/acceptor.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "conn/connection.hpp"
#include "loop/event_loop.hpp"
#include "tls/tls_context.hpp"
#include "net/socket.hpp"

namespace gnet::detail {

void Acceptor::add(Listener* listener) {
  listeners_.push_back(listener);
  if (auto ec = loop_.driver().watch_listener(*listener)) {
    loop_.context().log(LogLevel::error, "watch listener: " + ec.message());
  }
}

void Acceptor::accept_ready(Listener& listener) {
  for (int i = 0; i < kAcceptBurst && !loop_.draining() && !listener.paused && !listener.retired; ++i) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    int fd = ::accept4(listener.fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      if (err == EINTR || err == ECONNABORTED || err == EPROTO) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) return;
      accept_failed(listener, err);
      return;
    }
    accepted(listener, fd, SocketAddress(reinterpret_cast<sockaddr*>(&ss), len));
  }
}

bool Acceptor::accept_failed(Listener& listener, int err) {
  if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
    pause(listener, err);
    return true;
  }
  if (err != EINTR && err != ECONNABORTED && err != EPROTO && err != EAGAIN) {
    loop_.context().log(LogLevel::error, std::string("accept: ") + std::strerror(err));
  }
  return false;
}

// On the loop that takes the connection: adopts it, starting a server handshake for tls://
// and waiting for the PROXY header first for ?proxy_protocol=1.
void Acceptor::adopt_on(EventLoop& loop, int fd, const Serve& serve, const SocketAddress& remote) {
  const bool proxy = serve.proxy_protocol;
  if (!serve.tls) {
    if (!proxy) {
      loop.adopt(fd, serve.network, serve.index, remote);
    } else {
      loop.adopt(fd, serve.network, serve.index, remote, [](Connection& c) { c.expect_proxy_header(); });
    }
    return;
  }
  auto session = TlsSession::create_server(*loop.context().tls);
  if (!session) {  // (out of memory) never serve a tls:// connection in plaintext
    loop.context().log(LogLevel::error, session.error().message());
    loop.load().fetch_sub(1, std::memory_order_relaxed);
    ::close(fd);
    return;
  }
  std::unique_ptr<TlsSession> owned = std::move(session.value());
  loop.adopt(fd, serve.network, serve.index, remote, [&owned, proxy](Connection& c) {
    if (proxy) c.expect_proxy_header();
    c.start_tls(std::move(owned));
  });
}

void Acceptor::accepted(Listener& listener, int fd, const SocketAddress& given) {
  if (loop_.draining()) {
    ::close(fd);
    return;
  }
  SocketAddress remote = given;
  if (remote.family() == AF_UNSPEC && listener.network != Network::unix_stream &&
      listener.network != Network::unix_packet) {
    // A multishot accept reports no address: look it up once (the balancer and remote_addr()
    // need it; a Unix peer has none worth a call).
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
      remote = SocketAddress(reinterpret_cast<sockaddr*>(&ss), len);
    }
  }
  listener.warned = false;
  const LoopContext& ctx = loop_.context();
  apply_connection_options(fd, listener.network == Network::tcp, ctx.options);
  EventLoop& target = listener.distribute ? ctx.pick_loop(remote) : loop_;
  if (!listener.distribute) loop_.load().fetch_add(1, std::memory_order_relaxed);
  const Serve serve{listener.network, listener.index, listener.tls, listener.proxy_protocol};
  if (&target == &loop_) {
    adopt_on(loop_, fd, serve, remote);
    return;
  }
  EventLoop* dest = &target;
  bool posted = target.post_task([dest, fd, serve, remote] { adopt_on(*dest, fd, serve, remote); }, true);
  if (!posted) {
    target.load().fetch_sub(1, std::memory_order_relaxed);
    ::close(fd);
  }
}

// Out of descriptors (or kernel memory). Spinning on accept would burn a core: stop accepting
// and look again shortly. Pending connections wait in the backlog meanwhile instead of being
// accepted and dropped.
void Acceptor::pause(Listener& listener, int err) {
  if (listener.paused) return;
  listener.paused = true;
  if (!listener.warned) {  // once per episode, not once per retry
    listener.warned = true;
    LoopCounters::add(loop_.counters().emfile);
    loop_.context().log(LogLevel::warn, std::string("accept paused: ") + std::strerror(err) + "; retrying every " +
                                            std::to_string(kAcceptRetry.count()) + " ms");
  }
  loop_.driver().set_accepting(listener, false);
  Listener* l = &listener;
  loop_.run_after(kAcceptRetry, [this, l] {
    l->paused = false;
    if (loop_.draining() || l->retired) return;
    loop_.driver().set_accepting(*l, true);  // reports at once if the backlog is non-empty
  });
}

void Acceptor::stop() {
  for (Listener* l : listeners_) {
    if (!l->retired) loop_.driver().forget_listener(*l);
  }
}

void Acceptor::retire() {
  for (Listener* l : listeners_) {
    if (l->retired) continue;
    l->retired = true;
    loop_.driver().forget_listener(*l);
  }
}

void Acceptor::drain_retired(Listener& listener) {
  for (int i = 0; i < 4 * kAcceptBurst && !loop_.draining(); ++i) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    int fd = ::accept4(listener.fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
      return;  // EAGAIN: nothing waits (or the successor took it); out of descriptors: its turn
    }
    accepted(listener, fd, SocketAddress(reinterpret_cast<sockaddr*>(&ss), len));
  }
}

bool Acceptor::quiet() const noexcept {
  for (const Listener* l : listeners_) {
    if (l->accept_armed) return false;
  }
  return true;
}

}  // namespace gnet::detail
