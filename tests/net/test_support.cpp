#include "net/test_support.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <stdexcept>

namespace gnet::test {

Action BootProbe::on_boot(Engine& e) {
  Action a = inner_.on_boot(e);
  addresses = e.listen_addresses();
  booted.set_value(&e);
  return a;
}

void BootProbe::on_shutdown(Engine& e) {
  inner_.on_shutdown(e);
  std::lock_guard lock(engine_mu);
  engine_gone = true;
}

ServerThread::ServerThread(EventHandler& handler, std::vector<std::string> addresses, Options options)
    : probe_(handler) {
  auto booted = probe_.booted.get_future();
  std::promise<Result<void>> done;
  done_ = done.get_future();
  if (!options.logger) options.logger = stderr_logger(LogLevel::warn);
  thread_ = std::thread([this, addresses, options, done = std::move(done)]() mutable {
    auto r = rotate(probe_, addresses, options);
    done.set_value(r);
  });
  // Either boot happens or run() fails first.
  for (;;) {
    if (booted.wait_for(std::chrono::milliseconds(1)) == std::future_status::ready) {
      engine_ = booted.get();
      addresses_ = probe_.addresses;
      return;
    }
    if (done_.wait_for(std::chrono::milliseconds(0)) == std::future_status::ready) {
      result_ = done_.get();
      thread_.join();
      return;
    }
  }
}

ServerThread::~ServerThread() {
  if (thread_.joinable()) (void)stop();
}

std::uint16_t ServerThread::port(std::size_t listener) const { return addresses_.at(listener).port(); }

Result<void> ServerThread::stop() {
  {
    std::lock_guard lock(probe_.engine_mu);
    if (engine_ != nullptr && !probe_.engine_gone) engine_->stop();
  }
  return join();
}

Result<void> ServerThread::join() {
  if (thread_.joinable()) {
    result_ = done_.get();
    thread_.join();
  }
  return result_.value_or(Result<void>{});
}

int connect_tcp(std::uint16_t port, bool ipv6) {
  int fd = ::socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  int rc;
  if (ipv6) {
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(port);
    sa.sin6_addr = in6addr_loopback;
    rc = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  } else {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rc = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  }
  if (rc != 0) {
    int err = errno;
    ::close(fd);
    throw std::runtime_error(std::string("connect: ") + std::strerror(err));
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

int connect_unix(const std::string& path, int type) {
  int fd = ::socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  socklen_t len;
  if (!path.empty() && path[0] == '@') {
    std::memcpy(un.sun_path + 1, path.data() + 1, path.size() - 1);
    len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
  } else {
    std::memcpy(un.sun_path, path.data(), path.size());
    len = sizeof un;
  }
  if (::connect(fd, reinterpret_cast<sockaddr*>(&un), len) != 0) {
    int err = errno;
    ::close(fd);
    throw std::runtime_error(std::string("connect ") + path + ": " + std::strerror(err));
  }
  return fd;
}

void send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("send: ") + std::strerror(errno));
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

std::string recv_exact(int fd, std::size_t n, std::chrono::milliseconds stall) {
  std::string out;
  out.resize(n);
  std::size_t got = 0;
  while (got < n) {
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(stall.count()));
    if (r == 0) throw std::runtime_error("recv_exact: stalled after " + std::to_string(got) + " of " + std::to_string(n));
    if (r < 0) continue;
    ssize_t k = ::recv(fd, out.data() + got, n - got, 0);
    if (k == 0) throw std::runtime_error("recv_exact: EOF after " + std::to_string(got) + " of " + std::to_string(n));
    if (k < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      throw std::runtime_error(std::string("recv: ") + std::strerror(errno));
    }
    got += static_cast<std::size_t>(k);
  }
  return out;
}

bool wait_closed(int fd, std::chrono::milliseconds stall) {
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(stall.count()));
    if (r == 0) return false;
    if (r < 0) continue;
    ssize_t k = ::recv(fd, buf, sizeof buf, 0);
    if (k == 0) return true;
    if (k < 0 && errno != EINTR && errno != EAGAIN) return true;
  }
}

