// gnet/handler.hpp — the one class a user writes.
//
// Derive from EventHandler and override the callbacks you need; each has a no-op default.
// Thread rule: callbacks for one connection always run on that connection's loop thread, one at
// a time. Callbacks for different connections may run at the same time on different loops, so
// state shared between connections needs its own synchronisation (or one loop).
// A callback that throws is logged; the connection it was called for is closed (on_close gets
// Errc::handler_exception) and the loop keeps running.
#pragma once

#include <chrono>
#include <system_error>

namespace gnet {

class Conn;
class Engine;

// What a callback asks the engine to do next.
enum class Action {
  none,      // carry on
  close,     // close this connection (after queued output is flushed)
  shutdown,  // stop the whole engine gracefully (Engine::stop)
};

// on_tick's answer: when to tick next, and what to do now.
struct TickResult {
  std::chrono::nanoseconds delay{std::chrono::seconds(1)};
  Action action = Action::none;
};

class EventHandler {
 public:
  virtual ~EventHandler() = default;

  // The engine's sockets are bound and listening; loops are about to start. Runs on the thread
  // that called run(). Returning Action::shutdown stops the engine before any connection.
  virtual Action on_boot(Engine& engine) {
    (void)engine;
    return Action::none;
  }

  // Every loop has stopped and every connection is closed; run() returns right after.
  virtual void on_shutdown(Engine& engine) { (void)engine; }

  // A connection was accepted or dialed. Write a greeting with conn.write() here if the
  // protocol wants one; set a per-connection context with conn.set_context().
  // Not called for unconnected UDP sockets (there is no connection to open). On a tls://
  // listener it runs after the handshake; on a ?proxy_protocol=1 listener after the PROXY
  // header (a connection without a valid one is closed unseen: no on_open, no on_close).
  virtual Action on_open(Conn& conn) {
    (void)conn;
    return Action::none;
  }

  // The connection is gone. error is empty for a local close or a clean EOF from the peer, and
  // says why otherwise (ECONNRESET, Errc::idle_timeout, Errc::inbound_limit,
  // Errc::handler_exception, ...). The
  // connection's inbound bytes are still readable here; writes are refused.
  virtual Action on_close(Conn& conn, std::error_code error) {
    (void)conn;
    (void)error;
    return Action::none;
  }

  // Bytes (stream) or one message (UDP, SEQPACKET) arrived. Consume with conn.next()/read()/
  // discard(); on a stream whatever is left stays buffered for the next call, while a message
  // socket drops the unread rest of its message (each call sees exactly one message). The views
  // conn.peek()/next() return are valid only until this callback returns.
  virtual Action on_traffic(Conn& conn) {
    (void)conn;
    return Action::none;
  }

  // The peer finished sending (read returned EOF). Action::close (the default) closes the
  // connection once queued output is flushed. Action::none keeps it open for writing — a
  // half-close, as a proxy passes through; finish later with conn.shutdown_write() (the
  // connection then closes once both directions are done) or conn.close().
  virtual Action on_eof(Conn& conn) {
    (void)conn;
    return Action::close;
  }

  // With Options::ticker: called on loop 0 right after boot, then after every returned delay.
  virtual TickResult on_tick() { return {}; }

  // More than Options::write_buffer_cap is queued for this connection (Conn::outbound_full() is
  // now true); reading it is paused until the queue drains below half, when on_low_water fires
  // and, if input is still buffered, on_traffic follows for it in the same loop turn.
  virtual void on_high_water(Conn& conn) { (void)conn; }
  virtual void on_low_water(Conn& conn) { (void)conn; }
};

}  // namespace gnet
