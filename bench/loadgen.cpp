// loadgen — closed-loop echo load generator for the benchmark harness (issue 7).
//
// One thread, plain level-triggered epoll, non-blocking sockets; no gnet code, so it measures
// every server the same way. Each connection keeps `--pipeline` messages of `--size` bytes in
// flight: when one whole message has come back, the next one is sent. Every message is a slice
// of a 1 MiB pseudo-random block at an offset drawn from the connection's own PRNG, so each
// connection sends its own byte pattern and every echoed byte is checked against what was sent
// (a mismatching message counts as an error).
//
// Output: one JSON line on stdout. Latency is the round trip of each message (queued to fully
// echoed), kept in a log-bucketed (HDR-style) histogram with < 0.8 % bucket width. With
// --server-pid, the server's utime+stime from /proc/PID/stat is sampled at the start and the end
// of the measured window (after the warm-up), giving server CPU time per echoed message.
//
// Modes besides the default timed run:
//   --idle        open N connections, send nothing, print {"connected": N}, hold them until
//                 stdin closes or SIGTERM/SIGINT (idle-memory measurement).
//   --wait-start  connect, print {"connected": N}, start the load when a line arrives on stdin;
//                 after the run print the result and hold the connections until stdin closes
//                 (so a tracer attached meanwhile sees only the echo traffic). Implies --drain.
//   --drain       at the end stop sending and wait for every in-flight message (counted).
//   --rate N      fixed offered rate instead of the closed loop: N messages/s in total, paced
//                 per connection (message g is due at start + g/N on connection g mod conns, so
//                 every connection sends N/conns per second, the connections evenly staggered).
//                 A timerfd ticks every --tick-us and sends what has come due; --pipeline is
//                 then the most messages one connection may have in flight: a due message that
//                 does not fit waits (counted in the backlog) and goes out as soon as an echo
//                 frees a slot. Latency is measured from the message's scheduled time, not from
//                 when it was written, so a server that falls behind shows it in the percentiles
//                 (no coordinated omission). The result adds offered_rate, backlog_max and
//                 backlog_end (due messages never sent: the offered rate was not sustained).
//   --udp         datagrams over --conns connected UDP sockets (see UdpLoadGen below): the same
//                 closed loop and --rate pacing, every echoed byte checked, lost datagrams
//                 counted ("lost") rather than treated as errors.
#include <CLI/CLI.hpp>

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

std::uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// HDR-style histogram: values below 2^kSubBits are exact; above, each power of two is split in
// 2^(kSubBits-1) equal sub-buckets (relative bucket width 1/128).
class Histogram {
 public:
  static constexpr unsigned kSubBits = 8;
  static constexpr std::uint64_t kSub = 1ULL << kSubBits;
  static constexpr std::uint64_t kHalf = kSub / 2;

  Histogram() : counts_(index(~0ULL) + 1, 0) {}

  void record(std::uint64_t v) {
    ++counts_[index(v)];
    ++total_;
    sum_ += v;
    max_ = std::max(max_, v);
  }
  void reset() {
    std::fill(counts_.begin(), counts_.end(), 0);
    total_ = sum_ = max_ = 0;
  }
  std::uint64_t total() const { return total_; }
  std::uint64_t max() const { return max_; }
  double mean() const { return total_ ? static_cast<double>(sum_) / static_cast<double>(total_) : 0.0; }

  // Value at quantile q (0..1): the midpoint of the bucket holding the ceil(q*total)-th value.
  std::uint64_t quantile(double q) const {
    if (total_ == 0) return 0;
    auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total_) + 0.999999);
    rank = std::clamp<std::uint64_t>(rank, 1, total_);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank) {
        auto [lo, width] = bucket(i);
        return std::min(lo + (width - 1) / 2, max_);
      }
    }
    return max_;
  }

 private:
  static std::size_t index(std::uint64_t v) {
    if (v < kSub) return static_cast<std::size_t>(v);
    unsigned e = 63U - static_cast<unsigned>(std::countl_zero(v));  // >= kSubBits
    unsigned shift = e - kSubBits + 1;
    std::uint64_t m = v >> shift;  // in [kHalf, kSub)
    return static_cast<std::size_t>(kSub + (shift - 1) * kHalf + (m - kHalf));
  }
  static std::pair<std::uint64_t, std::uint64_t> bucket(std::size_t i) {
    if (i < kSub) return {i, 1};
    std::uint64_t k = i - kSub;
    unsigned shift = static_cast<unsigned>(k / kHalf) + 1;
    std::uint64_t m = k % kHalf + kHalf;
    return {m << shift, 1ULL << shift};
  }

  std::vector<std::uint64_t> counts_;
  std::uint64_t total_ = 0, sum_ = 0, max_ = 0;
};

struct CpuSample {
  bool ok = false;
  std::uint64_t utime_ticks = 0, stime_ticks = 0;  // /proc/PID/stat (whole thread group)
  std::uint64_t sched_ns = 0;                       // sum of /proc/PID/task/*/schedstat
};

bool read_file(const std::string& path, std::string& out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  out.clear();
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return true;
}

CpuSample sample_cpu(int pid) {
  CpuSample s;
  if (pid <= 0) return s;
  std::string stat;
  if (!read_file("/proc/" + std::to_string(pid) + "/stat", stat)) return s;
  auto rp = stat.rfind(')');
  if (rp == std::string::npos) return s;
  // Fields after "(comm)": 3 state, 4 ppid, ... 14 utime, 15 stime.
  std::vector<std::string> f;
  std::size_t i = rp + 2;
  while (i < stat.size() && f.size() < 13) {
    std::size_t j = stat.find(' ', i);
    if (j == std::string::npos) j = stat.size();
    f.push_back(stat.substr(i, j - i));
    i = j + 1;
  }
  if (f.size() < 13) return s;
  s.utime_ticks = std::stoull(f[11]);
  s.stime_ticks = std::stoull(f[12]);
  s.ok = true;
  std::string dir = "/proc/" + std::to_string(pid) + "/task";
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] == '.') continue;
      std::string ss;
      if (read_file(dir + "/" + e->d_name + "/schedstat", ss) && !ss.empty()) s.sched_ns += std::stoull(ss);
    }
    ::closedir(d);
  }
  return s;
}

double self_cpu_s() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

void raise_nofile(std::size_t want) {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want)
    std::fprintf(stderr, "loadgen: warning: RLIMIT_NOFILE hard limit %llu < %zu needed\n",
                 static_cast<unsigned long long>(rl.rlim_cur), want);
}

