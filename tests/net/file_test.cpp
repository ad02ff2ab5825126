// gnet::File: reads and writes at explicit offsets, run off the loop, answered on the loop that
// asked. Many loops writing interleaved blocks at once land every byte where it was meant to,
// and the descriptor's own file position never moves.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <atomic>
#include <future>
#include <latch>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "net/test_support.hpp"

using namespace gnet;
using namespace gnet::test;

namespace {

struct Quiet : EventHandler {};

template <class T>
bool arrives(std::future<T>& f) {
  return f.wait_for(std::chrono::seconds(30)) == std::future_status::ready;
}

// A fresh path in a fresh directory, removed afterwards.
struct TempDir {
  std::string path;
  explicit TempDir(const char* base = "/tmp") {
    std::string tmpl = std::string(base) + "/gnet-file-XXXXXX";
    char* p = ::mkdtemp(tmpl.data());
    if (p != nullptr) path = p;
  }
  ~TempDir() {
    if (!path.empty()) std::system(("rm -rf '" + path + "'").c_str());
  }
  std::string file(const char* name) const { return path + "/" + name; }
};

std::string slurp(const std::string& path) {
  std::string out;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  char buf[65536];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return out;
}

// One result, with whether it arrived on the asking loop's own thread.
struct Answer {
  Result<std::size_t> result = Error{};
  bool on_loop_thread = false;
};

// Where an operation is issued from: the loop's own thread (a handler; on io_uring the loop's
// ring does the work) or another thread (always the worker pool).
enum class From { loop, outside };

template <class Issue>
Answer issue(Loop& loop, From from, Issue op) {
  std::promise<Answer> p;
  auto f = p.get_future();
  auto call = [&] { op([&](Result<std::size_t> r) { p.set_value({std::move(r), loop.in_loop_thread()}); }); };
  if (from == From::loop) {
    EXPECT_FALSE(loop.post(call));
  } else {
    call();
  }
  EXPECT_TRUE(arrives(f));
  return f.get();
}

Answer run_read(Loop& loop, const File& file, std::uint64_t offset, std::span<char> into, From from = From::loop) {
  return issue(loop, from, [&](File::Done done) { file.read_at(loop, offset, into, std::move(done)); });
}

Answer run_write(Loop& loop, const File& file, std::uint64_t offset, std::string_view from_bytes,
                 From from = From::loop) {
  return issue(loop, from, [&](File::Done done) {
    file.write_at(loop, offset, std::span<const char>(from_bytes.data(), from_bytes.size()), std::move(done));
  });
}

}  // namespace

// 64 writes of 4 KiB + 7 bytes (so blocks straddle pages) at offsets in shuffled order, issued
// from 4 loops at once: the file holds exactly each block at its place, every completion ran on
// its own loop's thread, and the descriptor's file position is still 0.
TEST(File, ConcurrentWritesFromSeveralLoopsLandExactly) {
  TempDir dir;
  auto file = File::open(dir.file("blocks"));
  ASSERT_TRUE(file) << file.error().message();
  Quiet handler;
  Client client(handler, {.num_event_loop = 4});
  ASSERT_TRUE(client.start());

  constexpr std::size_t kBlocks = 64, kSize = 4096 + 7;
  std::vector<std::string> blocks;
  for (std::size_t i = 0; i < kBlocks; ++i) blocks.push_back(random_bytes(kSize, 1000 + i));
  std::vector<std::size_t> order(kBlocks);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), std::mt19937(42));

  std::atomic<std::size_t> answered{0}, wrong_thread{0}, failed{0};
  std::promise<void> all;
  for (std::size_t k = 0; k < kBlocks; ++k) {
    const std::size_t i = order[k];
    Loop& loop = client.engine().loop(static_cast<int>(k % 4));
    // Issued from each loop's own thread, as a handler would.
    ASSERT_FALSE(loop.post([&, i, &loop = loop] {
      file->write_at(loop, i * kSize, std::span<const char>(blocks[i].data(), kSize), [&](Result<std::size_t> r) {
        if (!loop.in_loop_thread()) ++wrong_thread;
        if (!r || *r != kSize) ++failed;
        if (++answered == kBlocks) all.set_value();
      });
    }));
  }
  auto all_f = all.get_future();
  ASSERT_TRUE(arrives(all_f)) << answered.load() << " of " << kBlocks << " answered";
  EXPECT_EQ(failed.load(), 0u);
  EXPECT_EQ(wrong_thread.load(), 0u);

  std::string expected;
  for (auto& b : blocks) expected += b;
  std::string got = slurp(dir.file("blocks"));
  ASSERT_EQ(got.size(), expected.size());
  for (std::size_t i = 0; i < kBlocks; ++i) {
    ASSERT_EQ(got.compare(i * kSize, kSize, blocks[i]), 0) << "block " << i;
  }
  EXPECT_EQ(::lseek(file->native_handle(), 0, SEEK_CUR), 0);  // the shared position never moved
  auto size = file->size();
  ASSERT_TRUE(size);
  EXPECT_EQ(*size, kBlocks * kSize);
  client.stop();
}

