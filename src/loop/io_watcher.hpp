// Internal: what a readiness token points at. The readiness driver switches on kind instead of
// calling a virtual, and recovers the full object with a static_cast (no allocation per event).
#pragma once

#include <cstdint>

namespace gnet::detail {

struct IoWatcher {
  enum class Kind : std::uint8_t { wakeup, listener, connection, connecting, foreign };
  explicit IoWatcher(Kind k) noexcept : kind(k) {}
  Kind kind;
};

}  // namespace gnet::detail
