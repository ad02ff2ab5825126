#include "engine/relay.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <future>
#include <memory>
#include <thread>

namespace gnet::detail {
namespace {

constexpr std::size_t kChunk = 16 * 1024;

// What both threads share; the last one out closes the descriptors.
struct RelayState {
  RelayPlan plan;
  int pair_end = -1;
  Relay::EofMark on_eof_mark;
  ~RelayState() {
    if (plan.fd >= 0) ::close(plan.fd);
    if (pair_end >= 0) ::close(pair_end);
  }
};

// Runs one relay thread's body, then counts it out (after its share of the state is released,
// so the descriptors are closed by the time the last one is counted out).
template <class Body>
void run_counted(std::shared_ptr<RelayState> state, std::shared_ptr<Relay::Finished> finished, Body body,
                 void (*count_out)(Relay::Finished&)) {
  body(std::move(state));
  count_out(*finished);
}

// A write to a pipe whose reader has gone raises SIGPIPE, which would end the process: these
// threads keep it blocked (the write then fails with EPIPE, and the pending signal dies with
// the thread).
void block_sigpipe() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

// Blocking send of all of data to the loop's end; false once that end is gone.
bool send_all(int sock, const char* data, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::send(sock, data, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

// Blocking write of all of data to the shared descriptor. If someone else made it non-blocking,
// wait for room instead of failing.
bool write_all(int fd, const char* data, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        pollfd p{fd, POLLOUT, 0};
        ::poll(&p, 1, -1);
        continue;
      }
      return false;
    }
    data += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

void reader(std::shared_ptr<RelayState> state) {
  block_sigpipe();
  const int fd = state->plan.fd, sock = state->pair_end;
  char buf[kChunk];
  std::uint64_t total = 0;
  for (;;) {
    // Waiting here, not in read(): the loop's end closing (POLLHUP on the pair) ends the thread
    // even while the terminal is silent.
    pollfd p[2] = {{fd, POLLIN, 0}, {sock, 0, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[1].revents & (POLLHUP | POLLERR | POLLNVAL)) return;  // the connection is gone
    if (p[0].revents == 0) continue;
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      break;  // EIO: the terminal hung up; anything else: the end too
    }
    if (n == 0) {
      // A terminal's zero-length read is the user's Ctrl-D: a mark, then read on. A hung-up
      // terminal also reads 0, for ever: POLLHUP tells it apart.
      if (state->plan.terminal && !(p[0].revents & POLLHUP)) {
        auto acked = std::make_shared<std::promise<void>>();
        auto heard = acked->get_future();
        state->on_eof_mark(total, [acked] { acked->set_value(); });
        heard.wait();  // also ends when the promise is dropped unfulfilled (connection closed)
        continue;
      }
      break;
    }
    if (!send_all(sock, buf, static_cast<std::size_t>(n))) return;
    total += static_cast<std::uint64_t>(n);
  }
  ::shutdown(sock, SHUT_WR);  // the loop's end hears an ordinary end of input
}

void writer(std::shared_ptr<RelayState> state) {
  block_sigpipe();
  const int fd = state->plan.fd, sock = state->pair_end;
  char buf[kChunk];
  for (;;) {
    ssize_t n = ::recv(sock, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the connection shut its write side or closed
    if (!write_all(fd, buf, static_cast<std::size_t>(n))) {
      // The shared descriptor refuses (its reader is gone): the connection's next write fails
      // with EPIPE, as it would on the descriptor itself.
      ::shutdown(sock, SHUT_RD);
      return;
    }
  }
}

}  // namespace

Result<std::pair<int, int>> Relay::make_pair() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return system_error(errno, "relay socketpair");
  int flags = ::fcntl(sv[0], F_GETFL);
  ::fcntl(sv[0], F_SETFL, flags | O_NONBLOCK);  // the loop's end; the relay's stays blocking
  return std::pair<int, int>{sv[0], sv[1]};
}

bool Relay::Finished::wait_until(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mu_);
  return cv_.wait_until(lock, deadline, [this] { return running_ == 0; });
}

std::shared_ptr<Relay::Finished> Relay::start(const RelayPlan& plan, int relay_end, EofMark on_eof_mark) {
  auto state = std::make_shared<RelayState>();
  state->plan = plan;
  state->pair_end = relay_end;
  state->on_eof_mark = std::move(on_eof_mark);
  auto finished = std::make_shared<Finished>();
  finished->running_ = (plan.read ? 1 : 0) + (plan.write ? 1 : 0);
  auto count_out = [](Finished& f) {
    std::lock_guard lock(f.mu_);
    --f.running_;
    f.cv_.notify_all();
  };
  // Detached: a writer stuck on a descriptor nobody drains must not hold the process; the
  // engine's wait is bounded instead.
  if (plan.read) std::thread(run_counted<decltype(&reader)>, state, finished, &reader, +count_out).detach();
  if (plan.write) std::thread(run_counted<decltype(&writer)>, state, finished, &writer, +count_out).detach();
  return finished;
}

}  // namespace gnet::detail
