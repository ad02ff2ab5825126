// Pipes, FIFOs and terminals as stream connections (Client::enroll): owned ones served by the
// loop directly, shared ones (a terminal, an inherited descriptor) through relay threads that
// never change the descriptor's flags. Every byte checked, each direction and each end named.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <pty.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "net/test_support.hpp"

using namespace gnet;
using namespace gnet::test;

namespace {

template <class T>
bool arrives(std::future<T>& f) {
  return f.wait_for(std::chrono::seconds(30)) == std::future_status::ready;
}

// Records what each callback saw, in order, for one enrolled descriptor at a time.
struct Recorder : EventHandler {
  std::mutex mu;
  std::string bytes;                 // everything on_traffic saw
  std::vector<std::string> events;   // "data:<bytes>", "eof", "close:<error>"
  std::promise<std::error_code> closed;
  std::size_t expect = 0;            // fulfil `got_all` once this many bytes arrived
  std::promise<void> got_all;
  int eofs_to_survive = 0;           // on_eof answers Action::none this many times
  Action on_traffic(Conn& c) override {
    std::string_view in = c.next();
    std::lock_guard lock(mu);
    bytes.append(in);
    events.push_back("data:" + std::string(in));
    if (expect != 0 && bytes.size() == expect) got_all.set_value();
    return Action::none;
  }
  Action on_eof(Conn&) override {
    std::lock_guard lock(mu);
    events.push_back("eof");
    if (eofs_to_survive > 0) {
      --eofs_to_survive;
      return Action::none;
    }
    return Action::close;
  }
  bool close_seen = false;
  Action on_close(Conn&, std::error_code ec) override {
    std::lock_guard lock(mu);
    events.push_back("close:" + ec.message());
    if (!close_seen) closed.set_value(ec);  // the first connection to close
    close_seen = true;
    return Action::none;
  }
  std::string snapshot() {
    std::lock_guard lock(mu);
    return bytes;
  }
  std::vector<std::string> events_copy() {
    std::lock_guard lock(mu);
    return events;
  }
  // Fulfilled once `total` bytes have arrived in all (set up under the lock the loop uses).
  std::future<void> when_total(std::size_t total) {
    std::lock_guard lock(mu);
    expect = total;
    got_all = {};
    return got_all.get_future();
  }
};

void write_all_fd(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error(std::string("write: ") + std::strerror(errno));
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

std::string read_until_eof(int fd) {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return out;
    out.append(buf, static_cast<std::size_t>(n));
  }
}

// Runs fn on the connection's loop and waits (Conn calls are loop-thread only).
template <class F>
void on_conn(Client& client, const ConnHandle& h, F fn) {
  std::promise<void> done;
  auto f = done.get_future();
  Loop& loop = client.engine().loop(h.loop_index());
  ASSERT_FALSE(loop.post([&] {
    Conn* c = loop.lookup(h);
    ASSERT_NE(c, nullptr);
    fn(*c);
    done.set_value();
  }));
  ASSERT_TRUE(arrives(f));
}

}  // namespace

// An owned pipe's read end: 1 MiB arrives intact, the end of input closes it cleanly, and it
// takes no output.
TEST(Pipe, OwnedReadEndDeliversEveryByteThenEnds) {
  Recorder rec;
  Client client(rec, {.num_event_loop = 1});
  ASSERT_TRUE(client.start());
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  auto h = client.enroll(p[0], {.sharing = Sharing::owned});
  ASSERT_TRUE(h) << h.error().message();
  on_conn(client, *h, [](Conn& c) {
    EXPECT_EQ(c.network(), Network::pipe);
    EXPECT_EQ(c.write("x"), make_error_code(Errc::not_writable));
    EXPECT_TRUE(c.remote_addr().empty());
  });
  const std::string payload = random_bytes(1 << 20, 11);
  std::thread writer([&] {
    write_all_fd(p[1], payload);
    ::close(p[1]);
  });
  auto closed = rec.closed.get_future();
  ASSERT_TRUE(arrives(closed));
  writer.join();
  EXPECT_FALSE(closed.get());
  EXPECT_EQ(rec.snapshot(), payload);
  auto events = rec.events_copy();
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events.back(), "close:" + std::error_code().message());
  EXPECT_EQ(events[events.size() - 2], "eof");
  client.stop();
}

