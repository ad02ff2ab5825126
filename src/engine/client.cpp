// gnet::Client — an engine without listeners whose loops run on their own threads.
#include "gnet/client.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <future>
#include <string>
#include <string_view>

#include "engine/engine_core.hpp"
#include "engine/relay.hpp"
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

std::error_code Client::dial(std::string_view address, std::chrono::milliseconds timeout, Loop::DialDone on_done,
                             std::any context) {
  if (!thread_ || core_->is_stopping()) return make_error_code(Errc::engine_stopped);
  detail::EventLoop* loop = &next_loop(*core_, next_loop_);
  bool posted = loop->post_task([loop, address = std::string(address), timeout, done = std::move(on_done),
                                 context = std::move(context)]() mutable {
    loop->dial_from_loop(address, timeout, std::move(done), std::move(context));
  }, true);
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

namespace {

// A named FIFO (not an anonymous pipe, whose /proc link reads "pipe:[inode]"), as a path that
// reopens it.
bool is_named_fifo(int fd, std::string& proc_path) {
  proc_path = "/proc/self/fd/" + std::to_string(fd);
  char target[16];
  ssize_t n = ::readlink(proc_path.c_str(), target, sizeof target);
  return n > 0 && std::string_view(target, static_cast<std::size_t>(n)).substr(0, 5) != "pipe:";
}

}  // namespace

Result<ConnHandle> Client::enroll(int fd, EnrollOptions options) {
  if (!thread_ || core_->is_stopping()) return Error(Errc::engine_stopped, "enroll: client not running");
  const std::string what = "enroll fd " + std::to_string(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return system_error(errno, what);
  if (S_ISDIR(st.st_mode)) {
    return Error(std::make_error_code(std::errc::operation_not_permitted), what + ": a directory is not a stream");
  }
  const int status = ::fcntl(fd, F_GETFL);
  if (status < 0) return system_error(errno, what);

  Network network = Network::pipe;
  bool can_read = true, can_write = true, terminal = false, relay = false;
  int conn_fd = fd;
  int relay_end = -1;  // the relay threads' end of the socket pair
  if (S_ISSOCK(st.st_mode)) {
    int type = 0, domain = 0;
    socklen_t len = sizeof type;
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) return system_error(errno, what);
    len = sizeof domain;
    ::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len);
    network = domain == AF_UNIX ? (type == SOCK_SEQPACKET ? Network::unix_packet : Network::unix_stream)
              : type == SOCK_DGRAM ? Network::udp
                                   : Network::tcp;
    if (::fcntl(fd, F_SETFL, status | O_NONBLOCK) != 0) return system_error(errno, what + ": O_NONBLOCK");
  } else {
    const int access = status & O_ACCMODE;
    can_read = access != O_WRONLY;
    can_write = access != O_RDONLY;
    terminal = ::isatty(fd) == 1;
    // A regular file (stdin redirected from one, stdout to one) is always "ready" and its reads
    // wait for the disk: only a relay thread can serve it as a stream without blocking a loop.
    relay = S_ISREG(st.st_mode) || options.sharing == Sharing::shared ||
            (options.sharing == Sharing::automatic && (terminal || fd <= STDERR_FILENO));
    std::string proc_path;
    if (relay) {
      // The loop serves its end of a socket pair; the relay threads serve fd (engine/relay.hpp).
      auto pair = detail::Relay::make_pair();
      if (!pair) return pair.error();
      conn_fd = pair->first;
      network = Network::unix_stream;
      relay_end = pair->second;
    } else if (S_ISFIFO(st.st_mode) && access == O_RDONLY && is_named_fifo(fd, proc_path)) {
      // Read-write, through a new open file: the FIFO always has a writer (this one), so writers
      // leaving never end the input, and the next writer's bytes arrive.
      int reopened = ::open(proc_path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
      if (reopened < 0) return system_error(errno, what + ": reopen FIFO read-write");
      ::close(fd);
      conn_fd = reopened;
      can_write = false;  // what it wrote would come back as its own input
    } else if (::fcntl(fd, F_SETFL, status | O_NONBLOCK) != 0) {
      return system_error(errno, what + ": O_NONBLOCK");
    }
  }

  detail::EventLoop* loop = &next_loop(*core_, next_loop_);
  // What the loop made of it: a handle once on_open ran (stale if it closed again at once, as
  // a dial's), else why it never opened.
  struct Enrolled {
    ConnHandle handle;
    bool live = false;
    std::error_code error;
  };
  auto result = std::make_shared<std::promise<Enrolled>>();
  auto future = result->get_future();
  loop->load().fetch_add(1, std::memory_order_relaxed);
  const bool counts = relay && terminal && can_read;
  bool posted = loop->post_task(
      [loop, conn_fd, network, result, can_read, can_write, counts, context = std::move(options.context)]() mutable {
        detail::EventLoop::Adopted adopted =
            loop->adopt(conn_fd, network, -1, SocketAddress{}, [&](detail::Connection& c) {
              c.context() = std::move(context);
              c.set_direction(can_read, can_write);
              if (counts) c.count_input();
            });
        Enrolled enrolled;
        if (adopted.opened) {
          enrolled.handle = ConnHandle(loop->mailbox(), adopted.slot, adopted.generation);
          enrolled.live = adopted.live != nullptr;
        } else {
          enrolled.error = adopted.error ? adopted.error : make_error_code(Errc::connection_closed);
        }
        result->set_value(std::move(enrolled));
      },
      true);
  if (!posted) {
    loop->load().fetch_sub(1, std::memory_order_relaxed);
    if (relay) {
      ::close(conn_fd);
      ::close(relay_end);
    }
    return Error(Errc::engine_stopped, "enroll: client stopping");
  }
  Enrolled enrolled = future.get();
  ConnHandle handle = enrolled.handle;
  if (relay) {
    if (!enrolled.live) {  // never opened, or closed already: nothing to relay to
      ::close(relay_end);
      ::close(fd);
    } else {
      detail::RelayPlan plan{fd, can_read, can_write, terminal};
      std::shared_ptr<detail::Mailbox> mailbox = loop->mailbox();
      std::uint32_t slot = handle.slot(), generation = handle.generation();
      auto finished = detail::Relay::start(plan, relay_end,
                           [mailbox, loop, slot, generation](std::uint64_t at, UniqueFunction<void()> ack) {
                             // (A refused post drops ack with the task: the reader goes on.)
                             mailbox->post([loop, slot, generation, at, ack = std::move(ack)]() mutable {
                               if (detail::Connection* c = loop->find(slot, generation)) c->eof_mark(at, std::move(ack));
                             }, false);
                           });
      core_->keep_relay(std::move(finished));
    }
  }
  if (handle.empty()) return Error(enrolled.error, what + ": " + enrolled.error.message());
  return handle;
}

}  // namespace gnet