void close_fd(int fd) {
  if (fd >= 0) ::close(fd);
}

std::string random_bytes(std::size_t n, std::uint64_t seed) {
  std::string out(n, '\0');
  std::mt19937_64 rng(seed);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t v = rng();
    std::memcpy(out.data() + i, &v, 8);
  }
  std::uint64_t v = rng();
  std::memcpy(out.data() + i, &v, n - i);
  return out;
}

std::vector<std::string> run_echo_clients(std::uint16_t port, const std::vector<std::string>& payloads,
                                          std::chrono::seconds stall) {
  struct Client {
    int fd = -1;
    std::size_t sent = 0;
    std::size_t received = 0;
    bool done = false;
  };
  std::vector<std::string> failures;
  std::vector<Client> clients(payloads.size());
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  std::size_t remaining = payloads.size();
  for (std::size_t i = 0; i < payloads.size(); ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    if (rc != 0 && errno != EINPROGRESS) {
      failures.push_back("client " + std::to_string(i) + ": connect: " + std::strerror(errno));
      ::close(fd);
      clients[i].done = true;
      --remaining;
      continue;
    }
    clients[i].fd = fd;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.u64 = i;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }
  std::string buf(256 * 1024, '\0');
  epoll_event events[256];
  while (remaining > 0) {
    int n = ::epoll_wait(ep, events, 256, static_cast<int>(stall.count() * 1000));
    if (n == 0) {
      failures.push_back("stalled with " + std::to_string(remaining) + " clients unfinished");
      break;
    }
    for (int k = 0; k < n; ++k) {
      std::size_t i = events[k].data.u64;
      Client& c = clients[i];
      if (c.done) continue;
      const std::string& want = payloads[i];
      auto fail = [&](const std::string& why) {
        failures.push_back("client " + std::to_string(i) + ": " + why);
        c.done = true;
        --remaining;
        ::close(c.fd);
      };
      if ((events[k].events & EPOLLOUT) && c.sent < want.size()) {
        ssize_t w = ::send(c.fd, want.data() + c.sent, want.size() - c.sent, MSG_NOSIGNAL);
        if (w > 0) c.sent += static_cast<std::size_t>(w);
        if (w < 0 && errno != EAGAIN) {
          fail(std::string("send: ") + std::strerror(errno));
          continue;
        }
        if (c.sent == want.size()) {
          epoll_event ev{};
          ev.events = EPOLLIN;
          ev.data.u64 = i;
          ::epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
        }
      }
      if (events[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        ssize_t r = ::recv(c.fd, buf.data(), buf.size(), 0);
        if (r == 0) {
          fail("EOF after " + std::to_string(c.received) + " of " + std::to_string(want.size()) + " bytes");
          continue;
        }
        if (r < 0) {
          if (errno != EAGAIN) fail(std::string("recv: ") + std::strerror(errno));
          continue;
        }
        auto got = static_cast<std::size_t>(r);
        if (c.received + got > want.size() || std::memcmp(buf.data(), want.data() + c.received, got) != 0) {
          fail("echoed bytes differ at offset " + std::to_string(c.received));
          continue;
        }
        c.received += got;
        if (c.received == want.size()) {
          c.done = true;
          --remaining;
          ::close(c.fd);
        }
      }
    }
  }
  for (Client& c : clients) {
    if (!c.done) ::close(c.fd);
  }
  ::close(ep);
  return failures;
}

bool run_on_loop(Loop& loop, std::function<void()> fn) {
  std::promise<void> ran;
  if (loop.post([&] {
        fn();
        ran.set_value();
      })) {
    return false;
  }
  ran.get_future().wait();
  return true;
}

bool let_loop_turn(Loop& loop, int turns) {
  for (int i = 0; i < turns; ++i) {
    if (!run_on_loop(loop, [] {})) return false;
  }
  return true;
}

}  // namespace gnet::test
