// broadcast_registry.cpp — see broadcast_registry.hpp.
#include "broadcast_registry.hpp"

#include <cstdio>

#include "ws_codec.hpp"

std::shared_ptr<BroadcastRegistry::Member> BroadcastRegistry::add(std::uint64_t id, gnet::Conn& conn) {
  auto member = std::make_shared<Member>(id, conn.handle(), conn.loop());
  std::lock_guard lock(mutex_);
  members_.emplace(id, member);
  return member;
}

bool BroadcastRegistry::remove(Member& member, std::string farewell) {
  std::lock_guard lock(mutex_);
  auto it = members_.find(member.id);
  if (it == members_.end()) return false;
  member.active.store(false, std::memory_order_relaxed);
  if (!farewell.empty()) member.handle.async_write(std::move(farewell));
  members_.erase(it);
  return true;
}

void BroadcastRegistry::closed(Member& member) {
  {
    std::lock_guard lock(mutex_);
    member.active.store(false, std::memory_order_relaxed);
    members_.erase(member.id);
  }
  released_.fetch_add(member.peak_queued.load(std::memory_order_relaxed), std::memory_order_relaxed);
}

std::size_t BroadcastRegistry::size() const {
  std::lock_guard lock(mutex_);
  return members_.size();
}

bool BroadcastRegistry::evict_locked(Member& member) {
  if (members_.erase(member.id) == 0) return false;
  member.active.store(false, std::memory_order_relaxed);
  evictions_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

std::size_t BroadcastRegistry::broadcast(std::string frame) {
  const auto shared = std::make_shared<const std::string>(std::move(frame));
  const std::size_t n = shared->size();
  std::lock_guard lock(mutex_);  // held while posting: see remove()
  std::size_t posted = 0;
  for (auto it = members_.begin(); it != members_.end();) {
    const std::shared_ptr<Member> m = it->second;
    ++it;  // evict_locked may erase m's entry
    const std::size_t in_flight = m->in_flight.load(std::memory_order_relaxed);
    if (in_flight + n > max_backlog_) {
      // Its loop has not even taken the frames already posted: the same bound applies. The
      // eviction task lands after them (one mailbox, in order) and they are dropped unwritten.
      if (evict_locked(*m)) {
        m->loop->post([this, m, in_flight] {
          if (gnet::Conn* c = m->loop->lookup(m->handle)) close_evicted(*c, in_flight);
        });
      }
      continue;
    }
    m->in_flight.fetch_add(n, std::memory_order_relaxed);
    const std::error_code ec = m->loop->post([this, m, shared] { deliver(*m, *shared); });
    if (ec) {  // the engine is stopping: the task was dropped
      m->in_flight.fetch_sub(n, std::memory_order_relaxed);
      continue;
    }
    ++posted;
  }
  return posted;
}

void BroadcastRegistry::deliver(Member& member, const std::string& frame) {
  member.in_flight.fetch_sub(frame.size(), std::memory_order_relaxed);
  if (!member.active.load(std::memory_order_relaxed)) return;
  gnet::Conn* conn = member.loop->lookup(member.handle);
  if (conn == nullptr) return;
  const std::size_t queued = conn->outbound_buffered();
  if (queued + frame.size() > max_backlog_) {
    bool evicted = false;
    {
      std::lock_guard lock(mutex_);
      evicted = evict_locked(member);
    }
    if (evicted) close_evicted(*conn, queued);
    return;
  }
  conn->write(frame);
  const std::size_t now = conn->outbound_buffered();
  if (now > member.peak_queued.load(std::memory_order_relaxed)) {
    member.peak_queued.store(now, std::memory_order_relaxed);  // written on this loop only
  }
}

void BroadcastRegistry::close_evicted(gnet::Conn& conn, std::size_t backlog) {
  std::fprintf(stderr, "websocket: disconnecting %s with 1008: %zu bytes of output backlog, over %zu\n",
               conn.remote_addr().to_string().c_str(), backlog, max_backlog_);
  conn.write(ws::build_close_frame(ws::close_code::policy_violation, "not reading: output backlog over limit"));
  conn.close();
}