// Reads: exact where the file has the bytes, short at its end, empty past it; all answered on
// the loop, whether issued from it (the ring, on io_uring) or from another thread (the pool).
class FileFrom : public ::testing::TestWithParam<From> {};
INSTANTIATE_TEST_SUITE_P(Issuers, FileFrom, ::testing::Values(From::loop, From::outside),
                         [](const auto& info) { return info.param == From::loop ? "FromLoop" : "FromOutside"; });

TEST_P(FileFrom, ReadsAtOffsetsStopAtEndOfFile) {
  const From from = GetParam();
  TempDir dir;
  const std::string content = random_bytes(100000, 5);
  {
    auto w = File::open(dir.file("data"));
    ASSERT_TRUE(w);
    Quiet handler;
    Client client(handler, {.num_event_loop = 1});
    ASSERT_TRUE(client.start());
    Answer a = run_write(client.engine().loop(0), *w, 0, content, from);
    ASSERT_TRUE(a.result) << a.result.error().message();
    EXPECT_EQ(*a.result, content.size());
    client.stop();
  }
  auto file = File::open(dir.file("data"), {.flags = O_RDONLY});
  ASSERT_TRUE(file);
  Quiet handler;
  Client client(handler, {.num_event_loop = 1});
  ASSERT_TRUE(client.start());
  Loop& loop = client.engine().loop(0);

  std::string buf(30000, '\0');
  Answer mid = run_read(loop, *file, 12345, buf, from);
  ASSERT_TRUE(mid.result) << mid.result.error().message();
  EXPECT_TRUE(mid.on_loop_thread);
  EXPECT_EQ(*mid.result, buf.size());
  EXPECT_EQ(buf, content.substr(12345, 30000));

  Answer tail = run_read(loop, *file, 90000, buf, from);
  ASSERT_TRUE(tail.result);
  EXPECT_EQ(*tail.result, 10000u);
  EXPECT_EQ(buf.substr(0, 10000), content.substr(90000));

  Answer past = run_read(loop, *file, 500000, buf, from);
  ASSERT_TRUE(past.result);
  EXPECT_EQ(*past.result, 0u);

  // Written with a read-only descriptor: the kernel's EBADF, named with the operation and path.
  Answer refused = run_write(loop, *file, 0, "x", from);
  ASSERT_FALSE(refused.result);
  EXPECT_EQ(refused.result.error().code(), std::errc::bad_file_descriptor);
  EXPECT_NE(refused.result.error().message().find("pwrite " + dir.file("data")), std::string::npos)
      << refused.result.error().message();
  EXPECT_TRUE(refused.on_loop_thread);
  client.stop();
}

// The completion never runs inside read_at, even when it is a refusal known at once.
TEST(File, CompletionsNeverRunInsideTheCall) {
  TempDir dir;
  Quiet handler;
  Client client(handler, {.num_event_loop = 1});
  ASSERT_TRUE(client.start());
  Loop& loop = client.engine().loop(0);
  File closed;  // never opened
  std::promise<bool> p;
  auto f = p.get_future();
  bool returned = false;  // loop thread only
  char c;
  ASSERT_FALSE(loop.post([&] {
    closed.read_at(loop, 0, std::span<char>(&c, 1), [&](Result<std::size_t> r) {
      EXPECT_FALSE(r);
      EXPECT_EQ(r.error().code(), std::errc::bad_file_descriptor);
      p.set_value(returned);
    });
    returned = true;
  }));
  ASSERT_TRUE(arrives(f));
  EXPECT_TRUE(f.get());
  client.stop();
}

