// Fuzz harness: RingBuffer against a std::string model. The input is a script of operations
// (append / peek / discard / read / clear / drop_retired with fuzzer-chosen sizes); after each,
// size and content must match the model, and views from peek() stay readable and unchanged
// until drop_retired() or the next append (ASan reports a use-after-free otherwise). Appends
// invalidate views: the connection appends only outside on_traffic, when no view is held.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "buffer/ring_buffer.hpp"

namespace {

struct Script {
  const std::uint8_t* p;
  std::size_t n;
  bool empty() const { return n == 0; }
  std::uint8_t byte() {
    if (n == 0) return 0;
    --n;
    return *p++;
  }
  std::size_t size() {  // small sizes mostly (fast runs), one in sixteen up to 4 KiB
    std::uint8_t b = byte();
    return (b & 0xf0) == 0xf0 ? (std::size_t(b & 0x0f) << 8) | byte() : b;
  }
};

void check(gnet::detail::RingBuffer& ring, const std::string& model) {
  if (ring.size() != model.size() || ring.empty() != model.empty()) std::abort();
  if (ring.capacity() != 0 && ring.capacity() < ring.size()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  gnet::detail::RingBuffer ring;
  std::string model;
  std::vector<std::pair<std::string_view, std::string>> views;  // peeked view + what it showed
  Script s{data, size};
  std::uint8_t fill = 0;
  while (!s.empty()) {
    switch (s.byte() % 6) {
      case 0: {  // append: as in Connection, only between callbacks, when no view is held
        views.clear();
        std::string bytes(s.size(), '\0');
        for (char& c : bytes) c = static_cast<char>(fill++);
        ring.append(bytes);
        model += bytes;
        break;
      }
      case 1: {  // peek
        std::size_t n = s.size();
        std::string_view v = ring.peek(n);
        std::string expect = model.substr(0, n);
        if (v != expect) std::abort();
        views.emplace_back(v, expect);
        break;
      }
      case 2: {  // discard
        std::size_t n = s.size();
        std::size_t want = std::min(n, model.size());
        if (ring.discard(n) != want) std::abort();
        model.erase(0, want);
        break;
      }
      case 3: {  // read
        std::string out(s.size(), '\0');
        std::size_t got = ring.read(out);
        if (got != std::min(out.size(), model.size())) std::abort();
        if (std::memcmp(out.data(), model.data(), got) != 0) std::abort();
        model.erase(0, got);
        break;
      }
      case 4:  // end of a callback: earlier views may go
        for (auto& [v, expect] : views) {
          if (v != expect) std::abort();  // still intact until now
        }
        views.clear();
        ring.drop_retired();
        break;
      case 5:
        views.clear();
        ring.clear();
        model.clear();
        if (ring.capacity() != 0) std::abort();
        break;
    }
    check(ring, model);
  }
  return 0;
}
