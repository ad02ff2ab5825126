// Internal: the bytes a connection could not send yet, as a list of pooled blocks, flushed with
// one writev of up to kMaxIov blocks. Empty (two null pointers) on the fast path.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <string_view>

#include "buffer/block_pool.hpp"

namespace gnet::detail {

class OutboundQueue {
 public:
  static constexpr int kMaxIov = 64;

  OutboundQueue() = default;
  OutboundQueue(const OutboundQueue&) = delete;
  OutboundQueue& operator=(const OutboundQueue&) = delete;

  bool empty() const noexcept { return bytes_ == 0; }
  std::size_t size() const noexcept { return bytes_; }

  void append(BlockPool& pool, std::string_view data);
  // Fills iov with the queued bytes in order; returns how many entries were used.
  int gather(iovec* iov, int max) const noexcept;
  // Drops n sent bytes from the front, returning emptied blocks to the pool.
  void consume(BlockPool& pool, std::size_t n) noexcept;
  // Returns every block to the pool.
  void clear(BlockPool& pool) noexcept;
  // Keeps only the first `keep` bytes (those an in-flight io_uring send points at) and returns
  // the blocks behind them to the pool.
  void truncate(BlockPool& pool, std::size_t keep) noexcept;

 private:
  Block* head_ = nullptr;
  Block* tail_ = nullptr;
  std::size_t bytes_ = 0;
};

}  // namespace gnet::detail
