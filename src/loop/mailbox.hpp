// Internal: a loop's multi-producer task queue. Any thread posts; the loop thread drains.
//
// Two lanes: urgent (close, wake, adopting accepted sockets) always drains fully; normal (bulk
// writes, user tasks) drains at most kBatch per turn so sockets are not starved by tasks. One
// eventfd write per batch, not per task: a poster writes only when it flips `signaled_` from
// false to true, and the loop clears the flag before it takes the queue.
//
// Held by shared_ptr so ConnHandles outlive the engine safely: once closed, posts fail with
// Errc::engine_stopped.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

namespace gnet::detail {

class EventLoop;

class Mailbox {
 public:
  using Task = std::function<void()>;
  static constexpr std::size_t kBatch = 1024;

  Mailbox(EventLoop* loop, int wake_fd) noexcept : loop_(loop), wake_fd_(wake_fd) {}

  // Any thread. False once closed (the task is dropped unrun).
  bool post(Task task, bool urgent);
  // Loop thread: moves up to kBatch normal tasks and all urgent ones into the out vectors;
  // returns true when normal tasks remain for the next turn.
  bool take(std::vector<Task>& urgent, std::vector<Task>& normal);
  // Loop thread, at exit: refuse new posts; hand back whatever is still queued.
  void close(std::vector<Task>& rest);

  // Wakes the loop without a task (Engine::stop uses this; async-signal-safe).
  void signal() noexcept;

  EventLoop* loop() const noexcept { return loop_; }

 private:
  EventLoop* const loop_;
  const int wake_fd_;
  std::atomic<bool> signaled_{false};
  std::mutex mutex_;
  bool closed_ = false;
  std::vector<Task> urgent_;
  std::deque<Task> normal_;
};

}  // namespace gnet::detail