constexpr std::uint64_t kStdinTag = ~0ULL;
constexpr std::uint64_t kTimerTag = ~0ULL - 1;
constexpr std::size_t kBlock = 1 << 20;
constexpr std::size_t kReadBuf = 64 * 1024;

struct InFlight {
  std::uint32_t off;  // offset of the message's bytes in the pattern block
  std::uint64_t t;    // when it was queued
};

struct Conn {
  int fd = -1;
  bool connected = false;
  bool want_out = false;
  bool bad = false;         // the oldest in-flight message has a mismatching byte
  std::uint64_t rng = 0;    // per-connection pattern PRNG
  std::uint32_t head = 0;   // ring index of the oldest in-flight message
  std::uint32_t count = 0;  // messages in flight (queued or sent, not fully echoed)
  std::uint32_t rpos = 0;   // bytes of the oldest message received so far
  std::vector<char> out;    // bytes the kernel refused (rarely used)
  std::size_t out_off = 0;
  // --rate only: messages that came due but found the window (--pipeline) full, and how many
  // paced messages this connection has written (its k-th is due at start + (k*conns + i)/rate).
  std::uint64_t backlog = 0;
  std::uint64_t paced_sent = 0;
  bool dirty = false;  // has new due messages in this tick
};

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::size_t conns = 1;
  std::size_t size = 64;
  std::size_t pipeline = 1;
  double duration = 5.0;
  double warmup = 1.0;
  int server_pid = 0;
  bool idle = false;
  bool wait_start = false;
  bool drain = false;
  double rate = 0.0;     // messages/s in total; 0 = closed loop
  double tick_us = 50.0;  // pacing timer period with --rate
  std::size_t connect_batch = 256;
  double connect_timeout = 60.0;
  bool udp = false;          // datagrams instead of TCP (UdpLoadGen)
  double udp_loss_ms = 200;  // --udp: in-flight datagrams that have not moved for this long are lost
};

class LoadGen {
 public:
  explicit LoadGen(const Options& o) : o_(o) {}

  int run() {
    std::signal(SIGPIPE, SIG_IGN);
    struct sigaction sa{};
    sa.sa_handler = on_signal;  // no SA_RESTART: epoll_wait returns EINTR
    ::sigaction(SIGTERM, &sa, nullptr);
    ::sigaction(SIGINT, &sa, nullptr);
    raise_nofile(o_.conns + 64);

    if (!resolve()) return 2;
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) return perror_ret("epoll_create1");

    block_.resize(kBlock + o_.size);
    std::uint64_t seed = 0x6E65746763707021ULL;
    for (std::size_t i = 0; i < block_.size(); i += 8) {
      std::uint64_t v = splitmix64(seed);
      std::memcpy(block_.data() + i, &v, std::min<std::size_t>(8, block_.size() - i));
    }
    inflight_.resize(o_.conns * o_.pipeline);
    scratch_.resize(o_.pipeline * o_.size);
    rbuf_.resize(kReadBuf);

    conns_.resize(o_.conns);
    for (std::size_t i = 0; i < o_.conns; ++i) conns_[i].rng = (0xC0FFEEULL * (i + 1)) ^ 0x5EEDULL;

    connect_all();
    if (connected_ == 0) {
      std::printf("{\"error\": \"no connection could be established\", \"connect_errors\": %llu}\n",
                  ull(connect_errors_));
      return 1;
    }

    if (o_.idle) return hold_idle();

