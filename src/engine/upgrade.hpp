// Internal: the two ends of a listener hand-over (SCM_RIGHTS over a Unix SEQPACKET socket) and
// what the engine needs to adopt inherited listeners. Public API: gnet/upgrade.hpp.
//
// Wire protocol, one datagram per step (version "gnet-handover/1"):
//   sender -> receiver   "L <listener index> <owns path 0|1> <address text>"  + 1 descriptor
//                        ... one per socket ...
//                        "E <count>"
//   receiver -> sender   "R"  once an engine on those sockets is about to run; the sender stops
//                        accepting only then. Anything else, EOF or silence past the deadline:
//                        the sender keeps serving.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "gnet/upgrade.hpp"

namespace gnet {

// The engine's access to an InheritedListeners set's private parts.
struct InheritedAccess {
  static std::vector<InheritedListener>& listeners(InheritedListeners& s) noexcept { return s.listeners_; }
  static std::vector<bool>& owns_path(InheritedListeners& s) noexcept { return s.owns_path_; }
  static void set_channel(InheritedListeners& s, int fd) noexcept { s.channel_ = fd; }
  // The hand-over channel (-1 when none); the caller owns it afterwards.
  static int take_channel(InheritedListeners& s) noexcept {
    int fd = s.channel_;
    s.channel_ = -1;
    return fd;
  }
};

}  // namespace gnet

namespace gnet::detail {

struct HandOverSocket {
  int fd = -1;  // the engine's own descriptor (sent, not closed)
  std::size_t listener = 0;
  std::string name;  // the address text as given to run()/rotate()
  bool owns_path = false;
};

// The sending side of Engine::hand_over: listens on path, waits for a successor (same user, by
// SO_PEERCRED) until deadline, sends the sockets, waits for its "R". The path is removed before
// returning. Blocks.
Result<void> send_listeners(std::string_view path, const std::vector<HandOverSocket>& sockets,
                            std::chrono::steady_clock::time_point deadline);

// The receiving engine is about to run: tell the sender ("R") and close the channel.
void announce_serving(int channel) noexcept;

// Whether an inherited socket serves this address: same network, and the same bound address
// (a wildcard host, empty, 0.0.0.0 or ::, matches a wildcard of either family; port 0 matches
// nothing, its port is not known in advance).
bool inherited_matches(const InheritedListener& inherited, const Address& address);

}  // namespace gnet::detail
