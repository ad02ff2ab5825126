// Inherited listeners (gnet/upgrade.hpp): a hand-over between two engines over real sockets, and
// socket activation with LISTEN_FDS in a child process. Deadlines only turn a hang into a
// failure; they never decide a pass.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <future>
#include <thread>

#include "net/test_support.hpp"

using namespace gnet;
using namespace gnet::test;
using namespace std::chrono_literals;

namespace {

struct Echo : EventHandler {
  std::atomic<int> opened{0};
  std::atomic<int> shutdowns{0};
  Action on_open(Conn&) override {
    ++opened;
    return Action::none;
  }
  Action on_traffic(Conn& c) override {
    auto data = c.next();
    if (data == "quit") return Action::shutdown;
    c.write(data);
    return Action::none;
  }
  void on_shutdown(Engine&) override { ++shutdowns; }
};

// A private directory for the hand-over socket, removed afterwards.
struct TempDir {
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "gnet-upgrade-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp");
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string path;
};

// One request/response on a fresh connection.
std::string echo_once(std::uint16_t port, const std::string& msg) {
  int fd = connect_tcp(port);
  send_all(fd, msg);
  std::string got = recv_exact(fd, msg.size());
  close_fd(fd);
  return got;
}

// The receiving side of a hand-over on its own thread: receive_listeners, then rotate() on them.
struct Successor {
  Successor(EventHandler& handler, std::string path, std::vector<std::string> addresses, Options options)
      : probe(handler) {
    options.logger = stderr_logger(LogLevel::warn);
    thread = std::thread([this, path, addresses, options] {
      auto inherited = receive_listeners(path, 20s);
      if (!inherited) {
        received.set_value(inherited.error());
        booted_or_failed();
        return;
      }
      received.set_value(Error{});
      result = rotate(probe, addresses, options, std::move(*inherited));
      booted_or_failed();
    });
  }
  ~Successor() {
    if (thread.joinable()) {
      if (engine != nullptr) engine->stop();
      thread.join();
    }
  }
  // After rotate() returned: if it never booted, wake wait_boot() with nullptr.
  void booted_or_failed() {
    try {
      probe.booted.set_value(nullptr);
    } catch (const std::future_error&) {  // booted: on_boot set it
    }
  }
  // Waits for boot (nullptr when the engine never ran).
  Engine* wait_boot() {
    auto f = probe.booted.get_future();
    engine = f.get();
    return engine;
  }

  BootProbe probe;
  std::promise<Error> received;
  Result<void> result;
  Engine* engine = nullptr;
  std::thread thread;
};

}  // namespace

// Engine A hands its listeners (two loops, one SO_REUSEPORT socket each) to engine B while a
// client thread keeps opening connections: not one fails, B serves on A's port, A serves its
// open connection on until it closes, then stops by itself.
TEST(HandOver, SuccessorServesTheSameSocketsWhileTheOldEngineDrains) {
  TempDir dir;
  const std::string path = dir.path + "/handover.sock";
  Echo a, b;
  const Options options{.num_event_loop = 2, .reuse_port = true, .shutdown_timeout = 30s};
  ServerThread old_engine(a, "tcp://127.0.0.1:0", options);
  ASSERT_TRUE(old_engine.ok());
  const std::uint16_t port = old_engine.port();

  int held = connect_tcp(port);  // open across the hand-over: stays with A
  send_all(held, "before");
  ASSERT_EQ(recv_exact(held, 6), "before");

  std::atomic<bool> hammering{true};
  std::atomic<int> exchanges{0}, failures{0};
  std::string first_failure;
  std::thread hammer([&] {
    for (int i = 0; hammering || i < 50; ++i) {
      try {
        const std::string msg = "msg-" + std::to_string(i);
        if (echo_once(port, msg) != msg) throw std::runtime_error("wrong echo for " + msg);
        ++exchanges;
      } catch (const std::exception& e) {
        if (failures++ == 0) first_failure = e.what();
      }
    }
  });

  Successor successor(b, path, {"tcp://127.0.0.1:0"}, options);
  auto handed = old_engine.engine().hand_over(path, 20s);
  ASSERT_TRUE(handed) << handed.error().message();
  ASSERT_FALSE(successor.received.get_future().get()) << "receive_listeners failed";
  Engine* new_engine = successor.wait_boot();
  ASSERT_NE(new_engine, nullptr) << successor.result.error().message();
  EXPECT_TRUE(old_engine.engine().handed_over());
  EXPECT_FALSE(new_engine->handed_over());
  // B matched both sockets by the address text and serves the same port.
  ASSERT_EQ(successor.probe.addresses.size(), 1u);
  EXPECT_EQ(successor.probe.addresses[0].port(), port);

  // New connections now reach B only.
  ASSERT_TRUE(eventually([&] { return b.opened.load() > 0; }))
      << "A opened " << a.opened << ", exchanges " << exchanges << ", failures " << failures;
  const int a_opened = a.opened.load();
  for (int i = 0; i < 20; ++i) EXPECT_EQ(echo_once(port, "after"), "after");
  EXPECT_EQ(a.opened.load(), a_opened);

  hammering = false;
  hammer.join();
  EXPECT_EQ(failures.load(), 0) << first_failure;
  EXPECT_GE(exchanges.load(), 50);

  // A still serves the connection it had, and stops once it closes.
  send_all(held, "still here");
  EXPECT_EQ(recv_exact(held, 10), "still here");
  EXPECT_EQ(a.shutdowns.load(), 0);
  close_fd(held);
  auto joined = old_engine.join();
  EXPECT_TRUE(joined) << joined.error().message();
  EXPECT_EQ(a.shutdowns.load(), 1);

  // With A gone, B carries on alone on the port.
  EXPECT_EQ(echo_once(port, "alone"), "alone");
  EXPECT_FALSE(std::filesystem::exists(path));  // the hand-over socket is removed
}