    if (o_.wait_start) {
      std::printf("{\"connected\": %zu}\n", connected_);
      std::fflush(stdout);
      watch_stdin();
      if (!wait_for_go()) return 0;
    }
    run_load();
    print_result();
    if (o_.wait_start) hold_until_stdin_eof();
    return 0;
  }

 private:
  static unsigned long long ull(std::uint64_t v) { return static_cast<unsigned long long>(v); }
  static int perror_ret(const char* what) {
    std::perror(what);
    return 2;
  }

  bool resolve() {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    std::string port = std::to_string(o_.port);
    if (int rc = ::getaddrinfo(o_.host.c_str(), port.c_str(), &hints, &res); rc != 0 || !res) {
      std::fprintf(stderr, "loadgen: cannot resolve %s: %s\n", o_.host.c_str(), ::gai_strerror(rc));
      return false;
    }
    std::memcpy(&addr_, res->ai_addr, res->ai_addrlen);
    addrlen_ = res->ai_addrlen;
    family_ = res->ai_family;
    ::freeaddrinfo(res);
    return true;
  }

  void ctl(int op, int fd, std::uint32_t events, std::uint64_t tag) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = tag;
    ::epoll_ctl(ep_, op, fd, &ev);
  }

  void close_conn(Conn& c) {
    if (c.fd >= 0) ::close(c.fd);
    c.fd = -1;
    if (c.connected) --alive_;
    c.connected = false;
    c.count = 0;
    backlog_total_ -= c.backlog;
    c.backlog = 0;
  }

  void on_connected(std::size_t i, bool registered) {
    Conn& c = conns_[i];
    c.connected = true;
    ++connected_;
    ++alive_;
    ctl(registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c.fd, EPOLLIN, i);
  }

  // Non-blocking connects, at most connect_batch outstanding, so the server's accept backlog is
  // never overrun (an overrun SYN is retried by the kernel only after a second).
  void connect_all() {
    std::size_t next = 0, pending = 0;
    const std::uint64_t deadline = now_ns() + static_cast<std::uint64_t>(o_.connect_timeout * 1e9);
    std::vector<epoll_event> evs(1024);
    while (next < o_.conns || pending > 0) {
      while (pending < o_.connect_batch && next < o_.conns) {
        std::size_t i = next++;
        Conn& c = conns_[i];
        c.fd = ::socket(family_, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c.fd < 0) {
          if (connect_errors_++ == 0) std::perror("loadgen: socket");
          continue;
        }
        int one = 1;
        ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        int rc = ::connect(c.fd, reinterpret_cast<sockaddr*>(&addr_), addrlen_);
        if (rc == 0) {
          on_connected(i, false);
        } else if (errno == EINPROGRESS) {
          ctl(EPOLL_CTL_ADD, c.fd, EPOLLOUT, i);
          ++pending;
        } else {
          if (connect_errors_++ == 0) std::perror("loadgen: connect");
          ::close(c.fd);
          c.fd = -1;
        }
      }
      if (pending == 0) continue;
      if (now_ns() > deadline || g_stop) {
        for (auto& c : conns_)
          if (c.fd >= 0 && !c.connected) {
            ::close(c.fd);
            c.fd = -1;
            ++connect_errors_;
          }
        std::fprintf(stderr, "loadgen: connect phase timed out/interrupted\n");
        return;
      }
      int n = ::epoll_wait(ep_, evs.data(), static_cast<int>(evs.size()), 100);
      for (int k = 0; k < n; ++k) {
        std::size_t i = evs[k].data.u64;
        Conn& c = conns_[i];
        if (c.connected || c.fd < 0) continue;
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        --pending;
        if (err == 0) {
          on_connected(i, true);
        } else {
          if (connect_errors_++ == 0) std::fprintf(stderr, "loadgen: connect: %s\n", std::strerror(err));
          ::close(c.fd);
          c.fd = -1;
        }
      }
    }
  }

  void watch_stdin() {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kStdinTag;
    stdin_watched_ = ::epoll_ctl(ep_, EPOLL_CTL_ADD, STDIN_FILENO, &ev) == 0;
  }

  // Returns 1 on a line, 0 on EOF/error, -1 when nothing complete yet.
  int read_stdin() {
    char buf[256];
    ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) return -1;
      ::epoll_ctl(ep_, EPOLL_CTL_DEL, STDIN_FILENO, nullptr);
      stdin_watched_ = false;
      return 0;
    }
    return std::memchr(buf, '\n', static_cast<std::size_t>(n)) ? 1 : -1;
  }

  bool wait_for_go() {
    if (!stdin_watched_) return true;  // stdin not pollable: start at once
    std::vector<epoll_event> evs(64);
    while (!g_stop) {
      int n = ::epoll_wait(ep_, evs.data(), static_cast<int>(evs.size()), -1);
      for (int k = 0; k < n; ++k) {
        if (evs[k].data.u64 == kStdinTag) {
          int r = read_stdin();
          if (r == 1) return true;
          if (r == 0) return false;
        } else {
          on_idle_event(evs[k]);
        }
      }
    }
    return false;
  }

  // An idle connection became readable: the server sent something or closed it.
  void on_idle_event(const epoll_event& ev) {
    Conn& c = conns_[ev.data.u64];
    if (c.fd < 0) return;
    ssize_t n = ::read(c.fd, rbuf_.data(), rbuf_.size());
    if (n > 0) {
      unexpected_bytes_ += static_cast<std::uint64_t>(n);
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
      ++conn_errors_;
      close_conn(c);
    }
  }

  int hold_idle() {
    std::printf("{\"connected\": %zu}\n", connected_);
    std::fflush(stdout);
    watch_stdin();
    std::vector<epoll_event> evs(1024);
    while (!g_stop) {
      int n = ::epoll_wait(ep_, evs.data(), static_cast<int>(evs.size()), -1);
      for (int k = 0; k < n; ++k) {
        if (evs[k].data.u64 == kStdinTag) {
          if (read_stdin() == 0) g_stop = 1;
        } else {
          on_idle_event(evs[k]);
        }
      }
    }
    if (conn_errors_ || unexpected_bytes_)
      std::fprintf(stderr, "loadgen: idle: %llu connections closed by the server, %llu unexpected bytes\n",
                   ull(conn_errors_), ull(unexpected_bytes_));
    return 0;
  }

  void hold_until_stdin_eof() {
    if (!stdin_watched_) return;
    std::vector<epoll_event> evs(64);
    while (!g_stop && stdin_watched_) {
      int n = ::epoll_wait(ep_, evs.data(), static_cast<int>(evs.size()), -1);
      for (int k = 0; k < n; ++k) {
        if (evs[k].data.u64 == kStdinTag) {
          read_stdin();
        } else {
          on_idle_event(evs[k]);
        }
      }
    }
  }

  // Queue k new messages on c: one write for all of them; what the kernel refuses waits in c.out.
  // due(m) is the time the m-th of them counts from (now in the closed loop, its slot with --rate).
  template <class DueTime>
  void send_msgs(std::size_t i, std::size_t k, DueTime due) {
    Conn& c = conns_[i];
    InFlight* ring = &inflight_[i * o_.pipeline];
    char* p = scratch_.data();
    for (std::size_t m = 0; m < k; ++m) {
      auto off = static_cast<std::uint32_t>((splitmix64(c.rng) >> 11) % kBlock);
      ring[(c.head + c.count) % o_.pipeline] = InFlight{off, due(m)};
      ++c.count;
      std::memcpy(p, block_.data() + off, o_.size);
      p += o_.size;
    }
    std::size_t len = static_cast<std::size_t>(p - scratch_.data());
    if (c.want_out) {
      c.out.insert(c.out.end(), scratch_.data(), p);
      return;
    }
    ssize_t w = ::write(c.fd, scratch_.data(), len);
    if (w < 0) {
      if (errno != EAGAIN) {
        ++conn_errors_;
        close_conn(c);
        return;
      }
      w = 0;
    }
    if (static_cast<std::size_t>(w) < len) {
      c.out.assign(scratch_.data() + w, p);
      c.out_off = 0;
      c.want_out = true;
      ctl(EPOLL_CTL_MOD, c.fd, EPOLLIN | EPOLLOUT, i);
    }
  }

  void send_new(std::size_t i, std::size_t k, std::uint64_t now) {
    send_msgs(i, k, [now](std::size_t) { return now; });
  }

  // --rate: writes as many of connection i's due messages as its window has room for.
  void send_backlog(std::size_t i) {
    Conn& c = conns_[i];
    if (c.fd < 0 || !c.connected) return;
    std::uint64_t room = o_.pipeline - c.count;
    auto k = static_cast<std::size_t>(std::min<std::uint64_t>(c.backlog, room));
    if (k == 0) return;
    const std::uint64_t first = c.paced_sent;
    const double conns = static_cast<double>(conns_.size());
    send_msgs(i, k, [&](std::size_t m) {
      const double g = static_cast<double>(first + m) * conns + static_cast<double>(i);
      return pace_start_ + static_cast<std::uint64_t>(g * 1e9 / o_.rate);
    });
    c.backlog -= k;
    backlog_total_ -= k;
    c.paced_sent += k;
  }

  // --rate: hands every message due by now to its connection, round-robin in slot order.
  void on_tick(std::uint64_t now) {
    std::uint64_t expirations = 0;
    while (::read(timer_fd_, &expirations, sizeof expirations) > 0) {
    }
    if (!generating_) return;
    const auto due_total = static_cast<std::uint64_t>(static_cast<double>(now - pace_start_) * o_.rate / 1e9) + 1;
    dirty_.clear();
    for (; scheduled_ < due_total; ++scheduled_) {
      const std::size_t i = scheduled_ % conns_.size();
      Conn& c = conns_[i];
      if (!c.connected) continue;  // a lost connection's slots are not offered (it counts as an error)
      ++c.backlog;
      ++backlog_total_;
      if (!c.dirty) {
        c.dirty = true;
        dirty_.push_back(i);
      }
    }
    backlog_max_ = std::max(backlog_max_, backlog_total_);
    for (std::size_t i : dirty_) {
      conns_[i].dirty = false;
      send_backlog(i);
    }
  }

  bool start_timer() {
    timer_fd_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (timer_fd_ < 0) return false;
    const auto period = static_cast<long>(o_.tick_us * 1e3);
    itimerspec its{};
    its.it_interval.tv_sec = period / 1'000'000'000L;
    its.it_interval.tv_nsec = period % 1'000'000'000L;
    its.it_value = its.it_interval;
    if (::timerfd_settime(timer_fd_, 0, &its, nullptr) != 0) return false;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kTimerTag;
    return ::epoll_ctl(ep_, EPOLL_CTL_ADD, timer_fd_, &ev) == 0;
  }

  void flush_out(std::size_t i) {
    Conn& c = conns_[i];
    while (c.out_off < c.out.size()) {
      ssize_t w = ::write(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off);
      if (w < 0) {
        if (errno == EAGAIN) return;
        ++conn_errors_;
        close_conn(c);
        return;
      }
      c.out_off += static_cast<std::size_t>(w);
    }
    c.out.clear();
    c.out_off = 0;
    c.want_out = false;
    ctl(EPOLL_CTL_MOD, c.fd, EPOLLIN, i);
  }

  // Checks echoed bytes against the oldest in-flight messages; returns how many completed.
  std::size_t consume(std::size_t i, const char* data, std::size_t n, std::uint64_t now) {
    Conn& c = conns_[i];
    InFlight* ring = &inflight_[i * o_.pipeline];
    std::size_t done = 0;
    while (n > 0) {
      if (c.count == 0) {
        unexpected_bytes_ += n;
        ++errors_other_;
        return done;
      }
      const InFlight& f = ring[c.head];
      std::size_t take = std::min(n, o_.size - c.rpos);
      const char* want = block_.data() + f.off + c.rpos;
      if (std::memcmp(data, want, take) != 0) {
        c.bad = true;
        for (std::size_t b = 0; b < take; ++b) mismatched_bytes_ += data[b] != want[b];
      }
      c.rpos += static_cast<std::uint32_t>(take);
      data += take;
      n -= take;
      if (c.rpos == o_.size) {
        if (c.bad) {
          ++mismatched_msgs_;
        } else if (measuring_) {
          hist_.record(now > f.t ? now - f.t : 0);  // a --rate slot time can round past `now`
          ++messages_;
        }
        c.bad = false;
        c.rpos = 0;
        c.head = static_cast<std::uint32_t>((c.head + 1) % o_.pipeline);
        --c.count;
        ++done;
      }
    }
    return done;
  }

  void on_event(const epoll_event& ev) {
    std::size_t i = ev.data.u64;
    Conn& c = conns_[i];
    if (c.fd < 0) return;
    if (ev.events & EPOLLOUT) {
      flush_out(i);
      if (c.fd < 0) return;
    }
    if (!(ev.events & (EPOLLIN | EPOLLERR | EPOLLHUP))) return;
    std::size_t completed = 0;
    std::uint64_t now = 0;
    for (int rounds = 0; rounds < 4; ++rounds) {
      ssize_t n = ::read(c.fd, rbuf_.data(), rbuf_.size());
      if (n > 0) {
        now = now_ns();
        completed += consume(i, rbuf_.data(), static_cast<std::size_t>(n), now);
        if (static_cast<std::size_t>(n) < rbuf_.size()) break;
      } else {
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
        ++conn_errors_;  // closed by the server or reset: the messages in flight are lost
        close_conn(c);
        return;
      }
    }
    if (completed > 0 && generating_) {
      if (o_.rate > 0)
        send_backlog(i);
      else
        send_new(i, completed, now);
    }
  }

  void run_load() {
    std::uint64_t t0 = now_ns();
    if (o_.rate > 0) {
      pace_start_ = t0;
      if (!start_timer()) {
        std::perror("loadgen: timerfd");
        return;
      }
    } else {
      for (std::size_t i = 0; i < conns_.size(); ++i)
        if (conns_[i].connected) send_new(i, o_.pipeline, t0);
    }
    const auto warm_end = t0 + static_cast<std::uint64_t>(o_.warmup * 1e9);
    const auto run_end = warm_end + static_cast<std::uint64_t>(o_.duration * 1e9);
    const bool drain = o_.drain || o_.wait_start;
    std::uint64_t drain_end = 0;
    generating_ = true;
    if (o_.warmup <= 0) start_window();
    std::vector<epoll_event> evs(1024);
    for (;;) {
      std::uint64_t now = now_ns();
      if (!measuring_ && now >= warm_end) start_window();
      if (generating_ && (now >= run_end || g_stop)) {
        generating_ = false;
        backlog_end_ = backlog_total_;
        if (!drain || g_stop) break;
        drain_end = now + 5'000'000'000ULL;
      }
      if (!generating_) {
        bool idle = true;
        for (auto& c : conns_)
          if (c.connected && c.count > 0) {
            idle = false;
            break;
          }
        if (idle || now >= drain_end || g_stop) {
          if (!idle) std::fprintf(stderr, "loadgen: drain timed out\n");
          break;
        }
      }
      std::uint64_t next = !measuring_ ? warm_end : generating_ ? run_end : drain_end;
      int timeout_ms = next > now ? static_cast<int>((next - now) / 1'000'000) + 1 : 0;
      int n = ::epoll_wait(ep_, evs.data(), static_cast<int>(evs.size()), timeout_ms);
      for (int k = 0; k < n; ++k) {
        if (evs[k].data.u64 == kStdinTag) {
          if (read_stdin() == 0) g_stop = 1;
          continue;
        }
        if (evs[k].data.u64 == kTimerTag) {
          on_tick(now_ns());
          continue;
        }
        on_event(evs[k]);
      }
      if (alive_ == 0) {
        std::fprintf(stderr, "loadgen: every connection was closed\n");
        break;
      }
    }
    if (timer_fd_ >= 0) {  // closing it also takes it out of the epoll set (--wait-start holds on)
      ::close(timer_fd_);
      timer_fd_ = -1;
    }
    end_window();
  }

  void start_window() {
    measuring_ = true;
    hist_.reset();
    messages_ = 0;
    w_start_ = now_ns();
    cpu_start_ = sample_cpu(o_.server_pid);
    self_start_ = self_cpu_s();
  }
  void end_window() {
    if (!measuring_) start_window();
    w_end_ = now_ns();
    cpu_end_ = sample_cpu(o_.server_pid);
    self_end_ = self_cpu_s();
  }

  void print_result() {
    const double secs = static_cast<double>(w_end_ - w_start_) / 1e9;
    const double msgs = static_cast<double>(messages_);
    const std::uint64_t errors = mismatched_msgs_ + conn_errors_ + connect_errors_ + errors_other_;
    std::string out = "{";
    auto num = [&](const char* k, double v, int prec) {
      char b[96];
      std::snprintf(b, sizeof b, "\"%s\": %.*f, ", k, prec, v);
      out += b;
    };
    auto integer = [&](const char* k, std::uint64_t v) {
      char b[96];
      std::snprintf(b, sizeof b, "\"%s\": %llu, ", k, ull(v));
      out += b;
    };
    integer("conns", o_.conns);
    integer("connected", connected_);
    integer("size", o_.size);
    integer("pipeline", o_.pipeline);
    if (o_.rate > 0) {
      num("offered_rate", o_.rate, 1);
      integer("backlog_max", backlog_max_);
      integer("backlog_end", backlog_end_);
    }
    num("duration_s", secs, 3);
    integer("messages", messages_);
    num("msgs_per_s", secs > 0 ? msgs / secs : 0, 1);
    num("mb_per_s", secs > 0 ? msgs * static_cast<double>(o_.size) / secs / 1e6 : 0, 3);
    num("p50_us", static_cast<double>(hist_.quantile(0.50)) / 1e3, 2);
    num("p90_us", static_cast<double>(hist_.quantile(0.90)) / 1e3, 2);
    num("p99_us", static_cast<double>(hist_.quantile(0.99)) / 1e3, 2);
    num("p999_us", static_cast<double>(hist_.quantile(0.999)) / 1e3, 2);
    num("max_us", static_cast<double>(hist_.max()) / 1e3, 2);
    num("mean_us", hist_.mean() / 1e3, 2);
    integer("errors", errors);
    integer("mismatched_msgs", mismatched_msgs_);
    integer("mismatched_bytes", mismatched_bytes_);
    integer("unexpected_bytes", unexpected_bytes_);
    integer("conn_errors", conn_errors_);
    integer("connect_errors", connect_errors_);
    num("loadgen_cpu_pct", secs > 0 ? 100.0 * (self_end_ - self_start_) / secs : 0, 1);
    if (o_.server_pid > 0 && cpu_start_.ok && cpu_end_.ok) {
      const double tick_us = 1e6 / static_cast<double>(::sysconf(_SC_CLK_TCK));
      const double ut = static_cast<double>(cpu_end_.utime_ticks - cpu_start_.utime_ticks) * tick_us;
      const double st = static_cast<double>(cpu_end_.stime_ticks - cpu_start_.stime_ticks) * tick_us;
      const double sched_us = static_cast<double>(cpu_end_.sched_ns - cpu_start_.sched_ns) / 1e3;
      integer("server_pid", static_cast<std::uint64_t>(o_.server_pid));
      num("server_utime_us", ut, 0);
      num("server_stime_us", st, 0);
      num("server_cpu_pct", secs > 0 ? (ut + st) / 1e4 / secs : 0, 1);
      num("server_cpu_us_per_msg_sched", msgs > 0 ? sched_us / msgs : 0, 4);
      num("server_cpu_us_per_msg", msgs > 0 ? (ut + st) / msgs : 0, 4);
    } else if (o_.server_pid > 0) {
      out += "\"server_cpu_us_per_msg\": null, ";
    }
    out.resize(out.size() - 2);
    out += "}\n";
    std::fputs(out.c_str(), stdout);
    std::fflush(stdout);
  }

  Options o_;
  sockaddr_storage addr_{};
  socklen_t addrlen_ = 0;
  int family_ = AF_INET;
  int ep_ = -1;
  bool stdin_watched_ = false;
  std::vector<char> block_, scratch_, rbuf_;
  std::vector<InFlight> inflight_;
  std::vector<Conn> conns_;
  // --rate pacing state: the schedule's origin, global slots handed out, backlog bookkeeping.
  int timer_fd_ = -1;
  std::uint64_t pace_start_ = 0, scheduled_ = 0;
  std::uint64_t backlog_total_ = 0, backlog_max_ = 0, backlog_end_ = 0;
  std::vector<std::size_t> dirty_;
  std::size_t connected_ = 0, alive_ = 0;
  bool measuring_ = false, generating_ = false;
  Histogram hist_;
  std::uint64_t messages_ = 0, mismatched_msgs_ = 0, mismatched_bytes_ = 0, unexpected_bytes_ = 0;
  std::uint64_t conn_errors_ = 0, connect_errors_ = 0, errors_other_ = 0;
  std::uint64_t w_start_ = 0, w_end_ = 0;
  CpuSample cpu_start_, cpu_end_;
  double self_start_ = 0, self_end_ = 0;
};

