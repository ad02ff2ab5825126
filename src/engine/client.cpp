// gnet::Client — an engine without listeners whose loops run on their own threads.
#include "gnet/client.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>

#include "engine/engine_core.hpp"
#include "conn/connection.hpp"
#include "loop/event_loop.hpp"

namespace gnet {
namespace {

// Client-made connections go to the loops in turn.
detail::EventLoop& next_loop(detail::EngineCore& core, std::atomic<unsigned>& counter) {
  return core.loop_at(static_cast<int>(counter.fetch_add(1) % static_cast<unsigned>(core.loop_count())));
}

}  // namespace

Client::Client(EventHandler& handler, Options options)
    : core_(std::make_unique<detail::EngineCore>(handler, options)) {}

Client::~Client() { stop(); }

Result<void> Client::start() {
  if (thread_ || started_) {
    return Error(std::make_error_code(std::errc::operation_not_permitted), "a Client starts once");
  }
  started_ = true;
  if (auto r = core_->setup({}, true); !r) return r.error();
  // serve() runs on_boot first, then loop 0 on its own thread; wait for boot so that
  // dial()/enroll() right after start() find the engine ready.
  std::promise<void> booted;
  auto boot_seen = booted.get_future();
  core_->on_booted_ = [&booted] { booted.set_value(); };
  thread_ = std::make_unique<std::thread>([this] {
    auto r = core_->serve();
    if (!r) core_->log(LogLevel::error, "client: " + r.error().message());
  });
  boot_seen.wait();
  if (core_->boot_failed_) {  // serve() has returned already: the error is logged there
    thread_->join();
    thread_.reset();
    return Error(Errc::handler_exception, "client: on_boot threw; the client is not running");
  }
  return {};
}

void Client::stop() {
  if (!thread_) return;
  core_->request_stop();
  thread_->join();
  thread_.reset();
}

Engine& Client::engine() { return *core_; }

std::error_code Client::dial(std::string_view address, std::chrono::milliseconds timeout, Loop::DialDone on_done) {
  if (!thread_ || core_->is_stopping()) return make_error_code(Errc::engine_stopped);
  detail::EventLoop* loop = &next_loop(*core_, next_loop_);
  auto done = std::make_shared<Loop::DialDone>(std::move(on_done));
  bool posted = loop->post_task(
      [loop, address = std::string(address), timeout, done] { loop->dial_from_loop(address, timeout, std::move(*done)); },
      true);
  return posted ? std::error_code{} : make_error_code(Errc::engine_stopped);
}

Result<ConnHandle> Client::dial_sync(std::string_view address, std::chrono::milliseconds timeout) {
  auto result = std::make_shared<std::promise<std::pair<std::error_code, ConnHandle>>>();
  auto future = result->get_future();
  std::error_code ec = dial(address, timeout, [result](std::error_code e, ConnHandle h) {
    result->set_value({e, std::move(h)});
  });
  if (ec) return Error(ec, "dial " + std::string(address) + ": " + ec.message());
  auto [error, handle] = future.get();
  if (error) return Error(error, "dial " + std::string(address) + ": " + error.message());
  return handle;
}

Result<ConnHandle> Client::enroll(int fd) {
  if (!thread_ || core_->is_stopping()) return Error(Errc::engine_stopped, "enroll: client not running");
  int type = 0, domain = 0;
  socklen_t len = sizeof type;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) return system_error(errno, "enroll fd " + std::to_string(fd));
  len = sizeof domain;
  ::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len);
  Network network = domain == AF_UNIX ? (type == SOCK_SEQPACKET ? Network::unix_packet : Network::unix_stream)
                    : type == SOCK_DGRAM ? Network::udp
                                         : Network::tcp;
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) return system_error(errno, "enroll: O_NONBLOCK");
  detail::EventLoop* loop = &next_loop(*core_, next_loop_);
  auto result = std::make_shared<std::promise<ConnHandle>>();
  auto future = result->get_future();
  loop->load().fetch_add(1, std::memory_order_relaxed);
  bool posted = loop->post_task(
      [loop, fd, network, result] {
        detail::Connection* conn = loop->adopt(fd, network, -1, SocketAddress{}, network == Network::udp);
        result->set_value(conn ? ConnHandle(loop->mailbox(), conn->slot, conn->generation) : ConnHandle{});
      },
      true);
  if (!posted) {
    loop->load().fetch_sub(1, std::memory_order_relaxed);
    return Error(Errc::engine_stopped, "enroll: client stopping");
  }
  ConnHandle handle = future.get();
  if (handle.empty()) return Error(Errc::connection_closed, "enroll fd " + std::to_string(fd) + ": closed during on_open");
  return handle;
}

}  // namespace gnet