// A Unix listener: the socket file survives the old engine (the successor removes it).
TEST(HandOver, UnixSocketFileBelongsToTheSuccessor) {
  TempDir dir;
  const std::string path = dir.path + "/handover.sock";
  const std::string address = "unix://" + dir.path + "/served.sock";
  Echo a, b;
  ServerThread old_engine(a, address, {.shutdown_timeout = 30s});
  ASSERT_TRUE(old_engine.ok());
  Successor successor(b, path, {address}, {});
  ASSERT_TRUE(old_engine.engine().hand_over(path, 20s));
  ASSERT_NE(successor.wait_boot(), nullptr);
  auto joined = old_engine.join();  // no connections: it stops at once
  ASSERT_TRUE(joined);
  ASSERT_TRUE(std::filesystem::exists(dir.path + "/served.sock"));
  int fd = connect_unix(dir.path + "/served.sock", SOCK_STREAM);
  send_all(fd, "unix");
  EXPECT_EQ(recv_exact(fd, 4), "unix");
  close_fd(fd);
  ASSERT_TRUE(eventually([&] { return b.opened.load() == 1; }));
  successor.engine->stop();
  successor.thread.join();
  EXPECT_FALSE(std::filesystem::exists(dir.path + "/served.sock"));
}

// A UDP socket is handed over with the listeners: once hand_over() has returned, every datagram
// is answered by the successor, and none is lost (the socket, and its receive queue, is the same).
TEST(HandOver, UdpSocketIsServedByTheSuccessor) {
  struct Tagged : EventHandler {
    explicit Tagged(std::string t) : tag(std::move(t)) {}
    std::string tag;
    std::atomic<int> datagrams{0};
    Action on_traffic(Conn& c) override {
      if (c.network() == Network::udp) ++datagrams;
      c.write(tag + std::string(c.next()));
      return Action::none;
    }
  };
  TempDir dir;
  const std::string path = dir.path + "/handover.sock";
  const std::vector<std::string> addresses{"tcp://127.0.0.1:0", "udp://127.0.0.1:0"};
  Tagged a("A:"), b("B:");
  ServerThread old_engine(a, addresses, {.shutdown_timeout = 30s});
  ASSERT_TRUE(old_engine.ok());
  const std::uint16_t udp_port = old_engine.engine().listen_addresses().at(1).port();

  int udp = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(udp, 0);
  timeval tv{10, 0};  // a lost datagram fails the test instead of hanging it
  ASSERT_EQ(::setsockopt(udp, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(udp_port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(udp, reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
  auto exchange = [&](const std::string& msg) {
    if (::send(udp, msg.data(), msg.size(), 0) != static_cast<ssize_t>(msg.size())) return std::string("send failed");
    char buf[256];
    ssize_t n = ::recv(udp, buf, sizeof buf, 0);
    return n < 0 ? std::string("recv: ") + std::strerror(errno) : std::string(buf, static_cast<std::size_t>(n));
  };
  EXPECT_EQ(exchange("before"), "A:before");

  Successor successor(b, path, addresses, {});
  auto handed = old_engine.engine().hand_over(path, 20s);
  ASSERT_TRUE(handed) << handed.error().message();
  ASSERT_NE(successor.wait_boot(), nullptr) << successor.result.error().message();
  ASSERT_EQ(successor.probe.addresses.size(), 2u);
  EXPECT_EQ(successor.probe.addresses[1].port(), udp_port);
  const int a_datagrams = a.datagrams.load();
  for (int i = 0; i < 100; ++i) {
    const std::string msg = "d-" + std::to_string(i);
    ASSERT_EQ(exchange(msg), "B:" + msg);
  }
  EXPECT_EQ(a.datagrams.load(), a_datagrams) << "the old engine stopped serving datagrams";
  auto joined = old_engine.join();  // no connections: it stops at once
  ASSERT_TRUE(joined) << joined.error().message();
  EXPECT_EQ(exchange("alone"), "B:alone");
  ::close(udp);
  successor.engine->stop();
  successor.thread.join();
}

TEST(HandOver, WithoutASuccessorTheEngineKeepsServing) {
  TempDir dir;
  Echo a;
  ServerThread server(a, "tcp://127.0.0.1:0");
  ASSERT_TRUE(server.ok());
  auto r = server.engine().hand_over(dir.path + "/nobody.sock", 100ms);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::timed_out) << r.error().message();
  EXPECT_FALSE(server.engine().handed_over());
  EXPECT_EQ(echo_once(server.port(), "alive"), "alive");
}

// The successor receives the sockets but its engine fails setup (its address matches none of
// them): the old engine hears so, and keeps serving.
TEST(HandOver, ASuccessorThatFailsSetupLeavesTheOldEngineServing) {
  TempDir dir;
  const std::string path = dir.path + "/handover.sock";
  Echo a, b;
  ServerThread server(a, "tcp://127.0.0.1:0");
  ASSERT_TRUE(server.ok());
  // An address that matches none of the sockets and cannot be bound either.
  Successor successor(b, path, {"unix://" + dir.path + "/no/such/dir.sock"}, {});
  auto r = server.engine().hand_over(path, 20s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::handover_failed) << r.error().message();
  EXPECT_EQ(successor.wait_boot(), nullptr);
  EXPECT_FALSE(server.engine().handed_over());
  EXPECT_EQ(echo_once(server.port(), "alive"), "alive");
}

TEST(Inherited, AnInheritedSocketMatchingNoAddressIsANamedError) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ASSERT_EQ(::listen(fd, 16), 0);
  InheritedListeners set;
  ASSERT_TRUE(set.add(fd));
  ASSERT_EQ(set.size(), 1u);
  EXPECT_EQ(set.listeners()[0].network, Network::tcp);
  Echo h;
  // Port 0 matches nothing inherited: the engine binds it, and the inherited one is left over.
  auto r = run(h, "tcp://127.0.0.1:0", {.logger = stderr_logger(LogLevel::warn)}, std::move(set));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::bad_listener);
  EXPECT_NE(r.error().message().find("matches none"), std::string::npos) << r.error().message();
}

TEST(Inherited, NotAListeningSocketIsANamedError) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  ::close(pipe_fds[1]);
  InheritedListeners set;
  auto r = set.add(pipe_fds[0]);  // closed by add on failure
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::bad_listener);
  EXPECT_NE(r.error().message().find("not a socket"), std::string::npos) << r.error().message();

  int unlistened = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(unlistened, 0);
  r = set.add(unlistened);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::bad_listener);
  EXPECT_NE(r.error().message().find("not listening"), std::string::npos) << r.error().message();
  EXPECT_TRUE(set.empty());
}

