// Internal: fixed-size blocks for queued output, recycled per loop. Output is queued only when
// the kernel refuses bytes, so the pool stays empty on the fast path; under back-pressure it
// saves a malloc/free per block. The pool keeps at most max_free blocks (the rest go back to the
// allocator) so a burst does not pin memory forever. Single-threaded: one pool per loop.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gnet::detail {

struct Block {
  static constexpr std::size_t kSize = 16 * 1024;  // whole block, header included
  Block* next = nullptr;
  std::uint32_t begin = 0;  // first unsent byte
  std::uint32_t end = 0;    // one past the last written byte
  static constexpr std::size_t kCapacity = kSize - 2 * sizeof(std::uint32_t) - sizeof(Block*);
  char data[kCapacity];

  std::size_t readable() const noexcept { return end - begin; }
  std::size_t writable() const noexcept { return kCapacity - end; }
};
static_assert(sizeof(Block) == Block::kSize);

class BlockPool {
 public:
  explicit BlockPool(std::size_t max_free = 256) noexcept : max_free_(max_free) {}
  ~BlockPool();
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;

  Block* acquire();
  void release(Block* block) noexcept;

  std::size_t free_blocks() const noexcept { return free_count_; }
  std::size_t live_blocks() const noexcept { return live_count_; }

 private:
  Block* free_ = nullptr;
  std::size_t free_count_ = 0;
  std::size_t live_count_ = 0;  // handed out, not yet released
  std::size_t max_free_;
};

}  // namespace gnet::detail
