// Internal: a loop's multi-producer task queue. Any thread posts; the loop thread drains.
//
// Two lanes: urgent (close, wake, adopting accepted sockets) always drains fully; normal (bulk
// writes, user tasks) drains at most kBatch per turn so sockets are not starved by tasks.
// A barrier task (ConnHandle::close) is urgent but never overtakes normal tasks posted before
// it: it runs right after the batch that contains the last of them, so "write, write, close"
// from one thread delivers both writes, while writes posted later cannot delay the close. One
// eventfd write per batch, not per task: a poster writes only when it flips `signaled_` from
// false to true, and the loop clears the flag before it takes the queue.
//
// Held by shared_ptr so ConnHandles outlive the engine safely: once closed, posts fail with
// Errc::engine_stopped.
#pragma once

#include <atomic>
#include <cstdint>
#include <utility>
#include <deque>
#include <functional>

#include "gnet/unique_function.hpp"
#include <mutex>
#include <vector>

namespace gnet::detail {

class EventLoop;

class Mailbox {
 public:
  using Task = UniqueFunction<void()>;
  static constexpr std::size_t kBatch = 1024;

  // Takes ownership of wake_fd: it is closed only when the last handle lets go, so a post
  // racing with the loop's teardown never writes to a closed (or reused) descriptor.
  Mailbox(EventLoop* loop, int loop_index, int wake_fd) noexcept
      : loop_(loop), loop_index_(loop_index), wake_fd_(wake_fd) {}
  ~Mailbox();
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  // Any thread. False once closed (the task is dropped unrun).
  bool post(Task task, bool urgent);
  // Any thread. A task that runs once every normal task posted before it has run.
  bool post_barrier(Task task);
  // Loop thread: moves up to kBatch normal tasks, all urgent ones, and the barriers those
  // normal tasks release into the out vectors (run in that order); returns true when normal
  // tasks remain for the next turn.
  bool take(std::vector<Task>& urgent, std::vector<Task>& normal, std::vector<Task>& after);
  // Loop thread, at exit: refuse new posts; hand back whatever is still queued.
  void close(std::vector<Task>& rest);

  // Wakes the loop without a task (Engine::stop uses this; async-signal-safe).
  void signal() noexcept;

  // Valid only while the loop runs (tasks run on it; handles check post() first).
  EventLoop* loop() const noexcept { return loop_; }
  // Safe at any time, even after the loop is gone.
  int loop_index() const noexcept { return loop_index_; }

 private:
  EventLoop* const loop_;
  const int loop_index_;
  const int wake_fd_;
  std::atomic<bool> signaled_{false};
  std::mutex mutex_;
  bool closed_ = false;
  std::vector<Task> urgent_;
  std::deque<Task> normal_;
  std::uint64_t normal_posted_ = 0;  // normal tasks ever posted
  std::uint64_t normal_taken_ = 0;   // normal tasks ever handed to the loop
  std::deque<std::pair<std::uint64_t, Task>> barriers_;  // (normal_posted_ at post time, task)
};

}  // namespace gnet::detail
