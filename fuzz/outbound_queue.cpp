// Fuzz harness: OutboundQueue + BlockPool against a std::string model. The script appends,
// gathers (checking that the iovecs spell the model's prefix in order) and consumes; at the end
// every block is back in the pool.
#include <sys/uio.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "buffer/block_pool.hpp"
#include "buffer/outbound_queue.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using gnet::detail::OutboundQueue;
  gnet::detail::BlockPool pool(4);
  std::string model;
  std::uint8_t fill = 0;
  {
    OutboundQueue queue;
    for (std::size_t i = 0; i + 2 < size; i += 3) {
      std::size_t n = (std::size_t(data[i + 1]) << 8 | data[i + 2]) * ((data[i] & 0x40) ? 1 : 4);
      switch (data[i] % 3) {
        case 0: {
          std::string bytes(n, '\0');
          for (char& c : bytes) c = static_cast<char>(fill++);
          queue.append(pool, bytes);
          model += bytes;
          break;
        }
        case 1: {
          iovec iov[OutboundQueue::kMaxIov];
          int max = 1 + data[i + 1] % OutboundQueue::kMaxIov;
          int count = queue.gather(iov, max);
          if (count > max || (count == 0) != model.empty()) std::abort();
          std::size_t at = 0;
          for (int k = 0; k < count; ++k) {
            if (iov[k].iov_len == 0 || at + iov[k].iov_len > model.size()) std::abort();
            if (std::memcmp(iov[k].iov_base, model.data() + at, iov[k].iov_len) != 0) std::abort();
            at += iov[k].iov_len;
          }
          break;
        }
        case 2: {
          n = std::min(n, model.size());  // as after a partial writev
          queue.consume(pool, n);
          model.erase(0, n);
          break;
        }
      }
      if (queue.size() != model.size() || queue.empty() != model.empty()) std::abort();
    }
    queue.clear(pool);
    if (!queue.empty()) std::abort();
  }
  if (pool.live_blocks() != 0) std::abort();
  return 0;
}
