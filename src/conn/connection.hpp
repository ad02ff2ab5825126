// Internal: one connection's state machine. Lives on exactly one loop; every method runs on that
// loop's thread. The public face is gnet::Conn (conn_api.cpp casts back to this). A connection
// has one peer: TCP, Unix stream or SEQPACKET, a dialed (connected) UDP socket, a pipe. The
// unconnected UDP socket, which serves every peer, is conn/datagram_socket.hpp.
//
// It makes no socket call for input or queued output itself: the loop's driver (io/) feeds it
// events — input arrived (a view), n bytes sent, end of input, an error — and it asks the driver
// to send, to flush and to watch or stop watching.
//
// Life: open -> [closing: no reads, flushing queued output] -> closed (on_close ran, fd closed)
// -> destroyed at the end of the loop turn (so pointers held during one dispatch stay valid).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <any>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <cstdint>
#include <string_view>
#include <system_error>
#include <vector>

#include "buffer/outbound_queue.hpp"
#include "buffer/ring_buffer.hpp"
#include "gnet/conn.hpp"
#include "gnet/handler.hpp"
#include "gnet/conn_handle.hpp"
#include "loop/io_watcher.hpp"
#include "loop/loop_context.hpp"
#include "tls/tls_session.hpp"

namespace gnet::detail {

class EventLoop;
class LoopCounters;

class Connection final : public Conn, public IoWatcher {
 public:
  Connection(EventLoop& loop, int fd, Network network, int listener_index,
             const SocketAddress& remote) noexcept;
  ~Connection();

  static Connection& of(Conn& c) noexcept { return static_cast<Connection&>(c); }
  static const Connection& of(const Conn& c) noexcept { return static_cast<const Connection&>(c); }

  // ---- driven by the loop ----
  // Registers with the driver and runs on_open. False when registration failed (then closed).
  bool open();
  // Schedules an on_traffic with no fresh bytes (ConnHandle::wake).
  void wake();
  // Closes after flushing (error recorded for on_close if it is the first one).
  void request_close(std::error_code error);
  // Closes now, dropping queued output.
  void abort(std::error_code error);
  // Closes if a requested close can complete now; call after anything that touched the conn.
  void settle();
  // Half-close: FIN after the queued output (see Conn::shutdown_write).
  void shutdown_write();
  // Before open(): a pipe end or a relayed descriptor that only reads or only writes. No
  // input: nothing is read and on_eof never runs. No output: write() returns Errc::not_writable.
  void set_direction(bool can_read, bool can_write) noexcept {
    if (!can_read) peer_eof_ = true;
    if (!can_write) write_shut_ = true;
  }
  // A relayed terminal (engine/relay.hpp): a zero-length read there ends nothing (more may be
  // typed), so the relay reports it as a mark at a position in the byte stream. on_eof runs once
  // the bytes before the mark have been handed to on_traffic; Action::none reads on. Then ack
  // runs, and only then does the relay send what followed the mark, so no read ever mixes bytes
  // from both sides of it. (If the connection closes first, ack is dropped unrun.)
  void count_input() { extras().counts_input = true; }
  // Before open(): this connection speaks TLS through session. on_open waits for the handshake;
  // a client's dial passes its on_done, which hears the handshake's outcome (and, on failure,
  // replaces on_close).
  void start_tls(std::unique_ptr<TlsSession> session, UniqueFunction<void(std::error_code, ConnHandle)> dial_done = {});
  TlsSession* tls() const noexcept { return extras_ ? extras_->tls.get() : nullptr; }
  // Before open(): the connection came from a ?proxy_protocol=1 listener, so its first bytes are
  // a PROXY header (net/proxy_header.hpp). Nothing reaches the handler until the header is
  // read within Options::proxy_header_timeout: then its addresses replace the socket's and
  // on_open runs (after the TLS handshake, for tls://). A bad or late header closes the
  // connection with Errc::bad_proxy_header, with no on_open and no on_close.
  void expect_proxy_header();
  // The send path under write()/writev(); a TLS session's sink (ciphertext).
  std::error_code send_raw(std::string_view data);
  void eof_mark(std::uint64_t at, UniqueFunction<void()> ack);
  // Reading became possible again (low water, resume_read): hand the handler the input it left
  // buffered while pushed back, then let the driver pick up what the kernel holds (edge-
  // triggered re-read, io_uring re-arm). Deferred to after the turn's dispatch
  // (EventLoop::defer_resume).
  void resume_input();