// An owned pipe's write end: everything written arrives in order; closing it is the reader's
// end of input. Nothing is ever read from it (no on_traffic, no on_eof).
TEST(Pipe, OwnedWriteEndSendsEveryByteThenCloses) {
  Recorder rec;
  Client client(rec, {.num_event_loop = 1});
  ASSERT_TRUE(client.start());
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  auto h = client.enroll(p[1], {.sharing = Sharing::owned});
  ASSERT_TRUE(h) << h.error().message();
  std::string got;
  std::thread reader([&] { got = read_until_eof(p[0]); });
  std::string expected;
  for (int i = 0; i < 64; ++i) {
    std::string part = random_bytes(32 * 1024 + static_cast<std::size_t>(i), 100 + static_cast<std::uint64_t>(i));
    expected += part;
    ASSERT_FALSE(h->async_write(std::move(part)));
  }
  ASSERT_FALSE(h->close());
  auto closed = rec.closed.get_future();
  ASSERT_TRUE(arrives(closed));
  reader.join();
  EXPECT_FALSE(closed.get());
  EXPECT_EQ(got.size(), expected.size());
  EXPECT_EQ(got, expected);
  auto events = rec.events_copy();
  EXPECT_EQ(events.size(), 1u) << "nothing but the close: " << events.front();
  ::close(p[0]);
  client.stop();
}

// The reader goes away: the write end closes with EPIPE in on_close, and no SIGPIPE ends the
// process (this test would not finish if one did).
TEST(Pipe, WriteEndWhoseReaderLeftClosesWithEpipe) {
  Recorder rec;
  Client client(rec, {.num_event_loop = 1});
  ASSERT_TRUE(client.start());
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  auto h = client.enroll(p[1], {.sharing = Sharing::owned});
  ASSERT_TRUE(h);
  ::close(p[0]);
  h->async_write("into the void");
  auto closed = rec.closed.get_future();
  ASSERT_TRUE(arrives(closed));
  EXPECT_EQ(closed.get(), std::errc::broken_pipe);
  client.stop();
}

// A FIFO: one writer comes, writes and leaves; another comes and writes. Both arrive on the
// same connection, and a writer leaving is no end of input.
TEST(Pipe, FifoWritersComeAndGo) {
  char dir[] = "/tmp/gnet-fifo-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/fifo";
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  Recorder rec;
  Client client(rec, {.num_event_loop = 1});
  ASSERT_TRUE(client.start());
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);  // no writer yet: do not wait
  ASSERT_GE(fd, 0);
  auto h = client.enroll(fd, {.sharing = Sharing::owned});
  ASSERT_TRUE(h) << h.error().message();

  auto first = rec.when_total(5);
  int w1 = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(w1, 0);
  write_all_fd(w1, "first");
  ::close(w1);
  ASSERT_TRUE(arrives(first));

  auto second = rec.when_total(11);
  int w2 = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(w2, 0);
  write_all_fd(w2, "second");
  ::close(w2);
  ASSERT_TRUE(arrives(second));
  EXPECT_EQ(rec.snapshot(), "firstsecond");
  {
    std::lock_guard lock(rec.mu);
    for (const auto& e : rec.events) EXPECT_NE(e, "eof");
  }
  on_conn(client, *h, [](Conn& c) { EXPECT_EQ(c.write("x"), make_error_code(Errc::not_writable)); });
  ASSERT_FALSE(h->close());
  auto closed = rec.closed.get_future();
  ASSERT_TRUE(arrives(closed));
  client.stop();
  ::unlink(path.c_str());
  ::rmdir(dir);
}

