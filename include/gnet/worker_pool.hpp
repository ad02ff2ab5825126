// gnet/worker_pool.hpp — a bounded pool of threads for blocking work.
//
// Event loops must never block. Blocking business logic (disk, databases, CPU-heavy work) goes
// to a WorkerPool; the task hands its result back to the connection's loop with a ConnHandle
// (async_write / wake). This is gnet's "reactors + goroutine pool" model.
//
// Thread rule: every method is safe from any thread, except that a task must not call
// wait_idle() or destroy its own pool.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "gnet/unique_function.hpp"

namespace gnet {

class WorkerPool {
 public:
  using Task = UniqueFunction<void()>;  // move-only: may capture a promise
  // Receives exceptions escaping a task (on the worker thread). Default: log to stderr.
  using ErrorSink = std::function<void(std::exception_ptr)>;

  // capacity: worker threads (>= 1). queue_limit: tasks waiting beyond the running ones
  // (0 = no waiting room: submit blocks until a worker is free).
  WorkerPool(std::size_t capacity, std::size_t queue_limit, ErrorSink on_error = {});
  // Stops taking tasks, runs every task already queued, joins the workers.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queue a task, blocking while the queue is full. Returns false only after shutdown began.
  bool submit(Task task);
  // Queue a task if there is room right now; false when full (or shutting down), like ants'
  // non-blocking mode. The task is not run then.
  bool try_submit(Task task);
  // Block until no task is queued or running.
  void wait_idle();

  std::size_t capacity() const noexcept { return workers_.size(); }
  std::size_t queued() const;   // waiting, not yet started
  std::size_t running() const;  // started, not yet finished
  std::size_t failed() const;   // tasks that threw

 private:
  void worker_main();
  bool has_room_locked() const;

  mutable std::mutex mutex_;
  std::condition_variable work_ready_;   // workers wait for tasks
  std::condition_variable room_ready_;   // submitters wait for room
  std::condition_variable idle_;         // wait_idle waits for nothing queued or running
  std::deque<Task> queue_;
  std::size_t queue_limit_;
  std::size_t running_ = 0;
  std::size_t idle_workers_ = 0;
  std::size_t failed_ = 0;
  bool stopping_ = false;
  ErrorSink on_error_;
  std::vector<std::thread> workers_;
};

}  // namespace gnet
