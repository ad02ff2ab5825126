// broadcast_registry.hpp — the chat's members, the fan-out of one message to all of them, and
// the bound on what the server holds for a member that does not read.
//
// Threads: members live on different loops, and a Conn& may be touched only on its own loop. So
// a message is delivered by posting a task to each member's loop (Loop::post) that looks the
// connection up by its handle and writes there. The frame is built once and every task shares it
// (shared_ptr): the memory of one message does not grow with the number of members. A member's
// own copy of a frame exists only while the kernel refuses the bytes and the library queues them.
//
// The bound: a member's backlog is the bytes of frames posted to its loop and not yet written,
// plus what the library has queued for it (Conn::outbound_buffered). When a message would take
// the backlog past max_backlog, the member is evicted: it leaves the registry (nothing more is
// posted to it, frames already posted are dropped), gets a close frame with 1008 (policy
// violation) behind what is already queued — best effort: a member that starts reading again
// sees it — and is closed. The library drops the queue once it is flushed, or after
// Options::shutdown_timeout. Evictions are counted. (Redis does the same to slow pub/sub
// clients: client-output-buffer-limit pubsub.)
//
// Memory given back: a member that leaves with a backlog frees its queue into the allocator,
// which keeps it (glibc trims only the top of a heap). released_bytes() reports how much
// was freed that way so the server can hand it back to the kernel with malloc_trim.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include <gnet/gnet.hpp>

class BroadcastRegistry {
 public:
  // One member. Shared by the registry, the member's session and the delivery tasks in flight.
  struct Member {
    Member(std::uint64_t id, gnet::ConnHandle handle, gnet::Loop& loop) noexcept
        : id(id), handle(std::move(handle)), loop(&loop) {}
    const std::uint64_t id;
    const gnet::ConnHandle handle;
    gnet::Loop* const loop;  // outlives the connection: loops stop after their connections close
    std::atomic<bool> active{true};          // false once it left or was evicted: drop deliveries
    std::atomic<std::size_t> in_flight{0};   // bytes posted to its loop, not yet written
    std::atomic<std::size_t> peak_queued{0};  // the most the library ever queued for it
  };

  explicit BroadcastRegistry(std::size_t max_backlog) noexcept : max_backlog_(max_backlog) {}

  std::size_t max_backlog() const noexcept { return max_backlog_; }

  // Registers conn (call on its loop, before the 101 response leaves, so a client that saw its
  // handshake complete already receives broadcasts).
  std::shared_ptr<Member> add(std::uint64_t id, gnet::Conn& conn);

  // Takes the member out of the broadcast. With a farewell (a close frame), posts it to the
  // connection while still holding the lock, so no broadcast can post after it. Returns false
  // when it was not registered any more (evicted or removed before; farewell not sent).
  bool remove(Member& member, std::string farewell = {});

  // The member's connection closed (its on_close): forgets it and counts its queue as released.
  void closed(Member& member);

  // Posts frame to every member; returns how many it was posted to.
  std::size_t broadcast(std::string frame);

  std::uint64_t evictions() const noexcept { return evictions_.load(std::memory_order_relaxed); }
  std::size_t size() const;
  // Bytes of member queues freed since the last call (an estimate: each member's peak queue).
  std::size_t take_released() noexcept { return released_.exchange(0, std::memory_order_relaxed); }

 private:
  // Member's loop: writes frame unless the member is gone, or evicts it when the frame would
  // take its queue past max_backlog_.
  void deliver(Member& member, const std::string& frame);
  // Under mutex_: takes the member out and counts an eviction. False when it was already out.
  bool evict_locked(Member& member);
  // Member's loop: the 1008 close frame behind the queue, then close.
  void close_evicted(gnet::Conn& conn, std::size_t backlog);

  const std::size_t max_backlog_;
  mutable std::mutex mutex_;
  std::unordered_map<std::uint64_t, std::shared_ptr<Member>> members_;
  std::atomic<std::uint64_t> evictions_{0};
  std::atomic<std::size_t> released_{0};
};