// sd_notify: one datagram to $NOTIFY_SOCKET, a path or an abstract name; quiet without it.
TEST(Systemd, SdNotifySendsOneDatagramToAPathOrAnAbstractSocket) {
  TempDir dir;
  const std::string path = dir.path + "/notify.sock";
  const std::string abstract = "gnet-notify-test-" + std::to_string(::getpid());
  for (const std::string& name : {path, "@" + abstract}) {
    int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, name.data(), name.size());
    if (name[0] == '@') addr.sun_path[0] = '\0';
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size())), 0)
        << std::strerror(errno);
    ASSERT_EQ(::setenv("NOTIFY_SOCKET", name.c_str(), 1), 0);
    auto sent = sd_notify("MAINPID=" + std::to_string(::getpid()) + "\nREADY=1");
    ASSERT_TRUE(sent) << sent.error().message();
    EXPECT_TRUE(*sent);
    char buf[256];
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    ASSERT_GT(n, 0) << name << ": " << std::strerror(errno);
    EXPECT_EQ(std::string(buf, static_cast<std::size_t>(n)), "MAINPID=" + std::to_string(::getpid()) + "\nREADY=1");
    EXPECT_STREQ(::getenv("NOTIFY_SOCKET"), name.c_str()) << "kept for a successor";
    ::close(fd);
  }
  // Nobody listens there any more: the error names the socket.
  ASSERT_EQ(::setenv("NOTIFY_SOCKET", path.c_str(), 1), 0);
  auto refused = sd_notify("READY=1");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("sd_notify to " + path), std::string::npos) << refused.error().message();
  ASSERT_EQ(::setenv("NOTIFY_SOCKET", "relative/path", 1), 0);
  EXPECT_FALSE(sd_notify("READY=1"));
  ASSERT_EQ(::unsetenv("NOTIFY_SOCKET"), 0);
  auto quiet = sd_notify("READY=1");
  ASSERT_TRUE(quiet);
  EXPECT_FALSE(*quiet) << "not a Type=notify service: nothing sent";
}

