#include "loop/dialer.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "conn/connection.hpp"
#include "loop/event_loop.hpp"
#include "net/socket.hpp"
#include "tls/tls_context.hpp"

namespace gnet::detail {

Dialer::~Dialer() {
  for (auto& pending : pending_) ::close(pending->fd);
}

std::error_code Dialer::dial(std::string_view address, std::chrono::milliseconds timeout,
                             UniqueFunction<void(std::error_code, ConnHandle)> on_done, std::any context) {
  auto fail = [&](std::error_code ec) {
    if (on_done) on_done(ec, ConnHandle{});
    return ec;
  };
  if (loop_.draining()) return fail(make_error_code(Errc::engine_stopped));
  auto parsed = parse_address(address);
  if (!parsed) return fail(parsed.error().code());
  const Address& addr = parsed.value();
  if (addr.proxy_protocol) {
    // A listener's option: a dial would have to send a header, which this library does not.
    loop_.context().log(LogLevel::error, "dial " + std::string(address) + ": proxy_protocol applies to listeners only");
    return fail(make_error_code(Errc::bad_address));
  }
  if (addr.tls) {
    // The client context (and the CA store it loads) is built on the first tls:// dial: before
    // the connect, so the time it takes never eats into the peer's handshake deadline.
    auto ctx = loop_.context().tls->client();
    if (!ctx) {
      loop_.context().log(LogLevel::error, ctx.error().message());
      return fail(ctx.error().code());
    }
  }
  SocketAddress target;
  if (addr.is_ip()) {
    auto resolved = resolve(addr, false);
    if (!resolved) return fail(resolved.error().code());
    target = resolved->front();
  } else {
    target = unix_socket_address(addr);
  }
  int fd = ::socket(target.family(), socket_type(addr.network) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail({errno, std::system_category()});
  apply_connection_options(fd, addr.network == Network::tcp, loop_.context().options);
  auto pending = std::make_unique<Connecting>();
  pending->fd = fd;
  pending->network = addr.network;
  pending->remote = target;
  pending->tls = addr.tls;
  if (addr.tls) {
    pending->host = addr.host;
    pending->peer_key = addr.host + ":" + std::to_string(addr.port);
  }
  Connecting* p = pending.get();
  bool connected = ::connect(fd, target.data(), target.size()) == 0;
  // EAGAIN from a Unix socket means its listener's backlog is full: a failure, not progress.
  std::error_code ec;
  if (!connected && errno != EINPROGRESS) ec.assign(errno, std::system_category());
  if (!connected && !ec) ec = loop_.driver().watch_connect(*p);
  if (ec) {
    ::close(fd);
    return fail(ec);
  }
  p->on_done = std::move(on_done);
  p->context = std::move(context);
  pending_.push_back(std::move(pending));
  if (connected) {
    finish(p, {});
    return {};
  }
  p->timer = loop_.run_after(timeout, [this, p] {
    p->timer = 0;
    finish(p, make_error_code(Errc::timed_out));
  });
  return {};
}

void Dialer::connect_ready(Connecting& pending) {
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(pending.fd, SOL_SOCKET, SO_ERROR, &err, &len);
  finish(&pending, err ? std::error_code(err, std::system_category()) : std::error_code{});
}

void Dialer::finish(Connecting* pending, std::error_code error) {
  auto it = std::find_if(pending_.begin(), pending_.end(), [&](auto& p) { return p.get() == pending; });
  if (it == pending_.end()) return;
  std::unique_ptr<Connecting> owned = std::move(*it);
  pending_.erase(it);
  if (owned->timer != 0) loop_.cancel(owned->timer);
  loop_.driver().forget_connect(*owned);  // harmless when it was never watched (immediate connect)
  if (error) {
    ::close(owned->fd);
    if (owned->on_done) loop_.guarded([&] { owned->on_done(error, ConnHandle{}); });
    return;
  }
  if (owned->tls) {
    // on_done waits for the handshake (Connection::tls_established or tls_failed).
    auto session = TlsSession::create_client(*loop_.context().tls, owned->host, owned->peer_key);
    if (!session) {
      loop_.context().log(LogLevel::error, session.error().message());
      ::close(owned->fd);
      if (owned->on_done) loop_.guarded([&] { owned->on_done(session.error().code(), ConnHandle{}); });
      return;
    }
    loop_.load().fetch_add(1, std::memory_order_relaxed);
    std::unique_ptr<TlsSession> tls = std::move(session.value());
    auto done = std::move(owned->on_done);
    EventLoop::Adopted adopted = loop_.adopt(owned->fd, owned->network, -1, owned->remote, [&](Connection& c) {
      c.context() = std::move(owned->context);
      c.start_tls(std::move(tls), std::move(done));
    });
    // Refused while draining: done was never handed over. (Once the connection exists, it calls
    // done itself, when the handshake ends or the connection closes.)
    if (done) loop_.guarded([&] { done(adopted.error, ConnHandle{}); });
    return;
  }
  loop_.load().fetch_add(1, std::memory_order_relaxed);
  EventLoop::Adopted adopted = loop_.adopt(owned->fd, owned->network, -1, owned->remote,
                                           [&](Connection& c) { c.context() = std::move(owned->context); });
  if (owned->on_done) {
    // Once on_open has run, the dial succeeded, even if the connection closed again at once
    // (on_open closed it, or the peer reset it): on_close has run too then, the handle is stale.
    ConnHandle handle = adopted.opened ? ConnHandle(loop_.mailbox(), adopted.slot, adopted.generation) : ConnHandle{};
    loop_.guarded([&] { owned->on_done(adopted.opened ? std::error_code{} : adopted.error, handle); });
  }
}

void Dialer::fail_all(std::error_code error) {
  while (!pending_.empty()) finish(pending_.front().get(), error);
}

}  // namespace gnet::detail
