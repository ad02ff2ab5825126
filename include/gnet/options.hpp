// gnet/options.hpp — engine and client settings, meant for designated initializers:
//
//   gnet::run(handler, "tcp://:9000", {.multicore = true, .reuse_port = true});
//
// Every field has a default that suits a general-purpose server.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "gnet/logger.hpp"
#include "gnet/tls.hpp"

namespace gnet {

// How the acceptor picks a loop for a new connection (ignored with reuse_port, where the kernel
// spreads connections over the loops' own listeners).
enum class LoadBalancing {
  round_robin,        // loops in turn
  least_connections,  // the loop with the fewest open connections right now
  source_addr_hash,   // hash of the peer's IP: one client host always lands on the same loop
};

// How each loop asks the kernel for I/O.
enum class IoBackend {
  automatic,  // GNET_BACKEND from the environment ("epoll", "io_uring", "auto") when set; else
              // io_uring where the kernel grants a ring (Linux 6.1+, not disabled by sysctl or
              // seccomp), otherwise epoll, with one log line that says why
  epoll,      // readiness: epoll, the portable path
  io_uring,   // completion: multishot receive into provided buffers, batched submission; Engine
              // setup fails with a message saying why when the kernel refuses it
};

struct Options {
  // One loop per CPU core when true; one loop when false. num_event_loop > 0 overrides both.
  bool multicore = false;
  int num_event_loop = 0;
  LoadBalancing lb = LoadBalancing::round_robin;

  // SO_REUSEPORT: every loop gets its own listening socket and the kernel spreads connections.
  bool reuse_port = false;
  // SO_REUSEADDR on listening sockets (default on, as every production server wants).
  bool reuse_addr = true;

  // Size of each loop's shared read buffer: the most one read(2) takes, and the largest UDP
  // datagram that is delivered whole (larger ones are reported as truncated).
  std::size_t read_buffer_cap = 64 * 1024;
  // Outbound high-water mark per connection. When more than this is queued (the kernel pushed
  // back), the connection stops being read — no on_traffic for new bytes — until the queue
  // drains below half, and EventHandler::on_high_water fires. Writes are never dropped: a
  // handler that produces output from input already buffered (a pipeline) stops while
  // Conn::outbound_full() and leaves the rest unconsumed; the engine calls on_traffic again once
  // the queue has drained (see docs/guide.md, "Backpressure"). A connection then holds at most
  // write_buffer_cap + the largest single write.
  std::size_t write_buffer_cap = 1024 * 1024;
  // Inbound bound per connection: when a handler leaves more than this unconsumed after
  // on_traffic, the connection is closed (queued output is still flushed) and on_close gets
  // Errc::inbound_limit. A connection thus holds at most max_inbound_buffered + read_buffer_cap
  // of input. Protocol servers set it from their own limits (largest request head + body);
  // 0 turns the bound off.
  std::size_t max_inbound_buffered = 64 * 1024 * 1024;

  // Call EventHandler::on_tick on loop 0: right after boot, then after each delay it returns.
  bool ticker = false;

  // TCP keepalive for accepted/dialed connections (gnet's TCPKeepAlive, TCPKeepInterval,
  // TCPKeepCount): the first probe after tcp_keepalive of silence, then one every
  // tcp_keepalive_interval (zero: the same as tcp_keepalive), and the connection is closed
  // (on_close with ETIMEDOUT) after tcp_keepalive_count unanswered probes (0: 5).
  // tcp_keepalive zero leaves the system default (off).
  std::chrono::seconds tcp_keepalive{0};
  std::chrono::seconds tcp_keepalive_interval{0};
  int tcp_keepalive_count = 0;
  // TCP_NODELAY on accepted/dialed TCP connections.
  bool tcp_no_delay = true;
  // SO_RCVBUF / SO_SNDBUF for connection sockets (and UDP sockets); zero keeps the kernel default.
  int socket_recv_buffer = 0;
  int socket_send_buffer = 0;

