// Internal: picks and creates a loop's I/O driver from Options::backend / GNET_BACKEND.
#pragma once

#include <memory>

#include "gnet/error.hpp"
#include "io/io_driver.hpp"

namespace gnet::detail {

class EventLoop;

Result<std::unique_ptr<IoDriver>> make_io_driver(EventLoop& loop);

}  // namespace gnet::detail