TEST(Systemd, VariablesForAnotherProcessAreIgnoredAndUnset) {
  ::setenv("LISTEN_PID", "1", 1);
  ::setenv("LISTEN_FDS", "1", 1);
  auto r = listen_fds_from_systemd();
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->empty());
  EXPECT_EQ(std::getenv("LISTEN_PID"), nullptr);
  EXPECT_EQ(std::getenv("LISTEN_FDS"), nullptr);
}

namespace {

// Forks a child that puts `fd` at descriptor 3, sets LISTEN_FDS=1 and LISTEN_PID to itself as
// systemd would, and runs child(); the child's exit status is its return value.
template <class F>
int in_activated_child(int fd, F child) {
  pid_t pid = ::fork();
  if (pid == 0) {
    if (fd != 3) {
      ::dup2(fd, 3);
      ::close(fd);
    }
    ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
    ::setenv("LISTEN_FDS", "1", 1);
    ::setenv("LISTEN_FDNAMES", "web", 1);
    ::_exit(child());
  }
  return pid;
}

int wait_child(pid_t pid) {
  for (int i = 0; i < 30000; ++i) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::this_thread::sleep_for(1ms);
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  return -1;
}

}  // namespace

TEST(Systemd, AChildServesOnTheSocketItWasPassed) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ASSERT_EQ(::listen(fd, 16), 0);
  socklen_t len = sizeof sa;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len), 0);
  const std::uint16_t port = ntohs(sa.sin_port);

  pid_t pid = in_activated_child(fd, [port] {
    auto set = listen_fds_from_systemd();
    if (!set || set->size() != 1) return 10;
    if (set->listeners()[0].name != "web" || set->listeners()[0].fd != 3) return 11;
    if (std::getenv("LISTEN_FDS") != nullptr) return 12;
    Echo h;
    // The address names the port: matched by what the socket is bound to.
    auto r = run(h, "tcp://127.0.0.1:" + std::to_string(port), {.logger = stderr_logger(LogLevel::warn)},
                 std::move(*set));
    if (!r) return 13;
    return h.opened.load() == 2 ? 0 : 14;
  });
  ASSERT_GT(pid, 0);
  ::close(fd);  // the child holds it now: a refused connect below would mean it is not serving
  EXPECT_EQ(echo_once(port, "activated"), "activated");
  int q = connect_tcp(port);
  send_all(q, "quit");
  EXPECT_TRUE(wait_closed(q));
  close_fd(q);
  EXPECT_EQ(wait_child(pid), 0);
}

TEST(Systemd, ADescriptorThatIsNoListenerIsANamedError) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  pid_t pid = in_activated_child(pipe_fds[0], [] {
    auto set = listen_fds_from_systemd();
    if (set) return 20;
    if (set.error().code() != Errc::bad_listener) return 21;
    if (set.error().message().find("descriptor 3") == std::string::npos) return 22;
    return 0;
  });
  ASSERT_GT(pid, 0);
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
  EXPECT_EQ(wait_child(pid), 0);
}
