#include "engine/load_balancer.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

namespace gnet::detail {

std::uint32_t hash_source(const SocketAddress& remote) noexcept {
  const unsigned char* bytes = nullptr;
  std::size_t len = 0;
  if (remote.family() == AF_INET) {
    auto* sa = reinterpret_cast<const sockaddr_in*>(remote.data());
    bytes = reinterpret_cast<const unsigned char*>(&sa->sin_addr);
    len = sizeof sa->sin_addr;
  } else if (remote.family() == AF_INET6) {
    auto* sa = reinterpret_cast<const sockaddr_in6*>(remote.data());
    bytes = reinterpret_cast<const unsigned char*>(&sa->sin6_addr);
    len = sizeof sa->sin6_addr;
  }
  std::uint32_t h = 2166136261u;
  for (std::size_t i = 0; i < len; ++i) {
    h ^= bytes[i];
    h *= 16777619u;
  }
  return h;
}

int LoadBalancer::choose(std::span<const int> loads, const SocketAddress& remote) noexcept {
  if (loops_ <= 1) return 0;
  switch (policy_) {
    case LoadBalancing::round_robin:
      return static_cast<int>(next_++ % static_cast<std::uint64_t>(loops_));
    case LoadBalancing::least_connections: {
      int best = 0;
      for (int i = 1; i < loops_ && i < static_cast<int>(loads.size()); ++i) {
        if (loads[i] < loads[best]) best = i;
      }
      return best;
    }
    case LoadBalancing::source_addr_hash:
      return static_cast<int>(hash_source(remote) % static_cast<std::uint32_t>(loops_));
  }
  return 0;
}

}  // namespace gnet::detail