  // ---- events from the driver ----
  // Bytes arrived (a view into the driver's buffer, valid during the call): on_traffic.
  void on_input(std::string_view fresh);
  // Bytes arrived while not reading (a completion already under way when reading paused):
  // kept, unconsumed, for the next on_traffic.
  void keep_input(std::string_view fresh);
  void on_end_of_input();
  void on_io_error(std::error_code error);
  // n bytes at the front of outbound() reached the kernel.
  void on_sent(std::size_t n);
  // An aborted connection's in-flight send completed (sent bytes of it reached the kernel): the
  // rest of outbound() goes.
  void on_sent_dropped(std::size_t sent) noexcept;
  // Message sockets: the first of messages() reached the kernel; it is taken off.
  void message_sent();
  // After a flush: watermarks (on_low_water, resuming input) and interest.
  void after_flush();
  OutboundQueue& outbound() noexcept { return outbound_; }
  // Message sockets: whole messages the kernel refused (nullptr when there never were any).
  std::deque<std::string>* messages() noexcept {
    return extras_ && extras_->messages && message_oriented() ? extras_->messages.get() : nullptr;
  }
  // Reading held back: by the handler (pause_read) or by backpressure (write cap passed).
  bool paused() const noexcept { return user_paused_ || high_water_; }
  // Input already received may go to the handler: reading, or the end is heard but waits
  // behind bytes kept while paused (eof_pending_), which go first.
  bool handing_over() const noexcept { return !peer_eof_ && !close_requested_ && !paused(); }
  bool reading() const noexcept { return handing_over() && !eof_pending_; }
  // This end takes input and has not handed its end to the handler yet (false for a write-only
  // pipe end).
  bool input_open() const noexcept { return !peer_eof_; }
  bool has_pending_output() const noexcept {
    return !outbound_.empty() || (extras_ && extras_->messages && !extras_->messages->empty());
  }
  // UDP and SEQPACKET keep message boundaries: one read is one message, one write one message.
  bool message_oriented() const noexcept {
    return network_ == Network::udp || network_ == Network::unix_packet;
  }
  // A pipe, FIFO or terminal: read/write instead of recv/send, and no shutdown(2).
  bool is_socket() const noexcept { return network_ != Network::pipe; }
  // Served through readiness even by a completion driver (one-shot polls): message sockets, and
  // descriptors that are not sockets (no multishot receive for those).
  bool polled() const noexcept { return message_oriented() || !is_socket(); }

  // What the driver keeps per connection (a few bytes; no buffer).
  struct IoState {
    std::uint32_t interest = 0;  // readiness: what the poller has registered
    bool registered = false;     // readiness: known to the poller
    bool parked = false;         // readiness: taken off the poller after a clean hang-up while
                                 // paused; back on when reading resumes
    std::uint8_t ops = 0;        // completion: requests the kernel still owes a completion
    bool recv_armed = false;     // completion: a multishot receive is outstanding
    bool recv_cancelled = false; // completion: ... and its cancellation was submitted
    bool poll_in = false;        // completion, message sockets: a readability poll is armed
    bool poll_out = false;       // completion: a writability poll is armed (message sockets; a
                                 // stream whose send came back EAGAIN)
    bool send_queued = false;    // completion: listed for this turn's submission
    bool output_dropped = false; // completion: abort dropped the output; send nothing more
    bool detached = false;       // completion: forgotten; no more requests for it
    std::uint32_t sending = 0;   // completion: bytes at the front of outbound() in flight
    void* send_slot = nullptr;   // completion: iovecs of an in-flight multi-block send
  } io;

  // ---- used by conn_api.cpp ----
  // write()/writev(): counted as one message out each when accepted.
  std::string_view peek(std::size_t n);
  std::size_t discard(std::size_t n) noexcept;
  std::size_t inbound_size() const noexcept { return inbound_.empty() ? fresh_.size() : inbound_.size(); }
  std::error_code send(std::string_view data);
  std::error_code sendv(std::span<const std::string_view> parts);
  std::error_code flush();
  std::size_t outbound_size() const noexcept;
  bool outbound_full() const noexcept { return high_water_; }
  void set_user_paused(bool paused);

  bool closed() const noexcept { return closed_; }
  // The first error seen (what on_close hears); empty for a clean close.
  const std::error_code& first_error() const noexcept { return error_; }
  bool close_requested() const noexcept { return close_requested_; }
  int fd() const noexcept { return fd_; }
  Network network() const noexcept { return network_; }
  int listener_index() const noexcept { return listener_index_; }
  EventLoop& loop() const noexcept { return loop_; }
  std::any& context() noexcept { return context_; }
  SocketAddress remote() const;
  // The address the peer connected to: a PROXY header's destination, else the socket's own.
  SocketAddress local() const;

  std::uint32_t slot = 0;
  std::uint32_t generation = 0;
  // Options::idle_timeout: the loop keeps open connections in last-activity order (an
  // intrusive list, O(1) per touch), so its sweep only looks at the ones that expired.
  Connection* idle_prev = nullptr;
  Connection* idle_next = nullptr;
  std::chrono::steady_clock::time_point last_active{};

