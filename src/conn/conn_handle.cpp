// gnet::ConnHandle — reaching a connection from any thread through its loop's mailbox. The loop
// looks the connection up by (slot, generation); a stale handle finds nothing and reports
// Errc::connection_closed, even when the fd number now belongs to a new peer.
#include "gnet/conn_handle.hpp"

#include <algorithm>

#include "conn/connection.hpp"
#include "conn/datagram_socket.hpp"
#include "gnet/error.hpp"
#include "loop/event_loop.hpp"
#include "loop/mailbox.hpp"

namespace gnet {

using detail::Connection;
using detail::EventLoop;
using detail::Mailbox;

namespace {

// Posts fn(conn) to the owning loop; on_done hears connection_closed when the slot is stale.
enum class Lane { normal, urgent, barrier };

template <class F>
std::error_code post_to_conn(const std::shared_ptr<Mailbox>& mailbox, std::uint32_t slot, std::uint32_t gen,
                             Lane lane, ConnHandle::Done on_done, F fn) {
  if (!mailbox) return make_error_code(Errc::connection_closed);
  EventLoop* loop = mailbox->loop();
  auto task = [loop, slot, gen, on_done = std::move(on_done), fn = std::move(fn)]() mutable {
    Connection* conn = loop->find(slot, gen);
    std::error_code ec = conn ? fn(*conn) : make_error_code(Errc::connection_closed);
    if (on_done) on_done(ec);
    if (conn) conn->settle();
  };
  bool posted = lane == Lane::barrier ? mailbox->post_barrier(std::move(task))
                                      : mailbox->post(std::move(task), lane == Lane::urgent);
  return posted ? std::error_code{} : make_error_code(Errc::engine_stopped);
}

}  // namespace

ConnHandle::ConnHandle(std::shared_ptr<detail::Mailbox> mailbox, std::uint32_t slot, std::uint32_t generation) noexcept
    : mailbox_(std::move(mailbox)), slot_(slot), generation_(generation) {}

int ConnHandle::loop_index() const noexcept { return mailbox_ ? mailbox_->loop_index() : -1; }

std::error_code ConnHandle::async_write(std::string data, Done on_done) const {
  return post_to_conn(mailbox_, slot_, generation_, Lane::normal, std::move(on_done),
                      [data = std::move(data)](Connection& c) { return c.send(data); });
}

std::error_code ConnHandle::async_writev(std::vector<std::string> parts, Done on_done) const {
  return post_to_conn(mailbox_, slot_, generation_, Lane::normal, std::move(on_done),
                      [parts = std::move(parts)](Connection& c) {
                        std::vector<std::string_view> views(parts.begin(), parts.end());
                        return c.sendv(views);
                      });
}

std::error_code ConnHandle::async_write_shared(SharedPayload payload, Done on_done) const {
  return post_to_conn(mailbox_, slot_, generation_, Lane::normal, std::move(on_done),
                      [payload = std::move(payload)](Connection& c) {
                        return payload ? c.send(*payload) : std::error_code{};
                      });
}

std::error_code ConnHandle::async_send_to(std::string data, SocketAddress to, Done on_done) const {
  if (!mailbox_) return make_error_code(Errc::connection_closed);
  EventLoop* loop = mailbox_->loop();
  const std::uint32_t slot = slot_, gen = generation_;
  auto task = [loop, slot, gen, data = std::move(data), to, on_done = std::move(on_done)]() mutable {
    std::error_code ec;
    if (detail::DatagramSocket* socket = loop->find_datagram(slot)) {
      ec = socket->send_to(data, to);
    } else if (Connection* conn = loop->find(slot, gen)) {
      ec = make_error_code(Errc::not_datagram);
      conn->settle();
    } else {
      ec = make_error_code(Errc::connection_closed);
    }
    if (on_done) on_done(ec);
  };
  return mailbox_->post(std::move(task), false) ? std::error_code{} : make_error_code(Errc::engine_stopped);
}

std::error_code ConnHandle::wake() const {
  return post_to_conn(mailbox_, slot_, generation_, Lane::urgent, {}, [](Connection& c) {
    c.wake();
    return std::error_code{};
  });
}

std::error_code ConnHandle::close(Done on_done) const {
  return post_to_conn(mailbox_, slot_, generation_, Lane::barrier, std::move(on_done), [](Connection& c) {
    c.request_close({});
    return std::error_code{};
  });
}

std::size_t broadcast(std::span<const ConnHandle> to, const SharedPayload& payload) {
  if (!payload) return 0;
  // Group by loop, keeping each loop's recipients in their order. Few loops: a linear scan.
  struct Group {
    std::shared_ptr<Mailbox> mailbox;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> targets;  // (slot, generation)
  };
  std::vector<Group> groups;
  for (const ConnHandle& h : to) {
    if (!h.mailbox_) continue;
    auto it = std::find_if(groups.begin(), groups.end(), [&](const Group& g) { return g.mailbox == h.mailbox_; });
    if (it == groups.end()) it = groups.insert(groups.end(), Group{h.mailbox_, {}});
    it->targets.emplace_back(h.slot_, h.generation_);
  }
  std::size_t posted = 0;
  for (Group& g : groups) {
    const std::size_t n = g.targets.size();
    EventLoop* loop = g.mailbox->loop();
    auto task = [loop, payload, targets = std::move(g.targets)] {
      for (auto [slot, gen] : targets) {
        if (Connection* conn = loop->find(slot, gen)) {
          (void)conn->send(*payload);  // a failed write closes the connection with its error
          conn->settle();
        }
      }
    };
    if (g.mailbox->post(std::move(task), false)) posted += n;
  }
  return posted;
}

}  // namespace gnet
