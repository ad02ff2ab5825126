// Internal: the connection state machine — hands input to the handler, sends through the driver
// (straight from the caller's bytes when the backend allows), queues only what the kernel
// refuses, closes after flushing.
#include "conn/connection.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <exception>
#include <string>

#include "io/io_driver.hpp"
#include "loop/event_loop.hpp"
#include "net/proxy_header.hpp"

namespace gnet::detail {
namespace {

bool is_hard_error(const std::error_code& ec) noexcept {
  return ec && ec.category() == std::system_category();
}

}  // namespace

Connection::Connection(EventLoop& loop, int fd, Network network, int listener_index,
                       const SocketAddress& remote) noexcept
    : Conn(Backing::connection),
      IoWatcher(Kind::connection),
      loop_(loop),
      fd_(fd),
      network_(network),
      listener_index_(static_cast<std::int16_t>(listener_index)) {
  if ((remote.family() == AF_INET || remote.family() == AF_INET6) && remote.size() <= sizeof remote_) {
    std::memcpy(&remote_, remote.data(), remote.size());
    remote_len_ = static_cast<std::uint8_t>(remote.size());
  }
}

Connection::~Connection() {
  LoopCounters::sub(counters().queued, outbound_size());
  outbound_.clear(loop_.block_pool());
  if (fd_ >= 0) ::close(fd_);
}

SocketAddress Connection::remote() const {
  if (remote_len_ != 0) return SocketAddress(reinterpret_cast<const sockaddr*>(&remote_), remote_len_);
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (fd_ >= 0 && ::getpeername(fd_, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
    return SocketAddress(reinterpret_cast<sockaddr*>(&ss), len);
  }
  return {};
}

SocketAddress Connection::local() const {
  if (extras_ && extras_->proxy && !extras_->proxy->local.empty()) return extras_->proxy->local;
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (fd_ >= 0 && ::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
    return SocketAddress(reinterpret_cast<sockaddr*>(&ss), len);
  }
  return {};
}

LoopCounters& Connection::counters() noexcept { return loop_.counters(); }

template <class F>
Action Connection::invoke(F&& callback) {
  ++in_callback_;
  Action action = Action::none;
  try {
    action = callback();
  } catch (const std::exception& e) {
    loop_.context().log(LogLevel::error, std::string("handler threw on fd ") + std::to_string(fd_) +
                                            ": " + e.what() + " (closing the connection)");
    abort(make_error_code(Errc::handler_exception));
  } catch (...) {
    loop_.context().log(LogLevel::error, "handler threw a non-exception on fd " + std::to_string(fd_) +
                                            " (closing the connection)");
    abort(make_error_code(Errc::handler_exception));
  }
  --in_callback_;
  return action;
}

void Connection::apply(Action action) {
  if (action == Action::close) request_close({});
  if (action == Action::shutdown) loop_.context().request_stop();
}

bool Connection::open() {
  if (auto ec = loop_.driver().open(*this)) {
    loop_.context().log(LogLevel::error, std::string(loop_.driver().name()) + ": watch fd " + std::to_string(fd_) +
                                             ": " + ec.message());
    error_ = ec;
    closed_ = true;  // on_open never ran, so no on_close either
    loop_.untouch(this);
    loop_.retire(this);
    if (auto done = take_dial_done()) loop_.guarded([&] { done(ec, ConnHandle{}); });  // why
    return false;
  }
  if (proxy_waiting()) {
    // The header first, within its own deadline; trickled bytes do not extend it.
    extras_->quiet_close = true;  // unseen by the handler until on_open runs
    extras_->proxy->timer = loop_.run_after(loop_.context().options.proxy_header_timeout, [this] {
      extras_->proxy->timer = 0;
      proxy_failed("no complete header within proxy_header_timeout");
    });
    return true;
  }
  begin();
  return true;
}

void Connection::begin() {
  if (tls() != nullptr) {
    // on_open waits for the handshake, which has a deadline of its own.
    extras_->handshake_timer = loop_.run_after(loop_.context().options.tls.handshake_timeout, [this] {
      extras_->handshake_timer = 0;
      tls_failed(make_error_code(TlsErrc::handshake_timeout), "no handshake within tls.handshake_timeout");
    });
    tls_pump();  // a client speaks first
    settle();
    return;
  }
  Action action = invoke([this] { return loop_.context().handler.on_open(*this); });
  if (!closed_) apply(action);
  settle();
}

// ---- PROXY protocol ----

void Connection::expect_proxy_header() { extras().proxy = std::make_unique<ProxyState>(); }

void Connection::proxy_input(std::string_view fresh) {
  ProxyState& p = *extras_->proxy;
  std::string_view bytes = fresh;
  if (!p.partial.empty()) {
    p.partial.append(fresh);
    bytes = p.partial;
  }
  const ProxyHeader h = parse_proxy_header(bytes);
  if (h.status == ProxyHeader::Status::needs_more) {
    if (p.partial.empty()) p.partial.assign(fresh);  // the loop's buffer is reused: copy
    return;
  }
  if (h.status == ProxyHeader::Status::bad) {
    proxy_failed(h.error);
    return;
  }
  if (h.has_addresses) {
    if (h.source.size() <= sizeof remote_) {
      std::memcpy(&remote_, h.source.data(), h.source.size());
      remote_len_ = static_cast<std::uint8_t>(h.source.size());
    }
    p.local = h.destination;
  }
  if (p.timer != 0) loop_.cancel(p.timer);
  p.timer = 0;
  p.waiting = false;
  extras_->quiet_close = false;
  // What followed the header is the connection's first payload: kept aside (the header's own
  // buffer is released), then handed on once on_open (or the handshake) has begun.
  std::string owned;
  std::string_view rest;
  if (p.partial.empty()) {
    rest = fresh.substr(h.length);
  } else {
    owned = p.partial.substr(h.length);
    std::string().swap(p.partial);
    rest = owned;
  }
  begin();  // may close (on_open returned close): p is not touched after this
  if (closed_ || rest.empty()) return;
  if (TlsSession* t = tls()) {
    t->set_input(rest);
    tls_pump();
    if (!closed_) t->keep_unread();
    return;
  }
  if (reading()) {
    deliver(rest);
  } else if (!close_requested_) {
    inbound_.append(rest);  // on_open paused reading: kept for the resume, as keep_input does
    input_unseen_ = true;
    enforce_inbound_bound();
  }
  settle();
}

void Connection::proxy_failed(const char* why) {
  if (closed_) return;
  const std::string peer = remote().to_string();
  const std::string who = peer.empty() ? std::string("connection") : peer;
  if (why == nullptr) {
    loop_.context().log(LogLevel::debug, "proxy_protocol " + who + ": closed before sending a PROXY header");
    abort({});
    return;
  }
  loop_.context().log(LogLevel::warn, "proxy_protocol " + who + ": " + why + "; closing (" +
                                          make_error_code(Errc::bad_proxy_header).message() + ")");
  abort(make_error_code(Errc::bad_proxy_header));
}

// ---- TLS ----

void Connection::start_tls(std::unique_ptr<TlsSession> session, Loop::DialDone dial_done) {
  session->set_sink([this](std::string_view ciphertext) { send_raw(ciphertext); });
  extras().tls = std::move(session);
  extras_->tls_dial_done = std::move(dial_done);
}

// Runs the handshake, then decrypts while reading: each plaintext chunk is one deliver() (one
// on_traffic), decrypted into the loop's TLS buffer. OpenSSL calls back into send_raw with
// ciphertext (handshake flights, alerts). Held as a callback, so nothing closes the connection
// (and frees the session) under OpenSSL's feet; the close, if any, settles afterwards.
void Connection::tls_pump() {
  TlsSession& t = *extras_->tls;
  ++in_callback_;
  if (!t.handshake_done()) {
    TlsSession::Status st = t.handshake();
    if (st == TlsSession::Status::failed) {
      --in_callback_;
      tls_failed(t.error(), t.detail());
      return;
    }
    if (st == TlsSession::Status::ok) tls_established();
  }
  if (t.handshake_done()) {
    char* buf = loop_.tls_buffer();
    const int cap = static_cast<int>(std::min<std::size_t>(loop_.read_buffer_cap(), 1u << 30));
    while (!closed_ && handing_over()) {
      int n = 0;
      TlsSession::Status st = t.read(buf, cap, n);
      if (st == TlsSession::Status::ok) {
        deliver(std::string_view(buf, static_cast<std::size_t>(n)));
        continue;
      }
      if (st == TlsSession::Status::closed) {  // close_notify: the peer's clean end of input
        t.drop_unread();  // nothing after it counts, so nothing waits to be shown either
        --in_callback_;
        on_end_of_input();
        settle();
        return;
      }
      if (st == TlsSession::Status::failed) {
        --in_callback_;
        tls_failed(t.error(), t.detail());
        return;
      }
      break;  // want_input
    }
  }
  --in_callback_;
  settle();
}

UniqueFunction<void(std::error_code, ConnHandle)> Connection::take_dial_done() noexcept {
  if (!extras_ || !extras_->tls_dial_done) return nullptr;
  auto done = std::move(extras_->tls_dial_done);
  extras_->tls_dial_done = nullptr;  // a moved-from function is not promised to be empty
  return done;
}

Action Connection::traffic() {
  input_unseen_ = false;
  return invoke([this] { return loop_.context().handler.on_traffic(*this); });
}

void Connection::tls_established() {
  if (extras_->handshake_timer != 0) loop_.cancel(extras_->handshake_timer);
  extras_->handshake_timer = 0;
  Action action = invoke([this] { return loop_.context().handler.on_open(*this); });
  if (!closed_) apply(action);
  if (auto done = take_dial_done()) {
    // on_open ran, so the dial succeeded, even if on_open closed the connection again: the
    // handle is stale then, as any handle is once its connection has closed.
    ConnHandle handle(loop_.mailbox(), slot, generation);
    loop_.guarded([&] { done(std::error_code{}, handle); });
  }
}

void Connection::tls_failed(std::error_code error, const std::string& detail) {
  if (closed_) return;
  std::string peer = remote().to_string();
  loop_.context().log(LogLevel::debug, "tls " + std::string(peer.empty() ? "connection" : peer) + ": " +
                                           error.message() + ": " + detail);
  if (auto done = take_dial_done()) {
    // A dial that fails hears it through on_done only, as a refused connect does.
    extras_->quiet_close = true;
    loop_.guarded([&] { done(error, ConnHandle{}); });
  }
  // No close_notify after a failure; the alert OpenSSL queued (if any) is flushed, then the
  // connection closes (bounded by shutdown_timeout, like any flush-then-close).
  request_close(error);
}

void Connection::resume_input() {
  if (!closed_ && (reading() || eof_pending_) && !paused() && !inbound_.empty()) {
    LoopCounters::add(counters().messages_in);
    after_traffic(traffic());
  }
  // TLS: ciphertext kept while paused, or plaintext OpenSSL decrypted but we did not read. It
  // comes before a pending end: a completion backend can receive the last records and hear the
  // FIN while paused, and those bytes go to the handler before on_eof.
  if (TlsSession* t = tls(); t != nullptr && !closed_ && handing_over() && (t->has_unread() || t->has_pending_plaintext())) {
    tls_pump();
    if (!closed_) t->keep_unread();
  }
  if (eof_pending_ && !closed_ && !close_requested_ && !paused()) {
    eof_pending_ = false;  // the end, after everything that came before it
    on_end_of_input();     // heard once: a close_notify in the records above told it already
    settle();
    return;
  }
  if (!closed_ && reading()) loop_.driver().resume_input(*this);
  settle();
}

bool Connection::unseen_input() const noexcept {
  if (input_unseen_ && !inbound_.empty()) return true;
  // TLS: records kept while paused (ciphertext, or plaintext OpenSSL decrypted but we did not
  // read). resume_input's pump drains them (OpenSSL takes every byte kept up to a record's end,
  // so a partial record leaves nothing here), and a close_notify drops what follows it.
  const TlsSession* t = tls();
  return t != nullptr && t->handshake_done() && (t->has_unread() || t->has_pending_plaintext());
}

void Connection::maybe_resume() {
  // Rare (a pause ends), so always: resume_input hands over buffered input and lets the driver
  // pick up what the kernel holds (an edge-triggered re-read, an io_uring re-arm).
  if (!closed_ && (reading() || (eof_pending_ && !paused()))) loop_.defer_resume(this);
}

void Connection::on_input(std::string_view fresh) {
  LoopCounters::add(counters().bytes_in, fresh.size());
  if (proxy_waiting()) {
    proxy_input(fresh);
    return;
  }
  if (extras_ && extras_->tls) {
    TlsSession& tls = *extras_->tls;
    tls.set_input(fresh);
    tls_pump();
    if (!closed_) tls.keep_unread();  // paused mid-way: the rest waits, copied
    return;
  }
  deliver(fresh);
}

void Connection::deliver(std::string_view fresh) {
  loop_.touch(this);
  if (extras_ && extras_->counts_input) extras_->input_total += fresh.size();
  LoopCounters::add(counters().messages_in);
  if (inbound_.empty()) {
    fresh_ = fresh;
  } else {
    inbound_.append(fresh);  // bytes left from last time come first
  }
  Action action = traffic();
  if (!fresh_.empty()) {
    // Only what the handler left unconsumed is copied out of the loop's shared buffer. A
    // message-oriented socket delivers one message per call, so its unread tail is dropped.
    if (!closed_ && !message_oriented()) inbound_.append(fresh_);
    fresh_ = {};
  }
  // Only looked up when something was kept: the common path (all consumed) skips it.
  if (!inbound_.empty() && !closed_) enforce_inbound_bound();
  after_traffic(action);
  if (extras_ && !extras_->eof_marks.empty()) deliver_eof_marks();
}

void Connection::eof_mark(std::uint64_t at, UniqueFunction<void()> ack) {
  if (closed_) return;
  extras().eof_marks.push_back({at, std::move(ack)});
  deliver_eof_marks();
  settle();
}

// The marks whose bytes have all been handed over: one on_eof each, in order.
void Connection::deliver_eof_marks() {
  while (extras_ && !extras_->eof_marks.empty() && extras_->eof_marks.front().at <= extras_->input_total &&
         !closed_ && !close_requested_) {
    UniqueFunction<void()> ack = std::move(extras_->eof_marks.front().ack);
    extras_->eof_marks.erase(extras_->eof_marks.begin());
    Action action = invoke([this] { return loop_.context().handler.on_eof(*this); });
    if (!closed_) apply(action);
    if (ack) ack();
  }
}

// The inbound bound: input only grows by one read (on_input) or one completion (keep_input) at
// a time, so a connection never holds more than max_inbound_buffered + read_buffer_cap. No
// reads follow the close request.
void Connection::enforce_inbound_bound() {
  const std::size_t limit = loop_.context().options.max_inbound_buffered;
  if (limit != 0 && inbound_.size() > limit) request_close(make_error_code(Errc::inbound_limit));
}

// After on_traffic: an emptied inbound ring gives its storage back (idle connections own no
// buffer); a non-empty one frees only storage retired by peek() during the callback.
void Connection::after_traffic(Action action) {
  if (inbound_.empty()) {
    if (inbound_.capacity() != 0) inbound_.clear();
  } else {
    inbound_.drop_retired();
  }
  if (!closed_) apply(action);
}

void Connection::wake() {
  if (closed_) return;
  after_traffic(traffic());
  settle();
}

void Connection::keep_input(std::string_view fresh) {
  LoopCounters::add(counters().bytes_in, fresh.size());
  if (closed_ || close_requested_ || peer_eof_ || fresh.empty()) return;  // no reads after those
  if (extras_ && extras_->tls) {
    extras_->tls->keep(fresh);  // ciphertext: decrypted when reading resumes
    return;
  }
  if (extras_ && extras_->counts_input) extras_->input_total += fresh.size();
  inbound_.append(fresh);
  input_unseen_ = true;
  enforce_inbound_bound();
}

void Connection::on_io_error(std::error_code error) {
  if (proxy_waiting() && extras_->proxy->partial.empty()) {
    // A reset before any byte: a balancer's TCP check (they end with a reset), not a bad header.
    proxy_failed(nullptr);
    return;
  }
  abort(error);
}

void Connection::on_end_of_input() {
  if (proxy_waiting()) {
    peer_eof_ = true;
    proxy_failed(extras_->proxy->partial.empty() ? nullptr : "the peer closed the connection within the header");
    return;
  }
  if (TlsSession* t = tls(); t != nullptr && !t->handshake_done()) {
    tls_failed(make_error_code(TlsErrc::handshake_failed), "the peer closed the connection during the handshake");
    return;
  }
  if (peer_eof_) return;  // heard once
  if (paused() || unseen_input()) {
    // Paused (a completion backend hears the end even so), or resumed with input kept while
    // paused that has not reached the handler yet (its resume_input is deferred to after this
    // dispatch, and the end can complete first): the input goes to the handler first, then
    // on_eof, both from resume_input.
    eof_pending_ = true;
    maybe_resume();
    update_interest();
    return;
  }
  peer_eof_ = true;
  Action action = invoke([this] { return loop_.context().handler.on_eof(*this); });
  if (!closed_) apply(action);
  // Told after on_eof, not before: the usual answer closes, and a closing descriptor needs no
  // interest change first (one epoll_ctl less per connection that ends with the peer's FIN).
  // Anything on_eof did that needed the interest saw peer_eof_ already.
  update_interest();
}

void Connection::shutdown_write() {
  if (closed_ || write_shut_ || message_oriented()) return;
  if (TlsSession* t = tls()) {
    const TlsBusy busy(*this);
    t->close_notify();  // TLS's end of output, then TCP's FIN
  }
  shutdown_write_requested_ = true;
  if (in_callback_ == 0) settle();
}

std::string_view Connection::peek(std::size_t n) {
  if (!inbound_.empty()) return inbound_.peek(n);
  return fresh_.substr(0, n);
}

std::size_t Connection::discard(std::size_t n) noexcept {
  if (!inbound_.empty()) return inbound_.discard(n);
  n = std::min(n, fresh_.size());
  fresh_.remove_prefix(n);
  return n;
}

std::error_code Connection::send(std::string_view data) {
  std::error_code ec = send_one(data);
  if (!ec) LoopCounters::add(counters().messages_out);
  return ec;
}

std::error_code Connection::sendv(std::span<const std::string_view> parts) {
  std::error_code ec = send_parts(parts);
  if (!ec) LoopCounters::add(counters().messages_out);
  return ec;
}

std::error_code Connection::send_one(std::string_view data) {
  if (closed_ || close_requested_) return make_error_code(Errc::connection_closed);
  if (write_shut_) return make_error_code(Errc::not_writable);
  loop_.touch(this);
  if (message_oriented()) return send_message(data);
  if (TlsSession* t = tls()) {
    if (!t->handshake_done()) return make_error_code(Errc::not_writable);
    std::error_code ec;
    {
      const TlsBusy busy(*this);
      ec = t->write(data);  // the ciphertext comes back through send_raw
    }
    // The sink takes every record, so OpenSSL reports success even when a send of its
    // ciphertext failed and aborted the connection: report that failure, as a plain write would.
    if (!ec && close_requested_) ec = error_ ? error_ : make_error_code(Errc::connection_closed);
    if (in_callback_ == 0) settle();  // aborted in there: close now
    return ec;
  }
  return send_raw(data);
}

std::error_code Connection::send_raw(std::string_view data) {
  if (closed_) return make_error_code(Errc::connection_closed);
  if (data.empty()) return {};
  if (outbound_.empty()) {
    IoResult r = loop_.driver().send_now(*this, data);
    if (r.error != 0) {
      abort(r.code());
      return r.code();
    }
    LoopCounters::add(counters().bytes_out, static_cast<std::size_t>(r.n));
    data.remove_prefix(static_cast<std::size_t>(r.n));
    if (data.empty()) return {};
  }
  outbound_.append(loop_.block_pool(), data);
  LoopCounters::add(counters().queued, data.size());
  after_queue();
  return {};
}

std::error_code Connection::send_parts(std::span<const std::string_view> parts) {
  if (closed_ || close_requested_) return make_error_code(Errc::connection_closed);
  if (write_shut_) return make_error_code(Errc::not_writable);
  if (tls() != nullptr) {
    for (std::string_view p : parts) {
      if (auto ec = send_one(p)) return ec;
    }
    return {};
  }
  loop_.touch(this);
  if (message_oriented()) {
    // One message made of all the parts.
    std::string joined;
    for (std::string_view p : parts) joined += p;
    return send_message(joined);
  }
  std::size_t first_unsent = 0;  // index into parts
  std::size_t offset = 0;        // bytes of parts[first_unsent] already sent
  if (outbound_.empty()) {
    IoResult r = loop_.driver().sendv_now(*this, parts);
    if (r.error != 0) {
      abort(r.code());
      return r.code();
    }
    auto sent = static_cast<std::size_t>(r.n);
    LoopCounters::add(counters().bytes_out, sent);
    while (first_unsent < parts.size() && sent >= parts[first_unsent].size()) {
      sent -= parts[first_unsent].size();
      ++first_unsent;
    }
    offset = sent;
  }
  for (std::size_t i = first_unsent; i < parts.size(); ++i) {
    std::string_view rest = parts[i].substr(i == first_unsent ? offset : 0);
    outbound_.append(loop_.block_pool(), rest);
    LoopCounters::add(counters().queued, rest.size());
  }
  if (!outbound_.empty()) after_queue();
  return {};
}

std::size_t Connection::outbound_size() const noexcept {
  std::size_t n = outbound_.size();
  if (extras_ && extras_->messages) {
    for (const std::string& m : *extras_->messages) n += m.size();
  }
  return n;
}

std::error_code Connection::send_message(std::string_view data) {
  if (!extras_ || !extras_->messages || extras_->messages->empty()) {
    IoResult r = sys_io([&] { return ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL); });
    if (r.ok()) {
      LoopCounters::add(counters().bytes_out, data.size());
      return {};
    }
    if (r.error != 0) {
      if (r.code() == std::errc::message_size) return r.code();  // this message only; the connection is fine
      abort(r.code());
      return r.code();
    }
  }
  if (!extras().messages) extras_->messages = std::make_unique<std::deque<std::string>>();
  extras_->messages->emplace_back(data);
  LoopCounters::add(counters().queued, data.size());
  after_queue();
  return {};
}

void Connection::after_queue() {
  const std::size_t cap = loop_.context().options.write_buffer_cap;
  if (!high_water_ && cap > 0 && outbound_size() > cap) {
    const bool was = paused();
    high_water_ = true;
    paused_changed(was);
    invoke([this] {
      loop_.context().handler.on_high_water(*this);
      return Action::none;
    });
  }
  update_interest();
}

std::error_code Connection::flush() {
  if (closed_) return make_error_code(Errc::connection_closed);
  if (has_pending_output()) loop_.driver().flush(*this);
  return error_;
}

void Connection::on_sent(std::size_t n) {
  LoopCounters::add(counters().bytes_out, n);
  LoopCounters::sub(counters().queued, n);
  outbound_.consume(loop_.block_pool(), n);
  loop_.touch(this);  // a slow download is traffic, not idleness
}

void Connection::after_flush() {
  const std::size_t cap = loop_.context().options.write_buffer_cap;
  if (high_water_ && outbound_size() <= cap / 2) {
    const bool was = paused();
    high_water_ = false;
    paused_changed(was);
    invoke([this] {
      loop_.context().handler.on_low_water(*this);
      return Action::none;
    });
    maybe_resume();
  }
  update_interest();
}

void Connection::set_user_paused(bool paused) {
  if (user_paused_ == paused) return;
  const bool was = this->paused();
  user_paused_ = paused;
  paused_changed(was);
  if (!paused) maybe_resume();
  update_interest();
}

void Connection::paused_changed(bool was) noexcept {
  if (closed_ || was == paused()) return;  // a closed connection was taken off the gauge
  if (was) {
    LoopCounters::sub(counters().paused);
  } else {
    LoopCounters::add(counters().paused);
  }
}

void Connection::message_sent() {
  const std::size_t n = extras_->messages->front().size();
  extras_->messages->pop_front();
  LoopCounters::add(counters().bytes_out, n);
  LoopCounters::sub(counters().queued, n);
}

void Connection::on_sent_dropped(std::size_t sent) noexcept {
  const std::size_t n = outbound_.size();
  LoopCounters::add(counters().bytes_out, std::min(sent, n));
  LoopCounters::sub(counters().queued, n);
  outbound_.consume(loop_.block_pool(), n);
}

void Connection::update_interest() {
  if (!closed_) loop_.driver().interest_changed(*this);
}

void Connection::request_close(std::error_code error) {
  if (closed_) return;
  if (error && !error_) error_ = error;
  // A TLS peer hears the end as close_notify, after everything written before it.
  if (TlsSession* t = tls(); t != nullptr && !close_requested_) {
    const TlsBusy busy(*this);
    t->close_notify();
  }
  close_requested_ = true;
  if (in_callback_ == 0) {
    settle();  // closes now (no interest change needed first), or re-arms while output flushes
  } else {
    update_interest();  // reading stops now; the close completes when the callback returns
  }
}

void Connection::abort(std::error_code error) {
  if (closed_) return;
  if (error && !error_) error_ = error;
  close_requested_ = true;
  drop_output();
  update_interest();
  if (in_callback_ == 0) settle();
}

// Bytes an in-flight send (io_uring) points at stay owned until its completion, which the
// driver hastens by cancelling it; everything behind them is freed now.
void Connection::drop_output() {
  const std::size_t before = outbound_.size();
  outbound_.truncate(loop_.block_pool(), io.sending);
  std::size_t dropped = before - outbound_.size();
  if (extras_ && extras_->messages) {
    for (const std::string& m : *extras_->messages) dropped += m.size();
    extras_->messages->clear();
  }
  LoopCounters::sub(counters().queued, dropped);
  if (io.sending != 0) loop_.driver().drop_output(*this);
}

void Connection::settle() {
  if (closed_ || in_callback_ != 0) return;
  if (shutdown_write_requested_ && !write_shut_ && !has_pending_output() && !close_requested_) {
    if (is_socket()) ::shutdown(fd_, SHUT_WR);  // a pipe's write end just closes with the rest
    write_shut_ = true;
  }
  // A half-closed connection stays open until both directions are done.
  if (!close_requested_ && !(peer_eof_ && write_shut_)) return;
  if (!has_pending_output() || is_hard_error(error_)) {
    finish_close();
    return;
  }
  // Flush first, but not forever: a peer that never reads is cut after shutdown_timeout.
  if (linger_timer_ == 0) {
    linger_timer_ = loop_.run_after(loop_.context().options.shutdown_timeout, [this] {
      linger_timer_ = 0;
      abort(make_error_code(Errc::shutdown_deadline));
    });
  }
  update_interest();
}

void Connection::finish_close() {
  if (paused()) LoopCounters::sub(counters().paused);  // and no more changes once closed
  if (error_) LoopCounters::add(counters().closed_error);
  closed_ = true;
  if (linger_timer_ != 0) loop_.cancel(linger_timer_);
  linger_timer_ = 0;
  drop_output();
  const bool quiet = extras_ && extras_->quiet_close;
  if (extras_ && extras_->handshake_timer != 0) loop_.cancel(extras_->handshake_timer);
  std::unique_ptr<ProxyState> proxy = extras_ ? std::move(extras_->proxy) : nullptr;
  if (proxy && proxy->timer != 0) loop_.cancel(proxy->timer);
  if (auto done = take_dial_done()) {
    // Closed before the handshake ended (engine stopping, idle timeout): the dial hears it.
    loop_.guarded([&] { done(error_ ? error_ : make_error_code(Errc::connection_closed), ConnHandle{}); });
  }
  extras_.reset();
  // on_close may still ask local_addr(): the header's destination outlives the rest.
  if (proxy && !proxy->local.empty()) extras().proxy = std::move(proxy);
  ++in_callback_;
  try {
    if (!quiet) apply(loop_.context().handler.on_close(*this, error_));
  } catch (const std::exception& e) {
    loop_.context().log(LogLevel::error, std::string("on_close threw: ") + e.what());
  } catch (...) {
    loop_.context().log(LogLevel::error, "on_close threw a non-exception");
  }
  --in_callback_;
  loop_.untouch(this);
  if (!peer_eof_ && !error_ && !message_oriented() && is_socket()) {
    // Closing with unread bytes in the kernel makes TCP send a reset, which can destroy the
    // last response before the peer reads it. Discard what has arrived, bounded, so the close
    // is a FIN. Into scratch space of its own: this close may run inside another connection's
    // on_traffic, whose views point into the loop's read buffer.
    char scratch[16 * 1024];
    for (std::size_t drained = 0; drained < (1u << 20);) {
      ssize_t n = ::recv(fd_, scratch, sizeof scratch, MSG_DONTWAIT);
      if (n <= 0) break;
      drained += static_cast<std::size_t>(n);
    }
  }
  loop_.driver().forget(*this);
  ::close(fd_);
  fd_ = -1;
  inbound_.clear();
  fresh_ = {};
  context_.reset();
  loop_.retire(this);
}

}  // namespace gnet::detail
