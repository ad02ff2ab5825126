// Internal: an elastic byte ring. Holds a connection's unconsumed inbound bytes. Capacity is a
// power of two, grows on demand, and the storage is released by clear() — the connection drops
// it as soon as the handler has consumed everything, so idle connections hold no buffer.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string_view>

namespace gnet::detail {

class RingBuffer {
 public:
  static constexpr std::size_t kMinCapacity = 512;

  RingBuffer() = default;
  RingBuffer(RingBuffer&&) noexcept = default;
  RingBuffer& operator=(RingBuffer&&) noexcept = default;

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  std::size_t capacity() const noexcept { return capacity_; }

  // Appends bytes, growing (to the next power of two) when they do not fit. Invalidates views
  // from peek(): the connection appends only outside on_traffic.
  void append(std::string_view data);
  // A contiguous view of the first min(n, size()) bytes. When they straddle the wrap point the
  // content is copied into fresh storage in one piece; the old storage is kept (retired) until
  // drop_retired(), so views handed out earlier stay valid until the callback ends.
  std::string_view peek(std::size_t n);
  // Drops up to n bytes from the front; returns how many.
  std::size_t discard(std::size_t n) noexcept;
  // Copies up to out.size() bytes out and drops them; returns how many.
  std::size_t read(std::span<char> out) noexcept;
  // Empties the ring and frees its storage.
  void clear() noexcept;
  // Frees storage retired by peek(); call when no view handed out can still be in use.
  void drop_retired() noexcept { retired_.reset(); }

 private:
  void grow(std::size_t need);

  std::unique_ptr<char[]> data_;
  std::unique_ptr<char[]> retired_;  // pre-linearisation storage, see peek()
  std::size_t capacity_ = 0;  // 0 or a power of two
  std::size_t head_ = 0;      // index of the first byte
  std::size_t size_ = 0;
};

}  // namespace gnet::detail
