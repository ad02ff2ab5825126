// Internal: picks the loop for a connection accepted by a shared listener. Pure logic (the loads
// come in as numbers), so the choice sequences are unit-tested without sockets.
#pragma once

#include <cstdint>
#include <span>

#include "gnet/address.hpp"
#include "gnet/options.hpp"

namespace gnet::detail {

class LoadBalancer {
 public:
  LoadBalancer(LoadBalancing policy, int loops) noexcept : policy_(policy), loops_(loops) {}

  // loads[i] = connections currently on loop i (only least_connections reads it).
  int choose(std::span<const int> loads, const SocketAddress& remote) noexcept;

 private:
  LoadBalancing policy_;
  int loops_;
  std::uint64_t next_ = 0;  // acceptor thread only
};

// FNV-1a over the peer's IP bytes (not the port: one client host sticks to one loop).
std::uint32_t hash_source(const SocketAddress& remote) noexcept;

}  // namespace gnet::detail
