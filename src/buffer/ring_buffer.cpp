#include "buffer/ring_buffer.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

namespace gnet::detail {

void RingBuffer::grow(std::size_t need) {
  std::size_t capacity = std::bit_ceil(std::max(need, kMinCapacity));
  auto data = std::make_unique_for_overwrite<char[]>(capacity);  // no zero-fill: pages commit as written
  // Copy out in order: the grown ring starts linear at index 0.
  std::size_t first = std::min(size_, capacity_ - head_);
  if (size_ > 0) {
    std::memcpy(data.get(), data_.get() + head_, first);
    std::memcpy(data.get() + first, data_.get(), size_ - first);
  }
  data_ = std::move(data);
  capacity_ = capacity;
  head_ = 0;
}

void RingBuffer::append(std::string_view bytes) {
  if (bytes.empty()) return;
  if (size_ + bytes.size() > capacity_) grow(size_ + bytes.size());
  std::size_t tail = (head_ + size_) & (capacity_ - 1);
  std::size_t first = std::min(bytes.size(), capacity_ - tail);
  std::memcpy(data_.get() + tail, bytes.data(), first);
  std::memcpy(data_.get(), bytes.data() + first, bytes.size() - first);
  size_ += bytes.size();
}

std::string_view RingBuffer::peek(std::size_t n) {
  n = std::min(n, size_);
  if (n == 0) return {};
  if (head_ + n > capacity_) {
    // Wrapped: copy into one run in fresh storage of the same capacity. The old storage is
    // retired rather than freed, so views returned earlier in this callback stay valid.
    auto fresh = std::make_unique_for_overwrite<char[]>(capacity_);
    std::size_t first = capacity_ - head_;
    std::memcpy(fresh.get(), data_.get() + head_, first);
    std::memcpy(fresh.get() + first, data_.get(), size_ - first);
    retired_ = std::move(data_);
    data_ = std::move(fresh);
    head_ = 0;
  }
  return {data_.get() + head_, n};
}

std::size_t RingBuffer::discard(std::size_t n) noexcept {
  n = std::min(n, size_);
  size_ -= n;
  head_ = size_ == 0 ? 0 : (head_ + n) & (capacity_ - 1);
  return n;
}

std::size_t RingBuffer::read(std::span<char> out) noexcept {
  std::size_t n = std::min(out.size(), size_);
  if (n == 0) return 0;
  std::size_t first = std::min(n, capacity_ - head_);
  std::memcpy(out.data(), data_.get() + head_, first);
  std::memcpy(out.data() + first, data_.get(), n - first);
  return discard(n);
}

void RingBuffer::clear() noexcept {
  data_.reset();
  retired_.reset();
  capacity_ = head_ = size_ = 0;
}

}  // namespace gnet::detail