  // Edge-triggered epoll: no epoll_ctl ever after registration, reads until a short read.
  bool edge_triggered_io = false;
  // Edge-triggered mode only: the most bytes read from one connection in one loop turn (gnet's
  // EdgeTriggeredIOChunk). Past it the connection is read again on the next turn, after the
  // loop's other ready connections had theirs; nothing is lost (the bytes wait in the kernel).
  // 0 = no limit (read until a short read). Writes need no such bound: one flush stops when the
  // socket's send buffer is full.
  std::size_t edge_triggered_chunk = 1024 * 1024;

  // The I/O backend (see IoBackend). With io_uring each loop registers a ring of provided receive
  // buffers: io_uring_buffer_count (a power of two) buffers of io_uring_buffer_size bytes, the
  // loop's shared read buffer in io_uring form (an idle connection holds none). 0 lets the
  // kernel decide: 16 × 64 KiB where it packs receives into buffers incrementally (Linux 6.12+),
  // else 256 × 16 KiB. When all are in use, receives wait in the kernel and are re-armed as
  // buffers return: no bytes are lost.
  IoBackend backend = IoBackend::automatic;
  std::size_t io_uring_buffer_size = 0;
  unsigned io_uring_buffer_count = 0;
  // Pin loop thread i to CPU (i mod cores).
  bool cpu_affinity = false;

  // Close connections that have seen no inbound or outbound traffic for this long (0 = never).
  std::chrono::milliseconds idle_timeout{0};
  // ?proxy_protocol=1 listeners: how long a new connection may take to deliver its whole PROXY
  // header, counted from the accept (bytes trickling in do not extend it). Past it the
  // connection is closed with Errc::bad_proxy_header.
  std::chrono::milliseconds proxy_header_timeout{5000};
  // Graceful stop: how long queued output may take to drain before connections are cut.
  std::chrono::milliseconds shutdown_timeout{5000};
  // Signals that stop the engine gracefully while it runs, e.g. {SIGINT, SIGTERM}: the engine
  // installs a handler (sigaction) when run() starts and puts the previous action back when it
  // returns, so a program needs no global engine pointer and no handler of its own. Repeats
  // while the engine drains are absorbed (it is stopping already); once run() has returned the
  // previous action is back, so a second SIGTERM that arrives while main() finishes takes it
  // (by default: the process ends at once, status -15). Supervisors send one. Empty (the
  // default): the engine leaves signal dispositions alone.
  std::vector<int> stop_signals;

  // Unix listeners: permissions applied to the socket file (0 keeps the umask's choice).
  unsigned unix_mode = 0;
  // IP listeners (stream and UDP): SO_BINDTODEVICE, so the socket only sees traffic that arrives
  // on this interface, e.g. "eth1" (gnet's BindToDevice; Linux; needs CAP_NET_RAW on kernels
  // before 5.7). Empty = every interface. An unknown name fails run() with the kernel's reason.
  std::string bind_to_device;
  // UDP multicast: name or index of the interface to join the group on (empty = kernel's choice).
  std::string multicast_interface;
  // Unconnected UDP sockets: use the kernel's segmentation offload for batched replies
  // (UDP_SEGMENT: equal-sized replies to one peer leave as one send) and its receive offload
  // (UDP_GRO, when read_buffer_cap >= 64 KiB: a peer's coalesced datagrams are split again
  // before on_traffic), where the kernel offers them; silently not where it does not. The
  // handler and the peers see the same datagrams either way. false: never.
  bool udp_offload = true;

  // Listen backlog for stream listeners.
  int backlog = 1024;

  // TLS for tls:// listeners and dials: certificates, verification, SNI, ALPN, tickets
  // (gnet/tls.hpp). Unused by plain addresses.
  TlsOptions tls;

  // Where log lines go; empty means stderr_logger(LogLevel::info).
  LogSink logger;
};

}  // namespace gnet
