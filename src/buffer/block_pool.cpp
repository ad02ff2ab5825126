#include "buffer/block_pool.hpp"

namespace gnet::detail {

BlockPool::~BlockPool() {
  while (free_ != nullptr) {
    Block* next = free_->next;
    delete free_;
    free_ = next;
  }
}

Block* BlockPool::acquire() {
  Block* block = free_;
  if (block != nullptr) {
    free_ = block->next;
    --free_count_;
  } else {
    block = new Block;
  }
  block->next = nullptr;
  block->begin = block->end = 0;
  ++live_count_;
  return block;
}

void BlockPool::release(Block* block) noexcept {
  --live_count_;
  if (free_count_ >= max_free_) {
    delete block;
    return;
  }
  block->next = free_;
  free_ = block;
  ++free_count_;
}

}  // namespace gnet::detail
