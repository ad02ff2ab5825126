// Fuzz harness: OutboundQueue + BlockPool against a model. The script appends, gathers (checking
// that the iovecs spell the model's unsent bytes in order) and consumes; at the end every block
// is back in the pool. The model is a pattern with a prime period, so a byte out of place shows.
#include <sys/uio.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "buffer/block_pool.hpp"
#include "buffer/outbound_queue.hpp"

namespace {

constexpr std::size_t kPeriod = 251;
constexpr std::size_t kMaxQueued = 256 << 10;  // 16+ blocks: more than most gathers take; keeps runs fast

// kMaxQueued + one append of pattern bytes: byte i of the stream is pattern[i % kPeriod].
const std::string& pattern() {
  static const std::string p = [] {
    std::string s(kMaxQueued + 2 * 65536, '\0');
    for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<char>(i % kPeriod);
    return s;
  }();
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using gnet::detail::OutboundQueue;
  gnet::detail::BlockPool pool(8);  // small, so blocks also go back to the allocator
  std::size_t sent = 0, appended = 0;  // stream offsets: the model is [sent, appended)
  auto model = [&](std::size_t at, std::size_t n) {
    return std::string_view(pattern()).substr((sent + at) % kPeriod, n);
  };
  {
    OutboundQueue queue;
    for (std::size_t i = 0; i + 2 < size; i += 3) {
      // Mostly under 4 KiB; one in eight spans up to four blocks (64 KiB).
      std::size_t n = (data[i] & 0x38) == 0x38 ? (std::size_t(data[i + 1]) << 8 | data[i + 2])
                                               : (std::size_t(data[i + 1] & 0x0f) << 8 | data[i + 2]);
      const std::size_t queued = appended - sent;
      switch (data[i] % 3) {
        case 0:
          if (queued > kMaxQueued) break;
          queue.append(pool, std::string_view(pattern()).substr(appended % kPeriod, n));
          appended += n;
          break;
        case 1: {
          iovec iov[OutboundQueue::kMaxIov];
          int max = 1 + data[i + 1] % OutboundQueue::kMaxIov;
          int count = queue.gather(iov, max);
          if (count > max || (count == 0) != (queued == 0)) std::abort();
          std::size_t at = 0;
          for (int k = 0; k < count; ++k) {
            if (iov[k].iov_len == 0 || at + iov[k].iov_len > queued) std::abort();
            if (model(at, iov[k].iov_len) != std::string_view(static_cast<char*>(iov[k].iov_base), iov[k].iov_len)) {
              std::abort();
            }
            at += iov[k].iov_len;
          }
          break;
        }
        case 2:
          n = std::min(n, queued);  // as after a partial writev
          queue.consume(pool, n);
          sent += n;
          break;
      }
      if (queue.size() != appended - sent || queue.empty() != (appended == sent)) std::abort();
    }
    queue.clear(pool);
    if (!queue.empty()) std::abort();
  }
  if (pool.live_blocks() != 0) std::abort();
  return 0;
}