 private:
  template <class F>
  Action invoke(F&& callback);
  LoopCounters& counters() noexcept;
  // paused() may have changed from `was`: keeps the loop's paused-connections gauge.
  void paused_changed(bool was) noexcept;
  std::error_code send_one(std::string_view data);
  std::error_code send_parts(std::span<const std::string_view> parts);
  void apply(Action action);
  std::error_code send_message(std::string_view data);
  void after_traffic(Action action);
  void enforce_inbound_bound();
  void drop_output();
  void finish_close();
  void update_interest();
  void after_queue();
  // Called when reading() may have become true: schedules resume_input() when it has work.
  void maybe_resume();
  // Input kept while not reading that the handler has not been shown yet: in inbound_, or
  // TLS records the session holds.
  bool unseen_input() const noexcept;
  void deliver_eof_marks();
  // Plaintext (or, without TLS, the bytes) for the handler: on_traffic, leftovers kept.
  void deliver(std::string_view fresh);
  // TLS: run the handshake and decrypt what the session holds, while reading.
  void tls_pump();
  // A tls:// dial's on_done, taken (nullptr when this is no dial, or it was told already).
  UniqueFunction<void(std::error_code, ConnHandle)> take_dial_done() noexcept;
  // on_traffic, guarded; everything in inbound_ has been shown to the handler once it runs.
  Action traffic();
  void tls_established();
  void tls_failed(std::error_code error, const std::string& detail);
  // After registration (open) or after the PROXY header: the TLS handshake, or on_open.
  void begin();
  bool proxy_waiting() const noexcept { return extras_ && extras_->proxy && extras_->proxy->waiting; }
  // PROXY header bytes arrived (on_input while proxy_waiting()).
  void proxy_input(std::string_view fresh);
  // No valid header: logged (why == nullptr: the peer left, by FIN or reset, before sending
  // anything, as a balancer's plain TCP health check does; logged at debug only and no error)
  // and closed unseen.
  void proxy_failed(const char* why);

  // A ?proxy_protocol=1 connection: the header being read, then the destination it named.
  struct ProxyState {
    bool waiting = true;        // the header is not complete yet: on_open has not run
    std::uint64_t timer = 0;    // Options::proxy_header_timeout, from the accept
    std::string partial;        // the header's bytes so far when it spans reads; at most
                                // kProxyV2MaxLength before a verdict (+ the read that decides)
    SocketAddress local;        // the header's destination (empty: the socket's own stands)
  };

  // What few connections need, kept out of the ones that do not (one pointer).
  struct Extras {
    // message sockets: whole messages the kernel refused
    std::unique_ptr<std::deque<std::string>> messages;
    // TLS: the session; a dial's on_done, called once the handshake ends either way; the
    // handshake deadline; on_open has run (a failed handshake never gets it)
    std::unique_ptr<TlsSession> tls;
    UniqueFunction<void(std::error_code, ConnHandle)> tls_dial_done;
    std::uint64_t handshake_timer = 0;
    bool quiet_close = false;          // a failed TLS dial: on_done heard it, no on_close
    bool counts_input = false;         // relayed terminal: input_total and eof_marks in use
    std::uint64_t input_total = 0;     // bytes received so far
    struct EofMark {
      std::uint64_t at;
      UniqueFunction<void()> ack;
    };
    std::vector<EofMark> eof_marks;    // pending zero-length reads, by position
    std::unique_ptr<ProxyState> proxy; // ?proxy_protocol=1 listeners
  };
  Extras& extras() {
    if (!extras_) extras_ = std::make_unique<Extras>();
    return *extras_;
  }
  // Held while OpenSSL runs for this connection outside a callback (a ConnHandle or Loop::post
  // task writing, a close sending close_notify): its ciphertext comes back through send_raw,
  // where a failed send aborts the connection, and settling there would free the TlsSession
  // (in extras_) while SSL_write is still using it. The caller settles afterwards.
  struct TlsBusy {
    explicit TlsBusy(Connection& c) noexcept : conn(c) { ++conn.in_callback_; }
    ~TlsBusy() { --conn.in_callback_; }
    TlsBusy(const TlsBusy&) = delete;
    TlsBusy& operator=(const TlsBusy&) = delete;
    Connection& conn;
  };

  EventLoop& loop_;
  int fd_;
  Network network_;
  std::int16_t listener_index_;
  bool closed_ = false;
  bool close_requested_ = false;
  bool peer_eof_ = false;
  bool eof_pending_ = false;  // the end of input came while paused: on_eof after the resume
  bool input_unseen_ = false;  // inbound_ holds bytes kept while not reading, not yet shown to
                               // on_traffic: the end of input must wait for them
  bool user_paused_ = false;
  bool high_water_ = false;
  bool shutdown_write_requested_ = false;
  bool write_shut_ = false;
  std::uint16_t in_callback_ = 0;
  std::error_code error_;                // first error seen; reported to on_close
  std::uint64_t linger_timer_ = 0;       // bounds a flush-then-close
  std::string_view fresh_;               // this read's bytes, in the loop's buffer
  RingBuffer inbound_;                   // unconsumed bytes; storage only while non-empty
  OutboundQueue outbound_;               // bytes the kernel refused
  std::unique_ptr<Extras> extras_;
  std::any context_;
  union {                                // IP peer
    sockaddr_in v4;
    sockaddr_in6 v6;
  } remote_{};
  std::uint8_t remote_len_ = 0;
};

}  // namespace gnet::detail
