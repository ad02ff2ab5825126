#include "gnet/worker_pool.hpp"

#include <cstdio>

namespace gnet {

WorkerPool::WorkerPool(std::size_t capacity, std::size_t queue_limit, ErrorSink on_error)
    : queue_limit_(queue_limit), on_error_(std::move(on_error)) {
  if (capacity == 0) capacity = 1;
  if (!on_error_) {
    on_error_ = [](std::exception_ptr e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        std::fprintf(stderr, "gnet::WorkerPool: task threw: %s\n", ex.what());
      } catch (...) {
        std::fprintf(stderr, "gnet::WorkerPool: task threw a non-exception\n");
      }
    };
  }
  workers_.reserve(capacity);
  for (std::size_t i = 0; i < capacity; ++i) workers_.emplace_back([this] { worker_main(); });
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_ready_.notify_all();
  room_ready_.notify_all();
  for (std::thread& t : workers_) t.join();
}

// Room = a free slot in the waiting queue, or a worker idle right now that will take the task.
bool WorkerPool::has_room_locked() const {
  std::size_t waiting_for_workers = queue_.size() > idle_workers_ ? queue_.size() - idle_workers_ : 0;
  std::size_t takers = queue_.size() < idle_workers_ ? idle_workers_ - queue_.size() : 0;
  return takers > 0 || waiting_for_workers < queue_limit_;
}

bool WorkerPool::submit(Task task) {
  std::unique_lock lock(mutex_);
  room_ready_.wait(lock, [this] { return stopping_ || has_room_locked(); });
  if (stopping_) return false;
  queue_.push_back(std::move(task));
  lock.unlock();
  work_ready_.notify_one();
  return true;
}

bool WorkerPool::try_submit(Task task) {
  std::unique_lock lock(mutex_);
  if (stopping_ || !has_room_locked()) return false;
  queue_.push_back(std::move(task));
  lock.unlock();
  work_ready_.notify_one();
  return true;
}

void WorkerPool::wait_idle() {
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [this] { return queue_.empty() && running_ == 0; });
}

std::size_t WorkerPool::queued() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

std::size_t WorkerPool::running() const {
  std::lock_guard lock(mutex_);
  return running_;
}

std::size_t WorkerPool::failed() const {
  std::lock_guard lock(mutex_);
  return failed_;
}

void WorkerPool::worker_main() {
  std::unique_lock lock(mutex_);
  for (;;) {
    ++idle_workers_;
    room_ready_.notify_one();  // an idle worker is room for one more task
    work_ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    --idle_workers_;
    if (queue_.empty()) return;  // stopping, and everything queued has run
    Task task = std::move(queue_.front());
    queue_.pop_front();
    ++running_;
    lock.unlock();
    room_ready_.notify_one();
    bool threw = false;
    std::exception_ptr error;
    try {
      task();
    } catch (...) {
      threw = true;
      error = std::current_exception();
    }
    task = nullptr;  // destroy captures outside the lock, before reporting idle
    if (threw) on_error_(error);
    lock.lock();
    --running_;
    if (threw) ++failed_;
    if (queue_.empty() && running_ == 0) idle_.notify_all();
  }
}

}  // namespace gnet