// --udp: the same measurement over datagrams. Each "connection" is a UDP socket connect()ed to
// the server (so the server sees --conns distinct senders); each message is one datagram of
// --size bytes (at least 16): socket index and a per-socket sequence number up front, then bytes
// of the pattern block at an offset derived from both, so every echoed byte is checked without
// storing what was sent. Closed loop: --pipeline datagrams in flight per socket, sent with one
// sendmmsg per refill, received with recvmmsg. --rate paces as in TCP mode.
//
// UDP may lose datagrams (a full socket buffer anywhere): a datagram that comes back after a
// later one of its socket was already echoed marks the ones before it lost, and a socket whose
// datagrams have not moved for --udp-loss-ms counts everything it has in flight as lost and
// sends anew. Losses are reported as "lost" (not as errors: UDP promises no delivery), and a
// run whose loss is not small says so in the harness's table.
class UdpLoadGen {
 public:
  explicit UdpLoadGen(const Options& o) : o_(o) {}

  int run() {
    struct sigaction sa{};
    sa.sa_handler = on_signal;
    ::sigaction(SIGTERM, &sa, nullptr);
    ::sigaction(SIGINT, &sa, nullptr);
    raise_nofile(o_.conns + 64);
    if (o_.size < kHeader || o_.size > 65507) {
      std::fprintf(stderr, "loadgen: --udp needs --size between %zu and 65507\n", kHeader);
      return 2;
    }
    if (!resolve()) return 2;
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    block_.resize(kBlock + o_.size);
    std::uint64_t seed = 0x6E65746763707021ULL;
    for (std::size_t i = 0; i < block_.size(); i += 8) {
      std::uint64_t v = splitmix64(seed);
      std::memcpy(block_.data() + i, &v, std::min<std::size_t>(8, block_.size() - i));
    }
    socks_.resize(o_.conns);
    ring_.resize(o_.conns * o_.pipeline);
    out_.resize(o_.pipeline * o_.size);
    in_.resize(kRecvBatch * (o_.size + 1));
    for (std::size_t i = 0; i < o_.conns; ++i) {
      Sock& s = socks_[i];
      s.fd = ::socket(family_, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      int big = 4 << 20;
      ::setsockopt(s.fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
      ::setsockopt(s.fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
      if (s.fd < 0 || ::connect(s.fd, reinterpret_cast<sockaddr*>(&addr_), addrlen_) != 0) {
        std::perror("loadgen: udp socket/connect");
        return 2;
      }
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = i;
      ::epoll_ctl(ep_, EPOLL_CTL_ADD, s.fd, &ev);
    }
    run_load();
    print_result();
    return 0;
  }

 private:
  static constexpr std::size_t kHeader = 16;
  static constexpr std::size_t kRecvBatch = 64;
  struct Sent {
    std::uint64_t seq;
    std::uint64_t t;  // when it counts from (sent, or its --rate slot)
  };
  struct Sock {
    int fd = -1;
    std::uint64_t next_seq = 0;
    std::uint32_t head = 0, count = 0;  // ring of in-flight datagrams
    std::uint64_t progress_ns = 0;      // last echo (or first send) time
    std::uint64_t backlog = 0, paced_sent = 0;
    bool dirty = false;
  };

  static unsigned long long ull(std::uint64_t v) { return static_cast<unsigned long long>(v); }

  bool resolve() {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    addrinfo* res = nullptr;
    std::string port = std::to_string(o_.port);
    if (int rc = ::getaddrinfo(o_.host.c_str(), port.c_str(), &hints, &res); rc != 0 || !res) {
      std::fprintf(stderr, "loadgen: cannot resolve %s: %s\n", o_.host.c_str(), ::gai_strerror(rc));
      return false;
    }
    std::memcpy(&addr_, res->ai_addr, res->ai_addrlen);
    addrlen_ = res->ai_addrlen;
    family_ = res->ai_family;
    ::freeaddrinfo(res);
    return true;
  }

  std::size_t offset(std::size_t sock, std::uint64_t seq) const {
    std::uint64_t st = (static_cast<std::uint64_t>(sock) << 40) ^ seq ^ 0xA5A5A5A5ULL;
    return static_cast<std::size_t>(splitmix64(st) % kBlock);
  }
  void fill(char* p, std::size_t sock, std::uint64_t seq) const {
    const std::uint64_t id = sock;
    std::memcpy(p, &id, 8);
    std::memcpy(p + 8, &seq, 8);
    std::memcpy(p + kHeader, block_.data() + offset(sock, seq), o_.size - kHeader);
  }

  // k new datagrams on socket i, in one sendmmsg; due(m) is when the m-th counts from.
  template <class Due>
  void send_msgs(std::size_t i, std::size_t k, Due due) {
    Sock& s = socks_[i];
    Sent* ring = &ring_[i * o_.pipeline];
    mmsghdr msgs[256];
    iovec iov[256];
    k = std::min<std::size_t>(k, 256);
    for (std::size_t m = 0; m < k; ++m) {
      char* p = out_.data() + m * o_.size;
      const std::uint64_t seq = s.next_seq++;
      fill(p, i, seq);
      ring[(s.head + s.count) % o_.pipeline] = Sent{seq, due(m)};
      ++s.count;
      iov[m] = {p, o_.size};
      msgs[m] = {};
      msgs[m].msg_hdr.msg_iov = &iov[m];
      msgs[m].msg_hdr.msg_iovlen = 1;
    }
    if (s.count == k) s.progress_ns = now_ns();
    std::size_t done = 0;
    while (done < k) {
      int n = ::sendmmsg(s.fd, msgs + done, static_cast<unsigned>(k - done), 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        // EAGAIN or ECONNREFUSED (no server yet / gone): what did not go counts as lost on the
        // timeout, like a datagram dropped on the way.
        ++send_errors_;
        break;
      }
      done += static_cast<std::size_t>(n);
    }
  }

  void on_readable(std::size_t i) {
    Sock& s = socks_[i];
    mmsghdr msgs[kRecvBatch];
    iovec iov[kRecvBatch];
    std::size_t completed = 0;
    std::uint64_t now = 0;
    for (int round = 0; round < 4; ++round) {
      for (std::size_t m = 0; m < kRecvBatch; ++m) {
        iov[m] = {in_.data() + m * (o_.size + 1), o_.size + 1};  // +1: a longer datagram shows
        msgs[m] = {};
        msgs[m].msg_hdr.msg_iov = &iov[m];
        msgs[m].msg_hdr.msg_iovlen = 1;
      }
      int n = ::recvmmsg(s.fd, msgs, kRecvBatch, MSG_DONTWAIT, nullptr);
      if (n <= 0) break;
      now = now_ns();
      for (int m = 0; m < n; ++m) completed += consume(i, static_cast<const char*>(iov[m].iov_base), msgs[m].msg_len, now);
      if (static_cast<std::size_t>(n) < kRecvBatch) break;
    }
    if (completed > 0) s.progress_ns = now;
    refill(i, now);
  }

  // One echoed datagram: checked whole; earlier ones of the socket still in flight are lost.
  std::size_t consume(std::size_t i, const char* d, std::size_t len, std::uint64_t now) {
    Sock& s = socks_[i];
    Sent* ring = &ring_[i * o_.pipeline];
    std::uint64_t id = 0, seq = 0;
    if (len >= kHeader) {
      std::memcpy(&id, d, 8);
      std::memcpy(&seq, d + 8, 8);
    }
    if (len != o_.size || id != i) {
      ++mismatched_msgs_;
      return 0;
    }
    std::size_t done = 0;
    while (s.count > 0 && ring[s.head].seq < seq) {  // overtaken: lost on the way
      ++lost_;
      s.head = static_cast<std::uint32_t>((s.head + 1) % o_.pipeline);
      --s.count;
      ++done;
    }
    if (s.count == 0 || ring[s.head].seq != seq) {
      ++late_;  // declared lost already, or never sent: not counted twice
      return done;
    }
    const std::size_t off = offset(i, seq);
    if (std::memcmp(d + kHeader, block_.data() + off, o_.size - kHeader) != 0) {
      ++mismatched_msgs_;
      for (std::size_t b = kHeader; b < o_.size; ++b) mismatched_bytes_ += d[b] != block_[off + b - kHeader];
    } else if (measuring_) {
      const std::uint64_t t = ring[s.head].t;
      hist_.record(now > t ? now - t : 0);
      ++messages_;
    }
    s.head = static_cast<std::uint32_t>((s.head + 1) % o_.pipeline);
    --s.count;
    return done + 1;
  }

  void refill(std::size_t i, std::uint64_t now) {
    if (!generating_) return;
    Sock& s = socks_[i];
    if (o_.rate > 0) {
      send_backlog(i);
    } else if (s.count < o_.pipeline) {
      send_msgs(i, o_.pipeline - s.count, [now](std::size_t) { return now; });
    }
  }

  void send_backlog(std::size_t i) {
    Sock& s = socks_[i];
    auto k = static_cast<std::size_t>(std::min<std::uint64_t>(s.backlog, o_.pipeline - s.count));
    if (k == 0) return;
    const std::uint64_t first = s.paced_sent;
    const double conns = static_cast<double>(socks_.size());
    send_msgs(i, k, [&](std::size_t m) {
      const double g = static_cast<double>(first + m) * conns + static_cast<double>(i);
      return pace_start_ + static_cast<std::uint64_t>(g * 1e9 / o_.rate);
    });
    s.backlog -= k;
    backlog_total_ -= k;
    s.paced_sent += k;
  }

  void on_tick(std::uint64_t now) {
    std::uint64_t expirations = 0;
    while (::read(timer_fd_, &expirations, sizeof expirations) > 0) {
    }
    if (!generating_) return;
    const auto due_total = static_cast<std::uint64_t>(static_cast<double>(now - pace_start_) * o_.rate / 1e9) + 1;
    dirty_.clear();
    for (; scheduled_ < due_total; ++scheduled_) {
      const std::size_t i = scheduled_ % socks_.size();
      ++socks_[i].backlog;
      ++backlog_total_;
      if (!socks_[i].dirty) {
        socks_[i].dirty = true;
        dirty_.push_back(i);
      }
    }
    backlog_max_ = std::max(backlog_max_, backlog_total_);
    for (std::size_t i : dirty_) {
      socks_[i].dirty = false;
      send_backlog(i);
    }
  }

  // Sockets whose datagrams stopped moving: everything in flight is lost; send anew.
  void expire(std::uint64_t now) {
    const auto limit = static_cast<std::uint64_t>(o_.udp_loss_ms * 1e6);
    for (std::size_t i = 0; i < socks_.size(); ++i) {
      Sock& s = socks_[i];
      if (s.count == 0 || now - s.progress_ns < limit) continue;
      lost_ += s.count;
      s.head = static_cast<std::uint32_t>((s.head + s.count) % o_.pipeline);
      s.count = 0;
      s.progress_ns = now;
      refill(i, now);
    }
  }

  void run_load() {
    const std::uint64_t t0 = now_ns();
    if (o_.rate > 0) {
      pace_start_ = t0;
      timer_fd_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
      const auto period = static_cast<long>(o_.tick_us * 1e3);
      itimerspec its{};
      its.it_interval.tv_sec = period / 1'000'000'000L;
      its.it_interval.tv_nsec = period % 1'000'000'000L;
      its.it_value = its.it_interval;
      ::timerfd_settime(timer_fd_, 0, &its, nullptr);
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = kTimerTag;
      ::epoll_ctl(ep_, EPOLL_CTL_ADD, timer_fd_, &ev);
    }
    generating_ = true;
    if (o_.rate <= 0) {
      for (std::size_t i = 0; i < socks_.size(); ++i) refill(i, t0);
    }
    const auto warm_end = t0 + static_cast<std::uint64_t>(o_.warmup * 1e9);
    const auto run_end = warm_end + static_cast<std::uint64_t>(o_.duration * 1e9);
    if (o_.warmup <= 0) start_window();
    std::vector<epoll_event> evs(1024);
    std::uint64_t last_expire = t0;
    while (!g_stop) {
      std::uint64_t now = now_ns();
      if (!measuring_ && now >= warm_end) start_window();
      if (now >= run_end) break;
      if (now - last_expire > 10'000'000ULL) {
        expire(now);
        last_expire = now;
      }
      int n = ::epoll_wait(ep_, evs.data(), static_cast<int>(evs.size()), 10);
      for (int k = 0; k < n; ++k) {
        if (evs[k].data.u64 == kTimerTag) {
          on_tick(now_ns());
        } else {
          on_readable(evs[k].data.u64);
        }
      }
    }
    generating_ = false;
    backlog_end_ = backlog_total_;
    end_window();
  }

  void start_window() {
    measuring_ = true;
    hist_.reset();
    messages_ = 0;
    lost_at_start_ = lost_;
    w_start_ = now_ns();
    cpu_start_ = sample_cpu(o_.server_pid);
    self_start_ = self_cpu_s();
  }
  void end_window() {
    if (!measuring_) start_window();
    w_end_ = now_ns();
    cpu_end_ = sample_cpu(o_.server_pid);
    self_end_ = self_cpu_s();
  }

  void print_result() {
    const double secs = static_cast<double>(w_end_ - w_start_) / 1e9;
    const double msgs = static_cast<double>(messages_);
    std::string out = "{\"udp\": true, ";
    auto num = [&](const char* k, double v, int prec) {
      char b[96];
      std::snprintf(b, sizeof b, "\"%s\": %.*f, ", k, prec, v);
      out += b;
    };
    auto integer = [&](const char* k, std::uint64_t v) {
      char b[96];
      std::snprintf(b, sizeof b, "\"%s\": %llu, ", k, ull(v));
      out += b;
    };
    integer("conns", o_.conns);
    integer("connected", o_.conns);
    integer("size", o_.size);
    integer("pipeline", o_.pipeline);
    if (o_.rate > 0) {
      num("offered_rate", o_.rate, 1);
      integer("backlog_max", backlog_max_);
      integer("backlog_end", backlog_end_);
    }
    num("duration_s", secs, 3);
    integer("messages", messages_);
    num("msgs_per_s", secs > 0 ? msgs / secs : 0, 1);
    num("mb_per_s", secs > 0 ? msgs * static_cast<double>(o_.size) / secs / 1e6 : 0, 3);
    num("p50_us", static_cast<double>(hist_.quantile(0.50)) / 1e3, 2);
    num("p90_us", static_cast<double>(hist_.quantile(0.90)) / 1e3, 2);
    num("p99_us", static_cast<double>(hist_.quantile(0.99)) / 1e3, 2);
    num("p999_us", static_cast<double>(hist_.quantile(0.999)) / 1e3, 2);
    num("max_us", static_cast<double>(hist_.max()) / 1e3, 2);
    num("mean_us", hist_.mean() / 1e3, 2);
    integer("errors", mismatched_msgs_);
    integer("mismatched_msgs", mismatched_msgs_);
    integer("mismatched_bytes", mismatched_bytes_);
    integer("lost", lost_ - lost_at_start_);
    integer("late", late_);
    integer("send_errors", send_errors_);
    num("loadgen_cpu_pct", secs > 0 ? 100.0 * (self_end_ - self_start_) / secs : 0, 1);
    if (o_.server_pid > 0 && cpu_start_.ok && cpu_end_.ok) {
      const double tick_us = 1e6 / static_cast<double>(::sysconf(_SC_CLK_TCK));
      const double ut = static_cast<double>(cpu_end_.utime_ticks - cpu_start_.utime_ticks) * tick_us;
      const double st = static_cast<double>(cpu_end_.stime_ticks - cpu_start_.stime_ticks) * tick_us;
      const double sched_us = static_cast<double>(cpu_end_.sched_ns - cpu_start_.sched_ns) / 1e3;
      integer("server_pid", static_cast<std::uint64_t>(o_.server_pid));
      num("server_utime_us", ut, 0);
      num("server_stime_us", st, 0);
      num("server_cpu_pct", secs > 0 ? (ut + st) / 1e4 / secs : 0, 1);
      num("server_cpu_us_per_msg_sched", msgs > 0 ? sched_us / msgs : 0, 4);
      num("server_cpu_us_per_msg", msgs > 0 ? (ut + st) / msgs : 0, 4);
    } else if (o_.server_pid > 0) {
      out += "\"server_cpu_us_per_msg\": null, ";
    }
    out.resize(out.size() - 2);
    out += "}\n";
    std::fputs(out.c_str(), stdout);
    std::fflush(stdout);
  }

  Options o_;
  sockaddr_storage addr_{};
  socklen_t addrlen_ = 0;
  int family_ = AF_INET;
  int ep_ = -1;
  int timer_fd_ = -1;
  std::vector<char> block_, out_, in_;
  std::vector<Sent> ring_;
  std::vector<Sock> socks_;
  std::vector<std::size_t> dirty_;
  std::uint64_t pace_start_ = 0, scheduled_ = 0, backlog_total_ = 0, backlog_max_ = 0, backlog_end_ = 0;
  bool measuring_ = false, generating_ = false;
  Histogram hist_;
  std::uint64_t messages_ = 0, mismatched_msgs_ = 0, mismatched_bytes_ = 0;
  std::uint64_t lost_ = 0, lost_at_start_ = 0, late_ = 0, send_errors_ = 0;
  std::uint64_t w_start_ = 0, w_end_ = 0;
  CpuSample cpu_start_, cpu_end_;
  double self_start_ = 0, self_end_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"closed-loop echo load generator (gnet-cpp benchmark harness)"};
  app.add_option("--host", o.host, "server address")->capture_default_str();
  app.add_option("--port", o.port, "server port")->required()->check(CLI::Range(1, 65535));
  app.add_option("--conns", o.conns, "connections")->capture_default_str()->check(CLI::Range(1, 1'000'000));
  app.add_option("--size", o.size, "message size in bytes")->capture_default_str()->check(CLI::Range(1, 16 << 20));
  app.add_option("--pipeline", o.pipeline, "messages in flight per connection")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  app.add_option("--duration", o.duration, "measured seconds")->capture_default_str()->check(CLI::Range(0.0, 1e6));
  app.add_option("--warmup", o.warmup, "warm-up seconds before measuring")->capture_default_str()->check(CLI::Range(0.0, 1e6));
  app.add_option("--server-pid", o.server_pid, "server PID: report its CPU time per message");
  app.add_option("--connect-batch", o.connect_batch, "outstanding connects at most")
      ->capture_default_str()
      ->check(CLI::Range(1, 65535));
  app.add_option("--connect-timeout", o.connect_timeout, "seconds for the connect phase")->capture_default_str();
  app.add_flag("--idle", o.idle, "connect, send nothing, hold until stdin closes or SIGTERM");
  app.add_flag("--wait-start", o.wait_start, "start on a line on stdin; hold after the result until stdin closes");
  app.add_flag("--drain", o.drain, "at the end wait for every in-flight message");
  app.add_option("--rate", o.rate,
                 "fixed offered rate: messages/s in total, paced per connection (0 = closed loop); "
                 "--pipeline is then the per-connection window")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e9));
  app.add_option("--tick-us", o.tick_us, "pacing timer period in µs with --rate")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 1e6));
  app.add_flag("--udp", o.udp,
               "UDP: --conns connected sockets, one datagram per message (closed loop or --rate), "
               "sendmmsg/recvmmsg; lost datagrams are counted, not errors");
  app.add_option("--udp-loss-ms", o.udp_loss_ms, "--udp: in-flight datagrams that have not moved for this long are lost")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 1e6));
  CLI11_PARSE(app, argc, argv);
  if (o.udp) return UdpLoadGen(o).run();
  return LoadGen(o).run();
}