// Shared pipe ends (an inherited stdin, stdout): the relay threads read and write them, the
// descriptors stay blocking, and every byte goes through in both directions.
TEST(Pipe, SharedEndsKeepTheirFlags) {
  Recorder rec;
  Client client(rec, {.num_event_loop = 1});
  ASSERT_TRUE(client.start());

  int in[2], out[2];
  ASSERT_EQ(::pipe2(in, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  const int in_flags = ::fcntl(in[0], F_GETFL), out_flags = ::fcntl(out[1], F_GETFL);
  auto reading = client.enroll(in[0], {.sharing = Sharing::shared});
  ASSERT_TRUE(reading) << reading.error().message();
  auto writing = client.enroll(out[1], {.sharing = Sharing::shared});
  ASSERT_TRUE(writing) << writing.error().message();
  EXPECT_EQ(::fcntl(in[0], F_GETFL), in_flags);  // still open (the relay's), still blocking
  EXPECT_EQ(::fcntl(out[1], F_GETFL), out_flags);
  EXPECT_FALSE(in_flags & O_NONBLOCK);

  const std::string up = random_bytes(300000, 21), down = random_bytes(300000, 22);
  auto all_up = rec.when_total(up.size());
  std::string got_down;
  std::thread reader([&] { got_down = read_until_eof(out[0]); });
  std::thread writer([&] { write_all_fd(in[1], up); });
  ASSERT_FALSE(writing->async_write(down));
  ASSERT_FALSE(writing->close());  // the relay's writer closes out[1] once it has passed it all
  ASSERT_TRUE(arrives(all_up));
  writer.join();
  reader.join();
  EXPECT_EQ(rec.snapshot(), up);
  EXPECT_EQ(got_down, down);
  ::close(in[1]);  // the reading side's end of input
  ::close(out[0]);
  client.stop();
}

// A terminal (a pty here), shared: Ctrl-D at the start of a line is an end of input that the
// handler may read past; typing on is heard; the terminal hanging up is the final end.
TEST(Pipe, TerminalEndOfInputThenMore) {
  int master = -1, slave = -1;
  ASSERT_EQ(::openpty(&master, &slave, nullptr, nullptr, nullptr), 0);
  termios t{};
  ASSERT_EQ(::tcgetattr(slave, &t), 0);
  t.c_lflag &= ~static_cast<tcflag_t>(ECHO);    // the master reads only what the program writes
  t.c_oflag &= ~static_cast<tcflag_t>(OPOST);   // ... byte for byte ("\n" stays "\n")
  ASSERT_EQ(::tcsetattr(slave, TCSANOW, &t), 0);
  const int slave_flags = ::fcntl(slave, F_GETFL);

  Recorder rec;
  rec.eofs_to_survive = 1;  // (before the client starts: no loop thread reads it yet)
  Client client(rec, {.num_event_loop = 1});
  ASSERT_TRUE(client.start());
  auto h = client.enroll(slave);  // automatic: a terminal is shared
  ASSERT_TRUE(h) << h.error().message();
  EXPECT_EQ(::fcntl(slave, F_GETFL), slave_flags);

  auto hello = rec.when_total(6);
  write_all_fd(master, "hello\n");
  ASSERT_TRUE(arrives(hello));
  auto more = rec.when_total(11);
  write_all_fd(master, "\x04");  // VEOF at the start of a line: read() returns 0
  write_all_fd(master, "more\n");
  ASSERT_TRUE(arrives(more));

  // Output goes to the terminal, through the relay's writer.
  ASSERT_FALSE(h->async_write("out\n"));
  std::string shown;
  while (shown.size() < 4) {
    char buf[16];
    ssize_t n = ::read(master, buf, sizeof buf);
    ASSERT_GT(n, 0);
    shown.append(buf, static_cast<std::size_t>(n));
  }
  EXPECT_EQ(shown, "out\n");

  ::close(master);  // hang up: the final end of input
  auto closed = rec.closed.get_future();
  ASSERT_TRUE(arrives(closed));
  std::lock_guard lock(rec.mu);
  std::vector<std::string> want = {"data:hello\n", "eof", "data:more\n", "eof"};
  ASSERT_GE(rec.events.size(), 5u);
  EXPECT_EQ(std::vector<std::string>(rec.events.begin(), rec.events.begin() + 4), want);
  client.stop();
}

// stdin redirected from a file: relayed (its reads wait for the disk), every byte, then the end.
// A directory is refused by name.
TEST(Pipe, RegularFilesAreRelayedDirectoriesRefused) {
  Recorder rec;
  Client client(rec, {.num_event_loop = 1});
  ASSERT_TRUE(client.start());
  char path[] = "/tmp/gnet-enroll-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::unlink(path);
  const std::string content = random_bytes(500000, 31);
  write_all_fd(fd, content);
  ASSERT_EQ(::lseek(fd, 0, SEEK_SET), 0);
  auto closed = rec.closed.get_future();
  auto h = client.enroll(fd, {.sharing = Sharing::owned});  // owned or not: a file is relayed
  ASSERT_TRUE(h) << h.error().message();
  ASSERT_TRUE(arrives(closed));
  EXPECT_FALSE(closed.get());
  EXPECT_EQ(rec.snapshot(), content);
  auto events = rec.events_copy();
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events[events.size() - 2], "eof");

  int dir = ::open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(dir, 0);
  auto refused = client.enroll(dir);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), std::errc::operation_not_permitted);
  EXPECT_NE(refused.error().message().find("directory"), std::string::npos);
  ::close(dir);
  client.stop();
}
