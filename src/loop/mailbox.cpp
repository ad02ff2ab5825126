#include "loop/mailbox.hpp"

#include <unistd.h>

#include <cstdint>

namespace gnet::detail {

Mailbox::~Mailbox() { ::close(wake_fd_); }

void Mailbox::signal() noexcept {
  std::uint64_t one = 1;
  // eventfd write only fails when the counter would overflow, and then the loop is awake anyway.
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
}

bool Mailbox::post(Task task, bool urgent) {
  {
    std::lock_guard lock(mutex_);
    if (closed_) return false;
    if (urgent) {
      urgent_.push_back(std::move(task));
    } else {
      normal_.push_back(std::move(task));
      ++normal_posted_;
    }
  }
  if (!signaled_.exchange(true, std::memory_order_acq_rel)) signal();
  return true;
}

bool Mailbox::post_barrier(Task task) {
  {
    std::lock_guard lock(mutex_);
    if (closed_) return false;
    barriers_.emplace_back(normal_posted_, std::move(task));
  }
  if (!signaled_.exchange(true, std::memory_order_acq_rel)) signal();
  return true;
}

bool Mailbox::take(std::vector<Task>& urgent, std::vector<Task>& normal, std::vector<Task>& after) {
  signaled_.store(false, std::memory_order_release);
  std::lock_guard lock(mutex_);
  urgent.swap(urgent_);
  std::size_t n = std::min(normal_.size(), kBatch);
  for (std::size_t i = 0; i < n; ++i) {
    normal.push_back(std::move(normal_.front()));
    normal_.pop_front();
  }
  normal_taken_ += n;
  // Barriers are queued in post order, so their thresholds only grow.
  while (!barriers_.empty() && barriers_.front().first <= normal_taken_) {
    after.push_back(std::move(barriers_.front().second));
    barriers_.pop_front();
  }
  return !normal_.empty();
}

void Mailbox::close(std::vector<Task>& rest) {
  std::lock_guard lock(mutex_);
  closed_ = true;
  for (auto& t : urgent_) rest.push_back(std::move(t));
  for (auto& t : normal_) rest.push_back(std::move(t));
  for (auto& b : barriers_) rest.push_back(std::move(b.second));
  urgent_.clear();
  normal_.clear();
  barriers_.clear();
}

}  // namespace gnet::detail
