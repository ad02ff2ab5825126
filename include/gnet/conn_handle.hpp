// gnet/conn_handle.hpp — reach a connection from any thread.
//
// A ConnHandle names a connection by (loop, slot, generation). Every call posts a task to the
// owning loop; the loop checks the generation before touching anything, so a handle to a closed
// connection — even one whose fd number the kernel has since given to a new peer — fails with
// Errc::connection_closed and never reaches the new connection.
//
// Thread rule: every method is safe from any thread, including loop threads. on_done callbacks
// run on the connection's loop thread. After run() has returned, calls report
// Errc::engine_stopped (the handle keeps the loop's mailbox alive, never the engine).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "gnet/address.hpp"
#include "gnet/unique_function.hpp"

namespace gnet {

class Loop;

namespace detail {
class Mailbox;
}

// One message built once and written to many connections (a broadcast, a pub/sub fan-out): every
// recipient's task holds the same bytes by reference count, so posting it to N connections costs
// one allocation, not N copies. The bytes are copied only into the queue of a recipient whose
// socket cannot take them at once (and only the part it could not take), so each connection
// keeps its own write_buffer_cap bound; the payload is freed when the last task has run.
using SharedPayload = std::shared_ptr<const std::string>;
inline SharedPayload make_payload(std::string bytes) {
  return std::make_shared<const std::string>(std::move(bytes));
}

class ConnHandle {
 public:
  // on_done's error: empty when the bytes were sent or queued (or the close happened),
  // Errc::connection_closed when the connection was already gone, or the socket's own error
  // (e.g. EPIPE) when the write failed — the connection is then closed and on_close follows.
  // Handles of unconnected UDP sockets name the socket, not a peer: async_write, async_writev
  // and close report Errc::connection_closed (there is no current sender once on_traffic has
  // returned); async_send_to is the way to answer later.
  using Done = UniqueFunction<void(std::error_code)>;

  ConnHandle() = default;
  ConnHandle(std::shared_ptr<detail::Mailbox> mailbox, std::uint32_t slot,
             std::uint32_t generation) noexcept;

  // Queue bytes for the connection. Writes reach the loop in the order the calls were made
  // (per thread, and across threads when the callers themselves are ordered, e.g. by a mutex).
  // The immediate return is
  // Errc::engine_stopped when the loop no longer accepts tasks, empty otherwise.
  std::error_code async_write(std::string data, Done on_done = {}) const;
  std::error_code async_writev(std::vector<std::string> parts, Done on_done = {}) const;
  // The same with bytes shared between recipients (see SharedPayload); ordered with this
  // thread's other async_write calls. A null payload writes nothing (on_done still runs).
  std::error_code async_write_shared(SharedPayload payload, Done on_done = {}) const;
  // Unconnected UDP (take the handle with conn.handle() in on_traffic, keep the sender's
  // conn.remote_addr()): one datagram to `to`, sent by the socket's loop when the task runs (so
  // a reply computed on a worker thread goes out later). on_done hears the sendto's own result:
  // empty when the kernel took the datagram, EAGAIN when the socket's send buffer was full (the
  // datagram is not sent; UDP queues nothing), Errc::not_datagram when the handle names a
  // connection of another kind, Errc::connection_closed when it names nothing.
  std::error_code async_send_to(std::string data, SocketAddress to, Done on_done = {}) const;
  // Schedule an on_traffic call for the connection (e.g. a worker finished and the handler
  // should look at its state). Urgent lane: not delayed behind bulk writes.
  std::error_code wake() const;
  // Close the connection after its queued output (like Conn::close). Every async_write posted
  // before this call (from any thread) is delivered first. Writes posted after it are not
  // waited for — one that happens to reach the loop in the same batch may still go out, later
  // ones report connection_closed — so a close is never stuck behind bulk traffic.
  std::error_code close(Done on_done = {}) const;

  bool empty() const noexcept { return mailbox_ == nullptr; }
  int loop_index() const noexcept;
  std::uint32_t slot() const noexcept { return slot_; }
  std::uint32_t generation() const noexcept { return generation_; }

  friend bool operator==(const ConnHandle& a, const ConnHandle& b) noexcept {
    return a.mailbox_ == b.mailbox_ && a.slot_ == b.slot_ && a.generation_ == b.generation_;
  }

 private:
  friend class Loop;
  friend std::size_t broadcast(std::span<const ConnHandle>, const SharedPayload&);
  std::shared_ptr<detail::Mailbox> mailbox_;
  std::uint32_t slot_ = 0;
  std::uint32_t generation_ = 0;
};

// Writes payload to every connection in `to` with one task per loop rather than one per
// recipient: handles are grouped by loop, and each loop writes the shared bytes to its
// connections in the order they appear in `to`. Per connection, the write is ordered with the
// calling thread's async_write calls (same lane). Recipients already closed when the task runs
// are skipped; a recipient whose write fails is closed with that error (on_close says why), as
// with async_write. Returns how many recipients were posted to (those of loops that have
// stopped, and empty handles, are not counted). Any thread.
std::size_t broadcast(std::span<const ConnHandle> to, const SharedPayload& payload);

}  // namespace gnet
