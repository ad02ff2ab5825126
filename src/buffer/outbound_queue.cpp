#include "buffer/outbound_queue.hpp"

#include <algorithm>
#include <cstring>

namespace gnet::detail {

void OutboundQueue::append(BlockPool& pool, std::string_view data) {
  while (!data.empty()) {
    if (tail_ == nullptr || tail_->writable() == 0) {
      Block* block = pool.acquire();
      if (tail_ == nullptr) {
        head_ = tail_ = block;
      } else {
        tail_->next = block;
        tail_ = block;
      }
    }
    std::size_t n = std::min(data.size(), tail_->writable());
    std::memcpy(tail_->data + tail_->end, data.data(), n);
    tail_->end += static_cast<std::uint32_t>(n);
    bytes_ += n;
    data.remove_prefix(n);
  }
}

int OutboundQueue::gather(iovec* iov, int max) const noexcept {
  int count = 0;
  for (Block* b = head_; b != nullptr && count < max; b = b->next) {
    if (b->readable() == 0) continue;
    iov[count].iov_base = b->data + b->begin;
    iov[count].iov_len = b->readable();
    ++count;
  }
  return count;
}

void OutboundQueue::consume(BlockPool& pool, std::size_t n) noexcept {
  n = std::min(n, bytes_);
  bytes_ -= n;
  while (n > 0 && head_ != nullptr) {
    std::size_t take = std::min(n, head_->readable());
    head_->begin += static_cast<std::uint32_t>(take);
    n -= take;
    if (head_->readable() == 0) {
      Block* done = head_;
      head_ = head_->next;
      if (head_ == nullptr) tail_ = nullptr;
      pool.release(done);
    }
  }
}

void OutboundQueue::clear(BlockPool& pool) noexcept {
  while (head_ != nullptr) {
    Block* next = head_->next;
    pool.release(head_);
    head_ = next;
  }
  tail_ = nullptr;
  bytes_ = 0;
}

void OutboundQueue::truncate(BlockPool& pool, std::size_t keep) noexcept {
  if (keep >= bytes_) return;
  if (keep == 0) {
    clear(pool);
    return;
  }
  Block* last = head_;  // the block holding byte keep-1
  std::size_t kept = last->readable();
  while (kept < keep) {
    last = last->next;
    kept += last->readable();
  }
  last->end -= static_cast<std::uint32_t>(kept - keep);
  for (Block* rest = last->next; rest != nullptr;) {
    Block* next = rest->next;
    pool.release(rest);
    rest = next;
  }
  last->next = nullptr;
  tail_ = last;
  bytes_ = keep;
}

}  // namespace gnet::detail