TEST(File, OpenErrorsAreNamed) {
  TempDir dir;
  auto missing = File::open(dir.file("absent"), {.flags = O_RDONLY});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), std::errc::no_such_file_or_directory);
  EXPECT_NE(missing.error().message().find(dir.file("absent")), std::string::npos);

  auto directory = File::open(dir.path, {.flags = O_RDONLY});
  ASSERT_FALSE(directory);
  EXPECT_EQ(directory.error().code(), std::errc::is_a_directory);
}

// A full queue is refused at once with a named error: a loop thread never waits for a worker.
TEST(File, AFullWorkerQueueIsRefusedNotWaitedFor) {
  TempDir dir;
  WorkerPool pool(1, 0);  // one worker, no waiting room
  auto file = File::open(dir.file("q"), {.pool = &pool});
  ASSERT_TRUE(file);
  std::latch release(1);
  std::promise<void> busy;
  ASSERT_TRUE(pool.submit([&] {
    busy.set_value();
    release.wait();
  }));
  busy.get_future().wait();
  Quiet handler;
  Client client(handler, {.num_event_loop = 1});
  ASSERT_TRUE(client.start());
  Answer a = run_write(client.engine().loop(0), *file, 0, "abc", From::outside);  // the pool's path
  release.count_down();
  ASSERT_FALSE(a.result);
  EXPECT_EQ(a.result.error().code(), std::errc::resource_unavailable_try_again);
  EXPECT_NE(a.result.error().message().find("queue is full"), std::string::npos);
  pool.wait_idle();
  client.stop();
}

// O_DIRECT: a round trip through aligned memory where the filesystem allows it, the refusal
// named where it does not (tmpfs before Linux 6.6); misaligned requests refused before the kernel.
TEST(File, DirectIoRoundTripsOrIsRefusedByName) {
  Quiet handler;
  Client client(handler, {.num_event_loop = 1});
  ASSERT_TRUE(client.start());
  Loop& loop = client.engine().loop(0);
  int round_trips = 0;
  for (const char* base : {"/tmp", "/dev/shm", "."}) {
    TempDir dir(base);
    if (dir.path.empty()) continue;
    auto file = File::open(dir.file("direct"), {.direct = true});
    if (!file) {
      EXPECT_EQ(file.error().code(), std::errc::invalid_argument) << file.error().message();
      EXPECT_NE(file.error().message().find("refuses direct I/O"), std::string::npos) << file.error().message();
      continue;
    }
    const std::size_t align = file->direct_alignment();
    ASSERT_GE(align, 512u);
    AlignedBuffer out = aligned_buffer(4 * align), in = aligned_buffer(4 * align);
    std::string bytes = random_bytes(4 * align, 9);
    std::copy(bytes.begin(), bytes.end(), out.get());
    Answer w = run_write(loop, *file, align, std::string_view(out.get(), 4 * align));
    ASSERT_TRUE(w.result) << w.result.error().message();
    Answer r = run_read(loop, *file, align, std::span<char>(in.get(), 4 * align));
    ASSERT_TRUE(r.result) << r.result.error().message();
    ASSERT_EQ(*r.result, 4 * align);
    EXPECT_EQ(std::string(in.get(), 4 * align), bytes);

    Answer odd = run_write(loop, *file, 100, std::string_view(out.get(), align));
    ASSERT_FALSE(odd.result);
    EXPECT_EQ(odd.result.error().code(), std::errc::invalid_argument);
    EXPECT_NE(odd.result.error().message().find("O_DIRECT needs"), std::string::npos);
    ++round_trips;
  }
  // Each branch asserts; which one ran depends on the machine's filesystems.
  std::printf("O_DIRECT round trips: %d of 3 directories\n", round_trips);
  client.stop();
}
